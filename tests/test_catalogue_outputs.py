"""What catalogue tasks make, as the SDK reads it: ai-multi-shot's three angle views per image
item, and each endpoint row's ``outputs`` deciding whether a reconciling lookup found the
job's own task (reference §2.11, §2.17, §2.20, §3.3)."""

from __future__ import annotations

from typing import Any

import pytest

import kling_async as kling
from tests._scripted import Drop, Reply, ScriptedServer, ok, task_json

KEY = "test-key"
EXT = "ext-1"
CDN = "https://cdn.example"


def test_ai_multi_shot_views_are_read_as_three_images() -> None:
    """An ``images[]`` item with ``url_1``..``url_3`` and no ``url`` (ai-multi-shot) is three
    images of that item's index, numbered by ``view``; plain items are read as before."""
    task = kling.parse_task(task_json("t-1", "succeed", task_result={"images": [
        {"index": 0, "url_1": f"{CDN}/a1.png", "url_2": f"{CDN}/a2.png",
         "url_3": f"{CDN}/a3.png"},
        {"index": 1, "url_1": f"{CDN}/b1.png", "url_2": "", "url_3": f"{CDN}/b3.png"},
        {"index": 2, "url": f"{CDN}/c.png"},
    ]}))
    assert [(i.index, i.view, i.url) for i in task.images] == [
        (0, 1, f"{CDN}/a1.png"), (0, 2, f"{CDN}/a2.png"), (0, 3, f"{CDN}/a3.png"),
        (1, 1, f"{CDN}/b1.png"), (1, 3, f"{CDN}/b3.png"), (2, None, f"{CDN}/c.png")]
    assert task.urls[:3] == (f"{CDN}/a1.png", f"{CDN}/a2.png", f"{CDN}/a3.png")
    assert task.to_dict()["images"][1]["view"] == 2


def test_image_items_without_any_url_are_still_skipped() -> None:
    """An image item with neither ``url`` nor a usable ``url_N`` adds nothing."""
    task = kling.parse_task(task_json("t-1", "succeed", task_result={"images": [
        {"index": 0}, {"index": 1, "url_1": "", "url_2": None}]}))
    assert task.images == ()


def _client(url: str) -> kling.KlingClient:
    retry = kling.RetryPolicy(max_attempts=3, backoff=kling.Backoff(initial=0.001,
                                                                    maximum=0.005))
    return kling.KlingClient(api_key=KEY, base_url=url, retry=retry, reconcile_delay=0,
                             poll=kling.PollPolicy(first_poll=60.0))


AUDIO = "/v1/audio/text-to-audio"
VOICES = {"voices": [{"voice_id": "v-1", "voice_name": "n", "trial_url": f"{CDN}/v.mp3",
                      "owned_by": "me"}]}
AUDIOS = {"audios": [{"id": "a-1", "url_mp3": f"{CDN}/a.mp3", "url_wav": f"{CDN}/a.wav",
                      "duration_mp3": "5.0", "duration_wav": "5.0"}]}


@pytest.mark.anyio
async def test_a_lookup_answering_with_a_voice_task_is_not_an_audio_jobs_task(
    server: ScriptedServer,
) -> None:
    """After a lost text-to-audio create reply, a lookup answering with a finished voice task
    (results text-to-audio never makes) is refused: AmbiguousSubmissionError, one POST."""
    found = task_json("t-v", "succeed", task_info={"external_task_id": EXT},
                      task_result=VOICES)
    server.script("POST", AUDIO, Drop())
    server.script("GET", f"{AUDIO}/{EXT}", then=Reply(json=ok(found)))
    async with _client(server.url) as client:
        with pytest.raises(kling.AmbiguousSubmissionError) as caught:
            await client.submit(kling.load_request("audio/text-to-audio",
                                                   {"prompt": "rain", "duration": 5.0}),
                                external_task_id=EXT)
    assert "another endpoint" in str(caught.value.cause)
    assert "voice" in str(caught.value.cause)
    assert server.count("POST", AUDIO) == 1


@pytest.mark.anyio
async def test_a_lookup_answering_with_its_own_audio_task_is_adopted(
    server: ScriptedServer,
) -> None:
    """After a lost text-to-audio create reply, a lookup answering with an audio task is the
    job's own: the job resolves to it with its audio, one POST."""
    found: dict[str, Any] = task_json("t-a", "succeed", task_info={"external_task_id": EXT},
                                      task_result=AUDIOS)
    server.script("POST", AUDIO, Drop())
    server.script("GET", f"{AUDIO}/{EXT}", then=Reply(json=ok(found)))
    async with _client(server.url) as client:
        job = await client.submit(kling.load_request("audio/text-to-audio",
                                                     {"prompt": "rain", "duration": 5.0}),
                                  external_task_id=EXT)
    assert job.task_id == "t-a"
    assert server.count("POST", AUDIO) == 1


def test_every_endpoint_row_names_what_its_tasks_make() -> None:
    """Each row's ``outputs`` are Task fields' kinds: image rows make images, the audio,
    voice and element endpoints their own kinds, video-to-audio a video and its audio."""
    rows = kling.ENDPOINTS
    assert all(set(r.outputs) <= {"image", "video", "audio", "voice", "element"}
               and r.outputs for r in rows.values())
    assert all(r.outputs == ("image",) for r in rows.values() if r.kind == "image")
    assert rows["audio/text-to-audio"].outputs == ("audio",)
    assert rows["audio/video-to-audio"].outputs == ("video", "audio")
    assert rows["general/custom-voices"].outputs == ("voice",)
    assert rows["general/advanced-custom-elements"].outputs == ("element",)
    assert rows["general/ai-multi-shot"].image_views == 3
    assert rows["text-to-video/kling-3.0-turbo"].outputs == ("video",)
