"""Requests of the new API design standard (2026): the model is in the path, not the body.

Reference §10-§11.  A body is ``prompt`` (text-to-video) or ``contents[]``, plus ``settings``
and ``options``.  Each request class serves one path family (``text-to-video``) for every
model; its ``model`` field picks the path (``/text-to-video/kling-3.0-turbo``) and is never
sent in the body (``wire=False`` metadata: ``dump_request`` skips it).

``Options`` holds what the legacy standard keeps at the top level: ``callback_url``,
``external_task_id`` and ``watermark_info``.
"""

from __future__ import annotations

from typing import Any

import attrs

from .._validators import instance_of
from .parts import TEXT, WatermarkInfo

#: attrs metadata of a field that is not part of the wire body (the model, in the path).
NOT_WIRE: dict[str, Any] = {"wire": False}

TEXT_TO_VIDEO_MODELS = ("kling-3.0-turbo", "kling-3.0", "kling-2.6", "kling-2.5-turbo")


def is_wire_field(field: attrs.Attribute[Any]) -> bool:
    """Whether ``field`` is sent in the body (everything but the path's model)."""
    return field.metadata.get("wire", True) is not False


@attrs.frozen(kw_only=True)
class Options:
    """``options`` (reference §11.2): callback, the caller's task id, watermark."""

    callback_url: str | None = attrs.field(default=None, validator=TEXT)
    external_task_id: str | None = attrs.field(default=None, validator=TEXT)
    watermark_info: WatermarkInfo | None = attrs.field(
        default=None, validator=instance_of(WatermarkInfo)
    )


@attrs.frozen(kw_only=True)
class TextToVideoSettings:
    """``settings`` of ``POST /text-to-video/{model}`` (reference §11.3).  Seed: the per-model
    enums and ranges are checked by the request class."""

    resolution: str | None = attrs.field(default=None, validator=TEXT)
    aspect_ratio: str | None = attrs.field(default=None, validator=TEXT)
    duration: int | None = attrs.field(default=None, validator=instance_of(int))


@attrs.frozen(kw_only=True)
class NewTextToVideoRequest:
    """``POST /text-to-video/{model}`` (reference §11.3): a video from a prompt."""

    model: str = attrs.field(validator=TEXT, metadata=NOT_WIRE)
    prompt: str = attrs.field(validator=TEXT)
    settings: TextToVideoSettings | None = attrs.field(
        default=None, validator=instance_of(TextToVideoSettings)
    )
    options: Options | None = attrs.field(default=None, validator=instance_of(Options))
