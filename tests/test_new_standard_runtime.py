"""The SDK runtime of the 2026 API against a scripted server on 127.0.0.1 (reference §11-§12):
new-standard creates and their batched ``GET /tasks?task_ids=`` polls, reconciliation by
``/tasks?external_task_ids=`` and (legacy) by the path segment, the official 400 / 1201 "Task not
found" answer, the ``POST /tasks`` cursor listing, and API-key-only rules for JWT clients.

Replies are in the shapes of reference §11.2 (create) and §12.1-§12.3 (task object, listing).
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from anyio.from_thread import start_blocking_portal

import kling_async as kling
from kling_async import BlockingKlingClient, KlingClient, Limits, PollPolicy, TaskStatus
from tests._scripted import Drop, Reply, ScriptedServer, error_body, ok, task_json

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

KEY = "new-standard-key"
T2V = "text-to-video/kling-3.0-turbo"
T2V_PATH = "/" + T2V
LEGACY = "/v1/videos/text2video"
#: Fast, jitter-free polls without a deadline.
FAST = PollPolicy(first_poll=0.01, min_interval=0.01, max_interval=0.05, jitter=0.0,
                  deadline=None)
QUICK = kling.RetryPolicy(max_attempts=3, backoff=kling.Backoff(initial=0.001, maximum=0.005))
NOT_FOUND = Reply(400, json=error_body(1201, "Task not found by id/external id: x"))


def client_for(server: ScriptedServer, **kwargs: Any) -> KlingClient:
    settings: dict[str, Any] = {"api_key": KEY, "base_url": server.url, "poll": FAST,
                                "retry": QUICK, "reconcile_delay": 0}
    settings.update(kwargs)
    return KlingClient(**settings)


def new_task(task_id: str, status: str = "succeeded", ext: str | None = None,
             **extra: Any) -> dict[str, Any]:
    """A new-standard task object (§12.3); a succeeded one has one video output."""
    body: dict[str, Any] = {"id": task_id, "status": status, "message": "",
                            "create_time": 1752000000000, "update_time": 1752000001000}
    if ext is not None:
        body["external_id"] = ext
    if status == "succeeded":
        body["outputs"] = [{"type": "video", "id": f"v-{task_id}",
                            "url": f"https://cdn/{task_id}.mp4", "duration": "5"}]
        body["billing"] = [{"charge_type": "unit", "amount": "4", "package_type": "video"}]
    return {**body, **extra}


def created(task_id: str, ext: str) -> Reply:
    """A new-standard create reply (§11.2)."""
    return Reply(200, json=ok({"id": task_id, "status": "submitted", "create_time": 1,
                               "update_time": 1, "external_id": ext}))


def t2v(prompt: str = "a fox", **options: Any) -> Any:
    body: dict[str, Any] = {"prompt": prompt}
    if options:
        body["options"] = options
    return kling.load_request(T2V, body)


def asked_ids(server: ScriptedServer) -> list[list[str]]:
    """The ids of each ``GET /tasks?task_ids=`` call, in order."""
    return [r.query["task_ids"].split(",") for r in server.requests_to("GET", "/tasks")
            if "task_ids" in r.query]


# -- polling through GET /tasks ------------------------------------------------------------------


async def test_45_due_jobs_are_polled_in_3_calls_of_at_most_20_ids(
    server: ScriptedServer,
) -> None:
    """45 due new-standard jobs are asked for in 3 ``/tasks`` calls of <= 20 ids each (every id
    once), and each returned task ends its own job."""
    ids = [f"86{i:016d}" for i in range(45)]
    server.script("GET", "/tasks", then=Reply(200, json=ok([new_task(i) for i in ids])))
    async with client_for(server) as client:
        jobs = [await client.attach(T2V, task_id=i) for i in ids]
        tasks = [await job.result(timeout=30) for job in jobs]
        stats = client.statistics()
    calls = asked_ids(server)
    assert len(calls) == 3 and all(len(c) <= 20 for c in calls)
    assert sorted(i for c in calls for i in c) == sorted(ids)
    assert [t.task_id for t in tasks] == ids
    assert all(t.status is TaskStatus.SUCCEED and t.raw_status == "succeeded" for t in tasks)
    assert tasks[7].videos[0].url == f"https://cdn/{ids[7]}.mp4"
    assert stats.task_queries == 3 and stats.polls == 0


async def test_the_id_limit_is_a_setting(server: ScriptedServer) -> None:
    """``Limits(max_ids_per_task_query=4)``: 10 due jobs are asked for in calls of <= 4 ids."""
    ids = [f"t{i}" for i in range(10)]
    server.script("GET", "/tasks", then=Reply(200, json=ok([new_task(i) for i in ids])))
    async with client_for(server, limits=Limits(max_ids_per_task_query=4)) as client:
        jobs = [await client.attach(T2V, task_id=i) for i in ids]
        for job in jobs:
            await job.result(timeout=30)
    calls = asked_ids(server)
    assert len(calls) == 3 and max(len(c) for c in calls) == 4
    with pytest.raises(ValueError, match="max_ids_per_task_query"):
        Limits(max_ids_per_task_query=0)


async def test_a_refusal_for_too_many_ids_lowers_the_limit(server: ScriptedServer) -> None:
    """A gateway answering 400 / 1201 "... cannot exceed 4 in total" gets at most 4 ids per
    call from then on; the refused call is a failed poll only, every job still ends."""
    ids = [f"t{i}" for i in range(10)]
    server.script("GET", "/tasks",
                  Reply(400, json=error_body(1201, "The task_ids cannot exceed 4 in total")),
                  then=Reply(200, json=ok([new_task(i) for i in ids])))
    async with client_for(server, limits=Limits(max_ids_per_task_query=6)) as client:
        jobs = [await client.attach(T2V, task_id=i) for i in ids]
        for job in jobs:
            await job.result(timeout=30)
    calls = asked_ids(server)
    assert sorted(len(c) for c in calls[:2]) == [4, 6]  # the first dispatch, before the refusal
    assert len(calls) > 2 and all(len(c) <= 4 for c in calls[2:])


async def test_submitted_new_standard_jobs_share_their_polls(server: ScriptedServer) -> None:
    """30 new-standard submissions: one create each, and far fewer ``/tasks`` calls than jobs,
    none over 20 ids (the first polls of jobs accepted together ride in one call)."""
    server.script("POST", T2V_PATH, *[created(f"n{i}", f"e{i}") for i in range(30)])
    server.script("GET", "/tasks", then=Reply(200, json=ok(
        [new_task(f"n{i}", ext=f"e{i}") for i in range(30)])))
    poll = PollPolicy(first_poll=0.3, min_interval=0.05, max_interval=1.0, jitter=0.0,
                      deadline=None)
    async with client_for(server, poll=poll) as client:
        jobs = await client.submit_many(
            t2v(f"fox {i}", external_task_id=f"e{i}") for i in range(30))
        for job in jobs:
            await job.result(timeout=30)
    assert server.count("POST", T2V_PATH) == 30
    calls = asked_ids(server)
    assert 2 <= len(calls) <= 10 and all(len(c) <= 20 for c in calls)
    sent = server.requests_to("POST", T2V_PATH)[0].json
    assert sent == {"prompt": "fox 0", "options": {"external_task_id": "e0"}}


async def test_a_missing_id_is_no_news_within_the_grace_then_not_found(
    server: ScriptedServer,
) -> None:
    """An id absent from every ``/tasks`` reply is polled on while the task is younger than
    ``task_visibility_grace``, then fails with NotFoundError after 3 more absences."""
    server.script("GET", "/tasks", then=Reply(200, json=ok([])))
    limits = Limits(task_visibility_grace=0.3)
    async with client_for(server, limits=limits) as client:
        job = await client.attach(T2V, task_id="ghost")
        with pytest.raises(kling.NotFoundError, match="ghost"):
            await job.result(timeout=30)
    calls = len(asked_ids(server))
    assert 3 < calls < 200  # polls within the grace were no failures


async def test_without_a_grace_three_absences_are_not_found(server: ScriptedServer) -> None:
    """With ``task_visibility_grace=0`` the third reply in a row without the id ends the job."""
    server.script("GET", "/tasks", then=Reply(200, json=ok([])))
    async with client_for(server, limits=Limits(task_visibility_grace=0)) as client:
        job = await client.attach(T2V, task_id="ghost")
        with pytest.raises(kling.NotFoundError):
            await job.result(timeout=30)
    assert len(asked_ids(server)) == 3


async def test_a_task_that_shows_up_late_is_followed(server: ScriptedServer) -> None:
    """A task missing from the first replies (not visible yet) ends normally once it shows."""
    empty = Reply(200, json=ok([]))
    server.script("GET", "/tasks", empty, empty,
                  Reply(200, json=ok([new_task("late", "processing")])),
                  then=Reply(200, json=ok([new_task("late")])))
    async with client_for(server) as client:
        job = await client.attach(T2V, task_id="late")
        task = await job.result(timeout=30)
    assert task.status is TaskStatus.SUCCEED
    assert [s for s, _ in job.history][-2:] == [TaskStatus.PROCESSING, TaskStatus.SUCCEED]


async def test_hostile_tasks_replies_are_failed_polls_only(server: ScriptedServer) -> None:
    """Malformed ``/tasks`` replies (not a list, unreadable items, other tasks, garbage) are
    failed polls; the jobs still end with their own tasks."""
    bad: list[Reply] = [
        Reply(200, json=ok({"id": "a"})),
        Reply(200, json=ok("tasks")),
        Reply(200, body=b'{"code":0,"data":[' + b"[" * 50_000),
        Reply(200, json=ok([1, None, {"id": "../x", "status": "succeeded"},
                            {"id": "a", "status": "queued"}])),
        Reply(200, json=ok([new_task("someone-else"), new_task("a", "nope")])),
    ]
    server.script("GET", "/tasks", *bad,
                  then=Reply(200, json=ok([new_task("a"), new_task("b", "failed")])))
    async with client_for(server) as client:
        ok_job = await client.attach(T2V, task_id="a")
        failed_job = await client.attach(T2V, task_id="b")
        assert (await ok_job.result(timeout=30)).task_id == "a"
        with pytest.raises(kling.TaskFailedError):
            await failed_job.result(timeout=30)


async def test_a_new_standard_callback_pokes_its_job(server: ScriptedServer) -> None:
    """A new-standard callback body (the §12.3 task object) names its job by ``id``; the job
    is re-queried through ``/tasks`` at once instead of at its next scheduled poll."""
    server.script("POST", T2V_PATH, created("cb-1", "cb-ext"))
    server.script("GET", "/tasks", then=Reply(200, json=ok([new_task("cb-1", ext="cb-ext")])))
    slow = PollPolicy(first_poll=600.0, min_interval=0.01, deadline=None)
    async with client_for(server, poll=slow) as client:
        job = await client.submit(t2v(), external_task_id="cb-ext")
        assert client.notify_callback(new_task("cb-1", ext="cb-ext")) is job
        task = await job.result(timeout=30)
    assert task.status is TaskStatus.SUCCEED and asked_ids(server) == [["cb-1"]]


async def test_get_task_on_a_new_standard_endpoint_asks_tasks(server: ScriptedServer) -> None:
    """``get_task`` of a new-standard endpoint is ``GET /tasks?task_ids=<id>``; an id the reply
    lacks is a NotFoundError."""
    server.script("GET", "/tasks", Reply(200, json=ok([new_task("t1", "processing")])),
                  Reply(200, json=ok([])))
    async with client_for(server) as client:
        task = await client.get_task(T2V, "t1")
        with pytest.raises(kling.NotFoundError):
            await client.get_task(T2V, "t2")
    assert task.status is TaskStatus.PROCESSING and task.raw_status == "processing"
    assert [r.query for r in server.requests] == [{"task_ids": "t1"}, {"task_ids": "t2"}]


# -- reconciling ambiguous creates ---------------------------------------------------------------


async def test_an_ambiguous_new_create_is_found_by_external_task_ids(
    server: ScriptedServer,
) -> None:
    """A new-standard create whose reply is lost is looked up with
    ``GET /tasks?external_task_ids=X``; found, it is tracked and never posted again."""
    server.script("POST", T2V_PATH, Drop())
    server.script("GET", "/tasks", Reply(200, json=ok([new_task("n1", "processing", "x-1")])),
                  then=Reply(200, json=ok([new_task("n1", ext="x-1")])))
    async with client_for(server) as client:
        job = await client.submit(t2v(), external_task_id="x-1")
        task = await job.result(timeout=30)
    assert server.count("POST", T2V_PATH) == 1
    assert server.requests_to("GET", "/tasks")[0].query == {"external_task_ids": "x-1"}
    assert task.task_id == "n1" and task.external_task_id == "x-1"


async def test_an_ambiguous_new_create_absent_from_tasks_is_posted_again(
    server: ScriptedServer,
) -> None:
    """When ``/tasks?external_task_ids=X`` answers ``[]`` nothing was created: the create is
    posted again, with the same external id."""
    server.script("POST", T2V_PATH, Drop(), created("n2", "x-2"))
    server.script("GET", "/tasks", Reply(200, json=ok([])),
                  then=Reply(200, json=ok([new_task("n2", ext="x-2")])))
    async with client_for(server) as client:
        job = await client.submit(t2v(), external_task_id="x-2")
        await job.result(timeout=30)
    posts = server.requests_to("POST", T2V_PATH)
    assert [p.json["options"]["external_task_id"] for p in posts] == ["x-2", "x-2"]


async def test_a_legacy_ambiguous_create_is_looked_up_by_the_path_segment(
    server: ScriptedServer,
) -> None:
    """Legacy, default form: the lookup is ``GET /v1/<path>/{external_task_id}`` with no
    query; the official 400 / 1201 "Task not found by id/external id" means nothing was
    created, so the create is posted again (once)."""
    server.script("POST", LEGACY, Drop(), Reply(200, json=ok(task_json("L1"))))
    server.script("GET", f"{LEGACY}/lx-1", NOT_FOUND)
    server.script("GET", f"{LEGACY}/L1", then=Reply(200, json=ok(task_json("L1", "succeed"))))
    async with client_for(server) as client:
        assert client.external_id_query == "path"
        job = await client.submit(kling.TextToVideoRequest(prompt="x"), external_task_id="lx-1")
        await job.result(timeout=30)
    (lookup,) = server.requests_to("GET", f"{LEGACY}/lx-1")
    assert lookup.query == {}
    assert server.count("POST", LEGACY) == 2


async def test_a_legacy_path_lookup_finds_the_task_and_nothing_is_posted_again(
    server: ScriptedServer,
) -> None:
    """The path-segment lookup answering the task: the job adopts it, one create only."""
    server.script("POST", LEGACY, Drop())
    server.script("GET", f"{LEGACY}/lx-2", Reply(200, json=ok(task_json(
        "L2", "processing", task_info={"external_task_id": "lx-2"}))))
    server.script("GET", f"{LEGACY}/L2", then=Reply(200, json=ok(task_json("L2", "succeed"))))
    async with client_for(server) as client:
        job = await client.submit(kling.TextToVideoRequest(prompt="x"), external_task_id="lx-2")
        await job.result(timeout=30)
    assert server.count("POST", LEGACY) == 1 and job.task_id == "L2"


async def test_a_legacy_poll_answering_task_not_found_ends_as_not_found(
    server: ScriptedServer,
) -> None:
    """A task GET answered 400 / 1201 "Task not found by id/external id" is a "not found"
    poll: three in a row end the job with NotFoundError (not a wait for the deadline)."""
    server.script("GET", f"{LEGACY}/gone", then=NOT_FOUND)
    async with client_for(server) as client:
        job = await client.attach("videos/text2video", task_id="gone")
        with pytest.raises(kling.NotFoundError, match="Task not found"):
            await job.result(timeout=30)
    assert server.count("GET", f"{LEGACY}/gone") == 3


async def test_get_task_by_external_id_on_a_new_endpoint(server: ScriptedServer) -> None:
    """``get_task_by_external_id`` of a new-standard endpoint asks ``external_task_ids``;
    another task's item is no match, ``[]`` a NotFoundError."""
    server.script("GET", "/tasks", Reply(200, json=ok([new_task("o", ext="other"),
                                                       new_task("m", ext="mine")])),
                  Reply(200, json=ok([])))
    async with client_for(server) as client:
        task = await client.get_task_by_external_id(T2V, "mine")
        with pytest.raises(kling.NotFoundError):
            await client.get_task_by_external_id(T2V, "absent")
    assert task.task_id == "m"


# -- POST /tasks listing -------------------------------------------------------------------------


def _listing(ids: list[str], cursor: str | None) -> Reply:
    return Reply(200, json=ok({"result": [new_task(i) for i in ids], "count": len(ids),
                               "next_cursor": cursor or "", "has_more": cursor is not None}))


async def test_list_tasks_without_an_endpoint_follows_the_cursor(
    server: ScriptedServer,
) -> None:
    """``list_tasks()`` yields every Task of ``POST /tasks`` pages, sending the filters and
    limit on every page and the previous ``next_cursor``, until ``has_more`` is false."""
    server.script("POST", "/tasks", _listing(["a", "b"], "c1"), _listing(["c"], "c2"),
                  _listing(["d"], None))
    start = datetime.datetime(2026, 7, 1, tzinfo=datetime.timezone.utc)
    async with client_for(server) as client:
        tasks = [t async for t in client.list_tasks(
            status=[TaskStatus.SUCCEED, "failed"], product_type="video", start_time=start,
            end_time=1783000000000, limit=2)]
    assert [t.task_id for t in tasks] == ["a", "b", "c", "d"]
    bodies = [r.json for r in server.requests_to("POST", "/tasks")]
    first = {"limit": 2, "start_time": 1782864000000, "end_time": 1783000000000,
             "filters": [{"key": "status", "values": ["succeeded", "failed"]},
                         {"key": "product_type", "values": ["video"]}]}
    assert bodies == [first, {**first, "cursor": "c1"}, {**first, "cursor": "c2"}]


async def test_list_tasks_bounds_and_refusals(server: ScriptedServer) -> None:
    """``max_pages`` bounds the pages; a repeated cursor is a ResponseDecodeError; bad filters
    are ValidationErrors naming the field, before any request."""
    server.script("POST", "/tasks", then=_listing(["a"], "same"))
    async with client_for(server) as client:
        assert len([t async for t in client.list_tasks(max_pages=1)]) == 1
        with pytest.raises(kling.ResponseDecodeError, match="cursor"):
            [t async for t in client.list_tasks()]
        sent = len(server.requests)
        cases: list[tuple[str, dict[str, Any]]] = [
            ("limit", {"limit": 501}), ("limit", {"limit": 0}),
            ("status", {"status": "done"}), ("product_type", {"product_type": "audio"}),
            ("start_time", {"start_time": 5, "end_time": 5}),
            ("start_time", {"start_time": datetime.datetime(2026, 1, 1)}),
        ]
        for field, kwargs in cases:
            with pytest.raises(kling.ValidationError) as info:
                client.list_tasks(**kwargs)
            assert info.value.field == field
        with pytest.raises(kling.ValidationError):
            client.list_tasks("videos/text2video", status="failed")  # type: ignore[call-overload]
        with pytest.raises(kling.ValidationError, match="without an endpoint"):
            [p async for p in client.list_tasks(T2V)]
    assert len(server.requests) == sent


async def test_try_on_is_sent_as_documented(server: ScriptedServer) -> None:
    """``product_type="try-on"`` is sent as ``try_on`` (§12.2)."""
    server.script("POST", "/tasks", _listing([], None))
    async with client_for(server) as client:
        assert [t async for t in client.list_tasks(product_type=["try-on", "image"])] == []
    (sent,) = server.requests
    assert sent.json["filters"] == [{"key": "product_type", "values": ["try_on", "image"]}]


def test_the_blocking_client_lists_new_standard_tasks() -> None:
    """``BlockingKlingClient.list_tasks()`` yields the same Tasks, synchronously (the server
    runs on a loop of its own, in another thread)."""
    with start_blocking_portal() as portal:
        server = portal.call(ScriptedServer)
        portal.call(server.__aenter__)
        try:
            server.script("POST", "/tasks", _listing(["a"], "c1"), _listing(["b"], None))
            with BlockingKlingClient(api_key=KEY, base_url=server.url, retry=QUICK) as client:
                tasks = list(client.list_tasks(status="processing"))
        finally:
            portal.call(server.__aexit__, None, None, None)
    assert [t.task_id for t in tasks] == ["a", "b"]
    assert server.requests[0].json["filters"] == [{"key": "status", "values": ["processing"]}]


# -- AK/SK (JWT) clients and the new standard ----------------------------------------------------


async def test_a_jwt_client_refuses_new_standard_calls_before_any_io(
    server: ScriptedServer,
) -> None:
    """With AK/SK credentials every new-standard call (create, submit, query, lookup, attach,
    listing) raises ConfigurationError naming the fix, and nothing is sent."""
    secret = "sk-secret-value-123456789"
    async with KlingClient(access_key="ak-id", secret_key=secret, base_url=server.url,
                           poll=FAST) as client:
        calls: list[Any] = [
            lambda: client.create_task(t2v()),
            lambda: client.submit(t2v()),
            lambda: client.submit_many([t2v()]),
            lambda: client.get_task(T2V, "t1"),
            lambda: client.get_task_by_external_id(T2V, "e1"),
            lambda: client.attach(T2V, task_id="t1"),
        ]
        for call in calls:
            with pytest.raises(kling.ConfigurationError, match="KLING_API_KEY") as info:
                await call()
            assert "api_key" in str(info.value) and secret not in str(info.value)
        with pytest.raises(kling.ConfigurationError, match="API key"):
            [t async for t in client.list_tasks()]
        with pytest.raises(kling.ConfigurationError):
            client.submit_nowait(t2v())
    assert server.requests == []
