"""Which endpoint row serves a request object (``endpoint_for``)."""

from __future__ import annotations

import warnings

import pytest

import kling_async as kling
from kling_async._endpoints import ENDPOINTS, endpoint_for


@pytest.mark.parametrize("row", [e for e in ENDPOINTS.values() if e.standard == "legacy"],
                         ids=lambda e: e.name)
def test_each_legacy_request_class_is_served_by_its_row(row: kling.Endpoint) -> None:
    """A legacy request class has one row (any model_name): endpoint_for finds it by class."""
    request = object.__new__(row.request_type)  # only its class is looked at
    assert endpoint_for(request) is row


def test_a_new_standard_request_is_served_by_its_models_row() -> None:
    """A new-standard request is served by the row of its model, an unknown model by a row
    of its own (with a KlingWireWarning)."""
    known = kling.NewTextToVideoRequest(model="kling-3.0", prompt="a cat")
    assert endpoint_for(known) is ENDPOINTS["text-to-video/kling-3.0"]
    unknown = kling.NewTextToVideoRequest(model="kling-9", prompt="a cat")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        row = endpoint_for(unknown)
    assert (row.name, row.standard, row.model) == ("text-to-video/kling-9", "new", "kling-9")
    assert any(issubclass(w.category, kling.KlingWireWarning) for w in caught)


@pytest.mark.parametrize("request_", [object(), {"prompt": "a cat"}, "a cat", None])
def test_an_object_of_no_request_class_is_refused_by_name(request_: object) -> None:
    """Anything else is a ValidationError naming its class."""
    with pytest.raises(kling.ValidationError, match=type(request_).__name__):
        endpoint_for(request_)
