"""``Timeouts.total`` (one try) and outside cancellation, end to end: KlingClient against a
scripted server whose replies come too late.

A try past ``Timeouts.total`` is a timeout inside the retry loop (a GET is retried, a create is
ambiguous); a cancellation from outside is never turned into a timeout, nor retried, on every
supported Python (on 3.10 the task cannot count cancel requests, so an outside cancel landing
in the same loop iteration as a try's deadline is the hard case).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import anyio
import anyio.lowlevel
import pytest

import kling_async as kling
from kling_async import Backoff, KlingClient, RetryPolicy, Timeouts
from tests._scripted import Reply, ScriptedServer, ok, task_json
from tests._simhelpers import ClientSettings

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack is 3.11+; mypy checks for 3.10

# -- the client's Timeouts.total -----------------------------------------------------------------

CREATE_PATH = "/v1/images/generations"
GET_PATH = "/v1/images/generations/t-1"
ATTEMPTS = 3
LATE = 1.0  # the scripted reply's delay: far past the limit below
LIMIT = 0.1


def make_client(base_url: str, /, **kwargs: Unpack[ClientSettings]) -> KlingClient:
    async def no_wait(seconds: float) -> None:
        await anyio.lowlevel.checkpoint()

    settings: ClientSettings = {
        "api_key": "test-key", "base_url": base_url,
        "retry": RetryPolicy(max_attempts=ATTEMPTS, backoff=Backoff(initial=0.001, maximum=0.01)),
        "timeouts": Timeouts(connect=2.0, total=LIMIT), "sleep": no_wait,
    }
    settings.update(kwargs)
    return KlingClient(**settings)


@pytest.mark.anyio
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


@pytest.mark.anyio
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


@pytest.mark.anyio
async def test_a_reply_within_the_limit_is_not_affected(server: ScriptedServer) -> None:
    """A reply that comes in time (but after a long, slow request timed out) is returned."""
    server.script("GET", GET_PATH, Reply(200, json=ok(task_json("t-1")), delay=LATE),
                  then=Reply(200, json=ok(task_json("t-1", "processing"))))
    async with make_client(server.url) as client:
        with anyio.fail_after(10):
            task = await client.get_task("images/generations", "t-1")
    assert task.status is kling.TaskStatus.PROCESSING
    assert server.count("GET", GET_PATH) == 2


@pytest.mark.anyio
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


@pytest.mark.anyio
async def test_no_total_limit_means_a_slow_reply_is_awaited(server: ScriptedServer) -> None:
    """``Timeouts(total=None)`` turns the limit off: a slow reply is simply awaited."""
    server.script("GET", GET_PATH, then=Reply(200, json=ok(task_json("t-1")), delay=0.3))
    async with KlingClient(api_key="k", base_url=server.url,
                           timeouts=Timeouts(total=None)) as client:
        with anyio.fail_after(10):
            task = await client.get_task("images/generations", "t-1")
    assert task.task_id == "t-1"


# -- outside cancellation --------------------------------------------------------------------


@pytest.mark.anyio
async def test_an_outside_cancel_of_a_slow_request_is_a_cancel_not_a_retry(
    server: ScriptedServer,
) -> None:
    """A caller's cancel scope ending a request in flight cancels the call: one request, no
    retry, no TransportError; the client keeps working afterwards."""
    server.script("GET", GET_PATH, Reply(200, json=ok(task_json("t-1")), delay=FOREVER),
                  then=Reply(200, json=ok(task_json("t-1", "processing"))))
    async with make_client(server.url, timeouts=Timeouts(connect=2.0, total=5.0)) as client:
        with anyio.move_on_after(0.2) as scope:
            await client.get_task("images/generations", "t-1")
        assert scope.cancelled_caught
        assert server.count("GET", GET_PATH) == 1
        with anyio.fail_after(10):
            task = await client.get_task("images/generations", "t-1")
    assert task.status is kling.TaskStatus.PROCESSING


class _JumpLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock can jump ahead: every timer due by then runs in the same loop
    iteration, in deadline order (here: a try's deadline and an outside cancel)."""

    offset = 0.0

    def time(self) -> float:
        return super().time() + self.offset


FOREVER = 1000.0
TRY_LIMIT = 5.0


async def _cancel_in_the_deadline_tick(loop: _JumpLoop, outside_first: bool) -> tuple[bool, int]:
    """Start a GET whose reply never comes, then make its try's deadline and an outside
    ``Task.cancel()`` fall due in one loop iteration; (was the GET cancelled, requests made)."""
    async with ScriptedServer() as server:
        server.script("GET", GET_PATH, then=Reply(200, json=ok(task_json()), delay=FOREVER))
        async with make_client(server.url,
                               timeouts=Timeouts(connect=2.0, total=TRY_LIMIT)) as client:
            task = asyncio.ensure_future(client.get_task("images/generations", "t-1"))
            for _ in range(500):  # until the request is in flight (bounded)
                if server.count("GET", GET_PATH):
                    break
                await asyncio.sleep(0.01)
            # The try's deadline is TRY_LIMIT after it started (a moment ago): an outside
            # cancel due just after now comes first, one due after 2 * TRY_LIMIT second.
            loop.call_at(loop.time() + (1e-6 if outside_first else 2 * TRY_LIMIT), task.cancel)
            loop.offset += 10 * TRY_LIMIT
            done, _ = await asyncio.wait([task], timeout=3.0)
            cancelled = task in done and task.cancelled()
            if not done:
                task.cancel()
                await asyncio.wait([task], timeout=3.0)
        return cancelled, server.count("GET", GET_PATH)


@pytest.mark.parametrize("outside_first", [True, False], ids=["outside-first", "deadline-first"])
def test_an_outside_cancel_in_the_tick_of_a_deadline_is_never_a_timeout(
    outside_first: bool,
) -> None:
    """When a try's deadline and an outside cancel fall due in the same loop iteration, in
    either order, the call is cancelled: not turned into a TimeoutError, not retried."""
    loop = _JumpLoop()
    try:
        cancelled, requests = loop.run_until_complete(
            _cancel_in_the_deadline_tick(loop, outside_first))
    finally:
        loop.close()
    assert cancelled
    assert requests == 1
