"""The job-store contract, passed by both ``MemoryJobStore`` and ``SqliteJobStore``."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from kling_async.batch import JobStore, JournalStatus, MemoryJobStore, SqliteJobStore


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
