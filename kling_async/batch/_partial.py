"""Resumable downloads on disk: ``<dest>.part`` and its sidecar ``<dest>.part.json``.

For a result file ``dest``:

- ``<dest>.part`` holds the bytes received so far, always a prefix of the file (appended and
  flushed chunk by chunk, so a SIGKILL keeps everything written);
- ``<dest>.part.json``, the sidecar, written and fsynced before the first body byte::

      {"format": 1, "url_sha256": "<sha256 of the full URL>", "url": "<URL without query>",
       "etag": "\\"...\\"" or null, "last_modified": "<HTTP date>" or null, "size": <bytes>}

  Only a hash of the full URL is stored: signed CDN URLs carry their token in the query.

The steps always happen in this order, which is what makes the files trustworthy after a kill:

1. a fresh body: remove the old sidecar, create (truncate) ``.part``, write the sidecar, then
   append the body;
2. completion: size check, fsync, a sidecar written if there was none (a receipt only: no
   validator, so never resumed), ``os.replace(.part, dest)``; the sidecar stays behind as a
   *receipt* until the caller journaled the file, then it is removed;
3. discarding: the sidecar first, then ``.part``.

So ``.part`` without a sidecar is unusable, and a sidecar without its ``.part`` means that
``.part`` was renamed onto ``dest``: if ``dest`` has the sidecar's size, it is that download,
complete (the crash came between the rename and the journal write).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import attrs
from yarl import URL

PART_SUFFIX = ".part"
SIDECAR_SUFFIX = ".part.json"
_FORMAT = 1
_SHOWN_URL = 200
_QUERY_OR_USER = re.compile(r"[?#].*|(?<=://)[^/@]*@", re.DOTALL)


def part_path(dest: Path) -> Path:
    """Where the bytes of ``dest`` accumulate: ``<dest>.part``."""
    return dest.with_name(dest.name + PART_SUFFIX)


def sidecar_path(dest: Path) -> Path:
    """The sidecar of ``dest``'s partial download: ``<dest>.part.json``."""
    return dest.with_name(dest.name + SIDECAR_SUFFIX)


def url_digest(url: str) -> str:
    """The sha256 of the full URL (query included): matches a partial to its URL."""
    return hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()


def safe_url(url: str) -> str:
    """The URL without its query string and user info (signed CDN URLs carry tokens there),
    at most ``_SHOWN_URL`` characters; any string is accepted, even one that is no URL."""
    try:
        shown = str(URL(url).with_query(None).with_fragment(None).with_user(None))
    except (ValueError, TypeError):  # unparsable: cut by hand
        shown = _QUERY_OR_USER.sub("", url)
    return shown if len(shown) <= _SHOWN_URL else shown[: _SHOWN_URL - 3] + "..."


@attrs.frozen(kw_only=True)
class Sidecar:
    """What a partial download is a part of: URL (hashed), validator and total size."""

    url_sha256: str
    size: int
    etag: str | None = None
    last_modified: str | None = None

    @property
    def resumable(self) -> bool:
        """Whether a range request can continue it (it has a validator for ``If-Range``).
        A sidecar without one is only a receipt, written just before the rename."""
        return bool(self.etag or self.last_modified)

    @property
    def validator(self) -> str:
        """The ``If-Range`` value: the strong ETag, else the Last-Modified date."""
        value = self.etag or self.last_modified
        assert value is not None
        return value


@attrs.frozen(kw_only=True)
class Partial:
    """A resumable partial download: ``have`` bytes of ``sidecar.size`` are on disk."""

    have: int
    sidecar: Sidecar


def validators(headers: Mapping[str, str]) -> tuple[str | None, str | None] | None:
    """``(etag, last_modified)`` usable in ``If-Range``, or None if the reply has neither.

    ``headers`` must look names up case-insensitively (aiohttp's do).

    A weak ETag (``W/...``) never qualifies.  A Last-Modified date qualifies only without an
    ETag and when strong: at least one second older than the reply's ``Date`` (RFC 9110,
    8.8.2.2 and 13.1.5).
    """
    etag = headers.get("ETag")
    if etag and not etag.startswith("W/"):
        return etag, None
    if etag:
        return None
    modified, date = headers.get("Last-Modified"), headers.get("Date")
    if not modified or not date:
        return None
    try:
        strong = (parsedate_to_datetime(date) - parsedate_to_datetime(modified)).total_seconds()
    except (TypeError, ValueError):
        return None
    return (None, modified) if strong >= 1 else None


def write_sidecar(dest: Path, url: str, sidecar: Sidecar) -> None:
    """Write and fsync ``dest``'s sidecar (blocking: run it in a worker thread)."""
    record = {"format": _FORMAT, "url_sha256": sidecar.url_sha256, "url": safe_url(url),
              "etag": sidecar.etag, "last_modified": sidecar.last_modified,
              "size": sidecar.size}
    with open(sidecar_path(dest), "w", encoding="utf-8") as out:
        out.write(json.dumps(record))
        out.flush()
        os.fsync(out.fileno())


def read_sidecar(dest: Path) -> Sidecar | None:
    """``dest``'s sidecar, or None if missing or unreadable in any way."""
    try:
        raw: Any = json.loads(sidecar_path(dest).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict) or raw.get("format") != _FORMAT:
        return None
    digest, size = raw.get("url_sha256"), raw.get("size")
    etag, modified = raw.get("etag"), raw.get("last_modified")
    if (not isinstance(digest, str) or type(size) is not int or size < 0
            or not isinstance(etag, (str, type(None)))
            or not isinstance(modified, (str, type(None)))):
        return None
    return Sidecar(url_sha256=digest, size=size, etag=etag, last_modified=modified)


def discard(dest: Path) -> None:
    """Forget ``dest``'s partial download: the sidecar first, then ``.part``."""
    sidecar_path(dest).unlink(missing_ok=True)
    part_path(dest).unlink(missing_ok=True)


def drop_unresumable(dest: Path) -> None:
    """Remove ``<dest>.part`` if no sidecar makes it resumable."""
    if not sidecar_path(dest).exists():
        part_path(dest).unlink(missing_ok=True)


def resume_point(url: str, dest: Path) -> Partial | None:
    """Where a download of ``url`` into ``dest`` can resume, or None (start from byte 0).

    Leftovers that cannot be resumed (no sidecar, another URL, more bytes than the total, a
    receipt of an earlier download) are removed.
    """
    sidecar = read_sidecar(dest)
    part = part_path(dest)
    if sidecar is None or sidecar.url_sha256 != url_digest(url) or not part.is_file():
        discard(dest)
        return None
    have = part.stat().st_size
    if have > sidecar.size or (not sidecar.resumable and have != sidecar.size):
        discard(dest)
        return None
    if have == 0:
        return None  # nothing to resume; the fresh start rewrites both files
    return Partial(have=have, sidecar=sidecar)


def complete_partial(url: str, dest: Path) -> int | None:
    """The size of ``<dest>.part`` if it already holds the whole download of ``url`` (its
    sidecar's size): the crash came after the last byte and before the rename, so it only
    needs renaming, not another request."""
    sidecar = read_sidecar(dest)
    part = part_path(dest)
    if sidecar is None or sidecar.url_sha256 != url_digest(url) or not part.is_file():
        return None
    return sidecar.size if sidecar.size > 0 and part.stat().st_size == sidecar.size else None


def completed_size(url: str, dest: Path) -> int | None:
    """The size of ``dest`` if a receipt vouches that it is the complete download of ``url``.

    A receipt is a sidecar for ``url`` whose ``.part`` is gone (renamed onto ``dest``) and
    whose size is ``dest``'s.
    """
    sidecar = read_sidecar(dest)
    if sidecar is None or sidecar.url_sha256 != url_digest(url) or part_path(dest).exists():
        return None
    try:
        size = dest.stat().st_size if dest.is_file() else None
    except OSError:
        return None
    return size if size == sidecar.size else None


def clear_receipt(dest: Path) -> None:
    """Remove ``dest``'s receipt once the file is journaled."""
    if not part_path(dest).exists():
        sidecar_path(dest).unlink(missing_ok=True)


def remove_leftovers(dest: Path) -> None:
    """Remove ``dest``'s partial file and sidecar, if any (``dest`` must be this batch's)."""
    for path in (sidecar_path(dest), part_path(dest)):
        if path.is_symlink() or path.is_file():
            path.unlink(missing_ok=True)


def remove_partial_files(folder: Path, *, keep_resumable: bool = True) -> int:
    """Delete unusable download leftovers in ``folder``; how many files were removed.

    Not used by batches any more: it cannot tell this program's files from a user's (a
    browser's ``movie.mp4.part``); a batch removes only the leftovers of downloads it
    journaled (``remove_leftovers``).

    Unusable: ``*.part`` without a sidecar (including the random-named ones of earlier
    versions), unreadable sidecars (with their ``.part``), and receipts whose file is gone.
    With ``keep_resumable=False`` every ``*.part`` and sidecar goes.
    """
    removed = 0
    if not folder.is_dir():
        return 0
    for sidecar in folder.glob(f"*{SIDECAR_SUFFIX}"):
        dest = sidecar.with_name(sidecar.name[: -len(SIDECAR_SUFFIX)])
        part = part_path(dest)
        usable = read_sidecar(dest) is not None and (part.exists() or dest.exists())
        if keep_resumable and usable:
            continue
        sidecar.unlink(missing_ok=True)
        removed += 1
    for part in folder.glob(f"*{PART_SUFFIX}"):
        if keep_resumable and part.with_name(part.name + ".json").exists():
            continue
        part.unlink(missing_ok=True)
        removed += 1
    return removed
