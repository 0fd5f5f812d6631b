"""Endpoints are data: one row per create endpoint.

Adding an endpoint is one row here plus one request class; nothing else repeats per endpoint.
Endpoint names are the path after ``/v1/`` (``videos/omni-video``), spelled once, in the
model catalog (``_models/catalog.py``).  Paths are relative to the client's ``base_url``, which
carries any gateway prefix (``https://gw.example/kling``).  ``Request`` is the static type of
every request object an endpoint takes.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, TypeAlias
from urllib.parse import quote

import attrs

from ._errors import ValidationError
from ._models.catalog import (
    IMAGE_GENERATIONS,
    IMAGE_TO_VIDEO,
    OMNI_IMAGE,
    OMNI_VIDEO,
    TEXT_TO_VIDEO,
)
from ._models.images import ImageGenerationRequest, OmniImageRequest
from ._models.videos import ImageToVideoRequest, OmniVideoRequest, TextToVideoRequest
from ._policy import JobKind, PollPolicy
from ._results import MAX_ID_LENGTH

#: Any request object a create endpoint takes (one class per row of ``ENDPOINTS``).
Request: TypeAlias = (
    ImageGenerationRequest | OmniImageRequest | OmniVideoRequest | TextToVideoRequest
    | ImageToVideoRequest
)


@attrs.frozen
class Endpoint:
    """One create endpoint: its name, request class, kind and default ``mode``."""

    name: str
    request_type: type[Any]
    kind: JobKind
    default_mode: str | None = None

    @property
    def path(self) -> str:
        """The create and list path, e.g. ``/v1/videos/omni-video``."""
        return f"/v1/{self.name}"

    def task_path(self, task_id: str) -> str:
        """The single-task query path, e.g. ``/v1/videos/omni-video/{task_id}``, with the id
        percent-encoded as exactly one path segment (``ValidationError`` if it is not plain)."""
        return f"/v1/{self.name}/{quote_segment(task_id)}"

    def weight(self, request: Any) -> int:
        """Concurrency slots a task of this request holds: ``task_weight`` (reference §6)."""
        return task_weight(self.name, request)

    def expected_duration(self, request: Any, policy: PollPolicy) -> float:
        """The poll policy's estimate of how long this request's task runs, in seconds."""
        if self.kind == "image":
            return policy.expected_duration("image")
        raw = getattr(request, "duration", None)
        try:
            seconds = float(raw) if raw is not None else 5.0
        except (TypeError, ValueError):
            seconds = 5.0
        mode = getattr(request, "mode", None) or self.default_mode
        return policy.expected_duration("video", seconds=seconds, pro=mode == "pro")


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
    if not is_path_id(value):
        raise ValidationError(
            "task_id",
            f"must be 1-{MAX_ID_LENGTH} printable characters, not '.' or '..'",
            value,
        )
    return quote(value, safe="")


#: Every create endpoint by name; read-only (``register_model`` is how models are added).
ENDPOINTS: Mapping[str, Endpoint] = MappingProxyType({
    e.name: e
    for e in (
        Endpoint(IMAGE_GENERATIONS, ImageGenerationRequest, "image"),
        Endpoint(OMNI_IMAGE, OmniImageRequest, "image"),
        Endpoint(OMNI_VIDEO, OmniVideoRequest, "video", default_mode="pro"),
        Endpoint(TEXT_TO_VIDEO, TextToVideoRequest, "video", default_mode="std"),
        Endpoint(IMAGE_TO_VIDEO, ImageToVideoRequest, "video", default_mode="std"),
    )
})

_BY_TYPE: dict[type[Any], Endpoint] = {e.request_type: e for e in ENDPOINTS.values()}


def task_weight(endpoint_name: str, request: object) -> int:
    """Concurrency slots a task holds from creation to its end (reference §6): the one rule
    the client's capacity and the simulator both use.

    ``request`` is a request object or a wire body (a mapping).  A video task holds 1 slot;
    an image task holds one per image it makes: ``n`` (default 1), or for an omni-image with
    ``result_type="series"`` the ``series_amount`` (default 4; ``"auto"`` may make up to 9,
    so it holds 9), as ``n`` is ignored then.  Clamped to [1, 9]; an unreadable count is 1.
    """

    def field(name: str) -> Any:
        if isinstance(request, Mapping):
            return request.get(name)
        return getattr(request, name, None)

    endpoint = endpoint_named(endpoint_name)
    if endpoint.kind != "image":
        return 1
    raw = field("n")
    if endpoint.name == "images/omni-image" and field("result_type") == "series":
        raw = field("series_amount")
        raw = 4 if raw is None else 9 if raw == "auto" else raw
    try:
        count = int(raw) if raw is not None else 1
    except (TypeError, ValueError):
        count = 1
    return min(max(count, 1), 9)


def endpoint_named(name: str) -> Endpoint:
    """The endpoint row for a name such as ``videos/omni-video`` (a leading ``/v1/`` is allowed)."""
    key = name.strip("/")
    if key.startswith("v1/"):
        key = key[3:]
    try:
        return ENDPOINTS[key]
    except KeyError:
        raise ValidationError(
            "endpoint", f"must be one of {sorted(ENDPOINTS)}", name
        ) from None


def endpoint_for(request: Any) -> Endpoint:
    """The endpoint row that serves a request object."""
    try:
        return _BY_TYPE[type(request)]
    except KeyError:
        raise ValidationError(
            "request",
            "must be one of the request classes "
            + ", ".join(sorted(t.__name__ for t in _BY_TYPE)),
            type(request).__name__,
        ) from None
