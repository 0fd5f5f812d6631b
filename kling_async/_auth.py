"""Credentials: a gateway bearer key, or the official HS256 JWT minted from AK/SK.

Pure given the keys and a wall clock (``clock`` returns seconds since the epoch).  Tokens are
cached and re-minted ``refresh_margin`` seconds before they expire; ``invalidate()`` forces a
fresh one (used once on a 1003/1004 reply).  No repr, str or error message shows a key, a
secret or a token.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Protocol

import jwt

from ._errors import ConfigurationError


class Auth(Protocol):
    """What the transport needs from credentials."""

    def authorization(self) -> str:
        """The value of the ``Authorization`` header."""
        ...

    def invalidate(self) -> bool:
        """Drop any cached token; True when that can change the next header (JWT only)."""
        ...


_SHORT_KEY_WARNING: type[Warning] | None = getattr(
    getattr(jwt, "warnings", None), "InsecureKeyLengthWarning", None
)


class BearerKeyAuth:
    """``Authorization: Bearer <key>`` with a static key, as ``/kling`` gateways expect."""

    __slots__ = ("_header",)

    def __init__(self, api_key: str):
        if not isinstance(api_key, str):
            raise ConfigurationError(f"api_key must be a str, got a {type(api_key).__name__}")
        key = api_key.strip()
        if not key:
            raise ConfigurationError("api_key is empty")
        if not (key.isascii() and key.isprintable()) or any(c.isspace() for c in key):
            # it would break (or inject into) the Authorization header
            raise ConfigurationError(
                "api_key contains whitespace, control or non-ASCII characters (a stray line "
                "break?); check the value you set"
            )
        self._header = f"Bearer {key}"

    def authorization(self) -> str:
        return self._header

    def invalidate(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "BearerKeyAuth(api_key=<redacted>)"


class JwtAuth:
    """The official scheme: HS256 JWT, ``iss`` = access key, signed with the secret key.

    Claims: ``iss``, ``exp = now + lifetime``, ``nbf = now - nbf_skew`` (absorbs clock skew);
    after each ``invalidate()`` (a 1003/1004 reply) ``nbf`` is back-dated one more ``nbf_skew``.
    """

    __slots__ = (
        "_ak", "_sk", "_lifetime", "_margin", "_skew", "_clock", "_token", "_expires", "_resigns",
    )

    def __init__(
        self,
        access_key: str,
        secret_key: str,
        *,
        lifetime: float = 1800.0,
        refresh_margin: float = 60.0,
        nbf_skew: float = 5.0,
        clock: Callable[[], float] = time.time,
    ):
        if not isinstance(access_key, str) or not isinstance(secret_key, str):
            raise ConfigurationError("access_key and secret_key must be str values")
        if not access_key or not secret_key:
            raise ConfigurationError("access_key and secret_key must both be set for JWT auth")
        if lifetime <= refresh_margin:
            raise ConfigurationError("JWT lifetime must be longer than refresh_margin")
        self._ak = access_key
        self._sk = secret_key
        self._lifetime = lifetime
        self._margin = refresh_margin
        self._skew = nbf_skew
        self._clock = clock
        self._token: str | None = None
        self._expires = 0.0
        self._resigns = 0

    def token(self) -> str:
        """The cached JWT, re-minted when it is within ``refresh_margin`` of expiring."""
        now = self._clock()
        if self._token is None or now >= self._expires - self._margin:
            exp = int(now + self._lifetime)
            # Each forced re-sign back-dates nbf by one more skew step (bounded): a 1003 means
            # our clock runs ahead of the server's, and the new token must differ anyway.
            back = self._skew * (1 + min(self._resigns, 12))
            claims = {"iss": self._ak, "exp": exp, "nbf": int(now - back)}
            with warnings.catch_warnings():
                # Kling issues the secret key; a user cannot lengthen it, so PyJWT's
                # short-HMAC-key warning would only fire on every mint (and break -W error).
                if _SHORT_KEY_WARNING is not None:
                    warnings.simplefilter("ignore", _SHORT_KEY_WARNING)
                self._token = jwt.encode(claims, self._sk, algorithm="HS256",
                                         headers={"typ": "JWT"})
            self._expires = float(exp)
        return self._token

    def authorization(self) -> str:
        return f"Bearer {self.token()}"

    def invalidate(self) -> bool:
        self._token = None
        self._resigns += 1
        return True

    def __repr__(self) -> str:
        return "JwtAuth(access_key=<redacted>, secret_key=<redacted>)"
