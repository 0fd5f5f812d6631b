"""Webhooks on any worker: two clients sharing a real PostgreSQL store (each standing for a
process behind one callback URL); the callbacks of one client's jobs reach the other, which
records them, and the owner's futures resolve from them with no GET."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import anyio
import asyncpg
import pytest

import kling_async as kling
from kling_async.testing import KlingSimulator, SimulatorConfig
from tests._simhelpers import SCALE
from tests._webhookhelpers import FOREVER, NO_POLLS, SECRET, Receiver, legacy_body, receiver, signed

pytestmark = pytest.mark.anyio


@pytest.fixture
def stores(postgres_dsn: str) -> Iterator[list[kling.PostgresStore]]:
    opened = [kling.PostgresStore(postgres_dsn) for _ in range(2)]
    yield opened
    for store in opened:
        store.close()


@asynccontextmanager
async def fleet_client(sim: KlingSimulator, hook: Receiver, store: kling.PostgresStore
                       ) -> AsyncIterator[kling.KlingClient]:
    """An open client of ``sim`` on ``store``, whose callbacks go to ``hook`` (signed), with
    no poll due during a test."""
    async with kling.KlingClient(api_key=sim.api_key, base_url=sim.base_url, store=store,
                                 poll=NO_POLLS, webhook_url=hook.url, webhook_secret=SECRET,
                                 limits=kling.Limits(max_in_flight=20)) as client:
        yield client


def gets(sim: KlingSimulator) -> int:
    """The API GETs the simulator answered (polls and lookups)."""
    return sum(n for (method, _, _), n in sim.stats().requests.items() if method == "GET")


async def recorded(dsn: str, task_id: str) -> str | None:
    """The status of the callback the store recorded for ``task_id``, if any."""
    conn = await asyncpg.connect(dsn)
    try:
        body = await conn.fetchval("SELECT body FROM kling_callbacks WHERE task_id = $1",
                                   task_id)
    finally:
        await conn.close()
    return None if body is None else str(json.loads(body)["task_status"])


async def test_callbacks_reaching_another_worker_resolve_the_owners_jobs_without_a_get(
        stores: list[kling.PostgresStore]) -> None:
    """Every callback of the owner's six jobs reaches the other client (each sent twice):
    it records them, the owner's jobs all succeed from them, and no GET is ever made."""
    config = SimulatorConfig(time_scale=SCALE, seed=11, image_median=2,
                             webhook_secrets=(SECRET,), callback_duplicate=1.0)
    async with KlingSimulator(config=config) as sim, receiver(sim) as hook:
        async with fleet_client(sim, hook, stores[1]) as other:
            hook.client = other  # the URL's worker: it owns no job
            async with fleet_client(sim, hook, stores[0]) as owner:
                jobs = await owner.submit_many(
                    [kling.ImageGenerationRequest(prompt=f"fox {i}") for i in range(6)])
                with anyio.fail_after(30):
                    for job in jobs:
                        assert (await job.result()).status is kling.TaskStatus.SUCCEED
                mine, theirs = owner.statistics(), other.statistics()
        assert gets(sim) == 0
    assert mine.requests_by_method.get("GET", 0) == 0 and mine.polls == 0
    assert mine.webhooks["applied"] == 6
    assert theirs.webhooks["relayed"] >= 6 and theirs.webhooks["duplicate"] >= 6
    assert theirs.webhooks["unknown"] == 0 and theirs.jobs_by_state.get("succeeded", 0) == 0


async def test_replays_and_older_statuses_through_another_worker_change_nothing(
        stores: list[kling.PostgresStore], postgres_dsn: str) -> None:
    """A signed end sent to the other client resolves the owner's job; the same delivery
    again, a later 'processing' and a later 'failed' change neither the job nor the recorded
    end; a body about a task no client knows is answered 200 as unknown and not recorded."""
    config = SimulatorConfig(time_scale=SCALE, seed=12, webhook_secrets=(SECRET,))
    async with KlingSimulator(config=config) as sim, receiver(sim) as hook:
        async with fleet_client(sim, hook, stores[1]) as other, \
                fleet_client(sim, hook, stores[0]) as owner:
            hook.client = other
            sim.configure(latency=FOREVER)
            job = await owner.submit(kling.ImageGenerationRequest(prompt="a fox"))
            assert job.task_id is not None and job.external_task_id is not None
            end = legacy_body(job.task_id, "succeed", job.external_task_id)
            end_headers = signed(end, SECRET, msg_id="msg-end")
            assert await hook.post(end, end_headers) == 200
            with anyio.fail_after(10):
                result = await job.result()
            assert result.status is kling.TaskStatus.SUCCEED
            assert await hook.post(end, end_headers) == 200  # the same delivery again
            for msg_id, status in (("msg-late", "processing"), ("msg-other", "failed")):
                body = legacy_body(job.task_id, status, job.external_task_id)
                assert await hook.post(body, signed(body, SECRET, msg_id=msg_id)) == 200
            stray = legacy_body("no-such-task", "succeed", "no-such-ext")
            assert await hook.post(stray, signed(stray, SECRET, msg_id="msg-stray")) == 200
            await anyio.sleep(0.3)  # any (wrong) relay of those would have landed by now
            assert job.status is kling.JobState.SUCCEEDED and job.task is not None
            assert job.task.status is kling.TaskStatus.SUCCEED
            assert await recorded(postgres_dsn, job.task_id) == "succeed"
            assert await recorded(postgres_dsn, "no-such-task") is None
            theirs, mine = other.statistics(), owner.statistics()
        assert gets(sim) == 0
    assert theirs.webhooks["duplicate"] == 1 and theirs.webhooks["unknown"] >= 1
    assert mine.webhooks["applied"] == 1 and mine.requests_by_method.get("GET", 0) == 0
