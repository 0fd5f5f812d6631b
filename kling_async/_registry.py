"""Job handles and the in-memory ``TaskRegistry``; nothing here awaits the network.

The registry finds a job by ``task_id`` or ``external_task_id`` in O(1) and keeps counts by
state (and in-flight counts by endpoint) up to date on every transition, so no request or poll
ever scans all jobs.  A finished job keeps a compact record: its last ``Task``, its error, and
its status history; the poll schedule and waiters are dropped.
"""

from __future__ import annotations

import enum
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

import anyio

from ._costs import CostTally
from ._errors import ClientClosedError, TaskTimeoutError, ValidationError
from ._models.task import DONE, NOT_DONE, DoneFlag, Task, TaskStatus

log = logging.getLogger("kling_async")


class JobState(str, enum.Enum):
    """Where a job is, client-side.  ``status`` of a ``Job``."""

    PENDING = "pending"  # created, submission not started
    WAITING = "waiting_for_capacity"  # queued until slots free under the adaptive limit
    SUBMITTING = "submitting"  # the create POST (or its reconciliation) is under way
    SUBMITTED = "submitted"  # accepted; server status submitted (queued)
    PROCESSING = "processing"  # server status processing
    SUCCEEDED = "succeeded"  # server status succeed
    FAILED = "failed"  # task failed, timed out, or could not be submitted

    def __init__(self, value: str) -> None:
        #: Whether a job in this state has ended (succeeded or failed).  A plain attribute of
        #: each member, read on every transition: on CPython 3.11 each read of an enum member
        #: from its class (``JobState.FAILED``) costs about 0.7 k instructions.
        self.is_terminal = value in ("succeeded", "failed")


_IN_FLIGHT = frozenset({JobState.SUBMITTED, JobState.PROCESSING})
_UNSENT = frozenset({JobState.PENDING, JobState.WAITING, JobState.SUBMITTING})
#: (old state, new state) -> (change of the unsent count, change of the in-flight count).
_DELTAS = {
    (old, new): (int(new in _UNSENT) - int(old in _UNSENT),
                 int(new in _IN_FLIGHT) - int(old in _IN_FLIGHT))
    for old in JobState for new in JobState
}

_FROM_STATUS = {
    TaskStatus.SUBMITTED: JobState.SUBMITTED,
    TaskStatus.PROCESSING: JobState.PROCESSING,
    TaskStatus.SUCCEED: JobState.SUCCEEDED,
    TaskStatus.FAILED: JobState.FAILED,
}


def state_for(status: TaskStatus) -> JobState:
    return _FROM_STATUS[status]


class Job:
    """The client-side handle of one submitted (or to-be-submitted) request.

    ``result()`` waits for the shared poller to resolve it.  Cancelling or timing out a waiter
    never loses the job: it stays tracked and polled.  Kling has no remote cancel, so there is
    no ``cancel()``.
    """

    __slots__ = (
        "endpoint", "request", "task_id", "external_task_id", "_state", "_task", "_status", "error",
        "history", "accepted_at", "weight", "bucket", "expected", "polls", "_done", "_accepted",
        "_callbacks", "_closed", "__weakref__",
    )

    def __init__(
        self, endpoint: str, request: Any, external_task_id: str | None, *, weight: int = 1,
        expected: float = 0.0, bucket: str = "",
    ):
        self.endpoint = endpoint
        self.request = request
        self.task_id: str | None = None
        self.external_task_id = external_task_id
        self._state = JobState.PENDING
        self._task: Task | None = None
        self._status: TaskStatus | None = None
        self.error: BaseException | None = None
        #: (server status, seconds since acceptance) each time the status changed.
        self.history: list[tuple[TaskStatus, float]] = []
        self.accepted_at: float | None = None
        self.weight = weight
        #: The concurrency bucket its slots count against (``concurrency_bucket``).
        self.bucket = bucket
        self.expected = expected
        self.polls = 0
        self._done: anyio.Event | None = None
        self._accepted: anyio.Event | None = None
        self._callbacks: list[Callable[[Job], Any]] | None = None
        self._closed = False

    # -- reading ------------------------------------------------------------------------------
    @property
    def status(self) -> JobState:
        return self._state

    @property
    def task(self) -> Task | None:
        """The last ``Task`` seen for this job, or None before acceptance."""
        return self._task

    @task.setter
    def task(self, task: Task) -> None:
        self._task = task
        self._status = task.status

    @property
    def task_status(self) -> TaskStatus | None:
        """The last server-side status seen, or None before acceptance."""
        return self._status

    @property
    def done(self) -> DoneFlag:
        """Call it: ``job.done()`` is whether the job has ended (succeeded or failed)."""
        return DONE if self._state.is_terminal else NOT_DONE

    def __repr__(self) -> str:
        return (
            f"<Job {self.endpoint} task_id={self.task_id} "
            f"external_task_id={self.external_task_id} status={self._state.value}>"
        )

    # -- waiting ------------------------------------------------------------------------------
    async def result(self, timeout: float | None = None) -> Task:
        """The finished ``Task``.

        Raises ``TaskFailedError`` (the server's reason), ``TaskTimeoutError`` (the job's
        deadline, or this wait's ``timeout``, passed; says where it stalled, with the status
        history), the submission's error, or ``ClientClosedError``.
        """
        if not self.done():
            if self._closed:
                raise self._closed_error()
            if self._done is None:
                self._done = anyio.Event()
            with anyio.move_on_after(timeout) as scope:
                await self._done.wait()
            if scope.cancelled_caught and not self.done():
                raise TaskTimeoutError(self.task_id, timeout or 0.0, self.task_status,
                                       self.history)
            if not self.done():
                raise self._closed_error()
        if self.error is not None:
            raise self.error
        assert self.task is not None
        return self.task

    async def wait_submitted(self, timeout: float | None = None) -> Job:
        """Wait until the server accepted the task (or the job ended); returns the job."""
        if self.task_id is None and not self.done():
            if self._closed:
                raise self._closed_error()
            if self._accepted is None:
                self._accepted = anyio.Event()
            with anyio.fail_after(timeout):
                await self._accepted.wait()
        return self

    def add_done_callback(self, callback: Callable[[Job], Any]) -> None:
        """Call ``callback(job)`` once the job ends (at once if it already has).  An exception
        from a callback is logged, never propagated into the client."""
        if self._state.is_terminal:
            callback(self)
            return
        if self._callbacks is None:
            self._callbacks = []
        self._callbacks.append(callback)

    def _closed_error(self) -> ClientClosedError:
        where = (
            f"task {self.task_id} may still be running on the server; re-attach with "
            f"client.attach({self.endpoint!r}, task_id={self.task_id!r})"
            if self.task_id
            else "it was never accepted by the server, and no task was created for it (its "
            "create was never sent, or was refused): it is safe to submit again"
        )
        return ClientClosedError(f"the client closed before this job ended: {where}")

    # -- transitions (called by the client, poller and registry only) ------------------------
    def _wake_accepted(self) -> None:
        if self._accepted is not None:
            self._accepted.set()
            self._accepted = None

    def _finish(self) -> None:
        self._wake_accepted()
        if self._done is not None:
            self._done.set()
            self._done = None
        callbacks, self._callbacks = self._callbacks, None
        for callback in callbacks or ():
            try:
                callback(self)
            except Exception:  # a user's callback must never break the poller
                log.exception("done callback %r of %r raised", callback, self)

    def _close(self) -> None:
        """The client closed: wake every waiter (they raise ``ClientClosedError``)."""
        self._closed = True
        self._wake_accepted()
        if self._done is not None:
            self._done.set()
            self._done = None


class TaskRegistry:
    """Every job of one client, indexed by task_id and external_task_id, with live counts."""

    def __init__(self) -> None:
        self._by_task_id: dict[str, Job] = {}
        self._by_external_id: dict[str, Job] = {}
        #: Jobs by state (a plain dict holding every state: Counter's item access costs
        #: about three times more, and this is updated on every transition).
        self.counts: dict[JobState, int] = dict.fromkeys(JobState, 0)
        self.in_flight_by_endpoint: Counter[str] = Counter()
        self.total = 0
        #: Jobs not yet sent or accepted (pending, waiting for capacity, submitting).
        self.unsent = 0
        #: What the tasks of finished jobs cost, as their last replies reported it.
        self.costs = CostTally()

    def add(self, job: Job) -> None:
        ext = job.external_task_id
        if ext is not None:
            existing = self._by_external_id.get(ext)
            if existing is not None:
                raise ValidationError(
                    "external_task_id", "must be unique: it is already tracked by this client",
                    ext, hint=f"existing job: {existing!r}",
                )
            self._by_external_id[ext] = job
        state = job._state
        self.counts[state] += 1
        self.total += 1
        if state in _UNSENT:
            self.unsent += 1

    def get(self, task_id: str) -> Job | None:
        return self._by_task_id.get(task_id)

    def get_by_external_id(self, external_task_id: str) -> Job | None:
        return self._by_external_id.get(external_task_id)

    def unfinished(self) -> list[Job]:
        """Every job not yet ended (O(N) unless every job has ended: only for closing)."""
        counts = self.counts
        if counts[JobState.SUCCEEDED] + counts[JobState.FAILED] == self.total:
            return []
        seen: dict[int, Job] = {}
        for index in (self._by_external_id, self._by_task_id):
            for job in index.values():
                if not job.done():
                    seen[id(job)] = job
        return list(seen.values())

    def set_state(self, job: Job, state: JobState) -> None:
        old = job._state
        if old is state:
            return
        counts = self.counts
        counts[old] -= 1
        counts[state] += 1
        unsent, in_flight = _DELTAS[old, state]
        if unsent:
            self.unsent += unsent
        if in_flight and job.task_id is not None:
            self.in_flight_by_endpoint[job.endpoint] += in_flight
        job._state = state

    def accept(self, job: Job, task: Task, now: float) -> None:
        """Bind the server's task to the job; the job is now in flight."""
        job.task = task
        task_id, status, external_task_id = task.task_id, task.status, task.external_task_id
        job.task_id = task_id
        if external_task_id and job.external_task_id is None:
            job.external_task_id = external_task_id
            self._by_external_id.setdefault(external_task_id, job)
        self._by_task_id[task_id] = job
        job.accepted_at = now
        job.history.append((status, 0.0))
        # Enter the in-flight count through set_state from a pre-flight state.
        state = _FROM_STATUS[status]
        self.set_state(job, JobState.SUBMITTED if state.is_terminal else state)
        job._wake_accepted()

    def finish(self, job: Job, state: JobState, *, task: Task | None = None,
               error: BaseException | None = None) -> None:
        if task is not None:
            job.task = task
        final = job._task
        if not job._state.is_terminal and final is not None and final.status.is_terminal:
            self.costs.add(final.cost)
        job.error = error
        self.set_state(job, state)
        job._finish()
