"""The ``simulate`` subcommand: flags, and a real run in a subprocess stopped by SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

import kling_async
from kling_async.cli import _simulate

pytestmark = pytest.mark.anyio

REPO = Path(kling_async.__file__).resolve().parent.parent
PROGRAM = (
    "import argparse, sys\n"
    "from kling_async.cli import _simulate\n"
    "parser = argparse.ArgumentParser(prog='kling-async')\n"
    "_simulate.register(parser.add_subparsers())\n"
    "args = parser.parse_args(sys.argv[1:])\n"
    "sys.exit(args.func(args))\n"
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    _simulate.register(parser.add_subparsers())
    return parser.parse_args(["simulate", *argv])


def test_flags_and_defaults() -> None:
    """Defaults are 127.0.0.1:8000, scale 1, no limits; flags reach the simulator config."""
    args = parse()
    assert (args.host, args.port, args.time_scale, args.api_key) == ("127.0.0.1", 8000, 1.0, None)
    assert args.func is _simulate.run
    sim = _simulate.build_simulator(
        parse(
            "--seed",
            "4",
            "--fail-rate",
            "0.2",
            "--concurrency-limit",
            "3",
            "--rate-limit",
            "5",
            "--api-key",
            "k",
            "--fault-error-5xx",
            "0.1",
            "--fault-drop-after-create",
            "0.05",
            "--time-scale",
            "10",
            "--latency",
            "0",
            "--no-list",
        )
    )
    config = sim.config
    assert (config.seed, config.fail_rate, config.concurrency_limit, config.rate_limit) == (
        4,
        0.2,
        3,
        5.0,
    )
    assert (config.time_scale, config.latency, config.list_supported) == (10.0, 0.0, False)
    assert (config.faults.error_5xx, config.faults.drop_after_create) == (0.1, 0.05)
    assert sim.api_key == "k"


def test_2026_flags_reach_the_config() -> None:
    """--bucket-limit, --tasks-id-limit, --not-found-code and --charge-type set the new
    settings; the defaults are the 2026 API's."""
    config = _simulate.build_simulator(parse()).config
    assert (config.concurrency_limits, config.tasks_id_limit) == ({}, 20)
    assert (config.not_found_code, config.charge_type) == (1201, "unit")
    config = _simulate.build_simulator(parse(
        "--bucket-limit", "video/kling-3.0=2", "--bucket-limit", "*=5",
        "--tasks-id-limit", "10", "--not-found-code", "1203", "--charge-type", "cash",
    )).config
    assert config.concurrency_limits == {"video/kling-3.0": 2, "*": 5}
    assert (config.tasks_id_limit, config.not_found_code, config.charge_type) == (
        10, 1203, "cash")


@pytest.mark.parametrize("flag", ["video/kling-3.0", "=3", "video/kling-3.0=x",
                                  "video/kling-3.0=0"])
def test_bad_bucket_limits_exit_2(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A --bucket-limit that is not BUCKET=N (N >= 1) is reported with exit code 2."""
    args = parse("--bucket-limit", flag)
    assert args.func(args) == 2
    assert "limit" in capsys.readouterr().err


def test_bad_values_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """Impossible values are reported and give exit code 2."""
    args = parse("--fail-rate", "3")
    assert args.func(args) == 2
    assert "fail_rate" in capsys.readouterr().err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_simulate_serves_until_a_signal(sig: signal.Signals) -> None:
    """The subprocess prints both URL forms and the key, serves, and exits 0 on SIGINT/TERM."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        PROGRAM,
        "simulate",
        "--port",
        "0",
        "--seed",
        "3",
        "--api-key",
        "cli-key",
        "--latency",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None
    try:
        lines: list[str] = []
        while not any(line.startswith("Press Ctrl+C") for line in lines):
            raw = await asyncio.wait_for(proc.stdout.readline(), 10)
            assert raw, f"simulator exited early: {lines}"
            lines.append(raw.decode().strip())
        text = "\n".join(lines)
        base = next(ln.split(": ", 1)[1] for ln in lines if ln.startswith("base URL (official"))
        gateway = next(ln.split(": ", 1)[1] for ln in lines if ln.startswith("base URL (/kling"))
        assert base.startswith("http://127.0.0.1:") and gateway == f"{base}/kling"
        assert "cli-key" in text
        headers = {"Authorization": "Bearer cli-key"}
        async with aiohttp.ClientSession(headers=headers) as session:
            async with session.post(
                f"{gateway}/v1/videos/text2video", json={"prompt": "a cat"}
            ) as resp:
                assert resp.status == 200
                task_id = (await resp.json())["data"]["task_id"]
            async with session.get(f"{base}/v1/videos/text2video/{task_id}") as resp:
                assert (await resp.json())["data"]["task_status"] == "succeed"
        proc.send_signal(sig)
        code = await asyncio.wait_for(proc.wait(), 10)
        assert code == 0
        assert proc.stderr is not None
        assert b"Traceback" not in await proc.stderr.read()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_port_in_use_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    """When the port is taken, simulate reports it and exits 1."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        args = parse("--port", str(taken.getsockname()[1]))
        assert args.func(args) == 1
    assert "cannot listen" in capsys.readouterr().err
