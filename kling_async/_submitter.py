"""Exactly-once submission: one job's create POST, under the capacity limit, reconciled.

For each job:

1. wait (FIFO, visibly: ``WaitingForCapacity``) for ``weight`` slots under the adaptive limit;
2. POST with the job's ``external_task_id`` (the user's, or a generated one), the same on every
   attempt; the transport retries only what provably created nothing (connect failures, 1302);
3. on 1303: give the slots back, shrink the limit, back off (>= 1 s) and wait again;
4. on an ambiguous failure (timeout/reset after sending, 5xx, or any reply that cannot be read,
   or that names another job's task or another external id): look the task up by
   ``external_task_id``; found -> it exists, track it; not found -> nothing was created, post
   again;
5. on a 1201 "external_task_id already exists": after an ambiguous attempt of this job, look it
   up (found -> it is ours: track it); with no such attempt it is someone else's task:
   ``DuplicateExternalIdError``;
6. anything else ends the job with its typed error; no task was created, none is lost.

If the lookups themselves keep failing, the job ends with ``AmbiguousSubmissionError``: the task
may exist, and the error names the ``external_task_id`` to look for.  ``Timeouts.submission``
bounds all of it, from the first POST to acceptance; the client closing mid-create ends a job
whose create may have reached the server with ``SubmissionInterruptedError`` (resumable with
``client.attach(endpoint, external_task_id=...)``).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import math
import re
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol, TypeVar, cast

import attrs

from ._admission import Admission
from ._capacity import AdaptiveCapacity
from ._endpoints import Endpoint, endpoint_row
from ._errors import (
    AmbiguousSubmissionError,
    APIError,
    ClientClosedError,
    ConcurrencyLimitError,
    DuplicateExternalIdError,
    InvalidRequestError,
    KlingError,
    NotFoundError,
    ResponseDecodeError,
    SubmissionAbortedError,
    SubmissionInterruptedError,
    SubmissionTimeoutError,
)
from ._events import (
    EventHub,
    JobFailed,
    JobSubmitted,
    RateLimited,
    Reconciling,
    WaitingForCapacity,
)
from ._http import CallTransport, DeadlinePassed
from ._models.task import Task
from ._policy import PollPolicy, RetryPolicy
from ._poller import Poller
from ._registry import Job, JobState, TaskRegistry
from ._results import created_task
from ._timelimit import within
from ._wire import dump_request

log = logging.getLogger("kling_async")

#: Called with the job right before its first create POST (slots held, id fixed).
BeforeSend = Callable[[Job], object]

_ORCHESTRATED_CREATE_CODES = frozenset({1302})
_T = TypeVar("_T")


#: A task id the SDK can put in a URL path as it is: unreserved characters, not a dot segment.
_plain_id = re.compile(r"[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,255}").fullmatch


def _describe(exc: BaseException, limit: int = 200) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_duplicate_id(exc: InvalidRequestError) -> bool:
    """Whether a 1201 says the external_task_id is already used ("External_task_id ...
    already exists", reference §4)."""
    text = exc.message.lower()
    return exc.code == 1201 and "external" in text and ("exist" in text or "duplic" in text)


class _Attempts:
    """One job's submission so far: what a failure, a deadline or a close must say of it."""

    __slots__ = ("holding", "sending", "ambiguous", "rejections", "deadline")

    def __init__(self) -> None:
        self.holding = True  # the job's slots are held (given back on 1303, taken again after)
        self.sending = False  # a create POST is under way
        self.ambiguous = 0  # attempts that may have created the task
        self.rejections = 0  # 1303s
        self.deadline = math.inf  # the loop time Timeouts.submission runs out (inf: never)

    @property
    def maybe_created(self) -> bool:
        """Whether a create of this job may have reached the server with no definite answer."""
        return self.sending or self.ambiguous > 0

    async def in_time(self, work: Coroutine[Any, Any, _T]) -> _T:
        """``work`` within what is left of the deadline; ``DeadlinePassed`` if it runs out."""
        finished, result = await within(work, self.deadline)
        if not finished:
            raise DeadlinePassed(maybe_sent=False)
        return cast(_T, result)


class SubmissionHost(Protocol):
    """What a ``Submitter`` needs of the client that owns it."""

    def spawn(self, job: Job, submission: Coroutine[Any, Any, None]) -> None:
        """Run ``job``'s submission as a task of the client's (cancelled when it closes)."""

    def settled(self) -> None:
        """A submission has its answer: the job was accepted, or failed to submit."""

    async def find_by_external_id(self, endpoint: Endpoint, external_task_id: str,
                                  job: Job) -> Task | None:
        """The task created with ``external_task_id`` (for ``job``), or None if provably
        none (raises ``KlingError`` when the lookup itself fails)."""


@attrs.frozen(kw_only=True)
class SubmissionSettings:
    """How a ``Submitter`` submits: its retry policy (the waits between lookups, and how
    many ambiguous creates are reconciled), the wait before a reconciling lookup,
    ``Timeouts.submission`` (None: no limit), and what completes each create body (the
    webhook callback URL) before it is first sent."""

    retry: RetryPolicy
    reconcile_delay: float = 0.5
    timeout: float | None = None
    prepare: Callable[[Job, dict[str, Any], Endpoint], None] | None = None


class Submitter:
    """Runs the create for each job, each in a task the host spawns (``SubmissionHost``)."""

    def __init__(
        self,
        *,
        host: SubmissionHost,
        transport: CallTransport,
        poller: Poller,
        registry: TaskRegistry,
        capacity: AdaptiveCapacity,
        events: EventHub,
        settings: SubmissionSettings,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[Any]],
        rand: Callable[[], float],
        admission: Admission | None = None,
    ):
        self._host = host
        self._admission = admission  # a capacity shared with other processes, if any
        self._transport = transport
        self._poller = poller
        self._registry = registry
        self._capacity = capacity
        self._events = events
        self._retry = settings.retry
        self._reconcile_delay = settings.reconcile_delay
        self._submission_limit = settings.timeout
        self._prepare = settings.prepare
        self._clock = clock
        self._sleep = sleep
        self._rand = rand
        self._closing = False  # queued jobs are no longer started (see close())
        self.reconciliations = 0

    def close(self) -> None:
        """The client is closing: jobs still queued for capacity are no longer started (their
        slots, when granted, go back).  Idempotent."""
        self._closing = True
        if self._admission is not None:
            self._admission.closed()  # shared slots of unfinished jobs: reconciled elsewhere

    def start(self, job: Job, policy: PollPolicy | None,
              before_send: BeforeSend | None = None) -> None:
        """Begin submitting ``job``: at once when its slots fit, else queued behind the jobs
        waiting for capacity (visibly: ``WAITING`` and a ``WaitingForCapacity`` event) with no
        task of its own, until the capacity grants it slots (``_granted``)."""
        if self._admitted(job):
            self._host.spawn(job, self.run(job, policy, before_send))
        else:  # started later from whatever task frees the slots: keep the caller's context
            self._capacity.defer(job.weight, functools.partial(
                self._granted, job, policy, before_send, contextvars.copy_context()),
                bucket=job.bucket)

    def _granted(self, job: Job, policy: PollPolicy | None, before_send: BeforeSend | None,
                 context: contextvars.Context) -> bool:
        """Capacity took the slots of a queued job: start its submission.  While the client
        closes, nothing starts (False: the slots go back)."""
        if self._closing:
            return False
        self._registry.set_state(job, JobState.SUBMITTING)
        context.run(self._host.spawn, job, self.run(job, policy, before_send))
        return True

    async def run(self, job: Job, policy: PollPolicy | None,
                  before_send: BeforeSend | None = None) -> None:
        """Submit ``job``, whose slots are held; on return it is tracked by the poller or has
        ended.  Only cancellation propagates.

        One task from the create to the first poll: POST until accepted or provably not
        (``_create``; a job that fails ends with its error), tell the host, then hand the job
        to the poller (``Poller.follow``, which makes its first poll here when that is due
        now) unless its task has ended already.
        """
        if self._admission is not None and not await self._admitted_shared(job):
            self._host.settled()
            return
        endpoint = endpoint_row(job.endpoint)  # also an undocumented new-standard model's
        attempts = _Attempts()
        try:
            body = self._body(job, endpoint, before_send)
            task = await self._create(job, endpoint, body, attempts)
        except BaseException as exc:
            self._failed(job, endpoint, exc, attempts)
            if not isinstance(exc, Exception):
                raise
            self._host.settled()
            return
        self._capacity.confirm(job.weight, bucket=job.bucket)
        followed = self._bind(job, task, submitted=True)
        if self._admission is not None:
            self._admission.created(job)  # its slot names its task (webhooks on any worker)
        self._host.settled()
        if followed:
            await self._poller.follow(job, policy)

    async def _admitted_shared(self, job: Job) -> bool:
        """Wait for the job's slots in the capacity shared with other processes
        (``KlingClient(store=...)``); False if that failed (the job ended with the error)."""
        assert self._admission is not None
        try:
            await self._admission.admit(job, self._host.find_by_external_id)
        except BaseException as exc:
            self._failed(job, endpoint_row(job.endpoint), exc, _Attempts())
            if not isinstance(exc, Exception):
                raise
            return False
        job.add_done_callback(self._admission.ended)
        return True

    def _body(self, job: Job, endpoint: Endpoint, before_send: BeforeSend | None
              ) -> dict[str, Any]:
        """The create body (with the job's external_task_id and, with webhooks, its callback
        URL), after ``before_send``."""
        body = dump_request(job.request)
        ext = job.external_task_id
        if ext is not None:
            endpoint.set_option(body, "external_task_id", ext)
        if self._prepare is not None:
            self._prepare(job, body, endpoint)
        if before_send is not None:
            try:
                before_send(job)
            except Exception as exc:
                raise SubmissionAbortedError(endpoint.name, ext, exc) from exc
        return body

    def _failed(self, job: Job, endpoint: Endpoint, exc: BaseException,
                attempts: _Attempts) -> None:
        """End a job whose submission raised ``exc`` (unless it ended already).  Cancelled
        (the client closes) after a create may have reached the server, it fails with
        ``SubmissionInterruptedError`` naming its external_task_id; cancelled with nothing
        sent, it is left to the close, which says so."""
        if attempts.holding and job.task_id is None:
            # Nothing was accepted: the slots go back.  (On success the poller owns them;
            # after a 1303 they went back already, unless taken again.)
            self._capacity.release(job.weight, bucket=job.bucket, clean=False)
        if job.done():
            return
        error: BaseException
        if isinstance(exc, Exception):
            if not isinstance(exc, KlingError):  # a bug, not a server answer: end the job
                log.exception("submitting %r failed unexpectedly", job)
            error = exc
        elif isinstance(exc, asyncio.CancelledError) and attempts.maybe_created:
            error = SubmissionInterruptedError(
                endpoint.name, job.external_task_id,
                ClientClosedError("the client closed while the create was under way"))
        else:
            return
        self._registry.finish(job, JobState.FAILED, error=error)
        self._events.emit(JobFailed(self._clock(), job=job, error=error))

    @staticmethod
    def _timed_out(job: Job, endpoint: Endpoint, attempts: _Attempts, limit: float
                   ) -> KlingError:
        ext = job.external_task_id
        if attempts.maybe_created:
            return AmbiguousSubmissionError(endpoint.name, ext, TimeoutError(
                f"not accepted within {limit:g} s (Timeouts.submission)"))
        return SubmissionTimeoutError(endpoint.name, ext, limit)

    async def _create(self, job: Job, endpoint: Endpoint, body: dict[str, Any],
                      attempts: _Attempts) -> Task:
        """POST until the server accepts the task (or it is found by reconciliation), within
        the submission deadline (``Timeouts.submission``), if any; raise the typed reason when
        it provably will not be.

        No timer of its own: each create POST is a call bounded by the deadline
        (``Transport.call(deadline=...)``, which bounds its tries anyway), and the 1303
        back-offs and reconciling lookups between them by what is left of it
        (``_Attempts.in_time``); whichever runs out raises ``DeadlinePassed``."""
        limit = self._submission_limit
        if limit is not None:
            attempts.deadline = asyncio.get_running_loop().time() + limit
        try:
            while True:
                try:
                    return await self._post(job, endpoint, body, attempts)
                except ConcurrencyLimitError as exc:
                    await attempts.in_time(self._back_off(job, exc, attempts))
                except AmbiguousSubmissionError as exc:
                    attempts.ambiguous += 1
                    found = await attempts.in_time(self._reconcile(job, endpoint, exc))
                    if found is not None:
                        return self._claimed(job, endpoint, found, exc)
                    if attempts.ambiguous >= self._retry.max_attempts:
                        raise
                except InvalidRequestError as exc:
                    found = await self._refused(job, endpoint, exc, attempts)
                    return self._claimed(job, endpoint, found, exc)
        except DeadlinePassed:
            pass  # raised below, outside the handler
        assert limit is not None  # (no deadline, no DeadlinePassed)
        raise self._timed_out(job, endpoint, attempts, limit)

    async def _post(self, job: Job, endpoint: Endpoint, body: dict[str, Any],
                    attempts: _Attempts) -> Task:
        """One create POST (with the transport's safe retries) and its reply, read.  Any reply
        that cannot be read, or that names another job's task or external id, is ambiguous:
        the server may have created the task."""
        ext = job.external_task_id
        attempts.sending = True
        try:
            data = await self._transport.call(
                "POST", endpoint.path, body=body, create=endpoint.name,
                external_task_id=ext, retry_codes=_ORCHESTRATED_CREATE_CODES, subject=job,
                deadline=attempts.deadline,
            )
        except DeadlinePassed as exc:  # Timeouts.submission ran out during this POST
            attempts.sending = exc.maybe_sent
            raise
        except KlingError as exc:
            # a definite answer (nothing created by this POST), unless it is ambiguous; on a
            # cancellation (the client closes) the POST stays "under way"
            attempts.sending = isinstance(exc, AmbiguousSubmissionError)
            raise
        except Exception as exc:  # a reply the transport itself could not handle
            raise AmbiguousSubmissionError(endpoint.name, ext, ResponseDecodeError(
                f"the create reply could not be read ({_describe(exc)})")) from None
        attempts.sending = False
        try:
            task = created_task(data, ext)  # the one reading of the create reply
        except Exception as exc:
            raise AmbiguousSubmissionError(endpoint.name, ext, ResponseDecodeError(
                f"the create reply could not be read ({_describe(exc)})")) from None
        problem = self._conflict(job, task.task_id, task.external_task_id)
        if problem is not None:
            raise AmbiguousSubmissionError(endpoint.name, ext, ResponseDecodeError(
                f"the create reply {problem}"))
        return task

    def _conflict(self, job: Job, task_id: str, named: str | None) -> str | None:
        """Why a task the server named for ``job`` cannot be its task, or None."""
        ext = job.external_task_id
        if not _plain_id(task_id):
            return f"names task id {task_id[:80]!r}, which is not a plain id"
        if ext is not None and named is not None and named != ext:
            return f"names external_task_id {named!r}, not {ext!r}"
        other = self._registry.get(task_id)
        if other is not None and other is not job:
            return (f"names task {task_id!r}, already tracked by another job "
                    f"(external_task_id {other.external_task_id!r})")
        return None

    def _claimed(self, job: Job, endpoint: Endpoint, task: Task, cause: KlingError) -> Task:
        """The task reconciliation found for ``job``, unless it is provably not its own."""
        problem = self._conflict(job, task.task_id, task.external_task_id)
        if problem is not None:
            raise AmbiguousSubmissionError(endpoint.name, job.external_task_id,
                                           ResponseDecodeError(f"the lookup {problem}")
                                           ) from cause
        return task

    async def _refused(self, job: Job, endpoint: Endpoint, exc: InvalidRequestError,
                       attempts: _Attempts) -> Task:
        """A 1200-1202 refusal of the create: raise it (typed), unless an earlier ambiguous
        attempt of this job may have made the task, which a lookup then finds.  A refusal of
        a used external_task_id means "it is ours" only after such an attempt; before one it
        is someone else's task: ``DuplicateExternalIdError``."""
        ext = job.external_task_id
        if ext is None or isinstance(exc, NotFoundError):
            raise exc
        duplicate = _is_duplicate_id(exc)
        if not attempts.ambiguous:
            if duplicate:
                raise DuplicateExternalIdError(
                    exc.message, external_task_id=ext, http_status=exc.http_status,
                    code=exc.code, request_id=exc.request_id) from exc
            raise exc
        found = await attempts.in_time(self._reconcile(job, endpoint, exc))
        if found is not None:
            return found
        if duplicate:  # it exists, but the lookup cannot see it (yet): it may well be ours
            raise AmbiguousSubmissionError(endpoint.name, ext, exc) from exc
        raise exc

    async def _back_off(self, job: Job, exc: ConcurrencyLimitError, attempts: _Attempts
                        ) -> None:
        """After a 1303: give the slots back, wait, and take them again."""
        attempts.holding = False
        await self._sleep(self._rejected(job, exc, attempts.rejections))
        attempts.rejections += 1
        if not self._admitted(job):
            await self._capacity.acquire(job.weight, bucket=job.bucket)
            self._registry.set_state(job, JobState.SUBMITTING)
        attempts.holding = True

    def attach(self, job: Job, policy: PollPolicy | None, task: Task,
               first: float | None = None) -> None:
        """Track an existing task (``KlingClient.attach``): the same path as an accepted
        create, except that its slots are held on the server already (even past the limit),
        no ``JobSubmitted`` is emitted, and its first poll is scheduled (``first``: when)."""
        self._capacity.hold(job.weight, bucket=job.bucket)
        if self._bind(job, task, submitted=False):
            self._poller.track(job, policy, first=first)

    def _bind(self, job: Job, task: Task, *, submitted: bool) -> bool:
        """Bind the accepted job to its ``task``; True if it is to be polled, False if the
        task has ended already (then so has the job)."""
        now = self._clock()
        self._registry.accept(job, task, now)
        if submitted and self._events.active:
            self._events.emit(JobSubmitted(now, job=job, task_id=task.task_id,
                                           external_task_id=job.external_task_id))
        if task.status.is_terminal:
            # an already-finished task: accepted so, found by reconciliation, or attached
            self._poller.observe(job, task)
            return False
        return True

    def _admitted(self, job: Job) -> bool:
        """Take the job's slots now if they fit (then it is SUBMITTING); else mark it WAITING,
        visibly, and return False: the caller then queues it (``capacity.defer``) or awaits
        ``capacity.acquire``."""
        capacity = self._capacity
        if capacity.try_acquire(job.weight, bucket=job.bucket):
            self._registry.set_state(job, JobState.SUBMITTING)
            return True
        self._registry.set_state(job, JobState.WAITING)
        if self._events.active:
            self._events.emit(WaitingForCapacity(self._clock(), job=job, weight=job.weight,
                                                 in_use=capacity.in_use, limit=capacity.limit))
        return False

    def _rejected(self, job: Job, exc: ConcurrencyLimitError, rejections: int) -> float:
        """A 1303: give the job's slots back, shrink the limit, mark the job waiting (visibly);
        returns how long to back off before asking for capacity again."""
        self._capacity.reject(job.weight, bucket=job.bucket)
        delay = self._retry.delay(rejections, rand=self._rand(), retry_after=exc.retry_after,
                                  code=1303)
        self._events.emit(RateLimited(self._clock(), job=job, code=1303, delay=delay,
                                      retry_after=exc.retry_after))
        self._registry.set_state(job, JobState.WAITING)
        return delay

    async def _reconcile(self, job: Job, endpoint: Endpoint, cause: KlingError) -> Task | None:
        """Look the job's task up by external_task_id: the Task, or None if provably absent."""
        ext = job.external_task_id
        if ext is None:
            raise cause
        self.reconciliations += 1
        self._events.emit(Reconciling(self._clock(), job=job, external_task_id=ext,
                                      reason=f"{type(cause).__name__}: {cause}"))
        if self._reconcile_delay > 0:
            await self._sleep(self._reconcile_delay)
        last: KlingError = cause
        for attempt in range(self._retry.max_attempts):
            try:
                return await self._host.find_by_external_id(endpoint, ext, job)
            except Exception as exc:
                if isinstance(exc, APIError) and exc.code is not None and 1000 <= exc.code < 1300:
                    break  # auth / account / request errors will not heal by waiting
                last = exc if isinstance(exc, KlingError) else ResponseDecodeError(
                    f"the lookup reply could not be read ({_describe(exc)})")
                await self._sleep(self._retry.delay(attempt, rand=self._rand()))
        error = AmbiguousSubmissionError(endpoint.name, ext, last)
        raise error from cause
