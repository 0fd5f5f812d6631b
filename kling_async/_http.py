"""The only module that speaks aiohttp: one logical call, in layers a reader can follow.

- ``Transport.call``: one logical call and its retry loop, bounded by ``Timeouts.call``
  (tries, waits, slots) and by the caller's own ``deadline``, if it gives one;
- ``Transport._after_failure``: what a failed try leads to, declared once, in ``RULES`` (for
  a GET, for a create POST); the waits come from ``RetryPolicy``;
- ``Transport._attempt``: one try, holding a request slot, bounded by ``Timeouts.total`` and
  by what is left of the call (``_timelimit.within``);
- ``Transport._exchange``: the HTTP request and its reply, read up to ``Limits.max_reply_bytes``;
- ``decode_envelope``: reply bytes -> the envelope's ``data``, or the ``APIError`` it says.

Retry rules (the ``RULES`` table):

- GET: retried on network errors, unreadable replies, HTTP 5xx / codes 5000-5002, 1302 and a
  bare 429, at most ``max_attempts`` tries, waiting ``RetryPolicy.delay`` (``Retry-After``
  honoured up to its cap).
- Create POST: retried only when it provably created nothing: the connection was never
  established, or the server answered 1302/1303 (``retry_codes`` narrows this set; the
  orchestrator takes 1303 itself).  A failure after the request may have been sent (timeout,
  reset, 5xx, unreadable or oversized body) raises ``AmbiguousSubmissionError``.
- 1003/1004 (token not yet valid / expired): the JWT is re-minted and the call retried once.

Time limits never eat a cancellation: a try (and a wait for a request slot) is bounded by
``_timelimit.within``, which lets a cancellation from outside propagate as itself, never as a
timeout, on every Python (3.10 cannot tell two cancel requests on one task apart), and the
waits between tries are cut to what is left of ``Timeouts.call`` (or of the caller's own
``deadline``, when that comes first).

Secrets: no error raised here chains an aiohttp exception (their ``request_info`` holds the
request headers); each is described in a new ``TransportError`` raised outside any ``except``
block, so neither ``__cause__`` nor ``__context__`` leads back to one.  The ``Authorization``
value is only ever a local of ``_request_headers``, never of the retry loop's frames.
"""

from __future__ import annotations

import asyncio
import email.utils
import enum
import json
import logging
import math
import random
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any, Protocol, TypeVar

import aiohttp
import anyio
import attrs
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from ._auth import Auth
from ._config import DEFAULT_LIMITS, Timeouts
from ._errors import (
    AmbiguousSubmissionError,
    APIError,
    KlingError,
    ResponseDecodeError,
    ResponseTooLargeError,
    TransportError,
    ValidationError,
    error_class,
)
from ._policy import RetryPolicy
from ._timelimit import within

log = logging.getLogger("kling_async")
_T = TypeVar("_T")

_GET_RETRY_CODES = frozenset({1302, 5000, 5001, 5002})
CREATE_RETRY_CODES = frozenset({1302, 1303})
_REAUTH_CODES = frozenset({1003, 1004})
#: Error statuses whose reply may carry no JSON body at all (gateways, proxies).
_BARE_STATUSES = frozenset({401, 403, 404, 429})
#: One compact encoder for every body.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
#: One decoder for every UTF-8 reply (``json.loads`` is this plus argument checks).
_DECODER = json.JSONDecoder()
#: The deepest JSON reply accepted (a Kling reply is about 6 deep, a gateway adds 2-3).
MAX_JSON_DEPTH = 32
#: How much of a server's message or request id is kept in an error.
_MAX_TEXT = 500
#: An already-encoded path: segments of unreserved characters or %XX escapes, none of them a
#: dot-segment ("." or ".."), which a server (or a URL parser) would resolve.  Read as two
#: plain patterns (segments of unreserved characters and "%", then every "%" followed by two
#: hex digits): one pattern with a choice per character costs about 7 k instructions a path.
_path_segments = re.compile(r"(?:/(?!\.\.?(?:/|\Z))[A-Za-z0-9._~%-]+)+").fullmatch
_bad_escape = re.compile(r"%(?![0-9A-Fa-f]{2})").search


def _encoded_path(path: str) -> bool:
    """Whether ``path`` is an already-encoded path (see ``_path_segments``)."""
    return _path_segments(path) is not None and ("%" not in path or _bad_escape(path) is None)


class Failure(enum.Enum):
    """What went wrong in one try: the key of the ``RULES`` table."""

    NOT_SENT = "the connection was never established"
    NO_REPLY = "the request may have been sent, but no complete reply came"
    UNREADABLE = "a reply that is not a readable Kling envelope (or too large)"
    REFUSED = "a code this call retries (1302, 1303...): the server did nothing"
    BUSY = "HTTP 429 without a business code"
    SERVER_DOWN = "HTTP 5xx without a business code"
    SERVER_ERROR = "a server failure with a code (5xxx, or HTTP 5xx with any code)"
    REJECTED = "any other error reply"


class Action(enum.Enum):
    """What the retry loop does after a failed try."""

    RETRY = "retry"
    RAISE = "raise"
    AMBIGUOUS = "raise AmbiguousSubmissionError"


_R, _X, _A = Action.RETRY, Action.RAISE, Action.AMBIGUOUS
#: The one retry table: failure -> (action for a GET, action for a create POST).  A RETRY
#: becomes RAISE once ``RetryPolicy.max_attempts`` tries were made.
RULES: Mapping[Failure, tuple[Action, Action]] = MappingProxyType({
    Failure.NOT_SENT: (_R, _R),
    Failure.NO_REPLY: (_R, _A),
    Failure.UNREADABLE: (_R, _A),
    Failure.REFUSED: (_R, _R),
    Failure.BUSY: (_R, _X),
    Failure.SERVER_DOWN: (_R, _A),
    Failure.SERVER_ERROR: (_X, _A),
    Failure.REJECTED: (_X, _X),
})


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
    by_method: Counter[str] = attrs.field(factory=Counter)


@attrs.define
class _Call:
    """One logical call: its fixed facts, then what the retry loop has done so far."""

    method: str
    path: str
    url: URL
    params: Mapping[str, str] | None
    payload: bytes | None
    create: str | None  # the endpoint name when this is a create POST
    external_task_id: str | None
    codes: frozenset[int]  # the business codes this call retries
    subject: object
    deadline: float  # the loop time at which the call must end (inf: never)
    callers: bool  # that deadline is the caller's (``call(deadline=...)``), not Timeouts.call
    attempt: int = 0  # tries counted against max_attempts (a re-auth retry is not)
    reauthed: bool = False
    on_wire: bool = False  # a try was started and has not ended: it may have been sent
    last: _Failed | None = None


class _OutOfTime(Exception):
    """Internal: the call's time ran out; ``call`` turns it into the error to raise."""


class DeadlinePassed(Exception):
    """``Transport.call`` ran out of its caller's own ``deadline`` (which came before
    ``Timeouts.call``).  Not a ``KlingError``: the caller, who set the deadline, says what it
    was (the submitter: ``Timeouts.submission``).  ``maybe_sent``: the last try may have
    reached the server (it was under way when time ran out)."""

    def __init__(self, maybe_sent: bool) -> None:
        super().__init__("the caller's deadline passed")
        self.maybe_sent = maybe_sent


@attrs.frozen
class _Failed:
    """One failed try: what kind of failure, and the error that says so."""

    kind: Failure
    error: KlingError

    @property
    def api(self) -> APIError | None:
        return self.error if isinstance(self.error, APIError) else None


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
            seconds = when.timestamp() - (time.time() if now is None else now)
        except (TypeError, ValueError, OverflowError, IndexError):
            return None
    if math.isnan(seconds):
        return None
    return max(0.0, seconds)


# -- decoding -------------------------------------------------------------------------------


def _clean_text(value: Any) -> str:
    """A server-supplied text, cut to ``_MAX_TEXT`` characters, with every character that is
    not printable (controls, terminal escapes, lone surrogates) written as an escape."""
    text = value if isinstance(value, str) else _safe_repr(value)
    text = text[:_MAX_TEXT]
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape", "backslashreplace")
                   .decode("ascii") for c in text)


def _safe_repr(value: Any, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters; never raises (huge ints, deep nesting)."""
    try:
        text = repr(value)
    except (ValueError, RecursionError):
        return f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _too_deep(body: bytes, value: Any) -> bool:
    """Whether ``value`` nests arrays/objects deeper than ``MAX_JSON_DEPTH`` (iteratively:
    checking must not itself recurse).  Most replies have fewer brackets than the limit."""
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return False
    todo: list[tuple[Any, int]] = [(value, 1)]
    while todo:
        item, depth = todo.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > MAX_JSON_DEPTH:
            return True
        todo.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


def _parse_json(body: bytes) -> tuple[bool, Any]:
    """(True, value) for a JSON body of sane depth; (False, None) for anything else (not UTF-8
    or UTF-16/32, not JSON, nested too deep, integers past Python's digit limit...)."""
    try:
        try:
            text = body.decode()  # UTF-8, as JSON on the wire is (RFC 8259)
        except UnicodeDecodeError:
            value = json.loads(body)  # let json detect UTF-16/32, or fail below
        else:
            value = _DECODER.decode(text)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError included
        return False, None
    if isinstance(value, (dict, list)) and _too_deep(body, value):
        return False, None
    return True, value


def _error_reply(envelope: Mapping[str, Any], status: int, code: int | None,
                 retry_after: str | None) -> APIError:
    message = envelope.get("message") or envelope.get("msg") or ""
    request_id = envelope.get("request_id")
    return error_class(status, code)(
        _clean_text(message),
        http_status=status,
        code=code,
        request_id=_clean_text(request_id) if request_id is not None else None,
        retry_after=parse_retry_after(retry_after),
    )


def decode_envelope(status: int, body: bytes, retry_after: str | None = None
                    ) -> tuple[Any, APIError | None]:
    """Decode a reply: (data, None) on success, (None, error) for a Kling error reply;
    ``ResponseDecodeError`` for a reply that is neither (never any other exception)."""
    is_json, envelope = _parse_json(body)
    if not is_json:
        if status >= 500 or status in _BARE_STATUSES:
            return None, error_class(status, None)(
                f"HTTP {status} without a JSON body", http_status=status, code=None,
                retry_after=parse_retry_after(retry_after))
        raise ResponseDecodeError(f"HTTP {status}: reply is not JSON ({len(body)} bytes)",
                                  http_status=status)
    if not isinstance(envelope, dict):
        raise ResponseDecodeError(f"HTTP {status}: reply is not a JSON object", http_status=status)
    code = _decoded_code(envelope, status)
    if 200 <= status < 300 and code in (0, None):
        if "data" in envelope:
            return envelope["data"], None
        if "task_id" in envelope:  # a flat gateway reply: {code: 0, message, task_id}
            return envelope, None
        raise ResponseDecodeError(f"HTTP {status}: envelope has no data", http_status=status)
    return None, _error_reply(envelope, status, code, retry_after)


def _decoded_code(envelope: Mapping[str, Any], status: int) -> int | None:
    """The envelope's business code as an int (``"success"`` is 0, none is None);
    ``ResponseDecodeError`` for one that is not a 32-bit number."""
    raw = envelope.get("code")
    code: int | None = None
    if type(raw) is int:
        code = raw
    elif raw is None:
        return None
    elif isinstance(raw, str) and raw.strip().lower() == "success":
        return 0
    elif isinstance(raw, float) and math.isfinite(raw):
        code = int(raw)
    elif isinstance(raw, str) and len(raw) <= 20:
        try:
            code = int(raw)
        except ValueError:
            pass  # raised below, outside the handler: no context to carry
    if code is not None and -(2**31) <= code < 2**31:
        return code
    raise ResponseDecodeError(
        f"HTTP {status}: envelope code {_safe_repr(raw)} is not a number", http_status=status
    )


def _api_failure(error: APIError, codes: frozenset[int], create: bool) -> Failure:
    """Which kind of failure an error reply is (see ``RULES``)."""
    code, status = error.code, error.http_status or 0
    server = status >= 500 or (code is not None and 5000 <= code <= 5999)
    if code is not None and code in codes and not (create and server):
        return Failure.REFUSED
    if code is None and status == 429:
        return Failure.BUSY
    if code is None and server:
        return Failure.SERVER_DOWN
    return Failure.SERVER_ERROR if server else Failure.REJECTED


def _encode_body(body: Any) -> bytes:
    """The JSON request body as UTF-8; ``ValidationError`` for a body that has none (a lone
    surrogate in a text, a value JSON cannot hold)."""
    try:
        return _ENCODER.encode(body).encode()
    except (TypeError, ValueError, RecursionError) as exc:
        rule = f"must be JSON text in valid Unicode ({type(exc).__name__})"
    raise ValidationError("request body", rule, None)


def _describe(exc: BaseException) -> str:
    """A network failure as safe text: its type and message, never its request headers (an
    aiohttp ``ClientResponseError`` is described by its status and message only)."""
    if isinstance(exc, aiohttp.ClientResponseError):
        text = f"HTTP {exc.status} {exc.message}"
    else:
        text = str(exc)
    name = type(exc).__name__
    return _clean_text(f"{name}: {text}" if text else name)


async def _read_capped(resp: aiohttp.ClientResponse, limit: int) -> bytes | None:
    """The reply body as decoded by aiohttp (decompressed), or None as soon as it is known to
    exceed ``limit`` bytes: by its declared length, or by counting the bytes as they arrive."""
    declared = resp.content_length
    if declared is not None and declared > limit:
        return None
    content = resp.content
    chunks: list[bytes] = []
    size = 0
    while not content.at_eof():  # (no read past the end just to be told it is the end)
        chunk = await content.readany()
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


# -- the transport --------------------------------------------------------------------------


class CallTransport(Protocol):
    """What the poller and the submitter need of a transport: ``Transport`` is the real one,
    and tests drive them with fakes of these two members (as httpx's ``MockTransport``)."""

    @property
    def idle_slot(self) -> bool:
        """A request could start right now without waiting for a slot."""

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
        deadline: float | None = None,
    ) -> Any:
        """One logical call with its retries; the envelope's ``data``, or a ``KlingError``
        (see ``Transport.call``)."""


class Transport:
    """Sends requests to one base URL with one auth, one session and the one retry loop
    (made inside the running event loop it serves)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        auth: Auth,
        *,
        retry: RetryPolicy,
        timeouts: Timeouts,
        max_requests: int,
        max_reply_bytes: int = DEFAULT_LIMITS.max_reply_bytes,
        sleep: Callable[[float], Awaitable[Any]] = anyio.sleep,
        rand: Callable[[], float] = random.random,
        on_retry: Callable[[RetryNotice], None] | None = None,
    ):
        self._session = session
        # The loop's clock, bound once (a transport is made inside its running loop):
        # asyncio.get_running_loop() makes a system call on CPython 3.11.
        self._now = asyncio.get_running_loop().time
        self._base = URL(base_url.rstrip("/"))
        self._prefix = self._base.raw_path.rstrip("/")
        self._auth = auth
        self.retry = retry
        # ``total`` bounds each try's own task (``_attempt``); aiohttp keeps the connect and
        # per-read limits.
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=timeouts.connect, sock_read=timeouts.read
        )
        self._try_limit = math.inf if timeouts.total is None else timeouts.total
        self._call_limit = timeouts.call
        self._max_reply = max_reply_bytes
        # A fixed FIFO semaphore: a request takes a free slot at once (``acquire_nowait``) or
        # waits its turn in ``acquire()``, which gives back a slot granted as it is cancelled.
        self._slots = anyio.Semaphore(max_requests, fast_acquire=True)
        self._sleep = sleep
        self._rand = rand
        self._on_retry = on_retry
        self.counters = TransportCounters()
        self._authorization = ""
        self._headers: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())
        self._json_headers = self._headers

    def close(self) -> None:
        """The client is closing (nothing to release: every limit is scoped to its call)."""

    @property
    def idle_slot(self) -> bool:
        """A request could start right now without waiting for a slot."""
        return self._slots.value > 0

    def _url(self, path: str) -> URL:
        """The request URL: ``path`` (already percent-encoded, see ``Endpoint.task_path``)
        appended to the base URL's path exactly as given: no re-quoting, no dot-segment
        resolution.  A path that is not plain is a ``ValidationError``."""
        if not _encoded_path(path):
            raise ValidationError("path", "must be an encoded path without dot-segments", path)
        url = self._base.with_path(self._prefix + path, encoded=True)
        if self._base.raw_query_string:
            url = url.with_query(self._base.query)
        return url

    def _request_headers(self, json_body: bool) -> CIMultiDictProxy[str]:
        """The headers of the next request (rebuilt when the ``Authorization`` value changes,
        e.g. a new JWT).  The value stays a local of this short function only."""
        authorization = self._auth.authorization()
        if authorization != self._authorization:
            self._authorization = authorization
            plain = {"Authorization": authorization, "Accept": "application/json"}
            self._headers = CIMultiDictProxy(CIMultiDict(plain))
            self._json_headers = CIMultiDictProxy(
                CIMultiDict({**plain, "Content-Type": "application/json"})
            )
        return self._json_headers if json_body else self._headers

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
        deadline: float | None = None,
    ) -> Any:
        """One logical call with retries, within ``Timeouts.call``; returns the envelope's
        ``data``.  Raises only ``KlingError`` subclasses (and cancellation), or
        ``DeadlinePassed`` (below).

        ``create`` names the endpoint when this is a create POST (switching on the create-safe
        rules above); ``external_task_id`` is carried into ``AmbiguousSubmissionError``;
        ``subject`` is handed to the retry observer in each ``RetryNotice``.  ``deadline`` is
        the caller's own bound on the call, a loop time (the submitter's: what is left of
        ``Timeouts.submission``): the tries, waits and slot waits end by then as they end by
        ``Timeouts.call``, and when it is the one that runs out, ``DeadlinePassed`` is raised.
        """
        default_codes = CREATE_RETRY_CODES if create else _GET_RETRY_CODES
        limit = self._call_limit
        own = math.inf if limit is None else self._now() + limit
        if deadline is None or deadline >= own:
            deadline, callers = own, False
        else:
            callers = True
        call = _Call(
            method, path, self._url(path), params,
            None if body is None else _encode_body(body),
            create, external_task_id,
            retry_codes if retry_codes is not None else default_codes, subject,
            deadline, callers,
        )
        try:
            while True:
                data, failed = await self._attempt(call)
                if failed is None:
                    return data
                await self._after_failure(call, failed)
        except _OutOfTime:
            pass  # raised below, outside the handler
        if call.callers:
            raise DeadlinePassed(maybe_sent=call.on_wire)
        raise self._out_of_time(call)

    def _out_of_time(self, call: _Call) -> KlingError:
        """The error for a call that ran out of ``Timeouts.call``."""
        last = f"; last failure: {call.last.error}" if call.last is not None else ""
        error = TransportError(
            f"{call.method} {call.path}: no result within Timeouts.call="
            f"{self._call_limit:g} s ({call.attempt + 1} tries{last})"
        )
        if call.create and call.on_wire:
            ambiguous = AmbiguousSubmissionError(call.create, call.external_task_id, error)
            ambiguous.__cause__ = error
            return ambiguous
        self.counters.failures += 1
        return error

    async def _after_failure(self, call: _Call, failed: _Failed) -> None:
        """After a failed try: return when the call is to try again (at once after a re-auth,
        else after ``_wait``); raise the error when ``RULES`` say to stop."""
        call.last = failed
        if self._reauthorized(call, failed):
            return
        action = self._action(call, failed)
        if action is Action.AMBIGUOUS:
            assert call.create is not None
            raise AmbiguousSubmissionError(
                call.create, call.external_task_id, failed.error
            ) from failed.error
        if action is Action.RAISE:
            self.counters.failures += 1
            raise failed.error
        await self._wait(call, failed)

    async def _wait_for_slot(self, call: _Call) -> None:
        """Wait (FIFO) for a request slot, at most what is left of ``Timeouts.call``.  A slot
        granted just as the wait is cut short goes back: ``acquire()`` gives it back when
        cancelled in it; on Python 3.10 the wait is a task of its own (``within``), which may
        get the slot just as its caller is cancelled, so the caller gives it back then."""
        taken: list[bool] = []
        try:
            finished, _ = await within(self._take_slot(taken), call.deadline)
        except BaseException:
            if taken:
                self._slots.release()
            raise
        if not finished:
            raise _OutOfTime

    async def _take_slot(self, taken: list[bool]) -> None:
        await self._slots.acquire()
        taken.append(True)

    def _reauthorized(self, call: _Call, failed: _Failed) -> bool:
        """A 1003/1004 reply: re-mint the JWT and retry at once, once (not counted as a try)."""
        api = failed.api
        if (api is None or api.code not in _REAUTH_CODES or call.reauthed
                or not self._auth.invalidate()):
            return False
        call.reauthed = True
        return True

    def _action(self, call: _Call, failed: _Failed) -> Action:
        """``RULES`` for this failure and kind of call; RETRY only while tries remain."""
        for_get, for_create = RULES[failed.kind]
        action = for_create if call.create else for_get
        if action is Action.RETRY and call.attempt + 1 >= self.retry.max_attempts:
            return Action.RAISE
        return action

    async def _wait(self, call: _Call, failed: _Failed) -> None:
        """Tell the observer, then sleep ``RetryPolicy.delay`` before the next try."""
        api = failed.api
        code = api.code if api is not None else None
        retry_after = api.retry_after if api is not None else None
        delay = self.retry.delay(call.attempt, rand=self._rand(), retry_after=retry_after,
                                 code=code)
        self.counters.retries += 1
        reason = type(failed.error).__name__ if code is None else f"code {code}"
        log.debug("retrying %s %s in %.2fs after %s (attempt %d)", call.method, call.path,
                  delay, reason, call.attempt + 1)
        if self._on_retry is not None:
            self._on_retry(RetryNotice(
                call.method, call.path, call.attempt + 1, delay, reason, code,
                api.http_status if api is not None else None, retry_after, call.subject,
            ))
        if delay >= call.deadline - self._now():
            raise _OutOfTime  # the next try could not start in time
        await self._sleep(delay)
        call.attempt += 1

    async def _attempt(self, call: _Call) -> tuple[Any, _Failed | None]:
        """One try: take a request slot, exchange within ``Timeouts.total``, decode."""
        try:
            self._slots.acquire_nowait()  # the usual case: a slot is free
        except anyio.WouldBlock:
            await self._wait_for_slot(call)
        now, deadline = self._now(), call.deadline  # (the call's)
        if now >= deadline:
            self._slots.release()
            raise _OutOfTime  # nothing sent
        counters = self.counters  # counted once sent, not while waiting for a slot
        counters.requests += 1
        counters.by_method[call.method] += 1
        call.on_wire = True
        until = min(deadline, now + self._try_limit)
        try:
            _, outcome = await within(self._exchange(call), until)
        finally:
            self._slots.release()
        if outcome is None:  # time ran out
            if until >= deadline:
                raise _OutOfTime  # call.on_wire stays set: the request may have been sent
            outcome = None, self._late(call)
        call.on_wire = False
        return outcome

    def _late(self, call: _Call) -> _Failed:
        return _Failed(Failure.NO_REPLY, TransportError(
            f"{call.method} {call.path}: TimeoutError: no complete reply within "
            f"Timeouts.total={self._try_limit:g} s"))

    async def _exchange(self, call: _Call) -> tuple[Any, _Failed | None]:
        """Send the request, read its reply and interpret it; a network failure is returned
        as ``_Failed`` (described in a new ``TransportError``, so no aiohttp exception is kept)."""
        try:
            resp = await self._session.request(
                call.method, call.url, params=call.params, data=call.payload,
                headers=self._request_headers(call.payload is not None),
                timeout=self._timeout, allow_redirects=False,
            )
            body = None
            try:
                body = await _read_capped(resp, self._max_reply)
            finally:
                if body is None:
                    resp.close()  # over the limit, or cut short: drop the connection
                else:
                    resp.release()
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            kind, text = Failure.NOT_SENT, f"connection failed: {_describe(exc)}"
        except Exception as exc:  # anything else on the wire: reset, timeout, bad HTTP...
            kind, text = Failure.NO_REPLY, _describe(exc)
        else:
            return self._interpret(call, resp.status, body, resp.headers.get("Retry-After"))
        return None, _Failed(kind, TransportError(f"{call.method} {call.path}: {text}"))

    def _interpret(self, call: _Call, status: int, body: bytes | None, retry_after: str | None
                   ) -> tuple[Any, _Failed | None]:
        """A complete reply (``body`` None: over the size limit): its ``data``, or the failure
        it means."""
        if body is None:
            return None, _Failed(Failure.UNREADABLE, ResponseTooLargeError(
                f"HTTP {status}: reply larger than Limits.max_reply_bytes="
                f"{self._max_reply} bytes", http_status=status, limit=self._max_reply))
        try:
            data, api_error = decode_envelope(status, body, retry_after)
        except ResponseDecodeError as exc:
            return None, _Failed(Failure.UNREADABLE, exc)
        if api_error is None:
            return data, None
        return None, _Failed(_api_failure(api_error, call.codes, bool(call.create)), api_error)
