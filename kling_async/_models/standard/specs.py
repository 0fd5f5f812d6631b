"""The new-standard model table: what each documented (path family, model) accepts.

One ``NewModelSpec`` per row of reference §11.1, with the limits of §11.3-§11.6: resolutions
(``4k`` where allowed), aspect ratios, durations (whole seconds), audio values, whether
``settings.multi_shot`` and ``settings.character_orientation`` exist, the prompt limit, which
``contents[]`` item types the model takes and how many of each, and the rules that differ per
model (``native`` audio or first + last frames only at 1080p; omni-video's count matrices).

A field the model does not offer is ``None`` (``audio=None``: no ``settings.audio``).  An id the
table does not know gets ``permissive_spec``: only types are checked (reference §11.1: "pass
unknown ids through with a warning").
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

import attrs

TEXT_TO_VIDEO_FAMILY = "text-to-video"
IMAGE_TO_VIDEO_FAMILY = "image-to-video"
OMNI_VIDEO_FAMILY = "omni-video"
MOTION_CONTROL_FAMILY = "motion-control"
FAMILIES = (TEXT_TO_VIDEO_FAMILY, IMAGE_TO_VIDEO_FAMILY, OMNI_VIDEO_FAMILY, MOTION_CONTROL_FAMILY)

#: The server's values when ``settings`` leaves them out (reference §11.3-§11.6).
DEFAULT_DURATION = 5
DEFAULT_RESOLUTION = "720p"
#: Shot-syntax prompt limits (reference §11.2): 1-6 shots, each >= 1 s, words <= 512 chars.
MAX_SHOTS = 6
MAX_SHOT_WORDS = 512

RATIOS = ("16:9", "9:16", "1:1")
HD = ("720p", "1080p")
HD_4K = ("720p", "1080p", "4k")
NATIVE_OFF = ("native", "off")


def seconds(low: int, high: int) -> tuple[int, ...]:
    """The whole seconds ``low`` to ``high``, both included."""
    return tuple(range(low, high + 1))


def _frozen(value: Mapping[str, int]) -> Mapping[str, int]:
    return MappingProxyType(dict(value))


@attrs.frozen(kw_only=True)
class NewModelSpec:
    """What one model accepts on one new-standard path family.

    - ``contents``: accepted ``contents[].type`` -> most items of that type (empty for
      text-to-video, whose prompt is top-level).
    - ``resolutions``, ``aspect_ratios``, ``durations``, ``audio``: allowed ``settings`` values;
      ``None`` = the model has no such setting (sending one is an error).
    - ``multi_shot``: ``settings.multi_shot`` exists (default ``true``);
      ``shot_syntax``: the prompt's ``shot n, m, words;`` syntax makes a multi-shot video.
    - ``character_orientation``: ``settings.character_orientation`` is required (motion control).
    - ``native_1080p``: ``audio="native"`` needs ``resolution="1080p"``;
      ``frames_1080p``: first + last frames need ``resolution="1080p"``.
    - ``omni_rules``: which omni-video frame/video/count rules apply (reference §11.5).
    - ``prompt_max`` (characters) and ``prompt_recommended`` (longer texts warn).
    - ``documented``: False for the permissive row of an unknown id: only types are checked.
    """

    family: str
    model: str
    prompt_max: int = 2500
    prompt_recommended: int | None = None
    contents: Mapping[str, int] = attrs.field(factory=dict, converter=_frozen)
    resolutions: tuple[str, ...] | None = HD
    aspect_ratios: tuple[str, ...] | None = None
    durations: tuple[int, ...] | None = None
    audio: tuple[str, ...] | None = None
    multi_shot: bool = False
    shot_syntax: bool = False
    character_orientation: bool = False
    native_1080p: bool = False
    frames_1080p: bool = False
    omni_rules: Literal["3.0-omni", "o1"] | None = None
    documented: bool = True

    @property
    def endpoint(self) -> str:
        """The endpoint name: ``text-to-video/kling-3.0``."""
        return f"{self.family}/{self.model}"


_OMNI_ITEMS = {"prompt": 1, "first_frame": 1, "last_frame": 1, "refer_image": 7,
               "feature_video": 1, "base_video": 1, "element": 7}
_MOTION_ITEMS = {"prompt": 1, "image": 1, "video": 1}


def _text_to_video() -> tuple[NewModelSpec, ...]:
    t2v = TEXT_TO_VIDEO_FAMILY
    return (
        NewModelSpec(family=t2v, model="kling-3.0-turbo", prompt_max=3072,
                     prompt_recommended=2500, aspect_ratios=RATIOS, durations=seconds(3, 15),
                     shot_syntax=True),
        NewModelSpec(family=t2v, model="kling-3.0", prompt_max=3072, prompt_recommended=2500,
                     resolutions=HD_4K, aspect_ratios=RATIOS, durations=seconds(3, 15),
                     audio=NATIVE_OFF, multi_shot=True, shot_syntax=True),
        NewModelSpec(family=t2v, model="kling-2.6", aspect_ratios=RATIOS, durations=(5, 10),
                     audio=NATIVE_OFF, native_1080p=True),
        NewModelSpec(family=t2v, model="kling-2.5-turbo", aspect_ratios=RATIOS,
                     durations=(5, 10)),
    )


def _image_to_video() -> tuple[NewModelSpec, ...]:
    i2v = IMAGE_TO_VIDEO_FAMILY
    return (
        # The i2v page says 2500, its t2v page 3072: allow 3072, warn above 2500 (§11.4).
        NewModelSpec(family=i2v, model="kling-3.0-turbo", prompt_max=3072,
                     prompt_recommended=2500, contents={"prompt": 1, "first_frame": 1},
                     durations=seconds(3, 15), shot_syntax=True),
        NewModelSpec(family=i2v, model="kling-3.0", prompt_max=3072, prompt_recommended=2500,
                     contents={"prompt": 1, "first_frame": 1, "last_frame": 1, "element": 3},
                     resolutions=HD_4K, durations=seconds(3, 15), audio=NATIVE_OFF,
                     multi_shot=True, shot_syntax=True),
        NewModelSpec(family=i2v, model="kling-2.6",
                     contents={"prompt": 1, "first_frame": 1, "last_frame": 1, "voice": 2},
                     durations=(5, 10), audio=NATIVE_OFF, native_1080p=True, frames_1080p=True),
        NewModelSpec(family=i2v, model="kling-2.5-turbo",
                     contents={"prompt": 1, "first_frame": 1, "last_frame": 1},
                     durations=(5, 10), frames_1080p=True),
    )


def _omni_video() -> tuple[NewModelSpec, ...]:
    omni = OMNI_VIDEO_FAMILY
    return (
        NewModelSpec(family=omni, model="kling-3.0-omni", prompt_max=3072,
                     prompt_recommended=2500, contents=_OMNI_ITEMS, resolutions=HD_4K,
                     aspect_ratios=RATIOS, durations=seconds(3, 15),
                     audio=("native", "original", "off"), multi_shot=True, shot_syntax=True,
                     omni_rules="3.0-omni"),
        NewModelSpec(family=omni, model="kling-o1", contents=_OMNI_ITEMS, aspect_ratios=RATIOS,
                     durations=seconds(3, 10), audio=("original", "off"), omni_rules="o1"),
    )


def _motion_control() -> tuple[NewModelSpec, ...]:
    motion = MOTION_CONTROL_FAMILY
    return (
        NewModelSpec(family=motion, model="kling-3.0", contents={**_MOTION_ITEMS, "element": 1},
                     audio=("original", "off"), character_orientation=True),
        NewModelSpec(family=motion, model="kling-2.6", contents=_MOTION_ITEMS,
                     audio=("original", "off"), character_orientation=True),
    )


#: Every documented (family, model) row, by endpoint name (``omni-video/kling-o1``).
NEW_MODEL_SPECS: Mapping[str, NewModelSpec] = MappingProxyType({
    spec.endpoint: spec
    for spec in (*_text_to_video(), *_image_to_video(), *_omni_video(), *_motion_control())
})

_ALL_ITEMS = {"prompt": 1, "first_frame": 1, "last_frame": 1, "refer_image": 1000,
              "feature_video": 1000, "base_video": 1000, "element": 1000, "voice": 1000,
              "image": 1000, "video": 1000}


def family_item_types(family: str) -> tuple[str, ...]:
    """Every ``contents[].type`` some documented model of ``family`` accepts."""
    found: dict[str, None] = {}
    for spec in NEW_MODEL_SPECS.values():
        if spec.family == family:
            found.update(dict.fromkeys(spec.contents))
    return tuple(found)


def permissive_spec(family: str, model: str) -> NewModelSpec:
    """The row of an id the table does not know: every setting the family has anywhere, any
    value of the right type, any item type the family takes (reference §11.1)."""
    rows = [s for s in NEW_MODEL_SPECS.values() if s.family == family]
    items = {kind: _ALL_ITEMS[kind] for kind in family_item_types(family)}
    return NewModelSpec(
        family=family, model=model, prompt_max=max(s.prompt_max for s in rows),
        contents=items,
        resolutions=() if any(s.resolutions is not None for s in rows) else None,
        aspect_ratios=() if any(s.aspect_ratios is not None for s in rows) else None,
        durations=() if any(s.durations is not None for s in rows) else None,
        audio=() if any(s.audio is not None for s in rows) else None,
        multi_shot=any(s.multi_shot for s in rows),
        character_orientation=any(s.character_orientation for s in rows),
        documented=False,
    )


def new_model_spec(family: str, model: str) -> NewModelSpec:
    """The row of ``model`` on ``family``; ``permissive_spec`` for an id not in the table."""
    spec = NEW_MODEL_SPECS.get(f"{family}/{model}")
    return spec if spec is not None else permissive_spec(family, model)


def known_new_models(family: str) -> tuple[str, ...]:
    """The documented models of one path family, in the reference's order."""
    return tuple(s.model for s in NEW_MODEL_SPECS.values() if s.family == family)
