"""A fleet of worker processes on one batch, through a real PostgreSQL (``postgres_dsn``),
against the simulator, with workers killed (SIGKILL) at random points and replaced."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from kling_async._fleet import PostgresStore
from kling_async.testing import KlingSimulator, SimulatorConfig

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

LIMIT = 3  # the simulated account's concurrency limit, and every worker's --max-in-flight
WORKERS = 4
KILLS = 4
JOBS = 24
SCALE = 20.0  # simulated seconds per real second (a 20 s image takes about 1 s)
LEASE = 2.0
DEADLINE = 240.0  # the whole scenario, however the kills fall


def _jobs_file(folder: Path) -> Path:
    path = folder / "fleet-jobs.jsonl"
    lines = [json.dumps({"id": f"img-{i:02d}", "endpoint": "images/generations",
                         "request": {"prompt": f"a fleet test {i}", "n": 2 if i % 6 == 0 else 1}})
             for i in range(JOBS)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
async def fleet_sim() -> AsyncIterator[KlingSimulator]:
    config = SimulatorConfig(time_scale=SCALE, seed=3, latency_sigma=0.3,
                             concurrency_limit=LIMIT)
    async with KlingSimulator(config=config) as simulator:
        yield simulator


class Fleet:
    """Worker processes running the same ``kling-async run --store`` command."""

    def __init__(self, sim: KlingSimulator, dsn: str, jobs: Path, out: Path) -> None:
        self.argv = [sys.executable, "-m", "kling_async.cli", "run", str(jobs), "--store", dsn,
                     "--batch", "fleet-test", "--out", str(out), "--download",
                     "--max-in-flight", str(LIMIT), "--lease-seconds", str(LEASE),
                     "--time-scale", str(SCALE), "--no-progress"]
        self.env = {**os.environ, "KLING_API_KEY": sim.api_key, "KLING_BASE_URL": sim.base_url,
                    "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        self.env.pop("KLING_STORE", None)
        self.live: list[asyncio.subprocess.Process] = []
        self.ended: list[tuple[int, bytes]] = []

    async def start(self) -> asyncio.subprocess.Process:
        proc = await asyncio.create_subprocess_exec(
            *self.argv, env=self.env, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        self.live.append(proc)
        return proc

    async def reap(self) -> None:
        for proc in [p for p in self.live if p.returncode is not None]:
            self.live.remove(proc)
            _, err = await proc.communicate()
            self.ended.append((int(proc.returncode or 0), err))

    def kill_all(self) -> None:
        for proc in self.live:
            if proc.returncode is None:
                proc.kill()


async def _lease_holders(dsn: str) -> dict[int, int]:
    """pid -> leases held now, from the store."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT owner, count(*) AS n FROM kling_jobs WHERE "
                                "owner IS NOT NULL AND lease_until > now() GROUP BY owner")
    finally:
        await conn.close()
    return {int(r["owner"].split(":")[1]): int(r["n"]) for r in rows}


async def _kill_some(fleet: Fleet, dsn: str, rng: random.Random) -> int:
    """Kill KILLS workers that hold leases, at random moments, each replaced at once."""
    kills = 0
    for _ in range(400):
        if kills >= KILLS or not fleet.live:
            break
        await asyncio.sleep(rng.uniform(0.2, 1.2))
        holders = await _lease_holders(dsn)
        victims = [p for p in fleet.live if p.returncode is None and holders.get(p.pid)]
        if not victims:
            continue
        rng.choice(victims).send_signal(signal.SIGKILL)
        kills += 1
        await fleet.start()
    return kills


async def _run_fleet(fleet: Fleet, dsn: str) -> int:
    # the tables exist before the first lease query (the workers would create them too)
    await asyncio.to_thread(lambda: PostgresStore(dsn, batch="fleet-test").close())
    for _ in range(WORKERS):
        await fleet.start()
    kills = await _kill_some(fleet, dsn, random.Random(17))
    for _ in range(int(DEADLINE * 4)):
        await fleet.reap()
        if not fleet.live:
            break
        await asyncio.sleep(0.25)
    return kills


async def _store_rows(dsn: str) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(dsn)
    try:
        return [dict(r) for r in await conn.fetch(
            "SELECT job_id, status, lease_version, external_task_id FROM kling_jobs "
            "WHERE batch = 'fleet-test'")]
    finally:
        await conn.close()


async def test_a_killed_and_replaced_fleet_creates_each_job_once_within_the_limit(
        fleet_sim: KlingSimulator, postgres_dsn: str, tmp_path: Path) -> None:
    """Four workers, four SIGKILLed at random while holding leases and replaced: each job is
    created once, none lost, no file fetched twice, never over the account's limit."""
    out = tmp_path / "out"
    fleet = Fleet(fleet_sim, postgres_dsn, _jobs_file(tmp_path), out)
    try:
        kills = await asyncio.wait_for(_run_fleet(fleet, postgres_dsn), DEADLINE)
    finally:
        fleet.kill_all()
    assert kills == KILLS
    assert not fleet.live, "workers still running at the deadline"
    survivors = [(code, err) for code, err in fleet.ended if code != -signal.SIGKILL]
    assert survivors and all(code == 0 for code, _ in survivors), survivors

    tasks = fleet_sim.tasks()
    ext_ids = [t.external_task_id for t in tasks]
    assert len(ext_ids) == len(set(ext_ids)) == JOBS  # each job created exactly once
    stats = fleet_sim.stats()
    assert stats.duplicates == 0
    assert 1303 not in stats.codes  # the fleet never went past the account's limit
    assert max(stats.peak_concurrency.values()) <= LIMIT

    rows = [json.loads(line) for line in
            (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) == JOBS and all(r["status"] == "succeeded" and not r["error"]
                                     for r in rows)
    assert {r["external_task_id"] for r in rows} == set(ext_ids)
    for row in rows:
        assert row["files"] and all((out / name).is_file() for name in row["files"])
    assert all(count == 1 for count in stats.files_served.values())  # none fetched twice
    gallery = (out / "gallery.html").read_text(encoding="utf-8")
    assert all(f">{row['id']}<" in gallery for row in rows)  # a fleet writes one too

    store_rows = await _store_rows(postgres_dsn)
    assert {r["status"] for r in store_rows} == {"succeeded"}
    assert any(r["lease_version"] >= 2 for r in store_rows)  # leases were taken over

    # the same command once more: nothing is sent, results.jsonl is written again
    (out / "results.jsonl").unlink()
    before = fleet_sim.stats().requests
    await fleet.start()
    for _ in range(int(DEADLINE * 4)):
        await fleet.reap()
        if not fleet.live:
            break
        await asyncio.sleep(0.25)
    assert fleet.ended[-1][0] == 0, fleet.ended[-1][1]
    assert fleet_sim.stats().requests == before
    assert len((out / "results.jsonl").read_text(encoding="utf-8").splitlines()) == JOBS
