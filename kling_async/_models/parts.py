"""Typed nested parts of request bodies, the common request fields and shared shot rules.

Every part is a frozen, keyword-only attrs class validated at construction; attribute names are
the wire names.  Rules that need a sibling (a shot's duration against the total) live in the
request classes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import attrs

from .._errors import ValidationError
from .._validators import (
    in_range,
    instance_of,
    int64,
    items_of,
    len_between,
    max_len,
    non_empty_str,
    one_of,
    to_element_id,
    to_required_duration,
    to_tuple,
)
from .catalog import DEFAULT_DURATION, ModelSpec, current_prompt_limits

_LIMIT_HINT = "the limit is configurable: kling_async.set_prompt_limits(...) or prompt_limits(...)"
PROMPT = max_len(lambda: current_prompt_limits().prompt, "PromptLimits.prompt", hint=_LIMIT_HINT)
NEGATIVE_PROMPT = max_len(
    lambda: current_prompt_limits().negative_prompt, "PromptLimits.negative_prompt",
    hint=_LIMIT_HINT,
)
SHOT_PROMPT = max_len(
    lambda: current_prompt_limits().shot_prompt, "PromptLimits.shot_prompt", hint=_LIMIT_HINT
)
TEXT = non_empty_str()
MODE = one_of("std", "pro", "4k", hints={"standard": "use 'std'", "professional": "use 'pro'",
                                         "4K": "use '4k' (values are case-sensitive)"})
SOUND = one_of("on", "off", hints={"true": "use 'on'", "false": "use 'off'"})
VIDEO_RATIO = one_of("16:9", "9:16", "1:1")
IMAGE_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3", "21:9")

Mode = Literal["std", "pro", "4k"]
Sound = Literal["on", "off"]
VideoAspectRatio = Literal["16:9", "9:16", "1:1"]
ShotType = Literal["customize", "intelligence"]
CameraType = Literal["simple", "down_back", "forward_up", "right_turn_forward", "left_turn_forward"]


@attrs.frozen(kw_only=True)
class WatermarkInfo:
    """``watermark_info``: also produce a watermarked copy of each result (reference 2.1)."""

    enabled: bool = attrs.field(validator=instance_of(bool))


@attrs.frozen(kw_only=True)
class CommonFields:
    """Fields every create request takes (reference 2.1)."""

    external_task_id: str | None = attrs.field(default=None, validator=TEXT)
    callback_url: str | None = attrs.field(default=None, validator=TEXT)
    watermark_info: WatermarkInfo | None = attrs.field(
        default=None, validator=instance_of(WatermarkInfo)
    )


@attrs.frozen(kw_only=True)
class OmniImageItem:
    """An omni-image ``image_list`` item; the wire key is ``image`` (alias ``image_url`` read)."""

    image: str = attrs.field(validator=TEXT)


@attrs.frozen(kw_only=True)
class OmniVideoImage:
    """An omni-video ``image_list`` item: a reference image, or a first/end frame."""

    image_url: str = attrs.field(validator=TEXT)
    type: Literal["first_frame", "end_frame"] | None = attrs.field(
        default=None, validator=one_of("first_frame", "end_frame")
    )


@attrs.frozen(kw_only=True)
class OmniVideoVideo:
    """An omni-video ``video_list`` item; ``refer_type`` defaults to ``base`` (edit this video)."""

    video_url: str = attrs.field(validator=TEXT)
    refer_type: Literal["base", "feature"] | None = attrs.field(
        default=None, validator=one_of("base", "feature")
    )
    keep_original_sound: Literal["yes", "no"] | None = attrs.field(
        default=None,
        validator=one_of("yes", "no", hints={"true": "use 'yes'", "false": "use 'no'"}),
    )

    @property
    def is_base(self) -> bool:
        """The video is to be edited (``refer_type`` is ``base`` or left to its default)."""
        return self.refer_type != "feature"


@attrs.frozen(kw_only=True)
class Element:
    """An ``element_list`` item: a 64-bit element id, kept exact (digit strings accepted)."""

    element_id: int = attrs.field(converter=to_element_id)


@attrs.frozen(kw_only=True)
class Shot:
    """A ``multi_prompt`` item: shot ``index``, ``prompt`` and ``duration`` (whole seconds)."""

    index: int = attrs.field(validator=int64())
    prompt: str = attrs.field(validator=[TEXT, SHOT_PROMPT])
    duration: str = attrs.field(converter=to_required_duration)


@attrs.frozen(kw_only=True)
class CameraConfig:
    """``camera_control.config``: six axes, each in [-10, 10]; unset axes are 0."""

    horizontal: float = attrs.field(default=0.0, validator=in_range(-10, 10))
    vertical: float = attrs.field(default=0.0, validator=in_range(-10, 10))
    pan: float = attrs.field(default=0.0, validator=in_range(-10, 10))
    tilt: float = attrs.field(default=0.0, validator=in_range(-10, 10))
    roll: float = attrs.field(default=0.0, validator=in_range(-10, 10))
    zoom: float = attrs.field(default=0.0, validator=in_range(-10, 10))

    def non_zero_axes(self) -> tuple[str, ...]:
        return tuple(f.name for f in attrs.fields(CameraConfig) if getattr(self, f.name) != 0)


@attrs.frozen(kw_only=True)
class CameraControl:
    """``camera_control`` (reference 2.3.1): ``simple`` needs a config with exactly one
    non-zero axis; the four preset types take no config."""

    type: CameraType = attrs.field(
        validator=one_of("simple", "down_back", "forward_up", "right_turn_forward",
                         "left_turn_forward")
    )
    config: CameraConfig | None = attrs.field(default=None, validator=instance_of(CameraConfig))

    def __attrs_post_init__(self) -> None:
        if self.type != "simple":
            if self.config is not None:
                raise ValidationError("config", f"must be omitted for type={self.type!r}",
                                      self.config)
            return
        if self.config is None:
            raise ValidationError("config", "is required for type='simple'", None)
        axes = self.config.non_zero_axes()
        if len(axes) != 1:
            raise ValidationError(
                "config", "type='simple' needs exactly one non-zero axis", axes or self.config
            )


@attrs.frozen(kw_only=True)
class TrajectoryPoint:
    """A motion-brush trajectory point in pixels; the origin is the image's bottom-left."""

    x: int = attrs.field(validator=int64())
    y: int = attrs.field(validator=int64())


# Tuple fields take any list or tuple of their parts.  Each kind of part has its own named
# converter (all are ``to_tuple``): mypy's attrs plugin types a field's __init__ parameter from
# its converter, and cannot solve the generic ``to_tuple``'s ``T`` (a user's ``mypy --strict``
# would refuse ``multi_prompt=[Shot(...)]``).

def to_points(value: Iterable[TrajectoryPoint]) -> tuple[TrajectoryPoint, ...]:
    return to_tuple(value)


@attrs.frozen(kw_only=True)
class DynamicMask:
    """A ``dynamic_masks`` group: a mask image and its trajectory of 2 to 77 points."""

    mask: str = attrs.field(validator=TEXT)
    trajectories: tuple[TrajectoryPoint, ...] = attrs.field(
        converter=to_points, validator=[items_of(TrajectoryPoint), len_between(2, 77, "points")]
    )


@attrs.frozen(kw_only=True)
class Voice:
    """A ``voice_list`` item (image-to-video, v2.6+); the prompt refers to it as <<<voice_1>>>."""

    voice_id: str = attrs.field(validator=TEXT)


def to_masks(value: Iterable[DynamicMask]) -> tuple[DynamicMask, ...]:
    return to_tuple(value)


def to_voices(value: Iterable[Voice]) -> tuple[Voice, ...]:
    return to_tuple(value)


def to_shots(value: Iterable[Shot]) -> tuple[Shot, ...]:
    return to_tuple(value)


def to_elements(value: Iterable[Element]) -> tuple[Element, ...]:
    return to_tuple(value)


def to_omni_image_items(value: Iterable[OmniImageItem]) -> tuple[OmniImageItem, ...]:
    return to_tuple(value)


def to_omni_video_images(value: Iterable[OmniVideoImage]) -> tuple[OmniVideoImage, ...]:
    return to_tuple(value)


def to_omni_video_videos(value: Iterable[OmniVideoVideo]) -> tuple[OmniVideoVideo, ...]:
    return to_tuple(value)


def check_shots(
    spec: ModelSpec,
    *,
    multi_shot: bool | None,
    shot_type: str | None,
    multi_prompt: tuple[Shot, ...],
    prompt: str | None,
    duration: str | None,
    prompt_required: bool,
) -> None:
    """The multi-shot rules shared by omni-video, text-to-video and image-to-video."""
    if not multi_shot:
        _check_single_shot(shot_type, multi_prompt, prompt, prompt_required)
        return
    if not spec.multi_shot:
        raise ValidationError("multi_shot", f"is not supported by {spec.name}", multi_shot,
                              hint="multi-shot needs a v3 model")
    if shot_type is None:
        raise ValidationError("shot_type", "is required when multi_shot=true "
                              "('customize' or 'intelligence')", None)
    if shot_type == "intelligence":
        _check_intelligent_shots(multi_prompt, prompt)
    else:
        _check_custom_shots(multi_prompt, duration)


def _check_single_shot(shot_type: str | None, multi_prompt: tuple[Shot, ...],
                       prompt: str | None, prompt_required: bool) -> None:
    """Without multi_shot: no shot_type or shots, and the prompt if the endpoint needs it."""
    if shot_type is not None:
        raise ValidationError("shot_type", "is only used with multi_shot=true", shot_type)
    if multi_prompt:
        raise ValidationError("multi_prompt", "is only used with multi_shot=true",
                              len(multi_prompt))
    if prompt_required and prompt is None:
        raise ValidationError("prompt", "is required unless multi_shot=true", None)


def _check_intelligent_shots(multi_prompt: tuple[Shot, ...], prompt: str | None) -> None:
    """``shot_type='intelligence'``: a prompt, and no shots of the caller's own."""
    if prompt is None:
        raise ValidationError("prompt", "is required with shot_type='intelligence'", None)
    if multi_prompt:
        raise ValidationError("multi_prompt", "is only used with shot_type='customize'",
                              len(multi_prompt))


def _check_custom_shots(multi_prompt: tuple[Shot, ...], duration: str | None) -> None:
    """``shot_type='customize'``: 1 to 6 shots, none longer than the total, summing to it."""
    if not 1 <= len(multi_prompt) <= 6:
        raise ValidationError("multi_prompt", "shot_type='customize' needs 1 to 6 shots",
                              len(multi_prompt))
    total = int(duration or DEFAULT_DURATION)
    for i, shot in enumerate(multi_prompt):
        if int(shot.duration) > total:
            raise ValidationError(f"multi_prompt[{i}].duration",
                                  f"must not exceed the total duration {total}", shot.duration)
    summed = sum(int(shot.duration) for shot in multi_prompt)
    if summed != total:
        raise ValidationError(
            "multi_prompt", f"shot durations must sum to duration={total}", summed,
            hint=None if duration else f"duration is unset, so the server default {total} counts",
        )


def check_duration(spec: ModelSpec, duration: str | None, allowed: tuple[str, ...] | None) -> None:
    """``duration`` (unset: the server default) is one the model allows."""
    if allowed is None:
        return
    value = duration or DEFAULT_DURATION
    if value not in allowed:
        raise ValidationError(
            "duration", f"must be one of {', '.join(allowed)} for {spec.name}", duration,
            hint=None if duration else f"duration is unset, so the server default {value} counts",
        )


def check_mode(spec: ModelSpec, mode: str | None) -> None:
    """``mode='4k'`` (native 4K, reference A 04/23/2026) only on models that render it."""
    if mode == "4k" and not spec.mode_4k:
        raise ValidationError("mode", f"'4k' is not supported by {spec.name}", mode,
                              hint="native 4K needs kling-v3 (text2video, image2video) or "
                              "kling-v3-omni (omni-video)")


def check_sound(spec: ModelSpec, sound: str | None) -> None:
    """``sound='on'`` only on models that generate sound (v2.6+)."""
    if sound == "on" and not spec.sound:
        raise ValidationError("sound", f"'on' is not supported by {spec.name}", sound,
                              hint="sound needs kling-v2-6 or later")
