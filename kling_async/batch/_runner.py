"""``BatchRunner``: run a validated batch exactly once, across crashes, with downloads.

Per job, on every run (the same command resumes):

- finished in the journal -> skipped (only missing downloads are fetched);
- task id journaled -> ``client.attach(endpoint, task_id=...)``: polling resumes;
- intent but no task id (the create may or may not have reached the server) ->
  ``client.attach(endpoint, external_task_id=...)``; ``NotFoundError`` -> submit again with
  the SAME external_task_id (the server rejects a second task with it);
- never sent -> ``client.submit_nowait(..., external_task_id=..., before_send=...)``: the
  intent (with a hash of the request) is journaled by ``before_send``, right before the POST,
  once the job holds capacity; the task id is journaled as soon as the server accepts it.  A
  journal write that fails aborts that POST (``SubmissionAbortedError``): nothing is spent
  unjournaled, and the job is reported ``not_sent`` with the error.

With ``retry_failed=True`` (asked explicitly: it is paid again), a job the journal holds as
``failed`` is sent again as a new task under a new external_task_id (``kab-rN-...``), its
record replaced by the new intent (``record_retry``) right before the POST, as for any create;
succeeded jobs are never touched.

Before anything is sent, every job already in the journal must have the same endpoint and, when
journaled, the same request hash (``JobsFileError`` lists each mismatch): a changed jobs file
under the same output folder would otherwise be skipped or mixed silently.

Submissions are fed lazily through ``client.as_completed`` (the client's capacity management
decides when each create is sent).  ``stop()`` stops submitting and ends the run promptly;
``results.jsonl`` and ``gallery.html`` (``_gallery``) are rewritten from the journal at the
end of every run.  With downloads,
only download leftovers this batch journaled are ever removed (the partial file and sidecar of
a result once it is journaled complete); a user's ``*.part`` files in the folder are never
touched.

A create (or a re-attach) refused for its credentials (``AuthenticationError``, codes
1000-1004) stops the run submitting at once: creates already handed to the client abort before
their POST (nothing journaled: ``not_sent``), the rest are never handed over, and
``BatchResult.auth_error`` says why.  The same command with a working key resumes: each job is
created once (the rejected ones are re-attached by external id, not found, and sent again).

A journal or output folder that cannot be written (disk full, read-only, not a journal) stops
the run: nothing more is sent, and ``run`` raises ``BatchStorageError`` naming the path once
the run has ended (everything journaled before stays; the same command resumes).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import attrs

from .._client import KlingClient
from .._errors import (
    AuthenticationError,
    ContentPolicyError,
    DuplicateExternalIdError,
    InvalidRequestError,
    KlingError,
    NotFoundError,
    SubmissionAbortedError,
    TaskFailedError,
)
from .._policy import PollPolicy
from .._registry import Job, JobState
from .._wire import dump_request
from ._budget import SpendGuard
from ._download import Downloader
from ._fetch import ResultFetcher, plain_name
from ._gallery import GALLERY_NAME, write_gallery
from ._guard import GuardedStore
from ._jobsfile import BatchJob, check_against_journal
from ._partial import remove_leftovers
from ._progress import BatchProgress
from ._results import RESULTS_NAME, result_row, task_to_dict, write_results
from ._storage import BatchStorageError, make_folder
from ._store import JobRecord, JobStore, JournalStatus, request_hash

JOURNAL_NAME = "journal.sqlite3"
_RECONCILE_CONCURRENCY = 8
_MAX_READABLE_ID = 48
_NOT_SENT_AUTH = "not sent: the server rejected the API key (fix it and run again)"
_NOT_SENT_SPEND = "not sent: the spending limit (max units) was reached"


def external_task_id_for(batch_id: str, job_id: str, attempt: int = 0) -> str:
    """The external_task_id of a job in a batch: deterministic, unique across batches;
    ``attempt`` N > 0 (the Nth ``retry_failed`` of the job) gives ``kab-rN-...``, never
    equal to another job's or attempt's id (a batch id is hex: it has no ``r``)."""
    if len(job_id) > _MAX_READABLE_ID:
        job_id = hashlib.sha256(job_id.encode()).hexdigest()[:32]
    prefix = f"kab-r{attempt}" if attempt > 0 else "kab"
    return f"{prefix}-{batch_id}-{job_id}"


def attempt_of(external_task_id: str) -> int:
    """The attempt number in an ``external_task_id_for`` id (0: the first)."""
    match = re.match(r"kab-r(\d+)-", external_task_id)
    return int(match.group(1)) if match else 0


@attrs.frozen(kw_only=True)
class BatchResult:
    """The outcome of one run: ``rows`` (as in ``results.jsonl``), final progress, and whether
    the run was interrupted before every job ended."""

    rows: list[dict[str, Any]]
    progress: BatchProgress
    interrupted: bool = False
    results_path: Path | None = None
    #: Why the run stopped submitting after the server rejected the credentials (the first
    #: ``AuthenticationError``, as text), or None.
    auth_error: str | None = None
    #: Units the server reported (``final_unit_deduction``) for the tasks that ended in this run.
    units_spent: float = 0.0
    #: The spending limit (``SpendGuard``) stopped submitting.
    spend_stopped: bool = False

    @property
    def retryable(self) -> bool:
        """Some job is neither succeeded nor failed for good, or has a file missing: the same
        command run again may finish it (after fixing the key, if ``auth_error``)."""
        return self.interrupted or any(
            r["status"] != "failed" and (r["status"] != "succeeded" or r["error"])
            for r in self.rows
        )

    @property
    def ok(self) -> bool:
        """Every job succeeded (and, when downloading, every file is on disk)."""
        return not self.interrupted and all(
            r["status"] == "succeeded" and not r["error"] for r in self.rows
        )


class BatchRunner:
    """Runs batches of ``BatchJob`` on ``client``, journaled in ``store``.

    ``out_dir`` receives ``results.jsonl`` and, with ``download=True``, the result files.
    ``on_progress`` is called with a ``BatchProgress`` every ``progress_interval`` seconds and
    once at the end with ``final=True``; ``on_failure(job_id, reason)`` as each job fails (for
    good, or for this run).
    """

    def __init__(
        self, client: KlingClient, store: JobStore, *, out_dir: str | Path | None = None,
        download: bool = False, max_downloads: int = 4, download_attempts: int = 5,
        poll: PollPolicy | None = None,
        on_progress: Callable[..., Any] | None = None, progress_interval: float = 0.25,
        on_failure: Callable[[str, str], Any] | None = None, retry_failed: bool = False,
        guard: SpendGuard | None = None,
        results_file: bool = True,
    ):
        if download and out_dir is None:
            raise ValueError("download=True needs out_dir")
        self._client = client
        self._store = GuardedStore(store, self._storage_failed)
        self._fatal: BatchStorageError | None = None
        self._out = Path(out_dir) if out_dir is not None else None
        self._download = download
        self._max_downloads = max_downloads
        self._download_attempts = download_attempts
        self._poll = poll
        self._on_progress = on_progress
        self._interval = progress_interval
        self._on_failure = on_failure
        self._retry_failed = retry_failed
        self._guard = guard if guard is not None else SpendGuard()
        #: Failed jobs of a former run to send again (``retry_failed``): their old records.
        self._retries: dict[str, JobRecord] = {}
        self._results_file = results_file  # False: a fleet worker writes results.jsonl itself
        self._tg: anyio.abc.TaskGroup | None = None
        self._stopping = False
        self._live: dict[str, Job] = {}
        self._queued = 0
        self._counts = {"succeeded": 0, "failed": 0, "downloaded": 0, "finished_this_run": 0}
        self._total = 0
        self._started = 0.0
        self._fetcher: ResultFetcher | None = None
        #: Errors of jobs that have no journal record (their create was never sent).
        self._unsent: dict[str, str] = {}
        #: The first create rejected for its credentials: nothing more is sent after it.
        self._auth_error: AuthenticationError | None = None

    def _storage_failed(self, exc: BatchStorageError) -> None:
        """The journal cannot be written: stop the run; ``run`` raises ``exc`` at its end."""
        if self._fatal is None:
            self._fatal = exc
        self.stop()

    def stop(self) -> None:
        """Stop submitting and end the run promptly (the journal keeps everything sent)."""
        self._stopping = True
        if self._tg is not None:
            self._tg.cancel_scope.cancel()

    # -- the run ------------------------------------------------------------------------------
    async def run(self, jobs: Sequence[BatchJob]) -> BatchResult:
        """Run (or resume) the batch; returns when every job ended or ``stop()`` was called.

        ``BatchStorageError`` if the journal or the output folder could not be written."""
        store = self._store
        records = {r.job_id: r for r in store.records()}
        check_against_journal(jobs, records)
        self._guard.check(self._to_spend(jobs, records))  # SpendLimitError: nothing sent
        self._unsent = {}
        self._fatal = None
        self._auth_error = None
        self._prepare_output(store)
        self._total = len(jobs)
        self._started = time.monotonic()
        interrupted = False
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                tg.start_soon(self._ticker)
                await self._run_jobs(jobs, records)
                tg.cancel_scope.cancel()  # the ticker
            interrupted = self._stopping
        except BaseException:
            interrupted = True
            raise
        finally:
            self._tg = None
            rows, progress, path = self._conclude(jobs, records)
        if self._fatal is not None:
            raise self._fatal
        auth = self._auth_error
        return BatchResult(rows=rows, progress=progress, interrupted=interrupted,
                           results_path=path,
                           auth_error=None if auth is None else f"{type(auth).__name__}: {auth}",
                           units_spent=self._guard.spent, spend_stopped=self._guard.stopped)

    def _to_spend(self, jobs: Sequence[BatchJob], records: Mapping[str, JobRecord]
                  ) -> list[BatchJob]:
        """The jobs this run may pay for: never sent, unfinished, or failed to send again."""
        def pays(record: JobRecord | None) -> bool:
            return record is None or not record.status.finished or (
                self._retry_failed and record.status is JournalStatus.FAILED)
        return [job for job in jobs if pays(records.get(job.id))]

    def _prepare_output(self, store: JobStore) -> None:
        """Create the output folder and the downloader (``BatchStorageError`` if it cannot)."""
        if self._out is None:
            return
        make_folder(self._out)
        if self._download:
            downloader = Downloader(self._client.session, max_concurrent=self._max_downloads,
                                    attempts=self._download_attempts)
            self._fetcher = ResultFetcher(store, self._out, downloader)

    def _conclude(self, jobs: Sequence[BatchJob], records: dict[str, JobRecord]
                  ) -> tuple[list[dict[str, Any]], BatchProgress, Path | None]:
        """After a run: clean this batch's finished downloads, write ``results.jsonl``, report
        the final progress.  A storage error is kept (the first one wins), never raised over
        an exception already under way."""
        try:
            final = {r.job_id: r for r in self._store.records()}
        except BatchStorageError as exc:
            self._storage_failed(exc)
            final = records
        path = self._out / RESULTS_NAME if self._out is not None else None
        unsent = _NOT_SENT_AUTH if self._auth_error is not None else (
            _NOT_SENT_SPEND if self._guard.stopped else None)
        rows = [result_row(job, final.get(job.id), self._unsent.get(job.id, unsent))
                for job in jobs]
        if self._out is not None and path is not None:
            self._remove_leftovers(self._out, final.values())
        if self._out is not None and path is not None and self._results_file:
            try:
                write_results(path, rows)
                write_gallery(self._out / GALLERY_NAME, jobs, rows, final.values())
            except BatchStorageError as exc:
                self._storage_failed(exc)
        progress = self.progress()
        if self._on_progress is not None:
            self._on_progress(progress, final=True)
        return rows, progress, path

    @staticmethod
    def _remove_leftovers(out: Path, records: Iterable[JobRecord]) -> None:
        """Remove the partial file / sidecar of every download this batch journaled complete
        (only names the journal holds: never a user's file)."""
        for record in records:
            for url, name in record.files.items():
                if plain_name(name) and record.downloads.get(url) in (None, name):
                    with contextlib.suppress(OSError):
                        remove_leftovers(out / name)

    async def _run_jobs(self, jobs: Sequence[BatchJob], records: dict[str, JobRecord]) -> None:
        """Count the finished jobs, re-attach the journaled ones, then feed the rest (and the
        creates that never reached the server) to the client, journaling each as it ends."""
        to_submit, to_attach = self._sort_by_journal(jobs, records)
        self._queued = len(to_submit)
        attached, retry = await self._reattach(to_attach)
        self._queued += len(retry)
        by_handle: dict[int, BatchJob] = {}
        for job, handle in attached:
            self._live[job.id] = handle
            by_handle[id(handle)] = job
            self._guard.sent(job)
            handle.add_done_callback(self._spent(job.id))

        def feed() -> Iterator[Job]:
            for job in itertools.chain(retry, to_submit):
                if self._stopping or self._auth_error is not None:
                    return
                if not self._guard.allow(job):
                    return  # the spending limit: nothing more is sent
                self._guard.sent(job)
                handle = self._submit(job)
                by_handle[id(handle)] = job
                yield handle

        source = itertools.chain((h for _, h in attached), feed())
        async for handle in self._client.as_completed(source, poll=self._poll):
            self._finished(by_handle.pop(id(handle)), handle)
        if self._fetcher is not None:
            await self._fetcher.wait()

    def _sort_by_journal(self, jobs: Sequence[BatchJob], records: Mapping[str, JobRecord]
                         ) -> tuple[list[BatchJob], list[tuple[BatchJob, JobRecord]]]:
        """The jobs never journaled (to submit) and the journaled, unfinished ones (to
        re-attach); a finished job is counted (and its missing downloads started) here."""
        to_submit: list[BatchJob] = []
        to_attach: list[tuple[BatchJob, JobRecord]] = []
        self._retries = {}
        for job in jobs:
            record = records.get(job.id)
            if record is None:
                to_submit.append(job)
            elif record.status is JournalStatus.FAILED and self._retry_failed:
                self._retries[job.id] = record
                to_submit.append(job)
            elif record.status.finished:
                self._count_finished(job, record)
            else:
                to_attach.append((job, record))
        return to_submit, to_attach

    def _count_finished(self, job: BatchJob, record: JobRecord) -> None:
        """A job a former run finished: count it, and fetch its missing downloads."""
        self._counts[record.status.value] += 1
        self._counts["downloaded"] += sum(1 for u in record.urls if u in record.files)
        if record.status is JournalStatus.SUCCEEDED:
            self._start_download(job, record)

    async def _reattach(self, to_attach: Sequence[tuple[BatchJob, JobRecord]]
                        ) -> tuple[list[tuple[BatchJob, Job]], list[BatchJob]]:
        """Re-attach journaled jobs, ``_RECONCILE_CONCURRENCY`` at a time: the Jobs found, and
        the jobs whose create never reached the server (to send again, same external id)."""
        attached: list[tuple[BatchJob, Job]] = []
        retry: list[BatchJob] = []
        limiter = anyio.Semaphore(_RECONCILE_CONCURRENCY)

        async def attach(job: BatchJob, record: JobRecord) -> None:
            async with limiter:
                handle = await self._attach(job, record)
            if handle is None:
                retry.append(job)
            elif isinstance(handle, Job):
                attached.append((job, handle))

        async with anyio.create_task_group() as tg:
            for job, record in to_attach:
                tg.start_soon(attach, job, record)
        return attached, retry

    async def _attach(self, job: BatchJob, record: JobRecord) -> Job | bool | None:
        """Re-attach to a journaled job: its Job, None if it was never created, or False."""
        client = self._client
        try:
            if record.task_id is not None:
                return await client.attach(job.endpoint, task_id=record.task_id,
                                           request=job.request, poll=self._poll)
            return await client.attach(job.endpoint, external_task_id=record.external_task_id,
                                       request=job.request, poll=self._poll)
        except NotFoundError:
            if record.task_id is not None:
                self._unresolved(job.id, f"task {record.task_id} not found")
                return False
            return None  # the create never reached the server: send it again, same id
        except KlingError as exc:
            if isinstance(exc, AuthenticationError) and self._auth_error is None:
                self._auth_error = exc  # nothing new is sent with a key the server refuses
            self._unresolved(job.id, f"{type(exc).__name__}: {exc}")
            return False

    def _submit(self, job: BatchJob) -> Job:
        """Hand the create to the client; the intent is journaled right before its POST."""
        self._queued -= 1
        store = self._store
        old = self._retries.get(job.id)
        attempt = 0 if old is None else attempt_of(old.external_task_id) + 1
        ext = external_task_id_for(store.batch_id(), job.id, attempt)
        digest = request_hash(dump_request(job.request))
        journal = store.record_intent if old is None else store.record_retry

        def journal_intent(_handle: Job) -> None:
            if self._auth_error is not None:  # aborts this POST: the job stays never sent
                raise KlingError(_NOT_SENT_AUTH)
            if self._guard.reached():  # the spending limit, reached while this one waited
                raise KlingError(_NOT_SENT_SPEND)
            journal(job.id, job.endpoint, ext, request_hash=digest)

        handle = self._client.submit_nowait(job.request, external_task_id=ext, poll=self._poll,
                                            before_send=journal_intent)
        handle.add_done_callback(self._check_credentials)
        handle.add_done_callback(self._spent(job.id))
        self._live[job.id] = handle
        assert self._tg is not None
        self._tg.start_soon(self._journal_task_id, job.id, handle)
        return handle

    def _spent(self, job_id: str) -> Callable[[Job], None]:
        """A done callback: the units the server reported for the task count as it ends,
        before any other create is let through."""
        def ended(handle: Job) -> None:
            self._guard.ended(job_id, handle.task.cost if handle.task is not None else None)
        return ended

    def _check_credentials(self, handle: Job) -> None:
        """A create rejected for its credentials (1000-1004) stops the run submitting at once
        (called as the job ends, before any other create is let through)."""
        if isinstance(handle.error, AuthenticationError) and self._auth_error is None:
            self._auth_error = handle.error

    async def _journal_task_id(self, job_id: str, handle: Job) -> None:
        await handle.wait_submitted()
        if handle.task_id is not None:
            self._store.record_task_id(job_id, handle.task_id)

    def _finished(self, job: BatchJob, handle: Job) -> None:
        self._live.pop(job.id, None)
        self._counts["finished_this_run"] += 1
        store = self._store
        if handle.task_id is not None:
            store.record_task_id(job.id, handle.task_id)
        if handle.status is JobState.SUCCEEDED and handle.task is not None:
            task = handle.task
            store.record_result(job.id, status=JournalStatus.SUCCEEDED, urls=task.urls,
                                task=task_to_dict(task))
            self._counts["succeeded"] += 1
            record = store.get(job.id)
            assert record is not None
            self._start_download(job, record)
            return
        error = handle.error
        text = f"{type(error).__name__}: {error}" if error is not None else "failed"
        if self._auth_error is not None and isinstance(error, SubmissionAbortedError):
            text = _NOT_SENT_AUTH
        elif self._guard.stopped and isinstance(error, SubmissionAbortedError):
            text = _NOT_SENT_SPEND
        final = isinstance(error, TaskFailedError) or (
            isinstance(error, (InvalidRequestError, ContentPolicyError))
            # a used external_task_id is this batch's own (journaled before its POST): a
            # rerun re-attaches to it, so it is never final
            and not isinstance(error, (NotFoundError, DuplicateExternalIdError))
            and handle.task_id is None
        )
        if final and store.get(job.id) is not None:
            task_dict = task_to_dict(handle.task) if handle.task is not None else None
            store.record_result(job.id, status=JournalStatus.FAILED, task=task_dict, error=text)
            self._counts["failed"] += 1
            self._failed(job.id, text)
        else:  # may still exist or still run: a rerun re-attaches instead of giving up
            self._unresolved(job.id, text)

    def _unresolved(self, job_id: str, error: str) -> None:
        if self._store.get(job_id) is None:  # never sent (e.g. the intent could not be written)
            self._unsent[job_id] = error
        else:
            self._store.record_error(job_id, error)
        self._counts["failed"] += 1
        self._failed(job_id, error)

    def _failed(self, job_id: str, reason: str) -> None:
        """Tell ``on_failure``; not for the jobs a rejected key stopped (one message, from
        ``BatchResult.auth_error``, says it for all of them)."""
        if self._on_failure is not None and self._auth_error is None and (
                reason != _NOT_SENT_SPEND):
            self._on_failure(job_id, reason)

    def _start_download(self, job: BatchJob, record: JobRecord) -> None:
        if self._fetcher is not None and self._tg is not None:
            self._fetcher.start(self._tg, job.id, record)

    # -- progress -----------------------------------------------------------------------------
    def progress(self) -> BatchProgress:
        """A snapshot of the run's counts by state."""
        waiting = submitted = processing = 0
        for handle in self._live.values():
            state = handle.status
            if state is JobState.SUBMITTED:
                submitted += 1
            elif state is JobState.PROCESSING:
                processing += 1
            elif not state.is_terminal:
                waiting += 1
        c = self._counts
        fetched = self._fetcher.downloaded if self._fetcher is not None else 0
        errors = self._fetcher.errors if self._fetcher is not None else 0
        return BatchProgress(
            total=self._total, queued=max(0, self._queued), waiting=waiting,
            submitted=submitted, processing=processing, succeeded=c["succeeded"],
            failed=c["failed"], downloaded=c["downloaded"] + fetched, download_errors=errors,
            finished_this_run=c["finished_this_run"],
            elapsed=time.monotonic() - self._started,
        )

    async def _ticker(self) -> None:
        if self._on_progress is None:
            return
        while True:
            self._on_progress(self.progress())
            await anyio.sleep(self._interval)
