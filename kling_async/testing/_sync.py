"""The simulator's synchronous endpoints (reference §2.8, §2.10, §2.11), under both prefixes:

- ``POST /v1/audio/tts``: audio of ``len(text) / 15 / voice_speed`` seconds, 0.05 units;
- ``POST /v1/videos/identify-face``: one face, a 24 h ``session_id``, 0.05 units;
- ``POST /v1/videos/image-recognize``: the four segmentations, 0.1 units;
- ``POST /v1/videos/multi-elements/{init,add,delete,clear,preview}-selection``: a session per
  ``init-selection`` (kept per account, at most ``MAX_SESSIONS``, the oldest forgotten first)
  holding the marked points by frame: at most 10 frames and 10 points per frame, a deleted
  point must have been added, a preview needs a selection; each refusal is a 1201 reply.

Bodies are validated with the SDK's own request classes (``load_sync_request``), as creates
are; a refused body is a 1201 reply naming the field.  Routes are wrapped by ``_routes.api_route``
as the task routes are.  Result URLs point into ``/__sim/files/`` but are not served.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from aiohttp import web

from .._errors import ValidationError
from .._models.sync import load_sync_request
from ._replies import Reply, fail, json_object, ok
from ._routes import PREFIXES, AccountHandler, api_route
from ._state import SimState

MAX_SESSIONS = 10_000
_SESSION_FRAMES = 10
_FRAME_POINTS = 10


async def validated(request: web.Request, endpoint: str) -> tuple[Any, dict[str, Any]] | Reply:
    """(the request object, the body) of a synchronous call, or the 1201 reply."""
    body = json_object(await request.read())
    if isinstance(body, Reply):
        return body
    try:
        return load_sync_request(endpoint, body), body
    except ValidationError as exc:
        return fail(1201, str(exc))


class _Session:
    __slots__ = ("account", "frames")

    def __init__(self, account: str) -> None:
        self.account = account
        self.frames: dict[int, list[tuple[float, float]]] = {}


class SyncRoutes:
    """The handlers; sessions and result ids live here (one per simulator start)."""

    def __init__(self, state: SimState) -> None:
        self._state = state
        self._ids = itertools.count(1)
        self._sessions: OrderedDict[str, _Session] = OrderedDict()

    def install(self, app: web.Application) -> None:
        """Register the routes on ``app`` (both prefixes)."""
        handlers: dict[str, Callable[[Any, str], Reply]] = {
            "audio/tts": self._tts,
            "videos/identify-face": self._identify_face,
            "videos/image-recognize": self._recognize,
            "videos/multi-elements/init-selection": self._init,
            "videos/multi-elements/add-selection": self._add,
            "videos/multi-elements/delete-selection": self._delete,
            "videos/multi-elements/clear-selection": self._clear,
            "videos/multi-elements/preview-selection": self._preview,
        }
        for prefix in PREFIXES:
            for name, handler in handlers.items():
                path = f"{prefix}/v1/{name}"
                app.router.add_post(path, api_route(self._state, "POST", path,
                                                    self._checked(name, handler)))

    def _checked(self, name: str, handler: Callable[[Any, str], Reply]) -> AccountHandler:
        async def run(request: web.Request, account: str) -> Reply:
            found = await validated(request, name)
            if isinstance(found, Reply):
                return found
            return handler(found[0], account)

        return run

    def _next(self) -> str:
        return f"{next(self._ids) + 880_000_000_000_000_000}"

    def _times(self) -> dict[str, int]:
        ms = self._state.clock.to_ms(self._state.clock.now())
        return {"created_at": ms, "updated_at": ms}

    def _url(self, name: str) -> str:
        return f"{self._state.base_url}/__sim/files/sync-{self._next()}/{name}"

    def _tts(self, request: Any, account: str) -> Reply:
        seconds = max(1.0, len(request.text) / 15 / (request.voice_speed or 1.0))
        audio = {"id": self._next(), "url": self._url("speech.mp3"),
                 "duration": f"{seconds:.1f}"}
        return ok({"task_id": self._next(), "task_status": "succeed", "task_status_msg": "",
                   "task_result": {"audios": [audio]}, **_cost("0.05"), **self._times()})

    def _identify_face(self, request: Any, account: str) -> Reply:
        face = {"face_id": "0", "face_image": self._url("face.png"), "start_time": 0,
                "end_time": 5000}
        return ok({"session_id": self._next(), "face_data": [face], **_cost("0.05")})

    def _recognize(self, request: Any, account: str) -> Reply:
        images = [{"type": kind, "is_contain": True, "url": self._url(f"{kind}.png")}
                  for kind in ("object_seg", "head_seg", "face_seg", "cloth_seg")]
        return ok({"task_result": {"images": images}, **_cost("0.1")})

    # -- multi-elements selection -----------------------------------------------------------

    def _init(self, request: Any, account: str) -> Reply:
        session_id = self._next()
        self._sessions[session_id] = _Session(account)
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)
        return ok({"status": 0, "session_id": session_id, **_cost("0"), "fps": 30.0,
                   "original_duration": 5000, "width": 1280, "height": 720,
                   "total_frame": 150, "normalized_video": self._url("normalized.mp4")})

    def _session(self, session_id: str, account: str) -> _Session | Reply:
        found = self._sessions.get(session_id)
        if found is None or found.account != account:
            return fail(1201, f"session_id {session_id[:40]!r} not found or expired")
        return found

    def _add(self, request: Any, account: str) -> Reply:
        session = self._session(request.session_id, account)
        if isinstance(session, Reply):
            return session
        frame = request.frame_index
        held = session.frames.get(frame, [])
        if frame not in session.frames and len(session.frames) >= _SESSION_FRAMES:
            return fail(1201, f"frame_index: at most {_SESSION_FRAMES} frames can be marked")
        if frame >= 150:
            return fail(1201, "frame_index: beyond the video's 150 frames")
        if len(held) + len(request.points) > _FRAME_POINTS:
            return fail(1201, f"points: at most {_FRAME_POINTS} points per frame")
        session.frames[frame] = held + [(p.x, p.y) for p in request.points]
        return self._selection(request)

    def _delete(self, request: Any, account: str) -> Reply:
        session = self._session(request.session_id, account)
        if isinstance(session, Reply):
            return session
        held = session.frames.get(request.frame_index)
        wanted = [(p.x, p.y) for p in request.points]
        if held is None or any(point not in held for point in wanted):
            return fail(1201, "points: must equal points added on this frame")
        kept = [point for point in held if point not in wanted]
        if kept:
            session.frames[request.frame_index] = kept
        else:
            del session.frames[request.frame_index]
        return self._selection(request)

    def _selection(self, request: Any) -> Reply:
        mask = {"object_id": 0, "rle_mask": {"size": [720, 1280], "counts": "0"},
                "png_mask": {"size": [720, 1280], "base64": "iVBORw0KGgo="}}
        return ok({"status": 0, "session_id": request.session_id, **_cost("0"),
                   "res": {"frame_index": request.frame_index, "rle_mask_list": [mask]}})

    def _clear(self, request: Any, account: str) -> Reply:
        session = self._session(request.session_id, account)
        if isinstance(session, Reply):
            return session
        session.frames.clear()
        return ok({"status": 0, "session_id": request.session_id, **_cost("0")})

    def _preview(self, request: Any, account: str) -> Reply:
        session = self._session(request.session_id, account)
        if isinstance(session, Reply):
            return session
        if not session.frames:
            return fail(1201, "session has no selection to preview")
        return ok({"status": 0, "session_id": request.session_id, **_cost("0"),
                   "res": {"video": self._url("preview.mp4"), "video_cover":
                           self._url("cover.png"), "tracking_output": self._url("masks.zip")}})


def _cost(units: str) -> dict[str, Any]:
    return {"final_unit_deduction": units,
            "final_balance_deduction": {"quota": "0", "list_price": "0"}}


def install_sync_routes(app: web.Application, state: SimState) -> None:
    """Register the synchronous endpoints on ``app``."""
    SyncRoutes(state).install(app)
