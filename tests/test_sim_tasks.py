"""The simulator's task queries in 2026 (reference §3.1, §6, §12): GET /tasks by ids and
external ids, POST /tasks cursor listing, legacy lookups by path segment, per-model-version
concurrency."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from kling_async.testing import FaultConfig, KlingSimulator
from tests._simhelpers import FakeClock, running

pytestmark = pytest.mark.anyio

T2V = "text-to-video/kling-3.0-turbo"
LEGACY = "videos/text2video"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def call(
    session: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
) -> tuple[int, Any]:
    async with session.request(method, url, **kwargs) as resp:
        return resp.status, await resp.json(content_type=None)


async def make(
    sim: KlingSimulator, session: aiohttp.ClientSession, path: str = T2V, **body: Any
) -> str:
    """Create a task (new standard unless ``path`` starts with ``v1/``) and return its id."""
    status, payload = await call(session, "POST", f"{sim.base_url}/{path}",
                                 json={"prompt": "x", **body})
    assert status == 200, payload
    data = payload["data"]
    return str(data.get("id") or data.get("task_id"))


async def get_tasks(sim: KlingSimulator, session: aiohttp.ClientSession,
                    query: str) -> tuple[int, Any]:
    return await call(session, "GET", f"{sim.base_url}/tasks?{query}")


async def listing(sim: KlingSimulator, session: aiohttp.ClientSession,
                  **body: Any) -> tuple[int, Any]:
    return await call(session, "POST", f"{sim.base_url}/tasks", json=body)


# -- GET /tasks ----------------------------------------------------------------------------


async def test_tasks_by_ids_in_the_order_asked_unknown_ids_absent() -> None:
    """task_ids=b,unknown,a answers [b, a] in the new shape; an unknown id is simply absent."""
    async with running() as (sim, session):
        a, b = await make(sim, session), await make(sim, session)
        status, payload = await get_tasks(sim, session, f"task_ids={b},999,{a}")
        assert status == 200 and payload["code"] == 0
        assert [t["id"] for t in payload["data"]] == [b, a]
        status, payload = await get_tasks(sim, session, "task_ids=999")
        assert (status, payload["data"]) == (200, [])


async def test_tasks_by_external_ids() -> None:
    """external_task_ids=x,y finds tasks by their options.external_task_id."""
    async with running() as (sim, session):
        a = await make(sim, session, options={"external_task_id": "ea"})
        b = await make(sim, session, options={"external_task_id": "eb"})
        _, payload = await get_tasks(sim, session, "external_task_ids=eb,nope,ea")
        assert [(t["id"], t["external_id"]) for t in payload["data"]] == [(b, "eb"), (a, "ea")]


async def test_legacy_tasks_answer_on_tasks_normalised() -> None:
    """A legacy task is also found on /tasks, normalised: status succeeded, outputs[] and
    billing[] (reference §12.4); by external id too."""
    async with running(latency=0) as (sim, session):
        legacy = await make(sim, session, f"v1/{LEGACY}", external_task_id="old")
        image = await make(sim, session, "v1/images/generations", n=2)
        _, payload = await get_tasks(sim, session, f"task_ids={legacy},{image}")
        video_task, image_task = payload["data"]
        assert video_task["status"] == "succeeded" and video_task["external_id"] == "old"
        assert video_task["outputs"][0]["type"] == "video"
        assert video_task["billing"] == [{"charge_type": "unit", "amount": "1",
                                          "package_type": "video"}]
        assert [o["type"] for o in image_task["outputs"]] == ["image", "image"]
        assert all(set(o) == {"type", "url"} for o in image_task["outputs"])
        assert image_task["billing"][0]["package_type"] == "image"
        _, payload = await get_tasks(sim, session, "external_task_ids=old")
        assert [t["id"] for t in payload["data"]] == [legacy]


@pytest.mark.parametrize("query", [
    "task_ids=1&external_task_ids=x", "", "task_ids=", "task_ids=,,",
], ids=["both", "neither", "empty", "only-commas"])
async def test_tasks_needs_exactly_one_kind_of_ids(query: str) -> None:
    """task_ids and external_task_ids are never both, and one of them names an id: 400 / 1201."""
    async with running() as (sim, session):
        status, payload = await get_tasks(sim, session, query)
        assert (status, payload["code"], payload["data"]) == (400, 1201, None)


async def test_tasks_id_limit_is_20_by_default() -> None:
    """20 ids are answered; 21 are 400 / 1201 "... cannot exceed 20 in total"."""
    async with running() as (sim, session):
        ids = [await make(sim, session) for _ in range(21)]
        status, payload = await get_tasks(sim, session, "task_ids=" + ",".join(ids[:20]))
        assert status == 200 and len(payload["data"]) == 20
        status, payload = await get_tasks(sim, session, "task_ids=" + ",".join(ids))
        assert (status, payload["code"]) == (400, 1201)
        assert payload["message"].endswith("cannot exceed 20 in total")
        status, payload = await get_tasks(sim, session, "external_task_ids=" + ",".join(ids))
        assert (status, payload["code"]) == (400, 1201)


async def test_tasks_id_limit_is_a_setting() -> None:
    """tasks_id_limit=3: 3 ids pass, 4 are refused, and the message names the limit."""
    async with running(tasks_id_limit=3) as (sim, session):
        status, _ = await get_tasks(sim, session, "task_ids=1,2,3")
        assert status == 200
        status, payload = await get_tasks(sim, session, "task_ids=1,2,3,4")
        assert status == 400 and "cannot exceed 3 in total" in payload["message"]


async def test_tasks_calls_and_ids_per_call_are_counted() -> None:
    """SimStats counts answered GET /tasks calls and the ids each asked for."""
    async with running() as (sim, session):
        a = await make(sim, session)
        await get_tasks(sim, session, f"task_ids={a}")
        await get_tasks(sim, session, f"task_ids={a},2,3")
        await get_tasks(sim, session, f"task_ids={a},4,5")
        await get_tasks(sim, session, "task_ids=1&external_task_ids=2")  # refused: not counted
        stats = sim.stats()
        assert stats.tasks_queries == 3
        assert dict(stats.tasks_ids_per_query) == {1: 1, 3: 2}
        assert stats.tasks_ids_queried == 7
        assert stats.count("GET", "/tasks") == 4
        assert stats.to_json()["tasks_ids_per_query"] == {"1": 1, "3": 2}


async def test_tasks_are_scoped_to_the_account() -> None:
    """Another account's ids are absent from /tasks and from the listing."""
    async with running(extra_api_keys=("other-key",)) as (sim, session):
        mine = await make(sim, session, options={"external_task_id": "mine"})
        other = {"Authorization": "Bearer other-key"}
        _, payload = await call(session, "GET", f"{sim.base_url}/tasks?task_ids={mine}",
                                headers=other)
        assert payload["data"] == []
        _, payload = await call(session, "GET", f"{sim.base_url}/tasks?external_task_ids=mine",
                                headers=other)
        assert payload["data"] == []
        _, payload = await call(session, "POST", f"{sim.base_url}/tasks", json={}, headers=other)
        assert payload["data"]["result"] == []


# -- POST /tasks ---------------------------------------------------------------------------


async def test_cursor_listing_pages_newest_first_until_has_more_is_false() -> None:
    """limit=2 over 5 tasks: pages of 2, 2, 1, newest first, next_cursor until the end."""
    clock = FakeClock()
    async with running(clock=clock) as (sim, session):
        ids = []
        for _ in range(5):
            ids.append(await make(sim, session))
            clock.advance(1)
        seen: list[str] = []
        cursor = ""
        for expected in (2, 2, 1):
            status, payload = await listing(sim, session, limit=2, cursor=cursor)
            assert status == 200
            data = payload["data"]
            assert set(data) == {"result", "count", "next_cursor", "has_more"}
            assert data["count"] == len(data["result"]) == expected
            seen += [t["id"] for t in data["result"]]
            cursor = data["next_cursor"]
            assert data["has_more"] == (expected == 2) == bool(cursor)
        assert seen == ids[::-1]
        assert sim.stats().tasks_listings == 3


async def test_listing_defaults_to_100_and_the_last_30_days() -> None:
    """An empty body lists every task of the last 30 days; has_more false, no cursor."""
    async with running() as (sim, session):
        ids = [await make(sim, session) for _ in range(3)]
        status, payload = await call(session, "POST", f"{sim.base_url}/tasks")
        assert status == 200
        data = payload["data"]
        assert [t["id"] for t in data["result"]] == ids[::-1]
        assert (data["has_more"], data["next_cursor"]) == (False, "")


async def test_listing_filters_by_status_and_product_type() -> None:
    """filters: status values OR-ed, keys AND-ed; product_type video / image."""
    clock = FakeClock()
    async with running(clock=clock, latency={LEGACY: 1000, "images/generations": 1},
                       ) as (sim, session):
        done_image = await make(sim, session, "v1/images/generations")
        clock.advance(2)
        running_video = await make(sim, session, f"v1/{LEGACY}")
        status_filter = {"key": "status", "values": ["succeeded"]}
        _, payload = await listing(sim, session, filters=[status_filter])
        assert [t["id"] for t in payload["data"]["result"]] == [done_image]
        kinds = {"key": "product_type", "values": ["video"]}
        _, payload = await listing(sim, session, filters=[kinds])
        assert [t["id"] for t in payload["data"]["result"]] == [running_video]
        _, payload = await listing(sim, session, filters=[status_filter, kinds])
        assert payload["data"]["result"] == []
        both = {"key": "status", "values": ["succeeded", "submitted"]}
        _, payload = await listing(sim, session, filters=[both])
        assert [t["id"] for t in payload["data"]["result"]] == [running_video, done_image]


async def test_listing_window_by_start_and_end_time() -> None:
    """start_time/end_time (ms, numbers or digit strings) bound the creation times."""
    clock = FakeClock()
    async with running(clock=clock) as (sim, session):
        first = await make(sim, session)
        clock.advance(100)
        second = await make(sim, session)
        (a, b) = sorted(t.created_at for t in sim.tasks())
        _, payload = await listing(sim, session, start_time=a + 1, end_time=b)
        assert [t["id"] for t in payload["data"]["result"]] == [second]
        _, payload = await listing(sim, session, start_time=str(a), end_time=str(b - 1))
        assert [t["id"] for t in payload["data"]["result"]] == [first]


@pytest.mark.parametrize("body", [
    {"limit": 501}, {"limit": 0}, {"limit": "many"}, {"start_time": 10, "end_time": 10},
    {"filters": [{"key": "model", "values": ["x"]}]},
    {"filters": [{"key": "status", "values": ["succeed"]}]},
    {"filters": {"key": "status"}}, {"cursor": "not-a-cursor"},
], ids=["limit-501", "limit-0", "limit-text", "empty-window", "filter-key", "filter-value",
        "filters-object", "cursor"])
async def test_listing_refuses_bad_bodies_with_1201(body: dict[str, Any]) -> None:
    """A bad limit, window, filter or cursor is 400 / 1201 naming what is wrong."""
    async with running() as (sim, session):
        status, payload = await listing(sim, session, **body)
        assert (status, payload["code"]) == (400, 1201)
        assert next(iter(body)) in payload["message"] or "time" in payload["message"]


# -- legacy lookups ------------------------------------------------------------------------


async def test_legacy_lookup_by_external_id_in_the_path_segment() -> None:
    """GET /v1/<path>/{external_task_id} finds the task (reference §3.1, 2026); an unknown
    value is 400 / 1201 "Task not found by id/external id: X"."""
    async with running() as (sim, session):
        task_id = await make(sim, session, f"v1/{LEGACY}", external_task_id="seg-1")
        path = f"{sim.base_url}/v1/{LEGACY}"
        status, payload = await call(session, "GET", f"{path}/seg-1")
        assert status == 200 and payload["data"]["task_id"] == task_id
        status, payload = await call(session, "GET", f"{path}/{task_id}")
        assert status == 200 and payload["data"]["task_info"]["external_task_id"] == "seg-1"
        status, payload = await call(session, "GET", f"{path}/seg-2")
        assert (status, payload["code"]) == (400, 1201)
        assert payload["message"] == "Task not found by id/external id: seg-2"


# -- concurrency per model version ---------------------------------------------------------


async def test_a_1303_on_kling_3_0_does_not_block_kling_2_6() -> None:
    """concurrency_limits per (model version, pack type): kling-3.0 full is 429 / 1303 for
    kling-3.0 (new and legacy kling-v3 alike), while kling-2.6 and images still create."""
    clock = FakeClock()
    limits = {"video/kling-3.0": 1, "*": 2}
    async with running(clock=clock, latency=10, concurrency_limits=limits) as (sim, session):
        await make(sim, session, "text-to-video/kling-3.0")
        status, payload = await call(session, "POST", f"{sim.base_url}/text-to-video/kling-3.0",
                                     json={"prompt": "x"})
        assert (status, payload["code"]) == (429, 1303)
        status, payload = await call(session, "POST", f"{sim.base_url}/v1/{LEGACY}",
                                     json={"prompt": "x", "model_name": "kling-v3"})
        assert (status, payload["code"]) == (429, 1303)
        await make(sim, session, "text-to-video/kling-2.6")
        await make(sim, session, "text-to-video/kling-2.6")
        status, _ = await call(session, "POST", f"{sim.base_url}/text-to-video/kling-2.6",
                               json={"prompt": "x"})
        assert status == 429  # the "*" default: 2 per bucket
        await make(sim, session, "v1/images/generations", n=2)
        stats = sim.stats()
        assert stats.peak_by_bucket["default|video/kling-3.0"] == 1
        assert stats.peak_by_bucket["default|video/kling-2.6"] == 2
        assert stats.peak_by_bucket["default|image/kling-3.0"] == 2  # default model kling-v3
        assert stats.codes[1303] == 3
        assert [t.bucket for t in sim.tasks()] == [
            "video/kling-3.0", "video/kling-2.6", "video/kling-2.6", "image/kling-3.0"]
        clock.advance(10)
        await make(sim, session, "text-to-video/kling-3.0")


async def test_the_listing_post_gets_query_faults_not_create_faults() -> None:
    """POST /tasks is a query: a create-scoped drop_after_create never hits it, a GET-scoped
    error_5xx does."""
    async with running(faults=FaultConfig(drop_after_create=1.0)) as (sim, session):
        status, payload = await listing(sim, session)
        assert (status, payload["code"]) == (200, 0)
    async with running(faults=FaultConfig(error_5xx=1.0, error_5xx_scope="get")) as (sim, s):
        status, payload = await listing(sim, s)
        assert status >= 500 and payload["code"] >= 5000
        assert sim.stats().tasks_listings == 0


async def test_the_voice_task_list_answers_as_every_task_list_with_page_size_1000() -> None:
    """GET /v1/general/custom-voices lists like the other task lists (unknown external id:
    1201 "Task not found"; listing off: 1202), with pageSize up to 1000, not 1001."""
    voices = "v1/general/custom-voices"
    async with running() as (sim, session):
        status, payload = await call(session, "GET",
                                     f"{sim.base_url}/{voices}?external_task_id=nope")
        assert (status, payload["code"]) == (400, 1201), payload
        assert "Task not found by id/external id: nope" in payload["message"]
        status, payload = await call(session, "GET", f"{sim.base_url}/{voices}?pageSize=1000")
        assert (status, payload["code"]) == (200, 0), payload
        status, payload = await call(session, "GET", f"{sim.base_url}/{voices}?pageSize=1001")
        assert (status, payload["code"]) == (400, 1201), payload
    async with running(list_supported=False) as (sim, session):
        _, payload = await call(session, "GET", f"{sim.base_url}/{voices}")
        assert payload["code"] == 1202, payload


@pytest.mark.parametrize("charge_type", ["unit", "cash"])
async def test_a_balance_deduction_is_the_cash_price_the_task_reports(charge_type: str) -> None:
    """POST /account/billing/balance deducts an image task's cash price at the image rate,
    the same amount as its final_balance_deduction under charge_type=cash (reference §13)."""
    async with running(latency=0, charge_type="cash") as (sim, session):
        task_id = await make(sim, session, "v1/images/generations", model_name="kling-v2-1")
        _, payload = await call(session, "GET", f"{sim.base_url}/v1/images/generations/{task_id}")
        price = payload["data"]["final_balance_deduction"]["quota"]
    async with running(latency=0, charge_type=charge_type) as (sim, session):
        task_id = await make(sim, session, "v1/images/generations", model_name="kling-v2-1")
        _, payload = await call(session, "POST", f"{sim.base_url}/account/billing/balance",
                                json={"start_time": 0, "end_time": 2**62})
    (detail,) = payload["data"]["result"]["detail"]
    assert detail["task_id"] == task_id
    assert str(detail["deduction_amount"]) == price == "0.014"
