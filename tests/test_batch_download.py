"""Downloads: atomic rename, size check, bounded retries, never a re-generation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from kling_async.batch import Downloader, DownloadError
from kling_async.batch._download import file_suffix, remove_partial_files, result_file_names

BODY = b"\x89PNG" + bytes(range(200))


class FileServer:
    """A loopback server whose replies follow a script: ``ok``, ``short``, ``500``, ``404``."""

    def __init__(self) -> None:
        self.script: list[str] = []
        self.hits = 0
        self.auth_headers: list[str | None] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.hits += 1
        self.auth_headers.append(request.headers.get("Authorization"))
        step = self.script.pop(0) if self.script else "ok"
        if step == "500":
            return web.Response(status=500)
        if step == "404":
            return web.Response(status=404)
        response = web.StreamResponse(headers={"Content-Length": str(len(BODY))})
        await response.prepare(request)
        await response.write(BODY if step == "ok" else BODY[:50])
        if step == "short":
            assert request.transport is not None
            request.transport.close()
            return response
        await response.write_eof()
        return response


@pytest.fixture
async def server() -> AsyncIterator[tuple[FileServer, str]]:
    files = FileServer()
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


@pytest.mark.anyio
async def test_download_lands_atomically_under_its_final_name(
    server: tuple[FileServer, str], tmp_path: Path
) -> None:
    """The file appears complete under its name; no temporary file is left; no auth sent."""
    files, url = server
    dest = tmp_path / "job.png"
    async with aiohttp.ClientSession() as session:
        size = await Downloader(session).download(url, dest)
    assert size == len(BODY) and dest.read_bytes() == BODY
    assert list(tmp_path.iterdir()) == [dest]  # noqa: ASYNC240
    assert files.auth_headers == [None]


@pytest.mark.anyio
@pytest.mark.parametrize("failure", [
    pytest.param("short", id="body-shorter-than-content-length"),
    pytest.param("500", id="server-error"),
    pytest.param("404", id="not-yet-there"),
])
async def test_failed_attempt_is_retried_on_its_own(
    server: tuple[FileServer, str], tmp_path: Path, failure: str
) -> None:
    """A short body (size check), a 5xx or a 404 is retried; the second try succeeds."""
    files, url = server
    files.script = [failure, "ok"]
    dest = tmp_path / "job.png"
    async with aiohttp.ClientSession() as session:
        downloader = Downloader(session, sleep=_no_sleep)
        await downloader.download(url, dest)
    assert dest.read_bytes() == BODY and files.hits == 2 and downloader.retries == 1
    assert [p.name for p in tmp_path.iterdir()] == ["job.png"]  # noqa: ASYNC240


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


def test_leftover_partial_files_are_removed(tmp_path: Path) -> None:
    """``*.part`` leftovers of a killed run are deleted; finished files stay."""
    (tmp_path / "a.png.1234.part").write_bytes(b"x")
    (tmp_path / "a.png").write_bytes(b"y")
    assert remove_partial_files(tmp_path) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]
