"""The synchronous endpoints (text-to-speech, identify-face, image recognition): typed results
at once, validation before any I/O, and no blind retry of a call that may have been charged."""

from __future__ import annotations

import pickle
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

import kling_async as kling
from kling_async._models.sync import load_sync_request
from kling_async.testing import KlingSimulator
from tests._scripted import Drop, Reply, ScriptedServer, error_body, ok
from tests._simhelpers import client_for

pytestmark = pytest.mark.anyio


def _posts(sim: KlingSimulator, path: str) -> int:
    return sum(n for (method, template, _), n in sim.stats().requests.items()
               if method == "POST" and template == path)


async def test_text_to_speech_returns_the_audio_at_once(sim: KlingSimulator) -> None:
    """text_to_speech answers with the audio (id, url, duration) and its cost, no polling."""
    async with client_for(sim) as client:
        speech = await client.text_to_speech(kling.TextToSpeechRequest(
            text="Hello there, this is a test.", voice_id="oversea_male1",
            voice_language="en", voice_speed=1.2))
    assert isinstance(speech, kling.Speech)
    (audio,) = speech.audios
    assert audio.id and audio.url.startswith("http")
    assert audio.duration is not None and audio.duration > 0
    assert speech.cost.units == Decimal("0.05")
    assert _posts(sim, "/v1/audio/tts") == 1


async def test_identify_face_returns_the_session_and_faces(sim: KlingSimulator) -> None:
    """identify_face gives the session_id advanced lip-sync takes and the faces it found."""
    async with client_for(sim) as client:
        found = await client.identify_face(kling.IdentifyFaceRequest(video_id="v-1"))
    assert isinstance(found, kling.FaceIdentification)
    assert found.session_id
    assert [f.face_id for f in found.faces] == ["0"]
    assert found.faces[0].end_time == 5000
    assert found.cost.units == Decimal("0.05")


async def test_recognize_image_returns_the_four_segmentations(sim: KlingSimulator) -> None:
    """recognize_image gives one typed segmentation per kind."""
    async with client_for(sim) as client:
        found = await client.recognize_image(
            kling.ImageRecognitionRequest(image="https://img.example/a.png"))
    assert isinstance(found, kling.ImageRecognition)
    assert sorted(i.type for i in found.images) == [
        "cloth_seg", "face_seg", "head_seg", "object_seg"]
    head = found.of_type("head_seg")
    assert head is not None and head.is_contain is True
    assert found.cost.units == Decimal("0.1")


@pytest.mark.parametrize(("build", "field"), [
    (lambda: kling.TextToSpeechRequest(text="x" * 1001, voice_id="v"), "text"),
    (lambda: kling.TextToSpeechRequest(text="hi", voice_id="v", voice_speed=2.5),
     "voice_speed"),
    (lambda: kling.TextToSpeechRequest(text="hi", voice_id="v",
                                       voice_language="fr"),  # type: ignore[arg-type]
     "voice_language"),
    (lambda: kling.TextToSpeechRequest(text=" ", voice_id="v"), "text"),
    (lambda: kling.IdentifyFaceRequest(), "video_id"),
    (lambda: kling.IdentifyFaceRequest(video_id="a", video_url="https://v.example/a.mp4"),
     "video_id"),
    (lambda: kling.ImageRecognitionRequest(image=""), "image"),
])
def test_sync_requests_are_validated_at_construction(build: Any, field: str) -> None:
    """A request breaking a documented rule raises ValidationError naming the field."""
    with pytest.raises(kling.ValidationError) as caught:
        build()
    assert caught.value.field == field


@pytest.mark.parametrize(("endpoint", "body"), [
    ("audio/tts", {"text": "Throughout my time in college", "voice_id": "oversea_male1",
                   "voice_language": "en", "voice_speed": 1}),
    ("videos/identify-face", {"video_id": "", "video_url": "https://v.example/a.mp4"}),
    ("videos/image-recognize", {"image": "https://img.example/a.png"}),
])
def test_documented_sync_bodies_load_and_dump_back(endpoint: str, body: dict[str, Any]
                                                   ) -> None:
    """The official examples load (``""`` = unset) and dump back to the same wire JSON."""
    request = load_sync_request(endpoint, body)
    expected = {k: v for k, v in body.items() if v != ""}
    assert kling.dump_request(request) == expected


async def test_a_wrong_request_class_is_refused_before_any_io(sim: KlingSimulator) -> None:
    """Passing another request class raises ValidationError and sends nothing."""
    async with client_for(sim) as client:
        with pytest.raises(kling.ValidationError):
            await client.text_to_speech(
                kling.IdentifyFaceRequest(video_id="v"))  # type: ignore[arg-type]
    assert sum(sim.stats().requests.values()) == 0


async def test_the_simulator_refuses_an_invalid_tts_body(sim: KlingSimulator) -> None:
    """The simulator validates TTS bodies with the SDK's rules: 1201 naming the field."""
    headers = {"Authorization": f"Bearer {sim.api_key}"}
    async with aiohttp.ClientSession(headers=headers) as session, session.post(
            f"{sim.base_url}/v1/audio/tts",
            json={"text": "hi", "voice_id": "v", "voice_speed": 9}) as resp:
        reply = await resp.json()
    assert (resp.status, reply["code"]) == (400, 1201)
    assert "voice_speed" in reply["message"]


async def test_a_charged_call_is_not_retried_after_a_lost_reply(server: ScriptedServer
                                                                 ) -> None:
    """A TTS whose reply is lost raises AmbiguousCallError after ONE request (no charge twice)."""
    server.script("POST", "/v1/audio/tts", Drop())
    async with kling.KlingClient(api_key="k", base_url=server.url, allow_insecure_http=True,
                                 retry=kling.RetryPolicy(max_attempts=4)) as client:
        with pytest.raises(kling.AmbiguousCallError) as caught:
            await client.text_to_speech(kling.TextToSpeechRequest(text="hi", voice_id="v"))
    assert isinstance(caught.value, kling.AmbiguousSubmissionError)
    assert "charged" in str(caught.value)
    assert server.count("POST", "/v1/audio/tts") == 1


async def test_a_call_refused_before_reaching_the_server_is_retried(server: ScriptedServer
                                                                    ) -> None:
    """A 1302 (rate limited: nothing done) is retried, then the speech is returned."""
    server.script("POST", "/v1/audio/tts", Reply(429, json=error_body(1302)), Reply(json=ok({
        "task_id": "t1", "task_status": "succeed",
        "task_result": {"audios": [{"id": "a1", "url": "https://x/a.mp3", "duration": "2.5"}]},
        "final_unit_deduction": "0.05"})))
    async with kling.KlingClient(
            api_key="k", base_url=server.url, allow_insecure_http=True,
            retry=kling.RetryPolicy(backoff=kling.Backoff(initial=0.001, maximum=0.01))
    ) as client:
        speech = await client.text_to_speech(kling.TextToSpeechRequest(text="hi", voice_id="v"))
    assert speech.audios[0].duration == 2.5
    assert server.count("POST", "/v1/audio/tts") == 2


async def test_a_failed_tts_raises_task_failed(server: ScriptedServer) -> None:
    """A TTS reply with task_status failed raises TaskFailedError with its message."""
    server.script("POST", "/v1/audio/tts", Reply(json=ok({
        "task_id": "t1", "task_status": "failed", "task_status_msg": "risk control"})))
    async with kling.KlingClient(api_key="k", base_url=server.url,
                                 allow_insecure_http=True) as client:
        with pytest.raises(kling.TaskFailedError, match="risk control"):
            await client.text_to_speech(kling.TextToSpeechRequest(text="hi", voice_id="v"))


@pytest.mark.parametrize("data", [
    None, [], {"face_data": []}, {"session_id": {"x": 1}}, {"session_id": ""},
])
async def test_a_hostile_identify_face_reply_is_a_decode_error(server: ScriptedServer,
                                                               data: Any) -> None:
    """A reply without a usable session_id raises ResponseDecodeError, never a raw error."""
    server.script("POST", "/v1/videos/identify-face", Reply(json=ok(data)))
    async with kling.KlingClient(api_key="k", base_url=server.url,
                                 allow_insecure_http=True) as client:
        with pytest.raises(kling.ResponseDecodeError):
            await client.identify_face(kling.IdentifyFaceRequest(video_id="v"))


@pytest.mark.parametrize("error", [
    kling.AmbiguousCallError("audio/tts", None, kling.TransportError("reset")),
    kling.SelectionOrderError("preview", "needs a selection", None),
    kling.SelectionRejectedError("add-selection", 7),
])
def test_the_new_errors_pickle_to_the_same_class_and_message(error: kling.KlingError) -> None:
    """The errors of these calls survive pickling (e.g. from a worker process) unchanged."""
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error) and str(back) == str(error)
