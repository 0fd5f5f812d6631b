"""Unit prices as data, and ``estimate_units``: what a request will cost, AN ESTIMATE.

The table follows Kling's price pages (reference section 13.3, 2026): videos in units per
output second by model, sound/voice/video input and resolution; images in units per image.
Prices change and the server decides: the actual deduction is the task's
``final_unit_deduction``; this estimate is only for refusing a batch before it is sent
(``kling-async run --max-units``).  Units are those of the pack the server deducts from (video
units for videos, image units for images) and are added up as they are.

Reading a request: ``model_name`` (else the endpoint's default model), ``mode`` (``std`` =
720P, ``pro`` = 1080P; else the endpoint's default mode), ``duration`` (else 5 s), ``sound``
(``"on"``: native audio; unset counts as off), ``voice_list`` (voice control), omni-video's
``video_list`` (video input); for images ``n`` (else 1), omni-image series ``series_amount``
(else 4), ``resolution`` (``4k``) and ``image`` (image-to-image).  ``None`` when the table has
no price for it: a model the price pages do not list (pre-3.0 ``kling-v1``...), a combination
they do not price, or an omni-video that edits a ``base`` video (billed on the input's length,
unknown here).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._endpoints import request_field as _field
from ._models.catalog import (
    DEFAULT_DURATION,
    DEFAULT_MODELS,
    IMAGE_GENERATIONS,
    IMAGE_TO_VIDEO,
    OMNI_IMAGE,
    OMNI_VIDEO,
    TEXT_TO_VIDEO,
)

#: Video units per output second: (model, variant) -> (720P = ``std``, 1080P = ``pro``);
#: variant is ``silent``, ``audio`` (native audio), ``voice`` (voice control) or ``video``
#: (a video input).  None: not offered at that resolution.
VIDEO_UNITS_PER_SECOND: Mapping[tuple[str, str], tuple[float | None, float | None]] = {
    ("kling-v3", "silent"): (0.6, 0.8),
    ("kling-v3", "audio"): (0.9, 1.2),
    ("kling-v3-omni", "silent"): (0.6, 0.8),
    ("kling-v3-omni", "audio"): (0.8, 1.0),
    ("kling-v3-omni", "video"): (0.9, 1.2),
    ("kling-video-o1", "silent"): (0.6, 0.8),
    ("kling-video-o1", "video"): (0.9, 1.2),
    ("kling-v2-6", "silent"): (0.3, 0.5),
    ("kling-v2-6", "audio"): (None, 1.0),
    ("kling-v2-6", "voice"): (None, 1.2),
    ("kling-v2-5-turbo", "silent"): (0.3, 0.5),
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

_VIDEO_ENDPOINTS = {TEXT_TO_VIDEO: "std", IMAGE_TO_VIDEO: "std", OMNI_VIDEO: "pro"}
_SERIES_DEFAULT = 4


def _video_variant(request: Any) -> str | None:
    """``silent``/``audio``/``voice``/``video``; None for an edit of a ``base`` video."""
    videos = _field(request, "video_list") or ()
    if videos:
        if any(_field(v, "refer_type") != "feature" for v in videos):  # base is the default
            return None
        return "video"
    if _field(request, "voice_list"):
        return "voice"
    return "audio" if _field(request, "sound") == "on" else "silent"


def _video_units(endpoint_name: str, request: Any) -> float | None:
    model = _field(request, "model_name") or DEFAULT_MODELS[endpoint_name]
    mode = _field(request, "mode") or _VIDEO_ENDPOINTS[endpoint_name]
    variant = _video_variant(request)
    if variant is None or mode not in ("std", "pro"):
        return None
    rates = VIDEO_UNITS_PER_SECOND.get((model, variant))
    rate = None if rates is None else rates[0 if mode == "std" else 1]
    try:
        seconds = float(_field(request, "duration") or DEFAULT_DURATION)
    except (TypeError, ValueError):
        return None
    return None if rate is None else rate * seconds


def _image_units(endpoint_name: str, request: Any) -> float | None:
    model = _field(request, "model_name") or DEFAULT_MODELS[endpoint_name]
    if _field(request, "resolution") == "4k":
        variant = "4k"
    else:
        variant = "image" if _field(request, "image") or _field(request, "image_list") else "text"
    price = IMAGE_UNITS.get((endpoint_name, model, variant))
    if price is None:
        return None
    if _field(request, "result_type") == "series":
        count = _field(request, "series_amount") or _SERIES_DEFAULT
    else:
        count = _field(request, "n") or 1
    return price * int(count) if isinstance(count, int) else None


def estimate_units(endpoint_name: str, request: Any) -> float | None:
    """The units a task of ``request`` (a request object or its wire body) on
    ``endpoint_name`` is expected to cost, from the price table: an ESTIMATE (the server's
    ``final_unit_deduction`` is what counts); None when the table has no price for it."""
    if endpoint_name in _VIDEO_ENDPOINTS:
        return _video_units(endpoint_name, request)
    if endpoint_name in (IMAGE_GENERATIONS, OMNI_IMAGE):
        return _image_units(endpoint_name, request)
    return None


def deduction_units(value: object) -> float:
    """A task's ``final_unit_deduction`` (a string of a number) as a float; 0 when absent or
    not a finite number >= 0."""
    try:
        units = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    return units if units >= 0 and units != float("inf") else 0.0
