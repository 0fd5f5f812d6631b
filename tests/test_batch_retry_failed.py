"""``run --retry-failed`` (issue 18): jobs that ended ``failed`` in a previous run of the same
output folder are sent again as NEW tasks (new external ids, journaled before the create), only
when asked; succeeded jobs are never touched.  ``kling-async run`` as a real subprocess against
the simulator with injected failures; the stores' ``record_retry`` directly."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

import kling_async
from kling_async.batch import JournalStatus, MemoryJobStore, SqliteJobStore
from kling_async.batch._runner import attempt_of, external_task_id_for
from kling_async.testing import KlingSimulator

REPO = Path(kling_async.__file__).resolve().parent.parent
SCALE = 200.0
JOBS = 8


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    made = MemoryJobStore() if request.param == "memory" else SqliteJobStore(
        tmp_path / "journal.sqlite3")
    yield made
    made.close()


def test_record_retry_turns_a_failed_job_into_a_fresh_intent(store: Any) -> None:
    """A failed job's record becomes a new intent (new external id, no task, no error, no
    files), idempotently; a job that did not fail, or has no record, is refused."""
    store.record_intent("a", "images/generations", "kab-x-a", request_hash="h")
    store.record_task_id("a", "t1")
    store.record_result("a", status=JournalStatus.FAILED, error="TaskFailedError: risk")
    store.record_intent("b", "images/generations", "kab-x-b")
    store.record_result("b", status=JournalStatus.SUCCEEDED, urls=("u",))
    store.record_retry("a", "images/generations", "kab-r1-x-a", request_hash="h")
    store.record_retry("a", "images/generations", "kab-r1-x-a", request_hash="h")  # again
    record = store.get("a")
    assert (record.external_task_id, record.status, record.task_id, record.error) == (
        "kab-r1-x-a", JournalStatus.SENT, None, None)
    assert [r.job_id for r in store.records()] == ["a", "b"]  # order kept
    with pytest.raises(ValueError, match="not failed"):
        store.record_retry("b", "images/generations", "kab-r1-x-b")
    with pytest.raises(KeyError):
        store.record_retry("c", "images/generations", "kab-r1-x-c")
    assert store.get("b").status is JournalStatus.SUCCEEDED


def test_retry_external_ids_never_meet_another_jobs_or_attempts() -> None:
    """Attempt N is ``kab-rN-...``: distinct from attempt 0 and from a job whose id looks like
    a retry; the attempt is read back from the id."""
    ids = {external_task_id_for("abc123", job, n) for job in ("a", "r1-abc123-a", "a-r1")
           for n in (0, 1, 2)}
    assert len(ids) == 9
    assert [attempt_of(external_task_id_for("abc123", "a-r1", n)) for n in (0, 1, 7)] == [0, 1, 7]


def _jobs(folder: Path) -> Path:
    path = folder / "jobs.jsonl"
    path.write_text("\n".join(json.dumps({"id": f"j{i}", "endpoint": "images/generations",
                                          "request": {"prompt": f"picture {i}"}})
                              for i in range(JOBS)) + "\n")
    return path


async def _run(sim: KlingSimulator, jobs: Path, out: Path, *flags: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLING_")}
    env.update(PYTHONPATH=str(REPO), KLING_BASE_URL=sim.base_url, KLING_API_KEY=sim.api_key,
               KLING_TIME_SCALE=str(SCALE))
    with anyio.fail_after(60):
        done = await anyio.run_process(
            [sys.executable, "-m", "kling_async.cli", "run", str(jobs), "--out", str(out),
             "--no-progress", *flags], check=False, env=env)
    return done.returncode, done.stderr.decode()


def _rows(out: Path) -> dict[str, dict[str, Any]]:
    lines = (out / "results.jsonl").read_text().splitlines()
    return {row["id"]: row for row in map(json.loads, lines)}


@pytest.mark.anyio
@pytest.mark.timeout(120)
async def test_retry_failed_sends_only_the_failed_jobs_again_as_new_tasks(tmp_path: Path) -> None:
    """Run 1 (half fail): a rerun without the flag creates nothing and hints at it; with
    --retry-failed exactly the failed jobs get new tasks with new external ids (the succeeded
    keep theirs); once all succeeded, --retry-failed creates nothing."""
    jobs, out = _jobs(tmp_path), tmp_path / "out"
    async with KlingSimulator(time_scale=SCALE, seed=4, image_median=2, fail_rate=0.5) as sim:
        code, err = await _run(sim, jobs, out)
        first = _rows(out)
        failed = sorted(i for i, row in first.items() if row["status"] == "failed")
        assert code == 1 and 0 < len(failed) < JOBS, err
        assert f"{len(failed)} job(s) failed for good" in err and "--retry-failed" in err

        code, _ = await _run(sim, jobs, out)  # not asked: nothing is sent again
        assert code == 1 and sim.stats().tasks_created == JOBS

        sim.configure(fail_rate=0.0)
        code, err = await _run(sim, jobs, out, "--retry-failed")
        second = _rows(out)
        assert code == 0, err
        assert sim.stats().tasks_created == JOBS + len(failed)
        assert all(row["status"] == "succeeded" for row in second.values())
        for job_id, row in second.items():
            if job_id in failed:
                assert row["task_id"] != first[job_id]["task_id"]
                assert row["external_task_id"].startswith("kab-r1-")
            else:
                assert row == first[job_id]  # not touched
        created = [t.external_task_id for t in sim.tasks()]
        assert len(created) == len(set(created))  # no external id used twice

        code, _ = await _run(sim, jobs, out, "--retry-failed")
        assert code == 0 and sim.stats().tasks_created == JOBS + len(failed)
