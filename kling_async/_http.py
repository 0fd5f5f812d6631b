"""The only module that speaks aiohttp: one request function, envelope decoding, one retry loop.

Retry rules (driven by a frozen ``RetryPolicy``):

- GET: retried on network errors, unreadable replies, HTTP 5xx / codes 5000-5002, 1302 and a
  bare 429, at most ``max_attempts`` tries, waiting ``RetryPolicy.delay`` (``Retry-After``
  honoured up to its cap).
- Create POST: retried only when it provably created nothing: the connection was never
  established, or the server answered 1302/1303 (``retry_codes`` narrows this set; the
  orchestrator takes 1303 itself).  A failure after the request may have been sent (timeout,
  reset, 5xx, unreadable body) raises ``AmbiguousSubmissionError``: the task may exist.
- 1003/1004 (token not yet valid / expired): the JWT is re-minted and the call retried once.

Nothing here logs or raises a header value, so no key or token can leak.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import anyio
import attrs
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from ._auth import Auth
from ._capacity import AdaptiveCapacity
from ._config import Timeouts
from ._deadlines import Deadlines
from ._errors import (
    AmbiguousSubmissionError,
    APIError,
    KlingError,
    ResponseDecodeError,
    TransportError,
    error_class,
)
from ._policy import RetryPolicy

log = logging.getLogger("kling_async")

_GET_RETRY_CODES = frozenset({1302, 5000, 5001, 5002})
CREATE_RETRY_CODES = frozenset({1302, 1303})
_REAUTH_CODES = frozenset({1003, 1004})
#: A path made of segments of unreserved characters (RFC 3986), none starting with "." (so no
#: dot-segment a server or yarl would resolve): safe to use as an already-encoded path.
_plain_path = re.compile(r"(?:/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)+").fullmatch
#: One compact encoder for every body (json.dumps with arguments builds a new one per call).
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


@attrs.frozen
class RetryNotice:
    """What the retry loop tells its observer before it sleeps and tries again."""

    method: str
    path: str
    attempt: int
    delay: float
    reason: str
    code: int | None = None
    http_status: int | None = None
    retry_after: float | None = None
    #: What the request was made for, as the caller passed it (the orchestrator: the Job).
    subject: object = None


@attrs.define
class TransportCounters:
    """Plain counters the client snapshots into ``statistics()``."""

    requests: int = 0
    retries: int = 0
    failures: int = 0
    by_method: dict[str, int] = attrs.field(factory=dict)


class _NothingSent(Exception):
    """Internal: the connection was never established, so the request provably sent nothing."""


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, seconds)


#: The C scanner behind json.loads (set in JSONDecoder.__init__, untyped in typeshed).
_scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _loads(text: str | bytes) -> Any:
    """``json.loads(text)``, calling the C scanner directly for a body that starts with its
    value and has nothing after it (every reply, in practice); json.loads otherwise."""
    if type(text) is str:
        try:
            value, end = _scan(text, 0)
        except (StopIteration, ValueError):
            pass  # leading whitespace or an error: json.loads says it right
        else:
            if end == len(text):
                return value
    return json.loads(text)


def _decode(status: int, raw: bytes, headers: Mapping[str, str]) -> tuple[Any, APIError | None]:
    """Decode an envelope: (data, None) on success, (None, error) on a Kling error reply."""
    try:
        try:
            text: str | bytes = raw.decode()  # UTF-8, as JSON on the wire is (RFC 8259)
        except UnicodeDecodeError:
            text = raw  # let json detect UTF-16/32, or fail below
        envelope = _loads(text)
    except (ValueError, UnicodeDecodeError):
        if status >= 500 or status == 429 or status == 404 or status in (401, 403):
            cls = error_class(status, None)
            return None, cls(f"HTTP {status} without a JSON body", http_status=status, code=None,
                             retry_after=parse_retry_after(headers.get("Retry-After")))
        raise ResponseDecodeError(
            f"HTTP {status}: reply is not JSON ({len(raw)} bytes)", http_status=status
        ) from None
    if not isinstance(envelope, dict):
        raise ResponseDecodeError(f"HTTP {status}: reply is not a JSON object", http_status=status)
    raw_code = envelope.get("code")
    code: int | None
    if type(raw_code) is int:  # the usual case first
        code = raw_code
    elif raw_code is None:
        code = None
    elif isinstance(raw_code, str) and raw_code.strip().lower() == "success":
        code = 0
    else:
        try:
            code = int(raw_code)
        except (TypeError, ValueError):
            raise ResponseDecodeError(
                f"HTTP {status}: envelope code {raw_code!r} is not a number", http_status=status
            ) from None
    if 200 <= status < 300 and code in (0, None):
        if "data" in envelope:
            return envelope["data"], None
        if "task_id" in envelope:  # a flat gateway reply: {code: 0, message, task_id}
            return envelope, None
        raise ResponseDecodeError(f"HTTP {status}: envelope has no data", http_status=status)
    message = envelope.get("message") or envelope.get("msg") or ""
    request_id = envelope.get("request_id")
    cls = error_class(status, code)
    return None, cls(
        str(message),
        http_status=status,
        code=code,
        request_id=str(request_id) if request_id is not None else None,
        retry_after=parse_retry_after(headers.get("Retry-After")),
    )


class Transport:
    """Sends requests to one base URL with one auth, one session and the one retry loop."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        auth: Auth,
        *,
        retry: RetryPolicy,
        timeouts: Timeouts,
        max_requests: int,
        sleep: Callable[[float], Awaitable[Any]] = anyio.sleep,
        rand: Callable[[], float] = random.random,
        on_retry: Callable[[RetryNotice], None] | None = None,
    ):
        self._session = session
        self._base = base_url.rstrip("/")
        base = URL(self._base)
        # Plain paths are joined to the base as URL objects (a per-task URL parsed from text
        # costs several times more, and a GET per poll has a new one); see _url().
        self._root = (base.with_path("", encoded=True)
                      if not base.raw_query_string and not base.raw_fragment else None)
        self._prefix = base.raw_path.rstrip("/")
        self._urls: dict[str, URL | str] = {}  # the create and list paths' URLs, built once
        self._auth = auth
        self.retry = retry
        # ``total`` is not aiohttp's: its timer per request costs more than it should, so one
        # Deadlines timer (made on the first request, in the running loop) bounds every try.
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=timeouts.connect, sock_read=timeouts.read
        )
        self._total = timeouts.total
        self._deadlines: Deadlines | None = None
        self._max_requests = max_requests
        # The capacity's FIFO limiter, used with weight 1 and a fixed limit (it never adapts:
        # no rejections, and releases are not "clean"); its free path is synchronous.
        self._slots = AdaptiveCapacity(max_requests)
        self._sleep = sleep
        self._rand = rand
        self._on_retry = on_retry
        self.counters = TransportCounters()
        self._authorization = ""
        # Read-only CIMultiDicts: aiohttp merges them into each request's headers as they
        # are (a plain dict is converted to one on every request first).
        self._headers: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())
        self._json_headers = self._headers

    def close(self) -> None:
        """The client is closing: stop the deadline timer once no request is watched."""
        if self._deadlines is not None:
            self._deadlines.close()

    @property
    def idle_slot(self) -> bool:
        """A request could start right now without waiting for a slot."""
        return self._slots.available(1)

    def _url(self, path: str) -> URL | str:
        """The request URL: a ``URL`` built without re-parsing when ``path`` has only plain
        segments (unreserved characters, none starting with a dot), else the text, which
        aiohttp parses and quotes as usual."""
        url = self._urls.get(path)
        if url is not None:
            return url
        if self._root is not None and _plain_path(path):
            url = self._root.with_path(self._prefix + path, encoded=True)
        else:
            url = self._base + path
        if path.count("/") <= 3:  # /v1/<group>/<name>: an endpoint path, one of a handful
            self._urls[path] = url
        return url

    def _set_authorization(self, authorization: str) -> None:
        """Rebuild the two header sets (plain and JSON) for a new ``Authorization`` value."""
        self._authorization = authorization
        plain = {"Authorization": authorization, "Accept": "application/json"}
        self._headers = CIMultiDictProxy(CIMultiDict(plain))
        self._json_headers = CIMultiDictProxy(
            CIMultiDict({**plain, "Content-Type": "application/json"})
        )

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        create: str | None = None,
        external_task_id: str | None = None,
        retry_codes: frozenset[int] | None = None,
        subject: object = None,
    ) -> Any:
        """One logical call with retries; returns the envelope's ``data``.

        ``create`` names the endpoint when this is a create POST (switching on the create-safe
        rules above); ``external_task_id`` is carried into ``AmbiguousSubmissionError``;
        ``subject`` is handed to the retry observer in each ``RetryNotice``.
        """
        policy = self.retry
        url = self._url(path)
        deadlines = self._deadlines
        if deadlines is None and self._total is not None:
            deadlines = self._deadlines = Deadlines(asyncio.get_running_loop(), self._total,
                                                    live=self._max_requests)
        attempt = 0
        reauthed = False
        while True:
            error: KlingError
            retryable: bool
            code: int | None = None
            status: int | None = None
            retry_after: float | None = None
            try:
                # The request itself is inline (not a helper coroutine): this runs twice per
                # job at least, and every coroutine layer costs an object and a frame.
                authorization = self._auth.authorization()
                if authorization != self._authorization:  # a new JWT: new header sets
                    self._set_authorization(authorization)
                if body is None:  # aiohttp copies headers; never mutated, so shared
                    send_headers, payload = self._headers, None
                else:
                    send_headers, payload = self._json_headers, _ENCODER.encode(body).encode()
                slots = self._slots
                if not slots.try_acquire(1):
                    await slots.acquire(1)
                counters = self.counters  # counted once sent, not while waiting for a slot
                counters.requests += 1
                counters.by_method[method] = counters.by_method.get(method, 0) + 1
                watch = deadlines.start() if deadlines is not None else None
                try:
                    # Awaited, not `async with`: aiohttp's context managers add four coroutine
                    # layers per request; release() is what their exit does first.
                    resp = await self._session.request(
                        method, url, params=params, data=payload, headers=send_headers,
                        timeout=self._timeout, allow_redirects=False,
                    )
                    try:
                        raw = await resp.read()
                        status, headers = resp.status, resp.headers
                    finally:
                        resp.release()
                except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
                    raise _NothingSent(f"{type(exc).__name__}: {exc}") from exc
                except asyncio.CancelledError:
                    if watch is not None and Deadlines.expired(watch):
                        raise TimeoutError(f"no complete reply within {self._total:g} s") from None
                    raise
                finally:
                    if watch is not None:
                        Deadlines.end(watch)
                    slots.release(1, clean=False)
                data, api_error = _decode(status, raw, headers)
                if api_error is None:
                    return data
                error, code, retry_after = api_error, api_error.code, api_error.retry_after
                if code in _REAUTH_CODES and not reauthed and self._auth.invalidate():
                    reauthed = True
                    continue
                codes = retry_codes if retry_codes is not None else (
                    CREATE_RETRY_CODES if create else _GET_RETRY_CODES
                )
                if create:
                    if status >= 500 or (code is not None and 5000 <= code <= 5999):
                        raise AmbiguousSubmissionError(create, external_task_id, api_error)
                    retryable = code in codes
                else:
                    retryable = (
                        code in codes
                        or (code is None and (status >= 500 or status == 429))
                    )
            except _NothingSent as exc:
                error = TransportError(f"{method} {path}: connection failed: {exc}")
                error.__cause__ = exc.__cause__
                retryable = True
            except ResponseDecodeError as exc:
                if create:
                    raise AmbiguousSubmissionError(create, external_task_id, exc) from exc
                error, retryable = exc, True
            except (aiohttp.ClientError, TimeoutError, asyncio.TimeoutError, OSError) as exc:
                # (asyncio.TimeoutError is not the builtin one before Python 3.11)
                if create:
                    raise AmbiguousSubmissionError(
                        create, external_task_id, TransportError(f"{type(exc).__name__}: {exc}")
                    ) from exc
                error = TransportError(f"{method} {path}: {type(exc).__name__}: {exc}")
                error.__cause__ = exc
                retryable = True
            if not retryable or attempt + 1 >= policy.max_attempts:
                self.counters.failures += 1
                raise error
            delay = policy.delay(attempt, rand=self._rand(), retry_after=retry_after, code=code)
            self.counters.retries += 1
            reason = type(error).__name__ if code is None else f"code {code}"
            log.debug("retrying %s %s in %.2fs after %s (attempt %d)", method, path, delay,
                      reason, attempt + 1)
            if self._on_retry is not None:
                self._on_retry(RetryNotice(method, path, attempt + 1, delay, reason, code,
                                           status, retry_after, subject))
            await self._sleep(delay)
            attempt += 1
