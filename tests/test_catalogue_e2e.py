"""Every catalogue endpoint end to end: its documented example body loads, dumps back to the
same wire JSON, is accepted by the built-in simulator, and completes through ``submit`` with
the outputs its endpoint makes (audio, voices, elements, ai-multi-shot's angle views...), in
both wire shapes, whose files ``Task.download`` saves; and no endpoint in the table lacks a
simulator route or a fuzzed round-trip."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import aiohttp
import attrs
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


#: The ``Task`` field holding each kind of ``Endpoint.outputs``.
FIELDS = {"image": "images", "video": "videos", "audio": "audios", "voice": "voices",
          "element": "elements"}


async def _run_all(sim: KlingSimulator) -> list[tuple[str, kling.Task]]:
    """Every example submitted and waited for: (endpoint, its task)."""
    requests = [_load(endpoint, CATALOGUE_SEEDS[endpoint][i]) for endpoint, i in CASES]
    async with client_for(sim) as client:
        jobs = [await client.submit(request) for request in requests]
        tasks = [await job.result(timeout=60) for job in jobs]
    return [(endpoint, task) for (endpoint, _), task in zip(CASES, tasks, strict=True)]


def _made(task: kling.Task) -> set[str]:
    return {kind for kind, field in FIELDS.items() if getattr(task, field)}


async def test_every_example_completes_through_submit(sim: KlingSimulator) -> None:
    """Each example is accepted by the simulator and its job ends ``succeed`` with exactly
    the kinds of output its endpoint row names, one task per job, at the endpoint's path."""
    done = await _run_all(sim)
    assert all(task.status is kling.TaskStatus.SUCCEED for _, task in done)
    for endpoint, task in done:
        assert _made(task) == set(kling.ENDPOINTS[endpoint].outputs), endpoint
    records = sim.tasks()
    assert len(records) == len(CASES)
    assert sorted(r.endpoint for r in records) == sorted(endpoint for endpoint, _ in CASES)


def _first(done: list[tuple[str, kling.Task]], endpoint: str) -> list[kling.Task]:
    return [task for name, task in done if name == endpoint]


async def test_catalogue_tasks_carry_their_documented_outputs(sim: KlingSimulator) -> None:
    """Text-to-audio: one mp3 + wav track of the asked length; video-to-audio: the video, its
    audio and the parent video; custom voices: the named voice with a preview; elements: the
    element with its references; ai-multi-shot: three angle views; effects: no duration."""
    done = await _run_all(sim)
    (t2a,) = _first(done, "audio/text-to-audio")
    (audio,) = t2a.audios
    assert audio.url_mp3 and audio.url_mp3.endswith(".mp3")
    assert audio.url_wav and audio.url_wav.endswith(".wav")
    assert audio.duration_mp3 == audio.duration_wav == 5.5 and not t2a.videos
    for v2a in _first(done, "audio/video-to-audio"):
        assert len(v2a.videos) == len(v2a.audios) == 1
        assert v2a.parent_video is not None and v2a.parent_video.url
    (voice_task,) = _first(done, "general/custom-voices")
    (voice,) = voice_task.voices
    assert voice.name == "narrator" and voice.id and voice.owned_by
    assert voice.url and voice.url.endswith(".mp3") and voice_task.urls == ()
    image_el, video_el = (t.elements[0] for t in _first(done, "general/advanced-custom-elements"))
    assert (image_el.name, image_el.element_type, image_el.status) == (
        "Max", "image_refer", "succeed")
    assert [(r.type, r.role) for r in image_el.references] == [
        ("image", "frontal"), ("image", "reference")]
    assert [(r.type, r.id) for r in video_el.references] == [
        ("video", None), ("voice", "voice-1")]
    (shots,) = _first(done, "general/ai-multi-shot")
    assert [(i.index, i.view) for i in shots.images] == [(0, 1), (0, 2), (0, 3)]
    assert len(set(shots.urls)) == 3
    assert all(t.videos[0].duration is None for t in _first(done, "videos/effects"))
    assert all(t.videos[0].duration for t in _first(done, "videos/avatar/image2video"))


#: What a downloaded result file starts with, by its extension.
MAGIC = {".png": b"\x89PNG", ".mp3": b"ID3", ".wav": b"RIFF", ".mp4": b"\x00\x00\x00"}


async def test_each_example_task_downloads_its_files(sim: KlingSimulator,
                                                    tmp_path: Path) -> None:
    """``task.download(dir)`` saves each task's result files (images, videos, both audio
    formats), real media each; a voice's preview is served as an mp3."""
    done = await _run_all(sim)
    saved: list[Path] = []
    for i, (endpoint, task) in enumerate(done):
        paths = await task.download(tmp_path / str(i))
        assert len(paths) == len(task.urls), endpoint
        for path in paths:
            assert path.read_bytes().startswith(MAGIC[path.suffix]), (endpoint, path.name)
        saved += paths
    assert {p.suffix for p in saved} == {".png", ".mp3", ".wav", ".mp4"}
    assert len(saved) >= len(done)
    (voice_task,) = _first(done, "general/custom-voices")
    async with aiohttp.ClientSession() as session:
        async with session.get(voice_task.voices[0].url or "") as resp:
            assert resp.status == 200 and (await resp.read()).startswith(b"ID3")


async def test_tasks_query_shows_the_same_outputs_in_the_new_shape(
        sim: KlingSimulator) -> None:
    """``GET /tasks`` shows each catalogue task's outputs as typed ``outputs[]`` (audio,
    voice, element, image, video), read by the SDK into the same results as the legacy
    task object: the same files, voices and elements."""
    done = await _run_all(sim)
    by_id = {task.task_id: task for _, task in done}
    ids = list(by_id)
    headers = {"Authorization": f"Bearer {sim.api_key}"}
    seen: dict[str, kling.Task] = {}
    async with aiohttp.ClientSession(headers=headers) as session:
        for start in range(0, len(ids), 20):
            query = {"task_ids": ",".join(ids[start:start + 20])}
            async with session.get(f"{sim.base_url}/tasks", params=query) as resp:
                reply = await resp.json()
            for item in reply["data"]:
                assert item["status"] == "succeeded"
                task = kling.parse_task(item)
                seen[task.task_id] = task
    assert set(seen) == set(ids)
    for task_id, new in seen.items():
        old = by_id[task_id]
        assert _made(new) == _made(old) and set(new.urls) == set(old.urls), task_id
        assert new.audios == old.audios
        assert new.voices == tuple(attrs.evolve(v, status="succeed") for v in old.voices)
        assert [(e.id, e.name, e.references) for e in new.elements] == [
            (e.id, e.name, e.references) for e in old.elements]


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
