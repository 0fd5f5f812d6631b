"""Webhooks on any worker: ``KlingClient(store=PostgresStore(dsn), webhook_secret=...)`` in
several processes behind one callback URL.

A verified callback (signature, timestamp and ``webhook-id`` checked by the receiving
client, as for its own jobs) about a task that process does not know is recorded here if a
client of the store holds the task's slot (``kling_slots``, matched by task id or
external id): one row per task in ``kling_callbacks`` holding the verified task object, replaced
only by a later status (an end is never replaced), then ``NOTIFY``.  The process that owns
the job (listening) re-reads the row and applies it through its receiver as if the callback
had reached it (``WebhookReceiver.deliver``): its future resolves with no GET.  A callback no
client of the store knows is answered as today (``unknown``).  Rows are kept
``CALLBACK_KEEP`` seconds.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any

from .._errors import KlingError
from .._results import parse_callback
from ._journal import CHANNEL

if TYPE_CHECKING:
    from .._models.task import Task
    from .._webhooks import WebhookReceiver

log = logging.getLogger("kling_async")
#: A recorded callback is deleted after this long (seconds).
CALLBACK_KEEP = 86400.0
PREFIX = "callback:"
#: The owner got the notice before its create reply: looked again this often, this long.
_EARLY_TRIES = 25
_EARLY_WAIT = 0.2


async def record_callback(conn: Any, task_id: str, ext: str | None, rank: int, body: str
                          ) -> bool | None:
    """Record a verified callback for the job's owner: None if no client of the store holds
    the task's slot (unknown everywhere), True if recorded (and notified), False if an equal
    or later status was recorded already."""
    async with conn.transaction():
        known = await conn.fetchval(
            "SELECT 1 FROM kling_slots WHERE batch IS NULL AND (task_id = $1 OR "
            "external_task_id = $2) LIMIT 1", task_id, ext)
        if not known:
            return None
        await conn.execute("DELETE FROM kling_callbacks WHERE received_at < now() - "
                           "make_interval(secs => $1)", CALLBACK_KEEP)
        changed = await conn.fetchval(
            "INSERT INTO kling_callbacks (task_id, external_task_id, rank, body) VALUES "
            "($1, $2, $3, $4) ON CONFLICT (task_id) DO UPDATE SET rank = EXCLUDED.rank, "
            "body = EXCLUDED.body, received_at = now(), external_task_id = COALESCE("
            "EXCLUDED.external_task_id, kling_callbacks.external_task_id) "
            "WHERE kling_callbacks.rank < EXCLUDED.rank RETURNING task_id",
            task_id, ext, rank, body)
        if changed is None:
            return False
        await conn.execute("SELECT pg_notify($1, $2)", CHANNEL,
                           PREFIX + json.dumps([task_id, ext]))
        return True


async def read_callback(conn: Any, task_id: str) -> str | None:
    """The recorded callback body of ``task_id`` (JSON text), or None."""
    found = await conn.fetchval("SELECT body FROM kling_callbacks WHERE task_id = $1", task_id)
    return None if found is None else str(found)


async def note_task_id(conn: Any, account: str, ext: str, task_id: str) -> None:
    """The slot of ``ext`` now names its task (so a callback naming only the task id is
    recognised by any process)."""
    await conn.execute("UPDATE kling_slots SET task_id = $3 WHERE account = $1 AND "
                       "external_task_id = $2", account, ext, task_id)


class CallbackRelay:
    """One client's side of the shared callbacks (see the module): ``record`` what its
    receiver verified but does not know; once ``start``-ed, apply what others recorded for
    its jobs."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self._receiver: WebhookReceiver | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listening = False
        self._tasks: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"<CallbackRelay {'started' if self._receiver is not None else 'stopped'}>"

    async def record(self, task: Task, decoded: Any, rank: int) -> bool:
        """Record a verified callback for its job's owner: False if no client of the store
        knows the task.  A store error propagates (the request is to be delivered again)."""
        found = await self._store.run_async(record_callback, task.task_id,
                                            task.external_task_id, rank, json.dumps(decoded))
        return found is not None

    def start(self, receiver: WebhookReceiver) -> None:
        """Apply the callbacks other processes record for ``receiver``'s jobs (on this loop)."""
        self._receiver = receiver
        self._loop = asyncio.get_running_loop()
        if not self._listening:
            self._listening = True
            self._store.listen(self._notified)

    def stop(self) -> None:
        self._receiver = None
        for task in list(self._tasks):
            task.cancel()

    def _notified(self, payload: str) -> None:
        """On the store's thread: a NOTIFY (a hint)."""
        loop = self._loop
        if payload.startswith(PREFIX) and loop is not None and self._receiver is not None:
            try:
                loop.call_soon_threadsafe(self._wake, payload[len(PREFIX):])
            except RuntimeError:  # that loop is closed
                pass

    def _wake(self, data: str) -> None:
        receiver = self._receiver
        try:
            task_id, ext = json.loads(data)
        except (ValueError, TypeError):
            return
        if receiver is None or not isinstance(task_id, str) or not receiver.owns(task_id, ext):
            return
        task = asyncio.get_running_loop().create_task(self._fetch(task_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fetch(self, task_id: str) -> None:
        """Re-read the task's row and apply it; again a little later while its create reply
        has not arrived here (bounded: the poller is the safety net)."""
        for _ in range(_EARLY_TRIES):
            try:
                body = await self._store.run_async(read_callback, task_id)
                task = None if body is None else parse_callback(json.loads(body))
            except (KlingError, ValueError) as exc:
                log.debug("reading the recorded callback of %s failed: %s", task_id, exc)
                return
            receiver = self._receiver
            if task is None or receiver is None or receiver.deliver(task) != "early":
                return
            await asyncio.sleep(_EARLY_WAIT)
