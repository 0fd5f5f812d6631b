"""What a simulated task costs and which concurrency bucket it counts in (reference §6, §13).

- ``bucket_of(endpoint, body)``: ``"<pack type>/<model version>"``, e.g. ``video/kling-3.0``
  (the client's ``concurrency_bucket`` names).  Legacy ``model_name``s are named as the new
  path's model where the reference maps one (§10.4: ``kling-v3`` -> ``kling-3.0``...), so a
  legacy and a new-standard task of one model version share a bucket; an unset
  ``model_name`` is the endpoint's documented default (``kling-v1``, omni ``kling-*-o1``).
- ``units_of(endpoint, body)``: the pack units a successful task is charged: seconds x the
  per-second price of its model, resolution and variant (audio, video input, voice, motion
  control) from the 2026 price pages, or per image.  Models not on the price pages keep the
  simulator's older rule: a video is 1 unit per 5 s (x 1.75 in ``pro`` mode), an image 1 unit.
- ``usd_of(units, pack)``: the cash price of those units (1 video unit = $0.14, 1 image unit =
  $0.0035), used when the simulator's ``charge_type`` is ``"cash"``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .._endpoints import Endpoint
from .._models.catalog import DEFAULT_MODELS

#: Reference §10.4: legacy ``model_name`` -> the new standard's path model.
NEW_MODEL_OF_LEGACY: Mapping[str, str] = {
    "kling-v3": "kling-3.0",
    "kling-v3-omni": "kling-3.0-omni",
    "kling-video-o1": "kling-o1",
    "kling-v2-6": "kling-2.6",
    "kling-v2-5-turbo": "kling-2.5-turbo",
}
DEFAULT_LEGACY_MODEL = "kling-v1"

#: Reference §13.3: units per output second at (720p, 1080p, 4k); None = not offered.
_PER_SECOND: Mapping[str, Mapping[str, tuple[float, float, float | None]]] = {
    "kling-3.0-turbo": {"base": (0.8, 1.0, None)},
    "kling-3.0": {"base": (0.6, 0.8, 3.0), "audio": (0.9, 1.2, 3.0), "motion": (0.9, 1.2, None)},
    "kling-3.0-omni": {"base": (0.6, 0.8, 3.0), "audio": (0.8, 1.0, 3.0),
                       "video": (0.9, 1.2, 3.0)},
    "kling-o1": {"base": (0.6, 0.8, None), "video": (0.9, 1.2, None)},
    "kling-2.6": {"base": (0.3, 0.5, None), "audio": (1.0, 1.0, None),
                  "voice": (1.2, 1.2, None), "motion": (0.5, 0.8, None)},
    "kling-2.5-turbo": {"base": (0.3, 0.5, None)},
}
#: Reference §13.3: image units per image for the models on the image price page.
_PER_IMAGE: Mapping[str, float] = {"kling-3.0": 8, "kling-3.0-omni": 8, "kling-image-o1": 8,
                                   "kling-v2-1": 4}
_RESOLUTION = {"720p": 0, "std": 0, "1080p": 1, "pro": 1, "4k": 2}
_USD_PER_UNIT = {"video": 0.14, "image": 0.0035}


def _get(body: Mapping[str, Any], *path: str) -> Any:
    value: Any = body
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def model_version(endpoint: Endpoint, body: Mapping[str, Any]) -> str:
    """The model version a create counts against: the path's model (new standard) or the
    ``model_name``, named as the new path's model where one exists."""
    if endpoint.standard == "new" and endpoint.model:
        return endpoint.model
    name = body.get("model_name") or body.get("model")
    if not isinstance(name, str) or not name:
        name = DEFAULT_MODELS.get(endpoint.name, DEFAULT_LEGACY_MODEL)
    return NEW_MODEL_OF_LEGACY.get(name, name)


def bucket_of(endpoint: Endpoint, body: Mapping[str, Any]) -> str:
    """The concurrency bucket of a create: ``"<pack type>/<model version>"``."""
    return f"{endpoint.kind}/{model_version(endpoint, body)}"


def video_seconds(endpoint: Endpoint, body: Mapping[str, Any]) -> float:
    """Output seconds of a video create: ``duration`` (legacy, a string) or
    ``settings.duration`` (new, an int); 5 when absent or unreadable (motion control follows
    its motion video, whose length the simulator does not know)."""
    raw = _get(body, "settings", "duration") if endpoint.standard == "new" else body.get("duration")
    try:
        seconds = float(raw if raw is not None else 5)
    except (TypeError, ValueError):
        seconds = 5.0
    return seconds if math.isfinite(seconds) and 0 < seconds <= 3600 else 5.0


def _contents_types(body: Mapping[str, Any]) -> set[str]:
    items = body.get("contents")
    if not isinstance(items, list):
        return set()
    return {str(i.get("type")) for i in items if isinstance(i, Mapping)}


def _new_variant(endpoint: Endpoint, body: Mapping[str, Any]) -> tuple[str, str]:
    family = endpoint.name.split("/", 1)[0]
    resolution = str(_get(body, "settings", "resolution") or "720p")
    kinds = _contents_types(body)
    if family == "motion-control":
        return "motion", resolution
    if kinds & {"feature_video", "base_video"}:
        return "video", resolution
    if "voice" in kinds:
        return "voice", resolution
    if _get(body, "settings", "audio") == "native":
        return "audio", resolution
    return "base", resolution


def _legacy_variant(endpoint: Endpoint, body: Mapping[str, Any]) -> tuple[str, str]:
    mode = str(body.get("mode") or endpoint.default_mode or "std")
    if body.get("video_list"):
        return "video", mode
    if body.get("voice_list"):
        return "voice", mode
    if body.get("sound") == "on":
        return "audio", mode
    return "base", mode


def _image_units(model: str, endpoint: Endpoint, body: Mapping[str, Any], images: int) -> float:
    per = _PER_IMAGE.get(model)
    if per is None:
        return float(images)
    if model == "kling-3.0-omni" and str(body.get("resolution", "")).lower() == "4k":
        per = 16
    return per * images


def units_of(endpoint: Endpoint, body: Mapping[str, Any], images: int = 1) -> float:
    """Pack units a successful task of this create is charged (``images`` = images made)."""
    model = model_version(endpoint, body)
    if endpoint.kind == "image":
        return _image_units(model, endpoint, body, images)
    seconds = video_seconds(endpoint, body)
    prices = _PER_SECOND.get(model)
    if prices is None:
        pro = (body.get("mode") or endpoint.default_mode) == "pro"
        return seconds / 5.0 * (1.75 if pro else 1.0)
    variant, resolution = (_new_variant if endpoint.standard == "new" else _legacy_variant)(
        endpoint, body)
    row = prices.get(variant, prices["base"])
    index = _RESOLUTION.get(resolution.lower(), 0)
    price = row[index] if row[index] is not None else row[1]
    return seconds * float(price or 0.0)


def usd_of(units: float, pack: str) -> float:
    """The cash (USD) price of ``units`` of a pack type."""
    return units * _USD_PER_UNIT.get(pack, _USD_PER_UNIT["video"])


def decimal_text(value: float) -> str:
    """A decimal string as Kling sends amounts: ``2.4``, ``0.0035``, ``0``."""
    text = f"{round(value, 6):.6f}".rstrip("0").rstrip(".")
    return text or "0"
