"""``GuardedStore``: a journal whose failures stop the batch instead of crashing it.

A ``BatchRunner`` writes its journal from many places (the create hook, the poll results, the
downloads).  When a write fails with ``BatchStorageError`` (disk full, read-only folder), the
runner must stop cleanly, not lose its other work in a task-group traceback: each failure is
reported to ``on_error`` (the runner stops and raises the first one at the end).  Writes that
guard money or files (``record_intent`` before a create POST, ``record_download`` before a
file's first byte, ``record_file`` before a download receipt is removed) still raise, so that
step does not happen; the others (task ids, results, errors) are dropped: the next run
recovers them from the server (by task id or external_task_id).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .._errors import ConfigurationError
from ._storage import BatchStorageError
from ._store import JobRecord, JobStore, JournalStatus


class GuardedStore:
    """``store`` with every ``BatchStorageError`` reported to ``on_error`` first.

    Reads and the writes that guard money or files report and raise (``_reported``); the
    others report and drop the error (``_dropped``)."""

    def __init__(self, store: JobStore, on_error: Callable[[BatchStorageError], object]):
        self._store = store
        self._on_error = on_error

    @contextlib.contextmanager
    def _reported(self) -> Iterator[None]:
        """A ``BatchStorageError`` inside goes to ``on_error``, then on to the caller."""
        try:
            yield
        except BatchStorageError as exc:
            self._on_error(exc)
            raise

    @contextlib.contextmanager
    def _dropped(self) -> Iterator[None]:
        """A ``BatchStorageError`` inside goes to ``on_error`` only (the next run recovers
        what it lost from the server)."""
        try:
            yield
        except BatchStorageError as exc:
            self._on_error(exc)

    def batch_id(self) -> str:
        return self._store.batch_id()

    def get(self, job_id: str) -> JobRecord | None:
        with self._reported():
            return self._store.get(job_id)

    def records(self) -> list[JobRecord]:
        with self._reported():
            return self._store.records()

    def record_intent(self, job_id: str, endpoint: str, external_task_id: str, *,
                      request_hash: str | None = None) -> None:
        with self._reported():  # before the create POST: no intent, no POST
            self._store.record_intent(job_id, endpoint, external_task_id,
                                      request_hash=request_hash)

    def record_retry(self, job_id: str, endpoint: str, external_task_id: str, *,
                     request_hash: str | None = None) -> None:
        with self._reported():  # before the new create POST, as an intent
            retry = getattr(self._store, "record_retry", None)
            if retry is None:
                raise ConfigurationError(f"{type(self._store).__name__} has no record_retry: "
                                         "failed jobs cannot be sent again with it")
            retry(job_id, endpoint, external_task_id, request_hash=request_hash)

    def record_task_id(self, job_id: str, task_id: str) -> None:
        with self._dropped():
            self._store.record_task_id(job_id, task_id)

    def record_result(self, job_id: str, *, status: JournalStatus, urls: tuple[str, ...] = (),
                      task: Mapping[str, Any] | None = None, error: str | None = None) -> None:
        with self._dropped():
            self._store.record_result(job_id, status=status, urls=urls, task=task, error=error)

    def record_error(self, job_id: str, error: str | None) -> None:
        with self._dropped():
            self._store.record_error(job_id, error)

    def record_file(self, job_id: str, url: str, path: str, size: int | None = None) -> None:
        with self._reported():  # before the download's receipt is removed
            self._store.record_file(job_id, url, path, size)

    def record_download(self, job_id: str, url: str, path: str) -> None:
        with self._reported():  # before the file's first byte
            self._store.record_download(job_id, url, path)

    def close(self) -> None:
        self._store.close()
