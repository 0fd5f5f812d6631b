"""End to end against the simulator, for after the issue-14 merge: the SDK (newrun, newreq)
and the simulator (newsim) together, with raw counts from SimStats."""

from __future__ import annotations

import anyio
import pytest

import kling_async as kling
from kling_async import Limits
from kling_async._models.standard import NewTextToVideoRequest
from kling_async.testing import FaultConfig, KlingSimulator
from tests._simhelpers import SCALE, client_for

pytestmark = pytest.mark.anyio


def turbo(i: int) -> NewTextToVideoRequest:
    return NewTextToVideoRequest(model="kling-3.0-turbo", prompt=f"a cat {i}")


async def test_200_new_standard_jobs_poll_through_tasks_in_batches() -> None:
    """200 new-standard jobs in flight: every one succeeds, at most 1.25 requests per job
    (create included), never more than 20 ids per GET /tasks."""
    async with KlingSimulator(time_scale=SCALE, seed=5, video_median=4) as sim:
        async with client_for(sim, limits=Limits(max_in_flight=200)) as client:
            jobs = [client.submit_nowait(turbo(i)) for i in range(200)]
            with anyio.fail_after(60):
                tasks = [await job.result() for job in jobs]
        stats = sim.stats()
    assert all(t.status is kling.TaskStatus.SUCCEED for t in tasks)
    assert stats.tasks_created == 200 and stats.duplicates == 0
    assert stats.total_requests <= 1.25 * 200
    assert max(stats.tasks_ids_per_query) <= 20


async def test_ambiguous_new_standard_creates_are_reconciled_by_external_ids() -> None:
    """Every create reply lost after the task was made: each job is found again through
    GET /tasks?external_task_ids= and none is created twice."""
    faults = FaultConfig(drop_after_create=0.5)
    async with KlingSimulator(time_scale=SCALE, seed=9, video_median=4, faults=faults) as sim:
        async with client_for(sim) as client:
            jobs = [client.submit_nowait(turbo(i)) for i in range(10)]
            with anyio.fail_after(60):
                tasks = [await job.result() for job in jobs]
        stats = sim.stats()
    assert len({t.task_id for t in tasks}) == 10
    assert stats.tasks_created == 10 and stats.duplicates == 0
    assert stats.faults["drop_after_create"] >= 1


async def test_ambiguous_legacy_creates_are_reconciled_by_the_path_segment() -> None:
    """Legacy creates whose replies are lost are found by GET /v1/<path>/{external_task_id};
    a create lost before it was made (400 / 1201 "Task not found") is sent again once."""
    faults = FaultConfig(drop_after_create=0.3, drop_before=0.3, drop_before_scope="post")
    async with KlingSimulator(time_scale=SCALE, seed=4, video_median=4, faults=faults) as sim:
        async with client_for(sim) as client:
            jobs = [client.submit_nowait(kling.TextToVideoRequest(prompt=f"dog {i}"))
                    for i in range(10)]
            with anyio.fail_after(60):
                tasks = [await job.result() for job in jobs]
        stats = sim.stats()
    assert len({t.task_id for t in tasks}) == 10
    assert stats.tasks_created == 10 and stats.duplicates == 0


async def test_a_jwt_client_sends_no_new_standard_request() -> None:
    """A JWT (AK/SK) client refuses a new-standard submit before any I/O."""
    async with KlingSimulator() as sim:
        async with kling.KlingClient(access_key=sim.access_key, secret_key=sim.secret_key,
                                     base_url=sim.base_url) as client:
            with pytest.raises(kling.ConfigurationError):
                await client.submit(turbo(0))
        assert sim.stats().total_requests == 0


async def test_list_tasks_reads_every_page_of_post_tasks() -> None:
    """client.list_tasks() follows POST /tasks cursors: every task, newest first."""
    async with KlingSimulator(time_scale=SCALE, seed=2, latency=0) as sim:
        async with client_for(sim) as client:
            made = [await client.create_task(turbo(i)) for i in range(7)]
            listed = [t async for t in client.list_tasks(limit=3, status="succeeded")]
        stats = sim.stats()
    assert [t.task_id for t in listed] == [t.task_id for t in made][::-1]
    assert stats.tasks_listings == 3
