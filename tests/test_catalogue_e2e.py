"""Every catalogue endpoint end to end: its documented example body loads, dumps back to the
same wire JSON, is accepted by the built-in simulator, and completes through ``submit``; and
no endpoint in the table lacks a simulator route or a fuzzed round-trip."""

from __future__ import annotations

import warnings
from typing import Any

import aiohttp
import pytest

import kling_async as kling
from kling_async.testing import KlingSimulator
from tests._catalogue_seeds import CATALOGUE_SEEDS
from tests._simhelpers import client_for

pytestmark = pytest.mark.anyio

CASES = [(endpoint, i) for endpoint, seeds in CATALOGUE_SEEDS.items() for i in range(len(seeds))]


def _load(endpoint: str, body: dict[str, Any]) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", kling.KlingWireWarning)  # a discontinued scene...
        return kling.load_request(endpoint, body)


@pytest.mark.parametrize(("endpoint", "index"), CASES)
def test_example_body_round_trips(endpoint: str, index: int) -> None:
    """The example loads into the endpoint's class and dumps back to the same JSON."""
    body = CATALOGUE_SEEDS[endpoint][index]
    request = _load(endpoint, body)
    assert type(request) is kling.ENDPOINTS[endpoint].request_type
    assert kling.dump_request(request) == body


async def test_every_example_completes_through_submit(sim: KlingSimulator) -> None:
    """Each example is accepted by the simulator and its job ends ``succeed`` with results,
    one task per job, at the endpoint's own path."""
    requests = [_load(endpoint, CATALOGUE_SEEDS[endpoint][i]) for endpoint, i in CASES]
    async with client_for(sim) as client:
        jobs = [await client.submit(request) for request in requests]
        tasks = [await job.result(timeout=60) for job in jobs]
    assert all(task.status is kling.TaskStatus.SUCCEED for task in tasks)
    assert all(task.urls or task.voices or task.elements for task in tasks)
    records = sim.tasks()
    assert len(records) == len(CASES)
    assert sorted(r.endpoint for r in records) == sorted(endpoint for endpoint, _ in CASES)


async def test_every_endpoint_has_a_simulator_route(sim: KlingSimulator) -> None:
    """The simulator serves a create route for every row of the endpoint table: an empty body
    is refused by that endpoint's validation, never answered "no route" (a new row without
    its simulator behaviour fails here)."""
    headers = {"Authorization": f"Bearer {sim.api_key}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        for row in kling.ENDPOINTS.values():
            async with session.post(sim.base_url + row.path, json={}) as resp:
                reply = await resp.json()
            assert "no route" not in str(reply.get("message")), row.name
            assert resp.status == 400 and reply["code"] == 1201, (row.name, reply)
