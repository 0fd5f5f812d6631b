"""The shared Poller: exact schedules on an injected clock, lazy heap, sweeps, deadlines.

Most tests drive a real ``Poller`` with a fake transport and a clock that moves only when the
test moves it, so each poll happens at an exact, dyadic (float-exact) instant.  The loop still
sleeps in real time between checks; the tests wait for counts, never for durations.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.lowlevel
import attrs
import pytest

from kling_async import (
    Backoff,
    ImageGenerationRequest,
    InvalidRequestError,
    Job,
    JobState,
    KlingClient,
    KlingWireWarning,
    Limits,
    NewTextToVideoRequest,
    NotFoundError,
    PollPolicy,
    ResponseDecodeError,
    RetryPolicy,
    ServerError,
    Task,
    TaskStatus,
    TaskTimeoutError,
    TextToVideoRequest,
    TransportError,
)
from kling_async._capacity import AdaptiveCapacity
from kling_async._events import EventHub
from kling_async._poller import Poller
from kling_async._registry import TaskRegistry
from kling_async.testing import KlingSimulator
from tests._scripted import Reply, ScriptedServer, ok
from tests._simhelpers import FakeClock

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(10)]

VIDEO = "videos/text2video"
TICK = 1 / 64  # dyadic, so sums of ticks are exact floats
EPS = 1 / 1024
#: A schedule with no jitter and a constant interval of two ticks.
STEADY = PollPolicy(
    first_poll=TICK, min_interval=2 * TICK, max_interval=2 * TICK, jitter=0.0, deadline=None,
    bulk_threshold=0,
)


Answer = str | Exception


class FakeKling:
    """Stands in for the Transport: each observation of a task takes the next scripted answer
    (the last one repeats); answers are statuses, or exceptions to raise.  Records every call."""

    def __init__(self, clock: FakeClock, scripts: dict[str, list[Answer]],
                 list_error: Exception | None = None) -> None:
        self.clock = clock
        self.scripts = scripts
        self.list_error = list_error
        self.singles: list[tuple[float, str]] = []
        self.pages: list[tuple[float, int, int]] = []
        #: task_id -> an event its single GETs wait for (after being recorded) before answering.
        self.gates: dict[str, anyio.Event] = {}
        #: the tasks (poll workers) that made single GETs.
        self.workers: set[asyncio.Task[Any]] = set()
        #: an event list pages wait for (after being recorded) before reading the scripts.
        self.list_gate: anyio.Event | None = None
        self._called = anyio.Event()

    async def next_call(self) -> None:
        """Wait until the next call is recorded."""
        await self._called.wait()

    def _record(self) -> None:
        self._called.set()
        self._called = anyio.Event()

    def _next(self, task_id: str) -> Answer:
        script = self.scripts[task_id]
        return script.pop(0) if len(script) > 1 else script[0]

    #: Whether a request could start at once (``CallTransport.idle_slot``).
    idle_slot = True

    async def call(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
                   **_: Any) -> Any:
        assert method == "GET"
        await anyio.lowlevel.checkpoint()
        if params is not None:
            page, size = int(params["pageNum"]), int(params["pageSize"])
            self.pages.append((self.clock(), page, size))
            self._record()
            if self.list_gate is not None:
                await self.list_gate.wait()
            if self.list_error is not None:
                raise self.list_error
            ids = sorted(self.scripts)[(page - 1) * size: page * size]
            return [_wire(task_id, self._next(task_id)) for task_id in ids]
        task_id = path.rsplit("/", 1)[1]
        self.singles.append((self.clock(), task_id))
        worker = asyncio.current_task()
        assert worker is not None
        self.workers.add(worker)
        self._record()
        gate = self.gates.get(task_id)
        if gate is not None:
            await gate.wait()
        answer = self._next(task_id)
        if isinstance(answer, Exception):
            raise answer
        return _wire(task_id, answer)


def _wire(task_id: str, status: Answer) -> dict[str, Any]:
    assert isinstance(status, str)
    return {"task_id": task_id, "task_status": status, "task_status_msg": ""}


@attrs.define
class Rig:
    poller: Poller
    registry: TaskRegistry
    capacity: AdaptiveCapacity
    clock: FakeClock
    kling: FakeKling

    def accept(self, task_id: str, *, expected: float = 2 * TICK,
               policy: PollPolicy | None = None) -> Job:
        """Register a job as if the server had just accepted ``task_id``, and track it."""
        job = Job(VIDEO, None, None, expected=expected)
        self.registry.add(job)
        self.capacity.hold(1)
        self.registry.accept(job, Task(task_id=task_id, status=TaskStatus.SUBMITTED),
                             self.clock())
        self.poller.track(job, policy)
        return job

    async def at(self, now: float, *, polls: int) -> None:
        """Move the clock to ``now`` (from its origin) and wait until the transport has seen
        ``polls`` calls."""
        self.clock.now = self.clock.origin + now
        with anyio.fail_after(5):
            while self.calls < polls:
                await self.kling.next_call()

    async def idle_at(self, now: float) -> None:
        """Move the clock to ``now`` (from its origin) and let the loop re-check several times."""
        self.clock.now = self.clock.origin + now
        await anyio.sleep(0.1)

    @property
    def calls(self) -> int:
        return len(self.kling.singles) + len(self.kling.pages)


@asynccontextmanager
async def rig(policy: PollPolicy, scripts: dict[str, list[Answer]], *,
              rand: float = 0.5, list_error: Exception | None = None,
              origin: float = 0.0, workers: int = 32) -> AsyncIterator[Rig]:
    clock = FakeClock(origin)
    kling = FakeKling(clock, scripts, list_error)
    registry = TaskRegistry()
    capacity = AdaptiveCapacity(100)
    poller = Poller(transport=kling, registry=registry, capacity=capacity,
                    events=EventHub(None), policy=policy, clock=clock, rand=lambda: rand,
                    workers=workers)
    async with anyio.create_task_group() as tg:
        tg.start_soon(poller.run)
        yield Rig(poller, registry, capacity, clock, kling)
        tg.cancel_scope.cancel()


# -- the schedule ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "rand", "times"),
    [
        pytest.param(STEADY, 0.5, [1, 3, 5], id="explicit-first-poll"),
        pytest.param(attrs.evolve(STEADY, first_poll=None, first_fraction=0.5), 0.5, [1, 3, 5],
                     id="first-as-fraction-of-expected"),
        pytest.param(attrs.evolve(STEADY, jitter=0.5), 0.0, [1, 2, 3], id="jitter-drawn-low"),
        pytest.param(attrs.evolve(STEADY, jitter=0.5), 1.0, [1, 4, 7], id="jitter-drawn-high"),
    ],
)
async def test_each_poll_happens_at_its_scheduled_instant_and_never_earlier(
    policy: PollPolicy, rand: float, times: list[int]
) -> None:
    """Polls happen exactly at first_delay, then at each PollPolicy.interval, in clock ticks."""
    async with rig(policy, {"t1": ["processing", "processing", "succeed"]}, rand=rand) as r:
        job = r.accept("t1")
        for n, tick in enumerate(times):
            await r.idle_at(tick * TICK - EPS)
            assert r.calls == n, f"poll {n + 1} came before tick {tick}"
            await r.at(tick * TICK, polls=n + 1)
        assert (await job.result()).status is TaskStatus.SUCCEED
    assert [t for t, _ in r.kling.singles] == [tick * TICK for tick in times]
    assert job.polls == r.poller.counters.polls == 3
    assert job.history == [
        (TaskStatus.SUBMITTED, 0.0),
        (TaskStatus.PROCESSING, times[0] * TICK),
        (TaskStatus.SUCCEED, times[2] * TICK),
    ]
    assert r.capacity.in_use == 0
    assert r.poller.scheduled == 0


async def test_a_per_job_policy_overrides_the_pollers_own() -> None:
    """track(job, policy) schedules that job by its own policy, others by the poller's."""
    own = attrs.evolve(STEADY, first_poll=3 * TICK)
    async with rig(STEADY, {"a": ["succeed"], "b": ["succeed"]}) as r:
        default_job = r.accept("a")
        own_job = r.accept("b", policy=own)
        await r.at(TICK, polls=1)
        await r.idle_at(3 * TICK - EPS)
        assert r.calls == 1
        await r.at(3 * TICK, polls=2)
        await default_job.result()
        await own_job.result()
    assert r.kling.singles == [(TICK, "a"), (3 * TICK, "b")]


# -- the lazy heap -----------------------------------------------------------------------------


async def test_stale_heap_entries_never_cause_duplicate_polls() -> None:
    """Ten pokes and a re-track of one job give one poll now, then the normal schedule."""
    async with rig(STEADY, {"t1": ["processing"]}) as r:
        job = r.accept("t1")  # due at one tick
        for _ in range(10):
            r.poller.poke(job)  # due now (the clock is frozen at 0)
        await r.at(0.0, polls=1)
        await r.idle_at(TICK)  # the track() entry for this tick is stale now
        assert r.calls == 1
        await r.idle_at(2 * TICK - EPS)
        assert r.calls == 1
        await r.at(2 * TICK, polls=2)
        await r.idle_at(4 * TICK - EPS)
        assert r.calls == 2
        await r.at(4 * TICK, polls=3)
        assert r.poller.scheduled == 1
        assert not job.done()
    assert r.kling.singles == [(0.0, "t1"), (2 * TICK, "t1"), (4 * TICK, "t1")]


async def test_poll_workers_start_on_demand_up_to_the_limit() -> None:
    """No poll worker runs before a GET is queued; a worker starts only for a queued job no
    idle worker can take, never more than ``workers``, and every job is polled once."""
    first, second, third = ["a1", "a2", "a3"], ["b1", "b2"], [f"c{i}" for i in range(6)]
    names = first + second + third
    outside = len(asyncio.all_tasks())
    async with rig(STEADY, {n: ["succeed"] for n in names}, workers=4) as r:

        def started() -> int:
            """Poll workers running: every task but the test's own and the poller's loop."""
            return len(asyncio.all_tasks()) - outside - 1

        for name in names:
            r.kling.gates[name] = anyio.Event()  # every GET blocks until released
        await anyio.wait_all_tasks_blocked()
        assert started() == 0
        batch = [r.accept(name) for name in first]
        await r.at(TICK, polls=3)  # one worker per queued job: three, below the limit
        assert started() == len(r.kling.workers) == 3
        for name in first:
            r.kling.gates[name].set()
        for job in batch:
            await job.result()
        await anyio.wait_all_tasks_blocked()  # the three workers are idle again
        batch = [r.accept(name) for name in second]
        await r.at(2 * TICK, polls=5)
        assert started() == len(r.kling.workers) == 3  # idle workers took them
        for name in second:
            r.kling.gates[name].set()
        for job in batch:
            await job.result()
        await anyio.wait_all_tasks_blocked()
        batch = [r.accept(name) for name in third]
        await r.at(3 * TICK, polls=9)  # six queued, three idle: one more, up to the limit
        await anyio.wait_all_tasks_blocked()
        assert started() == len(r.kling.workers) == 4
        assert r.calls == 9  # four GETs at once, never more: two jobs wait in the queue
        for name in third:
            r.kling.gates[name].set()
        for job in batch:
            assert (await job.result()).status is TaskStatus.SUCCEED
        assert started() == len(r.kling.workers) == 4
    assert all(worker.done() for worker in r.kling.workers)  # every worker ended with the poller
    assert sorted(t for _, t in r.kling.singles) == sorted(names)


async def test_poking_a_job_already_queued_for_its_poll_does_not_queue_it_again() -> None:
    """A job waiting for a free poll worker is polled once however often it is poked."""
    async with rig(STEADY, {"busy": ["processing"], "x": ["processing"]}, workers=1) as r:
        r.kling.gates["busy"] = anyio.Event()
        r.accept("busy")
        job = r.accept("x")
        await r.at(TICK, polls=1)  # the one worker is stuck on "busy"; "x" waits in the queue
        for _ in range(5):
            r.poller.poke(job)
            await anyio.wait_all_tasks_blocked()
        r.kling.gates["busy"].set()
        await r.at(TICK, polls=2)
        await r.idle_at(TICK)  # time for any duplicate queued polls to run
    polls_of_x = [t for t, task_id in r.kling.singles if task_id == "x"]
    assert polls_of_x == [TICK], f"x was polled {len(polls_of_x)} times for one due time"


async def test_poking_a_finished_job_does_nothing() -> None:
    """poke() on a job that already ended schedules no poll."""
    async with rig(STEADY, {"t1": ["succeed"]}) as r:
        job = r.accept("t1")
        await r.at(TICK, polls=1)
        await job.result()
        r.poller.poke(job)
        await r.idle_at(TICK)
        assert r.calls == 1
        assert r.poller.scheduled == 0


# -- deadline and poll errors --------------------------------------------------------------------


@pytest.mark.parametrize("origin", [0.0, 100.0], ids=["clock-from-0", "clock-from-100"])
@pytest.mark.parametrize(
    ("answer", "stalled_in", "cause"),
    [
        pytest.param("processing", TaskStatus.PROCESSING, None, id="status-stalls"),
        pytest.param(ServerError("boom", http_status=500, code=5000), TaskStatus.SUBMITTED,
                     ServerError, id="polls-keep-failing"),
    ],
)
async def test_the_deadline_ends_the_job_at_the_first_poll_past_it(
    answer: Answer, stalled_in: TaskStatus, cause: type[Exception] | None, origin: float
) -> None:
    """Polls at 1, 3, 5, 7 ticks pass; the one at 9 ticks is past an 8-tick deadline and fails,
    whatever instant the injected clock starts from."""
    policy = attrs.evolve(STEADY, deadline=8 * TICK)
    async with rig(policy, {"t1": [answer]}, origin=origin) as r:
        job = r.accept("t1")
        for n, tick in enumerate([1, 3, 5, 7]):
            await r.at(tick * TICK, polls=n + 1)
            await anyio.sleep(0.01)
            assert not job.done()
        await r.at(9 * TICK, polls=5)
        assert job.done(), f"the poll at age {9 * TICK} is past the deadline but left the job"
        with pytest.raises(TaskTimeoutError) as caught:
            await job.result()
        await r.idle_at(11 * TICK)
    error = caught.value
    assert r.calls == 5
    assert error.timeout == 8 * TICK
    assert error.stalled_in is stalled_in
    assert error.task_id == "t1"
    assert error.history == tuple(job.history)
    if cause is None:
        assert error.__cause__ is None
    else:
        assert isinstance(error.__cause__, cause)
    assert job.status is JobState.FAILED
    assert r.capacity.in_use == 0
    assert r.registry.in_flight_by_endpoint[VIDEO] == 0
    assert r.poller.scheduled == 0


@pytest.mark.parametrize(
    ("first", "polls_before"),
    [
        pytest.param(4, 1, id="next-poll-past-deadline"),
        pytest.param(10, 0, id="first-poll-past-deadline"),
    ],
)
async def test_the_deadline_is_enforced_when_it_passes_not_at_the_next_scheduled_poll(
    first: int, polls_before: int
) -> None:
    """A job is given up on once its deadline passes, even if its next poll is due later."""
    policy = attrs.evolve(STEADY, first_poll=first * TICK, min_interval=8 * TICK,
                          max_interval=8 * TICK, deadline=6 * TICK)
    async with rig(policy, {"t1": ["processing"]}) as r:
        job = r.accept("t1")
        if polls_before:
            await r.at(first * TICK, polls=polls_before)
        await r.idle_at(6 * TICK)
        given_up = job.done()
        await r.idle_at(20 * TICK)  # the late poll ends it anyway
        with pytest.raises(TaskTimeoutError):
            await job.result()
    assert given_up, f"the {6 * TICK}s deadline passed; the job still waited for its next poll"


async def test_a_task_not_found_three_times_in_a_row_fails_the_job() -> None:
    """Three consecutive NotFound answers end the job with NotFoundError; no fourth poll."""
    missing = NotFoundError("task not found", http_status=404, code=1203)
    async with rig(STEADY, {"t1": [missing]}) as r:
        job = r.accept("t1")
        for n, tick in enumerate([1, 3, 5]):
            await r.at(tick * TICK, polls=n + 1)
        with pytest.raises(NotFoundError):
            await job.result()
        await r.idle_at(7 * TICK)
    assert r.calls == 3
    assert r.capacity.in_use == 0


async def test_a_found_answer_resets_the_not_found_count() -> None:
    """NotFound, found, NotFound, NotFound: the job survives (the misses were not consecutive)."""
    missing = NotFoundError("task not found", http_status=404, code=1203)
    async with rig(STEADY, {"t1": [missing, "processing", missing, missing, "succeed"]}) as r:
        job = r.accept("t1")
        for n, tick in enumerate([1, 3, 5, 7, 9]):
            await r.at(tick * TICK, polls=n + 1)
        assert (await job.result()).status is TaskStatus.SUCCEED
    assert r.poller.counters.poll_errors == 3


# -- bulk sweeps ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("page_size", "max_pages", "pages", "singles"),
    [
        pytest.param(500, 4, 1, 0, id="one-page"),
        pytest.param(2, 4, 3, 0, id="three-pages"),
        pytest.param(2, 2, 2, 1, id="page-cap-leaves-one-single"),
    ],
)
async def test_a_sweep_refreshes_every_due_job_with_list_pages(
    page_size: int, max_pages: int, pages: int, singles: int
) -> None:
    """At bulk_threshold in flight, one sweep of list pages resolves the due jobs; the rest
    get single GETs."""
    policy = attrs.evolve(STEADY, bulk_threshold=3, bulk_page_size=page_size,
                          bulk_max_pages=max_pages)
    ids = [f"t{i}" for i in range(5)]
    async with rig(policy, {i: ["succeed"] for i in ids}) as r:
        jobs = [r.accept(i) for i in ids]
        await r.at(TICK, polls=pages + singles)
        for job in jobs:
            assert (await job.result()).status is TaskStatus.SUCCEED
    assert [(t, p) for t, p, _ in r.kling.pages] == [(TICK, n) for n in range(1, pages + 1)]
    assert len(r.kling.singles) == singles
    assert r.poller.counters.sweeps == 1
    assert r.poller.counters.sweep_pages == pages
    assert sum(job.polls for job in jobs) == singles


async def test_jobs_accepted_during_a_sweep_do_not_push_the_due_ones_off_its_pages() -> None:
    """Jobs accepted while a page is on its way fill the first page (as in a newest-first
    list); the sweep reads on until it has seen every due job, so none needs a single GET."""
    policy = attrs.evolve(STEADY, bulk_threshold=3, bulk_page_size=5, bulk_max_pages=4)
    scripts: dict[str, list[Answer]] = {f"b{i}": ["succeed"] for i in range(5)}
    scripts.update({f"a{i}": ["processing"] for i in range(5)})  # listed first
    async with rig(policy, scripts) as r:
        r.kling.list_gate = gate = anyio.Event()
        due = [r.accept(f"b{i}") for i in range(5)]
        await r.at(TICK, polls=1)  # the sweep's first page is on its way, held by the gate
        for i in range(5):
            r.accept(f"a{i}")  # first polls at 2 ticks: not due in this sweep
        gate.set()
        with anyio.fail_after(5):
            for job in due:
                assert (await job.result()).status is TaskStatus.SUCCEED
    assert [(t, p) for t, p, _ in r.kling.pages] == [(TICK, 1), (TICK, 2)]
    assert r.kling.singles == []


async def test_without_listing_the_sweep_is_tried_once_then_every_job_is_polled_alone() -> None:
    """A list call rejected as unsupported is remembered; every later round uses single GETs."""
    policy = attrs.evolve(STEADY, bulk_threshold=3)
    unsupported = InvalidRequestError("listing not supported", http_status=404, code=1202)
    ids = [f"t{i}" for i in range(5)]
    scripts: dict[str, list[Answer]] = {i: ["processing", "processing", "succeed"] for i in ids}
    async with rig(policy, scripts, list_error=unsupported) as r:
        jobs = [r.accept(i) for i in ids]
        await r.at(TICK, polls=1 + 5)
        await r.at(3 * TICK, polls=1 + 10)
        await r.at(5 * TICK, polls=1 + 15)
        for job in jobs:
            assert (await job.result()).status is TaskStatus.SUCCEED
    assert len(r.kling.pages) == 1
    assert [job.polls for job in jobs] == [3] * 5
    assert r.poller.counters.sweeps == 0


# -- against the simulator ---------------------------------------------------------------------


async def test_poke_storms_add_at_most_one_poll_per_job() -> None:
    """Ten callback pokes per job cost at most one extra GET each; polls stay on schedule."""
    scale = 50.0
    interval = 0.02
    policy = PollPolicy(first_poll=interval, min_interval=interval, max_interval=interval,
                        jitter=0.0, deadline=None, bulk_threshold=0, expected_video=4 / scale)
    async with KlingSimulator(time_scale=scale, seed=5) as sim:
        sim.configure(video_median=4)
        async with KlingClient(
            api_key=sim.api_key, base_url=sim.base_url, poll=policy, reconcile_delay=0,
            retry=RetryPolicy(backoff=Backoff(initial=0.002, maximum=0.02)),
        ) as client:
            jobs = await client.submit_many(
                TextToVideoRequest(prompt=f"video {i}") for i in range(30)
            )
            for job in jobs:
                for _ in range(10):
                    client.notify_callback({"task_id": job.task_id, "task_status": "processing"})
            for job in jobs:
                await job.result()
            stats = client.statistics()
    seen = sim.stats()
    assert seen.count("GET", "/v1/videos/text2video/{task_id}") == stats.polls
    assert stats.polls == sum(job.polls for job in jobs)
    for job in jobs:
        ended_at = job.history[-1][1]
        on_schedule = 1 + math.floor((ended_at - interval) / interval + 1e-9)
        assert job.polls <= on_schedule + 1, (job.polls, job.history)


async def test_a_bulk_polled_batch_costs_its_creates_and_a_few_list_pages() -> None:
    """A batch whose second half is accepted while the first sweep's page is on its way (the
    simulator lists newest first, so that half fills page 1) is resolved by list pages: no
    single GETs, at most 1.2 requests per job, creates included (20 creates and 2 pages; 31
    requests, 1.55 per job, when the due jobs were left to single GETs)."""
    scale = 50.0
    policy = attrs.evolve(PollPolicy(expected_image=2, bulk_threshold=2,
                                     bulk_page_size=10).scaled(scale), first_poll=0.1)
    half = 10
    async with KlingSimulator(time_scale=scale, seed=3) as sim:
        sim.configure(image_median=2,
                      faults={"delay": 1.0, "delay_scope": "get", "delay_seconds": 0.5})
        async with KlingClient(api_key=sim.api_key, base_url=sim.base_url,
                               poll=policy) as client:
            jobs = await client.submit_many(
                ImageGenerationRequest(prompt=f"first {i}") for i in range(half))
            with anyio.fail_after(5):
                # until the first sweep's page has reached the simulator (no event for it)
                while sim.stats().faults.get("delay", 0) < 1:  # noqa: ASYNC110 - bounded
                    await anyio.sleep(0.005)
            jobs += await client.submit_many(
                ImageGenerationRequest(prompt=f"second {i}") for i in range(half))
            with anyio.fail_after(8):
                for job in jobs:
                    assert (await job.result()).status is TaskStatus.SUCCEED
    stats = sim.stats()
    assert stats.count("POST") == 2 * half
    assert stats.total_requests / len(jobs) <= 1.2, dict(stats.requests)
    assert stats.count("GET", "/v1/images/generations/{task_id}") == 0


async def test_a_flood_of_callbacks_never_polls_more_often_than_min_interval() -> None:
    """Two thousand forged callbacks for one task in flight (a few hundred event-loop turns)
    cause at most one GET per PollPolicy.min_interval, not one each."""
    gap = 0.2
    policy = PollPolicy(first_poll=300.0, min_interval=gap, max_interval=300.0, jitter=0.0,
                        deadline=None, bulk_threshold=0)
    async with KlingSimulator(seed=7) as sim:
        sim.configure(video_median=600)
        async with KlingClient(api_key=sim.api_key, base_url=sim.base_url, poll=policy,
                               reconcile_delay=0) as client:
            job = await client.submit(TextToVideoRequest(prompt="a slow video"))
            began = time.monotonic()
            for n in range(2000):
                assert client.notify_callback(
                    {"task_id": job.task_id, "task_status": "succeed"}) is job
                if n % 10 == 0:
                    await anyio.sleep(0.002)
            elapsed = time.monotonic() - began
            await anyio.sleep(gap)  # let the last allowed re-query finish
            assert not job.done()  # the body's "succeed" is never believed
    gets = sim.stats().count("GET", "/v1/videos/text2video/{task_id}")
    assert 1 <= gets <= elapsed / gap + 2, (gets, elapsed)


async def test_a_callback_naming_only_its_task_triggers_a_re_query() -> None:
    """A callback body with only task_id, or only external_task_id (flat, in task_info, or in
    an envelope), finds its job and re-queries it; one naming no task is a
    ResponseDecodeError; an unknown task is None."""
    policy = PollPolicy(first_poll=300.0, min_interval=0.0, max_interval=300.0, jitter=0.0,
                        deadline=None, bulk_threshold=0)
    async with KlingSimulator(seed=8) as sim:
        sim.configure(video_median=600)
        async with KlingClient(api_key=sim.api_key, base_url=sim.base_url, poll=policy,
                               reconcile_delay=0) as client:
            job = await client.submit(TextToVideoRequest(prompt="a slow video"),
                                      external_task_id="mine-1")
            bodies: list[dict[str, Any]] = [
                {"task_id": job.task_id},
                {"external_task_id": "mine-1"},
                {"task_info": {"external_task_id": "mine-1"}},
                {"code": 0, "message": "SUCCEED", "data": {"task_id": job.task_id}},
            ]
            for n, body in enumerate(bodies, start=1):
                assert client.notify_callback(body) is job
                for _ in range(500):  # bounded: 5 s at most
                    if job.polls >= n:
                        break
                    await anyio.sleep(0.01)
                assert job.polls == n, f"callback {body} made no re-query"
            assert client.notify_callback({"task_id": "no-such-task"}) is None
            for bad in ({}, {"data": {"foo": 1}}, {"task_id": "../x"}, ["t"], None):
                with pytest.raises(ResponseDecodeError):
                    client.notify_callback(bad)
    assert sim.stats().count("GET", "/v1/videos/text2video/{task_id}") == len(bodies)


class _BrokenPolicy(PollPolicy):
    """A policy whose interval() has a bug: it raises."""

    def interval(self, age: float, *, expected: float, rand: float) -> float:
        raise ZeroDivisionError("a bug in the schedule")


async def test_an_internal_error_ends_every_tracked_job_typed_before_it_propagates() -> None:
    """When the poller's own code fails (here: the policy), it does not leave jobs waiting
    forever: every job it tracks ends with a TransportError naming the error, then the
    error propagates out of run()."""
    policy = _BrokenPolicy(first_poll=TICK, min_interval=2 * TICK, max_interval=2 * TICK,
                           jitter=0.0, deadline=None, bulk_threshold=0)
    jobs: list[Job] = []
    with pytest.raises(Exception) as caught:
        async with rig(policy, {"a": ["processing"], "b": ["processing"]}) as r:
            jobs += [r.accept("a"), r.accept("b", policy=attrs.evolve(STEADY, first_poll=8.0))]
            r.clock.now = TICK
            await anyio.sleep(5)  # cancelled when the poller fails
    assert "ZeroDivisionError" in repr(caught.value)
    for job in jobs:
        assert job.done() and isinstance(job.error, TransportError), job.error
        assert "ZeroDivisionError" in str(job.error)


async def test_a_callback_during_a_poll_re_queries_once_after_min_interval() -> None:
    """Pokes while the job's GET is under way are not lost, nor multiplied: one more poll
    follows, min_interval after the last, sooner than the regular schedule."""
    policy = attrs.evolve(STEADY, growth_ratio=4.0, max_interval=8 * TICK)  # regular: 8 ticks
    async with rig(policy, {"t1": ["processing"]}) as r:
        r.kling.gates["t1"] = gate = anyio.Event()
        r.accept("t1")
        await r.at(TICK, polls=1)  # the GET is under way, held by the gate
        job = r.registry.get("t1")
        assert job is not None
        for _ in range(20):
            r.poller.poke(job)
        gate.set()
        await anyio.wait_all_tasks_blocked()  # the reply is applied at TICK
        await r.idle_at(3 * TICK - EPS)
        assert r.calls == 1  # never sooner than min_interval after the last poll
        await r.at(3 * TICK, polls=2)
        await r.idle_at(9 * TICK - EPS)
        assert r.calls == 2  # one re-query for all twenty pokes
    assert r.kling.singles == [(TICK, "t1"), (3 * TICK, "t1")]


@pytest.mark.anyio
async def test_an_undocumented_new_standard_model_waiting_for_capacity_polls_cleanly(
        server: ScriptedServer, caplog: pytest.LogCaptureFixture) -> None:
    """Jobs of an undocumented new-standard model, with work waiting for capacity, are polled
    on their schedule: no poll of theirs is taken for an unreadable reply."""
    server.script("POST", "/text-to-video/kling-9",
                  Reply(200, json=ok({"id": "t-9", "status": "submitted"})),
                  then=Reply(200, json=ok({"id": "t-10", "status": "submitted"})))
    server.script("GET", "/tasks", Reply(200, json=ok([{"id": "t-9", "status": "processing"}])),
                  then=Reply(200, json=ok([{"id": "t-9", "status": "succeeded"},
                                           {"id": "t-10", "status": "succeeded"}])))
    policy = PollPolicy(first_poll=0.05, min_interval=0.05, max_interval=0.1, jitter=0)
    caplog.set_level(logging.DEBUG, logger="kling_async")
    with anyio.fail_after(30), pytest.warns(KlingWireWarning, match="kling-9"):
        async with KlingClient(api_key="k-9", base_url=server.url, poll=policy,
                               limits=Limits(max_in_flight=1)) as client:
            jobs = [client.submit_nowait(NewTextToVideoRequest(model="kling-9", prompt="p"))
                    for _ in range(2)]
            tasks = [await job.result() for job in jobs]
    assert [task.status for task in tasks] == [TaskStatus.SUCCEED] * 2
    assert not [r for r in caplog.records if "could not be read" in r.getMessage()
                or "failed" in r.getMessage()]
