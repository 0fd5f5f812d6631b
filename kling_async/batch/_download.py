"""Result downloads: streamed to a temporary name, size-checked, renamed atomically.

A download never re-generates anything: on failure it is retried on its own (capped
exponential backoff, ``attempts`` tries), then reported as ``DownloadError``.  A file appears
under its final name only complete (``os.replace`` of a size-checked temporary file), so a file
that exists under its final name is a finished download.  No credentials are sent: result URLs
are public CDN links, fetched with a plain ``GET`` on the given session.
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
import random
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path, PurePosixPath
from typing import Any

import aiohttp
import anyio
from yarl import URL

from .._errors import KlingError
from .._policy import Backoff

PART_SUFFIX = ".part"
_CHUNK = 64 * 1024
#: Waits between download attempts: 0.5 s doubling, at most 10 s, full jitter.
DOWNLOAD_BACKOFF = Backoff(initial=0.5, maximum=10.0)
_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class DownloadError(KlingError):
    """A result file could not be downloaded (the task itself is fine; nothing re-generates)."""

    def __init__(self, url: str, reason: str, *, permanent: bool = False):
        self.url = url
        self.reason = reason
        self.permanent = permanent
        super().__init__(f"download of {_safe_url(url)} failed: {reason}")


def _safe_url(url: str) -> str:
    """The URL without its query string (signed CDN URLs carry tokens there)."""
    return str(URL(url).with_query(None).with_fragment(None))


def file_suffix(url: str, content_type: str | None = None) -> str:
    """The file extension for a result: from the URL path, else the content type, else ``""``."""
    suffix = PurePosixPath(URL(url).path).suffix.lower()
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


class Downloader:
    """Downloads result files with ``session``, at most ``max_concurrent`` at once."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        max_concurrent: int = 4,
        attempts: int = 5,
        backoff: Backoff = DOWNLOAD_BACKOFF,
        timeout: float = 300.0,
        sleep: Callable[[float], Awaitable[Any]] = anyio.sleep,
        rand: Callable[[], float] = random.random,
    ):
        if max_concurrent < 1 or attempts < 1:
            raise ValueError("max_concurrent and attempts must be >= 1")
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

    async def download(self, url: str, dest: Path) -> int:
        """Fetch ``url`` into ``dest`` atomically; returns its size.  Raises ``DownloadError``."""
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
                return size
            assert last is not None
            raise last

    async def _fetch_once(self, url: str, dest: Path) -> int:
        temp = dest.with_name(f"{dest.name}.{secrets.token_hex(4)}{PART_SUFFIX}")
        try:
            async with self._session.get(url, timeout=self._timeout,
                                         allow_redirects=True) as resp:
                if resp.status != 200:
                    raise DownloadError(url, f"HTTP {resp.status}",
                                        permanent=resp.status not in _RETRY_STATUS
                                        and resp.status not in (403, 404))
                encoded = resp.headers.get("Content-Encoding", "identity") != "identity"
                expected = None if encoded else resp.content_length
                written = 0
                with open(temp, "wb") as out:  # noqa: ASYNC230 - small local writes
                    async for chunk in resp.content.iter_chunked(_CHUNK):
                        out.write(chunk)
                        written += len(chunk)
                    out.flush()
                    os.fsync(out.fileno())
            if expected is not None and written != expected:
                raise DownloadError(url, f"got {written} bytes, Content-Length said {expected}")
            if written == 0:
                raise DownloadError(url, "empty body")
            os.replace(temp, dest)
            return written
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise DownloadError(url, f"{type(exc).__name__}: {exc}") from exc
        finally:
            if temp.exists():
                temp.unlink()


def remove_partial_files(folder: Path) -> int:
    """Delete leftover temporary downloads (``*.part``) in ``folder``; how many were removed."""
    removed = 0
    if folder.is_dir():
        for leftover in folder.glob(f"*{PART_SUFFIX}"):
            leftover.unlink(missing_ok=True)
            removed += 1
    return removed
