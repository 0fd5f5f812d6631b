"""``estimate_units``: the price table (reference 13.3) read from a request, an estimate."""

from __future__ import annotations

from typing import Any

import pytest

from kling_async import (
    ImageGenerationRequest,
    TextToVideoRequest,
    load_request,
)
from kling_async._prices import deduction_units, estimate_units


@pytest.mark.parametrize(("endpoint", "body", "units"), [
    ("videos/text2video", {"model_name": "kling-v3", "prompt": "p", "duration": "10",
                           "mode": "pro", "sound": "on"}, 12.0),
    ("videos/text2video", {"model_name": "kling-v3", "prompt": "p", "duration": "5"}, 3.0),
    ("videos/text2video", {"model_name": "kling-v2-5-turbo", "prompt": "p"}, 1.5),
    ("videos/omni-video", {"prompt": "p", "aspect_ratio": "16:9", "duration": "5"}, 4.0),
    ("videos/omni-video", {"model_name": "kling-v3-omni", "prompt": "p", "mode": "std",
                           "aspect_ratio": "16:9", "duration": "8", "sound": "on"}, 6.4),
    ("images/generations", {"model_name": "kling-v3", "prompt": "p", "n": 3}, 24.0),
    ("images/generations", {"model_name": "kling-v2-1", "prompt": "p"}, 4.0),
    ("images/omni-image", {"model_name": "kling-v3-omni", "prompt": "p",
                           "result_type": "series", "series_amount": 6}, 48.0),
    ("images/omni-image", {"prompt": "p", "n": 2}, 16.0),
])
def test_estimates_follow_the_price_table(endpoint: str, body: dict[str, Any],
                                          units: float) -> None:
    """Units per second x duration for videos (std 720P, pro 1080P, audio priced apart),
    units per image x count for images; the same for a request object and its wire body."""
    assert estimate_units(endpoint, body) == pytest.approx(units)
    assert estimate_units(endpoint, load_request(endpoint, body)) == pytest.approx(units)


def test_unpriced_requests_are_none_never_a_guess() -> None:
    """A model the price pages do not list, a combination they do not price, an edit of a
    base video (billed on the input's length) and an unknown endpoint have no estimate."""
    assert estimate_units("images/generations",
                          ImageGenerationRequest(prompt="p", model_name="kling-v1")) is None
    assert estimate_units("videos/text2video", TextToVideoRequest(
        prompt="p", model_name="kling-v1", aspect_ratio="16:9")) is None
    assert estimate_units("videos/text2video", {"model_name": "kling-v2-6", "prompt": "p",
                                                "sound": "on", "mode": "std"}) is None
    edit = {"prompt": "p", "video_list": [{"video_url": "https://x.example/v.mp4"}]}
    assert estimate_units("videos/omni-video", edit) is None
    assert estimate_units("videos/lip-sync", {"prompt": "p"}) is None


def test_server_deductions_are_read_leniently() -> None:
    """``final_unit_deduction`` strings become floats; anything else counts 0."""
    assert deduction_units("1.75") == 1.75 and deduction_units("0") == 0.0
    for bad in (None, "", "lots", "-3", "nan", "inf", [1]):
        assert deduction_units(bad) == 0.0
