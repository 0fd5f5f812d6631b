"""Exactly-once submission: one job's create POST, under the capacity limit, reconciled.

For each job:

1. wait (FIFO, visibly: ``WaitingForCapacity``) for ``weight`` slots under the adaptive limit;
2. POST with the job's ``external_task_id`` (the user's, or a generated one), the same on every
   attempt; the transport retries only what provably created nothing (connect failures, 1302);
3. on 1303: give the slots back, shrink the limit, back off (>= 1 s) and wait again;
4. on an ambiguous failure (timeout/reset after sending, 5xx, unreadable reply): look the task
   up by ``external_task_id``; found -> it exists, track it; not found -> nothing was created,
   post again;
5. on a 1201 after an ambiguity (or for a user-chosen id): look it up; a duplicate-id rejection
   means "it exists: fetch it";
6. anything else ends the job with its typed error; no task was created, none is lost.

If the lookups themselves keep failing, the job ends with ``AmbiguousSubmissionError``: the task
may exist, and the error names the ``external_task_id`` to look for.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from ._capacity import AdaptiveCapacity
from ._endpoints import ENDPOINTS, Endpoint
from ._errors import (
    AmbiguousSubmissionError,
    APIError,
    ConcurrencyLimitError,
    InvalidRequestError,
    KlingError,
    NotFoundError,
    SubmissionAbortedError,
)
from ._events import (
    EventHub,
    JobFailed,
    JobSubmitted,
    RateLimited,
    Reconciling,
    WaitingForCapacity,
)
from ._http import Transport
from ._models.task import Task, TaskStatus
from ._policy import PollPolicy, RetryPolicy
from ._poller import Poller
from ._registry import FAILED, SUBMITTING, WAITING, Job, TaskRegistry
from ._results import created_head, created_task
from ._wire import dump_request

log = logging.getLogger("kling_async")

#: (endpoint, external_task_id, the job it is for) -> the Task, or None if there is none.
ExternalIdLookup = Callable[[Endpoint, str, Job], Awaitable[Task | None]]
#: Called with the job right before its first create POST (slots held, id fixed).
BeforeSend = Callable[[Job], object]

_ORCHESTRATED_CREATE_CODES = frozenset({1302})


def _run_soon(job: Job, coro: Coroutine[Any, Any, None]) -> None:
    asyncio.get_running_loop().create_task(coro)


class Submitter:
    """Runs the create for each job (one task per job in the client's task group)."""

    def __init__(
        self,
        *,
        transport: Transport,
        registry: TaskRegistry,
        capacity: AdaptiveCapacity,
        poller: Poller,
        events: EventHub,
        retry: RetryPolicy,
        lookup: ExternalIdLookup,
        reconcile_delay: float,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[Any]],
        rand: Callable[[], float],
        on_sent: Callable[[], None] | None = None,
        on_done: Callable[[Job], None] | None = None,
        spawn: Callable[[Job, Coroutine[Any, Any, None]], None] | None = None,
    ):
        self._on_sent = on_sent
        self._on_done = on_done
        self._spawn = spawn or _run_soon
        #: Set while the client closes: queued jobs are then no longer started.
        self.closing = False
        capacity.on_grant = self._granted
        self._transport = transport
        self._registry = registry
        self._capacity = capacity
        self._poller = poller
        self._events = events
        self._retry = retry
        self._lookup = lookup
        self._reconcile_delay = reconcile_delay
        self._clock = clock
        self._sleep = sleep
        self._rand = rand
        self.reconciliations = 0

    def start(self, job: Job, policy: PollPolicy | None, user_id: bool,
              before_send: BeforeSend | None = None) -> None:
        """Begin submitting ``job``: at once when its slots fit, else queued behind the jobs
        waiting for capacity (visibly: ``WAITING`` and a ``WaitingForCapacity`` event) with no
        task of its own, until ``_granted`` starts it as slots free."""
        if self._admitted(job):
            self._spawn(job, self.run(job, policy, user_id, before_send))
        else:  # started later from whatever task frees the slots: keep the caller's context
            self._capacity.defer(job.weight, (job, policy, user_id, before_send,
                                              contextvars.copy_context()))

    def _granted(self, item: Any) -> bool:
        """Capacity took the slots of a queued job: start its submission.  While the client
        closes, nothing starts (False: the slots go back)."""
        if self.closing:
            return False
        job, policy, user_id, before_send, context = item
        self._registry.set_state(job, SUBMITTING)
        context.run(self._spawn, job, self.run(job, policy, user_id, before_send))
        return True

    async def run(self, job: Job, policy: PollPolicy | None, user_id: bool,
                  before_send: BeforeSend | None = None) -> None:
        """Submit ``job``, whose slots are held; on return it is tracked by the poller or has
        ended with an error.

        One coroutine from the create to the first poll (each layer costs every job a frame
        and a resume per await): POST until accepted or provably not, then hand the job to the
        poller, making its first poll here when that is due now.
        """
        try:
            endpoint = ENDPOINTS[job.endpoint]
            ext = job.external_task_id
            holding = True  # this job's slots are held (given back on 1303, taken again after)
            poll_now = False
            try:
                body = dump_request(job.request)
                if ext is not None:
                    body["external_task_id"] = ext
                if before_send is not None:
                    try:
                        before_send(job)
                    except Exception as exc:
                        raise SubmissionAbortedError(endpoint.name, ext, exc) from exc
                rejections = ambiguous = 0
                head: tuple[str, TaskStatus, str | None] | None = None
                data: Any = None
                while True:
                    try:
                        data = await self._transport.call(
                            "POST", endpoint.path, body=body, create=endpoint.name,
                            external_task_id=ext, retry_codes=_ORCHESTRATED_CREATE_CODES,
                            subject=job,
                        )
                        head = created_head(data, ext)  # the usual reply: no Task built yet
                        if head is None or head[1].is_terminal:
                            task, head = created_task(data, ext), None
                        else:
                            task = None
                        break
                    except ConcurrencyLimitError as exc:
                        holding = False
                        await self._sleep(self._rejected(job, exc, rejections))
                        rejections += 1
                        if not self._admitted(job):
                            await self._capacity.acquire(job.weight)
                            self._registry.set_state(job, SUBMITTING)
                        holding = True
                    except AmbiguousSubmissionError as exc:
                        ambiguous += 1
                        found = await self._reconcile(job, endpoint, exc)
                        if found is not None:
                            task = found
                            break
                        if ambiguous >= self._retry.max_attempts:
                            raise
                    except InvalidRequestError as exc:
                        if (ext is None or not (ambiguous or user_id)
                                or isinstance(exc, NotFoundError)):
                            raise
                        found = await self._reconcile(job, endpoint, exc)
                        if found is None:
                            raise
                        task = found
                        break
            except BaseException as exc:
                if holding and job.task_id is None:
                    # Nothing was accepted: the slots go back.  (On success the poller owns
                    # them; after a 1303 they went back already, unless taken again.)
                    self._capacity.release(job.weight, clean=False)
                if not isinstance(exc, Exception):
                    raise
                if not isinstance(exc, KlingError):  # a bug, not a server answer: end the job
                    log.exception("submitting %r failed unexpectedly", job)
                if not job.done():
                    self._registry.finish(job, FAILED, error=exc)
                    self._events.emit(JobFailed(self._clock(), job=job, error=exc))
            else:
                poll_now = self._accept(job, policy, task, head, data)
            if self._on_sent is not None:
                self._on_sent()
            if poll_now:
                await self._poller.poll_claimed(job)
        finally:  # also when the task ended inside create_task() (an eager task factory)
            if self._on_done is not None:
                self._on_done(job)

    def _accept(self, job: Job, policy: PollPolicy | None, task: Task | None,
                head: tuple[str, TaskStatus, str | None] | None, reply: Any) -> bool:
        """Track the accepted job (its ``task``, or the ``head`` of its create ``reply``);
        True if its first poll is due now, for the caller to make."""
        self._capacity.confirm(job.weight)
        now = self._clock()
        if task is not None:
            self._registry.accept(job, task, now)
        else:
            assert head is not None
            self._registry.accept_reply(job, head, reply, job.external_task_id, now)
        if self._events.active:
            assert job.task_id is not None
            self._events.emit(JobSubmitted(now, job=job, task_id=job.task_id,
                                           external_task_id=job.external_task_id))
        if task is not None and task.status.is_terminal:
            # an already-finished task, found by reconciliation
            self._poller.observe(job, task)
            return False
        return self._poller.track(job, policy, inline=True)

    def _admitted(self, job: Job) -> bool:
        """Take the job's slots now if they fit (then it is SUBMITTING); else mark it WAITING,
        visibly, and return False: the caller then queues it (``capacity.defer``) or awaits
        ``capacity.acquire``."""
        capacity = self._capacity
        if capacity.try_acquire(job.weight):
            self._registry.set_state(job, SUBMITTING)
            return True
        self._registry.set_state(job, WAITING)
        if self._events.active:
            self._events.emit(WaitingForCapacity(self._clock(), job=job, weight=job.weight,
                                                 in_use=capacity.in_use, limit=capacity.limit))
        return False

    def _rejected(self, job: Job, exc: ConcurrencyLimitError, rejections: int) -> float:
        """A 1303: give the job's slots back, shrink the limit, mark the job waiting (visibly);
        returns how long to back off before asking for capacity again."""
        self._capacity.reject(job.weight)
        delay = self._retry.delay(rejections, rand=self._rand(), retry_after=exc.retry_after,
                                  code=1303)
        self._events.emit(RateLimited(self._clock(), job=job, code=1303, delay=delay,
                                      retry_after=exc.retry_after))
        self._registry.set_state(job, WAITING)
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
                return await self._lookup(endpoint, ext, job)
            except KlingError as exc:
                if isinstance(exc, APIError) and exc.code is not None and 1000 <= exc.code < 1300:
                    break  # auth / account / request errors will not heal by waiting
                last = exc
                await self._sleep(self._retry.delay(attempt, rand=self._rand()))
        error = AmbiguousSubmissionError(endpoint.name, ext, last)
        raise error from cause
