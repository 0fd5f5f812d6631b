"""The omni-video rules of the new standard (reference §11.5): frames, reference videos, the
image/element count matrices, per model.

An element's kind (video-character or multi-image) cannot be known from its id, so only the
kind-free envelopes of the matrices apply: reference images + elements <= 7 without a
reference video and <= 4 with one; <= 3 elements with a first frame (3.0 Omni).  Whether
first/last frames count as "images" is not stated (UNCERTAIN): they do not count here.
"""

from __future__ import annotations

from typing import Any

from ..._errors import ValidationError
from .contents import ContentItem
from .rules import positions
from .specs import NewModelSpec

MAX_REFERENCES_WITHOUT_VIDEO = 7
MAX_REFERENCES_WITH_VIDEO = 4
MAX_ELEMENTS_WITH_FRAMES = 3
O1_FIRST_FRAME_DURATIONS = (5, 10)


def check_omni(spec: NewModelSpec, contents: tuple[ContentItem, ...], settings: Any) -> None:
    """Every omni-video rule of ``spec``'s model."""
    if not spec.documented:
        return
    check_frames(spec, contents)
    videos = positions(contents, "feature_video", "base_video")
    if len(videos) > 1:
        raise ValidationError(f"contents[{videos[1]}]", "at most 1 reference video "
                              "(feature_video or base_video)", len(videos))
    check_counts(spec, contents, bool(videos))
    if spec.omni_rules == "3.0-omni":
        check_omni_3(spec, contents, settings)
    elif spec.omni_rules == "o1":
        check_o1(spec, contents, settings)


def check_frames(spec: NewModelSpec, contents: tuple[ContentItem, ...]) -> None:
    """First frame only, or first + last; never last only; never with a base video."""
    first, last = positions(contents, "first_frame"), positions(contents, "last_frame")
    if last and not first:
        raise ValidationError(f"contents[{last[0]}].type", "a last_frame needs a first_frame "
                              "(last-frame-only is not supported)", "last_frame")
    base = positions(contents, "base_video")
    if base and (first or last):
        frame = (first or last)[0]
        raise ValidationError(f"contents[{frame}].type", "no first/last frame with a "
                              f"base_video (the video to edit) on {spec.endpoint}", "frame")


def check_counts(spec: NewModelSpec, contents: tuple[ContentItem, ...], video: bool) -> None:
    """Reference images + elements within the envelope; elements with frames."""
    references = positions(contents, "refer_image", "element")
    limit = MAX_REFERENCES_WITH_VIDEO if video else MAX_REFERENCES_WITHOUT_VIDEO
    if len(references) > limit:
        with_video = "with" if video else "without"
        raise ValidationError(f"contents[{references[limit]}]",
                              f"refer_image + element items must be at most {limit} "
                              f"{with_video} a reference video on {spec.endpoint}",
                              len(references))
    elements = positions(contents, "element")
    if positions(contents, "first_frame") and len(elements) > MAX_ELEMENTS_WITH_FRAMES:
        raise ValidationError(f"contents[{elements[MAX_ELEMENTS_WITH_FRAMES]}]",
                              f"at most {MAX_ELEMENTS_WITH_FRAMES} element items with a "
                              f"first frame on {spec.endpoint}", len(elements))


def check_omni_3(spec: NewModelSpec, contents: tuple[ContentItem, ...], settings: Any) -> None:
    """3.0 Omni: a feature video needs multi_shot on (its default) and audio off; a base video
    takes no multi-shot and no native audio."""
    multi_shot = getattr(settings, "multi_shot", None)
    audio = getattr(settings, "audio", None)
    if positions(contents, "feature_video"):
        if multi_shot is False:
            raise ValidationError("settings.multi_shot", "must be true with a feature_video "
                                  f"on {spec.endpoint}", multi_shot)
        if audio not in (None, "off"):
            raise ValidationError("settings.audio", "must be 'off' with a feature_video on "
                                  f"{spec.endpoint}", audio)
    if positions(contents, "base_video"):
        if multi_shot is True:
            raise ValidationError("settings.multi_shot", "must be false with a base_video "
                                  f"(video editing) on {spec.endpoint}", multi_shot)
        if audio == "native":
            raise ValidationError("settings.audio", "cannot be 'native' with a base_video "
                                  f"on {spec.endpoint} (use 'original' or 'off')", audio)


def check_o1(spec: NewModelSpec, contents: tuple[ContentItem, ...], settings: Any) -> None:
    """O1: first + last frames take no refer_image or element; a feature video takes a first
    frame only; a first frame without references or videos makes 5 s or 10 s only."""
    first, last = positions(contents, "first_frame"), positions(contents, "last_frame")
    references = positions(contents, "refer_image", "element")
    if first and last and references:
        raise ValidationError(f"contents[{references[0]}].type", "no refer_image or element "
                              f"with first + last frames on {spec.endpoint}", "reference")
    if last and positions(contents, "feature_video"):
        raise ValidationError(f"contents[{last[0]}].type", "no last_frame with a "
                              f"feature_video on {spec.endpoint}", "last_frame")
    videos = positions(contents, "feature_video", "base_video")
    plain = first and not videos and not positions(contents, "refer_image")
    duration = getattr(settings, "duration", None)
    if plain and duration is not None and duration not in O1_FIRST_FRAME_DURATIONS:
        raise ValidationError("settings.duration", "must be 5 or 10 with a first frame and no "
                              f"refer_image or video on {spec.endpoint}", duration)
