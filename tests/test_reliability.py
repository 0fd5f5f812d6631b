"""Reliability under faults, contention and shutdown, against the built-in simulator.

These assert what a paying user cares about: every job ends, none is lost, and the server
holds exactly one task per job.  Bounds are counts, never wall-clock limits.
"""

from __future__ import annotations

import collections
import gc
import warnings
from typing import TYPE_CHECKING

import anyio
import anyio.lowlevel
import pytest

import kling_async as kling
from kling_async.testing import FaultConfig, KlingSimulator
from tests._simhelpers import ClientSettings

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack is 3.11+; mypy checks for 3.10

pytestmark = pytest.mark.anyio

SPEED = 1000.0
FAST_RETRY = kling.RetryPolicy(
    max_attempts=8,
    backoff=kling.Backoff(initial=0.002, maximum=0.03),
    concurrency_min_delay=0.005,
)


def _requests(count: int) -> list[kling.Request]:
    return [
        kling.ImageGenerationRequest(prompt=f"a cat, take {i}", n=1 + i % 2)
        if i % 2
        else kling.OmniVideoRequest(prompt=f"a dog, take {i}", aspect_ratio="16:9",
                                    duration="5", mode="std")
        for i in range(count)
    ]


def _client(sim: KlingSimulator, **overrides: Unpack[ClientSettings]) -> kling.KlingClient:
    settings: ClientSettings = {
        "api_key": sim.api_key,
        "base_url": sim.base_url,
        "poll": kling.PollPolicy(expected_image=5, expected_video=10).scaled(SPEED),
        "retry": FAST_RETRY,
        "reconcile_delay": 0,
    }
    settings.update(overrides)
    return kling.KlingClient(**settings)


async def test_fault_storm_ends_every_job_with_exactly_one_task_each() -> None:
    """1,000 jobs through 5xx, drops, lost responses, malformed bodies and 1302 bursts with an
    account limit of 8: every job ends, and the simulator holds exactly one task per job."""
    faults = FaultConfig(
        error_5xx=0.10, drop_before=0.05, drop_after_create=0.05, malformed=0.02,
        rate_limited=0.03,
    )
    async with KlingSimulator(
        time_scale=SPEED, seed=11, concurrency_limit=8, faults=faults,
        rate_limit_retry_after=0.01, image_median=5, video_median=10,
    ) as sim:
        async with _client(sim) as client:
            outcomes: collections.Counter[str] = collections.Counter()
            jobs: list[kling.Job] = []
            async for job in client.as_completed(_requests(1000)):
                jobs.append(job)
                outcomes[job.status.value] += 1
                if job.error is not None:
                    assert isinstance(job.error, kling.KlingError), job.error
            stats = client.statistics()
        sim_stats = sim.stats()
        tasks = sim.tasks()

    assert len(jobs) == 1000
    assert sum(outcomes.values()) == 1000
    assert all(job.done() for job in jobs)
    # The storm really happened, including the ambiguous kinds.
    for kind in ("error_5xx", "drop_before", "drop_after_create", "malformed", "rate_limited"):
        assert sim_stats.faults.get(kind, 0) > 0, kind
    assert stats.reconciliations > 0
    # Exactly one task per job: no duplicate, none lost.
    per_external = collections.Counter(t.external_task_id for t in tasks)
    assert len(tasks) == 1000
    assert set(per_external) == {job.external_task_id for job in jobs}
    assert max(per_external.values()) == 1
    by_task = {job.task_id for job in jobs}
    assert by_task == {t.task_id for t in tasks}
    # Every job that has a task ended as its task did.
    assert outcomes["succeeded"] == 1000
    assert max(sim_stats.peak_concurrency.values()) <= 8


async def test_concurrency_storm_converges_to_the_account_limit() -> None:
    """Asked for 50 at once with an account limit of 5: the server never holds more than 5,
    the adaptive limit converges to it, rejections stay few, and all jobs finish."""
    async with KlingSimulator(time_scale=SPEED, seed=3, concurrency_limit=5,
                              image_median=5, video_median=10) as sim:
        async with _client(sim, limits=kling.Limits(max_in_flight=50)) as client:
            jobs = await client.submit_many(
                [kling.OmniVideoRequest(prompt=f"storm {i}", aspect_ratio="1:1",
                                        duration="5", mode="std") for i in range(50)]
            )
            for job in jobs:
                await job.result(timeout=60)
            stats = client.statistics()
        sim_stats = sim.stats()
        tasks = sim.tasks()

    assert all(job.status is kling.JobState.SUCCEEDED for job in jobs)
    assert len(tasks) == 50
    assert max(sim_stats.peak_concurrency.values()) <= 5
    # The first wave finds the limit; after that the limit stays near it.
    assert stats.capacity_limit <= 8
    assert stats.concurrency_rejections < 50 + 20


async def test_waiting_for_capacity_is_visible_not_a_failure() -> None:
    """With 3 jobs and room for 1, the others wait as "waiting for capacity" and then succeed."""
    seen: list[kling.Event] = []
    async with KlingSimulator(time_scale=SPEED, seed=5, image_median=5) as sim:
        async with _client(sim, limits=kling.Limits(max_in_flight=1),
                           on_event=seen.append) as client:
            jobs = [client.submit_nowait(kling.ImageGenerationRequest(prompt=f"p{i}"))
                    for i in range(3)]
            await anyio.lowlevel.checkpoint()
            assert client.statistics().jobs_by_state["waiting_for_capacity"] >= 1
            for job in jobs:
                await job.result(timeout=30)
    waits = [e for e in seen if isinstance(e, kling.WaitingForCapacity)]
    assert len(waits) == 2
    assert all(job.status is kling.JobState.SUCCEEDED for job in jobs)


async def test_shutdown_with_1000_jobs_in_flight_is_prompt_and_clean() -> None:
    """Leaving the context with 1,000 jobs in flight stops polling, leaves no stray task or
    unclosed session (warnings are errors here), and every waiter learns the client closed."""
    async with KlingSimulator(time_scale=1.0, seed=9, image_median=3600,
                              video_median=3600) as sim:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            async with _client(sim, limits=kling.Limits(max_in_flight=2000),
                               poll=kling.PollPolicy(first_poll=0.05, min_interval=0.05,
                                                     expected_image=1, expected_video=1)
                               ) as client:
                jobs = await client.submit_many(_requests(1000))
                assert client.statistics().jobs_by_state["submitted"] + client.statistics(
                ).jobs_by_state["processing"] == 1000
                await anyio.sleep(0.2)  # let the poller get going
            gc.collect()
        requests_at_close = sum(sim.stats().requests.values())
        await anyio.sleep(0.3)
        requests_later = sum(sim.stats().requests.values())

    assert requests_later == requests_at_close  # polling really stopped
    assert not any(job.done() for job in jobs)
    with pytest.raises(kling.ClientClosedError, match="re-attach"):
        await jobs[0].result()
    assert all(job.task_id for job in jobs)  # every task id is still there to re-attach to
