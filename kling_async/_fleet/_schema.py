"""The fleet store's tables (PostgreSQL), created and migrated idempotently.

Every statement is ``CREATE ... IF NOT EXISTS`` / ``ADD COLUMN IF NOT EXISTS``, run under one
advisory lock, so any number of workers may open the store at once.  ``kling_meta`` keeps the
schema version; a store written by a newer version is refused.  Tables:

- ``kling_batches``: batch name -> its random batch id (external ids derive from it);
- ``kling_jobs``: one row per job of a batch: the journal (status, task id, urls, task, error,
  request hash) plus ownership (``owner``, ``lease_until``, ``lease_version``) and the times
  a worker gave it back unfinished (``attempts``);
- ``kling_files`` / ``kling_downloads``: the journal's files and planned downloads;
- ``kling_slots``: the capacity ledger: one row per reservation, ``(account,
  external_task_id)`` unique, held from before the create until the task is seen to end;
- ``kling_limits``: per ``(account, bucket)`` (bucket ``''``: the whole account) the limit
  and the cool-down (1302 Retry-After) every worker honours;
- ``kling_workers``: the workers, with their heartbeat (database clock).

Schema 2 added ``kling_slots.endpoint`` and ``checked_at`` (the slots of ``KlingClient(store=
...)``, reconciled by external id when their process died).  Schema 3 added
``kling_callbacks``: the latest verified webhook body of each task, recorded by whichever
process received it, for the process that owns the job (``_callbacks``).
"""

from __future__ import annotations

SCHEMA_VERSION = 3
#: pg_advisory_lock key of the schema migration (any constant, the same in every worker).
MIGRATION_LOCK = 0x6B6C696E67  # "kling"

STATEMENTS = (
    "CREATE TABLE IF NOT EXISTS kling_meta (key text PRIMARY KEY, value text NOT NULL)",
    """CREATE TABLE IF NOT EXISTS kling_batches (
        name text PRIMARY KEY,
        batch_id text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now())""",
    """CREATE TABLE IF NOT EXISTS kling_jobs (
        batch text NOT NULL REFERENCES kling_batches(name),
        job_id text NOT NULL,
        seq bigint NOT NULL,
        endpoint text NOT NULL,
        account text NOT NULL,
        bucket text NOT NULL,
        weight integer NOT NULL,
        external_task_id text NOT NULL,
        status text NOT NULL DEFAULT 'pending',
        task_id text,
        urls jsonb NOT NULL DEFAULT '[]',
        error text,
        task jsonb,
        request_hash text,
        owner text,
        lease_until timestamptz,
        lease_version bigint NOT NULL DEFAULT 0,
        attempts integer NOT NULL DEFAULT 0,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (batch, job_id))""",
    "CREATE INDEX IF NOT EXISTS kling_jobs_status ON kling_jobs (batch, status, seq)",
    """CREATE TABLE IF NOT EXISTS kling_files (
        batch text NOT NULL, job_id text NOT NULL, url text NOT NULL, path text NOT NULL,
        size bigint, PRIMARY KEY (batch, job_id, url))""",
    """CREATE TABLE IF NOT EXISTS kling_downloads (
        batch text NOT NULL, job_id text NOT NULL, url text NOT NULL, path text NOT NULL,
        PRIMARY KEY (batch, job_id, url))""",
    """CREATE TABLE IF NOT EXISTS kling_slots (
        account text NOT NULL,
        external_task_id text NOT NULL,
        bucket text NOT NULL,
        weight integer NOT NULL,
        batch text,
        job_id text,
        task_id text,
        worker text,
        reserved_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (account, external_task_id))""",
    """CREATE TABLE IF NOT EXISTS kling_limits (
        account text NOT NULL,
        bucket text NOT NULL,
        max_slots integer,
        cooldown_until timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (account, bucket))""",
    """CREATE TABLE IF NOT EXISTS kling_workers (
        worker text PRIMARY KEY,
        host text NOT NULL,
        pid integer NOT NULL,
        batch text,
        started_at timestamptz NOT NULL DEFAULT now(),
        heartbeat_at timestamptz NOT NULL DEFAULT now(),
        stopped_at timestamptz)""",
    # schema 2: client slots (KlingClient(store=...)) name their endpoint, for reconciling
    "ALTER TABLE kling_slots ADD COLUMN IF NOT EXISTS endpoint text",
    "ALTER TABLE kling_slots ADD COLUMN IF NOT EXISTS checked_at timestamptz",
    # schema 3: verified callbacks received by a process that does not own the job
    """CREATE TABLE IF NOT EXISTS kling_callbacks (
        task_id text PRIMARY KEY,
        external_task_id text,
        rank integer NOT NULL,
        body text NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now())""",
    "CREATE INDEX IF NOT EXISTS kling_slots_task ON kling_slots (task_id)",
)
