"""``kling_async.testing``: a built-in Kling simulator for offline, free, deterministic runs.

A real ``aiohttp.web`` server on loopback that speaks the Kling API (both ``/v1/...`` and the
``/kling/v1/...`` gateway form): auth (bearer key and HS256 JWT), create / query / list for
every endpoint in ``kling_async._endpoints.ENDPOINTS``, task lifecycles on a virtual clock,
results served as real files, callbacks, concurrency and rate limits, and seeded fault
injection::

    from kling_async.testing import KlingSimulator

    async with KlingSimulator(time_scale=100.0, seed=7) as sim:
        ...  # point a client at sim.base_url (or sim.gateway_url) with sim.api_key
        assert sim.stats().tasks_created == 1

From the command line: ``kling-async simulate --port 8000``.
"""

from ._config import FAULT_KINDS, FaultConfig, Scope, SimulatorConfig
from ._files import FileServing, file_serving
from ._server import DEFAULT_ACCOUNT, KlingSimulator
from ._stats import SimStats
from ._tasks import TaskRecord

__all__ = [
    "DEFAULT_ACCOUNT",
    "FAULT_KINDS",
    "FaultConfig",
    "FileServing",
    "KlingSimulator",
    "Scope",
    "SimStats",
    "SimulatorConfig",
    "TaskRecord",
    "file_serving",
]
