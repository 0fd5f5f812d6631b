"""The task store: every task by id, per-account external ids, lists and concurrency slots.

Everything a handler needs is a dict lookup or a heap operation; nothing scans all tasks.

- ``by_id``: task_id -> task (ids are unique across accounts).
- per account: ``by_external`` (external_task_id -> task), one creation-ordered list of ids
  per endpoint (pages are slices from the end, newest first) and one of all its tasks (the
  ``POST /tasks`` cursor listing), and heaps of ``(end, weight)`` for the slots in use, in
  all and per concurrency bucket: entries whose end has passed are popped lazily.
- ``max_tasks``: when full, the oldest task is forgotten (its slots still free at its end).
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections import deque
from collections.abc import Iterator

from ._tasks import SimTask


def _seq(task: SimTask) -> int:
    return task.seq


class _EndpointList:
    """Creation-ordered task ids with O(1) eviction at the old end and O(1) page access."""

    __slots__ = ("_head", "_ids")

    def __init__(self) -> None:
        self._ids: list[str] = []
        self._head = 0

    def __len__(self) -> int:
        return len(self._ids) - self._head

    def append(self, task_id: str) -> None:
        self._ids.append(task_id)

    def drop_oldest(self, task_id: str) -> None:
        if self._head < len(self._ids) and self._ids[self._head] == task_id:
            self._head += 1
            if self._head > 1024 and self._head * 2 > len(self._ids):
                del self._ids[: self._head]
                self._head = 0

    def page_newest_first(self, page: int, size: int) -> list[str]:
        """Ids of page ``page`` (1-based) of ``size``, newest first."""
        stop = len(self._ids) - (page - 1) * size
        start = max(self._head, stop - size)
        if stop <= self._head:
            return []
        return self._ids[start:stop][::-1]


class _Timeline:
    """All of an account's tasks in creation order (``SimTask.seq`` increases), with O(1)
    eviction at the old end and a binary search for a cursor's position."""

    __slots__ = ("_head", "_tasks")

    def __init__(self) -> None:
        self._tasks: list[SimTask] = []
        self._head = 0

    def append(self, task: SimTask) -> None:
        self._tasks.append(task)

    def drop_oldest(self, task: SimTask) -> None:
        if self._head < len(self._tasks) and self._tasks[self._head] is task:
            self._head += 1
            if self._head > 1024 and self._head * 2 > len(self._tasks):
                del self._tasks[: self._head]
                self._head = 0

    def before(self, seq: int | None) -> Iterator[SimTask]:
        """Tasks created before creation number ``seq`` (all when None), newest first."""
        tasks, head = self._tasks, self._head
        stop = len(tasks) if seq is None else bisect_left(tasks, seq, head, key=_seq)
        for i in range(stop - 1, head - 1, -1):
            yield tasks[i]


class Slots:
    """Concurrency slots in use: a heap of ``(end, weight)``, the sum and its peak."""

    __slots__ = ("heap", "in_flight", "peak")

    def __init__(self) -> None:
        self.heap: list[tuple[float, int]] = []
        self.in_flight = 0
        self.peak = 0

    def release(self, now: float) -> None:
        """Free the slots of tasks that ended at or before ``now``."""
        heap = self.heap
        while heap and heap[0][0] <= now:
            self.in_flight -= heapq.heappop(heap)[1]

    def hold(self, end: float, weight: int) -> None:
        """Take ``weight`` slots until simulated time ``end``; track the peak."""
        heapq.heappush(self.heap, (end, weight))
        self.in_flight += weight
        if self.in_flight > self.peak:
            self.peak = self.in_flight


class Account:
    """One account's view: its external ids, task lists and slots in use (in all, and per
    concurrency bucket: reference §6 counts per model version and pack type)."""

    __slots__ = ("buckets", "by_external", "lists", "timeline", "total")

    def __init__(self) -> None:
        self.by_external: dict[str, SimTask] = {}
        self.lists: dict[str, _EndpointList] = {}
        self.timeline = _Timeline()
        self.total = Slots()
        self.buckets: dict[str, Slots] = {}

    @property
    def in_flight(self) -> int:
        """Slots in use over all buckets."""
        return self.total.in_flight

    @property
    def peak(self) -> int:
        """The most slots ever in use at once over all buckets."""
        return self.total.peak

    def bucket(self, name: str) -> Slots:
        """The slots of one bucket, created on first use."""
        found = self.buckets.get(name)
        if found is None:
            found = self.buckets[name] = Slots()
        return found

    def release(self, now: float) -> None:
        """Free the slots of tasks that ended at or before ``now``."""
        self.total.release(now)
        for slots in self.buckets.values():
            slots.release(now)

    def hold(self, end: float, weight: int, bucket: str = "") -> None:
        """Take ``weight`` slots of ``bucket`` until simulated time ``end``; track peaks."""
        self.total.hold(end, weight)
        self.bucket(bucket).hold(end, weight)


class TaskStore:
    """All tasks of one simulator, bounded by ``max_tasks``."""

    def __init__(self) -> None:
        self.by_id: dict[str, SimTask] = {}
        self.accounts: dict[str, Account] = {}
        self._order: deque[SimTask] = deque()
        self._added = 0

    def account(self, name: str) -> Account:
        """The account record, created on first use."""
        found = self.accounts.get(name)
        if found is None:
            found = self.accounts[name] = Account()
        return found

    def add(self, task: SimTask, max_tasks: int) -> None:
        """Store a new task (its slots are taken separately), evicting the oldest if full."""
        while len(self._order) >= max_tasks:
            self._evict(self._order.popleft())
        self._added += 1
        task.seq = self._added
        self._order.append(task)
        self.by_id[task.task_id] = task
        acct = self.account(task.account)
        if task.external_task_id is not None:
            acct.by_external[task.external_task_id] = task
        listing = acct.lists.get(task.endpoint)
        if listing is None:
            listing = acct.lists[task.endpoint] = _EndpointList()
        listing.append(task.task_id)
        acct.timeline.append(task)

    def _evict(self, task: SimTask) -> None:
        self.by_id.pop(task.task_id, None)
        acct = self.accounts[task.account]
        if task.external_task_id is not None:
            acct.by_external.pop(task.external_task_id, None)
        acct.lists[task.endpoint].drop_oldest(task.task_id)
        acct.timeline.drop_oldest(task)

    def get(self, account: str, endpoint: str, task_id: str) -> SimTask | None:
        """The caller's task by id on that endpoint, or None."""
        task = self.by_id.get(task_id)
        if task is None or task.account != account or task.endpoint != endpoint:
            return None
        return task

    def get_external(self, account: str, endpoint: str, external_id: str) -> SimTask | None:
        """The caller's task by external_task_id on that endpoint, or None."""
        acct = self.accounts.get(account)
        task = acct.by_external.get(external_id) if acct is not None else None
        if task is None or task.endpoint != endpoint:
            return None
        return task

    def find(self, account: str, task_id: str) -> SimTask | None:
        """The caller's task by id, whatever its endpoint, or None."""
        task = self.by_id.get(task_id)
        return task if task is not None and task.account == account else None

    def find_external(self, account: str, external_id: str) -> SimTask | None:
        """The caller's task by external_task_id, whatever its endpoint, or None."""
        acct = self.accounts.get(account)
        return acct.by_external.get(external_id) if acct is not None else None

    def newest_first(self, account: str, before: int | None) -> Iterator[SimTask]:
        """The caller's tasks created before creation number ``before`` (all when None),
        newest first, lazily (``POST /tasks``); consume it before the store changes."""
        acct = self.accounts.get(account)
        if acct is not None:
            yield from acct.timeline.before(before)

    def has_external(self, account: str, external_id: str) -> bool:
        """Whether the account already used this external_task_id (on any endpoint)."""
        acct = self.accounts.get(account)
        return acct is not None and external_id in acct.by_external

    def page(self, account: str, endpoint: str, page: int, size: int) -> list[SimTask]:
        """One page of the caller's tasks on an endpoint, newest first."""
        acct = self.accounts.get(account)
        listing = acct.lists.get(endpoint) if acct is not None else None
        if listing is None:
            return []
        return [self.by_id[i] for i in listing.page_newest_first(page, size)]

    def all_tasks(self) -> list[SimTask]:
        """Every stored task, oldest first."""
        return list(self._order)

    def __len__(self) -> int:
        return len(self._order)
