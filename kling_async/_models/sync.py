"""Requests of the synchronous endpoints (reference §2.8, §2.10, §2.11): the reply already
holds the result, there is no task to poll.

- ``TextToSpeechRequest``: ``POST /v1/audio/tts``;
- ``IdentifyFaceRequest``: ``POST /v1/videos/identify-face`` (step 1 of advanced lip-sync);
- ``ImageRecognitionRequest``: ``POST /v1/videos/image-recognize``;
- ``SelectionPoint``: a click of the multi-elements selection steps (``[0, 1]`` each way).

Validated at construction, like the task requests; ``SYNC_REQUESTS`` maps each path (without
``/v1``) to its class, and ``load_sync_request`` reads a wire body back (the simulator
validates with it).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal

import attrs

from .._errors import ValidationError
from .._validators import in_range, max_len, one_of
from .fields import exactly_one
from .parts import TEXT

#: Text-to-speech limits (reference §2.11): text length, speed range.
TTS_MAX_TEXT = 1000
TTS_SPEED = (0.8, 2.0)


@attrs.frozen(kw_only=True)
class TextToSpeechRequest:
    """``POST /v1/audio/tts``: speech from ``text`` (at most 1000 characters) in the voice
    ``voice_id`` (from Kling's Voice Guide, e.g. ``oversea_male1``).  ``voice_language`` is
    always sent (the docs mark it both required and defaulted).  ``voice_speed`` in
    [0.8, 2.0]."""

    text: str = attrs.field(validator=[TEXT, max_len(TTS_MAX_TEXT)])
    voice_id: str = attrs.field(validator=TEXT)
    voice_language: Literal["zh", "en"] = attrs.field(default="zh",
                                                      validator=one_of("zh", "en"))
    voice_speed: float | None = attrs.field(default=None, validator=in_range(*TTS_SPEED))


@attrs.frozen(kw_only=True)
class IdentifyFaceRequest:
    """``POST /v1/videos/identify-face``: the faces of a video, for advanced lip-sync.
    Exactly one of ``video_id`` (a Kling video under 30 days old) or ``video_url``
    (``.mp4``/``.mov``, 2-60 s, at most 100 MB)."""

    video_id: str | None = attrs.field(default=None, validator=TEXT)
    video_url: str | None = attrs.field(default=None, validator=TEXT)

    def __attrs_post_init__(self) -> None:
        exactly_one(self, "video_id", "video_url")


@attrs.frozen(kw_only=True)
class ImageRecognitionRequest:
    """``POST /v1/videos/image-recognize``: segmentations of ``image`` (URL or Base64):
    object, head (with hair), face (without hair) and clothes."""

    image: str = attrs.field(validator=TEXT)


@attrs.frozen(kw_only=True)
class InitSelectionRequest:
    """``POST /v1/videos/multi-elements/init-selection``: exactly one of ``video_id`` or
    ``video_url`` (``.mp4``/``.mov``, 2-5 s or 7-10 s, sides 720-2160 px, 24/30/60 fps)."""

    video_id: str | None = attrs.field(default=None, validator=TEXT)
    video_url: str | None = attrs.field(default=None, validator=TEXT)

    def __attrs_post_init__(self) -> None:
        exactly_one(self, "video_id", "video_url")


#: Multi-elements selection limits (reference §2.10): marked frames per session, points per
#: frame.
MAX_SELECTION_FRAMES = 10
MAX_POINTS_PER_FRAME = 10
_UNIT = in_range(0, 1)


@attrs.frozen(kw_only=True)
class SelectionPoint:
    """A click on a frame: ``x`` and ``y`` in [0, 1], from the top-left corner."""

    x: float = attrs.field(validator=_UNIT)
    y: float = attrs.field(validator=_UNIT)


def to_points(value: Any) -> tuple[SelectionPoint, ...]:
    """Points as ``SelectionPoint``s, ``(x, y)`` pairs or ``{"x", "y"}`` mappings."""
    if not isinstance(value, (list, tuple)):
        raise ValidationError("points", "must be a list of points", value)
    return tuple(_point(i, item) for i, item in enumerate(value))


def _point(i: int, item: Any) -> SelectionPoint:
    if isinstance(item, SelectionPoint):
        return item
    try:
        if isinstance(item, Mapping):
            x: Any = item.get("x")
            y: Any = item.get("y")
            return SelectionPoint(x=x, y=y)
        if isinstance(item, (list, tuple)) and len(item) == 2:
            return SelectionPoint(x=item[0], y=item[1])
    except ValidationError as exc:
        raise ValidationError(f"points[{i}].{exc.field}", exc.rule, exc.value) from None
    raise ValidationError(f"points[{i}]", "must be a SelectionPoint, an (x, y) pair or "
                          "{'x': ..., 'y': ...}", item)


def _check_points(inst: object, attr: attrs.Attribute[Any], value: tuple[Any, ...]) -> None:
    if not 1 <= len(value) <= MAX_POINTS_PER_FRAME:
        raise ValidationError(attr.name, f"must hold 1-{MAX_POINTS_PER_FRAME} points",
                              len(value))


@attrs.frozen(kw_only=True)
class SelectionRequest:
    """``add-selection`` / ``delete-selection``: points on one frame of a session."""

    session_id: str = attrs.field(validator=TEXT)
    frame_index: int = attrs.field(validator=in_range(0, 2**31 - 1, integer=True))
    points: tuple[SelectionPoint, ...] = attrs.field(converter=to_points,
                                                     validator=_check_points)


@attrs.frozen(kw_only=True)
class SessionRequest:
    """``clear-selection`` / ``preview-selection``: the session only."""

    session_id: str = attrs.field(validator=TEXT)


#: The synchronous endpoints: path after ``/v1/`` -> request class.
SYNC_REQUESTS: Mapping[str, type[Any]] = MappingProxyType({
    "audio/tts": TextToSpeechRequest,
    "videos/identify-face": IdentifyFaceRequest,
    "videos/image-recognize": ImageRecognitionRequest,
    "videos/multi-elements/init-selection": InitSelectionRequest,
    "videos/multi-elements/add-selection": SelectionRequest,
    "videos/multi-elements/delete-selection": SelectionRequest,
    "videos/multi-elements/clear-selection": SessionRequest,
    "videos/multi-elements/preview-selection": SessionRequest,
})


def load_sync_request(name: str, payload: Any) -> Any:
    """The validated request of synchronous endpoint ``name`` from a wire body: ``""`` and
    ``null`` mean unset; an unknown key with a value is a ``ValidationError`` naming it."""
    cls = SYNC_REQUESTS[name]
    if not isinstance(payload, Mapping):
        raise ValidationError("request", "must be a JSON object", type(payload).__name__)
    known = {f.name for f in attrs.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in payload.items():
        if value is None or value == "":
            continue
        if key not in known:
            raise ValidationError(str(key)[:40], "is not a field of this endpoint", value)
        values[key] = value
    try:
        return cls(**values)
    except TypeError as exc:  # a required field missing
        missing = [f.name for f in attrs.fields(cls)
                   if f.default is attrs.NOTHING and f.name not in values]
        raise ValidationError(missing[0] if missing else "request", "is required",
                              None) from exc
