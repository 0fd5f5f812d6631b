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
from typing import Any

from aiohttp import web

from .._endpoints import ENDPOINTS, task_weight
from .._errors import ValidationError
from .._wire import load_request
from ._auth import AuthFailure
from ._replies import Reply, fail, json_object, malformed, ok, rate_limited
from ._state import SimState
from ._tasks import create_data

Handler = Callable[[web.Request, str, str], Awaitable[Reply]]

PREFIXES = ("", "/kling")
_NO_RESPONSE = 0
_PAGE_NUM = (1, 1000, 1)
_PAGE_SIZE = (1, 500, 30)


class ApiRoutes:
    """The request handlers; all state lives in the ``SimState`` they are given."""

    def __init__(self, state: SimState) -> None:
        self._state = state

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
        state = self._state

        async def route(request: web.Request) -> web.StreamResponse:
            decision = state.decide_fault(method)
            kind = decision.kind
            if decision.delay:
                await asyncio.sleep(decision.delay)
            if kind == "drop_before":
                return self._drop(request, method, template)
            if decision.server_error is not None:
                status, code, message = decision.server_error
                reply = fail(code, message, status=status)
            elif kind == "rate_limited":
                reply = rate_limited(state.config.rate_limit_retry_after)
            else:
                reply = await self._handle(request, endpoint, handler)
                if kind == "drop_after_create":
                    return self._drop(request, method, template)
                if kind == "malformed":
                    reply = malformed(reply)
            state.record(method, template, reply.status, reply.code)
            return reply.to_response()

        return route

    async def _handle(self, request: web.Request, endpoint: str, handler: Handler) -> Reply:
        state = self._state
        try:
            account = state.auth.authenticate(request.headers.get("Authorization"))
        except AuthFailure as exc:
            return fail(exc.code, exc.message)
        if not state.admit(account):
            return rate_limited(state.config.rate_limit_retry_after)
        return await handler(request, endpoint, account)

    def _drop(self, request: web.Request, method: str, template: str) -> web.StreamResponse:
        transport = request.transport
        if transport is not None:
            transport.close()
        self._state.record(method, template, _NO_RESPONSE, 0)
        return web.Response(status=204)  # never written: the transport is closing

    async def _create(self, request: web.Request, endpoint: str, account: str) -> Reply:
        body = await self._create_body(request, endpoint)
        if isinstance(body, Reply):
            return body
        state = self._state
        store = state.store
        external = body.get("external_task_id")
        if external is not None and not isinstance(external, str):
            return fail(1201, f"external_task_id: must be a string (got {external!r})")
        if external and store.has_external(account, external):
            state.stats.duplicates += 1
            return fail(1201, f"external_task_id {external!r} already exists for this account")
        now = state.clock.now()
        acct = store.account(account)
        acct.release(now)
        limit = state.config.concurrency_limit
        if limit is not None and acct.in_flight + task_weight(endpoint, body) > limit:
            return fail(1303, "parallel task over resource pack limit")
        task = state.new_task(endpoint, account, body, now)
        acct.hold(task.ended, task.weight)
        store.add(task, state.config.max_tasks)
        state.stats.tasks_created += 1
        state.callbacks.schedule(task)
        return ok(create_data(task, state.clock.to_ms))

    async def _create_body(self, request: web.Request, endpoint: str) -> dict[str, Any] | Reply:
        """The create request's JSON object, size-checked and (if configured) validated."""
        config = self._state.config
        too_big = fail(1201, f"request body exceeds {config.max_body_bytes} bytes")
        if (request.content_length or 0) > config.max_body_bytes:
            return too_big
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return too_big
        if len(raw) > config.max_body_bytes:
            return too_big
        body = json_object(raw)
        if isinstance(body, Reply) or not config.validate_requests:
            return body
        problem = _validate(endpoint, body)
        return body if problem is None else fail(1201, problem)

    async def _list(self, request: web.Request, endpoint: str, account: str) -> Reply:
        state = self._state
        query = request.query
        external = query.get("external_task_id")
        if external is not None:
            return self._by_external(endpoint, account, external)
        if not state.config.list_supported:
            return fail(1202, "listing tasks is not supported here (simulated)")
        page = _int_param(query.get("pageNum"), "pageNum", *_PAGE_NUM)
        size = _int_param(query.get("pageSize"), "pageSize", *_PAGE_SIZE)
        if isinstance(page, str):
            return fail(1201, page)
        if isinstance(size, str):
            return fail(1201, size)
        return ok([state.render_now(t) for t in state.store.page(account, endpoint, page, size)])

    async def _get(self, request: web.Request, endpoint: str, account: str) -> Reply:
        path_id = request.match_info["task_id"]
        flag = request.query.get("external_task_id")
        if flag is None or flag.lower() == "false":
            task = self._state.store.get(account, endpoint, path_id)
            if task is None:
                return fail(1203, f"task {path_id} not found")
            return ok(self._state.render_now(task))
        if flag.lower() == "true" or flag == path_id:
            return self._by_external(endpoint, account, path_id)
        return fail(1201, "external_task_id: must be 'true' or equal the id in the path")

    def _by_external(self, endpoint: str, account: str, external: str) -> Reply:
        if not external:
            return fail(1201, "external_task_id: must not be empty")
        task = self._state.store.get_external(account, endpoint, external)
        if task is None:
            return fail(1203, f"task with external_task_id {external} not found")
        return ok(self._state.render_now(task))


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
