"""Endpoints gone from the official docs that gateways still list (reference §2.5, §2.7, §2.8,
§2.10, §2.22).  They stay callable; their catalog rows are marked ``possibly_retired``, and the
first submit of each logs a warning.  Server refusals come back as the ordinary API errors.

- ``VideoExtendRequest``: ``POST /v1/videos/video-extend`` (4-5 s more of a Kling video).
- ``MultiImageToVideoRequest``: ``POST /v1/videos/multi-image2video`` (up to 4 references).
- ``LipSyncRequest``: ``POST /v1/videos/lip-sync`` (the older one-step lip-sync).
- ``LegacyMotionControlRequest``: ``POST /v1/videos/motion-control`` (use the new standard's
  ``motion-control/{model}`` for new work).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import attrs

from .._validators import (
    in_range,
    instance_of,
    items_of,
    len_between,
    max_len,
    one_of,
    required,
    to_tuple,
)
from .fields import MODE, exactly_one
from .parts import NEGATIVE_PROMPT, PROMPT, TEXT, VIDEO_RATIO, CommonFields, Element, to_elements

_DURATION = one_of("5", "10")


@attrs.frozen(kw_only=True)
class VideoExtendRequest(CommonFields):
    """``POST /v1/videos/video-extend``: extend a text/image-to-video result by 4-5 s."""

    video_id: str = attrs.field(validator=TEXT)
    prompt: str | None = attrs.field(default=None, validator=[TEXT, PROMPT])
    negative_prompt: str | None = attrs.field(default=None, validator=[TEXT, NEGATIVE_PROMPT])
    cfg_scale: float | None = attrs.field(default=None, validator=in_range(0, 1))


@attrs.frozen(kw_only=True)
class ReferenceImage:
    """An ``image_list`` item of multi-image-to-video."""

    image: str = attrs.field(validator=TEXT)


def _to_references(value: Iterable[ReferenceImage]) -> tuple[ReferenceImage, ...]:
    return to_tuple(value)


@attrs.frozen(kw_only=True)
class MultiImageToVideoRequest(CommonFields):
    """``POST /v1/videos/multi-image2video``: a video from up to 4 reference images."""

    image_list: tuple[ReferenceImage, ...] = attrs.field(
        converter=_to_references, validator=[items_of(ReferenceImage), len_between(1, 4, "images")]
    )
    prompt: str = attrs.field(validator=[TEXT, PROMPT])
    model_name: str | None = attrs.field(default=None, validator=TEXT)
    negative_prompt: str | None = attrs.field(default=None, validator=[TEXT, NEGATIVE_PROMPT])
    mode: Literal["std", "pro"] | None = attrs.field(default=None, validator=MODE)
    duration: Literal["5", "10"] | None = attrs.field(default=None, validator=_DURATION)
    aspect_ratio: str | None = attrs.field(default=None, validator=VIDEO_RATIO)


@attrs.frozen(kw_only=True)
class LipSyncInput:
    """``input`` of the older lip-sync: a video (exactly one of ``video_id``, ``video_url``)
    and either ``text`` + ``voice_id`` (``text2video``) or an audio (``audio2video``)."""

    mode: Literal["text2video", "audio2video"] = attrs.field(
        validator=one_of("text2video", "audio2video"))
    video_id: str | None = attrs.field(default=None, validator=TEXT)
    video_url: str | None = attrs.field(default=None, validator=TEXT)
    text: str | None = attrs.field(default=None, validator=[TEXT, max_len(120)])
    voice_id: str | None = attrs.field(default=None, validator=TEXT)
    voice_language: Literal["zh", "en"] | None = attrs.field(default=None,
                                                            validator=one_of("zh", "en"))
    voice_speed: float | None = attrs.field(default=None, validator=in_range(0.8, 2.0))
    audio_type: Literal["file", "url"] | None = attrs.field(default=None,
                                                           validator=one_of("file", "url"))
    audio_file: str | None = attrs.field(default=None, validator=TEXT)
    audio_url: str | None = attrs.field(default=None, validator=TEXT)

    def __attrs_post_init__(self) -> None:
        exactly_one(self, "video_id", "video_url", prefix="input.")
        if self.mode == "text2video":
            exactly_one(self, "text", prefix="input.")
            exactly_one(self, "voice_id", prefix="input.")
        else:
            exactly_one(self, "audio_file", "audio_url", prefix="input.")


@attrs.frozen(kw_only=True)
class LipSyncRequest(CommonFields):
    """``POST /v1/videos/lip-sync``: the older one-step lip-sync (possibly retired)."""

    input: LipSyncInput = attrs.field(validator=[required(), instance_of(LipSyncInput)])


@attrs.frozen(kw_only=True)
class LegacyMotionControlRequest(CommonFields):
    """``POST /v1/videos/motion-control``: the character of ``image_url`` moves like the one in
    ``video_url`` (legacy body; possibly retired)."""

    image_url: str = attrs.field(validator=TEXT)
    video_url: str = attrs.field(validator=TEXT)
    character_orientation: Literal["image", "video"] = attrs.field(
        validator=one_of("image", "video"))
    model_name: str | None = attrs.field(default=None, validator=TEXT)
    prompt: str | None = attrs.field(default=None, validator=[TEXT, PROMPT])
    mode: Literal["std", "pro"] | None = attrs.field(default=None, validator=MODE)
    keep_original_sound: Literal["yes", "no"] | None = attrs.field(
        default=None, validator=one_of("yes", "no"))
    element_list: tuple[Element, ...] = attrs.field(
        default=(), converter=to_elements, validator=[items_of(Element), len_between(0, 1)])
