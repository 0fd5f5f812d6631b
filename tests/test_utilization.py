"""The poller on the capacity-aware schedule, against the simulator (time scaled): list sweeps
while work waits for capacity, sparser polls when nothing waits, polling as the safety net
while signed callbacks arrive and back on its normal schedule when they stop, and no job lost
whatever the callbacks do."""

from __future__ import annotations

from typing import Any

import anyio
import attrs
import pytest

from kling_async import (
    ClientStatistics,
    ImageGenerationRequest,
    KlingClient,
    Limits,
    PollPolicy,
    TaskStatus,
)
from kling_async.testing import KlingSimulator, SimulatorConfig
from tests._simhelpers import SCALE
from tests._webhookhelpers import SECRET, Receiver, receiver

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

#: The schedule before issue 16: every rule of kling_async._schedule turned off.
PLAIN = PollPolicy(busy_ratio=None, busy_stretch=1.0, idle_stretch=1.0, busy_bulk_threshold=0,
                   safety_stretch=1.0, callback_silence=0.0)
MEDIAN = 2.0


def paced(policy: PollPolicy) -> PollPolicy:
    """``policy`` for images of about ``MEDIAN`` simulated seconds at the sim's speed."""
    return attrs.evolve(policy, expected_image=MEDIAN).scaled(SCALE)


@pytest.fixture
def sim_config() -> SimulatorConfig:
    """Images of about 2 simulated seconds; callbacks (if asked for) signed with SECRET."""
    return SimulatorConfig(time_scale=SCALE, seed=11, image_median=MEDIAN,
                           webhook_secrets=(SECRET,))


async def run_jobs(sim: KlingSimulator, count: int, policy: PollPolicy, limit: int,
                   hook: Receiver | None = None, **kwargs: Any) -> ClientStatistics:
    """``count`` image jobs through one client (called back at ``hook`` if given); every one
    must succeed; its statistics."""
    if hook is not None:
        kwargs.update(webhook_url=hook.url, webhook_secret=SECRET)
    client = KlingClient(api_key=sim.api_key, base_url=sim.base_url, poll=paced(policy),
                         limits=Limits(max_in_flight=limit), **kwargs)
    if hook is not None:
        hook.client = client
    async with client:
        jobs = await client.submit_many(
            [ImageGenerationRequest(prompt=f"a heron, take {i}") for i in range(count)])
        with anyio.fail_after(60):
            for job in jobs:
                assert (await job.result()).status is TaskStatus.SUCCEED
        stats = client.statistics()
    assert stats.jobs_by_state["succeeded"] == count
    assert stats.in_flight_slots == 0
    return stats


async def test_while_work_waits_list_sweeps_refresh_the_bucket(sim: KlingSimulator) -> None:
    """40 jobs at a limit of 8 (under bulk_threshold=20): with work waiting the endpoint is
    swept in bulk from busy_bulk_threshold in flight, so fewer requests per job than the
    plain schedule's single GETs."""
    sim.configure(concurrency_limit=8)
    plain = await run_jobs(sim, 40, PLAIN, 8)
    sim.reset()
    sim.configure(concurrency_limit=8)
    aware = await run_jobs(sim, 40, PollPolicy(), 8)
    assert plain.sweeps == 0
    assert aware.sweeps > 0
    assert aware.requests < plain.requests
    assert aware.requests / 40 <= 3.0


async def test_with_nothing_waiting_a_job_is_polled_more_sparsely(sim: KlingSimulator) -> None:
    """Nothing waits for capacity: a task running 6x its expected duration is polled fewer
    times with idle_stretch 2 than on the plain schedule (about 8 polls against 12), and
    still seen to end."""
    sim.configure(latency=6 * MEDIAN)
    base = attrs.evolve(PLAIN, min_interval=0.5, jitter=0.0)
    plain = await run_jobs(sim, 1, base, 4)
    sparse = await run_jobs(sim, 1, attrs.evolve(base, idle_stretch=2.0), 4)
    assert 1 <= sparse.polls < plain.polls


async def test_while_callbacks_arrive_polling_is_only_the_safety_net(
        sim: KlingSimulator) -> None:
    """30 jobs resolved by signed callbacks: once callbacks flow, the schedule stretches,
    so far fewer GETs than jobs (the default schedule without webhooks polls each one)."""
    async with receiver(sim) as hook:
        stats = await run_jobs(sim, 30, PollPolicy(), 10, hook)
    assert stats.webhooks["applied"] >= 20
    assert stats.requests_by_method.get("GET", 0) <= 10


async def test_polling_resumes_by_itself_when_callbacks_stop(sim: KlingSimulator) -> None:
    """Callbacks flow for 10 jobs, then the simulator drops every one: the next 20 jobs
    still all end, by polls, once no callback came for callback_silence expected durations."""
    async with receiver(sim) as hook:
        client = KlingClient(api_key=sim.api_key, base_url=sim.base_url,
                             poll=paced(PollPolicy()), limits=Limits(max_in_flight=10),
                             webhook_url=hook.url, webhook_secret=SECRET)
        hook.client = client
        async with client:
            first = await client.submit_many(
                [ImageGenerationRequest(prompt=f"a crane {i}") for i in range(10)])
            with anyio.fail_after(30):
                for job in first:
                    await job.result()
            applied = client.statistics().webhooks["applied"]
            sim.configure(callback_drop=1.0)
            later = await client.submit_many(
                [ImageGenerationRequest(prompt=f"a stork {i}") for i in range(20)])
            with anyio.fail_after(60):
                for job in later:
                    assert (await job.result()).status is TaskStatus.SUCCEED
            stats = client.statistics()
    assert applied >= 5
    assert stats.webhooks["applied"] == applied  # nothing came after the drop
    assert stats.jobs_by_state["succeeded"] == 30
    assert stats.polls + stats.sweeps >= 1


@pytest.mark.parametrize("seed", [1, 2])
async def test_no_job_is_lost_in_a_callback_storm(sim: KlingSimulator, seed: int) -> None:
    """60 jobs at a limit of 6 while the simulator drops, duplicates, reorders and delays a
    third of its callbacks each: every job succeeds exactly once, every slot comes back."""
    sim.reset()
    sim.configure(seed=seed, callback_drop=0.3, callback_duplicate=0.3, callback_reorder=0.3,
                  callback_delay=0.3, callback_delay_seconds=0.05, concurrency_limit=6)
    async with receiver(sim) as hook:
        stats = await run_jobs(sim, 60, PollPolicy(), 6, hook)
    assert stats.jobs_total == 60
    assert stats.webhooks["applied"] >= 1
    assert stats.webhooks["duplicate"] + stats.webhooks["stale"] >= 1
    assert stats.concurrency_rejections == 0
