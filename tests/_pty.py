"""Run ``kling-async`` in a subprocess whose output goes to a real pseudo-terminal of a given
width (never a mock): what a user's terminal would show, escape sequences and redraws."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import kling_async
from kling_async.testing import KlingSimulator

REPO = Path(kling_async.__file__).resolve().parent.parent
#: ``python -c CODE ARGS`` is ``kling-async ARGS``.
CODE = "import sys\nfrom kling_async.cli import main\nsys.exit(main(sys.argv[1:]))"


def cli_env(sim: KlingSimulator, scale: float) -> dict[str, str]:
    """This environment without KLING_* (or COLUMNS/LINES), pointed at ``sim``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLING_")
           and k not in ("COLUMNS", "LINES")}
    env.update(PYTHONPATH=str(REPO), KLING_BASE_URL=sim.base_url, KLING_API_KEY=sim.api_key,
               KLING_TIME_SCALE=str(scale), TERM="xterm-256color")
    return env


def run_in_pty(args: list[str], env: dict[str, str], columns: int, *, cwd: Path | None = None,
               stdout_on_terminal: bool = True) -> tuple[int, str, str]:
    """``kling-async ARGS`` with stderr (and stdout, unless ``stdout_on_terminal`` is False:
    then a pipe) on a pseudo-terminal ``columns`` wide: its exit code, what it wrote to the
    pipe (``""`` if none) and everything it wrote to the terminal."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    try:
        child = subprocess.Popen([sys.executable, "-c", CODE, *args], stdin=subprocess.DEVNULL,
                                 stdout=slave if stdout_on_terminal else subprocess.PIPE,
                                 stderr=slave, env=env, cwd=cwd)
    finally:
        os.close(slave)
    chunks = []
    try:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(master)
    out = ""
    if child.stdout is not None:
        with child.stdout:
            out = child.stdout.read().decode()
    return child.wait(timeout=60), out, b"".join(chunks).decode("utf-8", errors="replace")


def screen_lines(text: str) -> list[str]:
    """Every line the terminal drew, redraw by redraw (escape sequences removed)."""
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
    return [part for part in re.split(r"[\r\n]", plain) if part.strip()]
