"""``SharedCapacity``: ``KlingClient(store=PostgresStore(dsn))``: one account limit for every
process of an app (web workers, task workers), through the store's capacity ledger.

Before each create POST the client awaits ``admit``: one transaction (the account's advisory
lock, the sum of its held slots, the limits and cool-down of ``kling_limits``, the insert with
``ON CONFLICT (account, external_task_id)``) either reserves the job's slots or not; if not,
it waits for a ``NOTIFY`` (a slot freed) or a second, then tries again.  When the job ends,
its slots are freed if its task is over (or was provably never created); otherwise (the
client closed with the task running, an ambiguous create) they stay counted, as Kling counts
them, and are marked orphaned.  A process's heartbeat (the store's ``kling_workers`` row) is
renewed on the store's own thread; a waiting client reconciles orphaned slots, and those of
processes whose heartbeat lapsed, by looking their ``external_task_id`` up: not found or
ended -> freed; still running -> checked again later.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import Any

from .._admission import Find
from .._endpoints import ENDPOINTS
from .._registry import Job, JobState
from ._callbacks import note_task_id
from ._journal import CHANNEL
from ._ledger import ACCOUNT, LEARNED_FOR

log = logging.getLogger("kling_async")
#: A process whose heartbeat is older than this is dead: its slots get reconciled.
HEARTBEAT_LAPSE = 30.0
_RECHECK = 3.0  # a reconciled slot whose task still runs is looked up again after this
_WAIT = 1.0


async def admit_slot(conn: Any, account: str, ext: str, bucket: str, weight: int,
                     worker: str, endpoint: str) -> bool:
    """Reserve ``weight`` slots of ``bucket`` for ``ext`` if the account's ledger admits it
    (already reserved: True)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                           f"kling-slots:{account}")
        if await conn.fetchval("SELECT 1 FROM kling_slots WHERE account = $1 AND "
                               "external_task_id = $2", account, ext):
            return True
        held = {r["bucket"]: int(r["held"]) for r in await conn.fetch(
            "SELECT bucket, SUM(weight) AS held FROM kling_slots WHERE account = $1 "
            "GROUP BY bucket", account)}
        limits = {r["bucket"]: (r["max_slots"], r["cooling"]) for r in await conn.fetch(
            "SELECT bucket, CASE WHEN bucket = '' OR updated_at > now() - "
            "make_interval(secs => $2) THEN max_slots END AS max_slots, "
            "COALESCE(cooldown_until > now(), false) AS cooling FROM kling_limits "
            "WHERE account = $1", account, LEARNED_FOR)}
        if not _fits(weight, bucket, held, limits):
            return False
        await conn.execute(
            "INSERT INTO kling_slots (account, external_task_id, bucket, weight, worker, "
            "endpoint) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (account, external_task_id) "
            "DO NOTHING", account, ext, bucket, weight, worker, endpoint)
        return True


def _fits(weight: int, bucket: str, held: dict[str, int],
          limits: dict[str, tuple[int | None, bool]]) -> bool:
    total = sum(held.values())
    ceiling, cooling = limits.get(ACCOUNT, (None, False))
    limit, bucket_cooling = limits.get(bucket, (None, False))
    if cooling or bucket_cooling:
        return False
    if ceiling is not None and total and total + weight > ceiling:
        return False
    in_bucket = held.get(bucket, 0)
    return limit is None or not in_bucket or in_bucket + weight <= limit


async def end_slot(conn: Any, account: str, ext: str, task_id: str | None, free: bool
                   ) -> None:
    """Free ``ext``'s slot, or keep it counted as orphaned (``worker`` NULL, task id noted)."""
    if free:
        done = await conn.execute("DELETE FROM kling_slots WHERE account = $1 AND "
                                  "external_task_id = $2 AND batch IS NULL", account, ext)
        if done != "DELETE 0":
            await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, f"slot:{account}")
    else:
        await conn.execute("UPDATE kling_slots SET worker = NULL, task_id = COALESCE($3, "
                           "task_id) WHERE account = $1 AND external_task_id = $2",
                           account, ext, task_id)


async def orphans(conn: Any, account: str, limit: int = 8) -> list[tuple[str, str]]:
    """(endpoint, external_task_id) of client slots due for reconciling: orphaned, or of a
    process whose heartbeat lapsed, not checked in the last few seconds."""
    rows = await conn.fetch(
        "UPDATE kling_slots SET checked_at = now() WHERE (account, external_task_id) IN ("
        "SELECT s.account, s.external_task_id FROM kling_slots s LEFT JOIN kling_workers w "
        "ON w.worker = s.worker WHERE s.account = $1 AND s.batch IS NULL "
        "AND s.endpoint IS NOT NULL AND (s.worker IS NULL OR w.worker IS NULL OR "
        "w.heartbeat_at < now() - make_interval(secs => $2)) AND (s.checked_at IS NULL OR "
        "s.checked_at < now() - make_interval(secs => $3)) LIMIT $4 FOR UPDATE OF s "
        "SKIP LOCKED) RETURNING endpoint, external_task_id",
        account, HEARTBEAT_LAPSE, _RECHECK, limit)
    return [(r["endpoint"], r["external_task_id"]) for r in rows]


async def beat(conn: Any, worker: str) -> None:
    await conn.execute("UPDATE kling_workers SET heartbeat_at = now() WHERE worker = $1 "
                       "AND stopped_at IS NULL", worker)


async def leave(conn: Any, worker: str) -> None:
    """A client closed: its slots become orphaned (still counted), its row stopped."""
    async with conn.transaction():
        await conn.execute("UPDATE kling_slots SET worker = NULL WHERE worker = $1", worker)
        await conn.execute("UPDATE kling_workers SET stopped_at = now() WHERE worker = $1",
                           worker)


class SharedCapacity:
    """The ``Admission`` of one account through a ``PostgresStore`` (see the module)."""

    def __init__(self, store: Any, account: str, limit: int) -> None:
        self._store = store
        self.account = account
        self.limit = limit
        self.worker: str | None = None
        self._wake: asyncio.Event | None = None
        self._joining: asyncio.Lock | None = None

    def _started(self) -> asyncio.Event:
        """Register this process and listen for freed slots (once, on the first admit)."""
        if self._wake is None:
            loop = asyncio.get_running_loop()
            wake = self._wake = asyncio.Event()

            def notified(payload: str) -> None:
                if payload == f"slot:{self.account}":
                    loop.call_soon_threadsafe(wake.set)

            self._store.listen(notified)
            self._joining = asyncio.Lock()
        return self._wake

    async def admit(self, job: Job, find: Find) -> None:
        wake = self._started()
        assert self._joining is not None
        async with self._joining:  # the first job registers this process, once
            if self.worker is None:
                await self._store.set_limit(self.account, self.limit)
                self.worker = await self._store.register_worker(
                    socket.gethostname(), os.getpid(), batch=None, heartbeat=beat)
        ext = job.external_task_id
        assert ext is not None
        while True:
            wake.clear()
            if await self._store.run_async(admit_slot, self.account, ext, job.bucket,
                                           job.weight, self.worker, job.endpoint):
                return
            await self._reconcile(job, find)
            try:
                await asyncio.wait_for(wake.wait(), _WAIT)
            except asyncio.TimeoutError:
                pass

    async def _reconcile(self, job: Job, find: Find) -> None:
        """Free the orphaned slots whose task is over or was never created."""
        for endpoint, ext in await self._store.run_async(orphans, self.account):
            row = ENDPOINTS.get(endpoint)
            if row is None:
                continue
            try:
                task = await find(row, ext, job)
            except Exception as exc:  # a lookup that fails proves nothing: later
                log.debug("reconciling %s failed: %s", ext, exc)
                continue
            if task is None or task.status.is_terminal:
                await self._store.run_async(end_slot, self.account, ext, None, True)

    def closed(self) -> None:
        worker, self.worker = self.worker, None
        if worker is not None:
            self._store.run_soon(leave, worker)

    def created(self, job: Job) -> None:
        ext, task_id = job.external_task_id, job.task_id
        if ext is not None and task_id is not None:
            self._store.run_soon(note_task_id, self.account, ext, task_id)

    def ended(self, job: Job) -> None:
        ext = job.external_task_id
        if ext is None:
            return
        over = job.status in (JobState.SUCCEEDED, JobState.FAILED) and (
            (job.task is not None and job.task.status.is_terminal)
            or (job.task_id is None and not _maybe_created(job.error)))
        self._store.run_soon(end_slot, self.account, ext, job.task_id, over)


def _maybe_created(error: BaseException | None) -> bool:
    from .._errors import AmbiguousSubmissionError, SubmissionInterruptedError

    return isinstance(error, (AmbiguousSubmissionError, SubmissionInterruptedError))
