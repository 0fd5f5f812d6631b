"""The job-store contract, passed by both ``MemoryJobStore`` and ``SqliteJobStore``."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from kling_async.batch import JobStore, JournalStatus, MemoryJobStore, SqliteJobStore
from kling_async.batch._store import request_hash


@pytest.fixture(params=[pytest.param("memory", id="memory"), pytest.param("sqlite", id="sqlite")])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JobStore]:
    made: JobStore = (MemoryJobStore() if request.param == "memory"
                      else SqliteJobStore(tmp_path / "journal.sqlite3"))
    yield made
    made.close()


def test_store_implements_the_protocol(store: JobStore) -> None:
    """Both stores are ``JobStore``s."""
    assert isinstance(store, JobStore)


def test_batch_id_is_stable_and_random(store: JobStore) -> None:
    """The batch id never changes for one store and differs between stores."""
    assert store.batch_id() == store.batch_id()
    assert store.batch_id() != MemoryJobStore().batch_id()


def test_unknown_job_has_no_record(store: JobStore) -> None:
    """A job never sent has no record."""
    assert store.get("nope") is None
    assert store.records() == []


def test_lifecycle_intent_task_id_result_file(store: JobStore) -> None:
    """Intent, then task id, then result, then files: each visible at once."""
    store.record_intent("a", "images/generations", "ext-a")
    record = store.get("a")
    assert record is not None and record.status is JournalStatus.SENT
    assert (record.task_id, record.external_task_id) == (None, "ext-a")
    store.record_task_id("a", "t1")
    assert store.get("a").status is JournalStatus.SUBMITTED  # type: ignore[union-attr]
    store.record_result("a", status=JournalStatus.SUCCEEDED, urls=("u1", "u2"),
                        task={"task_id": "t1", "status": "succeed"})
    store.record_file("a", "u1", "a_0.png")
    record = store.get("a")
    assert record is not None
    assert record.status is JournalStatus.SUCCEEDED and record.status.finished
    assert record.urls == ("u1", "u2") and dict(record.files) == {"u1": "a_0.png"}
    assert record.task == {"task_id": "t1", "status": "succeed"}


def test_records_keep_intent_order(store: JobStore) -> None:
    """``records()`` lists jobs in the order their intents were written."""
    for name in ("c", "a", "b"):
        store.record_intent(name, "videos/omni-video", f"ext-{name}")
    assert [r.job_id for r in store.records()] == ["c", "a", "b"]


def test_intent_is_idempotent_but_never_changes_the_external_id(store: JobStore) -> None:
    """Re-recording the same intent is fine; a different external id is refused."""
    store.record_intent("a", "videos/omni-video", "ext-a")
    store.record_intent("a", "videos/omni-video", "ext-a")
    with pytest.raises(ValueError, match="already has external_task_id"):
        store.record_intent("a", "videos/omni-video", "other")


def test_late_task_id_does_not_reopen_a_finished_job(store: JobStore) -> None:
    """A task id written after the result keeps the job finished."""
    store.record_intent("a", "images/generations", "ext-a")
    store.record_result("a", status=JournalStatus.FAILED, error="TaskFailedError: risk")
    store.record_task_id("a", "t9")
    record = store.get("a")
    assert record is not None and record.status is JournalStatus.FAILED
    assert record.task_id == "t9" and record.error == "TaskFailedError: risk"


def test_error_is_noted_and_cleared(store: JobStore) -> None:
    """``record_error`` notes the last error of a job; None clears it."""
    store.record_intent("a", "images/generations", "ext-a")
    store.record_error("a", "download failed")
    assert store.get("a").error == "download failed"  # type: ignore[union-attr]
    store.record_error("a", None)
    assert store.get("a").error is None  # type: ignore[union-attr]


def test_writes_without_an_intent_are_refused(store: JobStore) -> None:
    """Task ids and results need the intent first (it is written before the POST)."""
    with pytest.raises(KeyError):
        store.record_task_id("ghost", "t1")


def test_sqlite_journal_survives_reopening_and_uses_wal(tmp_path: Path) -> None:
    """Everything written is there after reopening, batch id included; the file is in WAL."""
    path = tmp_path / "journal.sqlite3"
    first = SqliteJobStore(path)
    first.record_intent("a", "images/generations", "ext-a")
    first.record_task_id("a", "t1")
    batch = first.batch_id()
    # Simulate a crash: no close; a second connection sees the committed rows.
    reader = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    assert reader.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert reader.execute("SELECT task_id FROM jobs").fetchall() == [("t1",)]
    reader.close()
    first.close()
    again = SqliteJobStore(path)
    try:
        assert again.batch_id() == batch
        record = again.get("a")
        assert record is not None and record.task_id == "t1"
    finally:
        again.close()


def test_intent_keeps_the_request_hash_and_refuses_another(store: JobStore) -> None:
    """The request hash is journaled with the intent; the same one again is fine, another is
    refused, and an unknown (None) one is filled in later."""
    store.record_intent("a", "images/generations", "ext-a", request_hash="h1")
    store.record_intent("a", "images/generations", "ext-a", request_hash="h1")
    store.record_intent("a", "images/generations", "ext-a")
    assert store.get("a").request_hash == "h1"  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="another request"):
        store.record_intent("a", "images/generations", "ext-a", request_hash="h2")
    store.record_intent("b", "images/generations", "ext-b")
    assert store.get("b").request_hash is None  # type: ignore[union-attr]
    store.record_intent("b", "images/generations", "ext-b", request_hash="h3")
    assert store.get("b").request_hash == "h3"  # type: ignore[union-attr]


def test_files_are_journaled_with_their_size(store: JobStore) -> None:
    """``record_file`` keeps the size; without one the size is unknown (absent)."""
    store.record_intent("a", "images/generations", "ext-a")
    store.record_result("a", status=JournalStatus.SUCCEEDED, urls=("u1", "u2"))
    store.record_file("a", "u1", "a_0.png", 1234)
    store.record_file("a", "u2", "a_1.png")
    record = store.get("a")
    assert record is not None and dict(record.file_sizes) == {"u1": 1234}
    store.record_file("a", "u1", "a_0.png")
    assert dict(store.get("a").file_sizes) == {}  # type: ignore[union-attr]
    assert [r.file_sizes for r in store.records()] == [{}]


def test_request_hash_is_canonical() -> None:
    """Key order and spacing do not change the hash; a value does."""
    assert request_hash({"a": 1, "b": [1, 2]}) == request_hash({"b": [1, 2], "a": 1})
    assert request_hash({"a": 1}) != request_hash({"a": 2})
    assert len(request_hash({})) == 64


_SCHEMA_1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE jobs (
    job_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, endpoint TEXT NOT NULL,
    external_task_id TEXT NOT NULL UNIQUE, status TEXT NOT NULL, task_id TEXT,
    urls TEXT NOT NULL DEFAULT '[]', error TEXT, task TEXT
);
CREATE TABLE files (
    job_id TEXT NOT NULL, url TEXT NOT NULL, path TEXT NOT NULL, PRIMARY KEY (job_id, url)
);
INSERT INTO meta VALUES ('schema', '1'), ('batch_id', 'b0b0b0b0b0b0');
INSERT INTO jobs VALUES ('a', 1, 'images/generations', 'kab-b0b0b0b0b0b0-a', 'succeeded', 't1',
                         '["http://h/a.png"]', NULL, NULL);
INSERT INTO files VALUES ('a', 'http://h/a.png', 'a.png');
"""


def test_schema_1_journal_is_migrated_in_place(tmp_path: Path) -> None:
    """A journal written before request hashes and file sizes opens, keeps its rows (hash and
    sizes unknown), takes the new columns, and says schema 2."""
    path = tmp_path / "journal.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(_SCHEMA_1)
    old.close()
    store = SqliteJobStore(path)
    try:
        assert store.batch_id() == "b0b0b0b0b0b0"
        record = store.get("a")
        assert record is not None and record.status is JournalStatus.SUCCEEDED
        assert record.request_hash is None and dict(record.files) == {"http://h/a.png": "a.png"}
        assert dict(record.file_sizes) == {}
        store.record_intent("b", "videos/omni-video", "kab-b0b0b0b0b0b0-b", request_hash="h")
        store.record_file("a", "http://h/a.png", "a.png", 99)
    finally:
        store.close()
    again = SqliteJobStore(path)
    try:
        assert again.get("b").request_hash == "h"  # type: ignore[union-attr]
        assert dict(again.get("a").file_sizes) == {"http://h/a.png": 99}  # type: ignore[union-attr]
    finally:
        again.close()
    reader = sqlite3.connect(path)
    assert reader.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == ("2",)
    reader.close()


def test_a_journal_from_a_newer_version_is_refused_untouched(tmp_path: Path) -> None:
    """A schema this version does not know is never written to: a clear error instead."""
    from kling_async import ConfigurationError

    path = tmp_path / "journal.sqlite3"
    SqliteJobStore(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = '9' WHERE key = 'schema'")
    db.commit()
    db.close()
    with pytest.raises(ConfigurationError, match="schema 9, written by a newer kling_async"):
        SqliteJobStore(path)
    db = sqlite3.connect(path)
    assert db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == ("9",)
    db.close()
