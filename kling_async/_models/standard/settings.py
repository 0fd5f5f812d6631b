"""``settings`` and ``options`` objects of the new standard (reference §11.2-§11.6).

One settings class per path family, holding every setting some model of the family has; each
value is checked here for its type and the family's documented values, and per model by the
request (``settings.duration`` must be 3-15 on kling-3.0, 5 or 10 on kling-2.6).  ``duration``
is an int on the wire (``"5"`` is read as 5 on load, and sent as 5).
"""

from __future__ import annotations

from typing import Literal

import attrs

from ..._validators import in_range, instance_of, one_of
from ..parts import TEXT, WatermarkInfo

Resolution = Literal["720p", "1080p", "4k"]
AspectRatio = Literal["16:9", "9:16", "1:1"]
Audio = Literal["native", "original", "off"]
CharacterOrientation = Literal["image", "video"]

_RES_HINTS = {"4K": "use '4k' (values are lower-case)", "720P": "use '720p'",
              "1080P": "use '1080p'", "std": "use '720p' (new standard)",
              "pro": "use '1080p' (new standard)"}
RESOLUTION = one_of("720p", "1080p", "4k", hints=_RES_HINTS)
ASPECT_RATIO = one_of("16:9", "9:16", "1:1")
AUDIO = one_of("native", "original", "off",
               hints={"on": "use 'native' (new standard)", "true": "use 'native'",
                      "false": "use 'off'"})
ORIENTATION = one_of("image", "video")
#: ``duration``: whole seconds; the per-model range is the request's rule.
DURATION = in_range(1, 2**31 - 1, integer=True)
FLAG = instance_of(bool)


@attrs.frozen(kw_only=True)
class Options:
    """``options`` (reference §11.2): callback, the caller's task id, watermark."""

    callback_url: str | None = attrs.field(default=None, validator=TEXT)
    external_task_id: str | None = attrs.field(default=None, validator=TEXT)
    watermark_info: WatermarkInfo | None = attrs.field(
        default=None, validator=instance_of(WatermarkInfo)
    )


@attrs.frozen(kw_only=True)
class TextToVideoSettings:
    """``settings`` of ``POST /text-to-video/{model}`` (reference §11.3)."""

    resolution: Resolution | None = attrs.field(default=None, validator=RESOLUTION)
    aspect_ratio: AspectRatio | None = attrs.field(default=None, validator=ASPECT_RATIO)
    duration: int | None = attrs.field(default=None, validator=DURATION)
    audio: Audio | None = attrs.field(default=None, validator=AUDIO)
    multi_shot: bool | None = attrs.field(default=None, validator=FLAG)


@attrs.frozen(kw_only=True)
class ImageToVideoSettings:
    """``settings`` of ``POST /image-to-video/{model}`` (reference §11.4): no aspect ratio,
    the first frame decides."""

    resolution: Resolution | None = attrs.field(default=None, validator=RESOLUTION)
    duration: int | None = attrs.field(default=None, validator=DURATION)
    audio: Audio | None = attrs.field(default=None, validator=AUDIO)
    multi_shot: bool | None = attrs.field(default=None, validator=FLAG)


@attrs.frozen(kw_only=True)
class OmniVideoSettings:
    """``settings`` of ``POST /omni-video/{model}`` (reference §11.5)."""

    resolution: Resolution | None = attrs.field(default=None, validator=RESOLUTION)
    aspect_ratio: AspectRatio | None = attrs.field(default=None, validator=ASPECT_RATIO)
    duration: int | None = attrs.field(default=None, validator=DURATION)
    audio: Audio | None = attrs.field(default=None, validator=AUDIO)
    multi_shot: bool | None = attrs.field(default=None, validator=FLAG)


@attrs.frozen(kw_only=True)
class MotionControlSettings:
    """``settings`` of ``POST /motion-control/{model}`` (reference §11.6):
    ``character_orientation`` is required; no duration, aspect ratio or multi-shot (the
    output follows the motion video)."""

    character_orientation: CharacterOrientation = attrs.field(validator=ORIENTATION)
    resolution: Resolution | None = attrs.field(default=None, validator=RESOLUTION)
    audio: Audio | None = attrs.field(default=None, validator=AUDIO)
