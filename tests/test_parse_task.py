"""parse_task / parse_callback: lenient about what the docs allow, strict about what we need."""

from __future__ import annotations

import copy
import unicodedata
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kling_async as kling
from kling_async import Audio, Image, TaskStatus, Video, parse_callback, parse_task
from kling_async._results import MAX_MESSAGE_LENGTH, MAX_RESULT_ITEMS, is_plain_id

# The official envelope of reference §3.3, with concrete values.
OFFICIAL: dict[str, Any] = {
    "code": 0,
    "message": "SUCCEED",
    "request_id": "a1b2c3",
    "data": {
        "task_id": "867283741759111202",
        "task_status": "succeed",
        "task_status_msg": "",
        "task_info": {
            "external_task_id": "my-ext-1",
            "parent_video": {"id": "pv-1", "url": "https://cdn/parent.mp4", "duration": "5.1"},
        },
        "task_result": {
            "images": [{"index": 0, "url": "https://cdn/0.png",
                        "watermark_url": "https://cdn/0-wm.png"}],
            "videos": [{"id": "v-1", "url": "https://cdn/v.mp4",
                        "watermark_url": "https://cdn/v-wm.mp4", "duration": "5.1"}],
            "audios": [{"id": "a-1", "url_mp3": "https://cdn/a.mp3", "url_wav": "https://cdn/a.wav",
                        "duration_mp3": "5.0", "duration_wav": 5.02}],
        },
        "watermark_info": {"enabled": True},
        "final_unit_deduction": "1.5",
        "created_at": 1722769557708,
        "updated_at": 1722769557709,
    },
}


def test_official_envelope_example_is_parsed() -> None:
    """Every documented field of the §3.3 example lands in the Task."""
    task = parse_task(OFFICIAL["data"])
    assert task.task_id == "867283741759111202"
    assert task.status is TaskStatus.SUCCEED
    assert task.status_msg is None
    assert task.external_task_id == "my-ext-1"
    assert task.images == (Image(index=0, url="https://cdn/0.png",
                                 watermark_url="https://cdn/0-wm.png"),)
    assert task.videos == (Video(id="v-1", url="https://cdn/v.mp4", duration=5.1,
                                 watermark_url="https://cdn/v-wm.mp4"),)
    (audio,) = task.audios
    assert (audio.id, audio.url_mp3, audio.url_wav, audio.duration_mp3, audio.duration_wav) == (
        "a-1", "https://cdn/a.mp3", "https://cdn/a.wav", 5.0, 5.02)
    assert task.parent_video is not None
    assert (task.parent_video.id, task.parent_video.url, task.parent_video.duration) == (
        "pv-1", "https://cdn/parent.mp4", 5.1)
    assert task.final_unit_deduction == "1.5"
    assert (task.created_at, task.updated_at) == (1722769557708, 1722769557709)


def test_whole_envelope_is_unwrapped() -> None:
    """Given the whole {code, message, data} envelope, the task inside is parsed."""
    assert parse_task(OFFICIAL) == parse_task(OFFICIAL["data"])


def test_numbers_as_strings_and_ids_as_numbers() -> None:
    """'5.1' durations and '1722769557708' timestamps become numbers; a numeric task_id a string."""
    task = parse_task({
        "task_id": 867283741759111202,
        "task_status": "succeed",
        "created_at": "1722769557708",
        "updated_at": "1722769557708.0",
        "final_unit_deduction": 2,
        "task_info": {"external_task_id": 42},
        "task_result": {"videos": [{"id": 7, "url": "https://cdn/v.mp4", "duration": "5.1"}],
                        "images": [{"index": "2", "url": "https://cdn/i.png"}]},
    })
    assert task.task_id == "867283741759111202"
    assert task.created_at == 1722769557708
    assert task.updated_at == 1722769557708
    assert task.final_unit_deduction == "2"
    assert task.external_task_id == "42"
    assert task.videos[0].id == "7"
    assert task.videos[0].duration == 5.1
    assert task.images[0].index == 2


def test_extra_fields_are_ignored() -> None:
    """Unknown fields anywhere in the task are ignored."""
    body = copy.deepcopy(OFFICIAL["data"])
    body["brand_new_field"] = {"x": 1}
    body["task_info"]["future"] = [1, 2]
    body["task_result"]["videos"][0]["fps"] = 30
    body["task_result"]["stickers"] = [{"url": "https://cdn/s.png"}]
    assert parse_task(body) == parse_task(OFFICIAL["data"])


def test_minimal_task_needs_only_id_and_status() -> None:
    """A create reply's few fields are enough; everything else defaults to empty/None."""
    task = parse_task({"task_id": "t-1", "task_status": "submitted"})
    assert task.task_id == "t-1"
    assert task.status is TaskStatus.SUBMITTED
    assert (task.images, task.videos, task.audios) == ((), (), ())
    assert (task.external_task_id, task.created_at, task.parent_video) == (None, None, None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("submitted", TaskStatus.SUBMITTED, id="submitted"),
        pytest.param("processing", TaskStatus.PROCESSING, id="processing"),
        pytest.param("succeed", TaskStatus.SUCCEED, id="succeed"),
        pytest.param("failed", TaskStatus.FAILED, id="failed"),
        pytest.param("SUCCESS", TaskStatus.SUCCEED, id="gateway-SUCCESS"),
        pytest.param("FAILURE", TaskStatus.FAILED, id="gateway-FAILURE"),
        pytest.param("IN_PROGRESS", TaskStatus.PROCESSING, id="gateway-IN_PROGRESS"),
        pytest.param("Succeed", TaskStatus.SUCCEED, id="mixed-case"),
    ],
)
@pytest.mark.parametrize("key", [pytest.param("task_status", id="task_status"),
                                 pytest.param("status", id="status-alias")])
def test_status_spellings(key: str, raw: str, expected: TaskStatus) -> None:
    """task_status (or its alias status) accepts Kling's and the gateways' spellings."""
    assert parse_task({"task_id": "t-1", key: raw}).status is expected


_SPELLINGS = ["submitted", "processing", "in_progress", "succeed", "succeeded", "success",
              "failed", "failure", "SUCCESS", "Failed", "IN_PROGRESS"]
_AROUND = st.text(st.sampled_from(" \t\n\x1c\x85\u3000\x00\ud800é"), max_size=3)


@settings(max_examples=300, deadline=None)
@given(raw=st.text(max_size=80) | st.builds(
    lambda before, word, after: before + word + after, _AROUND, st.sampled_from(_SPELLINGS),
    _AROUND))
def test_a_status_read_keeps_its_text_as_sent(raw: str) -> None:
    """Any status text the reader accepts is kept in raw_status exactly as sent: 1-64
    characters of UTF-8-encodable text (what the optional-text rule would keep)."""
    try:
        task = parse_task({"task_id": "t-1", "task_status": raw})
    except kling.ResponseDecodeError:
        return
    assert task.raw_status == raw
    assert 0 < len(raw) <= 64
    raw.encode("utf-8")  # no lone surrogate


def test_task_status_wins_over_status() -> None:
    """When both are present, task_status is the one used."""
    task = parse_task({"task_id": "t-1", "task_status": "failed", "status": "SUCCESS"})
    assert task.status is TaskStatus.FAILED


def test_gateway_wrapper_is_unwrapped() -> None:
    """A gateway reply wrapping a whole Kling envelope (data.data.data) yields the inner task."""
    gateway = {"code": 0, "message": "ok",
               "data": {"code": 0, "message": "SUCCEED", "request_id": "r",
                        "data": {"code": "success",
                                 "data": {"task_id": "g-1", "status": "SUCCESS",
                                          "task_result": {"images": [
                                              {"index": 0, "url": "https://cdn/g.png"}]}}}}}
    task = parse_task(gateway)
    assert task.task_id == "g-1"
    assert task.status is TaskStatus.SUCCEED
    assert task.images[0].url == "https://cdn/g.png"


def test_failed_task_keeps_its_reason() -> None:
    """task_status_msg of a failed task is kept as status_msg."""
    task = parse_task({"task_id": "t-1", "task_status": "failed",
                       "task_status_msg": "content risk control"})
    assert task.status_msg == "content risk control"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"task_status": "succeed"}, id="no-task-id"),
        pytest.param({"task_id": "", "task_status": "succeed"}, id="empty-task-id"),
        pytest.param({"task_id": None, "task_status": "succeed"}, id="null-task-id"),
        pytest.param({"task_id": "t-1"}, id="no-status"),
        pytest.param({"task_id": "t-1", "task_status": "queued"}, id="unknown-status"),
        pytest.param({"task_id": "t-1", "task_status": "done"}, id="made-up-status"),
        pytest.param({"task_id": "t-1", "task_status": 1}, id="numeric-status"),
        pytest.param(["t-1"], id="not-an-object"),
        pytest.param(None, id="null"),
    ],
)
def test_missing_id_or_unknown_status_is_a_decode_error(body: Any) -> None:
    """Without a task_id or a known status the reply is a ResponseDecodeError, never a guess."""
    with pytest.raises(kling.ResponseDecodeError):
        parse_task(body)


CALLBACK_FLAT: dict[str, Any] = {
    "task_id": "cb-1",
    "task_status": "succeed",
    "task_status_msg": "",
    "created_at": 1722769557708,
    "updated_at": 1722769557708,
    "final_unit_deduction": "1",
    "task_info": {"parent_video": {"id": "p", "url": "https://cdn/p.mp4", "duration": "5"},
                  "external_task_id": "ext-cb"},
    "task_result": {"videos": [{"id": "v", "url": "https://cdn/v.mp4", "duration": "10.0"}]},
}


def test_flat_callback_body() -> None:
    """The official (flat) callback body parses into the task, external id included."""
    task = parse_callback(CALLBACK_FLAT)
    assert (task.task_id, task.status, task.external_task_id) == (
        "cb-1", TaskStatus.SUCCEED, "ext-cb")
    assert task.videos[0].duration == 10.0


def test_enveloped_callback_body() -> None:
    """A callback wrapped in {code, message, request_id, data} parses to the same task."""
    wrapped = {"code": 0, "message": "SUCCEED", "request_id": "r-cb", "data": CALLBACK_FLAT}
    assert parse_callback(wrapped) == parse_callback(CALLBACK_FLAT)


def test_callback_without_task_id_is_rejected() -> None:
    """A callback body with no task is a ResponseDecodeError."""
    with pytest.raises(kling.ResponseDecodeError):
        parse_callback({"code": 0, "message": "SUCCEED", "data": {"foo": 1}})


@pytest.mark.parametrize("value", [
    "Infinity", "-Infinity", "1e999", float("inf"), float("nan"), "NaN",
])
def test_times_and_durations_out_of_range_are_read_as_absent(value: Any) -> None:
    """A created_at or duration no number can hold is None, never an OverflowError: the rest
    of the task is still read (an accepted job's Task must always build)."""
    task = parse_task({
        "task_id": "t1", "task_status": "succeed", "created_at": value, "updated_at": value,
        "task_result": {"videos": [{"id": "v", "url": "https://x/v.mp4", "duration": value}]},
    })
    assert task.created_at is None and task.updated_at is None
    assert task.videos[0].url == "https://x/v.mp4"
    duration = task.videos[0].duration
    assert duration is None or duration != duration or abs(duration) == float("inf")


def test_a_duration_too_large_for_a_float_is_read_as_absent() -> None:
    """An integer duration beyond float range is None rather than an OverflowError."""
    task = parse_task({"task_id": "t1", "task_status": "succeed", "task_result": {
        "videos": [{"id": "v", "url": "https://x/v.mp4", "duration": 10**400}]}})
    assert task.videos[0].duration is None


# -- hostile input: a Task or a ResponseDecodeError, nothing else ------------------------------

_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=10**300, max_value=10**5000),
    st.floats(), st.text(max_size=20),
    st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), max_size=3),
    st.sampled_from(["succeed", "SUCCESS", "processing", "submitted", "failed", "t-1", "..",
                     "1e999", "Infinity", "NaN", "9" * 5000, "../../admin", "t1?x=", ""]),
)
_KEYS = st.one_of(
    st.sampled_from(["task_id", "task_status", "status", "data", "code", "task_info",
                     "task_result", "images", "videos", "audios", "url", "index", "id",
                     "duration", "external_task_id", "parent_video", "created_at",
                     "updated_at", "task_status_msg", "final_unit_deduction", "url_mp3",
                     "duration_wav", "watermark_url"]),
    st.text(max_size=5),
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=6),
    max_leaves=30,
)
_TASKISH = st.fixed_dictionaries(
    {"task_id": st.one_of(st.sampled_from(["t-1", "867283741759111202"]), _SCALARS)},
    optional={"task_status": _JSON, "status": _JSON, "task_info": _JSON,
              "task_result": st.fixed_dictionaries({}, optional={
                  "images": _JSON, "videos": _JSON, "audios": _JSON}) | _JSON,
              "created_at": _JSON, "task_status_msg": _JSON, "external_task_id": _JSON},
)


def _nested(depth: int) -> Any:
    value: Any = "succeed"
    for _ in range(depth):
        value = [value]
    return value


@settings(max_examples=300, deadline=None)
@given(data=st.one_of(_JSON, _TASKISH, _TASKISH.map(lambda t: {"code": 0, "data": t})))
def test_any_json_value_gives_a_task_or_a_decode_error(data: Any) -> None:
    """parse_task, created_task, parse_callback and callback_ids read any
    JSON-shaped value (any nesting, huge ints, inf/nan, lone surrogates) as a Task (or ids),
    or refuse it with ResponseDecodeError: no other exception; a Task's text is UTF-8."""
    from kling_async._results import callback_ids, created_task

    for parse in (parse_task, parse_callback, lambda d: created_task(d, "ext-1")):
        try:
            task = parse(data)
        except kling.ResponseDecodeError:
            continue
        assert is_plain_id(task.task_id)
        repr(task).encode("utf-8")  # no lone surrogate anywhere
        assert len(task.urls) <= 3 * MAX_RESULT_ITEMS
    try:
        task_id, external = callback_ids(data)
    except kling.ResponseDecodeError:
        return
    assert task_id is None or is_plain_id(task_id)
    assert task_id is not None or external is not None


@pytest.mark.parametrize("task_id", [
    "", ".", "..", "/", "../../admin/x", "t1?x=", "t#1", "t%2F1", "a\\b", "ab\n", " t1",
    "t 1", "t\t1", "t\x00", "t\u2028", "t\u0085", "t\ud800", "\udfff", "x" * 257, 1.5,
    True, ["t1"], {"id": "t1"},
])
@pytest.mark.parametrize("parse", ["parse_task", "created_task", "parse_callback"])
def test_a_task_id_that_is_not_plain_is_refused(task_id: Any, parse: str) -> None:
    """A server task id that is empty, a dot segment, or holds '/', '?', '#', '%', '\\',
    whitespace, control characters or a lone surrogate, or is over 256 characters (or not a
    string or integer), is a ResponseDecodeError: it never reaches a poll URL or a journal."""
    from kling_async import _results

    reader = getattr(_results, parse)
    args = (None,) if parse == "created_task" else ()
    with pytest.raises(kling.ResponseDecodeError):
        reader({"task_id": task_id, "task_status": "submitted"}, *args)


@pytest.mark.parametrize("task_id", ["867283741759111202", "t-1", "a.b_c~d", "x" * 256,
                                     "ид-7", 867283741759111202])
def test_plain_task_ids_are_kept(task_id: Any) -> None:
    """Ids of digits, letters (any script), '.', '_', '~', '-', up to 256 characters, pass."""
    assert parse_task({"task_id": task_id, "task_status": "submitted"}).task_id == str(task_id)


def _plain_by_category(text: str) -> bool:
    """The documented id rule, character by character, as is_plain_id reads non-ASCII text."""
    return 0 < len(text) <= 256 and text not in (".", "..") and all(
        char not in "/?#%\\" and unicodedata.category(char)[0] not in "CZ" for char in text)


@settings(max_examples=500, deadline=None)
@given(text=st.text(st.characters(max_codepoint=127), max_size=300)
       | st.sampled_from(["", ".", "..", "...", "x" * 256, "x" * 257, " ", "\x7f", "a\tb"]))
def test_an_ascii_id_is_judged_as_the_per_character_rule_judges_it(text: str) -> None:
    """is_plain_id's ASCII fast path gives the same answer as the Unicode-category rule."""
    assert is_plain_id(text) == _plain_by_category(text)


def test_every_ascii_character_is_judged_as_the_per_character_rule_judges_it() -> None:
    """Each of the 128 ASCII characters, alone and inside an id, is judged as by category."""
    for code in range(128):
        for text in (chr(code), f"a{chr(code)}b"):
            assert is_plain_id(text) == _plain_by_category(text), repr(text)


def test_a_deeply_nested_or_huge_value_anywhere_is_read_or_refused() -> None:
    """A status nested thousands deep is a ResponseDecodeError (not a RecursionError); a
    10,000-digit integer where a time or id belongs is absent, not a ValueError."""
    with pytest.raises(kling.ResponseDecodeError):
        parse_task({"task_id": "t1", "task_status": _nested(100_000)})
    huge = 10**10_000
    task = parse_task({"task_id": "t1", "task_status": "succeed", "created_at": huge,
                       "final_unit_deduction": huge, "task_info": {"external_task_id": huge},
                       "task_result": {"videos": [{"id": huge, "url": "u", "duration": huge}],
                                       "images": [{"url": "i", "index": huge}]}})
    assert (task.created_at, task.final_unit_deduction, task.external_task_id) == (
        None, None, None)
    assert task.videos == (Video(id="", url="u"),)
    assert task.images == (Image(index=0, url="i"),)
    with pytest.raises(kling.ResponseDecodeError):
        parse_task({"task_id": huge, "task_status": "succeed"})


def test_what_a_task_keeps_is_bounded() -> None:
    """A million result URLs keep MAX_RESULT_ITEMS of each kind; a 1 MB status message is cut
    to MAX_MESSAGE_LENGTH; a 1 MB URL is no URL; a time past year 9999 is absent."""
    many = [{"index": i, "url": f"https://cdn/{i}.png"} for i in range(1_000_000)]
    task = parse_task({"task_id": "t1", "task_status": "failed", "task_status_msg": "m" * 10**6,
                       "created_at": 10**20, "updated_at": "253402300800000",
                       "task_result": {"images": many,
                                       "videos": [{"id": "v", "url": "u" * 10**6}]}})
    assert len(task.images) == MAX_RESULT_ITEMS
    assert task.images[-1] == Image(index=MAX_RESULT_ITEMS - 1,
                                    url=f"https://cdn/{MAX_RESULT_ITEMS - 1}.png")
    assert task.videos == ()
    assert task.status_msg is not None and len(task.status_msg) == MAX_MESSAGE_LENGTH
    assert (task.created_at, task.updated_at) == (None, None)


def test_lone_surrogates_in_text_become_replacement_characters() -> None:
    """A lone surrogate in a message or URL is replaced by U+FFFD, so every field of a Task
    can be written as UTF-8 (journals, JSON lines); an external id with one is dropped."""
    task = parse_task({"task_id": "t1", "task_status": "succeed",
                       "task_status_msg": "bad \ud800 news",
                       "task_info": {"external_task_id": "e\udc00"},
                       "task_result": {"images": [{"url": "https://cdn/\udfff.png"}]}})
    assert task.status_msg == "bad \ufffd news"
    assert task.images[0].url == "https://cdn/\ufffd.png"
    assert task.external_task_id is None


def test_a_wrapped_create_reply_without_status_is_submitted() -> None:
    """A create reply inside a gateway envelope with no status reads as submitted, as the
    flat one does."""
    from kling_async._results import created_task

    task = created_task({"code": 0, "data": {"task_id": "t1"}}, "ext-1")
    assert (task.task_id, task.status, task.external_task_id) == (
        "t1", TaskStatus.SUBMITTED, "ext-1")


@pytest.mark.parametrize(("echoed", "expected"), [
    pytest.param(None, "a/b 1", id="omitted: the id sent"),
    pytest.param("a/b 1", "a/b 1", id="echoed, not plain: the id sent"),
    pytest.param("other-2", "other-2", id="another plain id: the reply's"),
    pytest.param(42, "42", id="a number: its text"),
    pytest.param("a/b 2", "a/b 1", id="another id, not plain: the id sent"),
    pytest.param(4.2, "a/b 1", id="a float: the id sent"),
])
def test_a_create_reply_names_the_external_id_it_echoes_or_the_one_sent(
        echoed: Any, expected: str) -> None:
    """A create reply's external_task_id is the one it names when that is a plain id, else
    (omitted, not plain, or no id at all) the one the create sent, even one that is not plain
    (a caller's own id may hold '/' or spaces)."""
    from kling_async._results import created_task

    info = {} if echoed is None else {"external_task_id": echoed}
    task = created_task({"task_id": "t1", "task_status": "submitted", "task_info": info},
                        "a/b 1")
    assert task.external_task_id == expected


@pytest.mark.parametrize(("result", "expected"), [
    # items that are not objects are skipped; so are images and videos without a URL
    ({"images": [1, "x", None, {"url": ""}, {"index": 3}, {"url": "u", "index": "2"}]},
     {"images": (Image(index=2, url="u"),)}),
    ({"images": [{"url": "u"}, {"url": "w", "index": None, "watermark_url": ""}]},
     {"images": (Image(index=0, url="u"), Image(index=0, url="w"))}),
    ({"videos": [["u"], {"id": 5, "url": "v", "duration": "2.5"}, {"url": None}]},
     {"videos": (Video(id="5", url="v", duration=2.5),)}),
    # audio tracks are kept without a URL (their URLs are two optional fields)
    ({"audios": [{"id": "a"}, 7, {"url_mp3": "m", "duration_wav": 1}]},
     {"audios": (Audio(id="a"), Audio(id="", url_mp3="m", duration_wav=1.0))}),
    # only a JSON array is read as items: an object or a string is no list of results
    ({"images": {"url": "u"}, "videos": "v", "audios": ({"id": "a"},)}, {}),
    # a Mapping that is not a dict is an object too; a list subclass is a list
    ({"images": type("L", (list,), {})([MappingProxyType({"url": "u", "index": 1})])},
     {"images": (Image(index=1, url="u"),)}),
])
def test_result_items_are_read_leniently_and_exactly(result: dict[str, Any],
                                                     expected: dict[str, Any]) -> None:
    task = parse_task({"task_id": "t", "task_status": "succeed", "task_result": result})
    assert (task.images, task.videos, task.audios) == (
        expected.get("images", ()), expected.get("videos", ()), expected.get("audios", ()))


def test_a_task_is_a_frozen_value() -> None:
    """A parsed Task cannot be changed (no field set, none added, none deleted), equals and
    hashes as its fields, pickles, and attrs.evolve makes a changed copy."""
    import pickle

    import attrs

    task = parse_task(OFFICIAL)
    for name, value in (("status", TaskStatus.FAILED), ("new_field", 1)):
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            setattr(task, name, value)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        del task.task_id
    again = parse_task(copy.deepcopy(OFFICIAL))
    assert again == task and hash(again) == hash(task)
    assert pickle.loads(pickle.dumps(task)) == task
    failed = attrs.evolve(task, status=TaskStatus.FAILED)
    assert failed.status is TaskStatus.FAILED and task.status is TaskStatus.SUCCEED
    assert [f.name for f in attrs.fields(kling.Task)][:4] == [
        "task_id", "status", "status_msg", "external_task_id"]
