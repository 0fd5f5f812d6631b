"""Simulator-only routes: result files, introspection, and the catch-all.

- ``GET /__sim/files/{task_id}/{name}``: result files (no auth, like a CDN URL); 404 until
  the task succeeded or for a name the task does not have.
- ``GET /__sim/stats``: ``SimStats.to_json()`` in ``data``.
- ``GET /__sim/config``: the config in ``data``; ``POST /__sim/config``: JSON object of
  changes (``faults`` may be a partial object, merged), answers the new config.
- ``POST /__sim/reset``: forget tasks and stats (optional JSON body = a full new config).
- anything else: 404 / 1202.

The ``/__sim/{stats,config,reset}`` routes need the same credentials as the API; they are not
counted in the stats and never get faults.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ._auth import AuthFailure
from ._config import SimulatorConfig
from ._media import file_bytes
from ._replies import Reply, fail, ok

if TYPE_CHECKING:
    from ._server import KlingSimulator


class AdminRoutes:
    """Handlers for ``/__sim/...`` and unknown paths."""

    def __init__(self, sim: KlingSimulator) -> None:
        self._sim = sim

    def install(self, app: web.Application) -> None:
        """Register the routes; call after the API routes (the catch-all must come last)."""
        router = app.router
        router.add_get("/__sim/files/{task_id}/{name}", self._file)
        router.add_get("/__sim/stats", self._stats, allow_head=False)
        router.add_get("/__sim/config", self._get_config, allow_head=False)
        router.add_post("/__sim/config", self._set_config)
        router.add_post("/__sim/reset", self._reset)
        router.add_route("*", "/{tail:.*}", self._unknown)

    async def _file(self, request: web.Request) -> web.StreamResponse:
        sim = self._sim
        task_id = request.match_info["task_id"]
        name = request.match_info["name"]
        task = sim._store.by_id.get(task_id)
        if (
            task is None
            or task.status_at(sim._clock.now()) != "succeed"
            or name not in task.file_names()
        ):
            return web.Response(status=404, text="no such file")
        content, content_type = file_bytes(task_id, name)
        return web.Response(body=content, content_type=content_type)

    def _authorized(self, request: web.Request) -> Reply | None:
        try:
            self._sim._auth.authenticate(request.headers.get("Authorization"))
        except AuthFailure as exc:
            return fail(exc.code, exc.message)
        return None

    async def _json_object(self, request: web.Request) -> dict[str, Any] | Reply:
        raw = await request.read()
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except ValueError:
            return fail(1201, "request body is not valid JSON")
        if not isinstance(body, dict):
            return fail(1201, "request body must be a JSON object")
        return body

    async def _stats(self, request: web.Request) -> web.Response:
        denied = self._authorized(request)
        if denied is not None:
            return denied.to_response()
        return ok(self._sim.stats().to_json()).to_response()

    async def _get_config(self, request: web.Request) -> web.Response:
        denied = self._authorized(request)
        if denied is not None:
            return denied.to_response()
        return ok(self._sim.config.to_json()).to_response()

    async def _authorized_body(self, request: web.Request) -> dict[str, Any] | Reply:
        """The request's JSON object body, or the error reply (auth first, then the body)."""
        denied = self._authorized(request)
        if denied is not None:
            return denied
        return await self._json_object(request)

    async def _set_config(self, request: web.Request) -> web.Response:
        body = await self._authorized_body(request)
        if isinstance(body, Reply):
            return body.to_response()
        try:
            self._sim.configure(**body)
        except (TypeError, ValueError) as exc:
            return fail(1201, f"invalid config: {exc}").to_response()
        return ok(self._sim.config.to_json()).to_response()

    async def _reset(self, request: web.Request) -> web.Response:
        body = await self._authorized_body(request)
        if isinstance(body, Reply):
            return body.to_response()
        try:
            config = SimulatorConfig(**body) if body else None
        except (TypeError, ValueError) as exc:
            return fail(1201, f"invalid config: {exc}").to_response()
        self._sim.reset(config=config)
        return ok(None).to_response()

    async def _unknown(self, request: web.Request) -> web.Response:
        return fail(1202, f"no route for {request.method} {request.path}").to_response()
