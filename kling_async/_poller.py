"""One poll loop per client, resolving every registered ``Job``.

A min-heap orders jobs by their next poll time (stale entries are skipped lazily, so
rescheduling is O(log N) and nothing scans all jobs).  The loop sleeps until the earliest due
time or until a newly scheduled job is due sooner, then polls the due jobs:

- one ``GET <path>/<task_id>`` per job, normally;
- when an endpoint has ``PollPolicy.bulk_threshold`` (``busy_bulk_threshold`` while work waits
  for capacity) or more tasks in flight, one sweep of the list endpoint (pages about twice
  as long as what is in flight, 50 to ``bulk_page_size``) refreshes them all, at most every
  ``min_interval``, reading pages (up to ``bulk_max_pages``) until it has seen every due
  job; due jobs the sweep did not see get single GETs, and a server that does not support
  listing (404 / 1202 / 1203) is remembered and polled per task from then on.

New-standard jobs (reference §12.1) have no per-task path: every due one is asked for in
``GET /tasks?task_ids=a,b,...`` calls of at most ``ids_per_query`` ids
(``Limits.max_ids_per_task_query``, default 20); a call with room left takes along the
new-standard jobs due soonest (within ``max_interval / 2``), polled a little early for free.
Each task in the reply is applied to its job.  A job whose id the reply lacks is "not visible
yet" (a task just created may not be listed at once) while its task is younger than
``visibility_grace`` seconds (``Limits.task_visibility_grace``): it is polled again on its
schedule.  Past that, each reply without it is a "not found" poll, and ``_NOT_FOUND_LIMIT``
of them in a row end the job with ``NotFoundError``, as legacy 404s do.  A ``/tasks`` call
that fails, or whose reply cannot be read whole, is a failed poll of each of its jobs; one
refused for its number of ids (400 / 1201 "... cannot exceed N in total") lowers the limit to
N for the calls after it.

Single GETs are made by a pool of poll workers (up to as many as the client's concurrent
requests, started as the queue needs them), fed by a queue, rather than a task per poll; a
just-accepted job whose first poll is due at once, with a request slot free, is polled by its
submission's own task instead (``follow()``).
Every observed status goes through ``observe()``: events, history, capacity release on the
end, the next poll time from the job's ``PollPolicy`` by the rules of ``_schedule`` (denser
while work waits for capacity, stretched while verified callbacks arrive: ``callback_seen``),
and the deadline.

Nothing a reply holds can stop the loop.  A single GET whose reply cannot be read (or names
another task) is a failed poll of that job only, retried on its schedule.  A sweep that fails
or answers garbage is a failed poll of the jobs it was for; after ``_SWEEP_FAILURE_LIMIT``
such sweeps in a row, that endpoint is polled task by task for ``_SWEEP_PAUSE`` times
``max_interval``, then a sweep is tried again.  A status
never goes backwards (``processing`` after ``succeed`` is ignored: the first end is final).
Callbacks (``poke()``) re-query a job at most once per its policy's ``min_interval``.  Only an
error in the poller's own code ends the loop, and then every job it tracks ends with a
``TransportError`` first, so none is left waiting.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

import anyio
import anyio.abc
import attrs

from ._capacity import AdaptiveCapacity
from ._endpoints import ENDPOINTS, endpoint_row
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
from ._http import CallTransport
from ._models.task import Task, TaskStatus
from ._policy import PollPolicy
from ._queries import TASKS_PATH, says_not_found
from ._registry import Job, JobState, TaskRegistry, state_for
from ._results import parse_task
from ._schedule import CallbackHealth, first_delay, next_delay

log = logging.getLogger("kling_async")

_NOT_FOUND_LIMIT = 3
#: The id limit in a refusal of too many ids ("... cannot exceed 20 in total").
_ID_LIMIT = re.compile(r"exceed\D{0,20}(\d{1,4})")
#: Failed sweeps of one endpoint in a row after which it is polled task by task for a while:
#: for this many times the policy's ``max_interval`` (every job is polled alone a few times).
_SWEEP_FAILURE_LIMIT = 3
_SWEEP_PAUSE = 5
#: The shortest list page a sweep asks for (see ``_sweep_pages``).
_MIN_PAGE = 50
#: How far each status is along a task's way; a status never goes back to a lower one.
_PROGRESS = {TaskStatus.SUBMITTED: 0, TaskStatus.PROCESSING: 1, TaskStatus.SUCCEED: 2,
             TaskStatus.FAILED: 2}


@attrs.define
class PollCounters:
    polls: int = 0
    sweeps: int = 0
    sweep_pages: int = 0
    poll_errors: int = 0
    task_queries: int = 0  # GET /tasks?task_ids= calls (new standard)


@attrs.define
class _Sweep:
    last: float = float("-inf")
    running: bool = False
    supported: bool = True
    failures: int = 0  # failed sweeps in a row
    paused_until: float = float("-inf")  # after too many failures: task by task until then


@attrs.define(eq=False)
class _Tracked:
    """The poller's bookkeeping for one job it polls."""

    policy: PollPolicy
    due: float | None = None  # its entry in the heap; None while it is not scheduled
    claimed: bool = False  # its single GET is queued or under way
    misses: int = 0  # "not found" answers in a row
    last: float = float("-inf")  # when it was last polled or seen
    poked: bool = False  # a callback came while its GET was under way


class Poller:
    """The shared poller: ``track()`` (or ``follow()``) a job once it is accepted; ``run()``
    runs in the client's background task, with its sweeps and poll workers in a task group of
    its own."""

    def __init__(
        self,
        *,
        transport: CallTransport,
        registry: TaskRegistry,
        capacity: AdaptiveCapacity,
        events: EventHub,
        policy: PollPolicy,
        clock: Callable[[], float],
        rand: Callable[[], float],
        workers: int = 32,
        ids_per_query: int = 20,
        visibility_grace: float = 30.0,
    ):
        self._workers = max(1, workers)
        self._ids_per_query = max(1, ids_per_query)
        self._visibility_grace = visibility_grace
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
        self._tracked: dict[Job, _Tracked] = {}
        self._seq = itertools.count()
        self._waiter: asyncio.Future[None] | None = None
        self._wake_at = float("inf")
        self._sweeps = {name: _Sweep() for name in ENDPOINTS}
        self.counters = PollCounters()
        self.callbacks = CallbackHealth()  # when verified callbacks last came, per endpoint
        self._tg: anyio.abc.TaskGroup | None = None

    # -- scheduling ---------------------------------------------------------------------------
    def policy_for(self, job: Job) -> PollPolicy:
        state = self._tracked.get(job)
        return self.policy if state is None else state.policy

    def track(self, job: Job, policy: PollPolicy | None = None, *,
              first: float | None = None) -> None:
        """Start polling an accepted job: its first poll ``first`` seconds from now (default:
        the policy's first delay), through the poll loop."""
        state = self._start_tracking(job, policy)
        delay = self._first_delay(job, state.policy) if first is None else first
        self._schedule_poll(job, state, self._clock() + delay)

    async def follow(self, job: Job, policy: PollPolicy | None = None) -> None:
        """Start polling a job whose create was just accepted, from its submission's task.

        When its first poll is due at once, the job is not bulk-polled and a request slot is
        free right now, that poll is made here, in the calling task (saving the hand-off to
        the loop and a worker); otherwise it is scheduled as by ``track()``, so under a
        backlog waiting polls never hold one task each.  Never raises but cancellation.
        """
        state = self._start_tracking(job, policy)
        delay = self._first_delay(job, state.policy)
        if (delay <= 0 and self._transport.idle_slot and not _by_ids(job.endpoint)
                and not self._bulk(job.endpoint)):
            state.claimed = True
            await self._poll_claimed(job)
        else:
            self._schedule_poll(job, state, self._clock() + delay)

    def _start_tracking(self, job: Job, policy: PollPolicy | None) -> _Tracked:
        pol = policy or self.policy
        state = self._tracked.get(job)
        if state is None:
            state = self._tracked[job] = _Tracked(pol)
        else:
            state.policy = pol
        return state

    def _bulk(self, endpoint: str) -> bool:
        """Whether due jobs of ``endpoint`` are refreshed by list sweeps right now."""
        threshold = self.policy.bulk_threshold_for(self._capacity.waiting > 0)
        if threshold <= 0:
            return False
        sweep = self._sweeps.get(endpoint)
        if sweep is None:  # an undocumented new-standard model's row: not in ENDPOINTS
            sweep = self._sweeps[endpoint] = _Sweep()
        return (sweep.supported
                and self._registry.in_flight_by_endpoint[endpoint] >= threshold
                and self._clock() >= sweep.paused_until)

    def _schedule_poll(self, job: Job, state: _Tracked, due: float) -> None:
        """Schedule the next poll, never later than the deadline (where a last poll decides)."""
        deadline = state.policy.deadline
        if deadline is not None and job.accepted_at is not None:
            due = min(due, job.accepted_at + deadline)
        self._schedule(job, state, due)

    def callback_seen(self, job: Job) -> None:
        """A verified callback about ``job`` arrived: callbacks of its endpoint are flowing,
        so its jobs are polled on the safety-net schedule (``kling_async._schedule``)."""
        self.callbacks.seen(job.endpoint, self._clock())

    def _healthy(self, job: Job, policy: PollPolicy, now: float, age: float) -> bool:
        return self.callbacks.healthy(job.endpoint, now=now, age=age, expected=job.expected,
                                      silence=policy.callback_silence)

    def _first_delay(self, job: Job, policy: PollPolicy) -> float:
        return first_delay(policy, expected=job.expected,
                           callbacks=self._healthy(job, policy, self._clock(), 0.0))

    def poke(self, job: Job) -> None:
        """Poll this job soon (a callback said its status changed): as soon as possible, but
        never sooner than its policy's ``min_interval`` after its last poll, and never more
        than one poll at a time; a poke during a poll is kept for after it."""
        state = self._tracked.get(job)
        if state is None or job.done() or job.task_id is None:
            return
        if state.claimed:
            state.poked = True
            return
        due = max(self._clock(), state.last + state.policy.min_interval)
        if state.due is None or due < state.due:
            self._schedule(job, state, due)

    def _schedule(self, job: Job, state: _Tracked, due: float) -> None:
        state.due = due
        heapq.heappush(self._heap, (due, next(self._seq), job))
        if due < self._wake_at:
            _wake(self._waiter)

    @property
    def scheduled(self) -> int:
        """How many jobs have a poll scheduled (O(jobs tracked))."""
        return sum(1 for state in self._tracked.values() if state.due is not None)

    # -- the loop -----------------------------------------------------------------------------
    async def run(self) -> None:
        """Poll until cancelled.  An error in the poller's own code ends every job it tracks
        with a ``TransportError`` (so no waiter hangs) before it propagates."""
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                await self._loop(tg)
        except Exception as exc:
            log.exception("the poller stopped on an internal error")
            self._abandon(exc)
            raise

    def _abandon(self, cause: Exception) -> None:
        """End every tracked job: the poller can no longer resolve them."""
        leaf: BaseException = cause
        while getattr(leaf, "exceptions", None):  # an exception group: name its first error
            leaf = leaf.exceptions[0]  # type: ignore[attr-defined]
        for job in list(self._tracked):
            error = TransportError(
                f"polling stopped on an internal error ({type(leaf).__name__}); the task "
                f"may still be running: re-attach to task {job.task_id!r} with a new client"
            )
            error.__cause__ = cause
            try:
                self.fail(job, error)
            except Exception:  # keep ending the others
                log.exception("could not end %r", job)

    async def _loop(self, tg: anyio.abc.TaskGroup) -> None:
        loop = asyncio.get_running_loop()
        heap = self._heap
        while True:
            now = self._clock()
            due_jobs: list[Job] = []
            while heap and heap[0][0] <= now:
                due, _, job = heapq.heappop(heap)
                state = self._tracked.get(job)
                if state is None or state.due != due or job.done():
                    continue  # a stale entry: the job was rescheduled or has ended
                state.due = None
                due_jobs.append(job)
            if due_jobs:
                self._dispatch(due_jobs, tg, now)
            # Sleep until the earliest due time or a sooner schedule().
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
        by_ids: list[Job] = []
        for job in jobs:
            if _by_ids(job.endpoint):
                by_ids.append(job)
            else:
                by_endpoint.setdefault(job.endpoint, []).append(job)
        if by_ids:
            self._query_batches(by_ids, tg, now)
        for name, group in by_endpoint.items():
            sweep = self._sweeps[name]
            if self._bulk(name):
                ready_at = sweep.last + self.policy.min_interval
                if sweep.running or ready_at > now:
                    later = max(ready_at, now + self.policy.min_interval / 4)
                    for job in group:
                        self._schedule(job, self._tracked[job], later)
                    continue
                sweep.running = True
                sweep.last = now
                tg.start_soon(self._sweep, name, group)
            else:
                for job in group:
                    self._claim(job, tg)

    def _claim(self, job: Job, tg: anyio.abc.TaskGroup) -> None:
        """Queue the job's single GET, unless one is queued or under way already."""
        state = self._tracked.get(job)
        if state is not None and not state.claimed and not job.done():
            state.claimed = True
            self._enqueue(job, tg)

    def _enqueue(self, job: Job, tg: anyio.abc.TaskGroup) -> None:
        """Queue a claimed job's GET for the poll workers, starting one more when no idle
        worker is left for it (at most ``workers``; a client whose first polls are all made
        by ``follow()`` never starts any)."""
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
                await self._poll_claimed(job)
        finally:  # however it ends, a later job may start a worker in its place
            self._started -= 1

    async def _poll_claimed(self, job: Job) -> None:
        """One single-task GET of a job marked as being polled (queued for a worker, or
        claimed by ``follow()``); unmarks it when done.  Never raises but
        cancellation: a failed poll (whatever the reply held) is retried on the job's
        schedule."""
        state = self._tracked.get(job)
        if state is None or job.status.is_terminal:  # job.done(), one call fewer (hot)
            if state is not None:
                state.claimed = False
            return
        try:
            path = self._start_poll(job, state)
            data = await self._transport.call("GET", path, subject=job)
        except Exception as exc:
            self._end_poll(job, state, None, exc)
        except BaseException:
            state.claimed = False
            raise
        else:
            self._end_poll(job, state, data, None)

    def _start_poll(self, job: Job, state: _Tracked) -> str:
        """Count the GET of a claimed job about to be made; the path to GET."""
        assert job.task_id is not None
        self.counters.polls += 1
        job.polls += 1
        state.last = self._clock()
        return endpoint_row(job.endpoint).task_path(job.task_id)

    def _end_poll(self, job: Job, state: _Tracked, data: Any, error: Exception | None) -> None:
        """Apply the GET's reply (or its error) and unclaim the job.  Whatever the reply
        holds, this raises only on an error in the poller's own code."""
        state.claimed = False
        if job.status.is_terminal:  # job.done(), one call fewer (hot)
            return
        try:
            if error is not None:
                raise error
            task = parse_task(data)
            if task.task_id != job.task_id:
                raise ResponseDecodeError(
                    f"the reply for task {job.task_id} is about another task ({task.task_id})")
        except Exception as exc:
            self._poll_failed(job, _as_poll_error(exc))
        else:
            state.misses = 0
            self.observe(job, task)
        self._after_poll(job, state)

    def _after_poll(self, job: Job, state: _Tracked) -> None:
        """A callback came during the poll: re-query once more, within the callback limit."""
        if state.poked:
            state.poked = False
            self.poke(job)

    # -- the new standard: GET /tasks?task_ids=a,b,... ---------------------------------------
    def _query_batches(self, jobs: list[Job], tg: anyio.abc.TaskGroup, now: float) -> None:
        """Claim the due new-standard ``jobs`` (those not claimed already), fill the last call
        with jobs due soonest, and start one ``/tasks`` call per ``ids_per_query`` of them."""
        batch: list[Job] = []
        for job in jobs:
            state = self._tracked.get(job)
            if state is not None and not state.claimed and not job.done():
                state.claimed = True
                batch.append(job)
        size = self._ids_per_query
        if batch and len(batch) % size:
            batch.extend(self._soon_due(size - len(batch) % size, now))
        for start in range(0, len(batch), size):
            tg.start_soon(self._query_tasks, batch[start:start + size])

    def _soon_due(self, room: int, now: float) -> list[Job]:
        """Up to ``room`` new-standard jobs due within ``max_interval / 2`` from ``now``,
        soonest first, taken off the heap and claimed (a free ride in a call that has room).
        Legacy jobs met on the way are put back as they were; at most ``4 * ids_per_query``
        heap entries are looked at."""
        heap = self._heap
        horizon = now + self.policy.max_interval / 2
        taken: list[Job] = []
        skipped: list[tuple[float, int, Job]] = []
        for _ in range(4 * self._ids_per_query):
            if len(taken) >= room or not heap or heap[0][0] > horizon:
                break
            entry = heapq.heappop(heap)
            job = entry[2]
            state = self._tracked.get(job)
            if state is None or state.due != entry[0] or job.done():
                continue  # stale
            if not _by_ids(job.endpoint) or state.claimed:
                skipped.append(entry)
                continue
            state.due = None
            state.claimed = True
            taken.append(job)
        for entry in skipped:
            heapq.heappush(heap, entry)
        return taken

    async def _query_tasks(self, jobs: list[Job]) -> None:
        """One ``GET /tasks?task_ids=...`` for ``jobs`` (claimed, distinct, at most
        ``ids_per_query``), applied to each; never raises but cancellation."""
        now = self._clock()
        live = [job for job in jobs if not job.done() and job.task_id is not None]
        if not live:
            self._unclaim(jobs)
            return
        for job in live:
            job.polls += 1
            state = self._tracked.get(job)
            if state is not None:
                state.last = now
        self.counters.task_queries += 1
        try:
            ids = ",".join(job.task_id for job in live if job.task_id is not None)
            subject = live[0] if len(live) == 1 else None
            data = await self._transport.call("GET", TASKS_PATH, params={"task_ids": ids},
                                              subject=subject)
        except Exception as exc:
            self._learn_id_limit(exc)
            self._end_query(jobs, None, _as_poll_error(exc))
        except BaseException:
            self._unclaim(jobs)
            raise
        else:
            self._end_query(jobs, data, None)

    def _learn_id_limit(self, exc: Exception) -> None:
        """A server refusing a call for its number of ids (HTTP 400 / 1201 "... cannot exceed
        N in total", reference §12.1) gets at most N ids per call from now on."""
        if not (isinstance(exc, InvalidRequestError) and exc.code == 1201):
            return
        found = _ID_LIMIT.search(exc.message)
        limit = int(found.group(1)) if found else 0
        if 0 < limit < self._ids_per_query:
            log.warning("the server takes at most %d ids per /tasks call (asked for up to %d): "
                        "using %d; set Limits.max_ids_per_task_query to match", limit,
                        self._ids_per_query, limit)
            self._ids_per_query = limit

    def _unclaim(self, jobs: list[Job]) -> None:
        for job in jobs:
            state = self._tracked.get(job)
            if state is not None:
                state.claimed = False

    def _end_query(self, jobs: list[Job], data: Any, error: KlingError | None) -> None:
        """Apply a ``/tasks`` reply (or its error) to ``jobs`` and unclaim them."""
        self._unclaim(jobs)
        try:
            if error is not None:
                raise error
            seen, unreadable = self._apply_by_id(jobs, data)
        except Exception as exc:
            failure = _as_poll_error(exc)
            for job in jobs:
                self._poll_failed(job, failure)
        else:
            now = self._clock()
            for job in jobs:
                if job in seen or job.done():
                    continue
                if unreadable:  # it may be among the items that could not be read
                    self._poll_failed(job, ResponseDecodeError(
                        f"{unreadable} unreadable items in a /tasks reply"))
                else:
                    self._absent(job, now)
        for job in jobs:
            state = self._tracked.get(job)
            if state is not None:
                self._after_poll(job, state)

    def _apply_by_id(self, jobs: list[Job], data: Any) -> tuple[set[Job], int]:
        """Observe each task of a ``/tasks`` reply that one of ``jobs`` asked for (others, and
        repeats, are skipped); returns the jobs seen and how many items could not be read.
        Only the first ``4 * ids_per_query`` items are read."""
        if not isinstance(data, list):
            raise ResponseDecodeError("/tasks reply data is not an array")
        by_id = {job.task_id: job for job in jobs}
        seen: set[Job] = set()
        unreadable = 0
        for item in data[: 4 * self._ids_per_query]:
            try:
                task = parse_task(item)
            except ResponseDecodeError:
                unreadable += 1
                continue
            job = by_id.get(task.task_id)
            if job is None or job in seen or job.done():
                continue
            seen.add(job)
            state = self._tracked.get(job)
            if state is not None:
                state.misses = 0
            self.observe(job, task)
        return seen, unreadable

    def _absent(self, job: Job, now: float) -> None:
        """A ``/tasks`` reply lacked ``job``'s task: no news while the task is younger than
        ``visibility_grace``, else a "not found" poll."""
        age = _age(job, now)
        if age < self._visibility_grace:
            self._next_poll(job, now, age)
            return
        self._poll_failed(job, NotFoundError(
            f"task {job.task_id} is not in the /tasks reply {age:.0f} s after its create "
            f"(Limits.task_visibility_grace is {self._visibility_grace:g} s)",
            http_status=None, code=None))

    async def _sweep(self, name: str, due_jobs: list[Job]) -> None:
        """Refresh the due jobs of endpoint ``name`` with list pages; never raises but
        cancellation.  Due jobs the pages did not show get single GETs; if the sweep failed,
        they count a failed poll each instead (retried on their schedule)."""
        state = self._sweeps[name]
        seen: set[Job] = set()
        failure: KlingError | None = None
        try:
            unreadable = await self._sweep_pages(name, seen, due_jobs)
        except (NotFoundError, InvalidRequestError) as exc:
            state.supported = False
            log.info("listing %s is not supported (%s); polling tasks one by one", name, exc)
        except Exception as exc:
            failure = _as_poll_error(exc)
        else:
            self.counters.sweeps += 1
            if unreadable:
                failure = ResponseDecodeError(f"{unreadable} unreadable items in a list reply")
        finally:
            state.running = False
        self._count_sweep(name, state, failure)
        if failure is not None and not seen:
            for job in due_jobs:
                self._poll_failed(job, failure)
            return
        for job in due_jobs:
            if job not in seen and not job.done():
                self._single_now(job)

    def _single_now(self, job: Job) -> None:
        """Queue the job's single GET now, through the poll workers."""
        if self._tg is not None:
            self._claim(job, self._tg)

    def _count_sweep(self, name: str, state: _Sweep, failure: KlingError | None) -> None:
        if failure is None:
            state.failures = 0
            return
        state.failures += 1
        log.debug("sweep of %s failed (%s)", name, failure)
        if state.failures >= _SWEEP_FAILURE_LIMIT:
            pause = _SWEEP_PAUSE * max(self.policy.max_interval, self.policy.min_interval)
            state.paused_until = self._clock() + pause
            state.failures = 0
            log.info("listing %s failed %d times in a row; polling tasks one by one for %gs",
                     name, _SWEEP_FAILURE_LIMIT, pause)

    async def _sweep_pages(self, name: str, seen: set[Job], due_jobs: list[Job]) -> int:
        """GET list pages of ``name`` and apply what they show (each tracked job of this
        endpoint at most once, into ``seen``); returns how many items could not be read.

        Pages are read until one is short, or until every due job has been seen and as many
        jobs as were in flight at the start.  Both are needed: the list is newest first, so
        the tasks created while a page was on its way fill the first pages, and a count of
        jobs seen can be reached by those new jobs while the due ones (older) are still on
        a later page (each would then cost a single GET)."""
        endpoint = endpoint_row(name)
        policy = self.policy
        wanted = self._registry.in_flight_by_endpoint[name]
        # Pages about as long as what is in flight (the newest tasks come first), up to
        # bulk_page_size: dense sweeps of a few tasks then read short replies.
        size = min(policy.bulk_page_size, max(_MIN_PAGE, 2 * wanted))
        unreadable = 0
        for page in range(1, policy.bulk_max_pages + 1):
            self.counters.sweep_pages += 1
            data = await self._transport.call(
                "GET", endpoint.path,
                params={"pageNum": str(page), "pageSize": str(size)},
            )
            if not isinstance(data, list):
                raise ResponseDecodeError("list reply data is not an array")
            unreadable += self._apply_items(name, data[:size], seen)
            if len(data) < size or (
                    len(seen) >= wanted and _all_seen(due_jobs, seen)):
                break
        return unreadable

    def _apply_items(self, name: str, items: Iterable[Any], seen: set[Job]) -> int:
        """Observe the tasks of one list page; returns how many items could not be read.
        Items of untracked tasks, of other endpoints, or repeated, are skipped."""
        unreadable = 0
        for item in items:
            try:
                task = parse_task(item)
            except ResponseDecodeError:
                unreadable += 1
                continue
            job = self._registry.get(task.task_id)
            if job is None or job.done() or job.endpoint != name or job in seen:
                continue
            seen.add(job)
            self.observe(job, task)
        return unreadable

    # -- applying what was seen ---------------------------------------------------------------
    def observe(self, job: Job, task: Task, *, polled: bool = True) -> None:
        """Apply a freshly seen ``Task`` to its job: events, end, or the next poll time.  A
        status behind the one already seen (``submitted`` after ``processing``) is stale:
        only the next poll is scheduled.  ``polled=False`` (a callback's status before the
        end): information only, the job's poll schedule stays as it is."""
        if job.status.is_terminal:  # job.done(), one call fewer (hot)
            return
        now = self._clock()
        age = _age(job, now)
        old = job.task_status
        status = task.status
        state = self._tracked.get(job) if polled else None
        if state is not None:
            state.last = now
        if old is not None and _PROGRESS[status] < _PROGRESS[old]:
            if polled:
                self._next_poll(job, now, age)
            return
        job.task = task
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
        if polled:
            self._next_poll(job, now, age)

    def _next_poll(self, job: Job, now: float, age: float) -> None:
        """Schedule the job's next poll by its policy, or end it if its deadline passed."""
        policy = self.policy_for(job)
        if policy.deadline is not None and age >= policy.deadline:
            self.fail(job, TaskTimeoutError(job.task_id, policy.deadline, job.task_status,
                                            job.history))
            return
        state = self._tracked.get(job)
        if state is None:  # observed without being tracked: nothing to schedule
            return
        waiting = self._capacity.waiting_for(job.bucket) > 0
        delay = next_delay(policy, age=age, expected=job.expected, rand=self._rand(),
                           waiting=waiting, bulk=waiting and self._bulk(job.endpoint),
                           callbacks=self._healthy(job, policy, now, age))
        self._schedule_poll(job, state, now + delay)

    def _end(self, job: Job, task: Task, now: float, active: bool) -> None:
        """End the job whose ``task`` (already its ``job.task``) is terminal."""
        self._tracked.pop(job, None)
        self._capacity.release(job.weight, bucket=job.bucket, clean=True, confirmed=True)
        if task.status is TaskStatus.SUCCEED:
            self._registry.finish(job, JobState.SUCCEEDED)
            if active:
                self._events.emit(JobSucceeded(now, job=job, task=task))
        else:
            error = TaskFailedError(task, job.endpoint)
            self._registry.finish(job, JobState.FAILED, error=error)
            if active:
                self._events.emit(JobFailed(now, job=job, error=error))

    def fail(self, job: Job, error: KlingError, *, holds_slot: bool = True) -> None:
        """End a job with ``error`` (deadline passed, or its task cannot be found)."""
        if job.done():
            return
        self._tracked.pop(job, None)
        if holds_slot and job.task_id is not None:
            self._capacity.release(job.weight, bucket=job.bucket, clean=False, confirmed=True)
        self._registry.finish(job, JobState.FAILED, error=error)
        self._events.emit(JobFailed(self._clock(), job=job, error=error))

    def _poll_failed(self, job: Job, exc: KlingError) -> None:
        """A poll of ``job`` failed: retry on its schedule, or end it (deadline passed, or its
        task not found ``_NOT_FOUND_LIMIT`` times in a row)."""
        state = self._tracked.get(job)
        if state is None or job.done():
            return
        self.counters.poll_errors += 1
        if isinstance(exc, NotFoundError):
            state.misses += 1
            if state.misses >= _NOT_FOUND_LIMIT:
                self.fail(job, exc)
                return
        now = self._clock()
        age = _age(job, now)
        policy = state.policy
        if policy.deadline is not None and age >= policy.deadline:
            error = TaskTimeoutError(job.task_id, policy.deadline, job.task_status, job.history)
            error.__cause__ = exc
            self.fail(job, error)
            return
        log.debug("poll of %s failed (%s); retrying later", job.task_id, exc)
        self._schedule_poll(job, state, now + policy.interval(age, expected=job.expected,
                                                              rand=self._rand()))

    def close(self, jobs: Any) -> None:
        """Wake the waiters of every unfinished job (the client is closing)."""
        for job in jobs:
            job._close()


def _as_poll_error(exc: Exception) -> KlingError:
    """A poll's failure as a ``KlingError``: itself (a 400 / 1201 "Task not found by
    id/external id" as the ``NotFoundError`` it means), or a ``ResponseDecodeError`` naming the
    unexpected exception's type (a reply nested too deep, a number out of range...)."""
    if isinstance(exc, InvalidRequestError) and not isinstance(exc, NotFoundError) and (
            says_not_found(exc)):
        found = NotFoundError(exc.message, http_status=exc.http_status, code=exc.code,
                              request_id=exc.request_id)
        found.__cause__ = exc
        return found
    if isinstance(exc, KlingError):
        return exc
    log.info("a poll reply could not be read: %s", type(exc).__name__)
    error = ResponseDecodeError(f"unreadable reply ({type(exc).__name__}: {_short(exc)})")
    error.__cause__ = exc
    return error


def _short(exc: Exception) -> str:
    """The first 200 characters of ``str(exc)``, never raising."""
    try:
        text = str(exc)
    except Exception:
        return "?"
    return text if len(text) <= 200 else text[:197] + "..."


def _all_seen(jobs: list[Job], seen: set[Job]) -> bool:
    """Whether a sweep has seen every one of ``jobs`` that has not ended meanwhile."""
    return all(job in seen or job.done() for job in jobs)


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


def _age(job: Job, now: float) -> float:
    """Seconds since the job's task was accepted (0 before that)."""
    return now - job.accepted_at if job.accepted_at is not None else 0.0


def _by_ids(endpoint: str) -> bool:
    """Whether jobs of ``endpoint`` are polled through ``GET /tasks?task_ids=`` (the new
    standard, undocumented models of its families included)."""
    return endpoint_row(endpoint).standard == "new"
