"""The simulator's custom elements and voices (reference §2.11, §2.17).

Creating one is an ordinary task of ``general/advanced-custom-elements`` or
``general/custom-voices`` (served, validated, timed and rendered by the task routes: what a
succeeded build made, ``task_result.elements[]`` / ``voices[]``, comes from ``_outputs``,
``status`` ``deleted`` once deleted).  Here:

- ``POST /v1/general/delete-advanced-elements``, ``/v1/general/delete-elements`` and
  ``/v1/general/delete-voices`` (``{element_id}`` / ``{voice_id}`` of one of the caller's
  succeeded builds; otherwise 1201);
- ``GET /v1/general/advanced-presets-elements`` and ``/v1/general/presets-voices``: three
  official presets each, paged by ``pageNum`` (1-1000) and ``pageSize`` (elements 1-500,
  voices 1-1000).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ._outputs import ELEMENT_SUFFIX, VOICE_SUFFIX, element_id_of, voice_id_of
from ._replies import Reply, fail, json_object, ok
from ._routes import PREFIXES, api_route, page_params
from ._state import SimState
from ._tasks import SimTask

ELEMENTS = "general/advanced-custom-elements"
VOICES = "general/custom-voices"
_KEYS = {ELEMENTS: "elements", VOICES: "voices"}
_PRESETS = 3


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
    """The resource handlers."""

    def __init__(self, state: SimState) -> None:
        self._state = state

    def install(self, app: web.Application) -> None:
        """Register the routes on ``app`` (both prefixes)."""
        routes: list[tuple[str, str, Callable[[web.Request, str], Awaitable[Reply]]]] = [
            ("POST", "general/delete-advanced-elements", self._deleter(ELEMENTS, "element_id")),
            ("POST", "general/delete-elements", self._deleter(ELEMENTS, "element_id")),
            ("POST", "general/delete-voices", self._deleter(VOICES, "voice_id")),
            ("GET", "general/advanced-presets-elements", self._presets(ELEMENTS, 500)),
            ("GET", "general/presets-voices", self._presets(VOICES, 1000)),
        ]
        for prefix in PREFIXES:
            for method, name, handler in routes:
                path = f"{prefix}/v1/{name}"
                app.router.add_route(method, path, api_route(self._state, method, path, handler))

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
            task.deleted = True
            return ok({"task_id": f"del-{task.task_id}", "task_status": "succeed"})

        return delete

    def _built(self, endpoint: str, account: str, given: Any) -> SimTask | None:
        """The caller's succeeded, undeleted build task that made ``given``."""
        text = str(given) if isinstance(given, (str, int)) and not isinstance(given,
                                                                              bool) else ""
        suffix = VOICE_SUFFIX if endpoint == VOICES else ELEMENT_SUFFIX
        task_id = text[:-1] if text.endswith(suffix) else ""
        task = self._state.store.get(account, endpoint, task_id) if task_id else None
        if task is None or task.deleted or str(made_id(task)) != text:
            return None
        if task.status_at(self._state.clock.now()) != "succeed":
            return None
        return task

    def _presets(self, endpoint: str, max_size: int
                 ) -> Callable[[web.Request, str], Awaitable[Reply]]:
        async def presets(request: web.Request, account: str) -> Reply:
            paging = page_params(request.query, max_size)
            if isinstance(paging, Reply):
                return paging
            page, size = paging
            every = [_preset(endpoint, i) for i in range(1, _PRESETS + 1)]
            return ok(every[(page - 1) * size: page * size])

        return presets


def made_id(task: SimTask) -> int | str:
    """The id of what a build task made."""
    return voice_id_of(task) if task.endpoint == VOICES else element_id_of(task)


def install_resource_routes(app: web.Application, state: SimState) -> None:
    """Register the element and voice routes on ``app``."""
    ResourceRoutes(state).install(app)
