"""`done()` is a method on both `Task` and `Job`, as on asyncio's `Future`.

`Task.done` used to be a property; reading `done` as a bool without the call still gives the
right answer, with a DeprecationWarning (and `if job.done:` is no longer always true).
"""

from __future__ import annotations

import pytest

from kling_async import (
    KlingClient,
    PollPolicy,
    Task,
    TaskStatus,
    TextToVideoRequest,
    parse_task,
)
from kling_async.testing import KlingSimulator

SCALE = 50.0


def _task(status: str) -> Task:
    return parse_task({"task_id": "860", "task_status": status})


@pytest.mark.parametrize(("status", "ended"), [
    ("submitted", False), ("processing", False), ("succeed", True), ("failed", True),
])
def test_task_done_is_a_method(status: str, ended: bool) -> None:
    """task.done() says whether the task ended (succeed or failed), as a bool."""
    task = _task(status)
    assert task.done() is ended
    assert task.done() is task.status.is_terminal


@pytest.mark.parametrize("status", ["processing", "succeed"])
def test_task_done_without_the_call_still_answers_with_a_deprecation_warning(
    status: str,
) -> None:
    """`if task.done:` (the old property spelling) gives the right answer and warns."""
    task = _task(status)
    with pytest.warns(DeprecationWarning, match=r"call it \(task\.done\(\)"):
        answer = bool(task.done)
    assert answer is (status == "succeed")


def test_calling_done_does_not_warn() -> None:
    """The method spelling is silent (the suite turns every warning into an error)."""
    assert _task("failed").done() is True
    assert TaskStatus.FAILED.is_terminal


@pytest.mark.anyio
@pytest.mark.timeout(10)
async def test_job_done_is_a_method_and_not_always_true_uncalled() -> None:
    """job.done() is False while the task runs and True once it ended; `if job.done:`
    without the call gives the same answer (with a DeprecationWarning), never a bound method's
    constant True."""
    async with KlingSimulator(time_scale=SCALE, seed=3) as sim:
        sim.configure(video_median=4)
        poll = PollPolicy(expected_video=4).scaled(SCALE)
        async with KlingClient(api_key=sim.api_key, base_url=sim.base_url, poll=poll) as client:
            job = await client.submit(TextToVideoRequest(prompt="a cat"))
            assert job.done() is False
            with pytest.warns(DeprecationWarning):
                assert not job.done
            task = await job.result(timeout=30)
            assert job.done() is True
            assert task.done() is True
            with pytest.warns(DeprecationWarning):
                assert job.done
