"""Simulated tasks: creation from a request body, lazy lifecycle, and the wire task object.

A task's whole future is fixed when it is created (queue end, end, outcome), so its status at
any simulated instant is computed on demand: no timers.  ``submitted`` until ``started``,
``processing`` until ``ended``, then ``succeed`` or ``failed``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from typing import Any, Literal

import attrs

from .._endpoints import ENDPOINTS, task_weight
from .._models.task import TaskStatus
from ._config import SimulatorConfig
from ._outputs import file_names, legacy_result, parent_video
from ._pricing import bucket_of, decimal_text, units_of, usd_of, video_seconds


def outputs_for(endpoint: str, body: Mapping[str, Any]) -> int:
    """How many results a task makes: its concurrency weight (``task_weight``), since an
    image task holds one slot per image and a video task makes one video."""
    return task_weight(endpoint, body)


class SimTask:
    """One task: identity, request, and its precomputed timeline (simulated seconds)."""

    __slots__ = (
        "account",
        "body",
        "bucket",
        "callback_shape",
        "callback_url",
        "created",
        "deleted",
        "ended",
        "endpoint",
        "external_task_id",
        "failed",
        "failure_message",
        "is_image",
        "outputs",
        "row",
        "seq",
        "standard",
        "started",
        "task_id",
        "units",
        "video_seconds",
        "watermark",
    )

    def __init__(
        self,
        *,
        task_id: str,
        endpoint: str,
        account: str,
        body: Mapping[str, Any],
        created: float,
        duration: float,
        queue_fraction: float,
        failed: bool,
        failure_message: str,
    ) -> None:
        self.task_id = task_id
        self.seq = 0  # creation number, set by the store
        self.endpoint = endpoint
        self.account = account
        self.body = body
        row = ENDPOINTS[endpoint]
        self.row = row
        self.standard = row.standard
        options = row.options_of(body)
        ext = options.get("external_task_id")
        self.external_task_id: str | None = str(ext) if ext not in (None, "") else None
        cb = options.get("callback_url")
        self.callback_url: str | None = cb if isinstance(cb, str) and cb else None
        self.callback_shape: Literal["legacy", "new"] = (
            "new" if row.standard == "new" else "legacy")
        wm = options.get("watermark_info")
        self.watermark = isinstance(wm, Mapping) and wm.get("enabled") is True
        self.is_image = row.kind == "image"
        self.outputs = outputs_for(endpoint, body)
        self.video_seconds = 0.0 if self.is_image else video_seconds(row, body)
        self.bucket = bucket_of(row, body)
        self.units = units_of(row, body, self.outputs)
        self.created = created
        self.started = created + duration * queue_fraction
        self.ended = created + duration
        self.failed = failed
        self.failure_message = failure_message
        self.deleted = False  # what a build task made was deleted (testing/_resources.py)

    @property
    def weight(self) -> int:
        """Concurrency slots held from creation until the end: ``task_weight`` of the body."""
        return self.outputs

    def status_at(self, now: float) -> str:
        """The wire status at simulated time ``now``."""
        if now >= self.ended:
            return TaskStatus.FAILED.value if self.failed else TaskStatus.SUCCEED.value
        if now >= self.started:
            return TaskStatus.PROCESSING.value
        return TaskStatus.SUBMITTED.value

    def changed_at(self, status: str) -> float:
        """Simulated instant at which the task entered ``status``."""
        if status == TaskStatus.SUBMITTED:
            return self.created
        if status == TaskStatus.PROCESSING:
            return self.started
        return self.ended

    def file_names(self) -> list[str]:
        """Names of the result files served under ``/__sim/files/{task_id}/``."""
        return file_names(self)


def draw_duration(config: SimulatorConfig, endpoint: str, rng: random.Random) -> float:
    """Simulated seconds the next task runs; always draws once so streams stay aligned."""
    gauss = rng.gauss(0.0, 1.0)
    fixed = config.fixed_latency(endpoint)
    if fixed is not None:
        return fixed
    return config.median_for(endpoint) * math.exp(config.latency_sigma * gauss)


def create_data(task: SimTask, to_ms: Any) -> dict[str, Any]:
    """The ``data`` of a create response: id, ``submitted``, external id and timestamps."""
    ms = to_ms(task.created)
    info: dict[str, Any] = {}
    if task.external_task_id is not None:
        info["external_task_id"] = task.external_task_id
    return {
        "task_id": task.task_id,
        "task_status": TaskStatus.SUBMITTED.value,
        "task_info": info,
        "created_at": ms,
        "updated_at": ms,
    }


def pack_of(task: SimTask) -> str:
    """The resource-pack type a task is paid from: ``image`` or ``video``."""
    return "image" if task.is_image else "video"


def charged_units(task: SimTask, status: str) -> float:
    """Units charged for ``task`` in ``status``: its price once it succeeded, else 0."""
    return task.units if status == TaskStatus.SUCCEED else 0.0


def _deductions(task: SimTask, status: str, charge_type: str) -> dict[str, Any]:
    """The legacy cost fields (reference §3.3): ``final_unit_deduction`` (units, a string) and,
    when the cash balance pays, ``final_balance_deduction{quota, list_price}``."""
    units = charged_units(task, status)
    if charge_type != "cash":
        return {"final_unit_deduction": decimal_text(units)}
    usd = decimal_text(usd_of(units, pack_of(task)))
    return {"final_unit_deduction": "0",
            "final_balance_deduction": {"quota": usd, "list_price": usd}}


def task_object(
    task: SimTask, status: str, base_url: str, to_ms: Any, charge_type: str = "unit"
) -> dict[str, Any]:
    """The legacy wire task object (reference §3.3) as it looks in ``status``."""
    info: dict[str, Any] = {}
    if task.external_task_id is not None:
        info["external_task_id"] = task.external_task_id
    result: dict[str, Any] = {}
    if status == TaskStatus.SUCCEED:
        result = legacy_result(task, base_url)
        parent = parent_video(task, base_url)
        if parent is not None:
            info["parent_video"] = parent
    return {
        "task_id": task.task_id,
        "task_status": status,
        "task_status_msg": task.failure_message if status == TaskStatus.FAILED else "",
        "task_info": info,
        "task_result": result,
        "watermark_info": {"enabled": task.watermark},
        **_deductions(task, status, charge_type),
        "created_at": to_ms(task.created),
        "updated_at": to_ms(task.changed_at(status)),
    }


@attrs.frozen(kw_only=True)
class TaskRecord:
    """A snapshot of one simulated task, as returned by ``KlingSimulator.tasks()``.

    ``status`` is the status at the moment of the snapshot; ``body`` is the create request
    body exactly as received; ``created_at`` is epoch milliseconds (simulated); ``bucket`` is
    the concurrency bucket it counts in (``"video/kling-3.0"``).
    """

    task_id: str
    external_task_id: str | None
    endpoint: str
    account: str
    status: TaskStatus
    created_at: int
    ends_at: int
    failed: bool
    weight: int
    body: Mapping[str, Any]
    bucket: str = ""
