"""The simulator's new API standard (reference §1.2, §5.2, §11, §12.3): creates on every
new-standard row, the API-key-only rule, the new task object with billing, callbacks."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import anyio
import jwt
import pytest
from aiohttp import web
from anyio.streams.memory import MemoryObjectReceiveStream

from kling_async._endpoints import ENDPOINTS
from kling_async.testing import KlingSimulator, SimulatorConfig
from tests._simhelpers import FakeClock, running

pytestmark = pytest.mark.anyio

NEW_ROWS = sorted(name for name, row in ENDPOINTS.items() if row.standard == "new")
T2V = "text-to-video/kling-3.0-turbo"
AKSK_TEXT = (
    "Authentication error. The current API does not support AK/SK; please go to the console "
    "(https://kling.ai/dev/api-key) to create API key."
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def call(
    session: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
) -> tuple[int, Any]:
    async with session.request(method, url, **kwargs) as resp:
        return resp.status, await resp.json(content_type=None)


async def create_new(
    sim: KlingSimulator, session: aiohttp.ClientSession, row: str = T2V,
    body: dict[str, Any] | None = None,
) -> tuple[int, Any]:
    return await call(session, "POST", f"{sim.base_url}/{row}", json=body or {"prompt": "x"})


async def query(sim: KlingSimulator, session: aiohttp.ClientSession, **params: str) -> Any:
    status, payload = await call(session, "GET", f"{sim.base_url}/tasks", params=params)
    assert status == 200, payload
    return payload["data"]


def jwt_for(sim: KlingSimulator) -> str:
    now = int(time.time())
    claims = {"iss": sim.access_key, "exp": now + 1800, "nbf": now - 5}
    return jwt.encode(claims, sim.secret_key, algorithm="HS256")


# -- creates -------------------------------------------------------------------------------


def test_the_seed_rows_are_served() -> None:
    """The new-standard rows the parametrized tests run over include the text-to-video ones."""
    assert {f"text-to-video/{m}" for m in ("kling-3.0-turbo", "kling-3.0", "kling-2.6",
                                           "kling-2.5-turbo")} <= set(NEW_ROWS)


@pytest.mark.parametrize("row", NEW_ROWS)
@pytest.mark.parametrize("gateway", [False, True], ids=["official", "gateway"])
async def test_every_new_row_creates_in_the_new_reply_shape(row: str, gateway: bool) -> None:
    """POST /{family}/{model} creates a task and answers data{id, status, create_time,
    update_time, external_id}, under / and the /kling gateway prefix."""
    async with running() as (sim, session):
        base = sim.gateway_url if gateway else sim.base_url
        body = {"prompt": "x", "options": {"external_task_id": f"ext-{row}"}}
        status, payload = await call(session, "POST", f"{base}/{row}", json=body)
        assert status == 200, payload
        assert payload["code"] == 0 and payload["message"] == "SUCCEED"
        data = payload["data"]
        assert set(data) == {"id", "status", "create_time", "update_time", "external_id"}
        assert data["status"] == "submitted" and data["id"].isdigit()
        assert data["external_id"] == f"ext-{row}"
        assert data["create_time"] == data["update_time"] > 1_600_000_000_000
        (record,) = sim.tasks()
        assert (record.endpoint, record.task_id) == (row, data["id"])
        prefix = "/kling" if gateway else ""
        assert sim.stats().count("POST", f"{prefix}/{row}", 200) == 1


async def test_create_without_external_id_has_no_external_id() -> None:
    """With no options.external_task_id the create reply carries no external_id."""
    async with running() as (sim, session):
        _, payload = await create_new(sim, session)
        assert set(payload["data"]) == {"id", "status", "create_time", "update_time"}


@pytest.mark.parametrize(("body", "field"), [
    pytest.param({"settings": {"duration": 5}}, "prompt", id="prompt-missing"),
    pytest.param({"prompt": "x", "model_name": "kling-v3"}, "model_name", id="legacy-field"),
    pytest.param({"prompt": "x", "settings": {"duration": "five"}}, "duration", id="duration"),
])
async def test_new_standard_creates_are_validated_by_load_request(
    body: dict[str, Any], field: str
) -> None:
    """An invalid new-standard body is 400 / 1201 naming the field; nothing is created."""
    async with running(validate_requests=True) as (sim, session):
        status, payload = await create_new(sim, session, body=body)
        assert (status, payload["code"]) == (400, 1201)
        assert field in payload["message"]
        assert sim.tasks() == []
        status, _ = await create_new(sim, session, body={"prompt": "a valid one"})
        assert status == 200


async def test_an_undocumented_model_on_a_known_family_is_1201() -> None:
    """POST /text-to-video/kling-9 answers 400 / 1201 naming the model; nothing is created."""
    async with running() as (sim, session):
        status, payload = await create_new(sim, session, "text-to-video/kling-9")
        assert (status, payload["code"]) == (400, 1201)
        assert "kling-9" in payload["message"]
        assert sim.tasks() == []


async def test_duplicate_external_id_is_refused_across_standards() -> None:
    """An external id is unique per account whatever the standard: 400 / 1201 "already exists"."""
    async with running() as (sim, session):
        body = {"prompt": "x", "options": {"external_task_id": "dup"}}
        assert (await create_new(sim, session, body=body))[0] == 200
        status, payload = await create_new(sim, session, "text-to-video/kling-2.6", body)
        assert (status, payload["code"]) == (400, 1201)
        assert payload["message"] == "External_task_id dup already exists"
        legacy = {"prompt": "x", "external_task_id": "dup"}
        status, payload = await call(session, "POST", f"{sim.base_url}/v1/videos/text2video",
                                     json=legacy)
        assert (status, payload["code"]) == (400, 1201)
        assert sim.stats().duplicates == 2


# -- API key only --------------------------------------------------------------------------


async def test_a_jwt_is_refused_on_new_standard_paths_and_tasks() -> None:
    """A valid AK/SK JWT gets 401 / 1002 with the documented text on the new standard and
    /tasks, and still works on legacy paths."""
    async with running() as (sim, session):
        headers = {"Authorization": f"Bearer {jwt_for(sim)}"}
        base = sim.base_url
        for method, url, kwargs in (
            ("POST", f"{base}/{T2V}", {"json": {"prompt": "x"}}),
            ("GET", f"{base}/tasks?task_ids=1", {}),
            ("POST", f"{base}/tasks", {"json": {}}),
            ("POST", f"{base}/text-to-video/kling-9", {"json": {"prompt": "x"}}),
        ):
            status, payload = await call(session, method, url, headers=headers, **kwargs)
            assert (status, payload["code"], payload["message"]) == (401, 1002, AKSK_TEXT), url
        status, _ = await call(session, "POST", f"{base}/v1/videos/text2video",
                               json={"prompt": "x"}, headers=headers)
        assert status == 200
        assert len(sim.tasks()) == 1


async def test_an_unknown_key_on_the_new_standard_gets_the_same_1002() -> None:
    """A garbage key on a new-standard path is 401 / 1002 with the same AK/SK text (live)."""
    async with running() as (sim, session):
        status, payload = await create_new(sim, session)
        assert status == 200
        status, payload = await call(session, "POST", f"{sim.base_url}/{T2V}",
                                     json={"prompt": "x"},
                                     headers={"Authorization": "Bearer not-a-key"})
        assert (status, payload["code"], payload["message"]) == (401, 1002, AKSK_TEXT)


# -- the new task object ---------------------------------------------------------------------


async def test_new_task_object_through_its_lifecycle_with_billing() -> None:
    """submitted -> processing -> succeeded: outputs[] and billing[] only once it succeeded;
    3.0 Turbo 3 s 720p costs 2.4 video units (the live example, reference §12.3)."""
    clock = FakeClock()
    async with running(clock=clock, latency=10, queue_fraction=0.2) as (sim, session):
        body = {"prompt": "x", "settings": {"duration": 3, "resolution": "720p"},
                "options": {"external_task_id": "life"}}
        _, created = await create_new(sim, session, body=body)
        task_id = created["data"]["id"]
        (task,) = await query(sim, session, task_ids=task_id)
        assert set(task) == {"id", "status", "message", "create_time", "update_time",
                             "external_id", "outputs", "billing"}
        assert (task["status"], task["outputs"], task["billing"]) == ("submitted", [], [])
        assert task["external_id"] == "life" and task["message"] == ""
        clock.advance(2)
        (task,) = await query(sim, session, task_ids=task_id)
        assert task["status"] == "processing" and task["update_time"] > task["create_time"]
        clock.advance(8)
        (task,) = await query(sim, session, task_ids=task_id)
        assert task["status"] == "succeeded"
        (video,) = task["outputs"]
        assert set(video) == {"type", "id", "url", "duration"}
        assert (video["type"], video["duration"]) == ("video", "3.0")
        assert task["billing"] == [{"charge_type": "unit", "amount": "2.4",
                                    "package_type": "video"}]
        async with session.get(video["url"]) as resp:
            assert resp.status == 200 and resp.content_type == "video/mp4"


async def test_a_failed_new_task_has_a_message_and_no_billing() -> None:
    """A failed task: status failed, message = the failure reason, no outputs, no billing."""
    async with running(latency=0, fail_rate=1.0) as (sim, session):
        _, created = await create_new(sim, session)
        (task,) = await query(sim, session, task_ids=created["data"]["id"])
        assert task["status"] == "failed"
        assert task["message"] == sim.config.failure_message
        assert (task["outputs"], task["billing"]) == ([], [])


async def test_watermark_option_adds_watermark_urls() -> None:
    """options.watermark_info.enabled gives each output a watermark_url."""
    async with running(latency=0) as (sim, session):
        body = {"prompt": "x", "options": {"watermark_info": {"enabled": True}}}
        _, created = await create_new(sim, session, body=body)
        (task,) = await query(sim, session, task_ids=created["data"]["id"])
        (video,) = task["outputs"]
        assert video["watermark_url"].endswith("/video_watermark.mp4")
        async with session.get(video["watermark_url"]) as resp:
            assert resp.status == 200


@pytest.mark.parametrize(("row", "settings", "amount"), [
    pytest.param("text-to-video/kling-3.0-turbo", {"duration": 5, "resolution": "1080p"}, "5",
                 id="turbo-1080p"),
    pytest.param("text-to-video/kling-3.0", {"duration": 5, "resolution": "4k"}, "15",
                 id="3.0-4k"),
    pytest.param("text-to-video/kling-3.0", {"duration": 10, "audio": "native"}, "9",
                 id="3.0-native-audio-720p"),
    pytest.param("text-to-video/kling-2.6", {"duration": 10}, "3", id="2.6-720p"),
    pytest.param("text-to-video/kling-2.5-turbo", {"resolution": "1080p"}, "2.5",
                 id="2.5-turbo-default-5s"),
])
async def test_billing_is_seconds_times_the_per_second_price(
    row: str, settings: dict[str, Any], amount: str
) -> None:
    """billing[].amount = output seconds x the model's price per second (reference §13.3)."""
    async with running(latency=0) as (sim, session):
        _, created = await create_new(sim, session, row, {"prompt": "x", "settings": settings})
        (task,) = await query(sim, session, task_ids=created["data"]["id"])
        assert task["billing"] == [{"charge_type": "unit", "amount": amount,
                                    "package_type": "video"}]


async def test_cash_charge_type_bills_the_balance_in_both_shapes() -> None:
    """charge_type="cash": billing[] is a cash entry in USD; a legacy task carries
    final_unit_deduction "0" and final_balance_deduction{quota, list_price}."""
    async with running(latency=0, charge_type="cash") as (sim, session):
        body = {"prompt": "x", "settings": {"duration": 5, "resolution": "1080p"}}
        _, created = await create_new(sim, session, body=body)
        (task,) = await query(sim, session, task_ids=created["data"]["id"])
        assert task["billing"] == [{"charge_type": "cash", "cash_type": "balance",
                                    "amount": "0.7", "currency": "USD", "list_price": "0.7"}]
        url = f"{sim.base_url}/v1/videos/text2video"
        legacy = {"prompt": "x", "model_name": "kling-v3", "mode": "pro", "duration": "10"}
        _, made = await call(session, "POST", url, json=legacy)
        _, got = await call(session, "GET", f"{url}/{made['data']['task_id']}")
        assert got["data"]["final_unit_deduction"] == "0"
        assert got["data"]["final_balance_deduction"] == {"quota": "1.12", "list_price": "1.12"}


async def test_legacy_tasks_carry_final_unit_deduction_as_a_string() -> None:
    """A legacy task's own query carries final_unit_deduction (a string, the 2026 price of
    kling-v3 pro 10 s: 8 units) and no final_balance_deduction when a pack pays."""
    async with running(latency=0) as (sim, session):
        url = f"{sim.base_url}/v1/videos/text2video"
        body = {"prompt": "x", "model_name": "kling-v3", "mode": "pro", "duration": "10"}
        _, made = await call(session, "POST", url, json=body)
        _, got = await call(session, "GET", f"{url}/{made['data']['task_id']}")
        assert got["data"]["final_unit_deduction"] == "8"
        assert "final_balance_deduction" not in got["data"]
        _, made = await call(session, "POST", url, json={"prompt": "older model"})
        _, got = await call(session, "GET", f"{url}/{made['data']['task_id']}")
        assert got["data"]["final_unit_deduction"] == "1"  # kling-v1 std 5 s, as before


# -- callbacks -----------------------------------------------------------------------------


@asynccontextmanager
async def receiver() -> AsyncIterator[tuple[str, MemoryObjectReceiveStream[dict[str, Any]]]]:
    """A loopback callback receiver: its URL and the stream of bodies it got."""
    send, receive = anyio.create_memory_object_stream[dict[str, Any]](100)

    async def handle(request: web.Request) -> web.Response:
        await send.send(json.loads(await request.read()))
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/cb", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/cb", receive
    finally:
        await runner.cleanup()
        send.close()
        receive.close()


async def next_bodies(receive: MemoryObjectReceiveStream[dict[str, Any]],
                      n: int) -> list[dict[str, Any]]:
    with anyio.fail_after(5):
        return [await receive.receive() for _ in range(n)]


async def test_new_standard_callbacks_are_in_the_new_shape() -> None:
    """options.callback_url gets the §12.3 task object (id, status succeeded, outputs,
    billing) at each status change; a legacy task still gets the legacy shape."""
    clock = FakeClock(50.0)
    async with receiver() as (url, bodies), running(clock=clock, latency=10) as (sim, session):
        body = {"prompt": "x", "options": {"callback_url": url, "external_task_id": "cb-n"}}
        _, created = await create_new(sim, session, body=body)
        clock.advance(10)
        got = await next_bodies(bodies, 2)
        assert [g["status"] for g in got] == ["processing", "succeeded"]
        assert all(g["id"] == created["data"]["id"] and "task_id" not in g for g in got)
        assert got[1]["external_id"] == "cb-n" and got[1]["outputs"][0]["type"] == "video"
        assert got[1]["billing"][0]["charge_type"] == "unit"
        legacy = {"prompt": "x", "callback_url": url}
        await call(session, "POST", f"{sim.base_url}/v1/videos/text2video", json=legacy)
        clock.advance(10)
        got += await next_bodies(bodies, 2)
        assert got[3]["task_status"] == "succeed" and "id" not in got[3]


def test_new_settings_are_validated() -> None:
    """Impossible values of the new settings are refused when the config is built."""
    for bad in ({"tasks_id_limit": 0}, {"not_found_code": 1202}, {"charge_type": "gold"},
                {"concurrency_limits": {"video/kling-3.0": 0}},
                {"concurrency_limits": {"": 2}}):
        with pytest.raises(ValueError):
            SimulatorConfig(**bad)
    config = SimulatorConfig(concurrency_limits={"video/kling-3.0": 2, "*": 5})
    assert (config.bucket_limit("video/kling-3.0"), config.bucket_limit("video/kling-2.6")) == (
        2, 5)
    assert config.to_json()["concurrency_limits"] == {"video/kling-3.0": 2, "*": 5}
