"""Benchmark 2 - polling efficiency.

Part A, virtual clock (pure ``PollPolicy`` arithmetic, no I/O): lognormal task durations
(image median 20 s, video median 120 s, sigma 0.4, the simulator's default spread).  For each
schedule: mean polls per job and mean detection delay (time from the task's end to the poll
that sees it), as a share of the mean task duration.  Compared: the SDK's default policy, the
same with full jitter, a fixed 5 s interval, and the oracle (one poll exactly at completion).
Targets: at most 4 polls per job, delay at most 10 % of the duration.

Part B, against the simulator: 1,000 image tasks in flight at once; every HTTP request the
simulator receives (creates included) divided by the number of jobs.  Target: at most 1.5.

    python -m benchmarks.bench_polling [--tasks 20000] [--jobs 1000]
"""

from __future__ import annotations

import argparse
import math
import random
from collections.abc import Callable

import anyio

import kling_async as kling
from kling_async.testing import KlingSimulator

#: task duration, rng -> (time the end is detected, polls made)
Schedule = Callable[[float, random.Random], tuple[float, int]]


def _policy_schedule(policy: kling.PollPolicy, expected: float) -> Schedule:
    def detect(duration: float, rng: random.Random) -> tuple[float, int]:
        t = policy.first_delay(expected)
        polls = 1
        while t < duration:
            t += policy.interval(t, expected=expected, rand=rng.random())
            polls += 1
        return t, polls
    return detect


def _fixed(interval: float) -> Schedule:
    def detect(duration: float, rng: random.Random) -> tuple[float, int]:
        polls = max(1, math.ceil(duration / interval))
        return polls * interval, polls
    return detect


def _oracle(duration: float, rng: random.Random) -> tuple[float, int]:
    return duration, 1


def virtual_clock(tasks: int, median: float, sigma: float, seed: int = 1) -> None:
    expected = median  # what the SDK estimates for a 5 s std video / any image by default
    default = kling.PollPolicy(expected_image=median, expected_video=median)
    rows: dict[str, Schedule] = {
        "kling_async default": _policy_schedule(default, expected),
        "kling_async, full jitter": _policy_schedule(
            kling.PollPolicy(jitter=1.0, expected_image=median, expected_video=median), expected),
        "fixed 5 s interval": _fixed(5.0),
        "oracle": _oracle,
    }
    print(f"\nmedian {median:g} s, sigma {sigma}, {tasks} tasks (virtual clock)")
    print(f"{'schedule':26} {'polls/job':>10} {'delay s':>9} {'delay/dur':>10} "
          f"{'mean per-task':>14}")
    for name, detect in rows.items():
        rng = random.Random(seed)
        polls = 0
        delay = 0.0
        total = 0.0
        ratio = 0.0
        for _ in range(tasks):
            duration = median * math.exp(rng.gauss(0.0, sigma))
            seen, count = detect(duration, rng)
            polls += count
            delay += seen - duration
            total += duration
            ratio += (seen - duration) / duration
        print(f"{name:26} {polls / tasks:10.2f} {delay / tasks:9.2f} {delay / total:10.3f} "
              f"{ratio / tasks:14.3f}")


async def in_flight(jobs: int, speedup: float, bulk: bool) -> tuple[float, int, int]:
    async with KlingSimulator(time_scale=speedup, seed=2) as sim:
        poll = kling.PollPolicy(bulk_threshold=20 if bulk else 0).scaled(speedup)
        limits = kling.Limits(max_in_flight=jobs * 2)
        async with kling.KlingClient(api_key=sim.api_key, base_url=sim.base_url, poll=poll,
                                     limits=limits) as client:
            requests = [kling.ImageGenerationRequest(prompt=f"p{i}") for i in range(jobs)]
            finished = await client.submit_many(requests)
            for job in finished:
                await job.result()
            peak = max(sim.stats().peak_concurrency.values())
        total = sim.stats().total_requests
    return total / jobs, peak, jobs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20000)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--speedup", type=float, default=50.0)
    args = parser.parse_args()
    virtual_clock(args.tasks, 20.0, 0.4)
    virtual_clock(args.tasks, 120.0, 0.4)
    print(f"\n{args.jobs} image tasks in flight at once, simulator time x{args.speedup:g}")
    for bulk in (True, False):
        per_job, peak, _ = anyio.run(in_flight, args.jobs, args.speedup, bulk)
        label = "bulk list polling" if bulk else "per-task GETs only"
        print(f"{label:22} HTTP requests per job (create included): {per_job:.3f}"
              f"   (peak in flight {peak}; target <= 1.5)")


if __name__ == "__main__":
    main()
