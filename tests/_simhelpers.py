"""Helpers shared by the simulator's own tests: a hand-moved clock and a running simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from kling_async.testing import KlingSimulator


class FakeClock:
    """A real-clock stand-in (seconds) that only moves when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@asynccontextmanager
async def running(**kwargs: Any) -> AsyncIterator[tuple[KlingSimulator, aiohttp.ClientSession]]:
    """A started simulator (validation off unless asked) and a session carrying its key."""
    kwargs.setdefault("validate_requests", False)
    async with (
        KlingSimulator(**kwargs) as sim,
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {sim.api_key}"}) as session,
    ):
        yield sim, session
