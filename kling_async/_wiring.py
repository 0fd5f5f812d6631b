"""How the client's parts see the client: its calls, its submissions, its statistics.

- ``ClientCalls``: the transport as the client's own calls use it (a call cut by the client
  closing says so);
- ``Submissions``: the ``SubmissionHost`` a ``Submitter`` works with: the running submission
  tasks (plain asyncio tasks, by job; ``aclose()`` cancels them), the as_completed wake-up,
  and the lookup by external id;
- ``ClientStatistics``: the frozen snapshot ``KlingClient.statistics()`` returns.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from decimal import Decimal
from typing import Any

import attrs

from ._capacity import AdaptiveCapacity
from ._endpoints import Endpoint
from ._errors import AmbiguousSubmissionError, ClientClosedError
from ._events import EventHub
from ._http import CallTransport, Transport
from ._models.task import Task
from ._poller import Poller
from ._registry import Job, JobState, TaskRegistry
from ._submitter import Submitter


class ClientCalls:
    """The transport as the client's own calls use it: a call that fails because the client
    was closed under it (its session closed mid-request) raises ``ClientClosedError``, not
    aiohttp's bare ``RuntimeError("Session is closed")``."""

    __slots__ = ("_transport", "_closed")

    def __init__(self, transport: CallTransport, closed: Callable[[], bool]) -> None:
        self._transport = transport
        self._closed = closed

    @property
    def idle_slot(self) -> bool:
        return self._transport.idle_slot

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            return await self._transport.call(method, path, **kwargs)
        except AmbiguousSubmissionError:
            raise  # a create that may have reached the server says so, closed or not
        except Exception as exc:
            if self._closed():
                raise ClientClosedError(
                    f"the client was closed while {method} {path} was under way"
                ) from exc
            raise


#: (endpoint, external_task_id, the job it is for) -> the task, or None if provably none.
Find = Callable[[Endpoint, str, Job], Awaitable[Task | None]]


class Submissions:
    """The client's running submissions, and the ``SubmissionHost`` its Submitter sees."""

    __slots__ = ("_tasks", "settled", "_find")

    def __init__(self, *, settled: Callable[[], None], find: Find) -> None:
        #: The running Submitter.run tasks (each removed as it ends).
        self._tasks: set[asyncio.Task[None]] = set()
        #: ``SubmissionHost.settled``: the client's own, called as it is (once per job).
        self.settled = settled
        self._find = find

    def __len__(self) -> int:
        """How many submissions are running."""
        return len(self._tasks)

    def spawn(self, job: Job, submission: Coroutine[Any, Any, None]) -> None:
        """Run a job's submission (once it has capacity) as a bare asyncio task, kept here
        until it ends and cancelled by ``stop()`` (anyio's ``start_soon`` costs several times
        more per task, and this runs once per job)."""
        task = asyncio.get_running_loop().create_task(submission)
        if not task.done():  # an eager task factory may have run it to its end already
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def find_by_external_id(self, endpoint: Endpoint, external_task_id: str,
                                  job: Job) -> Task | None:
        return await self._find(endpoint, external_task_id, job)

    async def stop(self) -> None:
        """Cancel every running submission and wait for them all to end."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        self._tasks.clear()


@attrs.frozen(kw_only=True)
class ClientStatistics:
    """A frozen snapshot of what the client is doing (``KlingClient.statistics()``)."""

    jobs_total: int
    jobs_by_state: Mapping[str, int]
    in_flight_slots: int
    capacity_limit: int
    capacity_max: int
    waiting_for_capacity: int
    #: Jobs holding capacity whose create is under way (a task each; queued jobs hold none).
    submissions_running: int
    concurrency_rejections: int
    requests: int
    requests_by_method: Mapping[str, int]
    retries: int
    polls: int
    sweeps: int
    sweep_pages: int
    reconciliations: int
    events_dropped: int
    #: Per concurrency bucket (``"video/kling-3.0"``: model version and pack type, reference
    #: §6): its adaptive limit, and the slots it holds (``capacity_limit`` and
    #: ``in_flight_slots`` are the account-wide figures, ``capacity_max`` the ceiling).
    capacity_by_bucket: Mapping[str, int] = attrs.field(factory=dict)
    in_flight_slots_by_bucket: Mapping[str, int] = attrs.field(factory=dict)
    #: What the finished tasks cost, as their replies reported it (``Task.cost``): resource
    #: pack units in all, units by pack type (``"video"``, ``"image"``, ``"audio"``; ``""``
    #: when not stated, as on legacy replies), and cash by currency (``""``: not stated).
    units_spent: Decimal = Decimal(0)
    units_spent_by_package: Mapping[str, Decimal] = attrs.field(factory=dict)
    cash_spent: Mapping[str, Decimal] = attrs.field(factory=dict)
    #: Webhook requests by outcome (``kling_async.WEBHOOK_OUTCOMES``: applied, duplicate...).
    webhooks: Mapping[str, int] = attrs.field(factory=dict)
    #: ``GET /tasks?task_ids=`` calls that polled new-standard jobs (up to
    #: ``Limits.max_ids_per_task_query`` jobs each; ``polls`` counts single GETs).
    task_queries: int = 0


def snapshot(registry: TaskRegistry, capacity: AdaptiveCapacity, events: EventHub,
             transport: Transport | None, poller: Poller | None, submitter: Submitter | None,
             submissions: Submissions, webhooks: Mapping[str, int] | None = None
             ) -> ClientStatistics:
    """The statistics of a client's parts (those not made yet, before it opens, count 0)."""
    counts = registry.counts
    return ClientStatistics(
        jobs_total=registry.total,
        jobs_by_state={s.value: counts[s] for s in JobState},
        in_flight_slots=capacity.in_use,
        capacity_limit=capacity.limit,
        capacity_max=capacity.max_limit,
        waiting_for_capacity=counts[JobState.WAITING],
        submissions_running=len(submissions),
        concurrency_rejections=capacity.rejections,
        requests=transport.counters.requests if transport else 0,
        requests_by_method=dict(transport.counters.by_method) if transport else {},
        retries=transport.counters.retries if transport else 0,
        polls=poller.counters.polls if poller else 0,
        sweeps=poller.counters.sweeps if poller else 0,
        sweep_pages=poller.counters.sweep_pages if poller else 0,
        reconciliations=submitter.reconciliations if submitter else 0,
        events_dropped=events.dropped,
        capacity_by_bucket=capacity.limits_by_bucket(),
        in_flight_slots_by_bucket=capacity.in_use_by_bucket(),
        units_spent=registry.costs.units,
        units_spent_by_package=dict(registry.costs.units_by_package),
        cash_spent=dict(registry.costs.cash_by_currency),
        webhooks=dict(webhooks or {}),
        task_queries=poller.counters.task_queries if poller else 0,
    )
