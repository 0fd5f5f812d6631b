"""The batch journal's reads and writes in PostgreSQL (run on the store's loop).

Each write may carry a lease ``(owner, version)``: then it applies only while that worker
still holds that version of the job's lease, else ``LeaseLostError`` (a worker that stalled
and woke up cannot overwrite what the worker that took over wrote).  ``lease=None`` writes
unconditionally (one process using the store as a plain journal).

A job row exists from the moment a fleet worker registers the batch (status ``pending``);
the journal sees it (``get``/``records``) once its intent is written (``sent``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .._buckets import concurrency_bucket
from .._endpoints import ENDPOINTS
from ..batch._store import JobRecord, JournalStatus, check_intent
from ..batch._text import escape_surrogates
from ._db import LeaseLostError

#: The NOTIFY channel: payload ``slot:<account>`` (a slot freed) or ``job:<batch>``.
CHANNEL = "kling_fleet"
Lease = tuple[str, int]

_SELECT = (
    "SELECT job_id, endpoint, external_task_id, status, task_id, urls, error, task, "
    "request_hash FROM kling_jobs WHERE batch = $1 AND status <> 'pending'")


def text(value: Any) -> Any:
    """A parameter PostgreSQL can store: lone surrogates escaped, NUL characters removed."""
    if isinstance(value, str):
        return escape_surrogates(value).replace("\x00", "\\u0000")
    return value


def _lease_ok(row: Any, lease: Lease | None, job_id: str, store: str) -> None:
    if lease is None:
        return
    if row is None or row["owner"] != lease[0] or row["lease_version"] != lease[1]:
        raise LeaseLostError(store, f"job {job_id!r}: its lease was taken over by another "
                                    "worker (this worker's write was refused)")


async def _locked(conn: Any, batch: str, job_id: str, lease: Lease | None, store: str
                  ) -> Any:
    """The job's row, locked for this transaction, its lease checked."""
    row = await conn.fetchrow(
        "SELECT owner, lease_version, status, account, external_task_id, request_hash "
        "FROM kling_jobs WHERE batch = $1 AND job_id = $2 FOR UPDATE", batch, job_id)
    _lease_ok(row, lease, job_id, store)
    return row


async def _journaled(conn: Any, batch: str, job_id: str, lease: Lease | None, store: str
                     ) -> Any:
    """As ``_locked``; ``KeyError`` if the job has no row (no intent recorded)."""
    row = await _locked(conn, batch, job_id, lease, store)
    if row is None:
        raise KeyError(f"no intent recorded for job {job_id!r}")
    return row


async def records(conn: Any, batch: str, job_id: str | None = None) -> list[JobRecord]:
    """The journaled records (intent written) of ``batch``, or of one job."""
    one, args = ("", (batch,)) if job_id is None else (" AND job_id = $2", (batch, job_id))
    rows = await conn.fetch(_SELECT + one + " ORDER BY seq", *args)
    files = await conn.fetch("SELECT job_id, url, path, size FROM kling_files "
                             "WHERE batch = $1" + one, *args)
    plans = await conn.fetch("SELECT job_id, url, path FROM kling_downloads "
                             "WHERE batch = $1" + one, *args)
    paths: dict[str, dict[str, str]] = {}
    sizes: dict[str, dict[str, int]] = {}
    for f in files:
        paths.setdefault(f["job_id"], {})[f["url"]] = f["path"]
        if f["size"] is not None:
            sizes.setdefault(f["job_id"], {})[f["url"]] = int(f["size"])
    planned: dict[str, dict[str, str]] = {}
    for p in plans:
        planned.setdefault(p["job_id"], {})[p["url"]] = p["path"]
    return [_record(r, paths, sizes, planned) for r in rows]


def _record(r: Any, paths: Mapping[str, dict[str, str]], sizes: Mapping[str, dict[str, int]],
            planned: Mapping[str, dict[str, str]]) -> JobRecord:
    job_id = r["job_id"]
    return JobRecord(
        job_id=job_id, endpoint=r["endpoint"], external_task_id=r["external_task_id"],
        status=JournalStatus(r["status"]), task_id=r["task_id"],
        urls=tuple(json.loads(r["urls"])), files=paths.get(job_id, {}), error=r["error"],
        task=json.loads(r["task"]) if r["task"] else None, request_hash=r["request_hash"],
        file_sizes=sizes.get(job_id, {}), downloads=planned.get(job_id, {}),
    )


async def record_intent(conn: Any, batch: str, job_id: str, endpoint: str, ext: str,
                        digest: str | None, lease: Lease | None, store: str) -> None:
    async with conn.transaction():
        row = await _locked(conn, batch, job_id, lease, store)
        if row is None:  # a plain journal (no fleet registered the batch): the row is new
            await conn.execute(
                "INSERT INTO kling_jobs (batch, job_id, seq, endpoint, account, bucket, weight, "
                "external_task_id, status, request_hash) VALUES ($1, $2, (SELECT "
                "COALESCE(MAX(seq), 0) + 1 FROM kling_jobs WHERE batch = $1), $3, '', $4, 1, "
                "$5, 'sent', $6)", batch, job_id, endpoint,
                concurrency_bucket(ENDPOINTS[endpoint]) if endpoint in ENDPOINTS else "",
                ext, digest)
            return
        known = row["request_hash"] if row["status"] != "pending" else None
        check_intent(job_id, row["external_task_id"], known, ext, digest)
        await conn.execute(
            "UPDATE kling_jobs SET status = CASE WHEN status = 'pending' THEN 'sent' "
            "ELSE status END, request_hash = COALESCE($3, request_hash), updated_at = now() "
            "WHERE batch = $1 AND job_id = $2", batch, job_id, digest)


async def record_task_id(conn: Any, batch: str, job_id: str, task_id: str,
                         lease: Lease | None, store: str) -> None:
    async with conn.transaction():
        row = await _journaled(conn, batch, job_id, lease, store)
        await conn.execute(
            "UPDATE kling_jobs SET task_id = $3, status = CASE WHEN status IN "
            "('succeeded', 'failed') THEN status ELSE 'submitted' END, updated_at = now() "
            "WHERE batch = $1 AND job_id = $2", batch, job_id, task_id)
        await conn.execute(
            "UPDATE kling_slots SET task_id = $3 WHERE account = $1 AND external_task_id = $2",
            row["account"], row["external_task_id"], task_id)


async def record_result(conn: Any, batch: str, job_id: str, status: JournalStatus,
                        urls: tuple[str, ...], task: Mapping[str, Any] | None,
                        error: str | None, lease: Lease | None, store: str) -> None:
    """The job ended: journal it and free its capacity slot (the task is over)."""
    task_id = str(task["task_id"]) if task and task.get("task_id") else None
    body = json.dumps(dict(task), ensure_ascii=True) if task is not None else None
    async with conn.transaction():
        row = await _journaled(conn, batch, job_id, lease, store)
        await conn.execute(
            "UPDATE kling_jobs SET status = $3, urls = $4::jsonb, task = $5::jsonb, error = $6, "
            "task_id = COALESCE(task_id, $7), updated_at = now() "
            "WHERE batch = $1 AND job_id = $2", batch, job_id, JournalStatus(status).value,
            json.dumps([text(u) for u in urls], ensure_ascii=True), body, text(error),
            text(task_id))
        if JournalStatus(status).finished:
            await free_slot(conn, row["account"], row["external_task_id"])
        await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, f"job:{batch}")


async def free_slot(conn: Any, account: str, ext: str) -> None:
    """Free the capacity slot of ``ext`` (its task ended, or was provably never created)."""
    done = await conn.execute(
        "DELETE FROM kling_slots WHERE account = $1 AND external_task_id = $2", account, ext)
    if done != "DELETE 0":
        await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, f"slot:{account}")


async def record_error(conn: Any, batch: str, job_id: str, error: str | None,
                       lease: Lease | None, store: str) -> None:
    async with conn.transaction():
        await _journaled(conn, batch, job_id, lease, store)
        await conn.execute("UPDATE kling_jobs SET error = $3, updated_at = now() "
                           "WHERE batch = $1 AND job_id = $2", batch, job_id, text(error))


async def record_file(conn: Any, batch: str, job_id: str, url: str, path: str,
                      size: int | None, lease: Lease | None, store: str) -> None:
    async with conn.transaction():
        await _locked(conn, batch, job_id, lease, store)
        await conn.execute(
            "INSERT INTO kling_files (batch, job_id, url, path, size) VALUES ($1, $2, $3, $4, $5) "
            "ON CONFLICT (batch, job_id, url) DO UPDATE SET path = EXCLUDED.path, "
            "size = EXCLUDED.size", batch, job_id, text(url), text(path), size)


async def record_download(conn: Any, batch: str, job_id: str, url: str, path: str,
                          lease: Lease | None, store: str) -> None:
    async with conn.transaction():
        await _locked(conn, batch, job_id, lease, store)
        await conn.execute(
            "INSERT INTO kling_downloads (batch, job_id, url, path) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (batch, job_id, url) DO UPDATE SET path = EXCLUDED.path",
            batch, job_id, text(url), text(path))
