"""Helpers of the webhook tests: secrets, signed requests, and a loopback receiver app."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Any

import aiohttp
from aiohttp import web
from standardwebhooks import Webhook

from kling_async import KlingClient, PollPolicy, aiohttp_webhook_handler
from kling_async.testing import KlingSimulator

#: No poll within a test: whatever resolves a job there is a webhook.
NO_POLLS = PollPolicy(first_poll=3600, min_interval=3600, max_interval=3600, deadline=None)
#: Tasks that do not end during a test (simulated seconds).
FOREVER = 10_000_000.0


def new_secret(seed: bytes) -> str:
    """A Standard Webhooks secret (``whsec_`` + base64 of 32 bytes) derived from ``seed``."""
    return "whsec_" + base64.b64encode(seed.ljust(32, b"-")[:32]).decode()


SECRET = new_secret(b"kling-webhook-test-secret")
OTHER_SECRET = new_secret(b"some-other-secret")


def signed(body: bytes, *secrets: str, msg_id: str = "msg-1",
           timestamp: int | None = None) -> dict[str, str]:
    """The webhook-* headers signing ``body`` with each of ``secrets`` (now by default)."""
    stamp = int(time.time()) if timestamp is None else timestamp
    when = datetime.fromtimestamp(stamp, tz=timezone.utc)
    signatures = [Webhook(s).sign(msg_id, when, body.decode()) for s in secrets]
    return {"webhook-id": msg_id, "webhook-timestamp": str(stamp),
            "webhook-signature": " ".join(signatures), "Content-Type": "application/json"}


def legacy_body(task_id: str, status: str, external_task_id: str | None = None,
                url: str = "https://cdn.example/x.png") -> bytes:
    """A legacy-shape callback body (reference §5.2) for an image task."""
    data: dict[str, Any] = {
        "task_id": task_id, "task_status": status, "task_status_msg": "",
        "task_info": {"external_task_id": external_task_id} if external_task_id else {},
        "task_result": {"images": [{"index": 0, "url": url}]} if status == "succeed" else {},
        "created_at": 1781080778802, "updated_at": 1781080794151,
    }
    return json.dumps(data, separators=(",", ":")).encode()


def new_body(task_id: str, status: str, url: str = "https://cdn.example/x.png") -> bytes:
    """A new-standard callback body (reference §12.3) for an image task."""
    data: dict[str, Any] = {
        "id": task_id, "status": status, "message": "", "create_time": 1781080778802,
        "update_time": 1781080794151,
        "outputs": [{"type": "image", "url": url}] if status == "succeeded" else [],
    }
    return json.dumps(data, separators=(",", ":")).encode()


class Receiver:
    """A loopback aiohttp app whose POST /hook runs ``aiohttp_webhook_handler(client)``
    (``client`` is set once made, since its ``webhook_url`` needs the port)."""

    def __init__(self, url: str, session: aiohttp.ClientSession) -> None:
        self.url = url
        self.session = session
        self.client: KlingClient | None = None

    async def post(self, body: bytes, headers: dict[str, str] | None = None,
                   url: str | None = None) -> int:
        async with self.session.post(url or self.url, data=body, headers=headers) as resp:
            await resp.read()
            return resp.status


@asynccontextmanager
async def receiver(sim: KlingSimulator | None = None) -> AsyncIterator[Receiver]:
    """A running ``Receiver`` on 127.0.0.1 and a session to post to it.  ``sim`` (calling it
    back) is closed first on the way out, so no callback reaches a closing server."""
    holder: list[Receiver] = []

    async def hook(request: web.Request) -> web.StreamResponse:
        client = holder[0].client
        assert client is not None
        return await aiohttp_webhook_handler(client)(request)

    app = web.Application()
    app.router.add_route("*", "/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        async with aiohttp.ClientSession() as session:
            holder.append(Receiver(f"http://127.0.0.1:{runner.addresses[0][1]}/hook", session))
            yield holder[0]
    finally:
        if sim is not None:
            await sim.aclose()
        await runner.cleanup()
