"""A scripted HTTP server for tests: a real ``aiohttp.web`` app on 127.0.0.1, replies per route.

Each ``(method, path)`` route holds a queue of actions, consumed one per request:

- ``Reply(status, json=..., body=..., headers=..., delay=...)``: answer (after ``delay`` s);
- ``Drop(delay=...)``: read the whole request, then close the connection without replying
  (the ambiguous case: the server may have acted on it).

A route whose queue is empty answers with its ``then`` action (``script(..., then=...)``) or,
if none, HTTP 599 ``unscripted`` (a non-JSON reply, so it never looks like success).  Every request
is recorded (method, path, query, headers, raw body, JSON body) so tests can count them::

    async with ScriptedServer() as server:
        server.script("GET", "/v1/x", Reply(500, json=error_body(5000)), Reply(200, json=ok({})))
        ...
        assert server.count("GET", "/v1/x") == 2
"""

from __future__ import annotations

import collections
import json
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
from aiohttp import web
from multidict import CIMultiDict


@dataclass(frozen=True)
class Reply:
    """Answer with ``status`` and a JSON ``json`` body or raw ``body`` bytes, after ``delay`` s."""

    status: int = 200
    json: Any = None
    body: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class Drop:
    """Read the request, then close the connection without a reply (after ``delay`` s)."""

    delay: float = 0.0


Action = Reply | Drop


@dataclass(frozen=True)
class Recorded:
    """One request the server received."""

    method: str
    path: str
    query: dict[str, str]
    headers: CIMultiDict[str]
    body: bytes
    json: Any


def ok(data: Any, *, message: str = "SUCCEED", request_id: str = "req-1") -> dict[str, Any]:
    """A Kling success envelope around ``data``."""
    return {"code": 0, "message": message, "request_id": request_id, "data": data}


def error_body(code: int, message: str = "error", *, request_id: str = "req-err") -> dict[str, Any]:
    """A Kling error envelope with business ``code``."""
    return {"code": code, "message": message, "request_id": request_id}


def task_json(task_id: str = "t-1", status: str = "submitted", **extra: Any) -> dict[str, Any]:
    """A minimal task object as Kling sends it in ``data``."""
    return {"task_id": task_id, "task_status": status, "created_at": 1722769557708,
            "updated_at": 1722769557708, **extra}


def closed_port() -> int:
    """A local TCP port that nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ScriptedServer:
    """A real local HTTP server whose replies are scripted per ``(method, path)``."""

    def __init__(self) -> None:
        self._queues: dict[tuple[str, str], collections.deque[Action]] = {}
        self._then: dict[tuple[str, str], Action] = {}
        self.requests: list[Recorded] = []
        self._closing = anyio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- scripting ------------------------------------------------------------------------------
    def script(self, method: str, path: str, *actions: Action, then: Action | None = None) -> None:
        """Queue ``actions`` for ``method path``; ``then`` answers once the queue is empty."""
        key = (method.upper(), path)
        self._queues.setdefault(key, collections.deque()).extend(actions)
        if then is not None:
            self._then[key] = then

    def requests_to(self, method: str, path: str) -> list[Recorded]:
        """The recorded requests for one route, in arrival order."""
        return [r for r in self.requests if r.method == method.upper() and r.path == path]

    def count(self, method: str, path: str) -> int:
        """How many requests one route received."""
        return len(self.requests_to(method, path))

    @property
    def url(self) -> str:
        """The server's base URL, ``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    # -- lifecycle ------------------------------------------------------------------------------
    async def __aenter__(self) -> ScriptedServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- handling -------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        self.requests.append(Recorded(
            method=request.method, path=request.path, query=dict(request.query),
            headers=CIMultiDict(request.headers), body=raw, json=parsed,
        ))
        key = (request.method, request.path)
        queue = self._queues.get(key)
        action = queue.popleft() if queue else self._then.get(key)
        if action is None:
            return web.Response(status=599, text=f"unscripted {request.method} {request.path}")
        if action.delay:
            with anyio.move_on_after(action.delay):
                await self._closing.wait()
        if isinstance(action, Drop):
            assert request.transport is not None
            request.transport.close()
            raise web.HTTPException()  # never sent: the connection is already closed
        body = action.body if action.body is not None else (
            json.dumps(action.json).encode() if action.json is not None else b""
        )
        headers = dict(action.headers)
        if action.json is not None and action.body is None:
            headers.setdefault("Content-Type", "application/json")
        return web.Response(status=action.status, body=body, headers=headers)
