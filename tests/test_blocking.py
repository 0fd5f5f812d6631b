"""``BlockingKlingClient``, ``BlockingJob`` and ``kling_async.run`` against the simulator.

The simulator serves from its own thread and event loop (as a user's server would), so these
tests are plain synchronous code, except the ones that call from inside a running loop.  One
test runs a whole plain script in a subprocess.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from anyio.from_thread import start_blocking_portal

import kling_async
from kling_async import (
    Backoff,
    BlockingCallError,
    BlockingJob,
    BlockingKlingClient,
    ClientClosedError,
    ConfigurationError,
    Event,
    ImageGenerationRequest,
    JobState,
    JobSubmitted,
    KlingClient,
    KlingError,
    NotFoundError,
    PollPolicy,
    RetryPolicy,
    SubmissionAbortedError,
    TaskFailedError,
    TaskStatus,
    TaskTimeoutError,
    TextToVideoRequest,
    ValidationError,
)
from kling_async.testing import KlingSimulator

pytestmark = pytest.mark.timeout(60)

SCALE = 50.0
POLL = PollPolicy(expected_image=2, expected_video=4).scaled(SCALE)
FAST_RETRY = RetryPolicy(backoff=Backoff(initial=0.002, maximum=0.02), concurrency_min_delay=0.01)
#: text2video tasks on a ``serving(latency=NEVER)`` simulator do not end within a test.
NEVER = {"videos/text2video": 100_000.0}


@contextmanager
def serving(**config: Any) -> Iterator[KlingSimulator]:
    """A time-scaled simulator serving from its own thread and event loop."""
    simulator = KlingSimulator(time_scale=SCALE, seed=5, image_median=2, video_median=4,
                               **config)
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(simulator):
        yield simulator


@pytest.fixture(scope="module")
def sim() -> Iterator[KlingSimulator]:
    with serving(latency=NEVER) as simulator:
        yield simulator


def settings(sim: KlingSimulator) -> dict[str, Any]:
    return {"api_key": sim.api_key, "base_url": sim.base_url, "poll": POLL,
            "retry": FAST_RETRY, "reconcile_delay": 0}


@pytest.fixture
def client(sim: KlingSimulator) -> Iterator[BlockingKlingClient]:
    with BlockingKlingClient(**settings(sim)) as blocking:
        yield blocking


def image(i: int = 0) -> ImageGenerationRequest:
    return ImageGenerationRequest(prompt=f"image {i}")


def never_ending() -> TextToVideoRequest:
    return TextToVideoRequest(prompt="a video that takes forever")


def test_submit_returns_a_job_whose_result_blocks_until_the_task_succeeds(
    client: BlockingKlingClient,
) -> None:
    """submit() returns an accepted BlockingJob; result() blocks and returns the Task."""
    job = client.submit(image())
    assert isinstance(job, BlockingJob) and job.task_id is not None
    task = job.result(timeout=30)
    assert task.status is TaskStatus.SUCCEED and task.images
    assert job.done() and job.status is JobState.SUCCEEDED and job.error is None
    assert job.task == task and job.task_id == task.task_id
    assert job.external_task_id is not None and job.external_task_id.startswith("kas-")
    assert job.endpoint == "images/generations" and job.request == image()
    assert job.task_status is TaskStatus.SUCCEED and job.history


def test_a_failed_task_raises_task_failed_error_from_result() -> None:
    """result() raises the job's typed error: TaskFailedError with the server's reason."""
    with serving(fail_rate=1.0) as failing, BlockingKlingClient(**settings(failing)) as client:
        job = client.submit(image())
        with pytest.raises(TaskFailedError, match="risk control") as caught:
            job.result(timeout=30)
        assert job.error is caught.value and job.status is JobState.FAILED


def test_a_wait_that_times_out_keeps_the_job_and_close_wakes_it(sim: KlingSimulator) -> None:
    """result(timeout=) raises TaskTimeoutError and the job stays tracked; after close(),
    result() raises ClientClosedError naming the task to re-attach to."""
    client = BlockingKlingClient(**settings(sim))
    job = client.submit(never_ending())
    with pytest.raises(TaskTimeoutError):
        job.result(timeout=0.05)
    assert not job.done() and client.job(task_id=job.task_id) == job
    client.close()
    with pytest.raises(ClientClosedError, match=f"task_id='{job.task_id}'"):
        job.result()


def test_submit_many_then_as_completed_yields_the_same_jobs(
    client: BlockingKlingClient,
) -> None:
    """submit_many() returns jobs in input order; as_completed() yields each of them once,
    finished, as BlockingJobs equal to the submitted ones."""
    jobs = client.submit_many([image(i) for i in range(4)])
    assert [job.request for job in jobs] == [image(i) for i in range(4)]
    finished = list(client.as_completed(jobs))
    assert len(finished) == 4 and set(finished) == set(jobs)
    assert all(job.status is JobState.SUCCEEDED for job in finished)


def test_as_completed_is_a_plain_iterator_over_requests(client: BlockingKlingClient) -> None:
    """as_completed(requests) submits them and yields every job, finished, in a for loop."""
    seen = [job for job in client.as_completed(image(i) for i in range(6))]
    assert len({job.task_id for job in seen}) == 6
    assert all(job.done() and job.result().status is TaskStatus.SUCCEED for job in seen)


def test_leaving_as_completed_early_stops_it_while_jobs_are_still_running(
    client: BlockingKlingClient,
) -> None:
    """Closing the iterator while it waits for an unfinished job returns at once; that job
    stays tracked and the client closes cleanly."""
    stream = client.as_completed([never_ending(), image()])
    first = next(stream)
    assert first.request == image() and first.done()
    stream.close()
    with pytest.raises(StopIteration):
        next(stream)
    stats = client.statistics()
    assert stats.jobs_total == 2 and stats.jobs_by_state["succeeded"] == 1


def test_as_completed_raises_the_error_of_a_bad_item(client: BlockingKlingClient) -> None:
    """An item that is neither a job nor a request raises ValidationError from the loop."""
    with pytest.raises(ValidationError, match="request classes"):
        list(client.as_completed([object()]))


def test_low_level_calls_block_and_return_tasks(client: BlockingKlingClient) -> None:
    """create_task, get_task, get_task_by_external_id, attach, notify_callback, job and
    list_tasks work blocking."""
    created = client.create_task(image(), external_task_id="blocking-low-level-1")
    endpoint = "images/generations"
    assert client.get_task(endpoint, created.task_id).task_id == created.task_id
    found = client.get_task_by_external_id(endpoint, "blocking-low-level-1")
    assert found.task_id == created.task_id
    with pytest.raises(NotFoundError):
        client.get_task_by_external_id(endpoint, "blocking-no-such-task")
    attached = client.attach(endpoint, task_id=created.task_id)
    assert attached.wait_submitted() is attached
    assert client.notify_callback({"task_id": created.task_id}) == attached
    assert client.job(task_id=created.task_id) == attached
    assert attached.result(timeout=30).status is TaskStatus.SUCCEED
    client.create_task(image(1))  # two tasks at least, whatever ran before
    pages = list(client.list_tasks(endpoint, page_size=1, max_pages=2))
    assert [page.page_num for page in pages] == [1, 2] and all(len(p) == 1 for p in pages)


def test_close_stops_the_thread_is_idempotent_and_keeps_finished_jobs_readable(
    sim: KlingSimulator,
) -> None:
    """close() (twice is fine) leaves no thread running; finished jobs stay readable, and
    calls that need the client raise ClientClosedError."""
    before = set(threading.enumerate())
    client = BlockingKlingClient(**settings(sim))
    assert len(set(threading.enumerate()) - before) == 1
    job = client.submit(image())
    task = job.result(timeout=30)
    client.close()
    client.close()
    assert client.closed and set(threading.enumerate()) == before
    assert job.result() == task and job.task == task
    assert client.statistics().jobs_by_state["succeeded"] == 1
    with pytest.raises(ClientClosedError, match="closed"):
        client.submit(image())
    with pytest.raises(ClientClosedError):
        list(client.as_completed([image()]))


def test_a_client_left_open_is_closed_once_nothing_uses_it(sim: KlingSimulator) -> None:
    """A client never closed stays open while one of its jobs is in use, and its thread
    stops once neither it nor its jobs are referenced (at exit too: see the script test)."""
    before = set(threading.enumerate())
    task = BlockingKlingClient(**settings(sim)).submit(image()).result(timeout=30)
    assert task.status is TaskStatus.SUCCEED
    assert set(threading.enumerate()) == before
    pages = BlockingKlingClient(**settings(sim)).list_tasks("images/generations", page_size=1)
    assert len(next(pages)) == 1
    pages.close()
    assert set(threading.enumerate()) == before


def test_waiting_on_the_clients_own_thread_is_refused(sim: KlingSimulator) -> None:
    """A call that waits, made from an on_event handler or a before_send hook (the client's
    own loop thread), raises BlockingCallError instead of hanging; reads still work there."""
    refused: list[BaseException] = []
    read: list[int] = []
    holder: list[BlockingKlingClient] = []

    def on_event(event: Event) -> None:
        if isinstance(event, JobSubmitted) and not refused:
            try:
                holder[0].get_task("images/generations", event.task_id)
            except BlockingCallError as exc:
                refused.append(exc)
            read.append(holder[0].statistics().jobs_total)

    def before_send(job: BlockingJob) -> None:
        job.result()

    with BlockingKlingClient(**settings(sim), on_event=on_event) as client:
        holder.append(client)
        client.submit(image()).result(timeout=30)
        assert len(refused) == 1 and read == [1]
        assert isinstance(refused[0], KlingError) and isinstance(refused[0], RuntimeError)
        assert "own thread" in str(refused[0])
        with pytest.raises(SubmissionAbortedError) as caught:
            client.submit(image(1), before_send=before_send)
        assert isinstance(caught.value.__cause__, BlockingCallError)


@pytest.mark.anyio
async def test_it_works_from_inside_a_running_event_loop(sim: KlingSimulator) -> None:
    """Called from a thread that runs an event loop (a notebook cell), the blocking client
    works: its own loop is private (the caller's loop is blocked while it waits)."""
    with BlockingKlingClient(**settings(sim)) as client:
        task = client.submit(image()).result(timeout=30)
        assert task.status is TaskStatus.SUCCEED
        assert [job.done() for job in client.as_completed([image(1), image(2)])] == [True, True]
    assert kling_async.run(image(3), timeout=30, **settings(sim)).status is TaskStatus.SUCCEED


def test_run_creates_waits_and_returns_the_task(sim: KlingSimulator) -> None:
    """kling_async.run(request) returns the finished Task, with settings from env= and
    keyword overrides, and leaves no thread behind."""
    before = set(threading.enumerate())
    env = {"KLING_API_KEY": sim.api_key, "KLING_BASE_URL": sim.base_url}
    task = kling_async.run(image(), timeout=30, env=env, poll=POLL, reconcile_delay=0)
    assert task.status is TaskStatus.SUCCEED and task.images
    assert set(threading.enumerate()) == before


def test_run_raises_the_jobs_typed_error() -> None:
    """kling_async.run raises TaskFailedError when the task fails."""
    with serving(fail_rate=1.0) as failing, pytest.raises(TaskFailedError):
        kling_async.run(image(), timeout=30, **settings(failing))


def test_from_env_reads_the_environment_and_refuses_a_session(sim: KlingSimulator) -> None:
    """from_env() takes KLING_* settings like KlingClient.from_env; a session is refused."""
    env = {"KLING_API_KEY": sim.api_key, "KLING_BASE_URL": sim.base_url}
    with BlockingKlingClient.from_env(env, poll=POLL) as client:
        assert client.base_url == sim.base_url and "Blocking" in repr(client)
        assert client.submit(image()).result(timeout=30).status is TaskStatus.SUCCEED
    with pytest.raises(ConfigurationError, match="session"):
        BlockingKlingClient.from_env(env, session=None)
    with pytest.raises(ConfigurationError, match="no credentials"):
        BlockingKlingClient.from_env({})


def test_constructor_takes_every_kling_client_setting_but_session() -> None:
    """BlockingKlingClient's keyword parameters are KlingClient's (names, defaults, types),
    except the loop-bound session, so type checkers see every setting."""
    ours = dict(inspect.signature(BlockingKlingClient.__init__).parameters)
    theirs = dict(inspect.signature(KlingClient.__init__).parameters)
    del theirs["session"]
    assert list(ours) == list(theirs)
    for name, param in theirs.items():
        assert ours[name].default == param.default, name
        assert ours[name].annotation == param.annotation, name
        assert ours[name].kind == param.kind, name


PLAIN_SCRIPT = """
import json
import threading

import kling_async as kling

POLL = kling.PollPolicy(expected_image=2, expected_video=4).scaled(50.0)
task = kling.run(kling.ImageGenerationRequest(prompt="a plain script"), timeout=30, poll=POLL)
with kling.BlockingKlingClient.from_env(poll=POLL) as client:
    jobs = client.submit_many([kling.ImageGenerationRequest(prompt=f"p{i}") for i in range(3)])
    done = [job.result(timeout=30).status.value for job in jobs]
    for job in client.as_completed(kling.ImageGenerationRequest(prompt=f"q{i}") for i in range(5)):
        first = job.status.value
        break
one_liner = kling.BlockingKlingClient.from_env(poll=POLL).submit(
    kling.ImageGenerationRequest(prompt="one line")).result(timeout=30)
print(json.dumps({"run": task.status.value, "done": done, "first": first,
                  "one_liner": one_liner.status.value,
                  "threads": [t.name for t in threading.enumerate()]}))
left_open = kling.BlockingKlingClient.from_env(poll=POLL)  # never closed: closed at exit
left_open.submit(kling.ImageGenerationRequest(prompt="left open"))
"""


def test_a_plain_script_runs_without_asyncio_and_exits_clean(sim: KlingSimulator) -> None:
    """A script with no asyncio code (run, submit_many, an as_completed loop left early, a
    one-liner, a client never closed) works in a fresh interpreter with warnings as errors:
    nothing printed to stderr, only the main thread left, and it exits (status 0)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLING_")}
    env.update(KLING_API_KEY=sim.api_key, KLING_BASE_URL=sim.base_url)
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", textwrap.dedent(PLAIN_SCRIPT)],
        env=env, capture_output=True, text=True, timeout=40,
    )
    assert done.stderr == "" and done.returncode == 0
    assert json.loads(done.stdout) == {
        "run": "succeed", "done": ["succeed"] * 3, "first": "succeeded",
        "one_liner": "succeed", "threads": ["MainThread"],
    }
