"""The batch layer against hostile file servers and hostile text, through its public API:
bounded downloads, typed failures, no partial file left, a journal that never crashes."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from kling_async import KlingError
from kling_async.batch import (
    BatchStorageError,
    Downloader,
    DownloadError,
    DownloadTooLargeError,
    JobsFileError,
    JournalStatus,
    MemoryJobStore,
    SqliteJobStore,
    load_jobs,
    open_store,
    parse_jobs,
)
from kling_async.batch._store import request_hash

BOMB = gzip.compress(b"\0" * (4 * 1024 * 1024))  # about 4 KiB on the wire, 4 MiB decoded


async def _bomb(request: web.Request) -> web.StreamResponse:
    return web.Response(body=BOMB, headers={"Content-Encoding": "gzip",
                                            "Content-Type": "image/png", "ETag": '"b"'})


async def _endless(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "video/mp4"})
    await resp.prepare(request)
    for _ in range(2000):  # 128 MiB at most: far past the test's limit
        await resp.write(b"\1" * 65536)
    return resp


async def _announced(request: web.Request) -> web.StreamResponse:
    return web.Response(body=b"x" * 1000, headers={"Content-Type": "image/png"})


async def _liar(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Length": "5000", "Content-Type": "image/png"})
    await resp.prepare(request)
    await resp.write(b"y" * 1000)
    assert request.transport is not None
    request.transport.close()  # fewer bytes than announced, then the connection ends
    return resp


SEEN: list[dict[str, str | None]] = []


async def _gzip_seen(request: web.Request) -> web.StreamResponse:
    SEEN.append({"encoding": request.headers.get("Accept-Encoding")})
    return await _bomb(request)


@pytest.fixture
async def files() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/bomb.png", _gzip_seen)
    app.router.add_get("/endless.mp4", _endless)
    app.router.add_get("/announced.png", _announced)
    app.router.add_get("/liar.png", _liar)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


def _left(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.anyio
async def test_an_encoded_body_may_not_inflate_past_its_bound(files: str, tmp_path: Path) -> None:
    """A server that gzips anyway (4 KiB -> 4 MiB): ``DownloadTooLargeError`` (a
    ``DownloadError``, a ``KlingError``) once the decoded bytes pass ``max_inflation`` times
    the declared size; identity was asked for; no file, partial or not, is left."""
    SEEN.clear()
    async with aiohttp.ClientSession() as session:
        loader = Downloader(session, attempts=3, max_inflation=20, sleep=_no_sleep)
        with pytest.raises(DownloadTooLargeError) as caught:
            await loader.download(f"{files}/bomb.png?sig=secret", tmp_path / "a.png")
    assert isinstance(caught.value, DownloadError) and isinstance(caught.value, KlingError)
    assert "goes past" in str(caught.value) and "secret" not in str(caught.value)
    assert len(SEEN) == 1 and SEEN[0]["encoding"] == "identity"  # permanent: not retried
    assert _left(tmp_path) == []


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["endless.mp4", "announced.png"])
async def test_a_body_past_max_bytes_fails_typed_and_leaves_nothing(
    files: str, tmp_path: Path, path: str,
) -> None:
    """A body without a length that never ends, or one announcing more than ``max_bytes``:
    ``DownloadTooLargeError``, and no file left behind."""
    async with aiohttp.ClientSession() as session:
        loader = Downloader(session, attempts=2, max_bytes=512 * 1024 if "endless" in path
                            else 999, sleep=_no_sleep)
        with pytest.raises(DownloadTooLargeError):
            await loader.download(f"{files}/{path}", tmp_path / "a.bin")
    assert _left(tmp_path) == []


@pytest.mark.anyio
async def test_a_body_shorter_than_its_content_length_fails_and_leaves_no_file(
    files: str, tmp_path: Path,
) -> None:
    """``Content-Length`` 5000, 1000 bytes sent: ``DownloadError``, no file under the final
    name (only a resumable partial could stay; this reply has no validator, so none does)."""
    async with aiohttp.ClientSession() as session:
        loader = Downloader(session, attempts=2, sleep=_no_sleep)
        with pytest.raises(DownloadError):
            await loader.download(f"{files}/liar.png", tmp_path / "a.png")
    assert _left(tmp_path) == []


@pytest.mark.anyio
@pytest.mark.parametrize("url", [
    "http://127.0.0.1:99999/x.png", "http://[::1", "ftp://127.0.0.1/x.png", "/relative.png",
    "http://127.0.0.1/" + "a" * 100_000, "http://127.0.0.1/\ud800.png", "",
])
async def test_an_unusable_url_is_a_permanent_download_error(url: str, tmp_path: Path) -> None:
    """URLs that cannot be parsed or fetched over http(s) fail typed and permanent, before
    any request, with a short message."""
    async with aiohttp.ClientSession() as session:
        with pytest.raises(DownloadError) as caught:
            await Downloader(session).download(url, tmp_path / "x.png")
    assert caught.value.permanent and len(str(caught.value)) < 400
    assert _left(tmp_path) == []


async def _no_sleep(_seconds: float) -> None:
    return None


# -- the journal and hashes on any str ---------------------------------------------------------

@pytest.mark.parametrize("make", [MemoryJobStore, "sqlite"])
def test_the_journal_takes_any_str(make: object, tmp_path: Path) -> None:
    """Lone surrogates in a task id, an error, URLs and a task (a hostile server's) are
    journaled without raising, and a reopened journal reads them back."""
    store = SqliteJobStore(tmp_path / "j.sqlite3") if make == "sqlite" else MemoryJobStore()
    store.record_intent("a", "images/generations", "ext-a", request_hash="h")
    store.record_task_id("a", "t\ud800")
    store.record_error("a", "bad \udcff reply")
    store.record_result("a", status=JournalStatus.SUCCEEDED, urls=("http://h/\ud800.png",),
                        task={"task_id": "t\ud800", "status_msg": "\udfff"})
    store.record_download("a", "http://h/\ud800.png", "a.png")
    store.record_file("a", "http://h/\ud800.png", "a.png", 3)
    record = store.get("a")
    assert record is not None and record.status is JournalStatus.SUCCEEDED
    assert record.task_id is not None and record.task_id.startswith("t")
    store.close()
    if make == "sqlite":
        again = SqliteJobStore(tmp_path / "j.sqlite3")
        assert [r.job_id for r in again.records()] == ["a"]
        again.close()


def test_request_hash_takes_any_str_and_is_unchanged_for_valid_text() -> None:
    """A body with a lone surrogate hashes (no ``UnicodeEncodeError``); valid text keeps
    the hash journals already hold."""
    assert len(request_hash({"prompt": "\ud800"})) == 64
    expected = hashlib.sha256('{"prompt":"é"}'.encode()).hexdigest()
    assert request_hash({"prompt": "é"}) == expected


def test_a_journal_that_is_not_a_database_is_a_typed_error_and_untouched(tmp_path: Path) -> None:
    """Opening a text file as the journal: ``BatchStorageError`` naming it; the file is left
    byte for byte, and no ``-wal`` / ``-shm`` appears."""
    path = tmp_path / "journal.sqlite3"
    path.write_text("not a database at all\n" * 50)
    with pytest.raises(BatchStorageError) as caught:
        SqliteJobStore(path)
    assert str(path) in str(caught.value) and "not a kling-async journal" in str(caught.value)
    assert path.read_text() == "not a database at all\n" * 50
    assert _left(tmp_path) == ["journal.sqlite3"]



@pytest.mark.parametrize("where", ["is-a-file", "under-a-file"])
def test_an_output_folder_that_cannot_be_made_is_a_typed_error(tmp_path: Path, where: str) -> None:
    """``open_store`` on a path naming a regular file, or below one: ``BatchStorageError``
    naming the path and saying a file is in the way; the file is left as it is."""
    (tmp_path / "file").write_text("x")
    out = tmp_path / "file" if where == "is-a-file" else tmp_path / "file" / "out"
    with pytest.raises(BatchStorageError) as caught:
        open_store(out)
    assert caught.value.path == str(out) and "file" in caught.value.problem
    assert (tmp_path / "file").read_text() == "x" and _left(tmp_path) == ["file"]

# -- the jobs file -------------------------------------------------------------------------------

def _job(job_id: str, prompt: str = "x") -> str:
    return json.dumps({"id": job_id, "endpoint": "images/generations",
                       "request": {"prompt": prompt}}, ensure_ascii=False)


def test_line_separators_inside_json_strings_do_not_split_a_line(tmp_path: Path) -> None:
    """U+2028, U+2029 and U+0085 (and a form feed) inside a prompt keep the line whole: one
    job whose prompt has them, not an invalid-JSON error; CRLF line ends work too."""
    prompt = "one\u2028two\u2029three\x85four\x0cfive"
    path = tmp_path / "jobs.jsonl"
    path.write_bytes((_job("a", prompt) + "\r\n" + _job("b") + "\r\n").encode())
    jobs = load_jobs(path)
    assert [j.id for j in jobs] == ["a", "b"] and jobs[0].request.prompt == prompt
    assert [j.line for j in jobs] == [1, 2]


@pytest.mark.parametrize("job_id", ["ab\n", "ab\r", "nul", "CON.x", "com1", "a\u2028"])
def test_ids_with_line_ends_or_reserved_names_are_refused(job_id: str) -> None:
    """An id ending in a newline (``re.match`` with ``$`` let it through), or naming a
    Windows device, is refused on its line."""
    with pytest.raises(JobsFileError) as caught:
        parse_jobs([_job(job_id)])
    assert "line 1: id: must be" in str(caught.value)


def test_a_file_of_many_bad_lines_gives_a_bounded_message(tmp_path: Path) -> None:
    """100,000 bad lines: every one counted, 50 listed, the rest summed up in one line."""
    path = tmp_path / "jobs.jsonl"
    path.write_text("{oops\n" * 100_000)
    with pytest.raises(JobsFileError) as caught:
        load_jobs(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: 100000 invalid lines")
    assert "... and 99950 more" in message and len(message.splitlines()) == 52


def test_an_endless_stream_of_bad_lines_stops_being_read(tmp_path: Path) -> None:
    """Past ``MAX_PROBLEMS_COUNTED`` problems the reading stops with a clean error (a device
    like ``/dev/urandom`` given as the jobs file ends too)."""
    path = tmp_path / "jobs.jsonl"
    path.write_text("{oops\n" * 150_000)
    with pytest.raises(JobsFileError) as caught:
        load_jobs(path)
    assert "  stopped reading at line 100001: more than 100000 problems" in str(caught.value)
    assert len(str(caught.value).splitlines()) == 52
