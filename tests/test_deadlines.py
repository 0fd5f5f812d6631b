"""``Timeouts.total``: one loop timer for every request's time limit (``kling_async._deadlines``).

The unit tests drive ``Deadlines`` with bare futures standing in for requests, written the way
``Transport.call`` uses it; the end-to-end tests run the client against a scripted server
whose replies come too late.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from typing import Any

import anyio
import anyio.lowlevel
import pytest

import kling_async as kling
from kling_async import Backoff, KlingClient, RetryPolicy, Timeouts
from kling_async._deadlines import Deadlines
from tests._scripted import Reply, ScriptedServer, ok, task_json

pytestmark = pytest.mark.anyio

PY311 = sys.version_info >= (3, 11)


async def request(deadlines: Deadlines, reply: asyncio.Future[Any],
                  started: list[float] | None = None) -> Any:
    """What ``Transport.call`` does around one request: watch it, turn its deadline's
    cancellation into ``TimeoutError``, end the watch however it ends."""
    watch = deadlines.start()
    if started is not None:
        started.append(asyncio.get_running_loop().time())
    try:
        return await reply
    except asyncio.CancelledError:
        if Deadlines.expired(watch):
            raise TimeoutError("deadline") from None
        raise
    finally:
        Deadlines.end(watch)


def _cancelling() -> int:
    task = asyncio.current_task()
    assert task is not None
    return task.cancelling() if PY311 else 0


async def test_a_request_past_its_limit_raises_timeout_error() -> None:
    """A request still waiting when its limit passes ends with TimeoutError, never earlier
    than its deadline, and leaves no cancel request behind on its task."""
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(loop, 0.05)
    started: list[float] = []

    async def one() -> tuple[float, int]:
        with pytest.raises(TimeoutError):
            await request(deadlines, loop.create_future(), started)
        return loop.time(), _cancelling()

    ended, cancelling = await asyncio.create_task(one())
    assert ended >= started[0] + 0.05
    assert cancelling == 0
    assert len(deadlines) == 0


async def test_requests_that_end_in_time_are_never_cancelled() -> None:
    """Ended requests are dropped, not cancelled: a task that goes on waiting after its
    request ended is untouched when that request's deadline passes."""
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(loop, 0.02)

    async def one(i: int) -> int:
        reply = loop.create_future()
        loop.call_soon(reply.set_result, i)
        value = await request(deadlines, reply)
        await asyncio.sleep(0.08)  # well past the ended request's deadline
        return value

    assert await asyncio.gather(*(one(i) for i in range(20))) == list(range(20))


async def test_each_request_gets_its_own_deadline() -> None:
    """The one timer is re-armed for the next live request: a request started later times out
    at its own deadline, not the earlier one's, and each expires no sooner than its limit."""
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(loop, 0.1)
    started: list[float] = []
    ended: list[float] = []
    early = loop.create_future()

    async def one(reply: asyncio.Future[Any]) -> None:
        try:
            await request(deadlines, reply, started)
        except TimeoutError:
            ended.append(loop.time())

    first = asyncio.create_task(one(early))
    await asyncio.sleep(0.04)
    second = asyncio.create_task(one(loop.create_future()))
    await asyncio.sleep(0)
    early.set_result(None)  # the first ends in time; its deadline must not end the second
    with anyio.fail_after(5):  # a timer that is not re-armed would leave the second waiting
        await asyncio.gather(first, second)
    assert len(started) == 2 and len(ended) == 1
    assert ended[0] >= started[1] + 0.1


def _expire_now(deadlines: Deadlines) -> None:
    """Run the deadline timer's callback now (its own handle is cancelled: none is left)."""
    assert deadlines._timer is not None
    deadlines._timer.cancel()
    deadlines._expire()


@pytest.mark.parametrize("outside_first", [False, True], ids=["deadline-first", "outside-first"])
async def test_an_outside_cancel_is_never_turned_into_a_timeout(outside_first: bool) -> None:
    """When the deadline and another cancel hit the same request in the same tick, in either
    order, the task is cancelled (the outside cancel wins), not ended with TimeoutError."""
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(loop, 0.0)  # due at once; expired by hand below, before the timer
    task = asyncio.create_task(request(deadlines, loop.create_future()))
    await asyncio.sleep(0)  # the request is now watched and waiting
    if outside_first:
        task.cancel()
        _expire_now(deadlines)
    else:
        _expire_now(deadlines)
        task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()


@pytest.mark.skipif(not PY311, reason="Task.cancelling() is new in Python 3.11")
async def test_a_request_made_while_its_task_is_cancelling_still_times_out() -> None:
    """A request made while its task already has a cancel request pending (cleanup code)
    still times out, and that outside cancel request is kept, not taken back."""
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(loop, 0.05)

    async def cleanup() -> int:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        try:
            await asyncio.sleep(0)
        except asyncio.CancelledError:
            pass  # cancelling() stays 1 from here on
        with pytest.raises(TimeoutError):
            await request(deadlines, loop.create_future())
        return task.cancelling()

    with anyio.fail_after(5):
        assert await asyncio.create_task(cleanup()) == 1


async def test_an_anyio_scope_cancel_propagates_through_a_watched_request() -> None:
    """A request cancelled by an anyio scope is cancelled, with its watch ended."""
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(loop, 60.0)
    with anyio.move_on_after(0.01) as scope:
        await request(deadlines, loop.create_future())
    assert scope.cancelled_caught
    assert _cancelling() == 0
    assert len(deadlines) <= 1  # the ended watch is dropped by the next start() at the latest


async def test_a_swallowed_deadline_cancel_is_taken_back() -> None:
    """If the request's code swallows the deadline's cancellation and ends normally, the
    cancel request does not linger on the task (a later timeout scope would misread it)."""
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(loop, 0.01)

    async def swallowing() -> int:
        watch = deadlines.start()
        try:
            try:
                await loop.create_future()
            except asyncio.CancelledError:
                pass  # a misbehaving library
            return _cancelling()
        finally:
            Deadlines.end(watch)

    async def one() -> tuple[int, int]:
        during = await swallowing()
        return during, _cancelling()

    during, after = await asyncio.create_task(one())
    assert after == 0
    assert during == (1 if PY311 else 0)


async def test_the_watch_list_stays_bounded_behind_a_long_request() -> None:
    """One long request at the front does not make the FIFO keep every later, ended one:
    it is compacted, so it holds about twice the live requests at most."""
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(loop, 60.0, live=8)
    long_reply = loop.create_future()
    long_one = asyncio.create_task(request(deadlines, long_reply))
    await asyncio.sleep(0)
    peak = 0
    for i in range(2_000):
        reply = loop.create_future()
        reply.set_result(i)
        await request(deadlines, reply)
        peak = max(peak, len(deadlines))
    assert peak <= 2 * 8 + 64
    long_reply.set_result(None)
    await long_one


async def test_the_request_that_compacts_the_fifo_is_watched_too() -> None:
    """The request whose start() compacts the FIFO (ended entries behind a long one) still
    gets its deadline, and so does the long one."""
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(loop, 0.05, live=0)  # compacts at 64 entries
    front = asyncio.create_task(request(deadlines, loop.create_future()))
    await asyncio.sleep(0)
    for i in range(63):
        reply = loop.create_future()
        reply.set_result(i)
        await request(deadlines, reply)
    compacting = asyncio.create_task(request(deadlines, loop.create_future()))
    with anyio.fail_after(5):
        with pytest.raises(TimeoutError):
            await compacting
        with pytest.raises(TimeoutError):
            await front


async def test_closing_keeps_the_deadline_of_a_request_still_running() -> None:
    """close() (the client closing) does not drop the deadline of a request still running,
    e.g. one made from a user's own task; with nothing watched it stops the timer."""
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(loop, 0.05)
    task = asyncio.create_task(request(deadlines, loop.create_future()))
    await asyncio.sleep(0)
    deadlines.close()
    with anyio.fail_after(5):
        with pytest.raises(TimeoutError):
            await task
    deadlines.close()
    assert deadlines._timer is None


async def test_one_timer_serves_every_request() -> None:
    """However many requests run, the loop gets one deadline timer at a time (not one per
    request): counted through the loop's call_at."""
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(loop, 60.0)
    calls = 0
    call_at = loop.call_at

    def counting(*args: Any, **kwargs: Any) -> asyncio.TimerHandle:
        nonlocal calls
        calls += 1
        return call_at(*args, **kwargs)

    loop.call_at = counting  # type: ignore[method-assign]
    try:
        async def one(i: int) -> int:
            reply = loop.create_future()
            loop.call_soon(reply.set_result, i)
            return await request(deadlines, reply)

        await asyncio.gather(*(one(i) for i in range(500)))
    finally:
        del loop.call_at  # type: ignore[method-assign]
        deadlines.close()
    assert calls == 1


# -- end to end: the client's Timeouts.total -----------------------------------------------------

CREATE_PATH = "/v1/images/generations"
GET_PATH = "/v1/images/generations/t-1"
ATTEMPTS = 3
LATE = 1.0  # the scripted reply's delay: far past the limit below
LIMIT = 0.1


@pytest.fixture
async def server() -> AsyncIterator[ScriptedServer]:
    async with ScriptedServer() as srv:
        yield srv


def make_client(base_url: str, **kwargs: Any) -> KlingClient:
    async def no_wait(seconds: float) -> None:
        await anyio.lowlevel.checkpoint()

    return KlingClient(
        api_key="test-key", base_url=base_url,
        retry=RetryPolicy(max_attempts=ATTEMPTS, backoff=Backoff(initial=0.001, maximum=0.01)),
        timeouts=Timeouts(connect=2.0, total=LIMIT), sleep=no_wait, **kwargs,
    )


async def test_a_get_past_the_total_limit_is_retried_then_a_transport_error(
    server: ScriptedServer,
) -> None:
    """A GET whose reply comes after ``Timeouts.total`` is retried (max_attempts tries) and
    then raises TransportError saying it timed out."""
    server.script("GET", GET_PATH, then=Reply(200, json=ok(task_json("t-1")), delay=LATE))
    async with make_client(server.url) as client:
        with anyio.fail_after(10):
            with pytest.raises(kling.TransportError, match="TimeoutError"):
                await client.get_task("images/generations", "t-1")
    assert server.count("GET", GET_PATH) == ATTEMPTS


async def test_a_create_past_the_total_limit_is_ambiguous_and_never_resent(
    server: ScriptedServer,
) -> None:
    """A create whose reply comes after ``Timeouts.total`` may have created the task: one POST,
    then AmbiguousSubmissionError naming the external_task_id."""
    server.script("POST", CREATE_PATH, then=Reply(200, json=ok(task_json("t-1")), delay=LATE))
    async with make_client(server.url) as client:
        with anyio.fail_after(10):
            with pytest.raises(kling.AmbiguousSubmissionError) as caught:
                await client.create_task(kling.ImageGenerationRequest(prompt="a cat"),
                                         external_task_id="ext-late-1")
    assert server.count("POST", CREATE_PATH) == 1
    assert caught.value.external_task_id == "ext-late-1"


async def test_a_reply_within_the_limit_is_not_affected(server: ScriptedServer) -> None:
    """A reply that comes in time (but after a long, slow request timed out) is returned."""
    server.script("GET", GET_PATH, Reply(200, json=ok(task_json("t-1")), delay=LATE),
                  then=Reply(200, json=ok(task_json("t-1", "processing"))))
    async with make_client(server.url) as client:
        with anyio.fail_after(10):
            task = await client.get_task("images/generations", "t-1")
    assert task.status is kling.TaskStatus.PROCESSING
    assert server.count("GET", GET_PATH) == 2


async def test_a_job_whose_poll_times_out_is_polled_again_and_succeeds(
    server: ScriptedServer,
) -> None:
    """In orchestration, a poll past the limit is a failed poll, retried on the job's
    schedule: the job still succeeds, with one create."""
    done = task_json("t-1", "succeed",
                     task_result={"images": [{"index": 0, "url": "https://x.example/1.png"}]})
    server.script("POST", CREATE_PATH, then=Reply(200, json=ok(task_json("t-1"))))
    server.script("GET", GET_PATH, Reply(200, json=ok(done), delay=LATE),
                  then=Reply(200, json=ok(done)))
    poll = kling.PollPolicy(first_poll=0.0, min_interval=0.01, max_interval=0.02,
                            expected_image=0.01, bulk_threshold=0)
    async with make_client(server.url, poll=poll) as client:
        with anyio.fail_after(10):
            job = await client.submit(kling.ImageGenerationRequest(prompt="a cat"))
            task = await job.result()
    assert task.images[0].url == "https://x.example/1.png"
    assert job.status is kling.JobState.SUCCEEDED
    assert server.count("POST", CREATE_PATH) == 1
    assert server.count("GET", GET_PATH) >= 2


async def test_no_total_limit_means_no_deadline_timer(server: ScriptedServer) -> None:
    """``Timeouts(total=None)`` turns the limit off: a slow reply is simply awaited."""
    server.script("GET", GET_PATH, then=Reply(200, json=ok(task_json("t-1")), delay=0.3))
    async with KlingClient(api_key="k", base_url=server.url,
                           timeouts=Timeouts(total=None)) as client:
        with anyio.fail_after(10):
            task = await client.get_task("images/generations", "t-1")
        assert client._transport is not None and client._transport._deadlines is None
    assert task.task_id == "t-1"
