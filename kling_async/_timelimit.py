"""Running a piece of async work under a time limit without ever eating the caller's cancel.

``asyncio.timeout`` (3.11+) and anyio's ``fail_after`` tell their own cancellation from an outside
one by counting cancel requests, which Python 3.10 cannot do: there, a cancel from outside that
lands in the same loop iteration as the deadline is swallowed.  ``within`` side-steps the
question: the work runs in a task of its own and only that task is cancelled at the deadline, so
a cancellation of the caller always propagates as itself, on every supported Python.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Coroutine
from typing import Any, TypeVar

_T = TypeVar("_T")


async def within(work: Coroutine[Any, Any, _T], seconds: float) -> tuple[bool, _T | None]:
    """Run ``work`` for at most ``seconds`` (inf: no limit): (True, its result), or (False,
    None) when time ran out (the work is then cancelled).  The work's own exception is raised
    as it is; a cancellation of the caller cancels the work too and propagates."""
    if seconds == math.inf:
        return True, await work
    loop = asyncio.get_running_loop()
    task = loop.create_task(work)
    woken: asyncio.Future[None] = loop.create_future()

    def wake(_: object = None) -> None:
        if not woken.done():
            woken.set_result(None)

    task.add_done_callback(wake)
    timer = loop.call_later(max(0.0, seconds), wake)
    try:
        await woken
    finally:
        timer.cancel()
        if not task.done():
            task.cancel()  # the caller was cancelled, or time ran out
    return (True, task.result()) if task.done() else (False, None)
