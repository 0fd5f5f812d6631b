"""The unified task query of the new standard (reference §12): ``GET /tasks``, ``POST /tasks``.

Every task of the caller's account answers here, legacy ones included, in the new shape
(§12.3, §12.4).

- ``GET /tasks?task_ids=a,b`` or ``?external_task_ids=x,y`` (comma-separated, never both):
  the tasks found, in the order asked; unknown ids are simply absent.  More than
  ``tasks_id_limit`` ids (20 live) is 400 / 1201 "... cannot exceed 20 in total".
- ``POST /tasks`` ``{start_time, end_time, cursor, limit, filters}``: the caller's tasks created
  in ``[start_time, end_time]`` (ms; default the 30 days up to now), newest first, ``limit``
  (<= 500, default 100) per page, filtered by ``status`` and ``product_type`` (values of one
  key OR-ed, keys AND-ed); ``data{result, count, next_cursor, has_more}``.  A cursor carries the
  window, so ``start_time``/``end_time`` are ignored with one.  A page scans the account's
  tasks from the cursor on (the simulator's tasks are bounded by ``max_tasks``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from multidict import MultiMapping

from ._newtasks import new_status
from ._replies import Reply, fail, ok
from ._state import SimState
from ._tasks import SimTask, pack_of

_DAY_MS = 24 * 3600 * 1000
_LIMIT = (1, 500, 100)
_FILTER_VALUES: Mapping[str, frozenset[str]] = {
    "status": frozenset({"submitted", "processing", "succeeded", "failed"}),
    "product_type": frozenset({"video", "image", "try_on", "try-on"}),
}


def tasks_by_ids(state: SimState, query: MultiMapping[str], account: str) -> Reply:
    """``GET /tasks``: the caller's tasks by ``task_ids`` or ``external_task_ids``."""
    keys = [k for k in ("task_ids", "external_task_ids") if k in query]
    if len(keys) != 1:
        return fail(1201, "exactly one of task_ids and external_task_ids is required "
                          "(they cannot be used together)")
    key = keys[0]
    asked = [part.strip() for raw in query.getall(key) for part in raw.split(",")]
    asked = [i for i in asked if i]
    if not asked:
        return fail(1201, f"{key}: must name at least one id")
    limit = state.config.tasks_id_limit
    if len(asked) > limit:
        return fail(1201, f"The number of {key} cannot exceed {limit} in total")
    unique = list(dict.fromkeys(asked))
    store = state.store
    find = store.find if key == "task_ids" else store.find_external
    found = [t for t in (find(account, i) for i in unique) if t is not None]
    state.stats.tasks_queries += 1
    state.stats.tasks_ids_per_query[len(unique)] += 1
    return ok([state.render_new_now(t) for t in found])


def tasks_listing(state: SimState, body: Mapping[str, Any], account: str) -> Reply:
    """``POST /tasks``: one page of the caller's tasks, newest first."""
    parsed = _listing_request(state, body)
    if isinstance(parsed, str):
        return fail(1201, parsed)
    limit, window, before, filters = parsed
    start, end = window
    now = state.clock.now()
    to_ms = state.clock.to_ms
    page: list[SimTask] = []
    has_more = False
    for task in state.store.newest_first(account, before):
        created = to_ms(task.created)
        if created < start:
            break
        if created > end or not _matches(task, task.status_at(now), filters):
            continue
        if len(page) == limit:
            has_more = True
            break
        page.append(task)
    cursor = _cursor(page[-1].seq, start, end) if has_more else ""
    state.stats.tasks_listings += 1
    return ok({
        "result": [state.render_new(t, t.status_at(now)) for t in page],
        "count": len(page),
        "next_cursor": cursor,
        "has_more": has_more,
    })


Filters = dict[str, frozenset[str]]


def _listing_request(
    state: SimState, body: Mapping[str, Any]
) -> tuple[int, tuple[int, int], int | None, Filters] | str:
    """``(limit, (start_ms, end_ms), before_seq, filters)`` of a listing body, or the error."""
    limit = _int_field(body.get("limit"), "limit", *_LIMIT)
    if isinstance(limit, str):
        return limit
    filters = _filters(body.get("filters"))
    if isinstance(filters, str):
        return filters
    cursor = body.get("cursor")
    if cursor not in (None, ""):
        decoded = _read_cursor(cursor)
        if decoded is None:
            return "cursor: not a next_cursor this server gave"
        seq, start, end = decoded
        return limit, (start, end), seq, filters
    window = _window(state, body)
    if isinstance(window, str):
        return window
    return limit, window, None, filters


def _window(state: SimState, body: Mapping[str, Any]) -> tuple[int, int] | str:
    big = 2**62
    now_ms = state.clock.to_ms(state.clock.now())
    end = _int_field(body.get("end_time"), "end_time", 0, big, now_ms)
    if isinstance(end, str):
        return end
    start = _int_field(body.get("start_time"), "start_time", 0, big, max(0, end - 30 * _DAY_MS))
    if isinstance(start, str):
        return start
    if start >= end:
        return f"start_time must be earlier than end_time (got {start} >= {end})"
    return start, end


def _int_field(raw: Any, name: str, low: int, high: int, default: int) -> int | str:
    """An integer body field (a number or a digit string, as both are seen live) in
    [low, high], or the error message."""
    if raw is None or raw == "":
        return default
    value: int | None = None
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= 19:
        value = int(raw)
    if value is None or not low <= value <= high:
        return f"{name}: must be an integer in [{low}, {high}] (got {raw!r})"
    return value


def _filters(raw: Any) -> Filters | str:
    """``filters`` as key -> allowed values, or the error message."""
    if raw is None:
        return {}
    if not isinstance(raw, list):
        return "filters: must be an array of {key, values}"
    out: Filters = {}
    for i, item in enumerate(raw):
        key = item.get("key") if isinstance(item, Mapping) else None
        values = item.get("values") if isinstance(item, Mapping) else None
        allowed = _FILTER_VALUES.get(key) if isinstance(key, str) else None
        if allowed is None or not isinstance(key, str):
            return f"filters[{i}].key: must be one of {sorted(_FILTER_VALUES)} (got {key!r})"
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            return f"filters[{i}].values: must be an array of strings"
        wrong = [v for v in values if v not in allowed]
        if wrong:
            return f"filters[{i}].values: {wrong[0]!r} is not one of {sorted(allowed)}"
        if values:
            out[key] = out.get(key, frozenset()) | frozenset(values)
    return out


def _matches(task: SimTask, status: str, filters: Filters) -> bool:
    wanted = filters.get("status")
    if wanted is not None and new_status(status) not in wanted:
        return False
    kinds = filters.get("product_type")
    return kinds is None or pack_of(task) in kinds


def _cursor(seq: int, start: int, end: int) -> str:
    raw = f"sim1:{seq}:{start}:{end}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_cursor(cursor: Any) -> tuple[int, int, int] | None:
    if not isinstance(cursor, str) or len(cursor) > 200:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, ValueError):
        return None
    parts = text.split(":")
    if len(parts) != 4 or parts[0] != "sim1" or not all(
            p.isascii() and p.isdigit() and len(p) <= 19 for p in parts[1:]):
        return None
    return int(parts[1]), int(parts[2]), int(parts[3])
