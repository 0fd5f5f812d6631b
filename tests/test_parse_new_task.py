"""parse_task / created_task / callback_ids on the new standard's task object (reference §12.3,
create reply §11.2), and the outputs by kind both standards share."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kling_async as kling
from kling_async import Audio, Image, TaskStatus, Video, parse_task
from kling_async._results import MAX_RESULT_ITEMS, callback_ids, created_task

#: A new-standard task object with every documented output kind (reference §12.3).
NEW_TASK: dict[str, Any] = {
    "id": "860000000000000001",
    "status": "succeeded",
    "message": "",
    "create_time": 1752000000000,
    "update_time": 1752000060000,
    "external_id": "my-ext-9",
    "outputs": [
        {"type": "video", "id": "v-1", "url": "https://cdn/v.mp4",
         "watermark_url": "https://cdn/v-wm.mp4", "duration": "5.04"},
        {"type": "image", "url": "https://cdn/i0.png", "watermark_url": "https://cdn/i0-wm.png"},
        {"type": "image", "url": "https://cdn/i1.png", "group_id": "g-1"},
        {"type": "audio", "id": "a-1", "mp3_url": "https://cdn/a.mp3",
         "wav_url": "https://cdn/a.wav", "mp3_duration": "3.5", "wav_duration": "3.52"},
        {"type": "voice", "id": "vo-1", "name": "Ann", "url": "https://cdn/vo.mp3",
         "owned_by": "kling", "status": "succeeded"},
        {"type": "element", "id": "el-1", "name": "Zhang", "description": "a man",
         "element_type": "multi_image_elements", "owned_by": "12345", "status": "succeeded",
         "references": [{"type": "image", "role": "frontal", "url": "https://cdn/f.png"},
                        {"type": "voice", "role": "refer", "url": "https://cdn/r.mp3",
                         "id": "vo-2", "name": "Bo", "owned_by": "kling"}],
         "tags": [{"id": 1, "name": "Character", "description": ""}]},
        {"type": "hologram", "url": "https://cdn/x"},
    ],
    "billing": [{"charge_type": "unit", "amount": "2.4", "package_type": "video"}],
}


def test_the_new_task_object_is_parsed_with_outputs_by_kind() -> None:
    """Every documented field and output kind of §12.3 lands in the one Task view."""
    task = parse_task(NEW_TASK)
    assert (task.task_id, task.external_task_id) == ("860000000000000001", "my-ext-9")
    assert task.status is TaskStatus.SUCCEED and task.raw_status == "succeeded"
    assert task.status_msg is None and task.done()
    assert (task.created_at, task.updated_at) == (1752000000000, 1752000060000)
    assert task.videos == (Video(id="v-1", url="https://cdn/v.mp4", duration=5.04,
                                 watermark_url="https://cdn/v-wm.mp4"),)
    assert task.images == (
        Image(index=0, url="https://cdn/i0.png", watermark_url="https://cdn/i0-wm.png"),
        Image(index=1, url="https://cdn/i1.png", group_id="g-1"),
    )
    assert task.audios == (Audio(id="a-1", url_mp3="https://cdn/a.mp3",
                                 url_wav="https://cdn/a.wav", duration_mp3=3.5,
                                 duration_wav=3.52),)
    assert task.voices == (kling.VoiceResult(id="vo-1", name="Ann", url="https://cdn/vo.mp3",
                                       owned_by="kling", status="succeed"),)
    (element,) = task.elements
    assert (element.id, element.name, element.element_type, element.status) == (
        "el-1", "Zhang", "multi_image_elements", "succeed")
    assert [(r.type, r.role, r.id) for r in element.references] == [
        ("image", "frontal", None), ("voice", "refer", "vo-2")]
    assert task.watermark_urls == ("https://cdn/i0-wm.png", "https://cdn/v-wm.mp4")
    assert task.urls == ("https://cdn/i0.png", "https://cdn/i1.png", "https://cdn/v.mp4",
                         "https://cdn/a.mp3", "https://cdn/a.wav")


def test_the_new_task_in_its_envelope_and_as_a_callback() -> None:
    """The {code, data} envelope is unwrapped; a callback body names its id and external id."""
    envelope = {"code": 0, "message": "SUCCEED", "request_id": "r", "data": NEW_TASK}
    assert parse_task(envelope) == parse_task(NEW_TASK)
    assert kling.parse_callback(NEW_TASK) == parse_task(NEW_TASK)
    assert callback_ids(NEW_TASK) == ("860000000000000001", "my-ext-9")
    assert callback_ids(envelope) == ("860000000000000001", "my-ext-9")
    assert callback_ids({"external_id": "only-ext", "status": "failed"}) == (None, "only-ext")


def test_a_failed_new_task_keeps_its_message() -> None:
    """``message`` is the failure reason (status_msg); the raw status is kept as sent."""
    task = parse_task({"id": "t9", "status": "failed", "message": "content risk control"})
    assert task.status is TaskStatus.FAILED and task.status_msg == "content risk control"
    assert task.raw_status == "failed" and task.images == () and task.external_task_id is None


def test_the_new_create_reply_is_read_as_a_submitted_task() -> None:
    """§11.2's create reply (``id``, ``status``, ``external_id``, times) is a submitted Task;
    without a status it is submitted and keeps the external id that was sent."""
    reply = {"code": 0, "message": "SUCCEED", "request_id": "r",
             "data": {"id": "t-new", "status": "submitted", "create_time": 1, "update_time": 2,
                      "external_id": "ext-a", "message": ""}}
    task = created_task(reply, "ext-a")
    assert (task.task_id, task.status, task.external_task_id) == (
        "t-new", TaskStatus.SUBMITTED, "ext-a")
    assert (task.created_at, task.updated_at, task.raw_status) == (1, 2, "submitted")
    bare = created_task({"id": "t-new"}, "ext-b")
    assert (bare.status, bare.external_task_id, bare.raw_status) == (
        TaskStatus.SUBMITTED, "ext-b", None)


def test_succeed_and_succeeded_are_one_state_in_both_standards() -> None:
    """``TaskStatus("succeeded")`` is SUCCEED, whose public spelling stays ``succeed``; a
    legacy object spelling it the new way is read the same, raw text kept."""
    assert TaskStatus("succeeded") is TaskStatus.SUCCEED is TaskStatus("succeed")
    assert TaskStatus.SUCCEED.value == "succeed"
    legacy = parse_task({"task_id": "t1", "task_status": "succeeded"})
    assert legacy.status is TaskStatus.SUCCEED and legacy.raw_status == "succeeded"
    view = parse_task(NEW_TASK).to_dict()
    assert view["status"] == "succeed" and "succeeded" not in json.dumps(view)
    assert json.loads(json.dumps(view)) == view


@pytest.mark.parametrize("status", ["queued", "", None, 1, ["succeeded"], "succeeded!"])
def test_a_new_task_without_a_known_status_is_a_decode_error(status: Any) -> None:
    """An unknown or malformed new-standard status is a ResponseDecodeError, never a guess."""
    with pytest.raises(kling.ResponseDecodeError):
        parse_task({"id": "t1", "status": status})


@pytest.mark.parametrize("task_id", ["", None, "../x", "a/b", 1.5, "x" * 300])
def test_a_new_task_id_that_is_not_plain_is_refused(task_id: Any) -> None:
    """The id rule of legacy task ids holds for the new ``id`` too."""
    with pytest.raises(kling.ResponseDecodeError):
        parse_task({"id": task_id, "status": "submitted"})


def test_a_gateway_wrapper_with_an_id_of_its_own_is_unwrapped() -> None:
    """A wrapper carrying its own ``id`` around a ``data`` object is not read as the task."""
    wrapped = {"id": "gw-1", "code": 0, "data": {"code": 0, "data": NEW_TASK}}
    assert parse_task(wrapped).task_id == "860000000000000001"


def test_legacy_series_images_voices_and_elements() -> None:
    """Legacy omni-image ``result_type``/``series_images``, custom-voice ``voices`` and
    element ``elements`` results are kept, with series image URLs in ``urls``."""
    task = parse_task({
        "task_id": "t1", "task_status": "succeed",
        "task_result": {
            "result_type": "series",
            "series_images": [{"index": 0, "url": "https://cdn/s0.png",
                               "watermark_url": "https://cdn/s0-wm.png"},
                              {"index": 1, "url": "https://cdn/s1.png"}],
            "voices": [{"voice_id": "v1", "voice_name": "Ann", "trial_url": "https://cdn/t.mp3",
                        "owned_by": "kling"}],
            "elements": [{"element_id": 829836802793406551, "element_name": "Zhang",
                          "element_description": "d", "reference_type": "image_refer",
                          "element_image_list": {"frontal_image": "https://cdn/f.png",
                                                 "refer_images": [{"image_url": "https://r"}]},
                          "element_voice_info": {"voice_id": "v1", "voice_name": "Ann",
                                                 "trial_url": "https://cdn/t.mp3"},
                          "owned_by": "kling", "status": "succeed"}],
        },
    })
    assert task.result_type == "series" and [i.index for i in task.series_images] == [0, 1]
    assert task.urls == ("https://cdn/s0.png", "https://cdn/s1.png")
    assert task.watermark_urls == ("https://cdn/s0-wm.png",)
    assert task.voices == (kling.VoiceResult(id="v1", name="Ann", url="https://cdn/t.mp3",
                                       owned_by="kling"),)
    (element,) = task.elements
    assert (element.id, element.element_type, element.status) == (
        "829836802793406551", "image_refer", "succeed")
    assert [(r.type, r.role, r.url) for r in element.references] == [
        ("image", "frontal", "https://cdn/f.png"), ("image", "reference", "https://r"),
        ("voice", "refer", "https://cdn/t.mp3")]


def test_what_a_new_task_keeps_is_bounded() -> None:
    """At most MAX_RESULT_ITEMS outputs of each kind are kept, however many arrive."""
    body = copy.deepcopy(NEW_TASK)
    body["outputs"] = [{"type": "image", "url": f"https://cdn/{i}"} for i in range(10_000)]
    task = parse_task(body)
    assert len(task.images) == MAX_RESULT_ITEMS and task.images[-1].index == MAX_RESULT_ITEMS - 1


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                               max_size=3),
    max_leaves=12,
)
_output = st.fixed_dictionaries(
    {"type": st.sampled_from(["video", "image", "audio", "voice", "element", "x"])},
    optional={k: _json for k in ("id", "url", "watermark_url", "duration", "mp3_url",
                                 "mp3_duration", "name", "status", "references", "materials",
                                 "group_id", "element_type", "owned_by")},
)


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries(
    {"id": st.text(max_size=6) | st.integers(), "status": st.sampled_from(
        ["submitted", "processing", "succeeded", "failed", "nope"]) | _json},
    optional={"outputs": st.lists(_output, max_size=4) | _json, "message": _json,
              "external_id": _json, "create_time": _json, "update_time": _json,
              "billing": _json}))
def test_any_new_task_object_gives_a_task_or_a_decode_error(body: dict[str, Any]) -> None:
    """Whatever a new-standard object holds, the result is a Task or a ResponseDecodeError,
    and the Task's view is strict JSON."""
    try:
        task = parse_task(body)
    except kling.ResponseDecodeError:
        return
    json.dumps(task.to_dict(), allow_nan=False)
