"""The simulator's Kling API: envelope, routes, auth, lifecycle, results, limits."""

from __future__ import annotations

import struct
import time
import zlib
from collections.abc import Callable
from typing import Any

import aiohttp
import jwt
import pytest

from kling_async.testing import KlingSimulator, SimulatorConfig, TaskRecord
from tests._simhelpers import FakeClock, running

pytestmark = pytest.mark.anyio

ENDPOINT_NAMES = [
    "images/generations",
    "images/omni-image",
    "videos/omni-video",
    "videos/text2video",
    "videos/image2video",
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def call(
    session: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
) -> tuple[int, Any, aiohttp.ClientResponse]:
    async with session.request(method, url, **kwargs) as resp:
        body = await resp.json(content_type=None)
        return resp.status, body, resp


async def create(
    sim: KlingSimulator,
    session: aiohttp.ClientSession,
    endpoint: str = "videos/text2video",
    body: dict[str, Any] | None = None,
    base: str | None = None,
) -> tuple[int, Any]:
    status, payload, _ = await call(
        session, "POST", f"{base or sim.base_url}/v1/{endpoint}", json=body or {"prompt": "a cat"}
    )
    return status, payload


def assert_envelope(payload: Any, code: int = 0) -> None:
    assert set(payload) == {"code", "message", "request_id", "data"}
    assert payload["code"] == code
    assert isinstance(payload["request_id"], str) and len(payload["request_id"]) >= 16
    if code == 0:
        assert payload["message"] == "SUCCEED"
    else:
        assert payload["data"] is None


# -- envelope and routes -------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINT_NAMES)
@pytest.mark.parametrize("gateway", [False, True], ids=["official", "gateway"])
async def test_create_and_query_on_every_endpoint_and_prefix(endpoint: str, gateway: bool) -> None:
    """Every endpoint creates under /v1 and /kling/v1 and answers the official envelope."""
    async with running(time_scale=1.0) as (sim, session):
        base = sim.gateway_url if gateway else sim.base_url
        status, payload = await create(sim, session, endpoint, {"prompt": "x"}, base=base)
        assert status == 200
        assert_envelope(payload)
        data = payload["data"]
        assert set(data) == {"task_id", "task_status", "task_info", "created_at", "updated_at"}
        assert data["task_status"] == "submitted" and data["task_id"].isdigit()
        assert isinstance(data["created_at"], int) and data["created_at"] > 1_600_000_000_000
        status, got, _ = await call(session, "GET", f"{base}/v1/{endpoint}/{data['task_id']}")
        assert status == 200
        assert_envelope(got)
        task = got["data"]
        assert task["task_id"] == data["task_id"]
        assert task["task_status"] == "submitted"
        for key in (
            "task_status_msg",
            "task_info",
            "task_result",
            "final_unit_deduction",
            "created_at",
            "updated_at",
        ):
            assert key in task
        assert isinstance(task["final_unit_deduction"], str)
        route = f"{'/kling' if gateway else ''}/v1/{endpoint}"
        assert sim.stats().requests[("POST", route, 200)] == 1


async def test_unknown_task_is_400_1201_task_not_found() -> None:
    """An unknown task id answers HTTP 400 / 1201 "Task not found by id/external id: X"
    (reference §3.1, the 2026 API; it was 404 / 1203 before)."""
    async with running() as (sim, session):
        status, payload, _ = await call(session, "GET", f"{sim.base_url}/v1/videos/text2video/42")
        assert status == 400
        assert_envelope(payload, 1201)
        assert payload["message"] == "Task not found by id/external id: 42"


async def test_not_found_code_1203_keeps_the_pre_2026_answer() -> None:
    """With not_found_code=1203 an unknown id answers the older 404 / 1203 (gateway tests)."""
    async with running(not_found_code=1203) as (sim, session):
        path = f"{sim.base_url}/v1/videos/text2video"
        for url in (f"{path}/42", f"{path}?external_task_id=nope",
                    f"{path}/nope?external_task_id=true"):
            status, payload, _ = await call(session, "GET", url)
            assert status == 404, url
            assert_envelope(payload, 1203)


async def test_task_is_scoped_to_its_endpoint() -> None:
    """A task is not visible under another endpoint's path."""
    async with running() as (sim, session):
        _, payload = await create(sim, session, "videos/text2video")
        task_id = payload["data"]["task_id"]
        status, body, _ = await call(
            session, "GET", f"{sim.base_url}/v1/videos/image2video/{task_id}"
        )
        assert status == 400 and body["code"] == 1201


async def test_unknown_route_and_method_answer_1202() -> None:
    """Unknown paths and wrong methods answer 404/1202 in an envelope."""
    async with running() as (sim, session):
        status, payload, _ = await call(session, "DELETE", f"{sim.base_url}/v1/videos/text2video")
        assert (status, payload["code"]) == (404, 1202)
        status, payload, _ = await call(session, "GET", f"{sim.base_url}/v1/nope")
        assert (status, payload["code"]) == (404, 1202)


# -- validation ----------------------------------------------------------------------------


async def test_validation_error_names_the_field() -> None:
    """With validation on, a body the request model rejects is 400/1201 naming the field."""
    async with running(validate_requests=True) as (sim, session):
        status, payload = await create(sim, session, "videos/text2video", {"duration": "5"})
        assert status == 400
        assert_envelope(payload, 1201)
        assert "prompt" in payload["message"]
        assert sim.tasks() == []


async def test_valid_body_passes_server_side_validation() -> None:
    """A documented, valid text2video body is accepted with validation on."""
    async with running(validate_requests=True) as (sim, session):
        body = {"prompt": "a cat", "model_name": "kling-v1", "mode": "std", "duration": "5"}
        status, payload = await create(sim, session, "videos/text2video", body)
        assert status == 200, payload
        assert sim.tasks()[0].body == body


@pytest.mark.parametrize(
    ("endpoint", "body"),
    [
        ("images/generations", {"prompt": "x", "n": 2, "watermark_info": {"enabled": True}}),
        (
            "images/omni-image",
            {
                "prompt": "x",
                "model_name": "kling-v3-omni",
                "result_type": "series",
                "series_amount": 3,
            },
        ),
        ("videos/omni-video", {"prompt": "x", "aspect_ratio": "16:9", "duration": "5"}),
        ("videos/text2video", {"prompt": "x", "model": "kling-v1"}),  # legacy key: a warning
        ("videos/image2video", {"image": "https://example.com/a.png"}),
    ],
)
async def test_documented_bodies_pass_validation_as_is(endpoint: str, body: Any) -> None:
    """Valid bodies are accepted and stored exactly as sent; validator warnings stay inside."""
    async with running(validate_requests=True) as (sim, session):
        status, payload = await create(sim, session, endpoint, body)
        assert status == 200, payload
        assert sim.tasks()[0].body == body


@pytest.mark.parametrize(
    "raw", [b"{not json", b"[1, 2]", b'"text"'], ids=["invalid-json", "array", "string"]
)
async def test_non_object_body_is_1201(raw: bytes) -> None:
    """A non-JSON or non-object body is 400/1201."""
    async with running() as (sim, session):
        status, payload, _ = await call(
            session,
            "POST",
            f"{sim.base_url}/v1/videos/text2video",
            data=raw,
            headers={"Content-Type": "application/json"},
        )
        assert (status, payload["code"]) == (400, 1201)


async def test_body_size_is_capped() -> None:
    """A body over max_body_bytes is rejected without creating a task."""
    async with running(max_body_bytes=1000) as (sim, session):
        status, payload = await create(sim, session, body={"prompt": "x" * 5000})
        assert (status, payload["code"]) == (400, 1201)
        assert sim.tasks() == []


# -- external ids and listing --------------------------------------------------------------


async def test_duplicate_external_task_id_is_rejected_and_counted() -> None:
    """A reused external_task_id on the same account is 400/1201 and counted as duplicate."""
    async with running() as (sim, session):
        body = {"prompt": "x", "external_task_id": "job-1"}
        assert (await create(sim, session, body=body))[0] == 200
        status, payload = await create(sim, session, "videos/image2video", body)
        assert (status, payload["code"]) == (400, 1201)
        assert "already exists" in payload["message"]
        assert sim.stats().duplicates == 1
        assert len(sim.tasks()) == 1


async def test_three_external_id_query_forms() -> None:
    """The task is found by ?external_task_id=X, /X?external_task_id=true and /X?...=X."""
    async with running() as (sim, session):
        _, created = await create(sim, session, body={"prompt": "x", "external_task_id": "ext-9"})
        task_id = created["data"]["task_id"]
        path = f"{sim.base_url}/v1/videos/text2video"
        for url in (
            f"{path}?external_task_id=ext-9",
            f"{path}/ext-9?external_task_id=true",
            f"{path}/ext-9?external_task_id=ext-9",
        ):
            status, payload, _ = await call(session, "GET", url)
            assert status == 200, url
            assert payload["data"]["task_id"] == task_id
            assert payload["data"]["task_info"]["external_task_id"] == "ext-9"
        status, payload, _ = await call(session, "GET", f"{path}?external_task_id=missing")
        assert (status, payload["code"]) == (400, 1201)
        status, payload, _ = await call(session, "GET", f"{path}/missing?external_task_id=true")
        assert (status, payload["code"]) == (400, 1201)
        assert payload["message"] == "Task not found by id/external id: missing"


async def test_list_pages_newest_first_per_endpoint() -> None:
    """The list is newest first, paged, and only holds that endpoint's tasks."""
    async with running() as (sim, session):
        ids = []
        for i in range(5):
            _, payload = await create(sim, session, body={"prompt": f"p{i}"})
            ids.append(payload["data"]["task_id"])
        await create(sim, session, "videos/image2video", {"prompt": "other"})
        path = f"{sim.base_url}/v1/videos/text2video"
        status, payload, _ = await call(session, "GET", f"{path}?pageNum=1&pageSize=2")
        assert status == 200
        assert [t["task_id"] for t in payload["data"]] == [ids[4], ids[3]]
        _, payload, _ = await call(session, "GET", f"{path}?pageNum=3&pageSize=2")
        assert [t["task_id"] for t in payload["data"]] == [ids[0]]
        _, payload, _ = await call(session, "GET", f"{path}?pageNum=4&pageSize=2")
        assert payload["data"] == []
        _, payload, _ = await call(session, "GET", path)
        assert [t["task_id"] for t in payload["data"]] == ids[::-1]


@pytest.mark.parametrize(
    "query",
    ["pageNum=0", "pageNum=1001", "pageSize=0", "pageSize=501", "pageNum=abc"],
)
async def test_list_paging_out_of_range_is_1201(query: str) -> None:
    """pageNum outside [1, 1000] or pageSize outside [1, 500] is 400/1201."""
    async with running() as (sim, session):
        status, payload, _ = await call(
            session, "GET", f"{sim.base_url}/v1/videos/text2video?{query}"
        )
        assert (status, payload["code"]) == (400, 1201)
        assert query.split("=")[0] in payload["message"]


async def test_list_not_supported_answers_1202_but_external_query_works() -> None:
    """list_supported=False: the list form is 404/1202; ?external_task_id= still works."""
    async with running(list_supported=False) as (sim, session):
        await create(sim, session, body={"prompt": "x", "external_task_id": "e"})
        path = f"{sim.base_url}/v1/videos/text2video"
        status, payload, _ = await call(session, "GET", f"{path}?pageNum=1")
        assert (status, payload["code"]) == (404, 1202)
        status, payload, _ = await call(session, "GET", f"{path}?external_task_id=e")
        assert status == 200 and payload["data"]["task_info"]["external_task_id"] == "e"


# -- auth ----------------------------------------------------------------------------------


def token(
    sim: KlingSimulator,
    *,
    key: str | None = None,
    iss: str | None = None,
    exp: float = 1800,
    nbf: float = -5,
) -> str:
    now = time.time()
    claims = {"iss": iss or sim.access_key, "exp": int(now + exp), "nbf": int(now + nbf)}
    return jwt.encode(claims, key or sim.secret_key, algorithm="HS256")


@pytest.mark.parametrize(
    ("make_header", "code"),
    [
        pytest.param(lambda sim: None, 1001, id="missing"),
        pytest.param(lambda sim: "Basic abc", 1001, id="not-bearer"),
        pytest.param(lambda sim: "Bearer wrong-key", 1002, id="wrong-key"),
        pytest.param(lambda sim: "Bearer " + token(sim, key="x" * 40), 1002, id="bad-signature"),
        pytest.param(lambda sim: "Bearer " + token(sim, iss="someone"), 1002, id="wrong-iss"),
        pytest.param(lambda sim: "Bearer " + token(sim, nbf=600), 1003, id="not-yet-valid"),
        pytest.param(lambda sim: "Bearer " + token(sim, exp=-60, nbf=-120), 1004, id="expired"),
    ],
)
async def test_auth_failures(
    make_header: Callable[[KlingSimulator], str | None], code: int
) -> None:
    """Auth failures answer 401 with 1001 (missing), 1002 (invalid), 1003 (nbf), 1004 (exp)."""
    async with KlingSimulator() as sim, aiohttp.ClientSession() as session:
        header = make_header(sim)
        headers = {"Authorization": header} if header is not None else {}
        status, payload, _ = await call(
            session, "GET", f"{sim.base_url}/v1/videos/text2video/1", headers=headers
        )
        assert status == 401
        assert_envelope(payload, code)


async def test_valid_jwt_and_bearer_key_are_one_account() -> None:
    """A JWT (iss=access_key, HS256) and the bearer key see the same tasks."""
    async with KlingSimulator(validate_requests=False) as sim, aiohttp.ClientSession() as s:
        jwt_headers = {"Authorization": f"Bearer {token(sim)}"}
        key_headers = {"Authorization": f"Bearer {sim.api_key}"}
        status, payload, _ = await call(
            s,
            "POST",
            f"{sim.base_url}/v1/videos/text2video",
            json={"prompt": "x"},
            headers=jwt_headers,
        )
        assert status == 200
        task_id = payload["data"]["task_id"]
        for headers in (jwt_headers, key_headers):
            status, _, _ = await call(
                s, "GET", f"{sim.base_url}/v1/videos/text2video/{task_id}", headers=headers
            )
            assert status == 200


async def test_explicit_credentials_and_extra_accounts_are_isolated() -> None:
    """Given keys are used; extra_api_keys are separate accounts that cannot see others' tasks."""
    async with (
        KlingSimulator(
            api_key="main-key",
            access_key="ak",
            secret_key="s" * 40,
            extra_api_keys=("other-key",),
            validate_requests=False,
        ) as sim,
        aiohttp.ClientSession() as s,
    ):
        assert (sim.api_key, sim.access_key, sim.secret_key) == ("main-key", "ak", "s" * 40)
        main = {"Authorization": "Bearer main-key"}
        other = {"Authorization": "Bearer other-key"}
        url = f"{sim.base_url}/v1/videos/text2video"
        body = {"prompt": "x", "external_task_id": "same"}
        _, payload, _ = await call(s, "POST", url, json=body, headers=main)
        status, _, _ = await call(s, "POST", url, json=body, headers=other)
        assert status == 200  # external ids are unique per account only
        status, _, _ = await call(s, "GET", f"{url}/{payload['data']['task_id']}", headers=other)
        assert status == 400  # not found (reference §3.1: 400 / 1201)
        _, listed, _ = await call(s, "GET", url, headers=other)
        assert len(listed["data"]) == 1
        assert {t.account for t in sim.tasks()} == {"default", "extra-1"}


# -- lifecycle and results -----------------------------------------------------------------


async def test_lifecycle_follows_the_virtual_clock() -> None:
    """submitted for queue_fraction of the duration, then processing, then succeed."""
    clock = FakeClock()
    async with running(clock=clock, time_scale=2.0, latency=100.0) as (sim, session):
        _, payload = await create(sim, session)
        url = f"{sim.base_url}/v1/videos/text2video/{payload['data']['task_id']}"

        async def status() -> Any:
            return (await call(session, "GET", url))[1]["data"]

        assert (await status())["task_status"] == "submitted"
        clock.advance(7.4)  # 14.8 simulated seconds < 15
        assert (await status())["task_status"] == "submitted"
        clock.advance(0.2)
        assert (await status())["task_status"] == "processing"
        clock.advance(42.4)  # 100 simulated seconds
        done = await status()
        assert done["task_status"] == "succeed"
        assert done["updated_at"] - done["created_at"] == 100_000
        assert done["task_result"]["videos"][0]["duration"] == "5.0"
        assert sim.tasks()[0].status.value == "succeed"


async def test_latency_zero_finishes_at_once_and_lognormal_uses_medians() -> None:
    """latency=0 ends tasks immediately; sigma=0 makes durations equal the medians."""
    clock = FakeClock()
    async with running(clock=clock, latency=0) as (sim, session):
        _, payload = await create(sim, session, "images/generations", {"prompt": "x"})
        url = f"{sim.base_url}/v1/images/generations/{payload['data']['task_id']}"
        assert (await call(session, "GET", url))[1]["data"]["task_status"] == "succeed"
        sim.configure(latency=None, latency_sigma=0.0, endpoint_medians={"videos/text2video": 50.0})
        await create(sim, session, "images/generations", {"prompt": "x"})
        await create(sim, session, "videos/text2video")
        await create(sim, session, "videos/image2video")
        durations = [(t.ends_at - t.created_at) / 1000 for t in sim.tasks()[1:]]
        assert durations == [20.0, 50.0, 120.0]


async def test_failure_rate_and_message() -> None:
    """fail_rate=1 ends every task failed with failure_message as task_status_msg."""
    async with running(latency=0, fail_rate=1.0, failure_message="nope: risk") as (sim, session):
        _, payload = await create(sim, session)
        url = f"{sim.base_url}/v1/videos/text2video/{payload['data']['task_id']}"
        data = (await call(session, "GET", url))[1]["data"]
        assert data["task_status"] == "failed"
        assert data["task_status_msg"] == "nope: risk"
        assert data["task_result"] == {}
        assert data["final_unit_deduction"] == "0"


async def test_fail_rate_is_a_share() -> None:
    """fail_rate=0.3 fails roughly 30% of tasks."""
    async with running(latency=0, fail_rate=0.3, seed=1) as (sim, session):
        for _ in range(200):
            await create(sim, session)
        failed = sum(t.failed for t in sim.tasks())
        assert 30 <= failed <= 90


def check_png(data: bytes) -> None:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (length, kind) == (13, b"IHDR")
    width, height = struct.unpack(">II", data[16:24])
    assert width > 0 and height > 0
    assert zlib.crc32(data[12:29]) == struct.unpack(">I", data[29:33])[0]
    assert data.endswith(b"IEND\xaeB`\x82")


async def test_image_results_are_real_pngs_with_watermark_variants() -> None:
    """n images, each URL serving a valid PNG; watermark_url when watermark_info.enabled."""
    async with running(latency=0) as (sim, session):
        body = {"prompt": "x", "n": 3, "watermark_info": {"enabled": True}}
        _, payload = await create(sim, session, "images/generations", body)
        url = f"{sim.base_url}/v1/images/generations/{payload['data']['task_id']}"
        data = (await call(session, "GET", url))[1]["data"]
        images = data["task_result"]["images"]
        assert [i["index"] for i in images] == [0, 1, 2]
        assert data["watermark_info"] == {"enabled": True}
        for image in images:
            for link in (image["url"], image["watermark_url"]):
                assert link.startswith(f"{sim.base_url}/__sim/files/")
                async with aiohttp.ClientSession() as anon, anon.get(link) as resp:
                    assert resp.status == 200
                    assert resp.content_type == "image/png"
                    content = await resp.read()
                    assert int(resp.headers["Content-Length"]) == len(content)
                    check_png(content)


async def test_omni_image_series_makes_series_amount_images() -> None:
    """omni-image with result_type=series makes series_amount images and weighs that much."""
    async with running(latency=0) as (sim, session):
        body = {"prompt": "x", "result_type": "series", "series_amount": 4, "n": 1}
        _, payload = await create(sim, session, "images/omni-image", body)
        url = f"{sim.base_url}/v1/images/omni-image/{payload['data']['task_id']}"
        data = (await call(session, "GET", url))[1]["data"]
        assert len(data["task_result"]["images"]) == 4
        assert "watermark_url" not in data["task_result"]["images"][0]
        assert sim.tasks()[0].weight == 4


async def test_video_result_is_an_ftyp_payload() -> None:
    """A video URL serves an MP4-like payload starting with an ftyp box."""
    async with running(latency=0) as (sim, session):
        body = {"prompt": "x", "duration": "10", "watermark_info": {"enabled": True}}
        _, payload = await create(sim, session, "videos/text2video", body)
        url = f"{sim.base_url}/v1/videos/text2video/{payload['data']['task_id']}"
        video = (await call(session, "GET", url))[1]["data"]["task_result"]["videos"][0]
        assert video["duration"] == "10.0" and video["id"]
        for link in (video["url"], video["watermark_url"]):
            async with session.get(link) as resp:
                content = await resp.read()
                assert resp.status == 200 and resp.content_type == "video/mp4"
                assert int(resp.headers["Content-Length"]) == len(content)
            assert content[4:8] == b"ftyp"
            assert struct.unpack(">I", content[:4])[0] <= len(content)


async def test_files_are_404_before_success_or_for_unknown_names() -> None:
    """Result files exist only once the task succeeded, and only under its own names."""
    clock = FakeClock()
    async with running(clock=clock, latency=10) as (sim, session):
        _, payload = await create(sim, session, "images/generations", {"prompt": "x"})
        root = f"{sim.base_url}/__sim/files/{payload['data']['task_id']}"
        async with session.get(f"{root}/image_0.png") as resp:
            assert resp.status == 404
        clock.advance(10)
        async with session.get(f"{root}/image_0.png") as resp:
            assert resp.status == 200
        async with session.get(f"{root}/image_5.png") as resp:
            assert resp.status == 404


# -- concurrency and rate limits -----------------------------------------------------------


async def test_concurrency_limit_weighs_images_by_n() -> None:
    """Slots: image = n, video = 1; over the limit is 429/1303; queries are free; peak kept."""
    clock = FakeClock()
    async with running(clock=clock, latency=10, concurrency_limit=3) as (sim, session):
        assert (await create(sim, session, "images/generations", {"prompt": "x", "n": 2}))[0] == 200
        _, payload = await create(sim, session)
        assert payload["code"] == 0
        status, payload = await create(sim, session)
        assert (status, payload["code"]) == (429, 1303)
        assert payload["message"] == "parallel task over resource pack limit"
        status, payload = await create(sim, session, "images/generations", {"prompt": "x"})
        assert (status, payload["code"]) == (429, 1303)
        status, _, _ = await call(session, "GET", f"{sim.base_url}/v1/videos/text2video")
        assert status == 200
        stats = sim.stats()
        assert stats.in_flight["default"] == 3 and stats.peak_concurrency["default"] == 3
        assert stats.codes[1303] == 2
        clock.advance(10)  # everything ended (failures would free slots too)
        assert (await create(sim, session, "images/generations", {"prompt": "x", "n": 3}))[0] == 200
        assert sim.stats().in_flight["default"] == 3


async def test_failed_tasks_hold_slots_until_they_end() -> None:
    """A failing task holds its slot until it ends, then frees it."""
    clock = FakeClock()
    async with running(clock=clock, latency=5, fail_rate=1.0, concurrency_limit=1) as (sim, s):
        assert (await create(sim, s))[0] == 200
        assert (await create(sim, s))[1]["code"] == 1303
        clock.advance(5)
        assert (await create(sim, s))[0] == 200


@pytest.mark.parametrize("retry_after", [None, 2.0, 0.25])
async def test_rate_limit_token_bucket(retry_after: float | None) -> None:
    """Over rate_limit requests/s is 429/1302, with Retry-After iff configured."""
    clock = FakeClock()
    async with running(clock=clock, rate_limit=2.0, rate_limit_retry_after=retry_after) as (
        sim,
        session,
    ):
        url = f"{sim.base_url}/v1/videos/text2video"
        assert (await call(session, "GET", url))[0] == 200
        assert (await call(session, "GET", url))[0] == 200
        status, payload, resp = await call(session, "GET", url)
        assert (status, payload["code"]) == (429, 1302)
        if retry_after is None:
            assert "Retry-After" not in resp.headers
        else:
            assert float(resp.headers["Retry-After"]) == retry_after
        clock.advance(0.5)  # one token back
        assert (await call(session, "GET", url))[0] == 200
        assert (await call(session, "GET", url))[0] == 429


async def test_max_tasks_forgets_the_oldest() -> None:
    """The store is bounded: past max_tasks the oldest task is forgotten."""
    async with running(max_tasks=3) as (sim, session):
        ids = [
            (await create(sim, session, body={"prompt": "x", "external_task_id": f"e{i}"}))[1][
                "data"
            ]["task_id"]
            for i in range(5)
        ]
        assert [t.task_id for t in sim.tasks()] == ids[2:]
        status, _, _ = await call(session, "GET", f"{sim.base_url}/v1/videos/text2video/{ids[0]}")
        assert status == 400  # not found (reference §3.1: 400 / 1201)
        _, listed, _ = await call(session, "GET", f"{sim.base_url}/v1/videos/text2video")
        assert [t["task_id"] for t in listed["data"]] == ids[:1:-1]


async def test_tasks_snapshot_records_bodies() -> None:
    """tasks() holds one record per created task with the body as received."""
    async with running() as (sim, session):
        body = {"prompt": "x", "external_task_id": "job-7", "extra": [1, 2]}
        await create(sim, session, body=body)
        (record,) = sim.tasks()
        assert isinstance(record, TaskRecord)
        assert (record.external_task_id, record.endpoint, record.account) == (
            "job-7",
            "videos/text2video",
            "default",
        )
        assert record.body == body


def test_config_validates_values() -> None:
    """SimulatorConfig rejects impossible values."""
    with pytest.raises(ValueError):
        SimulatorConfig(fail_rate=1.5)
    with pytest.raises(ValueError):
        SimulatorConfig(time_scale=0)
    with pytest.raises(ValueError):
        SimulatorConfig(latency={"videos/nope": 1.0})
    with pytest.raises(ValueError):
        SimulatorConfig(faults={"error_5xx": 0.7, "malformed": 0.7})


async def test_time_scale_change_keeps_simulated_time_continuous() -> None:
    """configure(time_scale=...) changes the speed from now on without a jump."""
    clock = FakeClock()
    async with running(clock=clock, time_scale=1.0) as (sim, _):
        clock.advance(10)
        assert sim.now() == pytest.approx(10.0)
        sim.configure(time_scale=10.0)
        assert sim.now() == pytest.approx(10.0)
        clock.advance(1)
        assert sim.now() == pytest.approx(20.0)
