"""``kling-async`` in ordinary terminal use (issue 18), as real subprocesses: ``--version``,
``-v`` on every command, help that shows defaults, a closed stdout (``| head``) that ends
quietly with exit 0, Ctrl-C that prints the task's ids instead of a traceback, and
``simulate``'s ready-to-paste ``export`` line."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys

import anyio
import pytest
from anyio.abc import ByteReceiveStream, Process

import kling_async
from kling_async import ImageGenerationRequest, KlingClient, OmniVideoRequest, PollPolicy
from kling_async.testing import KlingSimulator
from tests._simhelpers import child_env

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

CODE = "import sys\nfrom kling_async.cli import main\nsys.exit(main(sys.argv[1:]))"
COMMANDS = ("run", "demo", "submit", "status", "wait", "list", "simulate")
VIDEO = json.dumps({"prompt": "a cat", "aspect_ratio": "16:9", "duration": "5"})


def _env(sim: KlingSimulator | None = None, extra: dict[str, str] | None = None
         ) -> dict[str, str]:
    """The child's environment (``child_env``), 200 columns wide."""
    return child_env(sim, COLUMNS="200", **(extra or {}))


async def _cli(args: list[str], env: dict[str, str] | None = None,
               stdout: int = subprocess.PIPE) -> tuple[int, str, str]:
    """``kling-async ARGS`` in a child process: exit code, stdout and stderr."""
    with anyio.fail_after(60):
        done = await anyio.run_process([sys.executable, "-c", CODE, *args], check=False,
                                       env=env or _env(), stdout=stdout)
    out = done.stdout.decode() if done.stdout is not None else ""
    return done.returncode, out, done.stderr.decode()


async def _cli_closed_stdout(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """``kling-async ARGS`` writing into a pipe whose reader is already gone (what
    ``| head -1`` leaves once head exits): exit code and stderr."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        code, _, stderr = await _cli(args, env, stdout=writer)
    finally:
        os.close(writer)
    return code, stderr


async def _read_until(stream: ByteReceiveStream, marker: str, seen: list[bytes]) -> str:
    """Read ``stream`` until ``marker`` appears (bounded); all text read so far."""
    with anyio.fail_after(30):
        while marker not in b"".join(seen).decode(errors="replace"):
            seen.append(await stream.receive())
    return b"".join(seen).decode(errors="replace")


async def _interrupt(process: Process, seen: list[bytes]) -> tuple[int, str]:
    """Send SIGINT (Ctrl-C); the exit code and all of stderr."""
    assert process.stderr is not None
    process.send_signal(signal.SIGINT)
    with anyio.fail_after(30):
        code = await process.wait()
        async for chunk in process.stderr:
            seen.append(chunk)
    return code, b"".join(seen).decode(errors="replace")


def _slow() -> KlingSimulator:
    """A real-time simulator whose tasks take hours: a wait that is still waiting."""
    return KlingSimulator(time_scale=1.0, latency=10_000.0, seed=3)


# -- --version, -v, --help -----------------------------------------------------------------

async def test_version_prints_the_package_version() -> None:
    """``kling-async --version`` prints kling_async.__version__ and exits 0."""
    code, out, err = await _cli(["--version"])
    assert (code, out.strip(), err) == (0, f"kling-async {kling_async.__version__}", "")


async def test_every_command_is_described_and_its_help_shows_defaults() -> None:
    """The top-level help describes every command in one line; each command's help has a
    description, -v/--verbose, and a "(default: ...)" (or "required") for every option that
    takes a value."""
    code, out, _ = await _cli(["--help"])
    assert code == 0 and "--version" in out
    for command in COMMANDS:
        assert re.search(rf"^\s+{command}\s+\S.+$", out, re.MULTILINE), command
        code, text, _ = await _cli([command, "--help"])
        assert code == 0 and "-v, --verbose" in text
        description = text.split("\n\n")[1]
        assert not description.startswith(("positional", "options")), (command, description)
        entries = re.split(r"\n(?=  -)", text.split("options:", 1)[1])
        for entry in entries:
            takes_value = re.match(r"\s*(-\w, )?--[\w-]+ [A-Z_]+", entry)
            if takes_value:
                assert "(default: " in entry or "(required: " in entry, (command, entry)


async def test_help_shows_the_real_defaults() -> None:
    """The defaults the README promises: simulate at 1x with no failures, run --out
    kling-results, list 30 per page."""
    _, simulate, _ = await _cli(["simulate", "--help"])
    assert "(default: 1, real time)" in simulate and "(default: 8000)" in simulate
    assert re.search(r"--fail-rate FAIL_RATE\s+share of tasks that end 'failed' \(default: 0\)",
                     simulate)
    _, run, _ = await _cli(["run", "--help"])
    assert "(default: kling-results)" in run
    _, listing, _ = await _cli(["list", "--help"])
    assert "(default: 30)" in listing


@pytest.mark.parametrize("where", ["after", "before"])
async def test_verbose_turns_on_debug_logging(where: str) -> None:
    """``-v`` (after the command or before it) logs the client's debug lines on stderr;
    without it there are none."""
    async with KlingSimulator(time_scale=50, seed=3) as sim:
        args = ["submit", "images/generations", "--json", '{"prompt": "a dog"}']
        code, _, quiet = await _cli(args, _env(sim))
        assert code == 0 and "DEBUG" not in quiet
        code, _, loud = await _cli([*args, "-v"] if where == "after" else ["-v", *args],
                                   _env(sim))
    assert code == 0 and "DEBUG kling_async] JobSubmitted" in loud, loud
    assert sim.api_key not in loud


# -- a closed stdout ---------------------------------------------------------------------

async def test_list_into_a_closed_pipe_ends_quietly_with_exit_0() -> None:
    """``kling-async list ... | head -1``: no BrokenPipeError traceback, exit 0."""
    async with KlingSimulator(time_scale=50, seed=3) as sim:
        async with KlingClient(api_key=sim.api_key, base_url=sim.base_url) as client:
            for n in range(3):
                await client.create_task(ImageGenerationRequest(prompt=f"dog {n}"))
        code, stderr = await _cli_closed_stdout(["list", "images/generations"], _env(sim))
    assert (code, stderr) == (0, "")


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["simulate", "--help"]])
async def test_help_into_a_closed_pipe_ends_quietly(args: list[str]) -> None:
    """Even help and the version, piped into a reader that is gone, exit 0 silently."""
    assert await _cli_closed_stdout(args, _env()) == (0, "")


async def test_submit_into_a_closed_pipe_exits_0_and_keeps_the_task_id() -> None:
    """``kling-async submit ... | head -3``: the task was created, so the exit is 0 (never 1,
    which invites a paid re-submit), and stderr names the task."""
    async with KlingSimulator(time_scale=50, seed=3) as sim:
        code, stderr = await _cli_closed_stdout(
            ["submit", "videos/omni-video", "--json", VIDEO, "--external-task-id", "piped-1"],
            _env(sim))
        async with KlingClient(api_key=sim.api_key, base_url=sim.base_url) as client:
            task = await client.get_task_by_external_id("videos/omni-video", "piped-1")
    assert code == 0 and "Traceback" not in stderr
    assert f"task_id {task.task_id}" in stderr and "external_task_id piped-1" in stderr


# -- Ctrl-C --------------------------------------------------------------------------------

async def test_ctrl_c_in_submit_wait_prints_the_ids_and_no_traceback() -> None:
    """``submit --wait`` names the task on stderr as soon as it exists; Ctrl-C then ends it
    with exit 130, no traceback, and the ids with the command to wait again."""
    async with _slow() as sim:
        args = ["submit", "videos/omni-video", "--json", VIDEO, "--wait",
                "--external-task-id", "ctrl-c-1"]
        seen: list[bytes] = []
        async with await anyio.open_process([sys.executable, "-c", CODE, *args],
                                            env=_env(sim)) as process:
            assert process.stderr is not None
            early = await _read_until(process.stderr, "waiting for it to end", seen)
            code, stderr = await _interrupt(process, seen)
        async with KlingClient(api_key=sim.api_key, base_url=sim.base_url) as client:
            task = await client.get_task_by_external_id("videos/omni-video", "ctrl-c-1")
    assert f"task {task.task_id} created (external_task_id ctrl-c-1)" in early
    assert code == 130 and "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert f"task_id {task.task_id}, external_task_id ctrl-c-1" in stderr
    assert f"kling-async wait videos/omni-video {task.task_id}" in stderr


async def test_ctrl_c_in_wait_prints_the_task_id_and_no_traceback() -> None:
    """``wait`` interrupted by Ctrl-C: exit 130, no traceback, the task id to go on with."""
    async with _slow() as sim:
        async with KlingClient(api_key=sim.api_key, base_url=sim.base_url) as client:
            task = await client.create_task(OmniVideoRequest(prompt="a cat", aspect_ratio="16:9"))
        seen: list[bytes] = []
        args = ["wait", "videos/omni-video", task.task_id]
        async with await anyio.open_process([sys.executable, "-c", CODE, *args],
                                            env=_env(sim)) as process:
            assert process.stderr is not None
            await _read_until(process.stderr, f"waiting for task {task.task_id}", seen)
            code, stderr = await _interrupt(process, seen)
    assert code == 130 and "Traceback" not in stderr
    assert "interrupted waiting for the task to end" in stderr
    assert f"kling-async wait videos/omni-video {task.task_id}" in stderr


# -- simulate ------------------------------------------------------------------------------

async def test_simulate_prints_a_ready_to_paste_export_line_with_a_fixed_key() -> None:
    """``simulate --api-key K --time-scale 50`` prints one ``export`` line; pasted into the
    environment it points kling-async (and KlingClient()) at the simulator, fast."""
    args = ["simulate", "--port", "0", "--api-key", "my-fixed-key", "--time-scale", "50"]
    seen: list[bytes] = []
    async with await anyio.open_process([sys.executable, "-c", CODE, *args],
                                        env=_env()) as sim:
        try:
            assert sim.stdout is not None
            banner = await _read_until(sim.stdout, "Press Ctrl+C", seen)
            line = next(ln for ln in banner.splitlines() if ln.startswith("export "))
            exported = dict(word.split("=", 1) for word in shlex.split(line)[1:])
            assert exported["KLING_API_KEY"] == "my-fixed-key"
            assert exported["KLING_TIME_SCALE"] == "50"
            assert exported["KLING_BASE_URL"].startswith("http://127.0.0.1:")
            code, out, err = await _cli(["submit", "images/generations", "--json",
                                         '{"prompt": "a dog"}', "--wait"], _env(extra=exported))
            assert code == 0 and json.loads(out)["status"] == "succeed", err
            assert KlingClient.from_env(exported).poll == PollPolicy().scaled(50)
            sim.send_signal(signal.SIGINT)
            with anyio.fail_after(30):
                assert await sim.wait() == 0
        finally:
            if sim.returncode is None:
                sim.kill()
