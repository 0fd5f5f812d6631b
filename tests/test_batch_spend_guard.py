"""``run --max-units N`` (issue 18): the batch is estimated from the price table before
anything is sent and refused when over N (or unpriced, unless allowed); during the run the
units the server reports are summed and submitting stops when they reach N; the summary prints
the units spent.  ``kling-async run`` as a real subprocess against the simulator."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

import kling_async
from kling_async.testing import KlingSimulator

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

REPO = Path(kling_async.__file__).resolve().parent.parent
SCALE = 200.0
#: kling-video-o1 (omni-video's default), pro (its default mode), 5 s: 0.8 x 5 = 4 units.
VIDEO = {"endpoint": "videos/omni-video",
         "request": {"prompt": "waves", "aspect_ratio": "16:9", "duration": "5"}}
#: kling-v1 is not on the 2026 price pages: no estimate.
IMAGE = {"endpoint": "images/generations", "request": {"model_name": "kling-v1", "prompt": "a cat"}}


def _jobs(folder: Path, template: dict[str, Any], n: int) -> Path:
    path = folder / "jobs.jsonl"
    path.write_text("".join(json.dumps({"id": f"j{i}", **template}) + "\n" for i in range(n)))
    return path


async def _run(sim: KlingSimulator, jobs: Path, out: Path, *flags: str
               ) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLING_")}
    env.update(PYTHONPATH=str(REPO), KLING_BASE_URL=sim.base_url, KLING_API_KEY=sim.api_key,
               KLING_TIME_SCALE=str(SCALE))
    with anyio.fail_after(60):
        done = await anyio.run_process(
            [sys.executable, "-m", "kling_async.cli", "run", str(jobs), "--out", str(out),
             "--no-progress", *flags], check=False, env=env)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


async def _refused_below_then_run(tmp_path: Path, jobs: Path, units: int) -> None:
    """A batch estimated at ``units``: ``--max-units units-1`` exits 2 with the estimate named
    and no create sent; ``--max-units units`` runs it and prints the units the server reported
    (the simulator prices by the same 2026 table)."""
    async with KlingSimulator(time_scale=SCALE, seed=1, video_median=3) as sim:
        code, _, err = await _run(sim, jobs, tmp_path / "out", "--max-units", str(units - 1))
        assert code == 2 and f"estimated at {units} units" in err and "nothing was sent" in err
        assert sim.stats().tasks_created == 0 and "Traceback" not in err
        code, out, err = await _run(sim, jobs, tmp_path / "out", "--max-units", str(units))
        created = sim.stats().tasks_created
    assert code == 0, err
    assert created == 3
    assert f"units spent: {units} (limit {units})" in out


def _rows(out: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]


async def test_an_estimate_over_the_limit_is_refused_before_anything_is_sent(
        tmp_path: Path) -> None:
    """3 videos at 4 units each against --max-units 11: exit 2, the estimate named, no create
    sent; --max-units 12 runs them and prints the units the server reported."""
    await _refused_below_then_run(tmp_path, _jobs(tmp_path, VIDEO, 3), 12)


async def test_unpriced_jobs_are_refused_unless_allowed(tmp_path: Path) -> None:
    """A model without a price: refused with the job named and how to go on; with
    --allow-unpriced it runs."""
    jobs = _jobs(tmp_path, IMAGE, 2)
    async with KlingSimulator(time_scale=SCALE, seed=1, image_median=2) as sim:
        code, _, err = await _run(sim, jobs, tmp_path / "out", "--max-units", "100")
        assert code == 2 and "no price is known for 2 job(s): j0 (images/generations" in err
        assert "--allow-unpriced" in err and sim.stats().tasks_created == 0
        code, out, err = await _run(sim, jobs, tmp_path / "out", "--max-units", "100",
                                    "--allow-unpriced")
    assert code == 0 and "units spent: 2 (limit 100)" in out, err


async def test_reported_deductions_stop_submitting_at_the_limit(tmp_path: Path) -> None:
    """Unpriced images (1 unit each as the simulator reports), one at a time, --max-units 3:
    exactly 3 tasks are created, the rest are not sent and say why, exit 1."""
    jobs = _jobs(tmp_path, IMAGE, 8)
    out = tmp_path / "out"
    async with KlingSimulator(time_scale=SCALE, seed=1, image_median=2) as sim:
        code, stdout, err = await _run(sim, jobs, out, "--max-units", "3",
                                       "--allow-unpriced", "--max-in-flight", "1")
        assert sim.stats().tasks_created == 3
    rows = _rows(out)
    assert code == 1 and "spending limit --max-units 3 was reached" in err
    assert [r["status"] for r in rows].count("succeeded") == 3
    unsent = [r for r in rows if r["status"] == "not_sent"]
    assert len(unsent) == 5 and all("spending limit" in (r["error"] or "") for r in unsent)
    assert "units spent: 3 (limit 3)" in stdout


async def test_the_limit_is_checked_as_a_number() -> None:
    """--max-units must be a finite number > 0."""
    for bad in ("0", "-1", "nan", "inf"):
        with anyio.fail_after(30):
            done = await anyio.run_process(
                [sys.executable, "-m", "kling_async.cli", "run", "jobs.jsonl", "--max-units",
                 bad], check=False, env={**os.environ, "PYTHONPATH": str(REPO)})
        assert done.returncode == 2 and b"--max-units must be" in done.stderr


#: A new-standard task reports what it cost only in ``billing[]`` (no final_unit_deduction).
NEW_VIDEO = {"endpoint": "text-to-video/kling-3.0-turbo",
             "request": {"prompt": "waves", "settings": {"duration": 5}}}


async def test_units_reported_only_in_billing_count_as_spent(tmp_path: Path) -> None:
    """New-standard tasks, whose cost is only in ``billing[]``: the units spent are what the
    tasks' costs sum to, not 0."""
    jobs = _jobs(tmp_path, NEW_VIDEO, 3)
    out = tmp_path / "out"
    async with KlingSimulator(time_scale=SCALE, seed=1, video_median=3) as sim:
        code, stdout, err = await _run(sim, jobs, out, "--max-units", "100",
                                       "--allow-unpriced", "--max-in-flight", "1")
    assert code == 0, err
    spent = sum(float(r["cost"]["units"]) for r in _rows(out))
    assert spent > 0 and f"units spent: {spent:g} (limit 100)" in stdout


#: New-standard jobs of three families, priced by §13.3: 3.0 Turbo 5 s 720p 0.8/s = 4,
#: 3.0 native audio 5 s 1080p 1.2/s = 6, 3.0 Omni silent 5 s 720p 0.6/s = 3: 13 units.
NEW_STANDARD_JOBS = [
    {"id": "turbo", "endpoint": "text-to-video/kling-3.0-turbo",
     "request": {"prompt": "waves", "settings": {"duration": 5}}},
    {"id": "i2v", "endpoint": "image-to-video/kling-3.0",
     "request": {"contents": [{"type": "prompt", "text": "waves"},
                              {"type": "first_frame", "url": "https://x.example/a.png"}],
                 "settings": {"resolution": "1080p", "audio": "native", "duration": 5}}},
    {"id": "omni", "endpoint": "omni-video/kling-3.0-omni",
     "request": {"contents": [{"type": "prompt", "text": "waves"}],
                 "settings": {"aspect_ratio": "16:9"}}},
]


async def test_new_standard_jobs_are_estimated_without_allow_unpriced(tmp_path: Path) -> None:
    """A new-standard jobs file is priced (no --allow-unpriced): estimated at 13 units, it is
    refused under --max-units 12 with nothing sent and runs under --max-units 13."""
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("".join(json.dumps(job) + "\n" for job in NEW_STANDARD_JOBS))
    await _refused_below_then_run(tmp_path, jobs, 13)
