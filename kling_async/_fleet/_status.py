"""``fleet_status``: what ``kling-async fleet status`` shows (workers, leases, slots by
account and bucket, jobs by state), read in one snapshot."""

from __future__ import annotations

from typing import Any

#: A worker whose heartbeat is older than this (and that did not stop) is shown as lost.
ALIVE_WITHIN = 60.0


async def fleet_status(conn: Any) -> dict[str, Any]:
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        workers = await conn.fetch(
            "SELECT w.worker, w.host, w.pid, w.batch, w.stopped_at IS NULL AND w.heartbeat_at "
            "> now() - make_interval(secs => $1) AS alive, w.stopped_at IS NOT NULL AS stopped,"
            " EXTRACT(EPOCH FROM now() - w.heartbeat_at)::float8 AS heartbeat_age, "
            "(SELECT count(*) FROM kling_jobs j WHERE j.owner = w.worker "
            "AND j.lease_until > now()) AS leases FROM kling_workers w "
            "ORDER BY w.started_at", ALIVE_WITHIN)
        leases = await conn.fetch(
            "SELECT batch, job_id, owner, lease_version, "
            "EXTRACT(EPOCH FROM lease_until - now())::float8 AS expires_in "
            "FROM kling_jobs WHERE owner IS NOT NULL ORDER BY lease_until")
        slots = await conn.fetch(
            "SELECT s.account, s.bucket, count(*) AS tasks, SUM(s.weight) AS held, "
            "count(*) FILTER (WHERE s.task_id IS NULL AND NOT EXISTS (SELECT 1 FROM kling_jobs "
            "j WHERE j.account = s.account AND j.external_task_id = s.external_task_id "
            "AND j.lease_until > now())) AS ambiguous FROM kling_slots s "
            "GROUP BY s.account, s.bucket ORDER BY s.account, s.bucket")
        limits = await conn.fetch(
            "SELECT account, bucket, max_slots, GREATEST(EXTRACT(EPOCH FROM cooldown_until - "
            "now()), 0)::float8 AS cooldown FROM kling_limits ORDER BY account, bucket")
        jobs = await conn.fetch(
            "SELECT batch, status, count(*) AS n FROM kling_jobs GROUP BY batch, status "
            "ORDER BY batch, status")
    by_batch: dict[str, dict[str, int]] = {}
    for row in jobs:
        by_batch.setdefault(row["batch"], {})[row["status"]] = int(row["n"])
    return {
        "workers": [dict(r) for r in workers],
        "leases": [dict(r) for r in leases],
        "slots": [{**dict(r), "held": int(r["held"])} for r in slots],
        "limits": [dict(r) for r in limits],
        "jobs": by_batch,
    }


def format_status(status: dict[str, Any]) -> str:
    """A short table of ``fleet_status``."""
    lines = ["workers:"]
    for w in status["workers"]:
        state = "stopped" if w["stopped"] else ("alive" if w["alive"] else "lost")
        lines.append(f"  {w['worker']:<40} {state:<8} leases={w['leases']} batch={w['batch']}")
    lines.append("slots (account / bucket: held, tasks, ambiguous):")
    for s in status["slots"]:
        lines.append(f"  {s['account']} / {s['bucket'] or '-'}: {s['held']}, {s['tasks']}, "
                     f"{s['ambiguous']}")
    for limit in status["limits"]:
        lines.append(f"  limit {limit['account']} / {limit['bucket'] or 'account'}: "
                     f"{limit['max_slots']} (cool-down {limit['cooldown']:.0f} s)")
    lines.append(f"leases: {len(status['leases'])}")
    lines.append("jobs:")
    for batch, counts in status["jobs"].items():
        text = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        lines.append(f"  {batch}: {text}")
    return "\n".join(lines)
