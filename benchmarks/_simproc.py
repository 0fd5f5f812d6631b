"""Host a KlingSimulator in a separate process, so the client's CPU time is its own.

``python -m benchmarks._simproc '{"time_scale": 1000, ...}'`` prints one JSON line
``{"base_url": ..., "api_key": ...}`` and serves until its standard input closes.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import anyio

from kling_async.testing import KlingSimulator


async def _serve(config: dict[str, Any]) -> None:
    async with KlingSimulator(**config) as sim:
        print(json.dumps({"base_url": sim.base_url, "api_key": sim.api_key}), flush=True)
        await anyio.to_thread.run_sync(sys.stdin.read)


@contextlib.contextmanager
def simulator_process(**config: Any) -> Iterator[dict[str, str]]:
    """Start a simulator subprocess; yields its base_url and api_key; stops it on exit."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks._simproc", json.dumps(config)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("simulator process did not start")
        yield json.loads(line)
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    anyio.run(_serve, json.loads(sys.argv[1]))
