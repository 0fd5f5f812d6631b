"""benchmarks/bench_fleet still runs: one and two worker processes at a tiny size, on the
session's PostgreSQL (nothing here times anything)."""

from __future__ import annotations

import pytest

from benchmarks.bench_fleet import compare, table

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(240)]


async def test_the_fleet_benchmark_measures_each_worker_count(postgres_dsn: str) -> None:
    """Each round creates every job once, never past the limit, and yields figures."""
    results = await compare(postgres_dsn, jobs=6, limit=2, workers=[1, 2], scale=40.0)
    for figures in results.values():
        assert figures["tasks"] == 6 and figures["created_once"]
        assert figures["code_1303"] == 0 and figures["peak"] <= 2
        assert 0 < figures["utilization"] <= 1 and figures["requests_per_job"] >= 2
    assert "utilization" in table(results)
