"""Kling envelopes (reference §3.3, §4): ``{"code", "message", "request_id", "data"}``.

Handlers build ``Reply`` values (status, business code, body bytes, headers); the route
wrapper turns them into ``aiohttp.web.Response`` after stats and faults had their say.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any, NamedTuple

from aiohttp import web

#: Reference §4: business code -> HTTP status.
_HTTP_FOR_CODE: dict[int, int] = {
    **dict.fromkeys((1000, 1001, 1002, 1003, 1004), 401),
    **dict.fromkeys((1100, 1101, 1102, 1302, 1303, 1304), 429),
    1103: 403,
    **dict.fromkeys((1200, 1201, 1300, 1301), 400),
    **dict.fromkeys((1202, 1203), 404),
    5000: 500,
    5001: 503,
    5002: 504,
}


def http_status_for(code: int) -> int:
    """The HTTP status Kling pairs with a business code."""
    return _HTTP_FOR_CODE.get(code, 400 if code < 5000 else 500)


class Reply(NamedTuple):
    """A response to send: HTTP status, business code (0 = success), body and headers."""

    status: int
    code: int
    body: bytes
    headers: Mapping[str, str] | None = None
    content_type: str = "application/json"

    def to_response(self) -> web.Response:
        """The aiohttp response for this reply."""
        return web.Response(
            status=self.status,
            body=self.body,
            headers=self.headers,
            content_type=self.content_type,
        )


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def request_id() -> str:
    """A fresh request id (uuid4 text)."""
    return str(uuid.uuid4())


def ok(data: Any) -> Reply:
    """HTTP 200, code 0, ``message`` ``SUCCEED``."""
    return Reply(
        200, 0, _dumps({"code": 0, "message": "SUCCEED", "request_id": request_id(), "data": data})
    )


def fail(
    code: int, message: str, *, headers: Mapping[str, str] | None = None, status: int | None = None
) -> Reply:
    """An error envelope with ``data: null`` and the HTTP status of ``code``."""
    body = {"code": code, "message": message, "request_id": request_id(), "data": None}
    return Reply(status or http_status_for(code), code, _dumps(body), headers)


def json_object(raw: bytes) -> dict[str, Any] | Reply:
    """A request body parsed as a JSON object, or the 1201 reply saying why it is not one."""
    try:
        body = json.loads(raw)
    except ValueError:
        return fail(1201, "request body is not valid JSON")
    if not isinstance(body, dict):
        return fail(1201, "request body must be a JSON object")
    return body


def rate_limited(retry_after: float | None) -> Reply:
    """429 / 1302, with ``Retry-After`` iff one is configured.

    The header carries the configured seconds as given (``2``, or ``0.25`` for fast tests;
    fractional values are a simulator liberty, RFC 9110 wants whole seconds).
    """
    headers = None
    if retry_after is not None:
        headers = {"Retry-After": f"{retry_after:g}"}
    return fail(1302, "request too fast: rate limit exceeded (simulated)", headers=headers)


def malformed(reply: Reply) -> Reply:
    """HTTP 200 with the first half of ``reply``'s JSON: a body no JSON parser accepts."""
    cut = reply.body[: max(1, len(reply.body) // 2)]
    return Reply(200, reply.code, cut + b'\x00{"truncated', reply.headers)
