"""The simulator's account endpoints (reference §2.18), without the ``/v1`` prefix (and under
``/kling`` too):

- ``GET /account/costs?start_time&end_time[&resource_pack_name]``: a video and an image pack
  of ``PACK_UNITS`` units each, less what the account's succeeded tasks cost; ``data`` wraps
  a second envelope (``{code, msg, resource_pack_subscribe_infos}``).  At most one call per
  simulated second per account (Kling's QPS <= 1): a faster one gets 1302.
- ``POST /account/billing/balance`` and ``/account/billing/package``: one deduction per
  succeeded task of the account whose end lies in ``[start_time, end_time]``, newest first,
  ``limit`` (1-500, default 500) per page, ``next_cursor`` / ``has_more``; a cursor overrides
  every other field.  Filters: ``api_key_name`` (the account's name, e.g. ``default``) and,
  for packages, ``product_type`` (``video`` | ``image`` | ``try-on``), ``package_name``,
  ``package_id`` (these two exclusive).  A package deduction counts down from
  ``PACK_UNITS``; a balance deduction is the task's cash price (``_pricing.usd_of``, as its
  ``final_balance_deduction``).
Every refusal is a 1201 reply naming the field.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from .._endpoints import ENDPOINTS
from ._pricing import decimal_text, usd_of
from ._replies import Reply, fail, json_object, ok, rate_limited
from ._routes import PREFIXES, api_route
from ._state import SimState
from ._tasks import SimTask, pack_of

PACK_UNITS = 10_000.0
_MAX_LIMIT = 500
_PACKAGE_KEYS = ("api_key_name", "product_type", "package_name", "package_id")
_PRODUCT_TYPES = ("video", "image", "try-on")


def product_type(task: SimTask) -> str:
    """The pack a task draws on: image, try-on or video (TTS, voices, avatar included)."""
    if task.endpoint == "images/kolors-virtual-try-on":
        return "try-on"
    return "image" if ENDPOINTS[task.endpoint].kind == "image" else "video"


def _units(state: SimState, task: SimTask) -> float:
    """Pack units a succeeded task took, as its ``final_unit_deduction`` says: its price, or
    0 when the cash balance pays."""
    return 0.0 if state.config.charge_type == "cash" else float(decimal_text(task.units))


class AccountRoutes:
    """The handlers; the last costs call per account (simulated seconds)."""

    def __init__(self, state: SimState) -> None:
        self._state = state
        self._last_costs: dict[str, float] = {}

    def install(self, app: web.Application) -> None:
        """Register the routes on ``app`` (both prefixes)."""
        state = self._state
        for prefix in PREFIXES:
            costs = f"{prefix}/account/costs"
            app.router.add_get(costs, api_route(state, "GET", costs, self._costs),
                               allow_head=False)
            for kind in ("balance", "package"):
                path = f"{prefix}/account/billing/{kind}"
                app.router.add_post(path, api_route(state, "POST", path, self._billing(kind),
                                                    query=True))

    def _succeeded(self, account: str) -> list[SimTask]:
        now = self._state.clock.now()
        return [t for t in self._state.store.all_tasks()
                if t.account == account and t.status_at(now) == "succeed"]

    async def _costs(self, request: web.Request, account: str) -> Reply:
        state = self._state
        query = request.query
        for name in ("start_time", "end_time"):
            if not query.get(name, "").isdigit():
                return fail(1201, f"{name}: required, milliseconds since the epoch")
        now = state.clock.now()
        last = self._last_costs.get(account)
        if last is not None and now - last < 1.0:
            return rate_limited(state.config.rate_limit_retry_after)
        self._last_costs[account] = now
        spent = {"video": 0.0, "image": 0.0}
        for task in self._succeeded(account):
            kind = product_type(task)
            if kind in spent:
                spent[kind] += _units(state, task)
        packs = [self._pack(kind, used) for kind, used in spent.items()]
        wanted = query.get("resource_pack_name")
        if wanted:
            packs = [p for p in packs if p["resource_pack_name"] == wanted]
        return ok({"code": 0, "msg": "success", "resource_pack_subscribe_infos": packs})

    def _pack(self, kind: str, used: float) -> dict[str, Any]:
        start = self._state.clock.epoch_ms
        return {"resource_pack_name": f"sim {kind} pack", "resource_pack_id": f"sim-{kind}",
                "resource_pack_type": "decreasing_total", "total_quantity": PACK_UNITS,
                "remaining_quantity": round(PACK_UNITS - used, 3), "purchase_time": start,
                "effective_time": start, "invalid_time": start + 365 * 86_400_000,
                "status": "online"}

    def _billing(self, kind: str) -> Any:
        async def billing(request: web.Request, account: str) -> Reply:
            body = json_object(await request.read())
            if isinstance(body, Reply):
                return body
            query = _query(body, kind)
            if isinstance(query, str):
                return fail(1201, query)
            offset, first = query
            matching = [d for d in self._details(kind, account) if _matches(d, first)]
            matching = [d for d in matching
                        if first["start_time"] <= int(d["deduction_time"]) <= first["end_time"]]
            limit = first["limit"]
            page = matching[offset:offset + limit]
            more = offset + limit < len(matching)
            cursor = _cursor(offset + limit, first) if more else ""
            return ok({"result": {"detail": page, "count": len(page)}, "next_cursor": cursor,
                       "has_more": more})

        return billing

    def _details(self, kind: str, account: str) -> list[dict[str, Any]]:
        state = self._state
        tasks = sorted(self._succeeded(account), key=lambda t: t.ended)
        left = dict.fromkeys(_PRODUCT_TYPES, PACK_UNITS)
        found = []
        for task in tasks:
            units = _units(state, task)
            pack = product_type(task)
            detail = _detail(state, task, units)
            if kind == "package":
                detail.update(package_id=f"sim-{pack}", product_type=pack,
                              unit_before_deduction=left[pack],
                              unit_after_deduction=round(left[pack] - units, 3))
                left[pack] = round(left[pack] - units, 3)
            else:
                cash = round(usd_of(task.units, pack_of(task)), 4)
                detail.update(cash_type="balance", balance_before_deduction=1000.0,
                              deduction_amount=cash, balance_after_deduction=1000.0 - cash,
                              list_price=cash, currency="USD")
            found.append(detail)
        found.reverse()  # newest first
        return found


def _detail(state: SimState, task: SimTask, units: float) -> dict[str, Any]:
    video = not task.is_image
    mode = task.body.get("mode") or ENDPOINTS[task.endpoint].default_mode
    return {
        "task_id": task.task_id, "api_key_name": task.account,
        "product_function": task.endpoint, "model_name": task.body.get("model_name"),
        "resolution": "1080p" if mode == "pro" else "720p",
        "duration": f"{task.video_seconds:.2f}" if video else None,
        "refer_video_input": False if video else None, "video_sound": "off" if video else None,
        "voice_control": False if video else None,
        "deduction_time": str(state.clock.to_ms(task.ended)), "deduction_amount": units,
    }


def _matches(detail: Mapping[str, Any], query: Mapping[str, Any]) -> bool:
    """Values of one key OR-ed, keys AND-ed; ``package_name`` is the pack's id here too."""
    for key, values in query["filters"].items():
        field = "package_id" if key == "package_name" else key
        if detail.get(field) not in values:
            return False
    return True


def _query(body: Mapping[str, Any], kind: str) -> tuple[int, dict[str, Any]] | str:
    """(offset, the first page's query), or the refusal message."""
    cursor = body.get("cursor")
    if cursor:
        return _decode_cursor(cursor)
    start, end = body.get("start_time"), body.get("end_time")
    for name, value in (("start_time", start), ("end_time", end)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return f"{name}: required without a cursor, milliseconds since the epoch"
    limit = body.get("limit", _MAX_LIMIT)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= _MAX_LIMIT:
        return f"limit: must be in [1, {_MAX_LIMIT}]"
    filters = _filters(body.get("filters") or [], kind)
    if isinstance(filters, str):
        return filters
    return 0, {"start_time": start, "end_time": end, "limit": limit, "filters": filters}


def _filters(raw: Any, kind: str) -> dict[str, list[str]] | str:
    keys = _PACKAGE_KEYS if kind == "package" else ("api_key_name",)
    if not isinstance(raw, list):
        return "filters: must be a list"
    found: dict[str, list[str]] = {}
    for i, item in enumerate(raw):
        key: Any = item.get("key") if isinstance(item, dict) else None
        values = item.get("values") if isinstance(item, dict) else None
        if key not in keys or not isinstance(values, list):
            return f"filters[{i}]: key must be one of {', '.join(keys)}, with a values list"
        if key == "product_type" and any(v not in _PRODUCT_TYPES for v in values):
            return f"filters[{i}].values: must be among {', '.join(_PRODUCT_TYPES)}"
        if values:
            found.setdefault(key, []).extend(str(v) for v in values)
    if "package_name" in found and "package_id" in found:
        return "filters: package_name and package_id are mutually exclusive"
    return found


def _cursor(offset: int, query: Mapping[str, Any]) -> str:
    raw = json.dumps({"o": offset, "q": query}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_cursor(cursor: Any) -> tuple[int, dict[str, Any]] | str:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(str(cursor)[:10_000].encode()))
        offset, query = decoded["o"], decoded["q"]
    except (ValueError, binascii.Error, KeyError, TypeError):
        return "cursor: not a next_cursor of this listing"
    if not isinstance(offset, int) or not isinstance(query, dict):
        return "cursor: not a next_cursor of this listing"
    return offset, query


def install_account_routes(app: web.Application, state: SimState) -> None:
    """Register the account routes on ``app``."""
    AccountRoutes(state).install(app)
