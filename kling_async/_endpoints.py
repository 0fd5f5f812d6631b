"""Endpoints are data: one row per create endpoint.

Adding an endpoint is one row here plus one request class; nothing else repeats per endpoint.
Endpoint names are the path after ``/v1/`` (``videos/omni-video``), spelled once, in the
model catalog (``_models/catalog.py``).  Paths are relative to the client's ``base_url``, which
carries any gateway prefix (``https://gw.example/kling``).  ``Request`` is the static type of
every request object an endpoint takes.

New-standard rows (``text-to-video/kling-3.0``: the path without its leading slash) come from
the model table ``_models/standard/specs.py``, one per documented (path family, model).  An
undocumented model of a known family gets a row made on demand (``endpoint_named`` warns,
``endpoint_row`` does not), as reference §11.1 asks: unknown ids pass through.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal, TypeAlias
from urllib.parse import quote

import attrs

from ._errors import ValidationError
from ._models.audio import TextToAudioRequest, VideoToAudioRequest
from ._models.avatar import AdvancedLipSyncRequest, AvatarRequest
from ._models.catalog import (
    IMAGE_GENERATIONS,
    IMAGE_TO_VIDEO,
    OMNI_IMAGE,
    OMNI_VIDEO,
    TEXT_TO_VIDEO,
)
from ._models.editing import MultiElementsRequest
from ._models.effects import EffectsRequest
from ._models.image_tools import (
    AiMultiShotRequest,
    ImageExpandRequest,
    MultiImageToImageRequest,
    VirtualTryOnRequest,
)
from ._models.images import ImageGenerationRequest, OmniImageRequest
from ._models.resources import CustomVoiceRequest, ElementRequest
from ._models.retired import (
    LegacyMotionControlRequest,
    LipSyncRequest,
    MultiImageToVideoRequest,
    VideoExtendRequest,
)
from ._models.standard import (
    NEW_MODEL_SPECS,
    NEW_REQUEST_TYPES,
    MotionControlRequest,
    NewImageToVideoRequest,
    NewOmniVideoRequest,
    NewTextToVideoRequest,
    known_new_models,
)
from ._models.standard.rules import check_model_id
from ._models.videos import ImageToVideoRequest, OmniVideoRequest, TextToVideoRequest
from ._policy import JobKind, PollPolicy
from ._results import MAX_ID_LENGTH
from ._warnings import KlingWireWarning

#: Any request object a create endpoint takes (one class per row of ``ENDPOINTS``).
Request: TypeAlias = (
    ImageGenerationRequest | OmniImageRequest | OmniVideoRequest | TextToVideoRequest
    | ImageToVideoRequest | NewTextToVideoRequest | NewImageToVideoRequest | NewOmniVideoRequest
    | MotionControlRequest
    | AvatarRequest | AdvancedLipSyncRequest | EffectsRequest | MultiElementsRequest
    | TextToAudioRequest | VideoToAudioRequest | MultiImageToImageRequest | ImageExpandRequest
    | VirtualTryOnRequest | AiMultiShotRequest | CustomVoiceRequest | ElementRequest
    | VideoExtendRequest | MultiImageToVideoRequest | LipSyncRequest | LegacyMotionControlRequest
)

#: The API design standard of an endpoint (reference §10): ``legacy`` = ``/v1/...`` with the
#: model in ``model_name``; ``new`` = the model in the path, tasks queried through ``/tasks``.
Standard = Literal["legacy", "new"]

#: A kind of result a task makes, named as the ``Task`` field that holds it (reference §3.3,
#: §12.3): ``image`` -> ``Task.images``, ``video`` -> ``videos``, ``audio`` -> ``audios``,
#: ``voice`` -> ``voices``, ``element`` -> ``elements``.
OutputKind = Literal["image", "video", "audio", "voice", "element"]


def _default_outputs(row: Endpoint) -> tuple[OutputKind, ...]:
    """An image endpoint makes images, every other kind videos, unless its row says more."""
    return ("image",) if row.kind == "image" else ("video",)


@attrs.frozen
class Endpoint:
    """One create endpoint: its name, request class, kind and default ``mode``.

    ``name`` is the path without its leading slash and without the legacy ``/v1`` prefix:
    ``videos/omni-video`` (legacy) or ``text-to-video/kling-3.0-turbo`` (new standard, whose
    ``model`` is the path's last segment)."""

    name: str
    request_type: type[Any]
    kind: JobKind
    default_mode: str | None = None
    standard: Standard = "legacy"
    model: str | None = None
    #: Gone from the official docs but still listed by gateways (reference §2.22): callable,
    #: with a one-time warning in the log.
    possibly_retired: bool = False
    #: What its tasks make, in ``task_result`` order (``("video", "audio")`` for
    #: video-to-audio): what the simulator renders and what a reconciling lookup expects.
    outputs: tuple[OutputKind, ...] = attrs.field(
        default=attrs.Factory(_default_outputs, takes_self=True))
    #: Each image item holds this many views, ``url_1`` .. ``url_N``, instead of one ``url``
    #: (ai-multi-shot: 3 angle views, reference §2.20); 0 = one ``url`` per item.
    image_views: int = 0
    #: Whether its videos carry a ``duration`` (effects videos do not, reference §2.9).
    video_duration: bool = True
    #: Whether its task echoes the source video as ``task_info.parent_video`` (§2.8, §2.11).
    parent_video: bool = False

    @property
    def path(self) -> str:
        """The create path: ``/v1/videos/omni-video`` (legacy, also its list path) or
        ``/text-to-video/kling-3.0-turbo`` (new standard)."""
        if self.standard == "new":
            return f"/{self.name}"
        return f"/v1/{self.name}"

    def task_path(self, task_id: str) -> str:
        """The single-task query path, e.g. ``/v1/videos/omni-video/{task_id}``, with the id
        percent-encoded as exactly one path segment (``ValidationError`` if it is not plain).
        New-standard tasks have no such path: they are queried through ``/tasks``."""
        if self.standard == "new":
            raise ValidationError("endpoint", "has no per-task path (new standard: use /tasks)",
                                  self.name)
        return f"/v1/{self.name}/{quote_segment(task_id)}"

    def options_of(self, body: Mapping[str, Any]) -> Mapping[str, Any]:
        """Where a wire body keeps ``external_task_id``, ``callback_url`` and
        ``watermark_info``: the body itself (legacy) or its ``options`` object (new)."""
        if self.standard == "new":
            options = body.get("options")
            return options if isinstance(options, Mapping) else {}
        return body

    def with_option(self, body: Mapping[str, Any], key: str, value: Any) -> dict[str, Any]:
        """A copy of ``body`` with one option (``external_task_id``, ``callback_url``) set
        where this endpoint's standard keeps it; ``body`` is not changed."""
        out = dict(body)
        self.set_option(out, key, value)
        return out

    def set_option(self, body: dict[str, Any], key: str, value: Any) -> None:
        """Set one option in ``body`` itself (a body just made, such as ``dump_request``'s),
        where this endpoint's standard keeps it (``with_option`` without the copy)."""
        if self.standard == "new":
            body["options"] = {**self.options_of(body), key: value}
        else:
            body[key] = value

    def weight(self, request: Any) -> int:
        """Concurrency slots a task of this request holds: ``task_weight`` (reference §6)."""
        return task_weight(self, request)

    def expected_duration(self, request: Any, policy: PollPolicy) -> float:
        """The poll policy's estimate of how long this request's task runs, in seconds."""
        if self.kind != "video":
            return policy.expected_duration(self.kind)
        holder = getattr(request, "settings", None) if self.standard == "new" else request
        raw = getattr(holder, "duration", None)
        try:
            seconds = float(raw) if raw is not None else 5.0
        except (TypeError, ValueError):
            seconds = 5.0
        if self.standard == "new":  # the ledger maps std = 720p, pro = 1080p (reference §10.3)
            pro = getattr(holder, "resolution", None) in ("1080p", "4k")
        else:
            pro = (getattr(request, "mode", None) or self.default_mode) == "pro"
        return policy.expected_duration("video", seconds=seconds, pro=pro)


def is_path_id(value: object) -> bool:
    """Whether ``value`` may go into a path as an id (percent-encoded): a non-empty str of at
    most ``MAX_ID_LENGTH`` printable characters (no control characters, line separators or lone
    surrogates) that is not ``.`` or ``..`` (dot-segments a server would resolve).  Looser than
    ``_results.is_plain_id``, the rule for ids a server sends: a caller's own external id may
    hold ``/`` or ``%``, which the quoting makes one segment."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_ID_LENGTH
        and value not in (".", "..")
        and value.isprintable()
    )


def quote_segment(value: str) -> str:
    """``value`` percent-encoded as ONE path segment (``/``, ``?``, ``#``, ``%`` included);
    ``ValidationError`` for an id that fails ``is_path_id``, whoever sent it."""
    # The usual id (Kling's are digits) passes is_path_id, with nothing to quote: looked at first.
    if type(value) is str and value.isascii() and value.isalnum() and len(value) <= MAX_ID_LENGTH:
        return value
    if not is_path_id(value):
        raise ValidationError(
            "task_id",
            f"must be 1-{MAX_ID_LENGTH} printable characters, not '.' or '..'",
            value,
        )
    return quote(value, safe="")


#: The rest of the legacy task catalogue (reference §2.5-§2.20, §2.22): one row each.
_CATALOGUE = (
    Endpoint("videos/avatar/image2video", AvatarRequest, "video", default_mode="std"),
    Endpoint("videos/advanced-lip-sync", AdvancedLipSyncRequest, "video", parent_video=True),
    Endpoint("videos/effects", EffectsRequest, "video", video_duration=False),
    Endpoint("videos/multi-elements", MultiElementsRequest, "video", default_mode="std"),
    Endpoint("audio/text-to-audio", TextToAudioRequest, "audio", outputs=("audio",)),
    Endpoint("audio/video-to-audio", VideoToAudioRequest, "audio", outputs=("video", "audio"),
             parent_video=True),
    Endpoint("images/multi-image2image", MultiImageToImageRequest, "image"),
    Endpoint("images/editing/expand", ImageExpandRequest, "image"),
    Endpoint("images/kolors-virtual-try-on", VirtualTryOnRequest, "image"),
    Endpoint("general/ai-multi-shot", AiMultiShotRequest, "image", image_views=3),
    Endpoint("general/custom-voices", CustomVoiceRequest, "resource", outputs=("voice",)),
    Endpoint("general/advanced-custom-elements", ElementRequest, "resource",
             outputs=("element",)),
    Endpoint("videos/video-extend", VideoExtendRequest, "video", possibly_retired=True),
    Endpoint("videos/multi-image2video", MultiImageToVideoRequest, "video", default_mode="std",
             possibly_retired=True),
    Endpoint("videos/lip-sync", LipSyncRequest, "video", possibly_retired=True),
    Endpoint("videos/motion-control", LegacyMotionControlRequest, "video", default_mode="std",
             possibly_retired=True),
)

#: Every create endpoint by name; read-only (``register_model`` is how models are added).
ENDPOINTS: Mapping[str, Endpoint] = MappingProxyType({
    e.name: e
    for e in (
        Endpoint(IMAGE_GENERATIONS, ImageGenerationRequest, "image"),
        Endpoint(OMNI_IMAGE, OmniImageRequest, "image"),
        Endpoint(OMNI_VIDEO, OmniVideoRequest, "video", default_mode="pro"),
        Endpoint(TEXT_TO_VIDEO, TextToVideoRequest, "video", default_mode="std"),
        Endpoint(IMAGE_TO_VIDEO, ImageToVideoRequest, "video", default_mode="std"),
        *(
            Endpoint(name, NEW_REQUEST_TYPES[spec.family], "video", standard="new",
                     model=spec.model)
            for name, spec in NEW_MODEL_SPECS.items()
        ),
        *_CATALOGUE,
    )
})

#: The endpoint row per (request class, model): the model is None for legacy classes, whose
#: one row serves every ``model_name``.
_BY_TYPE: dict[tuple[type[Any], str | None], Endpoint] = {
    (e.request_type, e.model): e for e in ENDPOINTS.values()
}
#: The request classes of the table (attrs classes, every one).
REQUEST_TYPES: frozenset[type[Any]] = frozenset(t for t, _ in _BY_TYPE)


def request_field(request: object, name: str) -> Any:
    """A top-level field of a request object or of a wire body (a mapping); None if absent.

    A wire body (a dict) and a request object (an attrs class) are told apart without a
    ``Mapping`` check, which is an ABC's (about 2.7 k instructions); only anything else is
    asked whether it is a mapping.  (Never an attribute of a mapping: ``items`` is a key.)"""
    if isinstance(request, dict):
        return request.get(name)
    if type(request) in REQUEST_TYPES or attrs.has(type(request)):  # the usual case first
        return getattr(request, name, None)
    if isinstance(request, Mapping):
        return request.get(name)
    return getattr(request, name, None)


def task_weight(endpoint: Endpoint | str, request: object) -> int:
    """Concurrency slots a task holds from creation to its end (reference §6): the one rule
    the client's capacity and the simulator both use.

    ``endpoint`` is a row or its name; ``request`` is a request object or a wire body (a
    mapping).  A video task holds 1 slot; an image task holds one per image it makes: ``n``
    (default 1), or for an omni-image with ``result_type="series"`` the ``series_amount``
    (default 4; ``"auto"`` may make up to 9, so it holds 9), as ``n`` is ignored then.
    Clamped to [1, 9]; an unreadable count is 1.
    """
    if not isinstance(endpoint, Endpoint):
        endpoint = endpoint_row(endpoint)
    if endpoint.kind != "image":
        return 1
    raw = request_field(request, "n")
    if endpoint.name == "images/omni-image" and request_field(request, "result_type") == "series":
        raw = request_field(request, "series_amount")
        raw = 4 if raw is None else 9 if raw == "auto" else raw
    try:
        count = int(raw) if raw is not None else 1
    except (TypeError, ValueError):
        count = 1
    return min(max(count, 1), 9)


def endpoint_named(name: str) -> Endpoint:
    """The endpoint row for a name such as ``videos/omni-video`` (a leading ``/v1/`` is allowed).

    A new-standard name whose model the table does not know (``text-to-video/kling-9``) gets a
    row of its own, with a ``KlingWireWarning`` (reference §11.1: unknown ids pass through)."""
    return _lookup(name, warn=True)


def endpoint_row(name: str) -> Endpoint:
    """``endpoint_named`` without the warning: for the SDK's own lookups of a name it has
    already accepted (a job's ``endpoint``), where ``ENDPOINTS[name]`` would miss a row
    made for an undocumented new-standard model.  (A job's name is a table key as it is:
    looked up first, before any normalising.)"""
    return ENDPOINTS.get(name) or _lookup(name, warn=False)


def _lookup(name: str, *, warn: bool) -> Endpoint:
    key = name.strip("/")
    if key.startswith("v1/"):
        key = key[3:]
    row = ENDPOINTS.get(key)
    if row is not None:
        return row
    family, _, model = key.partition("/")
    if family in NEW_REQUEST_TYPES and model:
        check_model_id(model)
        return _unknown_model_row(family, model, warn=warn)
    raise ValidationError(
        "endpoint", f"must be one of {sorted(ENDPOINTS)} (or a new-standard family "
        f"{sorted(NEW_REQUEST_TYPES)} and a model id)", name
    )


def _unknown_model_row(family: str, model: str, *, warn: bool = True) -> Endpoint:
    """The row of a new-standard model id the table does not know (with a warning)."""
    if warn:
        _warn_unknown(family, model)
    return Endpoint(f"{family}/{model}", NEW_REQUEST_TYPES[family], "video", standard="new",
                    model=model)


def _warn_unknown(family: str, model: str) -> None:
    warnings.warn(KlingWireWarning(
        f"model {model!r} is not a documented model of {family} (known: "
        f"{', '.join(known_new_models(family))}); it is sent as is, checked only for its "
        "family's types and values"),
        stacklevel=4)


def endpoint_for(request: Any) -> Endpoint:
    """The endpoint row that serves a request object (for a new-standard request, the row of
    its ``model``; an unknown model gets a row of its own, with a ``KlingWireWarning``)."""
    cls = type(request)
    row = _BY_TYPE.get((cls, None))  # a legacy class: one row, whatever its model_name
    if row is not None:
        return row
    family = getattr(cls, "family", None)
    if NEW_REQUEST_TYPES.get(family) is cls:  # type: ignore[arg-type]
        model = request.model
        return ENDPOINTS.get(f"{family}/{model}") or _unknown_model_row(str(family), model)
    raise ValidationError(
        "request",
        "must be one of the request classes "
        + ", ".join(sorted({t.__name__ for t, _ in _BY_TYPE})),
        cls.__name__,
    )


def request_external_id(request: object) -> str | None:
    """The ``external_task_id`` a request object carries itself: top-level (legacy) or in its
    ``options`` (new standard); None when it has none."""
    holder = getattr(request, "options", None) or request
    value = getattr(holder, "external_task_id", None)
    return value if isinstance(value, str) else None


_warned_retired: set[str] = set()


def note_use(endpoint: Endpoint) -> None:
    """Log once per process that a possibly retired endpoint is used (reference §2.22): it may
    answer with an ordinary API error (1201, 1203, 404) at any time."""
    if endpoint.possibly_retired and endpoint.name not in _warned_retired:
        _warned_retired.add(endpoint.name)
        logging.getLogger("kling_async").warning(
            "%s is gone from Kling's official docs (possibly retired); gateways may still "
            "serve it", endpoint.path)
