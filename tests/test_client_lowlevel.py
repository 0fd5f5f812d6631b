"""KlingClient's low-level surface: configuration, lifecycle and the four plain calls."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import jwt
import pytest

import kling_async as kling
from kling_async import KlingClient
from tests._scripted import Reply, ScriptedServer, error_body, ok, task_json
from tests._simhelpers import Credentials

KEY = "gw-key-lowlevel"
IMG = "/v1/images/generations"
VID = "/v1/videos/omni-video"


def client_for(server: ScriptedServer, **kwargs: Any) -> KlingClient:
    settings: dict[str, Any] = {"api_key": KEY, "base_url": server.url}
    settings.update(kwargs)
    return KlingClient(**settings)


def image_request() -> Any:
    return kling.ImageGenerationRequest(prompt="a cat")


def video_request() -> Any:
    return kling.OmniVideoRequest(prompt="a cat", aspect_ratio="16:9", duration="5")


def wire(request: Any) -> Any:
    """The JSON the SDK should send for a request, as the server decodes it."""
    return json.loads(json.dumps(kling.dump_request(request)))


# -- configuration --------------------------------------------------------------------------------


def test_constructor_requires_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without credentials the constructor raises ConfigurationError naming the env variables."""
    for name in ("KLING_API_KEY", "KLING_ACCESS_KEY", "KLING_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)  # KlingClient() reads them
    with pytest.raises(kling.ConfigurationError) as caught:
        KlingClient()
    text = str(caught.value)
    for name in ("KLING_API_KEY", "KLING_ACCESS_KEY", "KLING_SECRET_KEY"):
        assert name in text


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"api_key": "k", "access_key": "a", "secret_key": "s"}, id="key-and-ak-sk"),
        pytest.param({"api_key": "k", "access_key": "a"}, id="key-and-ak"),
        pytest.param({"api_key": "k", "secret_key": "s"}, id="key-and-sk"),
    ],
)
def test_api_key_and_ak_sk_together_are_rejected(kwargs: Credentials) -> None:
    """api_key and AK/SK are alternatives: giving both is a ConfigurationError."""
    with pytest.raises(kling.ConfigurationError, match="not both"):
        KlingClient(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [pytest.param({"access_key": "a"}, id="ak-only"),
     pytest.param({"secret_key": "s"}, id="sk-only")],
)
def test_half_of_ak_sk_is_rejected(kwargs: Credentials) -> None:
    """AK without SK (or the reverse) is a ConfigurationError."""
    with pytest.raises(kling.ConfigurationError):
        KlingClient(**kwargs)


def test_from_env_reads_the_api_key_and_base_url() -> None:
    """from_env(env=...) takes KLING_API_KEY and KLING_BASE_URL from the given mapping."""
    client = KlingClient.from_env(env={"KLING_API_KEY": "k1",
                                       "KLING_BASE_URL": "https://gw.example/kling/"})
    assert client.base_url == "https://gw.example/kling"
    assert "auth=bearer" in repr(client)


def test_from_env_reads_access_and_secret_keys() -> None:
    """from_env(env=...) takes KLING_ACCESS_KEY + KLING_SECRET_KEY for the official JWT."""
    client = KlingClient.from_env(env={"KLING_ACCESS_KEY": "a", "KLING_SECRET_KEY": "s"})
    assert "auth=jwt" in repr(client)
    assert client.base_url == kling.DEFAULT_BASE_URL


def test_from_env_with_nothing_names_the_variables() -> None:
    """An empty environment is a ConfigurationError naming the variables to set."""
    with pytest.raises(kling.ConfigurationError, match="KLING_API_KEY"):
        KlingClient.from_env(env={})


def test_from_env_overrides_win() -> None:
    """Keyword overrides replace what the environment says, credentials included."""
    env = {"KLING_API_KEY": "from-env", "KLING_BASE_URL": "https://env.example"}
    client = KlingClient.from_env(env=env, access_key="a", secret_key="s",
                                  base_url="https://override.example")
    assert "auth=jwt" in repr(client)
    assert client.base_url == "https://override.example"
    env2 = {"KLING_ACCESS_KEY": "a", "KLING_SECRET_KEY": "s"}
    assert "auth=bearer" in repr(KlingClient.from_env(env=env2, api_key="k"))


@pytest.mark.anyio
async def test_from_env_key_is_what_the_server_sees(server: ScriptedServer) -> None:
    """The KLING_API_KEY from the environment is sent as 'Bearer <key>'."""
    server.script("GET", IMG + "/t-1", Reply(200, json=ok(task_json())))
    async with KlingClient.from_env(env={"KLING_API_KEY": "env-key-7",
                                         "KLING_BASE_URL": server.url}) as client:
        await client.get_task("images/generations", "t-1")
    assert server.requests[0].headers["Authorization"] == "Bearer env-key-7"


@pytest.mark.anyio
async def test_from_env_jwt_is_signed_with_the_secret(server: ScriptedServer) -> None:
    """KLING_ACCESS_KEY/KLING_SECRET_KEY produce a HS256 JWT with iss=AK, signed with SK."""
    sk = "env-secret-0123456789abcdef0123456789"
    server.script("GET", IMG + "/t-1", Reply(200, json=ok(task_json())))
    env = {"KLING_ACCESS_KEY": "env-ak", "KLING_SECRET_KEY": sk, "KLING_BASE_URL": server.url}
    async with KlingClient.from_env(env=env) as client:
        await client.get_task("images/generations", "t-1")
    token = server.requests[0].headers["Authorization"].removeprefix("Bearer ")
    assert jwt.decode(token, sk, algorithms=["HS256"])["iss"] == "env-ak"


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://api-singapore.klingai.com", id="official-host"),
        pytest.param("http://gw.example/kling", id="gateway"),
        pytest.param("http://10.0.0.5:8080", id="private-ip"),
        pytest.param("http://localhost.evil.example", id="localhost-lookalike"),
        pytest.param("http://127.0.0.1.evil.example", id="loopback-lookalike"),
    ],
)
def test_plain_http_to_a_remote_host_is_refused(url: str) -> None:
    """Credentials never travel over plain http:// to a non-loopback host by default."""
    with pytest.raises(kling.ConfigurationError, match="allow_insecure_http"):
        KlingClient(api_key="k", base_url=url)
    assert KlingClient(api_key="k", base_url=url, allow_insecure_http=True).base_url == url


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://127.0.0.1:8080", id="ipv4-loopback"),
        pytest.param("http://localhost:8080", id="localhost"),
        pytest.param("http://[::1]:8080", id="ipv6-loopback"),
        pytest.param("https://gw.example/kling", id="https"),
    ],
)
def test_loopback_http_and_https_are_accepted(url: str) -> None:
    """http:// to loopback (tests, local gateways) and any https:// need no opt-in."""
    assert KlingClient(api_key="k", base_url=url).base_url == url


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("ftp://gw.example", id="ftp"),
        pytest.param("gw.example/kling", id="no-scheme"),
        pytest.param("https://", id="no-host"),
    ],
)
def test_base_url_must_be_http_with_a_host(url: str) -> None:
    """A base_url that is not http(s) with a host is a ConfigurationError."""
    with pytest.raises(kling.ConfigurationError):
        KlingClient(api_key="k", base_url=url)


def test_unknown_external_id_query_is_rejected() -> None:
    """external_id_query accepts only the four documented forms."""
    with pytest.raises(kling.ConfigurationError, match="external_id_query"):
        KlingClient(api_key="k", external_id_query="header")  # type: ignore[arg-type]


# -- lifecycle ------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_using_a_client_before_async_with_raises(server: ScriptedServer) -> None:
    """Every call on an unopened client raises ClientClosedError and sends nothing."""
    client = client_for(server)
    with pytest.raises(kling.ClientClosedError, match="async with"):
        await client.get_task("images/generations", "t-1")
    with pytest.raises(kling.ClientClosedError):
        await client.create_task(image_request())
    with pytest.raises(kling.ClientClosedError):
        await client.get_task_by_external_id("images/generations", "x")
    with pytest.raises(kling.ClientClosedError):
        async for _ in client.list_tasks("images/generations"):
            pass
    with pytest.raises(kling.ClientClosedError):
        _ = client.session
    assert server.requests == []


@pytest.mark.anyio
async def test_using_a_closed_client_raises(server: ScriptedServer) -> None:
    """After the async with block, calls raise ClientClosedError and the client cannot reopen."""
    async with client_for(server) as client:
        pass
    with pytest.raises(kling.ClientClosedError):
        await client.get_task("images/generations", "t-1")
    with pytest.raises(kling.ClientClosedError):
        await client.__aenter__()
    assert server.requests == []
    assert "state=closed" in repr(client)


@pytest.mark.anyio
async def test_aclose_is_idempotent(server: ScriptedServer) -> None:
    """aclose() may be called any number of times, opened or not."""
    client = client_for(server)
    await client.aclose()
    await client.aclose()
    opened = client_for(server)
    async with opened:
        await opened.aclose()
        await opened.aclose()
    await opened.aclose()


@pytest.mark.anyio
async def test_owned_session_is_closed_on_exit(server: ScriptedServer) -> None:
    """The session the client created is closed when the client closes."""
    async with client_for(server) as client:
        session = client.session
        assert not session.closed
    assert session.closed


@pytest.mark.anyio
async def test_borrowed_session_is_left_open_and_used(server: ScriptedServer) -> None:
    """A session passed in is used for requests and left open when the client closes."""
    server.script("GET", IMG + "/t-1", Reply(200, json=ok(task_json())))
    async with aiohttp.ClientSession(headers={"X-Borrowed": "yes"}) as session:
        async with client_for(server, session=session) as client:
            assert client.session is session
            await client.get_task("images/generations", "t-1")
        assert not session.closed
    assert server.requests[0].headers["X-Borrowed"] == "yes"


# -- calls ----------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_gateway_prefix_is_kept_in_every_path(server: ScriptedServer) -> None:
    """With base_url .../kling, requests go to /kling/v1/..."""
    server.script("POST", "/kling" + IMG, Reply(200, json=ok(task_json("t-9"))))
    server.script("GET", "/kling" + IMG + "/t-9", Reply(200, json=ok(task_json("t-9"))))
    async with client_for(server, base_url=server.url + "/kling/") as client:
        await client.create_task(image_request())
        await client.get_task("images/generations", "t-9")
    assert [(r.method, r.path) for r in server.requests] == [
        ("POST", "/kling" + IMG), ("GET", "/kling" + IMG + "/t-9")]


@pytest.mark.parametrize(
    ("make", "path"),
    [
        pytest.param(image_request, IMG, id="image-generations"),
        pytest.param(video_request, VID, id="omni-video"),
    ],
)
@pytest.mark.anyio
async def test_create_task_sends_the_dumped_body(
    server: ScriptedServer, make: Any, path: str
) -> None:
    """create_task POSTs exactly dump_request(req) plus external_task_id, with bearer auth
    and a JSON content type, and returns the submitted Task."""
    req = make()
    server.script("POST", path, Reply(200, json=ok(
        {"task_id": 867283741759111202, "task_status": "submitted",
         "task_info": {"external_task_id": "ext-1"}, "created_at": 1722769557708})))
    async with client_for(server) as client:
        task = await client.create_task(req, external_task_id="ext-1")
    (sent,) = server.requests
    assert (sent.method, sent.path) == ("POST", path)
    assert sent.json == {**wire(req), "external_task_id": "ext-1"}
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.headers["Content-Type"].split(";")[0] == "application/json"
    assert task.task_id == "867283741759111202"
    assert task.status is kling.TaskStatus.SUBMITTED
    assert task.external_task_id == "ext-1"


@pytest.mark.anyio
async def test_create_task_without_external_id_sends_none(server: ScriptedServer) -> None:
    """Without external_task_id the body is exactly dump_request(req); a minimal reply is a
    submitted task."""
    req = image_request()
    server.script("POST", IMG, Reply(200, json=ok({"task_id": "t-2"})))
    async with client_for(server) as client:
        task = await client.create_task(req)
    assert server.requests[0].json == wire(req)
    assert "external_task_id" not in server.requests[0].json
    assert (task.task_id, task.status, task.external_task_id) == (
        "t-2", kling.TaskStatus.SUBMITTED, None)


@pytest.mark.anyio
async def test_get_task_path_and_result(server: ScriptedServer) -> None:
    """get_task GETs <endpoint path>/<task_id> and parses the task."""
    server.script("GET", VID + "/867283741759111202", Reply(200, json=ok(task_json(
        "867283741759111202", "succeed",
        task_result={"videos": [{"id": "v1", "url": "https://cdn/v.mp4", "duration": "5.1"}]}))))
    async with client_for(server) as client:
        task = await client.get_task("videos/omni-video", "867283741759111202")
    (sent,) = server.requests
    assert (sent.method, sent.path, sent.query) == ("GET", VID + "/867283741759111202", {})
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert task.status is kling.TaskStatus.SUCCEED
    assert task.videos[0].duration == 5.1


@pytest.mark.parametrize(
    "task_id",
    [pytest.param("", id="empty"), pytest.param("a/b", id="slash"),
     pytest.param("a?b", id="query")],
)
@pytest.mark.anyio
async def test_get_task_rejects_ids_that_would_change_the_path(
    server: ScriptedServer, task_id: str
) -> None:
    """A task id with '/', '?' or nothing in it is a ValidationError before any request."""
    async with client_for(server) as client:
        with pytest.raises(kling.ValidationError):
            await client.get_task("images/generations", task_id)
    assert server.requests == []


EXT = "ext-lookup-1"
FOUND = task_json("t-77", "processing", task_info={"external_task_id": EXT})


@pytest.mark.parametrize(
    ("form", "path", "query", "data"),
    [
        pytest.param("path", f"{IMG}/{EXT}", {}, FOUND, id="path"),
        pytest.param("query", IMG, {"external_task_id": EXT}, [FOUND], id="query"),
        pytest.param("path-flag", f"{IMG}/{EXT}", {"external_task_id": "true"}, FOUND,
                     id="path-flag"),
        pytest.param("path-param", f"{IMG}/{EXT}", {"external_task_id": EXT}, FOUND,
                     id="path-param"),
    ],
)
@pytest.mark.anyio
async def test_get_task_by_external_id_forms(
    server: ScriptedServer, form: str, path: str, query: dict[str, str], data: Any
) -> None:
    """Each external_id_query form sends its documented URL and returns the task."""
    server.script("GET", path, Reply(200, json=ok(data)))
    async with client_for(server, external_id_query=form) as client:
        task = await client.get_task_by_external_id("images/generations", EXT)
    (sent,) = server.requests
    assert (sent.method, sent.path, sent.query) == ("GET", path, query)
    assert (task.task_id, task.external_task_id) == ("t-77", EXT)


@pytest.mark.parametrize(
    ("form", "path"),
    [
        pytest.param("path", f"{IMG}/{EXT}", id="path"),
        pytest.param("query", IMG, id="query"),
        pytest.param("path-flag", f"{IMG}/{EXT}", id="path-flag"),
        pytest.param("path-param", f"{IMG}/{EXT}", id="path-param"),
    ],
)
@pytest.mark.anyio
async def test_get_task_by_external_id_not_found(
    server: ScriptedServer, form: str, path: str
) -> None:
    """A 404/1203 reply is a NotFoundError naming the external id, after one request."""
    server.script("GET", path, Reply(404, json=error_body(1203, "task not found")))
    async with client_for(server, external_id_query=form) as client:
        with pytest.raises(kling.NotFoundError, match=EXT):
            await client.get_task_by_external_id("images/generations", EXT)
    assert server.count("GET", path) == 1


@pytest.mark.anyio
async def test_get_task_by_external_id_query_form_ignores_other_tasks(
    server: ScriptedServer,
) -> None:
    """In the list form, only a task whose external_task_id matches is returned."""
    other = task_json("t-1", task_info={"external_task_id": "someone-else"})
    server.script("GET", IMG, Reply(200, json=ok([other])))
    async with client_for(server, external_id_query="query") as client:
        with pytest.raises(kling.NotFoundError):
            await client.get_task_by_external_id("images/generations", EXT)


def _page(first: int, count: int) -> Reply:
    return Reply(200, json=ok([task_json(f"t-{first + i}", "succeed") for i in range(count)]))


@pytest.mark.anyio
async def test_list_tasks_pages_until_a_short_page(server: ScriptedServer) -> None:
    """list_tasks sends pageNum=1,2,3 with pageSize and stops after the first short page."""
    server.script("GET", VID, _page(0, 2), _page(2, 2), _page(4, 1), then=_page(9, 2))
    async with client_for(server) as client:
        pages = [page async for page in client.list_tasks("videos/omni-video", page_size=2)]
    assert [p.page_num for p in pages] == [1, 2, 3]
    assert [[t.task_id for t in p] for p in pages] == [["t-0", "t-1"], ["t-2", "t-3"], ["t-4"]]
    assert [r.query for r in server.requests] == [
        {"pageNum": "1", "pageSize": "2"},
        {"pageNum": "2", "pageSize": "2"},
        {"pageNum": "3", "pageSize": "2"},
    ]


@pytest.mark.anyio
async def test_list_tasks_stops_on_an_empty_page_and_honours_max_pages(
    server: ScriptedServer,
) -> None:
    """An empty page ends the listing; max_pages bounds it; start_page picks the first page."""
    server.script("GET", VID, _page(0, 3), Reply(200, json=ok([])))
    async with client_for(server) as client:
        pages = [p async for p in client.list_tasks("videos/omni-video", page_size=3)]
        assert [len(p) for p in pages] == [3, 0]
        server.requests.clear()
        server.script("GET", VID, then=_page(0, 3))
        pages = [p async for p in client.list_tasks("videos/omni-video", page_size=3,
                                                    start_page=5, max_pages=2)]
    assert [p.page_num for p in pages] == [5, 6]
    assert [r.query["pageNum"] for r in server.requests] == ["5", "6"]


@pytest.mark.parametrize("size", [pytest.param(0, id="0"), pytest.param(501, id="501")])
@pytest.mark.anyio
async def test_list_tasks_rejects_page_size_out_of_range(
    server: ScriptedServer, size: int
) -> None:
    """pageSize outside [1, 500] is a ValidationError naming pageSize, before any request."""
    async with client_for(server) as client:
        with pytest.raises(kling.ValidationError, match="pageSize"):
            async for _ in client.list_tasks("videos/omni-video", page_size=size):
                pass
    assert server.requests == []


@pytest.mark.anyio
async def test_unknown_endpoint_is_a_validation_error(server: ScriptedServer) -> None:
    """An endpoint name that is not in the table is a ValidationError listing the known ones."""
    async with client_for(server) as client:
        with pytest.raises(kling.ValidationError, match="images/generations"):
            await client.get_task("videos/no-such-thing", "t-1")
    assert server.requests == []


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(Reply(json=ok(task_json("t-1", "queued"))), id="status-queued"),
        pytest.param(Reply(json=ok([task_json("t-1")])), id="data-list"),
        pytest.param(Reply(json=ok({"task_status": "submitted"})), id="no-task-id"),
        pytest.param(Reply(body=b'{"code":1e400,"data":{"task_id":"t-1"}}'), id="code-1e400"),
        pytest.param(Reply(json=ok(task_json("t-1", task_info={"external_task_id": "other"}))),
                     id="another-external-id"),
    ],
)
@pytest.mark.anyio
async def test_create_task_with_an_unreadable_reply_is_ambiguous(
    server: ScriptedServer, reply: Reply
) -> None:
    """create_task() whose reply cannot be read raises AmbiguousSubmissionError naming the
    external_task_id (the server may have created the task), never a decode error."""
    server.script("POST", IMG, reply)
    async with client_for(server) as client:
        with pytest.raises(kling.AmbiguousSubmissionError) as caught:
            await client.create_task(image_request(), external_task_id="ext-7")
    assert caught.value.external_task_id == "ext-7"
    assert server.count("POST", IMG) == 1
