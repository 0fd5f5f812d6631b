"""Benchmark 4 - scale: client CPU per HTTP request with 10 vs 10,000 jobs in flight.

The simulator runs in its own process with tasks that never finish during the run.  Each side
polls its in-flight tasks continuously (zero interval, per-task GETs, the same request
concurrency), and the client's CPU time per request is measured over the same number of
requests in steady state (creates excluded).  Target: less than 10 % growth from 10 to 10,000.

    python -m benchmarks.bench_scale [--small 10] [--large 10000] [--window 4000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import anyio

import kling_async as kling
from benchmarks._simproc import simulator_process


async def cpu_per_request(base_url: str, api_key: str, jobs: int, window: int,
                          concurrency: int) -> float:
    poll = kling.PollPolicy(first_poll=0.0, min_interval=0.0, growth_ratio=0.0, jitter=0.0,
                            bulk_threshold=0, deadline=None)
    limits = kling.Limits(max_in_flight=jobs, max_requests=concurrency)
    async with kling.KlingClient(api_key=api_key, base_url=base_url, poll=poll,
                                 limits=limits) as client:
        await client.submit_many(
            kling.ImageGenerationRequest(prompt=f"steady {i}") for i in range(jobs)
        )
        await anyio.sleep(0.5)  # settle into steady polling
        start_requests = client.statistics().requests
        start_cpu = time.process_time()
        while client.statistics().requests - start_requests < window:  # noqa: ASYNC110
            await anyio.sleep(0.01)  # sampling a counter; there is no event to wait on
        used = time.process_time() - start_cpu
        done = client.statistics().requests - start_requests
    return used / done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10)
    parser.add_argument("--large", type=int, default=10000)
    parser.add_argument("--window", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    concurrency = min(args.small, 10)
    small: list[float] = []
    large: list[float] = []
    with simulator_process(latency=1e9, seed=4, max_tasks=10 * args.large * args.rounds) as sim:
        url, key = sim["base_url"], sim["api_key"]
        for _ in range(args.rounds):
            small.append(anyio.run(cpu_per_request, url, key, args.small, args.window,
                                   concurrency))
            large.append(anyio.run(cpu_per_request, url, key, args.large, args.window,
                                   concurrency))
    s, big = statistics.median(small), statistics.median(large)
    print(f"client CPU per request, {args.window} requests in steady polling, "
          f"{concurrency} concurrent, median of {args.rounds}")
    print(f"{args.small:6d} jobs in flight: {s * 1e6:8.1f} us")
    print(f"{args.large:6d} jobs in flight: {big * 1e6:8.1f} us")
    print(f"growth: {100 * (big / s - 1):+.1f} %   (target < +10 %)")


if __name__ == "__main__":
    main()
