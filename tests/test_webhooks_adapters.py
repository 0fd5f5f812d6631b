"""The webhook adapters: the plain ASGI app (driven directly through scope, receive and
send, as a server would) and the aiohttp handler's method check."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from kling_async import (
    ImageGenerationRequest,
    JobState,
    KlingClient,
    Limits,
    asgi_webhook_app,
)
from kling_async.testing import KlingSimulator
from tests._webhookhelpers import FOREVER, NO_POLLS, SECRET, legacy_body, receiver, signed

pytestmark = pytest.mark.anyio


class Exchange:
    """One ASGI request: the messages ``receive`` hands out (counted) and what was sent."""

    def __init__(self, body_parts: list[bytes]) -> None:
        self.parts = list(body_parts)
        self.received = 0
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        self.received += 1
        if not self.parts:
            return {"type": "http.disconnect"}
        part = self.parts.pop(0)
        return {"type": "http.request", "body": part, "more_body": bool(self.parts)}

    async def send(self, message: Any) -> None:
        self.sent.append(dict(message))

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])


def http_scope(headers: dict[str, str], method: str = "POST", query: bytes = b""
               ) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": "/kling/webhook", "query_string": query,
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}


@asynccontextmanager
async def open_client(sim: KlingSimulator, **kwargs: Any) -> AsyncIterator[KlingClient]:
    async with KlingClient(api_key=sim.api_key, base_url=sim.base_url, poll=NO_POLLS,
                           webhook_url="https://example.com/kling/webhook",
                           webhook_secret=SECRET, **kwargs) as client:
        yield client


async def test_the_asgi_app_resolves_a_job_from_a_signed_body(sim: KlingSimulator) -> None:
    """A signed callback in two body parts is read whole, verified and applied: 200."""
    sim.configure(latency=FOREVER)
    async with open_client(sim) as client:
        job = await client.submit(ImageGenerationRequest(prompt="fox"))
        assert job.task_id is not None
        body = legacy_body(job.task_id, "succeed")
        exchange = Exchange([body[:10], body[10:]])
        await asgi_webhook_app(client)(http_scope(signed(body, SECRET)), exchange.receive,
                                       exchange.send)
        assert exchange.status == 200
        assert job.status is JobState.SUCCEEDED


async def test_the_asgi_app_refuses_by_content_length_without_reading(
        sim: KlingSimulator) -> None:
    """A declared Content-Length over the cap gets 413 before any body is received."""
    async with open_client(sim, limits=Limits(max_webhook_bytes=100)) as client:
        exchange = Exchange([b"x" * 1000])
        headers = {**signed(b"x", SECRET), "Content-Length": "1000"}
        await asgi_webhook_app(client)(http_scope(headers), exchange.receive, exchange.send)
        assert (exchange.status, exchange.received) == (413, 0)
        assert client.statistics().webhooks["oversized"] == 1


async def test_the_asgi_app_stops_reading_once_over_the_cap(sim: KlingSimulator) -> None:
    """With no Content-Length, reading stops at the first part past the cap: 413."""
    async with open_client(sim, limits=Limits(max_webhook_bytes=100)) as client:
        exchange = Exchange([b"x" * 60] * 50)
        await asgi_webhook_app(client)(http_scope(signed(b"x", SECRET)), exchange.receive,
                                       exchange.send)
        assert (exchange.status, exchange.received) == (413, 2)


async def test_the_asgi_app_answers_only_post_and_acknowledges_lifespan(
        sim: KlingSimulator) -> None:
    """GET gets 405 with ``Allow: POST``; lifespan startup and shutdown are acknowledged."""
    async with open_client(sim) as client:
        app = asgi_webhook_app(client)
        exchange = Exchange([])
        await app(http_scope({}, method="GET"), exchange.receive, exchange.send)
        assert exchange.status == 405
        assert (b"allow", b"POST") in exchange.sent[0]["headers"]
        messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
        sent: list[Any] = []

        async def receive() -> dict[str, Any]:
            return messages.pop(0)

        async def send(message: Any) -> None:
            sent.append(message)

        await app({"type": "lifespan"}, receive, send)
        assert [m["type"] for m in sent] == ["lifespan.startup.complete",
                                             "lifespan.shutdown.complete"]


async def test_the_asgi_app_passes_the_query_for_job_tokens(sim: KlingSimulator) -> None:
    """Without a secret, the token in the request's query string is what is checked: a
    wrong one gets 401."""
    async with KlingClient(api_key=sim.api_key, base_url=sim.base_url, poll=NO_POLLS,
                           webhook_url="https://example.com/hook") as client:
        exchange = Exchange([b"{}"])
        await asgi_webhook_app(client)(http_scope({}, query=b"kling_job=1&kling_token=nope"),
                                       exchange.receive, exchange.send)
        assert exchange.status == 401
        assert client.statistics().webhooks["forged"] == 1


async def test_the_aiohttp_handler_answers_only_post(sim: KlingSimulator) -> None:
    """A GET to the aiohttp handler gets 405 and is not handled."""
    async with receiver(sim) as hook, open_client(sim) as client:
        hook.client = client
        async with hook.session.get(hook.url) as resp:
            assert resp.status == 405
        assert sum(client.statistics().webhooks.values()) == 0
