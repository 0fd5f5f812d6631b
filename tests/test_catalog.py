"""The model table, the prompt limits and the reusable validators."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pytest

from kling_async import (
    ImageGenerationRequest,
    OmniImageRequest,
    OmniVideoRequest,
    PromptLimits,
    Shot,
    TextToVideoRequest,
    ValidationError,
    current_prompt_limits,
    known_models,
    model_spec,
    prompt_limits,
    register_model,
    set_prompt_limits,
)
from kling_async._models import catalog
from kling_async._validators import in_range, instance_of, len_between, max_len, one_of


@pytest.fixture(autouse=True)
def restore_catalog() -> Iterator[None]:
    """Registrations made by a test do not leak into others (no public API forgets a
    registered model, so the catalog's private table is saved and restored)."""
    saved = copy.deepcopy(catalog._MODELS)
    yield
    catalog._MODELS.clear()
    catalog._MODELS.update(saved)


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        pytest.param("images/generations", {"kling-v1", "kling-v1-5", "kling-v2", "kling-v2-new",
                                            "kling-v2-1", "kling-v3"}, id="image-generation"),
        pytest.param("images/omni-image", {"kling-image-o1", "kling-v3-omni"}, id="omni-image"),
        pytest.param("videos/omni-video", {"kling-video-o1", "kling-v3-omni"}, id="omni-video"),
        pytest.param("videos/text2video", {"kling-v1", "kling-v1-6", "kling-v2-master",
                                           "kling-v2-1-master", "kling-v2-5-turbo", "kling-v2-6",
                                           "kling-v3"}, id="text2video"),
        pytest.param("videos/image2video", {"kling-v1", "kling-v1-5", "kling-v1-6",
                                            "kling-v2-master", "kling-v2-1", "kling-v2-1-master",
                                            "kling-v2-5-turbo", "kling-v2-6", "kling-v3"},
                     id="image2video"),
    ],
)
def test_known_models_match_the_reference(endpoint: str, expected: set[str]) -> None:
    """Each endpoint lists the models the reference names."""
    assert set(known_models(endpoint)) == expected


@pytest.mark.parametrize(
    ("endpoint", "model", "durations"),
    [
        pytest.param("videos/text2video", "kling-v1", ("5", "10"), id="t2v-pre-v3"),
        pytest.param("videos/text2video", "kling-v3", tuple(map(str, range(3, 16))), id="t2v-v3"),
        pytest.param("videos/image2video", "kling-v2-6", ("5", "10"), id="i2v-v2-6"),
        pytest.param("videos/omni-video", "kling-video-o1", tuple(map(str, range(3, 11))),
                     id="o1"),
        pytest.param("videos/omni-video", "kling-v3-omni", tuple(map(str, range(3, 16))),
                     id="v3-omni"),
    ],
)
def test_durations_per_model(endpoint: str, model: str, durations: tuple[str, ...]) -> None:
    """Allowed durations follow the reference per model."""
    assert model_spec(endpoint, model).durations == durations


def test_none_means_the_endpoint_default_model() -> None:
    """An unset model_name is checked as the server's default model."""
    assert model_spec("videos/omni-video", None).name == "kling-video-o1"
    assert model_spec("images/generations", None).name == "kling-v3"


def test_unknown_model_error_names_endpoint_known_models_and_fix() -> None:
    """An unknown model names the endpoint, lists the known models and says how to allow it."""
    with pytest.raises(ValidationError) as caught:
        OmniVideoRequest(model_name="kling-v4-omni", prompt="p", aspect_ratio="1:1")
    error = caught.value
    assert error.field == "model_name"
    assert "videos/omni-video" in error.rule
    assert "kling-video-o1" in error.rule and "kling-v3-omni" in error.rule
    assert error.hint is not None
    assert 'kling_async.register_model("videos/omni-video", "kling-v4-omni", ...)' in error.hint


def test_register_model_allows_a_new_model() -> None:
    """A registered model is accepted with the capabilities it was registered with."""
    spec = register_model("videos/omni-video", "kling-v4-omni", durations=(4, "8"))
    assert spec.durations == ("4", "8")
    assert "kling-v4-omni" in known_models("videos/omni-video")
    OmniVideoRequest(model_name="kling-v4-omni", prompt="p", aspect_ratio="1:1", duration=8)
    with pytest.raises(ValidationError) as caught:
        OmniVideoRequest(model_name="kling-v4-omni", prompt="p", aspect_ratio="1:1", duration=5)
    assert caught.value.field == "duration"


def test_register_model_without_durations_allows_any_whole_number() -> None:
    """durations=None means any whole number of seconds."""
    register_model("videos/text2video", "kling-v9")
    assert TextToVideoRequest(model_name="kling-v9", prompt="p", duration=42).duration == "42"


def test_register_model_replaces_a_row_to_enable_4k() -> None:
    """Omni-image 4k is off on kling-image-o1 until it is re-registered with it."""
    with pytest.raises(ValidationError, match="register_model"):
        OmniImageRequest(model_name="kling-image-o1", prompt="p", resolution="4k")
    register_model("images/omni-image", "kling-image-o1", series=False,
                   resolutions=("1k", "2k", "4k"))
    assert OmniImageRequest(model_name="kling-image-o1", prompt="p", resolution="4k")


def test_register_model_rejects_unknown_endpoint() -> None:
    """Only the catalogued endpoints take models."""
    with pytest.raises(ValidationError) as caught:
        register_model("videos/lip-sync", "x")
    assert caught.value.field == "endpoint"


@pytest.mark.parametrize(
    ("model", "flag", "value"),
    [
        pytest.param("kling-v1", "wide_21_9", False, id="v1-no-21-9"),
        pytest.param("kling-v2", "wide_21_9", True, id="v2-21-9"),
        pytest.param("kling-v1-5", "image_reference", True, id="v1-5-reference"),
        pytest.param("kling-v2-new", "requires_image", True, id="v2-new-restyle"),
    ],
)
def test_image_generation_capabilities(model: str, flag: str, value: bool) -> None:
    """Image-generation capability flags follow reference 2.12."""
    assert getattr(model_spec("images/generations", model), flag) is value


@pytest.mark.parametrize(
    ("model", "cfg", "sound", "multi"),
    [
        pytest.param("kling-v1-6", True, False, False, id="v1-6"),
        pytest.param("kling-v2-5-turbo", False, False, False, id="v2-5-turbo"),
        pytest.param("kling-v2-6", False, True, False, id="v2-6"),
        pytest.param("kling-v3", True, True, True, id="v3"),
    ],
)
def test_video_capabilities(model: str, cfg: bool, sound: bool, multi: bool) -> None:
    """cfg_scale is not on v2.x; sound from v2.6; multi-shot on v3 (reference 2.3)."""
    spec = model_spec("videos/text2video", model)
    assert (spec.cfg_scale, spec.sound, spec.multi_shot) == (cfg, sound, multi)


# --- prompt limits -------------------------------------------------------------------------------


def test_default_prompt_limits() -> None:
    """The defaults are the reference's 2500 / 2500 / 512."""
    assert current_prompt_limits() == PromptLimits(prompt=2500, negative_prompt=2500,
                                                   shot_prompt=512)


def test_set_prompt_limits_returns_previous() -> None:
    """set_prompt_limits changes the limits process-wide and returns the old ones."""
    previous = set_prompt_limits(PromptLimits(prompt=500, negative_prompt=200))
    try:
        with pytest.raises(ValidationError) as caught:
            ImageGenerationRequest(prompt="x" * 501)
        assert caught.value.field == "prompt"
        with pytest.raises(ValidationError) as caught:
            ImageGenerationRequest(prompt="p", negative_prompt="x" * 201)
        assert caught.value.field == "negative_prompt"
    finally:
        assert set_prompt_limits(previous).prompt == 500
    assert ImageGenerationRequest(prompt="x" * 501)


def test_prompt_limits_context_overrides_and_restores() -> None:
    """prompt_limits(...) overrides some limits in the block and restores them after."""
    with prompt_limits(shot_prompt=3) as limits:
        assert limits.prompt == 2500 and limits.shot_prompt == 3
        with pytest.raises(ValidationError) as caught:
            Shot(index=1, prompt="abcd", duration=1)
        assert caught.value.field == "prompt"
    assert Shot(index=1, prompt="abcd", duration=1)


def test_prompt_limits_scope_is_per_task() -> None:
    """A prompt_limits scope in one asyncio task does not change another task's limits."""

    async def main() -> int:
        entered, release = asyncio.Event(), asyncio.Event()

        async def scoped() -> None:
            with prompt_limits(prompt=1):
                entered.set()
                await release.wait()

        task = asyncio.create_task(scoped())
        await entered.wait()
        seen = current_prompt_limits().prompt
        release.set()
        await task
        return seen

    assert asyncio.run(main()) == 2500


@pytest.mark.parametrize("bad", [0, -1, True, "10"], ids=["zero", "negative", "bool", "str"])
def test_prompt_limits_must_be_positive_ints(bad: object) -> None:
    """PromptLimits rejects limits that are not whole numbers >= 1."""
    with pytest.raises(ValidationError):
        PromptLimits(prompt=bad)  # type: ignore[arg-type]


def test_set_prompt_limits_needs_a_prompt_limits() -> None:
    """set_prompt_limits takes a PromptLimits value, nothing else."""
    with pytest.raises(ValidationError):
        set_prompt_limits({"prompt": 10})  # type: ignore[arg-type]


# --- validators ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("validator", "text"),
    [
        pytest.param(max_len(10), "<max_len 10>", id="max_len"),
        pytest.param(in_range(0, 1), "<in_range number [0, 1]>", id="in_range"),
        pytest.param(in_range(1, 9, integer=True), "<in_range int [1, 9]>", id="in_range-int"),
        pytest.param(one_of("std", "pro"), "<one_of std, pro>", id="one_of"),
        pytest.param(len_between(2, 77), "<len_between 2..77>", id="len_between"),
        pytest.param(instance_of(bool), "<instance_of bool>", id="instance_of"),
    ],
)
def test_validators_have_readable_reprs(validator: object, text: str) -> None:
    """Validators print like attrs' own."""
    assert repr(validator) == text


def test_validators_work_as_attrs_validators() -> None:
    """The validators plug into any attrs class and raise ValidationError naming the field."""

    @attrs.frozen
    class Thing:
        mode: str = attrs.field(validator=one_of("std", "pro", hints={"standard": "use 'std'"}))

    with pytest.raises(ValidationError) as caught:
        Thing("standard")
    assert caught.value.field == "mode"
    assert caught.value.hint == "use 'std'"
    assert isinstance(caught.value, ValueError)


def _wrong(value: object) -> Any:
    """``value``, of the wrong kind on purpose: typed ``Any`` so the call reaches the
    run-time check mypy would otherwise stop."""
    return value


@pytest.mark.parametrize(
    ("call", "field"),
    [
        pytest.param(lambda: register_model("videos/text2video", "m", durations=_wrong(5)),
                     "durations", id="durations-int"),
        pytest.param(lambda: register_model("videos/text2video", "m", durations=(10**5000,)),
                     "durations[0]", id="durations-5000-digits"),
        pytest.param(lambda: register_model("videos/text2video", "m", durations=(5, "five")),
                     "durations[1]", id="durations-word"),
        pytest.param(lambda: register_model("videos/omni-video", "m", basic_durations=(0,)),
                     "basic_durations[0]", id="basic-durations-zero"),
        pytest.param(lambda: register_model("images/omni-image", "m", resolutions=_wrong("4k")),
                     "resolutions", id="resolutions-str"),
        pytest.param(lambda: register_model("videos/text2video", "m", sound=_wrong("no")), "sound",
                     id="flag-not-bool"),
        pytest.param(lambda: register_model(_wrong(["videos/text2video"]), "m"), "endpoint",
                     id="endpoint-list"),
        pytest.param(lambda: register_model("videos/text2video", "kling-\ud800"), "model_name",
                     id="model-surrogate"),
        pytest.param(lambda: model_spec("videos/text2video", _wrong(["kling-v1"])), "model_name",
                     id="spec-model-list"),
        pytest.param(lambda: model_spec(_wrong({}), None), "endpoint", id="spec-endpoint-dict"),
        pytest.param(lambda: known_models(_wrong(None)), "endpoint", id="known-endpoint-none"),
    ],
)
def test_catalog_calls_with_wrong_kinds_are_validation_errors(
    call: Callable[[], object], field: str
) -> None:
    """register_model / model_spec / known_models name the bad argument in a ValidationError
    (never a TypeError or ValueError), and register nothing."""
    before = {endpoint: known_models(endpoint) for endpoint in catalog.DEFAULT_MODELS}
    with pytest.raises(ValidationError) as caught:
        call()
    assert caught.value.field == field
    assert before == {endpoint: known_models(endpoint) for endpoint in catalog.DEFAULT_MODELS}


def test_register_model_durations_are_read_as_whole_seconds() -> None:
    """Durations given as ints or digit strings are stored as the wire strings."""
    spec = register_model("videos/text2video", "kling-v9", durations=(3, " 07", "12"))
    assert spec.durations == ("3", "7", "12")
