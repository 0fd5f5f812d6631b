"""``Limits.max_requests``, end to end: the transport's request slots against a scripted server.

At most ``max_requests`` requests are under way at once; a request that finds no free slot
waits its turn (first come, first served); a waiter cancelled while queued, or just as a slot is
handed to it, passes the slot on, so the limit is exactly what it was afterwards.
"""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import pytest

import kling_async as kling
from tests._scripted import Reply, ScriptedServer, ok, task_json

pytestmark = pytest.mark.anyio

ENDPOINT = "images/generations"
PATH = "/v1/" + ENDPOINT


def client_for(server: ScriptedServer) -> kling.KlingClient:
    return kling.KlingClient(api_key="test-key", base_url=server.url,
                             limits=kling.Limits(max_requests=1))


def get(client: kling.KlingClient, task_id: str) -> asyncio.Task[Any]:
    return asyncio.ensure_future(client.get_task(ENDPOINT, task_id))


async def until_received(server: ScriptedServer, task_id: str, count: int) -> None:
    for _ in range(500):  # bounded
        if server.count("GET", f"{PATH}/{task_id}") >= count:
            return
        await anyio.sleep(0.01)
    raise AssertionError(f"the server never received request {count} for {task_id}")


def sent(server: ScriptedServer) -> list[str]:
    return [r.path.rsplit("/", 1)[1] for r in server.requests if r.method == "GET"]


async def test_requests_wait_in_order_and_a_cancelled_waiter_never_leaks_its_slot(
    server: ScriptedServer,
) -> None:
    """With one request slot: one request at a time; waiters served in arrival order; a waiter
    cancelled in the queue, and one cancelled just as the slot is handed to it, are never sent
    and pass the slot on; afterwards the limit is exactly one again."""
    server.script("GET", f"{PATH}/t-held", then=Reply(json=ok(task_json("t-held")), delay=3600))
    for name in ("t-a", "t-b", "t-c", "t-d", "t-e"):
        server.script("GET", f"{PATH}/{name}", then=Reply(json=ok(task_json(name))))
    async with client_for(server) as client:
        waiters: list[asyncio.Task[Any]] = []

        async def hold() -> None:
            try:
                await client.get_task(ENDPOINT, "t-held")
            finally:
                waiters[0].cancel()  # the slot was just handed to it: it must pass it on

        held = asyncio.ensure_future(hold())
        await until_received(server, "t-held", 1)
        handed = get(client, "t-a")  # first in the queue
        waiters.append(handed)
        queued = get(client, "t-b")
        following = [get(client, "t-c"), get(client, "t-d")]
        await anyio.wait_all_tasks_blocked()
        queued.cancel()  # cancelled while waiting in the queue
        await anyio.wait_all_tasks_blocked()
        assert client.statistics().requests == 1  # all of them wait for the one slot
        held.cancel()
        with anyio.fail_after(10):
            results = await asyncio.gather(*following)
        assert [task.task_id for task in results] == ["t-c", "t-d"]
        for task in (held, handed, queued):
            with pytest.raises(asyncio.CancelledError):
                await task
        assert sent(server) == ["t-held", "t-c", "t-d"]  # in order; the cancelled never sent

        # exactly one slot again: a second request waits while one is under way, then goes
        held = get(client, "t-held")
        await until_received(server, "t-held", 2)
        waiting = get(client, "t-e")
        await anyio.wait_all_tasks_blocked()
        assert client.statistics().requests == 4 and not waiting.done()
        held.cancel()
        with anyio.fail_after(10):
            assert (await waiting).task_id == "t-e"
    assert sent(server) == ["t-held", "t-c", "t-d", "t-held", "t-e"]
