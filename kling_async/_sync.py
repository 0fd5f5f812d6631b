"""The synchronous endpoints: one POST whose reply holds the result (reference §2.8, §2.10,
§2.11).  ``KlingClient.text_to_speech``, ``identify_face`` and ``recognize_image`` call
``sync_call`` and parse the reply into frozen results.

Retries: these calls are charged (TTS 0.05 units, identify-face 0.05, image recognition 0.1)
and have no ``external_task_id`` to look a lost result up by, so they are sent with the
transport's create rules: retried only when the request provably did not reach the server
(connection refused, 1302 rate limit, 1303 concurrency); a failure after it may have reached
the server (timeout, reset, 5xx, unreadable reply) raises ``AmbiguousCallError`` at once,
never a blind second call that could charge twice.  Call again yourself if paying twice is
acceptable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from ._errors import (
    AmbiguousSubmissionError,
    ResponseDecodeError,
    TaskFailedError,
    ValidationError,
)
from ._models.sync import (
    IdentifyFaceRequest,
    ImageRecognitionRequest,
    TextToSpeechRequest,
)
from ._models.task import Task, TaskStatus
from ._replies import (
    Deduction,
    deduction,
    flag,
    items,
    mapping,
    number,
    required_text,
    text,
    whole,
)
from ._wire import dump_request
from ._wiring import ClientCalls


class AmbiguousCallError(AmbiguousSubmissionError):
    """A charged synchronous call (TTS, identify-face, image recognition, a multi-elements
    selection step) failed after it may have reached the server: it MAY have been carried
    out and charged.  It was not retried; call again only if paying twice is acceptable.
    An ``AmbiguousSubmissionError`` with ``external_task_id`` always None."""

    def __init__(self, endpoint: str, external_task_id: str | None, cause: BaseException):
        super().__init__(endpoint, external_task_id, cause)
        self.args = (
            f"POST /v1/{endpoint}: may have been carried out and charged "
            f"({type(cause).__name__}: {cause}); not retried: call again only if paying "
            "twice is acceptable",
        )


async def sync_call(calls: ClientCalls, endpoint: str, request: Any) -> Mapping[str, Any]:
    """POST ``request`` to ``/v1/<endpoint>`` under the create rules; the reply's ``data``
    (a JSON object, else ``ResponseDecodeError``).  A failure that may have reached the server
    raises ``AmbiguousCallError``."""
    try:
        data = await calls.call("POST", f"/v1/{endpoint}", body=dump_request(request),
                                create=endpoint)
    except AmbiguousSubmissionError as exc:
        raise AmbiguousCallError(endpoint, None, exc.cause) from exc.cause
    if not isinstance(data, Mapping):
        raise ResponseDecodeError(f"POST /v1/{endpoint}: the reply's data is not an object")
    return data


# -- text to speech ------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class SpeechAudio:
    """One synthesized audio: ``id`` (the ``audio_id`` avatar and lip-sync take, valid 30
    days), ``url`` and ``duration`` in seconds."""

    id: str
    url: str
    duration: float | None = None


@attrs.frozen(kw_only=True)
class Speech:
    """What ``client.text_to_speech`` returns: the audios, their task id and the cost."""

    task_id: str | None
    audios: tuple[SpeechAudio, ...]
    cost: Deduction = attrs.field(factory=Deduction)


def _speech_audio(item: Mapping[str, Any]) -> SpeechAudio | None:
    audio_id, url = text(item.get("id"), 256), text(item.get("url"))
    if audio_id is None or url is None:
        return None
    return SpeechAudio(id=audio_id, url=url, duration=number(item.get("duration")))


def parse_speech(data: Mapping[str, Any]) -> Speech:
    """``Speech`` from a TTS reply; ``TaskFailedError`` for ``task_status`` ``failed``."""
    task_id = text(data.get("task_id"), 256)
    if data.get("task_status") == TaskStatus.FAILED.value:
        failed = Task(task_id=task_id or "?", status=TaskStatus.FAILED,
                      status_msg=text(data.get("task_status_msg"), 500))
        raise TaskFailedError(failed, "audio/tts")
    audios = items(mapping(data.get("task_result")).get("audios"), _speech_audio)
    if not audios:
        raise ResponseDecodeError("POST /v1/audio/tts: the reply holds no audio")
    return Speech(task_id=task_id, audios=audios, cost=deduction(data))


async def text_to_speech(calls: ClientCalls, request: TextToSpeechRequest) -> Speech:
    """``POST /v1/audio/tts``."""
    _check(request, TextToSpeechRequest)
    return parse_speech(await sync_call(calls, "audio/tts", request))


# -- identify face ------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Face:
    """A face found in the video: its id (``face_choose[].face_id`` of advanced lip-sync),
    a crop image URL and when it is visible (milliseconds)."""

    face_id: str
    face_image: str | None = None
    start_time: int | None = None
    end_time: int | None = None


@attrs.frozen(kw_only=True)
class FaceIdentification:
    """What ``client.identify_face`` returns: the ``session_id`` advanced lip-sync takes
    (valid 24 h), the faces and the cost."""

    session_id: str
    faces: tuple[Face, ...]
    cost: Deduction = attrs.field(factory=Deduction)


def _face(item: Mapping[str, Any]) -> Face | None:
    face_id = text(item.get("face_id"), 256)
    if face_id is None:
        return None
    return Face(face_id=face_id, face_image=text(item.get("face_image")),
                start_time=whole(item.get("start_time")), end_time=whole(item.get("end_time")))


def parse_faces(data: Mapping[str, Any]) -> FaceIdentification:
    return FaceIdentification(
        session_id=required_text(data, "session_id", "POST /v1/videos/identify-face"),
        faces=items(data.get("face_data"), _face), cost=deduction(data))


async def identify_face(calls: ClientCalls, request: IdentifyFaceRequest) -> FaceIdentification:
    """``POST /v1/videos/identify-face``."""
    _check(request, IdentifyFaceRequest)
    return parse_faces(await sync_call(calls, "videos/identify-face", request))


# -- image recognition ----------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class RecognizedImage:
    """One segmentation: ``type`` (``object_seg``, ``head_seg`` with hair, ``face_seg``
    without, ``cloth_seg``), whether the image holds such a part, and its image URL."""

    type: str
    is_contain: bool | None = None
    url: str | None = None


@attrs.frozen(kw_only=True)
class ImageRecognition:
    """What ``client.recognize_image`` returns: the segmentations and the cost."""

    images: tuple[RecognizedImage, ...]
    cost: Deduction = attrs.field(factory=Deduction)

    def of_type(self, kind: str) -> RecognizedImage | None:
        """The segmentation of this ``type``, or None."""
        return next((image for image in self.images if image.type == kind), None)


def _recognized(item: Mapping[str, Any]) -> RecognizedImage | None:
    kind = text(item.get("type"), 64)
    if kind is None:
        return None
    return RecognizedImage(type=kind, is_contain=flag(item.get("is_contain")),
                           url=text(item.get("url")))


def parse_recognition(data: Mapping[str, Any]) -> ImageRecognition:
    found = items(mapping(data.get("task_result")).get("images"), _recognized)
    return ImageRecognition(images=found, cost=deduction(data))


async def recognize_image(calls: ClientCalls, request: ImageRecognitionRequest
                          ) -> ImageRecognition:
    """``POST /v1/videos/image-recognize``."""
    _check(request, ImageRecognitionRequest)
    return parse_recognition(await sync_call(calls, "videos/image-recognize", request))


def _check(request: object, cls: type[Any]) -> None:
    if not isinstance(request, cls):
        raise ValidationError("request", f"must be a {cls.__name__}", type(request).__name__)

