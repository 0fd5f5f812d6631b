"""The adaptive, weighted limits on in-flight tasks: Kling's parallel-task limit, which it counts
per account, **model version** and pack type (reference §6).

Each task counts against one bucket (``concurrency_bucket``: ``"video/kling-3.0"``...) and
holds ``weight`` slots (image: ``n``, video: 1) from the create POST until the poller sees it
end.  Each bucket has a limit of its own, which adapts to that bucket's 1303s only:

- on a 1303: ``limit = max(min_limit, confirmed)``, where ``confirmed`` counts the slots of the
  bucket's tasks the server has accepted and not yet been seen to end, i.e. no more than what
  the server demonstrably holds for us there (the rejected task's slots return at once);
- after every ``grow_after`` tasks of the bucket (default: twice its current limit) that end
  with no rejection in between while work of the bucket was waiting for capacity,
  ``limit += 1``, up to ``max_limit``: a slow probe for capacity freed elsewhere.  An idle or
  unsaturated limit never grows.

So a 1303 on kling-3.0 shrinks kling-3.0's limit and never holds up kling-2.6 work.  Every
bucket starts at ``initial`` (``Limits.initial_in_flight``, default ``max_in_flight``).
``max_limit`` (``Limits.max_in_flight``) is also the account-wide ceiling: the slots of all
buckets together never pass it.  A task starts when its slots fit under its bucket's limit
**and** under that ceiling.

Waiters are served first come, first served within a bucket; across buckets, the oldest waiter
whose bucket has room goes first, so a full bucket never blocks another bucket's work, and
slots under the ceiling go in arrival order.  A single task heavier than its bucket's limit
is admitted when nothing else of its bucket is in flight (and the ceiling has room, or nothing
at all is in flight), so it can never wait forever.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Callable

from ._config import Limits

#: Called once a deferred request's slots are taken; returns False to give them back.
Grant = Callable[[], bool]
#: The bucket of a caller that names none (one account-wide limit, as before buckets).
DEFAULT_BUCKET = ""
#: (arrival number, weight, future, None) for a task awaiting acquire() (a bare asyncio future,
#: cancellable by anyio scopes), or (arrival number, weight, None, grant) for a deferred grant
#: (see defer()): a job not started yet, with no task.
_Waiter = tuple[int, int, "asyncio.Future[None] | None", "Grant | None"]


class Bucket:
    """The slots and adaptive limit of one (model version, pack type) bucket."""

    __slots__ = ("limit", "in_use", "confirmed", "clean_ends", "waiters")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_use = 0
        self.confirmed = 0
        self.clean_ends = 0
        self.waiters: deque[_Waiter] = deque()

    def fits(self, weight: int) -> bool:
        return self.in_use + weight <= self.limit or self.in_use == 0


class AdaptiveCapacity:
    """Weighted FIFO semaphores, one per bucket, whose sizes adapt to 1303 rejections, under
    one account-wide ceiling (``max_limit``)."""

    def __init__(self, max_limit: int, *, initial: int | None = None, min_limit: int = 1,
                 grow_after: int | None = None):
        self.max_limit = max_limit
        self.min_limit = max(1, min(min_limit, max_limit))
        self.initial = max(self.min_limit, min(initial or max_limit, max_limit))
        self.in_use = 0  # slots held, all buckets (kept: read on every take)
        self.rejections = 0
        self._grow_after = grow_after
        self._buckets: dict[str, Bucket] = {}
        self._limits = 0  # the sum of the buckets' limits
        #: How many slots may be in flight now: the buckets' limits together, at most the
        #: ceiling (``initial`` before any task).  Kept up to date where a limit changes
        #: (``_bucket``, ``_set_limit``): read on every backlog check of ``as_completed()``.
        self.limit = self.initial
        self._queued = 0  # waiters, all buckets
        self._arrivals = itertools.count()
        self._waking = False

    @classmethod
    def for_limits(cls, limits: Limits) -> AdaptiveCapacity:
        """The capacity ``Limits`` describe (``max_in_flight``, ``initial_in_flight``...)."""
        return cls(limits.max_in_flight, initial=limits.initial_in_flight,
                   min_limit=limits.min_in_flight, grow_after=limits.grow_after)

    # -- reading -------------------------------------------------------------------------------
    @property
    def confirmed(self) -> int:
        """Slots of accepted tasks not yet seen to end, all buckets."""
        return sum(bucket.confirmed for bucket in self._buckets.values())

    @property
    def waiting(self) -> int:
        return self._queued

    def waiting_for(self, bucket: str) -> int:
        """How many tasks wait for slots of ``bucket`` (0 for a bucket never used)."""
        held = self._buckets.get(bucket)
        return len(held.waiters) if held is not None else 0

    def limits_by_bucket(self) -> dict[str, int]:
        """Each bucket's current limit."""
        return {name: bucket.limit for name, bucket in self._buckets.items()}

    def in_use_by_bucket(self) -> dict[str, int]:
        """The slots each bucket holds."""
        return {name: bucket.in_use for name, bucket in self._buckets.items()}

    def _bucket(self, name: str) -> Bucket:
        bucket = self._buckets.get(name)
        if bucket is None:
            bucket = self._buckets[name] = Bucket(self.initial)
            self._add_to_limits(bucket.limit)
        return bucket

    def _set_limit(self, bucket: Bucket, limit: int) -> None:
        self._add_to_limits(limit - bucket.limit)
        bucket.limit = limit

    def _add_to_limits(self, change: int) -> None:
        self._limits += change
        self.limit = min(self.max_limit, self._limits)

    def _under_ceiling(self, weight: int) -> bool:
        return self.in_use + weight <= self.max_limit or self.in_use == 0

    def _held_up(self) -> bool:
        """Whether a waiter whose bucket has room waits for the ceiling (it goes first)."""
        return any(b.waiters and b.fits(b.waiters[0][1]) for b in self._buckets.values())

    # -- taking slots ------------------------------------------------------------------------
    def available(self, weight: int, *, bucket: str = DEFAULT_BUCKET) -> bool:
        """Whether ``try_acquire(weight, bucket=bucket)`` would succeed right now."""
        return self._admits(self._buckets.get(bucket) or self._bucket(bucket), weight)

    def _admits(self, held: Bucket, weight: int) -> bool:
        # The hot path (once per job): plain comparisons, no further calls unless work waits.
        in_use = self.in_use
        if in_use and in_use + weight > self.max_limit:
            return False
        if held.in_use and held.in_use + weight > held.limit:
            return False
        if self._queued:
            return not held.waiters and not self._held_up()
        return True

    def try_acquire(self, weight: int, *, bucket: str = DEFAULT_BUCKET) -> bool:
        """Take ``weight`` slots of ``bucket`` now if they fit and nobody is queued ahead;
        never waits."""
        held = self._buckets.get(bucket) or self._bucket(bucket)
        if self._admits(held, weight):
            held.in_use += weight
            self.in_use += weight
            return True
        return False

    async def acquire(self, weight: int, *, bucket: str = DEFAULT_BUCKET) -> None:
        """Wait (FIFO) until ``weight`` slots of ``bucket`` fit, then take them."""
        if self.try_acquire(weight, bucket=bucket):
            return
        held = self._buckets[bucket]
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry: _Waiter = (next(self._arrivals), weight, granted, None)
        held.waiters.append(entry)
        self._queued += 1
        try:
            await granted
        except BaseException:
            if granted.done() and not granted.cancelled():
                # slots were granted to us while we were being cancelled: give them back
                self.release(weight, bucket=bucket, clean=False)
            else:
                if entry in held.waiters:  # _wake() may have dropped it already
                    held.waiters.remove(entry)
                    self._queued -= 1
                self._wake()
            raise

    def defer(self, weight: int, grant: Grant, *, bucket: str = DEFAULT_BUCKET) -> None:
        """Queue ``grant`` (FIFO, behind every waiter of ``bucket``) for ``weight`` slots: once
        they fit they are taken and ``grant()`` is called, synchronously, from the ``release``
        that freed them; if it returns False (or raises) the slots go back.  Nothing waits
        meanwhile: a queued job costs no task and no future."""
        held = self._buckets.get(bucket) or self._bucket(bucket)
        held.waiters.append((next(self._arrivals), weight, None, grant))
        self._queued += 1

    def hold(self, weight: int, *, bucket: str = DEFAULT_BUCKET) -> None:
        """Count slots already held on the server (an attached task), even past the limit."""
        held = self._bucket(bucket)
        held.in_use += weight
        held.confirmed += weight
        self.in_use += weight

    def confirm(self, weight: int, *, bucket: str = DEFAULT_BUCKET) -> None:
        """The server accepted the task holding ``weight`` acquired slots of ``bucket``."""
        (self._buckets.get(bucket) or self._bucket(bucket)).confirmed += weight

    # -- giving slots back -------------------------------------------------------------------
    def release(self, weight: int, *, bucket: str = DEFAULT_BUCKET, clean: bool = True,
                confirmed: bool = False) -> None:
        """Return slots; ``confirmed`` when they belonged to an accepted task, ``clean`` when
        that task ended normally while work was waiting (which lets the limit grow)."""
        held = self._buckets.get(bucket) or self._bucket(bucket)
        in_use = held.in_use - weight
        held.in_use = in_use if in_use > 0 else 0
        in_use = self.in_use - weight
        self.in_use = in_use if in_use > 0 else 0
        if confirmed:
            held.confirmed = max(0, held.confirmed - weight)
        if not self._queued:  # nothing to grow or wake: the common case
            return
        if clean and held.waiters and held.limit < self.max_limit:  # (else it cannot grow)
            held.clean_ends += 1
            if held.clean_ends >= (self._grow_after or 2 * held.limit):
                self._set_limit(held, held.limit + 1)
                held.clean_ends = 0
        self._wake()

    def reject(self, weight: int, *, bucket: str = DEFAULT_BUCKET) -> None:
        """A create holding ``weight`` slots of ``bucket`` got 1303: shrink that bucket's limit
        and give its slots back."""
        held = self._bucket(bucket)
        self.rejections += 1
        held.clean_ends = 0
        self._set_limit(held, max(self.min_limit, min(held.limit, held.confirmed)))
        self.release(weight, bucket=bucket, clean=False)

    def _next(self) -> Bucket | None:
        """The bucket of the oldest waiter whose slots fit its bucket, or None."""
        best: Bucket | None = None
        for bucket in self._buckets.values():
            waiters = bucket.waiters
            if waiters and (best is None or waiters[0][0] < best.waiters[0][0]) \
                    and bucket.fits(waiters[0][1]):
                best = bucket
        return best

    def _wake(self) -> None:
        # Not re-entered: a grant may start a submission that gives slots back at once (an
        # eager task factory), which calls release() and so _wake() again; the loop below
        # re-reads the queues after every grant, so that inner call has nothing to do.
        if self._waking:
            return
        self._waking = True
        try:
            # (a full ceiling admits nobody: every task holds at least one slot)
            while self._queued and self.in_use < self.max_limit:
                bucket = self._next()
                if bucket is None:
                    return
                _, weight, granted, grant = bucket.waiters[0]
                if not self._under_ceiling(weight):
                    return  # the ceiling's slots go in arrival order
                bucket.waiters.popleft()
                self._queued -= 1
                if granted is None:  # a deferred grant
                    assert grant is not None
                    self._take(bucket, weight, grant)
                    continue
                if granted.done():  # cancelled while queued (its waiter is about to remove it)
                    continue
                bucket.in_use += weight
                self.in_use += weight
                granted.set_result(None)
        finally:
            self._waking = False

    def _take(self, bucket: Bucket, weight: int, grant: Grant) -> None:
        """Take the slots of a deferred grant and call it; declined (closing) or failed, the
        slots go back."""
        bucket.in_use += weight
        self.in_use += weight
        accepted = False
        try:
            accepted = grant()
        finally:
            if not accepted:
                bucket.in_use -= weight
                self.in_use -= weight
