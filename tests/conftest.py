"""The suite's shared fixtures: anyio on asyncio, and a running simulator (``sim``).

Helpers the fixtures build on (``client_for``, ``FakeClock``, ``POLL``, ...) are in
``tests/_simhelpers.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from kling_async.testing import KlingSimulator, SimulatorConfig
from tests._scripted import ScriptedServer
from tests._simhelpers import SIM_CONFIG


@pytest.fixture
def anyio_backend() -> str:
    """anyio's plugin runs every async test and fixture on asyncio."""
    return "asyncio"


@pytest.fixture
def sim_config() -> SimulatorConfig:
    """How the ``sim`` fixture's simulator behaves: a module overrides this fixture to change
    it (``SIM_CONFIG`` by default)."""
    return SIM_CONFIG


@pytest.fixture
async def sim(sim_config: SimulatorConfig) -> AsyncIterator[KlingSimulator]:
    """A running simulator configured by ``sim_config``, stopped after the test."""
    async with KlingSimulator(config=sim_config) as simulator:
        yield simulator


@pytest.fixture
async def server() -> AsyncIterator[ScriptedServer]:
    """A scripted HTTP server on 127.0.0.1 for hostile or exact replies (tests/_scripted.py)."""
    async with ScriptedServer() as srv:
        yield srv


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """A throwaway PostgreSQL cluster for the session (tests/_postgres.py): its DSN.  Missing
    server binaries FAIL the test, naming the package to install."""
    from tests._postgres import PostgresCluster, PostgresMissing

    try:
        cluster = PostgresCluster()
    except PostgresMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield cluster.start()
    finally:
        cluster.stop()
