"""A batch whose creates are refused for their credentials stops submitting at once.

The simulator serves from its own thread and event loop with a fixed key; ``kling-async run``
runs as a real subprocess, first with a wrong key, then (the same command) with the right one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from kling_async.testing import KlingSimulator
from tests._simhelpers import child_env, threaded_simulator

pytestmark = pytest.mark.timeout(120)

SCALE = 400.0
KEY = "the-right-key-0123456789"
WRONG = "a-wrong-key-9876543210"
MAX_IN_FLIGHT = 5
JOBS = 40


@contextmanager
def serving(**config: Any) -> Iterator[KlingSimulator]:
    """A simulator with the fixed key ``KEY``, serving from its own thread and event loop."""
    with threaded_simulator(time_scale=SCALE, seed=3, api_key=KEY, **config) as simulator:
        yield simulator


def run_cli(sim: KlingSimulator, jobs: Path, out: Path, key: str
            ) -> subprocess.CompletedProcess[str]:
    env = child_env(sim, KLING_API_KEY=key, KLING_TIME_SCALE=str(SCALE))
    return subprocess.run(
        [sys.executable, "-m", "kling_async.cli", "run", str(jobs), "--out", str(out),
         "--max-in-flight", str(MAX_IN_FLIGHT), "--no-progress"],
        env=env, capture_output=True, text=True, timeout=90, check=False)


def creates(sim: KlingSimulator) -> int:
    """Create POSTs the simulator received, whatever their answer."""
    return sum(n for (method, route, _), n in sim.stats().requests.items()
               if method == "POST" and not route.startswith("/__sim"))


def write_jobs(path: Path, n: int = JOBS) -> Path:
    path.write_text("\n".join(json.dumps({"id": f"j{i}", "endpoint": "images/generations",
                                          "request": {"prompt": f"p{i}"}}) for i in range(n)))
    return path


def rows(out: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]


def test_a_rejected_key_stops_the_batch_and_the_rerun_sends_each_job_once(
    tmp_path: Path,
) -> None:
    """After the first AuthenticationError no create is sent, the rest are not_sent, exit 1
    with one line; the same command with the right key then creates every task exactly once."""
    jobs, out = write_jobs(tmp_path / "jobs.jsonl"), tmp_path / "out"
    with serving() as sim:
        first = run_cli(sim, jobs, out, WRONG)
        assert first.returncode == 1, first.stderr
        sent = creates(sim)
        assert 1 <= sent <= MAX_IN_FLIGHT
        assert sim.stats().tasks_created == 0
        found = rows(out)
        assert len(found) == JOBS
        assert sum(r["status"] == "not_sent" for r in found) == JOBS - sent
        assert all(r["error"] for r in found)
        lines = first.stderr.strip().splitlines()
        assert len(lines) == 1 and "rejected the API key" in lines[0], first.stderr
        assert f"{JOBS - sent} job(s) not sent" in lines[0]
        assert "Traceback" not in first.stderr and WRONG not in first.stdout + first.stderr

        second = run_cli(sim, jobs, out, KEY)
        assert second.returncode == 0, second.stderr
        assert f"{JOBS} succeeded, 0 failed" in second.stdout
        stats = sim.stats()
        assert stats.tasks_created == JOBS and stats.duplicates == 0
        assert creates(sim) == sent + JOBS
        assert all(r["status"] == "succeeded" for r in rows(out))


def test_the_retry_hint_appears_only_when_something_is_retryable(tmp_path: Path) -> None:
    """A batch whose tasks all failed for good exits 1 without the "run again" hint."""
    jobs, out = write_jobs(tmp_path / "jobs.jsonl", 3), tmp_path / "out"
    with serving(fail_rate=1.0) as sim:
        result = run_cli(sim, jobs, out, KEY)
    assert result.returncode == 1, result.stderr
    assert "0 succeeded, 3 failed" in result.stdout
    assert all(r["status"] == "failed" for r in rows(out))
    assert "run the same command again" not in result.stderr
