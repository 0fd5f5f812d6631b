"""The client's read-only queries: pages of tasks, a task by id or by ``external_task_id``.

Legacy lookups by external id (``KlingClient(external_id_query=...)``): ``"path"`` (the
default) = ``GET <path>/X``, the path segment holding the task id or the external id, as the
2026 official pages settle it (reference §3.1); gateways may need an older form: ``"query"``
= ``GET <path>?external_task_id=X``, ``"path-flag"`` = ``GET <path>/X?external_task_id=true``,
``"path-param"`` = ``GET <path>/X?external_task_id=X``.  New-standard tasks are looked up
through ``GET /tasks?task_ids=`` / ``?external_task_ids=`` (§12.1; an unknown id is simply
absent from ``data``) and listed with ``POST /tasks`` (cursor pages, §12.2).

A lookup says "no such task" (None) only when the reply proves it: HTTP 404 / 1203, HTTP 400 /
1201 "Task not found by id/external id: X" (what the official host answers, §3.1, §4), or a
``/tasks`` reply without it; a reconciling create must never take an unreadable reply for
"absent" and pay twice.
"""

from __future__ import annotations

import datetime
from collections.abc import AsyncGenerator, Iterable, Mapping
from typing import Any

import attrs

from ._endpoints import Endpoint, OutputKind
from ._errors import (
    InvalidRequestError,
    KlingError,
    NotFoundError,
    ResponseDecodeError,
    ValidationError,
)
from ._http import CallTransport
from ._models.task import Task, TaskStatus
from ._results import parse_task
from ._settings import ExternalIdQuery

#: The new standard's unified task query and listing path (no ``/v1``, reference §12).
TASKS_PATH = "/tasks"
#: ``POST /tasks`` page size bounds (``limit``, reference §12.2).
MAX_LIST_LIMIT = 500
#: ``product_type`` filter values of ``POST /tasks`` (``try-on`` is sent as ``try_on``).
PRODUCT_TYPES = ("video", "image", "try_on")


@attrs.frozen(kw_only=True)
class TaskPage:
    """One page of ``list_tasks``: ``page_num`` and its tasks (newest first, as Kling sends)."""

    page_num: int
    tasks: tuple[Task, ...]

    def __iter__(self) -> Any:
        return iter(self.tasks)

    def __len__(self) -> int:
        return len(self.tasks)


async def task_pages(calls: CallTransport, endpoint: Endpoint, *, page_size: int,
                     start_page: int, max_pages: int | None) -> AsyncGenerator[TaskPage, None]:
    """``KlingClient.list_tasks(endpoint)``: pages from ``start_page`` until a short page (or
    ``max_pages``); ``page_size`` in [1, 500] and page numbers in [1, 1000] (Kling's).  A
    new-standard endpoint has no list of its own: ``ValidationError`` (use ``POST /tasks``,
    ``list_tasks()`` without an endpoint)."""
    if endpoint.standard == "new":
        raise ValidationError("endpoint", "has no list of its own (new standard): call "
                              "list_tasks() without an endpoint, filtered by product_type",
                              endpoint.name)
    if not 1 <= page_size <= 500:
        raise ValidationError("pageSize", "must be in [1, 500]", page_size)
    if not 1 <= start_page <= 1000:
        raise ValidationError("pageNum", "must be in [1, 1000]", start_page)
    last = 1000 if max_pages is None else min(1000, start_page + max_pages - 1)
    for page in range(start_page, last + 1):
        data = await calls.call(
            "GET", endpoint.path, params={"pageNum": str(page), "pageSize": str(page_size)}
        )
        items = data if isinstance(data, list) else []
        yield TaskPage(page_num=page, tasks=tuple(parse_task(i) for i in items))
        if len(items) < page_size:
            return


async def find_by_external_id(calls: CallTransport, endpoint: Endpoint, external_task_id: str,
                              form: ExternalIdQuery, subject: object = None) -> Task | None:
    """The task created on ``endpoint`` with ``external_task_id``, or None if the server says
    there is none; ``subject`` is passed to the transport (its retries' events name it)."""
    ext = checked_id(external_task_id)
    if endpoint.standard == "new":
        return await _find_new_by_external_id(calls, endpoint, ext, subject)
    try:
        if form == "path":
            data = await calls.call("GET", endpoint.task_path(ext), subject=subject)
        elif form == "query":
            data = await calls.call("GET", endpoint.path,
                                    params={"external_task_id": ext}, subject=subject)
        else:
            flag = "true" if form == "path-flag" else ext
            data = await calls.call("GET", endpoint.task_path(ext),
                                    params={"external_task_id": flag}, subject=subject)
    except NotFoundError:
        return None
    except InvalidRequestError as exc:
        if says_not_found(exc):
            return None
        raise
    return _task_with_external_id(data, ext, endpoint)


async def _find_new_by_external_id(calls: CallTransport, endpoint: Endpoint, ext: str,
                                   subject: object) -> Task | None:
    """``GET /tasks?external_task_ids=ext`` (exact: one id, one answer); None when the reply
    (a list) does not hold it."""
    try:
        data = await calls.call("GET", TASKS_PATH, params={"external_task_ids": ext},
                                subject=subject)
    except InvalidRequestError as exc:
        if isinstance(exc, NotFoundError) or says_not_found(exc):
            return None
        raise
    if not isinstance(data, list):
        raise ResponseDecodeError(
            f"lookup by external_task_id {ext!r} on /tasks: data is {_kind(data)}, not a list")
    return _task_with_external_id(data, ext, endpoint)


async def get_new_task(calls: CallTransport, task_id: str) -> Task:
    """The new-standard task ``task_id``: ``GET /tasks?task_ids=<id>``; ``NotFoundError``
    when the reply does not hold it."""
    tid = checked_id(task_id)
    data = await calls.call("GET", TASKS_PATH, params={"task_ids": tid})
    if not isinstance(data, list):
        raise ResponseDecodeError(f"/tasks reply for task {tid!r}: data is {_kind(data)}, "
                                  "not a list")
    for item in data:
        task = parse_task(item)
        if task.task_id == tid:
            return task
    raise NotFoundError(f"no task {tid!r} in the /tasks reply (unknown, or not visible yet)",
                        http_status=None, code=None)


def _kind(value: Any) -> str:
    return "a JSON object" if isinstance(value, Mapping) else f"a {type(value).__name__}"


TimeValue = int | datetime.datetime


def epoch_ms(name: str, value: TimeValue | None, *, high: int | None = None) -> int | None:
    """A time as milliseconds since the epoch: an aware datetime, or an int of ms >= 0 (and at
    most ``high`` when given); None stays None; ``ValidationError`` naming ``name``
    otherwise."""
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            raise ValidationError(name, "must be a timezone-aware datetime (or ms since the "
                                  "epoch)", value)
        value = int(value.timestamp() * 1000)
    if (isinstance(value, bool) or not isinstance(value, int) or value < 0
            or (high is not None and value > high)):
        raise ValidationError(name, "must be milliseconds since the epoch (an int >= 0) or "
                              "an aware datetime", value)
    return value


def _values(name: str, value: str | Iterable[str] | None, allowed: tuple[str, ...],
            spell: Mapping[str, str]) -> list[str]:
    """A filter's values: one or several, each respelled (``spell``) and checked."""
    if value is None:
        return []
    items: list[Any] = [value] if isinstance(value, str) else list(value)
    found: list[str] = []
    for item in items:
        raw = item.value if isinstance(item, TaskStatus) else item
        text = spell.get(raw, raw) if isinstance(raw, str) else None
        if text not in allowed:
            raise ValidationError(name, f"must be one of {list(allowed)}", item)
        if text is not None and text not in found:
            found.append(text)
    return found


#: The wire spelling of each status filter value (the new standard spells success
#: ``succeeded``); a ``TaskStatus`` is a str, so it is respelled the same way.
_STATUS_WIRE = {"succeed": "succeeded"}
_STATUS_VALUES = ("submitted", "processing", "succeeded", "failed")


def listing_body(*, status: str | Iterable[str] | None, product_type: str | Iterable[str] | None,
                 start_time: TimeValue | None, end_time: TimeValue | None,
                 limit: int) -> dict[str, Any]:
    """The first ``POST /tasks`` body (reference §12.2), checked: ``ValidationError`` names
    the field before anything is sent."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIST_LIMIT:
        raise ValidationError("limit", f"must be an int in [1, {MAX_LIST_LIMIT}]", limit)
    body: dict[str, Any] = {"limit": limit}
    start, end = epoch_ms("start_time", start_time), epoch_ms("end_time", end_time)
    if start is not None and end is not None and not start < end:
        raise ValidationError("start_time", "must be before end_time", start_time)
    if start is not None:
        body["start_time"] = start
    if end is not None:
        body["end_time"] = end
    filters = [{"key": "status", "values": _values("status", status, _STATUS_VALUES,
                                                   _STATUS_WIRE)},
               {"key": "product_type", "values": _values(
                   "product_type", product_type, PRODUCT_TYPES, {"try-on": "try_on"})}]
    kept = [f for f in filters if f["values"]]
    if kept:
        body["filters"] = kept
    return body


async def listed_tasks(calls: CallTransport, body: Mapping[str, Any], *,
                       max_pages: int | None) -> AsyncGenerator[Task, None]:
    """``KlingClient.list_tasks()`` without an endpoint: the tasks of ``POST /tasks`` pages,
    following ``next_cursor`` (the same filters and limit on every page) while ``has_more``,
    and never a cursor twice (a server repeating one would loop forever), or past
    ``max_pages``.  A reply that is not ``data{result: [...]}`` is a ``ResponseDecodeError``."""
    if max_pages is not None and (isinstance(max_pages, bool) or not isinstance(max_pages, int)
                                  or max_pages < 1):
        raise ValidationError("max_pages", "must be an int >= 1 or None", max_pages)
    request = dict(body)
    seen: set[str] = set()
    pages = 0
    while max_pages is None or pages < max_pages:
        data = await calls.call("POST", TASKS_PATH, body=request)
        pages += 1
        if not isinstance(data, Mapping) or not isinstance(data.get("result"), list):
            raise ResponseDecodeError(
                f"POST /tasks reply: data is {_kind(data)} without a result list")
        for item in data["result"]:
            yield parse_task(item)
        cursor = data.get("next_cursor")
        if data.get("has_more") is not True or not isinstance(cursor, str) or not cursor:
            return
        if cursor in seen:
            raise ResponseDecodeError("POST /tasks reply repeats a next_cursor: stopping")
        seen.add(cursor)
        request = {**body, "cursor": cursor}


def _task_with_external_id(data: Any, ext: str, endpoint: Endpoint) -> Task | None:
    """The task with external id ``ext`` in a lookup reply: a task object, or a list (the new
    standard's ``[]`` for none).  None only when the reply proves there is none; a reply that
    cannot be read, or a task object naming another external id, is a ``ResponseDecodeError``
    (a caller reconciling a create must not take it for "absent" and pay twice), and so is a
    task whose results show it belongs to an endpoint of another kind."""
    try:
        if isinstance(data, list):
            for item in data:
                task = parse_task(item)
                if task.external_task_id == ext:
                    return task
            return None
        task = parse_task(data)
    except KlingError:
        raise
    except Exception as exc:  # whatever a hostile reply may hold
        raise ResponseDecodeError(
            f"lookup by external_task_id {ext!r}: unreadable reply ({type(exc).__name__})"
        ) from None
    _check_found(task, ext, endpoint)
    if task.external_task_id is None:
        return attrs.evolve(task, external_task_id=ext)
    return task


def _check_found(task: Task, ext: str, endpoint: Endpoint) -> None:
    """Raise ``ResponseDecodeError`` if the task a lookup found is provably not the one asked
    for: another external id, or results of another kind than ``endpoint`` makes."""
    if task.external_task_id is not None and task.external_task_id != ext:
        raise ResponseDecodeError(
            f"lookup by external_task_id {ext!r} answered with task {task.task_id!r} of "
            f"external_task_id {task.external_task_id!r}"
        )
    made = {kind for kind in _OUTPUT_FIELDS if getattr(task, _OUTPUT_FIELDS[kind])}
    if made and not made & set(endpoint.outputs):
        raise ResponseDecodeError(
            f"lookup by external_task_id {ext!r} on {endpoint.name} answered with task "
            f"{task.task_id!r}, whose results ({', '.join(sorted(made))}) are not what it "
            f"makes ({', '.join(endpoint.outputs)}): another endpoint's task"
        )


#: The ``Task`` field holding each output kind of ``Endpoint.outputs``.
_OUTPUT_FIELDS: dict[OutputKind, str] = {
    "image": "images", "video": "videos", "audio": "audios", "voice": "voices",
    "element": "elements",
}


def says_not_found(exc: InvalidRequestError) -> bool:
    """Whether a 1201 is the official API's answer for an unknown id ("Task not found by
    id/external id: ...", reference §3.1), not a refused parameter."""
    return exc.code == 1201 and "not found" in exc.message.lower()


def lookup_safe(ext: Any) -> str:
    """A user's external_task_id, refused (``ValidationError``) before anything is sent if it
    could not be looked up exactly as sent: an ambiguous create could then never be
    reconciled (or a lookup for a trimmed id would find another task)."""
    if not isinstance(ext, str):
        raise ValidationError("external_task_id", "must be a string", ext)
    if (ext != ext.strip() or any(c in "/?#" or not c.isprintable() for c in ext)):
        raise ValidationError(
            "external_task_id", "must be printable, without '/', '?', '#' or surrounding "
            "whitespace (it is looked up in a URL to reconcile a lost create)", ext)
    return ext


def checked_id(value: str) -> str:
    """A task id (or external id) the user gave, trimmed; ``ValidationError`` if empty or
    holding '/', '?' or '#'."""
    text = str(value).strip()
    if not text or "/" in text or "?" in text or "#" in text:
        raise ValidationError("task_id", "must be a non-empty id without '/', '?' or '#'", value)
    return text
