"""Benchmark 5 - fleet: account utilization and HTTP requests per job for 1, 2 and 4 worker
processes sharing one account limit through a PostgreSQL store, side by side in one run.

Each round runs ``kling-async run jobs.jsonl --store ... --batch NAME --max-in-flight LIMIT``
in W processes on a fresh batch against one simulator whose account limit is LIMIT.  From
the simulator's task records (simulated time): **utilization** = the slot-seconds the tasks
held / (LIMIT x the span from the first create to the last end); **requests per job** = the
simulator's API requests / jobs.  Utilization must not fall as workers are added (within
noise); the simulator's 1303 count must stay 0.  A throwaway PostgreSQL cluster is started
unless ``--store`` names one.

    python -m benchmarks.bench_fleet [--jobs 40] [--limit 4] [--workers 1,2,4] [--scale 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import tempfile
from pathlib import Path
from typing import Any

from kling_async.testing import KlingSimulator, SimulatorConfig

ROOT = Path(__file__).resolve().parents[1]


def write_jobs(folder: Path, count: int) -> Path:
    path = folder / "bench-fleet.jsonl"
    lines = [json.dumps({"id": f"b{i:04d}", "endpoint": "images/generations",
                         "request": {"prompt": f"fleet bench {i}"}}) for i in range(count)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def run_round(sim: KlingSimulator, dsn: str, jobs: Path, workers: int, limit: int,
                    scale: float, timeout: float = 600.0) -> dict[str, Any]:
    """One round on a fresh batch: W workers to the end; the figures from the simulator."""
    sim.reset()
    batch = f"bench-{workers}-{secrets.token_hex(3)}"
    argv = [sys.executable, "-m", "kling_async.cli", "run", str(jobs), "--store", dsn,
            "--batch", batch, "--out", str(jobs.parent / batch), "--max-in-flight", str(limit),
            "--time-scale", str(scale), "--no-progress"]
    env = {**os.environ, "KLING_API_KEY": sim.api_key, "KLING_BASE_URL": sim.base_url,
           "PYTHONPATH": str(ROOT)}
    env.pop("KLING_STORE", None)
    procs = [await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        for _ in range(workers)]
    try:
        codes = await asyncio.wait_for(asyncio.gather(*(p.wait() for p in procs)), timeout)
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
    if any(codes):
        errors = [(await p.stderr.read()).decode()[-500:] for p in procs if p.stderr]
        raise RuntimeError(f"a worker failed: {codes} {errors}")
    return figures(sim, limit)


def figures(sim: KlingSimulator, limit: int) -> dict[str, Any]:
    tasks = sim.tasks()
    stats = sim.stats()
    start = min(t.created_at for t in tasks)
    end = max(t.ends_at for t in tasks)
    held = sum(t.weight * (t.ends_at - t.created_at) for t in tasks)
    requests = sum(stats.requests.values())
    return {
        "tasks": len(tasks),
        "created_once": len({t.external_task_id for t in tasks}) == len(tasks),
        "utilization": held / (limit * (end - start)) if end > start else 0.0,
        "requests_per_job": requests / len(tasks),
        "code_1303": stats.codes.get(1303, 0),
        "peak": max(stats.peak_concurrency.values(), default=0),
    }


async def compare(dsn: str, jobs: int, limit: int, workers: list[int], scale: float
                  ) -> dict[int, dict[str, Any]]:
    config = SimulatorConfig(time_scale=scale, seed=11, latency_sigma=0.3,
                             concurrency_limit=limit)
    with tempfile.TemporaryDirectory() as folder:
        path = write_jobs(Path(folder), jobs)
        async with KlingSimulator(config=config) as sim:
            return {w: await run_round(sim, dsn, path, w, limit, scale) for w in workers}


def table(results: dict[int, dict[str, Any]]) -> str:
    lines = ["workers  utilization  requests/job  1303s  peak  each job once"]
    for w, r in results.items():
        lines.append(f"{w:>7}  {r['utilization']:>11.1%}  {r['requests_per_job']:>12.2f}  "
                     f"{r['code_1303']:>5}  {r['peak']:>4}  {r['created_once']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--limit", type=int, default=4)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--scale", type=float, default=20.0)
    parser.add_argument("--store", default=None, help="a PostgreSQL DSN (default: a "
                                                      "throwaway cluster)")
    args = parser.parse_args()
    workers = [int(w) for w in args.workers.split(",")]
    cluster = None
    dsn = args.store
    if dsn is None:
        sys.path.insert(0, str(ROOT))
        from tests._postgres import PostgresCluster

        cluster = PostgresCluster()
        dsn = cluster.start()
    try:
        results = asyncio.run(compare(dsn, args.jobs, args.limit, workers, args.scale))
    finally:
        if cluster is not None:
            cluster.stop()
    print(table(results))


if __name__ == "__main__":
    main()
