"""The synchronous endpoints as a table (``SYNC_REQUESTS``): every row has a property-based
round trip and a simulator route that validates with the same class."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kling_async as kling
from kling_async._models.sync import SYNC_REQUESTS, load_sync_request
from kling_async.testing import KlingSimulator

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TEXT = st.text(st.characters(codec="utf-8"), min_size=1, max_size=40).filter(str.strip)
UNIT = st.floats(0, 1, allow_nan=False)
POINTS = st.lists(st.builds(kling.SelectionPoint, x=UNIT, y=UNIT), min_size=1, max_size=10)
STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    "audio/tts": st.builds(kling.TextToSpeechRequest, text=TEXT, voice_id=TEXT,
                           voice_language=st.sampled_from(["zh", "en"]),
                           voice_speed=st.none() | st.floats(0.8, 2.0)),
    "videos/identify-face": st.one_of(
        st.builds(kling.IdentifyFaceRequest, video_id=TEXT),
        st.builds(kling.IdentifyFaceRequest, video_url=TEXT)),
    "videos/image-recognize": st.builds(kling.ImageRecognitionRequest, image=TEXT),
    "videos/multi-elements/init-selection": st.builds(
        SYNC_REQUESTS["videos/multi-elements/init-selection"], video_url=TEXT),
    "videos/multi-elements/add-selection": st.builds(
        SYNC_REQUESTS["videos/multi-elements/add-selection"], session_id=TEXT,
        frame_index=st.integers(0, 2**31 - 1), points=POINTS),
    "videos/multi-elements/clear-selection": st.builds(
        SYNC_REQUESTS["videos/multi-elements/clear-selection"], session_id=TEXT),
}
STRATEGIES["videos/multi-elements/delete-selection"] = STRATEGIES[
    "videos/multi-elements/add-selection"]
STRATEGIES["videos/multi-elements/preview-selection"] = STRATEGIES[
    "videos/multi-elements/clear-selection"]


def test_every_sync_endpoint_has_a_round_trip_strategy() -> None:
    """Adding a synchronous endpoint without its property test fails here."""
    assert sorted(STRATEGIES) == sorted(SYNC_REQUESTS)


@pytest.mark.parametrize("endpoint", sorted(SYNC_REQUESTS))
@FUZZ
@given(data=st.data())
def test_sync_requests_round_trip_through_json(endpoint: str, data: st.DataObject) -> None:
    """load(dump(r)) == r through UTF-8 JSON, for any valid request of the endpoint."""
    request = data.draw(STRATEGIES[endpoint])
    wire = json.loads(json.dumps(kling.dump_request(request)))
    assert load_sync_request(endpoint, wire) == request


@pytest.mark.parametrize("body", [{"nope": 1}, {}, [], {"session_id": 5}])
@pytest.mark.parametrize("endpoint", sorted(SYNC_REQUESTS))
def test_bad_sync_bodies_raise_validation_errors(endpoint: str, body: Any) -> None:
    """An unknown key, a missing field or a wrong type is a ValidationError, nothing else."""
    with pytest.raises(kling.ValidationError):
        load_sync_request(endpoint, body)


@pytest.mark.anyio
async def test_every_sync_endpoint_has_a_validating_simulator_route(sim: KlingSimulator
                                                                    ) -> None:
    """An empty body to each row's path (official and gateway form) is a 1201, never a 404."""
    headers = {"Authorization": f"Bearer {sim.api_key}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        for endpoint in SYNC_REQUESTS:
            for root in (sim.base_url, sim.gateway_url):
                async with session.post(f"{root}/v1/{endpoint}", json={}) as resp:
                    reply = await resp.json()
                assert (resp.status, reply["code"]) == (400, 1201), endpoint
