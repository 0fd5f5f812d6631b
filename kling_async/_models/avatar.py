"""Talking-avatar and lip-sync requests (reference §2.8, §2.10).

- ``AvatarRequest``: ``POST /v1/videos/avatar/image2video``, a portrait speaking an audio.
- ``AdvancedLipSyncRequest``: ``POST /v1/videos/advanced-lip-sync``, step 2 of the lip-sync
  flow; step 1 is the synchronous ``client.identify_face(...)``, which gives the ``session_id``
  and the ``face_id`` to choose.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import attrs

from .._errors import ValidationError
from .._validators import items_of, len_between, to_tuple
from .fields import MODE, MS, VOLUME, exactly_one
from .parts import PROMPT, TEXT, CommonFields

#: The shortest stretch of audio the lip-sync endpoints accept, in milliseconds.
MIN_SOUND_MS = 2000


@attrs.frozen(kw_only=True)
class AvatarRequest(CommonFields):
    """``POST /v1/videos/avatar/image2video``: ``image`` plus exactly one of ``audio_id`` (a TTS
    audio under 30 days old) or ``sound_file`` (Base64 or URL; 2-300 s)."""

    image: str = attrs.field(validator=TEXT)
    audio_id: str | None = attrs.field(default=None, validator=TEXT)
    sound_file: str | None = attrs.field(default=None, validator=TEXT)
    prompt: str | None = attrs.field(default=None, validator=[TEXT, PROMPT])
    mode: Literal["std", "pro"] | None = attrs.field(default=None, validator=MODE)

    def __attrs_post_init__(self) -> None:
        exactly_one(self, "audio_id", "sound_file")


@attrs.frozen(kw_only=True)
class FaceChoice:
    """One ``face_choose`` item: which face speaks which stretch of audio, and where."""

    face_id: str = attrs.field(validator=TEXT)
    sound_start_time: int = attrs.field(validator=MS)
    sound_end_time: int = attrs.field(validator=MS)
    sound_insert_time: int = attrs.field(validator=MS)
    audio_id: str | None = attrs.field(default=None, validator=TEXT)
    sound_file: str | None = attrs.field(default=None, validator=TEXT)
    sound_volume: float | None = attrs.field(default=None, validator=VOLUME)
    original_audio_volume: float | None = attrs.field(default=None, validator=VOLUME)

    def __attrs_post_init__(self) -> None:
        exactly_one(self, "audio_id", "sound_file")
        if self.sound_end_time - self.sound_start_time < MIN_SOUND_MS:
            raise ValidationError(
                "sound_end_time", f"must be at least {MIN_SOUND_MS} ms after sound_start_time "
                "(the cropped audio must last 2 s or more)", self.sound_end_time,
            )


def _to_faces(value: Iterable[FaceChoice]) -> tuple[FaceChoice, ...]:
    return to_tuple(value)


@attrs.frozen(kw_only=True)
class AdvancedLipSyncRequest(CommonFields):
    """``POST /v1/videos/advanced-lip-sync``: the faces found by ``identify_face`` speak new
    audio.  ``face_choose`` holds one face (the API takes one at a time for now)."""

    session_id: str = attrs.field(validator=TEXT)
    face_choose: tuple[FaceChoice, ...] = attrs.field(
        converter=_to_faces, validator=[items_of(FaceChoice), len_between(1, 1, "faces")]
    )
