"""Time limits for many requests on one loop timer (``Timeouts.total``).

aiohttp's own ``total`` timeout arms a loop timer for every request and cancels it when the
request ends; at thousands of requests that churn through the event loop's timer heap cost
more CPU than all of the SDK's own per-request bookkeeping (benchmarks/README.md).  Here every
request of a transport has the same limit, so deadlines fall in start order and a FIFO is a
priority queue: one timer, armed for the oldest watched request, serves them all.

- ``start()`` watches the current task's request: an entry at the back of the FIFO (ended
  entries at the front are dropped first, so it stays about as long as the requests in
  flight, and it is compacted if a long request holds up the front);
- ``end(watch)`` is O(1): the entry is marked and dropped later;
- when the timer fires, each expired request's task is cancelled, as aiohttp's timer does, and
  ``expired(watch)`` tells the request, where it catches the cancellation, to raise
  ``TimeoutError`` instead, unless the task was cancelled by someone else as well (counted
  with ``Task.cancelling()``/``uncancel()`` on Python 3.11+, as ``asyncio.timeout`` does).
"""

from __future__ import annotations

import asyncio
import sys
from collections import deque
from typing import Any

#: A watch: [deadline, the task (None once ended or expired), cancel requests pending on the
#: task at start, cancelled by its deadline and not yet answered].  A list, not an object: one
#: is made per request.
Watch = list[Any]


class Deadlines:
    """One ``limit`` (seconds) for every watched request, enforced by one loop timer."""

    __slots__ = ("_loop", "_limit", "_watches", "_timer", "_armed_for", "_compact_at",
                 "_min_compact")

    def __init__(self, loop: asyncio.AbstractEventLoop, limit: float, *, live: int = 64):
        self._loop = loop
        self._limit = limit
        self._watches: deque[Watch] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._armed_for = 0.0  # the deadline the timer is armed for
        # Compact when the FIFO is this long (``live``: how many requests can be in flight).
        self._min_compact = self._compact_at = 2 * live + 64

    def __len__(self) -> int:
        """Entries held (live and not yet dropped): bounded by about twice the live ones."""
        return len(self._watches)

    def start(self) -> Watch:
        """Watch the current task's request from now; pass the watch to ``end`` when done."""
        loop = self._loop
        task = asyncio.current_task(loop)
        if task is None:
            raise RuntimeError("a request must run inside a task")
        watches = self._drop_ended()
        if len(watches) >= self._compact_at:
            self._compact()  # in place: ``watches`` is still the FIFO
        pending = 0  # cancel requests already pending on the task (Python 3.11+ counts them)
        if sys.version_info >= (3, 11):
            pending = task.cancelling()
        deadline = loop.time() + self._limit
        watch = [deadline, task, pending, False]
        watches.append(watch)
        if self._timer is None:
            self._arm(deadline)
        return watch

    @staticmethod
    def end(watch: Watch) -> None:
        """The request ended (in any way): it is no longer watched.  If its deadline cancelled
        it but nothing caught that (``expired`` was not asked), the cancel request is taken
        back, so it cannot linger on the task."""
        watch[1] = None
        if watch[3]:
            Deadlines.expired(watch)

    @staticmethod
    def expired(watch: Watch) -> bool:
        """Whether the request's cancellation came from its deadline alone: call it where the
        request caught ``CancelledError``; True means raise ``TimeoutError`` instead."""
        if not watch[3]:
            return False
        watch[3] = False  # answered once: our cancel request is taken back here
        if sys.version_info < (3, 11):
            return True  # Python 3.10 cannot tell; aiohttp's own timer does the same
        task = asyncio.current_task()
        assert task is not None
        # Another cancel request still pending means someone else cancels the task too.
        pending: int = watch[2]
        return task.uncancel() <= pending

    def close(self) -> None:
        """The transport is closing: stop the timer unless a request is still watched (one
        made from a user's task may still run; it keeps its deadline, and the timer stops
        by itself once the FIFO is empty)."""
        if not self._drop_ended() and self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _drop_ended(self) -> deque[Watch]:
        watches = self._watches
        while watches and watches[0][1] is None:
            watches.popleft()
        return watches

    def _expire(self) -> None:
        # Everything due by the time the timer was armed for is due now, even if the loop ran
        # it a little early (its clock resolution): no re-arming for the same deadline.
        now = max(self._loop.time(), self._armed_for)
        self._timer = None
        watches = self._watches
        while watches:
            watch = watches[0]
            task = watch[1]
            if task is not None:
                if watch[0] > now:
                    self._arm(watch[0])
                    return
                watch[1] = None
                watch[3] = True
                task.cancel()
            watches.popleft()

    def _arm(self, when: float) -> None:
        self._armed_for = when
        self._timer = self._loop.call_at(when, self._expire)

    def _compact(self) -> None:
        """Drop ended entries held behind a long-running one, in place (O(n), at most every
        n/2 starts); the order, and so the FIFO's sorting, is kept."""
        watches = self._watches
        live = [w for w in watches if w[1] is not None]
        watches.clear()
        watches.extend(live)
        self._compact_at = max(self._min_compact, 2 * len(live))
