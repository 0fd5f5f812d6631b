"""The Kling API routes of the simulator, under both ``/v1/...`` and ``/kling/v1/...``.

Per create endpoint (``kling_async._endpoints.ENDPOINTS``):

- ``POST {path}``: create (validation, duplicate external id, concurrency slots).
- ``GET {path}``: list (``pageNum``/``pageSize``), or by ``?external_task_id=X``.
- ``GET {path}/{id}``: by task id, or by external id with ``?external_task_id=true`` or
  ``?external_task_id={id}``.

Every API route goes through ``_api``: faults, auth, rate limit, handler, stats.  Closing a
connection without a response: ``request.transport.close()``, then return a response that
aiohttp fails to write; it treats that as a premature client disconnection (debug log only).
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .._endpoints import ENDPOINTS
from .._errors import ValidationError
from .._wire import load_request
from ._auth import AuthFailure
from ._replies import Reply, fail, json_object, malformed, ok, rate_limited
from ._tasks import create_data, outputs_for

if TYPE_CHECKING:
    from ._server import KlingSimulator

Handler = Callable[[web.Request, str, str], Awaitable[Reply]]

PREFIXES = ("", "/kling")
_NO_RESPONSE = 0
_PAGE_NUM = (1, 1000, 1)
_PAGE_SIZE = (1, 500, 30)


class ApiRoutes:
    """The request handlers; all state lives on the simulator."""

    def __init__(self, sim: KlingSimulator) -> None:
        self._sim = sim

    def install(self, app: web.Application) -> None:
        """Register every Kling route on ``app`` (both prefixes)."""
        router = app.router
        for prefix in PREFIXES:
            for name in ENDPOINTS:
                path = f"{prefix}/v1/{name}"
                one = f"{path}/{{task_id}}"
                router.add_post(path, self._api("POST", path, name, self._create))
                router.add_get(path, self._api("GET", path, name, self._list), allow_head=False)
                router.add_get(one, self._api("GET", one, name, self._get), allow_head=False)

    def _api(self, method: str, template: str, endpoint: str, handler: Handler) -> Any:
        sim = self._sim

        async def route(request: web.Request) -> web.StreamResponse:
            decision = sim._decide_fault(method)
            kind = decision.kind
            if decision.delay:
                await asyncio.sleep(decision.delay)
            if kind == "drop_before":
                return self._drop(request, method, template)
            if decision.server_error is not None:
                status, code, message = decision.server_error
                reply = fail(code, message, status=status)
            elif kind == "rate_limited":
                reply = rate_limited(sim.config.rate_limit_retry_after)
            else:
                reply = await self._handle(request, endpoint, handler)
                if kind == "drop_after_create":
                    return self._drop(request, method, template)
                if kind == "malformed":
                    reply = malformed(reply)
            sim._record(method, template, reply.status, reply.code)
            return reply.to_response()

        return route

    async def _handle(self, request: web.Request, endpoint: str, handler: Handler) -> Reply:
        sim = self._sim
        try:
            account = sim._auth.authenticate(request.headers.get("Authorization"))
        except AuthFailure as exc:
            return fail(exc.code, exc.message)
        if not sim._admit(account):
            return rate_limited(sim.config.rate_limit_retry_after)
        return await handler(request, endpoint, account)

    def _drop(self, request: web.Request, method: str, template: str) -> web.StreamResponse:
        transport = request.transport
        if transport is not None:
            transport.close()
        self._sim._record(method, template, _NO_RESPONSE, 0)
        return web.Response(status=204)  # never written: the transport is closing

    async def _create(self, request: web.Request, endpoint: str, account: str) -> Reply:
        sim = self._sim
        config = sim.config
        if (request.content_length or 0) > config.max_body_bytes:
            return fail(1201, f"request body exceeds {config.max_body_bytes} bytes")
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return fail(1201, f"request body exceeds {config.max_body_bytes} bytes")
        if len(raw) > config.max_body_bytes:
            return fail(1201, f"request body exceeds {config.max_body_bytes} bytes")
        body = json_object(raw)
        if isinstance(body, Reply):
            return body
        if config.validate_requests:
            problem = _validate(endpoint, body)
            if problem is not None:
                return fail(1201, problem)
        external = body.get("external_task_id")
        if external is not None and not isinstance(external, str):
            return fail(1201, f"external_task_id: must be a string (got {external!r})")
        if external and sim._store.has_external(account, external):
            sim._stats.duplicates += 1
            return fail(1201, f"external_task_id {external!r} already exists for this account")
        now = sim._clock.now()
        acct = sim._store.account(account)
        acct.release(now)
        weight = outputs_for(endpoint, body)
        limit = config.concurrency_limit
        if limit is not None and acct.in_flight + weight > limit:
            return fail(1303, "parallel task over resource pack limit")
        task = sim._new_task(endpoint, account, body, now)
        acct.hold(task.ended, task.weight)
        sim._store.add(task, config.max_tasks)
        sim._stats.tasks_created += 1
        sim._callbacks.schedule(task)
        return ok(create_data(task, sim._clock.to_ms))

    async def _list(self, request: web.Request, endpoint: str, account: str) -> Reply:
        sim = self._sim
        query = request.query
        external = query.get("external_task_id")
        if external is not None:
            return self._by_external(endpoint, account, external)
        if not sim.config.list_supported:
            return fail(1202, "listing tasks is not supported here (simulated)")
        page = _int_param(query.get("pageNum"), "pageNum", *_PAGE_NUM)
        size = _int_param(query.get("pageSize"), "pageSize", *_PAGE_SIZE)
        if isinstance(page, str):
            return fail(1201, page)
        if isinstance(size, str):
            return fail(1201, size)
        now = sim._clock.now()
        return ok(
            [
                sim._render(t, t.status_at(now))
                for t in sim._store.page(account, endpoint, page, size)
            ]
        )

    async def _get(self, request: web.Request, endpoint: str, account: str) -> Reply:
        path_id = request.match_info["task_id"]
        flag = request.query.get("external_task_id")
        if flag is None or flag.lower() == "false":
            task = self._sim._store.get(account, endpoint, path_id)
            if task is None:
                return fail(1203, f"task {path_id} not found")
            return ok(self._sim._render(task, task.status_at(self._sim._clock.now())))
        if flag.lower() == "true" or flag == path_id:
            return self._by_external(endpoint, account, path_id)
        return fail(1201, "external_task_id: must be 'true' or equal the id in the path")

    def _by_external(self, endpoint: str, account: str, external: str) -> Reply:
        sim = self._sim
        if not external:
            return fail(1201, "external_task_id: must not be empty")
        task = sim._store.get_external(account, endpoint, external)
        if task is None:
            return fail(1203, f"task with external_task_id {external} not found")
        return ok(sim._render(task, task.status_at(sim._clock.now())))


def _validate(endpoint: str, body: dict[str, Any]) -> str | None:
    """The server-side validation error message for a create body, or None if it is valid."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. the legacy `model` key warning
            load_request(endpoint, body)
    except ValidationError as exc:
        return str(exc)
    except (TypeError, ValueError, KeyError) as exc:
        return f"invalid request: {exc}"
    return None


def _int_param(raw: str | None, name: str, low: int, high: int, default: int) -> int | str:
    """An integer query parameter in [low, high], or the error message."""
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        return f"{name}: must be an integer in [{low}, {high}] (got {raw!r})"
    if not low <= value <= high:
        return f"{name}: must be in [{low}, {high}] (got {value})"
    return value
