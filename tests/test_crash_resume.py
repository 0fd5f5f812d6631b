"""Crash safety of ``kling-async run``: SIGKILL at several points, then the same command again.

The simulator lives in the test's event loop, so it outlives every killed run.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import pytest
from aiohttp import web

import kling_async
from kling_async.testing import KlingSimulator
from kling_async.testing._admin import AdminRoutes

REPO = Path(kling_async.__file__).resolve().parent.parent
TIME_SCALE = 200.0
JOBS = 200


def _jobs_file(path: Path) -> Path:
    lines = []
    for i in range(JOBS):
        if i % 5 == 0:
            job = {"id": f"v{i:03d}", "endpoint": "videos/omni-video",
                   "request": {"prompt": f"clip {i}", "aspect_ratio": "16:9", "duration": "5"}}
        else:
            job = {"id": f"i{i:03d}", "endpoint": "images/generations",
                   "request": {"prompt": f"picture {i}", "n": 1 + i % 2}}
        lines.append(json.dumps(job))
    path.write_text("\n".join(lines) + "\n")
    return path


def _task_ids_in_journal(journal: Path) -> int:
    """How many task ids the journal holds (read-only; 0 while it does not exist yet)."""
    if not journal.exists():
        return 0
    try:
        db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=1.0)
        try:
            row = db.execute("SELECT COUNT(*) FROM jobs WHERE task_id IS NOT NULL").fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return 0
    return int(row[0])


@pytest.fixture
def file_gets(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts successful result-file GETs served by the simulator, by path."""
    served: Counter[str] = Counter()
    original = AdminRoutes._file

    async def counting(self: AdminRoutes, request: web.Request) -> web.StreamResponse:
        response = await original(self, request)
        if response.status == 200:
            served[request.path] += 1
        return response

    monkeypatch.setattr(AdminRoutes, "_file", counting)
    return served


async def _run_cli(args: list[str], env: dict[str, str], log: Path) -> anyio.abc.Process:
    with open(log, "ab") as out:  # noqa: ASYNC230
        return await anyio.open_process(
            [sys.executable, "-m", "kling_async.cli", *args], env=env, stdout=out, stderr=out,
        )


@pytest.mark.anyio
@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_sigkill_at_several_points_then_rerun_does_every_job_exactly_once(
    tmp_path: Path, file_gets: Counter[str]
) -> None:
    """Killed with SIGKILL after ~10, ~80 and ~150 task ids, the rerun finishes the batch with
    every job created once, none lost, and no result file downloaded twice."""
    jobs = _jobs_file(tmp_path / "jobs.jsonl")
    out = tmp_path / "out"
    journal = out / "journal.sqlite3"
    log = tmp_path / "cli.log"
    args = ["run", str(jobs), "--out", str(out), "--download", "--max-in-flight", "40"]
    async with KlingSimulator(time_scale=TIME_SCALE, seed=11, latency_sigma=0.3) as sim:
        env = {**os.environ, "KLING_BASE_URL": sim.base_url, "KLING_API_KEY": sim.api_key,
               "KLING_TIME_SCALE": str(TIME_SCALE), "PYTHONPATH": str(REPO)}
        env.pop("KLING_ACCESS_KEY", None)
        env.pop("KLING_SECRET_KEY", None)
        kills = 0
        for threshold in (10, 80, 150):
            process = await _run_cli(args, env, log)
            with anyio.fail_after(60):
                while _task_ids_in_journal(journal) < threshold:
                    assert process.returncode is None, log.read_text()
                    await anyio.sleep(0.005)
            process.kill()
            await process.wait()
            kills += 1
        assert _task_ids_in_journal(journal) < JOBS, "the batch ended before the last kill"
        final = await _run_cli(args, env, log)
        with anyio.fail_after(60):
            code = await final.wait()
        assert code == 0, log.read_text()
        tasks = sim.tasks()
        stats = sim.stats()

    externals = Counter(t.external_task_id for t in tasks)
    assert len(tasks) == JOBS
    assert all(n == 1 for n in externals.values())
    assert stats.duplicates == 0
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(rows) == JOBS
    assert {r["status"] for r in rows} == {"succeeded"}
    assert {r["external_task_id"] for r in rows} == set(externals)
    expected_files = sum(len(r["urls"]) for r in rows)
    files = [f for r in rows for f in r["files"]]
    assert len(files) == expected_files == len(set(files))
    assert all((out / f).stat().st_size > 0 for f in files)
    assert not list(out.glob("*.part"))
    assert len(file_gets) == expected_files
    # A download cut short by SIGKILL (never renamed, never journaled) is fetched again; a
    # finished one never is.  At most the parallel downloads of each kill can repeat.
    repeats = sum(n - 1 for n in file_gets.values())
    assert repeats <= kills * 4, _describe(file_gets)


def _describe(counts: Counter[str]) -> Any:
    return {path: n for path, n in counts.items() if n > 1}
