"""Image task endpoints beyond generation (reference §2.14-§2.16, §2.20).

- ``MultiImageToImageRequest``: ``POST /v1/images/multi-image2image`` (1-4 subjects, scene, style).
- ``ImageExpandRequest``: ``POST /v1/images/editing/expand`` (outpainting; new area <= 3x).
- ``VirtualTryOnRequest``: ``POST /v1/images/kolors-virtual-try-on`` (a person wears a garment).
- ``AiMultiShotRequest``: ``POST /v1/general/ai-multi-shot`` (three angle views of a subject).
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from .._errors import ValidationError
from .._validators import in_range, items_of, len_between, one_of, to_tuple
from .fields import CallbackFields
from .parts import IMAGE_RATIOS, NEGATIVE_PROMPT, PROMPT, TEXT, CommonFields

#: Outpainting may grow the picture to at most this many times its original area.
MAX_EXPANDED_AREA = 3.0
_COUNT = in_range(1, 9, integer=True)
_RATIO = one_of(*IMAGE_RATIOS)
_EXPANSION = in_range(0, 2)


@attrs.frozen(kw_only=True)
class SubjectImage:
    """A ``subject_image_list`` item (pre-cropped: the server does not crop)."""

    subject_image: str = attrs.field(validator=TEXT)


def _to_subjects(value: Iterable[SubjectImage]) -> tuple[SubjectImage, ...]:
    return to_tuple(value)


@attrs.frozen(kw_only=True)
class MultiImageToImageRequest(CommonFields):
    """``POST /v1/images/multi-image2image``: 1-4 subjects composed into a new image."""

    subject_image_list: tuple[SubjectImage, ...] = attrs.field(
        converter=_to_subjects, validator=[items_of(SubjectImage), len_between(1, 4, "subjects")]
    )
    model_name: str | None = attrs.field(default=None, validator=TEXT)
    prompt: str | None = attrs.field(default=None, validator=[TEXT, PROMPT])
    negative_prompt: str | None = attrs.field(default=None, validator=[TEXT, NEGATIVE_PROMPT])
    scene_image: str | None = attrs.field(default=None, validator=TEXT)
    style_image: str | None = attrs.field(default=None, validator=TEXT)
    n: int | None = attrs.field(default=None, validator=_COUNT)
    aspect_ratio: str | None = attrs.field(default=None, validator=_RATIO)


@attrs.frozen(kw_only=True)
class ImageExpandRequest(CommonFields):
    """``POST /v1/images/editing/expand``: extend ``image`` by a multiple of its height (up,
    down) and width (left, right), each in [0, 2], to at most 3x the original area."""

    image: str = attrs.field(validator=TEXT)
    up_expansion_ratio: float = attrs.field(validator=_EXPANSION)
    down_expansion_ratio: float = attrs.field(validator=_EXPANSION)
    left_expansion_ratio: float = attrs.field(validator=_EXPANSION)
    right_expansion_ratio: float = attrs.field(validator=_EXPANSION)
    prompt: str | None = attrs.field(default=None, validator=[TEXT, PROMPT])
    n: int | None = attrs.field(default=None, validator=_COUNT)

    def __attrs_post_init__(self) -> None:
        tall = 1 + self.up_expansion_ratio + self.down_expansion_ratio
        wide = 1 + self.left_expansion_ratio + self.right_expansion_ratio
        if tall * wide > MAX_EXPANDED_AREA:
            raise ValidationError(
                "up_expansion_ratio",
                f"the expanded image would be {tall * wide:.2f}x the original area; at most "
                f"{MAX_EXPANDED_AREA:g}x is allowed ((1 + up + down) x (1 + left + right))",
                self.up_expansion_ratio,
            )


@attrs.frozen(kw_only=True)
class VirtualTryOnRequest(CallbackFields):
    """``POST /v1/images/kolors-virtual-try-on``: ``human_image`` wearing ``cloth_image``.
    Try-On 3.0 (2026-09) serves the v1 / v1-5 bodies; its new option names are not documented."""

    human_image: str = attrs.field(validator=TEXT)
    cloth_image: str = attrs.field(validator=TEXT)
    model_name: str | None = attrs.field(default=None, validator=TEXT)


@attrs.frozen(kw_only=True)
class AiMultiShotRequest(CallbackFields):
    """``POST /v1/general/ai-multi-shot``: three angle views of a subject's frontal image."""

    element_frontal_image: str = attrs.field(validator=TEXT)
