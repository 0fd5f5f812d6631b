"""The new-standard request classes: one per path family, for every model of the family.

``model`` picks the path (``/image-to-video/kling-3.0``) and is never sent (``NOT_WIRE``);
the per-model limits come from ``specs.NEW_MODEL_SPECS`` (an unknown id gets a permissive row:
only types and the family's values are checked).  Every rule runs at construction and names
the wire path it refuses (``settings.duration``, ``contents[2].url``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import attrs

from ..._errors import ValidationError
from ..._validators import instance_of, items_of, to_tuple
from ..parts import TEXT
from .contents import ContentItem
from .omni import check_omni
from .rules import (
    check_contents,
    check_model_id,
    check_prompt,
    check_settings,
    positions,
    require_1080p,
)
from .settings import (
    ImageToVideoSettings,
    MotionControlSettings,
    OmniVideoSettings,
    Options,
    TextToVideoSettings,
)
from .specs import (
    IMAGE_TO_VIDEO_FAMILY,
    MOTION_CONTROL_FAMILY,
    OMNI_VIDEO_FAMILY,
    TEXT_TO_VIDEO_FAMILY,
    NewModelSpec,
    new_model_spec,
)

#: attrs metadata of a field that is not part of the wire body (the model, in the path).
NOT_WIRE: dict[str, Any] = {"wire": False}


def is_wire_field(field: attrs.Attribute[Any]) -> bool:
    """Whether ``field`` is sent in the body (everything but the path's model)."""
    return field.metadata.get("wire", True) is not False


def _model(_inst: object, _attr: attrs.Attribute[str], value: Any) -> None:
    check_model_id(value)


def to_contents(value: Iterable[ContentItem]) -> tuple[ContentItem, ...]:
    return to_tuple(value)


_OPTIONS = instance_of(Options)
_CONTENTS = items_of(ContentItem)


@attrs.frozen(kw_only=True)
class _ModelInPath:
    """What every new-standard request has: its path family (a class constant) and ``model``,
    the path's last segment (never sent in the body), and so the spec it is checked against."""

    family: ClassVar[str]

    model: str = attrs.field(validator=_model, metadata=NOT_WIRE)

    @property
    def spec(self) -> NewModelSpec:
        """What this request's model accepts."""
        return new_model_spec(self.family, self.model)


@attrs.frozen(kw_only=True)
class NewTextToVideoRequest(_ModelInPath):
    """``POST /text-to-video/{model}`` (reference §11.3): a video from a top-level prompt."""

    family: ClassVar[str] = TEXT_TO_VIDEO_FAMILY

    prompt: str = attrs.field(validator=TEXT)
    settings: TextToVideoSettings | None = attrs.field(
        default=None, validator=instance_of(TextToVideoSettings)
    )
    options: Options | None = attrs.field(default=None, validator=_OPTIONS)

    def __attrs_post_init__(self) -> None:
        spec = self.spec
        check_settings(spec, self.settings)
        check_prompt(spec, "prompt", self.prompt, self.settings)
        if spec.native_1080p and getattr(self.settings, "audio", None) == "native":
            require_1080p(spec, self.settings, "with audio='native'")


@attrs.frozen(kw_only=True)
class NewImageToVideoRequest(_ModelInPath):
    """``POST /image-to-video/{model}`` (reference §11.4): a video from a first frame (and a
    last frame, elements or voices where the model takes them)."""

    family: ClassVar[str] = IMAGE_TO_VIDEO_FAMILY

    contents: tuple[ContentItem, ...] = attrs.field(converter=to_contents, validator=_CONTENTS)
    settings: ImageToVideoSettings | None = attrs.field(
        default=None, validator=instance_of(ImageToVideoSettings)
    )
    options: Options | None = attrs.field(default=None, validator=_OPTIONS)

    def __attrs_post_init__(self) -> None:
        spec = self.spec
        check_settings(spec, self.settings)
        check_contents(spec, self.contents, self.settings)
        if not spec.documented:
            return
        if not positions(self.contents, "first_frame"):
            raise ValidationError("contents", f"needs a first_frame item on {spec.endpoint}",
                                  None)
        audio = getattr(self.settings, "audio", None)
        voices = positions(self.contents, "voice")
        if voices and audio != "native":
            raise ValidationError("settings.audio", "must be 'native' with a voice item on "
                                  f"{spec.endpoint}", audio,
                                  hint="audio is unset, so 'off' counts" if audio is None
                                  else None)
        if spec.native_1080p and audio == "native":
            require_1080p(spec, self.settings, "with audio='native'")
        if spec.frames_1080p and positions(self.contents, "last_frame"):
            require_1080p(spec, self.settings, "with first + last frames")


@attrs.frozen(kw_only=True)
class NewOmniVideoRequest(_ModelInPath):
    """``POST /omni-video/{model}`` (reference §11.5): a video from a prompt, images, elements
    and at most one reference video."""

    family: ClassVar[str] = OMNI_VIDEO_FAMILY

    contents: tuple[ContentItem, ...] = attrs.field(converter=to_contents, validator=_CONTENTS)
    settings: OmniVideoSettings | None = attrs.field(
        default=None, validator=instance_of(OmniVideoSettings)
    )
    options: Options | None = attrs.field(default=None, validator=_OPTIONS)

    def __attrs_post_init__(self) -> None:
        spec = self.spec
        check_settings(spec, self.settings)
        check_contents(spec, self.contents, self.settings)
        check_omni(spec, self.contents, self.settings)


@attrs.frozen(kw_only=True)
class MotionControlRequest(_ModelInPath):
    """``POST /motion-control/{model}`` (reference §11.6): a character (image, or an element
    on kling-3.0) moving like the person in a motion video."""

    family: ClassVar[str] = MOTION_CONTROL_FAMILY

    contents: tuple[ContentItem, ...] = attrs.field(converter=to_contents, validator=_CONTENTS)
    settings: MotionControlSettings | None = attrs.field(
        default=None, validator=instance_of(MotionControlSettings)
    )
    options: Options | None = attrs.field(default=None, validator=_OPTIONS)

    def __attrs_post_init__(self) -> None:
        spec = self.spec
        if self.settings is None:
            raise ValidationError("settings.character_orientation", "is required ('image' or "
                                  f"'video') on {spec.endpoint}", None)
        check_settings(spec, self.settings)
        check_contents(spec, self.contents, self.settings)
        if spec.documented and not positions(self.contents, "video"):
            raise ValidationError("contents", "needs a video item (the motion reference) on "
                                  f"{spec.endpoint}", None)


#: Every new-standard request class, by path family.
NEW_REQUEST_TYPES: dict[str, type[Any]] = {
    cls.family: cls
    for cls in (NewTextToVideoRequest, NewImageToVideoRequest, NewOmniVideoRequest,
                MotionControlRequest)
}
