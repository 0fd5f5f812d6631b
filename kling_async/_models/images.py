"""Image request classes: ``ImageGenerationRequest`` and ``OmniImageRequest``.

Frozen, keyword-only and valid by construction: field validators check each value, and one
``__attrs_post_init__`` per class checks the rules that need siblings or the model table.
"""

from __future__ import annotations

from typing import Literal

import attrs

from .._errors import ValidationError
from .._validators import in_range, in_range_or, items_of, one_of
from .catalog import IMAGE_GENERATIONS, OMNI_IMAGE, ModelSpec, model_spec
from .parts import (
    IMAGE_RATIOS,
    NEGATIVE_PROMPT,
    PROMPT,
    TEXT,
    CommonFields,
    Element,
    OmniImageItem,
    to_elements,
    to_omni_image_items,
)

ImageAspectRatio = Literal["16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3", "21:9"]
OmniImageAspectRatio = Literal["16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3", "21:9", "auto"]

#: Omni-image: reference images plus elements, at most (reference 2.13).
MAX_OMNI_IMAGE_REFERENCES = 10
#: Image generation: the reference image plus elements, at most (reference 2.12).
MAX_GENERATION_REFERENCES = 10


@attrs.frozen(kw_only=True)
class ImageGenerationRequest(CommonFields):
    """``POST /v1/images/generations`` (reference 2.12): text-to-image or image-to-image."""

    prompt: str = attrs.field(validator=[TEXT, PROMPT])
    model_name: str | None = attrs.field(default=None, validator=TEXT)
    negative_prompt: str | None = attrs.field(default=None, validator=[TEXT, NEGATIVE_PROMPT])
    image: str | None = attrs.field(default=None, validator=TEXT)
    image_reference: Literal["subject", "face"] | None = attrs.field(
        default=None, validator=one_of("subject", "face")
    )
    image_fidelity: float | None = attrs.field(default=None, validator=in_range(0, 1))
    human_fidelity: float | None = attrs.field(default=None, validator=in_range(0, 1))
    resolution: Literal["1k", "2k"] | None = attrs.field(
        default=None, validator=one_of("1k", "2k")
    )
    element_list: tuple[Element, ...] = attrs.field(
        default=(), converter=to_elements, validator=items_of(Element)
    )
    n: int | None = attrs.field(default=None, validator=in_range(1, 9, integer=True))
    aspect_ratio: ImageAspectRatio | None = attrs.field(
        default=None, validator=one_of(*IMAGE_RATIOS)
    )

    def __attrs_post_init__(self) -> None:
        """Cross-field and per-model rules (reference 2.12, 13.2, section 8)."""
        spec = model_spec(IMAGE_GENERATIONS, self.model_name)
        if self.aspect_ratio == "21:9" and not spec.wide_21_9:
            raise ValidationError("aspect_ratio", f"'21:9' is not supported by {spec.name}",
                                  self.aspect_ratio)
        if self.resolution is not None and self.resolution not in spec.resolutions:
            raise ValidationError(
                "resolution", f"must be one of {', '.join(spec.resolutions)} for {spec.name}",
                self.resolution,
            )
        if spec.requires_image and self.image is None:
            raise ValidationError("image", f"is required: {spec.name} only restyles an image",
                                  None)
        if self.image is not None and self.negative_prompt is not None:
            raise ValidationError("negative_prompt",
                                  "is not supported for image-to-image (image is set)",
                                  self.negative_prompt)
        self._check_reference(spec)
        self._check_elements(spec)

    def _check_reference(self, spec: ModelSpec) -> None:
        """``image_reference`` (2.12: kling-v2-1; kling-v1-5 kept) and ``human_fidelity``."""
        if self.image_reference is not None and not spec.image_reference:
            raise ValidationError("image_reference", f"is not supported by {spec.name}",
                                  self.image_reference,
                                  hint="character and face reference need kling-v2-1")
        if self.image_reference is not None and self.image is None:
            raise ValidationError("image", "is required when image_reference is set", None)
        if spec.image_reference_required and self.image is not None and (
            self.image_reference is None
        ):
            raise ValidationError("image_reference",
                                  f"is required with {spec.name} when image is set "
                                  "('subject' or 'face')", None)
        if self.human_fidelity is not None and self.image_reference != "subject":
            raise ValidationError("human_fidelity", "is only used with image_reference='subject'",
                                  self.human_fidelity)

    def _check_elements(self, spec: ModelSpec) -> None:
        """``element_list`` (kling-v3): the image and the elements are at most 10."""
        if not self.element_list:
            return
        if not spec.elements:
            raise ValidationError("element_list", f"is not supported by {spec.name}",
                                  len(self.element_list), hint="elements need kling-v3")
        images = 0 if self.image is None else 1
        if images + len(self.element_list) > MAX_GENERATION_REFERENCES:
            raise ValidationError(
                "element_list",
                f"images + elements must be at most {MAX_GENERATION_REFERENCES}",
                f"{images} image + {len(self.element_list)} elements",
            )


@attrs.frozen(kw_only=True)
class OmniImageRequest(CommonFields):
    """``POST /v1/images/omni-image`` (reference 2.13): images and elements as references."""

    prompt: str = attrs.field(validator=[TEXT, PROMPT])
    model_name: str | None = attrs.field(default=None, validator=TEXT)
    image_list: tuple[OmniImageItem, ...] = attrs.field(
        default=(), converter=to_omni_image_items, validator=items_of(OmniImageItem)
    )
    element_list: tuple[Element, ...] = attrs.field(
        default=(), converter=to_elements, validator=items_of(Element)
    )
    resolution: Literal["1k", "2k", "4k"] | None = attrs.field(
        default=None, validator=one_of("1k", "2k", "4k")
    )
    result_type: Literal["single", "series"] | None = attrs.field(
        default=None, validator=one_of("single", "series")
    )
    series_amount: int | Literal["auto"] | None = attrs.field(
        default=None, validator=in_range_or(2, 9, "auto")
    )
    n: int | None = attrs.field(default=None, validator=in_range(1, 9, integer=True))
    aspect_ratio: OmniImageAspectRatio | None = attrs.field(
        default=None, validator=one_of(*IMAGE_RATIOS, "auto")
    )

    def __attrs_post_init__(self) -> None:
        """Cross-field and per-model rules (reference 2.13, 13.2, section 8)."""
        spec = model_spec(OMNI_IMAGE, self.model_name)
        if self.resolution is not None and self.resolution not in spec.resolutions:
            hint = (
                "4K is a kling-v3-omni feature (capability map); if your gateway renders it: "
                f'kling_async.register_model("{OMNI_IMAGE}", "{spec.name}", '
                'resolutions=("1k", "2k", "4k"))'
                if self.resolution == "4k"
                else None
            )
            raise ValidationError(
                "resolution", f"must be one of {', '.join(spec.resolutions)} for {spec.name}",
                self.resolution, hint=hint,
            )
        if self.result_type == "series" and not spec.series:
            raise ValidationError("result_type", f"'series' is not supported by {spec.name}",
                                  self.result_type)
        if self.series_amount is not None and self.result_type != "series":
            raise ValidationError("series_amount", "is only used with result_type='series'",
                                  self.series_amount)
        references = bool(self.image_list or self.element_list)
        if self.aspect_ratio == "auto" and not references and not spec.text_auto_ratio:
            raise ValidationError(
                "aspect_ratio", f"'auto' needs a reference image or element on {spec.name} "
                "(its text-to-image takes a fixed ratio)", self.aspect_ratio,
            )
        count = len(self.image_list) + len(self.element_list)
        if count > MAX_OMNI_IMAGE_REFERENCES:
            raise ValidationError(
                "image_list",
                f"images + elements must be at most {MAX_OMNI_IMAGE_REFERENCES}",
                f"{len(self.image_list)} images + {len(self.element_list)} elements",
            )
