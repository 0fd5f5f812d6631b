"""No credential in the client's repr, its configuration errors (and their tracebacks' frame
locals), its lifecycle errors, its events or its debug log, whatever the lifecycle does."""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Iterator
from types import FrameType, TracebackType
from typing import Any

import anyio.to_thread
import pytest

import kling_async as kling
from kling_async import ClientClosedError, ImageGenerationRequest, KlingClient
from kling_async.testing import KlingSimulator
from tests._simhelpers import POLL, Credentials

pytestmark = [
    pytest.mark.timeout(20),
]

API_KEY = "sk-LIFECYCLE-SECRET-123"
ACCESS_KEY = "AK-LIFECYCLE-789"
SECRET_KEY = "SK-LIFECYCLE-SECRET-456"
PASSWORD = "PW-IN-URL-SECRET"
SECRETS = (API_KEY, ACCESS_KEY, SECRET_KEY, PASSWORD)


def _frames(tb: TracebackType | None) -> Iterator[FrameType]:
    while tb is not None:
        yield tb.tb_frame
        tb = tb.tb_next


def _local_texts(exc: BaseException) -> list[str]:
    """repr() of every local of every frame the exception's traceback passed through, below
    the test's own frame."""
    texts: list[str] = []
    for frame in list(_frames(exc.__traceback__))[1:]:
        for name, value in frame.f_locals.items():
            try:
                texts.append(f"{name}={value!r}")
            except Exception:  # a half-built object whose repr cannot run yet
                texts.append(f"{name}=<unrepresentable {type(value).__name__}>")
    return texts


def _assert_clean(texts: list[str]) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, text


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"api_key": API_KEY, "access_key": ACCESS_KEY, "secret_key": SECRET_KEY},
                     id="both-kinds"),
        pytest.param({"access_key": ACCESS_KEY}, id="half-jwt"),
        pytest.param({"api_key": API_KEY, "base_url": "ftp://gw.example"}, id="bad-scheme"),
        pytest.param({"api_key": API_KEY, "base_url": API_KEY}, id="key-as-base-url"),
        pytest.param({"api_key": API_KEY, "base_url": f"https://user:{PASSWORD}@gw.example/k"},
                     id="password-in-url"),
        pytest.param({"api_key": API_KEY, "base_url": f"https://gw.example/k?key={PASSWORD}"},
                     id="key-in-query"),
        pytest.param({"api_key": API_KEY, "external_id_query": "header"}, id="bad-option"),
        pytest.param({"api_key": API_KEY + "\nX-Injected: 1"}, id="line-break-in-key"),
        pytest.param({"access_key": ACCESS_KEY, "secret_key": SECRET_KEY,
                      "base_url": "http://gw.example"}, id="jwt-insecure-url"),
    ],
)
def test_configuration_errors_carry_no_credential_in_text_or_frame_locals(
    kwargs: dict[str, Any],  # Any: some values are deliberately of the wrong type
) -> None:
    """A refused configuration names the problem; neither its message, its repr, its
    formatted traceback nor the locals of the frames it passed through hold a credential."""
    with pytest.raises(kling.ConfigurationError) as caught:
        KlingClient(**kwargs)
    exc = caught.value
    texts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    _assert_clean(texts + _local_texts(exc))


def test_from_env_configuration_errors_keep_credentials_out_of_frame_locals() -> None:
    """from_env() refusing a setting leaves no credential in its traceback's frame locals."""
    env = {"KLING_API_KEY": API_KEY, "KLING_BASE_URL": f"https://u:{PASSWORD}@gw.example"}
    with pytest.raises(kling.ConfigurationError) as caught:
        KlingClient.from_env(env)
    texts = [str(caught.value)]
    for frame_text in _local_texts(caught.value):
        if not frame_text.startswith(("env=", "source=")):  # the caller's own mapping
            texts.append(frame_text)
    _assert_clean(texts)


def test_a_base_url_with_credentials_or_a_query_is_refused() -> None:
    """A base_url carrying user:password@ or a query is refused (it would be shown in reprs
    and logs, and collide with the Authorization header)."""
    for url in (f"https://user:{PASSWORD}@gw.example/kling", f"https://gw.example/?k={PASSWORD}",
                f"https://{PASSWORD}@gw.example"):
        with pytest.raises(kling.ConfigurationError, match="base_url") as caught:
            KlingClient(api_key=API_KEY, base_url=url)
        assert PASSWORD not in str(caught.value)


def test_a_key_with_a_line_break_is_refused_without_echo() -> None:
    """An api_key with an inner line break (a header injection) is a ConfigurationError
    that does not echo it; surrounding whitespace is still trimmed."""
    with pytest.raises(kling.ConfigurationError, match="api_key") as caught:
        KlingClient(api_key="sk-abc\r\nX-Evil: 1")
    assert "sk-abc" not in str(caught.value)
    assert KlingClient(api_key=f"  {API_KEY}\n") is not None


def _in_a_new_loop(client: KlingClient) -> BaseException | None:
    async def main() -> None:
        await asyncio.wait_for(client.get_task("images/generations", "t-1"), 3)

    try:
        asyncio.run(main())
    except BaseException as exc:
        return exc
    return None


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["bearer", "jwt"])
async def test_a_whole_lifecycle_leaks_no_credential(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Open, submit, finish, misuse from another loop, close, use after close: the client's
    repr, every event's repr, every lifecycle error and every DEBUG log line are clean."""
    caplog.set_level(logging.DEBUG)
    creds: Credentials = (
        {"api_key": API_KEY} if kind == "bearer"
        else {"access_key": ACCESS_KEY, "secret_key": SECRET_KEY}
    )
    events: list[kling.Event] = []
    raised: list[BaseException] = []
    async with KlingSimulator(time_scale=50, seed=3, **creds) as sim:
        client = KlingClient(base_url=sim.base_url, poll=POLL, on_event=events.append,
                             **creds)
        texts = [repr(client)]
        async with client:
            texts.append(repr(client))
            job = await client.submit(ImageGenerationRequest(prompt="a lighthouse"))
            await job.result(timeout=5)
            wrong = await anyio.to_thread.run_sync(_in_a_new_loop, client)
            assert isinstance(wrong, kling.WrongEventLoopError)
            raised.append(wrong)
            with pytest.raises(ClientClosedError) as twice:
                await client.__aenter__()
            raised.append(twice.value)
        with pytest.raises(ClientClosedError) as after:
            client.submit_nowait(ImageGenerationRequest(prompt="again"))
        raised.append(after.value)
        texts.append(repr(client))
    assert events, "no event was delivered"
    texts += [repr(e) for e in events] + [str(e) for e in events]
    texts += [r.getMessage() for r in caplog.records] + [repr(r.args) for r in caplog.records]
    for exc in raised:
        texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    _assert_clean(texts)
