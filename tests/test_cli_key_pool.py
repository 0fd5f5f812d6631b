"""Several accounts from the command line: ``--api-key`` repeated is a key pool for ``run
--store`` (like ``KLING_API_KEYS``) and refused, with exit 2, by every other command; no key
is ever printed."""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path

import anyio
import pytest

from kling_async.testing import KlingSimulator, SimulatorConfig

pytestmark = pytest.mark.anyio
ROOT = str(Path(__file__).resolve().parents[1])
SCALE = 20.0
LIMIT = 2
KEY_A = "pool-key-alpha-" + secrets.token_hex(4)
KEY_B = "pool-key-beta-" + secrets.token_hex(4)


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": ROOT, **extra}
    for name in ("KLING_API_KEY", "KLING_API_KEYS", "KLING_STORE", "KLING_ACCESS_KEY",
                 "KLING_SECRET_KEY"):
        if name not in extra:
            env.pop(name, None)
    return env


def _jobs(tmp_path: Path, count: int) -> Path:
    jobs = tmp_path / "pool.jsonl"
    jobs.write_text("\n".join(json.dumps({"id": f"p{i}", "endpoint": "images/generations",
                                          "request": {"prompt": f"pool {i}"}})
                              for i in range(count)) + "\n", encoding="utf-8")
    return jobs


async def test_repeated_api_key_is_a_key_pool_for_run_with_a_store(
        tmp_path: Path, postgres_dsn: str) -> None:
    """``run --store --api-key A --api-key B``: one worker per key, each its own account:
    both accounts create tasks, each job once, neither past its limit; no key printed."""
    config = SimulatorConfig(time_scale=SCALE, seed=8, latency_sigma=0.2,
                             concurrency_limit=LIMIT)
    jobs = _jobs(tmp_path, 10)
    async with KlingSimulator(config=config, api_key=KEY_A, extra_api_keys=(KEY_B,)) as sim:
        env = _env(KLING_BASE_URL=sim.base_url, KLING_TIME_SCALE=str(SCALE))
        argv = [sys.executable, "-m", "kling_async.cli", "run", str(jobs), "--store",
                postgres_dsn, "--batch", f"keys-{secrets.token_hex(4)}", "--out",
                str(tmp_path / "out"), "--max-in-flight", str(LIMIT), "--no-progress",
                "--api-key", KEY_A, "--api-key", KEY_B]
        with anyio.fail_after(120):
            proc = await anyio.run_process(argv, env=env, check=False)
        assert proc.returncode == 0, proc.stderr.decode()
        tasks = sim.tasks()
        stats = sim.stats()
    assert {t.account for t in tasks} == {"default", "extra-1"}
    assert len({t.external_task_id for t in tasks}) == len(tasks) == 10
    assert 1303 not in stats.codes and max(stats.peak_concurrency.values()) <= LIMIT
    output = proc.stdout + proc.stderr
    assert KEY_A.encode() not in output and KEY_B.encode() not in output


@pytest.mark.parametrize("command", [
    ["status", "images/generations", "task-1"],
    ["account", "balance"],
    ["run", "JOBS"],  # no --store: a single-process run has one account
])
async def test_several_api_keys_are_refused_outside_run_with_a_store(
        tmp_path: Path, command: list[str]) -> None:
    """Two different ``--api-key`` values anywhere but ``run --store`` exit 2 with a message
    naming the flag and where a key pool is accepted, and never the keys."""
    argv = [str(_jobs(tmp_path, 1)) if part == "JOBS" else part for part in command]
    argv = [sys.executable, "-m", "kling_async.cli", *argv, "--api-key", KEY_A,
            "--api-key", KEY_B, "--base-url", "http://127.0.0.1:9", "--out",
            str(tmp_path / "out")] if command[0] == "run" else [
        sys.executable, "-m", "kling_async.cli", *argv, "--api-key", KEY_A, "--api-key", KEY_B,
        "--base-url", "http://127.0.0.1:9"]
    with anyio.fail_after(60):
        proc = await anyio.run_process(argv, env=_env(), check=False)
    output = (proc.stdout + proc.stderr).decode()
    assert proc.returncode == 2, output
    assert "--api-key was given 2 different keys" in output and "'run --store'" in output
    assert KEY_A not in output and KEY_B not in output
    assert "Traceback" not in output


async def test_the_same_api_key_repeated_is_one_key(tmp_path: Path) -> None:
    """``--api-key K --api-key K`` is one key, not a pool: the command runs (here: its
    status lookup reaches the simulator with that key)."""
    async with KlingSimulator(api_key=KEY_A) as sim:
        argv = [sys.executable, "-m", "kling_async.cli", "status", "images/generations",
                "no-such-task", "--api-key", KEY_A, "--api-key", KEY_A, "--base-url",
                sim.base_url]
        with anyio.fail_after(60):
            proc = await anyio.run_process(argv, env=_env(), check=False)
        gets = sum(n for (method, _, _), n in sim.stats().requests.items() if method == "GET")
    output = (proc.stdout + proc.stderr).decode()
    assert proc.returncode == 1 and gets >= 1, output  # the lookup was made: not found
    assert KEY_A not in output


async def test_run_with_a_store_refuses_the_flags_a_fleet_would_ignore(tmp_path: Path) -> None:
    """``run --store`` with ``--max-units``, ``--retry-failed`` or a webhook flag: exit 2 before
    anything is sent or any store is opened (a fleet worker does not honour them yet, and a
    spending limit silently ignored would cost money)."""
    jobs = _jobs(tmp_path, 1)
    env = _env(KLING_API_KEY=KEY_A, KLING_BASE_URL="http://127.0.0.1:9")
    for flags in (["--max-units", "5"], ["--retry-failed"],
                  ["--webhook-url", "https://hooks.example/k"]):
        argv = [sys.executable, "-m", "kling_async.cli", "run", str(jobs), "--store",
                "postgresql://nobody@127.0.0.1:9/none", "--out", str(tmp_path / "out"),
                "--no-progress", *flags]
        with anyio.fail_after(60):
            proc = await anyio.run_process(argv, env=env, check=False)
        err = proc.stderr.decode()
        assert proc.returncode == 2, err
        assert flags[0] in err and "not supported with --store" in err
        assert KEY_A not in err + proc.stdout.decode()
