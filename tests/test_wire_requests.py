"""The request side of the wire format: dump_request / load_request."""

from __future__ import annotations

import json
from typing import Any, Literal

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kling_async import KlingWireWarning
from kling_async._errors import ValidationError
from kling_async._models.catalog import (
    IMAGE_GENERATIONS,
    IMAGE_TO_VIDEO,
    OMNI_IMAGE,
    OMNI_VIDEO,
    TEXT_TO_VIDEO,
    known_models,
    model_spec,
)
from kling_async._models.images import ImageGenerationRequest, OmniImageRequest
from kling_async._models.parts import (
    CameraConfig,
    CameraControl,
    DynamicMask,
    Element,
    OmniImageItem,
    OmniVideoImage,
    OmniVideoVideo,
    Shot,
    TrajectoryPoint,
    Voice,
    WatermarkInfo,
)
from kling_async._models.videos import ImageToVideoRequest, OmniVideoRequest, TextToVideoRequest
from kling_async._wire import dump_request, load_request

BIG_ID = 829836802793406551  # > 2**53: a float would round it
FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def strip_comments(text: str) -> dict[str, Any]:
    """A seed example's JSON without its ``//`` comment lines."""
    kept = [line for line in text.splitlines() if not line.lstrip().startswith("//")]
    loaded: dict[str, Any] = json.loads("\n".join(kept))
    return loaded


# The request examples of the seed docs (/work/shared/seeds), verbatim but for long URLs.
SEED_OMNI_IMAGE = """{
    "model_name": "kling-image-o1",
    "prompt": "生成一张海边跳舞的图片",
    // "image_list": [
    //     {
    //         "image": "https://p2-fdl.klingai.com/ksc2/z3PF.png"
    //     }
    // ],
    "element_list": [
        {
            "element_id": 835266081714884677
        }
    ],
    "resolution": "",
    "n": 1,
    "aspect_ratio": "",
    "callback_url": "",
    "external_task_id": ""
}"""
SEED_IMAGE_GENERATION = """{
    "model_name": "kling-v1",
    "prompt": "生成一张海边的图",
    "negative_prompt": "",
    "image": "",
    "image_reference": "",
    // "image_fidelity": "0.5",
    "human_fidelity": 0.45,
    "resolution": "1k",
    "n": 2,
    "aspect_ratio": "16:9",
    "callback_url": ""
}"""
SEED_OMNI_VIDEO = """{
    "model_name": "kling-video-o1",
    "prompt": "生成一个海边有一个人跳舞的视频",
    "negative_prompt": "",
    // "cfg_scale": 0.5,
    "mode": "std",
    // "sound": "off",
    // "image_list": [
    //     {
    //         "image_url": "https://h2.inkwai.com/bs2/raw_image_0.jpg",
    //         "type": "first_frame"
    //     }
    // ],
    "element_list": [
        {
            "element_id": 835266081714884677
        }
    ],
    "aspect_ratio": "16:9",
    "duration": "5",
    "callback_url": "",
    "external_task_id": ""
}"""
SEED_OMNI_IMAGE_CURL = """{
    "model_name": "kling-image-o1",
    "prompt": "<<<image_1>>>同风格的科幻城市",
    "image_list": [
      {"image": "https://example.com/ref.jpg"}
    ],
    "aspect_ratio": "16:9",
    "resolution": "1k",
    "n": 1
}"""
SEED_LEGACY_MODEL = """{
    "model": "kling-v1",
    "prompt": "A cat",
    "negative_prompt": "Not a dog",
    "callback_url": "https://baidu.com",
    "aspect_ratio": "16:9",
    "n":1,
    "image": "https://db.xiaohuhd.com/1.jpeg"

}"""


# --- seeds ---------------------------------------------------------------------------------------


def test_seed_omni_image_loads_with_empty_strings_as_unset() -> None:
    """The omni-image seed loads; its "" values mean "not set" and the element id stays exact."""
    req = load_request("images/omni-image", strip_comments(SEED_OMNI_IMAGE))
    assert req == OmniImageRequest(
        model_name="kling-image-o1", prompt="生成一张海边跳舞的图片", n=1,
        element_list=(Element(element_id=835266081714884677),),
    )
    assert dump_request(req)["element_list"] == [{"element_id": 835266081714884677}]


def test_seed_omni_video_loads_and_drops_empty_unknown_key() -> None:
    """The omni-video seed loads; its empty ``negative_prompt`` (not an omni field) is dropped."""
    req = load_request("/v1/videos/omni-video", strip_comments(SEED_OMNI_VIDEO))
    assert req == OmniVideoRequest(
        model_name="kling-video-o1", prompt="生成一个海边有一个人跳舞的视频", mode="std",
        element_list=(Element(element_id=835266081714884677),), aspect_ratio="16:9", duration="5",
    )


def test_seed_omni_image_curl_example_loads() -> None:
    """The gateway's documented omni-image curl body loads unchanged."""
    req = load_request("images/omni-image", json.loads(SEED_OMNI_IMAGE_CURL))
    assert req.image_list == (OmniImageItem(image="https://example.com/ref.jpg"),)


def test_seed_image_generation_sends_human_fidelity_without_subject() -> None:
    """The image-generation seed sets human_fidelity without image_reference=subject: rejected."""
    with pytest.raises(ValidationError) as caught:
        load_request("images/generations", strip_comments(SEED_IMAGE_GENERATION))
    assert caught.value.field == "human_fidelity"


def test_seed_image_generation_without_human_fidelity_loads() -> None:
    """Without that one key, the image-generation seed loads with its "" values unset."""
    payload = strip_comments(SEED_IMAGE_GENERATION)
    del payload["human_fidelity"]
    req = load_request("images/generations", payload)
    assert req == ImageGenerationRequest(
        model_name="kling-v1", prompt="生成一张海边的图", resolution="1k", n=2, aspect_ratio="16:9"
    )


def test_legacy_model_key_warns_and_maps_to_model_name() -> None:
    """The legacy ``model`` key warns (the API would read it as kling-v1) and maps to model_name."""
    payload = json.loads(SEED_LEGACY_MODEL)
    del payload["negative_prompt"]
    with pytest.warns(KlingWireWarning, match="model_name") as warned:
        req = load_request("images/generations", payload)
    assert [w.filename for w in warned] == [__file__]  # it points at the caller's line
    assert req.model_name == "kling-v1"
    assert "model" not in dump_request(req)
    assert dump_request(req)["model_name"] == "kling-v1"


def test_legacy_seed_example_warns_then_breaks_the_negative_prompt_rule() -> None:
    """The legacy seed as written sets negative_prompt with image: it warns, then is rejected."""
    with pytest.warns(KlingWireWarning), pytest.raises(ValidationError) as caught:
        load_request("images/generations", json.loads(SEED_LEGACY_MODEL))
    assert caught.value.field == "negative_prompt"


def test_legacy_model_conflicting_with_model_name_is_rejected() -> None:
    """``model`` and ``model_name`` with different values is an error, not a guess."""
    with pytest.raises(ValidationError) as caught:
        load_request("images/generations",
                     {"model": "kling-v1", "model_name": "kling-v2", "prompt": "p"})
    assert caught.value.field == "model"


# --- dump ----------------------------------------------------------------------------------------


def test_dump_uses_wire_names_strings_and_omits_none() -> None:
    """The body has model_name, string durations, JSON booleans, nested objects and no Nones."""
    req = TextToVideoRequest(
        model_name="kling-v3", multi_shot=True, shot_type="customize", duration=7,
        multi_prompt=[Shot(index=1, prompt="a", duration=3), Shot(index=2, prompt="b",
                                                                  duration="4")],
        watermark_info=WatermarkInfo(enabled=False),
        camera_control=CameraControl(type="simple", config=CameraConfig(zoom=5)),
    )
    assert dump_request(req) == {
        "watermark_info": {"enabled": False},
        "model_name": "kling-v3",
        "multi_shot": True,
        "shot_type": "customize",
        "multi_prompt": [
            {"index": 1, "prompt": "a", "duration": "3"},
            {"index": 2, "prompt": "b", "duration": "4"},
        ],
        "camera_control": {"type": "simple", "config": {
            "horizontal": 0.0, "vertical": 0.0, "pan": 0.0, "tilt": 0.0, "roll": 0.0, "zoom": 5,
        }},
        "duration": "7",
    }


def test_dump_keeps_64_bit_element_id_exact_through_json() -> None:
    """A 64-bit element id is dumped as an int and survives json.dumps/json.loads exactly."""
    req = OmniVideoRequest(prompt="p", aspect_ratio="1:1",
                           element_list=[Element(element_id=str(BIG_ID))])
    text = json.dumps(dump_request(req))
    assert str(BIG_ID) in text
    assert json.loads(text)["element_list"][0]["element_id"] == BIG_ID
    assert load_request("videos/omni-video", json.loads(text)) == req


def test_dump_rejects_non_requests() -> None:
    """dump_request takes request objects only."""
    with pytest.raises(ValidationError) as caught:
        dump_request({"prompt": "p"})
    assert caught.value.field == "request"


# --- load leniency and strictness ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "payload", "expected"),
    [
        pytest.param("images/generations", {"prompt": "p", "n": "2", "image": "u",
                                            "image_fidelity": "0.5"},
                     ImageGenerationRequest(prompt="p", n=2, image="u", image_fidelity=0.5),
                     id="numbers-as-strings"),
        pytest.param("videos/text2video", {"prompt": "p", "duration": 10},
                     TextToVideoRequest(prompt="p", duration="10"), id="duration-as-int"),
        pytest.param("videos/omni-video", {"prompt": "p", "aspect_ratio": "1:1",
                                           "multi_shot": "false"},
                     OmniVideoRequest(prompt="p", aspect_ratio="1:1", multi_shot=False),
                     id="bool-as-string"),
        pytest.param("images/omni-image", {"prompt": "p", "image_list": [{"image_url": "u"}]},
                     OmniImageRequest(prompt="p", image_list=[OmniImageItem(image="u")]),
                     id="image_url-alias"),
        pytest.param("images/omni-image", {"prompt": "p", "element_list": [{"element_id":
                                                                            str(BIG_ID)}]},
                     OmniImageRequest(prompt="p", element_list=[Element(element_id=BIG_ID)]),
                     id="element-id-as-string"),
        pytest.param("images/omni-image", {"prompt": "p", "typo": "", "other": None},
                     OmniImageRequest(prompt="p"), id="empty-unknown-keys-dropped"),
        pytest.param("videos/text2video", {"prompt": "p", "multi_prompt": [{"index": 1.0,
                                                                           "prompt": "x",
                                                                           "duration": 5}],
                                           "multi_shot": True, "shot_type": "customize",
                                           "model_name": "kling-v3"},
                     TextToVideoRequest(prompt="p", multi_shot=True, shot_type="customize",
                                        model_name="kling-v3",
                                        multi_prompt=[Shot(index=1, prompt="x", duration="5")]),
                     id="shot-index-as-number"),
    ],
)
def test_load_accepts_documented_spellings(endpoint: str, payload: dict[str, Any],
                                           expected: object) -> None:
    """load_request accepts the spellings the reference and gateways use."""
    assert load_request(endpoint, payload) == expected


@pytest.mark.parametrize(
    ("endpoint", "payload", "field"),
    [
        pytest.param("images/generations", ["prompt"], "request", id="not-a-mapping"),
        pytest.param("images/generations", {"prompt": "p", "promt": "x"}, "promt", id="typo"),
        pytest.param("images/generations", {"prompt": ""}, "prompt", id="required-empty"),
        pytest.param("images/generations", {"n": 1}, "prompt", id="required-missing"),
        pytest.param("images/generations", {"prompt": "p", "n": "two"}, "n", id="n-not-number"),
        pytest.param("images/generations", {"prompt": "p", "n": 2.5}, "n", id="n-fraction"),
        pytest.param("images/omni-image", {"prompt": "p", "image_list": [{"image": "u"},
                                                                          {"img": "v"}]},
                     "image_list[1].img", id="nested-typo"),
        pytest.param("images/omni-image", {"prompt": "p", "image_list": [{}]},
                     "image_list[0].image", id="nested-required"),
        pytest.param("images/omni-image", {"prompt": "p", "image_list": [{"image": "a",
                                                                          "image_url": "b"}]},
                     "image_list[0].image_url", id="alias-conflict"),
        pytest.param("images/omni-image", {"prompt": "p", "element_list": [{"element_id":
                                                                            8.298368e17}]},
                     "element_list[0].element_id", id="element-id-float"),
        pytest.param("images/omni-image", {"prompt": "p", "image_list": {"image": "u"}},
                     "image_list", id="list-expected"),
        pytest.param("images/omni-image", {"prompt": "p", "watermark_info": True},
                     "watermark_info", id="object-expected"),
        pytest.param("videos/omni-video", {"model_name": "kling-v3-omni", "multi_shot": True,
                                           "shot_type": "customize", "aspect_ratio": "1:1",
                                           "duration": "5", "multi_prompt": [
                                               {"index": 1, "prompt": "a", "duration": "2"},
                                               {"index": 2, "prompt": "b", "duration": "0"}]},
                     "multi_prompt[1].duration", id="shot-duration-path"),
        pytest.param("videos/text2video", {"prompt": "p", "camera_control": {
            "type": "simple", "config": {"zoom": 11}}}, "camera_control.config.zoom",
                     id="camera-axis-path"),
        pytest.param("videos/image2video", {"image": "u", "dynamic_masks": [
            {"mask": "m", "trajectories": [{"x": 1, "y": 2}, {"x": "a", "y": 2}]}]},
                     "dynamic_masks[0].trajectories[1].x", id="trajectory-path"),
        pytest.param("videos/omni-video", {"prompt": "p", "aspect_ratio": "1:1",
                                           "model_name": "kling-v9"}, "model_name",
                     id="unknown-model"),
        pytest.param("videos/nope", {}, "endpoint", id="unknown-endpoint"),
    ],
)
def test_load_rejects_with_the_wire_path(endpoint: str, payload: Any, field: str) -> None:
    """load_request raises the construction-time ValidationError naming the wire path."""
    with pytest.raises(ValidationError) as caught:
        load_request(endpoint, payload)
    assert caught.value.field == field


# --- property tests ------------------------------------------------------------------------------

text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1,
               max_size=30).filter(str.strip)
urls = st.text("abcdef0123", min_size=1, max_size=8).map(lambda s: f"https://x.test/{s}.png")
unit = st.floats(0, 1, allow_nan=False)
elements = st.builds(Element, element_id=st.integers(1, 2**63 - 1))


def opt(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


common: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries({}, optional={
    "external_task_id": text, "callback_url": urls,
    "watermark_info": st.builds(WatermarkInfo, enabled=st.booleans()),
})


@st.composite
def shots_summing_to(draw: st.DrawFn, total: int) -> tuple[Shot, ...]:
    count = draw(st.integers(1, min(6, total)))
    cuts = sorted(draw(st.lists(st.integers(1, total - 1), min_size=count - 1,
                                max_size=count - 1, unique=True))) if count > 1 else []
    bounds = [0, *cuts, total]
    return tuple(Shot(index=i + 1, prompt=draw(text), duration=bounds[i + 1] - bounds[i])
                 for i in range(count))


@st.composite
def shot_fields(draw: st.DrawFn, multi_ok: bool, durations: tuple[str, ...] | None,
                prompt_required: bool, intelligence_only: bool = False) -> dict[str, Any]:
    """multi_shot / shot_type / multi_prompt / prompt / duration, consistent with each other."""
    allowed = durations or tuple(str(s) for s in range(1, 16))
    duration = draw(st.sampled_from(allowed))
    if multi_ok and draw(st.booleans()):
        if intelligence_only or draw(st.booleans()):
            return {"multi_shot": True, "shot_type": "intelligence", "prompt": draw(text),
                    "duration": draw(opt(st.just(duration)))}
        return {"multi_shot": True, "shot_type": "customize", "prompt": draw(opt(text)),
                "duration": duration, "multi_prompt": draw(shots_summing_to(int(duration)))}
    return {"multi_shot": draw(st.sampled_from([None, False])),
            "prompt": draw(text if prompt_required else opt(text)),
            "duration": draw(opt(st.just(duration)))}


@st.composite
def image_generation_requests(draw: st.DrawFn) -> ImageGenerationRequest:
    model = draw(opt(st.sampled_from(known_models(IMAGE_GENERATIONS))))
    spec = model_spec(IMAGE_GENERATIONS, model)
    image = draw(urls if spec.requires_image else opt(urls))
    reference = None
    if spec.image_reference and image:
        choices = st.sampled_from(["subject", "face"])
        reference = draw(choices if spec.image_reference_required else opt(choices))
    ratios = ["16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3"] + ["21:9"] * spec.wide_21_9
    most = 10 - (1 if image else 0) if spec.elements else 0
    return ImageGenerationRequest(
        model_name=model, prompt=draw(text), image=image, image_reference=reference,
        negative_prompt=None if image else draw(opt(text)),
        human_fidelity=draw(opt(unit)) if reference == "subject" else None,
        image_fidelity=draw(opt(unit)), resolution=draw(opt(st.sampled_from(spec.resolutions))),
        element_list=draw(st.lists(elements, max_size=most)),
        n=draw(opt(st.integers(1, 9))), aspect_ratio=draw(opt(st.sampled_from(ratios))),
        **draw(common),
    )


@st.composite
def omni_image_requests(draw: st.DrawFn) -> OmniImageRequest:
    model = draw(opt(st.sampled_from(known_models(OMNI_IMAGE))))
    spec = model_spec(OMNI_IMAGE, model)
    images = draw(st.lists(st.builds(OmniImageItem, image=urls), max_size=10))
    element_list = draw(st.lists(elements, max_size=10 - len(images)))
    result = draw(opt(st.sampled_from(["single", "series"] if spec.series else ["single"])))
    amounts = st.integers(2, 9) | st.just("auto")
    auto = ["auto"] if spec.text_auto_ratio or images or element_list else []
    return OmniImageRequest(
        model_name=model, prompt=draw(text), image_list=images, element_list=element_list,
        resolution=draw(opt(st.sampled_from(spec.resolutions))), result_type=result,
        series_amount=draw(opt(amounts)) if result == "series" else None,
        n=draw(opt(st.integers(1, 9))),
        aspect_ratio=draw(opt(st.sampled_from(["16:9", "1:1", "21:9", *auto]))),
        **draw(common),
    )


def modes(spec: Any, video: bool = False) -> st.SearchStrategy[Any]:
    """``mode`` values the model takes (4k on v3, not with a video unless allowed)."""
    four_k = spec.mode_4k and (not video or spec.mode_4k_with_video)
    return opt(st.sampled_from(["std", "pro", "4k"] if four_k else ["std", "pro"]))


@st.composite
def omni_video_requests(draw: st.DrawFn) -> OmniVideoRequest:
    model = draw(opt(st.sampled_from(known_models(OMNI_VIDEO))))
    spec = model_spec(OMNI_VIDEO, model)
    video = draw(opt(st.builds(
        OmniVideoVideo, video_url=urls, refer_type=opt(st.sampled_from(["base", "feature"])),
        keep_original_sound=opt(st.sampled_from(["yes", "no"])),
    )))
    base = video is not None and video.is_base
    multi = spec.multi_shot and draw(st.booleans())
    kinds: list[str] = [] if (multi and not spec.multi_shot_frames) or base else draw(
        st.sampled_from([[], ["first_frame"], ["first_frame", "end_frame"]]))
    limit = (4 if video else 7) - len(kinds)
    refs = draw(st.integers(0, 0 if "end_frame" in kinds else limit))
    images = [OmniVideoImage(image_url=draw(urls), type=k) for k in kinds]  # type: ignore[arg-type]
    images += [OmniVideoImage(image_url=draw(urls)) for _ in range(refs)]
    most = limit - refs
    if kinds and spec.frame_elements is not None:
        most = min(most, spec.frame_elements)
    if "end_frame" in kinds and not spec.end_frame_elements:
        most = 0
    element_list = draw(st.lists(elements, max_size=most))
    basic = not video and not element_list and refs == 0 and "end_frame" not in kinds
    durations = spec.basic_durations if basic and spec.basic_durations else spec.durations
    shots = draw(shot_fields(multi, durations, prompt_required=True,
                             intelligence_only=video is not None))
    if not multi:
        shots.pop("multi_shot")
    return OmniVideoRequest(
        model_name=model, image_list=images, element_list=element_list,
        video_list=[video] if video else [],
        sound=draw(opt(st.just("off"))) if video else draw(opt(st.sampled_from(["on", "off"]))),
        mode=draw(modes(spec, video=video is not None)),
        aspect_ratio=None if kinds or base else draw(st.sampled_from(["16:9", "9:16", "1:1"])),
        **shots, **draw(common),
    )


camera = st.one_of(
    st.builds(CameraControl, type=st.sampled_from(["down_back", "forward_up",
                                                   "right_turn_forward", "left_turn_forward"])),
    st.tuples(st.sampled_from(["horizontal", "vertical", "pan", "tilt", "roll", "zoom"]),
              st.floats(-10, 10).filter(bool)).map(
        lambda a: CameraControl(type="simple", config=CameraConfig(**{a[0]: a[1]}))),
)


@st.composite
def text_to_video_requests(draw: st.DrawFn) -> TextToVideoRequest:
    model = draw(opt(st.sampled_from(known_models(TEXT_TO_VIDEO))))
    spec = model_spec(TEXT_TO_VIDEO, model)
    return TextToVideoRequest(
        model_name=model, negative_prompt=draw(opt(text)),
        sound=draw(opt(st.sampled_from(["on", "off"] if spec.sound else ["off"]))),
        cfg_scale=draw(opt(unit)) if spec.cfg_scale else None,
        mode=draw(modes(spec)), camera_control=draw(opt(camera)),
        aspect_ratio=draw(opt(st.sampled_from(["16:9", "9:16", "1:1"]))),
        **draw(shot_fields(spec.multi_shot, spec.durations, prompt_required=True)),
        **draw(common),
    )


masks = st.builds(DynamicMask, mask=urls, trajectories=st.lists(
    st.builds(TrajectoryPoint, x=st.integers(0, 4096), y=st.integers(0, 4096)),
    min_size=2, max_size=77))


@st.composite
def image_to_video_requests(draw: st.DrawFn) -> ImageToVideoRequest:
    model = draw(opt(st.sampled_from(known_models(IMAGE_TO_VIDEO))))
    spec = model_spec(IMAGE_TO_VIDEO, model)
    group = draw(st.sampled_from(["none", "tail", "masks", "camera"]))
    extra: dict[str, Any] = {}
    if group == "tail":
        extra = {"image_tail": draw(urls), "image": draw(opt(urls))}
    else:
        extra = {"image": draw(urls)}
    if group == "masks":
        extra["static_mask"] = draw(opt(urls))
        extra["dynamic_masks"] = draw(st.lists(masks, min_size=0 if extra["static_mask"] else 1,
                                               max_size=6))
    if group == "camera":
        extra["camera_control"] = draw(camera)
    voices = draw(st.lists(st.builds(Voice, voice_id=text), max_size=2)) if spec.voice_list else []
    element_list = draw(st.lists(elements, max_size=3)) if spec.elements and not voices else []
    sounds = ["on", "off"] if spec.sound else ["off"]
    sound: Literal["on", "off"] | None = "on" if voices else draw(opt(st.sampled_from(sounds)))
    return ImageToVideoRequest(
        model_name=model, negative_prompt=draw(opt(text)), voice_list=voices, sound=sound,
        element_list=element_list, cfg_scale=draw(opt(unit)) if spec.cfg_scale else None,
        mode=draw(modes(spec)),
        **draw(shot_fields(spec.multi_shot and (group != "tail" or spec.multi_shot_frames),
                           spec.durations, prompt_required=False)),
        **extra, **draw(common),
    )


ALL_REQUESTS = [
    pytest.param(IMAGE_GENERATIONS, image_generation_requests(), id="image-generation"),
    pytest.param(OMNI_IMAGE, omni_image_requests(), id="omni-image"),
    pytest.param(OMNI_VIDEO, omni_video_requests(), id="omni-video"),
    pytest.param(TEXT_TO_VIDEO, text_to_video_requests(), id="text2video"),
    pytest.param(IMAGE_TO_VIDEO, image_to_video_requests(), id="image2video"),
]


@pytest.mark.parametrize(("endpoint", "requests"), ALL_REQUESTS)
@FAST
@given(data=st.data())
def test_round_trip_through_json(endpoint: str, requests: st.SearchStrategy[Any],
                                 data: st.DataObject) -> None:
    """load_request(ep, json(dump_request(r))) == r for every valid request r."""
    req = data.draw(requests)
    body = dump_request(req)
    assert load_request(endpoint, body) == req
    assert load_request(endpoint, json.loads(json.dumps(body))) == req
    assert "model" not in body
    assert all(value is not None for value in body.values())


def _reference_dump(value: Any) -> Any:
    """dump_request's wire rules, written as plainly as possible: attrs objects become dicts
    of their set fields (None and empty tuples omitted), tuples become lists."""
    if attrs.has(type(value)):
        out = {}
        for field in attrs.fields(type(value)):
            item = getattr(value, field.name)
            if item is None or item == ():
                continue
            out[field.name] = _reference_dump(item)
        return out
    if isinstance(value, tuple):
        return [_reference_dump(item) for item in value]
    return value


@pytest.mark.parametrize(("endpoint", "requests"), ALL_REQUESTS)
@FAST
@given(data=st.data())
def test_dump_matches_the_plain_wire_rules(endpoint: str, requests: st.SearchStrategy[Any],
                                           data: st.DataObject) -> None:
    """The per-class dumpers give exactly what the plain rules give, key order
    included, for every request class and its nested parts."""
    req = data.draw(requests)
    body = dump_request(req)
    expected = _reference_dump(req)
    assert body == expected
    assert json.dumps(body) == json.dumps(expected)


@FAST
@given(ids=st.lists(st.integers(2**53 + 1, 2**63 - 1), min_size=1, max_size=4))
def test_element_ids_stay_exact_through_json(ids: list[int]) -> None:
    """Element ids above 2**53 come back from JSON as the same int."""
    req = OmniImageRequest(prompt="p", element_list=[Element(element_id=i) for i in ids])
    body = json.loads(json.dumps(dump_request(req)))
    assert [e["element_id"] for e in body["element_list"]] == ids
    assert load_request(OMNI_IMAGE, body) == req


@FAST
@given(key=st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12), value=text)
def test_unknown_keys_with_a_value_are_named(key: str, value: str) -> None:
    """Any key that is not a field, given a real value, is a ValidationError naming that key."""
    known = {"prompt", "model", "model_name", "image_list", "element_list", "resolution",
             "result_type", "series_amount", "n", "aspect_ratio", "watermark_info",
             "callback_url", "external_task_id"}
    if key in known:
        return
    with pytest.raises(ValidationError) as caught:
        load_request(OMNI_IMAGE, {"prompt": "p", key: value})
    assert caught.value.field == key


# --- hostile values (issue 12): every rejection is a short ValidationError naming the field ------

HUGE = 10**310  # past a float: int -> float comparisons overflowed
DIGITS = "9" * 5000  # past Python 3.11's 4,300-digit limit for int(str)


def nested(depth: int = 1000) -> Any:
    """A list nested ``depth`` deep: its repr() or == recurses past the default limit."""
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


DEEP = nested()
SHOT_A = {"index": 1, "prompt": "a", "duration": "2"}
MULTI = {"model_name": "kling-v3", "multi_shot": True, "shot_type": "customize",
         "duration": "5"}

HOSTILE = [
    pytest.param(IMAGE_GENERATIONS, {"prompt": "p", "image_fidelity": HUGE}, "image_fidelity",
                 "must be in [0, 1]", id="310-digit-int-image-fidelity"),
    pytest.param(TEXT_TO_VIDEO, {"prompt": "p", "cfg_scale": -HUGE}, "cfg_scale",
                 "must be in [0, 1]", id="310-digit-int-cfg-scale"),
    pytest.param(TEXT_TO_VIDEO, {"prompt": "p", "camera_control": {
        "type": "simple", "config": {"pan": HUGE}}}, "camera_control.config.pan",
        "must be in [-10, 10]", id="310-digit-int-camera-axis"),
    pytest.param(OMNI_IMAGE, {"prompt": "p", "n": HUGE}, "n", "must be in [1, 9]",
                 id="310-digit-int-n"),
    pytest.param(IMAGE_GENERATIONS, {"prompt": "p", "n": DIGITS}, "n",
                 "must be a whole number in [1, 9]", id="5000-digit-string-n"),
    pytest.param(TEXT_TO_VIDEO, {"prompt": "p", "duration": DIGITS}, "duration",
                 "must be at most 2**63-1 seconds", id="5000-digit-string-duration"),
    pytest.param(OMNI_VIDEO, {"prompt": "p", "aspect_ratio": "1:1",
                              "element_list": [{"element_id": DIGITS}]},
                 "element_list[0].element_id", "must be in [1, 2**63-1] (a 64-bit id)",
                 id="5000-digit-string-element-id"),
    pytest.param(TEXT_TO_VIDEO, {**MULTI, "multi_prompt": [
        SHOT_A, {"index": DIGITS, "prompt": "b", "duration": "3"}]}, "multi_prompt[1].index",
        "must be a whole number in [-2**63, 2**63-1]", id="5000-digit-string-shot-index"),
    pytest.param(TEXT_TO_VIDEO, {**MULTI, "multi_prompt": [
        SHOT_A, {"index": 2, "prompt": "b", "duration": DIGITS}]}, "multi_prompt[1].duration",
        "must be at most 2**63-1 seconds", id="5000-digit-string-shot-duration"),
    pytest.param(IMAGE_TO_VIDEO, {"image": "i", "dynamic_masks": [{"mask": "m", "trajectories": [
        {"x": 1, "y": 1}, {"x": HUGE, "y": 1}]}]}, "dynamic_masks[0].trajectories[1].x",
        "must be in [-2**63, 2**63-1]", id="huge-int-trajectory-x"),
    pytest.param(TEXT_TO_VIDEO, {"prompt": DEEP}, "prompt", "must be a non-empty string",
                 id="1000-deep-prompt"),
    pytest.param(TEXT_TO_VIDEO, {"prompt": "p", "unknown": DEEP}, "unknown",
                 "is not a field of TextToVideoRequest", id="1000-deep-unknown-key"),
    pytest.param(TEXT_TO_VIDEO, {"prompt": "p", "watermark_info": {"enabled": DEEP}},
                 "watermark_info.enabled", "must be bool", id="1000-deep-nested-field"),
    pytest.param(OMNI_IMAGE, {"prompt": "p", "image_list": [{"image": DEEP, "image_url": DEEP}]},
                 "image_list[0].image_url", "conflicts with image", id="1000-deep-alias-pair"),
    pytest.param(TEXT_TO_VIDEO, {"prompt": "p", "model": DEEP, "model_name": DEEP}, "model",
                 "conflicts with model_name=[[[[...]]]]", id="1000-deep-legacy-model"),
    pytest.param(TEXT_TO_VIDEO, {"prompt": "p", "cfg_scale": float("nan")}, "cfg_scale",
                 "must be in [0, 1]", id="nan"),
    pytest.param(IMAGE_GENERATIONS, {"prompt": "p", "image_fidelity": "inf"}, "image_fidelity",
                 "must be a number in [0, 1]", id="inf-string"),
    pytest.param(TEXT_TO_VIDEO, {"prompt": "p", "cfg_scale": "1e400"}, "cfg_scale",
                 "must be a number in [0, 1]", id="overflowing-float-string"),
    pytest.param(IMAGE_GENERATIONS, {"prompt": "p", "n": "\u0665"}, "n",
                 "must be a whole number in [1, 9]", id="non-ascii-digit-n"),
    pytest.param(TEXT_TO_VIDEO, {"prompt": "p", "duration": True}, "duration",
                 "must be a whole number of seconds", id="bool-duration"),
    pytest.param(IMAGE_GENERATIONS, {"prompt": "p", "n": True}, "n",
                 "must be a whole number in [1, 9]", id="bool-n"),
    pytest.param(TEXT_TO_VIDEO, {"prompt": "p", "duration": "\u0665"}, "duration",
                 "must be a whole number of seconds", id="non-ascii-digit"),
    pytest.param(TEXT_TO_VIDEO, {"prompt": "p", 1: 2}, "request",
                 "has a key that is not a string", id="int-key"),
    pytest.param(TEXT_TO_VIDEO, {"prompt": "p", "camera_control": {("type",): "simple"}},
                 "camera_control", "has a key that is not a string", id="nested-tuple-key"),
    pytest.param(IMAGE_TO_VIDEO, {"image": "i", "dynamic_masks": [{}] * 1_000_000},
                 "dynamic_masks", "must hold at most 1000 items", id="million-item-list"),
    pytest.param(TEXT_TO_VIDEO, {"prompt": "a\ud800b"}, "prompt",
                 "must not hold a lone surrogate (U+D800 at index 1)", id="surrogate-prompt"),
    pytest.param(TEXT_TO_VIDEO, {**MULTI, "multi_prompt": [
        {"index": 1, "prompt": "\udfff", "duration": "5"}]}, "multi_prompt[0].prompt",
        "must not hold a lone surrogate", id="surrogate-shot-prompt"),
    pytest.param(OMNI_VIDEO, {"prompt": "p", "aspect_ratio": "1:1", "callback_url": "\udc80"},
                 "callback_url", "must not hold a lone surrogate", id="surrogate-callback-url"),
]


@pytest.mark.parametrize(("endpoint", "payload", "field", "rule"), HOSTILE)
def test_load_request_refuses_hostile_values_with_a_named_validation_error(
    endpoint: str, payload: Any, field: str, rule: str
) -> None:
    """Huge ints, long digit strings, deep nesting, NaN, bools, odd keys, huge lists and lone
    surrogates are each a ValidationError naming the wire path and the rule, in a short
    printable message (never an OverflowError, ValueError, RecursionError or TypeError)."""
    with pytest.raises(ValidationError) as caught:
        load_request(endpoint, payload)
    assert (caught.value.field, caught.value.rule[: len(rule)]) == (field, rule)
    message = str(caught.value)
    assert message.startswith(f"{field}: {rule}")
    assert len(message) < 600 and message.isprintable()


def test_a_jobs_file_prompt_with_an_escaped_lone_surrogate_is_refused_by_name() -> None:
    """JSON's "\\ud800" loads as a lone surrogate, which no UTF-8 body can carry: refused at
    load (dump_request and the request hash would otherwise fail on it)."""
    body = json.loads('{"prompt": "cat \\ud83d", "aspect_ratio": "1:1"}')
    with pytest.raises(ValidationError, match=r"^prompt: must not hold a lone surrogate") as got:
        load_request(OMNI_VIDEO, body)
    assert got.value.value == "cat \ud83d"
    paired = json.loads('{"prompt": "cat \\ud83d\\ude00", "aspect_ratio": "1:1"}')
    request = load_request(OMNI_VIDEO, paired)  # a proper pair is one character: fine
    assert json.dumps(dump_request(request), ensure_ascii=False).encode() == (
        '{"prompt": "cat \U0001f600", "aspect_ratio": "1:1"}'.encode())


def test_digit_strings_are_read_by_value_on_every_python() -> None:
    """Leading zeros do not count towards any digit limit: "000...05" (5,001 chars) is 5."""
    request = load_request(TEXT_TO_VIDEO, {"prompt": "p", "duration": "0" * 5000 + "5"})
    assert request.duration == "5"
    loaded = load_request(OMNI_IMAGE, {"prompt": "p", "element_list": [
        {"element_id": "0" * 5000 + str(BIG_ID)}]})
    assert loaded.element_list == (Element(element_id=BIG_ID),)


def test_unknown_keys_are_named_in_a_bounded_printable_message() -> None:
    """A 100,000-character key, or one with a newline or lone surrogate, is cut and escaped
    in the message; the error's field keeps the key as received."""
    key = "k\n\ud800" + "x" * 100_000
    with pytest.raises(ValidationError) as caught:
        load_request(TEXT_TO_VIDEO, {"prompt": "p", key: 1})
    assert caught.value.field == key
    message = str(caught.value)
    assert message.startswith("k\\n\\ud800xxx") and len(message) < 1000
    assert message.isprintable()


def test_load_request_refuses_an_endpoint_that_is_not_a_string() -> None:
    """load_request(123, ...) is a ValidationError on field endpoint, not an AttributeError."""
    with pytest.raises(ValidationError, match=r"^endpoint: "):
        load_request(123, {"prompt": "p"})  # type: ignore[arg-type]
