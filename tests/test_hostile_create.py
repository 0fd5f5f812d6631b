"""The create path against hostile or broken servers: every outcome is typed, bounded in time
and requests, and never pays twice or adopts a task that is not the job's own.

A scripted server on 127.0.0.1 answers each request as a test says (tests/_scripted.py); the
lookup by external id is ``GET <create path>?external_task_id=X`` (the ``"query"`` form, set by
``client_for``; the default ``"path"`` form is tested in tests/test_new_standard_runtime.py).
"""

from __future__ import annotations

import pickle
from typing import Any

import aiohttp
import anyio
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kling_async as kling
from kling_async import KlingClient
from kling_async.testing import KlingSimulator
from tests._scripted import Drop, Reply, ScriptedServer, error_body, ok, task_json

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(20)]

KEY = "gw-key-hostile"
VID = "/v1/videos/text2video"
EXT = "ext-1"
FAST = kling.RetryPolicy(max_attempts=3, backoff=kling.Backoff(initial=0.001, maximum=0.005),
                         concurrency_min_delay=0.001)
#: No poll before the test is done with the job (it closes the client first).
QUIET = kling.PollPolicy(first_poll=60.0)


def client_for(url: str, **kwargs: Any) -> KlingClient:
    settings: dict[str, Any] = {"api_key": KEY, "base_url": url, "retry": FAST,
                                "reconcile_delay": 0, "poll": QUIET,
                                "external_id_query": "query"}
    settings.update(kwargs)
    return KlingClient(**settings)


def video(i: int = 0, **kwargs: Any) -> kling.TextToVideoRequest:
    return kling.TextToVideoRequest(prompt=f"video {i}", **kwargs)


def ours(task_id: str = "t-1", ext: str = EXT, status: str = "submitted") -> dict[str, Any]:
    """A lookup reply: the task created with external id ``ext``."""
    return ok(task_json(task_id, status, task_info={"external_task_id": ext}))


def lookups(server: ScriptedServer) -> list[str]:
    """The external ids looked up, in order."""
    return [r.query.get("external_task_id", "") for r in server.requests_to("GET", VID)]


_DEEP = b'{"code":0,"message":"ok","data":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
UNREADABLE = [
    pytest.param(Reply(json=ok(task_json("t-1", "queued"))), id="status-queued"),
    pytest.param(Reply(json=ok({**task_json("t-1"), "task_status": 1})), id="status-1"),
    pytest.param(Reply(json=ok({**task_json("t-1"), "task_status": None})), id="status-null"),
    pytest.param(Reply(json=ok([task_json("t-1")])), id="data-list"),
    pytest.param(Reply(json=ok("t-1")), id="data-string"),
    pytest.param(Reply(json=ok({"task_status": "submitted"})), id="no-task-id"),
    pytest.param(Reply(json=ok({"task_id": ["t-1"]})), id="task-id-list"),
    pytest.param(Reply(body=b'{"code":1e400,"message":"x","data":{"task_id":"t-1"}}'),
                 id="raw-code-1e400"),
    pytest.param(Reply(body=_DEEP), id="raw-nested-deep"),
    pytest.param(Reply(body=b'{"code":0,"data":{"task_id":"t-1"'), id="raw-truncated"),
]


# -- 1. an unreadable create reply is ambiguous ------------------------------------------------


@pytest.mark.parametrize("reply", UNREADABLE)
async def test_an_unreadable_create_reply_is_reconciled_and_the_task_found(
    server: ScriptedServer, reply: Reply
) -> None:
    """The server created the task but its create reply cannot be read: the job looks it up
    by external_task_id and tracks it; nothing is posted twice."""
    server.script("POST", VID, reply)
    server.script("GET", VID, Reply(json=ours()))
    async with client_for(server.url) as client:
        job = await client.submit(video(), external_task_id=EXT)
        stats = client.statistics()
    assert job.task_id == "t-1"
    assert job.external_task_id == EXT
    assert server.count("POST", VID) == 1
    assert lookups(server) == [EXT]
    assert stats.reconciliations == 1


@pytest.mark.parametrize("reply", UNREADABLE[:3])
async def test_an_unreadable_create_reply_with_the_task_provably_absent_posts_again(
    server: ScriptedServer, reply: Reply
) -> None:
    """If the lookup proves the unreadable reply created nothing, the same create is posted
    again, with the same external_task_id."""
    server.script("POST", VID, reply, Reply(json=ok(task_json("t-2"))))
    server.script("GET", VID, Reply(404, json=error_body(1203, "not found")))
    async with client_for(server.url) as client:
        job = await client.submit(video(), external_task_id=EXT)
    assert job.task_id == "t-2"
    posts = server.requests_to("POST", VID)
    assert [p.json["external_task_id"] for p in posts] == [EXT, EXT]


async def test_an_unreadable_create_reply_with_failing_lookups_is_ambiguous(
    server: ScriptedServer,
) -> None:
    """When the lookups keep failing, the job ends with AmbiguousSubmissionError naming the
    external_task_id, after a bounded number of requests and a single POST."""
    server.script("POST", VID, Reply(json=ok({"task_id": None})))
    server.script("GET", VID, then=Reply(500, json=error_body(5000, "down")))
    async with client_for(server.url) as client:
        with pytest.raises(kling.AmbiguousSubmissionError) as caught:
            await client.submit(video(), external_task_id=EXT)
    assert caught.value.external_task_id == EXT
    assert repr(EXT) in str(caught.value)
    assert server.count("POST", VID) == 1
    assert server.count("GET", VID) == FAST.max_attempts * FAST.max_attempts


async def test_an_unreadable_reply_leaves_the_other_jobs_resolving(
    server: ScriptedServer,
) -> None:
    """One job's unreadable create reply never disturbs the other submissions."""
    server.script("POST", VID, Reply(json=ok(task_json("a", "queued"))),
                  Reply(json=ok(task_json("b"))), Reply(json=ok(task_json("c"))))
    server.script("GET", VID, Reply(json=ours("a", "first")))
    async with client_for(server.url) as client:
        jobs = [await client.submit(video(i), external_task_id=ext)
                for i, ext in enumerate(["first", "second", "third"])]
    assert [job.task_id for job in jobs] == ["a", "b", "c"]
    assert server.count("POST", VID) == 3


# -- 2. a duplicate external id is the job's own only after an ambiguous attempt ------------


async def test_a_duplicate_id_after_a_1303_is_still_someone_elses(server: ScriptedServer) -> None:
    """A 1303 proves nothing was created, so a following 1201 duplicate-id refusal is
    DuplicateExternalIdError, not the old task."""
    server.script("POST", VID, Reply(429, json=error_body(1303, "parallel task over limit")),
                  Reply(400, json=error_body(1201, "External_task_id ext-1 already exists")))
    server.script("GET", VID, Reply(json=ours("old-task")))
    async with client_for(server.url) as client:
        with pytest.raises(kling.DuplicateExternalIdError) as caught:
            await client.submit(video(), external_task_id=EXT)
    assert caught.value.external_task_id == EXT
    assert server.count("GET", VID) == 0


async def test_a_duplicate_id_after_an_ambiguous_attempt_is_the_jobs_own_task(
    server: ScriptedServer,
) -> None:
    """A lost reply, a lookup that does not see the task yet, then a duplicate-id refusal:
    that task is the job's own, fetched by a second lookup; one task, no error."""
    server.script("POST", VID, Drop(),
                  Reply(400, json=error_body(1201, "External_task_id ext-1 already exists")))
    server.script("GET", VID, Reply(404, json=error_body(1203, "not found")), Reply(json=ours()))
    async with client_for(server.url) as client:
        job = await client.submit(video(), external_task_id=EXT)
    assert job.task_id == "t-1"
    assert lookups(server) == [EXT, EXT]


async def test_a_duplicate_id_after_an_ambiguous_attempt_not_found_stays_ambiguous(
    server: ScriptedServer,
) -> None:
    """If the lookups cannot see the task the server says exists, the job ends with
    AmbiguousSubmissionError naming the id (it may be the job's own)."""
    server.script("POST", VID, Drop(),
                  Reply(400, json=error_body(1201, "External_task_id ext-1 already exists")))
    server.script("GET", VID, then=Reply(404, json=error_body(1203, "not found")))
    async with client_for(server.url) as client:
        with pytest.raises(kling.AmbiguousSubmissionError) as caught:
            await client.submit(video(), external_task_id=EXT)
    assert caught.value.external_task_id == EXT
    assert server.count("POST", VID) == 2


# -- 4. the submission deadline -----------------------------------------------------------------


async def test_a_server_that_never_answers_ends_the_submission_at_its_deadline(
    server: ScriptedServer,
) -> None:
    """Against a server that accepts connections but never answers, Timeouts.submission ends
    the submission, POST and lookups together, with AmbiguousSubmissionError naming the id:
    a bounded number of requests (without the deadline: 1 POST + 3 x 3 lookups)."""
    never = Reply(json=ours(), delay=3600)
    server.script("POST", VID, then=never)
    server.script("GET", VID, then=never)
    timeouts = kling.Timeouts(total=0.2, submission=0.5)
    async with client_for(server.url, timeouts=timeouts) as client:
        with pytest.raises(kling.AmbiguousSubmissionError) as caught:
            await client.submit(video(), external_task_id=EXT)
        stats = client.statistics()
    assert caught.value.external_task_id == EXT
    assert "Timeouts.submission" in str(caught.value)
    assert server.count("POST", VID) == 1
    assert 1 <= server.count("GET", VID) <= 3
    assert stats.jobs_by_state["failed"] == 1


async def test_endless_1303s_end_at_the_deadline_saying_nothing_was_created(
    server: ScriptedServer,
) -> None:
    """A server that refuses every create with 1303 never created anything: the deadline
    ends the back-off with SubmissionTimeoutError (a TaskTimeoutError), and no lookup."""
    server.script("POST", VID, then=Reply(429, json=error_body(1303, "parallel task over")))
    timeouts = kling.Timeouts(submission=1.0)
    patient = kling.RetryPolicy(concurrency_min_delay=3600.0)
    async with client_for(server.url, timeouts=timeouts, retry=patient) as client:
        with pytest.raises(kling.SubmissionTimeoutError) as caught:
            await client.submit(video(), external_task_id=EXT)
        stats = client.statistics()
    assert isinstance(caught.value, kling.TaskTimeoutError)
    assert caught.value.external_task_id == EXT
    assert "nothing was created" in str(caught.value)
    assert server.count("GET", VID) == 0
    assert server.count("POST", VID) == 1
    assert (stats.in_flight_slots, stats.jobs_by_state["failed"]) == (0, 1)


async def test_a_deadline_passing_while_the_create_waits_for_a_request_slot_created_nothing(
    server: ScriptedServer,
) -> None:
    """When Timeouts.submission runs out while the create POST still waits for a request slot
    (the only one held by a GET that never ends), nothing was sent: SubmissionTimeoutError,
    not an ambiguous failure, and neither a POST nor a lookup."""
    held = f"{VID}/t-held"
    server.script("GET", held, then=Reply(json=ok(task_json("t-held")), delay=3600))
    timeouts = kling.Timeouts(submission=0.5)
    async with client_for(server.url, timeouts=timeouts,
                          limits=kling.Limits(max_requests=1)) as client:
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.get_task, "videos/text2video", "t-held")
            for _ in range(200):  # until the GET holds the slot (bounded)
                if server.count("GET", held):
                    break
                await anyio.sleep(0.01)
            with pytest.raises(kling.SubmissionTimeoutError) as caught:
                await client.submit(video(), external_task_id=EXT)
            tg.cancel_scope.cancel()
    assert caught.value.external_task_id == EXT
    assert (server.count("POST", VID), server.count("GET", VID)) == (0, 0)


def test_the_submission_deadline_defaults_to_ten_minutes_and_can_be_unbounded() -> None:
    """Timeouts.submission is 600 s unless set; None means no deadline; it must be > 0."""
    assert kling.Timeouts().submission == 600.0
    assert kling.Timeouts(submission=None).submission is None
    with pytest.raises(ValueError, match="submission"):
        kling.Timeouts(submission=0)


# -- 5. replies that name someone else's task ------------------------------------------------


async def test_a_lookup_answering_with_another_external_id_is_never_adopted(
    server: ScriptedServer,
) -> None:
    """After a lost create reply, a lookup answering with a task of another external id is
    not the job's task: AmbiguousSubmissionError, and no second POST."""
    server.script("POST", VID, Drop())
    server.script("GET", VID, then=Reply(json=ours("t-other", "someone-else")))
    async with client_for(server.url) as client:
        with pytest.raises(kling.AmbiguousSubmissionError) as caught:
            await client.submit(video(), external_task_id=EXT)
    assert caught.value.external_task_id == EXT
    assert server.count("POST", VID) == 1


async def test_a_create_reply_naming_another_external_id_is_reconciled(
    server: ScriptedServer,
) -> None:
    """A create reply naming another external id is ambiguous: the lookup decides."""
    server.script("POST", VID, Reply(json=ok(task_json(
        "t-other", task_info={"external_task_id": "someone-else"}))))
    server.script("GET", VID, Reply(json=ours("t-1")))
    async with client_for(server.url) as client:
        job = await client.submit(video(), external_task_id=EXT)
    assert job.task_id == "t-1"
    assert server.count("POST", VID) == 1


async def test_a_create_reply_naming_another_jobs_task_never_merges_the_jobs(
    server: ScriptedServer,
) -> None:
    """Two jobs' create replies naming the same task id: the second is reconciled by its own
    external id, so each job keeps its own task and both are tracked."""
    server.script("POST", VID, Reply(json=ok(task_json("t-1"))), Reply(json=ok(task_json("t-1"))))
    server.script("GET", VID, Reply(json=ours("t-2", "second")))
    async with client_for(server.url) as client:
        first = await client.submit(video(0), external_task_id="first")
        second = await client.submit(video(1), external_task_id="second")
        assert client.job(task_id="t-1") is first
        assert client.job(task_id="t-2") is second
    assert (first.task_id, second.task_id) == ("t-1", "t-2")
    assert lookups(server) == ["second"]


# -- closing while creates are in flight -----------------------------------------------------


class SlowReplies:
    """A proxy on 127.0.0.1 in front of the simulator: each request reaches it at once, and
    the reply to a create comes back ``delay`` seconds later (a slow network on the way back:
    the task exists while its create is still in flight)."""

    def __init__(self, target: str, delay: float) -> None:
        self._target = target
        self._delay = delay
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.url = ""

    async def __aenter__(self) -> SlowReplies:
        self._session = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._runner is not None and self._session is not None
        await self._runner.cleanup()
        await self._session.close()

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        async with self._session.request(request.method, self._target + request.path_qs,
                                         data=body, headers=headers) as reply:
            payload = await reply.read()
            status = reply.status
        if request.method == "POST":
            await anyio.sleep(self._delay)
        return web.Response(status=status, body=payload, content_type="application/json")


async def test_closing_mid_create_says_the_task_may_exist_and_attach_finds_it() -> None:
    """aclose() while creates are on their way (the server created the tasks, the replies are
    slow): each such job ends with SubmissionInterruptedError naming its external_task_id,
    and a new client attaches to its task by that id; jobs still queued for capacity say no
    task was created, and indeed none was."""
    async with KlingSimulator(time_scale=50.0, seed=3) as sim, \
            SlowReplies(sim.base_url, delay=30.0) as slow:
        client = client_for(slow.url, api_key=sim.api_key, limits=kling.Limits(max_in_flight=3))
        async with client:
            jobs = [client.submit_nowait(video(i)) for i in range(5)]
            for _ in range(500):  # until the server holds the three tasks (at most ~5 s)
                if sim.stats().tasks_created == 3:
                    break
                await anyio.sleep(0.01)
        assert sim.stats().tasks_created == 3
        sent, queued = jobs[:3], jobs[3:]
        for job in sent:
            assert job.status is kling.JobState.FAILED
            assert isinstance(job.error, kling.SubmissionInterruptedError)
            assert isinstance(job.error, kling.ClientClosedError)
            assert job.error.external_task_id == job.external_task_id
            assert repr(job.external_task_id) in str(job.error)
            with pytest.raises(kling.AmbiguousSubmissionError):
                await job.result()
        for job in queued:
            with pytest.raises(kling.ClientClosedError, match="no task was created") as caught:
                await job.result()
            assert not isinstance(caught.value, kling.AmbiguousSubmissionError)
        async with client_for(sim.base_url, api_key=sim.api_key) as again:
            for job in sent:
                assert job.external_task_id is not None
                revived = await again.attach("videos/text2video",
                                             external_task_id=job.external_task_id)
                assert revived.task_id is not None
            for job in queued:
                assert job.external_task_id is not None
                with pytest.raises(kling.NotFoundError):
                    await again.attach("videos/text2video",
                                       external_task_id=job.external_task_id)
        assert sim.stats().count("POST") == 3
        assert sim.stats().tasks_created == 3


# -- submit_many --------------------------------------------------------------------------------


async def test_submit_many_with_a_failing_before_send_fails_only_that_job() -> None:
    """submit_many's before_send runs before each job's POST; one that raises aborts that job
    (SubmissionAbortedError, nothing sent) and the others are accepted."""
    async with KlingSimulator(time_scale=50.0, seed=5) as sim:

        def hook(job: kling.Job) -> None:
            if job.request.prompt == "video 1":
                raise OSError("journal full")

        async with client_for(sim.base_url, api_key=sim.api_key) as client:
            jobs = await client.submit_many([video(i) for i in range(3)], before_send=hook)
        assert [job.task_id is not None for job in jobs] == [True, False, True]
        assert isinstance(jobs[1].error, kling.SubmissionAbortedError)
        assert sim.stats().tasks_created == 2


# -- attach ------------------------------------------------------------------------------------


async def test_attach_by_external_id_never_makes_a_second_job_for_a_tracked_task(
    server: ScriptedServer,
) -> None:
    """attach(external_task_id=...) answered with a task this client already tracks: the same
    job when that is the same task, a typed error when the lookup names another job's task."""
    server.script("POST", VID, Reply(json=ok(task_json("t-1"))))
    server.script("GET", VID, Reply(json=ours("t-1", "second")))
    server.script("GET", f"{VID}/t-9", then=Reply(json=ok(task_json("t-9"))))
    server.script("GET", VID, Reply(json=ours("t-9", "by-id")))
    async with client_for(server.url) as client:
        first = await client.submit(video(), external_task_id="first")
        with pytest.raises(kling.ResponseDecodeError, match="'first'"):
            await client.attach("videos/text2video", external_task_id="second")
        by_id = await client.attach("videos/text2video", task_id="t-9")
        again = await client.attach("videos/text2video", external_task_id="by-id")
        assert client.job(task_id="t-1") is first
    assert again is by_id


async def test_a_lookup_answering_with_another_endpoints_task_is_never_adopted(
    server: ScriptedServer,
) -> None:
    """After a lost create reply on a video endpoint, a lookup answering with a finished
    image task (another endpoint's) is not the job's: AmbiguousSubmissionError, one POST."""
    images = {"images": [{"index": 0, "url": "https://cdn.example/a.png"}]}
    server.script("POST", VID, Drop())
    server.script("GET", VID, then=Reply(json=ok(task_json(
        "t-img", "succeed", task_info={"external_task_id": EXT}, task_result=images))))
    async with client_for(server.url) as client:
        with pytest.raises(kling.AmbiguousSubmissionError) as caught:
            await client.submit(video(), external_task_id=EXT)
    assert "another endpoint" in str(caught.value.cause)
    assert server.count("POST", VID) == 1


async def test_unreadable_lookup_replies_end_ambiguous_not_with_a_raw_error(
    server: ScriptedServer,
) -> None:
    """Lookup replies nested thousands deep (or otherwise unreadable) after a lost create
    reply: the job ends with AmbiguousSubmissionError naming the id, never a RecursionError."""
    server.script("POST", VID, Drop())
    server.script("GET", VID, then=Reply(body=_DEEP))
    async with client_for(server.url) as client:
        with pytest.raises(kling.AmbiguousSubmissionError) as caught:
            await client.submit(video(), external_task_id=EXT)
    assert caught.value.external_task_id == EXT
    assert isinstance(caught.value.cause, kling.KlingError)
    assert server.count("POST", VID) == 1


@pytest.mark.parametrize("ext", ["ab\n", " ab", "a/../b", "a?x=1", "a#b", "a\x00b", "a\u2028b"])
async def test_an_external_id_that_cannot_be_looked_up_is_refused_before_sending(
    server: ScriptedServer, ext: str
) -> None:
    """An external_task_id that a lookup could not find exactly as sent (surrounding
    whitespace, '/', '?', '#', control characters) is a ValidationError; nothing is sent."""
    async with client_for(server.url) as client:
        with pytest.raises(kling.ValidationError, match="external_task_id"):
            await client.submit(video(), external_task_id=ext)
        with pytest.raises(kling.ValidationError, match="external_task_id"):
            await client.submit_many([video(external_task_id=ext)])
    assert server.requests == []


async def test_the_official_1201_task_not_found_lookup_reply_means_absent(
    server: ScriptedServer,
) -> None:
    """The official API answers a lookup of an unknown external id with 1201 "Task not found
    by id/external id": after a lost create reply that proves nothing was created, so the
    create is posted again (same id) instead of failing ambiguous."""
    not_found = error_body(1201, f"Task not found by id/external id: {EXT}")
    server.script("POST", VID, Reply(500, body=b"<html>bad gateway</html>"),
                  Reply(json=ok(task_json("t-2"))))
    server.script("GET", VID, Reply(400, json=not_found), Reply(400, json=not_found))
    async with client_for(server.url) as client:
        job = await client.submit(video(), external_task_id=EXT)
        with pytest.raises(kling.NotFoundError):
            await client.get_task_by_external_id("videos/text2video", "unknown")
    assert job.task_id == "t-2"
    assert server.count("POST", VID) == 2


# -- any create reply ----------------------------------------------------------------------------

_KEYS = st.sampled_from(["task_id", "task_status", "status", "task_info", "external_task_id",
                         "task_result", "created_at", "data"])
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.sampled_from(["t-1", "", "submitted", "succeed", "failed", "queued", EXT, "other"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=5),
    max_leaves=12,
)


async def _submit_against(data: Any) -> tuple[kling.Job, int, int]:
    async with ScriptedServer() as server:
        server.script("POST", VID, Reply(json=ok(data)))
        server.script("GET", VID, then=Reply(json=ours("t-found")))
        async with client_for(server.url, timeouts=kling.Timeouts(submission=5)) as client:
            job = await client.submit(video(), external_task_id=EXT)
        return job, server.count("POST", VID), server.count("GET", VID)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.dictionaries(_KEYS, _JSON, max_size=5) | _JSON)
def test_whatever_the_create_reply_holds_the_job_is_tracked_once(data: Any) -> None:
    """Any JSON as a create reply's data: the job is accepted with one POST, either from the
    reply (when it is a valid task of this job) or from the lookup it triggers; never an
    untyped error, never a second POST."""
    job, posts, gets = anyio.run(_submit_against, data)
    assert posts == 1
    assert job.task_id is not None
    if gets:
        assert job.task_id == "t-found"
    else:
        assert isinstance(data, dict)
        task = data
        while "task_id" not in task:  # a gateway's {"code": 0, "data": {...}} wrapper, unwrapped
            task = task["data"]
        assert job.task_id == str(task["task_id"])


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(kling.DuplicateExternalIdError("exists", external_task_id=EXT,
                                                    http_status=400, request_id="r-1"),
                     id="duplicate"),
        pytest.param(kling.SubmissionTimeoutError("videos/text2video", EXT, 5.0), id="timeout"),
        pytest.param(kling.SubmissionInterruptedError(
            "videos/text2video", EXT, kling.ClientClosedError("closed")), id="interrupted"),
        pytest.param(kling.AmbiguousSubmissionError(
            "videos/text2video", EXT, kling.TransportError("reset")), id="ambiguous"),
    ],
)
def test_submission_errors_name_the_external_id_and_pickle(error: kling.KlingError) -> None:
    """Each submission error names its external_task_id and survives pickling intact (a
    worker process can hand it back)."""
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error)
    assert str(back) == str(error)
    assert getattr(back, "external_task_id", None) == EXT
    assert repr(EXT) in str(error)


@pytest.mark.parametrize("task_id", ["../../admin/x", "t1?x=", "t#1", " t1", "..", "t\n1"])
async def test_a_create_reply_naming_a_task_id_that_is_not_plain_is_never_tracked(
    server: ScriptedServer, task_id: str
) -> None:
    """A task id that could not go into a poll URL as it is (path segments, a query, spaces)
    is not accepted from a create reply or a lookup: the job ends with
    AmbiguousSubmissionError naming its external_task_id, after one POST."""
    server.script("POST", VID, Reply(json=ok(task_json(task_id))))
    server.script("GET", VID, then=Reply(json=ours(task_id)))
    async with client_for(server.url) as client:
        with pytest.raises(kling.AmbiguousSubmissionError) as caught:
            await client.submit(video(), external_task_id=EXT)
    assert caught.value.external_task_id == EXT
    assert server.count("POST", VID) == 1
    assert all(r.path == VID for r in server.requests)
