"""Result downloads: resumable, size-checked, renamed atomically.

A download never re-generates anything: on failure it is retried on its own (capped
exponential backoff, ``attempts`` tries), then reported as ``DownloadError``.  The body is
appended to ``<dest>.part``; a sidecar ``<dest>.part.json`` (see ``_partial``) records a hash
of the URL, the validator (``ETag``, else a strong ``Last-Modified``) and the total size, so a
later attempt, or a later run after a crash, resumes instead of starting over:

- ``Range: bytes=<have>-`` with ``If-Range: <validator>``;
- ``206`` whose ``Content-Range`` starts at ``<have>`` with the recorded total -> append;
- ``200`` (the server ignores ranges, or the file changed) -> start over from byte 0;
- ``416`` while the partial is already complete -> finish it without a body;
- anything inconsistent -> discard the partial and start over at once.

A file appears under its final name only complete (size checked against the total, fsynced,
``os.replace``).  ``Accept-Encoding: identity`` is sent so sizes and ranges are of the raw
bytes.  No credentials are sent: result URLs are public CDN links, fetched with a plain ``GET``
on the given session.  Error messages never carry the URL's query or user info (signed URLs
have tokens).

Bounds (``Downloader`` arguments): a URL must be absolute ``http(s)``, parse, and be at most
``MAX_URL_LENGTH`` characters, else ``DownloadError`` (permanent) before any request.  A body
may not exceed ``max_bytes`` (default ``DEFAULT_MAX_BYTES``, 2 GiB: a Kling video is tens of
MB).  A server that encodes the body anyway (``Content-Encoding: gzip`` despite ``identity``)
has it decoded by aiohttp, so its ``Content-Length`` bounds nothing: the decoded bytes may be
at most ``max_inflation`` (default ``DEFAULT_MAX_INFLATION``, 20) times the declared length,
and never more than ``max_bytes``.  Past a bound the download stops with
``DownloadTooLargeError`` and its partial file is removed.
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
import random
import re
from collections.abc import Awaitable, Callable
from pathlib import Path, PurePosixPath
from typing import Any

import aiohttp
import anyio
import anyio.to_thread
from yarl import URL

from .._errors import KlingError
from .._policy import Backoff
from ._partial import (
    Partial,
    Sidecar,
    clear_receipt,
    complete_partial,
    discard,
    drop_unresumable,
    part_path,
    read_sidecar,
    resume_point,
    safe_url,
    url_digest,
    validators,
    write_sidecar,
)
from ._text import escape_surrogates, has_surrogate

_CHUNK = 64 * 1024
#: The longest result URL accepted (characters); real signed CDN URLs are well under 2 KB.
MAX_URL_LENGTH = 8192
#: The largest result file accepted by default (bytes): 2 GiB.
DEFAULT_MAX_BYTES = 2 * 1024**3
#: How many times its declared (encoded) size an encoded body may decode to, by default.
DEFAULT_MAX_INFLATION = 20
#: Waits between download attempts: 0.5 s doubling, at most 10 s, full jitter.
DOWNLOAD_BACKOFF = Backoff(initial=0.5, maximum=10.0)
_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_URL_QUERY = re.compile(r"""(\w+://[^\s'"?#]*)\?[^\s'"#]*""")
_URL_USER = re.compile(r"""://[^\s'"/@]*@""")
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+)\s*$", re.IGNORECASE)
_UNSATISFIED_RANGE = re.compile(r"^\s*bytes\s+\*/(\d+)\s*$", re.IGNORECASE)


class DownloadError(KlingError):
    """A result file could not be downloaded (the task itself is fine; nothing re-generates)."""

    def __init__(self, url: str, reason: str, *, permanent: bool = False):
        self.url = url
        # aiohttp's messages may quote a URL (redirects, invalid URLs): never its query
        reason = _URL_USER.sub("://", _URL_QUERY.sub(r"\1?<redacted>", reason))
        self.reason = reason = escape_surrogates(reason)
        self.permanent = permanent
        super().__init__(escape_surrogates(f"download of {safe_url(url)} failed: {reason}"))


class DownloadTooLargeError(DownloadError):
    """A result body went past the downloader's bounds (``max_bytes``, or ``max_inflation``
    times the declared size of an encoded body); nothing of it is kept."""

    def __init__(self, url: str, reason: str):
        super().__init__(url, reason, permanent=True)


def url_problem(url: object) -> str | None:
    """Why ``url`` cannot be downloaded (not an absolute http(s) URL, unparsable, too long),
    or None if it can be."""
    if not isinstance(url, str):
        return f"not a URL (got {type(url).__name__})"
    if len(url) > MAX_URL_LENGTH:
        return f"URL longer than {MAX_URL_LENGTH} characters ({len(url)})"
    if has_surrogate(url) or any(c in url for c in "\x00\r\n"):
        return "the URL holds characters no URL may hold"
    try:
        parsed = URL(url)
        scheme, host, port = parsed.scheme, parsed.host, parsed.port
    except (ValueError, TypeError) as exc:
        detail = str(exc).split("\n")[0][:80]
        return f"unparsable URL ({type(exc).__name__}: {detail})" if detail else \
            f"unparsable URL ({type(exc).__name__})"
    if scheme not in ("http", "https"):
        return f"not an http(s) URL (scheme {scheme!r})" if scheme else "not an absolute URL"
    if not host:
        return "the URL has no host"
    if port is None or not 0 < port < 65536:
        return "the URL's port is out of range"
    return None


def file_suffix(url: str, content_type: str | None = None) -> str:
    """The file extension for a result: from the URL path, else the content type, else ``""``."""
    try:
        path = URL(url).path
    except (ValueError, TypeError):
        path = ""
    suffix = PurePosixPath(path).suffix.lower()
    if suffix and len(suffix) <= 6 and suffix[1:].isalnum():
        return suffix
    if content_type:
        guessed = mimetypes.guess_extension(content_type.split(";")[0].strip())
        if guessed:
            return guessed
    return ""


def result_file_names(job_id: str, urls: tuple[str, ...]) -> list[str]:
    """Local names of a job's results: ``<id>.<ext>``, or ``<id>_<i>.<ext>`` for several."""
    if len(urls) == 1:
        return [f"{job_id}{file_suffix(urls[0])}"]
    return [f"{job_id}_{i}{file_suffix(url)}" for i, url in enumerate(urls)]


def _status_error(url: str, status: int) -> DownloadError:
    return DownloadError(url, f"HTTP {status}",
                         permanent=status not in _RETRY_STATUS and status not in (403, 404))


def _fsync_size(path: Path) -> int:
    """fsync ``path`` and return its size (blocking: run it in a worker thread)."""
    with open(path, "rb+") as file:
        os.fsync(file.fileno())
        return os.fstat(file.fileno()).st_size


class Downloader:
    """Downloads result files with ``session``, at most ``max_concurrent`` at once.

    One download per destination at a time (the partial file is per destination).
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        max_concurrent: int = 4,
        attempts: int = 5,
        backoff: Backoff = DOWNLOAD_BACKOFF,
        timeout: float = 300.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_inflation: float = DEFAULT_MAX_INFLATION,
        sleep: Callable[[float], Awaitable[Any]] = anyio.sleep,
        rand: Callable[[], float] = random.random,
    ):
        if max_concurrent < 1 or attempts < 1:
            raise ValueError("max_concurrent and attempts must be >= 1")
        if max_bytes < 1 or not max_inflation >= 1:
            raise ValueError("max_bytes and max_inflation must be >= 1")
        self.max_bytes = max_bytes
        self.max_inflation = max_inflation
        self._session = session
        self._limit = anyio.Semaphore(max_concurrent)
        self._attempts = attempts
        self._backoff = backoff
        self._timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=30.0)
        self._sleep = sleep
        self._rand = rand
        #: Completed downloads (files written), for progress and tests.
        self.completed = 0
        self.retries = 0
        #: Downloads completed from a partial file (a 206 appended, or a 416 finished it).
        self.resumed = 0
        #: Partial files given up because the server's answer did not fit them.
        self.restarts = 0
        #: Body bytes received (all attempts).
        self.bytes_received = 0

    async def download(self, url: str, dest: Path, *,
                       on_done: Callable[[int], object] | None = None) -> int:
        """Fetch ``url`` into ``dest`` atomically; returns its size.  Raises ``DownloadError``.

        ``on_done(size)`` is called right after the rename and before the receipt (the
        sidecar) is removed, so a crash in between still proves the file complete: journal
        the file there.  If it raises, the receipt stays and the exception propagates.
        """
        problem = url_problem(url)
        if problem is not None:
            raise DownloadError(url, problem, permanent=True)
        async with self._limit:
            last: DownloadError | None = None
            for attempt in range(self._attempts):
                if attempt:
                    self.retries += 1
                    await self._sleep(self._backoff.delay(attempt - 1, rand=self._rand()))
                try:
                    size = await self._fetch_once(url, dest)
                except DownloadError as exc:
                    last = exc
                    if exc.permanent:
                        break
                    continue
                self.completed += 1
                if on_done is not None:
                    on_done(size)
                clear_receipt(dest)
                return size
            assert last is not None
            raise last

    async def _fetch_once(self, url: str, dest: Path) -> int:
        try:
            whole = complete_partial(url, dest)
            if whole is not None:  # every byte arrived before a crash: just finish it
                self.resumed += 1
                return await self._commit(url, dest, whole)
            partial = resume_point(url, dest)
            size = await self._exchange(url, dest, partial)
            if size is None:  # the reply does not fit the partial file: start over
                self.restarts += 1
                discard(dest)
                size = await self._exchange(url, dest, None)
                assert size is not None
            return size
        except BaseException as exc:
            drop_unresumable(dest)
            if isinstance(exc, OSError):  # local disk trouble
                raise DownloadError(url, f"{type(exc).__name__}: {exc}") from exc
            raise

    async def _exchange(self, url: str, dest: Path, partial: Partial | None) -> int | None:
        """One GET; the file's size once complete, or None if ``partial`` must be dropped."""
        headers = {"Accept-Encoding": "identity"}
        if partial is not None:
            headers["Range"] = f"bytes={partial.have}-"
            headers["If-Range"] = partial.sidecar.validator
        try:
            async with self._session.get(url, headers=headers, timeout=self._timeout,
                                         allow_redirects=True, max_redirects=5) as resp:
                if partial is not None and resp.status == 206:
                    return await self._append(url, dest, partial, resp)
                if partial is not None and resp.status == 416:
                    return await self._finish(url, dest, partial, resp)
                if resp.status != 200:
                    raise _status_error(url, resp.status)
                if partial is not None:  # ranges ignored, or the file changed (If-Range)
                    self.restarts += 1
                return await self._fresh(url, dest, resp)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            # ValueError: aiohttp refusing a URL or a header it cannot send
            raise DownloadError(url, f"{type(exc).__name__}: {exc}") from None

    async def _fresh(self, url: str, dest: Path, resp: aiohttp.ClientResponse) -> int:
        """A whole body (``200``): reset the partial, write the sidecar, stream, finish."""
        encoded = resp.headers.get("Content-Encoding", "identity").lower() != "identity"
        total = None if encoded else resp.content_length
        limit = self._limit_for(url, resp.content_length, encoded)
        found = validators(resp.headers)
        ranges = resp.headers.get("Accept-Ranges", "bytes").lower() != "none"
        part = part_path(dest)
        discard(dest)
        part.touch()
        if total is not None and found is not None and ranges:
            etag, modified = found
            sidecar = Sidecar(url_sha256=url_digest(url), size=total, etag=etag,
                              last_modified=modified)
            await anyio.to_thread.run_sync(write_sidecar, dest, url, sidecar)
        written = await self._stream(url, resp, part, limit)
        if total is not None and written != total:
            raise DownloadError(url, f"got {written} bytes, Content-Length said {total}")
        if written == 0:
            raise DownloadError(url, "empty body")
        return await self._commit(url, dest, written)

    def _limit_for(self, url: str, declared: int | None, encoded: bool) -> int:
        """The most body bytes accepted (``DownloadTooLargeError`` at once if the declared
        size is already past it)."""
        if declared is not None and declared > self.max_bytes:
            raise DownloadTooLargeError(url, f"the server announces {declared} bytes, more "
                                             f"than the limit of {self.max_bytes}")
        if encoded:
            bound = self.max_bytes if declared is None else int(declared * self.max_inflation)
            return min(self.max_bytes, bound)
        return self.max_bytes

    async def _append(self, url: str, dest: Path, partial: Partial,
                      resp: aiohttp.ClientResponse) -> int | None:
        """A ``206``: append the range if it continues the partial file exactly."""
        sidecar = partial.sidecar
        match = _CONTENT_RANGE.match(resp.headers.get("Content-Range", ""))
        etag, modified = resp.headers.get("ETag"), resp.headers.get("Last-Modified")
        encoded = resp.headers.get("Content-Encoding", "identity").lower() != "identity"
        if (match is None or encoded or (sidecar.etag and etag and etag != sidecar.etag)
                or (sidecar.last_modified and modified and modified != sidecar.last_modified)):
            return None
        start, end, total = (int(g) for g in match.groups())
        if start != partial.have or total != sidecar.size or not start <= end < total:
            return None
        written = await self._stream(url, resp, part_path(dest), end - start + 1)
        if written != end - start + 1:
            raise DownloadError(url, f"range reply: got {written} bytes, Content-Range said "
                                     f"{end - start + 1}")
        if partial.have + written < total:  # a shorter range than asked: the next try resumes
            raise DownloadError(url, f"incomplete: {partial.have + written} of {total} bytes")
        size = await self._commit(url, dest, total)
        self.resumed += 1
        return size

    async def _finish(self, url: str, dest: Path, partial: Partial,
                      resp: aiohttp.ClientResponse) -> int | None:
        """A ``416``: fine if the partial file is already whole (the crash hit before rename)."""
        size = partial.sidecar.size
        match = _UNSATISFIED_RANGE.match(resp.headers.get("Content-Range", ""))
        if partial.have != size or (match is not None and int(match.group(1)) != size):
            return None
        committed = await self._commit(url, dest, size)
        self.resumed += 1
        return committed

    async def _stream(self, url: str, resp: aiohttp.ClientResponse, part: Path,
                      limit: int) -> int:
        """Append the body to ``part``, flushing each chunk (a SIGKILL keeps what arrived);
        ``DownloadTooLargeError`` once it goes past ``limit`` bytes."""
        written = 0
        with open(part, "ab") as out:  # noqa: ASYNC230 - small local writes
            async for chunk in resp.content.iter_chunked(_CHUNK):
                if written + len(chunk) > limit:
                    raise DownloadTooLargeError(url, f"the body goes past {limit} bytes")
                out.write(chunk)
                out.flush()
                written += len(chunk)
                self.bytes_received += len(chunk)
        return written

    async def _commit(self, url: str, dest: Path, size: int) -> int:
        """fsync ``.part``, check it holds exactly ``size`` bytes, rename it onto ``dest``."""
        part = part_path(dest)
        on_disk = await anyio.to_thread.run_sync(_fsync_size, part)
        if on_disk != size:
            discard(dest)
            raise DownloadError(url, f"the file has {on_disk} bytes, expected {size}")
        receipt = read_sidecar(dest)
        if receipt is None or receipt.url_sha256 != url_digest(url) or receipt.size != size:
            # no resumable sidecar: write a receipt anyway, so a crash between the rename and
            # the journal still proves this file complete (no second download)
            await anyio.to_thread.run_sync(write_sidecar, dest, url,
                                           Sidecar(url_sha256=url_digest(url), size=size))
        os.replace(part, dest)
        return size

