"""``kling-async run``'s live progress in a real pseudo-terminal (issue 18): at 80 and 120
columns no line it draws is wider than the terminal, each failure is shown as its own line as
it happens, files are counted apart from jobs; through a pipe it stays plain lines."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import anyio
import pytest
from rich.cells import cell_len

from kling_async.testing import KlingSimulator
from tests._pty import CODE, cli_env, run_in_pty, screen_lines

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

SCALE = 50.0
JOBS = 10


def _sim() -> KlingSimulator:
    """A fast simulator where about half the tasks fail (seeded)."""
    return KlingSimulator(time_scale=SCALE, seed=11, image_median=2, video_median=3,
                          fail_rate=0.5)


def _jobs_file(folder: Path) -> Path:
    """Images and videos, with long ids and prompts (long lines to fit)."""
    lines = []
    for i in range(JOBS):
        prompt = f"a very long prompt number {i} " + "with many words " * 12
        if i % 3:
            job = {"id": f"image-job-with-a-long-name-{i:02d}", "endpoint": "images/generations",
                   "request": {"prompt": prompt}}
        else:
            job = {"id": f"video-job-with-a-long-name-{i:02d}", "endpoint": "videos/omni-video",
                   "request": {"prompt": prompt, "duration": "5", "aspect_ratio": "16:9"}}
        lines.append(json.dumps(job))
    path = folder / "jobs.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("columns", [80, 120])
async def test_live_progress_fits_the_terminal_and_shows_failures(tmp_path: Path,
                                                                   columns: int) -> None:
    """In an 80 or 120 column terminal: no drawn line is wider than the terminal; each failed
    job has exactly one "failed: ID: reason" line, printed before the last progress line; the
    live line counts jobs and files apart."""
    jobs = _jobs_file(tmp_path)
    async with _sim() as sim:
        code, _, text = await anyio.to_thread.run_sync(
            lambda: run_in_pty(["run", str(jobs), "--out", "out", "--download"],
                               cli_env(sim, SCALE), columns, cwd=tmp_path))
    rows = [json.loads(line) for line in
            (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    failed = [row["id"] for row in rows if row["status"] == "failed"]
    assert code == 1 and 0 < len(failed) < JOBS, text
    lines = screen_lines(text)
    too_wide = [line for line in lines if cell_len(line) > columns]
    assert not too_wide, too_wide
    failure_lines = [line for line in lines if line.startswith("failed: ")]
    for job_id in failed:
        assert sum(1 for line in failure_lines if line.startswith(f"failed: {job_id}: ")) == 1
    progress = [i for i, line in enumerate(lines) if re.search(r"\d+/10 jobs", line)]
    first_failure = lines.index(failure_lines[0])
    assert progress and progress[0] < first_failure < progress[-1]  # shown as it happened
    assert "files" in lines[progress[-1]] and f"{JOBS}/10 jobs" in lines[progress[-1]]


async def test_piped_progress_is_plain_lines(tmp_path: Path) -> None:
    """Through pipes (CI): no escape sequences, no carriage returns; failures are plain
    "failed: ID: reason" lines."""
    jobs = _jobs_file(tmp_path)
    async with _sim() as sim:
        with anyio.fail_after(60):
            done = await anyio.run_process(
                [sys.executable, "-c", CODE, "run", str(jobs), "--out", str(tmp_path / "out")],
                check=False, env=cli_env(sim, SCALE))
    err = done.stderr.decode()
    assert done.returncode == 1
    assert "\x1b" not in err and "\r" not in err and "\x1b" not in done.stdout.decode()
    assert re.search(r"^failed: \S+: TaskFailedError", err, re.MULTILINE), err
