"""No key, secret or minted token ever appears in a log record, an exception or a repr."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING

import anyio
import anyio.lowlevel
import pytest

import kling_async as kling
from kling_async import Backoff, KlingClient, RetryPolicy, Task, Timeouts
from kling_async._auth import BearerKeyAuth, JwtAuth
from tests._rawserver import RawServer, declared_length, reset, silent, status_line_garbage
from tests._scripted import Drop, Reply, ScriptedServer, closed_port, error_body, ok, task_json
from tests._simhelpers import ClientSettings, Credentials

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack is 3.11+; mypy checks for 3.10

pytestmark = [
    pytest.mark.anyio,
    # The brief's sample secret is short; PyJWT warns about short HMAC keys (length only).
]

API_KEY = "sk-SECRET-123"
ACCESS_KEY = "AK-ACCESS-789"
SECRET_KEY = "SK-SECRET-456"
GET_PATH = "/v1/images/generations/t-1"
CREATE_PATH = "/v1/images/generations"


async def _no_sleep(_: float) -> None:
    await anyio.lowlevel.checkpoint()


def _client(base_url: str, **credentials: Unpack[Credentials]) -> KlingClient:
    return KlingClient(
        base_url=base_url,
        retry=RetryPolicy(max_attempts=3, backoff=Backoff(initial=0.001, maximum=0.01)),
        timeouts=Timeouts(connect=2.0, read=0.3),
        sleep=_no_sleep,
        **credentials,
    )


def _script_failures(server: ScriptedServer) -> None:
    server.script("GET", GET_PATH,
                  Reply(500, json=error_body(5000)), Reply(429, json=error_body(1302)), Drop(),
                  Reply(401, json=error_body(1004, "token expired")),
                  Reply(401, json=error_body(1004, "token expired")),
                  then=Reply(200, body=b"{not json"))
    server.script("POST", CREATE_PATH, Drop(), Reply(500, json=error_body(5000)),
                  Reply(200, json=ok(task_json()), delay=1.0),
                  then=Reply(401, json=error_body(1002, "Authorization invalid")))


async def _exercise(client: KlingClient) -> list[BaseException]:
    """Make the client go through retries and many failure kinds; return what it raised."""
    raised: list[BaseException] = []
    async with client:
        for _ in range(4):
            try:
                await client.get_task("images/generations", "t-1")
            except kling.KlingError as exc:
                raised.append(exc)
        for _ in range(4):
            try:
                await client.create_task(kling.ImageGenerationRequest(prompt="a cat"),
                                         external_task_id="ext-s")
            except kling.KlingError as exc:
                raised.append(exc)
    return raised


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        cur = todo.pop()
        if cur is None or id(cur) in seen:
            continue
        seen.add(id(cur))
        yield cur
        todo += [cur.__cause__, cur.__context__, getattr(cur, "cause", None)]


def _texts(
    caplog: pytest.LogCaptureFixture, raised: list[BaseException], *objs: object
) -> list[str]:
    texts: list[str] = []
    for record in caplog.records:
        texts.append(record.getMessage())
        texts.append(repr(record.args))
        if record.exc_info:
            texts.append("".join(traceback.format_exception(*record.exc_info)))
    for exc in raised:
        for link in _chain(exc):
            texts += [str(link), repr(link), repr(link.args)]
        texts.append("".join(traceback.format_exception(exc)))
    texts += [repr(o) for o in objs] + [str(o) for o in objs]
    return texts


def _tokens_seen(server: ScriptedServer) -> set[str]:
    return {r.headers["Authorization"].removeprefix("Bearer ") for r in server.requests}


async def test_bearer_key_never_leaks(caplog: pytest.LogCaptureFixture) -> None:
    """A bearer-key client failing and retrying leaks its key nowhere."""
    caplog.set_level(logging.DEBUG)
    async with ScriptedServer() as server:
        _script_failures(server)
        client = _client(server.url, api_key=API_KEY)
        raised = await _exercise(client)
    assert len(raised) == 8
    assert any(isinstance(e, kling.AmbiguousSubmissionError) for e in raised)
    assert any("retrying" in r.getMessage() for r in caplog.records), "no retry was logged"
    assert _tokens_seen(server) == {API_KEY}  # the key really was in use
    for text in _texts(caplog, raised, client, BearerKeyAuth(API_KEY)):
        assert API_KEY not in text


async def test_jwt_credentials_and_tokens_never_leak(caplog: pytest.LogCaptureFixture) -> None:
    """A JWT client failing, re-minting and retrying leaks no access key, secret or token."""
    caplog.set_level(logging.DEBUG)
    async with ScriptedServer() as server:
        _script_failures(server)
        client = _client(server.url, access_key=ACCESS_KEY, secret_key=SECRET_KEY)
        raised = await _exercise(client)
    tokens = _tokens_seen(server)
    assert tokens, "no token was sent"
    assert len(raised) == 8
    auth = JwtAuth(ACCESS_KEY, SECRET_KEY)
    tokens.add(auth.token())
    for text in _texts(caplog, raised, client, auth):
        assert SECRET_KEY not in text
        assert ACCESS_KEY not in text
        for token in tokens:
            assert token not in text


async def test_connection_failure_leaks_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """A connection that cannot be made (retried, then raised) leaks neither key nor secret."""
    caplog.set_level(logging.DEBUG)
    url = f"http://127.0.0.1:{closed_port()}"
    raised: list[BaseException] = []
    both: tuple[Credentials, ...] = (
        {"api_key": API_KEY}, {"access_key": ACCESS_KEY, "secret_key": SECRET_KEY},
    )
    for creds in both:
        client = _client(url, **creds)
        async with client:
            with pytest.raises(kling.TransportError) as caught:
                await client.get_task("images/generations", "t-1")
        raised.append(caught.value)
    for text in _texts(caplog, raised):
        assert API_KEY not in text
        assert SECRET_KEY not in text


def test_configuration_errors_do_not_echo_keys() -> None:
    """Rejected configurations name the problem, not the credentials given."""
    messages = []
    rejected: tuple[ClientSettings, ...] = (
        {"api_key": API_KEY, "access_key": ACCESS_KEY, "secret_key": SECRET_KEY},
        {"api_key": API_KEY, "base_url": "http://gw.example"},
        {"access_key": ACCESS_KEY},
    )
    for kwargs in rejected:
        with pytest.raises(kling.ConfigurationError) as caught:
            KlingClient(**kwargs)
        messages += [str(caught.value), repr(caught.value)]
    for text in messages:
        assert API_KEY not in text
        assert SECRET_KEY not in text


# -- every failure kind, every link of every chain ---------------------------------------------

RAW_FAILURES = {
    "malformed-status-line": status_line_garbage(b"HTTP/1.1 abc"),
    "bad-content-length": status_line_garbage(b"HTTP/1.1 200 OK\r\nContent-Length: x"),
    "bad-header-line": status_line_garbage(b"HTTP/1.1 200 OK\r\n\x00bad header"),
    "connection-reset": reset,
    "timeout": silent(),
    "declared-too-large": declared_length(1 << 40),
}
SCRIPTED_FAILURES: dict[str, Reply | Drop] = {
    "401": Reply(401, json=error_body(1002, "Authorization invalid")),
    "500-bare": Reply(500, body=b"<html>oops</html>"),
    "dropped": Drop(),
    "not-json": Reply(200, body=b"{not json"),
    "deep-json": Reply(200, body=b"[" * 100_000),
    "code-1e400": Reply(200, body=b'{"code": 1e400}'),
    "gzip-garbage": Reply(200, body=b"not gzip at all",
                          headers={"Content-Encoding": "gzip"}),
}
CREDENTIALS: dict[str, Credentials] = {
    "bearer": {"api_key": API_KEY},
    "jwt": {"access_key": ACCESS_KEY, "secret_key": SECRET_KEY},
}


def _frame_texts(exc: BaseException) -> Iterator[str]:
    """repr of every local of every frame in kling_async that ``exc``'s traceback passed."""
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        if "kling_async" in frame.f_code.co_filename:
            for name, value in frame.f_locals.items():
                yield f"{frame.f_code.co_name}.{name}={value!r}"
        tb = tb.tb_next


def _everything_said(exc: BaseException) -> list[str]:
    """str, repr and args of each exception reachable from ``exc`` (cause, context, a
    ``cause`` attribute, exceptions in args), its formatted traceback and its frames' locals."""
    texts = ["".join(traceback.format_exception(exc))]
    todo: list[object] = [exc]
    seen: set[int] = set()
    while todo:
        cur = todo.pop()
        if not isinstance(cur, BaseException) or id(cur) in seen:
            continue
        seen.add(id(cur))
        texts += [str(cur), repr(cur), repr(cur.args)]
        texts += _frame_texts(cur)
        todo += [cur.__cause__, cur.__context__, getattr(cur, "cause", None), *cur.args]
    return texts


async def _fail_both_ways(base_url: str, credentials: Credentials) -> list[BaseException]:
    """One get_task and one create_task against a failing server; what each raised."""
    raised: list[BaseException] = []
    client = KlingClient(
        base_url=base_url,
        retry=RetryPolicy(max_attempts=2, backoff=Backoff(initial=0.001, maximum=0.01)),
        timeouts=Timeouts(connect=2.0, total=0.3),
        limits=kling.Limits(max_reply_bytes=1 << 20),
        sleep=_no_sleep,
        **credentials,
    )
    async with client:
        with anyio.fail_after(20):
            calls: tuple[Callable[[], Awaitable[Task]], ...] = (
                lambda: client.get_task("images/generations", "t-1"),
                lambda: client.create_task(kling.ImageGenerationRequest(prompt="a cat"),
                                           external_task_id="ext-s"),
            )
            for call in calls:
                try:
                    await call()
                except kling.KlingError as exc:
                    raised.append(exc)
    return raised


def _secrets_of(credentials: Credentials, authorizations: set[str]) -> set[str]:
    tokens = {a.removeprefix("Bearer ").strip() for a in authorizations}
    given = {value for value in credentials.values() if isinstance(value, str)}
    return {*given, *(t for t in tokens if t)}


@pytest.mark.parametrize("who", sorted(CREDENTIALS))
@pytest.mark.parametrize("failure", sorted(RAW_FAILURES))
async def test_no_raw_failure_leaks_a_credential_anywhere(failure: str, who: str) -> None:
    """Malformed HTTP, resets, timeouts and oversized replies: no key, secret or token in any
    exception of any chain (cause, context, args, str, repr) nor in kling_async frame locals."""
    credentials = CREDENTIALS[who]
    async with RawServer(RAW_FAILURES[failure]) as server:
        raised = await _fail_both_ways(server.url, credentials)
    authorizations = {line.split(b":", 1)[1].decode().strip()
                      for head in server.heads for line in head.split(b"\r\n")
                      if line.lower().startswith(b"authorization:")}
    assert len(raised) == 2 and authorizations, "the failure was not exercised"
    secrets = _secrets_of(credentials, authorizations)
    for exc in raised:
        for text in _everything_said(exc):
            for secret in secrets:
                assert secret not in text, f"{failure}: a credential leaked in {text[:200]!r}"


@pytest.mark.parametrize("who", sorted(CREDENTIALS))
@pytest.mark.parametrize("failure", sorted(SCRIPTED_FAILURES))
async def test_no_error_reply_leaks_a_credential_anywhere(failure: str, who: str) -> None:
    """401s, 5xx, drops and undecodable replies: no key, secret or token in any exception of
    any chain nor in kling_async frame locals."""
    credentials = CREDENTIALS[who]
    async with ScriptedServer() as server:
        server.script("GET", GET_PATH, then=SCRIPTED_FAILURES[failure])
        server.script("POST", CREATE_PATH, then=SCRIPTED_FAILURES[failure])
        raised = await _fail_both_ways(server.url, credentials)
    assert len(raised) == 2
    secrets = _secrets_of(credentials, {r.headers["Authorization"] for r in server.requests})
    for exc in raised:
        for text in _everything_said(exc):
            for secret in secrets:
                assert secret not in text, f"{failure}: a credential leaked in {text[:200]!r}"
