"""Which concurrency bucket a task counts against: ``concurrency_bucket(endpoint, request)``.

Kling computes concurrency separately per account, **model version** and resource-pack type
(video / image) (reference §6).  A bucket is named ``"<pack>/<family>"``, e.g.
``"video/kling-3.0"``: the pack is the endpoint's kind, the family the model's name in the new
standard, so the two standards' names of one model share a bucket (reference §10.4, inferred
there: Kling publishes no mapping table):

- ``kling-3.0-turbo`` (new standard only): ``video/kling-3.0-turbo``;
- ``kling-3.0`` = ``kling-v3``: ``video/kling-3.0`` (``image/kling-3.0`` on image endpoints);
- ``kling-3.0-omni`` = ``kling-v3-omni``: ``video/kling-3.0-omni``;
- ``kling-o1`` = ``kling-video-o1``: ``video/kling-o1``;
- ``kling-2.6`` = ``kling-v2-6``: ``video/kling-2.6``;
- ``kling-2.5-turbo`` = ``kling-v2-5-turbo``: ``video/kling-2.5-turbo``.

Any other model is a family of its own (``video/kling-v1``, ``image/kling-image-o1``).  A
legacy request without ``model_name`` counts against its endpoint's default model.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ._endpoints import Endpoint, endpoint_named, request_field
from ._models.catalog import DEFAULT_MODELS

#: Legacy ``model_name`` -> the new standard's name of the same model (reference §10.4).
MODEL_FAMILIES: Mapping[str, str] = MappingProxyType({
    "kling-v3": "kling-3.0",
    "kling-v3-omni": "kling-3.0-omni",
    "kling-video-o1": "kling-o1",
    "kling-v2-6": "kling-2.6",
    "kling-v2-5-turbo": "kling-2.5-turbo",
})
_MAX_MODEL = 64  # a longer model name is no model: the endpoint's default is counted


def model_family(model: str) -> str:
    """The family of a model name of either standard (``"kling-v3"`` -> ``"kling-3.0"``)."""
    return MODEL_FAMILIES.get(model, model)


def concurrency_bucket(endpoint: Endpoint | str, request: object = None) -> str:
    """The bucket (``"video/kling-3.0"``) whose concurrency a task of ``request`` on
    ``endpoint`` (a row or its name) holds.  ``request`` is a request object, a wire body
    (a mapping) or None (unknown: the endpoint's default model)."""
    row = endpoint if isinstance(endpoint, Endpoint) else endpoint_named(endpoint)
    return f"{row.kind}/{model_family(_model(row, request))}"


def _model(row: Endpoint, request: object) -> str:
    """The model a task runs on: the path's (new standard), the request's ``model_name``, or
    the endpoint's default model."""
    if row.model is not None:
        return row.model
    name = request_field(request, "model_name")
    if isinstance(name, str) and 0 < len(name) <= _MAX_MODEL:
        return name
    return DEFAULT_MODELS.get(row.name, row.name)
