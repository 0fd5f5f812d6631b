"""Callback delivery (reference §5): POST the task object on every status change.

Creating a task with a callback URL (legacy ``callback_url``, new-standard
``options.callback_url``) schedules its status changes (``processing`` when it leaves the
queue, if it spends any time processing; then ``succeed``/``failed``) on a heap keyed by
simulated time.  One ticker pops due events into a bounded queue; a few workers POST them
with a short timeout, in order per task.

The body is the legacy flat task object or the new standard's one (``callback_shape``;
``auto``: the shape of the field that named the URL), signed with ``webhook_secrets`` when
set (Standard Webhooks headers; one signature per secret, as during a rotation).  A
delivery answered with anything but 2xx (or not at all) is retried ``callback_retries`` times
under the same ``webhook-id``, ``callback_retry_delay`` real seconds apart, doubling.
Injected, seeded faults: ``callback_drop`` (never sent), ``callback_duplicate`` (sent twice),
``callback_reorder`` (``processing`` after the end), ``callback_delay`` (held
``callback_delay_seconds`` first).  Only loopback URLs are contacted (127.0.0.0/8, ::1,
``localhost``); others are counted as dropped.  The ``aiohttp.ClientSession`` is the
dispatcher's own, closed on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import random
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import aiohttp
from yarl import URL

from .._net import is_loopback_host
from ._clock import VirtualClock
from ._config import SimulatorConfig
from ._stats import StatsCollector
from ._tasks import SimTask
from ._webhook_wire import Shape, callback_body, signature_headers

_WORKERS = 8
_MAX_TICK = 0.02


def is_loopback_url(url: str) -> bool:
    """Whether ``url`` is http(s) to a loopback host."""
    try:
        parsed = URL(url)
    except (ValueError, TypeError):
        return False
    host = parsed.host
    if parsed.scheme not in ("http", "https") or not host:
        return False
    return is_loopback_host(host)


class CallbackDispatcher:
    """Schedules and delivers callbacks; ``start()`` inside the loop, ``aclose()`` to stop."""

    def __init__(
        self,
        *,
        clock: VirtualClock,
        stats: StatsCollector,
        lookup: Callable[[str], SimTask | None],
        render: Callable[[SimTask, str, Shape], dict[str, Any]],
        queue_size: int,
        timeout: float,
        config: Callable[[], SimulatorConfig] = SimulatorConfig,
        seed: int = 0,
    ) -> None:
        self._clock = clock
        self._stats = stats
        self._lookup = lookup
        self._render = render
        self._config = config
        self.queue_size = queue_size
        self.timeout = timeout
        self.reseed(seed)
        self._events: list[tuple[float, int, str, str]] = []
        self._seq = 0
        self._pending: dict[str, deque[str]] = {}
        self._queue: asyncio.Queue[str] | None = None
        self._wake: asyncio.Event | None = None
        self._session: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def reseed(self, seed: int) -> None:
        """Restart the seeded stream of callback faults and delivery ids."""
        self._rng = random.Random(f"kling-sim:{seed}:callbacks")

    def schedule(self, task: SimTask) -> None:
        """Plan the callbacks of a newly created task that has a ``callback_url``: each
        status change, unless dropped; ``processing`` after the end when reordered."""
        if task.callback_url is None:
            return
        if not is_loopback_url(task.callback_url):
            self._stats.callbacks_dropped += 1
            return
        config = self._config()
        final = "failed" if task.failed else "succeed"
        processing = task.ended > task.started
        if processing and self._rng.random() < config.callback_reorder:
            # Due with the end and pushed after it (the heap breaks ties by order): after it.
            self._push(task.ended, task.task_id, final)
            self._push(task.ended, task.task_id, "processing")
        else:
            if processing:
                self._push(task.started, task.task_id, "processing")
            self._push(task.ended, task.task_id, final)
        if self._wake is not None:
            self._wake.set()

    def _push(self, due: float, task_id: str, status: str) -> None:
        if self._rng.random() < self._config().callback_drop:
            self._stats.callbacks_dropped += 1
            return
        self._seq += 1
        heapq.heappush(self._events, (due, self._seq, task_id, status))

    def clear(self) -> None:
        """Forget every scheduled (not yet queued) callback."""
        self._events.clear()

    async def start(self) -> None:
        """Open the session and start the ticker and workers (in the running loop)."""
        self._queue = asyncio.Queue(maxsize=self.queue_size)
        self._wake = asyncio.Event()
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=64), trust_env=False
        )
        self._tasks = [asyncio.create_task(self._tick(), name="kling-sim-callback-ticker")]
        self._tasks += [
            asyncio.create_task(self._work(), name=f"kling-sim-callback-{i}")
            for i in range(_WORKERS)
        ]

    async def aclose(self) -> None:
        """Stop delivering and close the session; undelivered callbacks are abandoned."""
        tasks, self._tasks = self._tasks, []
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _tick(self) -> None:
        assert self._wake is not None
        while True:
            now = self._clock.now()
            events = self._events
            while events and events[0][0] <= now:
                _, _, task_id, status = heapq.heappop(events)
                self._enqueue(task_id, status)
            if not events:
                self._wake.clear()
                await self._wake.wait()
                continue
            delay = self._clock.real_delay(events[0][0] - now)
            self._wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), min(max(delay, 0.0), _MAX_TICK))

    def _enqueue(self, task_id: str, status: str) -> None:
        assert self._queue is not None
        waiting = self._pending.get(task_id)
        if waiting is not None:
            waiting.append(status)
            return
        try:
            self._queue.put_nowait(task_id)
        except asyncio.QueueFull:
            self._stats.callbacks_dropped += 1
            return
        self._pending[task_id] = deque([status])

    async def _work(self) -> None:
        assert self._queue is not None
        while True:
            task_id = await self._queue.get()
            waiting = self._pending[task_id]
            try:
                while waiting:
                    await self._deliver(task_id, waiting.popleft())
            finally:
                del self._pending[task_id]

    async def _deliver(self, task_id: str, status: str) -> None:
        task = self._lookup(task_id)
        if task is None or task.callback_url is None or self._session is None:
            self._stats.callbacks_dropped += 1
            return
        config = self._config()
        shape: Shape = task.callback_shape if config.callback_shape == "auto" else (
            config.callback_shape)
        body = callback_body(self._render(task, status, shape))
        msg_id = str(self._rng.getrandbits(62))
        rng = self._rng
        if rng.random() < config.callback_delay:
            await asyncio.sleep(config.callback_delay_seconds)
        duplicate = rng.random() < config.callback_duplicate
        if await self._send_retrying(task.callback_url, msg_id, body, config):
            self._stats.callbacks_sent += 1
        else:
            self._stats.callbacks_failed += 1
            return
        if duplicate:
            self._stats.callbacks_duplicated += 1
            await self._send_once(task.callback_url, msg_id, body, config)

    async def _send_retrying(self, url: str, msg_id: str, body: bytes,
                             config: SimulatorConfig) -> bool:
        """POST until a 2xx answer, at most ``1 + callback_retries`` times."""
        pause = config.callback_retry_delay
        for attempt in range(config.callback_retries + 1):
            if attempt:
                self._stats.callbacks_retried += 1
                await asyncio.sleep(pause)
                pause *= 2
            if await self._send_once(url, msg_id, body, config):
                return True
        return False

    async def _send_once(self, url: str, msg_id: str, body: bytes,
                         config: SimulatorConfig) -> bool:
        """One POST of a callback, signed now if configured; whether it got a 2xx."""
        assert self._session is not None
        headers = {"Content-Type": "application/json"}
        if config.webhook_secrets:
            headers.update(signature_headers(config.webhook_secrets, msg_id,
                                             int(time.time()), body))
        try:
            async with self._session.post(
                url, data=body, headers=headers, allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as resp:
                await resp.read()
                return 200 <= resp.status < 300
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError):
            return False
