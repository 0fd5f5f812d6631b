"""Lifecycle events: the EventHub fan-out and ``KlingClient.events()``."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator

import anyio
import pytest

from kling_async import (
    Backoff,
    Event,
    ImageGenerationRequest,
    JobSubmitted,
    JobSucceeded,
    KlingClient,
    PollPolicy,
    RetryPolicy,
    StatusChanged,
    WaitingForCapacity,
)
from kling_async._events import EventHub
from kling_async.testing import KlingSimulator

pytestmark = pytest.mark.timeout(10)

SCALE = 50.0


def _event(n: int) -> Event:
    return WaitingForCapacity(float(n), weight=n)


async def _collect(stream: AsyncIterator[Event], into: list[Event]) -> None:
    async for event in stream:
        into.append(event)


# -- EventHub ----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_every_event_reaches_the_callback_and_every_subscriber_in_order() -> None:
    """emit() delivers each event to the on_event callback and to each subscriber, in order."""
    called: list[Event] = []
    hub = EventHub(called.append)
    first, second = await hub.subscribe(), await hub.subscribe()
    sent = [_event(n) for n in range(5)]
    for event in sent:
        hub.emit(event)
    hub.close()
    got_first: list[Event] = []
    got_second: list[Event] = []
    await _collect(first, got_first)
    await _collect(second, got_second)
    assert called == sent
    assert got_first == sent
    assert got_second == sent
    assert hub.dropped == 0


@pytest.mark.parametrize(
    ("callback", "subscribers", "active"),
    [
        pytest.param(False, 0, False, id="nobody"),
        pytest.param(True, 0, True, id="callback"),
        pytest.param(False, 1, True, id="subscriber"),
    ],
)
@pytest.mark.anyio
async def test_hub_is_active_only_when_someone_listens(
    callback: bool, subscribers: int, active: bool
) -> None:
    """active is True when there is a callback or at least one subscriber."""
    hub = EventHub((lambda event: None) if callback else None)
    streams = [await hub.subscribe() for _ in range(subscribers)]
    assert hub.active is active
    hub.close()
    for stream in streams:
        await _collect(stream, [])
    assert hub.active is callback


@pytest.mark.anyio
async def test_a_raising_callback_does_not_break_emit(caplog: pytest.LogCaptureFixture) -> None:
    """An on_event callback that raises is logged; subscribers still get every event."""
    def broken(event: Event) -> None:
        raise RuntimeError("user bug")

    hub = EventHub(broken)
    stream = await hub.subscribe()
    with caplog.at_level(logging.ERROR, logger="kling_async"):
        hub.emit(_event(1))
        hub.emit(_event(2))
    hub.close()
    got: list[Event] = []
    await _collect(stream, got)
    assert got == [_event(1), _event(2)]
    assert len([r for r in caplog.records if "on_event callback raised" in r.message]) == 2


@pytest.mark.anyio
async def test_a_full_subscriber_buffer_drops_new_events_and_counts_them() -> None:
    """Past its buffer a slow subscriber loses events; each loss adds one to dropped."""
    hub = EventHub(None, buffer=3)
    stream = await hub.subscribe()
    for n in range(10):
        hub.emit(_event(n))
    assert hub.dropped == 7
    hub.close()
    got: list[Event] = []
    await _collect(stream, got)
    assert got == [_event(0), _event(1), _event(2)]


@pytest.mark.anyio
async def test_a_subscriber_that_stops_reading_is_unsubscribed() -> None:
    """Breaking out of an events iterator removes its stream; later emits skip it."""
    hub = EventHub(None)
    stream = await hub.subscribe()
    assert isinstance(stream, AsyncGenerator)  # so it can be closed as a loop would
    hub.emit(_event(1))
    async for _ in stream:
        break
    await stream.aclose()
    assert not hub.active
    hub.emit(_event(2))
    assert hub.dropped == 0


# -- KlingClient.events() ----------------------------------------------------------------------


@pytest.mark.anyio
async def test_client_events_iterator_ends_when_the_client_closes() -> None:
    """client.events() yields the job's lifecycle and then ends once the client is closed."""
    got: list[Event] = []
    async with KlingSimulator(time_scale=SCALE, seed=3) as sim:
        sim.configure(image_median=2, latency_sigma=0.0)
        client = KlingClient(
            api_key=sim.api_key, base_url=sim.base_url,
            poll=PollPolicy(expected_image=2).scaled(SCALE), reconcile_delay=0,
            retry=RetryPolicy(backoff=Backoff(initial=0.002, maximum=0.02)),
        )
        async with anyio.create_task_group() as tg:
            await client.__aenter__()
            try:
                tg.start_soon(_collect, client.events(), got)
                await anyio.wait_all_tasks_blocked()
                job = await client.submit(ImageGenerationRequest(prompt="a lighthouse"))
                await job.result()
            finally:
                await client.aclose()
            # the task group now exits only if the iterator ended by itself
    kinds = [type(e) for e in got]
    assert kinds[0] is JobSubmitted
    assert kinds[-1] is JobSucceeded
    assert StatusChanged in kinds
    assert all(e.job is job for e in got)
    assert client.statistics().events_dropped == 0


@pytest.mark.anyio
async def test_client_events_iterator_of_a_closed_client_ends_at_once() -> None:
    """events() asked of an already closed client yields nothing and ends instead of hanging."""
    async with KlingSimulator(time_scale=SCALE) as sim:
        client = KlingClient(api_key=sim.api_key, base_url=sim.base_url)
        async with client:
            pass
        got: list[Event] = []
        with anyio.move_on_after(2) as guard:
            await _collect(client.events(), got)
    assert not guard.cancelled_caught, "events() of a closed client never ended"
    assert got == []
