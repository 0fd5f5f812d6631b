"""NEEDS the newsim branch (the simulator serving the 2026 API): end to end, the new standard's
runtime against the built-in simulator.  Before newsim is merged these fail (the simulator then
serves neither ``/{family}/{model}`` creates nor ``/tasks``); tests/test_new_standard_runtime.py
covers the same behaviour against a scripted server.

New-standard jobs submitted, polled through ``GET /tasks?task_ids=`` (never over the id limit),
reconciled by ``/tasks?external_task_ids=`` under lost create replies, listed with ``POST
/tasks``; legacy jobs reconciled by the path segment against the 2026 "Task not found" answer;
AK/SK clients refused on the new standard before any I/O.
"""

from __future__ import annotations

import collections
from typing import Any

import pytest

import kling_async as kling
from kling_async import KlingClient, Limits, PollPolicy, TaskStatus
from kling_async.testing import FaultConfig, KlingSimulator

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

SPEED = 1000.0
T2V = "text-to-video/kling-3.0-turbo"
RETRY = kling.RetryPolicy(max_attempts=8, backoff=kling.Backoff(initial=0.002, maximum=0.03),
                          concurrency_min_delay=0.005)
POLL = PollPolicy(expected_image=5, expected_video=10).scaled(SPEED)


def client_of(sim: KlingSimulator, **overrides: Any) -> KlingClient:
    settings: dict[str, Any] = {"api_key": sim.api_key, "base_url": sim.base_url, "poll": POLL,
                                "retry": RETRY, "reconcile_delay": 0}
    settings.update(overrides)
    return KlingClient(**settings)


def t2v(i: int) -> Any:
    return kling.load_request(T2V, {"prompt": f"a fox, take {i}"})


async def test_new_standard_jobs_are_polled_in_batches_within_the_id_limit() -> None:
    """120 new-standard jobs all succeed with video outputs; every ``GET /tasks`` asks for at
    most 20 ids (the simulator refuses more), and there are far fewer such calls than polls."""
    async with KlingSimulator(time_scale=SPEED, seed=3, video_median=10) as sim:
        async with client_of(sim) as client:
            jobs = [job async for job in client.as_completed(t2v(i) for i in range(120))]
            stats = client.statistics()
        sim_stats = sim.stats()
    tasks = [await job.result() for job in jobs]
    assert all(t.status is TaskStatus.SUCCEED and t.raw_status == "succeeded" for t in tasks)
    assert all(t.videos and t.videos[0].url for t in tasks)
    assert max(sim_stats.tasks_ids_per_query) <= 20
    assert sim_stats.codes.get(1201, 0) == 0
    assert stats.task_queries == sim_stats.tasks_queries
    assert sim_stats.tasks_ids_queried >= 120
    assert stats.task_queries * 2 <= sim_stats.tasks_ids_queried  # batched, not one by one


async def test_a_lower_id_limit_is_respected() -> None:
    """``Limits(max_ids_per_task_query=5)``: no ``/tasks`` call asks for more than 5 ids."""
    async with KlingSimulator(time_scale=SPEED, seed=4, video_median=10) as sim:
        async with client_of(sim, limits=Limits(max_ids_per_task_query=5)) as client:
            jobs = [job async for job in client.as_completed(t2v(i) for i in range(30))]
        sim_stats = sim.stats()
    assert all(job.status.value == "succeeded" for job in jobs)
    assert max(sim_stats.tasks_ids_per_query) <= 5


async def test_mixed_fault_storm_loses_none_and_duplicates_none() -> None:
    """Legacy and new-standard jobs through 5xx, drops, lost create replies and malformed
    bodies: every job succeeds and the simulator holds exactly one task per job."""
    faults = FaultConfig(error_5xx=0.08, drop_before=0.05, drop_after_create=0.08,
                         malformed=0.02)
    requests: list[Any] = [
        t2v(i) if i % 2 else kling.TextToVideoRequest(prompt=f"a dog, take {i}")
        for i in range(300)
    ]
    async with KlingSimulator(time_scale=SPEED, seed=12, faults=faults, video_median=10) as sim:
        async with client_of(sim) as client:
            jobs = [job async for job in client.as_completed(requests)]
            stats = client.statistics()
        sim_stats = sim.stats()
        stored = sim.tasks()
    assert sim_stats.faults.get("drop_after_create", 0) > 0 and stats.reconciliations > 0
    assert all(job.status.value == "succeeded" for job in jobs), collections.Counter(
        repr(job.error) for job in jobs)
    per_external = collections.Counter(t.external_task_id for t in stored)
    assert len(stored) == 300 and max(per_external.values()) == 1
    assert {job.task_id for job in jobs} == {t.task_id for t in stored}


async def test_listing_and_lookups_of_new_standard_tasks() -> None:
    """``list_tasks()`` lists the new-standard tasks (filtered by status), ``get_task`` and
    ``get_task_by_external_id`` find one, and an unknown external id is NotFoundError."""
    async with KlingSimulator(time_scale=SPEED, seed=5, latency=0) as sim:
        async with client_of(sim) as client:
            jobs = await client.submit_many([t2v(i) for i in range(7)])
            for job in jobs:
                await job.result(timeout=60)
            listed = [t async for t in client.list_tasks(status="succeed", limit=3)]
            one = await client.get_task(T2V, jobs[0].task_id or "")
            by_ext = await client.get_task_by_external_id(T2V, jobs[1].external_task_id or "")
            with pytest.raises(kling.NotFoundError):
                await client.get_task_by_external_id(T2V, "no-such-external-id")
    assert {job.task_id for job in jobs} <= {t.task_id for t in listed}
    assert all(t.status is TaskStatus.SUCCEED for t in listed)
    assert one.task_id == jobs[0].task_id and by_ext.task_id == jobs[1].task_id


async def test_legacy_lookups_use_the_path_segment_and_the_2026_not_found() -> None:
    """The default legacy lookup (path segment) finds a task by external id, and the
    simulator's 400 / 1201 "Task not found" for an unknown one is NotFoundError."""
    async with KlingSimulator(time_scale=SPEED, seed=6, latency=0) as sim:
        async with client_of(sim) as client:
            job = await client.submit(kling.ImageGenerationRequest(prompt="a cat"),
                                      external_task_id="legacy-ext-1")
            found = await client.get_task_by_external_id("images/generations", "legacy-ext-1")
            with pytest.raises(kling.NotFoundError):
                await client.get_task_by_external_id("images/generations", "nope-1")
    assert found.task_id == job.task_id


async def test_a_jwt_client_works_on_legacy_and_is_refused_on_the_new_standard() -> None:
    """AK/SK credentials: a legacy job succeeds; a new-standard submit is ConfigurationError
    and never reaches the simulator."""
    async with KlingSimulator(time_scale=SPEED, seed=8, latency=0) as sim:
        async with KlingClient(access_key=sim.access_key, secret_key=sim.secret_key,
                               base_url=sim.base_url, poll=POLL, retry=RETRY) as client:
            job = await client.submit(kling.ImageGenerationRequest(prompt="a cat"))
            await job.result(timeout=60)
            with pytest.raises(kling.ConfigurationError, match="KLING_API_KEY"):
                await client.submit(t2v(0))
        sim_stats = sim.stats()
    assert sim_stats.count(method="POST", route=f"/{T2V}") == 0
    assert sim_stats.count(route="/tasks") == 0
