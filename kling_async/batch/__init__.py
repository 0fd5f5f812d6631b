"""Batch pipelines: many jobs from a JSONL file, journaled so a crash loses and repeats nothing.

::

    from kling_async import KlingClient
    from kling_async.batch import load_jobs, run_batch

    async with KlingClient.from_env() as client:
        result = await run_batch(client, load_jobs("jobs.jsonl"), out_dir="results",
                                 download=True)

The same call with the same ``out_dir`` resumes: finished jobs are skipped, in-flight ones are
re-attached, ambiguous ones reconciled by ``external_task_id``, only never-sent jobs are
submitted, and downloads cut short continue from the bytes already on disk (``Range`` with
``If-Range``).  ``kling-async run`` is a thin layer over this.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .._client import KlingClient
from .._policy import PollPolicy
from ._budget import SpendGuard, SpendLimitError
from ._download import Downloader, DownloadError, DownloadTooLargeError
from ._gallery import GALLERY_NAME, render_gallery, write_gallery
from ._jobsfile import BatchJob, JobsFileError, load_jobs, parse_jobs
from ._progress import BatchProgress, ProgressDisplay, format_summary
from ._results import RESULTS_NAME, task_to_dict
from ._runner import JOURNAL_NAME, BatchResult, BatchRunner, external_task_id_for
from ._sqlite import SqliteJobStore
from ._storage import BatchStorageError, make_folder
from ._store import JobRecord, JobStore, JournalStatus, MemoryJobStore


def open_store(out_dir: str | Path | None) -> JobStore:
    """The journal of a batch in ``out_dir`` (created), or a ``MemoryJobStore`` if None."""
    if out_dir is None:
        return MemoryJobStore()
    make_folder(Path(out_dir))
    return SqliteJobStore(Path(out_dir) / JOURNAL_NAME)


async def run_batch(
    client: KlingClient, jobs: Sequence[BatchJob] | str | Path, *,
    out_dir: str | Path | None = None, store: JobStore | None = None, download: bool = False,
    poll: PollPolicy | None = None, on_progress: Callable[..., Any] | None = None,
    max_downloads: int = 4,
) -> BatchResult:
    """Run (or resume) a batch on an open ``client``.

    ``jobs`` is a list of ``BatchJob`` or the path of a JSONL jobs file (validated whole
    first).  The journal is ``store``, else ``out_dir/journal.sqlite3`` when ``out_dir`` is
    given, else in memory (no crash safety).
    """
    batch = load_jobs(jobs) if isinstance(jobs, (str, Path)) else list(jobs)
    owned = store is None
    if store is None:
        store = open_store(out_dir)
    try:
        runner = BatchRunner(client, store, out_dir=out_dir, download=download, poll=poll,
                             on_progress=on_progress, max_downloads=max_downloads)
        return await runner.run(batch)
    finally:
        if owned:
            store.close()


__all__ = [
    "GALLERY_NAME",
    "JOURNAL_NAME",
    "RESULTS_NAME",
    "BatchJob",
    "BatchProgress",
    "BatchResult",
    "BatchRunner",
    "BatchStorageError",
    "DownloadError",
    "DownloadTooLargeError",
    "Downloader",
    "JobRecord",
    "JobStore",
    "JobsFileError",
    "JournalStatus",
    "MemoryJobStore",
    "ProgressDisplay",
    "SpendGuard",
    "SpendLimitError",
    "SqliteJobStore",
    "external_task_id_for",
    "format_summary",
    "load_jobs",
    "open_store",
    "parse_jobs",
    "render_gallery",
    "run_batch",
    "task_to_dict",
    "write_gallery",
]
