"""Unit prices as data, and ``estimate_units``: what a request will cost, AN ESTIMATE.

The table follows Kling's price pages (reference section 13.3, 2026): videos in units per
output second by product (``3.0``, ``3.0 Omni``...), variant and resolution; images in units
per image; a few products per call.  Prices change and the server decides: the actual
deduction is the task's ``Task.cost``; this estimate is only for refusing a batch before it is
sent (``kling-async run --max-units``).  Units are those of the pack the server deducts from
(video units for videos, image units for images) and are added up as they are.

Legacy videos (``videos/text2video``, ``image2video``, ``omni-video``): ``model_name`` (else
the endpoint's default model) names the product (``kling-v3`` = 3.0, ``kling-v3-omni`` = 3.0
Omni, as the price pages' names and reference §10.4 read); ``mode`` ``std`` = 720P, ``pro`` =
1080P, ``4k`` = 4K (3 units/s on 3.0 and 3.0 Omni, §2.3-§2.6); ``duration`` (else 5 s);
``sound`` ``"on"`` (native audio; unset counts as off), ``voice_list`` (voice control),
omni-video's ``video_list`` (video input).

New-standard videos (``text-to-video/kling-3.0``...: the path's model names the product):
``settings.resolution`` (``720p``/``1080p``/``4k``, else 720p), ``settings.duration`` (else
5 s: the defaults of §11.3 and §11.5, which ``_models/standard/specs.py`` applies to every
family), ``settings.audio`` (``native`` = native audio; unset or ``off`` = none), ``voice``
items (voice control), ``feature_video`` items (video input).  3.0 Turbo has no audio setting
and one price, "with native audio" (§11.3: its audio is always on).

Images: ``n`` (else 1), omni-image series ``series_amount`` (else 4), ``resolution``
(``4k``), ``image`` (image-to-image); multi-image-to-image (Image 2.1 only) 16 and outpainting
8 per image.  Per call: text-to-audio 0.25, video-to-audio 0.25, custom voice 0.05.

``None`` (unpriced, never a guess) for:

- a model or combination the price pages do not list (pre-3.0 ``kling-v1``..., 2.6 native
  audio at 720P, 3.0 with voice control, O1 or 2.6 at 4K, an undocumented new-standard model,
  ``settings.audio="original"`` without a video input);
- an edit of a ``base`` video (legacy ``refer_type`` base, new ``base_video``): billed on the
  input's length, unknown here;
- a new-standard ``feature_video`` without ``settings.duration``: whether the default 5 s
  holds with a reference video is not stated (§11.5, open question §9.4);
- motion control (legacy and new): billed on the output's length, which follows the motion
  video (§11.6), unknown before the task runs;
- avatar (0.4 / 0.8 per s of output, as long as its audio) and lip-sync (0.5 per 5 s of the
  video): billed on media lengths the request does not hold;
- AI multi-shot: 20 units per call on the price page but 0.5 in the change log (§2.20, §9.10);
- effects, multi-elements, virtual try-on, elements, video extend, multi-image-to-video: no
  price on the 2026 pages;
- an unknown endpoint.  TTS, face and image recognition are synchronous calls, not tasks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, TypeAlias

from ._endpoints import Endpoint, endpoint_row
from ._endpoints import request_field as _field
from ._errors import ValidationError
from ._models.catalog import (
    DEFAULT_DURATION,
    DEFAULT_MODELS,
    IMAGE_GENERATIONS,
    IMAGE_TO_VIDEO,
    OMNI_IMAGE,
    OMNI_VIDEO,
    TEXT_TO_VIDEO,
)
from ._models.standard import specs as _new

#: Units per second at 720P, 1080P and 4K (None: not priced at that resolution).
Rates: TypeAlias = tuple[float | None, float | None, float | None]

#: Video units per output second (§13.3): (product, variant) -> (720P, 1080P, 4K); variant is
#: ``silent``, ``audio`` (native audio), ``voice`` (voice control) or ``video`` (a video
#: input).
VIDEO_UNITS_PER_SECOND: Mapping[tuple[str, str], Rates] = {
    ("3.0 Turbo", "audio"): (0.8, 1.0, None),
    ("3.0", "silent"): (0.6, 0.8, 3.0),
    ("3.0", "audio"): (0.9, 1.2, 3.0),
    ("3.0 Omni", "silent"): (0.6, 0.8, 3.0),
    ("3.0 Omni", "audio"): (0.8, 1.0, 3.0),
    ("3.0 Omni", "video"): (0.9, 1.2, 3.0),
    ("O1", "silent"): (0.6, 0.8, None),
    ("O1", "video"): (0.9, 1.2, None),
    ("2.6", "silent"): (0.3, 0.5, None),
    ("2.6", "audio"): (None, 1.0, None),
    ("2.6", "voice"): (None, 1.2, None),
    ("2.5 Turbo", "silent"): (0.3, 0.5, None),
}

#: The price pages' product of a legacy ``model_name`` and of a new-standard path model.
LEGACY_PRODUCTS: Mapping[str, str] = {
    "kling-v3": "3.0", "kling-v3-omni": "3.0 Omni", "kling-video-o1": "O1",
    "kling-v2-6": "2.6", "kling-v2-5-turbo": "2.5 Turbo",
}
NEW_PRODUCTS: Mapping[str, str] = {
    "kling-3.0-turbo": "3.0 Turbo", "kling-3.0": "3.0", "kling-3.0-omni": "3.0 Omni",
    "kling-o1": "O1", "kling-2.6": "2.6", "kling-2.5-turbo": "2.5 Turbo",
}

#: Image units per image: (endpoint, model, variant) -> units; variant is ``text`` (text to
#: image), ``image`` (image to image) or ``4k``.
IMAGE_UNITS: Mapping[tuple[str, str, str], float] = {
    (IMAGE_GENERATIONS, "kling-v3", "text"): 8.0,
    (IMAGE_GENERATIONS, "kling-v3", "image"): 8.0,
    (IMAGE_GENERATIONS, "kling-v2-1", "text"): 4.0,
    (IMAGE_GENERATIONS, "kling-v2-1", "image"): 8.0,
    (OMNI_IMAGE, "kling-image-o1", "text"): 8.0,
    (OMNI_IMAGE, "kling-image-o1", "image"): 8.0,
    (OMNI_IMAGE, "kling-v3-omni", "text"): 8.0,
    (OMNI_IMAGE, "kling-v3-omni", "image"): 8.0,
    (OMNI_IMAGE, "kling-v3-omni", "4k"): 16.0,
}

#: Image tools priced per image (x ``n``): endpoint -> (the one model priced, or None for an
#: endpoint without a model field; units).  Multi-image is Image 2.1's (its only model).
IMAGE_TOOL_UNITS: Mapping[str, tuple[str | None, float]] = {
    "images/multi-image2image": ("kling-v2-1", 16.0),
    "images/editing/expand": (None, 8.0),
}

#: Products priced per call, whatever the request holds.
UNITS_PER_CALL: Mapping[str, float] = {
    "audio/text-to-audio": 0.25,
    "audio/video-to-audio": 0.25,
    "general/custom-voices": 0.05,
}

_VIDEO_ENDPOINTS = (TEXT_TO_VIDEO, IMAGE_TO_VIDEO, OMNI_VIDEO)
_NEW_PRICED_FAMILIES = (_new.TEXT_TO_VIDEO_FAMILY, _new.IMAGE_TO_VIDEO_FAMILY,
                        _new.OMNI_VIDEO_FAMILY)
_LEGACY_RESOLUTION = {"std": 0, "pro": 1, "4k": 2}
_NEW_RESOLUTION = {"720p": 0, "1080p": 1, "4k": 2}
_SERIES_DEFAULT = 4


def _nested(request: Any, holder: str, name: str) -> Any:
    """``request.holder.name`` of a request object or a wire body; None if absent."""
    return _field(_field(request, holder), name)


def _seconds(raw: Any, default: object) -> float | None:
    """A duration in seconds (``raw``, else ``default``); None if not a finite number > 0."""
    try:
        seconds = float(raw if raw is not None else default)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def _text(value: Any) -> str | None:
    """``value`` if it is a str (a wire body may hold anything), else None."""
    return value if isinstance(value, str) else None


def _per_second(product: str | None, variant: str | None, resolution: int | None,
                seconds: float | None) -> float | None:
    """The table's rate x seconds; None when any part is unknown or unpriced."""
    if product is None or variant is None or resolution is None or seconds is None:
        return None
    rate = VIDEO_UNITS_PER_SECOND.get((product, variant), (None, None, None))[resolution]
    return None if rate is None else rate * seconds


def _legacy_variant(request: Any) -> str | None:
    """``silent``/``audio``/``voice``/``video``; None for an edit of a ``base`` video."""
    videos = _field(request, "video_list") or ()
    if videos:
        if any(_field(v, "refer_type") != "feature" for v in videos):  # base is the default
            return None
        return "video"
    if _field(request, "voice_list"):
        return "voice"
    return "audio" if _field(request, "sound") == "on" else "silent"


def _legacy_video_units(endpoint: Endpoint, request: Any) -> float | None:
    model = _text(_field(request, "model_name")) or DEFAULT_MODELS[endpoint.name]
    mode = _text(_field(request, "mode")) or endpoint.default_mode or ""
    return _per_second(LEGACY_PRODUCTS.get(model), _legacy_variant(request),
                       _LEGACY_RESOLUTION.get(mode),
                       _seconds(_field(request, "duration"), DEFAULT_DURATION))


def _content_types(request: Any) -> set[str]:
    """The ``type`` of each ``contents[]`` item (objects or wire mappings)."""
    items = _field(request, "contents")
    return {str(_field(i, "type")) for i in items} if isinstance(items, (list, tuple)) else set()


def _new_variant(product: str, request: Any) -> str | None:
    """The price row of a new-standard request (see the module docstring); None: unpriced."""
    kinds = _content_types(request)
    audio = _text(_nested(request, "settings", "audio"))
    if "base_video" in kinds:
        return None
    if "feature_video" in kinds:
        explicit = _nested(request, "settings", "duration") is not None
        return "video" if explicit and audio != "native" else None
    if product == "3.0 Turbo":
        return "audio"
    if "voice" in kinds:
        return "voice"
    return {None: "silent", "off": "silent", "native": "audio"}.get(audio)


def _new_video_units(endpoint: Endpoint, request: Any) -> float | None:
    family = endpoint.name.partition("/")[0]
    product = NEW_PRODUCTS.get(endpoint.model or "")
    if family not in _NEW_PRICED_FAMILIES or product is None:
        return None  # motion control: billed on the output's length; unknown models
    resolution = _text(_nested(request, "settings", "resolution")) or _new.DEFAULT_RESOLUTION
    return _per_second(product, _new_variant(product, request), _NEW_RESOLUTION.get(resolution),
                       _seconds(_nested(request, "settings", "duration"),
                                _new.DEFAULT_DURATION))


def _count(raw: Any) -> int | None:
    """An image count (``n``...; unset or 0 = 1); None if not an int."""
    count = raw or 1
    return count if isinstance(count, int) and not isinstance(count, bool) else None


def _image_units(endpoint_name: str, request: Any) -> float | None:
    model = _text(_field(request, "model_name")) or DEFAULT_MODELS[endpoint_name]
    if _field(request, "resolution") == "4k":
        variant = "4k"
    else:
        variant = "image" if _field(request, "image") or _field(request, "image_list") else "text"
    price = IMAGE_UNITS.get((endpoint_name, model, variant))
    if _field(request, "result_type") == "series":
        count = _count(_field(request, "series_amount") or _SERIES_DEFAULT)
    else:
        count = _count(_field(request, "n"))
    return None if price is None or count is None else price * count


def _image_tool_units(endpoint_name: str, request: Any) -> float | None:
    model, price = IMAGE_TOOL_UNITS[endpoint_name]
    count = _count(_field(request, "n"))
    if count is None or (_field(request, "model_name") or model) != model:
        return None
    return price * count


def estimate_units(endpoint_name: str, request: Any) -> float | None:
    """The units a task of ``request`` (a request object or its wire body) on
    ``endpoint_name`` is expected to cost, from the price table: an ESTIMATE (what the server
    reports, ``Task.cost``, is what counts); None when the table has no price for it."""
    try:
        endpoint = endpoint_row(endpoint_name)
    except ValidationError:
        return None
    name = endpoint.name
    if endpoint.standard == "new":
        return _new_video_units(endpoint, request)
    if name in _VIDEO_ENDPOINTS:
        return _legacy_video_units(endpoint, request)
    if name in (IMAGE_GENERATIONS, OMNI_IMAGE):
        return _image_units(name, request)
    if name in IMAGE_TOOL_UNITS:
        return _image_tool_units(name, request)
    return UNITS_PER_CALL.get(name)
