"""Crash safety of ``kling-async run``: SIGKILL at several points, then the same command again.

The simulator lives in the test's event loop, so it outlives every killed run.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import pytest
from yarl import URL

import kling_async
from kling_async.testing import KlingSimulator, SimStats
from kling_async.testing._admin import file_serving
from kling_async.testing._media import file_bytes

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


def _journal_count(journal: Path, sql: str) -> int:
    """One COUNT from the journal (read-only; 0 while it does not exist yet)."""
    if not journal.exists():
        return 0
    try:
        db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=1.0)
        try:
            row = db.execute(sql).fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return 0
    return int(row[0])


#: Kill points: when the journal holds this many task ids / downloaded files.  The first two
#: land while creates are in flight, the last two while result files are mid-download.
KILLS = (
    ("SELECT COUNT(*) FROM jobs WHERE task_id IS NOT NULL", 10),
    ("SELECT COUNT(*) FROM jobs WHERE task_id IS NOT NULL", 80),
    ("SELECT COUNT(*) FROM files", 100),
    ("SELECT COUNT(*) FROM files", 200),
)
MAX_IN_FLIGHT = 40


def _not_found_lookups(stats: SimStats) -> int:
    """API GETs answered "not found" (a lookup by external_task_id that found nothing): 400 /
    1201 as the 2026 API answers, or 404 / 1203 with the simulator's older answer."""
    return stats.count(method="GET", status=400) + stats.count(method="GET", status=404)


async def _run_cli(args: list[str], env: dict[str, str], log: Path) -> anyio.abc.Process:
    with open(log, "ab") as out:  # noqa: ASYNC230
        return await anyio.open_process(
            [sys.executable, "-m", "kling_async.cli", *args], env=env, stdout=out, stderr=out,
        )


@pytest.mark.anyio
@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_sigkill_at_several_points_then_rerun_does_every_job_exactly_once(
    tmp_path: Path,
) -> None:
    """Killed with SIGKILL twice while creating tasks and twice while downloading, each rerun
    resumes: every job created once, none lost, no file downloaded twice (cut downloads
    resume with a range request), and few not-found lookups."""
    jobs = _jobs_file(tmp_path / "jobs.jsonl")
    out = tmp_path / "out"
    journal = out / "journal.sqlite3"
    log = tmp_path / "cli.log"
    args = ["run", str(jobs), "--out", str(out), "--download", "--max-downloads", "16",
            "--max-in-flight", str(MAX_IN_FLIGHT)]
    lookups: list[int] = []
    async with KlingSimulator(time_scale=TIME_SCALE, seed=11, latency_sigma=0.3) as sim:
        # Slow result files (8 pieces, 20 ms apart: 140 ms each), so downloads are under way
        # at a kill, and a stalled client would have to stall that long to miss a whole body.
        serving = file_serving(sim)
        serving.pieces, serving.chunk_delay = 8, 0.02
        env = {**os.environ, "KLING_BASE_URL": sim.base_url, "KLING_API_KEY": sim.api_key,
               "KLING_TIME_SCALE": str(TIME_SCALE), "PYTHONPATH": str(REPO)}
        env.pop("KLING_ACCESS_KEY", None)
        env.pop("KLING_SECRET_KEY", None)
        for number, (sql, threshold) in enumerate(KILLS):
            before = _not_found_lookups(sim.stats())
            process = await _run_cli(args, env, log)
            with anyio.fail_after(60):
                while _journal_count(journal, sql) < threshold:
                    assert process.returncode is None, log.read_text()
                    await anyio.sleep(0.005)
            process.kill()
            await process.wait()
            if number:
                lookups.append(_not_found_lookups(sim.stats()) - before)
        files_before_last_run = _journal_count(journal, "SELECT COUNT(*) FROM files")
        before = _not_found_lookups(sim.stats())
        final = await _run_cli(args, env, log)
        with anyio.fail_after(60):
            code = await final.wait()
        assert code == 0, log.read_text()
        lookups.append(_not_found_lookups(sim.stats()) - before)
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
    assert files_before_last_run < expected_files, "the downloads ended before the last kill"
    files = [f for r in rows for f in r["files"]]
    assert len(files) == expected_files == len(set(files))
    assert not list(out.glob("*.part")) and not list(out.glob("*.part.json"))
    sizes = {}
    for row in rows:
        for url, name in zip(row["urls"], row["files"], strict=True):
            task_id, served_name = URL(url).parts[-2:]
            content = file_bytes(task_id, served_name)[0]
            assert (out / name).read_bytes() == content, name  # resumed files are intact
            sizes[URL(url).path] = len(content)
    # Intent is journaled right before each create POST, so what a rerun must look up by
    # external_task_id (intent without task id) is at most what was in flight at the kill.
    assert all(n <= MAX_IN_FLIGHT for n in lookups), lookups
    # No file downloaded twice: a whole body (200) at most once per file.  A kill mid-body
    # loses only the bytes in flight (sent, not yet written: they are refetched by the range
    # request), so a file's total is its size plus those; a second whole copy would need the
    # entire body in flight at the kill, which is what the 200 count rules out.
    assert set(stats.files_served) | set(stats.file_ranges_served) == set(sizes)
    assert all(n <= 1 for n in stats.files_served.values()), _over(stats.files_served, 1)
    assert all(stats.file_bytes_served[p] < 2 * size for p, size in sizes.items()), {
        p: (stats.file_bytes_served[p], size) for p, size in sizes.items()
        if stats.file_bytes_served[p] >= 2 * size}
    # The kills during downloads cut some bodies; the reruns resumed them with ranges.
    assert stats.files_cut >= 1 and sum(stats.file_ranges_served.values()) >= 1, stats


def _over(counts: Mapping[str, int], limit: int) -> Any:
    return {path: n for path, n in counts.items() if n > limit}
