"""``ResultFetcher``: downloads a finished job's results and journals each file with its size.

Files in the output folder are touched only when this batch wrote them and journaled them:

- each result's local name is chosen once and journaled (``record_download``) before its first
  byte is written; later runs reuse that name (and resume its partial file);
- the name is ``<id>.<ext>`` (``<id>_<i>.<ext>`` for several results); if that name, its
  ``.part`` or its ``.part.json`` is already taken by a file this batch did not journal (a
  user's file, a browser's download, a symlink), the result goes to ``<id>~1.<ext>``,
  ``<id>~2.<ext>``... instead (``~`` is not allowed in job ids, so no job's name clashes), with
  a warning on ``kling_async``: nothing of the user's is overwritten or removed;
- a file under a journaled name counts as downloaded when the journal has it with the same
  size (a journal of an older version, without sizes: it exists), or when a download receipt
  vouches for it (``<name>.part.json`` whose ``.part`` was renamed onto it: the crash came
  between the rename and the journal write; it is journaled then, without a download).  A
  journaled file changed since (another size) is left as it is and downloaded again under a
  new name.

Names come from the job id (checked by the jobs file) and an extension of at most six letters
and digits from the URL path; names read back from a journal must be plain file names (no
folder part, no ``..``), else they are ignored.  An invalid result URL (unparsable, not
http(s), too long) is a failed download of that file, journaled as the job's error.  A failed
download is retried by the next run (resuming its partial file); the task is never
re-generated.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Container, Iterable
from pathlib import Path

import anyio
import anyio.abc

from ._download import Downloader, DownloadError, result_file_names, url_problem
from ._partial import clear_receipt, completed_size, part_path, sidecar_path
from ._storage import BatchStorageError
from ._store import JobRecord, JobStore

log = logging.getLogger("kling_async")
#: How many ``~N`` alternatives are tried for a taken name.
_MAX_ALTERNATIVES = 1000


def plain_name(name: object) -> bool:
    """Whether ``name`` (read from a journal) is a plain file name inside the output folder."""
    return (isinstance(name, str) and name not in ("", ".", "..") and "/" not in name
            and "\\" not in name and "\x00" not in name and os.path.basename(name) == name)


def _taken(dest: Path) -> bool:
    """Something (a file, a folder, a symlink, even dangling) has ``dest``'s name or the name
    of one of its partial files."""
    return any(os.path.lexists(p) for p in (dest, part_path(dest), sidecar_path(dest)))


def _alternative(name: str, n: int) -> str:
    stem, dot, ext = name.partition(".")
    return f"{stem}~{n}{dot}{ext}"


def free_name(folder: Path, url: str, name: str, reserved: Container[str]) -> str:
    """``name``, or its first ``~N`` alternative, that nothing in ``folder`` has (nor a
    partial file of it) and that is not ``reserved``; ``DownloadError`` if none is free."""
    candidates: Iterable[str] = (
        name if n == 0 else _alternative(name, n) for n in range(_MAX_ALTERNATIVES))
    for candidate in candidates:
        if candidate not in reserved and not _taken(folder / candidate):
            return candidate
    raise DownloadError(url, f"no free file name like {name} in {folder}", permanent=True)


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
        #: Results saved under another name because theirs was taken by a file not ours.
        self.renamed = 0
        #: Names journaled by this batch (chosen for a download, or downloaded).
        self._names = {name for r in store.records()
                       for name in (*r.downloads.values(), *r.files.values())}

    @property
    def replaced(self) -> int:
        """Files overwritten that this batch had not written: always 0 (kept for callers)."""
        return 0

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
        if recorded is None or not plain_name(recorded):
            return False
        path = self._out / recorded
        try:
            if not path.is_file():
                return False
            size = record.file_sizes.get(url)
            return size is None or path.stat().st_size == size
        except OSError:
            return False

    def _choose(self, job_id: str, url: str, name: str, record: JobRecord) -> str:
        """The name ``url`` downloads to: the journaled one, else ``name`` or the first free
        ``~N`` alternative, journaled before any byte is written."""
        planned = record.downloads.get(url)
        for own in (planned, record.files.get(url)):
            if own is None or not plain_name(own):
                continue
            if url not in record.files or not _taken(self._out / own):  # nothing else there
                if own != planned:
                    self._store.record_download(job_id, url, own)
                return own
        candidate = free_name(self._out, url, name, self._names)
        if candidate != name:
            self.renamed += 1
            log.warning("%s: taken by a file this batch did not write; saving the result of "
                        "job %s as %s instead", self._out / name, job_id, candidate)
        self._names.add(candidate)
        self._store.record_download(job_id, url, candidate)
        return candidate

    async def _fetch_one(self, job_id: str, url: str, name: str, record: JobRecord) -> None:
        """Download (or journal from its receipt) one result; ``DownloadError`` if it fails."""
        problem = url_problem(url)
        if problem is not None:
            raise DownloadError(url, problem, permanent=True)
        name = self._choose(job_id, url, name, record)
        dest = self._out / name
        size = completed_size(url, dest)
        if size is not None:  # renamed into place, then the crash hit: journal it now
            self._store.record_file(job_id, url, name, size)
            clear_receipt(dest)
            return
        journal = functools.partial(self._store.record_file, job_id, url, name)
        await self._downloader.download(url, dest, on_done=journal)

    async def _fetch(self, job_id: str, record: JobRecord) -> None:
        try:
            failed: list[str] = []
            for url, name in zip(record.urls, result_file_names(job_id, record.urls), strict=True):
                if self._journaled(record, url):
                    continue
                counted = url in record.files  # already in the run's initial progress count
                try:
                    await self._fetch_one(job_id, url, name, record)
                except (DownloadError, BatchStorageError) as exc:
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
