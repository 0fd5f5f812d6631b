"""Creating custom voices and elements (reference §2.11, §2.17).  Both are tasks: the voice or
element exists once the task succeeds, and the task's result holds it (``Task.voices``,
``Task.elements``).  ``client.voices`` and ``client.elements`` wrap these with get, list,
delete and presets.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import attrs

from .._errors import ValidationError
from .._validators import instance_of, items_of, len_between, max_len, one_of, to_tuple
from .fields import CallbackFields, exactly_one
from .parts import TEXT

#: Documented element tag ids (``tag_list``): Hottest, Character, Animal, Item, Costume, Scene,
#: Effect, Others.  Other ids are passed through (tags may be added).
ELEMENT_TAGS = ("o_101", "o_102", "o_103", "o_104", "o_105", "o_106", "o_107", "o_108")


@attrs.frozen(kw_only=True)
class CustomVoiceRequest(CallbackFields):
    """``POST /v1/general/custom-voices``: a voice from 5-30 s of one clean speaker
    (``voice_url``: mp3/wav/mp4/mov) or from a Kling ``video_id`` made with sound."""

    voice_name: str = attrs.field(validator=[TEXT, max_len(20)])
    voice_url: str | None = attrs.field(default=None, validator=TEXT)
    video_id: str | None = attrs.field(default=None, validator=TEXT)

    def __attrs_post_init__(self) -> None:
        exactly_one(self, "voice_url", "video_id")


@attrs.frozen(kw_only=True)
class ElementReferImage:
    """A ``refer_images`` item: another angle or a close-up of the element."""

    image_url: str = attrs.field(validator=TEXT)


def _to_refer_images(value: Iterable[ElementReferImage]) -> tuple[ElementReferImage, ...]:
    return to_tuple(value)


@attrs.frozen(kw_only=True)
class ElementImages:
    """``element_image_list``: one frontal image and 1-3 other angles or close-ups."""

    frontal_image: str = attrs.field(validator=TEXT)
    refer_images: tuple[ElementReferImage, ...] = attrs.field(
        converter=_to_refer_images,
        validator=[items_of(ElementReferImage), len_between(1, 3, "images")])


@attrs.frozen(kw_only=True)
class ElementReferVideo:
    """A ``refer_videos`` item: a 3-8 s 1080p clip of a realistic humanoid."""

    video_url: str = attrs.field(validator=TEXT)


def _to_refer_videos(value: Iterable[ElementReferVideo]) -> tuple[ElementReferVideo, ...]:
    return to_tuple(value)


@attrs.frozen(kw_only=True)
class ElementVideos:
    """``element_video_list``: at most one reference video."""

    refer_videos: tuple[ElementReferVideo, ...] = attrs.field(
        converter=_to_refer_videos,
        validator=[items_of(ElementReferVideo), len_between(1, 1, "videos")])


@attrs.frozen(kw_only=True)
class ElementTag:
    """A ``tag_list`` item (``ELEMENT_TAGS`` lists the documented ids)."""

    tag_id: str = attrs.field(validator=TEXT)


def _to_tags(value: Iterable[ElementTag]) -> tuple[ElementTag, ...]:
    return to_tuple(value)


@attrs.frozen(kw_only=True)
class ElementRequest(CallbackFields):
    """``POST /v1/general/advanced-custom-elements``: a custom element (subject) from images
    (``reference_type="image_refer"``) or a video (``"video_refer"``)."""

    element_name: str = attrs.field(validator=[TEXT, max_len(20)])
    element_description: str = attrs.field(validator=[TEXT, max_len(100)])
    reference_type: Literal["image_refer", "video_refer"] = attrs.field(
        validator=one_of("image_refer", "video_refer"))
    element_image_list: ElementImages | None = attrs.field(
        default=None, validator=instance_of(ElementImages))
    element_video_list: ElementVideos | None = attrs.field(
        default=None, validator=instance_of(ElementVideos))
    element_voice_id: str | None = attrs.field(default=None, validator=TEXT)
    tag_list: tuple[ElementTag, ...] = attrs.field(
        default=(), converter=_to_tags, validator=items_of(ElementTag))

    def __attrs_post_init__(self) -> None:
        wanted = ("element_image_list" if self.reference_type == "image_refer"
                  else "element_video_list")
        which = exactly_one(self, "element_image_list", "element_video_list")
        if which != wanted:
            raise ValidationError(wanted, f"is required by reference_type "
                                  f"{self.reference_type!r} (and the other list must be unset)",
                                  None)
