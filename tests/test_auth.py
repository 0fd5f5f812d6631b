"""Credentials (reference §1.2): the official HS256 JWT from AK/SK, and the gateway bearer key."""

from __future__ import annotations

from collections.abc import Callable

import jwt
import pytest

import kling_async as kling
from kling_async._auth import BearerKeyAuth, JwtAuth
from tests._simhelpers import FakeClock

AK = "ak-test-access"
SK = "sk-test-secret-0123456789abcdef0123"  # >= 32 bytes: PyJWT warns below that
NOW = 1_722_769_557.0


def _decode(token: str) -> dict[str, object]:
    claims: dict[str, object] = jwt.decode(  # typed Any before PyJWT 2.11
        token, SK, algorithms=["HS256"], options={"verify_exp": False, "verify_nbf": False})
    return claims


def test_jwt_header_is_hs256_jwt() -> None:
    """The token header is exactly {"alg": "HS256", "typ": "JWT"}."""
    token = JwtAuth(AK, SK, clock=FakeClock(NOW)).token()
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}


def test_jwt_claims_follow_the_official_example() -> None:
    """Claims: iss = AK, exp = now + 1800, nbf = now - 5; signed with the SK."""
    token = JwtAuth(AK, SK, clock=FakeClock(NOW)).token()
    claims = _decode(token)
    assert claims == {"iss": AK, "exp": int(NOW) + 1800, "nbf": int(NOW) - 5}


def test_jwt_verifies_with_the_secret_and_not_with_another() -> None:
    """The token's signature checks out with the secret key only."""
    token = JwtAuth(AK, SK, clock=FakeClock(NOW)).token()
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, "wrong-secret-0123456789abcdef0123456", algorithms=["HS256"],
                   options={"verify_exp": False, "verify_nbf": False})


def test_authorization_header_is_bearer_with_one_space() -> None:
    """The header value is 'Bearer <jwt>' with a single space."""
    auth = JwtAuth(AK, SK, clock=FakeClock(NOW))
    header = auth.authorization()
    assert header == f"Bearer {auth.token()}"
    assert header.split(" ") == ["Bearer", auth.token()]


def test_cached_token_is_reused_until_the_refresh_margin() -> None:
    """The same token is returned while now < exp - refresh_margin."""
    clock = FakeClock(NOW)
    auth = JwtAuth(AK, SK, clock=clock, lifetime=1800.0, refresh_margin=60.0)
    first = auth.token()
    clock.now = NOW + 1000.0
    assert auth.token() == first
    clock.now = NOW + 1739.0  # 61 s before exp
    assert auth.token() == first


def test_token_is_reminted_within_refresh_margin_of_expiry() -> None:
    """Within refresh_margin of exp, a fresh token with new claims is minted."""
    clock = FakeClock(NOW)
    auth = JwtAuth(AK, SK, clock=clock, lifetime=1800.0, refresh_margin=60.0)
    first = auth.token()
    clock.now = NOW + 1740.0  # exactly exp - margin
    second = auth.token()
    assert second != first
    assert _decode(second) == {"iss": AK, "exp": int(NOW + 1740.0) + 1800,
                               "nbf": int(NOW + 1740.0) - 5}


def test_invalidate_forces_a_new_token() -> None:
    """After invalidate(), the next call mints again (claims from the clock at that moment)."""
    clock = FakeClock(NOW)
    auth = JwtAuth(AK, SK, clock=clock)
    first = auth.token()
    assert auth.invalidate() is True
    clock.now = NOW + 10.0
    second = auth.token()
    assert second != first
    assert _decode(second)["exp"] == int(NOW + 10.0) + 1800


def test_invalidate_changes_the_token_even_within_the_same_second() -> None:
    """A re-sign after a 1003/1004 must not send back the exact token the server just refused."""
    auth = JwtAuth(AK, SK, clock=FakeClock(NOW))
    rejected = auth.token()
    auth.invalidate()
    assert auth.token() != rejected


def test_custom_lifetime_and_skew() -> None:
    """lifetime and nbf_skew set exp and nbf."""
    token = JwtAuth(AK, SK, clock=FakeClock(NOW), lifetime=600.0, refresh_margin=30.0,
                    nbf_skew=30.0).token()
    assert _decode(token) == {"iss": AK, "exp": int(NOW) + 600, "nbf": int(NOW) - 30}


@pytest.mark.parametrize(
    ("ak", "sk"),
    [
        pytest.param("", SK, id="no-access-key"),
        pytest.param(AK, "", id="no-secret-key"),
    ],
)
def test_jwt_needs_both_keys(ak: str, sk: str) -> None:
    """JWT auth without AK or SK is a ConfigurationError."""
    with pytest.raises(kling.ConfigurationError):
        JwtAuth(ak, sk)


def test_jwt_lifetime_must_exceed_refresh_margin() -> None:
    """A lifetime not longer than the refresh margin would re-mint on every call: rejected."""
    with pytest.raises(kling.ConfigurationError, match="refresh_margin"):
        JwtAuth(AK, SK, lifetime=60.0, refresh_margin=60.0)


def test_bearer_key_header() -> None:
    """BearerKeyAuth sends 'Bearer <key>' (stripped) and has nothing to re-mint."""
    auth = BearerKeyAuth("  gw-key-1  ")
    assert auth.authorization() == "Bearer gw-key-1"
    assert auth.invalidate() is False
    assert auth.authorization() == "Bearer gw-key-1"


@pytest.mark.parametrize("key", [pytest.param("", id="empty"), pytest.param("   ", id="blank")])
def test_bearer_key_must_not_be_empty(key: str) -> None:
    """An empty or blank api_key is a ConfigurationError."""
    with pytest.raises(kling.ConfigurationError):
        BearerKeyAuth(key)


def test_reprs_show_no_key_secret_or_token() -> None:
    """repr/str of both auth objects never contain the key, the secret or a minted token."""
    bearer = BearerKeyAuth("gw-SECRET-key")
    jwt_auth = JwtAuth(AK, SK, clock=FakeClock(NOW))
    token = jwt_auth.token()
    for text in (repr(bearer), str(bearer)):
        assert "gw-SECRET-key" not in text
    for text in (repr(jwt_auth), str(jwt_auth)):
        assert AK not in text
        assert SK not in text
        assert token not in text
    assert "redacted" in repr(bearer)
    assert "redacted" in repr(jwt_auth)


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("gw-KEY\nX-Injected: 1", id="line-break"),
        pytest.param("gw-KEY\r\n", id="trailing-crlf-only-trimmed"),
        pytest.param("gw-KEY\x00tail", id="nul"),
        pytest.param("gw-KEY with-space", id="inner-space"),
        pytest.param("gw-KEY\ttab", id="tab"),
        pytest.param("gw-KEY-\u00e9", id="non-ascii"),
    ],
)
def test_bearer_key_with_control_or_inner_whitespace_is_refused_without_echo(key: str) -> None:
    """A key that would break (or inject into) the Authorization header is a
    ConfigurationError, raised before any request, that does not echo the key."""
    if key.strip() == "gw-KEY":
        assert BearerKeyAuth(key).authorization() == "Bearer gw-KEY"  # only trimmed
        return
    with pytest.raises(kling.ConfigurationError, match="api_key") as caught:
        BearerKeyAuth(key)
    assert "gw-KEY" not in str(caught.value)


@pytest.mark.parametrize(
    "build",
    [
        # The wrong types are the point: mypy would refuse these calls.
        pytest.param(lambda: BearerKeyAuth(b"gw-key"), id="bytes-api-key"),  # type: ignore[arg-type]
        pytest.param(lambda: JwtAuth(b"ak", "sk"), id="bytes-access-key"),  # type: ignore[arg-type]
        pytest.param(lambda: JwtAuth("ak", 12345), id="int-secret-key"),  # type: ignore[arg-type]
    ],
)
def test_credentials_must_be_strings(build: Callable[[], object]) -> None:
    """Credentials of another type are a ConfigurationError naming the rule, not a
    header like "Bearer b'...'" or a TypeError deep in PyJWT."""
    with pytest.raises(kling.ConfigurationError, match="str"):
        build()
