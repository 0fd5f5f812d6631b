"""One poll loop per client, resolving every registered ``Job``.

A min-heap orders jobs by their next poll time (stale entries are skipped lazily, so
rescheduling is O(log N) and nothing scans all jobs).  The loop sleeps until the earliest due
time or until a newly scheduled job is due sooner, then polls the due jobs:

- one ``GET <path>/<task_id>`` per job, normally;
- when an endpoint has ``PollPolicy.bulk_threshold`` or more tasks in flight, one sweep of the
  list endpoint (``pageSize`` up to 500) refreshes them all, at most every ``min_interval``;
  due jobs the sweep did not see get single GETs, and a server that does not support listing
  (404 / 1202 / 1203) is remembered and polled per task from then on.

Single GETs are made by a pool of poll workers (up to as many as the client's concurrent
requests, started as the queue needs them), fed by a queue, rather than a task per poll.
Every observed status goes through ``observe()``: events, history, capacity release on the
end, the next poll time from the job's ``PollPolicy``, and the deadline.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Callable
from typing import Any

import anyio
import anyio.abc
import attrs

from ._capacity import AdaptiveCapacity
from ._endpoints import ENDPOINTS
from ._errors import (
    InvalidRequestError,
    KlingError,
    NotFoundError,
    ResponseDecodeError,
    TaskFailedError,
    TaskTimeoutError,
    TransportError,
)
from ._events import EventHub, JobFailed, JobSucceeded, StatusChanged
from ._http import Transport
from ._models.task import Task, TaskStatus
from ._policy import PollPolicy
from ._registry import FAILED, SUCCEEDED, Job, TaskRegistry, state_for
from ._wire import parse_task

log = logging.getLogger("kling_async")

_NOT_FOUND_LIMIT = 3


@attrs.define
class PollCounters:
    polls: int = 0
    sweeps: int = 0
    sweep_pages: int = 0
    poll_errors: int = 0


@attrs.define
class _Sweep:
    last: float = float("-inf")
    running: bool = False
    supported: bool = True


class Poller:
    """The shared poller: ``track()`` a job once it is accepted, ``run()`` in the task group."""

    def __init__(
        self,
        *,
        transport: Transport,
        registry: TaskRegistry,
        capacity: AdaptiveCapacity,
        events: EventHub,
        policy: PollPolicy,
        clock: Callable[[], float],
        rand: Callable[[], float],
        workers: int = 32,
    ):
        self._workers = max(1, workers)
        self._started = 0  # poll workers started so far: on demand, up to ``workers``
        self._idle = 0  # poll workers waiting for a job
        self._queue: asyncio.Queue[Job] = asyncio.Queue()
        self._transport = transport
        self._registry = registry
        self._capacity = capacity
        self._events = events
        self.policy = policy
        self._clock = clock
        self._rand = rand
        self._heap: list[tuple[float, int, Job]] = []
        self._due: dict[int, float] = {}  # id(job) -> its current due time
        self._policies: dict[int, PollPolicy] = {}
        self._not_found: dict[int, int] = {}
        self._queued: set[int] = set()  # id(job) of jobs whose single GET is queued or running
        self._seq = itertools.count()
        self._waiter: asyncio.Future[None] | None = None
        self._wake_at = float("inf")
        self._sweeps = {name: _Sweep() for name in ENDPOINTS}
        self.counters = PollCounters()
        self._tg: anyio.abc.TaskGroup | None = None

    # -- scheduling ---------------------------------------------------------------------------
    def policy_for(self, job: Job) -> PollPolicy:
        return self._policies.get(id(job), self.policy)

    def track(self, job: Job, policy: PollPolicy | None = None, *, first: float | None = None,
              inline: bool = False) -> bool:
        """Start polling an accepted job: first poll after the policy's first delay.

        With ``inline=True``, when that first poll is due at once, the job is not bulk-polled
        and a request slot is free right now, nothing is scheduled and True is returned: the
        job is then marked as being polled and the caller MUST make that poll with
        ``poll_claimed()`` in its own task (saving the hand-off to the loop and a worker).
        Under a backlog the poll queue takes it as usual, so waiting polls never hold one
        task each.
        """
        if policy is not None and policy is not self.policy:
            self._policies[id(job)] = policy
        pol = policy or self.policy
        delay = pol.first_delay(job.expected) if first is None else first
        if inline and delay <= 0 and self._transport.idle_slot and not self._bulk(job.endpoint):
            self._queued.add(id(job))
            return True
        self._schedule_poll(job, pol, self._clock() + delay)
        return False

    def _bulk(self, endpoint: str) -> bool:
        """Whether due jobs of ``endpoint`` are refreshed by list sweeps right now."""
        threshold = self.policy.bulk_threshold
        return (threshold > 0 and self._sweeps[endpoint].supported
                and self._registry.in_flight_by_endpoint[endpoint] >= threshold)

    def _schedule_poll(self, job: Job, policy: PollPolicy, due: float) -> None:
        """Schedule the next poll, never later than the deadline (where a last poll decides)."""
        if policy.deadline is not None and job.accepted_at is not None:
            due = min(due, job.accepted_at + policy.deadline)
        self._schedule(job, due)

    def poke(self, job: Job) -> None:
        """Poll this job as soon as possible (e.g. a callback said its status changed)."""
        if not job.done() and job.task_id is not None and id(job) not in self._queued:
            self._schedule(job, self._clock())

    def _schedule(self, job: Job, due: float) -> None:
        self._due[id(job)] = due
        heapq.heappush(self._heap, (due, next(self._seq), job))
        if due < self._wake_at:
            _wake(self._waiter)

    def _forget(self, job: Job) -> None:
        key = id(job)
        self._due.pop(key, None)
        self._policies.pop(key, None)
        self._not_found.pop(key, None)

    @property
    def scheduled(self) -> int:
        return len(self._due)

    # -- the loop -----------------------------------------------------------------------------
    async def run(self) -> None:
        async with anyio.create_task_group() as tg:
            self._tg = tg
            loop = asyncio.get_running_loop()
            heap = self._heap
            while True:
                now = self._clock()
                due_jobs: list[Job] = []
                while heap and heap[0][0] <= now:
                    due, _, job = heapq.heappop(heap)
                    if self._due.get(id(job)) != due or job.done():
                        continue
                    del self._due[id(job)]
                    due_jobs.append(job)
                if due_jobs:
                    self._dispatch(due_jobs, tg, now)
                # Sleep until the earliest due time or a sooner schedule(): a bare future and
                # one timer handle (this loop is hot; it runs on asyncio, like aiohttp).
                self._wake_at = heap[0][0] if heap else float("inf")
                self._waiter = waiter = loop.create_future()
                timer = loop.call_later(self._wake_at - now, _wake, waiter) if heap else None
                try:
                    await waiter
                finally:
                    self._waiter = None
                    if timer is not None:
                        timer.cancel()

    def _dispatch(self, jobs: list[Job], tg: anyio.abc.TaskGroup, now: float) -> None:
        by_endpoint: dict[str, list[Job]] = {}
        for job in jobs:
            by_endpoint.setdefault(job.endpoint, []).append(job)
        for name, group in by_endpoint.items():
            sweep = self._sweeps[name]
            if self._bulk(name):
                ready_at = sweep.last + self.policy.min_interval
                if sweep.running or ready_at > now:
                    later = max(ready_at, now + self.policy.min_interval / 4)
                    for job in group:
                        self._schedule(job, later)
                    continue
                sweep.running = True
                sweep.last = now
                tg.start_soon(self._sweep, name, group)
            else:
                for job in group:
                    if id(job) not in self._queued:
                        self._queued.add(id(job))
                        self._enqueue(job, tg)

    def _enqueue(self, job: Job, tg: anyio.abc.TaskGroup) -> None:
        """Queue a claimed job's GET for the poll workers, starting one more when no idle
        worker is left for it (at most ``workers``; a client whose first polls are all made
        inline never starts any)."""
        queue = self._queue
        queue.put_nowait(job)
        if queue.qsize() > self._idle and self._started < self._workers:
            self._started += 1
            tg.start_soon(self._work)

    async def _work(self) -> None:
        """One of ``workers`` poll workers: single-task GETs, at most one at a time each."""
        queue = self._queue
        try:
            while True:
                self._idle += 1
                try:
                    job = await queue.get()
                finally:
                    self._idle -= 1
                await self.poll_claimed(job)
        finally:  # however it ends, a later job may start a worker in its place
            self._started -= 1

    async def poll_claimed(self, job: Job) -> None:
        """One single-task GET of a job marked as being polled (queued for a worker, or
        claimed by ``track(inline=True)``); unmarks it when done.  Never raises but
        cancellation: a failed poll is retried on the job's schedule."""
        path = self._start_poll(job)
        if path is None:
            return
        try:
            data = await self._transport.call("GET", path, subject=job)
        except Exception as exc:
            self._end_poll(job, None, exc)
        except BaseException:
            self._unclaim(job)
            raise
        else:
            self._end_poll(job, data, None)

    def _start_poll(self, job: Job) -> str | None:
        """Begin the GET of a claimed job: the path to GET, or None (unclaimed) if it ended."""
        if job.done():
            self._unclaim(job)
            return None
        assert job.task_id is not None
        self.counters.polls += 1
        job.polls += 1
        return ENDPOINTS[job.endpoint].task_path(job.task_id)

    def _unclaim(self, job: Job) -> None:
        """The claimed GET will not be made (its task was cancelled): free the job's claim."""
        self._queued.discard(id(job))

    def _end_poll(self, job: Job, data: Any, error: Exception | None) -> None:
        """Apply the GET's reply (or its error) and unclaim the job; never raises."""
        self._unclaim(job)
        try:
            if error is not None:
                raise error
            task = parse_task(data)
            self._not_found.pop(id(job), None)
            self.observe(job, task)
        except KlingError as exc:
            self._poll_failed(job, exc)
        except Exception as exc:  # a bug: keep the job polled rather than stranded
            log.exception("polling %r failed unexpectedly", job)
            self._poll_failed(job, TransportError(f"unexpected {type(exc).__name__}: {exc}"))

    async def _sweep(self, name: str, due_jobs: list[Job]) -> None:
        endpoint = ENDPOINTS[name]
        state = self._sweeps[name]
        policy = self.policy
        registry = self._registry
        seen: set[int] = set()
        try:
            wanted = registry.in_flight_by_endpoint[name]
            for page in range(1, policy.bulk_max_pages + 1):
                self.counters.sweep_pages += 1
                data = await self._transport.call(
                    "GET", endpoint.path,
                    params={"pageNum": str(page), "pageSize": str(policy.bulk_page_size)},
                )
                if not isinstance(data, list):
                    raise ResponseDecodeError("list reply data is not an array")
                for item in data:
                    try:
                        task = parse_task(item)
                    except KlingError:
                        continue
                    job = registry.get(task.task_id)
                    if job is None or job.done() or job.endpoint != name:
                        continue
                    seen.add(id(job))
                    self.observe(job, task)
                if len(data) < policy.bulk_page_size or len(seen) >= wanted:
                    break
            self.counters.sweeps += 1
        except (NotFoundError, InvalidRequestError) as exc:
            state.supported = False
            log.info("listing %s is not supported (%s); polling tasks one by one", name, exc)
        except KlingError as exc:
            log.debug("sweep of %s failed (%s); polling due tasks one by one", name, exc)
        finally:
            state.running = False
        for job in due_jobs:
            if id(job) not in seen and not job.done() and id(job) not in self._queued:
                self._queued.add(id(job))
                await self.poll_claimed(job)

    # -- applying what was seen ---------------------------------------------------------------
    def observe(self, job: Job, task: Task) -> None:
        """Apply a freshly seen ``Task`` to its job: events, end, or the next poll time."""
        if job.done():
            return
        now = self._clock()
        age = _age(job, now)
        old = job.task_status
        job.task = task
        status = task.status
        active = self._events.active  # asked once: it consults the logger
        if status is not old:
            job.history.append((status, age))
            if active:
                self._events.emit(StatusChanged(now, job=job, task_id=task.task_id, old=old,
                                                new=status))
        if status.is_terminal:
            self._end(job, task, now, active)
            return
        self._registry.set_state(job, state_for(status))
        policy = self.policy_for(job)
        if policy.deadline is not None and age >= policy.deadline:
            self.fail(job, TaskTimeoutError(job.task_id, policy.deadline, status, job.history))
            return
        self._schedule_poll(job, policy, now + policy.interval(age, expected=job.expected,
                                                               rand=self._rand()))

    def _end(self, job: Job, task: Task, now: float, active: bool) -> None:
        """End the job whose ``task`` (already its ``job.task``) is terminal."""
        self._forget(job)
        self._capacity.release(job.weight, clean=True, confirmed=True)
        if task.status is TaskStatus.SUCCEED:
            self._registry.finish(job, SUCCEEDED)
            if active:
                self._events.emit(JobSucceeded(now, job=job, task=task))
        else:
            error = TaskFailedError(task, job.endpoint)
            self._registry.finish(job, FAILED, error=error)
            if active:
                self._events.emit(JobFailed(now, job=job, error=error))

    def fail(self, job: Job, error: KlingError, *, holds_slot: bool = True) -> None:
        """End a job with ``error`` (deadline passed, or its task cannot be found)."""
        if job.done():
            return
        self._forget(job)
        if holds_slot and job.task_id is not None:
            self._capacity.release(job.weight, clean=False, confirmed=True)
        self._registry.finish(job, FAILED, error=error)
        self._events.emit(JobFailed(self._clock(), job=job, error=error))

    def _poll_failed(self, job: Job, exc: KlingError) -> None:
        self.counters.poll_errors += 1
        key = id(job)
        if isinstance(exc, NotFoundError):
            misses = self._not_found.get(key, 0) + 1
            self._not_found[key] = misses
            if misses >= _NOT_FOUND_LIMIT:
                self.fail(job, exc)
                return
        now = self._clock()
        age = _age(job, now)
        policy = self.policy_for(job)
        if policy.deadline is not None and age >= policy.deadline:
            error = TaskTimeoutError(job.task_id, policy.deadline, job.task_status, job.history)
            error.__cause__ = exc
            self.fail(job, error)
            return
        log.debug("poll of %s failed (%s); retrying later", job.task_id, exc)
        self._schedule_poll(job, policy, now + policy.interval(age, expected=job.expected,
                                                               rand=self._rand()))

    def close(self, jobs: Any) -> None:
        """Wake the waiters of every unfinished job (the client is closing)."""
        for job in jobs:
            job._close()


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


def _age(job: Job, now: float) -> float:
    """Seconds since the job's task was accepted (0 before that)."""
    return now - job.accepted_at if job.accepted_at is not None else 0.0
