"""The one exception tree of kling_async.

::

    KlingError
    ├── ValidationError            (also ValueError)   bad input, raised before any I/O
    ├── ConfigurationError         (also ValueError)   bad client settings (no key, insecure URL)
    ├── ClientClosedError          (also RuntimeError) the client is not open
    ├── WrongEventLoopError        (also RuntimeError) called from another event loop or thread
    ├── BlockingCallError          (also RuntimeError) a blocking call from the client's own loop
    ├── TransportError                                 the network failed; nothing was understood
    │   └── ResponseDecodeError                        a reply that is not a Kling envelope
    │       └── ResponseTooLargeError                  a reply over Limits.max_reply_bytes
    ├── AmbiguousSubmissionError                       a create POST may have created a task
    │   └── SubmissionInterruptedError (also ClientClosedError) the client closed mid-create
    ├── APIError                                       the server answered with a business code != 0
    │   ├── AuthenticationError        1000-1004
    │   ├── AccountError               1100-1102, 1304
    │   │   └── PermissionDeniedError  1103
    │   ├── InvalidRequestError        1200-1202
    │   │   ├── DuplicateExternalIdError 1201: the external_task_id is already used
    │   │   └── NotFoundError          1203 (and HTTP 404 without a code)
    │   ├── ContentPolicyError         1300-1301
    │   ├── RateLimitError             1302
    │   ├── ConcurrencyLimitError      1303
    │   └── ServerError                5000-5002 (and HTTP 5xx without a code)
    └── TaskError
        ├── TaskFailedError                            the task ended with task_status=failed
        └── TaskTimeoutError           (also TimeoutError) the deadline passed before the task ended
            └── SubmissionTimeoutError                 no acceptance in time; nothing was created

Errors are mapped by Kling business code first: HTTP 429 alone means five different things.
No message or repr here ever carries a key, a secret or a token.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._models.task import Task, TaskStatus


class KlingError(Exception):
    """Root of every error raised by kling_async."""


class ValidationError(KlingError, ValueError):
    """A request broke a documented rule; raised at construction, before any I/O.

    ``field`` is the wire path of the offending field (``multi_prompt[2].duration``),
    ``rule`` a short statement of the rule, ``value`` what was received.
    """

    def __init__(self, field: str, rule: str, value: Any = None, *, hint: str | None = None):
        self.field = field
        self.rule = rule
        self.value = value
        self.hint = hint
        # Bounded and printable whatever was received: a key of a megabyte, a lone surrogate,
        # a value nested a thousand deep or an int of 5,000 digits all give a short message.
        text = f"{_clean(field, 200)}: {_clean(rule, 500)} (got {_short_repr(value)})"
        if hint:
            text += f"; {_clean(hint, 500)}"
        super().__init__(text)

    def __reduce__(self) -> Any:
        value = _portable(self.value)
        message = str(self) if value is not self.value else None
        return (_rebuild_validation_error, (self.field, self.rule, value, self.hint, message))


def _portable(value: Any, budget: int = 10_000, max_depth: int = 50) -> Any:
    """``value`` if pickle and deepcopy can take it (at most ``budget`` list/dict items, at
    most ``max_depth`` deep), else its short repr: a value nested 3,000 deep would make them
    raise RecursionError, so an error from a worker process could not be sent back."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, tuple, dict)):
            budget -= len(item)
            if budget < 0 or depth >= max_depth:
                return _short_repr(value)
            parts = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((part, depth + 1) for part in parts)
    return value


def _rebuild_validation_error(field: str, rule: str, value: Any, hint: str | None,
                              message: str | None = None) -> Any:
    error = ValidationError(field, rule, value, hint=hint)
    if message is not None:  # the value was replaced by its repr: keep the original message
        error.args = (message,)
    return error


class ConfigurationError(KlingError, ValueError):
    """The client was configured in a way that cannot work (no credentials, insecure URL...)."""


class ClientClosedError(KlingError, RuntimeError):
    """The client is not open: use ``async with KlingClient(...)`` (or it was closed)."""


class WrongEventLoopError(KlingError, RuntimeError):
    """The client was called from an event loop (or thread) other than the one that opened it.

    A ``KlingClient`` belongs to the loop that entered ``async with``: use it from that loop
    (from another thread, hand the call over with ``asyncio.run_coroutine_threadsafe``), or
    open a separate client in the other loop.
    """


class BlockingCallError(KlingError, RuntimeError):
    """A ``BlockingKlingClient`` call that waits was made from that client's own event-loop
    thread (an ``on_event`` handler or a ``before_send`` hook): it would wait forever."""


class TransportError(KlingError):
    """The request did not get a usable answer (connection, timeout, unreadable reply)."""


class ResponseDecodeError(TransportError):
    """The server replied, but not with a Kling JSON envelope."""

    def __init__(self, message: str, *, http_status: int | None = None):
        self.http_status = http_status
        super().__init__(message)


class ResponseTooLargeError(ResponseDecodeError):
    """The reply body (decoded) exceeded ``Limits.max_reply_bytes``; it was not read further."""

    def __init__(self, message: str, *, http_status: int | None = None, limit: int = 0):
        self.limit = limit
        super().__init__(message, http_status=http_status)


class AmbiguousSubmissionError(KlingError):
    """A create POST failed after it may have reached the server: the task MAY exist.

    Do not re-submit blindly (that can pay twice): look the task up by ``external_task_id``
    first. ``KlingClient.submit`` does this for you.
    """

    def __init__(self, endpoint: str, external_task_id: str | None, cause: BaseException):
        self.endpoint = endpoint
        self.external_task_id = external_task_id
        self.cause = cause
        how = (
            f"look it up by external_task_id={external_task_id!r} before re-submitting"
            if external_task_id
            else "it had no external_task_id, so list recent tasks before re-submitting"
        )
        super().__init__(
            f"create {endpoint}: the task may exist ({type(cause).__name__}: {cause}); {how}"
        )

    def __reduce__(self) -> Any:
        return (type(self), (self.endpoint, self.external_task_id, self.cause))


class SubmissionInterruptedError(AmbiguousSubmissionError, ClientClosedError):
    """The client closed while a create POST was under way (sent, or being reconciled) with no
    definite answer: the task MAY exist.  Resume it with ``client.attach(endpoint,
    external_task_id=...)`` from a new client; never re-submit it blindly."""

    def __init__(self, endpoint: str, external_task_id: str | None, cause: BaseException):
        super().__init__(endpoint, external_task_id, cause)
        resume = (
            f"re-attach with client.attach({endpoint!r}, external_task_id={external_task_id!r})"
            if external_task_id
            else "it had no external_task_id, so list recent tasks before re-submitting"
        )
        self.args = (
            f"create {endpoint}: the client closed while the create was under way, so the "
            f"task may exist on the server; {resume}",
        )


class SubmissionAbortedError(KlingError):
    """A ``before_send`` hook raised, so the create POST was never sent: no task exists and
    nothing was spent.  The hook's exception is ``__cause__``."""

    def __init__(self, endpoint: str, external_task_id: str | None, cause: BaseException):
        self.endpoint = endpoint
        self.external_task_id = external_task_id
        self.cause = cause
        super().__init__(
            f"create {endpoint}: not sent, the before_send hook raised "
            f"{type(cause).__name__}: {cause}"
        )


class APIError(KlingError):
    """The server answered with a non-zero business code (or an error HTTP status)."""

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None,
        code: int | None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ):
        self.message = message
        self.http_status = http_status
        self.code = code
        self.request_id = request_id
        self.retry_after = retry_after
        where = " ".join(
            part for part in (
                f"HTTP {http_status}" if http_status is not None else "",
                f"code {code}" if code is not None else "",
            ) if part
        )
        super().__init__(
            (f"{where}: {message}" if where else message)
            + (f" (request_id={request_id})" if request_id else "")
        )

    def __reduce__(self) -> Any:
        return (
            _rebuild_api_error,
            (type(self), self.message, self.http_status, self.code, self.request_id,
             self.retry_after),
        )


def _rebuild_api_error(
    cls: type[APIError], message: str, http_status: int | None, code: int | None,
    request_id: str | None, retry_after: float | None,
) -> APIError:
    return cls(message, http_status=http_status, code=code, request_id=request_id,
               retry_after=retry_after)


class AuthenticationError(APIError):
    """1000-1004: the key or token was missing, invalid, not yet valid or expired."""


class AccountError(APIError):
    """1100-1102 and 1304: account exception, arrears, resource pack used up, IP whitelist."""


class PermissionDeniedError(AccountError):
    """1103: the account may not use this endpoint or model."""


class InvalidRequestError(APIError):
    """1200-1202: the server rejected the request's parameters or method."""


class DuplicateExternalIdError(InvalidRequestError):
    """1201: the server already has a task with this ``external_task_id`` (ids are unique per
    account), and this submission never sent an ambiguous create that could have made it, so
    it is someone else's task, possibly with other parameters: nothing was created or charged.
    Fetch that task on purpose with ``client.attach(endpoint, external_task_id=...)``, or
    submit with a new id."""

    def __init__(self, message: str, *, external_task_id: str, http_status: int | None = None,
                 code: int | None = 1201, request_id: str | None = None):
        self.external_task_id = external_task_id
        super().__init__(
            f"external_task_id {external_task_id!r} is already used by another task of this "
            f"account (server: {message}); attach to it with client.attach(..., "
            "external_task_id=...) or submit with a new id",
            http_status=http_status, code=code, request_id=request_id,
        )
        self.message = message

    def __reduce__(self) -> Any:
        return (_rebuild_duplicate, (self.message, self.external_task_id, self.http_status,
                                     self.code, self.request_id))


def _rebuild_duplicate(message: str, external_task_id: str, http_status: int | None,
                       code: int | None, request_id: str | None) -> DuplicateExternalIdError:
    return DuplicateExternalIdError(message, external_task_id=external_task_id,
                                    http_status=http_status, code=code, request_id=request_id)


class NotFoundError(InvalidRequestError):
    """1203 (or HTTP 404 with no code): the resource, task or model does not exist."""


class ContentPolicyError(APIError):
    """1300-1301: a platform or content-safety policy was triggered."""


class RateLimitError(APIError):
    """1302: requests too fast; retried with backoff, honouring ``Retry-After``."""


class ConcurrencyLimitError(APIError):
    """1303: the account's parallel-task limit is reached; wait for a slot to free."""


class ServerError(APIError):
    """5000-5002 or an HTTP 5xx: the server failed; GETs are retried."""


class TaskError(KlingError):
    """A task ended badly or not in time."""


class TaskFailedError(TaskError):
    """The task ended with ``task_status=failed``; ``reason`` is the server's task_status_msg."""

    def __init__(self, task: Task, endpoint: str | None = None):
        self.task = task
        self.endpoint = endpoint
        self.task_id = task.task_id
        self.reason = task.status_msg or ""
        where = f"{endpoint} " if endpoint else ""
        super().__init__(
            f"{where}task {task.task_id} failed: {self.reason or '(no reason given)'}"
        )


class TaskTimeoutError(TaskError, TimeoutError):
    """The deadline passed before the task ended.

    ``stalled_in`` says where it stalled (``submitted`` = still queued, ``processing`` = running,
    ``None`` = never accepted); ``history`` is the (status, seconds since submit) trail seen.
    """

    def __init__(
        self,
        task_id: str | None,
        timeout: float,
        stalled_in: TaskStatus | None,
        history: Sequence[tuple[TaskStatus, float]] = (),
    ):
        self.task_id = task_id
        self.timeout = timeout
        self.stalled_in = stalled_in
        self.history = tuple(history)
        where = (
            "never accepted by the server"
            if stalled_in is None
            else f"stalled while {stalled_in.value}"
            + (" (still queued)" if stalled_in.value == "submitted" else "")
        )
        trail = ", ".join(f"{s.value}@{t:.1f}s" for s, t in self.history) or "none"
        super().__init__(
            f"task {task_id or '(unsubmitted)'} did not finish within {timeout:g}s: "
            f"{where}; status history: {trail}. The task is still tracked; Kling has no "
            "remote cancel."
        )


class SubmissionTimeoutError(TaskTimeoutError):
    """The submission deadline (``Timeouts.submission``) passed before the server accepted the
    create, and no create POST of this job could have made a task (each was refused or never
    sent): nothing was created or charged, so submitting again is safe.  (When a create may
    have reached the server, the error is ``AmbiguousSubmissionError`` instead.)"""

    def __init__(self, endpoint: str, external_task_id: str | None, timeout: float):
        super().__init__(None, timeout, None)
        self.endpoint = endpoint
        self.external_task_id = external_task_id
        self.args = (
            f"create {endpoint}: not accepted within {timeout:g} s (Timeouts.submission); "
            f"nothing was created: every create POST was refused or never sent "
            f"(external_task_id={external_task_id!r})",
        )

    def __reduce__(self) -> Any:
        return (type(self), (self.endpoint, self.external_task_id, self.timeout))


# (family lower bound, upper bound inclusive) -> class.  Codes are looked up before HTTP status.
_CODE_FAMILIES: tuple[tuple[int, int, type[APIError]], ...] = (
    (1000, 1004, AuthenticationError),
    (1100, 1102, AccountError),
    (1103, 1103, PermissionDeniedError),
    (1200, 1202, InvalidRequestError),
    (1203, 1203, NotFoundError),
    (1300, 1301, ContentPolicyError),
    (1302, 1302, RateLimitError),
    (1303, 1303, ConcurrencyLimitError),
    (1304, 1304, AccountError),
    (5000, 5002, ServerError),
)

# Fallback when the body carries no usable code.
_HTTP_FAMILIES: dict[int, type[APIError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
}

#: Business codes that the official advice says to retry with backoff.
RETRYABLE_CODES = frozenset({1302, 1303, 5000, 5001, 5002})


def error_class(http_status: int | None, code: int | None) -> type[APIError]:
    """The exception class for an (HTTP status, business code) pair: code first, then status."""
    if code is not None:
        for low, high, cls in _CODE_FAMILIES:
            if low <= code <= high:
                return cls
        if 5000 <= code <= 5999:
            return ServerError
    if http_status is not None:
        if http_status in _HTTP_FAMILIES and (code is None or code == 0):
            return _HTTP_FAMILIES[http_status]
        if http_status >= 500:
            return ServerError
    return APIError


#: ``_short_repr`` shows containers this many levels deep, ints up to this many bits exactly.
_REPR_DEPTH = 3
_REPR_INT_BITS = 256


def _short_repr(value: Any, limit: int = 80) -> str:
    """A repr of at most ``limit`` characters, on one printable line, whatever ``value`` is.

    It never recurses past a few levels (a list nested 1,000 deep is ``[[[[...]]]]``), never
    converts a huge int to decimal (``str()`` of a 5,000-digit int is refused on Python
    3.11+ and slow on 3.10), and reads only the first ``limit`` characters of a string.
    """
    text = _render(value, limit + 1, _REPR_DEPTH)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _render(value: Any, budget: int, depth: int) -> str:
    """A repr of ``value``, cut soon after ``budget`` characters (the caller truncates)."""
    if value is None or isinstance(value, (bool, float)):
        return repr(value)
    if isinstance(value, int):
        return _render_int(value)
    if isinstance(value, (str, bytes)):
        return repr(value[:budget])
    if isinstance(value, (list, tuple, dict)):
        return _render_items(value, budget, depth)
    try:
        return _clean(repr(value), budget)
    except Exception:  # a repr that recurses or fails: say what it is instead
        return f"<{type(value).__name__}>"


def _render_int(value: int) -> str:
    if value.bit_length() <= _REPR_INT_BITS:
        return int.__repr__(value)
    digits = int(value.bit_length() * 0.30103) + 1  # log10(2): the count, within one
    return f"<{'negative ' if value < 0 else ''}int of about {digits} digits>"


def _render_items(value: list[Any] | tuple[Any, ...] | dict[Any, Any], budget: int,
                  depth: int) -> str:
    opener, closer = ("{", "}") if isinstance(value, dict) else (
        ("(", ")") if isinstance(value, tuple) else ("[", "]"))
    if depth <= 0:
        return f"{opener}...{closer}" if value else opener + closer
    pairs = value.items() if isinstance(value, dict) else ((None, item) for item in value)
    parts: list[str] = []
    used = 0
    for key, item in pairs:
        if used > budget:
            parts.append("...")
            break
        part = _render(item, budget - used, depth - 1)
        if isinstance(value, dict):
            part = f"{_render(key, budget - used, depth - 1)}: {part}"
        parts.append(part)
        used += len(part) + 2
    trailing = "," if isinstance(value, tuple) and len(value) == 1 else ""
    return opener + ", ".join(parts) + trailing + closer


def _clean(text: Any, limit: int) -> str:
    """``text`` cut to ``limit`` characters, non-printable ones (newlines, lone surrogates...)
    escaped, so a message always prints on one line to any terminal."""
    if not isinstance(text, str):
        return _short_repr(text, limit)
    out: str = text[:limit]
    if not out.isprintable():
        out = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in out)
    if len(out) > limit or len(text) > limit:
        out = out[: limit - 3] + "..."
    return out
