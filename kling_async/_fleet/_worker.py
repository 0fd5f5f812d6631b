"""``FleetWorker``: one process's share of a batch run by a fleet through a ``PostgresStore``.

Any number of workers (processes, hosts) run the same batch (same ``PostgresStore.batch``):

- each registers the jobs (once: ``ON CONFLICT DO NOTHING``; a job registered with another
  request is refused) and the account's limit (``max_in_flight``: the whole fleet's);
- it claims jobs one at a time (``SKIP LOCKED``): jobs to take over or finish first (no new
  slot), then never-sent jobs the account's ledger admits; each claimed job runs in its own
  ``BatchRunner`` (the same runner as a single process, journaling through a lease-checked
  view), so it is created once (intent before the POST, re-attached by task id or external id
  after a takeover) and its files are downloaded by one worker;
- a heartbeat renews its leases every third of ``lease_seconds`` (database clock); a worker
  that dies stops renewing, and its jobs are taken over once their leases lapse;
- 1303s and 1302s its client meets are written to the ledger (the bucket's learned limit, the
  account's cool-down), so every worker admits by them;
- it waits for work on ``LISTEN`` (a slot freed, a job changed) or ``idle_wait`` seconds,
  whichever is first (a notification is a hint: the rows are always read again), and returns
  once no job of the batch needs a worker, writing ``results.jsonl`` into ``out_dir``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import attrs

from .._client import KlingClient
from .._errors import KlingError
from .._events import RateLimited
from .._policy import PollPolicy
from ..batch._gallery import GALLERY_NAME, write_gallery
from ..batch._jobsfile import BatchJob, JobsFileError
from ..batch._results import RESULTS_NAME, result_row, write_results
from ..batch._runner import BatchRunner
from ..batch._storage import make_folder
from ._db import LeaseLostError
from ._ledger import Claim
from ._store import PostgresStore

log = logging.getLogger("kling_async")


@attrs.frozen(kw_only=True)
class FleetResult:
    """What a fleet worker saw at its end: ``rows`` (as in ``results.jsonl``, every job of
    the batch), and whether it stopped before the batch was done."""

    rows: list[dict[str, Any]]
    results_path: Path | None = None
    interrupted: bool = False
    claimed: int = 0  # jobs this worker claimed (including takeovers)
    #: The server refused this worker's credentials (it stopped claiming), or None.
    auth_error: str | None = None

    @property
    def ok(self) -> bool:
        return not self.interrupted and all(
            r["status"] == "succeeded" and not r["error"] for r in self.rows)


class FleetWorker:
    """Run ``jobs`` as one worker of a fleet sharing ``store`` (and ``account``'s limit)."""

    def __init__(
        self, client: KlingClient, store: PostgresStore, jobs: Sequence[BatchJob], *,
        account: str, out_dir: str | Path | None = None, download: bool = False,
        max_in_flight: int | None = None, lease_seconds: float = 30.0,
        max_attempts: int = 5, max_jobs: int | None = None, idle_wait: float = 1.0,
        poll: PollPolicy | None = None, max_downloads: int = 4,
    ):
        if download and out_dir is None:
            raise ValueError("download=True needs out_dir")
        if not lease_seconds > 0:
            raise ValueError(f"lease_seconds must be > 0 (got {lease_seconds})")
        self._client = client
        self._store = store
        self._jobs = {job.id: job for job in jobs}
        self._order = list(jobs)
        self._account = account
        self._out = Path(out_dir) if out_dir is not None else None
        self._download = download
        self._max_in_flight = max_in_flight
        self._lease = float(lease_seconds)
        self._max_attempts = max_attempts
        self._max_jobs = max_jobs or 2 * (max_in_flight or client.limits.max_in_flight) + 4
        self._idle_wait = idle_wait
        self._poll = poll
        self._max_downloads = max_downloads
        self._running: dict[str, Claim] = {}
        self._stopping = False
        self._wake: asyncio.Event | None = None
        self._tg: anyio.abc.TaskGroup | None = None
        self.worker: str | None = None
        self.claimed = 0
        #: Why the worker stopped: the server refused its credentials (as text), or None.
        self.auth_error: str | None = None

    def stop(self) -> None:
        """Stop claiming and end promptly: its jobs are given back at once (not counted as
        attempts) for other workers to take over."""
        self._stopping = True
        if self._tg is not None:
            self._tg.cancel_scope.cancel()

    async def run(self) -> FleetResult:
        """Work on the batch until no job needs a worker (or ``stop()``)."""
        store = self._store
        conflicts = await store.register_jobs(self._order)
        if conflicts:
            raise JobsFileError(f"batch {store.batch!r}", [
                f"job {job_id!r} was registered with another endpoint or request: use "
                "another --batch name for a changed jobs file" for job_id in conflicts[:20]],
                more=max(0, len(conflicts) - 20))
        if self._max_in_flight is not None:
            await store.set_limit(self._account, self._max_in_flight)
        if self._out is not None:
            make_folder(self._out)
        self.worker = await store.register_worker(socket.gethostname(), os.getpid())
        loop = asyncio.get_running_loop()
        self._wake = wake = asyncio.Event()

        def notified(_payload: str) -> None:  # on the store's thread: a hint, rows re-read
            loop.call_soon_threadsafe(wake.set)

        store.listen(notified)
        interrupted = True
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                tg.start_soon(self._heartbeat)
                tg.start_soon(self._learn)
                await self._claim_loop(tg)
                tg.cancel_scope.cancel()
            interrupted = self._stopping and self.auth_error is None
        except Exception as exc:  # the task group's ExceptionGroup: its first typed error
            raise first_error(exc) from None
        finally:
            self._tg = None
            with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                await store.stop_worker(self.worker)
        return self._conclude(interrupted)

    async def _claim_loop(self, tg: anyio.abc.TaskGroup) -> None:
        store, worker, wake = self._store, self.worker, self._wake
        assert worker is not None and wake is not None
        while not self._stopping:
            wake.clear()
            while len(self._running) < self._max_jobs:
                claim = await store.claim(self._account, worker, lease=self._lease,
                                          download=self._download,
                                          max_attempts=self._max_attempts)
                if claim is None:
                    break
                self.claimed += 1
                self._running[claim.job_id] = claim
                tg.start_soon(self._work, claim)
            if not self._running and not await store.remaining(
                    download=self._download, max_attempts=self._max_attempts,
                    account=self._account):
                return
            with anyio.move_on_after(self._idle_wait):
                await wake.wait()

    async def _work(self, claim: Claim) -> None:
        """Run one claimed job to its end (or until its lease is lost), then give it back."""
        job = self._jobs.get(claim.job_id)
        assert self.worker is not None
        ran = False
        try:
            if job is None:  # registered by a worker with a longer jobs file: not ours
                return
            runner = BatchRunner(
                self._client, self._store.leased(claim, self.worker), out_dir=self._out,
                download=self._download, max_downloads=self._max_downloads, poll=self._poll,
                results_file=False)
            try:
                result = await runner.run([job])
                ran = not result.interrupted
                if result.auth_error is not None:  # this key is refused: nothing more to send
                    self.auth_error = self.auth_error or result.auth_error
                    ran = False
                    self.stop()
            except LeaseLostError as exc:
                log.warning("fleet: %s", exc)
        finally:
            self._running.pop(claim.job_id, None)
            with anyio.CancelScope(shield=True):
                await self._store.release(claim, self.worker, download=self._download,
                                          attempt=ran)
            if self._wake is not None:
                self._wake.set()

    async def _heartbeat(self) -> None:
        assert self.worker is not None
        while True:
            await self._store.renew(self.worker, self._lease)
            await anyio.sleep(self._lease / 3)

    async def _learn(self) -> None:
        """Write the 1303s and 1302s this worker's client meets into the shared ledger."""
        async for event in self._client.events():
            if not isinstance(event, RateLimited):
                continue
            if event.code == 1303 and event.job is not None:
                limit = await self._store.learn_rejection(self._account, event.job.bucket)
                log.info("fleet: 1303 on %s: the fleet's limit there is now %d",
                         event.job.bucket, limit)
            elif event.code in (1302, 429) and (event.retry_after or event.delay):
                await self._store.cool_down(self._account,
                                            float(event.retry_after or event.delay))

    def _conclude(self, interrupted: bool) -> FleetResult:
        records = {r.job_id: r for r in self._store.records()}
        rows = [result_row(job, records.get(job.id)) for job in self._order]
        path = None
        if self._out is not None:
            path = self._out / RESULTS_NAME
            write_results(path, rows)
            write_gallery(self._out / GALLERY_NAME, self._order, rows, records.values())
        return FleetResult(rows=rows, results_path=path, interrupted=interrupted,
                           claimed=self.claimed, auth_error=self.auth_error)


def first_error(exc: BaseException) -> BaseException:
    """The first ``KlingError`` inside ``exc`` (an exception group, maybe nested), else
    ``exc``: a store that failed is reported as such, never as a task-group traceback."""
    inner = getattr(exc, "exceptions", None)
    if isinstance(exc, KlingError) or not inner:
        return exc
    for item in inner:
        found = first_error(item)
        if isinstance(found, KlingError):
            return found
    return exc
