"""Hostile servers against the transport: every reply bounded, every failure typed, every path
sent as built.  KlingClient against tests/_scripted.py's ScriptedServer (or a raw TCP server
for replies no HTTP framework sends), on 127.0.0.1.
"""

from __future__ import annotations

import gzip
import json
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import pytest

import kling_async as kling
import kling_async._results as kling_results
from kling_async import Backoff, KlingClient, Limits, RetryPolicy, Timeouts
from tests._rawserver import RawServer, declared_length, endless_body
from tests._scripted import Reply, ScriptedServer, closed_port, error_body, ok, task_json
from tests._simhelpers import ClientSettings, Sleeps

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack is 3.11+; mypy checks for 3.10

pytestmark = pytest.mark.anyio

ATTEMPTS = 3
CREATE_PATH = "/v1/images/generations"
GET_PATH = CREATE_PATH + "/t-1"
MiB = 1024 * 1024
EXT = "ext-hostile-1"


def make_client(base_url: str, /, **kwargs: Unpack[ClientSettings]) -> KlingClient:
    settings: ClientSettings = {
        "api_key": "test-key",
        "base_url": base_url,
        "retry": RetryPolicy(max_attempts=ATTEMPTS, backoff=Backoff(initial=0.001, maximum=0.01)),
        "timeouts": Timeouts(connect=2.0, total=10.0),
        "sleep": Sleeps(),
        "limits": Limits(max_reply_bytes=MiB),
    }
    settings.update(kwargs)
    return KlingClient(**settings)


def image_request() -> kling.ImageGenerationRequest:
    return kling.ImageGenerationRequest(prompt="a cat")


# -- bounded replies -----------------------------------------------------------------------------


def test_the_reply_size_limit_is_a_setting() -> None:
    """Limits.max_reply_bytes defaults to 8 MiB and must be a positive int."""
    assert Limits().max_reply_bytes == 8 * MiB
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="max_reply_bytes"):
            Limits(max_reply_bytes=bad)  # type: ignore[arg-type]


OVERSIZED = [
    pytest.param(Reply(200, json=ok({"pad": "x" * (2 * MiB)})), id="declared-2MiB"),
    pytest.param(Reply(200, body=gzip.compress(b" " * (64 * MiB)),
                       headers={"Content-Encoding": "gzip", "Content-Type": "application/json"}),
                 id="gzip-bomb-64MiB"),
]


@pytest.mark.parametrize("reply", OVERSIZED)
async def test_a_get_reply_over_the_limit_is_refused_typed(
    server: ScriptedServer, reply: Reply
) -> None:
    """A reply (decompressed) over max_reply_bytes is ResponseTooLargeError naming the limit;
    a GET is retried like any unreadable reply."""
    server.script("GET", GET_PATH, then=reply)
    async with make_client(server.url) as client:
        with anyio.fail_after(20), pytest.raises(kling.ResponseTooLargeError) as caught:
            await client.get_task("images/generations", "t-1")
    assert isinstance(caught.value, kling.ResponseDecodeError)
    assert "max_reply_bytes" in str(caught.value)
    assert server.count("GET", GET_PATH) == ATTEMPTS


@pytest.mark.parametrize("reply", OVERSIZED)
async def test_a_create_reply_over_the_limit_is_ambiguous(
    server: ScriptedServer, reply: Reply
) -> None:
    """A create whose reply is too large may have created the task: one POST, then
    AmbiguousSubmissionError naming the external_task_id."""
    server.script("POST", CREATE_PATH, then=reply)
    async with make_client(server.url) as client:
        with anyio.fail_after(20), pytest.raises(kling.AmbiguousSubmissionError) as caught:
            await client.create_task(image_request(), external_task_id=EXT)
    assert server.count("POST", CREATE_PATH) == 1
    assert caught.value.external_task_id == EXT
    assert isinstance(caught.value.cause, kling.ResponseTooLargeError)


async def test_an_endless_body_is_cut_at_the_limit() -> None:
    """A body that never ends is read only up to the limit, then refused (not read forever)."""
    async with RawServer(endless_body()) as raw:
        async with make_client(raw.url, retry=RetryPolicy(max_attempts=1)) as client:
            with anyio.fail_after(20), pytest.raises(kling.ResponseTooLargeError):
                await client.get_task("images/generations", "t-1")


async def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    """A Content-Length over the limit is refused at once, without waiting for the body."""
    async with RawServer(declared_length(10 * 1024 * MiB)) as raw:
        async with make_client(raw.url, retry=RetryPolicy(max_attempts=1),
                               timeouts=Timeouts(connect=2.0, total=60.0)) as client:
            with anyio.fail_after(10), pytest.raises(kling.ResponseTooLargeError):
                await client.get_task("images/generations", "t-1")


async def test_a_reply_within_the_limit_is_read_whole(server: ScriptedServer) -> None:
    """A reply just under the limit is decoded as usual (the padding is an extra field)."""
    pad = "x" * (MiB - 1000)
    body = ok(task_json("t-1", task_status_msg="done"))
    body["data"]["padding"] = pad
    server.script("GET", GET_PATH, Reply(200, json=body))
    async with make_client(server.url) as client:
        task = await client.get_task("images/generations", "t-1")
    assert task.status_msg == "done"


# -- every decode path ends in a KlingError --------------------------------------------------------

DEEP = b'{"code": 0, "data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
MALFORMED = [
    pytest.param(b"[" * 200_000, id="nested-200k-deep"),
    pytest.param(DEEP, id="data-nested-100k-deep"),
    pytest.param(b'{"code": 0, "data": ' + b"[" * 500 + b"]" * 500 + b"}", id="data-500-deep"),
    pytest.param(b'{"code": 1e400, "message": "x"}', id="code-1e400"),
    pytest.param(b'{"code": -1e400}', id="code-minus-1e400"),
    pytest.param(b'{"code": NaN}', id="code-nan"),
    pytest.param(b'{"code": "' + b"9" * 5000 + b'"}', id="code-5000-digit-string"),
    pytest.param(b'{"code": ' + b"9" * 5000 + b"}", id="code-5000-digit-number"),
    pytest.param(b'{"code": ' + b"9" * 400 + b"}", id="code-400-digit-number"),
    pytest.param(b'{"code": [1302]}', id="code-list"),
    pytest.param(b'{"code": {"a": 1}}', id="code-object"),
    pytest.param(b'{"code": "12x"}', id="code-not-digits"),
    pytest.param(b"\xff\xfe\xfa garbage", id="not-utf8"),
    pytest.param(b'{"code": 0, "data": "\xff"}', id="invalid-utf8-inside"),
    pytest.param(b"[1, 2]", id="top-level-list"),
    pytest.param(b"null", id="null"),
    pytest.param(b"", id="empty"),
    pytest.param(b'{"code": 0}', id="no-data"),
    pytest.param(b'{"code": 0, "data": [1, 2]}', id="data-list"),
    pytest.param(b'{"code": 0, "data": "text"}', id="data-string"),
    pytest.param(b'{"code": 0, "data": 1e400}', id="data-inf"),
]


@pytest.mark.parametrize("body", MALFORMED)
async def test_a_malformed_get_reply_is_a_kling_error(server: ScriptedServer, body: bytes) -> None:
    """Whatever a 200 reply holds, get_task raises a KlingError (a ResponseDecodeError), never
    RecursionError, OverflowError or ValueError."""
    server.script("GET", GET_PATH, then=Reply(200, body=body))
    async with make_client(server.url, retry=RetryPolicy(max_attempts=1)) as client:
        with anyio.fail_after(20), pytest.raises(kling.ResponseDecodeError):
            await client.get_task("images/generations", "t-1")


@pytest.mark.parametrize("body", MALFORMED[:14])
async def test_a_malformed_create_reply_is_ambiguous(server: ScriptedServer, body: bytes) -> None:
    """A create answered with an unreadable envelope may have created the task: one POST, then
    AmbiguousSubmissionError (never RecursionError or OverflowError)."""
    server.script("POST", CREATE_PATH, then=Reply(200, body=body))
    async with make_client(server.url) as client:
        with anyio.fail_after(20), pytest.raises(kling.AmbiguousSubmissionError) as caught:
            await client.create_task(image_request(), external_task_id=EXT)
    assert server.count("POST", CREATE_PATH) == 1
    assert isinstance(caught.value.cause, kling.ResponseDecodeError)


@pytest.mark.parametrize("body", [
    pytest.param({"code": 1201, "message": "bad\x1b[31m\ud800\u2028" + "m" * 5000},
                 id="control-chars-surrogate-and-long"),
    pytest.param({"code": 1201, "message": {"nested": [1, [2, [3]]]}, "request_id": ["r"]},
                 id="message-object"),
    pytest.param({"code": 1201, "msg": 12, "request_id": "r\n1"}, id="msg-number"),
])
async def test_an_error_reply_message_is_kept_clean_and_short(
    server: ScriptedServer, body: dict[str, Any]
) -> None:
    """A server's message and request id reach the APIError printable (escaped) and cut short:
    no terminal escapes, lone surrogates or megabytes in an error message."""
    server.script("GET", GET_PATH, then=Reply(400, body=json.dumps(body).encode()))
    async with make_client(server.url) as client:
        with pytest.raises(kling.InvalidRequestError) as caught:
            await client.get_task("images/generations", "t-1")
    text = str(caught.value)
    assert text.isprintable()
    assert len(text) < 1200
    text.encode("utf-8")  # no lone surrogate left


@pytest.mark.parametrize("header", ["1e400", "nan", "Thu, 01 Jan 99999 00:00:00 GMT", "-inf"])
async def test_a_hostile_retry_after_is_capped_or_ignored(
    server: ScriptedServer, header: str
) -> None:
    """A Retry-After that is infinite, NaN or an impossible date never breaks the retry loop:
    the wait is at most retry_after_cap."""
    sleeps = Sleeps()
    server.script("GET", GET_PATH,
                  Reply(429, json=error_body(1302), headers={"Retry-After": header}),
                  then=Reply(200, json=ok(task_json())))
    policy = RetryPolicy(max_attempts=ATTEMPTS, backoff=Backoff(initial=0.001, maximum=0.01),
                         retry_after_cap=3.0)
    async with make_client(server.url, sleep=sleeps, retry=policy) as client:
        await client.get_task("images/generations", "t-1")
    assert len(sleeps) == 1 and 0.0 <= sleeps[0] <= 3.0


# -- Timeouts.call: one bound for the whole call -------------------------------------------------


def test_the_call_bound_is_a_setting() -> None:
    """Timeouts.call defaults to 300 s; None turns it off; it must be > 0."""
    assert Timeouts().call == 300.0
    assert Timeouts(call=None).call is None
    with pytest.raises(ValueError, match="call"):
        Timeouts(call=0)


async def test_a_get_that_keeps_timing_out_stops_at_the_call_bound(server: ScriptedServer) -> None:
    """Tries that each time out are retried only while Timeouts.call lasts, then
    TransportError names the bound (not 50 tries of Timeouts.total each)."""
    server.script("GET", GET_PATH, then=Reply(200, json=ok(task_json()), delay=30.0))
    async with make_client(server.url, retry=RetryPolicy(max_attempts=50, backoff=Backoff(
            initial=0.001, maximum=0.01)), timeouts=Timeouts(total=0.2, call=0.5)) as client:
        with anyio.fail_after(10), pytest.raises(kling.TransportError) as caught:
            await client.get_task("images/generations", "t-1")
    assert not isinstance(caught.value, kling.ResponseDecodeError)
    assert "Timeouts.call" in str(caught.value)
    assert 1 <= server.count("GET", GET_PATH) <= 4


async def test_a_create_past_the_call_bound_is_ambiguous(server: ScriptedServer) -> None:
    """A create still waiting for its reply when Timeouts.call runs out may have created the
    task: AmbiguousSubmissionError, one POST."""
    server.script("POST", CREATE_PATH, then=Reply(200, json=ok(task_json()), delay=30.0))
    async with make_client(server.url, timeouts=Timeouts(total=20.0, call=0.3)) as client:
        with anyio.fail_after(10), pytest.raises(kling.AmbiguousSubmissionError) as caught:
            await client.create_task(image_request(), external_task_id=EXT)
    assert server.count("POST", CREATE_PATH) == 1
    assert "Timeouts.call" in str(caught.value)


async def test_a_create_that_never_connected_is_not_ambiguous_at_the_call_bound() -> None:
    """A create whose tries all failed to connect sent nothing: when Timeouts.call runs out
    during its waits it is a plain TransportError."""
    url = f"http://127.0.0.1:{closed_port()}"
    policy = RetryPolicy(max_attempts=50, backoff=Backoff(initial=0.1, maximum=0.1, jitter=0.0))
    async with make_client(url, retry=policy, sleep=anyio.sleep,
                           timeouts=Timeouts(connect=2.0, call=0.5)) as client:
        with anyio.fail_after(10), pytest.raises(kling.TransportError) as caught:
            await client.create_task(image_request(), external_task_id=EXT)
    assert not isinstance(caught.value, kling.AmbiguousSubmissionError)
    assert "Timeouts.call" in str(caught.value)


async def test_a_wait_past_the_call_bound_is_not_slept(server: ScriptedServer) -> None:
    """A Retry-After longer than what is left of Timeouts.call ends the call at once instead
    of sleeping past it."""
    sleeps = Sleeps()
    server.script("GET", GET_PATH, then=Reply(503, body=b"down", headers={"Retry-After": "60"}))
    policy = RetryPolicy(max_attempts=ATTEMPTS, retry_after_cap=120.0)
    async with make_client(server.url, sleep=sleeps, retry=policy,
                           timeouts=Timeouts(call=5.0)) as client:
        with pytest.raises(kling.TransportError, match=r"Timeouts\.call"):
            await client.get_task("images/generations", "t-1")
    assert sleeps == []
    assert server.count("GET", GET_PATH) == 1


# -- task ids go into paths as one segment ------------------------------------------------------

SERVED_IDS = [
    pytest.param("..", id="dot-dot"),
    pytest.param("%2e%2e", id="encoded-dot-dot"),
    pytest.param("a b", id="space"),
    pytest.param("é-1", id="non-ascii"),
    pytest.param("a%2Fb", id="percent"),
    pytest.param(".hidden", id="leading-dot"),
]


@pytest.mark.parametrize("task_id", [p for p in SERVED_IDS if p.values[0] != ".."])
async def test_a_user_task_id_reaches_exactly_its_own_path(
    server: ScriptedServer, task_id: str
) -> None:
    """get_task sends the id as one percent-encoded segment: the server sees exactly
    <endpoint path>/<id>, never a resolved or re-decoded path.  (A reply naming an id that is
    not plain is then refused by parse_task, whoever asked.)"""
    path = f"{CREATE_PATH}/{task_id}"
    server.script("GET", path, Reply(200, json=ok(task_json(task_id))))
    async with make_client(server.url) as client:
        if kling_results.is_plain_id(task_id):
            task = await client.get_task("images/generations", task_id)
            assert task.task_id == task_id
        else:
            with pytest.raises(kling.ResponseDecodeError, match="not a plain id"):
                await client.get_task("images/generations", task_id)
    assert [r.path for r in server.requests] == [path]


@pytest.mark.parametrize("task_id", [
    pytest.param(".", id="dot"),
    pytest.param("..", id="dot-dot"),
    pytest.param("a\x00b", id="nul"),
    pytest.param("a\u2028b", id="line-separator"),
    pytest.param("a\x7fb", id="del"),
    pytest.param("\ud800x", id="lone-surrogate"),
    pytest.param("x" * 257, id="too-long"),
])
async def test_a_task_id_that_is_not_plain_is_refused_before_any_request(
    server: ScriptedServer, task_id: str
) -> None:
    """An id that is a dot-segment, holds control characters or lone surrogates, or is longer
    than 256 characters is a ValidationError, and nothing is sent."""
    async with make_client(server.url) as client:
        with pytest.raises(kling.ValidationError):
            await client.get_task("images/generations", task_id)
    assert server.requests == []


@pytest.mark.parametrize("task_id", [
    pytest.param("../../admin/x", id="dot-dot-slashes"),
    pytest.param("t1?x=", id="query"),
    pytest.param("t1#frag", id="fragment"),
    pytest.param("./../v1/images/generations", id="dot-slash"),
])
async def test_a_server_task_id_never_reaches_another_path(
    server: ScriptedServer, task_id: str
) -> None:
    """A task id from the server is polled (if at all) at <endpoint path>/<id> as one segment:
    no request ever reaches another path (where the Authorization header would go too)."""
    done = task_json(task_id, "succeed",
                     task_result={"images": [{"index": 0, "url": "https://x.example/1.png"}]})
    server.script("POST", CREATE_PATH, then=Reply(200, json=ok(task_json(task_id))))
    server.script("GET", f"{CREATE_PATH}/{task_id}", then=Reply(200, json=ok(done)))
    poll = kling.PollPolicy(first_poll=0.0, min_interval=0.01, max_interval=0.02,
                            expected_image=0.01, bulk_threshold=0)
    async with make_client(server.url, poll=poll) as client:
        with anyio.fail_after(10):
            try:
                job = await client.submit(image_request(), external_task_id="ext-safe")
                await job.result(timeout=2.0)
            except kling.KlingError:
                pass  # refusing the id is fine too; reaching another path is not
    # the only other path: the lookup by external_task_id (the path segment form),
    # reconciling the unreadable create reply
    assert {r.path for r in server.requests} <= {
        CREATE_PATH, f"{CREATE_PATH}/{task_id}", f"{CREATE_PATH}/ext-safe"}
    assert all(r.query == {} for r in server.requests)


async def test_a_gateway_prefix_is_kept_and_paths_are_not_resolved(
    server: ScriptedServer,
) -> None:
    """With a base URL carrying a gateway prefix, an id like '%2e%2e' reaches
    <prefix>/<endpoint path>/%2e%2e literally."""
    path = f"/kling{CREATE_PATH}/%2e%2e"
    server.script("GET", path, Reply(200, json=ok(task_json("%2e%2e"))))
    async with make_client(server.url + "/kling/") as client:
        with pytest.raises(kling.ResponseDecodeError, match="not a plain id"):
            await client.get_task("images/generations", "%2e%2e")  # the reply's id is refused
    assert [r.path for r in server.requests] == [path]


async def test_a_body_that_is_not_valid_unicode_is_refused_before_sending(
    server: ScriptedServer,
) -> None:
    """A lone surrogate in a request text cannot be sent as UTF-8: a ValidationError, not a
    UnicodeEncodeError, and nothing reaches the server (the request classes refuse it when
    built; the transport refuses a body that still holds one, e.g. in an external_task_id)."""
    with pytest.raises(kling.ValidationError, match="prompt"):
        kling.ImageGenerationRequest(prompt="a cat \ud800")
    async with make_client(server.url) as client:
        with pytest.raises(kling.ValidationError, match="request body"):
            await client.create_task(kling.ImageGenerationRequest(prompt="a cat"),
                                     external_task_id="ext-\ud800")
    assert server.requests == []
