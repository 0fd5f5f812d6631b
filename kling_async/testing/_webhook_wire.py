"""What a simulated callback looks like on the wire (reference §5.2, §5.3).

- ``callback_body``: the body's bytes: the legacy flat shape (the task object of §3.3) or the
  new standard's task object (§12.3), both rendered by ``SimState``.
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


def callback_body(task: Mapping[str, Any]) -> bytes:
    """The raw body of a callback: the task object (legacy §3.3 or new §12.3, as the
    simulator renders it for the shape asked), compact JSON, as Kling sends it."""
    return json.dumps(task, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def signature_headers(secrets: Sequence[str], msg_id: str, timestamp: int,
                      body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers signing ``body`` with every one of ``secrets``."""
    when = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    text = body.decode("utf-8")
    signatures = [Webhook(secret).sign(msg_id, when, text) for secret in secrets]
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": " ".join(signatures)}
