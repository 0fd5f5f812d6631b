"""AdaptiveCapacity: the weighted FIFO limit on in-flight slots that adapts to 1303 rejections."""

from __future__ import annotations

import anyio
import pytest

from kling_async._capacity import AdaptiveCapacity

pytestmark = pytest.mark.timeout(10)


async def _acquire_into(capacity: AdaptiveCapacity, weight: int, granted: list[int]) -> None:
    await capacity.acquire(weight)
    granted.append(weight)


async def _settle() -> None:
    """Let every started task run until it blocks."""
    await anyio.wait_all_tasks_blocked()


# -- try_acquire / acquire ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "in_use", "weight", "admitted"),
    [
        pytest.param(4, 0, 4, True, id="exactly-fills"),
        pytest.param(4, 1, 3, True, id="fits-beside-others"),
        pytest.param(4, 2, 3, False, id="one-over"),
        pytest.param(2, 0, 5, True, id="over-limit-alone-admitted"),
        pytest.param(2, 1, 5, False, id="over-limit-not-alone-refused"),
    ],
)
def test_try_acquire_admits_exactly_what_fits(
    limit: int, in_use: int, weight: int, admitted: bool
) -> None:
    """try_acquire takes slots when in_use + weight <= limit, or when nothing is in use."""
    capacity = AdaptiveCapacity(limit)
    if in_use:
        assert capacity.try_acquire(in_use)
    assert capacity.try_acquire(weight) is admitted
    assert capacity.in_use == in_use + (weight if admitted else 0)


@pytest.mark.anyio
async def test_waiters_are_served_first_come_first_served_by_weight() -> None:
    """A light waiter never overtakes a heavier one queued ahead of it, even when it would fit."""
    capacity = AdaptiveCapacity(4)
    assert capacity.try_acquire(4)
    granted: list[int] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(_acquire_into, capacity, 3, granted)
        await _settle()
        tg.start_soon(_acquire_into, capacity, 1, granted)
        await _settle()
        assert capacity.waiting == 2
        assert not capacity.try_acquire(1), "try_acquire must not jump the queue"

        capacity.release(1)  # in_use 3: the 3 does not fit, so the 1 behind it must wait too
        await _settle()
        assert granted == []
        assert capacity.in_use == 3

        capacity.release(3)  # in_use 0: the 3 then the 1 both fit, in order
        await _settle()
    assert granted == [3, 1]
    assert capacity.in_use == 4
    assert capacity.waiting == 0


@pytest.mark.anyio
async def test_over_limit_weight_waits_until_nothing_is_in_use() -> None:
    """A single task heavier than the limit is admitted once everything else has been released."""
    capacity = AdaptiveCapacity(2)
    assert capacity.try_acquire(1)
    granted: list[int] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(_acquire_into, capacity, 5, granted)
        await _settle()
        assert granted == []
        capacity.release(1)
        await _settle()
    assert granted == [5]
    assert capacity.in_use == 5


def test_release_never_goes_below_zero() -> None:
    """Releasing more than is held leaves in_use and confirmed at zero, not negative."""
    capacity = AdaptiveCapacity(3)
    capacity.hold(1)
    capacity.release(5, confirmed=True)
    assert (capacity.in_use, capacity.confirmed) == (0, 0)


# -- hold / confirm ----------------------------------------------------------------------------


def test_hold_counts_attached_slots_as_in_use_and_confirmed_even_past_the_limit() -> None:
    """hold() adds to in_use and confirmed without regard to the limit."""
    capacity = AdaptiveCapacity(2)
    capacity.hold(3)
    assert (capacity.in_use, capacity.confirmed, capacity.limit) == (3, 3, 2)
    assert not capacity.try_acquire(1)


def test_confirm_marks_acquired_slots_as_accepted_and_release_unconfirms_them() -> None:
    """confirm() moves acquired slots into confirmed; release(confirmed=True) takes them out."""
    capacity = AdaptiveCapacity(10)
    assert capacity.try_acquire(2)
    assert capacity.try_acquire(3)
    assert capacity.confirmed == 0
    capacity.confirm(2)
    assert (capacity.in_use, capacity.confirmed) == (5, 2)
    capacity.release(2, confirmed=True)
    assert (capacity.in_use, capacity.confirmed) == (3, 0)
    capacity.release(3)  # never confirmed: a failed submission
    assert (capacity.in_use, capacity.confirmed) == (0, 0)


# -- reject ------------------------------------------------------------------------------------


def test_reject_shrinks_to_confirmed_slots_not_acquired_ones_and_returns_the_slots() -> None:
    """On 1303 the limit becomes the confirmed slot count, and the rejected slots come back."""
    capacity = AdaptiveCapacity(10)
    for weight in (2, 3):
        assert capacity.try_acquire(weight)
        capacity.confirm(weight)
    assert capacity.try_acquire(1)  # acquired, create still under way: not confirmed
    assert capacity.try_acquire(2)  # this create gets 1303
    assert (capacity.in_use, capacity.confirmed) == (8, 5)

    capacity.reject(2)

    assert capacity.limit == 5
    assert capacity.in_use == 6
    assert capacity.confirmed == 5
    assert capacity.rejections == 1


@pytest.mark.parametrize(
    ("min_limit", "confirmed", "expected_limit"),
    [
        pytest.param(1, 0, 1, id="nothing-confirmed-floor-1"),
        pytest.param(3, 0, 3, id="nothing-confirmed-floor-min"),
        pytest.param(3, 5, 5, id="confirmed-above-floor"),
    ],
)
def test_reject_never_shrinks_below_min_limit(
    min_limit: int, confirmed: int, expected_limit: int
) -> None:
    """reject() sets limit = max(min_limit, confirmed)."""
    capacity = AdaptiveCapacity(10, min_limit=min_limit)
    if confirmed:
        capacity.hold(confirmed)
    assert capacity.try_acquire(1)
    capacity.reject(1)
    assert capacity.limit == expected_limit


def test_reject_never_grows_the_limit() -> None:
    """A rejection with more confirmed slots than the current limit keeps the limit."""
    capacity = AdaptiveCapacity(10, initial=2)
    capacity.hold(6)
    capacity.reject(0)
    assert capacity.limit == 2


@pytest.mark.anyio
async def test_reject_wakes_a_waiter_that_now_fits() -> None:
    """The slots a rejection gives back go to the queue at once (under the shrunk limit)."""
    capacity = AdaptiveCapacity(4)
    capacity.hold(2)  # confirmed on the server
    assert capacity.try_acquire(2)  # about to be rejected
    granted: list[int] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(_acquire_into, capacity, 1, granted)
        await _settle()
        assert granted == []
        capacity.reject(2)  # limit 2, in_use 2: the waiter still does not fit
        await _settle()
        assert granted == []
        assert capacity.limit == 2
        capacity.release(2, confirmed=True)
        await _settle()
    assert granted == [1]


# -- growth ------------------------------------------------------------------------------------


async def _queue(capacity: AdaptiveCapacity, tg: anyio.abc.TaskGroup, count: int,
                 granted: list[int]) -> None:
    for _ in range(count):
        tg.start_soon(_acquire_into, capacity, 1, granted)
    await _settle()


@pytest.mark.anyio
async def test_limit_grows_by_one_after_grow_after_clean_ends_while_work_waits() -> None:
    """Each grow_after clean ends with waiters queued add exactly one slot."""
    capacity = AdaptiveCapacity(10, initial=2, grow_after=3)
    assert capacity.try_acquire(1) and capacity.try_acquire(1)
    granted: list[int] = []
    limits = []
    async with anyio.create_task_group() as tg:
        await _queue(capacity, tg, 20, granted)
        for _ in range(6):
            capacity.release(1, clean=True)
            await _settle()
            limits.append(capacity.limit)
        tg.cancel_scope.cancel()
    assert limits == [2, 2, 3, 3, 3, 4]


@pytest.mark.anyio
async def test_limit_growth_is_capped_at_max() -> None:
    """However many clean ends happen under demand, the limit stops at max_limit."""
    capacity = AdaptiveCapacity(3, initial=1, grow_after=1)
    assert capacity.try_acquire(1)
    granted: list[int] = []
    async with anyio.create_task_group() as tg:
        await _queue(capacity, tg, 30, granted)
        for _ in range(10):
            capacity.release(1, clean=True)
            await _settle()
        tg.cancel_scope.cancel()
    assert capacity.limit == 3


def test_limit_does_not_grow_without_waiters() -> None:
    """Clean ends with nobody waiting never grow the limit (an idle limit stays put)."""
    capacity = AdaptiveCapacity(10, initial=2, grow_after=1)
    for _ in range(20):
        assert capacity.try_acquire(1)
        capacity.release(1, clean=True)
    assert capacity.limit == 2


@pytest.mark.parametrize(
    "clean", [pytest.param(False, id="unclean-ends"), pytest.param(True, id="clean-ends")]
)
@pytest.mark.anyio
async def test_only_clean_ends_count_toward_growth(clean: bool) -> None:
    """Ends released with clean=False do not count toward grow_after."""
    capacity = AdaptiveCapacity(10, initial=1, grow_after=2)
    assert capacity.try_acquire(1)
    granted: list[int] = []
    async with anyio.create_task_group() as tg:
        await _queue(capacity, tg, 5, granted)
        for _ in range(2):
            capacity.release(1, clean=clean)
            await _settle()
        tg.cancel_scope.cancel()
    assert capacity.limit == (2 if clean else 1)


@pytest.mark.anyio
async def test_default_grow_after_is_twice_the_current_limit() -> None:
    """Without grow_after, the limit grows after 2 * limit clean ends under demand."""
    capacity = AdaptiveCapacity(10, initial=2)
    assert capacity.try_acquire(1) and capacity.try_acquire(1)
    granted: list[int] = []
    limits = []
    async with anyio.create_task_group() as tg:
        await _queue(capacity, tg, 20, granted)
        for _ in range(4):
            capacity.release(1, clean=True)
            await _settle()
            limits.append(capacity.limit)
        tg.cancel_scope.cancel()
    assert limits == [2, 2, 2, 3]


@pytest.mark.anyio
async def test_a_rejection_resets_the_clean_end_count() -> None:
    """Growth needs grow_after clean ends with no rejection in between."""
    capacity = AdaptiveCapacity(10, initial=2, grow_after=2)
    capacity.hold(2)
    granted: list[int] = []
    async with anyio.create_task_group() as tg:
        await _queue(capacity, tg, 10, granted)
        capacity.release(1, clean=True, confirmed=True)  # 1 clean end; a waiter takes the slot
        await _settle()
        capacity.reject(1)  # that waiter's create got 1303: count resets, limit = confirmed = 1
        await _settle()
        assert capacity.limit == 1
        capacity.release(1, clean=True, confirmed=True)  # 1 clean end since the rejection
        await _settle()
        assert capacity.limit == 1
        tg.cancel_scope.cancel()


# -- cancellation ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_cancelled_waiter_leaves_the_queue_and_lets_the_next_waiter_in() -> None:
    """Cancelling a queued heavy waiter removes it and admits the light one queued behind it."""
    capacity = AdaptiveCapacity(4)
    assert capacity.try_acquire(3)
    granted: list[int] = []
    heavy_scope = anyio.CancelScope()

    async def heavy() -> None:
        with heavy_scope:
            await _acquire_into(capacity, 3, granted)

    async with anyio.create_task_group() as tg:
        tg.start_soon(heavy)
        await _settle()
        tg.start_soon(_acquire_into, capacity, 1, granted)
        await _settle()
        assert capacity.waiting == 2
        heavy_scope.cancel()
        await _settle()
    assert granted == [1]
    assert capacity.waiting == 0
    assert capacity.in_use == 4


@pytest.mark.anyio
async def test_waiter_cancelled_after_its_slots_were_granted_gives_them_back() -> None:
    """A waiter cancelled between being granted slots and resuming leaks nothing."""
    capacity = AdaptiveCapacity(1)
    assert capacity.try_acquire(1)
    granted: list[str] = []

    async def waiter(name: str, scope: anyio.CancelScope) -> None:
        with scope:
            await capacity.acquire(1)
            granted.append(name)

    first, second = anyio.CancelScope(), anyio.CancelScope()
    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter, "first", first)
        await _settle()
        tg.start_soon(waiter, "second", second)
        await _settle()
        first.cancel()  # the cancellation is on its way to "first"...
        capacity.release(1)  # ...when its slot is granted (it has not resumed yet)
        assert capacity.in_use == 1
        await _settle()
    assert granted == ["second"]
    assert capacity.in_use == 1
    assert capacity.waiting == 0
    capacity.release(1)
    assert capacity.in_use == 0


# -- deferred grants -------------------------------------------------------------------------


@pytest.mark.parametrize("accept", [pytest.param(True, id="accepted"),
                                    pytest.param(False, id="declined")])
def test_a_deferred_grant_is_called_with_its_slots_taken_and_a_declined_one_gives_them_back(
    accept: bool,
) -> None:
    """defer(weight, grant) calls grant() from the release that frees the slots, in FIFO order;
    a grant that returns False gives its slots back at once."""
    capacity = AdaptiveCapacity(2)
    assert capacity.try_acquire(2)
    calls: list[int] = []

    def grant() -> bool:
        calls.append(capacity.in_use)
        return accept

    capacity.defer(2, grant)
    assert calls == [] and capacity.waiting == 1
    capacity.release(2)
    assert calls == [2]  # the slots were taken before the grant was called
    assert capacity.in_use == (2 if accept else 0)
    assert capacity.waiting == 0
