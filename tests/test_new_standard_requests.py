"""New-standard requests (reference §11): every endpoint and model, as data, validated at
construction, errors naming the wire path, unknown model ids passed through with a warning."""

from __future__ import annotations

import copy
import json
from typing import Any

import anyio
import pytest

import kling_async as kling
from kling_async import (
    ENDPOINTS,
    BaseVideo,
    ElementItem,
    FeatureVideo,
    FirstFrame,
    ImageToVideoSettings,
    KlingWireWarning,
    LastFrame,
    MotionControlRequest,
    MotionControlSettings,
    MotionImage,
    MotionVideo,
    NewImageToVideoRequest,
    NewOmniVideoRequest,
    NewTextToVideoRequest,
    OmniVideoSettings,
    Options,
    PromptItem,
    ReferImage,
    TextToVideoSettings,
    ValidationError,
    VoiceItem,
    WatermarkInfo,
    dump_request,
    load_request,
)
from kling_async._endpoints import endpoint_for, endpoint_named, endpoint_row, task_weight
from tests._scripted import Reply, ScriptedServer, ok

IMG = "https://p2-kling.klingai.com/kcdn/cdn-kcdn112452/kling-tob-release_note/image_25.png"
VID = "https://p2-kling.klingai.com/kcdn/cdn-kcdn112452/kling-tob-release_note/video_7.1.mp4"
TEXT = "A girl sat on the train, looking out the window with a melancholic expression."
CALLBACK = {"callback_url": "https://xxx/callback", "external_task_id": ""}


def prompt(text: str = TEXT) -> dict[str, Any]:
    return {"type": "prompt", "text": text}


def item(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, **fields}


#: The request examples of the official pages (aself101/kling-api docs/api/, 2026), one or more
#: per endpoint and model; long texts shortened.  ``external_task_id: ""`` is "not set".
DOCUMENTED: list[tuple[str, dict[str, Any]]] = [
    ("text-to-video/kling-3.0-turbo", {
        "prompt": TEXT,
        "options": {**CALLBACK, "watermark_info": {"enabled": False}},
        "settings": {"duration": 3, "resolution": "720p", "aspect_ratio": "9:16"}}),
    ("text-to-video/kling-3.0", {
        "prompt": TEXT,
        "settings": {"resolution": "4k", "aspect_ratio": "16:9", "duration": 15, "audio": "off",
                     "multi_shot": True},
        "options": {**CALLBACK, "watermark_info": {"enabled": False}}}),
    ("text-to-video/kling-2.6", {
        "prompt": TEXT,
        "settings": {"resolution": "1080p", "aspect_ratio": "9:16", "duration": 10},
        "options": {**CALLBACK, "watermark_info": {"enabled": True}}}),
    ("text-to-video/kling-2.5-turbo", {
        "prompt": TEXT,
        "settings": {"resolution": "1080p", "aspect_ratio": "9:16", "duration": 10},
        "options": {**CALLBACK, "watermark_info": {"enabled": True}}}),
    ("image-to-video/kling-3.0-turbo", {
        "contents": [prompt(), item("first_frame", url=IMG)],
        "settings": {"resolution": "1080p", "duration": 10},
        "options": {**CALLBACK, "watermark_info": {"enabled": True}}}),
    ("image-to-video/kling-3.0", {
        "contents": [prompt(), item("first_frame", url=IMG)],
        "settings": {"resolution": "4k", "duration": 10, "audio": "off", "multi_shot": False},
        "options": {**CALLBACK, "watermark_info": {"enabled": False}}}),
    ("image-to-video/kling-3.0", {
        "contents": [prompt(), item("first_frame", url=IMG), item("last_frame", url=IMG),
                     item("element", element_id="163", id="element_1")],
        "settings": {"resolution": "1080p", "duration": 10, "audio": "native",
                     "multi_shot": False},
        "options": {**CALLBACK, "watermark_info": {"enabled": True}}}),
    ("image-to-video/kling-2.6", {
        "contents": [prompt(TEXT + " @1 whispers softly."), item("first_frame", url=IMG),
                     item("voice", voice_id="891495440020668439", id="1")],
        "settings": {"audio": "native", "resolution": "1080p", "duration": 5},
        "options": {**CALLBACK, "watermark_info": {"enabled": True}}}),
    ("image-to-video/kling-2.5-turbo", {
        "contents": [prompt(), item("first_frame", url=IMG)],
        "settings": {"resolution": "1080p", "duration": 5},
        "options": {**CALLBACK, "watermark_info": {"enabled": True}}}),
    ("omni-video/kling-3.0-omni", {
        "contents": [prompt()],
        "settings": {"resolution": "1080p", "duration": 5, "audio": "native",
                     "multi_shot": False},
        "options": CALLBACK}),
    ("omni-video/kling-3.0-omni", {
        "contents": [prompt(), item("first_frame", url=IMG, id="image_1"),
                     item("refer_image", url=IMG, id="image_2")],
        "settings": {"resolution": "1080p", "duration": 5, "audio": "native",
                     "multi_shot": False},
        "options": CALLBACK}),
    ("omni-video/kling-3.0-omni", {
        "contents": [prompt(), item("first_frame", url=IMG, id="image_1"),
                     item("last_frame", url=IMG, id="image_2"),
                     item("element", element_id="162", id="element_1"),
                     item("element", element_id="163", id="element_2")],
        "settings": {"resolution": "1080p", "duration": 5, "audio": "native",
                     "multi_shot": True},
        "options": CALLBACK}),
    ("omni-video/kling-3.0-omni", {
        "contents": [prompt(), item("feature_video", url=VID, id="video_1")],
        "settings": {"resolution": "4k", "audio": "off", "multi_shot": True},
        "options": CALLBACK}),
    ("omni-video/kling-3.0-omni", {
        "contents": [prompt(), item("base_video", url=VID, id="video_1")],
        "settings": {"resolution": "1080p", "audio": "original", "multi_shot": False},
        "options": CALLBACK}),
    ("omni-video/kling-o1", {
        "contents": [prompt(), item("first_frame", url=IMG, id="image_1"),
                     item("refer_image", url=IMG, id="image_2")],
        "settings": {"resolution": "1080p", "duration": 3, "audio": "off"},
        "options": CALLBACK}),
    ("omni-video/kling-o1", {
        "contents": [prompt(), item("element", element_id="161", id="element_1"),
                     item("first_frame", url=IMG, id="image_1"),
                     item("feature_video", url=VID, id="video_1")],
        "settings": {"resolution": "1080p", "aspect_ratio": "16:9", "audio": "off"},
        "options": CALLBACK}),
    ("omni-video/kling-o1", {
        "contents": [prompt(), item("refer_image", url=IMG, id="image_1"),
                     item("base_video", url=VID, id="video_1")],
        "settings": {"resolution": "1080p", "aspect_ratio": "16:9", "audio": "off"},
        "options": CALLBACK}),
    ("motion-control/kling-3.0", {
        "contents": [prompt("The girl is wearing a loose gray T-shirt and denim shorts"),
                     item("image", url=IMG), item("video", url=VID)],
        "settings": {"character_orientation": "video", "resolution": "1080p",
                     "audio": "original"},
        "options": CALLBACK}),
    ("motion-control/kling-2.6", {
        "contents": [prompt("The girl is wearing a loose gray T-shirt and denim shorts"),
                     item("image", url=IMG), item("video", url=VID)],
        "settings": {"character_orientation": "video", "audio": "original",
                     "resolution": "1080p"},
        "options": {**CALLBACK, "watermark_info": {"enabled": True}}}),
]

#: Valid bodies built from the pages' tables (not verbatim examples): the other documented
#: features of each model.
CONSTRUCTED: list[tuple[str, dict[str, Any]]] = [
    ("text-to-video/kling-2.6", {
        "prompt": TEXT,
        "settings": {"resolution": "1080p", "aspect_ratio": "16:9", "duration": 5,
                     "audio": "native"}}),
    ("text-to-video/kling-3.0", {
        "prompt": "shot 1, 2, a cat walks in; shot 2, 3, the cat sits down;",
        "settings": {"duration": 5, "audio": "native", "resolution": "1080p"}}),
    ("image-to-video/kling-2.5-turbo", {
        "contents": [prompt(), item("first_frame", url=IMG), item("last_frame", url=IMG)],
        "settings": {"resolution": "1080p", "duration": 10}}),
    ("image-to-video/kling-2.6", {
        "contents": [item("first_frame", url=IMG), item("last_frame", url=IMG)],
        "settings": {"resolution": "1080p"}}),
    ("omni-video/kling-3.0-omni", {
        "contents": [prompt("@element_1 walks"), item("refer_image", url=IMG, id="image_1"),
                     *[item("element", element_id=str(n), id=f"element_{n}")
                       for n in range(1, 7)]],
        "settings": {"aspect_ratio": "9:16", "duration": 15}}),
    ("omni-video/kling-o1", {
        "contents": [prompt(), item("first_frame", url=IMG)],
        "settings": {"duration": 10, "aspect_ratio": "1:1"}}),
    ("motion-control/kling-3.0", {
        "contents": [prompt(), item("image", url=IMG), item("video", url=VID),
                     item("element", element_id="163", id="element_1")],
        "settings": {"character_orientation": "video"}}),
]


def without_unset(value: Any) -> Any:
    """``value`` without the keys whose value means "not set" (``""``, ``null``)."""
    if isinstance(value, dict):
        return {k: without_unset(v) for k, v in value.items() if v not in ("", None)}
    if isinstance(value, list):
        return [without_unset(v) for v in value]
    return value


VALID = DOCUMENTED + CONSTRUCTED


@pytest.mark.parametrize(("endpoint", "body"), VALID,
                         ids=[f"{e}#{i}" for i, (e, _) in enumerate(VALID)])
def test_documented_example_round_trips(endpoint: str, body: dict[str, Any]) -> None:
    """A documented example body (and a valid body built from the tables) loads and dumps
    back to the same wire JSON (minus its ``""`` values), with integer durations and no
    ``model`` in the body."""
    request = load_request(endpoint, body)
    wire = dump_request(request)
    assert wire == without_unset(body)
    assert "model" not in wire and "model_name" not in wire
    assert json.loads(json.dumps(wire)) == wire
    assert load_request(endpoint, wire) == request
    assert endpoint_for(request).name == endpoint


def test_every_new_standard_row_has_a_documented_example() -> None:
    """Each of the 12 documented (path family, model) rows is exercised above."""
    new_rows = {name for name, row in ENDPOINTS.items() if row.standard == "new"}
    assert new_rows == {endpoint for endpoint, _ in DOCUMENTED}
    assert len(new_rows) == 12


def test_rows_are_new_standard_with_model_in_the_path() -> None:
    """Every new row's path is ``/{family}/{model}``, its class serves the family."""
    for name, row in ENDPOINTS.items():
        if row.standard != "new":
            continue
        assert row.path == f"/{name}" and name.endswith("/" + (row.model or "?"))
        assert row.request_type.family == name.split("/")[0]
        assert row.kind == "video"


def test_classes_build_the_same_request_as_the_wire() -> None:
    """The typed items and settings build exactly what load_request reads."""
    built = NewOmniVideoRequest(
        model="kling-3.0-omni",
        contents=[PromptItem(text=TEXT), FirstFrame(url=IMG, id="image_1"),
                  LastFrame(url=IMG, id="image_2"),
                  ElementItem(element_id="162", id="element_1")],
        settings=OmniVideoSettings(resolution="4k", duration=7, audio="native"),
        options=Options(external_task_id="e-1", watermark_info=WatermarkInfo(enabled=True)),
    )
    assert dump_request(built) == {
        "contents": [{"type": "prompt", "text": TEXT},
                     {"type": "first_frame", "url": IMG, "id": "image_1"},
                     {"type": "last_frame", "url": IMG, "id": "image_2"},
                     {"type": "element", "element_id": "162", "id": "element_1"}],
        "settings": {"resolution": "4k", "duration": 7, "audio": "native"},
        "options": {"external_task_id": "e-1", "watermark_info": {"enabled": True}},
    }
    assert load_request("omni-video/kling-3.0-omni", dump_request(built)) == built
    assert endpoint_for(built).path == "/omni-video/kling-3.0-omni"


def test_every_item_class_dumps_its_wire_type() -> None:
    """Each contents item class carries its wire ``type`` and refuses another."""
    items = [PromptItem(text="t"), FirstFrame(url=IMG), LastFrame(url=IMG), ReferImage(url=IMG),
             FeatureVideo(url=VID), BaseVideo(url=VID), ElementItem(element_id="1", id="e"),
             VoiceItem(voice_id="v", id="1"), MotionImage(url=IMG), MotionVideo(url=VID)]
    types = [dump_request(i)["type"] for i in items]
    assert types == ["prompt", "first_frame", "last_frame", "refer_image", "feature_video",
                     "base_video", "element", "voice", "image", "video"]
    with pytest.raises(ValidationError) as caught:
        FirstFrame(type="last_frame", url=IMG)  # type: ignore[arg-type]
    assert caught.value.field == "type"


def test_element_id_on_the_wire_is_a_string() -> None:
    """An element id sent as a number is read as its digits and sent as a string."""
    request = load_request("image-to-video/kling-3.0", {"contents": [
        item("first_frame", url=IMG), item("element", element_id=829836802793406551, id="e")]})
    assert dump_request(request)["contents"][1]["element_id"] == "829836802793406551"


def test_duration_is_an_integer_on_the_wire() -> None:
    """A quoted duration is read as a number and always sent as an int."""
    request = load_request("text-to-video/kling-3.0", {"prompt": "p", "settings": {
        "duration": "7"}})
    assert dump_request(request)["settings"]["duration"] == 7


@pytest.mark.parametrize("text", [
    "shot 1, 5, a cat;",
    "shot 1, 2, a cat walks; shot 2, 3, the cat sits;",
    "Shot 1, 1, a; shot 2, 1, b; shot 3, 1, c; shot 4, 1, d; shot 5, 1, e",
    "shot 1, 2, " + "w" * 512 + "; shot 2, 3, b;",
])
def test_multi_shot_prompts_that_follow_the_syntax_are_accepted(text: str) -> None:
    """``shot n, m, words;`` prompts with 1-6 shots summing to the duration pass."""
    request = NewTextToVideoRequest(model="kling-3.0-turbo", prompt=text)
    assert dump_request(request) == {"prompt": text}


@pytest.mark.parametrize("text", ["Shot 1: a cat on a roof", "shot 1 of 3, a cat", "shots, 1, 2"])
def test_prompts_that_only_mention_shots_are_plain_text(text: str) -> None:
    """A prompt is read as shot syntax only when it starts ``shot <n>, <m>,``."""
    NewTextToVideoRequest(model="kling-3.0-turbo", prompt=text)


def test_shot_syntax_is_plain_text_with_multi_shot_off() -> None:
    """On kling-3.0 with ``multi_shot=false`` a shot-looking prompt is not checked."""
    NewTextToVideoRequest(model="kling-3.0", prompt="shot 1, 9, x;",
                          settings=TextToVideoSettings(multi_shot=False))


def test_long_prompt_past_the_recommendation_warns() -> None:
    """Past the recommended 2500 characters (up to 3072) kling-3.0-turbo warns, not fails."""
    with pytest.warns(KlingWireWarning, match="recommends"):
        NewImageToVideoRequest(model="kling-3.0-turbo",
                               contents=[PromptItem(text="p" * 3000), FirstFrame(url=IMG)])


T2V, I2V, OMNI, MOTION = "text-to-video", "image-to-video", "omni-video", "motion-control"
FF = item("first_frame", url=IMG)
LF = item("last_frame", url=IMG)
VIDEO = item("video", url=VID)
MOTION_SETTINGS = {"character_orientation": "image"}

#: (endpoint, body, the wire path the error must name): one row per documented limit.
REJECTED: list[tuple[str, dict[str, Any], str]] = [
    # text-to-video
    (f"{T2V}/kling-3.0-turbo", {}, "prompt"),
    (f"{T2V}/kling-3.0-turbo", {"prompt": "p" * 3073}, "prompt"),
    (f"{T2V}/kling-2.6", {"prompt": "p" * 2501}, "prompt"),
    (f"{T2V}/kling-3.0-turbo", {"prompt": "p", "settings": {"resolution": "4k"}},
     "settings.resolution"),
    (f"{T2V}/kling-3.0-turbo", {"prompt": "p", "settings": {"audio": "native"}},
     "settings.audio"),
    (f"{T2V}/kling-3.0-turbo", {"prompt": "p", "settings": {"multi_shot": True}},
     "settings.multi_shot"),
    (f"{T2V}/kling-3.0-turbo", {"prompt": "p", "settings": {"duration": 2}}, "settings.duration"),
    (f"{T2V}/kling-3.0", {"prompt": "p", "settings": {"duration": 16}}, "settings.duration"),
    (f"{T2V}/kling-3.0", {"prompt": "p", "settings": {"audio": "original"}}, "settings.audio"),
    (f"{T2V}/kling-3.0", {"prompt": "p", "settings": {"aspect_ratio": "4:3"}},
     "settings.aspect_ratio"),
    (f"{T2V}/kling-3.0", {"prompt": "p", "settings": {"resolution": "2k"}},
     "settings.resolution"),
    (f"{T2V}/kling-3.0", {"prompt": "p", "settings": {"duration": "5.5"}}, "settings.duration"),
    (f"{T2V}/kling-3.0", {"prompt": "p", "settings": {"duration": True}}, "settings.duration"),
    (f"{T2V}/kling-3.0", {"prompt": "p", "settings": {"mode": "pro"}}, "settings.mode"),
    (f"{T2V}/kling-3.0", {"prompt": "p", "negative_prompt": "x"}, "negative_prompt"),
    (f"{T2V}/kling-3.0", {"prompt": "p", "model": "kling-3.0"}, "model"),
    (f"{T2V}/kling-3.0", {"prompt": "p", "model_name": "kling-v3"}, "model_name"),
    (f"{T2V}/kling-2.6", {"prompt": "p", "settings": {"duration": 7}}, "settings.duration"),
    (f"{T2V}/kling-2.6", {"prompt": "p", "settings": {"multi_shot": False}},
     "settings.multi_shot"),
    (f"{T2V}/kling-2.6", {"prompt": "p", "settings": {"resolution": "4k"}},
     "settings.resolution"),
    (f"{T2V}/kling-2.6", {"prompt": "p", "settings": {"audio": "native"}},
     "settings.resolution"),
    (f"{T2V}/kling-2.6", {"prompt": "p", "settings": {"audio": "native", "resolution": "720p"}},
     "settings.resolution"),
    (f"{T2V}/kling-2.5-turbo", {"prompt": "p", "settings": {"audio": "off"}}, "settings.audio"),
    (f"{T2V}/kling-2.5-turbo", {"prompt": "p", "settings": {"duration": 3}}, "settings.duration"),
    (f"{T2V}/kling-3.0", {"prompt": "p", "options": {"callback": "x"}}, "options.callback"),
    (f"{T2V}/kling-3.0", {"prompt": "p", "options": {"watermark_info": {"enabled": "y"}}},
     "options.watermark_info.enabled"),
    # multi-shot prompt syntax
    (f"{T2V}/kling-3.0-turbo", {"prompt": "shot 1, 2, a; shot 2, 2, b;"}, "prompt"),
    (f"{T2V}/kling-3.0-turbo", {"prompt": "shot 1, 0, a; shot 2, 5, b;"}, "prompt"),
    (f"{T2V}/kling-3.0-turbo", {"prompt": "shot 1, 2, a; shot 3, 3, b;"}, "prompt"),
    (f"{T2V}/kling-3.0-turbo", {"prompt": "shot 1, 5, " + "w" * 513 + ";"}, "prompt"),
    (f"{T2V}/kling-3.0-turbo", {"prompt": "shot 1, 2, a; b;"}, "prompt"),
    (f"{T2V}/kling-3.0-turbo", {"prompt": "".join(f"shot {n}, 1, x; " for n in range(1, 8)),
                                "settings": {"duration": 7}}, "prompt"),
    (f"{T2V}/kling-3.0", {"prompt": "shot 1, 4, a;", "settings": {"duration": 5}}, "prompt"),
    (f"{OMNI}/kling-3.0-omni", {"contents": [prompt("shot 1, 4, a;")]}, "contents[0].text"),
    (f"{I2V}/kling-3.0", {"contents": [FF, prompt("shot 1, 4, a;")]}, "contents[1].text"),
    # image-to-video
    (f"{I2V}/kling-3.0", {"contents": []}, "contents"),
    (f"{I2V}/kling-3.0", {"contents": [prompt()]}, "contents"),
    (f"{I2V}/kling-3.0", {"contents": [LF, prompt()]}, "contents"),
    (f"{I2V}/kling-3.0", {"contents": [FF, FF]}, "contents[1]"),
    (f"{I2V}/kling-3.0", {"contents": [FF, item("first_frame", url="")]}, "contents[1].url"),
    (f"{I2V}/kling-3.0", {"contents": [FF, item("first_frame")]}, "contents[1].url"),
    (f"{I2V}/kling-3.0", {"contents": [FF, {"url": IMG}]}, "contents[1].type"),
    (f"{I2V}/kling-3.0", {"contents": [FF, item("picture", url=IMG)]}, "contents[1].type"),
    (f"{I2V}/kling-3.0", {"contents": [FF, item("voice", voice_id="v", id="1")]},
     "contents[1].type"),
    (f"{I2V}/kling-3.0", {"contents": [FF, item("refer_image", url=IMG)]}, "contents[1].type"),
    (f"{I2V}/kling-3.0", {"contents": [FF, *[item("element", element_id=str(n), id=f"e{n}")
                                             for n in range(4)]]}, "contents[4]"),
    (f"{I2V}/kling-3.0", {"contents": [FF, item("element", element_id="1")]},
     "contents[1].id"),
    (f"{I2V}/kling-3.0", {"contents": [FF, item("element", id="e")]},
     "contents[1].element_id"),
    (f"{I2V}/kling-3.0", {"contents": [FF, item("element", element_id="1", id="e"),
                                       item("element", element_id="2", id="e")]},
     "contents[2].id"),
    (f"{I2V}/kling-3.0", {"contents": [FF, prompt("p" * 3073)]}, "contents[1].text"),
    (f"{I2V}/kling-3.0", {"contents": [FF], "settings": {"aspect_ratio": "16:9"}},
     "settings.aspect_ratio"),
    (f"{I2V}/kling-3.0", {"contents": [FF, prompt(), prompt()]}, "contents[2]"),
    (f"{I2V}/kling-3.0", {"contents": [FF], "settings": {"duration": 20}}, "settings.duration"),
    (f"{I2V}/kling-3.0", {"contents": {"type": "prompt"}}, "contents"),
    (f"{I2V}/kling-3.0-turbo", {"contents": [FF, LF]}, "contents[1].type"),
    (f"{I2V}/kling-3.0-turbo", {"contents": [FF, item("element", element_id="1", id="e")]},
     "contents[1].type"),
    (f"{I2V}/kling-3.0-turbo", {"contents": [FF, prompt("p" * 3073)]}, "contents[1].text"),
    (f"{I2V}/kling-3.0-turbo", {"contents": [FF], "settings": {"resolution": "4k"}},
     "settings.resolution"),
    (f"{I2V}/kling-3.0-turbo", {"contents": [FF], "settings": {"audio": "off"}},
     "settings.audio"),
    (f"{I2V}/kling-2.6", {"contents": [FF, prompt("p" * 2501)]}, "contents[1].text"),
    (f"{I2V}/kling-2.6", {"contents": [FF, LF]}, "settings.resolution"),
    (f"{I2V}/kling-2.6", {"contents": [FF, LF], "settings": {"resolution": "720p"}},
     "settings.resolution"),
    (f"{I2V}/kling-2.6", {"contents": [FF], "settings": {"audio": "native"}},
     "settings.resolution"),
    (f"{I2V}/kling-2.6", {"contents": [FF, item("voice", voice_id="v", id="1")],
                          "settings": {"resolution": "1080p"}}, "settings.audio"),
    (f"{I2V}/kling-2.6", {"contents": [FF, item("voice", voice_id="v", id="1")],
                          "settings": {"audio": "off", "resolution": "1080p"}},
     "settings.audio"),
    (f"{I2V}/kling-2.6", {"contents": [FF, *[item("voice", voice_id="v", id=str(n))
                                             for n in range(3)]],
                          "settings": {"audio": "native", "resolution": "1080p"}},
     "contents[3]"),
    (f"{I2V}/kling-2.6", {"contents": [FF, item("voice", voice_id="v")],
                          "settings": {"audio": "native", "resolution": "1080p"}},
     "contents[1].id"),
    (f"{I2V}/kling-2.6", {"contents": [FF, item("element", element_id="1", id="e")]},
     "contents[1].type"),
    (f"{I2V}/kling-2.6", {"contents": [FF], "settings": {"duration": 3}}, "settings.duration"),
    (f"{I2V}/kling-2.6", {"contents": [FF], "settings": {"multi_shot": True}},
     "settings.multi_shot"),
    (f"{I2V}/kling-2.5-turbo", {"contents": [FF, LF], "settings": {"resolution": "720p"}},
     "settings.resolution"),
    (f"{I2V}/kling-2.5-turbo", {"contents": [FF], "settings": {"audio": "native"}},
     "settings.audio"),
    (f"{I2V}/kling-2.5-turbo", {"contents": [FF, item("voice", voice_id="v", id="1")]},
     "contents[1].type"),
    # omni-video
    (f"{OMNI}/kling-3.0-omni", {"contents": [LF, prompt()]}, "contents[0].type"),
    (f"{OMNI}/kling-3.0-omni", {"contents": [item("feature_video", url=VID),
                                             item("base_video", url=VID)]}, "contents[1]"),
    (f"{OMNI}/kling-3.0-omni", {"contents": [item("feature_video", url="data:;base64,AAAA")]},
     "contents[0].url"),
    (f"{OMNI}/kling-3.0-omni", {"contents": [prompt(), item("base_video", url=VID), FF]},
     "contents[2].type"),
    (f"{OMNI}/kling-3.0-omni", {"contents": [prompt(), item("base_video", url=VID)],
                                "settings": {"multi_shot": True}}, "settings.multi_shot"),
    (f"{OMNI}/kling-3.0-omni", {"contents": [prompt(), item("base_video", url=VID)],
                                "settings": {"audio": "native", "multi_shot": False}},
     "settings.audio"),
    (f"{OMNI}/kling-3.0-omni", {"contents": [prompt(), item("feature_video", url=VID)],
                                "settings": {"multi_shot": False}}, "settings.multi_shot"),
    (f"{OMNI}/kling-3.0-omni", {"contents": [prompt(), item("feature_video", url=VID)],
                                "settings": {"audio": "native"}}, "settings.audio"),
    (f"{OMNI}/kling-3.0-omni", {"contents": [prompt(), *[item("refer_image", url=IMG)] * 8]},
     "contents[8]"),
    (f"{OMNI}/kling-3.0-omni", {"contents": [
        prompt(), *[item("refer_image", url=IMG)] * 4,
        *[item("element", element_id=str(n), id=f"e{n}") for n in range(4)]]}, "contents[8]"),
    (f"{OMNI}/kling-3.0-omni", {"contents": [
        prompt(), item("feature_video", url=VID), *[item("refer_image", url=IMG)] * 3,
        *[item("element", element_id=str(n), id=f"e{n}") for n in range(2)]]}, "contents[6]"),
    (f"{OMNI}/kling-3.0-omni", {"contents": [
        prompt(), FF, *[item("element", element_id=str(n), id=f"e{n}") for n in range(4)]]},
     "contents[5]"),
    (f"{OMNI}/kling-3.0-omni", {"contents": [prompt(), item("voice", voice_id="v", id="1")]},
     "contents[1].type"),
    (f"{OMNI}/kling-3.0-omni", {"contents": [prompt(), item("image", url=IMG)]},
     "contents[1].type"),
    (f"{OMNI}/kling-3.0-omni", {"contents": [prompt()], "settings": {"duration": 16}},
     "settings.duration"),
    (f"{OMNI}/kling-3.0-omni", {"contents": [prompt("p" * 3073)]}, "contents[0].text"),
    (f"{OMNI}/kling-3.0-omni", {"contents": [prompt(), FF, item("refer_image", url=IMG,
                                                                id="image_1"),
                                             item("refer_image", url=IMG, id="image_1")]},
     "contents[3].id"),
    (f"{OMNI}/kling-o1", {"contents": [prompt("p" * 2501)]}, "contents[0].text"),
    (f"{OMNI}/kling-o1", {"contents": [prompt()], "settings": {"duration": 11}},
     "settings.duration"),
    (f"{OMNI}/kling-o1", {"contents": [prompt()], "settings": {"resolution": "4k"}},
     "settings.resolution"),
    (f"{OMNI}/kling-o1", {"contents": [prompt()], "settings": {"audio": "native"}},
     "settings.audio"),
    (f"{OMNI}/kling-o1", {"contents": [prompt()], "settings": {"multi_shot": False}},
     "settings.multi_shot"),
    (f"{OMNI}/kling-o1", {"contents": [prompt(), FF], "settings": {"duration": 7}},
     "settings.duration"),
    (f"{OMNI}/kling-o1", {"contents": [prompt(), FF, LF, item("refer_image", url=IMG)]},
     "contents[3].type"),
    (f"{OMNI}/kling-o1", {"contents": [prompt(), FF, LF,
                                       item("element", element_id="1", id="e")]},
     "contents[3].type"),
    (f"{OMNI}/kling-o1", {"contents": [prompt(), FF, LF, item("feature_video", url=VID)]},
     "contents[2].type"),
    (f"{OMNI}/kling-o1", {"contents": [prompt(), item("base_video", url=VID), FF]},
     "contents[2].type"),
    (f"{OMNI}/kling-o1", {"contents": [prompt(), item("base_video", url=VID),
                                       *[item("refer_image", url=IMG)] * 5]}, "contents[6]"),
    (f"{OMNI}/kling-o1", {"contents": [prompt(), *[item("refer_image", url=IMG)] * 8]},
     "contents[8]"),
    # motion control
    (f"{MOTION}/kling-3.0", {"contents": [item("image", url=IMG), VIDEO]},
     "settings.character_orientation"),
    (f"{MOTION}/kling-3.0", {"contents": [item("image", url=IMG), VIDEO],
                             "settings": {"resolution": "1080p"}},
     "settings.character_orientation"),
    (f"{MOTION}/kling-3.0", {"contents": [item("image", url=IMG), VIDEO],
                             "settings": {"character_orientation": "left"}},
     "settings.character_orientation"),
    (f"{MOTION}/kling-3.0", {"contents": [VIDEO], "settings": {**MOTION_SETTINGS,
                                                              "resolution": "4k"}},
     "settings.resolution"),
    (f"{MOTION}/kling-3.0", {"contents": [VIDEO], "settings": {**MOTION_SETTINGS,
                                                              "audio": "native"}},
     "settings.audio"),
    (f"{MOTION}/kling-3.0", {"contents": [VIDEO], "settings": {**MOTION_SETTINGS,
                                                              "duration": 5}},
     "settings.duration"),
    (f"{MOTION}/kling-3.0", {"contents": [VIDEO], "settings": {**MOTION_SETTINGS,
                                                              "aspect_ratio": "1:1"}},
     "settings.aspect_ratio"),
    (f"{MOTION}/kling-3.0", {"contents": [VIDEO], "settings": {**MOTION_SETTINGS,
                                                              "multi_shot": True}},
     "settings.multi_shot"),
    (f"{MOTION}/kling-3.0", {"contents": [item("image", url=IMG)],
                             "settings": MOTION_SETTINGS}, "contents"),
    (f"{MOTION}/kling-3.0", {"contents": [VIDEO, VIDEO], "settings": MOTION_SETTINGS},
     "contents[1]"),
    (f"{MOTION}/kling-3.0", {"contents": [VIDEO, item("image", url=IMG),
                                          item("image", url=IMG)],
                             "settings": MOTION_SETTINGS}, "contents[2]"),
    (f"{MOTION}/kling-3.0", {"contents": [VIDEO, item("element", element_id="1", id="a"),
                                          item("element", element_id="2", id="b")],
                             "settings": MOTION_SETTINGS}, "contents[2]"),
    (f"{MOTION}/kling-3.0", {"contents": [VIDEO, prompt("p" * 2501)],
                             "settings": MOTION_SETTINGS}, "contents[1].text"),
    (f"{MOTION}/kling-3.0", {"contents": [VIDEO, FF], "settings": MOTION_SETTINGS},
     "contents[1].type"),
    (f"{MOTION}/kling-3.0", {"contents": [item("video", url="base64data")],
                             "settings": MOTION_SETTINGS}, "contents[0].url"),
    (f"{MOTION}/kling-2.6", {"contents": [VIDEO, item("element", element_id="1", id="a")],
                             "settings": MOTION_SETTINGS}, "contents[1].type"),
]


@pytest.mark.parametrize(("endpoint", "body", "field"), REJECTED,
                         ids=[f"{e}:{f}#{i}" for i, (e, _, f) in enumerate(REJECTED)])
def test_documented_limit_is_rejected_naming_the_wire_path(
    endpoint: str, body: dict[str, Any], field: str
) -> None:
    """Each documented limit is a ValidationError at load (and construction) that names the
    wire path of the offending value."""
    with pytest.raises(ValidationError) as caught:
        load_request(endpoint, copy.deepcopy(body))
    assert caught.value.field == field, str(caught.value)


def test_every_row_has_rejected_cases() -> None:
    """The table above covers every documented endpoint and model."""
    new_rows = {name for name, row in ENDPOINTS.items() if row.standard == "new"}
    assert new_rows == {endpoint for endpoint, _, _ in REJECTED}


def test_construction_errors_name_the_wire_path() -> None:
    """Built in Python, a cross-field rule names the same wire path as on load."""
    with pytest.raises(ValidationError) as caught:
        NewImageToVideoRequest(model="kling-2.6", contents=[FirstFrame(url=IMG), LastFrame(
            url=IMG)], settings=ImageToVideoSettings(resolution="720p"))
    assert caught.value.field == "settings.resolution"
    with pytest.raises(ValidationError) as caught:
        MotionControlRequest(model="kling-2.6", contents=[MotionVideo(url=VID), ElementItem(
            element_id="1", id="e")], settings=MotionControlSettings(character_orientation="video"))
    assert caught.value.field == "contents[1].type"
    with pytest.raises(ValidationError) as caught:
        NewTextToVideoRequest(model="kling-3.0", prompt="p",
                              settings=TextToVideoSettings(duration=20))
    assert caught.value.field == "settings.duration"
    with pytest.raises(ValidationError) as caught:
        NewOmniVideoRequest(model="kling-o1", contents=["not an item"])  # type: ignore[list-item]
    assert caught.value.field == "contents[0]"


def test_unknown_model_is_passed_through_with_a_warning() -> None:
    """An undocumented id loads with a KlingWireWarning, only its family's values checked,
    and is routed to its own new-standard path."""
    with pytest.warns(KlingWireWarning, match="kling-9"):
        request = load_request("text-to-video/kling-9", {"prompt": "p", "settings": {
            "duration": 30, "resolution": "4k"}})
    assert isinstance(request, NewTextToVideoRequest) and request.model == "kling-9"
    assert dump_request(request) == {"prompt": "p", "settings": {"duration": 30,
                                                                 "resolution": "4k"}}
    with pytest.warns(KlingWireWarning, match="kling-9"):
        row = endpoint_for(request)
    assert (row.name, row.path, row.standard, row.model) == (
        "text-to-video/kling-9", "/text-to-video/kling-9", "new", "kling-9")
    assert row.request_type is NewTextToVideoRequest
    with pytest.warns(KlingWireWarning):
        assert endpoint_named("/omni-video/kling-4.0-omni").request_type is NewOmniVideoRequest
    with pytest.warns(KlingWireWarning), pytest.raises(ValidationError) as caught:
        load_request("motion-control/kling-4.0", {"contents": [VIDEO]})
    assert caught.value.field == "settings.character_orientation"


def test_the_sdks_own_lookups_of_an_accepted_name_do_not_warn_again() -> None:
    """endpoint_row and task_weight find an undocumented model's row silently (the suite
    turns any warning into an error)."""
    row = endpoint_row("image-to-video/kling-9")
    assert (row.path, row.standard, row.request_type) == (
        "/image-to-video/kling-9", "new", NewImageToVideoRequest)
    assert task_weight("image-to-video/kling-9", {}) == 1
    assert endpoint_row("videos/omni-video") is ENDPOINTS["videos/omni-video"]


def test_unknown_model_still_gets_its_family_types_checked() -> None:
    """An unknown id is permissive about limits, not about types or the family's values."""
    with pytest.warns(KlingWireWarning), pytest.raises(ValidationError) as caught:
        load_request("image-to-video/kling-9", {"contents": [item("video", url=VID)]})
    assert caught.value.field == "contents[0].type"
    with pytest.raises(ValidationError) as caught:
        NewTextToVideoRequest(model="kling-9", prompt="p", settings=TextToVideoSettings(
            resolution="8k"))  # type: ignore[arg-type]
    assert caught.value.field == "resolution"


@pytest.mark.parametrize("model", ["", "../v1/videos", "kling 3", "a/b", "k?x=1", "é", "x" * 65])
def test_a_model_id_must_be_one_plain_path_segment(model: str) -> None:
    """A model id that is not a plain path segment is refused, on load and at construction."""
    with pytest.raises(ValidationError) as caught:
        NewTextToVideoRequest(model=model, prompt="p")
    assert caught.value.field == "model"
    if model and "/" not in model:
        with pytest.raises(ValidationError):
            load_request(f"text-to-video/{model}", {"prompt": "p"})


def test_unknown_family_is_still_an_unknown_endpoint() -> None:
    """A path that is not a new-standard family is not synthesized."""
    with pytest.raises(ValidationError) as caught:
        load_request("lip-sync/kling-3.0", {"prompt": "p"})
    assert caught.value.field == "endpoint"


def test_new_request_classes_are_public_and_in_the_request_union() -> None:
    """The four classes are exported and part of kling_async.Request."""
    import typing

    members = set(typing.get_args(kling.Request))
    for cls in (NewTextToVideoRequest, NewImageToVideoRequest, NewOmniVideoRequest,
                MotionControlRequest):
        assert cls in members and getattr(kling, cls.__name__) is cls


def test_expected_duration_reads_the_new_settings() -> None:
    """A new-standard request's expected run time reads ``settings.duration`` and counts
    1080p/4k like legacy ``pro`` (the poll schedule scales with it)."""
    policy = kling.PollPolicy()
    short = NewTextToVideoRequest(model="kling-3.0", prompt="p")
    long_hd = NewTextToVideoRequest(model="kling-3.0", prompt="p", settings=TextToVideoSettings(
        duration=15, resolution="4k"))
    row = endpoint_for(short)
    assert row.expected_duration(short, policy) == policy.expected_duration("video")
    assert row.expected_duration(long_hd, policy) == policy.expected_duration(
        "video", seconds=15, pro=True)


ONE_EXAMPLE_PER_ROW = list({endpoint: body for endpoint, body in DOCUMENTED}.items())


@pytest.mark.anyio
@pytest.mark.parametrize(("endpoint", "body"), ONE_EXAMPLE_PER_ROW,
                         ids=[e for e, _ in ONE_EXAMPLE_PER_ROW])
async def test_create_task_posts_to_the_model_path(server: ScriptedServer, endpoint: str,
                                                   body: dict[str, Any]) -> None:
    """client.create_task POSTs a new-standard request to ``/{family}/{model}`` with exactly
    the dumped body, the external id in ``options``, and no model in the body."""
    request = load_request(endpoint, body)
    server.script("POST", f"/{endpoint}", Reply(200, json=ok(
        {"task_id": "t-new", "task_status": "submitted",
         "task_info": {"external_task_id": "ext-new"}})))
    async with kling.KlingClient(api_key="k-new", base_url=server.url) as client:
        await client.create_task(request, external_task_id="ext-new")
    (sent,) = server.requests
    assert (sent.method, sent.path) == ("POST", f"/{endpoint}")
    wire = without_unset(body)
    assert sent.json == {**wire, "options": {**wire.get("options", {}),
                                             "external_task_id": "ext-new"}}
    assert "model" not in sent.json and "model_name" not in sent.json


@pytest.mark.anyio
async def test_submit_of_an_undocumented_model_posts_to_its_path(server: ScriptedServer) -> None:
    """client.submit with an undocumented model id warns once and POSTs to
    ``/{family}/{model}`` (the submitter finds the row made for it)."""
    server.script("POST", "/text-to-video/kling-9", Reply(200, json=ok(
        {"task_id": "t-9", "task_status": "submitted"})))
    with anyio.fail_after(30):  # bounded, whatever goes wrong
        async with kling.KlingClient(api_key="k-9", base_url=server.url) as client:
            with pytest.warns(KlingWireWarning, match="kling-9"):
                await client.submit(NewTextToVideoRequest(model="kling-9", prompt="p"))
            for _ in range(500):  # the create is sent at once
                if server.count("POST", "/text-to-video/kling-9"):
                    break
                await anyio.sleep(0.01)
    (sent,) = server.requests_to("POST", "/text-to-video/kling-9")
    assert sent.json["prompt"] == "p" and set(sent.json) == {"prompt", "options"}
    assert set(sent.json["options"]) == {"external_task_id"}  # the SDK's own, in options
