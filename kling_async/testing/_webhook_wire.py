"""What a simulated callback looks like on the wire (reference §5.2, §5.3).

- ``callback_body``: the body in the legacy flat shape (the task object of §3.3) or the new
  standard's task object (§12.3: ``id``, ``status`` ``succeeded``, ``outputs[]``...).
- ``signature_headers``: ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and
  ``webhook-signature``: one ``v1,<base64>`` entry per secret, space-separated (two during a
  rotation), made by the ``standardwebhooks`` package.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Literal

from standardwebhooks import Webhook

Shape = Literal["legacy", "new"]
_NEW_STATUS = {"succeed": "succeeded"}


def callback_body(legacy: Mapping[str, Any], shape: Shape) -> bytes:
    """The raw body of a callback: ``legacy`` (a §3.3 task object) as it is, or turned into
    the new standard's task object; compact JSON, as Kling sends it."""
    data = legacy if shape == "legacy" else new_shape(legacy)
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def new_shape(task: Mapping[str, Any]) -> dict[str, Any]:
    """A §3.3 task object as the new standard's task object (§12.3)."""
    result = task.get("task_result") or {}
    outputs: list[dict[str, Any]] = []
    for image in result.get("images", ()):
        outputs.append({"type": "image", **{k: v for k, v in image.items() if k != "index"}})
    for video in result.get("videos", ()):
        outputs.append({"type": "video", **video})
    status = str(task.get("task_status"))
    body: dict[str, Any] = {
        "id": task.get("task_id"),
        "status": _NEW_STATUS.get(status, status),
        "message": task.get("task_status_msg") or "",
        "create_time": task.get("created_at"),
        "update_time": task.get("updated_at"),
        "outputs": outputs,
        "billing": [{"charge_type": "unit", "amount": task.get("final_unit_deduction", "0"),
                     "package_type": "video" if result.get("videos") else "image"}],
    }
    external = (task.get("task_info") or {}).get("external_task_id")
    if external is not None:
        body["external_id"] = external
    return body


def signature_headers(secrets: Sequence[str], msg_id: str, timestamp: int,
                      body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers signing ``body`` with every one of ``secrets``."""
    when = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    text = body.decode("utf-8")
    signatures = [Webhook(secret).sign(msg_id, when, text) for secret in secrets]
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": " ".join(signatures)}
