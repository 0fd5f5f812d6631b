"""Simulator-only routes: result files, introspection, and the catch-all.

- ``GET /__sim/files/{task_id}/{name}``: result files (no auth, like a CDN URL); 404 until
  the task succeeded or for a name the task does not have.  Served like a CDN: a strong
  ``ETag`` (a hash of the bytes), ``Accept-Ranges: bytes``; one range ``bytes=a-b``,
  ``bytes=a-`` or ``bytes=-n`` gets ``206`` with ``Content-Range``; a range starting past the
  end gets ``416`` with ``Content-Range: bytes */size``; an ``If-Range`` that is not the ETag,
  a malformed ``Range`` or several ranges get the whole file (``200``, as RFC 9110 allows).
  ``HEAD`` gets the headers of the whole file.  How bodies are streamed (in slow pieces, or cut
  mid-body) is a test knob: ``file_serving(sim)``.  File GETs are counted in the ``file*``
  fields of ``SimStats``.
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
import re
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import attrs
from aiohttp import web

from ._auth import AuthFailure
from ._config import SimulatorConfig
from ._media import file_bytes, file_etag
from ._replies import Reply, fail, json_object, ok

if TYPE_CHECKING:
    from ._server import KlingSimulator


_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)
Span = tuple[int, int] | Literal["unsatisfiable"] | None


@attrs.define(kw_only=True)
class FileServing:
    """How the simulator streams result files: a test knob (default: each body in one write).

    - ``chunk_bytes``: write bodies in pieces of at most this many bytes (None: one piece);
    - ``pieces``: or write each body in this many pieces of about equal size, so every file
      takes ``(pieces - 1) * chunk_delay`` whatever its size;
    - ``chunk_delay``: real seconds to wait before each piece but the first;
    - ``cut_after`` / ``cuts``: the next ``cuts`` bodies stop after ``cut_after`` bytes and
      the connection is closed, like a CDN dropping a download mid-stream.

    ``file_serving(sim)`` is the simulator's own, mutable; ``reset()`` leaves it as it is.
    """

    chunk_bytes: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.ge(1)))
    pieces: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.ge(1)))
    chunk_delay: float = attrs.field(default=0.0, validator=attrs.validators.ge(0.0))
    cut_after: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    cuts: int = attrs.field(default=0, validator=attrs.validators.ge(0))

    def piece_size(self, length: int) -> int:
        """The size of the pieces a body of ``length`` bytes is written in."""
        if self.pieces is not None:
            return max(1, -(-length // self.pieces))
        return self.chunk_bytes or max(1, length)


_SERVING: weakref.WeakKeyDictionary[KlingSimulator, FileServing] = weakref.WeakKeyDictionary()


def file_serving(sim: KlingSimulator) -> FileServing:
    """The ``FileServing`` knobs of ``sim`` (made on first use)."""
    found = _SERVING.get(sim)
    if found is None:
        found = _SERVING[sim] = FileServing()
    return found


def requested_range(headers: Mapping[str, str], etag: str, size: int) -> Span:
    """The one byte range asked for, ``(first, last)`` inclusive; ``"unsatisfiable"``; or None
    for the whole file (no ``Range``, an ``If-Range`` other than ``etag``, malformed, several)."""
    header = headers.get("Range")
    if header is None:
        return None
    if_range = headers.get("If-Range")
    if if_range is not None and if_range.strip() != etag:
        return None  # strong comparison; a date never matches (no Last-Modified is served)
    match = _RANGE.match(header)
    if match is None:
        return None
    first, last = match.groups()
    if not first:
        if not last:
            return None
        wanted = int(last)
        return (max(0, size - wanted), size - 1) if wanted and size else "unsatisfiable"
    start = int(first)
    if last and int(last) < start:
        return None  # an invalid range-spec: ignored
    if start >= size:
        return "unsatisfiable"
    return start, min(int(last), size - 1) if last else size - 1


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
        head = request.method == "HEAD"
        stats = sim._stats
        if (
            task is None
            or task.status_at(sim._clock.now()) != "succeed"
            or name not in task.file_names()
        ):
            if not head:
                stats.file_requests[404] += 1
            return web.Response(status=404, text="no such file")
        content, content_type = file_bytes(task_id, name)
        size = len(content)
        etag = file_etag(content)
        headers = {"ETag": etag, "Accept-Ranges": "bytes"}
        if head:  # Range is defined for GET only
            return web.Response(body=content, content_type=content_type, headers=headers)
        span = requested_range(request.headers, etag, size)
        if span == "unsatisfiable":
            stats.file_requests[416] += 1
            return web.Response(status=416, headers={**headers,
                                                     "Content-Range": f"bytes */{size}"})
        status, body = 200, content
        if span is not None:
            first, last = span
            status, body = 206, content[first:last + 1]
            headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        stats.file_requests[status] += 1
        return await self._send(request, status, headers, content_type, body)

    async def _send(self, request: web.Request, status: int, headers: dict[str, str],
                    content_type: str, body: bytes) -> web.StreamResponse:
        """Stream ``body`` as ``FileServing`` says, counting what was sent."""
        stats = self._sim._stats
        knobs = file_serving(self._sim)
        path = request.path
        limit = len(body)
        if knobs.cuts > 0:
            knobs.cuts -= 1
            limit = min(limit, knobs.cut_after)
        response = web.StreamResponse(status=status, headers=headers)
        response.content_type = content_type
        response.content_length = len(body)
        await response.prepare(request)
        step = knobs.piece_size(len(body))
        sent = 0
        try:
            while sent < limit:
                if sent and knobs.chunk_delay:
                    await asyncio.sleep(knobs.chunk_delay)
                piece = body[sent:min(sent + step, limit)]
                await response.write(piece)
                sent += len(piece)
                stats.file_bytes_served[path] += len(piece)
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
                served[path] += 1
            else:
                stats.files_cut += 1
        return response

    def _authorized(self, request: web.Request) -> Reply | None:
        try:
            self._sim._auth.authenticate(request.headers.get("Authorization"))
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
