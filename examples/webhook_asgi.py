"""Kling's webhooks in an ASGI app (FastAPI, Starlette, or none): ``kling.asgi_webhook_app``.

With FastAPI it is four lines (``KLING_WEBHOOK_URL`` and ``KLING_WEBHOOK_SECRET`` set)::

    client = kling.KlingClient()

    @contextlib.asynccontextmanager
    async def lifespan(app):
        async with client:
            yield

    app = FastAPI(lifespan=lifespan)
    app.mount("/kling/webhook", kling.asgi_webhook_app(client))

This script needs neither FastAPI nor a server: ``make_app`` builds the same application as a
plain ASGI callable (the client opened in its lifespan, the webhook receiver at
``/kling/webhook``).  ``python examples/webhook_asgi.py --serve`` runs it with uvicorn, if
installed; without ``--serve`` it serves it on a free loopback port through a small aiohttp
bridge (a stand-in for uvicorn), runs three image jobs against ``KLING_BASE_URL`` (the
simulator) and exits.
"""

import asyncio
import contextlib
import os
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

import kling_async as kling

Asgi = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def poll_policy() -> kling.PollPolicy:
    """The default polling schedule, sped up for a time-scaled simulator (KLING_TIME_SCALE)."""
    scale = float(os.environ.get("KLING_TIME_SCALE") or 0)
    return kling.PollPolicy().scaled(scale) if scale > 0 else kling.PollPolicy()


def make_app(client: kling.KlingClient) -> Asgi:
    """The application: ``client`` open for its lifespan; POST /kling/webhook receives."""
    webhooks = kling.asgi_webhook_app(client)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await receive()  # lifespan.startup
            async with client:
                await send({"type": "lifespan.startup.complete"})
                await receive()  # lifespan.shutdown
            await send({"type": "lifespan.shutdown.complete"})
        elif scope["path"] == "/kling/webhook":
            await webhooks(scope, receive, send)
        else:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})

    return app


@contextlib.asynccontextmanager
async def served(app: Asgi, sock: socket.socket) -> AsyncIterator[None]:
    """Serve ``app`` on ``sock`` with aiohttp (HTTP requests and the lifespan), while inside."""

    async def bridge(request: web.Request) -> web.Response:
        scope = {"type": "http", "method": request.method, "path": request.path,
                 "query_string": request.query_string.encode(),
                 "headers": [(k.lower().encode(), v.encode()) for k, v in request.headers.items()]}
        body = await request.read()
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)
        return web.Response(status=sent[0]["status"], body=sent[1].get("body", b""))

    lifespan: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    replies: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    task = asyncio.create_task(app({"type": "lifespan"}, lifespan.get, replies.put))
    await lifespan.put({"type": "lifespan.startup"})
    await replies.get()
    server = web.Application()
    server.router.add_route("*", "/{path:.*}", bridge)
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        yield
    finally:
        await runner.cleanup()
        await lifespan.put({"type": "lifespan.shutdown"})
        await task


async def self_check() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/kling/webhook"
    client = kling.KlingClient.from_env(poll=poll_policy(), webhook_url=url)
    async with served(make_app(client), sock):
        jobs = await client.submit_many(
            [kling.ImageGenerationRequest(prompt=f"a red fox, take {n}") for n in range(3)])
        for job in jobs:
            await job.result()
        await asyncio.sleep(0.2)  # let the last callbacks arrive
        stats = client.statistics()
        applied, poked = stats.webhooks["applied"], stats.webhooks["poked"]
        how = "signed webhooks" if applied else "callbacks and re-queries" if poked else "polls"
        print(f"{len(jobs)} jobs succeeded (seen through {how}); webhooks: {applied} applied, "
              f"{poked} re-queries; {stats.polls} polls")


if __name__ == "__main__":
    if "--serve" in sys.argv:
        import uvicorn  # not a dependency of kling-async: pip install uvicorn

        uvicorn.run(make_app(kling.KlingClient(poll=poll_policy())), host="127.0.0.1",
                    port=8080)
    else:
        asyncio.run(self_check())
