"""The one retry loop, end to end: KlingClient against a scripted local server, counting requests.

GETs are retried on transient failures up to ``max_attempts``; a create POST is retried only when
it provably created nothing, and is never re-sent after an ambiguous failure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import anyio.lowlevel
import jwt
import pytest

import kling_async as kling
from kling_async import Backoff, KlingClient, RetryPolicy, Timeouts
from kling_async._http import parse_retry_after
from tests._scripted import (
    Drop,
    Reply,
    ScriptedServer,
    closed_port,
    error_body,
    ok,
    task_json,
)
from tests._simhelpers import ClientSettings, Sleeps

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack is 3.11+; mypy checks for 3.10

pytestmark = pytest.mark.anyio

ATTEMPTS = 3
GET_PATH = "/v1/images/generations/t-1"
CREATE_PATH = "/v1/images/generations"
EXT = "ext-ambiguous-1"
FAST = Backoff(initial=0.001, maximum=0.01)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make_client(
    base_url: str, sleeps: Sleeps, /, **kwargs: Unpack[ClientSettings]
) -> KlingClient:
    settings: ClientSettings = {
        "api_key": "test-key",
        "base_url": base_url,
        "retry": RetryPolicy(max_attempts=ATTEMPTS, backoff=FAST),
        "timeouts": Timeouts(connect=2.0, read=2.0, total=4.0),
        "sleep": sleeps,
        "rand": lambda: 0.5,
    }
    settings.update(kwargs)
    return KlingClient(**settings)


def request() -> kling.ImageGenerationRequest:
    return kling.ImageGenerationRequest(prompt="a cat")


SUCCESS = Reply(200, json=ok(task_json("t-1", "processing")))
CREATED = Reply(200, json=ok(task_json("t-new", "submitted", task_info={"external_task_id": EXT})))

# -- GET: retried -------------------------------------------------------------------------------

TRANSIENT = [
    pytest.param(Reply(500, json=error_body(5000)), kling.ServerError, id="500-5000"),
    pytest.param(Reply(503, json=error_body(5001)), kling.ServerError, id="503-5001"),
    pytest.param(Reply(504, json=error_body(5002)), kling.ServerError, id="504-5002"),
    pytest.param(Reply(429, json=error_body(1302)), kling.RateLimitError, id="429-1302"),
    pytest.param(Reply(429, body=b"Too Many Requests"), kling.RateLimitError, id="bare-429"),
    pytest.param(Reply(429, json={"message": "slow down"}), kling.RateLimitError,
                 id="429-json-without-code"),
    pytest.param(Reply(200, json=error_body(1302)), kling.RateLimitError, id="200-1302-gateway"),
    pytest.param(Reply(502, body=b"<html>bad gateway</html>"), kling.ServerError,
                 id="bare-502-html"),
    pytest.param(Drop(), kling.TransportError, id="network-drop"),
    pytest.param(Reply(200, body=b"{not json"), kling.ResponseDecodeError, id="malformed-json"),
]


@pytest.mark.parametrize(("failure", "error"), TRANSIENT)
async def test_get_is_retried_up_to_max_attempts(
    server: ScriptedServer, sleeps: Sleeps, failure: Reply | Drop, error: type[Exception]
) -> None:
    """A transient GET failure is retried: the server sees exactly max_attempts requests."""
    server.script("GET", GET_PATH, then=failure)
    async with make_client(server.url, sleeps) as client:
        with pytest.raises(error):
            await client.get_task("images/generations", "t-1")
    assert server.count("GET", GET_PATH) == ATTEMPTS
    assert len(sleeps) == ATTEMPTS - 1


@pytest.mark.parametrize(("failure", "error"), TRANSIENT)
async def test_get_recovers_after_a_transient_failure(
    server: ScriptedServer, sleeps: Sleeps, failure: Reply | Drop, error: type[Exception]
) -> None:
    """After transient failures, the next successful reply is returned (one retry per failure)."""
    server.script("GET", GET_PATH, failure, failure, SUCCESS)
    async with make_client(server.url, sleeps) as client:
        task = await client.get_task("images/generations", "t-1")
    assert task.task_id == "t-1"
    assert task.status is kling.TaskStatus.PROCESSING
    assert server.count("GET", GET_PATH) == 3
    assert len(sleeps) == 2  # one SDK retry (with its backoff wait) per failed request


async def test_retry_waits_follow_the_backoff_policy(
    server: ScriptedServer, sleeps: Sleeps
) -> None:
    """Each wait is RetryPolicy.delay(attempt, rand) with the injected rand."""
    backoff = Backoff(initial=0.004, factor=3.0, maximum=1.0)
    server.script("GET", GET_PATH, then=Reply(500, json=error_body(5000)))
    async with make_client(server.url, sleeps, rand=lambda: 0.25,
                           retry=RetryPolicy(max_attempts=4, backoff=backoff)) as client:
        with pytest.raises(kling.ServerError):
            await client.get_task("images/generations", "t-1")
    assert sleeps == pytest.approx([0.001, 0.003, 0.009])
    assert server.count("GET", GET_PATH) == 4


# -- GET: not retried ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        pytest.param(Reply(400, json=error_body(1201)), kling.InvalidRequestError, id="400-1201"),
        pytest.param(Reply(401, json=error_body(1002)), kling.AuthenticationError, id="401-1002"),
        pytest.param(Reply(429, json=error_body(1102)), kling.AccountError, id="429-1102"),
        pytest.param(Reply(429, json=error_body(1101)), kling.AccountError, id="429-1101"),
        pytest.param(Reply(429, json=error_body(1304)), kling.AccountError, id="429-1304"),
        pytest.param(Reply(403, json=error_body(1103)), kling.PermissionDeniedError,
                     id="403-1103"),
        pytest.param(Reply(404, json=error_body(1203)), kling.NotFoundError, id="404-1203"),
        pytest.param(Reply(400, json=error_body(1301)), kling.ContentPolicyError, id="400-1301"),
    ],
)
async def test_get_is_not_retried_on_permanent_errors(
    server: ScriptedServer, sleeps: Sleeps, reply: Reply, error: type[kling.APIError]
) -> None:
    """A permanent error is raised after one request, with its code, and nothing is slept."""
    server.script("GET", GET_PATH, reply, then=SUCCESS)
    async with make_client(server.url, sleeps) as client:
        with pytest.raises(error) as caught:
            await client.get_task("images/generations", "t-1")
    assert server.count("GET", GET_PATH) == 1
    assert sleeps == []
    assert type(caught.value) is error
    assert caught.value.code == reply.json["code"]
    assert caught.value.http_status == reply.status
    assert caught.value.request_id == "req-err"


# -- Retry-After ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "cap", "expected"),
    [
        pytest.param("2", 60.0, 2.0, id="delta-seconds"),
        pytest.param("0.5", 60.0, 0.5, id="fractional"),
        pytest.param("120", 3.0, 3.0, id="capped"),
    ],
)
async def test_retry_after_is_honoured_and_capped(
    server: ScriptedServer, sleeps: Sleeps, header: str, cap: float, expected: float
) -> None:
    """A Retry-After header replaces the backoff wait, capped at retry_after_cap."""
    server.script("GET", GET_PATH,
                  Reply(429, json=error_body(1302), headers={"Retry-After": header}), SUCCESS)
    policy = RetryPolicy(max_attempts=ATTEMPTS, backoff=FAST, retry_after_cap=cap)
    async with make_client(server.url, sleeps, retry=policy) as client:
        await client.get_task("images/generations", "t-1")
    assert sleeps == [expected]
    assert server.count("GET", GET_PATH) == 2


async def test_retry_after_on_a_bare_503(server: ScriptedServer, sleeps: Sleeps) -> None:
    """Retry-After is honoured on a 5xx without a JSON body too."""
    server.script("GET", GET_PATH, Reply(503, body=b"maintenance", headers={"Retry-After": "4"}),
                  SUCCESS)
    async with make_client(server.url, sleeps) as client:
        await client.get_task("images/generations", "t-1")
    assert sleeps == [4.0]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param(None, None, id="absent"),
        pytest.param("", None, id="empty"),
        pytest.param("7", 7.0, id="seconds"),
        pytest.param(" 1.5 ", 1.5, id="fractional-padded"),
        pytest.param("-3", 0.0, id="negative-clamped"),
        pytest.param("soon", None, id="garbage"),
        pytest.param("Wed, 21 Oct 2015 07:28:10 GMT", 10.0, id="http-date-future"),
        pytest.param("Wed, 21 Oct 2015 07:27:00 GMT", 0.0, id="http-date-past"),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    """Retry-After is delta-seconds or an HTTP date (relative to now), never negative."""
    now = 1445412480.0  # Wed, 21 Oct 2015 07:28:00 GMT
    got = parse_retry_after(header, now=now)
    assert got == (None if expected is None else pytest.approx(expected))


# -- create POST: retried only when nothing can have been created ------------------------------


async def test_create_to_a_closed_port_is_retried_then_transport_error(
    server: ScriptedServer, sleeps: Sleeps
) -> None:
    """A connection that was never established created nothing: retried, then TransportError."""
    url = f"http://127.0.0.1:{closed_port()}"
    async with make_client(url, sleeps) as client:
        with pytest.raises(kling.TransportError) as caught:
            await client.create_task(request(), external_task_id=EXT)
        stats = client.statistics()
    assert not isinstance(caught.value, kling.AmbiguousSubmissionError)
    assert type(caught.value) is kling.TransportError
    assert stats.requests == ATTEMPTS
    assert len(sleeps) == ATTEMPTS - 1
    assert server.requests == []  # nothing reached any server


@pytest.mark.parametrize(
    ("reply", "min_sleep"),
    [
        pytest.param(Reply(429, json=error_body(1302)), 0.0, id="1302"),
        pytest.param(Reply(429, json=error_body(1303)), 1.0, id="1303-waits-1s"),
    ],
)
async def test_create_is_retried_on_rate_and_concurrency_envelopes(
    server: ScriptedServer, sleeps: Sleeps, reply: Reply, min_sleep: float
) -> None:
    """A 1302/1303 envelope means the server refused the create: it is re-sent (same body)."""
    server.script("POST", CREATE_PATH, reply, CREATED)
    async with make_client(server.url, sleeps) as client:
        task = await client.create_task(request(), external_task_id=EXT)
    assert task.task_id == "t-new"
    assert task.external_task_id == EXT
    posts = server.requests_to("POST", CREATE_PATH)
    assert len(posts) == 2
    assert posts[0].json == posts[1].json
    assert posts[0].json["external_task_id"] == EXT
    assert len(sleeps) == 1
    assert sleeps[0] >= min_sleep


async def test_create_gives_up_after_max_attempts_of_1302(
    server: ScriptedServer, sleeps: Sleeps
) -> None:
    """Persistent 1302 on a create: max_attempts POSTs, then RateLimitError (not ambiguous)."""
    server.script("POST", CREATE_PATH, then=Reply(429, json=error_body(1302)))
    async with make_client(server.url, sleeps) as client:
        with pytest.raises(kling.RateLimitError):
            await client.create_task(request(), external_task_id=EXT)
    assert server.count("POST", CREATE_PATH) == ATTEMPTS


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        pytest.param(Reply(400, json=error_body(1201)), kling.InvalidRequestError, id="400-1201"),
        pytest.param(Reply(429, json=error_body(1102)), kling.AccountError, id="429-1102"),
        pytest.param(Reply(400, json=error_body(1301)), kling.ContentPolicyError, id="400-1301"),
    ],
)
async def test_create_is_not_retried_on_permanent_errors(
    server: ScriptedServer, sleeps: Sleeps, reply: Reply, error: type[kling.APIError]
) -> None:
    """A definite rejection of a create is raised as its APIError after one POST."""
    server.script("POST", CREATE_PATH, reply, then=CREATED)
    async with make_client(server.url, sleeps) as client:
        with pytest.raises(error):
            await client.create_task(request(), external_task_id=EXT)
    assert server.count("POST", CREATE_PATH) == 1


AMBIGUOUS = [
    pytest.param(Drop(), {}, id="connection-closed-after-request"),
    pytest.param(Reply(500, json=error_body(5000)), {}, id="500-5000"),
    pytest.param(Reply(503, json=error_body(5001)), {}, id="503-5001"),
    pytest.param(Reply(502, body=b"bad gateway"), {}, id="bare-502"),
    pytest.param(Reply(200, body=b"{not json"), {}, id="malformed-json-200"),
    pytest.param(Reply(200, json=ok(task_json()), delay=1.5),
                 {"timeouts": Timeouts(connect=2.0, read=0.2)}, id="read-timeout"),
]


@pytest.mark.parametrize(("failure", "settings"), AMBIGUOUS)
async def test_create_is_never_resent_after_an_ambiguous_failure(
    server: ScriptedServer, sleeps: Sleeps, failure: Reply | Drop, settings: ClientSettings
) -> None:
    """After a failure that may have created the task, exactly ONE POST was sent and
    AmbiguousSubmissionError names the external_task_id to look up."""
    server.script("POST", CREATE_PATH, failure, then=CREATED)
    async with make_client(server.url, sleeps, **settings) as client:
        with anyio.fail_after(4):
            with pytest.raises(kling.AmbiguousSubmissionError) as caught:
                await client.create_task(request(), external_task_id=EXT)
    assert server.count("POST", CREATE_PATH) == 1
    assert sleeps == []
    assert caught.value.external_task_id == EXT
    assert caught.value.endpoint == "images/generations"
    assert repr(EXT) in str(caught.value)


# -- JWT re-sign on 1004 ------------------------------------------------------------------------

AK = "ak-transport-test"
SK = "sk-transport-test-0123456789abcdef01"  # >= 32 bytes


def _tokens(server: ScriptedServer) -> list[str]:
    out = []
    for rec in server.requests:
        scheme, _, token = rec.headers["Authorization"].partition(" ")
        assert scheme == "Bearer"
        out.append(token)
    return out


@pytest.fixture
def frozen_jwt_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the client's JwtAuth read a wall clock that does not move (both mints in one second)."""
    import functools

    import kling_async._client as client_module
    from kling_async._auth import JwtAuth

    monkeypatch.setattr(client_module, "JwtAuth",
                        functools.partial(JwtAuth, clock=lambda: 1_900_000_000.0))


async def test_jwt_expired_reply_remints_and_retries_once(
    server: ScriptedServer, sleeps: Sleeps, frozen_jwt_clock: None
) -> None:
    """A 401/1004 makes the JWT client re-mint and retry exactly once, with a new token."""
    server.script("GET", GET_PATH, Reply(401, json=error_body(1004, "token expired")), SUCCESS)
    async with make_client(server.url, sleeps, api_key=None, access_key=AK,
                           secret_key=SK) as client:
        task = await client.get_task("images/generations", "t-1")
    assert task.task_id == "t-1"
    assert server.count("GET", GET_PATH) == 2
    tokens = _tokens(server)
    for token in tokens:
        assert jwt.decode(token, SK, algorithms=["HS256"],
                          options={"verify_exp": False, "verify_nbf": False})["iss"] == AK
    assert tokens[0] != tokens[1], "the retry re-sent the very token the server rejected"


async def test_jwt_second_expired_reply_raises(
    server: ScriptedServer, sleeps: Sleeps, frozen_jwt_clock: None
) -> None:
    """A second 1004 in a row is an AuthenticationError: exactly two requests, no loop."""
    server.script("GET", GET_PATH, then=Reply(401, json=error_body(1004, "token expired")))
    async with make_client(server.url, sleeps, api_key=None, access_key=AK,
                           secret_key=SK) as client:
        with pytest.raises(kling.AuthenticationError) as caught:
            await client.get_task("images/generations", "t-1")
    assert caught.value.code == 1004
    assert server.count("GET", GET_PATH) == 2
    assert sleeps == []
    tokens = _tokens(server)
    assert tokens[0] != tokens[1], "the retry re-sent the very token the server rejected"


async def test_bearer_client_does_not_retry_1004(server: ScriptedServer, sleeps: Sleeps) -> None:
    """A static bearer key cannot be re-minted: a 1004 is raised after one request."""
    server.script("GET", GET_PATH, Reply(401, json=error_body(1004)), then=SUCCESS)
    async with make_client(server.url, sleeps) as client:
        with pytest.raises(kling.AuthenticationError):
            await client.get_task("images/generations", "t-1")
    assert server.count("GET", GET_PATH) == 1


# -- the request limiter -----------------------------------------------------------------------


async def test_the_capacity_at_weight_one_is_fifo_bounded_and_survives_cancelled_waiters(
) -> None:
    """The capacity limiter at weight 1 and a fixed limit (as the account's limit serves
    image-of-one and video jobs): at most `count` holders; waiters are served in order; a
    cancelled waiter (granted or not) never leaks or swallows a slot.  (The transport's own
    request slots: tests/test_request_slots.py.)"""
    from kling_async._capacity import AdaptiveCapacity

    slots = AdaptiveCapacity(2)
    assert slots.try_acquire(1) and slots.try_acquire(1)
    assert not slots.try_acquire(1)
    order: list[str] = []

    async def waiter(name: str) -> None:
        await slots.acquire(1)
        order.append(name)

    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter, "a")
        await anyio.wait_all_tasks_blocked()
        with anyio.CancelScope() as doomed:
            doomed.cancel()
            await slots.acquire(1)  # cancelled while queued: must leave the queue
        tg.start_soon(waiter, "b")
        await anyio.wait_all_tasks_blocked()
        slots.release(1, clean=False)  # -> a
        await anyio.wait_all_tasks_blocked()
        assert order == ["a"]
        assert not slots.try_acquire(1)  # a holds it: still 2 held
        slots.release(1, clean=False)  # -> b
        await anyio.wait_all_tasks_blocked()
    assert order == ["a", "b"]
    slots.release(1, clean=False)
    slots.release(1, clean=False)
    # back to exactly 2
    assert slots.try_acquire(1) and slots.try_acquire(1) and not slots.try_acquire(1)
