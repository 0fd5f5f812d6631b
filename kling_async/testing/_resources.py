"""The simulator's custom elements and voices (reference §2.11, §2.17).

Creating one is an ordinary task of ``general/advanced-custom-elements`` or
``general/custom-voices`` (served, validated and timed by the task routes).  Here:

- a middleware adds what a succeeded build task made to the task objects the task routes
  render for those two endpoints (``GET {path}``, ``GET {path}/{id}``):
  ``task_result.elements[]`` (``element_id`` a 64-bit integer, the request's name,
  description, reference type, images or video, tags, ``owned_by``, ``status``) or
  ``task_result.voices[]`` (``voice_id``, ``voice_name``, ``trial_url``, ``owned_by``,
  ``status``); ``status`` is ``deleted`` once deleted;
- ``POST /v1/general/delete-advanced-elements``, ``/v1/general/delete-elements`` and
  ``/v1/general/delete-voices`` (``{element_id}`` / ``{voice_id}`` of one of the caller's
  succeeded builds; otherwise 1201);
- ``GET /v1/general/advanced-presets-elements`` and ``/v1/general/presets-voices``: three
  official presets each, paged by ``pageNum`` (1-1000) and ``pageSize`` (elements 1-500,
  voices 1-1000).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from ._outputs import (
    ELEMENT_SUFFIX,
    VOICE_SUFFIX,
    element_id_of,
    elements,
    voice_id_of,
    voices,
)
from ._replies import Reply, fail, json_object, ok
from ._routes import PREFIXES
from ._state import SimState
from ._sync import api_route
from ._tasks import SimTask

ELEMENTS = "general/advanced-custom-elements"
VOICES = "general/custom-voices"
_KEYS = {ELEMENTS: "elements", VOICES: "voices"}
_PRESETS = 3


def made_item(task: SimTask, deleted: bool, base_url: str) -> dict[str, Any]:
    """What a succeeded build task made, as Kling lists it: the simulator's one rendering of
    it (``_outputs``), with its status."""
    made = (voices if task.endpoint == VOICES else elements)(task, base_url)[0]
    return {**made, "status": "deleted" if deleted else "succeed"}


def _preset(endpoint: str, i: int) -> dict[str, Any]:
    if endpoint == VOICES:
        made: dict[str, Any] = {"voice_id": f"preset_voice_{i}", "voice_name": f"Preset {i}",
                                "trial_url": f"/__sim/files/presets/voice_{i}.mp3",
                                "owned_by": "kling", "status": "succeed"}
    else:
        made = {"element_id": 100 + i, "element_name": f"Preset {i}",
                "element_description": "an official element", "reference_type": "image_refer",
                "element_image_list": {"frontal_image": f"/__sim/files/presets/{i}.png",
                                       "refer_images": []},
                "element_video_list": {}, "element_voice_info": {},
                "tag_list": [{"tag_id": "o_101"}], "owned_by": "kling", "status": "succeed"}
    return {"task_id": f"preset-{i}", "task_status": "succeed", "task_status_msg": "",
            "task_info": {}, "task_result": {_KEYS[endpoint]: [made]}}


class ResourceRoutes:
    """The resource handlers and what was deleted (by task id, for that very task object:
    a reset simulator re-uses ids)."""

    def __init__(self, state: SimState) -> None:
        self._state = state
        self._deleted: dict[str, SimTask] = {}

    def install(self, app: web.Application) -> None:
        """Register the middleware and the routes on ``app`` (both prefixes)."""
        app.middlewares.append(self._middleware())
        routes: list[tuple[str, str, Callable[[web.Request, str], Awaitable[Reply]]]] = [
            ("POST", "general/delete-advanced-elements", self._deleter(ELEMENTS, "element_id")),
            ("POST", "general/delete-elements", self._deleter(ELEMENTS, "element_id")),
            ("POST", "general/delete-voices", self._deleter(VOICES, "voice_id")),
            ("GET", "general/advanced-presets-elements", self._presets(ELEMENTS, 500)),
            ("GET", "general/presets-voices", self._presets(VOICES, 1000)),
            ("GET", VOICES, self._voice_pages),  # before the task routes: pageSize <= 1000
        ]
        for prefix in PREFIXES:
            for method, name, handler in routes:
                path = f"{prefix}/v1/{name}"
                app.router.add_route(method, path, api_route(self._state, method, path, handler))

    def is_deleted(self, task: SimTask) -> bool:
        return self._deleted.get(task.task_id) is task

    def _middleware(self) -> Any:
        @web.middleware
        async def add_made(request: web.Request, handler: Any) -> web.StreamResponse:
            response: web.StreamResponse = await handler(request)
            endpoint = _resource_endpoint(request)
            if endpoint is not None and isinstance(response, web.Response):
                self._add_made(response)
            return response

        return add_made

    def _add_made(self, response: web.Response) -> None:
        raw = response.body
        if not isinstance(raw, bytes):
            return
        try:
            envelope = json.loads(raw)
        except ValueError:
            return  # a fault's malformed body stays malformed
        if not isinstance(envelope, dict) or envelope.get("code") != 0:
            return
        data = envelope.get("data")
        for task in data if isinstance(data, list) else [data]:
            if isinstance(task, dict):
                self._fill(task)
        response.body = json.dumps(envelope, separators=(",", ":")).encode()

    def _fill(self, obj: dict[str, Any]) -> None:
        task = self._state.lookup(str(obj.get("task_id")))
        if task is None or obj.get("task_status") != "succeed" or task.endpoint not in _KEYS:
            return
        result = obj.setdefault("task_result", {})
        result.pop("videos", None)
        result[_KEYS[task.endpoint]] = [made_item(task, self.is_deleted(task),
                                                       self._state.base_url)]

    def _deleter(self, endpoint: str, field: str
                 ) -> Callable[[web.Request, str], Awaitable[Reply]]:
        async def delete(request: web.Request, account: str) -> Reply:
            body = json_object(await request.read())
            if isinstance(body, Reply):
                return body
            given = body.get(field)
            task = self._built(endpoint, account, given)
            if task is None:
                return fail(1201, f"{field}: {str(given)[:40]!r} is not one of your custom "
                            f"{_KEYS[endpoint]}")
            self._deleted[task.task_id] = task
            return ok({"task_id": f"del-{task.task_id}", "task_status": "succeed"})

        return delete

    def _built(self, endpoint: str, account: str, given: Any) -> SimTask | None:
        """The caller's succeeded, undeleted build task that made ``given``."""
        text = str(given) if isinstance(given, (str, int)) and not isinstance(given,
                                                                              bool) else ""
        suffix = VOICE_SUFFIX if endpoint == VOICES else ELEMENT_SUFFIX
        task_id = text[:-1] if text.endswith(suffix) else ""
        task = self._state.store.get(account, endpoint, task_id) if task_id else None
        if task is None or self.is_deleted(task) or str(made_id(task)) != text:
            return None
        if task.status_at(self._state.clock.now()) != "succeed":
            return None
        return task

    async def _voice_pages(self, request: web.Request, account: str) -> Reply:
        """The voices' task list: as the task routes list, with ``pageSize`` up to 1000."""
        state = self._state
        external = request.query.get("external_task_id")
        if external is not None:
            task = state.store.get_external(account, VOICES, external) if external else None
            if task is None:
                return fail(1203, f"task with external_task_id {external[:40]} not found")
            return ok(state.render_now(task))
        page = _int(request.query, "pageNum", 1, 1000, 1)
        size = _int(request.query, "pageSize", 1, 1000, 30)
        if isinstance(page, str) or isinstance(size, str):
            return fail(1201, page if isinstance(page, str) else str(size))
        return ok([state.render_now(t) for t in state.store.page(account, VOICES, page, size)])

    def _presets(self, endpoint: str, max_size: int
                 ) -> Callable[[web.Request, str], Awaitable[Reply]]:
        async def presets(request: web.Request, account: str) -> Reply:
            page = _int(request.query, "pageNum", 1, 1000, 1)
            size = _int(request.query, "pageSize", 1, max_size, 30)
            if isinstance(page, str) or isinstance(size, str):
                return fail(1201, page if isinstance(page, str) else str(size))
            every = [_preset(endpoint, i) for i in range(1, _PRESETS + 1)]
            return ok(every[(page - 1) * size: page * size])

        return presets


def made_id(task: SimTask) -> int | str:
    """The id of what a build task made."""
    return voice_id_of(task) if task.endpoint == VOICES else element_id_of(task)


def _resource_endpoint(request: web.Request) -> str | None:
    """``general/...`` of a GET of the two build endpoints' task routes, else None."""
    if request.method != "GET":
        return None
    path = request.path
    for prefix in PREFIXES:
        for endpoint in _KEYS:
            root = f"{prefix}/v1/{endpoint}"
            if path == root or (path.startswith(root + "/") and "/" not in path[len(root) + 1:]):
                return endpoint
    return None


def _int(query: Mapping[str, str], name: str, low: int, high: int, default: int) -> int | str:
    raw = query.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        return f"{name}: must be an integer in [{low}, {high}]"
    return value if low <= value <= high else f"{name}: must be in [{low}, {high}]"


def install_resource_routes(app: web.Application, state: SimState) -> None:
    """Register the element and voice routes (and the middleware) on ``app``."""
    ResourceRoutes(state).install(app)
