"""What ``submit --wait`` and ``wait`` show on stderr while they wait: the task's status and
the time waited.

On a terminal, one line redrawn in place (``rich``), cut to the terminal's width, gone once the
wait ends; elsewhere (a pipe, CI) one plain line each time the status changes.  stdout keeps
only the result.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, TextIO, TypeVar

import anyio
from rich.console import Console
from rich.live import Live
from rich.text import Text

from .._registry import Job
from ..batch._progress import printable

T = TypeVar("T")

#: Seconds between two redraws of the terminal line (and two looks at a piped status).
TICK = 0.25


def _elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def wait_line(job: Job, seconds: float) -> str:
    """``M:SS waited, STATUS: task ID`` (what changes first: a narrow terminal cuts the id)."""
    return printable(f"{_elapsed(seconds)} waited, {job.status.value}: task {job.task_id}")


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


async def _watch_tty(job: Job, started: float, stream: TextIO) -> None:
    console = Console(file=stream, force_terminal=True, highlight=False, markup=False,
                      emoji=False)
    with Live(console=console, auto_refresh=False, transient=True, redirect_stdout=False,
              redirect_stderr=False) as live:
        while True:
            text = Text(wait_line(job, time.monotonic() - started), no_wrap=True,
                        overflow="ellipsis")
            live.update(text, refresh=True)
            await anyio.sleep(TICK)


async def _watch_plain(job: Job, started: float, stream: TextIO) -> None:
    shown = None
    while True:
        if job.status is not shown:
            shown = job.status
            stream.write(f"kling-async: {wait_line(job, time.monotonic() - started)}\n")
            stream.flush()
        await anyio.sleep(TICK)


async def wait_showing(job: Job, wait: Callable[[], Awaitable[T]],
                       stream: TextIO | None = None) -> T:
    """``await wait()`` while ``job``'s status and the time waited show on ``stream``
    (stderr); what ``wait`` returns or raises is passed on as it is."""
    out = stream if stream is not None else sys.stderr
    watch = _watch_tty if _isatty(out) else _watch_plain
    started = time.monotonic()
    error: Exception | None = None
    async with anyio.create_task_group() as tg:
        tg.start_soon(watch, job, started, out)
        try:
            result = await wait()
        except Exception as exc:  # raised below, not wrapped in an exception group
            error = exc
        finally:
            tg.cancel_scope.cancel()
    if error is not None:
        raise error
    return result
