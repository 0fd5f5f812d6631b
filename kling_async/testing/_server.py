"""``KlingSimulator``: a real ``aiohttp.web`` server on loopback that behaves like Kling.

States: unopened -> open (``start()`` / ``async with``) -> closed (``aclose()``, idempotent).
It owns its ``AppRunner`` and the callback dispatcher's ``ClientSession``.  Deterministic
given ``seed``: task ids, durations, outcomes and faults come from seeded streams, so the
same sequence of requests gives the same answers.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from aiohttp import web

from .._models.task import TaskStatus
from ._admin import AdminRoutes
from ._auth import Authenticator
from ._callbacks import CallbackDispatcher
from ._clock import RealClock, TokenBucket, VirtualClock
from ._config import SimulatorConfig, evolve_config
from ._faults import NO_FAULT, FaultDecision, FaultInjector
from ._routes import ApiRoutes
from ._stats import SimStats, StatsCollector
from ._store import TaskStore
from ._tasks import SimTask, TaskRecord, draw_duration, task_object

DEFAULT_ACCOUNT = "default"
_SHUTDOWN_TIMEOUT = 0.5


class KlingSimulator:
    """An offline Kling API on ``127.0.0.1``: use ``base_url`` or ``gateway_url`` and ``api_key``.

    ``time_scale`` and ``seed`` default to the config's (1.0 and 0); ``**config_overrides``
    are ``SimulatorConfig`` fields applied on top of ``config``.  ``port=0`` picks a free port.
    ``clock`` is the real monotonic clock (seconds) the virtual clock and the rate limiter run
    on; inject one to drive lifecycles in tests without sleeping.

    Credentials (all one account, ``"default"``): ``api_key`` as a bearer key, or an HS256 JWT
    signed with ``secret_key`` with ``iss=access_key``.  ``extra_api_keys`` in the config are
    further accounts named ``"extra-1"``, ``"extra-2"``...
    """

    def __init__(
        self,
        *,
        config: SimulatorConfig | None = None,
        time_scale: float | None = None,
        seed: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        clock: RealClock | None = None,
        **config_overrides: Any,
    ) -> None:
        changes = dict(config_overrides)
        if time_scale is not None:
            changes["time_scale"] = time_scale
        if seed is not None:
            changes["seed"] = seed
        self._config = evolve_config(config or SimulatorConfig(), changes)
        self.host = host
        self.port = port
        self.api_key = api_key or f"sim-{secrets.token_hex(16)}"
        self.access_key = access_key or f"sim-ak-{secrets.token_hex(8)}"
        self.secret_key = secret_key or secrets.token_hex(32)
        self._clock = VirtualClock(self._config.time_scale, clock)
        self._store = TaskStore()
        self._stats = StatsCollector()
        self._buckets: dict[str, TokenBucket] = {}
        self._seed_streams()
        self._auth = self._make_auth()
        self._callbacks = CallbackDispatcher(
            clock=self._clock,
            stats=self._stats,
            lookup=self._store_lookup,
            render=self._render,
            queue_size=self._config.callback_queue_size,
            timeout=self._config.callback_timeout,
        )
        self._runner: web.AppRunner | None = None
        self._state = "unopened"
        self._base_url: str | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind and serve; no-op when already open.  A closed simulator cannot restart."""
        if self._state == "open":
            return
        if self._state == "closed":
            raise RuntimeError("this KlingSimulator was closed; create a new one")
        app = web.Application(client_max_size=self._config.max_body_bytes)
        ApiRoutes(self).install(app)
        AdminRoutes(self).install(app)
        runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=_SHUTDOWN_TIMEOUT
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
            await self._callbacks.start()
        except BaseException:
            await self._callbacks.aclose()
            await runner.cleanup()
            raise
        self._runner = runner
        address = runner.addresses[0]
        self.port = int(address[1])
        host = self.host if ":" not in self.host else f"[{self.host}]"
        self._base_url = f"http://{host}:{self.port}"
        self._state = "open"

    async def aclose(self) -> None:
        """Stop serving, stop callbacks and close everything; idempotent."""
        if self._state == "closed":
            return
        self._state = "closed"
        runner, self._runner = self._runner, None
        try:
            if runner is not None:
                await runner.cleanup()
        finally:
            await self._callbacks.aclose()

    async def __aenter__(self) -> KlingSimulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- public surface ------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (official form: serves ``/v1/...``)."""
        if self._base_url is None:
            raise RuntimeError("the simulator is not started: use `async with KlingSimulator()`")
        return self._base_url

    @property
    def gateway_url(self) -> str:
        """``http://127.0.0.1:PORT/kling`` (gateway form: serves ``/kling/v1/...``)."""
        return f"{self.base_url}/kling"

    @property
    def config(self) -> SimulatorConfig:
        """The current configuration."""
        return self._config

    def configure(self, **changes: Any) -> SimulatorConfig:
        """Change config fields at runtime (``faults`` may be a ``FaultConfig`` or a mapping).

        Existing tasks keep their timelines; a new ``time_scale`` applies from now on; a new
        ``seed`` re-seeds the random streams.  Returns the new config.
        """
        old, new = self._config, evolve_config(self._config, changes)
        self._config = new
        if new.time_scale != old.time_scale:
            self._clock.set_scale(new.time_scale)
        if new.seed != old.seed:
            self._seed_streams()
        if (new.rate_limit, new.rate_limit_burst) != (old.rate_limit, old.rate_limit_burst):
            self._buckets.clear()
        if new.extra_api_keys != old.extra_api_keys:
            self._auth = self._make_auth()
        self._callbacks.timeout = new.callback_timeout
        return new

    def reset(self, config: SimulatorConfig | None = None) -> None:
        """Forget every task and zero the stats; re-seed, so it replays like a new simulator.

        The config is kept unless ``config`` is given.
        """
        if config is not None:
            old = self._config
            self._config = config
            if config.time_scale != old.time_scale:
                self._clock.set_scale(config.time_scale)
            self._auth = self._make_auth()
            self._callbacks.timeout = config.callback_timeout
        self._store = TaskStore()
        self._stats.clear()
        self._buckets.clear()
        self._callbacks.clear()
        self._seed_streams()

    def stats(self) -> SimStats:
        """A frozen snapshot of the counters."""
        now = self._clock.now()
        peak: dict[str, int] = {}
        in_flight: dict[str, int] = {}
        for name, acct in self._store.accounts.items():
            acct.release(now)
            peak[name] = acct.peak
            in_flight[name] = acct.in_flight
        return self._stats.snapshot(peak, in_flight)

    def tasks(self) -> list[TaskRecord]:
        """A snapshot of every stored task, oldest first, with its status right now."""
        now = self._clock.now()
        to_ms = self._clock.to_ms
        return [
            TaskRecord(
                task_id=t.task_id,
                external_task_id=t.external_task_id,
                endpoint=t.endpoint,
                account=t.account,
                status=_STATUS[t.status_at(now)],
                created_at=to_ms(t.created),
                ends_at=to_ms(t.ended),
                failed=t.failed,
                weight=t.weight,
                body=t.body,
            )
            for t in self._store.all_tasks()
        ]

    def now(self) -> float:
        """Simulated seconds since start."""
        return self._clock.now()

    # -- used by the routes --------------------------------------------------------------------

    def _seed_streams(self) -> None:
        seed = self._config.seed
        self._task_rng = random.Random(f"kling-sim:{seed}:tasks")
        self._faults = FaultInjector(seed)
        self._id_base = random.Random(f"kling-sim:{seed}:ids").randrange(10**17, 8 * 10**17)
        self._counter = 0

    def _make_auth(self) -> Authenticator:
        keys = {self.api_key: DEFAULT_ACCOUNT}
        for i, key in enumerate(self._config.extra_api_keys, start=1):
            keys.setdefault(key, f"extra-{i}")
        return Authenticator(
            api_keys=keys,
            access_key=self.access_key,
            secret_key=self.secret_key,
            jwt_account=DEFAULT_ACCOUNT,
        )

    def _decide_fault(self, method: str) -> FaultDecision:
        faults = self._config.faults
        if not faults.enabled:
            return NO_FAULT
        decision = self._faults.decide(faults, method)
        if decision.kind is not None:
            self._stats.faults[decision.kind] += 1
        if decision.delay:
            self._stats.faults["delay"] += 1
        return decision

    def _admit(self, account: str) -> bool:
        rate = self._config.rate_limit
        if rate is None:
            return True
        bucket = self._buckets.get(account)
        now = self._clock.real()
        if bucket is None:
            burst = self._config.rate_limit_burst or max(1.0, rate)
            bucket = self._buckets[account] = TokenBucket(rate, burst, now)
        return bucket.take(now)

    def _new_task(
        self, endpoint: str, account: str, body: Mapping[str, Any], now: float
    ) -> SimTask:
        config = self._config
        self._counter += 1
        duration = draw_duration(config, endpoint, self._task_rng)
        failed = self._task_rng.random() < config.fail_rate
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

    def _record(self, method: str, template: str, status: int, code: int) -> None:
        self._stats.requests[(method, template, status)] += 1
        if code:
            self._stats.codes[code] += 1

    def _render(self, task: SimTask, status: str) -> dict[str, Any]:
        return task_object(task, status, self._base_url or "", self._clock.to_ms)

    def _store_lookup(self, task_id: str) -> SimTask | None:
        return self._store.by_id.get(task_id)


_STATUS: dict[str, TaskStatus] = {s.value: s for s in TaskStatus}
