"""Task results as the SDK hands them out: ``Task``, ``TaskStatus``, ``Image``, ``Video``...

Plain frozen values; parsing from the wire (lenient about extras and numbers-as-strings) lives
in ``kling_async._results.parse_task``.
"""

from __future__ import annotations

import enum
import json
import math
import os
import typing
import warnings
from collections.abc import Awaitable, Sequence
from pathlib import Path

import attrs

from .._costs import Cost

if typing.TYPE_CHECKING:
    import aiohttp


class FileFetcher(typing.Protocol):
    """What ``Task.download`` runs: ``kling_async.batch._single.download_files``."""

    def __call__(self, task_id: str, urls: Sequence[str], folder: str | os.PathLike[str], *,
                 session: aiohttp.ClientSession | None = None) -> Awaitable[list[Path]]: ...


#: The one ``FileFetcher``, handed over by ``kling_async.batch._single`` when it is imported
#: (this module cannot import it: the batch code imports the models).
_fetchers: list[FileFetcher] = []


def set_file_fetcher(fetch: FileFetcher) -> None:
    """Make ``fetch`` the code ``Task.download`` runs."""
    _fetchers[:] = [fetch]


class TaskStatus(str, enum.Enum):
    """Server-side task status.  Note Kling spells success ``succeed``."""

    SUBMITTED = "submitted"
    PROCESSING = "processing"
    SUCCEED = "succeed"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        """Whether the task has ended (``succeed`` or ``failed``): no status follows."""
        return self is TaskStatus.SUCCEED or self is TaskStatus.FAILED


@typing.final
class DoneFlag:
    """What ``task.done`` and ``job.done`` give: call it (``task.done()``), as asyncio's
    ``Future.done()``; it returns whether the task (or job) has ended.

    ``Task.done`` used to be a property: code written for it (``if task.done:``) still gets
    the right answer from the flag's truth value, with a ``DeprecationWarning``.  So does
    ``if job.done:``, which used to be always true (a bound method)."""

    __slots__ = ("_value",)

    def __init__(self, value: bool) -> None:
        self._value = value

    def __call__(self) -> bool:
        return self._value

    def __bool__(self) -> bool:
        warnings.warn(
            "done is a method, as asyncio's Future.done(): call it (task.done(), job.done()); "
            "reading it as a bool without the call is deprecated",
            DeprecationWarning,
            stacklevel=2,
        )
        return self._value

    def __repr__(self) -> str:
        return f"<DoneFlag {self._value}: call it>"


#: The two flags ``done`` gives (no allocation per call).
DONE = DoneFlag(True)
NOT_DONE = DoneFlag(False)


@attrs.frozen(kw_only=True)
class Image:
    """One generated image: ``task_result.images[]``."""

    index: int
    url: str
    watermark_url: str | None = None


@attrs.frozen(kw_only=True)
class Video:
    """One generated video: ``task_result.videos[]``; ``duration`` in seconds."""

    id: str
    url: str
    duration: float | None = None
    watermark_url: str | None = None


@attrs.frozen(kw_only=True)
class Audio:
    """One generated audio track (audio tasks): ``task_result.audios[]``."""

    id: str
    url_mp3: str | None = None
    url_wav: str | None = None
    duration_mp3: float | None = None
    duration_wav: float | None = None


@attrs.frozen(kw_only=True)
class ParentVideo:
    """``task_info.parent_video`` of extend and video-to-audio tasks."""

    id: str | None = None
    url: str | None = None
    duration: float | None = None


@attrs.frozen(kw_only=True)
class Task:
    """A Kling task as last seen by the SDK.

    ``created_at``/``updated_at`` are milliseconds since the epoch, as Kling sends them;
    ``final_unit_deduction`` is kept as the string Kling sends (units deducted); ``cost``
    is what the task cost, read from either standard's fields (None when none is reported).
    Result URLs expire after 30 days: download what you need.
    """

    task_id: str
    status: TaskStatus
    status_msg: str | None = None
    external_task_id: str | None = None
    images: tuple[Image, ...] = ()
    videos: tuple[Video, ...] = ()
    audios: tuple[Audio, ...] = ()
    parent_video: ParentVideo | None = None
    created_at: int | None = None
    updated_at: int | None = None
    final_unit_deduction: str | None = None
    cost: Cost | None = None

    @property
    def done(self) -> DoneFlag:
        """Call it: ``task.done()`` is whether the task has ended (``succeed`` or ``failed``).
        (``if task.done:`` without the call still works, with a ``DeprecationWarning``.)"""
        return DONE if self.status.is_terminal else NOT_DONE

    @property
    def urls(self) -> tuple[str, ...]:
        """Every result URL (images, then videos, then audio), without watermark variants."""
        found: list[str] = [i.url for i in self.images]
        found.extend(v.url for v in self.videos)
        for a in self.audios:
            found.extend(u for u in (a.url_mp3, a.url_wav) if u)
        return tuple(found)

    async def download(self, folder: str | os.PathLike[str], *,
                       session: aiohttp.ClientSession | None = None) -> list[Path]:
        """Download every result file (``urls``) into ``folder`` (created if missing); the
        paths written, in the order of ``urls`` (``[]`` when there are none, e.g. before the
        task succeeded).

        The batch runner's downloader: streamed to ``<name>.part``, size-checked, renamed into
        place only complete, each file retried on its own.  Files are named
        ``<task_id>.<ext>`` (``<task_id>_<i>.<ext>`` for several); a name already taken in
        ``folder`` is never overwritten: ``<name>~1.<ext>`` is used instead.  A file that
        fails raises ``DownloadError`` (``kling_async.batch``) and leaves nothing behind;
        files completed before it stay.  ``session`` is an ``aiohttp.ClientSession`` to use
        (e.g. ``client.session``), else one is opened for the call.
        """
        return await _fetchers[0](self.task_id, self.urls, folder, session=session)

    def to_dict(self) -> dict[str, typing.Any]:
        """A plain, JSON-ready view of the task: only ``str``, ``int``, ``float`` (finite),
        ``None``, lists and dicts, so ``json.dumps`` takes it as it is.

        ``status`` is the status's one public spelling (``"submitted"``, ``"processing"``,
        ``"succeed"``, ``"failed"``); ``urls`` lists every result URL (as ``Task.urls``);
        ``created_at`` / ``updated_at`` are milliseconds since the epoch and
        ``final_unit_deduction`` the units deducted as Kling sent them (``None`` when absent);
        ``cost`` is ``Cost.to_dict()`` (amounts as decimal strings), or ``None``.
        """
        return {
            "task_id": self.task_id,
            "status": self.status.value,
            "status_msg": self.status_msg,
            "external_task_id": self.external_task_id,
            "urls": list(self.urls),
            "images": [{"index": i.index, "url": i.url, "watermark_url": i.watermark_url}
                       for i in self.images],
            "videos": [{"id": v.id, "url": v.url, "duration": _finite(v.duration),
                        "watermark_url": v.watermark_url} for v in self.videos],
            "audios": [{"id": a.id, "url_mp3": a.url_mp3, "url_wav": a.url_wav,
                        "duration_mp3": _finite(a.duration_mp3),
                        "duration_wav": _finite(a.duration_wav)} for a in self.audios],
            "parent_video": None if self.parent_video is None else {
                "id": self.parent_video.id, "url": self.parent_video.url,
                "duration": _finite(self.parent_video.duration)},
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "final_unit_deduction": self.final_unit_deduction,
            "cost": None if self.cost is None else self.cost.to_dict(),
        }

    def to_json(self, *, indent: int | None = None) -> str:
        """``to_dict()`` as JSON text (ASCII, so any text survives any output encoding)."""
        return json.dumps(self.to_dict(), indent=indent)


def _finite(value: float | None) -> float | None:
    """A duration JSON can hold: ``None`` for a missing or non-finite one."""
    return value if value is not None and math.isfinite(value) else None
