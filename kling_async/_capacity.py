"""The adaptive, weighted limit on in-flight tasks (Kling's per-account parallel-task limit).

A task holds ``weight`` slots (image: ``n``, video: 1) from the create POST until the poller
sees it end.  Waiters are served first come, first served.  The limit adapts:

- on a 1303 rejection: ``limit = max(min_limit, confirmed)``, where ``confirmed`` counts the
  slots of tasks the server has accepted and not yet been seen to end, i.e. no more than
  what the server demonstrably holds for us (the rejected task's slots return at once);
- after every ``grow_after`` tasks (default: twice the current limit) that end with no rejection in
  between while work was waiting for capacity, ``limit += 1``, up to ``max_limit``: a slow
  probe for capacity freed elsewhere.  An idle or unsaturated limit never grows.

A single task heavier than the limit is admitted when nothing else is in flight, so it can
never wait forever.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from ._config import Limits

#: Called once a deferred request's slots are taken; returns False to give them back.
Grant = Callable[[], bool]


class AdaptiveCapacity:
    """Weighted FIFO semaphore whose size adapts to 1303 rejections."""

    def __init__(self, max_limit: int, *, initial: int | None = None, min_limit: int = 1,
                 grow_after: int | None = None):
        self.max_limit = max_limit
        self.min_limit = max(1, min(min_limit, max_limit))
        self.limit = max(self.min_limit, min(initial or max_limit, max_limit))
        self.in_use = 0
        self.confirmed = 0
        self.rejections = 0
        self._grow_after = grow_after
        self._clean_ends = 0
        # FIFO entries (weight, future, None) for a task awaiting acquire() (a bare asyncio
        # future, cancellable by anyio scopes), or (weight, None, grant) for a deferred grant
        # (see defer()): a job not started yet, with no task.
        self._waiters: deque[tuple[int, asyncio.Future[None] | None, Grant | None]] = deque()
        self._waking = False

    @classmethod
    def for_limits(cls, limits: Limits) -> AdaptiveCapacity:
        """The capacity ``Limits`` describe (``max_in_flight``, ``initial_in_flight``...)."""
        return cls(limits.max_in_flight, initial=limits.initial_in_flight,
                   min_limit=limits.min_in_flight, grow_after=limits.grow_after)

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def _fits(self, weight: int) -> bool:
        return self.in_use + weight <= self.limit or self.in_use == 0

    def available(self, weight: int) -> bool:
        """Whether ``try_acquire(weight)`` would succeed right now."""
        return not self._waiters and self._fits(weight)

    def try_acquire(self, weight: int) -> bool:
        """Take ``weight`` slots now if they fit and nobody is queued ahead; never waits."""
        if self.available(weight):
            self.in_use += weight
            return True
        return False

    async def acquire(self, weight: int) -> None:
        """Wait (FIFO) until ``weight`` slots fit, then take them."""
        if self.try_acquire(weight):
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (weight, granted, None)
        self._waiters.append(entry)
        try:
            await granted
        except BaseException:
            if granted.done() and not granted.cancelled():
                # slots were granted to us while we were being cancelled: give them back
                self.release(weight, clean=False)
            else:
                if entry in self._waiters:  # _wake() may have dropped it already
                    self._waiters.remove(entry)
                self._wake()
            raise

    def defer(self, weight: int, grant: Grant) -> None:
        """Queue ``grant`` (FIFO, behind every waiter) for ``weight`` slots: once they fit they
        are taken and ``grant()`` is called, synchronously, from the ``release`` that freed
        them; if it returns False (or raises) the slots go back.  Nothing waits meanwhile: a
        queued job costs no task and no future."""
        self._waiters.append((weight, None, grant))

    def hold(self, weight: int) -> None:
        """Count slots already held on the server (an attached task), even past the limit."""
        self.in_use += weight
        self.confirmed += weight

    def confirm(self, weight: int) -> None:
        """The server accepted the task holding ``weight`` acquired slots."""
        self.confirmed += weight

    def release(self, weight: int, *, clean: bool = True, confirmed: bool = False) -> None:
        """Return slots; ``confirmed`` when they belonged to an accepted task, ``clean`` when
        that task ended normally while work was waiting (which lets the limit grow)."""
        in_use = self.in_use - weight
        self.in_use = in_use if in_use > 0 else 0
        if confirmed:
            self.confirmed = max(0, self.confirmed - weight)
        if not self._waiters:  # nothing to grow or wake: the common case
            return
        if clean:
            self._clean_ends += 1
            threshold = self._grow_after or 2 * self.limit
            if self._clean_ends >= threshold and self.limit < self.max_limit:
                self.limit += 1
                self._clean_ends = 0
        self._wake()

    def reject(self, weight: int) -> None:
        """A create holding ``weight`` slots got 1303: shrink and give its slots back."""
        self.rejections += 1
        self._clean_ends = 0
        self.limit = max(self.min_limit, min(self.limit, self.confirmed))
        self.release(weight, clean=False)

    def _wake(self) -> None:
        # Not re-entered: a grant may start a submission that gives slots back at once (an
        # eager task factory), which calls release() and so _wake() again; the loop below
        # re-reads the queue after every grant, so that inner call has nothing to do.
        if self._waking:
            return
        self._waking = True
        try:
            waiters = self._waiters
            while waiters:
                weight, granted, grant = waiters[0]
                if not self._fits(weight):
                    return
                waiters.popleft()
                if granted is None:  # a deferred grant
                    assert grant is not None
                    self.in_use += weight
                    accepted = False
                    try:
                        accepted = grant()
                    finally:
                        if not accepted:
                            self.in_use -= weight  # declined (closing) or failed: slots back
                    continue
                if granted.done():  # cancelled while queued (its waiter is about to remove it)
                    continue
                self.in_use += weight
                granted.set_result(None)
        finally:
            self._waking = False
