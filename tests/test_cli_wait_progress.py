"""``submit --wait`` shows the task's status and the time waited on stderr while it waits
(issue 18); stdout keeps only the result.  Real subprocesses: through pipes, and with stderr on
a pseudo-terminal."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import anyio
import pytest

import kling_async
from kling_async.testing import KlingSimulator

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

REPO = Path(kling_async.__file__).resolve().parent.parent
CODE = "import sys\nfrom kling_async.cli import main\nsys.exit(main(sys.argv[1:]))"
SCALE = 4.0
IMAGE = json.dumps({"prompt": "a lighthouse at dawn"})


def _sim() -> KlingSimulator:
    """Images take about 6 simulated seconds, 1.5 real ones, with no spread."""
    return KlingSimulator(time_scale=SCALE, seed=5, image_median=6, latency_sigma=0.0,
                          queue_fraction=0.3)


def _env(sim: KlingSimulator) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLING_")
           and k not in ("COLUMNS", "LINES")}
    env.update(PYTHONPATH=str(REPO), KLING_BASE_URL=sim.base_url, KLING_API_KEY=sim.api_key,
               KLING_TIME_SCALE=str(SCALE), TERM="xterm-256color")
    return env


ARGS = ["submit", "images/generations", "--json", IMAGE, "--wait"]


async def test_piped_submit_wait_prints_status_lines_on_stderr_and_only_json_on_stdout(
) -> None:
    """Through pipes: stderr has "M:SS waited, STATUS: task ID" lines (one per status seen);
    stdout is the finished task's JSON and nothing else."""
    async with _sim() as sim:
        with anyio.fail_after(60):
            done = await anyio.run_process([sys.executable, "-c", CODE, *ARGS], check=False,
                                           env=_env(sim))
    task = json.loads(done.stdout.decode())
    err = done.stderr.decode()
    assert done.returncode == 0 and task["status"] == "succeed", err
    waits = re.findall(rf"^kling-async: \d+:\d\d waited, (\w+): task {task['task_id']}$", err,
                       re.MULTILINE)
    assert waits and len(waits) == len(set(waits)), err  # one line per status, not a flood
    assert "\x1b" not in err and "\r" not in err


def _submit_with_stderr_on_a_terminal(env: dict[str, str], columns: int) -> tuple[int, str,
                                                                                   str]:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    try:
        child = subprocess.Popen([sys.executable, "-c", CODE, *ARGS], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=slave, env=env)
    finally:
        os.close(slave)
    chunks = []
    try:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(master)
    assert child.stdout is not None
    with child.stdout:
        out = child.stdout.read().decode()
    return child.wait(timeout=60), out, b"".join(chunks).decode(errors="replace")


async def test_submit_wait_on_a_terminal_redraws_one_status_line() -> None:
    """stderr on a 40 column terminal: the status line is redrawn in place with the time
    waited, never wider than the terminal; stdout is only the JSON."""
    async with _sim() as sim:
        code, out, err = await anyio.to_thread.run_sync(
            _submit_with_stderr_on_a_terminal, _env(sim), 40)
    assert code == 0 and json.loads(out)["status"] == "succeed"
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", err)
    drawn = [line for line in re.split(r"[\r\n]", plain) if line.strip()]
    waits = [line for line in drawn if "waited" in line]
    assert len(waits) >= 2, err  # redrawn while waiting
    assert all(len(line) <= 40 for line in waits), waits
    assert any(re.match(r"0:0[1-9] waited, ", line) for line in waits), waits
