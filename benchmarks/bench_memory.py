"""Benchmark 3 - memory per job, measured with tracemalloc.

The client's real bookkeeping is driven without network: each job is registered, accepted
with the ``Task`` read from its create reply (as the client does), scheduled in
the shared poller, observed processing, and, for the finished figure, observed ending with a
result URL (parsed from a query reply) - exactly the calls the client makes.  In flight is
measured twice: accepted but not yet polled, and after one poll.  Requests are built before
measuring (they belong to the user).
Targets: at most 5 KiB per in-flight job and 2 KiB per finished job, at 1k, 10k and 100k jobs.

    python -m benchmarks.bench_memory [--sizes 1000 10000 100000]
"""

from __future__ import annotations

import argparse
import gc
import random
import tracemalloc
from typing import Any

import anyio

import kling_async as kling
from kling_async._capacity import AdaptiveCapacity
from kling_async._endpoints import ENDPOINTS
from kling_async._events import EventHub
from kling_async._poller import Poller
from kling_async._registry import Job, TaskRegistry
from kling_async._results import created_task, parse_task
from kling_async.testing import KlingSimulator


def _reply(task_id: str, ext: str, status: str, url: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "task_id": task_id, "task_status": status, "task_status_msg": "",
        "task_info": {"external_task_id": ext},
        "created_at": 1722769557708, "updated_at": 1722769557708,
    }
    if url is not None:
        body["task_result"] = {"images": [{"index": 0, "url": url}]}
        body["final_unit_deduction"] = "1"
    return body


def measure(count: int, *, finish: bool, polled: bool = True) -> float:
    """Bytes per job held by the client for ``count`` jobs: finished (``finish``), or in flight
    after one poll (``polled``), or in flight as accepted, before any poll (the job then keeps
    the Task of its create reply)."""
    endpoint = ENDPOINTS["images/generations"]
    policy = kling.PollPolicy()
    requests = [kling.ImageGenerationRequest(prompt=f"a cat, take {i}") for i in range(count)]
    registry = TaskRegistry()
    capacity = AdaptiveCapacity(10 * count)
    now = [0.0]
    poller = Poller(transport=None, registry=registry, capacity=capacity,  # type: ignore[arg-type]
                    events=EventHub(None), policy=policy, clock=lambda: now[0],
                    rand=random.Random(1).random)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    jobs = []
    for i, request in enumerate(requests):
        ext = f"kas-{i:032x}"
        job = Job(endpoint.name, request, ext, weight=endpoint.weight(request),
                  expected=endpoint.expected_duration(request, policy))
        registry.add(job)
        capacity.try_acquire(job.weight)
        task_id = str(800000000000000000 + i)
        registry.accept(job, created_task(_reply(task_id, ext, "submitted"), ext), now[0])
        capacity.confirm(job.weight)
        poller.track(job)
        if polled or finish:
            poller.observe(job, parse_task(_reply(task_id, ext, "processing")))
        if finish:
            url = f"https://cdn.example/kling/{task_id}/image_0.png"
            poller.observe(job, parse_task(_reply(task_id, ext, "succeed", url)))
        jobs.append(job)
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert all(job.done() == finish for job in jobs)
    return grown / count


def measure_queued(count: int) -> float:
    """Bytes per job for ``count`` jobs submitted with ``submit_nowait`` and queued behind a
    limit of one in-flight task (against the simulator, in this process): each queued job
    costs its ``Job`` and its place in the capacity queue, no task of its own."""
    requests = [kling.TextToVideoRequest(prompt=f"a river, take {i}") for i in range(count)]

    async def run() -> float:
        async with KlingSimulator(seed=1, latency=0) as sim, kling.KlingClient(
            api_key=sim.api_key, base_url=sim.base_url,
            limits=kling.Limits(max_in_flight=1, max_requests=1),
        ) as client:
            gc.collect()
            tracemalloc.start()
            before = tracemalloc.take_snapshot()
            jobs = [client.submit_nowait(request) for request in requests]
            gc.collect()
            after = tracemalloc.take_snapshot()
            tracemalloc.stop()
            assert client.statistics().waiting_for_capacity == count - 1
            del jobs
            return sum(stat.size_diff for stat in after.compare_to(before, "filename")) / count

    return anyio.run(run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    args = parser.parse_args()
    print(f"{'jobs':>8} {'in flight, unpolled':>20} {'in flight, polled':>18} "
          f"{'finished':>9}   (B/job)")
    for size in args.sizes:
        unpolled = measure(size, finish=False, polled=False)
        flying = measure(size, finish=False)
        finished = measure(size, finish=True)
        print(f"{size:8d} {unpolled:20.0f} {flying:18.0f} {finished:9.0f}")
    print("targets: in flight <= 5120 B/job, finished <= 2048 B/job")
    queued = min(args.sizes[-1], 10000)
    print(f"queued for capacity (submit_nowait past the limit), {queued} jobs: "
          f"{measure_queued(queued):.0f} B/job")


if __name__ == "__main__":
    main()
