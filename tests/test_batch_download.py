"""Downloads: resumable (Range + If-Range), size-checked, atomic, bounded retries, no auth."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
from aiohttp import web

from kling_async.batch import Downloader, DownloadError, JournalStatus, MemoryJobStore
from kling_async.batch._download import file_suffix, result_file_names
from kling_async.batch._fetch import ResultFetcher
from kling_async.batch._partial import (
    Sidecar,
    completed_size,
    part_path,
    remove_partial_files,
    sidecar_path,
    url_digest,
    write_sidecar,
)

BODY = b"\x89PNG" + bytes(range(256)) * 40  # 10 KiB + 4
CUT = 3000
OLD_DATE = "Wed, 21 Oct 2015 07:28:00 GMT"


class FileServer:
    """A loopback file server following a script of steps, one per request.

    ``ok`` serves (honouring ``Range: bytes=N-`` and ``If-Range`` when ``ranges``), ``short``
    sends ``CUT`` bytes, waits until the client wrote them to ``watch`` (aiohttp drops bytes
    still unread when the connection closes), then closes; ``500`` / ``404`` are errors,
    ``bad-start`` answers a range with a ``Content-Range`` one byte off, ``bad-length`` sends a
    206 shorter than its range.
    """

    def __init__(self, watch: Path) -> None:
        self.watch = watch
        self.body = BODY
        self.etag: str | None = '"v1"'
        self.last_modified: str | None = None
        self.ranges = True
        self.script: list[str] = []
        self.seen: list[dict[str, Any]] = []

    @property
    def hits(self) -> int:
        return len(self.seen)

    def statuses(self) -> list[int]:
        return [s["status"] for s in self.seen]

    def sent(self) -> int:
        return sum(s["sent"] for s in self.seen)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        step = self.script.pop(0) if self.script else "ok"
        seen: dict[str, Any] = {key: request.headers.get(header) for key, header in (
            ("range", "Range"), ("if_range", "If-Range"), ("auth", "Authorization"),
            ("encoding", "Accept-Encoding"))}
        seen.update(status=0, sent=0)
        self.seen.append(seen)
        if step in ("500", "404"):
            seen["status"] = int(step)
            return web.Response(status=int(step))
        headers = {}
        if self.etag:
            headers["ETag"] = self.etag
        if self.last_modified:
            headers["Last-Modified"] = self.last_modified
        status, start, size = 200, 0, len(self.body)
        wanted, if_range = seen["range"], seen["if_range"]
        if self.ranges and wanted and if_range in (None, self.etag, self.last_modified):
            start = int(wanted.removeprefix("bytes=").removesuffix("-"))
            if start >= size:
                seen["status"] = 416
                return web.Response(status=416, headers={"Content-Range": f"bytes */{size}"})
            status = 206
            shown = start + 1 if step == "bad-start" else start
            headers["Content-Range"] = f"bytes {shown}-{size - 1}/{size}"
        payload = self.body[start:]
        if step == "bad-length":
            payload = payload[:100]
        seen["status"] = status
        response = web.StreamResponse(status=status, headers=headers)
        response.content_length = len(payload)
        await response.prepare(request)
        if step == "short":
            await response.write(payload[:CUT])
            seen["sent"] = min(CUT, len(payload))
            with anyio.fail_after(10):
                while not self.watch.exists() or self.watch.stat().st_size < CUT:  # noqa: ASYNC110
                    await anyio.sleep(0.001)
            assert request.transport is not None
            request.transport.close()
            return response
        await response.write(payload)
        seen["sent"] = len(payload)
        await response.write_eof()
        return response


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[tuple[FileServer, str]]:
    files = FileServer(part_path(tmp_path / "job.png"))
    app = web.Application()
    app.router.add_get("/files/{name}", files.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield files, f"http://127.0.0.1:{port}/files/result.png?token=secret"
    finally:
        await runner.cleanup()


async def _no_sleep(_seconds: float) -> None:
    return None


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


async def _download(url: str, dest: Path, **options: Any) -> Downloader:
    """One download on a fresh session (a fresh session = a new run after a crash)."""
    async with aiohttp.ClientSession() as session:
        downloader = Downloader(session, sleep=_no_sleep, **options)
        await downloader.download(url, dest)
    return downloader


async def _leave_a_partial(url: str, dest: Path) -> None:
    """A run whose only attempt is cut mid-body: the partial and its sidecar stay."""
    with pytest.raises(DownloadError):
        await _download(url, dest, attempts=1)


@pytest.mark.anyio
async def test_download_lands_atomically_under_its_final_name(
    server: tuple[FileServer, str], tmp_path: Path
) -> None:
    """The file appears complete under its name; nothing else is left; no auth; raw bytes."""
    files, url = server
    dest = tmp_path / "job.png"
    async with aiohttp.ClientSession() as session:
        size = await Downloader(session).download(url, dest)
    assert size == len(BODY) and dest.read_bytes() == BODY
    assert _names(tmp_path) == ["job.png"]
    assert [(s["auth"], s["encoding"], s["range"]) for s in files.seen] == [
        (None, "identity", None)]


@pytest.mark.anyio
@pytest.mark.parametrize("failure", [
    pytest.param("short", id="body-shorter-than-content-length"),
    pytest.param("500", id="server-error"),
    pytest.param("404", id="not-yet-there"),
])
async def test_failed_attempt_is_retried_on_its_own(
    server: tuple[FileServer, str], tmp_path: Path, failure: str
) -> None:
    """A short body, a 5xx or a 404 is retried; the second try succeeds."""
    files, url = server
    files.script = [failure, "ok"]
    dest = tmp_path / "job.png"
    downloader = await _download(url, dest)
    assert dest.read_bytes() == BODY and files.hits == 2 and downloader.retries == 1
    assert _names(tmp_path) == ["job.png"]


@pytest.mark.anyio
async def test_retry_after_a_cut_resumes_where_the_body_stopped(
    server: tuple[FileServer, str], tmp_path: Path
) -> None:
    """Cut mid-body, the retry asks ``Range: bytes=<have>-`` with ``If-Range: <etag>`` and
    appends the 206: one whole GET, one range GET, the file's size fetched once in total."""
    files, url = server
    files.script = ["short", "ok"]
    dest = tmp_path / "job.png"
    downloader = await _download(url, dest)
    assert dest.read_bytes() == BODY and _names(tmp_path) == ["job.png"]
    assert files.statuses() == [200, 206]
    assert (files.seen[1]["range"], files.seen[1]["if_range"]) == (f"bytes={CUT}-", '"v1"')
    assert files.sent() == len(BODY) and downloader.bytes_received == len(BODY)
    assert downloader.resumed == 1 and downloader.restarts == 0


@pytest.mark.anyio
async def test_a_new_run_resumes_the_partial_left_by_a_killed_one(
    server: tuple[FileServer, str], tmp_path: Path
) -> None:
    """The partial and its sidecar survive a failed run (the sidecar holds a hash of the URL,
    never its query); the next run, on a new session, resumes with a range request."""
    files, url = server
    files.script = ["short"]
    dest = tmp_path / "job.png"
    await _leave_a_partial(url, dest)
    assert _names(tmp_path) == ["job.png.part", "job.png.part.json"]
    assert part_path(dest).read_bytes() == BODY[:CUT]
    text = sidecar_path(dest).read_text()
    assert "secret" not in text and "token" not in text
    assert json.loads(text) == {
        "format": 1, "url_sha256": hashlib.sha256(url.encode()).hexdigest(),
        "url": url.split("?")[0], "etag": '"v1"', "last_modified": None, "size": len(BODY)}
    downloader = await _download(url, dest)
    assert dest.read_bytes() == BODY and _names(tmp_path) == ["job.png"]
    assert files.statuses() == [200, 206] and files.sent() == len(BODY)
    assert downloader.resumed == 1


@pytest.mark.anyio
async def test_changed_file_fails_if_range_and_restarts_from_zero(
    server: tuple[FileServer, str], tmp_path: Path
) -> None:
    """If the file changed (new ETag), the server answers the whole new file: start over."""
    files, url = server
    files.script = ["short"]
    dest = tmp_path / "job.png"
    await _leave_a_partial(url, dest)
    files.body, files.etag = BODY[::-1], '"v2"'
    downloader = await _download(url, dest)
    assert dest.read_bytes() == BODY[::-1] and _names(tmp_path) == ["job.png"]
    assert files.statuses() == [200, 200] and files.seen[1]["if_range"] == '"v1"'
    assert downloader.restarts == 1 and downloader.resumed == 0


@pytest.mark.anyio
async def test_server_ignoring_ranges_gives_a_full_restart(
    server: tuple[FileServer, str], tmp_path: Path
) -> None:
    """A server without range support answers the range request with 200: start over."""
    files, url = server
    files.ranges = False
    files.script = ["short", "ok"]
    dest = tmp_path / "job.png"
    downloader = await _download(url, dest)
    assert dest.read_bytes() == BODY and _names(tmp_path) == ["job.png"]
    assert files.statuses() == [200, 200] and files.seen[1]["range"] == f"bytes={CUT}-"
    assert downloader.restarts == 1


@pytest.mark.anyio
@pytest.mark.parametrize("etag", ['"v1"', None], ids=["resumable", "receipt-only"])
async def test_complete_partial_is_finished_without_a_request(
    server: tuple[FileServer, str], tmp_path: Path, etag: str | None
) -> None:
    """Every byte on disk but never renamed (killed just before the rename): the partial is
    renamed into place with no request at all."""
    files, url = server
    dest = tmp_path / "job.png"
    part_path(dest).write_bytes(BODY)
    write_sidecar(dest, url, Sidecar(url_sha256=url_digest(url), size=len(BODY), etag=etag))
    downloader = await _download(url, dest)
    assert dest.read_bytes() == BODY and _names(tmp_path) == ["job.png"]
    assert files.hits == 0 and downloader.resumed == 1


@pytest.mark.anyio
@pytest.mark.parametrize("step", [
    pytest.param("bad-start", id="content-range-off-by-one"),
    pytest.param("416", id="416-while-incomplete"),
])
async def test_inconsistent_range_reply_discards_the_partial_and_restarts(
    server: tuple[FileServer, str], tmp_path: Path, step: str
) -> None:
    """A 206 that does not continue the partial exactly, or a 416 while bytes are missing:
    the partial is dropped and the file fetched whole, in the same attempt."""
    files, url = server
    files.script = ["short"]
    dest = tmp_path / "job.png"
    await _leave_a_partial(url, dest)
    if step == "416":
        files.body = BODY[: CUT - 1]  # same ETag, shorter: a server that contradicts itself
    else:
        files.script = ["bad-start"]
    downloader = await _download(url, dest, attempts=1)
    assert dest.read_bytes() == files.body and _names(tmp_path) == ["job.png"]
    assert files.statuses()[1:] == [206 if step == "bad-start" else 416, 200]
    assert downloader.restarts == 1 and downloader.retries == 0


@pytest.mark.anyio
@pytest.mark.parametrize("leftover", [
    pytest.param("other-url", id="sidecar-for-another-url"),
    pytest.param("no-sidecar", id="partial-without-sidecar"),
    pytest.param("corrupt", id="unreadable-sidecar"),
])
async def test_partial_not_matching_its_url_is_discarded(
    server: tuple[FileServer, str], tmp_path: Path, leftover: str
) -> None:
    """A partial whose sidecar is missing, unreadable or for another URL is not resumed."""
    files, url = server
    dest = tmp_path / "job.png"
    part_path(dest).write_bytes(BODY[:CUT])
    if leftover == "other-url":
        other = url.replace("secret", "other")
        write_sidecar(dest, other, Sidecar(url_sha256=url_digest(other), size=len(BODY),
                                           etag='"v1"'))
    elif leftover == "corrupt":
        sidecar_path(dest).write_text('{"format": 1, "url_sha')
    await _download(url, dest)
    assert dest.read_bytes() == BODY and _names(tmp_path) == ["job.png"]
    assert files.statuses() == [200] and files.seen[0]["range"] is None


@pytest.mark.anyio
async def test_strong_last_modified_is_the_validator_without_an_etag(
    server: tuple[FileServer, str], tmp_path: Path
) -> None:
    """Without an ETag, an old Last-Modified date is sent in If-Range."""
    files, url = server
    files.etag, files.last_modified = None, OLD_DATE
    files.script = ["short", "ok"]
    await _download(url, tmp_path / "job.png")
    assert files.statuses() == [200, 206] and files.seen[1]["if_range"] == OLD_DATE


@pytest.mark.anyio
@pytest.mark.parametrize(("etag", "modified"), [
    pytest.param('W/"weak"', None, id="weak-etag"),
    pytest.param(None, None, id="no-validator"),
])
async def test_no_strong_validator_means_no_resume(
    server: tuple[FileServer, str], tmp_path: Path, etag: str | None, modified: str | None
) -> None:
    """Without a strong validator no sidecar is written: the retry starts from zero."""
    files, url = server
    files.etag, files.last_modified = etag, modified
    files.script = ["short"]
    dest = tmp_path / "job.png"
    await _leave_a_partial(url, dest)
    assert _names(tmp_path) == []
    await _download(url, dest)
    assert dest.read_bytes() == BODY and [s["range"] for s in files.seen] == [None, None]


@pytest.mark.anyio
async def test_range_reply_shorter_than_its_content_range_is_an_error(
    server: tuple[FileServer, str], tmp_path: Path
) -> None:
    """A 206 with fewer bytes than its Content-Range is a size error (bytes kept: they are
    a valid prefix); every attempt failing that way ends in ``DownloadError``, no file."""
    files, url = server
    files.script = ["short", "bad-length", "bad-length"]
    dest = tmp_path / "job.png"
    with pytest.raises(DownloadError, match="Content-Range said") as caught:
        await _download(url, dest, attempts=3)
    assert "secret" not in str(caught.value)
    assert not dest.exists() and part_path(dest).read_bytes() == BODY[:CUT + 200]


@pytest.mark.anyio
async def test_retries_are_bounded_and_the_error_hides_the_query(
    server: tuple[FileServer, str], tmp_path: Path
) -> None:
    """After ``attempts`` failures: ``DownloadError`` (no token in it), no file at all."""
    files, url = server
    files.script = ["500"] * 10
    async with aiohttp.ClientSession() as session:
        with pytest.raises(DownloadError) as caught:
            await Downloader(session, attempts=3, sleep=_no_sleep).download(
                url, tmp_path / "job.png")
    assert files.hits == 3
    assert "secret" not in str(caught.value) and "HTTP 500" in str(caught.value)
    assert list(tmp_path.iterdir()) == []  # noqa: ASYNC240


@pytest.mark.anyio
@pytest.mark.parametrize("etag", ['"v1"', None], ids=["resumable", "no-validator"])
async def test_on_done_runs_after_the_rename_and_a_failure_keeps_the_receipt(
    server: tuple[FileServer, str], tmp_path: Path, etag: str | None
) -> None:
    """``on_done`` sees the file in place; if it raises (a crash before the journal write),
    the sidecar stays as a receipt proving the file complete, even when the server gave no
    validator (so the download itself was not resumable)."""
    files, url = server
    files.etag = etag
    dest = tmp_path / "job.png"
    seen: list[tuple[int, bool]] = []

    def journal(size: int) -> None:
        seen.append((size, dest.read_bytes() == BODY))
        raise RuntimeError("journal is gone")

    async with aiohttp.ClientSession() as session:
        with pytest.raises(RuntimeError):
            await Downloader(session).download(url, dest, on_done=journal)
    assert seen == [(len(BODY), True)]
    assert _names(tmp_path) == ["job.png", "job.png.part.json"]
    assert completed_size(url, dest) == len(BODY)
    assert completed_size(url.replace("secret", "x"), dest) is None
    dest.write_bytes(BODY[:-1])
    assert completed_size(url, dest) is None


def _succeeded(store: MemoryJobStore, job_id: str, url: str) -> None:
    store.record_intent(job_id, "images/generations", f"ext-{job_id}")
    store.record_result(job_id, status=JournalStatus.SUCCEEDED, urls=(url,))


async def _fetch(store: MemoryJobStore, job_id: str, out: Path) -> ResultFetcher:
    record = store.get(job_id)
    assert record is not None
    async with aiohttp.ClientSession() as session:
        fetcher = ResultFetcher(store, out, Downloader(session, sleep=_no_sleep))
        async with anyio.create_task_group() as tg:
            fetcher.start(tg, job_id, record)
        await fetcher.wait()
    return fetcher


@pytest.mark.anyio
async def test_fetcher_journals_a_receipted_file_without_downloading(
    server: tuple[FileServer, str], tmp_path: Path
) -> None:
    """Renamed into place but not journaled (the crash window): journaled with its size from
    the receipt, no GET, receipt removed."""
    files, url = server
    store = MemoryJobStore()
    _succeeded(store, "a", url)
    store.record_download("a", url, "a.png")  # the name was journaled before the first byte
    (tmp_path / "a.png").write_bytes(BODY)
    write_sidecar(tmp_path / "a.png", url,
                  Sidecar(url_sha256=url_digest(url), size=len(BODY), etag='"v1"'))
    fetcher = await _fetch(store, "a", tmp_path)
    record = store.get("a")
    assert record is not None and dict(record.files) == {url: "a.png"}
    assert dict(record.file_sizes) == {url: len(BODY)}
    assert files.hits == 0 and fetcher.downloaded == 1 and fetcher.replaced == 0
    assert _names(tmp_path) == ["a.png"]


@pytest.mark.anyio
@pytest.mark.parametrize("journaled", [
    pytest.param(False, id="unknown-file"),
    pytest.param(True, id="journaled-with-another-size"),
])
async def test_fetcher_never_overwrites_a_file_nothing_vouches_for(
    server: tuple[FileServer, str], tmp_path: Path, caplog: pytest.LogCaptureFixture,
    journaled: bool,
) -> None:
    """A file under the result's name that neither the journal (same size) nor a receipt
    vouches for is left byte for byte; the result goes to ``a~1.png``, with a warning."""
    files, url = server
    store = MemoryJobStore()
    _succeeded(store, "a", url)
    (tmp_path / "a.png").write_bytes(b"someone else's picture")
    if journaled:
        store.record_file("a", url, "a.png", len(BODY))
    with caplog.at_level(logging.WARNING, logger="kling_async"):
        fetcher = await _fetch(store, "a", tmp_path)
    assert (tmp_path / "a.png").read_bytes() == b"someone else's picture"
    assert (tmp_path / "a~1.png").read_bytes() == BODY
    assert _names(tmp_path) == ["a.png", "a~1.png"]
    assert files.hits == 1 and fetcher.replaced == 0 and fetcher.renamed == 1
    assert fetcher.downloaded == (0 if journaled else 1)
    assert "saving the result of job a as a~1.png" in caplog.text
    assert "secret" not in caplog.text
    record = store.get("a")
    assert record is not None and dict(record.files) == {url: "a~1.png"}
    assert dict(record.file_sizes) == {url: len(BODY)}


@pytest.mark.anyio
async def test_fetcher_skips_a_journaled_file_of_the_right_size(
    server: tuple[FileServer, str], tmp_path: Path
) -> None:
    """A file the journal has, with its size, is never fetched again; without a size (an
    older journal) existing is enough."""
    files, url = server
    store = MemoryJobStore()
    _succeeded(store, "a", url)
    _succeeded(store, "b", url + "&b")
    (tmp_path / "a.png").write_bytes(BODY)
    (tmp_path / "b.png").write_bytes(b"older journal, no size")
    store.record_file("a", url, "a.png", len(BODY))
    store.record_file("b", url + "&b", "b.png")
    await _fetch(store, "a", tmp_path)
    await _fetch(store, "b", tmp_path)
    assert files.hits == 0


@pytest.mark.parametrize(("url", "suffix"), [
    pytest.param("http://h/f/video.mp4", ".mp4", id="mp4"),
    pytest.param("http://h/f/image_0.PNG?x=1", ".png", id="png-with-query"),
    pytest.param("http://h/f/blob", "", id="none"),
])
def test_file_suffix_comes_from_the_url_path(url: str, suffix: str) -> None:
    """The local extension is the URL path's."""
    assert file_suffix(url) == suffix


def test_result_file_names_follow_the_job_id() -> None:
    """One result is ``<id>.<ext>``; several are numbered."""
    assert result_file_names("cat", ("http://h/v.mp4",)) == ["cat.mp4"]
    assert result_file_names("dog", ("http://h/a.png", "http://h/b.png")) == [
        "dog_0.png", "dog_1.png"]


def _sidecar(dest: Path, url: str = "http://h/x") -> None:
    write_sidecar(dest, url, Sidecar(url_sha256=url_digest(url), size=10, etag='"e"'))


def test_leftovers_are_cleaned_but_resumable_partials_and_receipts_stay(tmp_path: Path) -> None:
    """At a run's start only unusable leftovers go: old random-named partials, partials
    without a sidecar, unreadable sidecars, receipts whose file is gone."""
    (tmp_path / "a.png.1234abcd.part").write_bytes(b"x")  # an earlier version's temp file
    (tmp_path / "a.png").write_bytes(b"y")
    (tmp_path / "b.png.part").write_bytes(b"resumable")
    _sidecar(tmp_path / "b.png")
    (tmp_path / "c.png.part").write_bytes(b"no sidecar")
    _sidecar(tmp_path / "d.png")  # orphan: neither .part nor the file
    (tmp_path / "e.png").write_bytes(b"0123456789")
    _sidecar(tmp_path / "e.png")  # a receipt
    (tmp_path / "f.png.part").write_bytes(b"z")
    (tmp_path / "f.png.part.json").write_text("{not json")
    assert remove_partial_files(tmp_path) == 5
    assert _names(tmp_path) == ["a.png", "b.png.part", "b.png.part.json", "e.png",
                                "e.png.part.json"]
    assert remove_partial_files(tmp_path, keep_resumable=False) == 3
    assert _names(tmp_path) == ["a.png", "e.png"]


@pytest.mark.anyio
async def test_errors_never_carry_a_signed_urls_query_even_from_aiohttp_messages(
    tmp_path: Path,
) -> None:
    """A redirect loop makes aiohttp quote the full URL in its error; the DownloadError (and
    so the journal and results.jsonl) shows it without the query."""

    async def loop_forever(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"/f.mp4?X-Amz-Signature=TOPSECRET&n={request.query.get('n', '')}x")

    app = web.Application()
    app.router.add_get("/f.mp4", loop_forever)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as session:
            downloader = Downloader(session, attempts=1)
            with pytest.raises(DownloadError) as caught:
                await downloader.download(
                    f"http://127.0.0.1:{port}/f.mp4?X-Amz-Signature=TOPSECRET", tmp_path / "x.mp4")
    finally:
        await runner.cleanup()
    assert "TooManyRedirects" in str(caught.value)
    assert "TOPSECRET" not in str(caught.value) and "TOPSECRET" not in caught.value.reason
