"""Video request classes: ``OmniVideoRequest``, ``TextToVideoRequest``, ``ImageToVideoRequest``.

Frozen, keyword-only and valid by construction: field validators check each value, and one
``__attrs_post_init__`` per class checks the rules that need siblings or the model table.
``duration`` accepts an int or a string and is stored as the wire string (``"5"``).
"""

from __future__ import annotations

import attrs

from .._errors import ValidationError
from .._validators import (
    in_range,
    instance_of,
    items_of,
    len_between,
    one_of,
    to_duration,
)
from .catalog import IMAGE_TO_VIDEO, OMNI_VIDEO, TEXT_TO_VIDEO, ModelSpec, model_spec
from .parts import (
    MODE,
    NEGATIVE_PROMPT,
    PROMPT,
    SOUND,
    TEXT,
    VIDEO_RATIO,
    CameraControl,
    CommonFields,
    DynamicMask,
    Element,
    Mode,
    OmniVideoImage,
    OmniVideoVideo,
    Shot,
    ShotType,
    Sound,
    VideoAspectRatio,
    Voice,
    check_duration,
    check_mode,
    check_shots,
    check_sound,
    to_elements,
    to_masks,
    to_omni_video_images,
    to_omni_video_videos,
    to_shots,
    to_voices,
)

SHOT_TYPE = one_of("customize", "intelligence")
MAX_REFERENCES_WITHOUT_VIDEO = 7
MAX_REFERENCES_WITH_VIDEO = 4
#: Image-to-video on kling-v3: elements, at most (2.4).
MAX_I2V_ELEMENTS = 3


def _check_cfg_scale(spec: ModelSpec, cfg_scale: float | None) -> None:
    if cfg_scale is not None and not spec.cfg_scale:
        raise ValidationError("cfg_scale", f"is not supported by {spec.name}", cfg_scale,
                              hint="kling-v2.x models take no cfg_scale")


@attrs.frozen(kw_only=True)
class OmniVideoRequest(CommonFields):
    """``POST /v1/videos/omni-video`` (reference 2.6): text, images, elements and a video."""

    model_name: str | None = attrs.field(default=None, validator=TEXT)
    prompt: str | None = attrs.field(default=None, validator=[TEXT, PROMPT])
    multi_shot: bool | None = attrs.field(default=None, validator=instance_of(bool))
    shot_type: ShotType | None = attrs.field(default=None, validator=SHOT_TYPE)
    multi_prompt: tuple[Shot, ...] = attrs.field(
        default=(), converter=to_shots, validator=items_of(Shot)
    )
    image_list: tuple[OmniVideoImage, ...] = attrs.field(
        default=(), converter=to_omni_video_images, validator=items_of(OmniVideoImage)
    )
    element_list: tuple[Element, ...] = attrs.field(
        default=(), converter=to_elements, validator=items_of(Element)
    )
    video_list: tuple[OmniVideoVideo, ...] = attrs.field(
        default=(), converter=to_omni_video_videos,
        validator=[items_of(OmniVideoVideo), len_between(0, 1, "videos")],
    )
    sound: Sound | None = attrs.field(default=None, validator=SOUND)
    mode: Mode | None = attrs.field(default=None, validator=MODE)
    aspect_ratio: VideoAspectRatio | None = attrs.field(default=None, validator=VIDEO_RATIO)
    duration: str | None = attrs.field(default=None, converter=to_duration)

    def __attrs_post_init__(self) -> None:
        """Cross-field and per-model rules (reference 2.6, 11.5, section 8, the 2026 log)."""
        spec = model_spec(OMNI_VIDEO, self.model_name)
        check_shots(spec, multi_shot=self.multi_shot, shot_type=self.shot_type,
                    multi_prompt=self.multi_prompt, prompt=self.prompt, duration=self.duration,
                    prompt_required=True)
        kinds = self._check_frames(spec)
        base = bool(self.video_list) and self.video_list[0].is_base
        steered = "first_frame" in kinds or base
        if steered and self.aspect_ratio is not None:
            raise ValidationError("aspect_ratio", "must be omitted with a first_frame image or "
                                  "a base video (the output follows the input)", self.aspect_ratio)
        if not steered and self.aspect_ratio is None:
            raise ValidationError("aspect_ratio", "is required unless a first_frame image or a "
                                  "base video is given ('16:9', '9:16' or '1:1')", None)
        self._check_counts(spec, kinds)
        self._check_video(spec)
        check_sound(spec, self.sound)
        check_mode(spec, self.mode)
        if base:
            return  # duration is ignored: the output matches the input video's length
        basic = not self.video_list and not self.element_list and kinds in ([], ["first_frame"])
        basic = basic and len(self.image_list) == len(kinds)
        allowed = spec.basic_durations if basic and spec.basic_durations else spec.durations
        check_duration(spec, self.duration, allowed)

    def _check_frames(self, spec: ModelSpec) -> list[str]:
        """``image_list[i].type`` rules; returns the frame kinds in list order."""
        frames = [(i, img.type) for i, img in enumerate(self.image_list) if img.type is not None]
        kinds: list[str] = [kind for _, kind in frames]
        base = bool(self.video_list) and self.video_list[0].is_base
        for j, (i, kind) in enumerate(frames):
            where = f"image_list[{i}].type"
            if self.multi_shot and not spec.multi_shot_frames:
                raise ValidationError(where, f"first/end frames are not supported with "
                                      f"multi_shot=true on {spec.name}", kind,
                                      hint="kling-v3-omni combines them (since 05/07/2026)")
            if base:
                raise ValidationError(where, "first/end frames cannot be combined with video "
                                      "editing (video_list[0].refer_type='base')", kind)
            if kind in kinds[:j]:
                raise ValidationError(where, f"at most one {kind} image", kind)
            if kind == "end_frame" and "first_frame" not in kinds:
                raise ValidationError(where, "end_frame needs a first_frame image", kind)
            if kind == "end_frame" and len(self.image_list) > 2:
                raise ValidationError(where, "no end_frame when there are more than 2 images",
                                      kind)
        return kinds

    def _check_counts(self, spec: ModelSpec, kinds: list[str]) -> None:
        """Images + elements: 7 without a video, 4 with one; with frames, the element limits
        of 2.6 (kling-video-o1: none with first+end frames; 3.0 Omni: at most 3)."""
        limit = MAX_REFERENCES_WITH_VIDEO if self.video_list else MAX_REFERENCES_WITHOUT_VIDEO
        count = len(self.image_list) + len(self.element_list)
        if count > limit:
            with_video = "with" if self.video_list else "without"
            raise ValidationError(
                "image_list", f"images + elements must be at most {limit} {with_video} a video",
                f"{len(self.image_list)} images + {len(self.element_list)} elements",
            )
        if not self.element_list or "first_frame" not in kinds:
            return
        if "end_frame" in kinds and not spec.end_frame_elements:
            raise ValidationError("element_list", f"{spec.name} takes no elements with first "
                                  "and end frames", len(self.element_list))
        most = spec.frame_elements
        if most is not None and len(self.element_list) > most:
            raise ValidationError(
                "element_list", f"at most {most} elements with a first frame on {spec.name}",
                len(self.element_list),
            )

    def _check_video(self, spec: ModelSpec) -> None:
        """What a ``video_list`` rules out: sound, 4K (04/23/2026), and multi-shot other than
        ``intelligence`` with a feature video (06/17/2026)."""
        if not self.video_list:
            return
        if self.sound == "on":
            raise ValidationError("sound", "must be 'off' when video_list is given", self.sound)
        if self.mode == "4k" and spec.mode_4k and not spec.mode_4k_with_video:
            raise ValidationError(
                "mode", f"'4k' is not supported with a reference video (video_list) on "
                f"{spec.name}", self.mode,
                hint="the 04/23/2026 change log excludes reference videos from 4K; if your "
                f'gateway allows it: kling_async.register_model("{OMNI_VIDEO}", "{spec.name}", '
                "..., mode_4k_with_video=True)",
            )
        if self.multi_shot and not self.video_list[0].is_base and self.shot_type != "intelligence":
            raise ValidationError(
                "shot_type", "must be 'intelligence' with a feature video (multi-shot from a "
                "reference video: describe the shots in the prompt)", self.shot_type,
            )


@attrs.frozen(kw_only=True)
class TextToVideoRequest(CommonFields):
    """``POST /v1/videos/text2video`` (reference 2.3)."""

    model_name: str | None = attrs.field(default=None, validator=TEXT)
    prompt: str | None = attrs.field(default=None, validator=[TEXT, PROMPT])
    negative_prompt: str | None = attrs.field(default=None, validator=[TEXT, NEGATIVE_PROMPT])
    multi_shot: bool | None = attrs.field(default=None, validator=instance_of(bool))
    shot_type: ShotType | None = attrs.field(default=None, validator=SHOT_TYPE)
    multi_prompt: tuple[Shot, ...] = attrs.field(
        default=(), converter=to_shots, validator=items_of(Shot)
    )
    sound: Sound | None = attrs.field(default=None, validator=SOUND)
    cfg_scale: float | None = attrs.field(default=None, validator=in_range(0, 1))
    mode: Mode | None = attrs.field(default=None, validator=MODE)
    camera_control: CameraControl | None = attrs.field(
        default=None, validator=instance_of(CameraControl)
    )
    aspect_ratio: VideoAspectRatio | None = attrs.field(default=None, validator=VIDEO_RATIO)
    duration: str | None = attrs.field(default=None, converter=to_duration)

    def __attrs_post_init__(self) -> None:
        """Cross-field and per-model rules (reference 2.3, section 8)."""
        spec = model_spec(TEXT_TO_VIDEO, self.model_name)
        check_shots(spec, multi_shot=self.multi_shot, shot_type=self.shot_type,
                    multi_prompt=self.multi_prompt, prompt=self.prompt, duration=self.duration,
                    prompt_required=True)
        check_sound(spec, self.sound)
        check_mode(spec, self.mode)
        _check_cfg_scale(spec, self.cfg_scale)
        check_duration(spec, self.duration, spec.durations)


@attrs.frozen(kw_only=True)
class ImageToVideoRequest(CommonFields):
    """``POST /v1/videos/image2video`` (reference 2.4): a first frame and/or an end frame."""

    model_name: str | None = attrs.field(default=None, validator=TEXT)
    image: str | None = attrs.field(default=None, validator=TEXT)
    image_tail: str | None = attrs.field(default=None, validator=TEXT)
    prompt: str | None = attrs.field(default=None, validator=[TEXT, PROMPT])
    negative_prompt: str | None = attrs.field(default=None, validator=[TEXT, NEGATIVE_PROMPT])
    multi_shot: bool | None = attrs.field(default=None, validator=instance_of(bool))
    shot_type: ShotType | None = attrs.field(default=None, validator=SHOT_TYPE)
    multi_prompt: tuple[Shot, ...] = attrs.field(
        default=(), converter=to_shots, validator=items_of(Shot)
    )
    voice_list: tuple[Voice, ...] = attrs.field(
        default=(), converter=to_voices, validator=[items_of(Voice), len_between(0, 2, "voices")]
    )
    element_list: tuple[Element, ...] = attrs.field(
        default=(), converter=to_elements,
        validator=[items_of(Element), len_between(0, MAX_I2V_ELEMENTS, "elements")],
    )
    sound: Sound | None = attrs.field(default=None, validator=SOUND)
    cfg_scale: float | None = attrs.field(default=None, validator=in_range(0, 1))
    mode: Mode | None = attrs.field(default=None, validator=MODE)
    static_mask: str | None = attrs.field(default=None, validator=TEXT)
    dynamic_masks: tuple[DynamicMask, ...] = attrs.field(
        default=(), converter=to_masks,
        validator=[items_of(DynamicMask), len_between(0, 6, "mask groups")],
    )
    camera_control: CameraControl | None = attrs.field(
        default=None, validator=instance_of(CameraControl)
    )
    duration: str | None = attrs.field(default=None, converter=to_duration)

    def __attrs_post_init__(self) -> None:
        """Cross-field and per-model rules (reference 2.4, section 8)."""
        spec = model_spec(IMAGE_TO_VIDEO, self.model_name)
        if self.image is None and self.image_tail is None:
            raise ValidationError("image", "image or image_tail is required", None)
        groups = [
            name
            for name, used in (
                ("image_tail", self.image_tail is not None),
                ("static_mask" if self.static_mask is not None else "dynamic_masks",
                 self.static_mask is not None or bool(self.dynamic_masks)),
                ("camera_control", self.camera_control is not None),
            )
            if used
        ]
        if len(groups) > 1:
            raise ValidationError(groups[1], f"cannot be combined with {groups[0]} (use only one "
                                  "of image_tail, motion-brush masks, camera_control)", groups)
        check_shots(spec, multi_shot=self.multi_shot, shot_type=self.shot_type,
                    multi_prompt=self.multi_prompt, prompt=self.prompt, duration=self.duration,
                    prompt_required=False)
        if self.multi_shot and self.image_tail is not None and not spec.multi_shot_frames:
            raise ValidationError("image_tail", f"end frames are not supported with "
                                  f"multi_shot=true on {spec.name}", self.image_tail,
                                  hint="kling-v3 combines them (since 05/07/2026)")
        self._check_voices_and_elements(spec)
        check_sound(spec, self.sound)
        check_mode(spec, self.mode)
        _check_cfg_scale(spec, self.cfg_scale)
        check_duration(spec, self.duration, spec.durations)

    def _check_voices_and_elements(self, spec: ModelSpec) -> None:
        """``voice_list`` (v2.6+, needs sound) and ``element_list`` (kling-v3), not both."""
        if self.element_list and not spec.elements:
            raise ValidationError("element_list", f"is not supported by {spec.name}",
                                  len(self.element_list), hint="image2video elements need kling-v3")
        if not self.voice_list:
            return
        if not spec.voice_list:
            raise ValidationError("voice_list", f"is not supported by {spec.name}",
                                  len(self.voice_list), hint="voices need kling-v2-6 or later")
        if self.element_list:
            raise ValidationError("voice_list", "cannot be combined with element_list",
                                  len(self.voice_list))
        if self.sound != "on":
            raise ValidationError("sound", "must be 'on' when voice_list is given", self.sound)
