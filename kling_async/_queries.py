"""The client's read-only queries: a page of tasks, and a task by its ``external_task_id``.

The lookup form (``KlingClient(external_id_query=...)``) is UNCERTAIN in Kling's docs
(reference §3.1): ``"query"`` = ``GET <path>?external_task_id=X``, ``"path-flag"`` =
``GET <path>/X?external_task_id=true``, ``"path-param"`` = ``GET <path>/X?external_task_id=X``.
A lookup says "no such task" (None) only when the reply proves it; a reconciling create must
never take an unreadable reply for "absent" and pay twice.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import attrs

from ._endpoints import Endpoint
from ._errors import (
    InvalidRequestError,
    KlingError,
    NotFoundError,
    ResponseDecodeError,
    ValidationError,
)
from ._http import CallTransport
from ._models.task import Task
from ._results import parse_task
from ._settings import ExternalIdQuery


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
    """``KlingClient.list_tasks``: pages from ``start_page`` until a short page (or
    ``max_pages``); ``page_size`` in [1, 500] and page numbers in [1, 1000] (Kling's)."""
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
    try:
        if form == "query":
            data = await calls.call("GET", endpoint.path,
                                    params={"external_task_id": ext}, subject=subject)
        else:
            flag = "true" if form == "path-flag" else ext
            data = await calls.call("GET", endpoint.task_path(ext),
                                    params={"external_task_id": flag}, subject=subject)
    except NotFoundError:
        return None
    except InvalidRequestError as exc:
        if _says_not_found(exc):
            return None
        raise
    return _task_with_external_id(data, ext, endpoint)


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
    foreign = task.videos if endpoint.kind == "image" else task.images
    own = task.images if endpoint.kind == "image" else task.videos
    if foreign and not own:
        raise ResponseDecodeError(
            f"lookup by external_task_id {ext!r} on {endpoint.name} answered with task "
            f"{task.task_id!r}, whose results are not {endpoint.kind}s (another endpoint's task)"
        )


def _says_not_found(exc: InvalidRequestError) -> bool:
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
