"""The new standard's wire shapes (reference §11.2, §12.3): create reply and task object.

Every task, legacy ones included, has a new-standard view: that is how ``/tasks`` shows it
(§12.4: legacy tasks are normalised to ``outputs[]``/``billing[]``) and the body of a
new-standard task's callbacks (§5.2).  Status ``succeed`` is spelled ``succeeded`` here.
"""

from __future__ import annotations

from typing import Any

from .._models.task import TaskStatus
from ._outputs import new_outputs
from ._pricing import decimal_text, usd_of
from ._tasks import SimTask, charged_units, pack_of

#: Wire status of the new standard for the simulator's (legacy-spelled) status.
NEW_STATUS: dict[str, str] = {TaskStatus.SUCCEED.value: "succeeded"}


def new_status(status: str) -> str:
    """``succeed`` -> ``succeeded``; the other statuses are spelled alike."""
    return NEW_STATUS.get(status, status)


def new_create_data(task: SimTask, to_ms: Any) -> dict[str, Any]:
    """The ``data`` of a new-standard create reply: ``id``, ``status``, ``create_time``,
    ``update_time`` and ``external_id`` (only when the request gave one)."""
    ms = to_ms(task.created)
    data: dict[str, Any] = {
        "id": task.task_id,
        "status": TaskStatus.SUBMITTED.value,
        "create_time": ms,
        "update_time": ms,
    }
    if task.external_task_id is not None:
        data["external_id"] = task.external_task_id
    return data


def billing(task: SimTask, status: str, charge_type: str) -> list[dict[str, Any]]:
    """``billing[]``: one entry once the task succeeded (nothing is charged before, or for a
    failure): pack units (``unit``) or the cash price (``cash``)."""
    units = charged_units(task, status)
    if not units:
        return []
    pack = pack_of(task)
    if charge_type == "cash":
        usd = decimal_text(usd_of(units, pack))
        return [{"charge_type": "cash", "cash_type": "balance", "amount": usd,
                 "currency": "USD", "list_price": usd}]
    return [{"charge_type": "unit", "amount": decimal_text(units), "package_type": pack}]


def new_task_object(
    task: SimTask, status: str, base_url: str, to_ms: Any, charge_type: str = "unit"
) -> dict[str, Any]:
    """The §12.3 task object of ``task`` as it looks in ``status``."""
    outputs: list[dict[str, Any]] = []
    if status == TaskStatus.SUCCEED:
        outputs = new_outputs(task, base_url)
    body: dict[str, Any] = {
        "id": task.task_id,
        "status": new_status(status),
        "message": task.failure_message if status == TaskStatus.FAILED else "",
        "create_time": to_ms(task.created),
        "update_time": to_ms(task.changed_at(status)),
    }
    if task.external_task_id is not None:
        body["external_id"] = task.external_task_id
    body["outputs"] = outputs
    body["billing"] = billing(task, status, charge_type)
    return body
