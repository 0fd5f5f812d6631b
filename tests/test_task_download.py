"""``Task.download`` and ``BlockingKlingClient.download``: one task's files, by the batch's code.

Against the simulator, whose result URLs serve real small files.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp
import attrs
import pytest
from anyio.from_thread import start_blocking_portal

from kling_async import BlockingKlingClient, Image, ImageGenerationRequest, Task, TaskStatus
from kling_async.batch import DownloadError
from kling_async.testing import KlingSimulator

from ._simhelpers import POLL, SCALE, client_for

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


async def finished(sim: KlingSimulator, n: int = 1) -> Task:
    async with client_for(sim) as client:
        job = await client.submit(ImageGenerationRequest(prompt="a lighthouse", n=n))
        task = await job.result()
    assert task.status is TaskStatus.SUCCEED and len(task.urls) == n
    return task


async def served(url: str) -> bytes:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        assert resp.status == 200
        return await resp.read()


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


async def test_download_writes_every_result_file_whole_and_returns_their_paths(
    sim: KlingSimulator, tmp_path: Path,
) -> None:
    """Each result lands as <task_id>_<i>.<ext>, byte for byte, with no partial file left."""
    task = await finished(sim, n=2)
    out = tmp_path / "new" / "folder"
    paths = await task.download(out)
    assert paths == [out / f"{task.task_id}_0.png", out / f"{task.task_id}_1.png"]
    for path, url in zip(paths, task.urls, strict=True):
        assert path.read_bytes() == await served(url)
    assert listing(out) == [p.name for p in paths]


async def test_download_uses_a_given_session(sim: KlingSimulator, tmp_path: Path) -> None:
    """session= (e.g. the client's) is used and left open."""
    task = await finished(sim)
    async with aiohttp.ClientSession() as session:
        paths = await task.download(tmp_path, session=session)
        assert not session.closed
    assert paths == [tmp_path / f"{task.task_id}.png"]


async def test_an_existing_file_is_never_overwritten(sim: KlingSimulator, tmp_path: Path) -> None:
    """A user's file under the result's name stays; the result goes to <name>~1.<ext>."""
    task = await finished(sim)
    mine = tmp_path / f"{task.task_id}.png"
    mine.write_bytes(b"my own picture")
    (tmp_path / f"{task.task_id}~1.png.part").write_bytes(b"a browser's partial file")
    paths = await task.download(tmp_path)
    assert paths == [tmp_path / f"{task.task_id}~2.png"]
    assert mine.read_bytes() == b"my own picture"
    assert paths[0].read_bytes() == await served(task.urls[0])
    assert (tmp_path / f"{task.task_id}~1.png.part").read_bytes() == b"a browser's partial file"


async def test_a_failed_file_raises_download_error_and_leaves_nothing(
    sim: KlingSimulator, tmp_path: Path,
) -> None:
    """A result that cannot be fetched (404) is a DownloadError; no file or partial remains."""
    task = await finished(sim, n=2)
    good = task.images[0]
    gone = attrs.evolve(task.images[1], url=f"{sim.base_url}/__sim/files/no-such-task/x.png")
    task = attrs.evolve(task, images=(good, gone))
    with pytest.raises(DownloadError, match="HTTP 404") as caught:
        await task.download(tmp_path)
    assert caught.value.url == gone.url
    assert listing(tmp_path) == [f"{task.task_id}_0.png"]  # the file completed before it


async def test_an_invalid_url_fails_before_anything_is_written(tmp_path: Path) -> None:
    """A result URL that is not http(s) is refused before any file is fetched."""
    task = Task(task_id="t1", status=TaskStatus.SUCCEED,
                images=(Image(index=0, url="https://127.0.0.1:1/a.png"),
                        Image(index=1, url="file:///etc/passwd")))
    with pytest.raises(DownloadError, match="not an http"):
        await task.download(tmp_path / "out")
    assert not (tmp_path / "out").exists()


async def test_a_task_without_results_downloads_nothing(tmp_path: Path) -> None:
    """A task still running has no URLs: [] and no folder made."""
    task = Task(task_id="t2", status=TaskStatus.PROCESSING)
    assert await task.download(tmp_path / "out") == []
    assert not (tmp_path / "out").exists()


def test_the_blocking_client_downloads_with_its_own_session(tmp_path: Path) -> None:
    """BlockingKlingClient.download(task, folder) runs Task.download on the client's loop."""
    simulator = KlingSimulator(time_scale=SCALE, seed=5, image_median=2, video_median=4)
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(simulator), \
            BlockingKlingClient(api_key=simulator.api_key, base_url=simulator.base_url,
                                poll=POLL, reconcile_delay=0) as client:
        task = client.submit(ImageGenerationRequest(prompt="a boat")).result(timeout=30)
        paths = client.download(task, tmp_path)
        assert paths == [tmp_path / f"{task.task_id}.png"]
        assert paths[0].stat().st_size > 0
        assert listing(tmp_path) == [paths[0].name]
