"""The checked settings of a ``KlingClient``: its constructor arguments, validated once.

``client_settings()`` raises ``ConfigurationError`` (naming what is wrong, never echoing a
value that may be a secret) or returns a frozen ``ClientSettings``.  Credentials are checked
by the client itself (``_client._credentials``), so no key passes through here.
"""

from __future__ import annotations

import secrets
from typing import Literal

import attrs
from yarl import URL

from ._config import DEFAULT_BASE_URL, Limits, Timeouts
from ._errors import ConfigurationError
from ._net import is_loopback_host
from ._policy import PollPolicy, RetryPolicy

ExternalIdQuery = Literal["query", "path-flag", "path-param"]
_EXTERNAL_ID_QUERIES = ("query", "path-flag", "path-param")


@attrs.frozen(kw_only=True)
class ClientSettings:
    """What a client was configured with, checked (see ``KlingClient`` for each)."""

    base_url: str  # checked, without a trailing slash
    timeouts: Timeouts
    retry: RetryPolicy
    poll: PollPolicy
    limits: Limits
    external_id_query: ExternalIdQuery
    reconcile_delay: float
    #: Generated external ids start with this: the user's prefix, 16 random hex digits drawn
    #: once per client, and "-" (cheaper than a uuid4 per job; unique across clients with
    #: overwhelming probability); a counter follows.
    id_prefix: str


def client_settings(
    *, base_url: str | None, allow_insecure_http: bool, timeouts: Timeouts,
    retry: RetryPolicy, poll: PollPolicy, limits: Limits, external_id_query: ExternalIdQuery,
    reconcile_delay: float, external_id_prefix: str,
) -> ClientSettings:
    """The checked settings, or ``ConfigurationError``."""
    checked_url = check_base_url(base_url or DEFAULT_BASE_URL, allow_insecure_http)
    if external_id_query not in _EXTERNAL_ID_QUERIES:  # the type is not checked at run time
        raise ConfigurationError(f"unknown external_id_query {external_id_query!r}")
    return ClientSettings(
        base_url=checked_url, timeouts=timeouts, retry=retry, poll=poll, limits=limits,
        external_id_query=external_id_query, reconcile_delay=reconcile_delay,
        id_prefix=f"{external_id_prefix}{secrets.token_hex(8)}-",
    )


def check_base_url(base_url: str, allow_insecure_http: bool) -> str:
    """The checked base URL, without a trailing slash.  Messages never echo the value (it
    may be a key pasted into the wrong setting, or carry a password)."""
    try:
        url: URL | None = URL(base_url)
    except (TypeError, ValueError):
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise ConfigurationError(
            f"base_url must be an http(s) URL with a host, like {DEFAULT_BASE_URL!r} "
            f"(got {_describe_url(url, base_url)})"
        )
    if url.raw_user is not None or url.raw_password is not None:
        raise ConfigurationError(
            "base_url must not carry credentials (user:password@host): pass the key as "
            "api_key=... (or access_key=... and secret_key=...)"
        )
    if url.raw_query_string or url.raw_fragment:
        raise ConfigurationError(
            f"base_url must not have a query or a fragment (host {url.host!r}): only the "
            "scheme, host, port and any gateway path prefix belong in it"
        )
    if url.scheme == "http" and not is_loopback_host(url.host) and not allow_insecure_http:
        raise ConfigurationError(
            f"refusing plain http:// to non-loopback host {url.host!r}: credentials would travel "
            "unencrypted; use https:// or pass allow_insecure_http=True"
        )
    return base_url.rstrip("/")


def _describe_url(url: URL | None, text: object) -> str:
    """What a rejected base_url looked like, without its text."""
    if url is not None and url.scheme:
        return f"scheme {url.scheme!r}" + (f", host {url.host!r}" if url.host else ", no host")
    size = len(text) if isinstance(text, str) else None
    what = f"a value of {size} characters" if size is not None else f"a {type(text).__name__}"
    return f"{what} that is not a URL"
