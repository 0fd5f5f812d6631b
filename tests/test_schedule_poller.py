"""The poller on the schedule of kling_async._schedule, on a hand-moved clock (the rig of
tests/test_poller.py: a scripted transport recording every call): exact poll instants and
counts while work waits for capacity, while nothing waits, and while callbacks arrive."""

from __future__ import annotations

import attrs
import pytest

from kling_async import PollPolicy
from tests.test_poller import TICK, rig

pytestmark = pytest.mark.anyio

#: E = 16 ticks; first poll at 8 ticks; growth 1/8 so a plain interval is 2 ticks at age E.
E = 16 * TICK
BASE = PollPolicy(first_fraction=0.5, growth_ratio=1 / 8, min_interval=TICK,
                  max_interval=64 * TICK, jitter=0.0, deadline=None, bulk_threshold=20,
                  busy_bulk_threshold=2, busy_ratio=1 / 16, busy_stretch=1.0,
                  idle_stretch=1.0, safety_stretch=4.0, safety_max_interval=64 * TICK,
                  callback_silence=2.0)


def _noop() -> bool:
    return False


async def test_while_work_waits_the_bucket_is_swept_every_busy_ratio_of_e() -> None:
    """Work queued for the jobs' bucket, 3 in flight (over busy_bulk_threshold=2, under
    bulk_threshold=20): one list sweep refreshes all three, first at 0.5*E (8 ticks), then
    every busy_ratio*E (1 tick); no single GET."""
    async with rig(BASE, {f"t{i}": ["processing"] for i in range(3)}) as r:
        r.capacity.defer(1, _noop)  # a job waits for this bucket
        for i in range(3):
            r.accept(f"t{i}", expected=E)
        await r.at(8 * TICK, polls=1)
        await r.at(9 * TICK, polls=2)
        await r.at(10 * TICK, polls=3)
    assert [t for t, _, _ in r.kling.pages] == [8 * TICK, 9 * TICK, 10 * TICK]
    assert r.kling.singles == []


async def test_with_nothing_waiting_the_same_jobs_are_polled_alone_on_the_plain_schedule(
) -> None:
    """No waiter: under bulk_threshold, each job gets single GETs at 8 ticks, then every
    growth_ratio*max(E, age) (2 ticks)."""
    async with rig(BASE, {f"t{i}": ["processing"] for i in range(3)}) as r:
        for i in range(3):
            r.accept(f"t{i}", expected=E)
        await r.at(8 * TICK, polls=3)
        await r.idle_at(9 * TICK)
        assert r.calls == 3
        await r.at(10 * TICK, polls=6)
    assert r.kling.pages == []
    assert sorted({t for t, _ in r.kling.singles}) == [8 * TICK, 10 * TICK]


async def test_with_nothing_waiting_idle_stretch_spreads_the_polls() -> None:
    """idle_stretch 2, nothing waiting: at age E the interval is 2 * E/8 = 4 ticks, not 2."""
    policy = attrs.evolve(BASE, idle_stretch=2.0)
    async with rig(policy, {"t0": ["processing"]}) as r:
        r.accept("t0", expected=E)
        await r.at(8 * TICK, polls=1)
        await r.idle_at(11.9 * TICK)
        assert r.calls == 1
        await r.at(12 * TICK, polls=2)
    assert [t for t, _ in r.kling.singles] == [8 * TICK, 12 * TICK]


async def test_a_sweep_asks_for_a_page_about_as_long_as_what_is_in_flight() -> None:
    """Five jobs in flight, bulk_page_size 500: the list page asked for holds 50 (the
    shortest page), not 500."""
    policy = attrs.evolve(BASE, bulk_threshold=3, bulk_page_size=500)
    async with rig(policy, {f"t{i}": ["succeed"] for i in range(5)}) as r:
        jobs = [r.accept(f"t{i}", expected=E) for i in range(5)]
        await r.at(8 * TICK, polls=1)
        for job in jobs:
            await job.result()
    assert [size for _, _, size in r.kling.pages] == [50]


async def test_callbacks_seen_stretch_the_schedule_and_silence_restores_it() -> None:
    """After a verified callback (``callback_seen``), the next interval is 4x (8 ticks, not
    2); once none came for 2*E while the job is overdue, it is 2 ticks again."""
    async with rig(BASE, {"t0": ["processing"]}) as r:
        job = r.accept("t0", expected=E)
        await r.at(8 * TICK, polls=1)  # plain: next at 8 + max(E, 8)/8 = 10 ticks
        r.poller.callback_seen(job)  # at 8 ticks
        await r.at(10 * TICK, polls=2)  # scheduled before the callback
        await r.idle_at(17.9 * TICK)
        assert r.calls == 2  # stretched: 10 + 4 * 16/8 = 18
        await r.at(18 * TICK, polls=3)  # overdue, silent 10 ticks <= 2E: 4 * 18/8 = 9 more
        await r.idle_at(26.9 * TICK)
        assert r.calls == 3
        await r.at(27 * TICK, polls=4)  # silent 19 ticks: 4 * 27/8 = 13.5 more
        await r.at(40.5 * TICK, polls=5)  # silent 32.5 ticks > 2E while overdue: plain
        await r.idle_at((40.5 + 40.5 / 8 - 0.1) * TICK)
        assert r.calls == 5
        await r.at((40.5 + 40.5 / 8) * TICK, polls=6)
    assert len(r.kling.singles) == 6
