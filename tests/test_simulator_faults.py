"""The simulator's faults, callbacks, introspection, determinism and shutdown."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from kling_async.testing import FaultConfig, KlingSimulator
from tests._simhelpers import FakeClock, running

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def post(
    sim: KlingSimulator, session: aiohttp.ClientSession, body: dict[str, Any] | None = None
) -> tuple[int, bytes, Any]:
    async with session.post(
        f"{sim.base_url}/v1/videos/text2video", json=body or {"prompt": "x"}
    ) as resp:
        return resp.status, await resp.read(), resp.headers


async def get_list(sim: KlingSimulator, session: aiohttp.ClientSession) -> tuple[int, bytes]:
    async with session.get(f"{sim.base_url}/v1/videos/text2video") as resp:
        return resp.status, await resp.read()


def no_server_errors_logged(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert bad == [], [r.getMessage() for r in bad]


# -- faults --------------------------------------------------------------------------------


async def test_error_5xx_creates_nothing() -> None:
    """error_5xx answers 500/5000, 503/5001 or 504/5002 and creates no task."""
    async with running(faults=FaultConfig(error_5xx=1.0)) as (sim, session):
        seen = set()
        for _ in range(20):
            status, raw, _ = await post(sim, session)
            payload = json.loads(raw)
            assert payload["data"] is None
            seen.add((status, payload["code"]))
        assert seen <= {(500, 5000), (503, 5001), (504, 5002)} and len(seen) >= 2
        assert sim.tasks() == []
        assert sim.stats().faults["error_5xx"] == 20


async def test_drop_before_closes_without_creating(caplog: pytest.LogCaptureFixture) -> None:
    """drop_before closes the connection with no response; nothing is created or logged."""
    caplog.set_level(logging.DEBUG)
    async with running(faults={"drop_before": 1.0}) as (sim, session):
        with pytest.raises(aiohttp.ClientConnectionError):
            await post(sim, session, {"prompt": "x", "external_task_id": "job-1"})
        assert sim.tasks() == []
        assert sim.stats().count(status=0) == 1
        sim.configure(faults=FaultConfig())
        assert (await post(sim, session))[0] == 200
    no_server_errors_logged(caplog)


async def test_drop_after_create_leaves_the_task(caplog: pytest.LogCaptureFixture) -> None:
    """drop_after_create: no response, yet the task exists and is found by external id."""
    caplog.set_level(logging.DEBUG)
    async with running(faults={"drop_after_create": 1.0}) as (sim, session):
        with pytest.raises(aiohttp.ClientConnectionError):
            await post(sim, session, {"prompt": "x", "external_task_id": "job-1"})
        (record,) = sim.tasks()
        assert record.external_task_id == "job-1"
        # The default scope is "post": queries are untouched.
        async with session.get(
            f"{sim.base_url}/v1/videos/text2video?external_task_id=job-1"
        ) as resp:
            assert resp.status == 200
            assert (await resp.json())["data"]["task_id"] == record.task_id
        assert sim.stats().faults["drop_after_create"] == 1
    no_server_errors_logged(caplog)


async def test_malformed_reply_on_post_still_creates() -> None:
    """malformed: HTTP 200 with invalid JSON; a POST's task was created (the ambiguous case)."""
    async with running(faults=FaultConfig(malformed=1.0)) as (sim, session):
        status, raw, _ = await post(sim, session, {"prompt": "x", "external_task_id": "m"})
        assert status == 200
        with pytest.raises(ValueError):
            json.loads(raw)
        assert len(sim.tasks()) == 1
        status, raw = await get_list(sim, session)
        assert status == 200
        with pytest.raises(ValueError):
            json.loads(raw)


async def test_delay_fault_delays_the_response() -> None:
    """delay adds delay_seconds of real time to the response."""
    async with running(faults=FaultConfig(delay=1.0, delay_seconds=0.3)) as (sim, session):
        started = time.monotonic()
        status, _, _ = await post(sim, session)
        assert status == 200
        assert time.monotonic() - started >= 0.29
        assert sim.stats().faults["delay"] == 1


@pytest.mark.parametrize("retry_after", [None, 3.0])
async def test_rate_limited_burst_fault(retry_after: float | None) -> None:
    """rate_limited answers 429/1302, Retry-After = rate_limit_retry_after or absent."""
    async with running(
        faults=FaultConfig(rate_limited=1.0), rate_limit_retry_after=retry_after
    ) as (sim, session):
        status, raw, headers = await post(sim, session)
        assert (status, json.loads(raw)["code"]) == (429, 1302)
        assert headers.get("Retry-After") == (None if retry_after is None else "3")
        assert sim.tasks() == []


async def test_fault_scope_limits_methods() -> None:
    """A fault scoped to "post" never touches GETs, and "get" never touches POSTs."""
    async with running(faults=FaultConfig(error_5xx=1.0, error_5xx_scope="post")) as (sim, s):
        assert (await get_list(sim, s))[0] == 200
        assert (await post(sim, s))[0] >= 500
        sim.configure(faults={"error_5xx_scope": "get"})
        assert (await post(sim, s))[0] == 200
        assert (await get_list(sim, s))[0] >= 500


async def test_fault_probabilities_are_shares() -> None:
    """A 0.25 error probability hits roughly a quarter of requests."""
    async with running(faults=FaultConfig(error_5xx=0.25), seed=3) as (sim, session):
        statuses = [(await get_list(sim, session))[0] for _ in range(200)]
        errors = sum(s >= 500 for s in statuses)
        assert 25 <= errors <= 80
        assert sim.stats().faults["error_5xx"] == errors


# -- determinism ---------------------------------------------------------------------------


async def scripted_run(seed: int) -> list[Any]:
    clock = FakeClock(50.0)
    out: list[Any] = []
    async with running(
        seed=seed, clock=clock, fail_rate=0.5, faults=FaultConfig(error_5xx=0.3)
    ) as (sim, session):
        for i in range(15):
            status, raw, _ = await post(sim, session, {"prompt": f"p{i}"})
            out.append((status, json.loads(raw)["data"]))
        out.append([(t.task_id, t.ends_at - t.created_at, t.failed) for t in sim.tasks()])
        created_at = {t.task_id: t.created_at for t in sim.tasks()}
    # created_at/updated_at are wall-clock anchored; compare everything else.
    for _status, data in out[:-1]:
        if data:
            assert data["created_at"] == created_at[data["task_id"]]
            data.pop("created_at")
            data.pop("updated_at")
    return out


async def test_same_seed_same_answers() -> None:
    """The same requests under the same seed give the same ids, durations, outcomes, faults."""
    first, second = await scripted_run(7), await scripted_run(7)
    assert first == second
    assert first != await scripted_run(8)


async def test_reset_replays_like_a_new_simulator() -> None:
    """reset() forgets tasks and stats, keeps config, and re-seeds."""
    async with running(seed=5, latency=3.0, fail_rate=0.5) as (sim, session):
        first = [json.loads((await post(sim, session))[1])["data"]["task_id"] for _ in range(3)]
        outcomes = [t.failed for t in sim.tasks()]
        sim.reset()
        assert sim.tasks() == [] and sim.stats().total_requests == 0
        assert sim.config.fail_rate == 0.5
        again = [json.loads((await post(sim, session))[1])["data"]["task_id"] for _ in range(3)]
        assert again == first and [t.failed for t in sim.tasks()] == outcomes
        sim.reset(config=sim.config.__class__(fail_rate=0.0, validate_requests=False))
        assert sim.config.fail_rate == 0.0


# -- callbacks -----------------------------------------------------------------------------


@asynccontextmanager
async def receiver(status: int = 200) -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    got: list[dict[str, Any]] = []

    async def handle(request: web.Request) -> web.Response:
        got.append(await request.json())
        return web.Response(status=status)

    app = web.Application()
    app.router.add_post("/cb", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/cb", got
    finally:
        await runner.cleanup()


async def wait_for(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_callbacks_on_each_status_change() -> None:
    """A callback_url gets the flat task object at processing, then at succeed."""
    clock = FakeClock(50.0)
    async with receiver() as (url, got), running(clock=clock, latency=10) as (sim, session):
        body = {"prompt": "x", "callback_url": url, "external_task_id": "cb-1"}
        task_id = json.loads((await post(sim, session, body))[1])["data"]["task_id"]
        await asyncio.sleep(0.05)
        assert got == []
        clock.advance(2)
        await wait_for(lambda: len(got) == 1)
        clock.advance(8)
        await wait_for(lambda: len(got) == 2)
        assert [g["task_status"] for g in got] == ["processing", "succeed"]
        for g in got:
            assert "code" not in g  # flat, not an envelope
            assert g["task_id"] == task_id
            assert g["task_info"]["external_task_id"] == "cb-1"
        assert got[1]["task_result"]["videos"][0]["url"].startswith(sim.base_url)
        await wait_for(lambda: sim.stats().callbacks_sent == 2)


async def test_callbacks_for_failed_tasks_and_failed_deliveries() -> None:
    """A failing task calls back 'failed' with its message; non-2xx receivers count failed
    (once each, with retries off)."""
    async with (
        receiver(status=500) as (url, got),
        running(latency=0, fail_rate=1.0, time_scale=1.0, callback_retries=0) as (sim, session),
    ):
        await post(sim, session, {"prompt": "x", "callback_url": url})
        await wait_for(lambda: sim.stats().callbacks_failed == 1)
        assert [g["task_status"] for g in got] == ["failed"]
        assert got[0]["task_status_msg"] == sim.config.failure_message


async def test_callbacks_never_leave_loopback() -> None:
    """A non-loopback callback_url is never contacted; it is counted as dropped."""
    async with running(latency=0) as (sim, session):
        assert (await post(sim, session, {"prompt": "x", "callback_url": "http://example.com/cb"}))[
            0
        ] == 200
        await asyncio.sleep(0.05)
        stats = sim.stats()
        assert (stats.callbacks_dropped, stats.callbacks_sent, stats.callbacks_failed) == (1, 0, 0)


# -- introspection over HTTP ---------------------------------------------------------------


async def test_stats_config_and_reset_over_http() -> None:
    """/__sim/stats, /__sim/config and /__sim/reset work with the bearer key only."""
    async with running() as (sim, session):
        await post(sim, session)
        async with session.get(f"{sim.base_url}/__sim/stats") as resp:
            data = (await resp.json())["data"]
        assert data["tasks_created"] == 1
        assert data["requests"] == [
            {"method": "POST", "route": "/v1/videos/text2video", "status": 200, "count": 1}
        ]
        changes = {"fail_rate": 0.5, "faults": {"delay": 0.1, "delay_seconds": 0.0}}
        async with session.post(f"{sim.base_url}/__sim/config", json=changes) as resp:
            assert resp.status == 200
            assert (await resp.json())["data"]["fail_rate"] == 0.5
        assert sim.config.fail_rate == 0.5 and sim.config.faults.delay == 0.1
        async with session.post(f"{sim.base_url}/__sim/config", json={"nope": 1}) as resp:
            assert resp.status == 400 and (await resp.json())["code"] == 1201
        async with session.get(f"{sim.base_url}/__sim/config") as resp:
            assert (await resp.json())["data"]["faults"]["delay"] == 0.1
        async with session.post(f"{sim.base_url}/__sim/reset") as resp:
            assert resp.status == 200
        assert sim.tasks() == [] and sim.stats().tasks_created == 0
        async with aiohttp.ClientSession() as anon, anon.get(f"{sim.base_url}/__sim/stats") as r:
            assert r.status == 401 and (await r.json())["code"] == 1001


def test_configure_and_stats_without_a_server() -> None:
    """configure() validates and applies changes; stats() is a frozen snapshot."""
    sim = KlingSimulator(seed=1)
    sim.configure(concurrency_limit=4, faults=FaultConfig(malformed=0.1))
    assert sim.config.concurrency_limit == 4 and sim.config.faults.malformed == 0.1
    with pytest.raises(ValueError):
        sim.configure(unknown_field=1)
    stats = sim.stats()
    with pytest.raises(TypeError):
        stats.requests[("GET", "/x", 200)] = 1  # type: ignore[index]
    with pytest.raises(RuntimeError):
        _ = sim.base_url


# -- shutdown ------------------------------------------------------------------------------


async def test_clean_shutdown_is_idempotent_and_final() -> None:
    """aclose() stops serving, cancels background work, and is idempotent."""
    sim = KlingSimulator(validate_requests=False)
    await sim.start()
    await sim.start()  # idempotent
    url = sim.base_url
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {sim.api_key}"}) as s:
        await post(sim, s, {"prompt": "x", "callback_url": "http://127.0.0.1:9/cb"})
        await sim.aclose()
        await sim.aclose()
        with pytest.raises(aiohttp.ClientConnectionError):
            async with s.get(f"{url}/v1/videos/text2video"):
                pass
    leftovers = [t for t in asyncio.all_tasks() if (t.get_name() or "").startswith("kling-sim")]
    assert leftovers == []
    with pytest.raises(RuntimeError):
        await sim.start()


async def test_shutdown_with_a_request_in_flight_is_bounded() -> None:
    """Closing while a delayed request is in flight finishes quickly."""
    sim = KlingSimulator(faults=FaultConfig(delay=1.0, delay_seconds=5.0))
    await sim.start()
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {sim.api_key}"}) as s:
        pending = asyncio.ensure_future(get_list(sim, s))
        await asyncio.sleep(0.1)
        started = time.monotonic()
        await sim.aclose()
        assert time.monotonic() - started < 3.0
        with pytest.raises(aiohttp.ClientError):
            await pending
