"""``as_completed()``'s machinery: lazy refill of a bounded backlog, and cheap wake-ups.

A stream submits requests from its iterable only while fewer than twice the current capacity
limit wait unsent, and yields each of its jobs as it ends.  Its task sleeps on one ``Signal``,
set when one of its jobs ends, when a submission settles while the backlog has room (so it
refills), and when the client closes.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncGenerator, Callable, Iterable
from typing import Any

from ._capacity import AdaptiveCapacity
from ._endpoints import Request
from ._errors import ClientClosedError
from ._registry import Job, TaskRegistry

_END: Any = object()  # the end of a source; Any, so next(source, _END) keeps the item type


class Signal:
    """The wake-up of one waiting task: ``wait()`` gives a future the next ``set()`` completes.
    A ``set()`` while nobody waits does nothing: the task looks at what it waits for before it
    waits, with no await in between.  (Not ``asyncio.Event``: a bare future on a known loop,
    without Event's per-wait running-loop lookup, a ``getpid()`` system call on CPython 3.11.)"""

    __slots__ = ("_loop", "_waiter")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._waiter: asyncio.Future[None] | None = None

    def set(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def wait(self) -> asyncio.Future[None]:
        """A new future, done at the next ``set()``."""
        waiter = self._waiter = self._loop.create_future()
        return waiter


class _Stream:
    """One ``as_completed()`` loop's state: its source, its finished jobs, its signal."""

    __slots__ = ("source", "exhausted", "pending", "ready", "signal")

    def __init__(self, items: Iterable[Job | Request], loop: asyncio.AbstractEventLoop) -> None:
        self.source = iter(items)
        self.exhausted = False
        self.pending = 0  # jobs taken from the source and not yet yielded
        self.ready: collections.deque[Job] = collections.deque()
        self.signal = Signal(loop)  # set once per finished job (hot)

    def finished(self, job: Job) -> None:
        self.ready.append(job)
        self.signal.set()


def _closed_message(stream: _Stream) -> str:
    unsent = "" if stream.exhausted else "; the requests not yet taken were not submitted"
    return (f"the client closed with {stream.pending} job(s) of this as_completed() "
            f"unfinished; their tasks may still run: re-attach with client.attach(){unsent}")


class Completions:
    """The running ``as_completed()`` streams of one client."""

    def __init__(self, registry: TaskRegistry, capacity: AdaptiveCapacity) -> None:
        self._registry = registry
        self._capacity = capacity
        self._signals: set[Signal] = set()

    def backlog_full(self) -> bool:
        """Whether twice the capacity limit (never below 1) of jobs wait unsent."""
        return self._registry.unsent >= 2 * self._capacity.limit

    def settled(self) -> None:
        """A submission ended (accepted or failed): wake the streams, which refill if they
        still have requests to send."""
        if self._signals and not self.backlog_full():
            for signal in self._signals:
                signal.set()

    def close(self) -> None:
        """The client is closing: wake every stream (each then raises ``ClientClosedError``)."""
        for signal in list(self._signals):
            signal.set()

    async def stream(self, items: Iterable[Job | Request],
                     opened: Callable[[], asyncio.AbstractEventLoop],
                     submit: Callable[[Request], Job], is_open: Callable[[], bool]
                     ) -> AsyncGenerator[Job, None]:
        """Yield the jobs of ``items`` as they end, submitting requests with ``submit`` as the
        backlog has room; ``ClientClosedError`` if the client closes first.  ``opened()``,
        called as the loop starts, is the client's event loop (it raises if the client is not
        open)."""
        stream = _Stream(items, opened())
        self._signals.add(stream.signal)
        try:
            while True:
                if is_open():  # (closing: nothing more is submitted; the error below says so)
                    self._refill(stream, submit)
                while stream.ready:
                    stream.pending -= 1
                    yield stream.ready.popleft()
                if stream.pending == 0 and stream.exhausted:
                    return
                if not is_open():
                    raise ClientClosedError(_closed_message(stream))
                # No await since the last look at the backlog: if it has room now (submissions
                # were accepted while the consumer ran), refill instead of waiting, so no wake
                # from settled() can be missed.
                if not stream.exhausted and not self.backlog_full():
                    continue
                await stream.signal.wait()  # a job of ours ended, the backlog got room, closing
        finally:
            self._signals.discard(stream.signal)

    def _refill(self, stream: _Stream, submit: Callable[[Request], Job]) -> None:
        """Take items from the source (submitting requests) while the backlog has room."""
        while not stream.exhausted and not self.backlog_full():
            item = next(stream.source, _END)
            if item is _END:
                stream.exhausted = True
                return
            job = item if isinstance(item, Job) else submit(item)
            stream.pending += 1
            job.add_done_callback(stream.finished)
