"""The benchmarks still run: each one's machinery, at a tiny size (figures are in
``benchmarks/README.md``; nothing here times anything)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

import kling_async as kling
from benchmarks import bench_memory, bench_tasks
from benchmarks import bench_utilization as bench
from benchmarks._simproc import simulator_process
from benchmarks.bench_overhead import ONLY, raw_asyncio_loop, raw_loop, run_alone, sdk_loop
from kling_async.testing import KlingSimulator
from tests._simhelpers import REPO

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("finish", [False, True])
@pytest.mark.parametrize("polled", [False, True])
def test_memory_benchmark_measures_within_its_targets(finish: bool, polled: bool) -> None:
    """bench_memory drives the real bookkeeping; 300 jobs fit its per-job byte targets."""
    per_job = bench_memory.measure(300, finish=finish, polled=polled)
    assert 0 < per_job <= (2048 if finish else 5120)


@pytest.mark.anyio
async def test_the_overhead_benchmark_sides_each_finish_every_job() -> None:
    """The SDK side and both raw loops of bench_overhead make every job end against the
    simulator, each side creating exactly its own tasks."""
    requests = [kling.ImageGenerationRequest(prompt=f"a cat, take {i}") for i in range(30)]
    bodies = [kling.dump_request(r) for r in requests]
    async with KlingSimulator(latency=0, seed=1) as sim:
        url, key = sim.base_url, sim.api_key
        assert await sdk_loop(url, key, requests, 5) == 30
        for tag, loop in (("anyio", raw_loop), ("asyncio", raw_asyncio_loop)):
            fresh = [b | {"external_task_id": f"{tag}-{i}"} for i, b in enumerate(bodies)]
            assert await loop(url, key, fresh, 5) == 30
        stats = sim.stats()
    assert stats.tasks_created == 90 and stats.duplicates == 0


def test_memory_benchmark_measures_jobs_queued_for_capacity() -> None:
    """bench_memory's queued figure: jobs past the limit cost well under 2 KiB each."""
    assert 0 < bench_memory.measure_queued(300) <= 2048


def test_the_overhead_benchmark_runs_each_side_alone_for_instruction_counts() -> None:
    """bench_overhead --only runs one side alone (a warm-up, then the measured jobs, each
    against an emptied simulator in its own process), and every measured job finishes."""
    with simulator_process(latency=0, seed=1) as sim:
        for side in sorted(ONLY):
            assert run_alone(sim["base_url"], sim["api_key"], side, 12, 3, warm_up=5) == 12


@pytest.mark.parametrize("opt_out", [False, True])
def test_the_overhead_benchmark_fixes_malloc_thresholds_unless_told_not_to(opt_out: bool) -> None:
    """bench_overhead's allocator setting (in a child process: it is process-wide) reports
    what it did; ``KLING_BENCH_NO_MALLOPT=1`` leaves the defaults alone."""
    env = {k: v for k, v in os.environ.items() if k != "KLING_BENCH_NO_MALLOPT"}
    if opt_out:
        env["KLING_BENCH_NO_MALLOPT"] = "1"
    code = "from benchmarks.bench_overhead import _steady_malloc; print(_steady_malloc())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, timeout=30, cwd=REPO).stdout.strip()
    if opt_out:
        assert out == "False"
    else:  # glibc takes the setting; elsewhere there is none to take
        assert out == str(platform.libc_ver()[0] == "glibc")


def test_the_tasks_benchmark_counts_both_sides_from_the_simulator(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """bench_tasks, 30 new-standard jobs against a simulator process: every job ends on both
    sides, batched ``/tasks`` calls ask for at most 20 ids, the baseline for one, and batching
    takes fewer requests per job than the baseline."""
    monkeypatch.setenv("KLING_BENCH_NO_PIN", "1")
    with simulator_process(time_scale=200, seed=5) as sim:
        batched = bench_tasks.measure(sim["base_url"], sim["api_key"], 30, 200.0, 20)
        single = bench_tasks.measure(sim["base_url"], sim["api_key"], 30, 200.0, 1)
    for side in (batched, single):
        assert side.succeeded == side.jobs == side.creates == 30
        assert side.tasks_queries >= 1
    assert 1 < batched.max_ids <= 20 and single.max_ids == 1
    assert single.ids_per_query == 1.0
    assert batched.total_requests < single.total_requests


@pytest.mark.anyio
async def test_the_utilization_benchmark_runs_every_case_to_the_end() -> None:
    """bench_utilization's four cases, at a tiny size against one simulator (reset between
    them): every job ends, utilization is a share of the oracle's, and the webhook case
    resolves jobs by callback."""
    config = bench.sim_config(speedup=50, limit=4, median=2.0)
    async with KlingSimulator(**config) as sim:
        figures = {}
        for case in bench.CASES:
            sim.reset()
            figures[case.name] = await bench.run_case(
                case, base_url=sim.base_url, api_key=sim.api_key, jobs=16, limit=4,
                speedup=50, median=2.0)
    for fig in figures.values():
        assert fig.ended == 16
        assert 0 < fig.utilization <= 1.0 and 0 < fig.oracle <= 1.0 + 1e-9
        assert 0 < fig.ratio <= 1.05  # at most a list-scheduling anomaly above the oracle
        assert fig.per_job >= 1.0  # a create each, at least
    hooked = figures["webhooks + safety net"]
    assert hooked.webhooks["applied"] > 0


def test_the_oracle_list_schedules_durations_in_order() -> None:
    """oracle_makespan: the given durations started in order on the first free slot."""
    assert bench.oracle_makespan([4, 1, 1, 1, 3], 2) == 6  # 4 | 1,1,1,3 -> slot 2 ends at 6
    assert bench.oracle_makespan([], 3) == 0
