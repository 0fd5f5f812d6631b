"""The one model table, and the configurable prompt limits.

Per endpoint (the path after ``/v1/``), the known model names; per model, what it accepts
(``ModelSpec``).  Built-in rows follow the API reference (sections 2.3, 2.4, 2.6, 2.12, 2.13)
and its 2026 capability maps (section 13): the current models, plus the older ones, which
gateways still serve.  Where the reference says UNCERTAIN the row is permissive or the feature
is a capability that is off by default.  Model lists drift: ``register_model`` adds or replaces
a row at run time.

Prompt limits drift too (older limits were 500/200): ``PromptLimits`` is read by the request
validators at construction time; ``set_prompt_limits`` changes them process-wide and the
``prompt_limits(...)`` context manager changes them for the current context only.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

import attrs

from .._errors import ValidationError
from .._validators import check_encodable, in_range, instance_of, to_required_duration

IMAGE_GENERATIONS = "images/generations"
OMNI_IMAGE = "images/omni-image"
OMNI_VIDEO = "videos/omni-video"
TEXT_TO_VIDEO = "videos/text2video"
IMAGE_TO_VIDEO = "videos/image2video"

#: Endpoints whose requests the catalog describes, with the model the server uses by default.
DEFAULT_MODELS: dict[str, str] = {
    IMAGE_GENERATIONS: "kling-v3",  # the 2026 table's default (reference 2.12)
    OMNI_IMAGE: "kling-image-o1",
    OMNI_VIDEO: "kling-video-o1",
    TEXT_TO_VIDEO: "kling-v1",
    IMAGE_TO_VIDEO: "kling-v1",
}

#: The server's ``duration`` when the request leaves it out (reference 2.3, 2.4, 2.6).
DEFAULT_DURATION = "5"


def _durations(low: int, high: int) -> tuple[str, ...]:
    return tuple(str(s) for s in range(low, high + 1))


_FLAG = instance_of(bool)
_COUNT = in_range(0, 1000, integer=True)


@attrs.frozen(kw_only=True)
class ModelSpec:
    """What one model accepts on one endpoint.  Flags that do not apply to it are ignored.

    - ``durations``: allowed ``duration`` values (video); ``None`` means any whole number >= 1.
    - ``basic_durations``: narrower set for pure text-to-video and first-frame-only
      image-to-video on omni-video (kling-video-o1: ``"5"``/``"10"``); ``None`` = no narrowing.
    - ``resolutions``: allowed image ``resolution`` values.
    - ``wide_21_9``: images/generations accepts ``aspect_ratio="21:9"``.
    - ``image_reference``: images/generations accepts ``image_reference`` (kling-v2-1, and
      the older kling-v1-5).
    - ``image_reference_required``: ... and requires it whenever ``image`` is set (kling-v1-5).
    - ``requires_image``: images/generations is restyle-only and needs ``image``.
    - ``series``: omni-image accepts ``result_type="series"``.
    - ``text_auto_ratio``: omni-image accepts ``aspect_ratio="auto"`` without reference images
      or elements (kling-v3-omni does not: capability map 13.2).
    - ``elements``: ``element_list`` on images/generations and image2video (kling-v3).
    - ``cfg_scale``, ``sound`` (``"on"``), ``multi_shot``, ``voice_list``: video features.
    - ``multi_shot_frames``: multi-shot may be combined with first/last frames (v3, 05/07/2026).
    - ``mode_4k``: ``mode="4k"`` (native 4K, 04/23/2026: kling-v3 t2v/i2v, kling-v3-omni).
    - ``mode_4k_with_video``: omni-video ``mode="4k"`` together with a ``video_list`` (the
      04/23/2026 entry excludes reference videos; off on the built-in rows).
    - ``frame_elements``: omni-video, the most elements beside a first frame (kling-v3-omni:
      3); ``None`` = only the image + element totals apply.
    - ``end_frame_elements``: omni-video accepts elements with first + end frames (not
      kling-video-o1, 03/11/2026).
    """

    endpoint: str
    name: str
    durations: tuple[str, ...] | None = None
    basic_durations: tuple[str, ...] | None = None
    resolutions: tuple[str, ...] = ("1k", "2k")
    wide_21_9: bool = attrs.field(default=True, validator=_FLAG)
    image_reference: bool = attrs.field(default=False, validator=_FLAG)
    image_reference_required: bool = attrs.field(default=False, validator=_FLAG)
    requires_image: bool = attrs.field(default=False, validator=_FLAG)
    series: bool = attrs.field(default=True, validator=_FLAG)
    text_auto_ratio: bool = attrs.field(default=True, validator=_FLAG)
    elements: bool = attrs.field(default=True, validator=_FLAG)
    cfg_scale: bool = attrs.field(default=True, validator=_FLAG)
    sound: bool = attrs.field(default=True, validator=_FLAG)
    multi_shot: bool = attrs.field(default=True, validator=_FLAG)
    multi_shot_frames: bool = attrs.field(default=True, validator=_FLAG)
    voice_list: bool = attrs.field(default=True, validator=_FLAG)
    mode_4k: bool = attrs.field(default=True, validator=_FLAG)
    mode_4k_with_video: bool = attrs.field(default=True, validator=_FLAG)
    frame_elements: int | None = attrs.field(default=None, validator=_COUNT)
    end_frame_elements: bool = attrs.field(default=True, validator=_FLAG)


_PRE_V3 = ("5", "10")
_V3 = _durations(3, 15)


def _video(
    endpoint: str, name: str, durations: tuple[str, ...], *, basic: tuple[str, ...] | None = None,
    cfg_scale: bool = True, sound: bool = True, multi_shot: bool = True, voices: bool = True,
    v3: bool = False,
) -> ModelSpec:
    """A built-in video row; ``v3`` turns on what only the 3.0 family does (4K, frames with
    multi-shot, image2video elements)."""
    return ModelSpec(
        endpoint=endpoint, name=name, durations=durations, basic_durations=basic,
        cfg_scale=cfg_scale, sound=sound, multi_shot=multi_shot, voice_list=voices,
        multi_shot_frames=v3, mode_4k=v3, mode_4k_with_video=False, elements=v3,
    )


#: Text-to-video and image-to-video models before 3.0 (the capability map of 2026 lists only
#: kling-v2-5-turbo and kling-v2-6 of them; gateways still serve the rest).
_T2V_OLD = ("kling-v1", "kling-v1-6", "kling-v2-master", "kling-v2-1-master", "kling-v2-5-turbo")
_I2V_OLD = ("kling-v1", "kling-v1-5", "kling-v1-6", "kling-v2-master", "kling-v2-1",
            "kling-v2-1-master", "kling-v2-5-turbo")


def _image_rows() -> list[ModelSpec]:
    gen = IMAGE_GENERATIONS
    return [
        # 2.12 (2026: kling-v2-1 and kling-v3); the older four are kept for gateways.  No 21:9
        # on kling-v1; 2k from the v2 family; image_reference on v1-5 (required with an image)
        # and on v2-1 (13.2: character and face reference only there); elements on v3.
        ModelSpec(endpoint=gen, name="kling-v1", wide_21_9=False, resolutions=("1k",),
                  elements=False),
        ModelSpec(endpoint=gen, name="kling-v1-5", resolutions=("1k",), image_reference=True,
                  image_reference_required=True, elements=False),
        ModelSpec(endpoint=gen, name="kling-v2", elements=False),
        ModelSpec(endpoint=gen, name="kling-v2-new", requires_image=True, elements=False),
        ModelSpec(endpoint=gen, name="kling-v2-1", image_reference=True, elements=False),
        ModelSpec(endpoint=gen, name="kling-v3"),
        # 2.13 / 13.2: series and 4k are 3.0 Omni features; its text-to-image takes no "auto".
        ModelSpec(endpoint=OMNI_IMAGE, name="kling-image-o1", series=False),
        ModelSpec(endpoint=OMNI_IMAGE, name="kling-v3-omni", resolutions=("1k", "2k", "4k"),
                  text_auto_ratio=False),
    ]


def _builtin() -> dict[str, dict[str, ModelSpec]]:
    rows = [
        *_image_rows(),
        # 2.6 / 13.1: o1 3-10 s (5/10 only for pure t2v and first-frame i2v), no multi-shot,
        # no elements with first + end frames; v3-omni 3-15 s, multi-shot (with frames), 4k,
        # at most 3 elements beside a first frame (2.6, 11.5).
        attrs.evolve(
            _video(OMNI_VIDEO, "kling-video-o1", _durations(3, 10), basic=_PRE_V3,
                   multi_shot=False),
            end_frame_elements=False,
        ),
        attrs.evolve(_video(OMNI_VIDEO, "kling-v3-omni", _V3, v3=True), frame_elements=3),
    ]
    # 2.3 / 2.4 / 13.1: cfg_scale not on v2.x; sound and voices from v2.6; multi-shot, 4k and
    # image2video elements on v3.
    for endpoint, old in ((TEXT_TO_VIDEO, _T2V_OLD), (IMAGE_TO_VIDEO, _I2V_OLD)):
        for name in old:
            rows.append(_video(
                endpoint, name, _PRE_V3, cfg_scale=not name.startswith("kling-v2"),
                sound=False, multi_shot=False, voices=False,
            ))
        rows.append(_video(endpoint, "kling-v2-6", _PRE_V3, cfg_scale=False, multi_shot=False))
        rows.append(_video(endpoint, "kling-v3", _V3, v3=True))
    table: dict[str, dict[str, ModelSpec]] = {endpoint: {} for endpoint in DEFAULT_MODELS}
    for row in rows:
        table[row.endpoint][row.name] = row
    return table


_MODELS: dict[str, dict[str, ModelSpec]] = _builtin()


def _check_endpoint(endpoint: str) -> None:
    if not isinstance(endpoint, str) or endpoint not in _MODELS:
        raise ValidationError("endpoint", f"must be one of {sorted(_MODELS)}", endpoint)


def _duration_list(field: str, values: Any) -> tuple[str, ...] | None:
    """``durations=`` of ``register_model``: None, or whole numbers of seconds as wire strings."""
    if values is None:
        return None
    if not isinstance(values, (tuple, list)):
        raise ValidationError(field, "must be a tuple of whole numbers of seconds", values)
    found = []
    for i, value in enumerate(values):
        try:
            found.append(to_required_duration(value))
        except ValidationError as error:
            raise ValidationError(f"{field}[{i}]", error.rule, value) from None
    return tuple(found)


def _resolution_list(values: Any) -> tuple[str, ...]:
    if not isinstance(values, (tuple, list)) or not all(
        isinstance(value, str) and value for value in values
    ):
        raise ValidationError("resolutions", "must be a tuple of strings such as ('1k', '2k')",
                              values)
    return tuple(values)


def register_model(
    endpoint: str,
    model_name: str,
    *,
    durations: tuple[str | int, ...] | None = None,
    basic_durations: tuple[str | int, ...] | None = None,
    resolutions: tuple[str, ...] = ("1k", "2k"),
    wide_21_9: bool = True,
    image_reference: bool = False,
    image_reference_required: bool = False,
    requires_image: bool = False,
    series: bool = True,
    text_auto_ratio: bool = True,
    elements: bool = True,
    cfg_scale: bool = True,
    sound: bool = True,
    multi_shot: bool = True,
    multi_shot_frames: bool = True,
    voice_list: bool = True,
    mode_4k: bool = True,
    mode_4k_with_video: bool = True,
    frame_elements: int | None = None,
    end_frame_elements: bool = True,
) -> ModelSpec:
    """Allow ``model_name`` on ``endpoint`` (or replace its row); returns the new row.

    Defaults are permissive (see ``ModelSpec``).  Example, allowing the contested 4K with a
    reference video on 3.0 Omni: ``register_model("videos/omni-video", "kling-v3-omni",
    durations=tuple(range(3, 16)), mode_4k_with_video=True)``.
    """
    _check_endpoint(endpoint)
    if not isinstance(model_name, str) or not model_name:
        raise ValidationError("model_name", "must be a non-empty string", model_name)
    check_encodable("model_name", model_name)
    spec = ModelSpec(
        endpoint=endpoint,
        name=model_name,
        durations=_duration_list("durations", durations),
        basic_durations=_duration_list("basic_durations", basic_durations),
        resolutions=_resolution_list(resolutions),
        wide_21_9=wide_21_9,
        image_reference=image_reference,
        image_reference_required=image_reference_required,
        requires_image=requires_image,
        series=series,
        text_auto_ratio=text_auto_ratio,
        elements=elements,
        cfg_scale=cfg_scale,
        sound=sound,
        multi_shot=multi_shot,
        multi_shot_frames=multi_shot_frames,
        voice_list=voice_list,
        mode_4k=mode_4k,
        mode_4k_with_video=mode_4k_with_video,
        frame_elements=frame_elements,
        end_frame_elements=end_frame_elements,
    )
    _MODELS[endpoint][model_name] = spec
    return spec


def known_models(endpoint: str) -> tuple[str, ...]:
    """The model names allowed on ``endpoint``, built-in first, then registered ones."""
    _check_endpoint(endpoint)
    return tuple(_MODELS[endpoint])


def model_spec(endpoint: str, model_name: str | None) -> ModelSpec:
    """The row for ``model_name`` (``None``: the endpoint's default model) or a ValidationError."""
    _check_endpoint(endpoint)
    if model_name is not None and not isinstance(model_name, str):
        raise ValidationError("model_name", "must be a string", model_name)
    name = DEFAULT_MODELS[endpoint] if model_name is None else model_name
    found = _MODELS[endpoint].get(name)
    if found is None:
        raise ValidationError(
            "model_name",
            f"is not a known model for {endpoint} (known: {', '.join(_MODELS[endpoint])})",
            model_name,
            hint=(
                "to allow it, call kling_async.register_model("
                f'"{endpoint}", "{model_name}", ...) with its capabilities'
            ),
        )
    return found


# --- prompt limits -----------------------------------------------------------------------------


def _positive(_inst: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(attribute.name, "must be a whole number >= 1", value)


@attrs.frozen(kw_only=True)
class PromptLimits:
    """Longest allowed text, in characters (reference 2.3, 2.6, section 8)."""

    prompt: int = attrs.field(default=2500, validator=_positive)
    negative_prompt: int = attrs.field(default=2500, validator=_positive)
    shot_prompt: int = attrs.field(default=512, validator=_positive)


_GLOBAL_LIMITS = PromptLimits()
_SCOPED_LIMITS: contextvars.ContextVar[PromptLimits | None] = contextvars.ContextVar(
    "kling_async_prompt_limits", default=None
)


def current_prompt_limits() -> PromptLimits:
    """The limits in force here: a ``prompt_limits(...)`` scope, else the process-wide value."""
    scoped = _SCOPED_LIMITS.get()
    return _GLOBAL_LIMITS if scoped is None else scoped


def set_prompt_limits(limits: PromptLimits) -> PromptLimits:
    """Set the process-wide limits; returns the previous ones (to restore later)."""
    global _GLOBAL_LIMITS
    if not isinstance(limits, PromptLimits):
        raise ValidationError("limits", "must be a PromptLimits", limits)
    previous, _GLOBAL_LIMITS = _GLOBAL_LIMITS, limits
    return previous


@contextlib.contextmanager
def prompt_limits(
    *, prompt: int | None = None, negative_prompt: int | None = None,
    shot_prompt: int | None = None,
) -> Iterator[PromptLimits]:
    """Within the block (this context only: safe across asyncio tasks), override some limits."""
    changes = {
        k: v
        for k, v in (("prompt", prompt), ("negative_prompt", negative_prompt),
                     ("shot_prompt", shot_prompt))
        if v is not None
    }
    limits = attrs.evolve(current_prompt_limits(), **changes)
    token = _SCOPED_LIMITS.set(limits)
    try:
        yield limits
    finally:
        _SCOPED_LIMITS.reset(token)
