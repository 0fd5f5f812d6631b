"""Webhook receivers for web frameworks, over ``KlingClient.handle_webhook``.

- ``aiohttp_webhook_handler(client)``: a handler for a route of your ``web.Application``
  (``app.router.add_post("/kling/webhook", aiohttp_webhook_handler(client))``);
- ``asgi_webhook_app(client)``: a plain ASGI application (mount it in FastAPI or Starlette:
  ``app.mount("/kling/webhook", asgi_webhook_app(client))``; no dependency on them).

Both answer only POST (405 otherwise), refuse a body over ``Limits.max_webhook_bytes`` by its
``Content-Length`` before reading it and by counting while reading (413), and answer with the
status ``handle_webhook`` returns, with an empty body.  The client may be opened after the
application is made (in its lifespan); until it is open, requests are answered 503.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Protocol

from aiohttp import web

from ._config import Limits
from ._webhook_verify import Headers

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]
_CHUNK = 64 * 1024


class WebhookClient(Protocol):
    """What the adapters need of a ``KlingClient``."""

    @property
    def limits(self) -> Limits: ...

    async def handle_webhook(self, headers: Headers, body: bytes, *, url: str | None = None,
                             length: int | None = None) -> int: ...


def aiohttp_webhook_handler(client: WebhookClient
                            ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """An aiohttp request handler feeding ``client.handle_webhook``."""

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.method != "POST":
            return web.Response(status=405, headers={"Allow": "POST"})
        limit = client.limits.max_webhook_bytes
        url = str(request.rel_url)
        declared = request.content_length
        if declared is not None and declared > limit:
            status = await client.handle_webhook(request.headers, b"", url=url, length=declared)
            return web.Response(status=status, headers={"Connection": "close"})
        body = bytearray()
        async for chunk in request.content.iter_chunked(_CHUNK):
            body += chunk
            if len(body) > limit:  # answered without reading the rest
                break
        status = await client.handle_webhook(request.headers, bytes(body), url=url)
        return web.Response(status=status)

    return handle


def asgi_webhook_app(client: WebhookClient) -> AsgiApp:
    """A plain ASGI application feeding ``client.handle_webhook`` (``http`` scopes; the
    ``lifespan`` scope is acknowledged, others are refused)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise ValueError(f"asgi_webhook_app serves HTTP only, not {scope['type']!r}")
        if scope.get("method") != "POST":
            await _respond(send, 405, [(b"allow", b"POST")])
            return
        headers: list[tuple[bytes, bytes]] = list(scope.get("headers") or ())
        url = _target(scope)
        limit = client.limits.max_webhook_bytes
        declared = _content_length(headers)
        if declared is not None and declared > limit:
            status = await client.handle_webhook(headers, b"", url=url, length=declared)
            await _respond(send, status, [(b"connection", b"close")])
            return
        body = await _read_body(receive, limit)
        if body is None:  # the client went away
            return
        status = await client.handle_webhook(headers, body, url=url)
        await _respond(send, status)

    return app


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        kind = message.get("type")
        if kind == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif kind == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The request body, or its first ``limit + 1`` bytes if longer; None on disconnect."""
    body = bytearray()
    while True:
        message = await receive()
        if message.get("type") == "http.disconnect":
            return None
        body += message.get("body", b"")
        if len(body) > limit or not message.get("more_body", False):
            return bytes(body)


def _target(scope: Scope) -> str:
    """The request's path and query, for ``handle_webhook(url=...)``."""
    path = str(scope.get("path", "/"))
    query = scope.get("query_string") or b""
    return f"{path}?{query.decode('latin-1')}" if query else path


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name.lower() == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() and len(text) < 20 else None
    return None


async def _respond(send: Send, status: int,
                   headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-length", b"0"), *(headers or [])]})
    await send({"type": "http.response.body", "body": b""})
