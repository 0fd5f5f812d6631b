"""Helpers shared by the suite: a hand-moved clock, a running simulator, a client of one,
the environment of a child process (the CLI, a script) pointed at one.

The fixtures built on them (``sim``, ``sim_config``, ``anyio_backend``) live in ``conftest.py``.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

import aiohttp
import anyio.lowlevel

import kling_async
from kling_async import (
    Backoff,
    Event,
    ExternalIdQuery,
    KlingClient,
    Limits,
    PollPolicy,
    RetryPolicy,
    Timeouts,
)
from kling_async.testing import KlingSimulator, SimulatorConfig

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack is 3.11+; mypy checks for 3.10

#: This checkout's root: a child process gets it as ``PYTHONPATH``, so it runs this code.
REPO = Path(kling_async.__file__).resolve().parent.parent
#: The ``sim`` fixture's speed-up: simulated seconds per real second.
SCALE = 50.0
#: The ``sim`` fixture's simulator: fast, seeded, images in about 2 and videos in about 4
#: simulated seconds (a module changes it by overriding the ``sim_config`` fixture).
SIM_CONFIG = SimulatorConfig(time_scale=SCALE, seed=7, image_median=2, video_median=4)
#: Polls paced for ``SIM_CONFIG``'s durations at its speed.
POLL = PollPolicy(expected_image=2, expected_video=4).scaled(SCALE)
#: Retries that wait milliseconds, not seconds.
FAST_RETRY = RetryPolicy(backoff=Backoff(initial=0.002, maximum=0.02),
                         concurrency_min_delay=0.01)


class FakeClock:
    """A clock (seconds) that moves only when the test moves it: set ``now`` or ``advance()``.

    It starts at ``start`` (kept as ``origin``); 1000 s by default, so that no code under test
    can mistake the current time for an unset zero.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.origin = start
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Credentials(TypedDict, total=False):
    """A client's (or simulator's) credentials: an API key, or an access key and its secret."""

    api_key: str
    access_key: str
    secret_key: str


class ClientSettings(TypedDict, total=False):
    """``KlingClient``'s keyword arguments, for helpers that build a client from defaults a
    test may change (``**overrides: Unpack[ClientSettings]`` keeps the overrides typed)."""

    api_key: str | None
    access_key: str | None
    secret_key: str | None
    base_url: str | None
    timeouts: Timeouts
    retry: RetryPolicy
    poll: PollPolicy
    limits: Limits
    external_id_query: ExternalIdQuery
    reconcile_delay: float
    external_id_prefix: str
    session: aiohttp.ClientSession | None
    allow_insecure_http: bool
    on_event: Callable[[Event], Any] | None
    clock: Callable[[], float] | None
    sleep: Callable[[float], Awaitable[Any]]
    rand: Callable[[], float]


def client_for(sim: KlingSimulator, **overrides: Unpack[ClientSettings]) -> KlingClient:
    """An unopened client of ``sim`` with ``POLL``, ``FAST_RETRY`` and no reconcile delay,
    changed by ``overrides``."""
    settings: ClientSettings = {
        "api_key": sim.api_key, "base_url": sim.base_url, "poll": POLL, "retry": FAST_RETRY,
        "reconcile_delay": 0,
    }
    settings.update(overrides)
    return KlingClient(**settings)


@asynccontextmanager
async def running(**kwargs: Any) -> AsyncIterator[tuple[KlingSimulator, aiohttp.ClientSession]]:
    """A started simulator (validation off unless asked) and a session carrying its key."""
    kwargs.setdefault("validate_requests", False)
    async with (
        KlingSimulator(**kwargs) as sim,
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {sim.api_key}"}) as session,
    ):
        yield sim, session


class Sleeps(list[float]):
    """An injected ``sleep`` that records every delay and returns at once."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)
        await anyio.lowlevel.checkpoint()


@contextmanager
def threaded_simulator(**config: Any) -> Iterator[KlingSimulator]:
    """A simulator serving from its own thread and event loop (for tests that run the CLI in
    a subprocess, or a blocking client, against it), stopped at the end."""
    loop = asyncio.new_event_loop()
    simulator = KlingSimulator(**config)
    started = threading.Event()
    stop = asyncio.Event()

    async def serve() -> None:
        async with simulator:
            started.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert started.wait(10), "the simulator did not start within 10 s"
    try:
        yield simulator
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


def child_env(sim: KlingSimulator | None = None, /, **extra: str) -> dict[str, str]:
    """A child process's environment: ours without any ``KLING_*`` variable, ``PYTHONPATH``
    at ``REPO``, ``sim``'s URL and key if given, then ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLING_")}
    env["PYTHONPATH"] = str(REPO)
    if sim is not None:
        env.update(KLING_BASE_URL=sim.base_url, KLING_API_KEY=sim.api_key)
    env.update(extra)
    return env


async def until(condition: Callable[[], bool], limit: float = 10.0) -> None:
    """Wait (bounded by ``limit`` seconds) until ``condition()`` holds."""
    with anyio.fail_after(limit):
        while not condition():  # noqa: ASYNC110 - bounded by fail_after
            await anyio.sleep(0.005)
