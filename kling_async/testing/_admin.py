"""Simulator-only routes: result files, introspection, and the catch-all.

- ``GET /__sim/files/{task_id}/{name}``: result files (no auth, like a CDN URL); 404 until
  the task succeeded or for a name the task does not have.  Served like a CDN: a strong
  ``ETag`` (a hash of the bytes), ``Accept-Ranges: bytes``; one range ``bytes=a-b``,
  ``bytes=a-`` or ``bytes=-n`` gets ``206`` with ``Content-Range``; a range starting past the
  end gets ``416`` with ``Content-Range: bytes */size``; an ``If-Range`` that is not the ETag,
  a malformed ``Range`` or several ranges get the whole file (``200``, as RFC 9110 allows).
  ``HEAD`` gets the headers of the whole file.  How bodies are streamed (in slow pieces, or
  cut mid-body) is a test knob: ``sim.file_serving`` (``_files.py``).  File GETs are counted
  in the ``file*`` fields of ``SimStats``.
- ``GET /__sim/stats``: ``SimStats.to_json()`` in ``data``.
- ``GET /__sim/config``: the config in ``data``; ``POST /__sim/config``: JSON object of
  changes (``faults`` may be a partial object, merged), answers the new config.
- ``POST /__sim/reset``: forget tasks and stats (optional JSON body = a full new config).
- anything else: 404 / 1202.

The ``/__sim/{stats,config,reset}`` routes need the same credentials as the API; they are not
counted in the stats and never get faults.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from ._auth import AuthFailure
from ._config import SimulatorConfig
from ._files import FileServing, file_serving, requested_range
from ._media import file_bytes, file_etag
from ._replies import Reply, fail, json_object, ok
from ._state import SimState

__all__ = ["AdminRoutes", "FileServing", "file_serving", "requested_range"]

class AdminRoutes:
    """Handlers for ``/__sim/...`` and unknown paths."""

    def __init__(self, state: SimState) -> None:
        self._state = state

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
        task_id = request.match_info["task_id"]
        name = request.match_info["name"]
        head = request.method == "HEAD"
        if not self._has_file(task_id, name):
            if not head:
                self._state.stats.file_requests[404] += 1
            return web.Response(status=404, text="no such file")
        content, content_type = file_bytes(task_id, name)
        etag = file_etag(content)
        headers = {"ETag": etag, "Accept-Ranges": "bytes"}
        if head:  # Range is defined for GET only
            return web.Response(body=content, content_type=content_type, headers=headers)
        size = len(content)
        span = requested_range(request.headers, etag, size)
        if span == "unsatisfiable":
            self._state.stats.file_requests[416] += 1
            return web.Response(status=416, headers={**headers,
                                                     "Content-Range": f"bytes */{size}"})
        status, body = 200, content
        if span is not None:
            first, last = span
            status, body = 206, content[first:last + 1]
            headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        self._state.stats.file_requests[status] += 1
        return await self._send(request, status, headers, content_type, body)

    def _has_file(self, task_id: str, name: str) -> bool:
        """Whether the task exists, has succeeded (now) and made a file of that name."""
        task = self._state.lookup(task_id)
        return (
            task is not None
            and task.status_at(self._state.clock.now()) == "succeed"
            and name in task.file_names()
        )

    async def _send(self, request: web.Request, status: int, headers: dict[str, str],
                    content_type: str, body: bytes) -> web.StreamResponse:
        """Stream ``body`` as ``FileServing`` says, counting what was sent."""
        stats = self._state.stats
        response = web.StreamResponse(status=status, headers=headers)
        response.content_type = content_type
        response.content_length = len(body)
        await response.prepare(request)
        sent = 0
        try:
            sent = await self._write(request, response, body)
            if sent < len(body):  # the cut: close without the rest
                if request.transport is not None:
                    request.transport.close()
                return response
            await response.write_eof()
        except ConnectionError:
            return response  # the client went away
        finally:
            if sent == len(body):
                served = stats.files_served if status == 200 else stats.file_ranges_served
                served[request.path] += 1
            else:
                stats.files_cut += 1
        return response

    async def _write(self, request: web.Request, response: web.StreamResponse,
                     body: bytes) -> int:
        """Write ``body`` in the knobs' pieces (up to a cut); the bytes written."""
        knobs = self._state.file_serving
        served = self._state.stats.file_bytes_served
        limit = len(body)
        if knobs.cuts > 0:
            knobs.cuts -= 1
            limit = min(limit, knobs.cut_after)
        step = knobs.piece_size(len(body))
        sent = 0
        while sent < limit:
            if sent and knobs.chunk_delay:
                await asyncio.sleep(knobs.chunk_delay)
            piece = body[sent:min(sent + step, limit)]
            await response.write(piece)
            sent += len(piece)
            served[request.path] += len(piece)
        return sent

    def _authorized(self, request: web.Request) -> Reply | None:
        try:
            self._state.auth.authenticate(request.headers.get("Authorization"))
        except AuthFailure as exc:
            return fail(exc.code, exc.message)
        return None

    async def _json_object(self, request: web.Request) -> dict[str, Any] | Reply:
        raw = await request.read()
        return json_object(raw) if raw.strip() else {}

    async def _stats(self, request: web.Request) -> web.Response:
        denied = self._authorized(request)
        if denied is not None:
            return denied.to_response()
        return ok(self._state.snapshot().to_json()).to_response()

    async def _get_config(self, request: web.Request) -> web.Response:
        denied = self._authorized(request)
        if denied is not None:
            return denied.to_response()
        return ok(self._state.config.to_json()).to_response()

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
            self._state.configure(body)
        except (TypeError, ValueError) as exc:
            return fail(1201, f"invalid config: {exc}").to_response()
        return ok(self._state.config.to_json()).to_response()

    async def _reset(self, request: web.Request) -> web.Response:
        body = await self._authorized_body(request)
        if isinstance(body, Reply):
            return body.to_response()
        try:
            config = SimulatorConfig(**body) if body else None
        except (TypeError, ValueError) as exc:
            return fail(1201, f"invalid config: {exc}").to_response()
        self._state.reset(config)
        return ok(None).to_response()

    async def _unknown(self, request: web.Request) -> web.Response:
        return fail(1202, f"no route for {request.method} {request.path}").to_response()
