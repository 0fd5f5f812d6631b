"""``results.jsonl`` from the journal, written atomically, and ``task_to_dict``.

One line per job of the batch, in input order::

    {"id", "endpoint", "task_id", "external_task_id", "status", "urls", "files", "error",
     "cost"}

``status`` is ``not_sent`` for a job never submitted (``error`` then says why, if this run
tried and could not send it), else the journal status.  ``cost`` is what the finished task
cost (``Cost.to_dict()``: ``units``, ``cash``, ``currency``, ``list_price`` as decimal strings,
and the ``billing`` entries), or None when it reported nothing; ``cost_line`` sums the rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .._costs import CostTally, parse_cost
from .._models.task import Task
from ._jobsfile import BatchJob
from ._storage import write_atomically
from ._store import JobRecord
from ._text import escape_surrogates

RESULTS_NAME = "results.jsonl"


def task_to_dict(task: Task) -> dict[str, Any]:
    """A JSON-able dict of a ``Task`` as the journal keeps it: ``Task.to_dict()`` (every
    output kind, the cost, finite numbers only)."""
    return task.to_dict()


def result_row(job: BatchJob, record: JobRecord | None,
               unsent_error: str | None = None) -> dict[str, Any]:
    """The ``results.jsonl`` line of one job (``unsent_error``: why a job without a record
    was not sent)."""
    if record is None:
        return {"id": job.id, "endpoint": job.endpoint, "task_id": None,
                "external_task_id": None, "status": "not_sent", "urls": [], "files": [],
                "error": unsent_error, "cost": None}
    return {
        "id": job.id,
        "endpoint": job.endpoint,
        "task_id": record.task_id,
        "external_task_id": record.external_task_id,
        "status": record.status.value,
        "urls": list(record.urls),
        "files": [record.files[u] for u in record.urls if u in record.files],
        "error": record.error,
        "cost": _journaled_cost(record),
    }


def _journaled_cost(record: JobRecord) -> dict[str, Any] | None:
    """The cost of a finished job's journaled task, read again (a journal may be old or
    edited: what is not a cost is None)."""
    if not record.status.finished or not isinstance(record.task, Mapping):
        return None
    cost = parse_cost(record.task.get("cost"))
    return None if cost is None else cost.to_dict()


def total_cost(rows: Iterable[Mapping[str, Any]]) -> CostTally:
    """What the finished tasks of ``results.jsonl`` rows cost together (``.units``,
    ``.units_by_package``, ``.cash_by_currency``, ``.tasks``)."""
    tally = CostTally()
    for row in rows:
        tally.add(parse_cost(row.get("cost")))
    return tally


def cost_line(rows: Iterable[Mapping[str, Any]]) -> str:
    """One line for people: what the batch's finished tasks cost, from ``results.jsonl`` rows
    (``"cost: 4.8 units (video 4.8)"``, ``"cost: none reported"``)."""
    return f"cost: {total_cost(rows).summary()}"


def json_line(value: Any) -> str:
    """``value`` as one line of JSON (UTF-8 text as it is; lone surrogates as ``\\udXXX``
    escapes, which a JSON reader turns back into the same string)."""
    return escape_surrogates(json.dumps(value, ensure_ascii=False))


def write_results(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """Write ``rows`` (from ``result_row``) as ``results.jsonl`` at ``path`` atomically (temp
    file + rename).  ``BatchStorageError`` if it cannot be written (the old file, if any,
    stays whole)."""
    write_atomically(path, (json_line(row) + "\n" for row in rows))
