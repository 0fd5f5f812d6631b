"""Benchmark 7's ceiling: what any poll schedule can reach, in an offline model.

Benchmark 7 (``bench_utilization``) runs the SDK against the simulator; this model asks what
the best schedule could do with no latency at all, so its figures are an upper bound for
the SDK's.  ``limit`` slots run ``jobs`` tasks of lognormal duration (median ``median``,
``sigma``) in creation order.  The client learns that a task ended only from a sweep (one
list request: every end so far) or, with webhooks, from its callback (at once, unless it is
dropped, with probability ``drop``); the next task is created the moment an end is learnt.
While work waits, one of two schedules decides when to sweep:

- ``periodic``: every ``param`` seconds;
- ``hazard``: when the expected slot-seconds lost since the last sweep reach ``param``: the
  integral over time of the number of tasks likely to have ended unseen (each task's
  chance from its age, its duration's distribution, what the last sweep saw, and for
  webhooks the chance that its callback was dropped).  This spends sweeps where ends are
  likely, as a schedule knowing the durations' distribution exactly could.

Once nothing waits, one sweep every ``tail`` seconds finds the last tasks.  Utilization is
compared with the oracle's as benchmark 7 does (same durations, list-scheduled, every end
noticed at once): ``oracle makespan / makespan``.  Requests per job count the creates and
the sweeps.

    python -m benchmarks.model_utilization [--seeds 6] [--sigma 0.4] [--drop 0.1]
"""

from __future__ import annotations

import argparse
import math
import random
from collections.abc import Iterable, Sequence
from statistics import NormalDist

import attrs

from benchmarks.bench_utilization import oracle_makespan

_NORMAL = NormalDist()


@attrs.frozen
class Scenario:
    jobs: int = 300
    limit: int = 10
    median: float = 20.0
    sigma: float = 0.4
    drop: float = 1.0  # chance an end is announced by no callback (1.0: no webhooks)
    tail: float = 3.0  # seconds between sweeps once nothing waits
    step: float = 0.02  # the model's time step (seconds)

    def ended_by(self, age: float) -> float:
        """The chance a task has ended at ``age`` (the durations' CDF)."""
        if age <= 0:
            return 0.0
        return _NORMAL.cdf(math.log(age / self.median) / self.sigma)


@attrs.frozen
class Outcome:
    ratio: float  # utilization over the oracle's
    requests_per_job: float


@attrs.define
class _Running:
    start: float
    seen_at_age: float = 0.0  # the task's age when a sweep last saw it running
    ended: bool = False  # ended, not yet learnt


@attrs.define
class _Model:
    scenario: Scenario
    policy: str
    param: float
    durations: Sequence[float]
    silent: Sequence[bool]  # whether each task's end goes unannounced
    running: dict[int, _Running] = attrs.field(factory=dict)
    spans: list[tuple[float, float]] = attrs.field(factory=list)
    created: int = 0
    sweeps: int = 0
    last_sweep: float = 0.0
    lost: float = 0.0  # expected slot-seconds lost since the last sweep (hazard schedule)

    def create(self, now: float) -> None:
        if self.created < self.scenario.jobs:
            self.running[self.created] = _Running(now)
            self.created += 1

    def learn(self, index: int, now: float) -> None:
        task = self.running.pop(index)
        self.spans.append((task.start, task.start + self.durations[index]))
        self.create(now)

    @property
    def waiting(self) -> bool:
        """Work waits for a slot (some job is not created yet)."""
        return self.created < self.scenario.jobs

    def advance(self, now: float) -> None:
        """Tasks whose duration has passed end; announced ends are learnt at once; while work
        waits, the hazard schedule adds this step's expected loss."""
        for index, task in list(self.running.items()):
            if not task.ended and task.start + self.durations[index] <= now:
                task.ended = True
                if not self.silent[index]:
                    self.learn(index, now)
        if self.policy == "hazard" and self.waiting:
            self.lost += self.unseen_ends(now) * self.scenario.step

    def sweep_due(self, now: float) -> bool:
        if not self.waiting:
            return now - self.last_sweep >= self.scenario.tail
        if self.policy == "periodic":
            return now - self.last_sweep >= self.param
        return self.lost >= self.param

    def unseen_ends(self, now: float) -> float:
        """The expected number of tasks that ended without the client knowing."""
        return sum(self._unseen(task, now) for task in self.running.values())

    def _unseen(self, task: _Running, now: float) -> float:
        cdf, drop = self.scenario.ended_by, self.scenario.drop
        since = cdf(now - task.start) - cdf(task.seen_at_age)
        alive = 1.0 - cdf(task.seen_at_age)
        rest = alive - (1.0 - drop) * since  # not announced: still running, or dropped
        return min(1.0, drop * since / rest) if rest > 1e-12 else 1.0

    def sweep(self, now: float) -> None:
        self.sweeps += 1
        self.last_sweep, self.lost = now, 0.0
        for index in [i for i, task in self.running.items() if task.ended]:
            self.learn(index, now)
        for task in self.running.values():
            task.seen_at_age = now - task.start


def simulate(scenario: Scenario, policy: str, param: float, seed: int) -> Outcome:
    """One run of the model; the durations and drops are drawn from ``seed``."""
    rng = random.Random(seed)
    durations = [scenario.median * math.exp(scenario.sigma * rng.gauss(0.0, 1.0))
                 for _ in range(scenario.jobs)]
    silent = [rng.random() < scenario.drop for _ in range(scenario.jobs)]
    model = _Model(scenario, policy, param, durations, silent)
    for _ in range(scenario.limit):
        model.create(0.0)
    now = 0.0
    while model.running:
        now += scenario.step
        model.advance(now)
        if model.sweep_due(now):
            model.sweep(now)
    return _outcome(scenario, model)


def _outcome(scenario: Scenario, model: _Model) -> Outcome:
    spans = sorted(model.spans)
    makespan = max(end for _, end in spans) - spans[0][0]
    oracle = oracle_makespan([end - start for start, end in spans], scenario.limit)
    return Outcome(ratio=oracle / makespan,
                   requests_per_job=(scenario.jobs + model.sweeps) / scenario.jobs)


def mean_outcome(scenario: Scenario, policy: str, param: float,
                 seeds: Iterable[int]) -> Outcome:
    runs = [simulate(scenario, policy, param, seed) for seed in seeds]
    return Outcome(ratio=sum(r.ratio for r in runs) / len(runs),
                   requests_per_job=sum(r.requests_per_job for r in runs) / len(runs))


#: The parameters printed by default: (policy, param), polling only and with webhooks.
POLLING = (("periodic", 1.3), ("periodic", 1.45), ("periodic", 1.6),
           ("hazard", 0.4), ("hazard", 0.5), ("hazard", 0.6))
WEBHOOKS = (("periodic", 4.0), ("periodic", 6.0), ("periodic", 8.0),
            ("hazard", 0.3), ("hazard", 0.6), ("hazard", 1.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--sigma", type=float, default=0.4)
    parser.add_argument("--drop", type=float, default=0.1,
                        help="dropped share of callbacks in the webhook rows")
    args = parser.parse_args()
    seeds = range(args.seeds)
    rows = [(f"polling only, {policy}", Scenario(sigma=args.sigma), policy, param)
            for policy, param in POLLING]
    rows += [(f"webhooks ({args.drop:.0%} dropped), {policy}",
              Scenario(sigma=args.sigma, drop=args.drop), policy, param)
             for policy, param in WEBHOOKS]
    print(f"300 jobs, limit 10, median 20 s, sigma {args.sigma}, mean of {args.seeds} seeds")
    print(f"{'schedule':38} {'param':>6} {'ratio':>7} {'req/job':>8}")
    for name, scenario, policy, param in rows:
        outcome = mean_outcome(scenario, policy, param, seeds)
        print(f"{name:38} {param:6g} {outcome.ratio:7.4f} {outcome.requests_per_job:8.3f}",
              flush=True)


if __name__ == "__main__":
    main()
