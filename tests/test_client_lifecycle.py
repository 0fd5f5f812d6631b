"""The client's lifecycle: one owning event loop, closing from any of its tasks, misuse refused.

A client belongs to the loop that opened it; a call from another loop or thread raises
``WrongEventLoopError`` at once.  ``aclose()`` may be awaited from any task of that loop (inside
``asyncio.wait_for``, a created task, another notebook cell) without cancelling the task that
opened the client; it is idempotent and safe to call concurrently.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import aiohttp
import anyio
import anyio.to_thread
import pytest

from kling_async import (
    AmbiguousSubmissionError,
    Backoff,
    ClientClosedError,
    ConfigurationError,
    Event,
    ImageGenerationRequest,
    Job,
    JobSucceeded,
    KlingClient,
    KlingError,
    RetryPolicy,
    TaskPage,
    TextToVideoRequest,
    Timeouts,
    TransportError,
    WrongEventLoopError,
)
from kling_async.testing import KlingSimulator
from tests._scripted import Drop, Reply, ScriptedServer, closed_port, ok, task_json
from tests._simhelpers import FAST_RETRY, client_for, until

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(20)]

IMG = "/v1/images/generations"


def image(i: int = 0) -> ImageGenerationRequest:
    return ImageGenerationRequest(prompt=f"image {i}")


def video(i: int = 0) -> TextToVideoRequest:
    return TextToVideoRequest(prompt=f"video {i}")


# -- the owning loop ------------------------------------------------------------------------------


async def _consume_as_completed(client: KlingClient) -> None:
    async for _ in client.as_completed([image()]):
        pass


async def _consume_list_tasks(client: KlingClient) -> None:
    async for _ in client.list_tasks("images/generations"):
        pass


async def _consume_events(client: KlingClient) -> None:
    async for _ in client.events():
        pass


ASYNC_CALLS: dict[str, Callable[[KlingClient], Awaitable[object]]] = {
    "submit": lambda c: c.submit(image()),
    "submit_many": lambda c: c.submit_many([image(1), image(2)]),
    "as_completed": _consume_as_completed,
    "create_task": lambda c: c.create_task(image()),
    "get_task": lambda c: c.get_task("images/generations", "t-1"),
    "get_task_by_external_id": lambda c: c.get_task_by_external_id("images/generations", "x"),
    "list_tasks": _consume_list_tasks,
    "attach": lambda c: c.attach("images/generations", task_id="t-1"),
    "events": _consume_events,
    "aclose": lambda c: c.aclose(),
}

SYNC_CALLS: dict[str, Callable[[KlingClient], object]] = {
    "submit_nowait": lambda c: c.submit_nowait(image()),
    "notify_callback": lambda c: c.notify_callback({"task_id": "t-1", "task_status": "succeed"}),
    "session": lambda c: c.session,
}


def _run_in_a_new_loop(call: Callable[[], Awaitable[object]]) -> BaseException | None:
    """Run ``call()`` in a fresh event loop of this thread (bounded); what it raised."""
    async def main() -> None:
        await asyncio.wait_for(call(), 3)

    try:
        asyncio.run(main())
    except BaseException as exc:
        return exc
    return None


def _call_outside_any_loop(call: Callable[[], object]) -> BaseException | None:
    try:
        call()
    except BaseException as exc:
        return exc
    return None


@pytest.mark.parametrize("name", list(ASYNC_CALLS))
async def test_a_coroutine_from_another_threads_loop_raises_at_once(
    sim: KlingSimulator, name: str
) -> None:
    """Every client coroutine awaited in another thread's event loop raises
    WrongEventLoopError at once (it used to stall silently), and nothing is sent."""
    call = ASYNC_CALLS[name]
    async with client_for(sim) as client:
        raised = await anyio.to_thread.run_sync(_run_in_a_new_loop, lambda: call(client))
        assert isinstance(raised, WrongEventLoopError), repr(raised)
        assert isinstance(raised, RuntimeError)
        assert "run_coroutine_threadsafe" in str(raised)
        stats = client.statistics()
        assert (stats.requests, stats.jobs_total) == (0, 0)
        job = await client.submit(image())  # the owning loop is unaffected
        assert (await job.result(timeout=5)).task_id == job.task_id


@pytest.mark.parametrize("name", list(SYNC_CALLS))
async def test_a_sync_method_from_a_thread_without_a_loop_raises(
    sim: KlingSimulator, name: str
) -> None:
    """submit_nowait, notify_callback and session from a thread with no event loop raise
    WrongEventLoopError and register nothing."""
    call = SYNC_CALLS[name]
    async with client_for(sim) as client:
        raised = await anyio.to_thread.run_sync(_call_outside_any_loop, lambda: call(client))
        assert isinstance(raised, WrongEventLoopError), repr(raised)
        assert client.statistics().jobs_total == 0


def test_a_client_left_open_when_its_loop_ends_is_closed_with_its_session() -> None:
    """A client never closed in an asyncio.run() that ended has its session closed by the
    loop's shutdown, and a later use in another loop raises ClientClosedError saying why."""
    client = KlingClient(api_key="k", base_url=f"http://127.0.0.1:{closed_port()}")
    sessions: list[aiohttp.ClientSession] = []

    async def first_cell() -> None:
        await client.__aenter__()
        sessions.append(client.session)

    async def second_cell() -> None:
        await client.get_task("images/generations", "t-1")

    asyncio.run(first_cell())
    assert sessions[0].closed
    with pytest.raises(ClientClosedError, match="event loop that opened it"):
        asyncio.run(second_cell())


# -- closing from any task ------------------------------------------------------------------------


async def test_aclose_inside_wait_for_leaves_the_opener_running(sim: KlingSimulator) -> None:
    """aclose() awaited inside asyncio.wait_for closes the client; the task that opened it
    is not cancelled and goes on."""
    client = client_for(sim)
    await client.__aenter__()
    session = client.session
    job = await client.submit(image())
    await asyncio.wait_for(client.aclose(), 5)
    await asyncio.sleep(0.01)  # a cancellation of this task would surface here
    assert session.closed
    assert job.done() or job.task_id is not None
    with pytest.raises(ClientClosedError):
        client.submit_nowait(image())


async def test_aclose_from_a_created_task_leaves_the_opener_running(
    sim: KlingSimulator,
) -> None:
    """aclose() in a task created inside the async with block closes the client; the
    opener keeps running and its jobs' waiters raise ClientClosedError."""
    sim.configure(video_median=10_000)
    async with client_for(sim) as client:
        job = await client.submit(video())
        await asyncio.create_task(client.aclose())
        with pytest.raises(ClientClosedError, match=str(job.task_id)):
            await job.result(timeout=5)
        await asyncio.sleep(0.01)
    assert "state=closed" in repr(client)


async def test_open_and_close_in_separate_tasks_like_notebook_cells(sim: KlingSimulator) -> None:
    """Opened in one task and closed in another (notebook cells, python -m asyncio), the
    client works in between and closes cleanly."""
    client = client_for(sim)
    await asyncio.create_task(client.__aenter__())
    session = client.session
    job = await asyncio.create_task(client.submit(image()))
    task = await asyncio.create_task(job.result(timeout=5))
    await asyncio.create_task(client.aclose())
    assert task.task_id == job.task_id
    assert session.closed


async def test_concurrent_aclose_calls_all_return_once_closed(sim: KlingSimulator) -> None:
    """Several tasks closing at once all return only once the session is closed."""
    sim.configure(video_median=10_000)
    closed_seen: list[bool] = []
    async with client_for(sim) as client:
        session = client.session
        await client.submit(video())

        async def close() -> None:
            await client.aclose()
            closed_seen.append(session.closed)

        async with anyio.create_task_group() as tg:
            for _ in range(4):
                tg.start_soon(close)
    assert closed_seen == [True] * 4


async def test_closing_inside_a_cancelled_scope_still_closes_the_session(
    sim: KlingSimulator,
) -> None:
    """An async with block ended by an enclosing cancel scope still closes the session."""
    sessions: list[aiohttp.ClientSession] = []
    with anyio.move_on_after(0.05) as scope:
        async with client_for(sim) as client:
            sessions.append(client.session)
            client.submit_nowait(image())
            await anyio.sleep(10)
    assert scope.cancelled_caught
    assert sessions[0].closed


async def test_cancelling_the_opener_closes_the_client_and_its_session(
    sim: KlingSimulator,
) -> None:
    """Cancelling the task inside async with (Ctrl-C under asyncio.run) closes the client
    and its session; the cancellation propagates as such."""
    sim.configure(video_median=10_000)
    client = client_for(sim)
    sessions: list[aiohttp.ClientSession] = []
    opened = anyio.Event()

    async def opener() -> None:
        async with client:
            sessions.append(client.session)
            client.submit_nowait(video())
            opened.set()
            await anyio.sleep_forever()

    task = asyncio.create_task(opener())
    await opened.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sessions[0].closed
    assert "state=closed" in repr(client)


async def test_a_cancelled_open_leaves_the_client_unopened_with_no_session() -> None:
    """An opening cancelled before it ran makes no session; the client can still be opened."""
    client = KlingClient(api_key="k", base_url=f"http://127.0.0.1:{closed_port()}")
    opening = asyncio.create_task(client.__aenter__())
    opening.cancel()
    with pytest.raises(asyncio.CancelledError):
        await opening
    with pytest.raises(ClientClosedError, match="not open"):
        _ = client.session
    async with client:
        assert not client.session.closed


# -- misuse ---------------------------------------------------------------------------------------


async def test_entering_an_open_client_again_is_refused_and_harmless(
    sim: KlingSimulator,
) -> None:
    """A second async with on an open client raises ClientClosedError; the client stays
    open and usable."""
    async with client_for(sim) as client:
        with pytest.raises(ClientClosedError, match="already open"):
            async with client:
                pass
        job = await client.submit(image())
        assert (await job.result(timeout=5)).task_id == job.task_id


@pytest.mark.parametrize("name", [n for n in ASYNC_CALLS if n not in ("aclose", "events")])
async def test_every_coroutine_after_aclose_raises_client_closed(
    sim: KlingSimulator, name: str
) -> None:
    """After aclose(), every client coroutine raises ClientClosedError and sends nothing."""
    async with client_for(sim) as client:
        pass
    with pytest.raises(ClientClosedError, match="closed"):
        await ASYNC_CALLS[name](client)
    assert client.statistics().requests == 0


@pytest.mark.parametrize("name", list(SYNC_CALLS))
async def test_every_sync_method_after_aclose_raises_client_closed(
    sim: KlingSimulator, name: str
) -> None:
    """After aclose(), submit_nowait, notify_callback and session raise ClientClosedError."""
    async with client_for(sim) as client:
        pass
    with pytest.raises(ClientClosedError):
        SYNC_CALLS[name](client)


async def test_an_error_in_async_with_propagates_unchanged_with_submissions_in_flight() -> None:
    """An exception leaving async with while creates are in flight is raised as itself (no
    ExceptionGroup, no CancelledError); the jobs end with a typed error; the session closes."""

    class Boom(Exception):
        pass

    async with ScriptedServer() as server:
        server.script("POST", IMG, then=Reply(200, json=ok(task_json()), delay=30))
        client = KlingClient(api_key="k", base_url=server.url, retry=FAST_RETRY)
        sessions: list[aiohttp.ClientSession] = []
        with pytest.raises(Boom) as caught:
            async with client:
                sessions.append(client.session)
                jobs = [client.submit_nowait(image(i)) for i in range(3)]
                await until(lambda: server.count("POST", IMG) == 3)
                raise Boom("user code failed")
        assert type(caught.value) is Boom
        assert sessions[0].closed
        for job in jobs:
            with pytest.raises(KlingError):
                await job.result(timeout=5)


async def test_closing_while_as_completed_runs_in_another_task(sim: KlingSimulator) -> None:
    """A close from one task ends an as_completed loop running in another with
    ClientClosedError; the opener goes on."""
    sim.configure(video_median=10_000)
    client = client_for(sim)
    await client.__aenter__()

    async def consume() -> list[Job]:
        return [job async for job in client.as_completed([video(i) for i in range(3)])]

    consumer = asyncio.create_task(consume())
    await until(lambda: client.statistics().jobs_by_state["submitted"] == 3)
    await asyncio.create_task(client.aclose())
    with pytest.raises(ClientClosedError, match="as_completed"):
        await consumer
    await asyncio.sleep(0.01)


async def test_events_readers_end_when_the_client_closes(sim: KlingSimulator) -> None:
    """events() readers subscribed before opening and while open end at close with what
    happened; a reader started after close ends at once."""
    client = client_for(sim)

    async def read() -> list[Event]:
        with anyio.fail_after(5):
            return [event async for event in client.events()]

    early = asyncio.create_task(read())
    await asyncio.sleep(0)
    async with client:
        during = asyncio.create_task(read())
        await asyncio.sleep(0)
        job = await client.submit(image())
        await job.result(timeout=5)
    for reader in (early, during):
        assert any(isinstance(e, JobSucceeded) for e in await reader)
    assert await read() == []


async def test_events_reader_of_a_client_closed_unopened_ends() -> None:
    """aclose() on a client that was never opened ends its events() readers."""
    client = KlingClient(api_key="k", base_url=f"http://127.0.0.1:{closed_port()}")

    async def read() -> list[Event]:
        with anyio.fail_after(5):
            return [event async for event in client.events()]

    reader = asyncio.create_task(read())
    await asyncio.sleep(0)
    await client.aclose()
    assert await reader == []


# -- background failures --------------------------------------------------------------------------


async def test_a_failure_of_the_background_work_is_logged_and_fails_jobs_typed(
    sim: KlingSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    """If the poller itself fails, the error is logged, waiting jobs raise a typed error
    naming their task (not CancelledError), later calls say why, and async with exits
    without an ExceptionGroup; the opener is never cancelled."""
    sim.configure(video_median=10_000)
    broken = False

    def clock() -> float:
        if broken:
            raise RuntimeError("clock broke")
        return time.monotonic()

    async with client_for(sim, clock=clock) as client:
        job = await client.submit(video())
        broken = True
        with pytest.raises(TransportError, match=r"internal error.*re-attach"):
            await job.result(timeout=5)
        with pytest.raises(ClientClosedError, match="background work failed"):
            client.submit_nowait(video(1))
        await asyncio.sleep(0.01)
    assert any(r.levelno == logging.ERROR and "background work failed" in r.getMessage()
               for r in caplog.records)


# -- the transport's keep-alive -------------------------------------------------------------------


async def test_a_create_is_never_resent_when_a_kept_alive_connection_drops() -> None:
    """A create POST on a reused keep-alive connection that the server drops is sent once:
    the SDK reports it ambiguous (and never lets aiohttp re-send it)."""
    async with ScriptedServer() as server:
        server.script("GET", IMG + "/t-0", then=Reply(200, json=ok(task_json("t-0"))))
        server.script("POST", IMG, Drop(), then=Reply(200, json=ok(task_json("t-1"))))
        client = KlingClient(api_key="k", base_url=server.url, retry=FAST_RETRY,
                             timeouts=Timeouts(connect=2.0, read=2.0))
        async with client:
            await client.get_task("images/generations", "t-0")  # leaves a kept-alive conn.
            with pytest.raises(AmbiguousSubmissionError):
                await client.create_task(image(), external_task_id="ext-1")
            assert client.statistics().requests_by_method.get("POST") == 1
        assert server.count("POST", IMG) == 1


async def _first_page(client: KlingClient) -> TaskPage | None:
    async for page in client.list_tasks("images/generations"):
        return page
    return None


IN_FLIGHT_CALLS: dict[str, Callable[[KlingClient], Coroutine[Any, Any, object]]] = {
    "get_task": lambda c: c.get_task("images/generations", "t-1"),
    "get_task_by_external_id": lambda c: c.get_task_by_external_id("images/generations", "e"),
    "list_tasks": _first_page,
}


@pytest.mark.parametrize("name", list(IN_FLIGHT_CALLS))
async def test_a_call_under_way_when_another_task_closes_raises_client_closed(name: str) -> None:
    """A low-level call waiting for its reply when another task closes the client raises
    ClientClosedError (not aiohttp's bare RuntimeError "Session is closed")."""
    async with ScriptedServer() as server:
        slow = Reply(200, json=ok(task_json()), delay=30)
        for method, path in (("GET", IMG + "/t-1"), ("GET", IMG + "/e"), ("GET", IMG),
                             ("POST", IMG)):
            server.script(method, path, then=slow)
        client = KlingClient(api_key="k", base_url=server.url, retry=FAST_RETRY)
        await client.__aenter__()
        call = asyncio.create_task(IN_FLIGHT_CALLS[name](client))
        await until(lambda: len(server.requests) == 1)
        await client.aclose()
        assert client.closed
        with anyio.fail_after(5), pytest.raises(ClientClosedError, match="under way"):
            await call


async def test_a_create_under_way_when_another_task_closes_stays_ambiguous() -> None:
    """A create POST cut off by closing the client raises AmbiguousSubmissionError naming
    its external_task_id (the task may exist), never a plain closed error."""
    async with ScriptedServer() as server:
        server.script("POST", IMG, then=Reply(200, json=ok(task_json()), delay=30))
        client = KlingClient(api_key="k", base_url=server.url, retry=FAST_RETRY)
        await client.__aenter__()
        call = asyncio.create_task(client.create_task(image(), external_task_id="ext-9"))
        await until(lambda: server.count("POST", IMG) == 1)
        await client.aclose()
        with anyio.fail_after(5), pytest.raises(AmbiguousSubmissionError, match="ext-9"):
            await call
        assert server.count("POST", IMG) == 1


async def test_a_get_on_a_dropped_kept_alive_connection_is_retried_by_the_sdk_only() -> None:
    """A poll GET whose kept-alive connection drops is re-sent only by the SDK's own retry
    loop (counted and reported), never a second time by aiohttp underneath."""
    async with ScriptedServer() as server:
        server.script("GET", IMG + "/t-0", then=Reply(200, json=ok(task_json("t-0"))))
        server.script("GET", IMG + "/t-1", Drop(), Drop(),
                      then=Reply(200, json=ok(task_json("t-1"))))
        retry = RetryPolicy(max_attempts=3, backoff=Backoff(initial=0.001, maximum=0.01))
        async with KlingClient(api_key="k", base_url=server.url, retry=retry) as client:
            await client.get_task("images/generations", "t-0")  # leaves a kept-alive conn.
            task = await client.get_task("images/generations", "t-1")
            stats = client.statistics()
        assert task.task_id == "t-1"
        assert server.count("GET", IMG + "/t-1") == 3
        assert (stats.requests, stats.retries) == (4, 2)


async def test_a_closed_borrowed_session_is_refused_on_entry() -> None:
    """Entering a client given an already closed session= raises ConfigurationError at
    once (not aiohttp's bare RuntimeError on the first request)."""
    session = aiohttp.ClientSession()
    await session.close()
    client = KlingClient(api_key="k", base_url=f"http://127.0.0.1:{closed_port()}",
                         session=session)
    with pytest.raises(ConfigurationError, match="session= is closed"):
        async with client:
            pass
    with pytest.raises(ClientClosedError):
        await client.get_task("images/generations", "t-1")


def test_entering_outside_a_running_asyncio_loop_is_a_typed_error() -> None:
    """Driving __aenter__ with no asyncio loop running (another async library, a manual
    send) raises WrongEventLoopError naming asyncio; nothing is opened."""
    client = KlingClient(api_key="k", base_url=f"http://127.0.0.1:{closed_port()}")
    opening = client.__aenter__()
    with pytest.raises(WrongEventLoopError, match="asyncio"):
        opening.send(None)
    assert "state=unopened" in repr(client)
