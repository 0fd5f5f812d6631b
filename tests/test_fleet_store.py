"""``PostgresStore`` against a real PostgreSQL (``postgres_dsn``): the journal protocol,
leases, and the account capacity ledger (admission, ambiguous slots, shared limits)."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from kling_async import concurrency_bucket
from kling_async._fleet import LeaseLostError, PostgresStore
from kling_async._fleet._ledger import Claim
from kling_async.batch import JobStore, JournalStatus, parse_jobs
from kling_async.batch._jobsfile import BatchJob
from tests._postgres import PostgresMissing, find_bin_dir

pytestmark = pytest.mark.anyio
LEASE = 30.0


def _jobs(count: int, n: int = 1) -> list[BatchJob]:
    lines = [json.dumps({"id": f"j{i}", "endpoint": "images/generations",
                         "request": {"prompt": f"p {i}", "n": n}}) for i in range(count)]
    return parse_jobs(lines, source="test")


@pytest.fixture
def store(postgres_dsn: str) -> Iterator[PostgresStore]:
    opened = PostgresStore(postgres_dsn, batch=f"b-{secrets.token_hex(4)}")
    yield opened
    opened.close()


async def _claim(store: PostgresStore, account: str, worker: str, lease: float = LEASE
                 ) -> Claim | None:
    return await store.claim(account, worker, lease=lease, download=False, max_attempts=5)


def test_postgres_store_journals_every_step_like_the_sqlite_store(
        store: PostgresStore, postgres_dsn: str) -> None:
    """Intent, task id, result, planned download and file read back as one record; the batch
    id survives a reopen (and the schema migration runs again harmlessly)."""
    assert isinstance(store, JobStore)
    assert store.get("a") is None
    store.record_intent("a", "images/generations", "ext-a", request_hash="h1")
    store.record_intent("a", "images/generations", "ext-a", request_hash="h1")  # idempotent
    with pytest.raises(ValueError, match="another request"):
        store.record_intent("a", "images/generations", "ext-a", request_hash="h2")
    store.record_task_id("a", "t-1")
    store.record_result("a", status=JournalStatus.SUCCEEDED, urls=("http://x/1.png",),
                        task={"task_id": "t-1", "task_status": "succeed"})
    store.record_download("a", "http://x/1.png", "a.png")
    store.record_file("a", "http://x/1.png", "a.png", 12)
    record = store.get("a")
    assert record is not None
    assert (record.status, record.task_id, record.urls) == (
        JournalStatus.SUCCEEDED, "t-1", ("http://x/1.png",))
    assert record.files == {"http://x/1.png": "a.png"} and record.file_sizes == {
        "http://x/1.png": 12}
    assert record.downloads == {"http://x/1.png": "a.png"} and record.request_hash == "h1"
    again = PostgresStore(postgres_dsn, batch=store.batch)
    try:
        assert again.batch_id() == store.batch_id()
        assert [r.job_id for r in again.records()] == ["a"]
    finally:
        again.close()
    with pytest.raises(KeyError):
        store.record_task_id("never", "t-2")


async def test_a_write_under_a_lapsed_and_taken_over_lease_is_refused(
        store: PostgresStore) -> None:
    """A worker that stalled past its lease cannot write once another worker took the job
    over (the lease version moved on); the new owner writes."""
    await store.register_jobs(_jobs(1), "acct-lease")
    await store.set_limit("acct-lease", 5)
    first = await _claim(store, "acct-lease", "w1", lease=0.2)
    assert first is not None
    second = None
    with anyio.fail_after(10):
        while second is None:  # the lease lapses on the database clock
            await anyio.sleep(0.1)
            second = await _claim(store, "acct-lease", "w2")
    assert second.job_id == first.job_id and second.version == first.version + 1
    stale, fresh = store.leased(first, "w1"), store.leased(second, "w2")
    with pytest.raises(LeaseLostError, match="taken over"):
        stale.record_intent("j0", "images/generations", first.external_task_id)
    fresh.record_intent("j0", "images/generations", second.external_task_id)
    assert await store.renew("w1", LEASE) == 0 and await store.renew("w2", LEASE) == 1


async def test_concurrent_claims_never_admit_more_than_the_account_limit(
        store: PostgresStore) -> None:
    """Twenty claims racing from five workers admit exactly the account's three slots."""
    await store.register_jobs(_jobs(10), "acct-race")
    await store.set_limit("acct-race", 3)
    claims: list[Claim | None] = []

    async def worker(name: str) -> None:
        for _ in range(4):
            claims.append(await _claim(store, "acct-race", name))

    async with anyio.create_task_group() as tg:
        for i in range(5):
            tg.start_soon(worker, f"w{i}")
    won = [c for c in claims if c is not None]
    assert len(won) == 3 and len({c.job_id for c in won}) == 3
    held = store.status()["slots"]
    assert [(s["account"], s["held"]) for s in held if s["account"] == "acct-race"] == [
        ("acct-race", 3)]


async def test_an_ambiguous_slot_stays_counted_until_its_task_is_journaled_ended(
        store: PostgresStore) -> None:
    """A worker dies after its intent, before the task id: the slot stays held (ambiguous)
    and blocks new work at the limit; the job is taken over, and its end frees the slot."""
    await store.register_jobs(_jobs(2), "acct-amb")
    await store.set_limit("acct-amb", 1)
    dead = await _claim(store, "acct-amb", "dead", lease=0.2)
    assert dead is not None
    store.leased(dead, "dead").record_intent("j0", "images/generations",
                                             dead.external_task_id)
    takeover = None
    with anyio.fail_after(10):
        while takeover is None:
            await anyio.sleep(0.1)
            status = store.status()
            takeover = await _claim(store, "acct-amb", "alive")
    assert takeover.job_id == "j0"  # the ambiguous job, not the next one: the limit is full
    assert await _claim(store, "acct-amb", "other") is None
    assert [s["ambiguous"] for s in status["slots"] if s["account"] == "acct-amb"] == [1]
    view = store.leased(takeover, "alive")
    view.record_task_id("j0", "t-amb")
    view.record_result("j0", status=JournalStatus.SUCCEEDED, urls=(), task=None)
    freed = await _claim(store, "acct-amb", "other")
    assert freed is not None and freed.job_id == "j1"


async def test_a_job_given_back_unsent_frees_its_slot(store: PostgresStore) -> None:
    """A claimed job released with no intent journaled gives its slot back (nothing was
    sent) and counts an attempt."""
    await store.register_jobs(_jobs(2), "acct-back")
    await store.set_limit("acct-back", 1)
    claim = await _claim(store, "acct-back", "w1")
    assert claim is not None and await _claim(store, "acct-back", "w2") is None
    await store.release(claim, "w1", download=False)
    again = await _claim(store, "acct-back", "w2")
    assert again is not None


async def test_a_1303_learned_by_one_worker_limits_the_bucket_for_all(
        store: PostgresStore) -> None:
    """After a 1303, the bucket's limit is what the server holds of it (slots with a task
    id): no worker is admitted past it, though the account's ceiling has room."""
    await store.register_jobs(_jobs(3), "acct-1303")
    await store.set_limit("acct-1303", 10)
    claim = await _claim(store, "acct-1303", "w1")
    assert claim is not None
    view = store.leased(claim, "w1")
    view.record_intent(claim.job_id, "images/generations", claim.external_task_id)
    view.record_task_id(claim.job_id, "t-1")
    bucket = concurrency_bucket("images/generations", {"prompt": "p"})
    assert await store.learn_rejection("acct-1303", bucket) == 1
    assert await _claim(store, "acct-1303", "w2") is None
    limits = {(x["account"], x["bucket"]): x["max_slots"] for x in store.status()["limits"]}
    assert limits[("acct-1303", bucket)] == 1


async def test_a_1302_cool_down_holds_every_worker_back(store: PostgresStore) -> None:
    """A Retry-After stored by one worker stops every worker's new creates until it ends."""
    await store.register_jobs(_jobs(1), "acct-1302")
    await store.cool_down("acct-1302", 60.0)
    assert await _claim(store, "acct-1302", "w1") is None


def test_fleet_status_prints_workers_slots_and_jobs(store: PostgresStore,
                                                    postgres_dsn: str) -> None:
    """``kling-async fleet status --store DSN --json`` reports the four sections; without
    ``--json`` (and with ``KLING_STORE``) a short table."""
    store.record_intent("s", "images/generations", "ext-s")
    done = subprocess.run([sys.executable, "-m", "kling_async.cli", "fleet", "status", "--store",
                           postgres_dsn, "--json"], capture_output=True, text=True, timeout=60,
                          check=False, env=_env())
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert {"workers", "leases", "slots", "jobs"} <= set(status)
    assert status["jobs"][store.batch] == {"sent": 1}
    table = subprocess.run([sys.executable, "-m", "kling_async.cli", "fleet", "status"],
                           capture_output=True, text=True, timeout=60, check=False,
                           env={**_env(), "KLING_STORE": postgres_dsn})
    assert table.returncode == 0, table.stderr
    assert f"{store.batch}: sent 1" in table.stdout and "workers:" in table.stdout


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}


def test_missing_postgresql_binaries_name_the_package_to_install(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without initdb/pg_ctl the test cluster refuses, naming Debian's package (no skip)."""
    monkeypatch.setenv("PG_BIN", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PostgresMissing, match="postgresql"):
        find_bin_dir()


async def _fresh_database(dsn: str) -> str:
    """A new, empty database on the session's cluster: its DSN."""
    import asyncpg

    name = f"db_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    return dsn.rsplit("/", 1)[0] + f"/{name}"


async def test_a_schema_1_store_is_migrated_and_a_newer_one_refused(postgres_dsn: str) -> None:
    """A store written by schema 1 gains schema 2's columns when opened; a store written by
    a newer version is refused with ConfigurationError, before anything is written."""
    import asyncpg

    from kling_async import ConfigurationError
    from kling_async._fleet._schema import SCHEMA_VERSION, STATEMENTS

    dsn = await _fresh_database(postgres_dsn)
    conn = await asyncpg.connect(dsn)
    try:
        for statement in STATEMENTS:
            if "ADD COLUMN" not in statement:  # schema 1: no endpoint / checked_at
                await conn.execute(statement)
        await conn.execute("INSERT INTO kling_meta VALUES ('schema', '1')")
        await anyio.to_thread.run_sync(lambda: PostgresStore(dsn).close())
        columns = {r["column_name"] for r in await conn.fetch(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'kling_slots'")}
        assert {"endpoint", "checked_at"} <= columns
        assert await conn.fetchval("SELECT value FROM kling_meta WHERE key = 'schema'") == str(
            SCHEMA_VERSION)
        await conn.execute("UPDATE kling_meta SET value = '99' WHERE key = 'schema'")
        with pytest.raises(ConfigurationError, match="newer kling_async"):
            await anyio.to_thread.run_sync(lambda: PostgresStore(dsn).close())
        assert await conn.fetchval("SELECT value FROM kling_meta WHERE key = 'schema'") == "99"
    finally:
        await conn.close()


def test_an_unreachable_store_is_a_typed_error_without_the_password() -> None:
    """A store that cannot be reached raises FleetStoreError naming it, password removed."""
    from kling_async._fleet import FleetStoreError
    from tests._postgres import free_port

    dsn = f"postgresql://user:s3cret-pw@127.0.0.1:{free_port()}/nothing"
    with pytest.raises(FleetStoreError) as caught:
        PostgresStore(dsn)
    assert "s3cret-pw" not in repr(caught.value) and "127.0.0.1" in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


async def test_a_worker_joining_a_running_fleet_takes_no_table_lock(
        store: PostgresStore, postgres_dsn: str) -> None:
    """Opening a store already at this schema runs no DDL: it does not wait for (or deadlock
    with) the running workers' transactions on the ledger's tables."""
    import asyncpg

    conn = await asyncpg.connect(postgres_dsn)
    try:
        async with conn.transaction():  # a running worker's transaction on both tables
            await conn.execute("LOCK TABLE kling_slots, kling_jobs IN ROW EXCLUSIVE MODE")
            await conn.execute("SET LOCAL lock_timeout = '20s'")
            joined = await anyio.to_thread.run_sync(
                lambda: PostgresStore(postgres_dsn, batch=store.batch))
            joined.close()
    finally:
        await conn.close()
