"""``Database``: an asyncpg pool on a private event loop thread, callable from sync and async
code alike.

The batch journal protocol (``JobStore``) is synchronous and the runner calls it from its event
loop, as it calls SQLite; each call here is handed to the store's own loop (anyio's blocking
portal) and waited for (a few milliseconds on a local network).  Async callers (the fleet
worker) ``await`` the same calls without blocking their loop.  Every database or network
error becomes a ``FleetStoreError`` naming the store (its DSN without the password).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
from anyio.from_thread import BlockingPortal, start_blocking_portal
from yarl import URL

from ..batch._storage import BatchStorageError
from ._schema import MIGRATION_LOCK, SCHEMA_VERSION, STATEMENTS

T = TypeVar("T")
_CONNECT_TIMEOUT = 10.0
_COMMAND_TIMEOUT = 30.0


class FleetStoreError(BatchStorageError):
    """The PostgreSQL store could not be reached, read or written (``path``: its DSN, without
    the password)."""


class LeaseLostError(FleetStoreError):
    """A write for a job whose lease another worker has taken over (or that was given back):
    refused, so a worker that stalled cannot overwrite newer state."""


def redact(dsn: str) -> str:
    """``dsn`` without its password (a ``key=value`` DSN is named only by its host)."""
    try:
        url = URL(dsn)
    except ValueError:
        return "postgresql store"
    if not url.scheme:
        return "postgresql store"
    return str(url.with_password(None)) if url.password else str(url)


def _import_asyncpg() -> Any:
    try:
        import asyncpg
    except ImportError:
        from .._errors import ConfigurationError

        raise ConfigurationError(
            "the PostgreSQL store needs asyncpg: pip install 'kling-async[postgres]'") from None
    return asyncpg


class Database:
    """A pool of connections to ``dsn`` on a private loop thread (``close()`` ends both)."""

    def __init__(self, dsn: str, *, max_size: int = 4) -> None:
        self.name = redact(dsn)
        self._asyncpg = _import_asyncpg()
        self._dsn = dsn
        self._stack = contextlib.ExitStack()
        self._portal: BlockingPortal = self._stack.enter_context(
            start_blocking_portal(name="kling-postgres"))
        self._pool: Any = None
        self._listener: Any = None
        self._spawned: set[concurrent.futures.Future[Any]] = set()
        self._closed = False
        try:
            self._pool = self.call(self._open_pool, max_size)
            self.call(self._migrate)
        except BaseException:
            self.close()
            raise

    # -- calling -----------------------------------------------------------------------------
    def _error(self, exc: BaseException) -> FleetStoreError:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return FleetStoreError(self.name, f"{type(exc).__name__}: {text[:300]}")

    def _failure(self, exc: BaseException) -> BaseException:
        """The error to raise for ``exc`` (our own errors pass through)."""
        if isinstance(exc, (FleetStoreError, ValueError, KeyError)):
            return exc
        if isinstance(exc, (OSError, TimeoutError, self._asyncpg.PostgresError,
                            self._asyncpg.InterfaceError)):
            return self._error(exc)
        return exc

    def call(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run ``fn(*args)`` on the store's loop and wait (from synchronous code)."""
        if self._closed:
            raise FleetStoreError(self.name, "this store is closed")
        try:
            return self._portal.call(fn, *args)
        except Exception as exc:
            failure = self._failure(exc)
            if failure is exc:
                raise
            raise failure from None

    async def acall(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run ``fn(*args)`` on the store's loop without blocking the caller's loop."""
        if self._closed:
            raise FleetStoreError(self.name, "this store is closed")
        future = self._portal.start_task_soon(fn, *args)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            failure = self._failure(exc)
            if failure is exc:
                raise
            raise failure from None

    # -- on the store's loop -----------------------------------------------------------------
    async def _open_pool(self, max_size: int) -> Any:
        with anyio.fail_after(_CONNECT_TIMEOUT):
            return await self._asyncpg.create_pool(
                self._dsn, min_size=1, max_size=max_size, command_timeout=_COMMAND_TIMEOUT)

    async def _migrate(self) -> None:
        """Create or upgrade the tables, once: a store at this schema is left untouched (its
        DDL would lock tables the running workers use, and could deadlock with them)."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
            found = None
            if await conn.fetchval("SELECT to_regclass('kling_meta') IS NOT NULL"):
                found = await conn.fetchval("SELECT value FROM kling_meta WHERE key = 'schema'")
            if found is not None and found.isdigit() and int(found) > SCHEMA_VERSION:
                from .._errors import ConfigurationError

                raise ConfigurationError(
                    f"the fleet store uses schema {found}, written by a newer kling_async "
                    f"(this one knows schema {SCHEMA_VERSION}): upgrade kling_async")
            if found == str(SCHEMA_VERSION):
                return
            for statement in STATEMENTS:
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO kling_meta VALUES ('schema', $1) ON CONFLICT (key) DO UPDATE "
                "SET value = EXCLUDED.value", str(SCHEMA_VERSION))

    def retryable_errors(self) -> tuple[type[BaseException], ...]:
        """The errors of a transaction PostgreSQL rolled back to break a deadlock or a
        serialization conflict: running it again is safe."""
        errors = self._asyncpg.exceptions
        return (errors.DeadlockDetectedError, errors.SerializationError)

    def pool(self) -> Any:
        """The asyncpg pool (use only on the store's loop: inside ``call``/``acall``)."""
        return self._pool

    async def _listen(self, channel: str, notify: Callable[[str], None]) -> None:
        if self._listener is None:
            self._listener = await self._asyncpg.connect(self._dsn, timeout=_CONNECT_TIMEOUT)
        await self._listener.add_listener(
            channel, lambda _c, _pid, _ch, payload: notify(payload))

    def listen(self, channel: str, notify: Callable[[str], None]) -> None:
        """Call ``notify(payload)`` (on the store's thread) for each NOTIFY on ``channel``
        (one listening connection per store, however many listeners)."""
        self.call(self._listen, channel, notify)

    def spawn(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Run ``fn(*args)`` on the store's loop without waiting (a background loop, or a
        write nobody waits for); cancelled when the store closes."""
        if self._closed:
            return
        future = self._portal.start_task_soon(fn, *args)
        self._spawned.add(future)
        future.add_done_callback(self._spawned.discard)

    async def _close(self) -> None:
        for future in list(self._spawned):
            future.cancel()
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(Exception):
                await listener.close(timeout=5)
        pool, self._pool = self._pool, None
        if pool is not None:
            with contextlib.suppress(Exception):
                with anyio.fail_after(5):
                    await pool.close()

    def close(self) -> None:
        """Close the connections and stop the thread; idempotent."""
        if self._closed:
            return
        with contextlib.suppress(Exception):
            self._portal.call(self._close)
        self._closed = True
        self._stack.close()
