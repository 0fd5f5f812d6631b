"""``SpendGuard``: a batch's spending limit in units (``kling-async run --max-units N``).

Before anything is sent, ``check`` estimates the units of the jobs still to spend (never sent,
or sent and not finished) from the price table (``kling_async._prices``, an ESTIMATE) and
refuses (``SpendLimitError``) when over the limit, or when a job has no price and
``allow_unpriced`` was not given (such a job counts 0 in the estimate then).

During the run, the units the server reports for each task that ends (``Task.cost``: the new
standard's ``billing[]`` or the legacy ``final_unit_deduction``) are summed in ``spent``.  A
create is let through only while ``spent`` + the estimates of the tasks still running + this
job's estimate stay within the limit: submitting stops when the reported deductions reach
it, and before a job the running ones would take over it; a create that waited for capacity
is checked again right before its POST.  Tasks already running go on (they are paid for already).
"""

from __future__ import annotations

from collections.abc import Iterable

from .._costs import Cost
from .._endpoints import endpoint_row
from .._errors import KlingError
from .._prices import estimate_units
from ._jobsfile import BatchJob

#: Jobs named at most in a refusal.
_NAMED = 5


class SpendLimitError(KlingError, ValueError):
    """A batch's estimated cost is over ``--max-units`` (or cannot be estimated): nothing was
    sent."""


def _model_of(job: BatchJob) -> str:
    """The model a job names: the new standard's path model, else the request's
    ``model_name``, else ``default`` (the endpoint's own)."""
    return endpoint_row(job.endpoint).model or getattr(job.request, "model_name", None) \
        or "default"


def job_units(job: BatchJob) -> float | None:
    """The estimated units of one job (None: no price in the table)."""
    return estimate_units(job.endpoint, job.request)


class SpendGuard:
    """Keeps a batch run within ``max_units`` (None: no limit, only counts ``spent``)."""

    def __init__(self, max_units: float | None = None, *, allow_unpriced: bool = False):
        self.max_units = max_units
        self.allow_unpriced = allow_unpriced
        self.spent = 0.0
        self.estimated = 0.0
        self.stopped = False
        self._running: dict[str, float] = {}

    def check(self, jobs: Iterable[BatchJob]) -> float:
        """The estimate of ``jobs`` (those the run will pay for); ``SpendLimitError`` if it
        is over the limit, or some job has no price and unpriced jobs are not allowed."""
        total = 0.0
        unpriced: list[str] = []
        for job in jobs:
            units = job_units(job)
            if units is None:
                unpriced.append(f"{job.id} ({job.endpoint}, model {_model_of(job)})")
            else:
                total += units
        self.estimated = total
        if self.max_units is None:
            return total
        if unpriced and not self.allow_unpriced:
            named = ", ".join(unpriced[:_NAMED]) + (
                f" and {len(unpriced) - _NAMED} more" if len(unpriced) > _NAMED else "")
            raise SpendLimitError(
                f"--max-units: no price is known for {len(unpriced)} job(s): {named}; nothing "
                "was sent.  --allow-unpriced counts them as 0 in the estimate (the units the "
                "server reports still stop the run at the limit)")
        if total > self.max_units:
            raise SpendLimitError(
                f"--max-units {self.max_units:g}: the batch is estimated at {total:g} units "
                f"(price table, an estimate); nothing was sent.  Raise --max-units or send "
                "fewer jobs")
        return total

    def allow(self, job: BatchJob) -> bool:
        """Whether ``job`` may be sent now (False stops submitting for good)."""
        if self.max_units is None:
            return True
        committed = self.spent + sum(self._running.values())
        over = committed + (job_units(job) or 0.0) > self.max_units
        if self.stopped or over or self.spent >= self.max_units:
            self.stopped = True
            return False
        return True

    def reached(self) -> bool:
        """Whether the units reported spent reached the limit (then nothing more is sent)."""
        if self.max_units is not None and self.spent >= self.max_units:
            self.stopped = True
        return self.stopped

    def sent(self, job: BatchJob) -> None:
        """``job`` was handed over for its create: its estimate counts until it ends."""
        self._running[job.id] = job_units(job) or 0.0

    def ended(self, job_id: str, cost: Cost | None) -> None:
        """A task ended; ``cost`` is what the server reported it cost (None: nothing)."""
        self._running.pop(job_id, None)
        if cost is not None and cost.units is not None:
            self.spent += float(cost.units)

    def forget(self, job_id: str) -> None:
        """A job ended without a task (never created): nothing is spent for it."""
        self._running.pop(job_id, None)
