"""Reliability of both standards at once: a fault storm of legacy and new-standard jobs.

Legacy jobs (``videos/text2video``, ``images/generations``) are polled by path and reconciled
by the path segment; new-standard jobs (``text-to-video/...``, ``image-to-video/...``) are
polled through ``GET /tasks`` and reconciled by ``external_task_ids``.  Under every fault the
simulator injects, plus per-model 1303 limits, each job must end, none may be lost and none
created twice.  Bounds are counts and a time bound, never wall-clock asserts.
"""

from __future__ import annotations

import collections
from typing import Any

import anyio
import pytest

import kling_async as kling
from kling_async.testing import FaultConfig, KlingSimulator

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

SPEED = 1000.0
RETRY = kling.RetryPolicy(max_attempts=10, backoff=kling.Backoff(initial=0.002, maximum=0.03),
                          concurrency_min_delay=0.005)
IMG = "https://example.com/first.png"


def _request(i: int) -> Any:
    """Job ``i``: a quarter each of two legacy and two new-standard endpoints."""
    kind = i % 4
    if kind == 0:
        return kling.TextToVideoRequest(prompt=f"a dog, take {i}")
    if kind == 1:
        return kling.ImageGenerationRequest(prompt=f"a cat, take {i}", n=1 + i % 3)
    if kind == 2:
        return kling.load_request("text-to-video/kling-3.0-turbo", {"prompt": f"a fox {i}"})
    return kling.load_request("image-to-video/kling-2.6", {
        "contents": [{"type": "prompt", "text": f"an owl {i}"},
                     {"type": "first_frame", "url": IMG}],
        "settings": {"duration": 5}})


async def test_mixed_storm_ends_every_job_once_each_with_one_task() -> None:
    """120 jobs, half legacy and half new-standard, through 5xx, dropped connections, lost
    create replies, malformed bodies, 1302 bursts and per-model 1303 limits: every job ends
    succeeded within a time bound, and the simulator holds exactly one task per job's
    external id, on the job's own endpoint."""
    faults = FaultConfig(error_5xx=0.08, drop_before=0.05, drop_after_create=0.08,
                         malformed=0.03, rate_limited=0.04)
    async with KlingSimulator(
        time_scale=SPEED, seed=21, faults=faults, concurrency_limits={"*": 6},
        rate_limit_retry_after=0.01, image_median=5, video_median=10,
    ) as sim:
        async with kling.KlingClient(
            api_key=sim.api_key, base_url=sim.base_url, retry=RETRY, reconcile_delay=0,
            poll=kling.PollPolicy(expected_image=5, expected_video=10).scaled(SPEED),
            # Each model bucket starts above the simulator's 6: its 1303s must be met.
            limits=kling.Limits(max_in_flight=60, initial_in_flight=12),
        ) as client:
            jobs: list[kling.Job] = []
            with anyio.fail_after(90):  # the time bound: a stuck job fails the test
                async for job in client.as_completed(_request(i) for i in range(120)):
                    jobs.append(job)
            stats = client.statistics()
        sim_stats = sim.stats()
        stored = sim.tasks()

    assert len(jobs) == 120 and all(job.done() for job in jobs)
    assert all(job.status is kling.JobState.SUCCEEDED for job in jobs), collections.Counter(
        repr(job.error) for job in jobs)
    for kind in ("error_5xx", "drop_before", "drop_after_create", "malformed", "rate_limited"):
        assert sim_stats.faults.get(kind, 0) > 0, kind
    assert sim_stats.codes.get(1303, 0) > 0  # the per-model limits were met
    assert stats.reconciliations > 0
    per_external = collections.Counter(t.external_task_id for t in stored)
    assert len(stored) == 120 and max(per_external.values()) == 1
    by_external = {t.external_task_id: t for t in stored}
    assert set(by_external) == {job.external_task_id for job in jobs}
    for job in jobs:
        task = by_external[job.external_task_id]
        assert (task.task_id, task.endpoint) == (job.task_id, job.endpoint)
    assert collections.Counter(t.endpoint for t in stored) == {
        "videos/text2video": 30, "images/generations": 30,
        "text-to-video/kling-3.0-turbo": 30, "image-to-video/kling-2.6": 30}
    assert max(sim_stats.tasks_ids_per_query) <= 20
    assert max(sim_stats.peak_by_bucket.values()) <= 6
