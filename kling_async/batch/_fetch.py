"""``ResultFetcher``: downloads a finished job's results and journals each file with its size.

A file under its final name counts as this batch's only when something vouches for it:

- the journal has it, with the same size (a journal of an older version, without sizes: it
  exists);
- or a download receipt (``<name>.part.json`` whose ``.part`` was renamed onto the file, with
  the file's size): the crash came between the rename and the journal write.  It is journaled
  then, without a download.

Anything else under the name (a reused output folder, a file changed since) is foreign: it is
downloaded again to ``<name>.part`` and atomically replaces the file, with a warning logged on
``kling_async``.  A failed download is journaled as the job's error and retried by the next run
(resuming its partial file); the task is never re-generated.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import anyio
import anyio.abc

from ._download import Downloader, DownloadError, result_file_names
from ._partial import clear_receipt, completed_size
from ._store import JobRecord, JobStore

log = logging.getLogger("kling_async")


class ResultFetcher:
    """Runs each job's downloads in the caller's task group; ``wait()`` for all to end."""

    def __init__(self, store: JobStore, out_dir: Path, downloader: Downloader):
        self._store = store
        self._out = out_dir
        self._downloader = downloader
        self._pending = 0
        self._idle = anyio.Event()
        self._idle.set()
        #: Result files on disk and journaled during this run / jobs with a failed download.
        self.downloaded = 0
        self.errors = 0
        #: Files under a result's name that nothing vouched for, replaced by the download.
        self.replaced = 0

    def start(self, tg: anyio.abc.TaskGroup, job_id: str, record: JobRecord) -> None:
        """Fetch the job's missing files in the background."""
        if not record.urls:
            return
        if self._pending == 0:
            self._idle = anyio.Event()
        self._pending += 1
        tg.start_soon(self._fetch, job_id, record)

    async def wait(self) -> None:
        """Wait until no download is under way."""
        await self._idle.wait()

    def _journaled(self, record: JobRecord, url: str) -> bool:
        """The journal has the file of ``url`` and it is on disk, of the journaled size."""
        recorded = record.files.get(url)
        if recorded is None:
            return False
        path = self._out / recorded
        try:
            if not path.is_file():
                return False
            size = record.file_sizes.get(url)
            return size is None or path.stat().st_size == size
        except OSError:
            return False

    async def _fetch(self, job_id: str, record: JobRecord) -> None:
        try:
            failed: list[str] = []
            for url, name in zip(record.urls, result_file_names(job_id, record.urls), strict=True):
                if self._journaled(record, url):
                    continue
                counted = url in record.files  # already in the run's initial progress count
                dest = self._out / name
                size = completed_size(url, dest)
                if size is not None:  # renamed into place, then the crash hit: journal it now
                    self._store.record_file(job_id, url, name, size)
                    clear_receipt(dest)
                else:
                    if dest.exists():
                        self.replaced += 1
                        log.warning("%s: not a download this batch journaled; replacing it "
                                    "with the result of job %s", dest, job_id)
                    journal = functools.partial(self._store.record_file, job_id, url, name)
                    try:
                        await self._downloader.download(url, dest, on_done=journal)
                    except DownloadError as exc:
                        failed.append(str(exc))
                        continue
                if not counted:
                    self.downloaded += 1
            if failed:
                self.errors += 1
                self._store.record_error(job_id, "; ".join(failed))
            elif record.error:
                self._store.record_error(job_id, None)
        finally:
            self._pending -= 1
            if self._pending == 0:
                self._idle.set()
