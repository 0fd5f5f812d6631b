"""Where an endpoint row puts a create option (``external_task_id``, ``callback_url``)."""

from __future__ import annotations

from typing import Any

from kling_async._endpoints import endpoint_named


def test_set_option_fills_the_body_in_place_where_each_standard_keeps_options() -> None:
    """set_option puts the option at the top (legacy) or in ``options`` (new standard), in the
    body itself, as with_option does on a copy."""
    legacy = endpoint_named("images/generations")
    new = endpoint_named("text-to-video/kling-3.0")
    body: dict[str, Any] = {"prompt": "a cat"}
    legacy.set_option(body, "external_task_id", "e-1")
    assert body == {"prompt": "a cat", "external_task_id": "e-1"}
    body = {"prompt": "a cat", "options": {"callback_url": "https://x.test/hook"}}
    new.set_option(body, "external_task_id", "e-2")
    assert body == {"prompt": "a cat", "options": {"callback_url": "https://x.test/hook",
                                                   "external_task_id": "e-2"}}
    for row in (legacy, new):
        original: dict[str, Any] = {"prompt": "a dog"}
        copy = row.with_option(original, "external_task_id", "e-3")
        assert original == {"prompt": "a dog"}
        assert row.options_of(copy)["external_task_id"] == "e-3"
