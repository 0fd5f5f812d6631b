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
    """Server-side task status, one state per meaning for both API standards.

    The legacy standard spells success ``succeed``, the new standard (2026) ``succeeded``:
    both are ``SUCCEED``, whose one public spelling (``.value``, ``Task.to_dict()``, the CLI)
    stays ``"succeed"``; ``TaskStatus("succeeded")`` is ``SUCCEED`` too.  The spelling a
    server sent is kept in ``Task.raw_status``."""

    SUBMITTED = "submitted"
    PROCESSING = "processing"
    SUCCEED = "succeed"
    FAILED = "failed"

    @classmethod
    def _missing_(cls, value: object) -> TaskStatus | None:
        """``TaskStatus("succeeded")`` (the new standard's spelling) is ``SUCCEED``."""
        if value == "succeeded":
            return cls.SUCCEED
        return None

    def __init__(self, value: str) -> None:
        #: Whether the task has ended (``succeed`` or ``failed``): no status follows.  (A
        #: plain attribute of each member, as ``JobState.is_terminal``.)
        self.is_terminal = value in ("succeed", "failed")


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
    """One generated image: legacy ``task_result.images[]`` (or ``series_images[]``), or an
    ``outputs[]`` item of type ``image`` (new standard: no index of its own, so ``index`` is
    its place among the task's images; ``group_id`` only for grouped/series images)."""

    index: int
    url: str
    watermark_url: str | None = None
    group_id: str | None = None
    #: Which of an item's views this is (1 for ``url_1``...): ai-multi-shot answers each
    #: ``images[]`` item with three angle views instead of one ``url``; None elsewhere.
    view: int | None = None


@attrs.frozen(kw_only=True)
class Video:
    """One generated video: ``task_result.videos[]``; ``duration`` in seconds."""

    id: str
    url: str
    duration: float | None = None
    watermark_url: str | None = None


@attrs.frozen(kw_only=True)
class Audio:
    """One generated audio track (audio tasks): legacy ``task_result.audios[]``, or an
    ``outputs[]`` item of type ``audio`` (its ``mp3_url``/``wav_url``/``mp3_duration``/
    ``wav_duration`` land in the same fields)."""

    id: str
    url_mp3: str | None = None
    url_wav: str | None = None
    duration_mp3: float | None = None
    duration_wav: float | None = None


@attrs.frozen(kw_only=True)
class VoiceResult:
    """One voice a task made (custom voices): legacy ``task_result.voices[]`` (``voice_id``,
    ``voice_name``, ``trial_url``, ``owned_by``) or an ``outputs[]`` item of type ``voice``
    (``id``, ``name``, ``url``, ``owned_by``, ``status``).  ``url`` is the preview;
    ``owned_by`` is ``"kling"`` for official voices, else the creator's id; ``status`` is
    ``"succeed"`` or ``"deleted"`` (``succeeded`` read as ``succeed``), None when not sent."""

    id: str
    name: str | None = None
    url: str | None = None
    owned_by: str | None = None
    status: str | None = None


@attrs.frozen(kw_only=True)
class ElementReference:
    """One material of an element: ``type`` ``image`` | ``video`` | ``voice``; ``role``
    ``frontal`` | ``reference`` (images) or ``refer``; a voice also has ``id`` and ``name``."""

    type: str | None = None
    role: str | None = None
    url: str | None = None
    id: str | None = None
    name: str | None = None


@attrs.frozen(kw_only=True)
class ElementResult:
    """One element (custom subject) a task made: legacy ``task_result.elements[]``
    (``element_id``, ``element_name``, ``reference_type``...) or an ``outputs[]`` item of type
    ``element``.  ``element_type`` is ``video_character_elements`` / ``multi_image_elements``
    (new) or the legacy ``reference_type`` (``video_refer`` / ``image_refer``); ``status`` as
    ``VoiceResult.status``."""

    id: str
    name: str | None = None
    description: str | None = None
    element_type: str | None = None
    owned_by: str | None = None
    status: str | None = None
    references: tuple[ElementReference, ...] = ()


@attrs.frozen(kw_only=True)
class ParentVideo:
    """``task_info.parent_video`` of extend and video-to-audio tasks."""

    id: str | None = None
    url: str | None = None
    duration: float | None = None


@attrs.frozen(kw_only=True)
class Task:
    """A Kling task as last seen by the SDK: one view of both API standards' task objects
    (legacy ``task_id``/``task_status``/``task_result``, new ``id``/``status``/``outputs[]``).

    ``status`` is normalised (``succeed`` and ``succeeded`` are both ``SUCCEED``);
    ``raw_status`` is the status text as the server sent it (None when a create reply had
    none).  Outputs by kind: ``images`` (and legacy omni-image ``series_images``, with
    ``result_type`` ``single``/``series``), ``videos``, ``audios``, ``voices``, ``elements``.
    ``created_at``/``updated_at`` are milliseconds since the epoch, as Kling sends them
    (new standard: ``create_time``/``update_time``); ``final_unit_deduction`` is kept as the
    string Kling sends (units deducted); ``cost`` is what the task cost, read from either
    standard's fields (None when none is reported).  Result URLs expire after 30 days:
    download what you need.
    """

    # (Slotted, though a frozen slotted class sets each field through object.__setattr__:
    # without __slots__ a Task is about 8 k instructions cheaper to build, but a finished job
    # then takes about 110 B more on 3.11+ and about 530 B more on 3.10, past benchmark 3's
    # 2 KiB target there.)

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
    raw_status: str | None = None
    series_images: tuple[Image, ...] = ()
    result_type: str | None = None
    voices: tuple[VoiceResult, ...] = ()
    elements: tuple[ElementResult, ...] = ()
    cost: Cost | None = None

    @property
    def done(self) -> DoneFlag:
        """Call it: ``task.done()`` is whether the task has ended (``succeed`` or ``failed``).
        (``if task.done:`` without the call still works, with a ``DeprecationWarning``.)"""
        return DONE if self.status.is_terminal else NOT_DONE

    @property
    def urls(self) -> tuple[str, ...]:
        """Every result URL (images, series images not among them, then videos, then audio),
        without watermark variants or voice previews."""
        found: list[str] = [i.url for i in self.images]
        if self.series_images:
            known = set(found)
            found.extend(i.url for i in self.series_images if i.url not in known)
        found.extend(v.url for v in self.videos)
        for a in self.audios:
            found.extend(u for u in (a.url_mp3, a.url_wav) if u)
        return tuple(found)

    @property
    def watermark_urls(self) -> tuple[str, ...]:
        """The watermarked variant of each image and video that has one (sent when the
        request asked for ``watermark_info.enabled``), in the order of ``urls``."""
        marked = [i.watermark_url for i in (*self.images, *self.series_images)]
        marked.extend(v.watermark_url for v in self.videos)
        seen: set[str] = set()
        found: list[str] = []
        for url in marked:
            if url and url not in seen:
                seen.add(url)
                found.append(url)
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
        ``"succeed"``, ``"failed"``, whichever standard the task came from: the wire spelling
        stays on ``Task.raw_status``, not in this view); ``urls`` lists every result URL (as
        ``Task.urls``);
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
            "images": [_image_view(i) for i in self.images],
            "series_images": [_image_view(i) for i in self.series_images],
            "result_type": self.result_type,
            "videos": [{"id": v.id, "url": v.url, "duration": _finite(v.duration),
                        "watermark_url": v.watermark_url} for v in self.videos],
            "audios": [{"id": a.id, "url_mp3": a.url_mp3, "url_wav": a.url_wav,
                        "duration_mp3": _finite(a.duration_mp3),
                        "duration_wav": _finite(a.duration_wav)} for a in self.audios],
            "voices": [attrs.asdict(v) for v in self.voices],
            "elements": [{**attrs.asdict(e, recurse=False),
                          "references": [attrs.asdict(r) for r in e.references]}
                         for e in self.elements],
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


def _image_view(image: Image) -> dict[str, typing.Any]:
    return {"index": image.index, "url": image.url, "watermark_url": image.watermark_url,
            "group_id": image.group_id, "view": image.view}


def _finite(value: float | None) -> float | None:
    """A duration JSON can hold: ``None`` for a missing or non-finite one."""
    return value if value is not None and math.isfinite(value) else None
