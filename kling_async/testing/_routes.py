"""The Kling API routes of the simulator, under both ``/...`` and the ``/kling/...`` gateway form.

Per legacy create endpoint (``kling_async._endpoints.ENDPOINTS``, ``/v1/{name}``):

- ``POST {path}``: create (validation, duplicate external id, concurrency slots).
- ``GET {path}``: list (``pageNum``/``pageSize``), or by ``?external_task_id=X``.
- ``GET {path}/{id}``: by task id or by external id in the path segment (reference §3.1,
  the 2026 form); the older gateway forms ``?external_task_id=true`` and
  ``?external_task_id={id}`` still work.  Unknown: 400 / 1201 "Task not found by
  id/external id: X" (or the pre-2026 404 / 1203 with ``not_found_code=1203``).

Per new-standard row (``/{family}/{model}``, every row with ``standard == "new"``), API key
only: ``POST`` creates, answering ``data{id, status, create_time, update_time, external_id}``;
an undocumented model under a known family is 400 / 1201.  ``GET /tasks`` and ``POST /tasks``
(``_unified.py``) query every task of the account, also API key only (a JWT: 401 / 1002).

Every API route (these, and the synchronous, resource and account routes) goes through
``api_route``: faults, auth, rate limit, handler, stats.  Closing a
connection without a response: ``request.transport.close()``, then return a response that
aiohttp fails to write; it treats that as a premature client disconnection (debug log only).
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from .._endpoints import ENDPOINTS, Endpoint, task_weight
from .._errors import ValidationError
from .._wire import load_request
from ._auth import AuthFailure
from ._newtasks import new_create_data
from ._pricing import bucket_of
from ._replies import Reply, fail, json_object, malformed, ok, rate_limited
from ._state import SimState
from ._store import Account
from ._tasks import create_data
from ._unified import tasks_by_ids, tasks_listing

Handler = Callable[[web.Request, str, str], Awaitable[Reply]]
#: A handler of ``api_route``: (the request, the caller's account) -> the reply.
AccountHandler = Callable[[web.Request, str], Awaitable[Reply]]

PREFIXES = ("", "/kling")
#: Reference §10.2: the new standard's path families (more come from ``ENDPOINTS`` rows).
NEW_FAMILIES = ("text-to-video", "image-to-video", "omni-video", "motion-control")
_NO_RESPONSE = 0
#: ``pageSize``'s upper bound of a task list: 500, or per endpoint (reference §2.11).
_MAX_PAGE_SIZE = {"general/custom-voices": 1000}


class ApiRoutes:
    """The request handlers; all state lives in the ``SimState`` they are given."""

    def __init__(self, state: SimState) -> None:
        self._state = state

    def install(self, app: web.Application) -> None:
        """Register every Kling route on ``app`` (both prefixes)."""
        router = app.router
        for prefix in PREFIXES:
            for name, row in ENDPOINTS.items():
                if row.standard == "new":
                    path = f"{prefix}{row.path}"
                    router.add_post(path, self._api("POST", path, name, self._create,
                                                    key_only=True))
                    continue
                path = f"{prefix}/v1/{name}"
                one = f"{path}/{{task_id}}"
                router.add_post(path, self._api("POST", path, name, self._create))
                router.add_get(path, self._api("GET", path, name, self._list), allow_head=False)
                router.add_get(one, self._api("GET", one, name, self._get), allow_head=False)
            for family in new_families():
                path = f"{prefix}/{family}/{{model}}"
                router.add_post(path, self._api("POST", path, family, self._unknown_model,
                                                key_only=True))
            tasks = f"{prefix}/tasks"
            router.add_get(tasks, self._api("GET", tasks, "", self._tasks, key_only=True),
                           allow_head=False)
            router.add_post(tasks, self._api("POST", tasks, "", self._listing, key_only=True,
                                             query=True))

    def _api(
        self, method: str, template: str, endpoint: str, handler: Handler, *,
        key_only: bool = False, query: bool = False,
    ) -> Any:
        """``api_route`` of ``handler`` bound to its ``endpoint``."""

        async def bound(request: web.Request, account: str) -> Reply:
            return await handler(request, endpoint, account)

        return api_route(self._state, method, template, bound, key_only=key_only, query=query)

    async def _create(self, request: web.Request, endpoint: str, account: str) -> Reply:
        body = await self._create_body(request, endpoint)
        if isinstance(body, Reply):
            return body
        state = self._state
        store = state.store
        row = ENDPOINTS[endpoint]
        external = row.options_of(body).get("external_task_id")
        if external is not None and not isinstance(external, str):
            where = "options.external_task_id" if row.standard == "new" else "external_task_id"
            return fail(1201, f"{where}: must be a string (got {external!r})")
        if external and store.has_external(account, external):
            state.stats.duplicates += 1
            return fail(1201, f"External_task_id {external} already exists")
        now = state.clock.now()
        acct = store.account(account)
        acct.release(now)
        if self._over_limit(acct, row, body):
            return fail(1303, "parallel task over resource pack limit")
        task = state.new_task(endpoint, account, body, now)
        acct.hold(task.ended, task.weight, task.bucket)
        store.add(task, state.config.max_tasks)
        state.stats.tasks_created += 1
        state.callbacks.schedule(task)
        if row.standard == "new":
            return ok(new_create_data(task, state.clock.to_ms))
        return ok(create_data(task, state.clock.to_ms))

    def _over_limit(self, acct: Account, row: Endpoint, body: dict[str, Any]) -> bool:
        """Whether a create would exceed the account-wide cap or its bucket's limit (§6)."""
        config = self._state.config
        weight = task_weight(row.name, body)
        limit = config.concurrency_limit
        if limit is not None and acct.in_flight + weight > limit:
            return True
        bucket = bucket_of(row, body)
        per_bucket = config.bucket_limit(bucket)
        return per_bucket is not None and acct.bucket(bucket).in_flight + weight > per_bucket

    async def _unknown_model(self, request: web.Request, family: str, account: str) -> Reply:
        model = request.match_info["model"]
        return fail(1201, f"model {model!r} is not available on /{family} (simulated)")

    async def _tasks(self, request: web.Request, endpoint: str, account: str) -> Reply:
        return tasks_by_ids(self._state, request.query, account)

    async def _listing(self, request: web.Request, endpoint: str, account: str) -> Reply:
        raw = await request.read()
        body = json_object(raw) if raw.strip() else {}
        if isinstance(body, Reply):
            return body
        return tasks_listing(self._state, body, account)

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
        paging = page_params(query, _MAX_PAGE_SIZE.get(endpoint, 500))
        if isinstance(paging, Reply):
            return paging
        page, size = paging
        return ok([state.render_now(t) for t in state.store.page(account, endpoint, page, size)])

    async def _get(self, request: web.Request, endpoint: str, account: str) -> Reply:
        path_id = request.match_info["task_id"]
        flag = request.query.get("external_task_id")
        if flag is None or flag.lower() == "false":
            store = self._state.store
            task = store.get(account, endpoint, path_id)
            if task is None:  # reference §3.1: the segment holds a task id or an external id
                task = store.get_external(account, endpoint, path_id)
            if task is None:
                return self._not_found(path_id)
            return ok(self._state.render_now(task))
        if flag.lower() == "true" or flag == path_id:
            return self._by_external(endpoint, account, path_id)
        return fail(1201, "external_task_id: must be 'true' or equal the id in the path")

    def _by_external(self, endpoint: str, account: str, external: str) -> Reply:
        if not external:
            return fail(1201, "external_task_id: must not be empty")
        task = self._state.store.get_external(account, endpoint, external)
        if task is None:
            return self._not_found(external)
        return ok(self._state.render_now(task))

    def _not_found(self, value: str) -> Reply:
        """An unknown task id or external id: the 2026 answer (reference §3.1), or the
        pre-2026 404 / 1203 when the config asks for it."""
        if self._state.config.not_found_code == 1203:
            return fail(1203, f"task {value} not found")
        return fail(1201, f"Task not found by id/external id: {value}")


def api_route(
    state: SimState, method: str, template: str, handler: AccountHandler, *,
    key_only: bool = False, query: bool = False,
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The route for ``handler(request, account)``, every API route's wrapper: faults, auth
    (``key_only``: API key only), rate limit, the handler, stats.  ``query``: a POST that only
    reads (``POST /tasks``, billing queries), which gets the faults of a GET, never those of
    a create."""
    fault_method = "GET" if query else method

    async def route(request: web.Request) -> web.StreamResponse:
        decision = state.decide_fault(fault_method)
        kind = decision.kind
        if decision.delay:
            await asyncio.sleep(decision.delay)
        if kind == "drop_before":
            return _drop(state, request, method, template)
        if decision.server_error is not None:
            status, code, message = decision.server_error
            reply = fail(code, message, status=status)
        elif kind == "rate_limited":
            reply = rate_limited(state.config.rate_limit_retry_after)
        else:
            reply = await _handle(state, request, handler, key_only)
            if kind == "drop_after_create":
                return _drop(state, request, method, template)
            if kind == "malformed":
                reply = malformed(reply)
        state.record(method, template, reply.status, reply.code)
        return reply.to_response()

    return route


async def _handle(
    state: SimState, request: web.Request, handler: AccountHandler, key_only: bool
) -> Reply:
    try:
        account = state.auth.authenticate(
            request.headers.get("Authorization"), api_key_only=key_only
        )
    except AuthFailure as exc:
        return fail(exc.code, exc.message)
    if not state.admit(account):
        return rate_limited(state.config.rate_limit_retry_after)
    return await handler(request, account)


def _drop(state: SimState, request: web.Request, method: str, template: str
          ) -> web.StreamResponse:
    transport = request.transport
    if transport is not None:
        transport.close()
    state.record(method, template, _NO_RESPONSE, 0)
    return web.Response(status=204)  # never written: the transport is closing


def new_families() -> list[str]:
    """The new standard's path families: the documented ones and any of a new-standard row."""
    rows = [e.name.split("/", 1)[0] for e in ENDPOINTS.values() if e.standard == "new"]
    return list(dict.fromkeys([*NEW_FAMILIES, *rows]))


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


def page_params(query: Mapping[str, str], max_size: int) -> tuple[int, int] | Reply:
    """``pageNum`` (1-1000, default 1) and ``pageSize`` (1-``max_size``, default 30) of a
    list query, or the 1201 reply naming the bad one."""
    page = _int_param(query.get("pageNum"), "pageNum", 1, 1000, 1)
    if isinstance(page, str):
        return fail(1201, page)
    size = _int_param(query.get("pageSize"), "pageSize", 1, max_size, 30)
    if isinstance(size, str):
        return fail(1201, size)
    return page, size


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
