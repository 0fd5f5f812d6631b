"""Multi-elements video editing as a guided flow (reference §2.10).

``session = await client.multi_elements.start(video_url=...)`` (init-selection) returns a
``MultiElementsSession`` that keeps the ``session_id`` and the selection as the server holds
it, and offers the steps in order:

- ``add_selection(frame_index, points)`` / ``delete_selection(frame_index, points)``: mark or
  unmark an element by clicks on one frame (at most 10 marked frames per session, at most 10
  points per frame, each coordinate in [0, 1]; a deleted point must be one added before);
- ``clear_selection()``: forget every mark (always allowed: it also re-syncs after a step
  whose outcome is unknown);
- ``preview()``: the video with the marked elements masked; needs a selection;
- ``create(edit_mode=..., prompt=..., image_list=...)``: submit the edit task (the existing
  ``MultiElementsRequest`` through ``client.submit``) and return its ``Job``.  ``swap`` and
  ``removal`` edit the marked elements, so they need a selection; ``addition`` does not.
  A preview is not required (the docs make it a check for the user, not a step).

A call out of order is refused with ``SelectionOrderError`` (a ``ValidationError``) before
any I/O, as is a step that breaks a limit.  Each step is one synchronous, possibly charged
POST sent under the create rules (see ``_sync``): a failure after it may have reached the
server raises ``AmbiguousCallError``; after an unknown add or delete, only
``clear_selection()`` (or ``start`` again) is allowed.  A reply with a non-zero ``status``
(recognition failed) raises ``SelectionRejectedError``.  Steps of one session run one at a
time (a lock); the session is valid for 24 hours on the server.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import anyio
import attrs

from ._errors import AmbiguousSubmissionError, KlingError, ValidationError
from ._models.editing import EditImage, EditMode, MultiElementsRequest
from ._models.sync import (
    MAX_POINTS_PER_FRAME,
    MAX_SELECTION_FRAMES,
    InitSelectionRequest,
    SelectionPoint,
    SelectionRequest,
    SessionRequest,
)
from ._policy import PollPolicy
from ._registry import Job
from ._replies import Deduction, deduction, items, mapping, number, required_text, text, whole
from ._sync import sync_call
from ._wiring import ClientCalls

_STEP = "videos/multi-elements/"
_MAX_MASK = 16 * 1024 * 1024


class SelectionOrderError(ValidationError):
    """A multi-elements step called out of order, or past a selection limit: refused before
    any I/O.  ``field`` names the step (``preview``, ``create``...)."""

    def __reduce__(self) -> Any:
        return (type(self), (self.field, self.rule, self.value))


class SelectionRejectedError(KlingError):
    """A multi-elements step answered with a non-zero ``status``: the server could not
    recognise the video or the selection.  ``status`` is that code, ``step`` the step."""

    def __init__(self, step: str, status: int | None):
        self.step = step
        self.status = status
        super().__init__(f"multi-elements {step}: recognition failed (status {status})")

    def __reduce__(self) -> Any:
        return (type(self), (self.step, self.status))


@attrs.frozen(kw_only=True)
class EditVideo:
    """The video init-selection prepared: frame rate, duration (ms), size, frame count and
    the normalised video's URL."""

    fps: float | None = None
    original_duration: int | None = None
    width: int | None = None
    height: int | None = None
    total_frame: int | None = None
    normalized_video: str | None = None


@attrs.frozen(kw_only=True)
class SelectionMask:
    """One marked object on a frame: its id and masks (RLE ``counts`` of ``size`` [h, w],
    and a PNG in Base64)."""

    object_id: int | None = None
    size: tuple[int, ...] = ()
    rle_counts: str | None = None
    png_base64: str | None = None


@attrs.frozen(kw_only=True)
class SelectionResult:
    """What an add or delete step returns: the frame and its masks now, and the cost."""

    frame_index: int | None
    masks: tuple[SelectionMask, ...] = ()
    cost: Deduction = attrs.field(factory=Deduction)


@attrs.frozen(kw_only=True)
class SelectionPreview:
    """What ``preview()`` returns: the video with masks, its cover image and the per-frame
    mask results (URLs)."""

    video: str | None = None
    video_cover: str | None = None
    tracking_output: str | None = None
    cost: Deduction = attrs.field(factory=Deduction)


def _mask(item: Mapping[str, Any]) -> SelectionMask:
    rle, png = mapping(item.get("rle_mask")), mapping(item.get("png_mask"))
    size = rle.get("size") if isinstance(rle.get("size"), list) else png.get("size")
    dims = tuple(d for d in (whole(v) for v in (size or [])[:4]) if d is not None)
    return SelectionMask(object_id=whole(item.get("object_id")), size=dims,
                         rle_counts=text(rle.get("counts"), _MAX_MASK),
                         png_base64=text(png.get("base64"), _MAX_MASK))


def _video(data: Mapping[str, Any]) -> EditVideo:
    return EditVideo(fps=number(data.get("fps")), original_duration=whole(
        data.get("original_duration")), width=whole(data.get("width")),
        height=whole(data.get("height")), total_frame=whole(data.get("total_frame")),
        normalized_video=text(data.get("normalized_video")))


def _checked(step: str, data: Mapping[str, Any]) -> Mapping[str, Any]:
    status = data.get("status", 0)
    if status not in (0, None, "0"):
        raise SelectionRejectedError(step, whole(status))
    return data


Calls = Callable[[], ClientCalls]
Submit = Callable[..., Awaitable[Job]]


class MultiElements:
    """``client.multi_elements``: starts editing sessions."""

    def __init__(self, calls: Calls, submit: Submit) -> None:
        self._calls = calls
        self._submit = submit

    async def start(self, *, video_id: str | None = None, video_url: str | None = None
                    ) -> MultiElementsSession:
        """``init-selection`` of a Kling ``video_id`` or a ``video_url`` (exactly one);
        the session that edits it."""
        request = InitSelectionRequest(video_id=video_id, video_url=video_url)
        data = _checked("init-selection", await sync_call(
            self._calls(), _STEP + "init-selection", request))
        session_id = required_text(data, "session_id", "init-selection")
        return MultiElementsSession(session_id, _video(data), deduction(data),
                                    self._calls, self._submit)


class MultiElementsSession:
    """One multi-elements editing session (see the module docstring for the order)."""

    def __init__(self, session_id: str, video: EditVideo, cost: Deduction, calls: Calls,
                 submit: Submit) -> None:
        self.session_id = session_id
        self.video = video
        self.cost = cost  # what init-selection cost
        self._calls = calls
        self._submit = submit
        self._frames: dict[int, list[SelectionPoint]] = {}
        self._unknown = False  # an add/delete whose outcome is unknown: clear first
        self._lock = anyio.Lock()

    def __repr__(self) -> str:
        return (f"<MultiElementsSession {self.session_id} frames={sorted(self._frames)}"
                f"{' unknown' if self._unknown else ''}>")

    @property
    def selection(self) -> dict[int, tuple[SelectionPoint, ...]]:
        """The marked points by frame, as the server holds them (a copy)."""
        return {frame: tuple(points) for frame, points in sorted(self._frames.items())}

    async def add_selection(self, frame_index: int,
                            points: Iterable[SelectionPoint | tuple[float, float]]
                            ) -> SelectionResult:
        """Mark the element under ``points`` on frame ``frame_index``."""
        request = SelectionRequest(session_id=self.session_id, frame_index=frame_index,
                                   points=list(points))
        self._check_add(request)
        async with self._lock:
            self._check_add(request)
            data = await self._step("add-selection", request)
            self._frames.setdefault(request.frame_index, []).extend(request.points)
        return _selection(data)

    async def delete_selection(self, frame_index: int,
                               points: Iterable[SelectionPoint | tuple[float, float]]
                               ) -> SelectionResult:
        """Unmark ``points`` (exactly as added) on frame ``frame_index``."""
        request = SelectionRequest(session_id=self.session_id, frame_index=frame_index,
                                   points=list(points))
        self._check_delete(request)
        async with self._lock:
            self._check_delete(request)
            data = await self._step("delete-selection", request)
            kept = [p for p in self._frames[request.frame_index] if p not in request.points]
            if kept:
                self._frames[request.frame_index] = kept
            else:
                del self._frames[request.frame_index]
        return _selection(data)

    async def clear_selection(self) -> Deduction:
        """Unmark everything (allowed at any time); the cost."""
        async with self._lock:
            data = await self._step("clear-selection", SessionRequest(session_id=self.session_id))
            self._frames.clear()
            self._unknown = False
        return deduction(data)

    async def preview(self) -> SelectionPreview:
        """The video with the marked elements masked; needs a selection."""
        self._need_selection("preview", "needs a selection: call add_selection first")
        async with self._lock:
            self._need_selection("preview", "needs a selection: call add_selection first")
            data = await self._step("preview-selection",
                                    SessionRequest(session_id=self.session_id))
        res = mapping(data.get("res"))
        return SelectionPreview(video=text(res.get("video")),
                                video_cover=text(res.get("video_cover")),
                                tracking_output=text(res.get("tracking_output")),
                                cost=deduction(data))

    async def create(self, *, edit_mode: EditMode, prompt: str,
                     image_list: Iterable[EditImage | str] = (), poll: PollPolicy | None = None,
                     **fields: Any) -> Job:
        """Submit the edit (``MultiElementsRequest``: ``negative_prompt``, ``mode``,
        ``duration``, ``external_task_id``, ``callback_url``, ``watermark_info`` go in
        ``fields``); the ``Job``.  ``swap`` and ``removal`` need a selection."""
        images = tuple(EditImage(image=i) if isinstance(i, str) else i for i in image_list)
        request = MultiElementsRequest(session_id=self.session_id, edit_mode=edit_mode,
                                       prompt=prompt,
                                       image_list=images,
                                       **fields)
        self._known("create")
        if edit_mode != "addition":
            self._need_selection("create", f"edit_mode {edit_mode!r} edits the marked "
                                 "elements: call add_selection first")
        return await self._submit(request, poll=poll)

    # -- rules, checked before any I/O (and again under the lock) -------------------------

    def _check_add(self, request: SelectionRequest) -> None:
        self._known("add_selection")
        frame = request.frame_index
        total = self.video.total_frame
        if total is not None and frame >= total:
            raise SelectionOrderError("frame_index", f"must be below the video's "
                                      f"total_frame {total}", frame)
        held = self._frames.get(frame)
        if held is None and len(self._frames) >= MAX_SELECTION_FRAMES:
            raise SelectionOrderError("frame_index", f"at most {MAX_SELECTION_FRAMES} frames "
                                      "can be marked per session (delete or clear first)", frame)
        if len(held or ()) + len(request.points) > MAX_POINTS_PER_FRAME:
            raise SelectionOrderError("points", f"at most {MAX_POINTS_PER_FRAME} points per "
                                      f"frame ({len(held or ())} marked on frame {frame})",
                                      len(request.points))

    def _check_delete(self, request: SelectionRequest) -> None:
        self._known("delete_selection")
        held = self._frames.get(request.frame_index)
        if held is None:
            raise SelectionOrderError("frame_index", "has no selection to delete",
                                      request.frame_index)
        for i, point in enumerate(request.points):
            if point not in held:
                raise SelectionOrderError(f"points[{i}]", "must be a point added on this "
                                          "frame (exactly as added)", (point.x, point.y))

    def _need_selection(self, step: str, rule: str) -> None:
        self._known(step)
        if not self._frames:
            raise SelectionOrderError(step, rule, None)

    def _known(self, step: str) -> None:
        if self._unknown:
            raise SelectionOrderError(step, "the selection is unknown after a step that may "
                                      "or may not have happened: call clear_selection first",
                                      None)

    async def _step(self, step: str, request: Any) -> Mapping[str, Any]:
        """One selection POST; after a failure that leaves the selection unknown, only
        ``clear_selection`` is allowed."""
        try:
            data = await sync_call(self._calls(), _STEP + step, request)
        except AmbiguousSubmissionError:
            self._unknown = True
            raise
        return _checked(step, data)


def _selection(data: Mapping[str, Any]) -> SelectionResult:
    res = mapping(data.get("res"))
    return SelectionResult(frame_index=whole(res.get("frame_index")),
                           masks=items(res.get("rle_mask_list"), _mask), cost=deduction(data))
