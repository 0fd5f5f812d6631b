"""``kling_async.testing``: a built-in Kling simulator for offline, free, deterministic runs.

A real ``aiohttp.web`` server on loopback that speaks the Kling API as it is in 2026 (also
under the ``/kling`` gateway prefix): auth (bearer key and HS256 JWT; API key only on the new
standard), legacy create / query / list for every ``/v1`` endpoint in
``kling_async._endpoints.ENDPOINTS``, new-standard creates (``/text-to-video/kling-3.0``...)
with ``GET /tasks`` by ids and ``POST /tasks`` cursor listing, costs (``billing[]``,
``final_unit_deduction``), task lifecycles on a virtual clock, results served as real files,
callbacks in both shapes, concurrency per model version, rate limits, and seeded fault
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
