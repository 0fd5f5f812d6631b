"""load_request over hostile JSON-shaped values: a ValidationError, or a request that round-trips.

For every endpoint, payloads are objects whose keys are the request's real field names (and,
in nested objects, the nested parts' field names) mixed with random ones, and whose values are
either plausible for the field or drawn from hostile JSON: huge ints, long digit strings,
values nested a thousand deep, inf/nan floats, text with lone surrogates, recursive lists and
objects.  Whatever arrives, load_request raises only a short, printable ValidationError, or
returns a request that dump_request/load_request round-trips through UTF-8 JSON.
"""

from __future__ import annotations

import copy
import functools
import json
import typing
import warnings
from types import UnionType
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kling_async import (
    ENDPOINTS,
    ContentItem,
    EffectsRequest,
    ElementRequest,
    KlingWireWarning,
    LipSyncRequest,
    ValidationError,
    dump_request,
    known_models,
    load_request,
    new_model_spec,
)
from kling_async._models.standard import CONTENT_TYPES, FAMILIES
from tests._catalogue_seeds import CATALOGUE_SEEDS
from tests.test_new_standard_requests import DOCUMENTED

#: A ValidationError's message never exceeds this, whatever the value (field 200, rule 500,
#: value 80 and hint 500 characters, a few escaped).
MESSAGE_BOUND = 2000
FUZZ = settings(max_examples=500, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def nest(depth: int, as_object: bool = False, leaf: Any = 1) -> Any:
    """``leaf`` inside ``depth`` lists (or one-key objects)."""
    value = leaf
    for _ in range(depth):
        value = {"a": value} if as_object else [value]
    return value


DEEP = nest(1000)
DEEP_OBJECT = nest(1000, as_object=True)
HUGE = 10**310
DIGITS = "9" * 5000

# --- hostile JSON values ------------------------------------------------------------------------

huge_ints = st.integers(300, 5000).map(lambda digits: 10**digits - 1) | st.integers(
    300, 400).map(lambda digits: -(10**digits))
digit_strings = st.integers(20, 6000).map(lambda n: "9" * n) | st.integers(4301, 5000).map(
    lambda n: "0" * n + "5")
deep_values = st.builds(nest, st.integers(1000, 3000), st.booleans())
floats = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    ["nan", "inf", "-inf", "1e400", "1e-400", "NaN"])
surrogate_text = st.builds(
    lambda head, code, tail: head + chr(code) + tail,
    st.text(max_size=4), st.integers(0xD800, 0xDFFF), st.text(max_size=4),
)
scalars = (st.none() | st.booleans() | st.integers() | floats | st.text(max_size=8)
           | surrogate_text | st.sampled_from(["", " ", "0", "-1", "1.5", "true"]))
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8,
)
hostile = json_values | huge_ints | digit_strings | deep_values | surrogate_text | floats
random_keys = st.sampled_from(["model", "image_url", "", "x", "\ud800"]) | st.text(max_size=6)

# --- values shaped like each field ----------------------------------------------------------------

MODEL_CHECKED = ("images/generations", "images/omni-image", "videos/omni-video",
                 "videos/text2video", "videos/image2video")
ALL_MODELS = sorted({m for name in MODEL_CHECKED for m in known_models(name)})


def _strip_optional(type_: Any) -> Any:
    if typing.get_origin(type_) in (typing.Union, UnionType):
        args = [a for a in typing.get_args(type_) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return type_


def _plausible(name: str, type_: Any) -> st.SearchStrategy[Any]:
    """Values that are right, or nearly right, for a field of this name and type."""
    type_ = _strip_optional(type_)
    if name == "model_name":
        return st.sampled_from(ALL_MODELS)
    if name == "duration":
        return st.integers(-1, 16) | st.integers(0, 16).map(str) | st.just(" 5 ")
    if name == "element_id":
        return st.integers(-1, 2**64) | st.integers(0, 2**64).map(str)
    if type_ is ContentItem:  # a new-standard contents[] item: any of the typed items
        return st.one_of([objects(cls) for cls in CONTENT_TYPES.values()])
    if attrs.has(type_):
        return objects(type_)
    if typing.get_origin(type_) is tuple:
        return st.lists(_field_values(name, typing.get_args(type_)[0]), max_size=4)
    if typing.get_origin(type_) is typing.Literal:
        return st.sampled_from(typing.get_args(type_))
    if type_ is bool:
        return st.booleans() | st.sampled_from(["true", "false"])
    if type_ is int:
        return st.integers(-2, 12) | st.integers(-2, 12).map(str) | st.just(2.0)
    if type_ is float:
        return st.floats(-12, 12) | st.floats(-1, 2).map(str) | st.integers(-12, 12)
    return st.text(min_size=1, max_size=8) | st.integers(2490, 2600).map(lambda n: "p" * n)


def _field_values(name: str, type_: Any) -> st.SearchStrategy[Any]:
    plausible = _plausible(name, type_)
    return st.one_of(plausible, plausible, hostile)


_OBJECTS: dict[str, st.SearchStrategy[dict[str, Any]]] = {}


def objects(cls: type[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """JSON objects for an attrs request class or part: some of its fields, a few random keys
    (one strategy per class, built once)."""
    key = f"{cls.__module__}.{cls.__qualname__}"
    if key not in _OBJECTS:
        _OBJECTS[key] = _objects(cls)
    return _OBJECTS[key]


def _objects(cls: type[Any]) -> st.SearchStrategy[dict[str, Any]]:
    hints = typing.get_type_hints(cls)
    fields = {f.name: _field_values(f.name, hints[f.name]) for f in attrs.fields(cls)}
    no_extras: dict[str, Any] = {}
    extras = st.just(no_extras) | st.dictionaries(random_keys, hostile, max_size=2)
    return st.builds(lambda extra, real: {**extra, **real},
                     extras, st.fixed_dictionaries({}, optional=fields))


# --- valid payloads, then one or two values made hostile ------------------------------------------

BIG_ID = 829836802793406551  # > 2**53: a float would round it
SEEDS: dict[str, list[dict[str, Any]]] = {
    "images/generations": [
        {"prompt": "a cat", "model_name": "kling-v2", "n": 2, "image_fidelity": 0.5,
         "aspect_ratio": "16:9", "resolution": "2k", "external_task_id": "e-1",
         "callback_url": "https://cb.example/k", "watermark_info": {"enabled": True}},
        {"prompt": "p", "model_name": "kling-v1-5", "image": "https://x.example/i.png",
         "image_reference": "subject", "human_fidelity": 0.3},
    ],
    "images/omni-image": [
        {"prompt": "p", "model_name": "kling-v3-omni", "image_list": [{"image": "u"}],
         "element_list": [{"element_id": BIG_ID}], "result_type": "series",
         "series_amount": 3, "aspect_ratio": "auto", "resolution": "2k"},
    ],
    "videos/omni-video": [
        {"prompt": "p", "aspect_ratio": "16:9", "duration": "5", "mode": "std",
         "element_list": [{"element_id": 5}], "image_list": [{"image_url": "u"}]},
        {"model_name": "kling-v3-omni", "multi_shot": True, "shot_type": "customize",
         "aspect_ratio": "1:1", "duration": "5", "sound": "on",
         "multi_prompt": [{"index": 1, "prompt": "a", "duration": "2"},
                          {"index": 2, "prompt": "b", "duration": "3"}]},
        {"prompt": "p", "video_list": [{"video_url": "v", "refer_type": "base",
                                        "keep_original_sound": "yes"}]},
        {"prompt": "p", "image_list": [{"image_url": "a", "type": "first_frame"},
                                       {"image_url": "b", "type": "end_frame"}]},
    ],
    "videos/text2video": [
        {"prompt": "p", "model_name": "kling-v1", "cfg_scale": 0.5, "mode": "pro",
         "negative_prompt": "n", "aspect_ratio": "9:16", "duration": "10",
         "camera_control": {"type": "simple", "config": {"pan": 5}}},
        {"model_name": "kling-v3", "multi_shot": True, "shot_type": "intelligence",
         "prompt": "p", "duration": "15"},
    ],
    "videos/image2video": [
        {"image": "i", "prompt": "p", "duration": "5", "static_mask": "s",
         "dynamic_masks": [{"mask": "m", "trajectories": [{"x": 1, "y": 2}, {"x": 3, "y": 4}]}]},
        {"image": "i", "model_name": "kling-v2-6", "voice_list": [{"voice_id": "v"}],
         "sound": "on"},
        {"image": "i", "camera_control": {"type": "down_back"}},
        {"image_tail": "t", "mode": "pro", "cfg_scale": 1},
    ],
    **CATALOGUE_SEEDS,
    # The new standard: every documented example of the official pages.
    **{endpoint: [body for e, body in DOCUMENTED if e == endpoint]
       for endpoint in dict.fromkeys(e for e, _ in DOCUMENTED)},
}


@st.composite
def mutated(draw: st.DrawFn, endpoint: str) -> dict[str, Any]:
    """A valid seed payload of ``endpoint``, some top-level keys dropped (often still valid),
    then 0 to 2 values, at any depth, made hostile."""
    payload: dict[str, Any] = copy.deepcopy(draw(st.sampled_from(SEEDS[endpoint])))
    for key in draw(st.sets(st.sampled_from(sorted(payload)))):
        del payload[key]
    for _ in range(draw(st.integers(0, 2))):
        target: Any = payload
        while True:  # descend into a nested object or list, or stop here
            keys = target.keys() if isinstance(target, dict) else range(len(target))
            inner = [k for k in keys if isinstance(target[k], (dict, list)) and target[k]]
            if not inner or draw(st.booleans()):
                break
            target = target[draw(st.sampled_from(inner))]
        if isinstance(target, dict):
            key_choices = st.sampled_from(sorted(target)) | random_keys if target else random_keys
            target[draw(key_choices)] = draw(hostile)
        else:
            target[draw(st.integers(0, len(target) - 1))] = draw(hostile)
    return payload


@functools.cache
def payloads(endpoint: str) -> st.SearchStrategy[dict[str, Any]]:
    return mutated(endpoint) | objects(ENDPOINTS[endpoint].request_type)


# --- the property ---------------------------------------------------------------------------------


def check_load(endpoint: str, payload: Any) -> None:
    """load_request(endpoint, payload) is a bounded ValidationError or a round-tripping request."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KlingWireWarning)
        try:
            request = load_request(endpoint, payload)
        except ValidationError as error:
            message = str(error)
            assert error.field and error.rule
            assert len(message) <= MESSAGE_BOUND and message.isprintable(), message[:300]
            return
        text = json.dumps(dump_request(request), ensure_ascii=False, allow_nan=False)
        text.encode("utf-8")  # what the client sends and the batch journal hashes
        assert load_request(endpoint, json.loads(text)) == request


class Case:
    """An explicit example payload behind a short repr: Hypothesis prints every explicit
    example, and its printer recurses into a value nested 1,000 deep."""

    def __init__(self, payload: Any) -> None:
        self.payload = payload

    def __repr__(self) -> str:
        return f"Case(#{EXAMPLES.index(self)})"


#: The cases of issue 12, and their kin: each is an @example of every endpoint's fuzz test.
EXAMPLES: list[Case] = [Case(payload) for payload in [
    {"prompt": "p", "image_fidelity": HUGE},
    {"prompt": "p", "cfg_scale": -HUGE},
    {"prompt": "p", "n": HUGE},
    {"prompt": "p", "n": DIGITS},
    {"prompt": "p", "aspect_ratio": "1:1", "duration": DIGITS},
    {"prompt": "p", "aspect_ratio": "1:1", "duration": 10**5000},
    {"prompt": "p", "aspect_ratio": "1:1", "element_list": [{"element_id": DIGITS}]},
    {"prompt": "p", "element_list": [{"element_id": -(10**5000)}]},
    {"model_name": "kling-v3", "multi_shot": True, "shot_type": "customize",
     "multi_prompt": [{"index": DIGITS, "prompt": "a", "duration": "5"}]},
    {"model_name": "kling-v3", "multi_shot": True, "shot_type": "customize",
     "multi_prompt": [{"index": 1, "prompt": "a", "duration": DIGITS}]},
    {"image": "i", "dynamic_masks": [{"mask": "m", "trajectories": [
        {"x": DIGITS, "y": 1}, {"x": 1, "y": HUGE}]}]},
    {"prompt": "p", "camera_control": {"type": "simple", "config": {"pan": HUGE}}},
    {"prompt": DEEP},
    {"prompt": DEEP_OBJECT},
    {"unknown_field": DEEP},
    {"prompt": "p", "model": DEEP, "model_name": DEEP},
    {"prompt": "p", "image_list": [{"image": DEEP, "image_url": DEEP}]},
    {"prompt": "p", "watermark_info": {"enabled": DEEP}},
    {"prompt": "p", "cfg_scale": float("nan"), "image_fidelity": float("inf")},
    {"prompt": "p", "camera_control": {"type": "simple", "config": {"pan": "1e400"}}},
    {"prompt": "a\ud800b"},
    {"prompt": "p", "aspect_ratio": "1:1", "external_task_id": "\udfff"},
    {"prompt": "p", "\ud800": 1},
    {"prompt": "p", "x" * 100_000: 1},
    {"prompt": "p", "multi_prompt": [{}] * 1_000_000},
    {"prompt": "p", 1: 2},
    {"prompt": "p", "image_list": [{(1, 2): "x"}]},
    {"prompt": "p", "n": True, "duration": True, "multi_shot": 1},
    {"prompt": "p", "aspect_ratio": "1:1", "duration": "\u0665"},
    {"prompt": "p", "aspect_ratio": "1:1", "duration": "0" * 5000 + "5"},
    {"prompt": "p", "aspect_ratio": "1:1", "model": "kling-v1", "model_name": "\ud800"},
    {"prompt": "p", "aspect_ratio": "1:1"},  # valid on three endpoints: round-trips
    {"image": "i", "prompt": "p"},
]]


def fuzz_endpoint(endpoint: str) -> Any:
    """The fuzz test of one endpoint: its payload strategy, with every EXAMPLES payload."""

    @FUZZ
    @given(payload=payloads(endpoint))
    def test(payload: Any) -> None:
        check_load(endpoint, payload.payload if isinstance(payload, Case) else payload)

    for case in EXAMPLES:
        test = example(payload=case)(test)
    test.__doc__ = (f"load_request({endpoint!r}, any JSON-shaped payload) is a bounded "
                    "ValidationError or a request that round-trips.")
    return test


test_fuzz_images_generations = fuzz_endpoint("images/generations")
test_fuzz_images_omni_image = fuzz_endpoint("images/omni-image")
test_fuzz_videos_omni_video = fuzz_endpoint("videos/omni-video")
test_fuzz_videos_text2video = fuzz_endpoint("videos/text2video")
test_fuzz_videos_image2video = fuzz_endpoint("videos/image2video")
test_fuzz_avatar = fuzz_endpoint("videos/avatar/image2video")
test_fuzz_advanced_lip_sync = fuzz_endpoint("videos/advanced-lip-sync")
test_fuzz_effects = fuzz_endpoint("videos/effects")
test_fuzz_multi_elements = fuzz_endpoint("videos/multi-elements")
test_fuzz_text_to_audio = fuzz_endpoint("audio/text-to-audio")
test_fuzz_video_to_audio = fuzz_endpoint("audio/video-to-audio")
test_fuzz_multi_image2image = fuzz_endpoint("images/multi-image2image")
test_fuzz_expand = fuzz_endpoint("images/editing/expand")
test_fuzz_try_on = fuzz_endpoint("images/kolors-virtual-try-on")
test_fuzz_ai_multi_shot = fuzz_endpoint("general/ai-multi-shot")
test_fuzz_custom_voices = fuzz_endpoint("general/custom-voices")
test_fuzz_elements = fuzz_endpoint("general/advanced-custom-elements")
test_fuzz_video_extend = fuzz_endpoint("videos/video-extend")
test_fuzz_multi_image2video = fuzz_endpoint("videos/multi-image2video")
test_fuzz_lip_sync = fuzz_endpoint("videos/lip-sync")
test_fuzz_legacy_motion_control = fuzz_endpoint("videos/motion-control")


def test_seed_payloads_are_valid_and_round_trip() -> None:
    """Every seed the fuzz tests mutate is itself a valid request (so mutants test one thing)."""
    for endpoint, seeds in SEEDS.items():
        for seed in seeds:
            request = load_request(endpoint, seed)
            assert load_request(endpoint, dump_request(request)) == request


def new_rows(family: str) -> list[str]:
    """The documented endpoints of one new-standard path family."""
    return sorted(n for n, row in ENDPOINTS.items() if row.standard == "new"
                  and n.startswith(family + "/"))


def fuzz_family(family: str) -> Any:
    """The fuzz test of one new-standard family: any of its endpoints, hostile payloads (the
    documented examples mutated, or objects of the family's fields)."""

    @FUZZ
    @given(data=st.data())
    def test(data: st.DataObject) -> None:
        endpoint = data.draw(st.sampled_from(new_rows(family)))
        check_load(endpoint, data.draw(payloads(endpoint)))

    test.__doc__ = (f"load_request('{family}/<model>', any JSON-shaped payload) is a bounded "
                    "ValidationError or a request that round-trips.")
    return test


test_fuzz_new_text_to_video = fuzz_family("text-to-video")
test_fuzz_new_image_to_video = fuzz_family("image-to-video")
test_fuzz_new_omni_video = fuzz_family("omni-video")
test_fuzz_new_motion_control = fuzz_family("motion-control")


@pytest.mark.parametrize("endpoint", sorted(n for n, r in ENDPOINTS.items() if r.standard == "new"))
def test_new_standard_endpoints_survive_the_hostile_examples(endpoint: str) -> None:
    """Every EXAMPLES payload (issue 12's cases and kin) on every new-standard endpoint is a
    bounded ValidationError or a round-tripping request."""
    for case in EXAMPLES:
        check_load(endpoint, case.payload)

# --- valid new-standard bodies, drawn from the model table -------------------------------------

texts = st.text(min_size=1, max_size=30).filter(lambda t: t.strip() != "")
urls = st.sampled_from(["https://cdn.example/a.png", "http://x.example/b.jpg", "iVBORw0KGgo="])
video_urls = st.sampled_from(["https://cdn.example/v.mp4", "http://x.example/w.mov"])


@st.composite
def new_settings(draw: st.DrawFn, endpoint: str) -> dict[str, Any]:
    """A ``settings`` object of values the endpoint's model documents (some left out)."""
    spec = new_model_spec(*endpoint.split("/", 1))
    out: dict[str, Any] = {}
    for name, allowed in (("resolution", spec.resolutions), ("aspect_ratio", spec.aspect_ratios),
                          ("duration", spec.durations), ("audio", spec.audio)):
        if allowed and draw(st.booleans()):
            out[name] = draw(st.sampled_from(allowed))
    if spec.multi_shot and draw(st.booleans()):
        out["multi_shot"] = draw(st.booleans())
    if spec.character_orientation:
        out["character_orientation"] = draw(st.sampled_from(["image", "video"]))
    return out


@st.composite
def new_contents(draw: st.DrawFn, endpoint: str) -> list[dict[str, Any]]:
    """``contents[]`` with items of the types the endpoint's model takes, unique ids."""
    spec = new_model_spec(*endpoint.split("/", 1))
    leader = {"image-to-video": "first_frame", "motion-control": "video"}.get(family_of(endpoint))
    kinds = sorted(k for k in spec.contents if k != leader)
    chosen = draw(st.lists(st.sampled_from(kinds), max_size=5, unique=True))
    items: list[dict[str, Any]] = []
    for n, kind in enumerate(chosen):
        item: dict[str, Any] = {"type": kind}
        if kind == "prompt":
            item["text"] = draw(texts)
        elif kind in ("element", "voice"):
            item["element_id" if kind == "element" else "voice_id"] = str(draw(
                st.integers(1, 2**63)))
            item["id"] = f"{kind}_{n}"
        else:
            item["url"] = draw(video_urls if "video" in kind else urls)
            if family_of(endpoint) == "omni-video" and draw(st.booleans()):
                item["id"] = f"{kind}_{n}"
        items.append(item)
    if leader is not None:
        items.insert(0, {"type": leader, "url": draw(urls if leader == "first_frame"
                                                     else video_urls)})
    return items


def family_of(endpoint: str) -> str:
    return endpoint.split("/", 1)[0]


@st.composite
def new_bodies(draw: st.DrawFn, family: str) -> tuple[str, dict[str, Any]]:
    """An endpoint of ``family`` and a body built from its model's documented values."""
    endpoint = draw(st.sampled_from(new_rows(family)))
    body: dict[str, Any] = ({"prompt": draw(texts)} if family == "text-to-video"
                            else {"contents": draw(new_contents(endpoint))})
    settings_ = draw(new_settings(endpoint))
    if settings_ or family == "motion-control":
        body["settings"] = settings_
    if draw(st.booleans()):
        body["options"] = {"external_task_id": draw(st.text("abc-0123456789", min_size=1,
                                                            max_size=20)),
                           "watermark_info": {"enabled": draw(st.booleans())}}
    return endpoint, body


@pytest.mark.parametrize("family", FAMILIES)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_new_standard_bodies_round_trip(family: str, data: st.DataObject) -> None:
    """A body built from the model table either breaks a cross-field rule (a ValidationError
    naming a body path) or loads, dumps back to exactly the same wire JSON (integer
    durations, string element ids, no model) and reloads equal."""
    endpoint, body = data.draw(new_bodies(family))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KlingWireWarning)
        try:
            request = load_request(endpoint, body)
        except ValidationError as error:
            assert error.field.split(".")[0].split("[")[0] in ("prompt", "contents", "settings")
            return
        assert dump_request(request) == body
        assert "model" not in dump_request(request)
        assert load_request(endpoint, json.loads(json.dumps(body))) == request


#: Every endpoint with its fuzz test: legacy ones one each, new-standard ones per family.
FUZZED = {
    "images/generations", "images/omni-image", "videos/omni-video", "videos/text2video",
    "videos/image2video",
    "text-to-video/kling-3.0-turbo", "text-to-video/kling-3.0", "text-to-video/kling-2.6",
    "text-to-video/kling-2.5-turbo",
    "image-to-video/kling-3.0-turbo", "image-to-video/kling-3.0", "image-to-video/kling-2.6",
    "image-to-video/kling-2.5-turbo",
    "omni-video/kling-3.0-omni", "omni-video/kling-o1",
    "motion-control/kling-3.0", "motion-control/kling-2.6",
}


def test_every_endpoint_is_fuzzed() -> None:
    """A new endpoint fails here until it has its fuzz test above (and is listed here)."""
    assert set(ENDPOINTS) == FUZZED | set(CATALOGUE_SEEDS)
    for name, row in ENDPOINTS.items():
        if row.standard == "new":
            assert name in new_rows(family_of(name)) and family_of(name) in FAMILIES


@pytest.mark.parametrize(("build", "field", "value"), [
    pytest.param(lambda v: EffectsRequest(effect_scene="zoom_out", input=v), "input", "x",
                 id="effects-input-wrong-type"),
    pytest.param(lambda v: EffectsRequest(effect_scene="zoom_out", input=v), "input", None,
                 id="effects-input-none"),
    pytest.param(lambda v: LipSyncRequest(input=v), "input", "x", id="lip-sync-input-wrong-type"),
    pytest.param(lambda v: LipSyncRequest(input=v), "input", None, id="lip-sync-input-none"),
    pytest.param(lambda v: ElementRequest(element_name="e", element_description="d",
                                          reference_type="image_refer", element_image_list=v),
                 "element_image_list", "x", id="element-images-wrong-type"),
    pytest.param(lambda v: ElementRequest(element_name="e", element_description="d",
                                          reference_type="video_refer", element_video_list=v),
                 "element_video_list", "x", id="element-videos-wrong-type"),
])
def test_nested_object_of_wrong_type_is_a_validation_error(build: Any, field: str,
                                                           value: Any) -> None:
    """A nested request object built in Python with a wrong type (or None where required) is
    a ValidationError naming the field, as load_request's is, never attrs' TypeError."""
    with pytest.raises(ValidationError) as caught:
        build(value)
    assert caught.value.field == field
