"""The legacy (``/v1``) request changes of the 2026 change log and capability maps (reference
section A, 2.3-2.6, 2.12, 2.13, 13): accepted at construction and by ``load_request``, refused
naming the wire field, and served end to end by the simulator (which validates every body
through the SDK's ``load_request``)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from kling_async import (
    ImageGenerationRequest,
    ImageToVideoRequest,
    OmniImageRequest,
    OmniVideoRequest,
    TextToVideoRequest,
    ValidationError,
    dump_request,
    known_models,
    load_request,
    model_spec,
    register_model,
)
from kling_async._endpoints import endpoint_for, task_weight
from kling_async._models import catalog
from kling_async._models.parts import (
    Element,
    OmniImageItem,
    OmniVideoImage,
    OmniVideoVideo,
    Shot,
    Voice,
)
from kling_async.testing import KlingSimulator
from tests._simhelpers import client_for

IMG = "https://x.test/a.png"
FIRST = OmniVideoImage(image_url="https://x.test/f.png", type="first_frame")
END = OmniVideoImage(image_url="https://x.test/e.png", type="end_frame")
REF = OmniVideoImage(image_url="https://x.test/r.png")
FEATURE = OmniVideoVideo(video_url="https://x.test/v.mp4", refer_type="feature")
BASE = OmniVideoVideo(video_url="https://x.test/v.mp4", refer_type="base")
SHOTS_10 = (Shot(index=1, prompt="a", duration=4), Shot(index=2, prompt="b", duration=6))
ELEMENTS = [Element(element_id=829836802793406551 + i) for i in range(10)]


@pytest.fixture(autouse=True)
def restore_catalog() -> Iterator[None]:
    """Registrations made by a test do not leak into others."""
    saved = copy.deepcopy(catalog._MODELS)
    yield
    catalog._MODELS.clear()
    catalog._MODELS.update(saved)


# --- accepted ---------------------------------------------------------------------------------

ACCEPTED: list[Any] = [
    # mode 4k (04/23/2026): kling-v3 text2video / image2video, kling-v3-omni omni-video
    pytest.param(lambda: TextToVideoRequest(model_name="kling-v3", prompt="p", mode="4k",
                                            duration=15), id="t2v-v3-4k"),
    pytest.param(lambda: ImageToVideoRequest(model_name="kling-v3", image=IMG, mode="4k"),
                 id="i2v-v3-4k"),
    pytest.param(lambda: OmniVideoRequest(model_name="kling-v3-omni", prompt="p", mode="4k",
                                          aspect_ratio="16:9"), id="omni-v3-4k-text"),
    pytest.param(lambda: OmniVideoRequest(model_name="kling-v3-omni", prompt="p", mode="4k",
                                          image_list=[FIRST, END]), id="omni-v3-4k-frames"),
    # omni-image series_amount "auto" (04/27/2026) and 4k on kling-v3-omni
    pytest.param(lambda: OmniImageRequest(model_name="kling-v3-omni", prompt="p",
                                          result_type="series", series_amount="auto"),
                 id="omni-image-series-auto"),
    pytest.param(lambda: OmniImageRequest(model_name="kling-v3-omni", prompt="p",
                                          resolution="4k"), id="omni-image-v3-omni-4k"),
    pytest.param(lambda: OmniImageRequest(model_name="kling-v3-omni", prompt="p",
                                          aspect_ratio="auto",
                                          image_list=[OmniImageItem(image=IMG)]),
                 id="omni-image-v3-omni-auto-ratio-with-image"),
    pytest.param(lambda: OmniImageRequest(prompt="p", aspect_ratio="auto"),
                 id="omni-image-o1-auto-ratio-text-only"),
    # multi-shot with first/last frames (05/07/2026) on kling-v3 and kling-v3-omni
    pytest.param(lambda: ImageToVideoRequest(
        model_name="kling-v3", image=IMG, image_tail=IMG, multi_shot=True,
        shot_type="customize", multi_prompt=SHOTS_10, duration=10), id="i2v-v3-multi-shot-tail"),
    pytest.param(lambda: OmniVideoRequest(
        model_name="kling-v3-omni", image_list=[FIRST, END], multi_shot=True,
        shot_type="customize", multi_prompt=SHOTS_10, duration=10),
        id="omni-v3-multi-shot-first-and-end"),
    pytest.param(lambda: OmniVideoRequest(
        model_name="kling-v3-omni", prompt="p", image_list=[FIRST], multi_shot=True,
        shot_type="intelligence"), id="omni-v3-intelligence-first-frame"),
    # v3-omni reference video 3-15 s; feature-video multi-shot via intelligence (06/17/2026)
    pytest.param(lambda: OmniVideoRequest(
        model_name="kling-v3-omni", prompt="shot 1 ... shot 2 ...", video_list=[FEATURE],
        multi_shot=True, shot_type="intelligence", aspect_ratio="16:9", duration=15),
        id="omni-v3-feature-video-intelligence-15s"),
    pytest.param(lambda: OmniVideoRequest(
        model_name="kling-v3-omni", prompt="p", video_list=[FEATURE], aspect_ratio="9:16",
        duration=15), id="omni-v3-feature-video-15s"),
    pytest.param(lambda: OmniVideoRequest(
        model_name="kling-v3-omni", prompt="p", image_list=[FIRST],
        element_list=ELEMENTS[:3]), id="omni-v3-first-frame-3-elements"),
    # image2video kling-v3 element_list / voice_list
    pytest.param(lambda: ImageToVideoRequest(model_name="kling-v3", image=IMG,
                                             element_list=ELEMENTS[:3]), id="i2v-v3-3-elements"),
    pytest.param(lambda: ImageToVideoRequest(
        model_name="kling-v3", image=IMG, prompt="<<<voice_1>>> says hi", sound="on",
        voice_list=[Voice(voice_id="v1"), Voice(voice_id="v2")]), id="i2v-v3-2-voices"),
    # images/generations: kling-v3 (the default), element_list, image_reference on kling-v2-1
    pytest.param(lambda: ImageGenerationRequest(prompt="p", resolution="2k", aspect_ratio="21:9"),
                 id="gen-default-is-v3"),
    pytest.param(lambda: ImageGenerationRequest(model_name="kling-v3", prompt="p",
                                                element_list=ELEMENTS), id="gen-v3-10-elements"),
    pytest.param(lambda: ImageGenerationRequest(model_name="kling-v3", prompt="p", image=IMG,
                                                element_list=ELEMENTS[:9]),
                 id="gen-v3-image-and-9-elements"),
    pytest.param(lambda: ImageGenerationRequest(
        model_name="kling-v2-1", prompt="p", image=IMG, image_reference="subject",
        image_fidelity=0.5, human_fidelity=0.45), id="gen-v2-1-subject-reference"),
    pytest.param(lambda: ImageGenerationRequest(model_name="kling-v2-1", prompt="p", image=IMG),
                 id="gen-v2-1-image-without-reference"),
    # older models stay usable
    pytest.param(lambda: ImageGenerationRequest(model_name="kling-v1-5", prompt="p", image=IMG,
                                                image_reference="face"), id="gen-v1-5-kept"),
    pytest.param(lambda: TextToVideoRequest(model_name="kling-v1-6", prompt="p", mode="pro"),
                 id="t2v-v1-6-kept"),
]


@pytest.mark.parametrize("build", ACCEPTED)
def test_accepted_and_round_trips(build: Any) -> None:
    """Each documented 2026 request constructs, and load_request(dump_request(r)) gives it back."""
    request = build()
    endpoint = endpoint_for(request).name
    assert load_request(endpoint, dump_request(request)) == request


# --- rejected ---------------------------------------------------------------------------------

REJECTED: list[Any] = [
    # mode 4k: only on the 3.0 models, not with a reference video on omni-video
    pytest.param(lambda: TextToVideoRequest(model_name="kling-v2-6", prompt="p", mode="4k"),
                 "mode", id="4k-not-on-t2v-v2-6"),
    pytest.param(lambda: ImageToVideoRequest(model_name="kling-v2-5-turbo", image=IMG,
                                             mode="4k"), "mode", id="4k-not-on-i2v-v2-5-turbo"),
    pytest.param(lambda: OmniVideoRequest(prompt="p", aspect_ratio="1:1", mode="4k"), "mode",
                 id="4k-not-on-o1"),
    pytest.param(lambda: OmniVideoRequest(model_name="kling-v3-omni", prompt="p", mode="4k",
                                          video_list=[FEATURE], aspect_ratio="1:1"), "mode",
                 id="4k-not-with-feature-video"),
    pytest.param(lambda: OmniVideoRequest(model_name="kling-v3-omni", prompt="p", mode="4k",
                                          video_list=[BASE]), "mode", id="4k-not-with-base-video"),
    pytest.param(lambda: TextToVideoRequest(model_name="kling-v3", prompt="p", mode="4K"),  # type: ignore[arg-type]
                 "mode", id="4k-is-lower-case"),
    pytest.param(lambda: TextToVideoRequest(model_name="kling-v3", prompt="p", mode="8k"),  # type: ignore[arg-type]
                 "mode", id="mode-enum"),
    # series_amount: 2-9 or "auto", only with series
    pytest.param(lambda: OmniImageRequest(model_name="kling-v3-omni", prompt="p",
                                          result_type="series", series_amount="many"),  # type: ignore[arg-type]
                 "series_amount", id="series-amount-word"),
    pytest.param(lambda: OmniImageRequest(model_name="kling-v3-omni", prompt="p",
                                          result_type="series", series_amount=1),
                 "series_amount", id="series-amount-1"),
    pytest.param(lambda: OmniImageRequest(model_name="kling-v3-omni", prompt="p",
                                          series_amount="auto"),
                 "series_amount", id="series-auto-without-series"),
    pytest.param(lambda: OmniImageRequest(prompt="p", result_type="series",
                                          series_amount="auto"),
                 "result_type", id="series-not-on-o1"),
    # omni-image 4k and auto ratio per the capability map
    pytest.param(lambda: OmniImageRequest(model_name="kling-image-o1", prompt="p",
                                          resolution="4k"), "resolution", id="4k-not-on-image-o1"),
    pytest.param(lambda: OmniImageRequest(model_name="kling-v3-omni", prompt="p",
                                          aspect_ratio="auto"), "aspect_ratio",
                 id="v3-omni-text-to-image-no-auto-ratio"),
    # multi-shot: not on O1; a feature video takes intelligence only
    pytest.param(lambda: OmniVideoRequest(prompt="p", aspect_ratio="1:1", multi_shot=True,
                                          shot_type="intelligence"), "multi_shot",
                 id="no-multi-shot-on-o1"),
    pytest.param(lambda: OmniVideoRequest(
        model_name="kling-v3-omni", video_list=[FEATURE], aspect_ratio="1:1", multi_shot=True,
        shot_type="customize", multi_prompt=SHOTS_10, duration=10), "shot_type",
        id="feature-video-multi-shot-needs-intelligence"),
    # element limits with frames
    pytest.param(lambda: OmniVideoRequest(model_name="kling-v3-omni", prompt="p",
                                          image_list=[FIRST], element_list=ELEMENTS[:4]),
                 "element_list", id="v3-omni-first-frame-4-elements"),
    pytest.param(lambda: OmniVideoRequest(prompt="p", image_list=[FIRST, END],
                                          element_list=ELEMENTS[:1]),
                 "element_list", id="o1-first-and-end-no-elements"),
    # image2video elements and voices
    pytest.param(lambda: ImageToVideoRequest(model_name="kling-v2-6", image=IMG,
                                             element_list=ELEMENTS[:1]),
                 "element_list", id="i2v-elements-v3-only"),
    pytest.param(lambda: ImageToVideoRequest(model_name="kling-v3", image=IMG,
                                             element_list=ELEMENTS[:4]),
                 "element_list", id="i2v-at-most-3-elements"),
    pytest.param(lambda: ImageToVideoRequest(
        model_name="kling-v3", image=IMG, sound="on", voice_list=[Voice(voice_id="v")],
        element_list=ELEMENTS[:1]), "voice_list", id="i2v-voices-not-with-elements"),
    pytest.param(lambda: ImageToVideoRequest(model_name="kling-v3", image=IMG,
                                             voice_list=[Voice(voice_id="v")]),
                 "sound", id="i2v-v3-voices-need-sound"),
    # images/generations
    pytest.param(lambda: ImageGenerationRequest(model_name="kling-v2-1", prompt="p",
                                                element_list=ELEMENTS[:1]),
                 "element_list", id="gen-elements-v3-only"),
    pytest.param(lambda: ImageGenerationRequest(model_name="kling-v3", prompt="p", image=IMG,
                                                element_list=ELEMENTS),
                 "element_list", id="gen-image-plus-10-elements"),
    pytest.param(lambda: ImageGenerationRequest(model_name="kling-v3", prompt="p", image=IMG,
                                                image_reference="face"),
                 "image_reference", id="gen-reference-not-on-v3"),
    pytest.param(lambda: ImageGenerationRequest(model_name="kling-v2-1", prompt="p",
                                                image_reference="subject"),
                 "image", id="gen-reference-needs-image"),
    pytest.param(lambda: ImageGenerationRequest(model_name="kling-v2-1", prompt="p", image=IMG,
                                                image_reference="body"),  # type: ignore[arg-type]
                 "image_reference", id="gen-reference-enum"),
]


@pytest.mark.parametrize(("build", "field"), REJECTED)
def test_rejected_naming_the_field(build: Any, field: str) -> None:
    """Each documented 2026 limit raises a ValidationError naming the wire field."""
    with pytest.raises(ValidationError) as caught:
        build()
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("endpoint", "body", "field"),
    [
        pytest.param("videos/text2video", {"model_name": "kling-v1", "prompt": "p",
                                           "mode": "4k"}, "mode", id="t2v-4k-v1"),
        pytest.param("images/omni-image", {"model_name": "kling-v3-omni", "prompt": "p",
                                           "result_type": "series", "series_amount": "all"},
                     "series_amount", id="series-amount-word"),
        pytest.param("videos/image2video", {"model_name": "kling-v3", "image": IMG,
                                            "element_list": [{"element_id": "x"}]},
                     "element_list[0].element_id", id="i2v-element-id"),
        pytest.param("images/generations", {"prompt": "p", "element_list": [{}]},
                     "element_list[0].element_id", id="gen-element-missing-id"),
    ],
)
def test_load_request_names_the_wire_path(endpoint: str, body: dict[str, Any],
                                          field: str) -> None:
    """load_request refuses the same rules, naming the wire path."""
    with pytest.raises(ValidationError) as caught:
        load_request(endpoint, body)
    assert caught.value.field == field


def test_series_amount_reads_wire_spellings() -> None:
    """series_amount is read as "auto" or a whole number (also as digit text)."""
    base = {"model_name": "kling-v3-omni", "prompt": "p", "result_type": "series"}
    assert load_request("images/omni-image", {**base, "series_amount": "auto"}).series_amount \
        == "auto"
    assert load_request("images/omni-image", {**base, "series_amount": "3"}).series_amount == 3
    with pytest.raises(ValidationError) as caught:
        load_request("images/omni-image", {**base, "series_amount": "AUTO"})
    error = caught.value
    assert error.field == "series_amount" and error.hint is not None and "'auto'" in error.hint


def test_series_auto_holds_nine_slots_up_front() -> None:
    """series_amount="auto" weighs 9 (the most it can make): the slots are held up front."""
    auto = OmniImageRequest(model_name="kling-v3-omni", prompt="p", result_type="series",
                            series_amount="auto")
    assert endpoint_for(auto).weight(auto) == 9
    assert task_weight("images/omni-image", dump_request(auto)) == 9
    fixed = OmniImageRequest(model_name="kling-v3-omni", prompt="p", result_type="series",
                             series_amount=3)
    assert endpoint_for(fixed).weight(fixed) == 3


# --- the catalog ------------------------------------------------------------------------------


def test_catalog_follows_the_2026_capability_maps() -> None:
    """The 3.0 rows carry the 2026 capabilities; O1 has no multi-shot (13.1, 13.2)."""
    for endpoint in ("videos/text2video", "videos/image2video"):
        v3 = model_spec(endpoint, "kling-v3")
        assert (v3.mode_4k, v3.multi_shot, v3.multi_shot_frames) == (True, True, True)
        assert not model_spec(endpoint, "kling-v2-6").mode_4k
    assert model_spec("videos/image2video", "kling-v3").elements
    omni = model_spec("videos/omni-video", "kling-v3-omni")
    assert (omni.mode_4k, omni.mode_4k_with_video, omni.multi_shot_frames) == (True, False, True)
    assert omni.frame_elements == 3
    o1 = model_spec("videos/omni-video", "kling-video-o1")
    assert (o1.multi_shot, o1.end_frame_elements, o1.frame_elements) == (False, False, None)
    assert model_spec("images/omni-image", "kling-v3-omni").resolutions == ("1k", "2k", "4k")
    assert model_spec("images/omni-image", "kling-image-o1").resolutions == ("1k", "2k")
    assert model_spec("images/generations", None).name == "kling-v3"
    assert model_spec("images/generations", "kling-v2-1").image_reference


def test_older_models_stay_in_the_catalog() -> None:
    """Models gone from the 2026 maps stay usable (gateways still serve them)."""
    assert {"kling-v1", "kling-v1-5", "kling-v2", "kling-v2-new"} <= set(
        known_models("images/generations"))
    assert {"kling-v1", "kling-v1-6", "kling-v2-master", "kling-v2-1-master"} <= set(
        known_models("videos/text2video"))


def test_unknown_model_keeps_the_register_model_way_out() -> None:
    """An unknown model id is still the clear error naming register_model, as before."""
    with pytest.raises(ValidationError) as caught:
        TextToVideoRequest(model_name="kling-v4", prompt="p", mode="4k")
    assert caught.value.field == "model_name"
    assert caught.value.hint is not None and "register_model" in caught.value.hint


def test_register_model_can_allow_4k_with_a_reference_video() -> None:
    """The contested 4K-with-reference-video is one catalog flag away."""
    register_model("videos/omni-video", "kling-v3-omni", durations=tuple(range(3, 16)),
                   mode_4k_with_video=True)
    OmniVideoRequest(model_name="kling-v3-omni", prompt="p", mode="4k", video_list=[FEATURE],
                     aspect_ratio="1:1")


def test_registered_element_limits_beside_frames() -> None:
    """frame_elements and end_frame_elements are catalog data a registered row sets."""
    register_model("videos/omni-video", "kling-x", frame_elements=1, end_frame_elements=False)
    OmniVideoRequest(model_name="kling-x", prompt="p", image_list=[FIRST],
                     element_list=ELEMENTS[:1])
    for images, count in (([FIRST], 2), ([FIRST, END], 1)):
        with pytest.raises(ValidationError) as caught:
            OmniVideoRequest(model_name="kling-x", prompt="p", image_list=images,
                             element_list=ELEMENTS[:count])
        assert caught.value.field == "element_list"
    with pytest.raises(ValidationError) as caught:
        register_model("videos/omni-video", "kling-x", frame_elements=True)
    assert caught.value.field == "frame_elements"


def test_registered_model_without_frames_in_multi_shot_is_refused() -> None:
    """multi_shot_frames=False keeps the older rule: no frames with multi-shot."""
    register_model("videos/omni-video", "kling-x", multi_shot_frames=False)
    register_model("videos/image2video", "kling-x", multi_shot_frames=False)
    with pytest.raises(ValidationError) as caught:
        OmniVideoRequest(model_name="kling-x", prompt="p", image_list=[FIRST], multi_shot=True,
                         shot_type="intelligence")
    assert caught.value.field == "image_list[0].type"
    with pytest.raises(ValidationError) as caught:
        ImageToVideoRequest(model_name="kling-x", image=IMG, image_tail=IMG, prompt="p",
                            multi_shot=True, shot_type="intelligence")
    assert caught.value.field == "image_tail"


# --- end to end through the simulator ----------------------------------------------------------

END_TO_END: list[Any] = [
    pytest.param(lambda: TextToVideoRequest(model_name="kling-v3", prompt="p", mode="4k"),
                 id="t2v-4k"),
    pytest.param(lambda: ImageToVideoRequest(model_name="kling-v3", image=IMG, mode="4k"),
                 id="i2v-4k"),
    pytest.param(lambda: OmniVideoRequest(model_name="kling-v3-omni", prompt="p", mode="4k",
                                          aspect_ratio="16:9"), id="omni-4k"),
    pytest.param(lambda: OmniImageRequest(model_name="kling-v3-omni", prompt="p",
                                          result_type="series", series_amount="auto"),
                 id="omni-image-series-auto"),
    pytest.param(lambda: OmniImageRequest(model_name="kling-v3-omni", prompt="p",
                                          resolution="4k"), id="omni-image-4k"),
    pytest.param(lambda: ImageToVideoRequest(
        model_name="kling-v3", image=IMG, image_tail=IMG, multi_shot=True,
        shot_type="customize", multi_prompt=SHOTS_10, duration=10), id="i2v-multi-shot-frames"),
    pytest.param(lambda: OmniVideoRequest(
        model_name="kling-v3-omni", image_list=[FIRST, END], multi_shot=True,
        shot_type="customize", multi_prompt=SHOTS_10, duration=10),
        id="omni-multi-shot-frames"),
    pytest.param(lambda: OmniVideoRequest(
        model_name="kling-v3-omni", prompt="p", video_list=[FEATURE], multi_shot=True,
        shot_type="intelligence", aspect_ratio="16:9", duration=15),
        id="omni-feature-video-intelligence-15s"),
    pytest.param(lambda: ImageToVideoRequest(model_name="kling-v3", image=IMG,
                                             element_list=ELEMENTS[:3]), id="i2v-elements"),
    pytest.param(lambda: ImageToVideoRequest(model_name="kling-v3", image=IMG, sound="on",
                                             voice_list=[Voice(voice_id="v")]),
                 id="i2v-v3-voices"),
    pytest.param(lambda: ImageGenerationRequest(model_name="kling-v3", prompt="p", image=IMG,
                                                element_list=ELEMENTS[:9]),
                 id="generations-v3-elements"),
    pytest.param(lambda: ImageGenerationRequest(model_name="kling-v2-1", prompt="p", image=IMG,
                                                image_reference="face"),
                 id="generations-v2-1-reference"),
]


@pytest.mark.anyio
@pytest.mark.parametrize("build", END_TO_END)
async def test_simulator_validates_and_serves_it(sim: KlingSimulator, build: Any) -> None:
    """The simulator (validating through load_request) accepts the request and the task ends
    with its result files."""
    request = build()
    async with client_for(sim) as client:
        job = await client.submit(request)
        task = await job.result()
    assert task.task_id == job.task_id
    assert task.urls
    (record,) = [t for t in sim.tasks() if t.task_id == job.task_id]
    assert record.weight == endpoint_for(request).weight(request)
