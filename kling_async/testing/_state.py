"""``SimState``: everything the simulator's routes read and change, as one explicit object.

``KlingSimulator`` owns one and hands it to ``ApiRoutes`` and ``AdminRoutes``; the routes use
only its public attributes and methods (config, clock, store, stats, auth, callbacks,
file-serving knobs, faults, rate limit, new tasks), never the simulator itself.

Deterministic given the config's ``seed``: task ids, durations, outcomes and faults come from
seeded streams, re-made by ``reset()`` and by a new seed.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ._auth import Authenticator
from ._callbacks import CallbackDispatcher
from ._clock import TokenBucket, VirtualClock
from ._config import SimulatorConfig, evolve_config
from ._faults import NO_FAULT, FaultDecision, FaultInjector
from ._files import FileServing
from ._newtasks import new_task_object
from ._stats import SimStats, StatsCollector
from ._store import TaskStore
from ._tasks import SimTask, draw_duration, task_object
from ._webhook_wire import Shape

DEFAULT_ACCOUNT = "default"


@attrs.frozen(repr=False)
class Credentials:
    """The default account's bearer key and AK/SK pair (never shown in a repr)."""

    api_key: str
    access_key: str
    secret_key: str

    def authenticator(self, extra_api_keys: Sequence[str]) -> Authenticator:
        """The authenticator for these keys plus ``extra-1``, ``extra-2``... accounts."""
        keys = {self.api_key: DEFAULT_ACCOUNT}
        for i, key in enumerate(extra_api_keys, start=1):
            keys.setdefault(key, f"extra-{i}")
        return Authenticator(
            api_keys=keys,
            access_key=self.access_key,
            secret_key=self.secret_key,
            jwt_account=DEFAULT_ACCOUNT,
        )

    def __repr__(self) -> str:
        return "Credentials(...)"


class TaskFactory:
    """New tasks from one seeded stream: ids, durations and outcomes."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"kling-sim:{seed}:tasks")
        self._id_base = random.Random(f"kling-sim:{seed}:ids").randrange(10**17, 8 * 10**17)
        self._counter = 0

    def new_task(
        self,
        config: SimulatorConfig,
        endpoint: str,
        account: str,
        body: Mapping[str, Any],
        now: float,
    ) -> SimTask:
        """The next task, created at simulated time ``now``."""
        self._counter += 1
        duration = draw_duration(config, endpoint, self._rng)
        failed = self._rng.random() < config.fail_rate
        return SimTask(
            task_id=str(self._id_base + self._counter),
            endpoint=endpoint,
            account=account,
            body=body,
            created=now,
            duration=duration,
            queue_fraction=config.queue_fraction,
            failed=failed,
            failure_message=config.failure_message,
        )


class RateLimiter:
    """One token bucket per account: ``rate_limit`` requests per real second, ``burst`` deep."""

    def __init__(self) -> None:
        self._buckets: dict[str, TokenBucket] = {}

    def admit(self, config: SimulatorConfig, account: str, now: float) -> bool:
        """Whether ``account`` may make a request at real time ``now``."""
        rate = config.rate_limit
        if rate is None:
            return True
        bucket = self._buckets.get(account)
        if bucket is None:
            burst = config.rate_limit_burst or max(1.0, rate)
            bucket = self._buckets[account] = TokenBucket(rate, burst, now)
        return bucket.take(now)

    def clear(self) -> None:
        """Forget every bucket (the next request of each account starts full)."""
        self._buckets.clear()


class SimState:
    """The simulator's mutable state and the operations its routes need.

    Attributes the routes read: ``config``, ``clock``, ``store``, ``stats``, ``auth``,
    ``callbacks``, ``file_serving`` and ``base_url`` (for result URLs).
    """

    def __init__(
        self, config: SimulatorConfig, clock: VirtualClock, credentials: Credentials
    ) -> None:
        self.config = config
        self.clock = clock
        self.credentials = credentials
        self.auth = credentials.authenticator(config.extra_api_keys)
        self.store = TaskStore()
        self.stats = StatsCollector()
        self.limiter = RateLimiter()
        self.file_serving = FileServing()
        self.base_url = ""
        self.callbacks = CallbackDispatcher(
            clock=clock,
            stats=self.stats,
            lookup=self.lookup,
            render=self.callback_body,
            queue_size=config.callback_queue_size,
            timeout=config.callback_timeout,
            config=lambda: self.config,
            seed=config.seed,
        )
        self.injector = FaultInjector(config.seed)
        self.factory = TaskFactory(config.seed)

    # -- configuration -------------------------------------------------------------------------

    def configure(self, changes: Mapping[str, Any]) -> SimulatorConfig:
        """Apply config changes; existing tasks keep their timelines.  Returns the new config."""
        old, new = self.config, evolve_config(self.config, changes)
        self._apply(old, new)
        if new.seed != old.seed:
            self._reseed()
        if (new.rate_limit, new.rate_limit_burst) != (old.rate_limit, old.rate_limit_burst):
            self.limiter.clear()
        return new

    def reset(self, config: SimulatorConfig | None = None) -> None:
        """Forget tasks, stats, buckets and scheduled callbacks; re-seed (file knobs stay)."""
        if config is not None:
            self._apply(self.config, config)
        self.store = TaskStore()
        self.stats.clear()
        self.limiter.clear()
        self.callbacks.clear()
        self._reseed()

    def _apply(self, old: SimulatorConfig, new: SimulatorConfig) -> None:
        self.config = new
        if new.time_scale != old.time_scale:
            self.clock.set_scale(new.time_scale)
        if new.extra_api_keys != old.extra_api_keys:
            self.auth = self.credentials.authenticator(new.extra_api_keys)
        self.callbacks.timeout = new.callback_timeout

    def _reseed(self) -> None:
        self.injector = FaultInjector(self.config.seed)
        self.factory = TaskFactory(self.config.seed)
        self.callbacks.reseed(self.config.seed)

    # -- used by the routes --------------------------------------------------------------------

    def decide_fault(self, method: str) -> FaultDecision:
        """The faults for the next API request (counted in the stats)."""
        faults = self.config.faults
        if not faults.enabled:
            return NO_FAULT
        decision = self.injector.decide(faults, method)
        if decision.kind is not None:
            self.stats.faults[decision.kind] += 1
        if decision.delay:
            self.stats.faults["delay"] += 1
        return decision

    def admit(self, account: str) -> bool:
        """Whether the rate limit lets ``account`` make a request now."""
        return self.limiter.admit(self.config, account, self.clock.real())

    def new_task(
        self, endpoint: str, account: str, body: Mapping[str, Any], now: float
    ) -> SimTask:
        """A new task created at simulated time ``now`` (not yet stored)."""
        return self.factory.new_task(self.config, endpoint, account, body, now)

    def record(self, method: str, template: str, status: int, code: int) -> None:
        """Count one API request (status 0: answered with no response)."""
        self.stats.requests[(method, template, status)] += 1
        if code:
            self.stats.codes[code] += 1

    def render(self, task: SimTask, status: str) -> dict[str, Any]:
        """The legacy wire task object (reference §3.3) of ``task`` in ``status``."""
        return task_object(task, status, self.base_url, self.clock.to_ms, self.config.charge_type)

    def render_now(self, task: SimTask) -> dict[str, Any]:
        """The legacy wire task object of ``task`` as it is now."""
        return self.render(task, task.status_at(self.clock.now()))

    def render_new(self, task: SimTask, status: str) -> dict[str, Any]:
        """The new-standard task object (reference §12.3) of ``task`` in ``status``: how
        ``/tasks`` shows every task, legacy ones included (§12.4)."""
        return new_task_object(task, status, self.base_url, self.clock.to_ms,
                               self.config.charge_type)

    def render_new_now(self, task: SimTask) -> dict[str, Any]:
        """The new-standard task object of ``task`` as it is now."""
        return self.render_new(task, task.status_at(self.clock.now()))

    def callback_body(self, task: SimTask, status: str, shape: Shape) -> dict[str, Any]:
        """A callback's body (reference §5.2) in ``shape``: the new-standard task object
        (§12.3) or the legacy one (§3.3)."""
        if shape == "new":
            return self.render_new(task, status)
        return self.render(task, status)

    def lookup(self, task_id: str) -> SimTask | None:
        """A stored task by id (any account), or None."""
        return self.store.by_id.get(task_id)

    def snapshot(self) -> SimStats:
        """A frozen snapshot of the counters, with each account's slots in use and peak."""
        now = self.clock.now()
        peak: dict[str, int] = {}
        in_flight: dict[str, int] = {}
        by_bucket: dict[str, int] = {}
        for name, acct in self.store.accounts.items():
            acct.release(now)
            peak[name] = acct.peak
            in_flight[name] = acct.in_flight
            for bucket, slots in acct.buckets.items():
                by_bucket[f"{name}|{bucket}"] = slots.peak
        return self.stats.snapshot(peak, in_flight, by_bucket)
