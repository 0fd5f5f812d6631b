"""Audio task requests (reference §2.11): text-to-audio and video-to-audio.

Both are tasks whose results are ``Task.audios`` (video-to-audio also returns the dubbed video).
Text-to-speech is synchronous and lives with the client's synchronous calls.
"""

from __future__ import annotations

import attrs

from .._errors import ValidationError
from .._validators import in_range, instance_of
from .fields import SHORT_PROMPT, CallbackFields, exactly_one
from .parts import TEXT


@attrs.frozen(kw_only=True)
class TextToAudioRequest(CallbackFields):
    """``POST /v1/audio/text-to-audio``: a sound effect or music clip from a prompt."""

    prompt: str = attrs.field(validator=[TEXT, SHORT_PROMPT])
    duration: float = attrs.field(validator=in_range(3.0, 10.0))

    def __attrs_post_init__(self) -> None:
        if round(self.duration, 1) != self.duration:
            raise ValidationError("duration", "must have at most one decimal (3.0-10.0)",
                                  self.duration)


@attrs.frozen(kw_only=True)
class VideoToAudioRequest(CallbackFields):
    """``POST /v1/audio/video-to-audio``: sound for a video (a Kling ``video_id`` under 30
    days old, or a ``video_url``; 3-20 s)."""

    video_id: str | None = attrs.field(default=None, validator=TEXT)
    video_url: str | None = attrs.field(default=None, validator=TEXT)
    sound_effect_prompt: str | None = attrs.field(default=None, validator=[TEXT, SHORT_PROMPT])
    bgm_prompt: str | None = attrs.field(default=None, validator=[TEXT, SHORT_PROMPT])
    asmr_mode: bool | None = attrs.field(default=None, validator=instance_of(bool))

    def __attrs_post_init__(self) -> None:
        exactly_one(self, "video_id", "video_url")
