"""``BatchRunner`` / ``run_batch`` end to end against the simulator."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import anyio
import pytest
from aiohttp import web
from yarl import URL

from kling_async import KlingClient, Limits, PollPolicy, load_request
from kling_async.batch import (
    BatchJob,
    BatchProgress,
    BatchRunner,
    BatchStorageError,
    JobsFileError,
    JournalStatus,
    MemoryJobStore,
    SqliteJobStore,
    external_task_id_for,
    parse_jobs,
    run_batch,
)
from kling_async.batch._download import result_file_names
from kling_async.batch._partial import Sidecar, part_path, url_digest, write_sidecar
from kling_async.testing import KlingSimulator
from kling_async.testing._admin import AdminRoutes
from kling_async.testing._media import file_bytes, file_etag

SCALE = 400.0


def _jobs(count: int, *, video_every: int = 4) -> list[BatchJob]:
    lines = []
    for i in range(count):
        if i % video_every == 0:
            lines.append(json.dumps({"id": f"v{i}", "endpoint": "videos/omni-video", "request": {
                "prompt": "a cat", "aspect_ratio": "16:9", "duration": "5"}}))
        else:
            lines.append(json.dumps({"id": f"i{i}", "endpoint": "images/generations",
                                     "request": {"prompt": "a dog", "n": 1 + i % 2}}))
    return parse_jobs(lines)


@pytest.fixture
async def sim() -> AsyncIterator[KlingSimulator]:
    async with KlingSimulator(time_scale=SCALE, seed=5) as simulator:
        yield simulator


def _client(sim: KlingSimulator, max_in_flight: int = 20) -> KlingClient:
    return KlingClient(api_key=sim.api_key, base_url=sim.base_url,
                       poll=PollPolicy().scaled(SCALE), limits=Limits(max_in_flight=max_in_flight))


@pytest.mark.anyio
async def test_batch_writes_results_files_and_journal(sim: KlingSimulator, tmp_path: Path) -> None:
    """Every job succeeds; results.jsonl, the files and the journal agree with the server."""
    jobs = _jobs(12)
    async with _client(sim) as client:
        result = await run_batch(client, jobs, out_dir=tmp_path, download=True)
    assert result.ok and not result.interrupted
    rows = [json.loads(x) for x in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [j.id for j in jobs]
    assert set(rows[0]) == {"id", "endpoint", "task_id", "external_task_id", "status", "urls",
                            "files", "error", "cost"}
    by_ext = {t.external_task_id: t for t in sim.tasks()}
    assert len(by_ext) == 12
    for row in rows:
        assert row["status"] == "succeeded" and row["error"] is None
        assert by_ext[row["external_task_id"]].task_id == row["task_id"]
        assert len(row["files"]) == len(row["urls"]) >= 1
        assert all((tmp_path / f).stat().st_size > 0 for f in row["files"])
    assert rows[1]["files"] == ["i1_0.png", "i1_1.png"] and rows[0]["files"] == ["v0.mp4"]
    store = SqliteJobStore(tmp_path / "journal.sqlite3")
    try:
        assert {r.status for r in store.records()} == {JournalStatus.SUCCEEDED}
        assert rows[0]["external_task_id"] == external_task_id_for(store.batch_id(), "v0")
    finally:
        store.close()


@pytest.mark.anyio
async def test_rerun_after_completion_sends_nothing(sim: KlingSimulator, tmp_path: Path) -> None:
    """A finished batch run again creates no task and downloads nothing."""
    jobs = _jobs(6)
    async with _client(sim) as client:
        await run_batch(client, jobs, out_dir=tmp_path, download=True)
    before = sim.stats()
    async with _client(sim) as client:
        result = await run_batch(client, jobs, out_dir=tmp_path, download=True)
    after = sim.stats()
    assert result.ok and result.progress.finished_this_run == 0
    assert after.tasks_created == before.tasks_created == 6
    assert after.total_requests == before.total_requests


@pytest.mark.anyio
async def test_resume_after_a_clean_stop_finishes_each_job_once(
    sim: KlingSimulator, tmp_path: Path
) -> None:
    """``stop()`` mid-batch, then the same run again: all done, one task per job."""
    jobs = _jobs(40)
    sim.configure(video_median=600.0)
    store = SqliteJobStore(tmp_path / "journal.sqlite3")
    try:
        async with _client(sim, max_in_flight=5) as client:
            runner = BatchRunner(client, store, out_dir=tmp_path, download=True)

            async def stop_soon() -> None:
                while sum(r.task_id is not None for r in store.records()) < 5:  # noqa: ASYNC110
                    await anyio.sleep(0.005)
                runner.stop()

            async with anyio.create_task_group() as tg:
                tg.start_soon(stop_soon)
                first = await runner.run(jobs)
        assert first.interrupted and not first.ok
        assert any(r["status"] == "not_sent" for r in first.rows)
        sim.configure(video_median=120.0)
        async with _client(sim) as client:
            second = await BatchRunner(client, store, out_dir=tmp_path, download=True).run(jobs)
    finally:
        store.close()
    assert second.ok
    externals = [t.external_task_id for t in sim.tasks()]
    assert len(externals) == len(set(externals)) == 40


@pytest.mark.anyio
async def test_intent_without_task_is_reconciled_by_external_id(
    sim: KlingSimulator, tmp_path: Path
) -> None:
    """An intent whose create reached the server is attached; one that did not is sent once."""
    jobs = _jobs(2, video_every=99)
    store = MemoryJobStore()
    reached, lost = (external_task_id_for(store.batch_id(), j.id) for j in jobs)
    store.record_intent(jobs[0].id, jobs[0].endpoint, reached)
    store.record_intent(jobs[1].id, jobs[1].endpoint, lost)
    async with _client(sim) as client:
        created = await client.create_task(jobs[0].request, external_task_id=reached)
        result = await BatchRunner(client, store).run(jobs)
    assert result.ok
    assert result.rows[0]["task_id"] == created.task_id
    assert sorted(t.external_task_id or "" for t in sim.tasks()) == sorted([reached, lost])


@pytest.mark.anyio
async def test_failed_task_is_final_and_never_resubmitted(
    sim: KlingSimulator, tmp_path: Path
) -> None:
    """A task the server failed is journaled failed; a rerun does not pay for it again."""
    sim.configure(fail_rate=1.0)
    jobs = _jobs(3)
    async with _client(sim) as client:
        first = await run_batch(client, jobs, out_dir=tmp_path)
    sim.configure(fail_rate=0.0)
    async with _client(sim) as client:
        second = await run_batch(client, jobs, out_dir=tmp_path)
    assert not first.ok and not second.ok
    assert {r["status"] for r in second.rows} == {"failed"}
    assert all("TaskFailedError" in r["error"] for r in second.rows)
    assert sim.stats().tasks_created == 3


@pytest.mark.anyio
async def test_failed_download_is_retried_by_the_rerun_without_regenerating(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Result files that cannot be fetched leave the job succeeded with an error; the rerun
    downloads them and creates no task."""
    original = AdminRoutes._file
    broken = True

    async def flaky(self: AdminRoutes, request: web.Request) -> web.StreamResponse:
        return web.Response(status=503) if broken else await original(self, request)

    monkeypatch.setattr(AdminRoutes, "_file", flaky)  # before the simulator installs routes
    jobs = _jobs(3)
    async with KlingSimulator(time_scale=SCALE, seed=5) as sim:
        async with _client(sim) as client:
            store = SqliteJobStore(tmp_path / "journal.sqlite3")
            runner = BatchRunner(client, store, out_dir=tmp_path, download=True,
                                 download_attempts=2)
            first = await runner.run(jobs)
            store.close()
        assert not first.ok and first.progress.download_errors == 3
        assert all(r["status"] == "succeeded" and "HTTP 503" in r["error"] for r in first.rows)
        broken = False
        async with _client(sim) as client:
            second = await run_batch(client, jobs, out_dir=tmp_path, download=True)
        assert second.ok and all(r["files"] and r["error"] is None for r in second.rows)
        assert sim.stats().tasks_created == 3


@pytest.mark.anyio
async def test_memory_store_run_needs_no_folder(sim: KlingSimulator) -> None:
    """``run_batch`` without ``out_dir`` journals in memory and returns the rows."""
    async with _client(sim) as client:
        result = await run_batch(client, _jobs(3))
    assert result.ok and result.results_path is None
    assert [r["status"] for r in result.rows] == ["succeeded"] * 3


@pytest.mark.anyio
async def test_the_journal_keeps_every_output_of_an_audio_task(sim: KlingSimulator) -> None:
    """A text-to-audio job's journaled task holds its audio track (mp3 and wav), as
    ``Task.to_dict`` has it: the journal's view of a task was images and videos only."""
    jobs = parse_jobs([json.dumps({"id": "a0", "endpoint": "audio/text-to-audio",
                                   "request": {"prompt": "rain", "duration": 5.5}})])
    store = MemoryJobStore()
    async with _client(sim) as client:
        assert (await BatchRunner(client, store).run(jobs)).ok
    record = store.get("a0")
    assert record is not None and isinstance(record.task, dict)
    (audio,) = record.task["audios"]
    assert audio["url_mp3"].endswith(".mp3") and audio["url_wav"].endswith(".wav")
    assert audio["duration_mp3"] == 5.5 and record.task["urls"] == [
        audio["url_mp3"], audio["url_wav"]]


@pytest.mark.anyio
async def test_progress_is_reported_until_the_final_snapshot(sim: KlingSimulator) -> None:
    """``on_progress`` gets snapshots and a final one with every job finished."""
    seen: list[tuple[int, bool]] = []

    def on_progress(progress: object, *, final: bool = False) -> None:
        seen.append((progress.finished, final))  # type: ignore[attr-defined]

    async with _client(sim) as client:
        await run_batch(client, _jobs(4), on_progress=on_progress)
    assert seen[-1] == (4, True)


def test_request_objects_round_trip_from_the_jobs_file() -> None:
    """A job's request is the validated object of its wire body."""
    job = _jobs(1)[0]
    assert job.request == load_request(job.endpoint, job.payload)


# -- journaling right before the POST, request hashes, reused folders, resumed downloads ------


@pytest.mark.anyio
async def test_intent_is_journaled_only_for_jobs_whose_create_is_sent() -> None:
    """With 3 slots held by long tasks, the client has pulled more jobs than it sent; only
    the 3 sent ones are journaled, and the rest count as queued or waiting."""
    jobs = _jobs(10, video_every=1)  # videos: one slot each
    store = MemoryJobStore()
    seen_ids: list[str] = []
    seen: dict[str, object] = {}
    async with KlingSimulator(time_scale=SCALE, seed=5, video_median=10**7) as sim:
        async with _client(sim, max_in_flight=3) as client:
            runner = BatchRunner(client, store)

            async def stop_when_full() -> None:
                with anyio.fail_after(30):
                    while sum(r.task_id is not None for r in store.records()) < 3:  # noqa: ASYNC110
                        await anyio.sleep(0.005)
                seen_ids.extend(r.external_task_id for r in store.records())
                seen["progress"] = runner.progress()
                runner.stop()

            async with anyio.create_task_group() as tg:
                tg.start_soon(stop_when_full)
                result = await runner.run(jobs)
        created = [t.external_task_id for t in sim.tasks()]
    assert None not in created
    assert sorted(seen_ids) == sorted(e for e in created if e is not None)
    assert len(created) == 3
    progress = seen["progress"]
    assert isinstance(progress, BatchProgress)
    assert progress.submitted + progress.processing == 3
    assert progress.queued + progress.waiting == 7 and progress.waiting > 0
    assert [r["status"] for r in result.rows].count("not_sent") == 7


class _BrokenIntentStore(MemoryJobStore):
    """A journal that cannot write the intent of one job."""

    def record_intent(self, job_id: str, endpoint: str, external_task_id: str, *,
                      request_hash: str | None = None) -> None:
        if job_id == "i1":
            raise sqlite3.OperationalError("disk I/O error")
        super().record_intent(job_id, endpoint, external_task_id, request_hash=request_hash)


@pytest.mark.anyio
async def test_a_journal_write_failure_aborts_that_post_and_is_reported(
    sim: KlingSimulator,
) -> None:
    """The job whose intent cannot be journaled is never sent (no unjournaled spend); its row
    says ``not_sent`` with the error; the other jobs run."""
    jobs = _jobs(3)
    store = _BrokenIntentStore()
    async with _client(sim) as client:
        result = await BatchRunner(client, store).run(jobs)
    assert not result.ok
    rows = {r["id"]: r for r in result.rows}
    assert rows["i1"]["status"] == "not_sent"
    assert "SubmissionAbortedError" in rows["i1"]["error"]
    assert "disk I/O error" in rows["i1"]["error"]
    assert rows["v0"]["status"] == rows["i2"]["status"] == "succeeded"
    assert result.progress.failed == 1 and result.progress.succeeded == 2
    broken = external_task_id_for(store.batch_id(), "i1")
    assert broken not in {t.external_task_id for t in sim.tasks()}
    assert sim.stats().tasks_created == 2



class _FullDiskResultStore(MemoryJobStore):
    """A journal whose result writes fail as on a full disk."""

    def record_result(self, job_id: str, *, status: JournalStatus, urls: tuple[str, ...] = (),
                      task: Mapping[str, Any] | None = None, error: str | None = None) -> None:
        raise BatchStorageError("journal", "disk is full")


@pytest.mark.anyio
async def test_a_lost_result_write_stops_the_run_and_raises_once_it_ended(
    sim: KlingSimulator,
) -> None:
    """A result that cannot be journaled stops the run; ``run`` raises that
    ``BatchStorageError`` after the run ended, and every job sent keeps its journaled intent
    and task id, so the same command can recover it."""
    jobs = _jobs(3)
    store = _FullDiskResultStore()
    async with _client(sim) as client:
        with pytest.raises(BatchStorageError, match="disk is full"):
            await BatchRunner(client, store).run(jobs)
    records = store.records()
    assert records and all(r.task_id is not None for r in records)
    assert all(r.status is JournalStatus.SUBMITTED for r in records)
    assert sim.stats().tasks_created == len(records)

def _edited(jobs: list[BatchJob], *, prompts: dict[str, str]) -> list[BatchJob]:
    lines = []
    for job in jobs:
        request = dict(reversed(list(job.payload.items())))  # same request, keys reordered
        if job.id in prompts:
            request["prompt"] = prompts[job.id]
        lines.append(json.dumps({"id": job.id, "endpoint": job.endpoint, "request": request}))
    return parse_jobs(lines)


@pytest.mark.anyio
@pytest.mark.parametrize("kind", [pytest.param("memory", id="memory"),
                                  pytest.param("sqlite", id="sqlite")])
async def test_changed_request_under_the_same_id_is_refused_before_sending(
    sim: KlingSimulator, tmp_path: Path, kind: str
) -> None:
    """A rerun whose jobs file changed a journaled job's request raises ``JobsFileError``
    naming each line and sends nothing; reordered keys are the same request."""
    jobs = _jobs(3)
    store = MemoryJobStore() if kind == "memory" else SqliteJobStore(tmp_path / "j.sqlite3")
    try:
        async with _client(sim) as client:
            assert (await BatchRunner(client, store).run(jobs)).ok
            before = sim.stats().total_requests
            with pytest.raises(JobsFileError) as caught:
                await BatchRunner(client, store).run(
                    _edited(jobs, prompts={"i1": "a fox", "i2": "a hen"}))
            assert sim.stats().total_requests == before
            again = await BatchRunner(client, store).run(_edited(jobs, prompts={}))
    finally:
        store.close()
    problems = caught.value.problems
    assert len(problems) == 2
    assert problems[0].startswith("line 2: request: differs") and "'i1'" in problems[0]
    assert problems[1].startswith("line 3: request: differs") and "'i2'" in problems[1]
    assert again.ok and again.progress.finished_this_run == 0
    assert sim.stats().tasks_created == 3


@pytest.mark.anyio
async def test_journal_without_request_hashes_is_not_checked(
    sim: KlingSimulator, tmp_path: Path
) -> None:
    """Jobs journaled by an older version (no hash) are not compared: unknown, not different."""
    jobs = _jobs(2)
    async with _client(sim) as client:
        await run_batch(client, jobs, out_dir=tmp_path)
    db = sqlite3.connect(tmp_path / "journal.sqlite3")
    db.execute("UPDATE jobs SET request_hash = NULL")
    db.commit()
    db.close()
    async with _client(sim) as client:
        result = await run_batch(client, _edited(jobs, prompts={"i1": "a fox"}), out_dir=tmp_path)
    assert result.ok and sim.stats().tasks_created == 2


def _sim_file(url: str) -> bytes:
    """The bytes the simulator serves at ``url`` (``.../__sim/files/{task_id}/{name}``)."""
    task_id, name = URL(url).parts[-2:]
    return file_bytes(task_id, name)[0]


@pytest.mark.anyio
async def test_a_file_in_a_reused_folder_is_kept_and_the_result_saved_beside_it(
    sim: KlingSimulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A file already under a result's name that this batch never journaled is neither
    trusted nor overwritten: the result is saved as ``v0~1.mp4`` (with a warning)."""
    jobs = _jobs(2)
    (tmp_path / "v0.mp4").write_bytes(b"an older batch's video")
    with caplog.at_level(logging.WARNING, logger="kling_async"):
        async with _client(sim) as client:
            result = await run_batch(client, jobs, out_dir=tmp_path, download=True)
    assert result.ok
    url = result.rows[0]["urls"][0]
    assert (tmp_path / "v0.mp4").read_bytes() == b"an older batch's video"
    assert result.rows[0]["files"] == ["v0~1.mp4"]
    assert (tmp_path / "v0~1.mp4").read_bytes() == _sim_file(url)
    assert "saving the result of job v0 as v0~1.mp4" in caplog.text
    assert sim.stats().files_served[URL(url).path] == 1


@pytest.mark.anyio
async def test_partial_downloads_left_by_a_crash_are_resumed_with_ranges(
    sim: KlingSimulator, tmp_path: Path
) -> None:
    """Half of every file on disk with its sidecar (a killed run): the next run fetches only
    the missing halves (206s, no whole GET), and leaves none of its partials or sidecars
    behind (a stray partial it never journaled stays untouched)."""
    jobs = _jobs(4)
    async with _client(sim) as client:
        first = await run_batch(client, jobs, out_dir=tmp_path)
    urls = {url: name for row in first.rows
            for url, name in zip(row["urls"], result_file_names(row["id"], tuple(row["urls"])),
                                 strict=True)}
    journal = SqliteJobStore(tmp_path / "journal.sqlite3")
    for row in first.rows:  # the names were journaled before the (killed) downloads began
        for url, name in zip(row["urls"], result_file_names(row["id"], tuple(row["urls"])),
                             strict=True):
            journal.record_download(row["id"], url, name)
    journal.close()
    for url, name in urls.items():
        content = _sim_file(url)
        dest = tmp_path / name
        part_path(dest).write_bytes(content[: len(content) // 2])
        write_sidecar(dest, url, Sidecar(url_sha256=url_digest(url), size=len(content),
                                         etag=file_etag(content)))
    stray = tmp_path / "stray.png"
    part_path(stray).write_bytes(b"x")
    write_sidecar(stray, "http://h/s", Sidecar(url_sha256=url_digest("http://h/s"), size=9,
                                               etag='"s"'))
    async with _client(sim) as client:
        second = await run_batch(client, jobs, out_dir=tmp_path, download=True)
    stats = sim.stats()
    assert second.ok and sim.stats().tasks_created == 4
    for url, name in urls.items():
        assert (tmp_path / name).read_bytes() == _sim_file(url)
    assert stats.files_served == {}
    assert stats.file_ranges_served == {URL(u).path: 1 for u in urls}
    assert stats.file_bytes_served == {
        URL(u).path: len(_sim_file(u)) - len(_sim_file(u)) // 2 for u in urls}
    leftovers = [p.name for p in tmp_path.iterdir() if ".part" in p.name]  # noqa: ASYNC240
    assert sorted(leftovers) == ["stray.png.part", "stray.png.part.json"]  # not this batch's
