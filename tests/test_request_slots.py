"""RequestSlots: the transport's fixed FIFO limit on concurrent HTTP requests."""

from __future__ import annotations

import anyio
import pytest

from kling_async._capacity import RequestSlots

pytestmark = pytest.mark.timeout(10)


async def _settle() -> None:
    """Let every started task run until it blocks."""
    await anyio.wait_all_tasks_blocked()


def test_slots_are_taken_up_to_the_limit_and_given_back() -> None:
    """try_acquire takes a free slot and fails at the limit; release frees one."""
    slots = RequestSlots(2)
    assert slots.idle
    assert slots.try_acquire() and slots.try_acquire()
    assert not slots.idle
    assert not slots.try_acquire()
    slots.release()
    assert slots.idle
    assert slots.in_use == 1


def test_a_limit_below_one_still_lets_one_request_through() -> None:
    """A limit of 0 is read as 1, as the capacity it replaces did."""
    slots = RequestSlots(0)
    assert slots.try_acquire()
    assert not slots.try_acquire()


@pytest.mark.anyio
async def test_waiters_get_freed_slots_first_come_first_served() -> None:
    """A released slot goes to the oldest waiter, and nobody jumps the queue meanwhile."""
    slots = RequestSlots(1)
    assert slots.try_acquire()
    order: list[int] = []

    async def waiter(name: int) -> None:
        await slots.acquire()
        order.append(name)

    async with anyio.create_task_group() as tg:
        for name in range(3):
            tg.start_soon(waiter, name)
            await _settle()
        assert not slots.try_acquire()  # the queue is not empty: no slot is free
        for _ in range(3):
            slots.release()
            await _settle()
    assert order == [0, 1, 2]
    assert slots.in_use == 1


@pytest.mark.anyio
async def test_a_waiter_cancelled_after_its_slot_was_handed_over_gives_it_back() -> None:
    """A waiter cancelled between being handed a slot and resuming leaks nothing."""
    slots = RequestSlots(1)
    assert slots.try_acquire()
    granted: list[str] = []

    async def waiter(name: str, scope: anyio.CancelScope) -> None:
        with scope:
            await slots.acquire()
            granted.append(name)

    first, second = anyio.CancelScope(), anyio.CancelScope()
    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter, "first", first)
        await _settle()
        tg.start_soon(waiter, "second", second)
        await _settle()
        first.cancel()  # the cancellation is on its way to "first"...
        slots.release()  # ...when the slot is handed to it (it has not resumed yet)
        await _settle()
    assert granted == ["second"]
    assert slots.in_use == 1
    slots.release()
    assert slots.in_use == 0 and slots.idle


@pytest.mark.anyio
async def test_a_waiter_cancelled_while_queued_leaves_the_queue() -> None:
    """A cancelled waiter is out of the queue: the next release frees the slot."""
    slots = RequestSlots(1)
    assert slots.try_acquire()
    with anyio.move_on_after(0.01):
        await slots.acquire()
    assert not slots.idle  # still held by the first taker
    slots.release()
    assert slots.in_use == 0 and slots.idle
