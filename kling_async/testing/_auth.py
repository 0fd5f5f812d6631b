"""Authentication as Kling does it (reference §1.2, §4): a bearer key or an HS256 JWT.

``Authorization: Bearer <api_key>`` or ``Bearer <jwt>`` where the JWT is signed with the
secret key and carries ``iss`` = access key and ``exp`` (``nbf`` optional).

- no header, or not ``Bearer <something>``  -> 401 / 1001
- unknown key, bad signature, wrong ``iss``  -> 401 / 1002
- ``nbf`` in the future                       -> 401 / 1003
- ``exp`` in the past                         -> 401 / 1004
- on an API-key-only path (the new standard and ``/tasks``, reference §1.2), anything but a
  known key (a valid JWT included)            -> 401 / 1002 with the live "does not support
  AK/SK" text

Verified tokens are cached (bounded), so a client reusing its token costs one dict lookup
plus the time checks, which always run against the wall clock as the real API does.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping

import jwt

_CACHE_LIMIT = 4096
#: Reference §1.2 (live): the answer to a JWT or an unknown key on a new-standard path.
API_KEY_ONLY_MESSAGE = (
    "Authentication error. The current API does not support AK/SK; please go to the console "
    "(https://kling.ai/dev/api-key) to create API key."
)


class AuthFailure(Exception):
    """Authentication failed with a Kling business code (HTTP 401)."""

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


class Authenticator:
    """Maps an Authorization header to an account name, or raises ``AuthFailure``."""

    def __init__(
        self,
        *,
        api_keys: Mapping[str, str],
        access_key: str,
        secret_key: str,
        jwt_account: str,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = dict(api_keys)
        self._access_key = access_key
        self._secret_key = secret_key
        self._jwt_account = jwt_account
        self._wall = wall_clock
        # token -> (nbf, exp), for tokens whose signature and issuer were verified
        self._verified: dict[str, tuple[float | None, float]] = {}

    def authenticate(self, header: str | None, *, api_key_only: bool = False) -> str:
        """The account of a request with this Authorization header; with ``api_key_only``
        only an API key is accepted."""
        if not header:
            raise AuthFailure(1001, "Authorization is empty")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthFailure(1001, "Authorization is empty: expected 'Bearer <token>'")
        token = token.strip()
        account = self._keys.get(token)
        if account is not None:
            return account
        if api_key_only:
            raise AuthFailure(1002, API_KEY_ONLY_MESSAGE)
        times = self._verified.get(token)
        if times is None:
            times = self._verify(token)
        nbf, exp = times
        now = self._wall()
        if nbf is not None and nbf > now:
            raise AuthFailure(1003, "Authorization is not yet valid (nbf in the future)")
        if exp <= now:
            raise AuthFailure(1004, "Authorization has expired (exp in the past)")
        return self._jwt_account

    def _verify(self, token: str) -> tuple[float | None, float]:
        if token.count(".") != 2:
            raise AuthFailure(1002, "Authorization is invalid")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # e.g. PyJWT's short-key warning
                claims = jwt.decode(
                    token,
                    self._secret_key,
                    algorithms=["HS256"],
                    options={"verify_exp": False, "verify_nbf": False, "require": ["iss", "exp"]},
                )
        except jwt.InvalidTokenError as exc:
            raise AuthFailure(1002, f"Authorization is invalid ({type(exc).__name__})") from None
        if claims.get("iss") != self._access_key:
            raise AuthFailure(1002, "Authorization is invalid (unknown access key)")
        try:
            nbf = float(claims["nbf"]) if "nbf" in claims else None
            exp = float(claims["exp"])
        except (TypeError, ValueError):
            raise AuthFailure(1002, "Authorization is invalid (bad exp/nbf)") from None
        if len(self._verified) >= _CACHE_LIMIT:
            self._verified.clear()
        self._verified[token] = (nbf, exp)
        return nbf, exp
