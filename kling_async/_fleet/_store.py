"""``PostgresStore``: the batch journal, job ownership and the account capacity ledger in
PostgreSQL, shared by any number of processes on any hosts.

As a ``JobStore`` (the protocol ``BatchRunner`` journals through) it is the journal of one
batch (``batch``, default ``"default"``), written without leases: one process may use it as
it would use ``SqliteJobStore``.  A fleet (``FleetWorker``, ``kling-async run --store``) uses
``leased(job_id, version)`` views instead, whose writes apply only while the worker holds the
job's lease.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import anyio

from .._buckets import concurrency_bucket
from .._endpoints import ENDPOINTS
from .._wire import dump_request
from ..batch._jobsfile import BatchJob
from ..batch._runner import external_task_id_for
from ..batch._store import JobRecord, JournalStatus, new_batch_id, request_hash
from ._callbacks import CallbackRelay
from ._db import Database
from ._journal import (
    CHANNEL,
    Lease,
    record_download,
    record_error,
    record_file,
    record_intent,
    record_result,
    record_task_id,
)
from ._journal import records as read_records
from ._ledger import Claim, claim, cool_down, learn_rejection, release, remaining, renew, set_limit
from ._shared import SharedCapacity

_MAX_BATCH_NAME = 200
_DEADLOCK_RETRIES = 2
log = logging.getLogger("kling_async")


class PostgresStore:
    """The fleet store at ``dsn`` (``postgresql://user@host/db``); the tables are created (or
    migrated) when it opens.  Needs ``kling-async[postgres]`` (asyncpg)."""

    def __init__(self, dsn: str, *, batch: str = "default") -> None:
        if not batch or len(batch) > _MAX_BATCH_NAME:
            raise ValueError(f"a batch name is 1-{_MAX_BATCH_NAME} characters (got {batch!r})")
        self._db = Database(dsn)
        self.batch = batch
        self.name = self._db.name
        try:
            self._batch_id = self._db.call(self._open_batch, batch)
        except BaseException:
            self._db.close()
            raise

    def __repr__(self) -> str:
        return f"<PostgresStore {self.name!r} batch={self.batch!r}>"

    async def _open_batch(self, name: str) -> str:
        async with self._db.pool().acquire() as conn:
            await conn.execute("INSERT INTO kling_batches (name, batch_id) VALUES ($1, $2) "
                               "ON CONFLICT (name) DO NOTHING", name, new_batch_id())
            return str(await conn.fetchval(
                "SELECT batch_id FROM kling_batches WHERE name = $1", name))

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(conn, *args)`` with a pooled connection; a transaction PostgreSQL aborted as
        a deadlock victim (rolled back, so safe to repeat) is tried again, twice at most."""
        retryable = self._db.retryable_errors()
        for attempt in range(_DEADLOCK_RETRIES + 1):
            try:
                async with self._db.pool().acquire() as conn:
                    return await fn(conn, *args)
            except retryable:
                if attempt == _DEADLOCK_RETRIES:
                    raise
                await anyio.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")

    def _sync(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self._db.call(self._run, fn, *args)

    async def _async(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await self._db.acall(self._run, fn, *args)

    # -- JobStore ------------------------------------------------------------------------------
    def batch_id(self) -> str:
        return self._batch_id

    def get(self, job_id: str) -> JobRecord | None:
        found: list[JobRecord] = self._sync(read_records, self.batch, job_id)
        return found[0] if found else None

    def records(self) -> list[JobRecord]:
        found: list[JobRecord] = self._sync(read_records, self.batch)
        return found

    def record_intent(self, job_id: str, endpoint: str, external_task_id: str, *,
                      request_hash: str | None = None, lease: Lease | None = None) -> None:
        self._sync(record_intent, self.batch, job_id, endpoint, external_task_id,
                   request_hash, lease, self.name)

    def record_task_id(self, job_id: str, task_id: str, *, lease: Lease | None = None) -> None:
        self._sync(record_task_id, self.batch, job_id, task_id, lease, self.name)

    def record_result(self, job_id: str, *, status: JournalStatus, urls: tuple[str, ...] = (),
                      task: Mapping[str, Any] | None = None, error: str | None = None,
                      lease: Lease | None = None) -> None:
        self._sync(record_result, self.batch, job_id, status, tuple(urls), task, error,
                   lease, self.name)

    def record_error(self, job_id: str, error: str | None, *, lease: Lease | None = None
                     ) -> None:
        self._sync(record_error, self.batch, job_id, error, lease, self.name)

    def record_file(self, job_id: str, url: str, path: str, size: int | None = None, *,
                    lease: Lease | None = None) -> None:
        self._sync(record_file, self.batch, job_id, url, path, size, lease, self.name)

    def record_download(self, job_id: str, url: str, path: str, *, lease: Lease | None = None
                        ) -> None:
        self._sync(record_download, self.batch, job_id, url, path, lease, self.name)

    def close(self) -> None:
        self._db.close()

    # -- the fleet -----------------------------------------------------------------------------
    def leased(self, claim: Claim, worker: str) -> LeasedJournal:
        """The journal of one claimed job, every write checked against its lease."""
        return LeasedJournal(self, claim.job_id, (worker, claim.version))

    async def register_jobs(self, jobs: Sequence[BatchJob], account: str = "") -> list[str]:
        """Add the batch's jobs (``pending``; ``account=""``: the first account admitting one
        takes it) unless present; the ids of jobs present with another endpoint or request
        (the jobs file changed under the same batch name)."""
        rows = []
        for seq, job in enumerate(jobs, 1):
            row = ENDPOINTS[job.endpoint]
            rows.append((self.batch, job.id, seq, job.endpoint, account,
                         concurrency_bucket(row, job.request), row.weight(job.request),
                         external_task_id_for(self._batch_id, job.id),
                         request_hash(dump_request(job.request))))
        conflicts: list[str] = await self._async(_register, rows)
        return conflicts

    async def claim(self, account: str, worker: str, *, lease: float, download: bool,
                    max_attempts: int) -> Claim | None:
        found: Claim | None = await self._async(claim, self.batch, account, worker,
                                                lease, download, max_attempts)
        return found

    async def release(self, claim: Claim, worker: str, *, download: bool,
                      attempt: bool = True) -> None:
        """Give ``claim`` back (``attempt``: count it as a try that did not finish it)."""
        await self._async(release, self.batch, claim.job_id, worker, claim.version,
                          download, attempt)

    async def renew(self, worker: str, lease: float) -> int:
        renewed: int = await self._async(renew, worker, lease)
        return renewed

    async def remaining(self, *, download: bool, max_attempts: int, account: str = "") -> int:
        """How many jobs still need a worker of ``account``."""
        left: int = await self._async(remaining, self.batch, download, max_attempts, account)
        return left

    async def set_limit(self, account: str, max_slots: int | None, bucket: str = "") -> None:
        """The account's limit (``bucket=""``: all buckets together), for the whole fleet."""
        await self._async(set_limit, account, bucket, max_slots)

    async def learn_rejection(self, account: str, bucket: str) -> int:
        limit: int = await self._async(learn_rejection, account, bucket)
        return limit

    async def cool_down(self, account: str, seconds: float) -> None:
        await self._async(cool_down, account, seconds)

    async def register_worker(self, host: str, pid: int, *, batch: str | None = "",
                              heartbeat: Callable[..., Any] | None = None) -> str:
        """A new ``kling_workers`` row (``batch``: this store's batch unless given, None for
        a client); with ``heartbeat(conn, worker)``, renewed on the store's own thread."""
        worker = f"{host}:{pid}:{secrets.token_hex(3)}"
        await self._async(_register_worker, worker, host, pid,
                          self.batch if batch == "" else batch)
        if heartbeat is not None:
            self._db.spawn(self._beat, heartbeat, worker)
        return worker

    async def _beat(self, heartbeat: Callable[..., Any], worker: str) -> None:
        from ._shared import HEARTBEAT_LAPSE

        while True:
            try:
                await self._run(heartbeat, worker)
            except Exception as exc:  # the next beat tries again; a lapse is reconciled
                log.debug("fleet heartbeat failed: %s", exc)
            await anyio.sleep(HEARTBEAT_LAPSE / 3)

    async def run_async(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``await fn(conn, *args)`` on the store's loop, with a pooled connection."""
        return await self._async(fn, *args)

    def run_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """``fn(conn, *args)`` on the store's loop, not waited for (callable from any
        thread, e.g. a job's done callback)."""
        self._db.spawn(self._run, fn, *args)

    def admission(self, account: str, limit: int) -> SharedCapacity:
        """The account's capacity shared by every process using this store
        (``KlingClient(store=...)``): ``limit`` slots in all."""
        return SharedCapacity(self, account, limit)

    def callback_relay(self) -> CallbackRelay:
        """A client's share of webhooks on any worker (``_callbacks``): callbacks it verified
        for jobs of other processes are recorded for them, and theirs for its jobs applied."""
        return CallbackRelay(self)

    async def stop_worker(self, worker: str) -> None:
        await self._async(_stop_worker, worker)

    def listen(self, notify: Callable[[str], None]) -> None:
        """``notify(payload)`` (on the store's thread) for every change NOTIFY: a hint."""
        self._db.listen(CHANNEL, notify)

    def status(self) -> dict[str, Any]:
        """Workers, leases, slots by account and jobs by state (``fleet status``)."""
        from ._status import fleet_status

        found: dict[str, Any] = self._sync(fleet_status)
        return found


async def _register(conn: Any, rows: list[tuple[Any, ...]]) -> list[str]:
    async with conn.transaction():
        await conn.executemany(
            "INSERT INTO kling_jobs (batch, job_id, seq, endpoint, account, bucket, weight, "
            "external_task_id, request_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
            "ON CONFLICT (batch, job_id) DO NOTHING", rows)
    if not rows:
        return []
    found = {r["job_id"]: (r["endpoint"], r["request_hash"]) for r in await conn.fetch(
        "SELECT job_id, endpoint, request_hash FROM kling_jobs WHERE batch = $1", rows[0][0])}
    return [row[1] for row in rows
            if found.get(row[1], (row[3], row[8])) not in ((row[3], row[8]), (row[3], None))]


async def _register_worker(conn: Any, worker: str, host: str, pid: int, batch: str) -> None:
    await conn.execute("INSERT INTO kling_workers (worker, host, pid, batch) VALUES "
                       "($1, $2, $3, $4)", worker, host, pid, batch)


async def _stop_worker(conn: Any, worker: str) -> None:
    await conn.execute("UPDATE kling_workers SET stopped_at = now() WHERE worker = $1", worker)


class LeasedJournal:
    """A ``JobStore`` for one claimed job: reads of that job, writes under its lease
    (``LeaseLostError`` once another worker has taken it over)."""

    def __init__(self, store: PostgresStore, job_id: str, lease: Lease) -> None:
        self._store = store
        self._job_id = job_id
        self.lease = lease

    def batch_id(self) -> str:
        return self._store.batch_id()

    def get(self, job_id: str) -> JobRecord | None:
        return self._store.get(job_id)

    def records(self) -> list[JobRecord]:
        found = self._store.get(self._job_id)
        return [found] if found is not None else []

    def record_intent(self, job_id: str, endpoint: str, external_task_id: str, *,
                      request_hash: str | None = None) -> None:
        self._store.record_intent(job_id, endpoint, external_task_id,
                                  request_hash=request_hash, lease=self.lease)

    def record_task_id(self, job_id: str, task_id: str) -> None:
        self._store.record_task_id(job_id, task_id, lease=self.lease)

    def record_result(self, job_id: str, *, status: JournalStatus, urls: tuple[str, ...] = (),
                      task: Mapping[str, Any] | None = None, error: str | None = None) -> None:
        self._store.record_result(job_id, status=status, urls=urls, task=task, error=error,
                                  lease=self.lease)

    def record_error(self, job_id: str, error: str | None) -> None:
        self._store.record_error(job_id, error, lease=self.lease)

    def record_file(self, job_id: str, url: str, path: str, size: int | None = None) -> None:
        self._store.record_file(job_id, url, path, size, lease=self.lease)

    def record_download(self, job_id: str, url: str, path: str) -> None:
        self._store.record_download(job_id, url, path, lease=self.lease)

    def close(self) -> None:
        pass
