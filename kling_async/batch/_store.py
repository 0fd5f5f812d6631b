"""The job store (journal) protocol, its record type, and ``MemoryJobStore``.

A store remembers, per batch job, what was promised and what happened, so a batch can resume
after a crash without losing or duplicating paid work:

1. ``record_intent`` (the external_task_id chosen, and a hash of the request) right before
   the create POST, strictly before it;
2. ``record_task_id`` right after the server accepted it;
3. ``record_result`` once the task ended (succeeded, or failed for good);
4. ``record_download`` (the local name chosen) before a result file's first byte is written,
   so only files the batch recorded are ever touched again (resumed, cleaned up);
5. ``record_file`` (with its size) once a result file is on disk under its final name.

Each write is durable when the call returns (``SqliteJobStore`` commits per write).

Asked explicitly (``run --retry-failed``), a job that ended ``failed`` is sent again as a NEW
task: ``record_retry`` replaces its record, in one write strictly before the new create POST,
by a fresh intent under a new external_task_id (the old one is never reused).  The built-in
stores have it; it is not part of the ``JobStore`` protocol (a store of your own without it
simply cannot retry).
"""

from __future__ import annotations

import enum
import hashlib
import json
import secrets
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import attrs


class JournalStatus(str, enum.Enum):
    """Where a batch job is, as journaled."""

    SENT = "sent"  # intent written: the create may or may not have reached the server
    SUBMITTED = "submitted"  # the server accepted it: task_id known
    SUCCEEDED = "succeeded"  # finished with results
    FAILED = "failed"  # finished for good without results (no rerun changes that)

    @property
    def finished(self) -> bool:
        return self is JournalStatus.SUCCEEDED or self is JournalStatus.FAILED


@attrs.frozen(kw_only=True)
class JobRecord:
    """What the journal knows about one batch job (a snapshot)."""

    job_id: str
    endpoint: str
    external_task_id: str
    status: JournalStatus = JournalStatus.SENT
    task_id: str | None = None
    urls: tuple[str, ...] = ()
    #: result URL -> local path (relative to the output folder) of each downloaded file
    files: Mapping[str, str] = attrs.field(factory=dict)
    error: str | None = None
    task: Mapping[str, Any] | None = None
    #: ``request_hash`` of the request sent (None: journaled by an older version, unknown)
    request_hash: str | None = None
    #: result URL -> size in bytes of each downloaded file (missing: unknown, older version)
    file_sizes: Mapping[str, int] = attrs.field(factory=dict)
    #: result URL -> local name chosen for its download (``record_download``), finished or not
    downloads: Mapping[str, str] = attrs.field(factory=dict)


def request_hash(body: Mapping[str, Any]) -> str:
    """The sha256 of a request's canonical wire JSON (sorted keys, no spaces): equal for the
    same request however its JSON was written."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # surrogatepass: the same bytes as UTF-8 for any valid text, and defined for any str
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def check_intent(job_id: str, old_ext: str, old_hash: str | None, ext: str,
                 new_hash: str | None) -> None:
    """``ValueError`` if an intent for ``job_id`` contradicts the journaled one."""
    if old_ext != ext:
        raise ValueError(f"job {job_id!r} already has external_task_id {old_ext!r}")
    if old_hash is not None and new_hash is not None and old_hash != new_hash:
        raise ValueError(f"job {job_id!r} was journaled with another request "
                         f"(sha256 {old_hash[:12]}...)")


def check_retry(job_id: str, row: JobRecord | None, external_task_id: str) -> bool:
    """Whether ``record_retry`` must replace ``row``: False if it already carries
    ``external_task_id`` (the retry is journaled: idempotent); ``KeyError`` if there is no
    record, ``ValueError`` if the job did not fail (only failed jobs are sent again)."""
    if row is None:
        raise KeyError(f"no record for job {job_id!r}: nothing to retry")
    if row.external_task_id == external_task_id:
        return False
    if row.status is not JournalStatus.FAILED:
        raise ValueError(f"job {job_id!r} is {row.status.value}, not failed: it is not sent "
                         "again")
    return True


def new_batch_id() -> str:
    """A random batch id: two batches never share external task ids."""
    return secrets.token_hex(6)


@runtime_checkable
class JobStore(Protocol):
    """Where a ``BatchRunner`` journals its jobs.  Every write is durable once it returns."""

    def batch_id(self) -> str:
        """This journal's batch id (made once, then always the same)."""
        ...

    def get(self, job_id: str) -> JobRecord | None:
        """The record of ``job_id``, or None if nothing was ever sent for it."""
        ...

    def records(self) -> list[JobRecord]:
        """Every record, in the order the intents were written."""
        ...

    def record_intent(self, job_id: str, endpoint: str, external_task_id: str, *,
                      request_hash: str | None = None) -> None:
        """The create for ``job_id`` is about to be sent with ``external_task_id``.

        Idempotent; a different ``external_task_id`` (or ``request_hash``, when both are
        known) is refused with ``ValueError``.
        """
        ...

    def record_task_id(self, job_id: str, task_id: str) -> None:
        """The server accepted the create: ``task_id``."""
        ...

    def record_result(self, job_id: str, *, status: JournalStatus, urls: tuple[str, ...] = (),
                      task: Mapping[str, Any] | None = None, error: str | None = None) -> None:
        """The job ended (``SUCCEEDED`` with ``urls``, or ``FAILED`` with ``error``)."""
        ...

    def record_error(self, job_id: str, error: str | None) -> None:
        """Note the last error of an unfinished job (or a failed download); None clears it."""
        ...

    def record_file(self, job_id: str, url: str, path: str, size: int | None = None) -> None:
        """The result at ``url`` is on disk at ``path`` (relative to the output folder),
        ``size`` bytes long."""
        ...

    def record_download(self, job_id: str, url: str, path: str) -> None:
        """The result at ``url`` is about to be downloaded to ``path`` (relative to the output
        folder): from now on ``path`` and its partial files belong to this batch."""
        ...

    def close(self) -> None:
        """Release resources; idempotent."""
        ...


class MemoryJobStore:
    """A ``JobStore`` in a dict: for tests and for runs that need no crash safety."""

    def __init__(self, batch_id: str | None = None) -> None:
        self._batch_id = batch_id or new_batch_id()
        self._rows: dict[str, JobRecord] = {}

    def batch_id(self) -> str:
        return self._batch_id

    def get(self, job_id: str) -> JobRecord | None:
        return self._rows.get(job_id)

    def records(self) -> list[JobRecord]:
        return list(self._rows.values())

    def _row(self, job_id: str) -> JobRecord:
        row = self._rows.get(job_id)
        if row is None:
            raise KeyError(f"no intent recorded for job {job_id!r}")
        return row

    def record_intent(self, job_id: str, endpoint: str, external_task_id: str, *,
                      request_hash: str | None = None) -> None:
        row = self._rows.get(job_id)
        if row is None:
            self._rows[job_id] = JobRecord(job_id=job_id, endpoint=endpoint,
                                           external_task_id=external_task_id,
                                           request_hash=request_hash)
            return
        check_intent(job_id, row.external_task_id, row.request_hash, external_task_id,
                     request_hash)
        if row.request_hash is None and request_hash is not None:
            self._rows[job_id] = attrs.evolve(row, request_hash=request_hash)

    def record_task_id(self, job_id: str, task_id: str) -> None:
        row = self._row(job_id)
        status = row.status if row.status.finished else JournalStatus.SUBMITTED
        self._rows[job_id] = attrs.evolve(row, task_id=task_id, status=status)

    def record_result(self, job_id: str, *, status: JournalStatus, urls: tuple[str, ...] = (),
                      task: Mapping[str, Any] | None = None, error: str | None = None) -> None:
        row = self._row(job_id)
        task_id = row.task_id or (str(task["task_id"]) if task and task.get("task_id") else None)
        self._rows[job_id] = attrs.evolve(row, status=status, urls=tuple(urls), task=task,
                                          error=error, task_id=task_id)

    def record_retry(self, job_id: str, endpoint: str, external_task_id: str, *,
                     request_hash: str | None = None) -> None:
        """A failed job is about to be sent again with a new ``external_task_id``: its
        record becomes a fresh intent (idempotent for the same id)."""
        row = self._rows.get(job_id)
        if check_retry(job_id, row, external_task_id):
            assert row is not None
            self._rows[job_id] = JobRecord(
                job_id=job_id, endpoint=endpoint, external_task_id=external_task_id,
                request_hash=request_hash or row.request_hash)

    def record_error(self, job_id: str, error: str | None) -> None:
        self._rows[job_id] = attrs.evolve(self._row(job_id), error=error)

    def record_file(self, job_id: str, url: str, path: str, size: int | None = None) -> None:
        row = self._row(job_id)
        sizes = {k: v for k, v in row.file_sizes.items() if k != url}
        if size is not None:
            sizes[url] = size
        self._rows[job_id] = attrs.evolve(row, files={**row.files, url: path}, file_sizes=sizes)

    def record_download(self, job_id: str, url: str, path: str) -> None:
        row = self._row(job_id)
        self._rows[job_id] = attrs.evolve(row, downloads={**row.downloads, url: path})

    def close(self) -> None:
        pass
