"""The simulator's result files: ETag, byte ranges, If-Range, 416, HEAD, streaming knobs, stats."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest
from yarl import URL

from kling_async.testing import KlingSimulator
from kling_async.testing._files import FileServing, file_serving, requested_range
from kling_async.testing._media import file_bytes, file_etag
from tests._simhelpers import running

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def video_file() -> AsyncIterator[tuple[KlingSimulator, aiohttp.ClientSession, str, bytes]]:
    """A simulator with one finished video task: the session, the file URL and its bytes."""
    async with running(latency=0) as (sim, session):
        async with session.post(f"{sim.base_url}/v1/videos/text2video",
                                json={"prompt": "x"}) as resp:
            task_id = (await resp.json())["data"]["task_id"]
        async with session.get(f"{sim.base_url}/v1/videos/text2video/{task_id}") as resp:
            url = (await resp.json())["data"]["task_result"]["videos"][0]["url"]
        name = URL(url).name
        yield sim, session, url, file_bytes(task_id, name)[0]


async def test_whole_file_has_a_stable_strong_etag_and_accepts_ranges() -> None:
    """A plain GET is a 200 with the bytes, a strong ETag (hash of the bytes), Accept-Ranges."""
    async with video_file() as (_sim, session, url, content):
        etags = []
        for _ in range(2):
            async with session.get(url) as resp:
                assert resp.status == 200 and await resp.read() == content
                assert resp.headers["Accept-Ranges"] == "bytes"
                assert "Content-Range" not in resp.headers
                etags.append(resp.headers["ETag"])
    assert etags[0] == etags[1] == file_etag(content)
    assert etags[0].startswith('"') and not etags[0].startswith("W/")


@pytest.mark.parametrize(("header", "first", "last"), [
    pytest.param("bytes=0-9", 0, 9, id="first-ten"),
    pytest.param("bytes=100-", 100, None, id="open-ended"),
    pytest.param("bytes=-10", -10, None, id="suffix"),
    pytest.param("bytes=1000-999999", 1000, None, id="end-clipped"),
    pytest.param("bytes=-999999", 0, None, id="suffix-longer-than-file"),
    pytest.param("BYTES = 5 - 5", 5, 5, id="case-and-spaces"),
])
async def test_single_range_is_a_206_with_content_range(
    header: str, first: int, last: int | None
) -> None:
    """One range gets 206, exactly those bytes, and ``Content-Range: bytes a-b/size``."""
    async with video_file() as (_sim, session, url, content):
        size = len(content)
        start = first % size if first < 0 else first
        end = size - 1 if last is None else last
        async with session.get(url, headers={"Range": header}) as resp:
            assert resp.status == 206
            assert await resp.read() == content[start:end + 1]
            assert resp.headers["Content-Range"] == f"bytes {start}-{end}/{size}"
            assert int(resp.headers["Content-Length"]) == end - start + 1


@pytest.mark.parametrize("header", [
    pytest.param("bytes={size}-", id="starts-at-the-end"),
    pytest.param("bytes={size}-{size}", id="past-the-end"),
    pytest.param("bytes=-0", id="empty-suffix"),
])
async def test_unsatisfiable_range_is_416_with_the_size(header: str) -> None:
    """A range that starts past the end gets 416 and ``Content-Range: bytes */size``."""
    async with video_file() as (sim, session, url, content):
        size = len(content)
        async with session.get(url, headers={"Range": header.format(size=size)}) as resp:
            assert resp.status == 416
            assert resp.headers["Content-Range"] == f"bytes */{size}"
        assert sim.stats().file_requests == {416: 1}


@pytest.mark.parametrize("headers", [
    pytest.param({"Range": "bytes=10-", "If-Range": '"another-etag"'}, id="if-range-mismatch"),
    pytest.param({"Range": "bytes=10-", "If-Range": "Wed, 21 Oct 2015 07:28:00 GMT"},
                 id="if-range-date"),
    pytest.param({"Range": "bytes=0-1,4-5"}, id="several-ranges"),
    pytest.param({"Range": "bytes=abc-"}, id="not-a-number"),
    pytest.param({"Range": "items=0-1"}, id="other-unit"),
    pytest.param({"Range": "bytes=9-2"}, id="last-before-first"),
    pytest.param({"Range": "bytes=-"}, id="no-bounds"),
])
async def test_ignored_range_gets_the_whole_file(headers: dict[str, str]) -> None:
    """An If-Range that is not the ETag, or a malformed or multiple Range: the whole file (200)."""
    async with video_file() as (_sim, session, url, content):
        async with session.get(url, headers=headers) as resp:
            assert resp.status == 200 and await resp.read() == content


async def test_matching_if_range_gets_the_range() -> None:
    """``If-Range`` equal to the ETag: the range is served (206)."""
    async with video_file() as (_sim, session, url, content):
        headers = {"Range": "bytes=10-", "If-Range": file_etag(content)}
        async with session.get(url, headers=headers) as resp:
            assert resp.status == 206 and await resp.read() == content[10:]
        weak = {"Range": "bytes=10-", "If-Range": "W/" + file_etag(content)}
        async with session.get(url, headers=weak) as resp:
            assert resp.status == 200, "a weak tag never matches (strong comparison)"


async def test_head_has_the_whole_file_headers_and_is_not_counted() -> None:
    """HEAD answers the size, ETag and Accept-Ranges without a body; the stats ignore it."""
    async with video_file() as (sim, session, url, content):
        async with session.head(url, headers={"Range": "bytes=0-9"}) as resp:
            assert resp.status == 200
            assert int(resp.headers["Content-Length"]) == len(content)
            assert resp.headers["ETag"] == file_etag(content)
            assert await resp.read() == b""
        stats = sim.stats()
    assert stats.file_requests == {} and stats.file_bytes_served == {}


async def test_stats_count_whole_bodies_ranges_bytes_and_misses() -> None:
    """200s and 206s are counted by path with their bytes; 404s by status; API stats apart."""
    async with video_file() as (sim, session, url, content):
        api_requests = sim.stats().total_requests
        path = URL(url).path
        async with session.get(url) as resp:
            await resp.read()
        async with session.get(url, headers={"Range": "bytes=100-"}) as resp:
            await resp.read()
        async with session.get(url.replace("video", "nothing")) as resp:
            assert resp.status == 404
        stats = sim.stats()
        sim.reset()
        cleared = sim.stats()
    assert stats.files_served == {path: 1}
    assert stats.file_ranges_served == {path: 1}
    assert stats.file_bytes_served == {path: 2 * len(content) - 100}
    assert stats.file_requests == {200: 1, 206: 1, 404: 1}
    assert stats.files_cut == 0 and stats.total_requests == api_requests
    data = stats.to_json()
    assert data["files_served"] == {path: 1} and data["file_ranges_served"] == {path: 1}
    assert data["file_requests"] == {"200": 1, "206": 1, "404": 1}
    assert data["file_bytes_served"] == {path: 2 * len(content) - 100}
    assert data["files_cut"] == 0
    assert cleared.files_served == {} and cleared.file_requests == {}


async def test_cut_closes_the_connection_mid_body_and_is_counted() -> None:
    """``cuts``/``cut_after`` stop the next body after that many bytes; the client sees a
    broken payload; the next GET is whole again."""
    async with video_file() as (sim, session, url, content):
        knobs = file_serving(sim)
        knobs.cut_after, knobs.cuts = 300, 1
        async with session.get(url) as resp:
            assert resp.status == 200
            with pytest.raises(aiohttp.ClientPayloadError):
                await resp.read()
        async with session.get(url) as resp:
            assert await resp.read() == content
        stats = sim.stats()
    path = URL(url).path
    assert knobs.cuts == 0 and stats.files_cut == 1
    assert stats.files_served == {path: 1}
    assert stats.file_bytes_served == {path: 300 + len(content)}


async def test_slow_pieces_deliver_the_same_bytes() -> None:
    """``chunk_bytes``/``chunk_delay`` stream the body in pieces; the bytes are unchanged."""
    async with video_file() as (sim, session, url, content):
        knobs = file_serving(sim)
        knobs.chunk_bytes, knobs.chunk_delay = 100, 0.001
        pieces = []
        async with session.get(url) as resp:
            async for piece in resp.content.iter_any():
                pieces.append(piece)
    assert b"".join(pieces) == content and len(pieces) > 1


def test_file_serving_knobs_are_validated_and_per_simulator() -> None:
    """Bad knob values are refused; each simulator has its own knobs; ``pieces`` splits every
    body into that many pieces."""
    first, second = KlingSimulator(), KlingSimulator()
    file_serving(first).chunk_bytes = 10
    assert file_serving(second).chunk_bytes is None
    with pytest.raises(ValueError):
        file_serving(first).chunk_bytes = 0
    with pytest.raises(ValueError):
        file_serving(first).cut_after = -1
    assert FileServing(pieces=8).piece_size(73) == 10  # 8 pieces: 7 of 10 bytes, one of 3
    assert FileServing(chunk_bytes=16).piece_size(73) == 16
    assert FileServing().piece_size(73) == 73


@pytest.mark.parametrize(("header", "expected"), [
    pytest.param(None, None, id="no-range"),
    pytest.param("bytes=0-0", (0, 0), id="one-byte"),
    pytest.param("bytes=3-", (3, 9), id="open"),
    pytest.param("bytes=-3", (7, 9), id="suffix"),
    pytest.param("bytes=10-", "unsatisfiable", id="at-end"),
    pytest.param("bytes=-0", "unsatisfiable", id="empty-suffix"),
    pytest.param("bytes=0-1, 3-4", None, id="multi"),
    pytest.param("bytes=4-2", None, id="reversed"),
    pytest.param("bytes 0-1", None, id="no-equals"),
])
def test_requested_range_parses_one_range(header: str | None, expected: object) -> None:
    """Range parsing on a 10-byte file (``(first, last)`` inclusive)."""
    headers = {} if header is None else {"Range": header}
    assert requested_range(headers, '"e"', 10) == expected
