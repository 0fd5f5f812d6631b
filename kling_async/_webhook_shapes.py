"""The ``Task`` a callback body describes, in either payload shape (reference §5.2).

``callback_task`` reads the legacy flat shape with ``parse_callback``; a body it cannot read
that has the new standard's keys (``id`` and no ``task_id``: the §12.3 task object, its image
and video outputs) is translated to the legacy shape first (``_legacy_form``), and the new
status spelling ``succeeded`` is read as ``succeed``.  That translation is a stop-gap until
``parse_task`` reads the new shape itself: then it is never reached and can go.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._errors import ResponseDecodeError
from ._models.task import Task
from ._results import parse_callback

#: New-standard status spellings, as the legacy parser knows them.
_STATUSES = {"succeeded": "succeed"}
#: Items read from ``outputs[]`` (the legacy parser bounds what it keeps).
_MAX_OUTPUTS = 1000


def callback_task(payload: Any) -> Task:
    """The ``Task`` of a callback body (legacy or new shape, bare or in a ``{code, data}``
    envelope), or ``ResponseDecodeError``."""
    try:
        return parse_callback(payload)
    except ResponseDecodeError:
        body = _unwrapped(payload)
        if body is None:
            raise
    if "task_id" in body:  # legacy keys, new-standard status spelling
        status = body.get("task_status", body.get("status"))
        return parse_callback({**body, "task_status": _status(status)})
    return parse_callback(_legacy_form(body))


def _unwrapped(payload: Any) -> Mapping[str, Any] | None:
    """The task object of a body (unwrapping up to three envelopes' ``data``), or None."""
    for _ in range(3):
        if not isinstance(payload, Mapping):
            return None
        if "task_id" in payload or "id" in payload:
            return payload
        payload = payload.get("data")
    return None


def _status(value: Any) -> Any:
    """A new-standard status spelling as the legacy parser knows it (else ``value``)."""
    return _STATUSES.get(value.strip().lower(), value) if isinstance(value, str) else value


def _legacy_form(body: Mapping[str, Any]) -> dict[str, Any]:
    """A new-standard task object (``id``, ``status``, ``outputs[]``...) in the legacy shape."""
    status = _status(body.get("status"))
    images: list[Any] = []
    videos: list[Any] = []
    outputs = body.get("outputs")
    for item in outputs[:_MAX_OUTPUTS] if isinstance(outputs, list) else ():
        if isinstance(item, Mapping) and item.get("type") == "image":
            images.append({**item, "index": len(images)})
        elif isinstance(item, Mapping) and item.get("type") == "video":
            videos.append(item)
    external = body.get("external_id")
    return {
        "task_id": body.get("id"),
        "task_status": status,
        "task_status_msg": body.get("message"),
        "task_info": {"external_task_id": external} if external is not None else {},
        "task_result": {"images": images, "videos": videos},
        "created_at": body.get("create_time"),
        "updated_at": body.get("update_time"),
    }
