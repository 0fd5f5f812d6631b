"""A task's concurrency weight has one rule: what the client reserves is what the simulator charges.

Reference §6: a video holds 1 slot, an image task one per image (``n``); an omni-image series
makes ``series_amount`` images (default 4, ``n`` ignored), so it holds that many.
"""

from __future__ import annotations

import anyio
import pytest

from kling_async import (
    ENDPOINTS,
    ImageGenerationRequest,
    KlingClient,
    Limits,
    OmniImageRequest,
    TextToVideoRequest,
    dump_request,
)
from kling_async.testing import KlingSimulator
from tests._simhelpers import FAST_RETRY, POLL, SCALE

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(20)]



def series(amount: int | None = 4, i: int = 0) -> OmniImageRequest:
    """An omni-image series request on the model that supports series."""
    return OmniImageRequest(prompt=f"a series {i}", model_name="kling-v3-omni",
                            result_type="series", series_amount=amount)


CASES = [
    pytest.param("images/generations", ImageGenerationRequest(prompt="x"), 1, id="image-default"),
    pytest.param("images/generations", ImageGenerationRequest(prompt="x", n=3), 3, id="image-n"),
    pytest.param("images/omni-image", OmniImageRequest(prompt="x", n=2), 2, id="omni-single-n"),
    pytest.param("images/omni-image", series(4), 4, id="omni-series-4"),
    pytest.param("images/omni-image", series(9), 9, id="omni-series-9"),
    pytest.param("images/omni-image", series(None), 4, id="omni-series-default"),
    pytest.param("videos/text2video", TextToVideoRequest(prompt="x"), 1, id="video"),
]


@pytest.mark.parametrize(("endpoint", "request_", "slots"), CASES)
async def test_client_reserves_what_the_simulator_charges(
    endpoint: str, request_: ImageGenerationRequest | OmniImageRequest | TextToVideoRequest,
    slots: int
) -> None:
    """For each request the SDK's weight equals the simulator's charge (and its image count)."""
    reserved = ENDPOINTS[endpoint].weight(request_)
    async with KlingSimulator(latency=0) as sim, KlingClient(
        api_key=sim.api_key, base_url=sim.base_url, poll=POLL
    ) as client:
        task = await (await client.submit(request_)).result()
        (charged,) = [t.weight for t in sim.tasks()]
    assert reserved == charged == slots
    if endpoint.startswith("images/"):
        assert len(task.urls) == slots


async def test_a_series_of_four_is_never_rejected_for_concurrency() -> None:
    """With max_in_flight=4 against a limit of 4, omni-image series of 4 run one at a time:
    the simulator never answers 1303 and never holds more than 4 slots."""
    async with KlingSimulator(time_scale=SCALE, seed=3, image_median=2,
                              concurrency_limit=4) as sim:
        async with KlingClient(api_key=sim.api_key, base_url=sim.base_url, poll=POLL,
                               retry=FAST_RETRY, limits=Limits(max_in_flight=4)) as client:
            jobs = [client.submit_nowait(series(4, i)) for i in range(3)]
            with anyio.fail_after(15):
                tasks = [await job.result() for job in jobs]
        stats = sim.stats()
    assert [len(t.urls) for t in tasks] == [4, 4, 4]
    assert stats.codes.get(1303, 0) == 0
    assert stats.peak_concurrency["default"] == 4
    assert [t.weight for t in sim.tasks()] == [4, 4, 4]


def test_a_wire_body_weighs_what_its_request_object_weighs() -> None:
    """The simulator reads the wire body, the client the request object: same weight."""
    for param in CASES:
        endpoint, request_, slots = param.values
        assert isinstance(endpoint, str)
        row = ENDPOINTS[endpoint]
        assert row.weight(dump_request(request_)) == row.weight(request_) == slots


@pytest.mark.parametrize(("endpoint", "request_", "slots"), CASES)
def test_a_request_object_and_its_wire_body_weigh_and_count_alike(
    endpoint: str, request_: ImageGenerationRequest | OmniImageRequest | TextToVideoRequest,
    slots: int
) -> None:
    """task_weight and concurrency_bucket read a request object, its wire body (a dict) and
    that body as any other Mapping alike."""
    from types import MappingProxyType

    from kling_async import concurrency_bucket
    from kling_async._endpoints import task_weight

    body = dump_request(request_)
    for form in (request_, body, MappingProxyType(body)):
        assert task_weight(endpoint, form) == slots
        assert concurrency_bucket(endpoint, form) == concurrency_bucket(endpoint, request_)


def test_a_wire_field_named_like_a_mapping_method_is_read_as_the_field() -> None:
    """A wire body (a dict or any other Mapping) is read by key, never by attribute: a field
    named like one of a mapping's methods is its value, and an absent one is None."""
    from types import MappingProxyType

    from kling_async._endpoints import request_field

    body = {"items": 3, "n": 2}
    for form in (body, MappingProxyType(body)):
        assert request_field(form, "items") == 3
        assert request_field(form, "keys") is None
        assert request_field(form, "n") == 2
    assert request_field(ImageGenerationRequest(prompt="a cat", n=2), "n") == 2
    assert request_field(ImageGenerationRequest(prompt="a cat"), "items") is None
