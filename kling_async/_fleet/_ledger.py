"""The account capacity ledger and job ownership (run on the store's loop).

A job is **claimed** by one worker at a time: ``claim`` leases it (``owner``, ``lease_until``
on the database clock, ``lease_version`` + 1) with ``SELECT ... FOR UPDATE SKIP LOCKED``, so
two workers never take the same row.  A job never sent also needs a capacity **slot**:

- admission is one transaction: ``pg_advisory_xact_lock`` for the account, the sum of the
  weights the account's slots hold (all of them, and in the job's bucket), the limits and
  cool-downs of ``kling_limits``, and the slot's insert (``ON CONFLICT (account,
  external_task_id) DO NOTHING``): the account's limit is never exceeded, fleet-wide;
- a slot is held from before the create until the task is journaled finished
  (``record_result``), whatever happens to the worker: Kling counts the task that long.  A
  slot whose worker died before journaling the task id is *ambiguous*: it stays counted
  until a worker takes the job over and reconciles it by ``external_task_id``;
- a slot is freed early only when its job is given back with no intent journaled: the intent
  precedes every create POST, so nothing was sent.

Jobs are registered with no account (``''``): the account whose ledger admits a job's create
owns it from then on (several API keys, each its own account, share a batch: a key pool);
only that account's workers take it over, since only its key can look its task up.

A job the previous owner gave back unfinished counts an attempt; after ``max_attempts`` it is
left alone (its error stays in the journal; the next run of the command tries it again).
"""

from __future__ import annotations

from typing import Any

import attrs

from ._journal import CHANNEL, free_slot

#: The bucket of ``kling_limits`` rows that hold the whole account's limit.
ACCOUNT = ""
#: How long a limit learned from a 1303 holds before the fleet probes the server again.
LEARNED_FOR = 300.0

#: Whether a job (alias ``j``) still needs a worker: $2 = with downloads.
_NEEDS_WORK = (
    "(j.status IN ('pending', 'sent', 'submitted') OR ($2::boolean AND j.status = 'succeeded' "
    "AND jsonb_array_length(j.urls) > (SELECT count(*) FROM kling_files f "
    "WHERE f.batch = j.batch AND f.job_id = j.job_id)))")
_HAS_SLOT = ("EXISTS (SELECT 1 FROM kling_slots s WHERE s.account = j.account "
             "AND s.external_task_id = j.external_task_id)")
_FREE = "(j.owner IS NULL OR j.lease_until < now())"
#: A job account $4 may work on: not yet assigned, its own (a task is reconciled with the
#: key that created it), or only its files left to fetch.
_OURS = "(j.account IN ('', $4) OR j.status = 'succeeded')"


@attrs.frozen
class Claim:
    """A job this worker now owns: its id and lease version."""

    job_id: str
    version: int
    external_task_id: str
    status: str


async def claim(conn: Any, batch: str, account: str, worker: str, lease: float,
                download: bool, max_attempts: int) -> Claim | None:
    """Lease one job of ``batch``: one to take over or finish first (no new slot), else one
    never sent, if the ledger admits it; None if there is none for now."""
    async with conn.transaction():
        row = await conn.fetchrow(
            f"SELECT j.job_id, j.external_task_id, j.status FROM kling_jobs j "
            f"WHERE j.batch = $1 AND {_FREE} AND j.attempts < $3 AND {_NEEDS_WORK} "
            f"AND (j.status <> 'pending' OR {_HAS_SLOT}) AND {_OURS} "
            "ORDER BY j.seq FOR UPDATE OF j SKIP LOCKED LIMIT 1",
            batch, download, max_attempts, account)
        if row is None:
            row = await _admit(conn, batch, account, worker, max_attempts)
        if row is None:
            return None
        version = await conn.fetchval(
            "UPDATE kling_jobs SET owner = $3, lease_until = now() + make_interval(secs => $4),"
            " lease_version = lease_version + 1, updated_at = now(), account = $5 "
            "WHERE batch = $1 AND job_id = $2 RETURNING lease_version",
            batch, row["job_id"], worker, lease, account)
        return Claim(row["job_id"], int(version), row["external_task_id"], row["status"])


async def _admit(conn: Any, batch: str, account: str, worker: str, max_attempts: int
                 ) -> Any:
    """A never-sent job whose slot the account's ledger admits (the slot is inserted)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                       f"kling-slots:{account}")
    held = {r["bucket"]: int(r["held"]) for r in await conn.fetch(
        "SELECT bucket, SUM(weight) AS held FROM kling_slots WHERE account = $1 "
        "GROUP BY bucket", account)}
    limits = {r["bucket"]: (r["max_slots"], r["cooling"]) for r in await conn.fetch(
        "SELECT bucket, CASE WHEN bucket = '' OR updated_at > now() - make_interval(secs => $2)"
        " THEN max_slots END AS max_slots, COALESCE(cooldown_until > now(), false) AS cooling "
        "FROM kling_limits WHERE account = $1", account, LEARNED_FOR)}
    total = sum(held.values())
    ceiling, cooling = limits.get(ACCOUNT, (None, False))
    if cooling or (ceiling is not None and total >= ceiling):
        return None
    candidates = await conn.fetch(
        "SELECT j.job_id, j.external_task_id, j.status, j.bucket, j.weight FROM kling_jobs j "
        f"WHERE j.batch = $1 AND j.account IN ('', $2) AND j.status = 'pending' AND {_FREE} "
        f"AND j.attempts < $3 AND NOT {_HAS_SLOT} "
        "ORDER BY j.seq FOR UPDATE OF j SKIP LOCKED LIMIT 32", batch, account, max_attempts)
    for row in candidates:
        if _fits(row, total, ceiling, held, limits):
            await conn.execute(
                "INSERT INTO kling_slots (account, external_task_id, bucket, weight, batch, "
                "job_id, worker) VALUES ($1, $2, $3, $4, $5, $6, $7) "
                "ON CONFLICT (account, external_task_id) DO NOTHING", account,
                row["external_task_id"], row["bucket"], row["weight"], batch, row["job_id"],
                worker)
            return row
    return None


def _fits(row: Any, total: int, ceiling: int | None, held: dict[str, int],
          limits: dict[str, tuple[int | None, bool]]) -> bool:
    """Whether ``row``'s weight fits the account's ceiling and its bucket's learned limit
    (a task heavier than a limit fits when nothing else is held there)."""
    weight, bucket = int(row["weight"]), row["bucket"]
    if ceiling is not None and total and total + weight > ceiling:
        return False
    limit, cooling = limits.get(bucket, (None, False))
    in_bucket = held.get(bucket, 0)
    if cooling:
        return False
    return limit is None or not in_bucket or in_bucket + weight <= limit


async def release(conn: Any, batch: str, job_id: str, worker: str, version: int,
                  download: bool, attempt: bool) -> None:
    """Give a claimed job back (an attempt if ``attempt`` and it still needs work: not when
    the worker stops); a job given back with no intent journaled frees its slot (nothing was
    sent)."""
    async with conn.transaction():
        row = await conn.fetchrow(
            "UPDATE kling_jobs j SET owner = NULL, lease_until = NULL, updated_at = now(), "
            f"attempts = j.attempts + CASE WHEN $6 AND {_NEEDS_WORK} THEN 1 ELSE 0 END "
            "WHERE j.batch = $1 AND j.job_id = $3 AND j.owner = $4 AND j.lease_version = $5 "
            "RETURNING j.status, j.account, j.external_task_id",
            batch, download, job_id, worker, version, attempt)
        if row is not None and row["status"] == "pending":
            await free_slot(conn, row["account"], row["external_task_id"])
        await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, f"job:{batch}")


async def renew(conn: Any, worker: str, lease: float) -> int:
    """Extend every lease ``worker`` still holds, and its heartbeat; how many leases."""
    async with conn.transaction():
        await conn.execute("UPDATE kling_workers SET heartbeat_at = now() WHERE worker = $1",
                           worker)
        done = await conn.execute(
            "UPDATE kling_jobs SET lease_until = now() + make_interval(secs => $2) "
            "WHERE owner = $1", worker, lease)
    return int(done.split()[-1])


async def remaining(conn: Any, batch: str, download: bool, max_attempts: int, account: str
                    ) -> int:
    """How many jobs of ``batch`` still need a worker of ``account`` (given back fewer than
    ``max_attempts`` times)."""
    return int(await conn.fetchval(
        f"SELECT count(*) FROM kling_jobs j WHERE j.batch = $1 AND {_NEEDS_WORK} "
        f"AND (j.attempts < $3 OR j.owner IS NOT NULL) AND {_OURS}",
        batch, download, max_attempts, account))


async def set_limit(conn: Any, account: str, bucket: str, max_slots: int | None) -> None:
    await conn.execute(
        "INSERT INTO kling_limits (account, bucket, max_slots) VALUES ($1, $2, $3) "
        "ON CONFLICT (account, bucket) DO UPDATE SET max_slots = EXCLUDED.max_slots, "
        "updated_at = now()", account, bucket, max_slots)


async def learn_rejection(conn: Any, account: str, bucket: str) -> int:
    """A 1303 on ``bucket``: its limit becomes what the server demonstrably holds there (the
    weights of its slots with a task id), at least 1; returns it."""
    held = await conn.fetchval(
        "SELECT COALESCE(SUM(weight), 0) FROM kling_slots WHERE account = $1 AND bucket = $2 "
        "AND task_id IS NOT NULL", account, bucket)
    limit = max(1, int(held))
    await set_limit(conn, account, bucket, limit)
    return limit


async def cool_down(conn: Any, account: str, seconds: float) -> None:
    """A 1302 (Retry-After ``seconds``): no new create for the account until then."""
    await conn.execute(
        "INSERT INTO kling_limits (account, bucket, cooldown_until) VALUES ($1, '', "
        "now() + make_interval(secs => $2)) ON CONFLICT (account, bucket) DO UPDATE SET "
        "cooldown_until = GREATEST(kling_limits.cooldown_until, EXCLUDED.cooldown_until)",
        account, seconds)
