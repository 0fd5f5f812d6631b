"""parse_task / parse_callback: lenient about what the docs allow, strict about what we need."""

from __future__ import annotations

import copy
from typing import Any

import pytest

import kling_async as kling
from kling_async import Image, TaskStatus, Video, parse_callback, parse_task

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
        pytest.param({"task_id": "t-1", "task_status": "succeeded"}, id="unknown-status"),
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


@pytest.mark.parametrize("reply", [
    pytest.param({"task_id": "t1", "task_status": "submitted", "created_at": 1, "updated_at": "2",
                  "task_info": {"external_task_id": "mine"}}, id="usual"),
    pytest.param({"task_id": "t1"}, id="no-status"),
    pytest.param({"task_id": "t1", "task_status": "PROCESSING"}, id="spelled-upper"),
    pytest.param({"task_id": "t1", "task_status": "in_progress"}, id="alias"),
    pytest.param({"task_id": "t1", "task_status": None}, id="null-status"),
    pytest.param({"task_id": "t1", "status": "SUCCESS"}, id="gateway-status-key"),
    pytest.param({"task_id": "t1", "task_status": "bogus"}, id="unknown-status"),
    pytest.param({"task_id": 123, "task_status": "submitted"}, id="numeric-id"),
    pytest.param({"task_id": "", "task_status": "submitted"}, id="empty-id"),
    pytest.param({"task_id": "t1", "task_info": {}}, id="empty-info"),
    pytest.param({"task_id": "t1", "task_info": {"external_task_id": ""}}, id="empty-external"),
    pytest.param({"task_id": "t1", "task_info": {"external_task_id": 7}}, id="numeric-external"),
    pytest.param({"task_id": "t1", "task_info": [1]}, id="odd-info"),
    pytest.param({"task_id": "t1", "external_task_id": "flat"}, id="flat-external"),
    pytest.param({"code": 0, "data": {"task_id": "t1", "task_status": "submitted"}},
                 id="wrapped"),
    pytest.param({"task_id": "t1", "task_status": "succeed",
                  "task_result": {"images": [{"index": 0, "url": "https://x/1.png"}]}},
                 id="already-done"),
    pytest.param(["t1"], id="not-an-object"),
])
@pytest.mark.parametrize("sent", ["sent-id", None])
def test_the_create_reply_head_reads_exactly_what_the_full_parse_reads(
    reply: Any, sent: str | None,
) -> None:
    """created_head() either declines (None) or gives the task id, status and external id that
    created_task() would, so a job may defer building its Task from the reply."""
    from kling_async._wire import created_head, created_task

    head = created_head(reply, sent)
    try:
        task = created_task(reply, sent)
    except kling.ResponseDecodeError:
        assert head is None
        return
    if head is not None:
        assert head == (task.task_id, task.status, task.external_task_id)


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
