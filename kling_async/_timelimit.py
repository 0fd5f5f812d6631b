"""Running a piece of async work under a time limit without ever eating the caller's cancel.

``within(work, deadline)`` takes the deadline as a time of the running loop's clock (``inf``:
none), as its callers keep theirs.  On Python 3.11+ it is ``asyncio.timeout_at`` in the
caller's own task, which tells its own cancellation from an outside one by counting cancel
requests (``Task.cancelling()`` and ``Task.uncancel()``): when the deadline and an outside
cancel fall due in the same loop iteration, the outside cancel wins and propagates as itself.

Python 3.10 cannot count cancel requests, so a timeout in the caller's task there cannot tell
the two apart: an outside cancel landing in the same iteration as the deadline would be
swallowed and turned into a timeout (which a GET's retry loop would then retry).  The 3.10
backport below therefore runs the work in a task of its own and cancels only that task at the
deadline, so a cancellation of the caller always propagates as itself.  It costs a task, a
future and a timer per call (about 100 k instructions per job of benchmark 1 more than
``asyncio.timeout``), which is why 3.11+ does not use it.
"""

from __future__ import annotations

import asyncio
import math
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

_T = TypeVar("_T")

if sys.version_info >= (3, 11):

    async def within(work: Coroutine[Any, Any, _T], deadline: float) -> tuple[bool, _T | None]:
        """Run ``work`` until at most the loop time ``deadline`` (inf: no limit): (True, its
        result), or (False, None) when time ran out (the work is then cancelled).  The work's
        own exception is raised as it is (a ``TimeoutError`` of its own too); a cancellation
        of the caller cancels the work and propagates."""
        if deadline == math.inf:
            return True, await work
        limit = asyncio.timeout_at(deadline)
        try:
            async with limit:
                return True, await work
        except TimeoutError:
            if limit.expired():
                return False, None
            raise  # the work's own TimeoutError

else:

    async def within(work: Coroutine[Any, Any, _T], deadline: float) -> tuple[bool, _T | None]:
        """Run ``work`` until at most the loop time ``deadline`` (inf: no limit): (True, its
        result), or (False, None) when time ran out (the work is then cancelled).  The work's
        own exception is raised as it is; a cancellation of the caller cancels the work too
        and propagates.

        The Python 3.10 backport: the work runs in a task of its own (see the module).  When
        the caller is cancelled just as that task finishes, the work's result is dropped: work
        that takes something (a request slot) must give it back then."""
        if deadline == math.inf:
            return True, await work
        loop = asyncio.get_running_loop()
        task = loop.create_task(work)
        woken: asyncio.Future[None] = loop.create_future()

        def wake(_: object = None) -> None:
            if not woken.done():
                woken.set_result(None)

        task.add_done_callback(wake)
        timer = loop.call_at(deadline, wake)
        try:
            await woken
        finally:
            timer.cancel()
            if not task.done():
                task.cancel()  # the caller was cancelled, or time ran out
        return (True, task.result()) if task.done() else (False, None)
