"""``KlingClient(store=PostgresStore(dsn))``: one account limit for several processes' clients
(each store stands for one process), on a real PostgreSQL against the simulator."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator

import anyio
import asyncpg
import pytest

import kling_async as kling
from kling_async.testing import KlingSimulator, SimulatorConfig

pytestmark = pytest.mark.anyio
SCALE = 20.0
LIMIT = 2


@pytest.fixture
async def limited_sim() -> AsyncIterator[KlingSimulator]:
    config = SimulatorConfig(time_scale=SCALE, seed=9, latency_sigma=0.2,
                             concurrency_limit=LIMIT)
    async with KlingSimulator(config=config) as simulator:
        yield simulator


@pytest.fixture
def stores(postgres_dsn: str) -> Iterator[list[kling.PostgresStore]]:
    opened = [kling.PostgresStore(postgres_dsn) for _ in range(3)]
    yield opened
    for store in opened:
        store.close()


def _client(sim: KlingSimulator, store: kling.PostgresStore, limit: int = LIMIT
            ) -> kling.KlingClient:
    return kling.KlingClient(api_key=sim.api_key, base_url=sim.base_url, store=store,
                             poll=kling.PollPolicy().scaled(SCALE),
                             limits=kling.Limits(max_in_flight=limit))


async def _slots(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM kling_slots WHERE batch IS NULL"))
    finally:
        await conn.close()


async def test_clients_of_several_processes_share_one_account_limit(
        limited_sim: KlingSimulator, stores: list[kling.PostgresStore],
        postgres_dsn: str) -> None:
    """Three clients, each allowed two in flight, hold at most two together: no 1303, every
    job succeeds, and every slot is freed once the tasks end."""
    async def app_worker(store: kling.PostgresStore, tag: str) -> None:
        async with _client(limited_sim, store) as client:
            jobs = [client.submit_nowait(kling.ImageGenerationRequest(prompt=f"{tag} {i}"))
                    for i in range(4)]
            for job in jobs:
                await job.result()

    with anyio.fail_after(120):
        async with anyio.create_task_group() as tg:
            for i, store in enumerate(stores):
                tg.start_soon(app_worker, store, f"w{i}-{secrets.token_hex(2)}")
    stats = limited_sim.stats()
    assert 1303 not in stats.codes and max(stats.peak_concurrency.values()) <= LIMIT
    assert stats.tasks_created == 12
    with anyio.fail_after(30):
        for _ in range(300):  # the frees are written in the background: bounded wait
            if await _slots(postgres_dsn) == 0:
                break
            await anyio.sleep(0.1)
    assert await _slots(postgres_dsn) == 0


async def test_a_slot_left_by_a_closed_client_stays_counted_until_its_task_ends(
        limited_sim: KlingSimulator, stores: list[kling.PostgresStore]) -> None:
    """A client closed with its task running leaves the slot held (Kling still counts the
    task); another process's client waits, reconciles it by external_task_id once the task
    ended, and only then creates: never more than the limit in flight."""
    limited_sim.configure(concurrency_limit=1)
    async with _client(limited_sim, stores[0], limit=1) as first:
        job = first.submit_nowait(kling.ImageGenerationRequest(prompt="left behind"))
        with anyio.fail_after(30):
            await job.wait_submitted()
    async with _client(limited_sim, stores[1], limit=1) as second:
        with anyio.fail_after(120):
            after = await second.submit(kling.ImageGenerationRequest(prompt="after it"))
            await after.result()
    stats = limited_sim.stats()
    assert 1303 not in stats.codes and max(stats.peak_concurrency.values()) == 1
    assert stats.tasks_created == 2
