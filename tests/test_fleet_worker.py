"""``FleetWorker`` in-process (several workers in one loop, each with its own client) on a
real PostgreSQL (``postgres_dsn``) against the simulator."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import asyncpg
import pytest

from kling_async import FleetWorker, KlingClient, PollPolicy, PostgresStore
from kling_async.batch import JobsFileError, JournalStatus, parse_jobs
from kling_async.batch._jobsfile import BatchJob
from kling_async.testing import KlingSimulator, SimulatorConfig

pytestmark = pytest.mark.anyio
SCALE = 20.0
LIMIT = 2
ROOT = str(Path(__file__).resolve().parents[1])


def _jobs(count: int, prompt: str = "p") -> list[BatchJob]:
    lines = [json.dumps({"id": f"j{i}", "endpoint": "images/generations",
                         "request": {"prompt": f"{prompt} {i}"}}) for i in range(count)]
    return parse_jobs(lines, source="test")


@pytest.fixture
async def limited_sim() -> AsyncIterator[KlingSimulator]:
    config = SimulatorConfig(time_scale=SCALE, seed=5, latency_sigma=0.2,
                             concurrency_limit=LIMIT)
    async with KlingSimulator(config=config) as simulator:
        yield simulator


@pytest.fixture
def batch_name() -> str:
    return f"w-{secrets.token_hex(4)}"


@pytest.fixture
def stores(postgres_dsn: str, batch_name: str) -> Iterator[list[PostgresStore]]:
    opened = [PostgresStore(postgres_dsn, batch=batch_name) for _ in range(2)]
    yield opened
    for store in opened:
        store.close()


def _client(sim: KlingSimulator, key: str | None = None) -> KlingClient:
    return KlingClient(api_key=key or sim.api_key, base_url=sim.base_url,
                       poll=PollPolicy().scaled(SCALE))


async def test_two_workers_in_one_process_share_the_account_limit(
        limited_sim: KlingSimulator, stores: list[PostgresStore], tmp_path: Path) -> None:
    """Two workers, each with its own client and a local limit of two, hold at most two
    slots together: no 1303, every job created once, results complete in both folders."""
    jobs = _jobs(10)
    results = []

    async def work(store: PostgresStore, out: Path) -> None:
        async with _client(limited_sim) as client:
            worker = FleetWorker(client, store, jobs, account="acct-share", out_dir=out,
                                 max_in_flight=LIMIT, lease_seconds=5)
            results.append(await worker.run())

    with anyio.fail_after(120):
        async with anyio.create_task_group() as tg:
            for i, store in enumerate(stores):
                tg.start_soon(work, store, tmp_path / f"out{i}")
    stats = limited_sim.stats()
    assert 1303 not in stats.codes and max(stats.peak_concurrency.values()) <= LIMIT
    ext = [t.external_task_id for t in limited_sim.tasks()]
    assert len(ext) == len(set(ext)) == 10
    assert sum(r.claimed for r in results) == 10
    assert all(r.ok and len(r.rows) == 10 for r in results)


async def test_a_worker_whose_key_is_refused_stops_claiming(
        limited_sim: KlingSimulator, stores: list[PostgresStore]) -> None:
    """A refused key stops the worker after the creates already under way: the other jobs
    stay never sent (not retried job by job, not past the ledger), and the result says
    why."""
    async with _client(limited_sim, key="not-a-key") as client:
        worker = FleetWorker(client, stores[0], _jobs(12), account="acct-refused",
                             max_in_flight=LIMIT, lease_seconds=5)
        with anyio.fail_after(60):
            result = await worker.run()
    assert result.auth_error is not None and not result.ok
    assert result.claimed <= 2 * LIMIT + 4
    assert limited_sim.stats().tasks_created == 0
    statuses = [r["status"] for r in result.rows]
    # the refused creates were journaled (intent first); their slots stay held until the
    # same command, with a working key, reconciles them by external_task_id
    assert set(statuses) <= {"not_sent", "sent"} and statuses.count("sent") <= LIMIT


async def test_a_stopped_worker_gives_its_jobs_back_for_another_to_finish(
        limited_sim: KlingSimulator, stores: list[PostgresStore], postgres_dsn: str,
        batch_name: str) -> None:
    """``stop()`` ends a worker promptly and releases its leases at once (no attempt
    counted); a second worker then finishes every job, each created once."""
    jobs = _jobs(6)
    async with _client(limited_sim) as client:
        first = FleetWorker(client, stores[0], jobs, account="acct-stop",
                            max_in_flight=LIMIT, lease_seconds=60)

        async def stop_soon() -> None:
            with anyio.fail_after(60):
                for _ in range(1200):  # bounded: until it holds two jobs
                    if first.claimed >= 2:
                        break
                    await anyio.sleep(0.05)
            first.stop()

        async with anyio.create_task_group() as tg:
            tg.start_soon(stop_soon)
            stopped = await first.run()
        assert stopped.interrupted
        conn = await asyncpg.connect(postgres_dsn)
        try:
            rows = await conn.fetch("SELECT owner, attempts FROM kling_jobs WHERE batch = $1",
                                    batch_name)
        finally:
            await conn.close()
        assert all(r["owner"] is None and r["attempts"] == 0 for r in rows)
        second = FleetWorker(client, stores[1], jobs, account="acct-stop",
                             max_in_flight=LIMIT, lease_seconds=60)
        with anyio.fail_after(120):
            done = await second.run()
    assert done.ok
    ext = [t.external_task_id for t in limited_sim.tasks()]
    assert len(ext) == len(set(ext)) == 6


async def test_a_changed_jobs_file_under_the_same_batch_name_is_refused(
        limited_sim: KlingSimulator, stores: list[PostgresStore]) -> None:
    """A worker whose jobs differ from the batch's registered ones is refused before it
    sends anything, naming the jobs."""
    await stores[0].register_jobs(_jobs(3), "acct-changed")
    async with _client(limited_sim) as client:
        worker = FleetWorker(client, stores[1], _jobs(3, prompt="other"),
                             account="acct-changed")
        with pytest.raises(JobsFileError, match="j0"):
            await worker.run()
    assert limited_sim.stats().tasks_created == 0


def test_a_change_notifies_every_listener(stores: list[PostgresStore]) -> None:
    """LISTEN/NOTIFY: a journaled end in one store wakes a listener of another (a hint)."""
    heard = threading.Event()
    payloads: list[str] = []

    def notified(payload: str) -> None:
        payloads.append(payload)
        heard.set()

    stores[1].listen(notified)
    stores[0].record_intent("n", "images/generations", "ext-n")
    stores[0].record_result("n", status=JournalStatus.FAILED, error="x")
    assert heard.wait(30)
    assert f"job:{stores[0].batch}" in payloads


async def test_a_key_pool_spreads_a_batch_over_accounts_each_within_its_limit(
        postgres_dsn: str, batch_name: str, tmp_path: Path) -> None:
    """``KLING_API_KEYS=k1,k2`` (``run --store``): one worker per key, each key its own
    account and ledger: both accounts work, neither past its limit, each job created once."""
    import os
    import sys

    config = SimulatorConfig(time_scale=SCALE, seed=6, latency_sigma=0.2,
                             concurrency_limit=LIMIT)
    jobs = tmp_path / "pool.jsonl"
    jobs.write_text("\n".join(json.dumps({"id": f"p{i}", "endpoint": "images/generations",
                                          "request": {"prompt": f"pool {i}"}})
                              for i in range(10)) + "\n", encoding="utf-8")
    async with KlingSimulator(config=config, extra_api_keys=("second-key",)) as sim:
        env = {**os.environ, "KLING_API_KEYS": f"{sim.api_key}, second-key",
               "KLING_BASE_URL": sim.base_url, "KLING_TIME_SCALE": str(SCALE),
               "PYTHONPATH": ROOT}
        for name in ("KLING_API_KEY", "KLING_STORE", "KLING_ACCESS_KEY"):
            env.pop(name, None)
        argv = [sys.executable, "-m", "kling_async.cli", "run", str(jobs), "--store",
                postgres_dsn, "--batch", batch_name, "--out", str(tmp_path / "out"),
                "--max-in-flight", str(LIMIT), "--no-progress"]
        with anyio.fail_after(120):
            proc = await anyio.run_process(argv, env=env, check=False)
        assert proc.returncode == 0, proc.stderr.decode()
        tasks = sim.tasks()
        stats = sim.stats()
    assert {t.account for t in tasks} == {"default", "extra-1"}
    assert len({t.external_task_id for t in tasks}) == len(tasks) == 10
    assert 1303 not in stats.codes and max(stats.peak_concurrency.values()) <= LIMIT
    assert b"second-key" not in proc.stdout + proc.stderr
