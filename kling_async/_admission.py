"""``Admission``: a capacity shared beyond one client (``KlingClient(store=...)``).

A client's own capacity (``_capacity``) bounds its process; an ``Admission`` bounds every
process sharing the store (``PostgresStore``): before each create POST the submitter awaits
``admit(job, find)``, which returns once the account's shared ledger holds a slot for the
job, and ``ended(job)`` is called when the job ends (the slot is freed, or kept as ambiguous
when the task may still run); ``closed()`` when the client closes.
``find(endpoint, external_task_id)`` lets it reconcile reservations whose process died.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Protocol

from ._endpoints import Endpoint
from ._models.task import Task
from ._registry import Job
from ._settings import ClientSettings
from ._webhooks import CallbackRelay

#: Look a task up by external_task_id: the Task, or None if provably absent.
Find = Callable[[Endpoint, str, Job], Awaitable["Task | None"]]


class Admission(Protocol):
    async def admit(self, job: Job, find: Find) -> None:
        """Return once the shared ledger holds the job's slots (waits for them)."""

    def created(self, job: Job) -> None:
        """The job's create was accepted: its task id is known (for webhooks on any worker)."""

    def ended(self, job: Job) -> None:
        """The job ended: free its slots, unless its task may still run."""

    def closed(self) -> None:
        """The client closed: the slots of its unfinished jobs stay counted, to be reconciled
        (by external_task_id) by whoever waits for capacity.  Idempotent."""


class CapacityStore(Protocol):
    def admission(self, account: str, limit: int) -> Admission:
        """The shared admission of ``account`` (a name from ``account_id``), whose limit
        for every process together is ``limit`` slots."""
        ...

    def callback_relay(self) -> CallbackRelay:
        """A client's share of the verified callbacks (webhooks on any worker)."""
        ...


def shared_admission(store: CapacityStore | None, settings: ClientSettings, key: str | None
                     ) -> Admission | None:
    """The client's shared admission (None without a store): its account is named by a hash
    of its key and base URL, its limit is ``Limits.max_in_flight``."""
    if store is None:
        return None
    return store.admission(account_id(settings.base_url, key or ""),
                           settings.limits.max_in_flight)


def account_id(base_url: str, key: str) -> str:
    """A stable name for the account of ``key`` at ``base_url``: a hash, never the key."""
    digest = hashlib.sha256(f"{base_url}\n{key}".encode("utf-8", "surrogatepass"))
    return f"acct-{digest.hexdigest()[:16]}"
