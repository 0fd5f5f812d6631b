"""Benchmark 5 - new-standard polling through ``GET /tasks``.

New-standard tasks (the model in the path, reference §12) have no per-task path: they are
queried through ``GET /tasks?task_ids=a,b,...``, at most ``Limits.max_ids_per_task_query`` ids
per call (20, the most the official host takes).  ``--jobs`` new-standard video jobs
(``text-to-video/kling-3.0-turbo``) are submitted at once against the built-in simulator
(time-scaled, in a separate process); every HTTP request the simulator receives, creates
included, is divided by the number of jobs.  Two sides, run in turn, each against a freshly
reset simulator:

- batched: the SDK as shipped (up to 20 ids per ``/tasks`` call);
- per task: the same SDK with ``Limits(max_ids_per_task_query=1)``, which asks for one id per
  call, i.e. one request per poll of each job (what a per-task GET would cost).

The figures come from the simulator's own counters (``GET /__sim/stats``): total requests,
``tasks_queries`` and ``tasks_ids_per_query``.  Target: at most 1.25 requests per job batched.

    python -m benchmarks.bench_tasks [--jobs 200] [--speedup 100] [--runs 3]
"""

from __future__ import annotations

import argparse
from typing import Any

import anyio
import attrs

import kling_async as kling
from benchmarks._simproc import reset_simulator, run_to_end, sim_admin, simulator_process

ENDPOINT = "text-to-video/kling-3.0-turbo"


@attrs.frozen
class Figures:
    """One side's counts, as the simulator saw them."""

    jobs: int
    succeeded: int
    total_requests: int
    creates: int
    tasks_queries: int
    ids_queried: int
    max_ids: int

    @property
    def per_job(self) -> float:
        """All HTTP requests per job, creates included."""
        return self.total_requests / self.jobs

    @property
    def ids_per_query(self) -> float:
        """Mean ids asked for in one ``GET /tasks`` call."""
        return self.ids_queried / self.tasks_queries if self.tasks_queries else 0.0


def _figures(stats: dict[str, Any], jobs: int, succeeded: int) -> Figures:
    per_query = {int(k): v for k, v in stats["tasks_ids_per_query"].items()}
    creates = sum(row["count"] for row in stats["requests"]
                  if row["method"] == "POST" and row["route"] != "/tasks")
    return Figures(jobs=jobs, succeeded=succeeded, total_requests=stats["total_requests"],
                   creates=creates, tasks_queries=stats["tasks_queries"],
                   ids_queried=stats["tasks_ids_queried"], max_ids=max(per_query, default=0))


async def _run_jobs(base_url: str, api_key: str, jobs: int, speedup: float,
                    ids_per_query: int) -> int:
    poll = kling.PollPolicy().scaled(speedup)
    limits = kling.Limits(max_in_flight=jobs * 2, max_ids_per_task_query=ids_per_query)
    requests = [kling.load_request(ENDPOINT, {"prompt": f"a fox, take {i}"})
                for i in range(jobs)]
    return await run_to_end(base_url, api_key, requests, poll=poll, limits=limits)


def measure(base_url: str, api_key: str, jobs: int, speedup: float,
            ids_per_query: int) -> Figures:
    """Reset the simulator, run ``jobs`` new-standard jobs to their end, read its counters."""
    reset_simulator(base_url, api_key)
    succeeded = anyio.run(_run_jobs, base_url, api_key, jobs, speedup, ids_per_query)
    return _figures(sim_admin(base_url, api_key, "stats"), jobs, succeeded)


def _row(label: str, f: Figures) -> str:
    return (f"{label:24} {f.per_job:9.3f} {f.total_requests:9d} {f.creates:8d} "
            f"{f.tasks_queries:9d} {f.ids_per_query:9.2f} {f.max_ids:8d} "
            f"{f.succeeded:5d}/{f.jobs}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--speedup", type=float, default=100.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"{args.jobs} new-standard jobs ({ENDPOINT}) in flight at once, "
          f"simulator time x{args.speedup:g}, {args.runs} interleaved runs")
    print(f"{'side':24} {'req/job':>9} {'requests':>9} {'creates':>8} {'/tasks':>9} "
          f"{'ids/call':>9} {'max ids':>8} {'done':>9}")
    with simulator_process(time_scale=args.speedup, seed=5, max_tasks=10 * args.jobs) as sim:
        for _ in range(args.runs):
            for label, ids in (("batched (<= 20 ids)", 20), ("per task (1 id)", 1)):
                print(_row(label, measure(sim["base_url"], sim["api_key"], args.jobs,
                                          args.speedup, ids)), flush=True)
    print("target: batched <= 1.25 requests per job")


if __name__ == "__main__":
    main()
