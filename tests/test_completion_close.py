"""``as_completed()``'s stream while the client closes: nothing more is submitted, and the
error says which jobs were left (the stream driven directly, its wake-up order fixed)."""

from __future__ import annotations

import asyncio

import pytest

from kling_async import ClientClosedError, ImageGenerationRequest
from kling_async._capacity import AdaptiveCapacity
from kling_async._completion import Completions
from kling_async._registry import Job, JobState, TaskRegistry

pytestmark = pytest.mark.anyio


async def test_a_stream_woken_with_backlog_room_after_close_submits_nothing_more() -> None:
    """Closing ends unsent jobs (the backlog gets room) before the stream wakes: the stream
    does not take the next request (the client would refuse it with a bare "closed" error)
    but raises ClientClosedError naming its unfinished jobs and the requests left unsent."""
    registry = TaskRegistry()
    completions = Completions(registry, AdaptiveCapacity(1))  # backlog: 2 unsent jobs
    is_open = True
    submitted: list[Job] = []

    def submit(request: object) -> Job:
        assert is_open, "a request was submitted after the client closed"
        job = Job("image", request, f"ext-{len(submitted)}")
        registry.add(job)
        submitted.append(job)
        return job

    requests = (ImageGenerationRequest(prompt=f"p{i}") for i in range(10))
    stream = completions.stream(requests, asyncio.get_running_loop, submit, lambda: is_open)
    waiting = asyncio.ensure_future(stream.__anext__())
    for _ in range(5):  # the stream fills its backlog and waits
        await asyncio.sleep(0)
    assert len(submitted) == 2 and not waiting.done()

    is_open = False  # the client closes: it ends an unsent job, then wakes the streams
    registry.finish(submitted[0], JobState.FAILED, error=ClientClosedError("closed"))
    completions.close()
    assert await asyncio.wait_for(waiting, 5) is submitted[0]  # the job that ended
    with pytest.raises(ClientClosedError) as caught:
        await asyncio.wait_for(stream.__anext__(), 5)
    assert len(submitted) == 2
    assert "re-attach" in str(caught.value) and "not submitted" in str(caught.value)
