"""Video request classes and their parts are valid by construction."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kling_async._errors import ValidationError
from kling_async._models.parts import (
    CameraConfig,
    CameraControl,
    DynamicMask,
    Element,
    OmniVideoImage,
    OmniVideoVideo,
    Shot,
    TrajectoryPoint,
    Voice,
)
from kling_async._models.videos import ImageToVideoRequest, OmniVideoRequest, TextToVideoRequest

FAST = settings(max_examples=100, deadline=None)
FIRST = OmniVideoImage(image_url="f", type="first_frame")
END = OmniVideoImage(image_url="e", type="end_frame")
REF = OmniVideoImage(image_url="r")
BASE = OmniVideoVideo(video_url="v")
FEATURE = OmniVideoVideo(video_url="v", refer_type="feature")
V3O = {"model_name": "kling-v3-omni"}
SHOTS_5 = (Shot(index=1, prompt="a", duration=2), Shot(index=2, prompt="b", duration=3))
MASK = DynamicMask(mask="m", trajectories=[TrajectoryPoint(x=0, y=0), TrajectoryPoint(x=1, y=1)])
ZOOM = CameraControl(type="simple", config=CameraConfig(zoom=5))


def test_duration_accepts_int_or_str_and_stores_str() -> None:
    """``duration=5`` and ``duration="5"`` both store the wire string "5"."""
    assert TextToVideoRequest(prompt="p", duration=10).duration == "10"
    assert TextToVideoRequest(prompt="p", duration="10").duration == "10"
    assert Shot(index=1, prompt="p", duration=3).duration == "3"


def test_element_id_accepts_digit_strings_and_stays_exact() -> None:
    """A 64-bit element id given as a string is stored as the exact int."""
    assert Element(element_id="829836802793406551").element_id == 829836802793406551


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"prompt": "p", "aspect_ratio": "16:9"}, id="text-only"),
        pytest.param({"prompt": "p", "image_list": [FIRST]}, id="first-frame-no-ratio"),
        pytest.param({"prompt": "p", "image_list": [FIRST, END]}, id="first-and-end"),
        pytest.param({"prompt": "p", "video_list": [BASE]}, id="base-edit-no-ratio"),
        pytest.param({"prompt": "p", "video_list": [FEATURE], "aspect_ratio": "1:1",
                      "image_list": [REF] * 2, "element_list": [Element(element_id=1)] * 2},
                     id="feature-video-with-4-references"),
        pytest.param({"prompt": "p", "aspect_ratio": "1:1", "image_list": [REF] * 7,
                      "duration": 7}, id="7-references-3-10s-on-o1"),
        pytest.param({"multi_shot": True, "shot_type": "customize", "multi_prompt": SHOTS_5,
                      "aspect_ratio": "9:16", "model_name": "kling-v3-omni"},
                     id="customize-default-duration-5"),
        pytest.param({"multi_shot": True, "shot_type": "intelligence", "prompt": "p",
                      "aspect_ratio": "9:16", "model_name": "kling-v3-omni", "duration": 15},
                     id="intelligence-v3-omni-15s"),
        pytest.param({"prompt": "p", "video_list": [BASE], "duration": "3"},
                     id="duration-ignored-under-base"),
    ],
)
def test_omni_video_accepts(kwargs: dict[str, Any]) -> None:
    """Documented omni-video combinations construct."""
    OmniVideoRequest(**kwargs)


OMNI_VIOLATIONS = [
    pytest.param({"prompt": None}, "prompt", id="prompt-required"),
    pytest.param({"prompt": "x" * 2501}, "prompt", id="prompt-too-long"),
    pytest.param({"aspect_ratio": None}, "aspect_ratio", id="ratio-required"),
    pytest.param({"aspect_ratio": "4:3"}, "aspect_ratio", id="ratio-enum"),
    pytest.param({"image_list": [FIRST]}, "aspect_ratio", id="ratio-with-first-frame"),
    pytest.param({"video_list": [BASE]}, "aspect_ratio", id="ratio-with-base-video"),
    pytest.param({"mode": "standard"}, "mode", id="mode-standard"),
    pytest.param({"mode": "professional"}, "mode", id="mode-professional"),
    pytest.param({**V3O, "multi_shot": True}, "shot_type", id="multi-shot-needs-shot-type"),
    pytest.param({**V3O, "multi_shot": True, "shot_type": "auto"}, "shot_type",
                 id="shot-type-enum"),
    pytest.param({**V3O, "multi_shot": True, "shot_type": "customize"}, "multi_prompt",
                 id="customize-needs-shots"),
    pytest.param({**V3O, "multi_shot": True, "shot_type": "customize",
                  "multi_prompt": [Shot(index=i, prompt="p", duration=1) for i in range(7)],
                  "duration": 7}, "multi_prompt", id="more-than-6-shots"),
    pytest.param({**V3O, "multi_shot": True, "shot_type": "customize", "duration": 10,
                  "multi_prompt": SHOTS_5}, "multi_prompt", id="shots-do-not-sum"),
    pytest.param({**V3O, "multi_shot": True, "shot_type": "customize", "duration": 5,
                  "multi_prompt": [Shot(index=1, prompt="p", duration=6)]},
                 "multi_prompt[0].duration", id="shot-longer-than-total"),
    pytest.param({**V3O, "multi_shot": True, "shot_type": "intelligence", "prompt": None},
                 "prompt", id="intelligence-needs-prompt"),
    pytest.param({**V3O, "multi_shot": True, "shot_type": "intelligence", "multi_prompt": SHOTS_5},
                 "multi_prompt", id="intelligence-takes-no-shots"),
    pytest.param({"multi_prompt": SHOTS_5}, "multi_prompt", id="shots-without-multi-shot"),
    pytest.param({"shot_type": "customize"}, "shot_type", id="shot-type-without-multi-shot"),
    pytest.param({"multi_shot": True, "shot_type": "intelligence"}, "multi_shot",
                 id="no-multi-shot-on-o1"),
    pytest.param({"image_list": [END], "aspect_ratio": None}, "image_list[0].type",
                 id="end-needs-first"),
    pytest.param({"image_list": [FIRST, FIRST], "aspect_ratio": None}, "image_list[1].type",
                 id="two-first-frames"),
    pytest.param({"image_list": [FIRST, REF, END], "aspect_ratio": None}, "image_list[2].type",
                 id="end-with-more-than-2-images"),
    pytest.param({"image_list": [FIRST], "video_list": [BASE], "aspect_ratio": None},
                 "image_list[0].type", id="frames-with-base-video"),
    pytest.param({"video_list": [FEATURE, FEATURE]}, "video_list", id="two-videos"),
    pytest.param({"image_list": [REF] * 8}, "image_list", id="8-references-without-video"),
    pytest.param({"image_list": [REF] * 3, "element_list": [Element(element_id=1)] * 2,
                  "video_list": [FEATURE]}, "image_list", id="5-references-with-video"),
    pytest.param({"video_list": [FEATURE], "sound": "on"}, "sound", id="sound-with-video"),
    pytest.param({"sound": "yes"}, "sound", id="sound-enum"),
    pytest.param({"duration": 7}, "duration", id="o1-pure-t2v-5-or-10"),
    pytest.param({"duration": 11, "image_list": [REF]}, "duration", id="o1-max-10"),
    pytest.param({"model_name": "kling-v3-omni", "duration": 16}, "duration", id="v3-max-15"),
    pytest.param({"duration": 0}, "duration", id="duration-zero"),
    pytest.param({"duration": "5s"}, "duration", id="duration-not-int"),
    pytest.param({"duration": 5.0}, "duration", id="duration-float"),
    pytest.param({"model_name": "kling-v3"}, "model_name", id="t2v-model-on-omni"),
]


@pytest.mark.parametrize(("changes", "field"), OMNI_VIOLATIONS)
def test_omni_video_rejects(changes: dict[str, Any], field: str) -> None:
    """Each omni-video rule is enforced at construction, naming the wire path."""
    kwargs: dict[str, Any] = {"prompt": "p", "aspect_ratio": "16:9"}
    with pytest.raises(ValidationError) as caught:
        OmniVideoRequest(**{**kwargs, **changes})
    assert caught.value.field == field


PART_VIOLATIONS = [
    pytest.param(lambda: Shot(index=1, prompt="x" * 513, duration=1), "prompt",
                 id="shot-prompt-512"),
    pytest.param(lambda: Shot(index=1, prompt="p", duration=0), "duration", id="shot-duration-0"),
    pytest.param(lambda: Shot(index="1", prompt="p", duration=1), "index", id="shot-index-str"),  # type: ignore[arg-type]
    pytest.param(lambda: OmniVideoImage(image_url="u", type="last_frame"), "type",  # type: ignore[arg-type]
                 id="image-type-enum"),
    pytest.param(lambda: OmniVideoImage(image_url=""), "image_url", id="image-url-empty"),
    pytest.param(lambda: OmniVideoVideo(video_url="v", refer_type="edit"), "refer_type",  # type: ignore[arg-type]
                 id="refer-type-enum"),
    pytest.param(lambda: OmniVideoVideo(video_url="v", keep_original_sound="true"),  # type: ignore[arg-type]
                 "keep_original_sound", id="keep-sound-enum"),
    pytest.param(lambda: Element(element_id=1.0), "element_id", id="element-float"),  # type: ignore[arg-type]
    pytest.param(lambda: Element(element_id=2**63), "element_id", id="element-over-64-bit"),
    pytest.param(lambda: Element(element_id=0), "element_id", id="element-zero"),
    pytest.param(lambda: CameraControl(type="orbit"), "type", id="camera-type-enum"),  # type: ignore[arg-type]
    pytest.param(lambda: CameraControl(type="simple"), "config", id="simple-needs-config"),
    pytest.param(lambda: CameraControl(type="simple", config=CameraConfig()), "config",
                 id="simple-all-zero"),
    pytest.param(lambda: CameraControl(type="simple", config=CameraConfig(pan=1, tilt=1)),
                 "config", id="simple-two-axes"),
    pytest.param(lambda: CameraControl(type="down_back", config=CameraConfig(pan=1)), "config",
                 id="preset-takes-no-config"),
    pytest.param(lambda: CameraConfig(roll=-10.5), "roll", id="axis-range"),
    pytest.param(lambda: DynamicMask(mask="m", trajectories=[TrajectoryPoint(x=0, y=0)]),
                 "trajectories", id="trajectory-one-point"),
    pytest.param(lambda: DynamicMask(mask="m", trajectories=[TrajectoryPoint(x=0, y=0)] * 78),
                 "trajectories", id="trajectory-78-points"),
    pytest.param(lambda: TrajectoryPoint(x=0.5, y=0), "x", id="point-int"),  # type: ignore[arg-type]
    pytest.param(lambda: Voice(voice_id=""), "voice_id", id="voice-empty"),
]


@pytest.mark.parametrize(("build", "field"), PART_VIOLATIONS)
def test_parts_reject(build: Any, field: str) -> None:
    """Each part validates itself at construction."""
    with pytest.raises(ValidationError) as caught:
        build()
    assert caught.value.field == field


T2V_VIOLATIONS = [
    pytest.param({"prompt": None}, "prompt", id="prompt-required"),
    pytest.param({"negative_prompt": "x" * 2501}, "negative_prompt", id="negative-too-long"),
    pytest.param({"cfg_scale": 1.1}, "cfg_scale", id="cfg-range"),
    pytest.param({"cfg_scale": 0.5, "model_name": "kling-v2-master"}, "cfg_scale",
                 id="cfg-not-on-v2"),
    pytest.param({"sound": "on"}, "sound", id="sound-not-on-v1"),
    pytest.param({"duration": 3}, "duration", id="pre-v3-5-or-10"),
    pytest.param({"model_name": "kling-v3", "duration": 16}, "duration", id="v3-max-15"),
    pytest.param({"multi_shot": True, "shot_type": "intelligence"}, "multi_shot",
                 id="multi-shot-v3-only"),
    pytest.param({"aspect_ratio": "21:9"}, "aspect_ratio", id="ratio-enum"),
    pytest.param({"mode": "standard"}, "mode", id="mode-standard"),
    pytest.param({"camera_control": {"type": "simple"}}, "camera_control", id="camera-dict"),
    pytest.param({"model_name": "kling-v1-5"}, "model_name", id="i2v-only-model"),
]


@pytest.mark.parametrize(("changes", "field"), T2V_VIOLATIONS)
def test_text_to_video_rejects(changes: dict[str, Any], field: str) -> None:
    """Each text-to-video rule is enforced at construction, naming the field."""
    with pytest.raises(ValidationError) as caught:
        TextToVideoRequest(**{"prompt": "p", **changes})
    assert caught.value.field == field


def test_text_to_video_v3_multi_shot_with_sound() -> None:
    """kling-v3 takes multi-shot customize, sound and cfg_scale together."""
    req = TextToVideoRequest(model_name="kling-v3", multi_shot=True, shot_type="customize",
                             multi_prompt=SHOTS_5, sound="on", cfg_scale=0.3, camera_control=ZOOM)
    assert req.prompt is None


I2V_VIOLATIONS = [
    pytest.param({"image": None}, "image", id="needs-image-or-tail"),
    pytest.param({"image_tail": "t", "camera_control": ZOOM}, "camera_control",
                 id="tail-vs-camera"),
    pytest.param({"image_tail": "t", "static_mask": "m"}, "static_mask", id="tail-vs-static-mask"),
    pytest.param({"dynamic_masks": [MASK], "camera_control": ZOOM}, "camera_control",
                 id="masks-vs-camera"),
    pytest.param({"dynamic_masks": [MASK] * 7}, "dynamic_masks", id="more-than-6-masks"),
    pytest.param({"voice_list": [Voice(voice_id="v")], "model_name": "kling-v2-6"}, "sound",
                 id="voices-need-sound-on"),
    pytest.param({"voice_list": [Voice(voice_id="v")] * 3, "model_name": "kling-v2-6",
                  "sound": "on"}, "voice_list", id="more-than-2-voices"),
    pytest.param({"voice_list": [Voice(voice_id="v")], "sound": "on"}, "voice_list",
                 id="voices-v2-6-plus"),
    pytest.param({"model_name": "kling-v2-6", "multi_shot": True, "shot_type": "intelligence",
                  "prompt": "p"}, "multi_shot", id="multi-shot-not-v2-6"),
    pytest.param({"model_name": "kling-v3", "multi_shot": True, "shot_type": "intelligence"},
                 "prompt", id="intelligence-needs-prompt"),
    pytest.param({"cfg_scale": 0.5, "model_name": "kling-v2-1"}, "cfg_scale", id="cfg-not-v2"),
    pytest.param({"duration": "15"}, "duration", id="pre-v3-5-or-10"),
    pytest.param({"prompt": "x" * 2501}, "prompt", id="prompt-too-long"),
]


@pytest.mark.parametrize(("changes", "field"), I2V_VIOLATIONS)
def test_image_to_video_rejects(changes: dict[str, Any], field: str) -> None:
    """Each image-to-video rule is enforced at construction, naming the field."""
    with pytest.raises(ValidationError) as caught:
        ImageToVideoRequest(**{"image": "https://x.test/a.png", **changes})
    assert caught.value.field == field


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"image_tail": "t"}, id="tail-only"),
        pytest.param({"image": "i", "image_tail": "t"}, id="first-and-tail"),
        pytest.param({"image": "i", "static_mask": "m", "dynamic_masks": [MASK] * 6},
                     id="six-masks"),
        pytest.param({"image": "i", "camera_control": CameraControl(type="forward_up")},
                     id="preset-camera"),
        pytest.param({"image": "i", "model_name": "kling-v2-6", "sound": "on",
                      "voice_list": [Voice(voice_id="a"), Voice(voice_id="b")]}, id="two-voices"),
        pytest.param({"image": "i", "model_name": "kling-v3", "duration": 3}, id="v3-3s"),
    ],
)
def test_image_to_video_accepts(kwargs: dict[str, Any]) -> None:
    """Documented image-to-video combinations construct."""
    ImageToVideoRequest(**kwargs)


@FAST
@given(durations=st.lists(st.integers(1, 15), min_size=1, max_size=6), total=st.integers(3, 15))
def test_shot_durations_must_sum_to_total(durations: list[int], total: int) -> None:
    """Customized shots are accepted exactly when each fits and they sum to the duration."""
    shots = [Shot(index=i + 1, prompt="p", duration=d) for i, d in enumerate(durations)]

    def build() -> TextToVideoRequest:
        return TextToVideoRequest(model_name="kling-v3", multi_shot=True, shot_type="customize",
                                  multi_prompt=shots, duration=total)

    if sum(durations) == total:
        assert build().duration == str(total)
    else:
        with pytest.raises(ValidationError) as caught:
            build()
        assert caught.value.field.startswith("multi_prompt")


@FAST
@given(axes=st.dictionaries(
    st.sampled_from(["horizontal", "vertical", "pan", "tilt", "roll", "zoom"]),
    st.floats(-10, 10).filter(bool), max_size=6))
def test_simple_camera_needs_exactly_one_axis(axes: dict[str, float]) -> None:
    """A simple camera move is accepted exactly when one axis is non-zero."""
    config = CameraConfig(**axes)
    if len(axes) == 1:
        CameraControl(type="simple", config=config)
    else:
        with pytest.raises(ValidationError) as caught:
            CameraControl(type="simple", config=config)
        assert caught.value.field == "config"


@FAST
@given(refs=st.integers(0, 9), elements=st.integers(0, 9), video=st.booleans())
def test_omni_video_reference_budget(refs: int, elements: int, video: bool) -> None:
    """Images + elements <= 7 without a video and <= 4 with one."""
    limit = 4 if video else 7

    def build() -> OmniVideoRequest:
        return OmniVideoRequest(
            prompt="p", aspect_ratio="1:1", image_list=[REF] * refs,
            element_list=[Element(element_id=3)] * elements,
            video_list=[FEATURE] if video else [],
        )

    if refs + elements <= limit:
        build()
    else:
        with pytest.raises(ValidationError) as caught:
            build()
        assert caught.value.field == "image_list"


# Built in Python with values of the wrong kind or size (issue 12): each is a ValidationError
# naming the field, never an OverflowError, ValueError or TypeError.
HOSTILE_CONSTRUCTIONS = [
    pytest.param(lambda: TextToVideoRequest(prompt=123), "prompt", id="t2v-prompt-int"),  # type: ignore[arg-type]
    pytest.param(lambda: TextToVideoRequest(prompt="p", duration=10**5000), "duration",
                 id="t2v-duration-5000-digits"),
    pytest.param(lambda: TextToVideoRequest(prompt="p", duration="9" * 5000), "duration",
                 id="t2v-duration-5000-digit-string"),
    pytest.param(lambda: TextToVideoRequest(prompt="p", cfg_scale=10**400), "cfg_scale",
                 id="t2v-cfg-scale-400-digits"),
    pytest.param(lambda: TextToVideoRequest(prompt="p", model_name="kling-\ud800"), "model_name",
                 id="t2v-model-surrogate"),
    pytest.param(lambda: TextToVideoRequest(prompt="p", multi_prompt=5), "multi_prompt",  # type: ignore[arg-type]
                 id="t2v-multi-prompt-int"),
    pytest.param(lambda: OmniVideoRequest(prompt="p", aspect_ratio="1:1",
                                          external_task_id="job-\udfff"), "external_task_id",
                 id="omni-external-id-surrogate"),
    pytest.param(lambda: ImageToVideoRequest(image="i", negative_prompt="\ud800"),
                 "negative_prompt", id="i2v-negative-prompt-surrogate"),
    pytest.param(lambda: CameraConfig(pan=10**400), "pan", id="camera-axis-400-digits"),
    pytest.param(lambda: CameraConfig(zoom=-(10**400)), "zoom", id="camera-axis-minus-huge"),
    pytest.param(lambda: Shot(index=10**400, prompt="p", duration=1), "index",
                 id="shot-index-400-digits"),
    pytest.param(lambda: Shot(index=True, prompt="p", duration=1), "index", id="shot-index-bool"),
    pytest.param(lambda: Shot(index=1, prompt="p", duration="9" * 5000), "duration",
                 id="shot-duration-5000-digit-string"),
    pytest.param(lambda: Shot(index=1, prompt="\udc00", duration=1), "prompt",
                 id="shot-prompt-surrogate"),
    pytest.param(lambda: Element(element_id="9" * 5000), "element_id",
                 id="element-5000-digit-string"),
    pytest.param(lambda: Element(element_id=-(10**5000)), "element_id",
                 id="element-minus-5000-digits"),
    pytest.param(lambda: Element(element_id=[1]), "element_id", id="element-list"),  # type: ignore[arg-type]
    pytest.param(lambda: TrajectoryPoint(x=2**63, y=0), "x", id="point-past-64-bit"),
    pytest.param(lambda: TrajectoryPoint(x=0, y=10**5000), "y", id="point-5000-digits"),
    pytest.param(lambda: DynamicMask(mask="m", trajectories=None), "trajectories",  # type: ignore[arg-type]
                 id="mask-trajectories-none"),
    pytest.param(lambda: Voice(voice_id="v\ud800"), "voice_id", id="voice-surrogate"),
    pytest.param(lambda: OmniVideoVideo(video_url="\ud800"), "video_url",
                 id="video-url-surrogate"),
]


@pytest.mark.parametrize(("build", "field"), HOSTILE_CONSTRUCTIONS)
def test_hostile_constructor_values_are_validation_errors(build: Any, field: str) -> None:
    """Wrong kinds and huge sizes fail at construction as a ValidationError naming the field,
    with a short message whatever the value."""
    with pytest.raises(ValidationError) as caught:
        build()
    assert caught.value.field == field
    assert len(str(caught.value)) < 400


def test_a_request_that_constructs_is_always_utf8_json() -> None:
    """Lone surrogates are refused, so a request that exists can always be sent: dump_request
    gives UTF-8-encodable JSON (a paired emoji is fine)."""
    import json

    from kling_async import dump_request

    request = TextToVideoRequest(prompt="cat \U0001f600", negative_prompt="\u00e9t\u00e9")
    json.dumps(dump_request(request), ensure_ascii=False).encode("utf-8")
