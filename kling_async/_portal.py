"""``PortalThread``: one async resource held open on a private event loop thread.

Synchronous code hands calls to that loop through anyio's blocking portal and waits for
their answers.  The resource (a ``KlingClient``) is entered and exited by one long-lived task
on the loop, so it can be closed from any thread.  A call that waits is refused with
``BlockingCallError`` on the loop's own thread, where it could never return.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

import anyio
import anyio.abc
from anyio.from_thread import BlockingPortal, start_blocking_portal
from anyio.streams.memory import MemoryObjectReceiveStream

from ._errors import BlockingCallError, ClientClosedError, KlingError

T = TypeVar("T")


class PortalThread:
    """Hold ``resource`` open on a new event loop thread until ``close()``.

    ``owner`` names the synchronous object in messages (``"BlockingKlingClient"``).
    """

    def __init__(self, resource: AbstractAsyncContextManager[Any], owner: str) -> None:
        self._owner = owner
        self._lock = threading.Lock()
        self._closed = False
        self._stack = contextlib.ExitStack()
        self._portal: BlockingPortal = self._stack.enter_context(
            start_blocking_portal(name=f"{owner}-loop")
        )
        try:
            self._thread_id = self._portal.call(threading.get_ident)
            self._serving, self._stop = self._portal.start_task(_serve, resource)
        except BaseException:
            self._stack.close()
            raise

    @property
    def closed(self) -> bool:
        return self._closed

    def on_loop_thread(self) -> bool:
        return threading.get_ident() == self._thread_id

    def close(self) -> None:
        """Exit the resource, then stop the loop (cancelling what still runs there) and join
        its thread.  Idempotent; refused on the loop's own thread."""
        self.refuse_on_loop_thread(f"{self._owner}.close()")
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            self._portal.call(self._stop.set)
            self._serving.result()  # the resource's __aexit__ has run; its error, if any
        finally:
            with contextlib.suppress(RuntimeError):  # already stopped
                self._portal.call(self._portal.stop, True)  # iterators still open end here
            self._stack.close()  # joins the thread

    def release(self) -> None:
        """``close()`` for a finalizer, which may run on any thread: on the loop's own
        thread, a short-lived helper thread closes instead."""
        if self.on_loop_thread():
            threading.Thread(target=self.close, name=f"{self._owner}-closer",
                             daemon=True).start()
        else:
            self.close()

    def refuse_on_loop_thread(self, what: str) -> None:
        if self.on_loop_thread():
            raise BlockingCallError(
                f"{what} waits for the {self._owner}'s event loop, but was called on that "
                "loop's own thread (from an on_event handler or a before_send hook), so it "
                "would never return; call it from another thread, or use the async "
                "KlingClient there"
            )

    def _check_open(self, what: str) -> None:
        self.refuse_on_loop_thread(what)
        if self._closed:
            raise ClientClosedError(f"{what}: this {self._owner} is closed")

    def run(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """Run ``call()`` on the loop and wait for its result (or error)."""
        self._check_open(what)
        try:
            return self._portal.call(call)
        except (RuntimeError, concurrent.futures.CancelledError) as exc:
            if isinstance(exc, KlingError) or not self._closed:
                raise
            raise ClientClosedError(f"{what}: the {self._owner} closed meanwhile") from None

    def read(self, read: Callable[[], T]) -> T:
        """``read()`` on the loop: at once when on it, or once the loop has stopped."""
        if self._closed or self.on_loop_thread():
            return read()
        try:
            return self._portal.call(read)
        except RuntimeError as exc:  # the loop stopped meanwhile: nothing runs there now
            if isinstance(exc, KlingError) or not self._closed:
                raise
            return read()

    def iterate(self, what: str, source: Callable[[], AsyncIterator[T]]
                ) -> Generator[T, None, None]:
        """Drive the async iterator ``source()`` on the loop, one item per ``next()``.

        Closing this generator early (``break``, ``close()``) stops and closes ``source()``.
        """
        self._check_open(what)
        done, (items, scope) = self._portal.start_task(_pump, source)
        try:
            while True:
                try:
                    item = self.run(what, items.receive)
                except anyio.EndOfStream:
                    break
                yield item
            done.result()  # the source's own error, if it ended with one
        finally:
            if not done.done():
                with contextlib.suppress(RuntimeError):  # the loop stopped: already ended
                    self._portal.call(scope.cancel)
                concurrent.futures.wait([done])
            self.read(items.close)


async def _serve(resource: AbstractAsyncContextManager[Any], *,
                 task_status: anyio.abc.TaskStatus[anyio.Event] = anyio.TASK_STATUS_IGNORED
                 ) -> None:
    """Hold ``resource`` open in one task (entered and exited there) until told to stop."""
    stop = anyio.Event()
    async with resource:
        task_status.started(stop)
        await stop.wait()


async def _pump(
    source: Callable[[], AsyncIterator[T]], *,
    task_status: anyio.abc.TaskStatus[tuple[MemoryObjectReceiveStream[T], anyio.CancelScope]]
    = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Send ``source()``'s items one at a time (no buffer: it advances only when asked)."""
    send, receive = anyio.create_memory_object_stream[T](0)
    with anyio.CancelScope() as scope, send:
        task_status.started((receive, scope))
        iterator = source()
        try:
            async for item in iterator:
                await send.send(item)
        finally:
            close = getattr(iterator, "aclose", None)
            if close is not None:
                await close()
