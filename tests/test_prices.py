"""``estimate_units``: the price table (reference §13.3) read from a request, an estimate.

Every priced row cites the §13.3 line it follows; the estimate of a request object, of its
wire body and of ``load_request(endpoint, body)`` must agree."""

from __future__ import annotations

from typing import Any

import pytest

from kling_async import (
    BaseVideo,
    FeatureVideo,
    FirstFrame,
    ImageGenerationRequest,
    ImageToVideoSettings,
    MotionControlRequest,
    MotionControlSettings,
    MotionImage,
    MotionVideo,
    NewImageToVideoRequest,
    NewOmniVideoRequest,
    NewTextToVideoRequest,
    OmniVideoSettings,
    PromptItem,
    TextToVideoRequest,
    TextToVideoSettings,
    VoiceItem,
    load_request,
)
from kling_async._prices import estimate_units
from kling_async.batch import BatchJob, SpendGuard, SpendLimitError

IMG = "https://x.example/a.png"
MP4 = "https://x.example/v.mp4"
T2V, I2V, OMNI, MOTION = "text-to-video", "image-to-video", "omni-video", "motion-control"


def _t2v(model: str, **settings: Any) -> tuple[str, Any, dict[str, Any]]:
    """A new-standard text-to-video request as (endpoint, object, wire body)."""
    obj = NewTextToVideoRequest(model=model, prompt="waves",
                                settings=TextToVideoSettings(**settings) if settings else None)
    body: dict[str, Any] = {"prompt": "waves"}
    if settings:
        body["settings"] = settings
    return f"{T2V}/{model}", obj, body


def _i2v(model: str, voice: bool = False, **settings: Any) -> tuple[str, Any, dict[str, Any]]:
    """A new-standard image-to-video request (a first frame, maybe a voice item)."""
    items: list[Any] = [PromptItem(text="waves"), FirstFrame(url=IMG)]
    wire: list[dict[str, Any]] = [{"type": "prompt", "text": "waves"},
                                  {"type": "first_frame", "url": IMG}]
    if voice:
        items.append(VoiceItem(voice_id="v1", id="1"))
        wire.append({"type": "voice", "voice_id": "v1", "id": "1"})
    obj = NewImageToVideoRequest(model=model, contents=items,
                                 settings=ImageToVideoSettings(**settings))
    return f"{I2V}/{model}", obj, {"contents": wire, "settings": settings}


def _omni(model: str, video: str | None = None, **settings: Any
          ) -> tuple[str, Any, dict[str, Any]]:
    """A new-standard omni-video request (a prompt, maybe a ``feature``/``base`` video)."""
    items: list[Any] = [PromptItem(text="waves")]
    wire: list[dict[str, Any]] = [{"type": "prompt", "text": "waves"}]
    if video is not None:
        items.append(FeatureVideo(url=MP4) if video == "feature_video" else BaseVideo(url=MP4))
        wire.append({"type": video, "url": MP4})
    obj = NewOmniVideoRequest(model=model, contents=items, settings=OmniVideoSettings(**settings))
    return f"{OMNI}/{model}", obj, {"contents": wire, "settings": settings}


def _motion(model: str, **settings: Any) -> tuple[str, Any, dict[str, Any]]:
    """A new-standard motion-control request (an image and a motion video)."""
    obj = MotionControlRequest(
        model=model, contents=[MotionImage(url=IMG), MotionVideo(url=MP4)],
        settings=MotionControlSettings(character_orientation="image", **settings))
    body = {"contents": [{"type": "image", "url": IMG}, {"type": "video", "url": MP4}],
            "settings": {"character_orientation": "image", **settings}}
    return f"{MOTION}/{model}", obj, body


def _same_estimate(endpoint: str, obj: Any, body: dict[str, Any]) -> float | None:
    """The one estimate of a request object, its wire body and the body loaded back."""
    loaded = load_request(endpoint, body)
    assert loaded == obj
    units = estimate_units(endpoint, obj)
    assert estimate_units(endpoint, body) == units
    assert estimate_units(endpoint, loaded) == units
    return units


NEW_STANDARD_PRICES = [
    # "3.0 Turbo (with native audio) /s | 0.8 | 1.0": default 720p, 5 s (§11.3).
    pytest.param(_t2v("kling-3.0-turbo"), 4.0, id="t2v-3.0-turbo-defaults"),
    pytest.param(_t2v("kling-3.0-turbo", resolution="1080p", duration=3), 3.0,
                 id="t2v-3.0-turbo-1080p"),
    # Same line; §12.3's live billing: 3.0 Turbo 3 s 720p -> 2.4.
    pytest.param(_i2v("kling-3.0-turbo", duration=3), 2.4, id="i2v-3.0-turbo-live"),
    # "3.0, no native audio /s | 0.6 | 0.8 | 3.0"
    pytest.param(_t2v("kling-3.0", resolution="1080p", duration=10, audio="off"), 8.0,
                 id="t2v-3.0-silent-1080p"),
    pytest.param(_t2v("kling-3.0", resolution="4k", duration=4), 12.0, id="t2v-3.0-4k"),
    # "3.0, native audio, no voice control /s | 0.9 | 1.2 | 3.0"
    pytest.param(_t2v("kling-3.0", duration=5, audio="native"), 4.5, id="t2v-3.0-audio"),
    pytest.param(_i2v("kling-3.0", resolution="1080p", duration=15, audio="native"), 18.0,
                 id="i2v-3.0-audio-1080p"),
    pytest.param(_t2v("kling-3.0", resolution="4k", duration=10, audio="native"), 30.0,
                 id="t2v-3.0-audio-4k"),
    # "3.0 Omni, no video input, no audio /s | 0.6 | 0.8 | 3.0"; live: 3 s silent -> 1.8.
    pytest.param(_omni("kling-3.0-omni", duration=3), 1.8, id="omni-3.0-silent-live"),
    pytest.param(_omni("kling-3.0-omni", resolution="4k", duration=5), 15.0,
                 id="omni-3.0-silent-4k"),
    # "3.0 Omni, no video input, native audio /s | 0.8 | 1.0 | 3.0"
    pytest.param(_omni("kling-3.0-omni", resolution="1080p", audio="native", duration=5), 5.0,
                 id="omni-3.0-audio-1080p"),
    # "3.0 Omni, video input, no audio /s | 0.9 | 1.2 | 3.0"
    pytest.param(_omni("kling-3.0-omni", "feature_video", duration=8, audio="off"), 7.2,
                 id="omni-3.0-feature-video"),
    # "O1 no video input / with video input /s | 0.6 / 0.9 | 0.8 / 1.2"
    pytest.param(_omni("kling-o1", duration=5), 3.0, id="omni-o1"),
    pytest.param(_omni("kling-o1", "feature_video", resolution="1080p", duration=10), 12.0,
                 id="omni-o1-feature-video"),
    # "2.6 no audio /s | 0.3 | 0.5"
    pytest.param(_t2v("kling-2.6", duration=10), 3.0, id="t2v-2.6-silent"),
    # "2.6 native audio without / with voice control /s | - | 1.0 / 1.2"
    pytest.param(_t2v("kling-2.6", resolution="1080p", audio="native", duration=5), 5.0,
                 id="t2v-2.6-audio"),
    pytest.param(_i2v("kling-2.6", voice=True, resolution="1080p", audio="native",
                      duration=10), 12.0, id="i2v-2.6-voice"),
    # "2.5 Turbo /s | 0.3 | 0.5"
    pytest.param(_i2v("kling-2.5-turbo", resolution="1080p", duration=10), 5.0,
                 id="i2v-2.5-turbo"),
]


@pytest.mark.parametrize(("request_", "units"), NEW_STANDARD_PRICES)
def test_new_standard_videos_follow_the_price_table(
        request_: tuple[str, Any, dict[str, Any]], units: float) -> None:
    """A new-standard video costs the §13.3 rate of its path's model, ``settings.audio``
    and video input at ``settings.resolution`` (720p by default), x ``settings.duration``
    (5 s by default); the same for the object, its wire body and the body loaded back."""
    assert _same_estimate(*request_) == pytest.approx(units)


NEW_STANDARD_UNPRICED = [
    # "billed on output length" (§11.6, §13.3): the motion video decides, unknown here.
    pytest.param(_motion("kling-3.0"), id="motion-3.0"),
    pytest.param(_motion("kling-2.6", resolution="1080p"), id="motion-2.6"),
    # "omni base video: input length rounded" (§13.3): unknown here.
    pytest.param(_omni("kling-3.0-omni", "base_video", audio="off"), id="omni-base-video"),
    # §11.5: with a reference video, whether the default duration holds is not stated.
    pytest.param(_omni("kling-3.0-omni", "feature_video", audio="off"),
                 id="omni-feature-video-no-duration"),
    # §13.3 prices no audio or native audio without a video input, not "original".
    pytest.param(_omni("kling-o1", audio="original", duration=5), id="omni-original-no-video"),
]


@pytest.mark.parametrize("request_", NEW_STANDARD_UNPRICED)
def test_new_standard_requests_the_table_does_not_price_are_none(
        request_: tuple[str, Any, dict[str, Any]]) -> None:
    """Motion control (output length), a ``base_video`` edit (input length), a
    ``feature_video`` without a duration and ``audio="original"`` without a video have no
    estimate, though their models are priced."""
    assert estimate_units(*_t2v("kling-3.0")[:2]) == pytest.approx(3.0)  # the family is priced
    assert _same_estimate(*request_) is None


def test_an_undocumented_new_standard_model_is_unpriced() -> None:
    """A model id the price pages do not list (``text-to-video/kling-9``) has no estimate."""
    with pytest.warns(Warning, match="kling-9"):
        request = load_request("text-to-video/kling-9", {"prompt": "p"})
    assert estimate_units("text-to-video/kling-9", request) is None
    assert estimate_units("text-to-video/kling-9", {"prompt": "p"}) is None
    assert estimate_units("text-to-video/kling-3.0", {"prompt": "p"}) == pytest.approx(3.0)


@pytest.mark.parametrize(("endpoint", "body", "units"), [
    # "3.0, no native audio /s | 0.6 | 0.8" and "native audio ... | 0.9 | 1.2"
    ("videos/text2video", {"model_name": "kling-v3", "prompt": "p", "duration": "10",
                           "mode": "pro", "sound": "on"}, 12.0),
    ("videos/text2video", {"model_name": "kling-v3", "prompt": "p", "duration": "5"}, 3.0),
    # "2.5 Turbo /s | 0.3 | 0.5"
    ("videos/text2video", {"model_name": "kling-v2-5-turbo", "prompt": "p"}, 1.5),
    # "O1 no video input /s | 0.6 | 0.8" (omni-video defaults: kling-video-o1, pro)
    ("videos/omni-video", {"prompt": "p", "aspect_ratio": "16:9", "duration": "5"}, 4.0),
    # "3.0 Omni, no video input, native audio /s | 0.8"
    ("videos/omni-video", {"model_name": "kling-v3-omni", "prompt": "p", "mode": "std",
                           "aspect_ratio": "16:9", "duration": "8", "sound": "on"}, 6.4),
    # Images: "Image 3.0 ... 8", "2.1 text-to-image 4", "3.0 Omni (1K/2K) 8"
    ("images/generations", {"model_name": "kling-v3", "prompt": "p", "n": 3}, 24.0),
    ("images/generations", {"model_name": "kling-v2-1", "prompt": "p"}, 4.0),
    ("images/omni-image", {"model_name": "kling-v3-omni", "prompt": "p",
                           "result_type": "series", "series_amount": 6}, 48.0),
    ("images/omni-image", {"prompt": "p", "n": 2}, 16.0),
])
def test_legacy_estimates_follow_the_price_table(endpoint: str, body: dict[str, Any],
                                                 units: float) -> None:
    """Units per second x duration for videos (std 720P, pro 1080P, audio priced apart),
    units per image x count for images; the same for a request object and its wire body."""
    assert estimate_units(endpoint, body) == pytest.approx(units)
    assert estimate_units(endpoint, load_request(endpoint, body)) == pytest.approx(units)


@pytest.mark.parametrize(("endpoint", "body", "units"), [
    # "3.0, no native audio /s | ... | 4K 3.0" (mode "4k": §2.3, 3 units/s)
    ("videos/text2video", {"model_name": "kling-v3", "prompt": "p", "mode": "4k",
                           "duration": "5"}, 15.0),
    # "3.0, native audio, no voice control /s | ... | 4K 3.0"
    ("videos/text2video", {"model_name": "kling-v3", "prompt": "p", "mode": "4k",
                           "duration": "10", "sound": "on"}, 30.0),
    # §2.4: image2video kling-v3 4k, same line
    ("videos/image2video", {"model_name": "kling-v3", "image": IMG, "mode": "4k"}, 15.0),
    # "3.0 Omni, no video input, no audio /s | ... | 4K 3.0" (§2.6)
    ("videos/omni-video", {"model_name": "kling-v3-omni", "prompt": "p", "mode": "4k",
                           "aspect_ratio": "16:9", "duration": "7"}, 21.0),
])
def test_legacy_4k_mode_costs_3_units_a_second(endpoint: str, body: dict[str, Any],
                                               units: float) -> None:
    """Legacy ``mode: "4k"`` on kling-v3 and kling-v3-omni: 3 units per output second."""
    assert estimate_units(endpoint, body) == pytest.approx(units)
    assert estimate_units(endpoint, load_request(endpoint, body)) == pytest.approx(units)


@pytest.mark.parametrize(("endpoint", "body", "units"), [
    # "Per call: ... text-to-audio 0.25; video-to-audio 0.25; custom voice 0.05"
    ("audio/text-to-audio", {"prompt": "rain", "duration": 7.5}, 0.25),
    ("audio/video-to-audio", {"video_url": MP4}, 0.25),
    ("general/custom-voices", {"voice_name": "me", "voice_url": "https://x.example/a.mp3"},
     0.05),
    # "2.1 ... multi-image 16" per image, x n
    ("images/multi-image2image", {"subject_image_list": [{"subject_image": IMG}], "n": 3},
     48.0),
    # "outpainting 8" per image, x n
    ("images/editing/expand", {"image": IMG, "up_expansion_ratio": 0.5,
                               "down_expansion_ratio": 0, "left_expansion_ratio": 0,
                               "right_expansion_ratio": 0, "n": 2}, 16.0),
])
def test_legacy_per_call_and_per_image_products(endpoint: str, body: dict[str, Any],
                                                units: float) -> None:
    """Products the price list prices per call or per image, with nothing the request does
    not hold: their price (x ``n`` for images)."""
    assert estimate_units(endpoint, body) == pytest.approx(units)
    assert estimate_units(endpoint, load_request(endpoint, body)) == pytest.approx(units)


def test_unpriced_requests_are_none_never_a_guess() -> None:
    """A model the price pages do not list, a combination they do not price, an edit of a
    base video, products billed on media lengths the request does not hold (avatar), a price
    the reference contradicts (AI multi-shot) and an unknown endpoint have no estimate."""
    assert estimate_units("images/generations",
                          ImageGenerationRequest(prompt="p", model_name="kling-v1")) is None
    assert estimate_units("videos/text2video", TextToVideoRequest(
        prompt="p", model_name="kling-v1", aspect_ratio="16:9")) is None
    assert estimate_units("videos/text2video", {"model_name": "kling-v2-6", "prompt": "p",
                                                "sound": "on", "mode": "std"}) is None
    assert estimate_units("videos/text2video", {"model_name": "kling-v2-6", "prompt": "p",
                                                "mode": "4k"}) is None
    edit = {"prompt": "p", "video_list": [{"video_url": MP4}]}
    assert estimate_units("videos/omni-video", edit) is None
    assert estimate_units("videos/avatar/image2video", {"image": IMG, "audio_id": "a"}) is None
    assert estimate_units("general/ai-multi-shot", {"element_frontal_image": IMG}) is None
    assert estimate_units("images/multi-image2image", {
        "model_name": "kling-v9", "subject_image_list": [{"subject_image": IMG}]}) is None
    assert estimate_units("videos/lip-sync", {"prompt": "p"}) is None
    assert estimate_units("videos/nothing-here", {"prompt": "p"}) is None


def test_an_unpriced_new_standard_job_is_refused_naming_its_model() -> None:
    """``--max-units`` refusing a motion-control job names the path's model, not "default"
    (a new-standard request has no ``model_name``)."""
    endpoint, request, body = _motion("kling-3.0")
    guard = SpendGuard(10.0)
    with pytest.raises(SpendLimitError, match=r"j1 \(motion-control/kling-3.0, model kling-3.0\)"):
        guard.check([BatchJob(id="j1", endpoint=endpoint, request=request, payload=body)])
