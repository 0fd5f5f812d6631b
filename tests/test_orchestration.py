"""The concurrent orchestration layer end to end, against a time-scaled ``KlingSimulator``.

Every client here polls on ``PollPolicy(...).scaled(SCALE)`` so simulated task durations and
the poll schedule shrink together; assertions are on counts and values, never on elapsed time.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import attrs
import pytest

from kling_async import (
    AuthenticationError,
    Backoff,
    ClientClosedError,
    ClientStatistics,
    DuplicateExternalIdError,
    Event,
    ImageGenerationRequest,
    InvalidRequestError,
    Job,
    JobFailed,
    JobState,
    JobSubmitted,
    JobSucceeded,
    KlingClient,
    Limits,
    NotFoundError,
    PollPolicy,
    RateLimited,
    RetryPolicy,
    RetryScheduled,
    StatusChanged,
    SubmissionAbortedError,
    SubmissionInterruptedError,
    Task,
    TaskFailedError,
    TaskStatus,
    TaskTimeoutError,
    TextToVideoRequest,
    ValidationError,
    WaitingForCapacity,
)
from kling_async._poller import Poller
from kling_async.testing import KlingSimulator

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(10)]

SCALE = 50.0
POLL = PollPolicy(expected_image=2, expected_video=4).scaled(SCALE)
FAST_RETRY = RetryPolicy(
    backoff=Backoff(initial=0.002, maximum=0.02), concurrency_min_delay=0.01
)
VIDEO_PATH = "/v1/videos/text2video"
VIDEO_ONE = "/v1/videos/text2video/{task_id}"
IMAGE_ONE = "/v1/images/generations/{task_id}"


@pytest.fixture
async def sim() -> AsyncIterator[KlingSimulator]:
    async with KlingSimulator(time_scale=SCALE, seed=7) as simulator:
        simulator.configure(image_median=2, video_median=4)
        yield simulator


def client_for(sim: KlingSimulator, **overrides: Any) -> KlingClient:
    settings: dict[str, Any] = {
        "api_key": sim.api_key, "base_url": sim.base_url, "poll": POLL, "retry": FAST_RETRY,
        "reconcile_delay": 0,
    }
    settings.update(overrides)
    return KlingClient(**settings)


def video(i: int = 0, **kwargs: Any) -> TextToVideoRequest:
    return TextToVideoRequest(prompt=f"video {i}", **kwargs)


def image(i: int = 0, **kwargs: Any) -> ImageGenerationRequest:
    return ImageGenerationRequest(prompt=f"image {i}", **kwargs)


def sim_task(sim: KlingSimulator, task_id: str | None) -> Any:
    (found,) = [t for t in sim.tasks() if t.task_id == task_id]
    return found


def unsent(stats: ClientStatistics) -> int:
    by = stats.jobs_by_state
    return by["pending"] + by["waiting_for_capacity"] + by["submitting"]


async def _collect(stream: AsyncIterator[Event], into: list[Event]) -> None:
    async for event in stream:
        into.append(event)


async def settle(jobs: list[Job]) -> None:
    """Wait for every job to end, whatever its outcome."""
    for job in jobs:
        try:
            await job.result()
        except Exception:
            pass


# -- submit / result ---------------------------------------------------------------------------


async def test_submit_returns_once_the_server_accepted_and_result_returns_the_task(
    sim: KlingSimulator,
) -> None:
    """submit() returns a Job bound to the server's task; result() returns it with its URLs."""
    async with client_for(sim) as client:
        job = await client.submit(image(n=2))
        assert job.task_id is not None
        record = sim_task(sim, job.task_id)
        assert record.external_task_id == job.external_task_id
        assert record.weight == 2
        assert not job.done() and job.status is not JobState.WAITING
        assert client.job(task_id=job.task_id) is job
        assert client.job(external_task_id=job.external_task_id) is job

        task = await job.result()

    assert isinstance(task, Task)
    assert task.status is TaskStatus.SUCCEED
    assert task.task_id == job.task_id
    assert len(task.urls) == 2
    assert all(url.startswith(f"{sim.base_url}/__sim/files/{job.task_id}/") for url in task.urls)
    assert job.status is JobState.SUCCEEDED
    assert sim.stats().tasks_created == 1


@pytest.mark.parametrize(
    ("setup", "user_id", "error"),
    [
        pytest.param("wrong-key", False, AuthenticationError, id="auth-rejected"),
        pytest.param("body-limit", False, InvalidRequestError, id="request-rejected"),
        pytest.param("body-limit", True, InvalidRequestError, id="rejected-with-user-id"),
    ],
)
async def test_submit_raises_the_typed_error_when_the_create_is_rejected(
    sim: KlingSimulator, setup: str, user_id: bool, error: type[Exception]
) -> None:
    """A rejected create makes submit() raise its typed error and leaves nothing waiting."""
    overrides: dict[str, Any] = {}
    if setup == "wrong-key":
        overrides["api_key"] = "not-the-key"
    else:
        sim.configure(max_body_bytes=32)
    ext = "user-chosen-id" if user_id else None
    async with client_for(sim, **overrides) as client:
        with pytest.raises(error):
            await client.submit(video(), external_task_id=ext)
        stats = client.statistics()
    assert stats.jobs_total == 1
    assert {k: v for k, v in stats.jobs_by_state.items() if v} == {"failed": 1}
    assert (stats.in_flight_slots, stats.waiting_for_capacity) == (0, 0)
    assert sim.stats().tasks_created == 0
    assert sim.stats().count("POST") == 1


async def test_submit_with_an_external_id_the_server_already_has_raises_duplicate_error(
    sim: KlingSimulator,
) -> None:
    """A first, unambiguous create refused because its external_task_id exists (1201) is
    someone else's task: DuplicateExternalIdError naming the id, never the old task."""
    async with client_for(sim) as client:
        await client.create_task(video(), external_task_id="already-there")
        with pytest.raises(DuplicateExternalIdError) as caught:
            await client.submit(video(1), external_task_id="already-there")
        stats = client.statistics()
    assert caught.value.external_task_id == "already-there"
    assert caught.value.code == 1201
    assert "'already-there'" in str(caught.value)
    assert isinstance(caught.value, InvalidRequestError)
    assert stats.reconciliations == 0
    assert sim.stats().tasks_created == 1
    assert sim.stats().duplicates == 1


async def test_failed_task_raises_task_failed_error_with_the_servers_message(
    sim: KlingSimulator,
) -> None:
    """With fail_rate=1 result() raises TaskFailedError carrying task_status_msg."""
    sim.configure(fail_rate=1.0, failure_message="blocked by the simulated risk control")
    async with client_for(sim) as client:
        job = await client.submit(video())
        with pytest.raises(TaskFailedError) as caught:
            await job.result()
        stats = client.statistics()
    assert caught.value.reason == "blocked by the simulated risk control"
    assert caught.value.task_id == job.task_id
    assert job.status is JobState.FAILED
    assert job.task is not None and job.task.status is TaskStatus.FAILED
    assert stats.in_flight_slots == 0


@pytest.mark.parametrize(
    ("queue_fraction", "stalled_in", "wording"),
    [
        pytest.param(1.0, TaskStatus.SUBMITTED, "still queued", id="stalled-in-queue"),
        pytest.param(0.0, TaskStatus.PROCESSING, "stalled while processing", id="stalled-running"),
    ],
)
async def test_job_deadline_raises_task_timeout_error_saying_where_it_stalled(
    sim: KlingSimulator, queue_fraction: float, stalled_in: TaskStatus, wording: str
) -> None:
    """Past PollPolicy.deadline the job fails with TaskTimeoutError: stalled_in plus history."""
    sim.configure(latency=10_000, queue_fraction=queue_fraction)
    deadline = 10.0 / SCALE
    poll = attrs.evolve(POLL, deadline=deadline)
    async with client_for(sim, poll=poll) as client:
        job = await client.submit(video())
        with pytest.raises(TaskTimeoutError) as caught:
            await job.result()
        stats = client.statistics()
    error = caught.value
    assert error.stalled_in is stalled_in
    assert wording in str(error)
    assert error.task_id == job.task_id
    assert error.timeout == deadline
    assert error.history == tuple(job.history)
    assert error.history[0] == (TaskStatus.SUBMITTED, 0.0)
    assert error.history[-1][0] is stalled_in
    assert job.status is JobState.FAILED
    assert stats.in_flight_slots == 0
    assert sim_task(sim, job.task_id).status is stalled_in


async def test_cancelling_a_waiter_never_loses_the_job(sim: KlingSimulator) -> None:
    """A result() wait cancelled or timed out leaves the job tracked; it still finishes."""
    async with client_for(sim) as client:
        job = await client.submit(video())
        with anyio.move_on_after(0) as scope:
            await job.result()
        assert scope.cancelled_caught
        with pytest.raises(TaskTimeoutError):
            await job.result(timeout=0)
        assert not job.done()
        assert client.job(task_id=job.task_id) is job

        task = await job.result()
    assert task.status is TaskStatus.SUCCEED
    assert sim.stats().tasks_created == 1


# -- submit_many -------------------------------------------------------------------------------


async def test_submit_many_returns_jobs_in_input_order(sim: KlingSimulator) -> None:
    """submit_many() returns one accepted job per request, in the order given."""
    requests = [video(i) if i % 3 else image(i) for i in range(12)]
    async with client_for(sim) as client:
        jobs = await client.submit_many(requests)
        assert [job.request for job in jobs] == requests
        assert all(job.task_id is not None for job in jobs)
        for job, request in zip(jobs, requests, strict=True):
            assert sim_task(sim, job.task_id).body["prompt"] == request.prompt
        await settle(jobs)
    assert [job.status for job in jobs] == [JobState.SUCCEEDED] * 12
    assert sim.stats().tasks_created == 12


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        pytest.param({"prompt": "a dict is not a request"}, "request", id="dict"),
        pytest.param(None, "request", id="none"),
        pytest.param("a prompt string", "request", id="string"),
        pytest.param(video(99, external_task_id="twice"), "external_task_id", id="duplicate-id"),
    ],
)
async def test_submit_many_validates_everything_before_creating_anything(
    sim: KlingSimulator, bad: Any, field: str
) -> None:
    """One bad item makes submit_many() raise ValidationError with zero creates sent."""
    requests = [video(0, external_task_id="twice"), *(video(i) for i in range(1, 6)), bad]
    async with client_for(sim) as client:
        with pytest.raises(ValidationError) as caught:
            await client.submit_many(requests)
        stats = client.statistics()
    assert caught.value.field == field
    assert stats.jobs_total == 0
    assert stats.requests == 0
    assert sim.stats().tasks_created == 0
    assert sim.stats().count("POST") == 0


async def test_submit_many_rejects_an_external_id_this_client_already_tracks(
    sim: KlingSimulator,
) -> None:
    """An external_task_id already tracked by the client is refused before any create."""
    async with client_for(sim) as client:
        await client.submit(video(0), external_task_id="tracked")
        with pytest.raises(ValidationError) as caught:
            await client.submit_many([video(1), video(2, external_task_id="tracked")])
        assert client.statistics().jobs_total == 1
    assert caught.value.field == "external_task_id"
    assert sim.stats().count("POST") == 1


async def test_a_failing_job_never_cancels_its_siblings(sim: KlingSimulator) -> None:
    """In one submit_many, rejected and failed jobs end with their errors; the rest succeed."""
    sim.configure(fail_rate=0.5, max_body_bytes=400)
    requests = [video(i) for i in range(10)]
    requests[4] = TextToVideoRequest(prompt="too long for the server " * 40)
    async with client_for(sim) as client:
        jobs = await client.submit_many(requests)
        await settle(jobs)
        stats = client.statistics()

    with pytest.raises(InvalidRequestError):
        await jobs[4].result()
    assert jobs[4].task_id is None
    accepted = [job for n, job in enumerate(jobs) if n != 4]
    doomed = {t.task_id for t in sim.tasks() if t.failed}
    assert 0 < len(doomed) < 9, "the seed should give a mix of outcomes"
    for job in accepted:
        if job.task_id in doomed:
            assert job.status is JobState.FAILED
            assert isinstance(job.error, TaskFailedError)
        else:
            assert job.status is JobState.SUCCEEDED
    assert sim.stats().tasks_created == 9
    assert stats.jobs_by_state["succeeded"] == 9 - len(doomed)
    assert stats.jobs_by_state["failed"] == len(doomed) + 1
    assert stats.in_flight_slots == 0


# -- as_completed ------------------------------------------------------------------------------


async def test_as_completed_yields_each_job_once_as_it_finishes(sim: KlingSimulator) -> None:
    """as_completed(jobs) yields every given job exactly once, each already done."""
    async with client_for(sim) as client:
        jobs = [client.submit_nowait(video(i) if i % 2 else image(i)) for i in range(8)]
        yielded = []
        async for job in client.as_completed(jobs):
            assert job.done()
            yielded.append(job)
    assert len(yielded) == 8
    assert {id(j) for j in yielded} == {id(j) for j in jobs}


async def test_as_completed_consumes_a_request_generator_lazily(sim: KlingSimulator) -> None:
    """Requests are drawn only as capacity frees: the first job arrives long before the end."""
    sim.configure(latency=0.5)
    produced = 0

    def requests() -> Iterator[ImageGenerationRequest]:
        nonlocal produced
        for i in range(200):
            produced += 1
            yield image(i)

    limit = 4
    produced_at_first: int | None = None
    unsent_seen = []
    yielded: list[Job] = []
    async with client_for(sim, limits=Limits(max_in_flight=limit)) as client:
        async for job in client.as_completed(requests()):
            if produced_at_first is None:
                produced_at_first = produced
            unsent_seen.append(unsent(client.statistics()))
            yielded.append(job)
    assert produced_at_first is not None and produced_at_first < 200
    assert max(unsent_seen) <= 2 * limit
    assert len(yielded) == 200
    assert len({id(j) for j in yielded}) == 200
    assert all(j.status is JobState.SUCCEEDED for j in yielded)
    assert sim.stats().peak_concurrency["default"] <= limit
    assert sim.stats().tasks_created == 200


# -- the one poller ----------------------------------------------------------------------------


async def test_one_poller_serves_every_job(
    sim: KlingSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """300 jobs share one poll loop; every GET the simulator saw is a poll or a sweep page."""
    runs = []
    original = Poller.run

    async def counting_run(self: Poller) -> None:
        runs.append(self)
        await original(self)

    monkeypatch.setattr(Poller, "run", counting_run)
    async with client_for(sim) as client:
        jobs = await client.submit_many(video(i) for i in range(300))
        await settle(jobs)
        stats = client.statistics()
    seen = sim.stats()
    assert len(runs) == 1
    assert all(job.status is JobState.SUCCEEDED for job in jobs)
    assert seen.count("POST") == seen.tasks_created == 300
    assert stats.requests == seen.total_requests
    assert stats.polls + stats.sweep_pages == seen.count("GET")
    assert stats.polls == sum(job.polls for job in jobs) == seen.count("GET", VIDEO_ONE)
    assert stats.sweep_pages == seen.count("GET", VIDEO_PATH)


async def test_many_tasks_on_one_endpoint_are_polled_with_list_sweeps(sim: KlingSimulator) -> None:
    """Past bulk_threshold in flight, list GETs replace most single GETs."""
    poll = attrs.evolve(POLL, bulk_threshold=5)
    async with client_for(sim, poll=poll, limits=Limits(max_in_flight=40)) as client:
        jobs = await client.submit_many(video(i) for i in range(40))
        await settle(jobs)
        stats = client.statistics()
    seen = sim.stats()
    assert all(job.status is JobState.SUCCEEDED for job in jobs)
    assert seen.count("GET", VIDEO_PATH, 200) > 0
    assert stats.sweeps == seen.count("GET", VIDEO_PATH, 200)
    assert seen.count("GET", VIDEO_ONE) < len(jobs)


async def test_without_listing_the_poller_falls_back_to_single_gets(sim: KlingSimulator) -> None:
    """A server that refuses listing is asked once; every job is then polled by task id."""
    sim.configure(list_supported=False)
    poll = attrs.evolve(POLL, bulk_threshold=5)
    async with client_for(sim, poll=poll, limits=Limits(max_in_flight=30)) as client:
        jobs = await client.submit_many(video(i) for i in range(30))
        await settle(jobs)
        stats = client.statistics()
    seen = sim.stats()
    assert all(job.status is JobState.SUCCEEDED for job in jobs)
    assert seen.count("GET", VIDEO_PATH) == 1
    assert seen.codes[1202] == 1
    assert stats.sweeps == 0
    assert seen.count("GET", VIDEO_ONE) == stats.polls >= len(jobs)
    assert all(job.polls >= 1 for job in jobs)


async def test_a_per_submit_poll_policy_is_honoured(sim: KlingSimulator) -> None:
    """submit(poll=...) sets that job's expected duration and deadline; others keep the client's."""
    sim.configure(latency=20)
    client_poll = attrs.evolve(POLL, deadline=None)
    override = attrs.evolve(POLL, expected_video=2 / SCALE, deadline=2 / SCALE)
    async with client_for(sim, poll=client_poll) as client:
        short = await client.submit(video(1), poll=override)
        normal = await client.submit(video(2))
        with pytest.raises(TaskTimeoutError) as caught:
            await short.result()
        assert (await normal.result()).status is TaskStatus.SUCCEED
    assert short.expected == override.expected_video
    assert normal.expected == client_poll.expected_video
    assert caught.value.timeout == override.deadline


# -- attach / notify_callback ------------------------------------------------------------------


@pytest.mark.parametrize("by", ["task_id", "external_task_id"])
async def test_attach_tracks_an_existing_task_without_creating_one(
    sim: KlingSimulator, by: str
) -> None:
    """attach() by task_id or external_task_id polls the existing task to its end."""
    async with client_for(sim) as client:
        created = await client.create_task(video(), external_task_id="made-elsewhere")
        before = sim.stats().tasks_created
        key = created.task_id if by == "task_id" else "made-elsewhere"
        ids: dict[str, str] = {by: key}
        job = await client.attach("videos/text2video", task_id=ids.get("task_id"),
                                  external_task_id=ids.get("external_task_id"))
        assert await client.attach("videos/text2video", task_id=ids.get("task_id"),
                                   external_task_id=ids.get("external_task_id")) is job
        task = await job.result()
        stats = client.statistics()
    assert task.task_id == created.task_id
    assert task.status is TaskStatus.SUCCEED
    assert sim.stats().tasks_created == before == 1
    assert sim.stats().count("POST") == 1
    assert stats.jobs_total == 1
    assert stats.in_flight_slots == 0


async def test_attach_to_a_finished_task_ends_the_job_at_once(sim: KlingSimulator) -> None:
    """attach(external_task_id=...) of an already finished task resolves without polling."""
    sim.configure(latency=0)
    async with client_for(sim) as client:
        created = await client.create_task(image(), external_task_id="done-already")
        job = await client.attach("images/generations", external_task_id="done-already")
        assert job.done()
        assert (await job.result()).task_id == created.task_id
        assert client.statistics().in_flight_slots == 0
    assert job.polls == 0


async def test_attach_with_an_unknown_external_id_raises_not_found(sim: KlingSimulator) -> None:
    """attach() by an external_task_id the server does not know raises NotFoundError."""
    async with client_for(sim) as client:
        with pytest.raises(NotFoundError):
            await client.attach("videos/text2video", external_task_id="nobody-made-this")
        stats = client.statistics()
    assert stats.jobs_total == 0
    assert stats.in_flight_slots == 0
    assert sim.stats().tasks_created == 0


@pytest.mark.parametrize("key", ["task_id", "external_task_id"])
async def test_notify_callback_makes_the_job_polled_at_once(
    sim: KlingSimulator, key: str
) -> None:
    """A callback body pokes its job: it is re-polled now and the server, not the body, decides."""
    sim.configure(latency=0)
    patient = attrs.evolve(POLL, first_poll=3600.0)
    async with client_for(sim) as client:
        job = await client.submit(image(), poll=patient)
        assert job.polls == 0
        body: dict[str, Any] = {"task_id": job.task_id, "task_status": "failed"}
        if key == "external_task_id":
            body = {"task_id": "unknown", "task_status": "failed",
                    "task_info": {"external_task_id": job.external_task_id}}
        assert client.notify_callback(body) is job
        task = await job.result(timeout=5)
        assert client.notify_callback({"task_id": "unknown", "task_status": "succeed"}) is None
    assert task.status is TaskStatus.SUCCEED
    assert job.polls == 1
    assert sim.stats().count("GET", IMAGE_ONE) == 1


# -- closing -----------------------------------------------------------------------------------


async def test_closing_the_client_wakes_waiters_and_the_task_can_be_reattached(
    sim: KlingSimulator,
) -> None:
    """After aclose() an unfinished job's result() raises ClientClosedError naming its task;
    a new client re-attaches to that task and sees it finish, without creating another."""
    sim.configure(latency=20)
    client = client_for(sim)
    async with client:
        job = await client.submit(video())
        assert not job.done()
    await client.aclose()  # idempotent
    with pytest.raises(ClientClosedError) as caught:
        await job.result()
    assert job.task_id is not None and job.task_id in str(caught.value)
    with pytest.raises(ClientClosedError):
        client.submit_nowait(video())

    async with client_for(sim) as again:
        revived = await again.attach("videos/text2video", task_id=job.task_id)
        assert (await revived.result()).status is TaskStatus.SUCCEED
    assert sim.stats().tasks_created == 1


# -- statistics --------------------------------------------------------------------------------


async def test_statistics_is_a_frozen_snapshot_with_jobs_by_state(sim: KlingSimulator) -> None:
    """statistics() counts jobs by state at the moment of the call and never changes after."""
    sim.configure(max_body_bytes=400)
    async with client_for(sim) as client:
        idle = client.statistics()
        jobs = await client.submit_many([video(0), video(1), video(2)])
        with pytest.raises(InvalidRequestError):
            await client.submit(TextToVideoRequest(prompt="oversized " * 60))
        await settle(jobs)
        done = client.statistics()
    assert idle.jobs_total == 0
    assert sum(idle.jobs_by_state.values()) == 0
    assert done.jobs_total == 4
    assert {k: v for k, v in done.jobs_by_state.items() if v} == {"succeeded": 3, "failed": 1}
    assert set(done.jobs_by_state) == {s.value for s in JobState}
    assert done.in_flight_slots == 0
    assert done.capacity_limit == done.capacity_max == 20
    assert done.requests_by_method["POST"] == 4
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        done.jobs_total = 0  # type: ignore[misc]


# -- events ------------------------------------------------------------------------------------


async def test_lifecycle_events_reach_on_event_and_events_alike(sim: KlingSimulator) -> None:
    """One job emits JobSubmitted, StatusChanged submitted->processing->succeed, JobSucceeded."""
    sim.configure(latency=10, queue_fraction=0.0)
    called: list[Event] = []
    streamed: list[Event] = []
    poll = attrs.evolve(POLL, first_poll=0.01, min_interval=0.02, max_interval=0.02)
    async with anyio.create_task_group() as tg:
        async with client_for(sim, on_event=called.append, poll=poll) as client:
            tg.start_soon(_collect, client.events(), streamed)
            await anyio.wait_all_tasks_blocked()
            job = await client.submit(video())
            await job.result()
    assert streamed == called
    assert [type(e) for e in called] == [JobSubmitted, StatusChanged, StatusChanged, JobSucceeded]
    submitted, to_processing, to_succeed, succeeded = called
    assert isinstance(submitted, JobSubmitted) and submitted.task_id == job.task_id
    assert isinstance(to_processing, StatusChanged) and isinstance(to_succeed, StatusChanged)
    assert (to_processing.old, to_processing.new) == (TaskStatus.SUBMITTED, TaskStatus.PROCESSING)
    assert (to_succeed.old, to_succeed.new) == (TaskStatus.PROCESSING, TaskStatus.SUCCEED)
    assert isinstance(succeeded, JobSucceeded) and succeeded.task == job.task
    assert all(e.job is job for e in called)


async def test_failed_job_emits_job_failed(sim: KlingSimulator) -> None:
    """A task that ends failed emits one JobFailed carrying the TaskFailedError."""
    sim.configure(fail_rate=1.0)
    called: list[Event] = []
    async with client_for(sim, on_event=called.append) as client:
        job = await client.submit(video())
        await settle([job])
    failures = [e for e in called if isinstance(e, JobFailed)]
    assert len(failures) == 1
    assert failures[0].error is job.error
    assert isinstance(job.error, TaskFailedError)


async def test_jobs_queued_past_the_limit_emit_waiting_for_capacity(sim: KlingSimulator) -> None:
    """With max_in_flight=1, three jobs give two WaitingForCapacity events, one at a time."""
    called: list[Event] = []
    async with client_for(sim, on_event=called.append, limits=Limits(max_in_flight=1)) as client:
        jobs = [client.submit_nowait(video(i)) for i in range(3)]
        await settle(jobs)
    waits = [e for e in called if isinstance(e, WaitingForCapacity)]
    assert len(waits) == 2
    assert {(e.weight, e.in_use, e.limit) for e in waits} == {(1, 1, 1)}
    assert {id(e.job) for e in waits} < {id(j) for j in jobs}
    assert sim.stats().peak_concurrency["default"] == 1
    assert all(job.status is JobState.SUCCEEDED for job in jobs)


async def test_concurrency_rejections_emit_rate_limited_1303_and_shrink_the_limit(
    sim: KlingSimulator,
) -> None:
    """Every 1303 from the server is one RateLimited(code=1303) event and one rejection."""
    sim.configure(concurrency_limit=1, latency=2)
    called: list[Event] = []
    async with client_for(sim, on_event=called.append, limits=Limits(max_in_flight=3)) as client:
        jobs = [client.submit_nowait(video(i)) for i in range(3)]
        await settle(jobs)
        stats = client.statistics()
    seen = sim.stats()
    limited = [e for e in called if isinstance(e, RateLimited)]
    assert seen.codes[1303] >= 1
    assert len(limited) == seen.codes[1303] == stats.concurrency_rejections
    assert {e.code for e in limited} == {1303}
    assert all(job.status is JobState.SUCCEEDED for job in jobs)
    assert seen.tasks_created == 3
    assert stats.capacity_limit < 3


async def test_rate_limited_creates_emit_rate_limited_1302_on_both_channels(
    sim: KlingSimulator,
) -> None:
    """Each 1302 on a create is retried, announced by RateLimited and RetryScheduled."""
    sim.configure(faults={"rate_limited": 0.3, "rate_limited_scope": "post"})
    called: list[Event] = []
    streamed: list[Event] = []
    retry = attrs.evolve(FAST_RETRY, max_attempts=12)
    async with anyio.create_task_group() as tg:
        async with client_for(sim, on_event=called.append, retry=retry) as client:
            tg.start_soon(_collect, client.events(), streamed)
            await anyio.wait_all_tasks_blocked()
            jobs = await client.submit_many(video(i) for i in range(20))
            await settle(jobs)
    faults = sim.stats().faults["rate_limited"]
    limited = [e for e in called if isinstance(e, RateLimited)]
    retries = [e for e in called if isinstance(e, RetryScheduled)]
    assert streamed == called
    assert all(job.status is JobState.SUCCEEDED for job in jobs)
    assert faults >= 1
    assert len(limited) == len(retries) == faults
    assert {e.code for e in limited} == {1302}
    assert sim.stats().tasks_created == 20
    # each one names the job whose create it was, on both channels
    assert all(any(e.job is job for job in jobs) for e in limited + retries)


async def test_retried_polls_name_their_job_in_retry_events(sim: KlingSimulator) -> None:
    """A poll retried after a 5xx announces RetryScheduled naming the job it was polling."""
    sim.configure(faults={"error_5xx": 0.3, "error_5xx_scope": "get"})
    called: list[Event] = []
    retry = attrs.evolve(FAST_RETRY, max_attempts=12)
    async with client_for(sim, on_event=called.append, retry=retry) as client:
        jobs = await client.submit_many(video(i) for i in range(10))
        await settle(jobs)
    retries = [e for e in called if isinstance(e, RetryScheduled)]
    assert sim.stats().faults["error_5xx"] >= 1
    assert retries and all(e.method == "GET" for e in retries)
    for event in retries:
        job = event.job
        assert job is not None and any(job is j for j in jobs)
        assert job.task_id is not None and event.path.endswith(job.task_id)


# -- base URLs and credentials -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("gateway", "jwt"),
    [
        pytest.param(False, False, id="official-bearer"),
        pytest.param(True, False, id="gateway-bearer"),
        pytest.param(False, True, id="official-jwt"),
        pytest.param(True, True, id="gateway-jwt"),
    ],
)
async def test_gateway_url_and_jwt_auth_work_end_to_end(
    sim: KlingSimulator, gateway: bool, jwt: bool
) -> None:
    """The same submit/poll flow works on /v1 and /kling/v1, with a bearer key or AK/SK JWT."""
    overrides: dict[str, Any] = {"base_url": sim.gateway_url if gateway else sim.base_url}
    if jwt:
        overrides.update(api_key=None, access_key=sim.access_key, secret_key=sim.secret_key)
    async with client_for(sim, **overrides) as client:
        jobs = await client.submit_many([image(0), video(1)])
        tasks = [await job.result() for job in jobs]
    assert [t.status for t in tasks] == [TaskStatus.SUCCEED] * 2
    routes = {route for (_, route, _) in sim.stats().requests}
    prefix = "/kling/v1/" if gateway else "/v1/"
    assert routes and all(route.startswith(prefix) for route in routes)
    assert {status for (_, _, status) in sim.stats().requests} == {200}


# -- before_send -------------------------------------------------------------------------------


async def test_before_send_runs_once_just_before_the_first_post(sim: KlingSimulator) -> None:
    """The hook sees the final external id, after capacity, before any POST; 1303 retries of
    the same create do not call it again."""
    sim.configure(concurrency_limit=1, latency=2)
    seen: list[tuple[str | None, int, str]] = []

    def hook(job: Job) -> None:
        seen.append((job.external_task_id, sim.stats().count("POST"), job.status.value))

    async with client_for(sim, limits=Limits(max_in_flight=3)) as client:
        jobs = [client.submit_nowait(video(i), external_task_id=f"ext-{i}", before_send=hook)
                for i in range(3)]
        await settle(jobs)
    assert sim.stats().codes[1303] >= 1  # some creates were rejected and re-sent
    assert sorted(ext or "" for ext, _, _ in seen) == ["ext-0", "ext-1", "ext-2"]
    assert {state for _, _, state in seen} == {"submitting"}
    assert all(job.status is JobState.SUCCEEDED for job in jobs)
    assert sim.stats().tasks_created == 3


async def test_a_raising_before_send_sends_nothing_and_fails_only_that_job(
    sim: KlingSimulator,
) -> None:
    """If the hook raises, that job fails with SubmissionAbortedError and no POST is made."""

    def hook(job: Job) -> None:
        if job.external_task_id == "bad":
            raise OSError("disk full")

    async with client_for(sim) as client:
        with pytest.raises(SubmissionAbortedError) as caught:
            await client.submit(video(0), external_task_id="bad", before_send=hook)
        good = await client.submit(video(1), external_task_id="good", before_send=hook)
        await good.result()
        stats = client.statistics()
    assert isinstance(caught.value.__cause__, OSError)
    assert caught.value.external_task_id == "bad"
    assert "disk full" in str(caught.value)
    assert sim.stats().count("POST") == 1
    assert [t.external_task_id for t in sim.tasks()] == ["good"]
    assert (stats.in_flight_slots, stats.waiting_for_capacity) == (0, 0)


# -- hot-path shortcuts keep their guarantees ---------------------------------------------------


async def test_as_completed_refills_when_jobs_are_accepted_not_only_when_they_finish(
    sim: KlingSimulator,
) -> None:
    """With long tasks nothing finishes; acceptances alone must let the backlog refill, so all
    9 requests are drawn (3 in flight + 6 unsent = twice the limit) without any job ending."""
    sim.configure(latency=1000)
    drawn = 0

    def requests() -> Iterator[TextToVideoRequest]:
        nonlocal drawn
        for i in range(9):
            drawn += 1
            yield video(i)

    async with client_for(sim, limits=Limits(max_in_flight=3)) as client:
        async def consume() -> None:
            async for _ in client.as_completed(requests()):
                pass

        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            for _ in range(500):  # at most ~5 s
                if drawn == 9 and client.statistics().jobs_by_state["submitted"] == 3:
                    break
                await anyio.sleep(0.01)
            stats = client.statistics()
            tg.cancel_scope.cancel()
    assert drawn == 9
    assert stats.jobs_by_state["succeeded"] == 0
    assert unsent(stats) == 6
    assert sim.stats().tasks_created == 3


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[Job]:
    """Every job the poll loop hands to its poll queue (or a sweep), in order."""
    seen: list[Job] = []
    original = Poller._dispatch

    def spy(self: Poller, jobs: list[Job], *args: Any) -> None:
        seen.extend(jobs)
        original(self, jobs, *args)

    monkeypatch.setattr(Poller, "_dispatch", spy)
    return seen


async def test_a_first_poll_due_at_once_is_made_by_the_submitting_task(
    sim: KlingSimulator, queued: list[Job]
) -> None:
    """first_poll=0: each job is polled right after its create, never through the poll queue,
    and exactly once when its task is already done."""
    sim.configure(latency=0)
    poll = attrs.evolve(POLL, first_poll=0.0, bulk_threshold=0)
    async with client_for(sim, poll=poll) as client:
        jobs = await client.submit_many(image(i) for i in range(20))
        await settle(jobs)
    assert all(job.status is JobState.SUCCEEDED for job in jobs)
    assert [job.polls for job in jobs] == [1] * 20
    assert queued == []
    assert sim.stats().count("GET") == 20


async def test_under_a_request_backlog_first_polls_go_through_the_poll_queue(
    sim: KlingSimulator, queued: list[Job]
) -> None:
    """With one request slot, a first poll that would have to wait for it is queued to the
    poller rather than held by its submission task; still one poll per job, none lost."""
    sim.configure(latency=0)
    poll = attrs.evolve(POLL, first_poll=0.0, bulk_threshold=0)
    async with client_for(sim, poll=poll, limits=Limits(max_requests=1)) as client:
        jobs = await client.submit_many(image(i) for i in range(20))
        await settle(jobs)
    assert all(job.status is JobState.SUCCEEDED for job in jobs)
    assert [job.polls for job in jobs] == [1] * 20
    assert queued  # at least some first polls waited in the queue
    assert len({id(job) for job in queued}) == len(queued)
    assert sim.stats().count("GET") == 20


async def test_an_unexpected_error_while_submitting_fails_that_job_only(
    sim: KlingSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug (not a server answer) in one submission ends that job with the error; the client
    and the other jobs carry on, and nothing was sent for it."""
    from kling_async import _submitter
    from kling_async._wire import dump_request as original

    def flaky(request: Any) -> dict[str, Any]:
        if request.prompt == "video 1":
            raise RuntimeError("boom")
        return original(request)

    monkeypatch.setattr(_submitter, "dump_request", flaky)
    async with client_for(sim) as client:
        jobs = [client.submit_nowait(video(i)) for i in range(3)]
        await settle(jobs)
        stats = client.statistics()
    assert [job.status for job in jobs] == [JobState.SUCCEEDED, JobState.FAILED,
                                            JobState.SUCCEEDED]
    assert isinstance(jobs[1].error, RuntimeError)
    assert sim.stats().tasks_created == 2
    assert (stats.in_flight_slots, stats.waiting_for_capacity) == (0, 0)


async def test_a_job_ended_during_its_1303_backoff_gives_its_slots_back_once(
    sim: KlingSimulator,
) -> None:
    """After a 1303 the job's slots are already returned; if the job then ends while backing
    off, they must not be returned a second time (that would free a slot another task holds)."""
    sim.configure(concurrency_limit=1, latency=1000)

    async def interrupted(delay: float) -> None:
        raise RuntimeError("backoff interrupted")

    async with client_for(sim, limits=Limits(max_in_flight=2), sleep=interrupted) as client:
        holder = await client.submit(video(0))
        rejected = client.submit_nowait(video(1))
        await settle([rejected])
        stats = client.statistics()
    assert holder.status is JobState.SUBMITTED or holder.status is JobState.PROCESSING
    assert isinstance(rejected.error, RuntimeError)
    assert sim.stats().codes[1303] == 1
    assert stats.in_flight_slots == 1  # the holder's slot, still counted


async def test_as_completed_with_a_slow_consumer_never_misses_a_refill(
    sim: KlingSimulator,
) -> None:
    """The consumer awaits after each result; submissions accepted meanwhile must still let
    the loop refill (a wake that comes while it is not waiting must not be lost)."""
    got = 0
    async with client_for(sim, limits=Limits(max_in_flight=2)) as client:
        with anyio.fail_after(20):
            async for _ in client.as_completed(image(i) for i in range(12)):
                got += 1
                await anyio.sleep(0.05)  # e.g. store or download the result
    assert got == 12
    assert sim.stats().tasks_created == 12


async def test_as_completed_ends_with_client_closed_error_when_the_client_closes(
    sim: KlingSimulator,
) -> None:
    """A loop waiting in as_completed() while the client is closed from elsewhere raises
    ClientClosedError instead of waiting forever."""
    sim.configure(latency=1000)
    outcome: list[BaseException] = []

    async def consume(client: KlingClient) -> None:
        try:
            async for _ in client.as_completed(video(i) for i in range(100)):
                pass
        except ClientClosedError as exc:
            outcome.append(exc)

    async with anyio.create_task_group() as tg:
        async with client_for(sim, limits=Limits(max_in_flight=2)) as client:
            tg.start_soon(consume, client)  # the consumer runs in another task
            with anyio.fail_after(30):  # until both slots are taken (a loaded machine is slow)
                while client.statistics().in_flight_slots != 2:  # noqa: ASYNC110 - bounded
                    await anyio.sleep(0.01)
        # the client is closed here, by its own task
        with anyio.fail_after(5):
            while not outcome:  # noqa: ASYNC110 - bounded by fail_after
                await anyio.sleep(0.01)
    assert isinstance(outcome[0], ClientClosedError)
    assert "re-attach" in str(outcome[0])


async def test_submit_raises_client_closed_error_if_the_client_closes_mid_submission(
    sim: KlingSimulator,
) -> None:
    """submit() never returns a job without a task: closing the client while its create is
    under way makes it raise ClientClosedError, one saying the task may exist
    (SubmissionInterruptedError) and naming the external_task_id to re-attach with."""
    sim.configure(faults={"delay": 1.0, "delay_scope": "post", "delay_seconds": 5.0})
    raised: list[BaseException] = []

    async def submit(client: KlingClient) -> None:
        try:
            await client.submit(video(0))
        except ClientClosedError as exc:
            raised.append(exc)

    async with anyio.create_task_group() as tg:
        async with client_for(sim) as client:
            tg.start_soon(submit, client)
            for _ in range(200):  # until the create POST is on its way (at most ~2 s)
                if client.statistics().requests == 1:
                    break
                await anyio.sleep(0.01)
    assert len(raised) == 1
    assert isinstance(raised[0], SubmissionInterruptedError)
    assert raised[0].external_task_id is not None
    assert f"external_task_id={raised[0].external_task_id!r}" in str(raised[0])


async def test_before_its_first_poll_a_job_reads_the_task_of_its_create_reply(
    sim: KlingSimulator,
) -> None:
    """job.task before any poll is the create reply's Task (read once, on acceptance), and
    task_status is its status; the first poll then replaces it."""
    async with client_for(sim, poll=attrs.evolve(POLL, first_poll=3600.0)) as client:
        job = await client.submit(video(0), external_task_id="mine-0")
        assert job.task_status is TaskStatus.SUBMITTED
        task = job.task
        assert task is not None and job.task is task
        assert (task.task_id, task.status, task.external_task_id) == (
            job.task_id, TaskStatus.SUBMITTED, "mine-0")
        assert task.created_at is not None
        client.notify_callback({"task_id": job.task_id, "task_status": "processing"})
        with anyio.fail_after(5):
            while job.polls == 0 or job.task is task:  # noqa: ASYNC110 (no event for a poll)
                await anyio.sleep(0.01)
        assert job.task is not None and job.task.task_id == job.task_id
        assert job.task_status is job.task.status


def _refuse(job: Job) -> None:
    raise RuntimeError("journal down")


def _eager_submissions(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> Any:
    """An eager task factory for submissions only (Python 3.12's own where it exists), for
    submissions that end without waiting (a refusing before_send): Submitter.run runs to its
    end inside create_task()."""
    if getattr(coro, "__qualname__", "") != "Submitter.run":
        return asyncio.Task(coro, loop=loop, **kwargs)
    if sys.version_info >= (3, 12):
        task = asyncio.Task(coro, loop=loop, eager_start=True, **kwargs)
        assert task.done(), "a refused submission was expected to end without waiting"
        return task
    try:  # before 3.12: run it by hand; create_task() accepts any future there
        coro.send(None)
    except StopIteration:
        finished = loop.create_future()
        finished.set_result(None)
        return finished
    coro.close()
    raise AssertionError("a refused submission was expected to end without waiting")


async def test_a_submission_that_ends_inside_create_task_is_not_kept(sim: KlingSimulator) -> None:
    """Under an eager task factory (Python 3.12+) a submission whose before_send refuses ends
    inside create_task(); the client does not keep it among its running submissions."""
    loop = asyncio.get_running_loop()
    async with client_for(sim) as client:
        loop.set_task_factory(_eager_submissions)
        try:
            jobs = [client.submit_nowait(video(i), before_send=_refuse) for i in range(3)]
        finally:
            loop.set_task_factory(None)
        assert all(job.status is JobState.FAILED for job in jobs)
        assert all(isinstance(job.error, SubmissionAbortedError) for job in jobs)
        assert client.statistics().submissions_running == 0
    assert sim.stats().tasks_created == 0


async def test_jobs_queued_for_capacity_hold_no_task_and_start_in_order(
    sim: KlingSimulator,
) -> None:
    """Jobs past the in-flight limit wait visibly with no submission task of their own, and
    are created in the order they were submitted as capacity frees."""
    async with client_for(sim, limits=Limits(max_in_flight=2, max_requests=4)) as client:
        jobs = [client.submit_nowait(video(i)) for i in range(12)]
        stats = client.statistics()
        assert stats.waiting_for_capacity == 10
        assert stats.submissions_running <= 2  # only the admitted ones run a task
        await settle(jobs)
        assert client.statistics().submissions_running == 0
    assert all(job.status is JobState.SUCCEEDED for job in jobs)
    created = sorted(jobs, key=lambda job: job.accepted_at or 0.0)
    assert [job.external_task_id for job in created] == [job.external_task_id for job in jobs]
    assert sim.stats().tasks_created == 12


async def test_closing_never_starts_jobs_still_queued_for_capacity(sim: KlingSimulator) -> None:
    """Jobs still waiting for capacity when the client closes are never started, even when
    closing cancels a create in progress and so frees its slots; their result() raises
    ClientClosedError."""
    sim.configure(faults={"delay": 1.0, "delay_scope": "post", "delay_seconds": 2.0})
    async with client_for(sim, limits=Limits(max_in_flight=1, max_requests=2)) as client:
        jobs = [client.submit_nowait(video(i)) for i in range(5)]
        await anyio.sleep(0.3)  # job 0's create is sent; its reply is 2 s away
        assert client.statistics().submissions_running and jobs[0].status is JobState.SUBMITTING
    await anyio.sleep(2.5)  # the delayed create has been answered by now
    assert sim.stats().tasks_created <= 1
    assert client.statistics().submissions_running == 0
    for job in jobs[1:]:
        assert job.task_id is None
        with pytest.raises(ClientClosedError):
            await job.result()


async def test_many_queued_jobs_ending_at_once_under_an_eager_factory(sim: KlingSimulator) -> None:
    """Under an eager task factory, queued jobs whose submissions end at once as they are
    granted (before_send refuses) are handed on one after another, not recursively: all of
    them fail cleanly and the capacity is whole again."""
    loop = asyncio.get_running_loop()
    errors: list[object] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    try:
        async with client_for(sim, limits=Limits(max_in_flight=1, max_requests=4)) as client:
            first = client.submit_nowait(video(0))
            queued = [client.submit_nowait(video(i), before_send=_refuse) for i in range(1, 400)]
            loop.set_task_factory(_eager_submissions)
            try:
                with anyio.fail_after(10):
                    await settle([first, *queued])
            finally:
                loop.set_task_factory(None)
            assert first.status is JobState.SUCCEEDED
            assert all(isinstance(job.error, SubmissionAbortedError) for job in queued)
            stats = client.statistics()
            assert (stats.in_flight_slots, stats.waiting_for_capacity) == (0, 0)
    finally:
        loop.set_exception_handler(None)
    assert errors == []
    assert sim.stats().tasks_created == 1


async def test_a_queued_job_is_submitted_in_its_callers_context(sim: KlingSimulator) -> None:
    """A job that waited for capacity runs its submission (and before_send) in the context
    variables of the code that submitted it, like one that started at once."""
    import contextvars

    tag: contextvars.ContextVar[str | None] = contextvars.ContextVar("tag", default=None)
    seen: dict[str, str | None] = {}

    def record(job: Job) -> None:
        assert job.external_task_id is not None
        seen[job.external_task_id] = tag.get()

    async with client_for(sim, limits=Limits(max_in_flight=2, max_requests=4)) as client:
        jobs = []
        for i in range(6):
            tag.set(f"caller-{i}")
            jobs.append(client.submit_nowait(video(i), external_task_id=f"ctx-{i}",
                                             before_send=record))
        await settle(jobs)
    assert seen == {f"ctx-{i}": f"caller-{i}" for i in range(6)}


async def test_a_client_whose_first_polls_are_inline_starts_no_poll_worker(
    sim: KlingSimulator,
) -> None:
    """Opening a client starts no poll worker, and jobs whose first poll is made inline (a
    request slot free at acceptance, no bulk polling) never need one."""
    sim.configure(image_median=0)
    poll = attrs.evolve(POLL, first_poll=0.0, bulk_threshold=0)
    async with client_for(sim, poll=poll, limits=Limits(max_in_flight=4, max_requests=8)
                          ) as client:
        assert client._poller is not None
        assert client._poller._started == 0
        done = [job async for job in client.as_completed([image(i) for i in range(12)])]
        assert all(job.status is JobState.SUCCEEDED for job in done)
        assert client._poller._started == 0
