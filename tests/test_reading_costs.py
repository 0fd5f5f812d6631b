"""Reading a reply's cost and results takes the short way only where it gives what the general
reader would: a legacy cost has ``cost_of``'s totals, ``task_result`` lists are read whatever
their order or mapping type, and an image item's ``url`` wins over its views."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

import kling_async as kling
from kling_async import Image
from kling_async._costs import cost_of

_AMOUNTS = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 10**13), st.floats(allow_nan=True),
    st.sampled_from(["0", "8", "1.5", "0.000000000000001", "-1", "1e999", "NaN", "x", "", " 2 "]),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


class _ReadOnly(Mapping[str, Any]):
    """A JSON object that is a ``Mapping`` but no ``dict`` (what a caller may pass)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


@given(units=_AMOUNTS, quota=_AMOUNTS, list_price=_AMOUNTS,
       balance_kind=st.sampled_from(["object", "absent", "null", "text"]))
def test_legacy_cost_has_the_totals_cost_of_gives(units: Any, quota: Any, list_price: Any,
                                                  balance_kind: str) -> None:
    """Any legacy deductions read to the ``Cost`` that ``cost_of`` makes of the same charges."""
    body: dict[str, Any] = {"task_id": "1", "task_status": "succeed",
                            "final_unit_deduction": units}
    if balance_kind == "object":
        body["final_balance_deduction"] = {"quota": quota, "list_price": list_price}
    elif balance_kind != "absent":
        body["final_balance_deduction"] = None if balance_kind == "null" else "0.3"
    cost = kling.parse_task(body).cost
    if cost is None:
        assert kling.parse_task({**body, "billing": []}).cost is None
        return
    assert cost == cost_of(cost.charges)
    assert len(cost.charges) <= 2 and cost.currency is None


def test_result_lists_read_in_any_order_and_from_any_mapping() -> None:
    """``task_result`` lists read the same whatever their order, from a dict or another
    ``Mapping``; keys the SDK does not know are ignored."""
    images = [{"index": 1, "url": "https://x/1.png"}]
    videos = [{"id": "v", "url": "https://x/v.mp4", "duration": "5"}]
    forward = {"images": images, "videos": videos, "result_type": "single", "other": [1]}
    backward = dict(reversed(list(forward.items())))
    tasks = [kling.parse_task({"task_id": "1", "task_status": "succeed", "task_result": result})
             for result in (forward, backward, _ReadOnly(backward))]
    assert tasks[0] == tasks[1] == tasks[2]
    assert tasks[0].urls == ("https://x/1.png", "https://x/v.mp4")
    assert tasks[0].result_type == "single"


def test_an_image_items_url_wins_over_its_views() -> None:
    """An item with ``url`` is one image; only an item without one is read as its views."""
    task = kling.parse_task({"task_id": "1", "task_status": "succeed", "task_result": {
        "images": [{"index": 0, "url": "https://x/0.png", "url_1": "https://x/a.png"},
                   {"index": 1, "url_1": "https://x/b.png", "url_3": "https://x/c.png"}]}})
    assert task.images == (Image(index=0, url="https://x/0.png"),
                           Image(index=1, url="https://x/b.png", view=1),
                           Image(index=1, url="https://x/c.png", view=3))
