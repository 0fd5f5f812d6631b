"""client.account (costs, balance and package deductions) and ``kling-async account``
against the simulator: typed results, cursor paging, filters, QPS spacing, no /v1 prefix."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest

import kling_async as kling
from kling_async.testing import KlingSimulator
from tests._scripted import Reply, ScriptedServer, ok
from tests._simhelpers import SCALE, Sleeps, client_for

pytestmark = pytest.mark.anyio
REPO = Path(kling.__file__).resolve().parent.parent
START, END = 0, 253402300799999
IMG_REQ = kling.ImageGenerationRequest(prompt="a red fox", n=2, model_name="kling-v1")  # 1 u/img
VIDEO_REQ = kling.TextToVideoRequest(prompt="a cat", duration="5")


def _count(sim: KlingSimulator, method: str, path: str, code: int | None = None) -> int:
    stats = sim.stats()
    if code is not None:
        return stats.codes.get(code, 0)
    return sum(n for (m, t, _), n in stats.requests.items() if m == method and t == path)


async def _finished(client: kling.KlingClient, *requests: Any) -> list[kling.Task]:
    jobs = [await client.submit(r) for r in requests]
    return [await job.result(timeout=30) for job in jobs]


async def test_costs_reads_the_double_wrapped_packs(sim: KlingSimulator) -> None:
    """costs() returns typed packs; what succeeded tasks cost is taken off the remainder."""
    async with client_for(sim) as client:
        await _finished(client, IMG_REQ)
        packs = await client.account.costs(START, END)
    by_name = {p.resource_pack_name: p for p in packs}
    image = by_name["sim image pack"]
    assert isinstance(image, kling.ResourcePack)
    assert image.total_quantity == Decimal(10000)
    assert image.remaining_quantity == Decimal(10000) - 2
    assert image.status == "online" and image.invalid_time is not None
    assert _count(sim, "GET", "/account/costs") == 1  # no /v1 prefix


async def test_costs_calls_are_spaced_by_a_second(server: ScriptedServer) -> None:
    """A second costs() right after the first sleeps out the rest of costs_interval (1 s)."""
    server.script("GET", "/account/costs", then=Reply(json=ok({"code": 0, "msg": "ok"})))
    sleeps = Sleeps()
    async with kling.KlingClient(api_key="k", base_url=server.url, allow_insecure_http=True,
                                 sleep=sleeps) as client:
        assert client.account.costs_interval == 1.0
        await client.account.costs(START, END)
        await client.account.costs(START, END)
    assert len(sleeps) == 1 and 0.5 < sleeps[0] <= 1.0
    assert server.count("GET", "/account/costs") == 2


async def test_spaced_costs_calls_pass_the_simulators_qps_check(sim: KlingSimulator) -> None:
    """With the spacing (a simulated second here), the simulator never answers 1302."""
    async with client_for(sim) as client:
        client.account.costs_interval = 1.0 / SCALE + 0.005
        for _ in range(3):
            await client.account.costs(START, END)
    assert _count(sim, "", "", code=1302) == 0


async def test_the_simulator_refuses_a_second_costs_call_within_a_second(
        sim: KlingSimulator) -> None:
    """Without spacing, the simulator answers 1302 (Kling's QPS <= 1)."""
    async with client_for(sim, retry=kling.RetryPolicy(max_attempts=1)) as client:
        client.account.costs_interval = 0
        await client.account.costs(START, END)
        with pytest.raises(kling.RateLimitError):
            await client.account.costs(START, END)


async def test_package_deductions_follow_the_cursor(sim: KlingSimulator) -> None:
    """package_deductions yields one typed detail per succeeded task, over several pages."""
    async with client_for(sim) as client:
        tasks = await _finished(client, IMG_REQ, IMG_REQ, VIDEO_REQ)
        found = [d async for d in client.account.package_deductions(START, END, limit=1)]
        images = [d async for d in client.account.package_deductions(
            START, END, product_types=["image"], api_key_names=["default"])]
        none = [d async for d in client.account.package_deductions(
            START, END, api_key_names=["someone-else"])]
    assert sorted(d.task_id or "" for d in found) == sorted(t.task_id for t in tasks)
    assert all(isinstance(d, kling.PackageDeduction) for d in found)
    assert {d.product_type for d in images} == {"image"} and len(images) == 2
    assert images[0].deduction_amount == Decimal(2)
    assert images[0].unit_after_deduction == images[0].unit_before_deduction - 2  # type: ignore[operator]
    assert none == []
    assert _count(sim, "POST", "/account/billing/package") == 3 + 1 + 1


async def test_balance_deductions_are_cash(sim: KlingSimulator) -> None:
    """balance_deductions yields BalanceDeduction with the currency and exact amounts."""
    async with client_for(sim) as client:
        await _finished(client, VIDEO_REQ)
        (detail,) = [d async for d in client.account.balance_deductions(
            dt.datetime(1970, 1, 2, tzinfo=dt.timezone.utc), END)]
    assert isinstance(detail, kling.BalanceDeduction)
    assert detail.currency == "USD" and detail.resolution == "720p"
    assert detail.deduction_amount == Decimal("0.14")
    assert detail.duration == "5.00" and detail.deduction_time is not None


@pytest.mark.parametrize(("call", "field"), [
    (lambda a: a.package_deductions(START, END, package_names=["a"], package_ids=["b"]),
     "package_ids"),
    (lambda a: a.package_deductions(START, END, product_types=["audio"]), "product_types[0]"),
    (lambda a: a.balance_deductions(END, START), "end_time"),
    (lambda a: a.balance_deductions(START, END, limit=501), "limit"),
    (lambda a: a.balance_deductions(START, END, api_key_names="key"), "api_key_names"),
    (lambda a: a.balance_deductions(dt.datetime(2026, 1, 1), END), "start_time"),
    (lambda a: a.costs(None, END), "start_time"),
    (lambda a: a.costs(START, "yesterday"), "end_time"),
])
async def test_bad_listing_arguments_are_refused_before_any_io(sim: KlingSimulator, call: Any,
                                                               field: str) -> None:
    """Exclusive filters, unknown pack types, reversed or naive times, limit > 500: no I/O."""
    async with client_for(sim) as client:
        with pytest.raises(kling.ValidationError) as caught:
            found = call(client.account)
            if hasattr(found, "__aiter__"):
                [d async for d in found]
            else:
                await found
    assert caught.value.field == field
    assert sum(sim.stats().requests.values()) == 0


async def test_an_inner_costs_error_code_is_an_api_error(server: ScriptedServer) -> None:
    """A costs reply whose inner envelope has a non-zero code raises that code's APIError."""
    server.script("GET", "/kling/account/costs",
                  Reply(json=ok({"code": 1103, "msg": "no permission"})))
    async with kling.KlingClient(api_key="k", base_url=f"{server.url}/kling",
                                 allow_insecure_http=True) as client:
        with pytest.raises(kling.PermissionDeniedError, match="no permission"):
            await client.account.costs(START, END)
    (request,) = server.requests
    assert request.query == {"start_time": "0", "end_time": str(END)}


async def test_a_repeating_cursor_ends_the_listing(server: ScriptedServer) -> None:
    """A server that hands back the same next_cursor forever is stopped: ResponseDecodeError."""
    page = ok({"result": {"detail": [{"task_id": "t"}], "count": 1}, "next_cursor": "c",
               "has_more": True})
    server.script("POST", "/account/billing/balance", then=Reply(json=page))
    async with kling.KlingClient(api_key="k", base_url=server.url,
                                 allow_insecure_http=True) as client:
        with pytest.raises(kling.ResponseDecodeError, match="next_cursor"):
            [d async for d in client.account.balance_deductions(START, END)]
    assert server.count("POST", "/account/billing/balance") == 2
    assert server.requests[1].json == {"cursor": "c"}


async def _cli(sim: KlingSimulator, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLING_")}
    env.update(KLING_BASE_URL=sim.base_url, KLING_API_KEY=sim.api_key, PYTHONPATH=str(REPO))
    with anyio.fail_after(60):
        done = await anyio.run_process([sys.executable, "-m", "kling_async.cli", *args],
                                       env=env, check=False)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


@pytest.mark.timeout(120)
async def test_the_account_cli_prints_json_lines(sim: KlingSimulator) -> None:
    """``kling-async account costs|balance|packages`` print one JSON object per line."""
    async with client_for(sim) as client:
        tasks = await _finished(client, IMG_REQ, VIDEO_REQ)
    code, out, err = await _cli(sim, "account", "costs", "--start", "0")
    assert code == 0, err
    packs = [json.loads(line) for line in out.splitlines()]
    assert {p["resource_pack_name"] for p in packs} == {"sim video pack", "sim image pack"}
    code, out, err = await _cli(sim, "account", "packages", "--start", "1970-01-02",
                                "--end", "9999-12-31", "--product-type", "video", "--limit", "1")
    assert code == 0, err
    (video,) = [json.loads(line) for line in out.splitlines()]
    assert video["task_id"] == tasks[1].task_id and video["product_type"] == "video"
    # (a time-scaled simulator's task times run ahead of the wall clock: end far ahead)
    code, out, err = await _cli(sim, "account", "balance", "--start", "0", "--end", str(END))
    assert code == 0, err
    assert sorted(json.loads(x)["task_id"] for x in out.splitlines()) == sorted(
        t.task_id for t in tasks)
    assert sim.api_key not in out + err


@pytest.mark.timeout(120)
async def test_the_account_cli_refuses_bad_flags(sim: KlingSimulator) -> None:
    """Exclusive pack filters or an unreadable time exit 2 with a message, sending nothing."""
    code, _, err = await _cli(sim, "account", "packages", "--package-name", "a",
                              "--package-id", "b")
    assert code == 2 and "exclude each other" in err
    code, _, err = await _cli(sim, "account", "balance", "--start", "last tuesday")
    assert code == 2 and "--start" in err
    assert sum(sim.stats().requests.values()) == 0
