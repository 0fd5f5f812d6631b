"""Multi-elements editing as a guided flow: the steps in order end in a submitted task; a step
out of order or past a limit is refused before any I/O."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

import kling_async as kling
from kling_async.testing import KlingSimulator
from tests._scripted import Drop, Reply, ScriptedServer, ok
from tests._simhelpers import client_for

pytestmark = pytest.mark.anyio
VIDEO = "https://vid.example/a.mp4"


def _requests(sim: KlingSimulator) -> int:
    return sum(sim.stats().requests.values())


async def test_the_steps_in_order_end_in_a_succeeded_edit(sim: KlingSimulator) -> None:
    """start -> add -> delete -> add -> preview -> create: each step typed, the job succeeds."""
    async with client_for(sim) as client:
        session = await client.multi_elements.start(video_url=VIDEO)
        assert isinstance(session, kling.MultiElementsSession)
        assert session.session_id and session.video.total_frame == 150
        added = await session.add_selection(0, [(0.5, 0.5), kling.SelectionPoint(x=0.1, y=0.2)])
        assert added.frame_index == 0 and added.masks[0].size == (720, 1280)
        await session.delete_selection(0, [(0.5, 0.5)])
        await session.add_selection(12, [(1.0, 0.0)])
        assert set(session.selection) == {0, 12}
        preview = await session.preview()
        assert preview.video is not None and preview.video.startswith("http")
        job = await session.create(edit_mode="swap", prompt="swap <<<image_1>>> in",
                                   image_list=["https://img.example/b.png"])
        task = await job.result(timeout=30)
    assert task.status is kling.TaskStatus.SUCCEED
    (record,) = [t for t in sim.tasks() if t.endpoint == "videos/multi-elements"]
    assert record.body["session_id"] == session.session_id
    assert record.body["edit_mode"] == "swap"


async def test_addition_needs_no_selection(sim: KlingSimulator) -> None:
    """edit_mode addition is submitted straight after start (nothing to mark)."""
    async with client_for(sim) as client:
        session = await client.multi_elements.start(video_id="v-1")
        job = await session.create(edit_mode="addition", prompt="add <<<image_1>>>",
                                   image_list=[kling.EditImage(image="https://i.example/a.png")])
        assert (await job.result(timeout=30)).status is kling.TaskStatus.SUCCEED


@pytest.mark.parametrize(("step", "field"), [
    (lambda s: s.preview(), "preview"),
    (lambda s: s.create(edit_mode="removal", prompt="remove it"), "create"),
    (lambda s: s.create(edit_mode="swap", prompt="swap", image_list=["https://i/a.png"]),
     "create"),
    (lambda s: s.delete_selection(0, [(0.5, 0.5)]), "frame_index"),
])
async def test_a_step_out_of_order_is_refused_before_any_io(sim: KlingSimulator, step: Any,
                                                            field: str) -> None:
    """Preview or swap/removal before any selection, or a delete of nothing, sends nothing."""
    async with client_for(sim) as client:
        session = await client.multi_elements.start(video_url=VIDEO)
        before = _requests(sim)
        with pytest.raises(kling.SelectionOrderError) as caught:
            await step(session)
        assert caught.value.field == field
        assert isinstance(caught.value, kling.ValidationError)
        assert _requests(sim) == before


async def test_limits_are_checked_before_any_io(sim: KlingSimulator) -> None:
    """An 11th frame, an 11th point on a frame, a point outside [0, 1] or a point that was
    never added are refused without a request."""
    async with client_for(sim) as client:
        session = await client.multi_elements.start(video_url=VIDEO)
        for frame in range(10):
            await session.add_selection(frame, [(0.5, 0.5)])
        await session.add_selection(0, [(0.1, 0.1)] * 9)
        before = _requests(sim)
        with pytest.raises(kling.SelectionOrderError, match="at most 10 frames"):
            await session.add_selection(10, [(0.5, 0.5)])
        with pytest.raises(kling.SelectionOrderError, match="at most 10 points"):
            await session.add_selection(0, [(0.2, 0.2)])
        with pytest.raises(kling.ValidationError) as caught:
            await session.add_selection(1, [(1.5, 0.5)])
        assert caught.value.field == "points[0].x"
        with pytest.raises(kling.SelectionOrderError) as wrong:
            await session.delete_selection(1, [(0.4, 0.5)])
        assert wrong.value.field == "points[0]"
        with pytest.raises(kling.SelectionOrderError, match="total_frame"):
            await session.add_selection(150, [(0.5, 0.5)])
        assert _requests(sim) == before
        await session.clear_selection()
        assert session.selection == {}
        await session.add_selection(10, [(0.5, 0.5)])  # after a clear, frames are free again


async def test_the_simulator_enforces_the_selection_rules_too(sim: KlingSimulator) -> None:
    """The simulator refuses a preview with nothing marked (1201), whatever client sends it."""
    async with client_for(sim) as client:
        session = await client.multi_elements.start(video_url=VIDEO)
        await session.add_selection(3, [(0.5, 0.5)])
        await session.delete_selection(3, [(0.5, 0.5)])
        assert session.selection == {}
        other = await client.multi_elements.start(video_url=VIDEO)
        assert other.session_id != session.session_id
    headers = {"Authorization": f"Bearer {sim.api_key}"}  # the session refuses it: go raw
    async with aiohttp.ClientSession(headers=headers) as http, http.post(
            f"{sim.base_url}/v1/videos/multi-elements/preview-selection",
            json={"session_id": session.session_id}) as resp:
        reply = await resp.json()
    assert reply["code"] == 1201 and "no selection" in reply["message"]


def _init_reply() -> Reply:
    return Reply(json=ok({"status": 0, "session_id": "s-1", "total_frame": 100}))


async def test_after_an_unknown_add_only_clear_is_allowed(server: ScriptedServer) -> None:
    """An add whose reply is lost raises AmbiguousCallError (one request); then preview is
    refused until clear_selection re-syncs the session."""
    server.script("POST", "/v1/videos/multi-elements/init-selection", _init_reply())
    server.script("POST", "/v1/videos/multi-elements/add-selection", Drop())
    server.script("POST", "/v1/videos/multi-elements/clear-selection",
                  Reply(json=ok({"status": 0, "session_id": "s-1"})))
    async with kling.KlingClient(api_key="k", base_url=server.url,
                                 allow_insecure_http=True) as client:
        session = await client.multi_elements.start(video_url=VIDEO)
        with pytest.raises(kling.AmbiguousCallError):
            await session.add_selection(0, [(0.5, 0.5)])
        with pytest.raises(kling.SelectionOrderError, match="clear_selection"):
            await session.preview()
        await session.clear_selection()
        with pytest.raises(kling.SelectionOrderError, match="add_selection"):
            await session.preview()
    assert server.count("POST", "/v1/videos/multi-elements/add-selection") == 1
    assert server.count("POST", "/v1/videos/multi-elements/preview-selection") == 0


async def test_a_rejected_recognition_raises_a_typed_error(server: ScriptedServer) -> None:
    """A step answering a non-zero status raises SelectionRejectedError naming it."""
    server.script("POST", "/v1/videos/multi-elements/init-selection",
                  Reply(json=ok({"status": 3, "session_id": "s-1"})))
    async with kling.KlingClient(api_key="k", base_url=server.url,
                                 allow_insecure_http=True) as client:
        with pytest.raises(kling.SelectionRejectedError) as caught:
            await client.multi_elements.start(video_url=VIDEO)
    assert (caught.value.step, caught.value.status) == ("init-selection", 3)


async def test_start_needs_exactly_one_video(sim: KlingSimulator) -> None:
    """start() without a video, or with both kinds, raises before any I/O."""
    async with client_for(sim) as client:
        with pytest.raises(kling.ValidationError):
            await client.multi_elements.start()
        with pytest.raises(kling.ValidationError):
            await client.multi_elements.start(video_id="v", video_url=VIDEO)
    assert _requests(sim) == 0
