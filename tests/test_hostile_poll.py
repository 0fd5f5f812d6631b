"""Hostile poll and list replies: the poller survives anything a reply can hold.

A real client polls a ScriptedServer on 127.0.0.1 that answers list sweeps and task GETs with
every kind of malformed reply (JSON nested far too deep, ``"code": 1e400``, ``NaN``, ints of
5,000 digits, lone surrogates, items that are not tasks, tasks of other ids): each such reply is
a failed poll of the jobs it was for, every job still resolves with its own task, and the
client closes cleanly.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

import kling_async as kling
from kling_async import Backoff, KlingClient, PollPolicy, RetryPolicy, TaskStatus
from tests._scripted import Reply, ScriptedServer, ok, task_json

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

PATH = "/v1/videos/text2video"
#: Fast, jitter-free polls; sweeps from 20 tasks in flight; no deadline.
FAST = PollPolicy(first_poll=0.01, min_interval=0.01, max_interval=0.05, jitter=0.0,
                  deadline=None, bulk_threshold=20)
QUICK_RETRY = RetryPolicy(max_attempts=2, backoff=Backoff(initial=0.001, maximum=0.005))


def _raw(text: str) -> Reply:
    return Reply(200, body=text.encode("utf-8", "surrogatepass"),
                 headers={"Content-Type": "application/json"})


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


#: Every kind of reply a hostile or broken server may send to a list or task GET.
MALFORMED: list[tuple[str, Reply]] = [
    ("nested-100k-deep", _raw('{"code":0,"message":"ok","data":' + _deep(100_000) + "}")),
    ("code-1e400", _raw('{"code":1e400,"message":"x","data":[]}')),
    ("code-Infinity", _raw('{"code":Infinity,"message":"x","data":[]}')),
    ("code-NaN", _raw('{"code":NaN,"message":"x","data":[]}')),
    ("code-a-list", _raw('{"code":[0],"message":"x","data":[]}')),
    ("code-5000-digits", _raw('{"code":' + "9" * 5000 + ',"data":[]}')),
    ("error-message-nested", _raw('{"code":5000,"message":' + _deep(900) + "}")),
    ("data-a-string", Reply(200, json=ok("tasks"))),
    ("data-null", Reply(200, json=ok(None))),
    ("not-json", Reply(200, body=b"{\"code\":0,\"data\":[")),
    ("a-json-array", Reply(200, json=[1, 2, 3])),
]

#: List items that are no readable task (each reply also holds one such item per kind).
BAD_ITEMS: list[Any] = [
    1, "t0", None, [], {"task_status": "succeed"},
    {"task_id": "../../admin/x", "task_status": "succeed"},
    {"task_id": "t0?x=", "task_status": "succeed"},
    {"task_id": "t0", "task_status": "queued"},
    {"task_id": "t0", "task_status": 1},
    {"task_id": "t0", "task_status": [[[["succeed"]]]]},
    {"task_id": 1.5e300, "task_status": "succeed"},
    {"task_id": "", "task_status": "succeed"},
]


def _items_reply(items: list[Any]) -> Reply:
    return Reply(200, json=ok(items))


def _lone_surrogate_reply(task_id: str) -> Reply:
    return _raw('{"code":0,"data":{"task_id":"' + task_id + '\\ud800","task_status":"succeed"}}')


async def _submit(client: KlingClient, count: int) -> list[kling.Job]:
    return await client.submit_many(
        kling.TextToVideoRequest(prompt=f"video {i}") for i in range(count))


async def test_a_storm_of_malformed_list_replies_leaves_every_job_resolving() -> None:
    """With 24 tasks in flight (so the poller sweeps the list endpoint), list replies of every
    malformed kind and lists of unreadable items fail those sweeps only: every job still ends
    with its own task, and the client closes cleanly (no RecursionError, OverflowError or
    ExceptionGroup)."""
    count = 24
    ids = [f"t{i}" for i in range(count)]
    good_list = ok([task_json(i, "succeed") for i in ids])
    storm = [reply for _, reply in MALFORMED] + [
        _items_reply(BAD_ITEMS * 50),
        _items_reply([task_json("other-endpoint", "succeed"), *BAD_ITEMS]),
    ]
    async with ScriptedServer() as server:
        server.script("POST", PATH, *(Reply(200, json=ok(task_json(i))) for i in ids))
        server.script("GET", PATH, *storm, then=Reply(200, json=good_list))
        for task_id in ids:
            server.script("GET", f"{PATH}/{task_id}",
                          then=Reply(200, json=ok(task_json(task_id, "succeed"))))
        async with KlingClient(api_key="k", base_url=server.url, poll=FAST,
                               retry=QUICK_RETRY, reconcile_delay=0) as client:
            jobs = await _submit(client, count)
            with anyio.fail_after(30):
                tasks = [await job.result() for job in jobs]
        lists = server.count("GET", PATH)
    assert sorted(task.task_id for task in tasks) == sorted(ids)
    assert all(task.task_id == job.task_id for task, job in zip(tasks, jobs, strict=True))
    assert all(task.status is TaskStatus.SUCCEED for task in tasks)
    assert lists >= 1


async def test_sweeps_that_keep_failing_fall_back_to_single_gets() -> None:
    """When every list reply is unreadable, each failed sweep is a failed poll of its jobs
    (retried on their schedule) and after three in a row the endpoint is polled task by
    task: every job resolves through its own GET."""
    count = 20
    ids = [f"t{i}" for i in range(count)]
    async with ScriptedServer() as server:
        server.script("POST", PATH, *(Reply(200, json=ok(task_json(i))) for i in ids))
        server.script("GET", PATH, then=MALFORMED[1][1])  # "code": 1e400, every time
        for task_id in ids:
            server.script("GET", f"{PATH}/{task_id}",
                          then=Reply(200, json=ok(task_json(task_id, "succeed"))))
        async with KlingClient(api_key="k", base_url=server.url, poll=FAST,
                               retry=QUICK_RETRY, reconcile_delay=0) as client:
            jobs = await _submit(client, count)
            with anyio.fail_after(30):
                tasks = [await job.result() for job in jobs]
        lists = server.count("GET", PATH)
        singles = sum(server.count("GET", f"{PATH}/{i}") for i in ids)
    assert [task.task_id for task in tasks] == [job.task_id for job in jobs]
    assert lists >= 3  # three failed sweeps before the fallback
    assert singles >= count


@pytest.mark.parametrize(("kind", "bad"), [
    *MALFORMED,
    ("lone-surrogate-id", None),
    ("another-tasks-reply", None),
    ("list-instead-of-task", Reply(200, json=ok([task_json("t0", "succeed")]))),
    ("status-queued", None),
    ("deep-status", None),
], ids=lambda value: value if isinstance(value, str) else "")
async def test_an_unreadable_task_reply_is_a_failed_poll_of_that_job_only(
    kind: str, bad: Reply | None,
) -> None:
    """Every task GET of t0 answers malformed twice, then succeed: t0 and t1 both resolve with
    their own tasks (a reply about another task is never taken as this one's)."""
    def bad_reply(task_id: str) -> Reply:
        if bad is not None:
            return bad
        if kind == "lone-surrogate-id":
            return _lone_surrogate_reply(task_id)
        if kind == "another-tasks-reply":
            return Reply(200, json=ok(task_json("t1", "failed", task_status_msg="not yours")))
        if kind == "status-queued":
            return Reply(200, json=ok(task_json(task_id, "queued")))
        return _raw(json.dumps({"code": 0, "data": {"task_id": task_id}})[:-2]
                    + ',"task_status":' + _deep(50_000) + "}}")

    policy = PollPolicy(first_poll=0.01, min_interval=0.01, max_interval=0.02, jitter=0.0,
                        deadline=None, bulk_threshold=0)
    async with ScriptedServer() as server:
        server.script("POST", PATH, Reply(200, json=ok(task_json("t0"))),
                      Reply(200, json=ok(task_json("t1"))))
        server.script("GET", f"{PATH}/t0", bad_reply("t0"), bad_reply("t0"),
                      then=Reply(200, json=ok(task_json("t0", "succeed"))))
        server.script("GET", f"{PATH}/t1", then=Reply(200, json=ok(task_json("t1", "succeed"))))
        async with KlingClient(api_key="k", base_url=server.url, poll=policy,
                               retry=QUICK_RETRY, reconcile_delay=0) as client:
            first = await client.submit(kling.TextToVideoRequest(prompt="a"))
            second = await client.submit(kling.TextToVideoRequest(prompt="b"))
            with anyio.fail_after(20):
                one, two = await first.result(), await second.result()
        polls_of_t0 = server.count("GET", f"{PATH}/t0")
    assert (one.task_id, one.status) == ("t0", TaskStatus.SUCCEED)
    assert (two.task_id, two.status) == ("t1", TaskStatus.SUCCEED)
    assert polls_of_t0 >= 3


async def test_a_status_never_goes_backwards() -> None:
    """processing, then a stale submitted, then succeed: the job's history and events show
    submitted -> processing -> succeed, never back to submitted."""
    policy = PollPolicy(first_poll=0.01, min_interval=0.01, max_interval=0.02, jitter=0.0,
                        deadline=None, bulk_threshold=0)
    async with ScriptedServer() as server:
        server.script("POST", PATH, Reply(200, json=ok(task_json("t0"))))
        server.script("GET", f"{PATH}/t0",
                      *(Reply(200, json=ok(task_json("t0", s)))
                        for s in ("processing", "submitted", "processing", "submitted")),
                      then=Reply(200, json=ok(task_json("t0", "succeed"))))
        async with KlingClient(api_key="k", base_url=server.url, poll=policy,
                               retry=QUICK_RETRY, reconcile_delay=0) as client:
            job = await client.submit(kling.TextToVideoRequest(prompt="a"))
            with anyio.fail_after(20):
                await job.result()
    assert [status for status, _ in job.history] == [
        TaskStatus.SUBMITTED, TaskStatus.PROCESSING, TaskStatus.SUCCEED]
