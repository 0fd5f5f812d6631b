"""Typed lifecycle events, delivered to an ``on_event`` callback, ``KlingClient.events()`` and logs.

Every event is a frozen value with ``at`` (the client clock, seconds) and, where it concerns
one job, that ``job``.  Delivery never blocks the client: once a slow ``events()`` reader's
buffer is full, newer events are dropped for it (counted in ``statistics().events_dropped``);
what it has buffered is kept.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import anyio
import attrs
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ._models.task import Task, TaskStatus

if TYPE_CHECKING:
    from ._registry import Job

log = logging.getLogger("kling_async")

@attrs.frozen
class Event:
    """Base of every lifecycle event."""

    at: float
    job: Job | None = attrs.field(default=None, repr=False, kw_only=True)


@attrs.frozen
class JobSubmitted(Event):
    """The server accepted the create: the job now has a ``task_id``."""

    task_id: str = ""
    external_task_id: str | None = None
    attempts: int = 1


@attrs.frozen
class StatusChanged(Event):
    """The task's server-side status changed (``old`` is None for the first status seen)."""

    task_id: str = ""
    old: TaskStatus | None = None
    new: TaskStatus = TaskStatus.SUBMITTED


@attrs.frozen
class RetryScheduled(Event):
    """A request failed in a retryable way and will be tried again after ``delay`` seconds."""

    method: str = ""
    path: str = ""
    attempt: int = 0
    delay: float = 0.0
    reason: str = ""


@attrs.frozen
class RateLimited(Event):
    """The server said "too fast" (1302/429) or "too many tasks" (1303); waiting ``delay`` s."""

    code: int | None = None
    delay: float = 0.0
    retry_after: float | None = None


@attrs.frozen
class WaitingForCapacity(Event):
    """A job is queued client-side until ``weight`` slots free under the adaptive ``limit``."""

    weight: int = 1
    in_use: int = 0
    limit: int = 0


@attrs.frozen
class Reconciling(Event):
    """A create failed ambiguously; the task is being looked up by ``external_task_id``."""

    external_task_id: str | None = None
    reason: str = ""


@attrs.frozen
class JobSucceeded(Event):
    """The task ended with ``succeed``."""

    task: Task | None = None


@attrs.frozen
class JobFailed(Event):
    """The job ended with an error (task failed, timed out, or could not be submitted)."""

    error: BaseException | None = None


@attrs.frozen
class WebhookReceived(Event):
    """A webhook request was handled (``KlingClient.handle_webhook``): ``outcome`` is one of
    ``kling_async.WEBHOOK_OUTCOMES`` (``applied``, ``poked``, ``duplicate``, ``forged``...),
    ``status`` the HTTP status answered; ``job`` is the job it concerned, if any."""

    outcome: str = ""
    status: int = 0
    webhook_id: str | None = None
    task_id: str | None = None


class EventHub:
    """Fans events out to the callback, every ``events()`` subscriber, and the logger."""

    def __init__(self, callback: Callable[[Event], Any] | None, buffer: int = 10_000):
        self._callback = callback
        self._buffer = buffer
        self._subscribers: list[MemoryObjectSendStream[Event]] = []
        self.dropped = 0
        self.closed = False

    @property
    def active(self) -> bool:
        """True when anyone listens, the debug log included (lets hot paths skip building
        events nobody would see)."""
        return (self._callback is not None or bool(self._subscribers)
                or log.isEnabledFor(logging.DEBUG))

    def emit(self, event: Event) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%r", event)
        if self._callback is not None:
            try:
                self._callback(event)
            except Exception:  # a user's callback must never break the client
                log.exception("on_event callback raised; event dropped for it")
        for stream in self._subscribers:
            try:
                stream.send_nowait(event)
            except anyio.WouldBlock:
                self.dropped += 1
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                self._subscribers.remove(stream)

    async def subscribe(self) -> AsyncIterator[Event]:
        send, receive = anyio.create_memory_object_stream[Event](self._buffer)
        if self.closed:
            send.close()  # nothing will ever be emitted: the iterator ends at once
        else:
            self._subscribers.append(send)
        return _drain(receive, send, self)

    def close(self) -> None:
        self.closed = True
        for stream in self._subscribers:
            stream.close()
        self._subscribers.clear()


async def _drain(
    receive: MemoryObjectReceiveStream[Event], send: MemoryObjectSendStream[Event], hub: EventHub
) -> AsyncIterator[Event]:
    try:
        async with receive:
            async for event in receive:
                yield event
    finally:
        if send in hub._subscribers:
            hub._subscribers.remove(send)
        send.close()
