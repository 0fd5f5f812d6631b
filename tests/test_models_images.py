"""Image request classes are valid by construction."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kling_async._errors import ValidationError
from kling_async._models.catalog import prompt_limits
from kling_async._models.images import ImageGenerationRequest, OmniImageRequest
from kling_async._models.parts import Element, OmniImageItem, WatermarkInfo

FAST = settings(max_examples=100, deadline=None)


def test_image_generation_minimal_and_full() -> None:
    """A prompt alone is a request; every documented field can be set together."""
    assert ImageGenerationRequest(prompt="a cat").model_name is None
    req = ImageGenerationRequest(
        model_name="kling-v1-5", prompt="a cat", image="https://x.test/a.png",
        image_reference="subject", image_fidelity=0.5, human_fidelity=0.45, resolution="1k",
        n=9, aspect_ratio="21:9", watermark_info=WatermarkInfo(enabled=True),
        external_task_id="job-1", callback_url="https://cb.test/hook",
    )
    assert req.n == 9


def test_requests_are_frozen_and_keyword_only() -> None:
    """Requests cannot be changed after construction nor built positionally."""
    req = OmniImageRequest(prompt="p")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        req.prompt = "q"  # type: ignore[misc]
    with pytest.raises(TypeError):
        OmniImageRequest("p")  # type: ignore[call-arg]


def test_omni_image_lists_become_tuples() -> None:
    """List arguments are stored as tuples, so requests are hashable."""
    req = OmniImageRequest(prompt="p", image_list=[OmniImageItem(image="u")],
                           element_list=[Element(element_id="12")])
    assert req.image_list == (OmniImageItem(image="u"),)
    assert req.element_list == (Element(element_id=12),)
    assert hash(req) == hash(attrs.evolve(req))


GEN_VIOLATIONS = [
    pytest.param({"prompt": ""}, "prompt", id="empty-prompt"),
    pytest.param({"prompt": "x" * 2501}, "prompt", id="prompt-too-long"),
    pytest.param({"negative_prompt": "x" * 2501}, "negative_prompt", id="negative-too-long"),
    pytest.param({"n": 0}, "n", id="n-zero"),
    pytest.param({"n": 10}, "n", id="n-ten"),
    pytest.param({"n": True}, "n", id="n-bool"),
    pytest.param({"n": 2.0}, "n", id="n-float"),
    pytest.param({"image": "u", "image_fidelity": 1.5}, "image_fidelity", id="fidelity-high"),
    pytest.param({"image_fidelity": float("nan")}, "image_fidelity", id="fidelity-nan"),
    pytest.param({"model_name": "kling-v1-5", "image": "u", "image_reference": "subject",
                  "human_fidelity": -0.1}, "human_fidelity", id="human-fidelity-low"),
    pytest.param({"aspect_ratio": "5:4"}, "aspect_ratio", id="ratio-unknown"),
    pytest.param({"aspect_ratio": "21:9", "model_name": "kling-v1"}, "aspect_ratio",
                 id="21-9-on-kling-v1"),
    pytest.param({"resolution": "4k"}, "resolution", id="resolution-4k"),
    pytest.param({"resolution": "2K", "model_name": "kling-v2"}, "resolution",
                 id="resolution-case"),
    pytest.param({"resolution": "2k", "model_name": "kling-v1"}, "resolution",
                 id="2k-not-on-kling-v1"),
    pytest.param({"image": "u", "negative_prompt": "no"}, "negative_prompt",
                 id="negative-with-image"),
    pytest.param({"image_reference": "subject", "image": "u"}, "image_reference",
                 id="reference-not-on-v3"),
    pytest.param({"model_name": "kling-v1-5", "image": "u"}, "image_reference",
                 id="reference-required-v1-5"),
    pytest.param({"model_name": "kling-v1-5", "image": "u", "image_reference": "body"},
                 "image_reference", id="reference-enum"),
    pytest.param({"model_name": "kling-v1-5", "image": "u", "image_reference": "face",
                  "human_fidelity": 0.5}, "human_fidelity", id="human-fidelity-with-face"),
    pytest.param({"human_fidelity": 0.5}, "human_fidelity", id="human-fidelity-no-reference"),
    pytest.param({"model_name": "kling-v2-new"}, "image", id="v2-new-restyle-only"),
    pytest.param({"model_name": "kling-v9"}, "model_name", id="unknown-model"),
    pytest.param({"callback_url": ""}, "callback_url", id="empty-callback"),
    pytest.param({"watermark_info": {"enabled": True}}, "watermark_info", id="watermark-dict"),
]


@pytest.mark.parametrize(("changes", "field"), GEN_VIOLATIONS)
def test_image_generation_rejects(changes: dict[str, Any], field: str) -> None:
    """Each image-generation rule is enforced at construction, naming the field."""
    with pytest.raises(ValidationError) as caught:
        ImageGenerationRequest(**{"prompt": "p", **changes})
    assert caught.value.field == field


OMNI_VIOLATIONS = [
    pytest.param({"prompt": "x" * 2501}, "prompt", id="prompt-too-long"),
    pytest.param({"n": 10}, "n", id="n-ten"),
    pytest.param({"aspect_ratio": "4:5"}, "aspect_ratio", id="ratio-unknown"),
    pytest.param({"resolution": "4k", "model_name": "kling-image-o1"}, "resolution",
                 id="4k-not-on-o1"),
    pytest.param({"result_type": "batch"}, "result_type", id="result-type-enum"),
    pytest.param({"result_type": "series"}, "result_type", id="series-not-on-o1"),
    pytest.param({"series_amount": 3}, "series_amount", id="series-amount-without-series"),
    pytest.param({"model_name": "kling-v3-omni", "result_type": "series", "series_amount": 1},
                 "series_amount", id="series-amount-low"),
    pytest.param({"model_name": "kling-v3-omni", "result_type": "series", "series_amount": 10},
                 "series_amount", id="series-amount-high"),
    pytest.param({"image_list": [OmniImageItem(image="u")] * 6,
                  "element_list": [Element(element_id=1)] * 5}, "image_list",
                 id="more-than-10-references"),
    pytest.param({"image_list": [{"image": "u"}]}, "image_list[0]", id="dict-not-part"),
    pytest.param({"image_list": "u"}, "image_list", id="not-a-list"),
    pytest.param({"model_name": "kling-video-o1"}, "model_name", id="video-model"),
]


@pytest.mark.parametrize(("changes", "field"), OMNI_VIOLATIONS)
def test_omni_image_rejects(changes: dict[str, Any], field: str) -> None:
    """Each omni-image rule is enforced at construction, naming the field."""
    with pytest.raises(ValidationError) as caught:
        OmniImageRequest(**{"prompt": "p", **changes})
    assert caught.value.field == field


def test_omni_image_allows_ten_references_and_series_on_v3() -> None:
    """Ten references, auto ratio and a series on kling-v3-omni are fine."""
    req = OmniImageRequest(
        model_name="kling-v3-omni", prompt="p", image_list=[OmniImageItem(image="u")] * 5,
        element_list=[Element(element_id=1)] * 5, result_type="series", series_amount=9,
        aspect_ratio="auto", resolution="2k",
    )
    assert req.series_amount == 9


def test_error_message_names_field_rule_and_value() -> None:
    """The error message names the field, the rule and the value received."""
    with pytest.raises(ValidationError) as caught:
        ImageGenerationRequest(prompt="p", n=12)
    assert str(caught.value) == "n: must be in [1, 9] (got 12)"


def test_prompt_limit_is_read_at_construction() -> None:
    """A lowered prompt limit applies to requests built inside the scope only."""
    with prompt_limits(prompt=10):
        with pytest.raises(ValidationError, match="at most 10"):
            ImageGenerationRequest(prompt="x" * 11)
    assert ImageGenerationRequest(prompt="x" * 11).prompt == "x" * 11


@FAST
@given(n=st.integers().filter(lambda n: not 1 <= n <= 9))
def test_any_n_outside_1_to_9_is_rejected(n: int) -> None:
    """Every n outside [1, 9] is rejected on field n, for both image endpoints."""
    for cls in (ImageGenerationRequest, OmniImageRequest):
        with pytest.raises(ValidationError) as caught:
            cls(prompt="p", n=n)
        assert caught.value.field == "n"


@FAST
@given(value=st.floats().filter(lambda v: not 0 <= v <= 1))
def test_any_fidelity_outside_unit_interval_is_rejected(value: float) -> None:
    """Every image_fidelity outside [0, 1] (NaN and infinities included) is rejected."""
    with pytest.raises(ValidationError) as caught:
        ImageGenerationRequest(prompt="p", image="u", image_fidelity=value)
    assert caught.value.field == "image_fidelity"


@FAST
@given(images=st.integers(0, 12), elements=st.integers(0, 12))
def test_omni_image_reference_budget(images: int, elements: int) -> None:
    """Images + elements <= 10 is accepted, more is rejected on image_list."""
    def build() -> OmniImageRequest:
        return OmniImageRequest(
            prompt="p", image_list=[OmniImageItem(image="u")] * images,
            element_list=[Element(element_id=7)] * elements,
        )

    if images + elements <= 10:
        build()
    else:
        with pytest.raises(ValidationError) as caught:
            build()
        assert caught.value.field == "image_list"


@pytest.mark.parametrize(
    ("build", "field"),
    [
        pytest.param(lambda: ImageGenerationRequest(prompt="p", n=10**400), "n",
                     id="n-400-digits"),
        pytest.param(lambda: ImageGenerationRequest(prompt="p", image_fidelity=10**400),
                     "image_fidelity", id="fidelity-400-digits"),
        pytest.param(lambda: ImageGenerationRequest(prompt="p", human_fidelity=-(10**400)),
                     "human_fidelity", id="human-fidelity-minus-huge"),
        pytest.param(lambda: ImageGenerationRequest(prompt="a\udfffb"), "prompt",
                     id="prompt-surrogate"),
        pytest.param(lambda: ImageGenerationRequest(prompt="p", image="\ud800"), "image",
                     id="image-surrogate"),
        pytest.param(lambda: OmniImageRequest(prompt="p", series_amount=10**400),
                     "series_amount", id="series-amount-400-digits"),
        pytest.param(lambda: OmniImageItem(image="\ud800"), "image", id="item-surrogate"),
        pytest.param(lambda: OmniImageRequest(prompt=["p"]), "prompt",  # type: ignore[arg-type]
                     id="prompt-list"),
    ],
)
def test_hostile_constructor_values_are_validation_errors(build: Any, field: str) -> None:
    """Huge numbers, lone surrogates and wrong kinds are a ValidationError naming the field."""
    with pytest.raises(ValidationError) as caught:
        build()
    assert caught.value.field == field
    assert len(str(caught.value)) < 400
