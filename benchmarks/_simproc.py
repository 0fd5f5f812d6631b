"""Host a KlingSimulator in a separate process, so the client's CPU time is its own.

Where the machine has two or more CPUs, the client (this process) and the simulator are pinned
to separate ones for the duration (``KLING_BENCH_NO_PIN=1`` turns that off).

``python -m benchmarks._simproc '{"time_scale": 1000, ...}'`` prints one JSON line
``{"base_url": ..., "api_key": ...}`` and serves until its standard input closes.
``sim_admin`` calls its admin routes (``/__sim/reset``, ``/__sim/stats``) from the client side;
``run_to_end`` runs a batch of jobs through the SDK against it.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from typing import Any

import anyio

import kling_async as kling
from kling_async.testing import KlingSimulator


async def _serve(config: dict[str, Any]) -> None:
    async with KlingSimulator(**config) as sim:
        print(json.dumps({"base_url": sim.base_url, "api_key": sim.api_key}), flush=True)
        await anyio.to_thread.run_sync(sys.stdin.read)


def _cpu_split() -> tuple[set[int], set[int]] | None:
    """(client CPUs, simulator CPUs), or None where that cannot be done (fewer than two CPUs,
    no ``sched_setaffinity``, or ``KLING_BENCH_NO_PIN`` set).

    Left to the scheduler, the two processes now and then share a core or trade cores within
    a run, which made single runs of the raw loop vary by about 25 %; pinned, they vary by
    a few per cent.
    """
    if os.environ.get("KLING_BENCH_NO_PIN") or not hasattr(os, "sched_setaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    return {cpus[0]}, set(cpus[1:])


@contextlib.contextmanager
def simulator_process(**config: Any) -> Iterator[dict[str, str]]:
    """Start a simulator subprocess; yields its base_url and api_key; stops it on exit."""
    split = _cpu_split()
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks._simproc", json.dumps(config)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    before = os.sched_getaffinity(0) if split else None
    try:
        if split:  # the client on one core, the simulator on the others
            os.sched_setaffinity(proc.pid, split[1])
            os.sched_setaffinity(0, split[0])
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("simulator process did not start")
        yield json.loads(line)
    finally:
        if before is not None:
            os.sched_setaffinity(0, before)
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def sim_admin(base_url: str, api_key: str, path: str, post: bool = False) -> dict[str, Any]:
    """Call the simulator's ``/__sim/<path>`` (``POST`` if ``post``) with its key; the reply's
    ``data`` (``{}`` if none)."""
    request = urllib.request.Request(f"{base_url}/__sim/{path}", data=b"" if post else None,
                                     method="POST" if post else "GET",
                                     headers={"Authorization": f"Bearer {api_key}"})
    with urllib.request.urlopen(request, timeout=30) as reply:
        body: dict[str, Any] = json.loads(reply.read() or b"{}").get("data") or {}
        return body


def reset_simulator(base_url: str, api_key: str) -> None:
    """Forget every task and re-seed (``POST /__sim/reset``), so each run meets a server in
    the same state and draws the same durations in creation order."""
    sim_admin(base_url, api_key, "reset", post=True)


async def run_to_end(base_url: str, api_key: str, requests: list[Any], *,
                     poll: kling.PollPolicy, limits: kling.Limits) -> int:
    """Every request through one client's ``as_completed``; how many jobs succeeded."""
    succeeded = 0
    async with kling.KlingClient(api_key=api_key, base_url=base_url, poll=poll,
                                 limits=limits) as client:
        async for job in client.as_completed(requests):
            succeeded += job.status is kling.JobState.SUCCEEDED
    return succeeded


if __name__ == "__main__":
    anyio.run(_serve, json.loads(sys.argv[1]))
