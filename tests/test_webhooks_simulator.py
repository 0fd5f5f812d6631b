"""The simulator's callbacks: signed (Standard Webhooks, several signatures during a
rotation), in both payload shapes, with injected drops, duplicates, delays and reordering,
retried on non-2xx; and ``kling-async simulate --webhook-secret``."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from standardwebhooks import Webhook

from kling_async._webhook_verify import Verdict, load_secrets, verify
from kling_async.cli import _simulate
from kling_async.testing import KlingSimulator, SimulatorConfig
from kling_async.testing._webhook_wire import signature_headers
from tests._simhelpers import running, until
from tests._webhookhelpers import OTHER_SECRET, SECRET

pytestmark = pytest.mark.anyio

Delivery = tuple[dict[str, str], bytes]


@asynccontextmanager
async def recorder(answers: list[int] | None = None
                   ) -> AsyncIterator[tuple[str, list[Delivery]]]:
    """A loopback receiver recording each delivery (headers, raw body); it answers with
    ``answers`` in turn, then 200."""
    got: list[Delivery] = []
    pending = list(answers or [])

    async def handle(request: web.Request) -> web.Response:
        got.append(({k.lower(): v for k, v in request.headers.items()}, await request.read()))
        return web.Response(status=pending.pop(0) if pending else 200)

    app = web.Application()
    app.router.add_post("/cb", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/cb", got
    finally:
        await runner.cleanup()


async def create(sim: KlingSimulator, body: dict[str, Any],
                 path: str = "/v1/videos/text2video") -> str:
    """Create a text-to-video task on ``sim`` (legacy, or the new standard's ``path``); its
    task id."""
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {sim.api_key}"}) as s:
        async with s.post(f"{sim.base_url}{path}", json=body) as resp:
            data = (await resp.json())["data"]
            return str(data.get("task_id") or data["id"])


def statuses(got: list[Delivery]) -> list[str]:
    return [json.loads(body).get("task_status") or json.loads(body)["status"] for _, body in got]


FAST = {"time_scale": 100.0, "latency": 2.0, "callback_retry_delay": 0.01}


def test_signatures_match_the_official_test_vector() -> None:
    """The simulator signs the reference §5.3 vector as documented; the receiver refuses it
    today as replayed (its timestamp is months old), and any change to the body as forged."""
    secret = "whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0c2VjcmV0MTI="
    body = (b'{"id":"1234567890","status":"succeeded","message":"","create_time":1781080778802,'
            b'"update_time":1781080794151}')
    headers = signature_headers([secret], "9876543210", 1781080794, body)
    assert headers["webhook-signature"] == "v1,UsKlJP00XoQyOn410NM9xv34sP+Gl0jnOO9Lcpr7NJ4="
    keys = load_secrets(secret)
    assert verify(keys, headers, body) is Verdict.REPLAYED
    fresh = signature_headers([secret], "9876543210", int(time.time()), body)
    assert verify(keys, fresh, body) is Verdict.VERIFIED
    assert verify(keys, fresh, body + b" ") is Verdict.FORGED


async def test_callbacks_are_signed_with_every_secret() -> None:
    """With two secrets (a rotation) each delivery carries a signature by each, one
    webhook-id per status change, and a timestamp; either secret verifies it."""
    async with recorder() as (url, got), running(**FAST, webhook_secrets=(SECRET, OTHER_SECRET)
                                                 ) as (sim, _):
        await create(sim, {"prompt": "x", "callback_url": url})
        await until(lambda: len(got) == 2)
    assert statuses(got) == ["processing", "succeed"]
    for headers, body in got:
        assert len(headers["webhook-signature"].split()) == 2
        for secret in (SECRET, OTHER_SECRET):
            Webhook(secret).verify(body, headers, json_parse=False)  # raises if not signed
    assert len({headers["webhook-id"] for headers, _ in got}) == 2


async def test_the_new_standard_shape_by_config_or_by_options_callback_url() -> None:
    """``callback_shape="new"`` sends the §12.3 task object; ``auto`` does for a task of the
    new standard (its URL came in ``options.callback_url``)."""
    async with recorder() as (url, got), running(**FAST) as (sim, _):
        task_id = await create(sim, {"prompt": "x", "options": {"callback_url": url}},
                               "/text-to-video/kling-3.0-turbo")
        await until(lambda: len(got) == 2)
        sim.configure(callback_shape="new")
        await create(sim, {"prompt": "y", "callback_url": url})
        await until(lambda: len(got) == 4)
    bodies = [json.loads(body) for _, body in got]
    assert [b["status"] for b in bodies] == ["processing", "succeeded"] * 2
    assert bodies[1]["id"] == task_id and "task_id" not in bodies[1]
    assert bodies[1]["outputs"][0]["type"] == "video"
    assert bodies[1]["outputs"][0]["url"].startswith(sim.base_url)


async def test_injected_drops_duplicates_and_reordering() -> None:
    """``callback_drop=1`` sends nothing; ``callback_duplicate=1`` sends each delivery twice
    under one webhook-id; ``callback_reorder=1`` sends ``processing`` after the end."""
    async with recorder() as (url, got), running(**FAST, callback_drop=1.0,
                                                 webhook_secrets=(SECRET,)) as (sim, _):
        await create(sim, {"prompt": "x", "callback_url": url})
        await until(lambda: sim.stats().callbacks_dropped == 2)
        sim.configure(callback_drop=0.0, callback_duplicate=1.0, callback_reorder=1.0)
        await create(sim, {"prompt": "y", "callback_url": url})
        await until(lambda: len(got) == 4)
        stats = sim.stats()
    assert statuses(got) == ["succeed", "succeed", "processing", "processing"]
    assert got[0][0]["webhook-id"] == got[1][0]["webhook-id"] != got[2][0]["webhook-id"]
    assert (stats.callbacks_sent, stats.callbacks_duplicated) == (2, 2)


async def test_a_delayed_callback_still_arrives() -> None:
    """``callback_delay=1`` holds each delivery ``callback_delay_seconds`` first."""
    async with recorder() as (url, got), running(**FAST, callback_delay=1.0,
                                                 callback_delay_seconds=0.05) as (sim, _):
        await create(sim, {"prompt": "x", "callback_url": url})
        await until(lambda: len(got) == 2)
    assert statuses(got) == ["processing", "succeed"]


async def test_a_delivery_answered_non_2xx_is_retried_under_the_same_id() -> None:
    """Two 500s then a 200: the same delivery is tried three times with one webhook-id,
    each re-signed; counted as retried twice and sent once."""
    async with recorder([500, 503]) as (url, got), running(
            **FAST, webhook_secrets=(SECRET,)) as (sim, _):
        sim.configure(latency=0.0)
        await create(sim, {"prompt": "x", "callback_url": url})
        await until(lambda: sim.stats().callbacks_sent == 1)
        stats = sim.stats()
    assert statuses(got) == ["succeed"] * 3
    assert len({headers["webhook-id"] for headers, _ in got}) == 1
    assert (stats.callbacks_retried, stats.callbacks_failed) == (2, 0)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    _simulate.register(parser.add_subparsers())
    return parser.parse_args(["simulate", *argv])


def test_simulate_webhook_flags_reach_the_config() -> None:
    """``--webhook-secret`` (twice: a rotation), ``--callback-shape`` and the
    ``--callback-*`` fault probabilities configure the simulator."""
    args = parse("--webhook-secret", SECRET, "--webhook-secret", OTHER_SECRET,
                 "--callback-shape", "new", "--callback-drop", "0.1",
                 "--callback-duplicate", "0.2", "--callback-reorder", "0.3",
                 "--callback-delay", "0.4")
    config = _simulate.build_simulator(args).config
    assert config.webhook_secrets == (SECRET, OTHER_SECRET)
    assert (config.callback_shape, config.callback_drop, config.callback_duplicate,
            config.callback_reorder, config.callback_delay) == ("new", 0.1, 0.2, 0.3, 0.4)


def test_an_unusable_simulator_secret_is_refused_without_echoing_it() -> None:
    """A webhook secret that is not ``whsec_`` + base64 is a ``ValueError`` naming its
    position."""
    with pytest.raises(ValueError, match="#1") as caught:
        SimulatorConfig(webhook_secrets=("not base64 at all!",))
    assert "not base64 at all!" not in str(caught.value)
