"""Benchmark 5 - account utilization and HTTP requests per job.

300 image jobs through ``submit_many`` at an account limit of 10 (the client's
``Limits.max_in_flight`` and the simulator's ``concurrency_limit``), Kling-like lognormal
durations (median 20 s, sigma 0.4), against the built-in simulator in a separate process
(time scaled, ``--speedup``; the policies are ``PollPolicy.scaled`` to match).  Side by side,
each from the same seeded durations (the simulator is reset between them):

- ``fixed 5 s``: one GET per job every 5 s, no list sweeps;
- ``before issue 16``: ``PollPolicy`` as it was (the new rules turned off, ``PLAIN``);
- ``capacity-aware``: today's ``PollPolicy()``: dense list sweeps while work waits;
- ``webhooks + safety net``: the same policy, signed callbacks from the simulator with 10 %
  dropped, 5 % duplicated and 5 % reordered, received by an aiohttp app on loopback.

Utilization is slot-seconds used over slot-seconds available (``limit * makespan``, from the
first create to the last task's end, in simulated time read from the tasks' own
``created_at``/``updated_at``), divided by the oracle's: the same durations, in creation
order, list-scheduled on ``limit`` slots, each end noticed and the next task created at once.
Requests per job: every HTTP request the client made (creates included) over the jobs.

Targets (issue 16): polling only >= 0.97 of the oracle and <= 2.5 requests per job; webhooks
>= 0.99 and <= 1.3.

    python -m benchmarks.bench_utilization [--jobs 300] [--limit 10] [--speedup 20]
"""

from __future__ import annotations

import argparse
import base64
import functools
import heapq
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import anyio
import attrs
from aiohttp import web

import kling_async as kling
from benchmarks._simproc import reset_simulator, simulator_process

#: The schedule before issue 16: every rule of ``kling_async._schedule`` turned off.
PLAIN = kling.PollPolicy(busy_ratio=None, busy_stretch=1.0, idle_stretch=1.0,
                         busy_bulk_threshold=0, safety_stretch=1.0, callback_silence=0.0)
#: One GET per job every 5 s.
FIXED_5S = attrs.evolve(PLAIN, first_poll=5.0, growth_ratio=0.0, min_interval=5.0,
                        max_interval=5.0, jitter=0.0, bulk_threshold=0)
SECRET = "whsec_" + base64.b64encode(b"bench-utilization-secret-32bytes").decode()
#: Delivery faults of the webhook case.
FAULTS: Mapping[str, float] = {"callback_drop": 0.10, "callback_duplicate": 0.05,
                               "callback_reorder": 0.05}


@attrs.frozen
class Case:
    name: str
    policy: kling.PollPolicy
    webhooks: bool = False


CASES = (
    Case("fixed 5 s", FIXED_5S),
    Case("before issue 16", PLAIN),
    Case("capacity-aware", kling.PollPolicy()),
    Case("webhooks + safety net", kling.PollPolicy(), webhooks=True),
)


@attrs.frozen
class Figures:
    jobs: int
    ended: int  # jobs that ended (succeeded or failed)
    requests: int
    utilization: float  # slot-seconds used / available
    oracle: float  # the oracle's utilization, same durations
    webhooks: Mapping[str, int]

    @property
    def ratio(self) -> float:
        return self.utilization / self.oracle if self.oracle else 0.0

    @property
    def per_job(self) -> float:
        return self.requests / self.jobs


def oracle_makespan(durations: Iterable[float], limit: int) -> float:
    """When the last task ends if each starts the moment a slot frees (list scheduling in
    the given order on ``limit`` slots)."""
    slots = [0.0] * limit
    end = 0.0
    for duration in durations:
        start = heapq.heappop(slots)
        heapq.heappush(slots, start + duration)
        end = max(end, start + duration)
    return end


def utilization(tasks: Iterable[kling.Task], limit: int) -> tuple[float, float]:
    """(used, oracle's) slot-seconds over slot-seconds available, from finished tasks."""
    spans = sorted((t.created_at / 1000, t.updated_at / 1000) for t in tasks
                   if t.created_at is not None and t.updated_at is not None)
    if not spans:
        return 0.0, 0.0
    durations = [end - start for start, end in spans]
    busy = sum(durations)
    makespan = max(end for _, end in spans) - spans[0][0]
    oracle = oracle_makespan(durations, limit)
    return busy / (limit * makespan), busy / (limit * oracle)


@asynccontextmanager
async def _hook_app(holder: list[kling.KlingClient]) -> AsyncIterator[str]:
    """An aiohttp app on loopback feeding ``holder[0].handle_webhook``; yields its URL."""
    async def hook(request: web.Request) -> web.StreamResponse:
        return await kling.aiohttp_webhook_handler(holder[0])(request)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    finally:
        await runner.cleanup()


async def run_case(case: Case, *, base_url: str, api_key: str, jobs: int, limit: int,
                   speedup: float, median: float = 20.0) -> Figures:
    """Run ``jobs`` image jobs under ``case`` against a simulator (image median ``median``
    simulated seconds, which the policy expects); its figures."""
    holder: list[kling.KlingClient] = []
    policy = attrs.evolve(case.policy, expected_image=median)
    async with _hook_app(holder) as url:
        hooks: dict[str, Any] = {"webhook_url": url, "webhook_secret": SECRET} \
            if case.webhooks else {}
        client = kling.KlingClient(api_key=api_key, base_url=base_url,
                                   poll=policy.scaled(speedup),
                                   limits=kling.Limits(max_in_flight=limit), **hooks)
        holder.append(client)
        async with client:
            requests = [kling.ImageGenerationRequest(prompt=f"bench {i}") for i in range(jobs)]
            finished = await client.submit_many(requests)
            tasks = []
            for job in finished:
                try:
                    tasks.append(await job.result())
                except kling.TaskFailedError as exc:
                    tasks.append(exc.task)
            stats = client.statistics()
    used, oracle = utilization(tasks, limit)
    return Figures(jobs=jobs, ended=len(tasks), requests=sum(stats.requests_by_method.values()),
                   utilization=used, oracle=oracle, webhooks=dict(stats.webhooks))


def sim_config(*, speedup: float, limit: int, seed: int = 5,
               median: float = 20.0) -> dict[str, Any]:
    """The simulator's settings (JSON-able): the account limit, signed faulty callbacks."""
    return {"time_scale": speedup, "seed": seed, "image_median": median,
            "concurrency_limit": limit, "webhook_secrets": [SECRET], **FAULTS}


def compare(cases: Iterable[Case] = CASES, *, jobs: int = 300, limit: int = 10,
            speedup: float = 20.0, seed: int = 5, median: float = 20.0
            ) -> dict[str, Figures]:
    """Every case in turn against one simulator process; figures by case name."""
    out: dict[str, Figures] = {}
    config = sim_config(speedup=speedup, limit=limit, seed=seed, median=median)
    with simulator_process(**config) as sim:
        for case in cases:
            reset_simulator(sim["base_url"], sim["api_key"])
            run = functools.partial(run_case, case, base_url=sim["base_url"],
                                    api_key=sim["api_key"], jobs=jobs, limit=limit,
                                    speedup=speedup, median=median)
            out[case.name] = anyio.run(run)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--speedup", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--busy-ratio", type=float, nargs="*", default=[],
                        help="extra capacity-aware rows with these PollPolicy.busy_ratio")
    parser.add_argument("--safety-stretch", type=float, nargs="*", default=[],
                        help="extra webhook rows with these PollPolicy.safety_stretch")
    args = parser.parse_args()
    cases = list(CASES)
    cases += [Case(f"capacity-aware, busy {r:g}", kling.PollPolicy(busy_ratio=r))
              for r in args.busy_ratio]
    cases += [Case(f"webhooks, safety x{x:g}", kling.PollPolicy(safety_stretch=x), True)
              for x in args.safety_stretch]
    print(f"{args.jobs} image jobs, account limit {args.limit}, median 20 s, sigma 0.4, "
          f"simulator time x{args.speedup:g}, seed {args.seed}")
    print(f"{'case':28} {'util':>6} {'oracle':>7} {'ratio':>6} {'req/job':>8} {'ended':>6}"
          "  webhooks")
    figures = compare(cases, jobs=args.jobs, limit=args.limit, speedup=args.speedup, seed=args.seed)
    for name, fig in figures.items():
        hooks = {k: v for k, v in fig.webhooks.items() if v}
        print(f"{name:28} {fig.utilization:6.3f} {fig.oracle:7.3f} {fig.ratio:6.3f} "
              f"{fig.per_job:8.2f} {fig.ended:6d}  {hooks or ''}")


if __name__ == "__main__":
    main()
