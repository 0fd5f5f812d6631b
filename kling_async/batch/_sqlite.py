"""``SqliteJobStore``: the journal in one SQLite file (stdlib ``sqlite3``, WAL).

Every write is its own committed transaction, in WAL mode with ``synchronous=NORMAL``: once a
``record_*`` call returns, killing the process (even with SIGKILL) cannot lose it.  Tables::

    meta(key PRIMARY KEY, value)                  batch_id, schema version
    jobs(job_id PRIMARY KEY, seq, endpoint, external_task_id, status, task_id, urls, error, task,
         request_hash)
    files(job_id, url, path, size, PRIMARY KEY (job_id, url))

    downloads(job_id, url, path, PRIMARY KEY (job_id, url))

Schema 2 added the nullable ``jobs.request_hash`` and ``files.size``; a schema-1 journal is
migrated in place when opened (``ALTER TABLE ... ADD COLUMN``), its old rows keeping NULL
("unknown": not checked).  The ``downloads`` table (the names chosen for downloads, written
before their first byte) is created when missing: older versions ignore it.

A file that is not a SQLite database, or a database of another program (tables, but not this
journal's), is refused with ``BatchStorageError`` before anything is written to it.  Every
``sqlite3.Error`` (disk full, read-only folder...) becomes a ``BatchStorageError`` naming the
journal; text that UTF-8 cannot encode (a lone surrogate in a server's id or message) is
stored escaped (``_text.escape_surrogates``), never raised on.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .._errors import ConfigurationError
from ._storage import BatchStorageError, storage_error
from ._store import JobRecord, JournalStatus, check_intent, check_retry, new_batch_id
from ._text import escape_surrogates

SCHEMA_VERSION = "2"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    endpoint TEXT NOT NULL,
    external_task_id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    task_id TEXT,
    urls TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    task TEXT,
    request_hash TEXT
);
CREATE TABLE IF NOT EXISTS files (
    job_id TEXT NOT NULL,
    url TEXT NOT NULL,
    path TEXT NOT NULL,
    size INTEGER,
    PRIMARY KEY (job_id, url)
);
CREATE TABLE IF NOT EXISTS downloads (
    job_id TEXT NOT NULL,
    url TEXT NOT NULL,
    path TEXT NOT NULL,
    PRIMARY KEY (job_id, url)
);
"""
_OURS = frozenset({"meta", "jobs", "files", "downloads"})


def _text(value: Any) -> Any:
    """A parameter SQLite can always encode: strings with lone surrogates escaped."""
    return escape_surrogates(value) if isinstance(value, str) else value


def _params(args: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(_text(a) for a in args)


def _check_is_journal(db: sqlite3.Connection, path: Path) -> None:
    """Refuse (before any write) a database whose tables are not this journal's."""
    tables = {str(row[0]) for row in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    if tables and ("meta" not in tables or not tables <= _OURS):
        raise BatchStorageError(path, "a SQLite database, but not a kling-async journal (tables: "
                                f"{', '.join(sorted(tables)[:5])}); it was left as it is: "
                                "move it away or choose another output folder")


class SqliteJobStore:
    """A ``JobStore`` in the SQLite file at ``path`` (created if missing, reused if present)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None
        with self._errors():
            self._db = sqlite3.connect(str(self.path), isolation_level=None,
                                       check_same_thread=False)
        try:
            with self._errors():
                self._batch_id = self._open(self._db)
        except BaseException:
            self.close()
            raise

    def _open(self, db: sqlite3.Connection) -> str:
        """Check the file is a journal (or new), set it up; its batch id."""
        _check_is_journal(db, self.path)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=5000")
        db.executescript(_SCHEMA)
        with _Transaction(db) as cur:
            _migrate(cur)
            cur.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
            cur.execute("INSERT OR IGNORE INTO meta VALUES ('batch_id', ?)", (new_batch_id(),))
        row = db.execute("SELECT value FROM meta WHERE key = 'batch_id'").fetchone()
        return str(row[0])

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """``sqlite3.Error`` / ``OSError`` -> ``BatchStorageError`` naming the journal."""
        try:
            yield
        except (sqlite3.Error, OSError) as exc:
            raise storage_error(self.path, exc) from None

    def __repr__(self) -> str:
        return f"<SqliteJobStore {str(self.path)!r} batch_id={self._batch_id}>"

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("this SqliteJobStore is closed")
        return self._db

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Cursor]:
        with self._errors(), _Transaction(self._conn()) as cur:
            yield cur

    def batch_id(self) -> str:
        return self._batch_id

    def _load(self, where: str, args: tuple[Any, ...]) -> list[JobRecord]:
        with self._errors():
            return self._read(where, _params(args))

    def _read(self, where: str, args: tuple[Any, ...]) -> list[JobRecord]:
        db = self._conn()
        rows = db.execute(
            "SELECT job_id, endpoint, external_task_id, status, task_id, urls, error, task, "
            f"request_hash FROM jobs {where} ORDER BY seq", args,
        ).fetchall()
        files: dict[str, dict[str, str]] = {}
        sizes: dict[str, dict[str, int]] = {}
        file_sql = "SELECT job_id, url, path, size FROM files"
        file_args: tuple[Any, ...] = ()
        if args:
            file_sql += " WHERE job_id = ?"
            file_args = args
        for job_id, url, path, size in db.execute(file_sql, file_args):
            files.setdefault(job_id, {})[url] = path
            if size is not None:
                sizes.setdefault(job_id, {})[url] = int(size)
        planned: dict[str, dict[str, str]] = {}
        plan_sql = "SELECT job_id, url, path FROM downloads" + (
            " WHERE job_id = ?" if args else "")
        for job_id, url, path in db.execute(plan_sql, file_args):
            planned.setdefault(job_id, {})[url] = path
        return [
            JobRecord(
                job_id=job_id, endpoint=endpoint, external_task_id=ext,
                status=JournalStatus(status), task_id=task_id, urls=tuple(json.loads(urls)),
                files=files.get(job_id, {}), error=error,
                task=json.loads(task) if task else None, request_hash=digest,
                file_sizes=sizes.get(job_id, {}), downloads=planned.get(job_id, {}),
            )
            for job_id, endpoint, ext, status, task_id, urls, error, task, digest in rows
        ]

    def get(self, job_id: str) -> JobRecord | None:
        found = self._load("WHERE job_id = ?", (job_id,))
        return found[0] if found else None

    def records(self) -> list[JobRecord]:
        return self._load("", ())

    def _update(self, sql: str, args: tuple[Any, ...], job_id: str) -> None:
        with self._write() as cur:
            cur.execute(sql, _params(args))
            if cur.rowcount == 0:
                raise KeyError(f"no intent recorded for job {job_id!r}")

    def record_intent(self, job_id: str, endpoint: str, external_task_id: str, *,
                      request_hash: str | None = None) -> None:
        job_id, endpoint, external_task_id = _params((job_id, endpoint, external_task_id))
        with self._write() as cur:
            row = cur.execute("SELECT external_task_id, request_hash FROM jobs WHERE job_id = ?",
                              (job_id,)).fetchone()
            if row is not None:
                check_intent(job_id, row[0], row[1], external_task_id, request_hash)
                if row[1] is None and request_hash is not None:
                    cur.execute("UPDATE jobs SET request_hash = ? WHERE job_id = ?",
                                (request_hash, job_id))
                return
            cur.execute(
                "INSERT INTO jobs (job_id, seq, endpoint, external_task_id, status, request_hash) "
                "VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs), ?, ?, ?, ?)",
                (job_id, endpoint, external_task_id, JournalStatus.SENT.value, request_hash),
            )

    def record_task_id(self, job_id: str, task_id: str) -> None:
        self._update(
            "UPDATE jobs SET task_id = ?, status = CASE WHEN status IN ('succeeded', 'failed') "
            "THEN status ELSE 'submitted' END WHERE job_id = ?", (task_id, job_id), job_id,
        )

    def record_result(self, job_id: str, *, status: JournalStatus, urls: tuple[str, ...] = (),
                      task: Mapping[str, Any] | None = None, error: str | None = None) -> None:
        task_id = str(task["task_id"]) if task and task.get("task_id") else None
        self._update(
            "UPDATE jobs SET status = ?, urls = ?, task = ?, error = ?, "
            "task_id = COALESCE(task_id, ?) WHERE job_id = ?",
            (JournalStatus(status).value, json.dumps(list(urls)),
             json.dumps(dict(task)) if task is not None else None, error, task_id, job_id),
            job_id,
        )

    def record_retry(self, job_id: str, endpoint: str, external_task_id: str, *,
                     request_hash: str | None = None) -> None:
        """A failed job is about to be sent again with a new ``external_task_id``: its
        record becomes a fresh intent, in one transaction (idempotent for the same id)."""
        job_id, endpoint, external_task_id = _params((job_id, endpoint, external_task_id))
        with self._write() as cur:
            found = self._read("WHERE job_id = ?", (job_id,))
            if not check_retry(job_id, found[0] if found else None, external_task_id):
                return
            cur.execute(
                "UPDATE jobs SET endpoint = ?, external_task_id = ?, status = ?, task_id = NULL, "
                "urls = '[]', error = NULL, task = NULL, "
                "request_hash = COALESCE(?, request_hash) WHERE job_id = ?",
                (endpoint, external_task_id, JournalStatus.SENT.value, request_hash, job_id))
            cur.execute("DELETE FROM files WHERE job_id = ?", (job_id,))
            cur.execute("DELETE FROM downloads WHERE job_id = ?", (job_id,))

    def record_error(self, job_id: str, error: str | None) -> None:
        self._update("UPDATE jobs SET error = ? WHERE job_id = ?", (error, job_id), job_id)

    def record_file(self, job_id: str, url: str, path: str, size: int | None = None) -> None:
        with self._write() as cur:
            cur.execute("INSERT OR REPLACE INTO files (job_id, url, path, size) VALUES "
                        "(?, ?, ?, ?)", _params((job_id, url, path, size)))

    def record_download(self, job_id: str, url: str, path: str) -> None:
        with self._write() as cur:
            cur.execute("INSERT OR REPLACE INTO downloads (job_id, url, path) VALUES (?, ?, ?)",
                        _params((job_id, url, path)))

    def close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            with contextlib.suppress(sqlite3.Error):
                db.close()


def _migrate(cur: sqlite3.Cursor) -> None:
    """Bring an older journal to ``SCHEMA_VERSION`` (new columns are nullable: unknown); a
    journal from a newer version is refused rather than written in a shape it does not know."""
    row = cur.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    if row is not None and str(row[0]).isdigit() and int(row[0]) > int(SCHEMA_VERSION):
        raise ConfigurationError(
            f"the journal uses schema {row[0]}, written by a newer kling_async (this one knows "
            f"schema {SCHEMA_VERSION}): upgrade kling_async to resume this batch")
    added = False
    for table, column, kind in (("jobs", "request_hash", "TEXT"), ("files", "size", "INTEGER")):
        columns = {row[1] for row in cur.execute(f"PRAGMA table_info({table})")}
        if column not in columns:
            cur.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
            added = True
    if added:
        cur.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (SCHEMA_VERSION,))


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on error) around one write."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._cur: sqlite3.Cursor | None = None

    def __enter__(self) -> sqlite3.Cursor:
        self._cur = self._db.cursor()
        self._cur.execute("BEGIN IMMEDIATE")
        return self._cur

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        assert self._cur is not None
        self._cur.execute("COMMIT" if exc_type is None else "ROLLBACK")
        self._cur.close()
