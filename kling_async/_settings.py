"""The checked settings of a ``KlingClient``: its constructor arguments, validated once.

``client_settings()`` raises ``ConfigurationError`` (naming what is wrong, never echoing a
value that may be a secret) or returns a frozen ``ClientSettings``.  Credentials are checked
by the client itself (``_client._credentials``), so no key passes through here.
"""

from __future__ import annotations

import logging
import math
import secrets
from collections.abc import Mapping
from typing import Literal

import attrs
from yarl import URL

from ._config import DEFAULT_BASE_URL, Limits, Timeouts
from ._errors import ConfigurationError
from ._net import is_loopback_host
from ._policy import PollPolicy, RetryPolicy

log = logging.getLogger("kling_async")

#: Simulated seconds per real second of a time-scaled simulator (``kling-async simulate
#: --time-scale``): a client whose ``poll=`` is not given scales its poll policy by it
#: (``PollPolicy().scaled(...)``).  Only for simulators: leave it unset for real servers.
ENV_TIME_SCALE = "KLING_TIME_SCALE"

#: How a legacy task is looked up by its ``external_task_id`` (reference §3.1): ``"path"`` (the
#: official form since 2026, the default) puts it in the path segment; the others are older
#: forms some gateways still need (see ``KlingClient``).
ExternalIdQuery = Literal["path", "query", "path-flag", "path-param"]
_EXTERNAL_ID_QUERIES = ("path", "query", "path-flag", "path-param")


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
    reconcile_delay: float, external_id_prefix: str, time_scale: float | None = None,
) -> ClientSettings:
    """The checked settings, or ``ConfigurationError``.  ``time_scale`` (a simulator's
    speed-up) scales ``poll``."""
    checked_url = check_base_url(base_url or DEFAULT_BASE_URL, allow_insecure_http)
    poll = scaled_poll(poll, time_scale, checked_url)
    _hint_doubled_version(checked_url)
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


def _hint_doubled_version(base_url: str) -> None:
    """A warning for a base URL ending in ``/v1``: the endpoint paths start with ``/v1``
    already, so requests would go to ``.../v1/v1/...`` and fail with 404."""
    url = URL(base_url)
    if url.path.rstrip("/").endswith("/v1"):
        log.warning("base_url (host %r) ends in /v1, but every endpoint path starts with /v1: "
                    "requests would go to .../v1/v1/... and fail; drop the trailing /v1 "
                    "(keep any gateway prefix, such as /kling)", url.host)


def _describe_url(url: URL | None, text: object) -> str:
    """What a rejected base_url looked like, without its text."""
    if url is not None and url.scheme:
        return f"scheme {url.scheme!r}" + (f", host {url.host!r}" if url.host else ", no host")
    size = len(text) if isinstance(text, str) else None
    what = f"a value of {size} characters" if size is not None else f"a {type(text).__name__}"
    return f"{what} that is not a URL"


def time_scale_from(source: Mapping[str, str]) -> float | None:
    """The simulator speed-up set in ``KLING_TIME_SCALE`` (None when unset or empty);
    ``ConfigurationError`` when it is not a number > 0."""
    raw = source.get(ENV_TIME_SCALE, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{ENV_TIME_SCALE} must be a number, got {raw[:40]!r}") from None
    return checked_time_scale(value)


def checked_time_scale(value: float) -> float:
    """``value`` if it is a usable speed-up (finite, > 0), else ``ConfigurationError``."""
    if not (math.isfinite(value) and value > 0):
        raise ConfigurationError(f"time scale must be a number > 0, got {value!r}")
    return value


def scaled_poll(poll: PollPolicy, scale: float | None, base_url: str) -> PollPolicy:
    """``poll`` for a simulator running ``scale`` times faster (unchanged when None); a
    warning when that host is not on this machine (a real server polled too often)."""
    if scale is None or scale == 1:
        return poll
    host = URL(base_url).host
    if not is_loopback_host(host or ""):
        log.warning("%s=%g is set and polls %s %g times more often than usual: it is meant "
                    "for a time-scaled simulator on this machine; unset it for a real server",
                    ENV_TIME_SCALE, scale, host, scale)
    return poll.scaled(scale)
