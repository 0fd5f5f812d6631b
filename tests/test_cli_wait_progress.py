"""``submit --wait`` shows the task's status and the time waited on stderr while it waits
(issue 18); stdout keeps only the result.  Real subprocesses: through pipes, and with stderr on
a pseudo-terminal."""

from __future__ import annotations

import json
import re
import sys

import anyio
import pytest

from kling_async.testing import KlingSimulator
from tests._pty import CODE, cli_env, run_in_pty, screen_lines

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

SCALE = 4.0
IMAGE = json.dumps({"prompt": "a lighthouse at dawn"})


def _sim() -> KlingSimulator:
    """Images take about 6 simulated seconds, 1.5 real ones, with no spread."""
    return KlingSimulator(time_scale=SCALE, seed=5, image_median=6, latency_sigma=0.0,
                          queue_fraction=0.3)


ARGS = ["submit", "images/generations", "--json", IMAGE, "--wait"]


async def test_piped_submit_wait_prints_status_lines_on_stderr_and_only_json_on_stdout(
) -> None:
    """Through pipes: stderr has "M:SS waited, STATUS: task ID" lines (one per status seen);
    stdout is the finished task's JSON and nothing else."""
    async with _sim() as sim:
        with anyio.fail_after(60):
            done = await anyio.run_process([sys.executable, "-c", CODE, *ARGS], check=False,
                                           env=cli_env(sim, SCALE))
    task = json.loads(done.stdout.decode())
    err = done.stderr.decode()
    assert done.returncode == 0 and task["status"] == "succeed", err
    waits = re.findall(rf"^kling-async: \d+:\d\d waited, (\w+): task {task['task_id']}$", err,
                       re.MULTILINE)
    assert waits and len(waits) == len(set(waits)), err  # one line per status, not a flood
    assert "\x1b" not in err and "\r" not in err


async def test_submit_wait_on_a_terminal_redraws_one_status_line() -> None:
    """stderr on a 40 column terminal: the status line is redrawn in place with the time
    waited, never wider than the terminal; stdout is only the JSON."""
    async with _sim() as sim:
        code, out, err = await anyio.to_thread.run_sync(
            lambda: run_in_pty(ARGS, cli_env(sim, SCALE), 40, stdout_on_terminal=False))
    assert code == 0 and json.loads(out)["status"] == "succeed"
    waits = [line for line in screen_lines(err) if "waited" in line]
    assert len(waits) >= 2, err  # redrawn while waiting
    assert all(len(line) <= 40 for line in waits), waits
    assert any(re.match(r"0:0[1-9] waited, ", line) for line in waits), waits
