"""``KlingSimulator``: a real ``aiohttp.web`` server on loopback that behaves like Kling.

States: unopened -> open (``start()`` / ``async with``) -> closed (``aclose()``, idempotent).
It owns its ``AppRunner`` and a ``SimState`` (``_state.py``), the one object its routes are
given; the state owns the callback dispatcher's ``ClientSession``.  Deterministic given
``seed``: task ids, durations, outcomes and faults come from seeded streams, so the same
sequence of requests gives the same answers.
"""

from __future__ import annotations

import secrets
from types import TracebackType
from typing import Any

from aiohttp import web

from .._models.task import TaskStatus
from ._account import install_account_routes
from ._admin import AdminRoutes
from ._clock import RealClock, VirtualClock
from ._config import SimulatorConfig, evolve_config
from ._files import FileServing
from ._resources import install_resource_routes
from ._routes import ApiRoutes
from ._state import DEFAULT_ACCOUNT, Credentials, SimState
from ._stats import SimStats
from ._sync import install_sync_routes
from ._tasks import TaskRecord

__all__ = ["DEFAULT_ACCOUNT", "KlingSimulator"]
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
        settled = evolve_config(config or SimulatorConfig(), changes)
        self.host = host
        self.port = port
        self.api_key = api_key or f"sim-{secrets.token_hex(16)}"
        self.access_key = access_key or f"sim-ak-{secrets.token_hex(8)}"
        self.secret_key = secret_key or secrets.token_hex(32)
        credentials = Credentials(self.api_key, self.access_key, self.secret_key)
        self._state = SimState(settled, VirtualClock(settled.time_scale, clock), credentials)
        self._runner: web.AppRunner | None = None
        self._phase = "unopened"
        self._base_url: str | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind and serve; no-op when already open.  A closed simulator cannot restart."""
        if self._phase == "open":
            return
        if self._phase == "closed":
            raise RuntimeError("this KlingSimulator was closed; create a new one")
        state = self._state
        app = web.Application(client_max_size=state.config.max_body_bytes)
        install_sync_routes(app, state)
        install_resource_routes(app, state)
        install_account_routes(app, state)
        ApiRoutes(state).install(app)
        AdminRoutes(state).install(app)
        runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=_SHUTDOWN_TIMEOUT
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
            await state.callbacks.start()
        except BaseException:
            await state.callbacks.aclose()
            await runner.cleanup()
            raise
        self._runner = runner
        address = runner.addresses[0]
        self.port = int(address[1])
        host = self.host if ":" not in self.host else f"[{self.host}]"
        self._base_url = state.base_url = f"http://{host}:{self.port}"
        self._phase = "open"

    async def aclose(self) -> None:
        """Stop serving, stop callbacks and close everything; idempotent."""
        if self._phase == "closed":
            return
        self._phase = "closed"
        runner, self._runner = self._runner, None
        try:
            if runner is not None:
                await runner.cleanup()
        finally:
            await self._state.callbacks.aclose()

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
        return self._state.config

    @property
    def file_serving(self) -> FileServing:
        """How result files are streamed: this simulator's own, mutable ``FileServing``."""
        return self._state.file_serving

    def configure(self, **changes: Any) -> SimulatorConfig:
        """Change config fields at runtime (``faults`` may be a ``FaultConfig`` or a mapping).

        Existing tasks keep their timelines; a new ``time_scale`` applies from now on; a new
        ``seed`` re-seeds the random streams.  Returns the new config.
        """
        return self._state.configure(changes)

    def reset(self, config: SimulatorConfig | None = None) -> None:
        """Forget every task and zero the stats; re-seed, so it replays like a new simulator.

        The config is kept unless ``config`` is given; ``file_serving`` is kept.
        """
        self._state.reset(config)

    def stats(self) -> SimStats:
        """A frozen snapshot of the counters."""
        return self._state.snapshot()

    def tasks(self) -> list[TaskRecord]:
        """A snapshot of every stored task, oldest first, with its status right now."""
        clock = self._state.clock
        now = clock.now()
        return [
            TaskRecord(
                task_id=t.task_id,
                external_task_id=t.external_task_id,
                endpoint=t.endpoint,
                account=t.account,
                status=_STATUS[t.status_at(now)],
                created_at=clock.to_ms(t.created),
                ends_at=clock.to_ms(t.ended),
                failed=t.failed,
                weight=t.weight,
                body=t.body,
                bucket=t.bucket,
            )
            for t in self._state.store.all_tasks()
        ]

    def now(self) -> float:
        """Simulated seconds since start."""
        return self._state.clock.now()


_STATUS: dict[str, TaskStatus] = {s.value: s for s in TaskStatus}
