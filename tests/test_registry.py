"""Job handles and the TaskRegistry: lookups, exact live counts, waiting and callbacks."""

from __future__ import annotations

import anyio
import pytest

from kling_async import (
    ClientClosedError,
    Job,
    JobState,
    Task,
    TaskFailedError,
    TaskStatus,
    TaskTimeoutError,
    TextToVideoRequest,
    ValidationError,
)
from kling_async._registry import TaskRegistry

pytestmark = pytest.mark.timeout(10)

VIDEO = "videos/text2video"
IMAGE = "images/generations"


def _job(ext: str | None = None, endpoint: str = VIDEO, request: object = None) -> Job:
    return Job(endpoint, request, ext)


def _task(task_id: str, status: TaskStatus = TaskStatus.SUBMITTED, **kwargs: object) -> Task:
    return Task(task_id=task_id, status=status, **kwargs)  # type: ignore[arg-type]


def _counts(registry: TaskRegistry) -> dict[JobState, int]:
    return {state: registry.counts[state] for state in JobState if registry.counts[state]}


# -- lookups -----------------------------------------------------------------------------------


def test_jobs_are_found_by_task_id_and_external_task_id() -> None:
    """get() finds a job by its task_id once accepted; get_by_external_id() from the start."""
    registry = TaskRegistry()
    jobs = [_job(f"ext-{i}") for i in range(1000)]
    for job in jobs:
        registry.add(job)
    for i, job in enumerate(jobs):
        registry.accept(job, _task(f"t{i}"), now=0.0)
    assert registry.get("t517") is jobs[517]
    assert registry.get_by_external_id("ext-517") is jobs[517]
    assert registry.get("nope") is None
    assert registry.get_by_external_id("nope") is None
    assert registry.total == 1000


def test_an_external_id_learned_from_the_server_is_indexed() -> None:
    """A job submitted without an external id is findable by the one the server reports."""
    registry = TaskRegistry()
    job = _job(None)
    registry.add(job)
    registry.accept(job, _task("t1", external_task_id="server-ext"), now=0.0)
    assert job.external_task_id == "server-ext"
    assert registry.get_by_external_id("server-ext") is job


def test_duplicate_external_task_id_is_rejected_naming_the_field() -> None:
    """Adding a second job with a tracked external_task_id raises ValidationError on that field."""
    registry = TaskRegistry()
    first = _job("same")
    registry.add(first)
    with pytest.raises(ValidationError) as caught:
        registry.add(_job("same"))
    assert caught.value.field == "external_task_id"
    assert caught.value.value == "same"
    assert "external_task_id" in str(caught.value)
    assert registry.total == 1
    assert registry.get_by_external_id("same") is first
    assert _counts(registry) == {JobState.PENDING: 1}


def test_unfinished_lists_each_unended_job_once() -> None:
    """unfinished() returns every job not yet ended, once, whichever indexes it is in."""
    registry = TaskRegistry()
    pending = _job("pending")
    accepted = _job("accepted")
    accepted_no_ext = _job(None)
    finished = _job("finished")
    for job in (pending, accepted, accepted_no_ext, finished):
        registry.add(job)
    registry.accept(accepted, _task("t1"), now=0.0)
    registry.accept(accepted_no_ext, _task("t2"), now=0.0)
    registry.accept(finished, _task("t3"), now=0.0)
    registry.finish(finished, JobState.SUCCEEDED, task=_task("t3", TaskStatus.SUCCEED))

    unfinished = registry.unfinished()

    assert len(unfinished) == 3
    assert {id(j) for j in unfinished} == {id(pending), id(accepted), id(accepted_no_ext)}


def test_unfinished_is_empty_once_every_job_ended_and_not_before() -> None:
    """The O(1) answer when the counts say every job ended: [] then, and the one job left
    while any is (the last to end decides, whichever way it ended)."""
    registry = TaskRegistry()
    jobs = [_job(f"e{i}") for i in range(3)]
    for i, job in enumerate(jobs):
        registry.add(job)
        registry.accept(job, _task(f"t{i}"), now=0.0)
    registry.finish(jobs[0], JobState.SUCCEEDED, task=_task("t0", TaskStatus.SUCCEED))
    registry.finish(jobs[1], JobState.FAILED, error=RuntimeError("x"))
    assert registry.unfinished() == [jobs[2]]
    registry.finish(jobs[2], JobState.FAILED, error=RuntimeError("y"))
    assert registry.unfinished() == []
    late = _job("late")  # added after: unended again
    registry.add(late)
    assert registry.unfinished() == [late]


# -- counts through transitions ----------------------------------------------------------------


def _walk(final: JobState) -> list[tuple[dict[JobState, int], int]]:
    """Drive one job through its whole life; (counts, in-flight on VIDEO) after each step."""
    registry = TaskRegistry()
    other = _job("bystander", endpoint=IMAGE)
    registry.add(other)
    job = _job("walker")
    seen = []

    def snap() -> None:
        counts = _counts(registry)
        counts[JobState.PENDING] -= 1  # the bystander
        if not counts[JobState.PENDING]:
            del counts[JobState.PENDING]
        seen.append((counts, registry.in_flight_by_endpoint[VIDEO]))
        unsent = sum(registry.counts[s] for s in
                     (JobState.PENDING, JobState.WAITING, JobState.SUBMITTING))
        assert registry.unsent == unsent  # the running total agrees with the counts

    registry.add(job)
    snap()
    registry.set_state(job, JobState.WAITING)
    snap()
    registry.set_state(job, JobState.SUBMITTING)
    snap()
    registry.accept(job, _task("t1"), now=10.0)
    snap()
    registry.set_state(job, JobState.PROCESSING)
    snap()
    registry.set_state(job, JobState.PROCESSING)  # a repeat is a no-op
    snap()
    registry.finish(job, final, task=_task("t1", TaskStatus.SUCCEED))
    snap()
    assert registry.in_flight_by_endpoint[IMAGE] == 0
    assert registry.total == 2
    return seen


@pytest.mark.parametrize("final", [JobState.SUCCEEDED, JobState.FAILED], ids=lambda s: s.value)
def test_counts_and_in_flight_stay_exact_through_every_transition(final: JobState) -> None:
    """Counts by state and in-flight by endpoint follow PENDING->...->SUCCEEDED/FAILED exactly."""
    assert _walk(final) == [
        ({JobState.PENDING: 1}, 0),
        ({JobState.WAITING: 1}, 0),
        ({JobState.SUBMITTING: 1}, 0),
        ({JobState.SUBMITTED: 1}, 1),
        ({JobState.PROCESSING: 1}, 1),
        ({JobState.PROCESSING: 1}, 1),
        ({final: 1}, 0),
    ]


@pytest.mark.parametrize(
    ("status", "state"),
    [
        pytest.param(TaskStatus.SUBMITTED, JobState.SUBMITTED, id="submitted"),
        pytest.param(TaskStatus.PROCESSING, JobState.PROCESSING, id="processing"),
        pytest.param(TaskStatus.SUCCEED, JobState.SUBMITTED, id="already-succeeded"),
        pytest.param(TaskStatus.FAILED, JobState.SUBMITTED, id="already-failed"),
    ],
)
def test_accept_enters_the_in_flight_count_once(status: TaskStatus, state: JobState) -> None:
    """accept() puts the job in flight in the state matching the server's status."""
    registry = TaskRegistry()
    job = _job("x")
    registry.add(job)
    registry.set_state(job, JobState.SUBMITTING)
    registry.accept(job, _task("t1", status), now=5.0)
    assert job.status is state
    assert _counts(registry) == {state: 1}
    assert registry.in_flight_by_endpoint[VIDEO] == 1
    assert job.task_id == "t1"
    assert job.accepted_at == 5.0
    assert job.history == [(status, 0.0)]


def test_a_job_that_fails_before_acceptance_never_counts_in_flight() -> None:
    """A submission failure moves SUBMITTING -> FAILED without touching in_flight_by_endpoint."""
    registry = TaskRegistry()
    job = _job("x")
    registry.add(job)
    registry.set_state(job, JobState.SUBMITTING)
    registry.finish(job, JobState.FAILED, error=ValidationError("f", "rule", 1))
    assert _counts(registry) == {JobState.FAILED: 1}
    assert registry.in_flight_by_endpoint[VIDEO] == 0


def test_many_jobs_on_two_endpoints_keep_separate_in_flight_counts() -> None:
    """in_flight_by_endpoint counts SUBMITTED + PROCESSING jobs per endpoint."""
    registry = TaskRegistry()
    videos = [_job(f"v{i}") for i in range(5)]
    images = [_job(f"i{i}", endpoint=IMAGE) for i in range(3)]
    for n, job in enumerate(videos + images):
        registry.add(job)
        registry.accept(job, _task(f"t{n}"), now=0.0)
    registry.set_state(videos[0], JobState.PROCESSING)
    registry.finish(videos[1], JobState.SUCCEEDED, task=_task("t1", TaskStatus.SUCCEED))
    registry.finish(images[0], JobState.FAILED, error=ValidationError("f", "rule", 1))
    assert dict(registry.in_flight_by_endpoint) == {VIDEO: 4, IMAGE: 2}
    assert _counts(registry) == {
        JobState.SUBMITTED: 5, JobState.PROCESSING: 1, JobState.SUCCEEDED: 1,
        JobState.FAILED: 1,
    }


# -- Job.result / wait_submitted ----------------------------------------------------------------


@pytest.mark.anyio
async def test_result_returns_the_finished_task() -> None:
    """result() returns the job's Task once it succeeded, waiting for it if need be."""
    registry = TaskRegistry()
    job = _job("x")
    registry.add(job)
    registry.accept(job, _task("t1"), now=0.0)
    done = _task("t1", TaskStatus.SUCCEED)
    got: list[Task] = []

    async def wait() -> None:
        got.append(await job.result())

    async with anyio.create_task_group() as tg:
        tg.start_soon(wait)
        await anyio.wait_all_tasks_blocked()
        assert got == []
        registry.finish(job, JobState.SUCCEEDED, task=done)
    assert got == [done]
    assert await job.result() is done


@pytest.mark.anyio
async def test_result_raises_the_stored_error() -> None:
    """result() of a failed job raises exactly the error it ended with."""
    registry = TaskRegistry()
    job = _job("x")
    registry.add(job)
    registry.accept(job, _task("t1"), now=0.0)
    failed = _task("t1", TaskStatus.FAILED, status_msg="risk control")
    error = TaskFailedError(failed, VIDEO)
    registry.finish(job, JobState.FAILED, task=failed, error=error)
    with pytest.raises(TaskFailedError) as caught:
        await job.result()
    assert caught.value is error
    assert caught.value.reason == "risk control"


@pytest.mark.anyio
async def test_result_timeout_raises_but_the_job_stays_tracked_and_can_still_finish() -> None:
    """result(timeout) raises TaskTimeoutError; the job is not done and still finishes later."""
    registry = TaskRegistry()
    job = _job("x")
    registry.add(job)
    registry.accept(job, _task("t1"), now=0.0)
    registry.set_state(job, JobState.PROCESSING)
    job.history.append((TaskStatus.PROCESSING, 1.5))

    with pytest.raises(TaskTimeoutError) as caught:
        await job.result(timeout=0.01)

    error = caught.value
    assert error.task_id == "t1"
    assert error.timeout == 0.01
    assert error.stalled_in is TaskStatus.SUBMITTED  # the last Task the job holds
    assert error.history == ((TaskStatus.SUBMITTED, 0.0), (TaskStatus.PROCESSING, 1.5))
    assert not job.done()
    assert registry.get("t1") is job
    assert _counts(registry) == {JobState.PROCESSING: 1}
    assert registry.in_flight_by_endpoint[VIDEO] == 1

    registry.finish(job, JobState.SUCCEEDED, task=_task("t1", TaskStatus.SUCCEED))
    assert (await job.result()).status is TaskStatus.SUCCEED


@pytest.mark.anyio
async def test_wait_submitted_returns_once_the_job_is_accepted() -> None:
    """wait_submitted() wakes when the registry binds a task id, and returns the job."""
    registry = TaskRegistry()
    job = _job("x")
    registry.add(job)
    got: list[Job] = []

    async def wait() -> None:
        got.append(await job.wait_submitted())

    async with anyio.create_task_group() as tg:
        tg.start_soon(wait)
        await anyio.wait_all_tasks_blocked()
        assert got == []
        registry.accept(job, _task("t1"), now=0.0)
    assert got == [job]


@pytest.mark.anyio
async def test_closing_wakes_waiters_with_client_closed_error_naming_the_task() -> None:
    """After _close(), result() raises ClientClosedError telling how to re-attach the task."""
    registry = TaskRegistry()
    job = _job("x")
    registry.add(job)
    registry.accept(job, _task("t1"), now=0.0)
    errors: list[BaseException] = []

    async def wait() -> None:
        try:
            await job.result()
        except ClientClosedError as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(wait)
        await anyio.wait_all_tasks_blocked()
        job._close()
    assert len(errors) == 1
    assert "t1" in str(errors[0])
    assert "attach" in str(errors[0])
    with pytest.raises(ClientClosedError):
        await job.result()


# -- callbacks and repr -------------------------------------------------------------------------


def test_done_callback_fires_exactly_once_when_the_job_ends() -> None:
    """add_done_callback's callback runs once, at the end, with the job."""
    registry = TaskRegistry()
    job = _job("x")
    registry.add(job)
    calls: list[Job] = []
    job.add_done_callback(calls.append)
    registry.accept(job, _task("t1"), now=0.0)
    registry.set_state(job, JobState.PROCESSING)
    assert calls == []
    registry.finish(job, JobState.SUCCEEDED, task=_task("t1", TaskStatus.SUCCEED))
    registry.finish(job, JobState.SUCCEEDED, task=_task("t1", TaskStatus.SUCCEED))
    assert calls == [job]


def test_done_callback_added_after_the_end_fires_at_once() -> None:
    """A callback added to a finished job is called immediately, once."""
    registry = TaskRegistry()
    job = _job("x")
    registry.add(job)
    registry.finish(job, JobState.FAILED, error=ValidationError("f", "rule", 1))
    calls: list[Job] = []
    job.add_done_callback(calls.append)
    assert calls == [job]


def test_job_repr_carries_ids_and_state_but_no_request_content() -> None:
    """repr(job) names endpoint, ids and status, never the prompt or other request fields."""
    request = TextToVideoRequest(prompt="a very secret storyboard prompt")
    job = Job(VIDEO, request, "ext-1")
    text = repr(job)
    assert "videos/text2video" in text
    assert "ext-1" in text
    assert "pending" in text
    assert "secret" not in text
    assert "prompt" not in text


def test_a_raising_done_callback_is_logged_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One user callback raising neither stops the later ones nor escapes into the caller."""
    registry = TaskRegistry()
    job = _job("x")
    registry.add(job)
    calls: list[str] = []

    def bad(_: Job) -> None:
        calls.append("bad")
        raise RuntimeError("user bug")

    job.add_done_callback(bad)
    job.add_done_callback(lambda _: calls.append("good"))
    with caplog.at_level("ERROR", logger="kling_async"):
        registry.finish(job, JobState.SUCCEEDED, task=_task("t1", TaskStatus.SUCCEED))
    assert calls == ["bad", "good"]
    assert "user bug" in caplog.text


UNSENT = {JobState.PENDING, JobState.WAITING, JobState.SUBMITTING}
IN_FLIGHT = {JobState.SUBMITTED, JobState.PROCESSING}


@pytest.mark.parametrize("task_id", [None, "t-1"], ids=["unsent-job", "accepted-job"])
@pytest.mark.parametrize("old", list(JobState), ids=lambda s: s.value)
def test_every_transition_keeps_every_count_exact(old: JobState, task_id: str | None) -> None:
    """From any state to any other, the counts by state, the unsent count and the in-flight
    count by endpoint all match a recount; only a job with a task id is ever in flight."""
    for new in JobState:
        registry = TaskRegistry()
        job = _job()
        registry.add(job)
        job.task_id = task_id
        registry.set_state(job, old)
        registry.set_state(job, new)
        assert registry.counts == {s: int(s is new) for s in JobState}
        assert registry.unsent == int(new in UNSENT)
        in_flight = int(task_id is not None and new in IN_FLIGHT)
        assert registry.in_flight_by_endpoint[VIDEO] == in_flight, (old, new)


@pytest.mark.parametrize("module", ["kling_async._registry", "kling_async._submitter",
                                    "kling_async._poller", "kling_async.testing._tasks"])
def test_each_state_has_one_spelling_its_enum_member(module: str) -> None:
    """No module keeps copies of JobState or TaskStatus members (or their values) as globals:
    a state is spelled JobState.X / TaskStatus.X everywhere."""
    import importlib

    namespace = vars(importlib.import_module(module))
    copies = sorted(name for name, value in namespace.items()
                    if isinstance(value, (JobState, TaskStatus))
                    or (name.lstrip("_") in TaskStatus.__members__ and isinstance(value, str)))
    assert copies == []
