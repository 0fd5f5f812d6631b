"""``ResultFetcher``: downloads a finished job's results and journals each file.

A file is journaled only after its atomic rename; a final name already on disk is a finished
download (only complete files are ever renamed there), so a crash between the rename and the
journal write never causes a second download.  A failed download is journaled as the job's
error and retried by the next run; the task is never re-generated.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import anyio.abc

from ._download import Downloader, DownloadError, result_file_names
from ._store import JobRecord, JobStore


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

    async def _fetch(self, job_id: str, record: JobRecord) -> None:
        try:
            failed: list[str] = []
            for url, name in zip(record.urls, result_file_names(job_id, record.urls), strict=True):
                recorded = record.files.get(url)
                if recorded is not None and (self._out / recorded).exists():
                    continue
                dest = self._out / name
                if not dest.exists():
                    try:
                        await self._downloader.download(url, dest)
                    except DownloadError as exc:
                        failed.append(str(exc))
                        continue
                self._store.record_file(job_id, url, name)
                if recorded is None:
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
