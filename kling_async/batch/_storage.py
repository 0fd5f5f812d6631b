"""``BatchStorageError``: the output folder, the journal or ``results.jsonl`` cannot be used.

A read-only or missing folder, a full disk, a file size limit, a journal that is not a SQLite
database (or is another program's database): each becomes one typed error naming the path
and the problem, never a raw ``OSError`` / ``sqlite3.Error`` traceback.  The CLI exits 2.
"""

from __future__ import annotations

import errno
import os
import secrets
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from .._errors import KlingError
from ._text import escape_surrogates


class BatchStorageError(KlingError):
    """A batch could not read or write its output folder, journal or results file.

    ``path`` is the file or folder, ``problem`` what went wrong.  Nothing already journaled is
    lost: fix the problem and run the same command again.
    """

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(escape_surrogates(f"{self.path}: {problem}"))


def os_problem(exc: OSError) -> str:
    """A short description of a local file error (``strerror`` and a hint for the usual)."""
    text = exc.strerror or type(exc).__name__
    if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return f"{text} (the disk or a file size limit is full)"
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"{text} (the folder cannot be written)"
    if exc.errno == errno.EEXIST:
        return f"{text} (a file has this name, not a folder)"
    if exc.errno == errno.ENOTDIR:
        return f"{text} (a part of the path is a file, not a folder)"
    return text


def storage_error(path: str | Path, exc: OSError | sqlite3.Error) -> BatchStorageError:
    """The ``BatchStorageError`` for ``exc`` raised while using ``path``."""
    if isinstance(exc, OSError):
        return BatchStorageError(path, os_problem(exc))
    text = str(exc) or type(exc).__name__
    if any(word in text for word in ("disk I/O", "disk is full", "readonly", "unable to open")):
        text = f"{text} (is the disk full, the folder read-only, or the path not a folder?)"
    if "not a database" in text:
        text = f"not a kling-async journal ({text}); it was left as it is: move it away or " \
               "choose another output folder"
    return BatchStorageError(path, text)


def make_folder(path: Path) -> None:
    """Create the folder ``path`` (with its parents) if missing; ``BatchStorageError`` if a
    file has its name or it cannot be made."""
    if path.exists() and not path.is_dir():
        raise BatchStorageError(path, "not a folder (a file has this name)")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(path, exc) from None


def write_atomically(path: Path, pieces: Iterable[str]) -> None:
    """Write the text ``pieces`` as the file ``path``: to a temporary file beside it, synced,
    then renamed over it, so a reader sees the old file or the new one, never a part.
    ``BatchStorageError`` if it cannot be written (the old file, if any, stays whole)."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(temp, "x", encoding="utf-8") as out:
            for piece in pieces:
                out.write(piece)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except OSError as exc:
        raise storage_error(path, exc) from None
    finally:
        try:
            temp.unlink(missing_ok=True)
        except OSError:
            pass
