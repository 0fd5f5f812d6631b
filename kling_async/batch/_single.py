"""``download_files``: one task's result files into a folder, by the batch's own ``Downloader``.

What ``Task.download`` (and ``BlockingKlingClient.download``) run.  The files are named as a
batch names them (``<task_id>.<ext>``, ``<task_id>_<i>.<ext>`` for several results) and a
name already taken in the folder (by any file, or a partial file of it) is never overwritten:
the result goes to ``<name>~1.<ext>``, ``<name>~2.<ext>``... instead (``free_name``, shared
with the batch).  Each file is streamed to ``<name>.part``, size-checked and renamed into
place only complete; a file that fails leaves nothing behind (its partial file and sidecar
are removed) and raises ``DownloadError``; files completed before it stay.  The files are
fetched one after another, each retried on its own (the ``Downloader``'s bounded backoff).

``_models.task`` cannot import this module (the package's import graph has no circle: the
batch code imports the models), so this module hands ``download_files`` to it on import
(``kling_async/__init__`` imports it through ``_blocking``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import aiohttp

from .._models.task import set_file_fetcher
from ._download import Downloader, DownloadError, result_file_names, url_problem
from ._fetch import free_name
from ._partial import discard
from ._storage import make_folder


@contextlib.asynccontextmanager
async def _session_for(session: aiohttp.ClientSession | None
                       ) -> AsyncIterator[aiohttp.ClientSession]:
    """``session``, or a new one closed on exit (result URLs need no credentials)."""
    if session is not None:
        yield session
        return
    async with aiohttp.ClientSession() as own:
        yield own


async def download_files(task_id: str, urls: Sequence[str], folder: str | os.PathLike[str], *,
                         session: aiohttp.ClientSession | None = None) -> list[Path]:
    """Download ``urls`` (a task's results) into ``folder`` (created if missing); the paths
    written, in the order of ``urls``.  ``DownloadError`` for a file that failed (an invalid
    URL fails before anything is fetched), ``BatchStorageError`` if the folder cannot be made.
    """
    if not urls:
        return []
    for url in urls:
        problem = url_problem(url)
        if problem is not None:
            raise DownloadError(url, problem, permanent=True)
    out = Path(folder)
    make_folder(out)
    reserved: set[str] = set()
    written: list[Path] = []
    async with _session_for(session) as http:
        downloader = Downloader(http, max_concurrent=1)
        for url, name in zip(urls, result_file_names(task_id, tuple(urls)), strict=True):
            chosen = free_name(out, url, name, reserved)
            reserved.add(chosen)
            dest = out / chosen
            try:
                await downloader.download(url, dest)
            except BaseException:
                discard(dest)  # the name was free, partial files included: these are ours
                raise
            written.append(dest)
    return written


set_file_fetcher(download_files)
