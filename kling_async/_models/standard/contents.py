"""Typed ``contents[]`` items of the new standard (reference §11.2): one class per ``type``.

Every item is a frozen, keyword-only attrs class whose ``type`` field holds its wire ``type``
(the default; another value is refused), so ``FirstFrame(url=...)`` dumps as
``{"type": "first_frame", "url": ...}``.  ``CONTENT_TYPES`` maps each wire ``type`` to its
class: the converter in ``_wire.py`` picks the class by the ``type`` key.  Which types an
endpoint and model accept, and how many, is the request's rule (``specs.NewModelSpec``).

- ``id``: the item's name in the prompt (``@image_1``); optional on images and videos,
  required on ``element`` and ``voice``; unique within a task (the request checks).
- ``element_id`` and ``voice_id`` are strings on this standard (``"162"``); an int is read as
  its digits on load.
- Video items (``feature_video``, ``base_video``, motion ``video``) are URLs: no Base64, no
  upload (reference §11.2).
"""

from __future__ import annotations

from typing import Any, Literal

import attrs

from ..._errors import ValidationError
from ..._validators import Validator, one_of
from ..parts import TEXT


@attrs.frozen(repr=False)
class _HttpUrl(Validator):
    """A video item's ``url``: an ``http(s)://`` URL (videos are never Base64)."""

    def __call__(self, inst: object, attr: attrs.Attribute[Any], value: Any) -> None:
        TEXT(inst, attr, value)
        if value is not None and not value.strip().lower().startswith(("http://", "https://")):
            raise ValidationError(attr.name, "must be an http(s) URL: video items are URLs, "
                                  "never Base64", value)

    def __repr__(self) -> str:
        return "<http_url>"


VIDEO_URL = _HttpUrl()


@attrs.frozen(kw_only=True)
class ContentItem:
    """Base of every ``contents[]`` item; ``type`` is the wire discriminator."""

    @property
    def item_id(self) -> str | None:
        """The item's prompt name (its ``id``), if it has one."""
        value = getattr(self, "id", None)
        return value if isinstance(value, str) else None


@attrs.frozen(kw_only=True)
class PromptItem(ContentItem):
    """``{"type": "prompt", "text": ...}``: the prompt of a ``contents`` endpoint."""

    type: Literal["prompt"] = attrs.field(default="prompt", validator=one_of("prompt"))
    text: str = attrs.field(validator=TEXT)


@attrs.frozen(kw_only=True)
class FirstFrame(ContentItem):
    """``first_frame``: the video's first frame, an image URL or Base64."""

    type: Literal["first_frame"] = attrs.field(default="first_frame",
                                               validator=one_of("first_frame"))
    url: str = attrs.field(validator=TEXT)
    id: str | None = attrs.field(default=None, validator=TEXT)


@attrs.frozen(kw_only=True)
class LastFrame(ContentItem):
    """``last_frame``: the video's last frame (needs a first frame), an image URL or Base64."""

    type: Literal["last_frame"] = attrs.field(default="last_frame",
                                              validator=one_of("last_frame"))
    url: str = attrs.field(validator=TEXT)
    id: str | None = attrs.field(default=None, validator=TEXT)


@attrs.frozen(kw_only=True)
class ReferImage(ContentItem):
    """``refer_image`` (omni-video): a reference image for scenes, styles, subjects."""

    type: Literal["refer_image"] = attrs.field(default="refer_image",
                                               validator=one_of("refer_image"))
    url: str = attrs.field(validator=TEXT)
    id: str | None = attrs.field(default=None, validator=TEXT)


@attrs.frozen(kw_only=True)
class FeatureVideo(ContentItem):
    """``feature_video`` (omni-video): a feature/style reference video URL."""

    type: Literal["feature_video"] = attrs.field(default="feature_video",
                                                 validator=one_of("feature_video"))
    url: str = attrs.field(validator=VIDEO_URL)
    id: str | None = attrs.field(default=None, validator=TEXT)


@attrs.frozen(kw_only=True)
class BaseVideo(ContentItem):
    """``base_video`` (omni-video): the video to edit, a URL."""

    type: Literal["base_video"] = attrs.field(default="base_video",
                                              validator=one_of("base_video"))
    url: str = attrs.field(validator=VIDEO_URL)
    id: str | None = attrs.field(default=None, validator=TEXT)


@attrs.frozen(kw_only=True)
class ElementItem(ContentItem):
    """``element``: a saved element (``element_id``, a string) and its prompt name ``id``."""

    type: Literal["element"] = attrs.field(default="element", validator=one_of("element"))
    element_id: str = attrs.field(validator=TEXT)
    id: str = attrs.field(validator=TEXT)


@attrs.frozen(kw_only=True)
class VoiceItem(ContentItem):
    """``voice`` (image-to-video kling-2.6): a voice (``voice_id``) and its prompt name ``id``
    (``"1"`` is ``@1`` in the prompt)."""

    type: Literal["voice"] = attrs.field(default="voice", validator=one_of("voice"))
    voice_id: str = attrs.field(validator=TEXT)
    id: str = attrs.field(validator=TEXT)


@attrs.frozen(kw_only=True)
class MotionImage(ContentItem):
    """Motion control ``image``: the character's appearance, an image URL or Base64."""

    type: Literal["image"] = attrs.field(default="image", validator=one_of("image"))
    url: str = attrs.field(validator=TEXT)


@attrs.frozen(kw_only=True)
class MotionVideo(ContentItem):
    """Motion control ``video``: the motion to copy, a URL (3-30 s, .mp4/.mov)."""

    type: Literal["video"] = attrs.field(default="video", validator=one_of("video"))
    url: str = attrs.field(validator=VIDEO_URL)


#: Wire ``type`` -> item class.
CONTENT_TYPES: dict[str, type[ContentItem]] = {
    "prompt": PromptItem,
    "first_frame": FirstFrame,
    "last_frame": LastFrame,
    "refer_image": ReferImage,
    "feature_video": FeatureVideo,
    "base_video": BaseVideo,
    "element": ElementItem,
    "voice": VoiceItem,
    "image": MotionImage,
    "video": MotionVideo,
}


def item_type(item: ContentItem) -> str:
    """The wire ``type`` of an item."""
    value: str = getattr(item, "type")  # noqa: B009  # every subclass has it; the base does not
    return value
