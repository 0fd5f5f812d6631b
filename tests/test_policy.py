"""Backoff, RetryPolicy and PollPolicy: pure values whose formulas match their docstrings."""

from __future__ import annotations

import math
from typing import Any, Literal

import attrs
import pytest

from kling_async import Backoff, PollPolicy, RetryPolicy

# -- Backoff ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempt", "rand", "expected"),
    [
        pytest.param(0, 0.0, 0.0, id="a0-r0"),
        pytest.param(0, 0.5, 0.25, id="a0-r.5"),
        pytest.param(0, 0.999, 0.4995, id="a0-r.999"),
        pytest.param(1, 0.5, 0.5, id="a1-r.5"),
        pytest.param(2, 0.5, 1.0, id="a2-r.5"),
        pytest.param(3, 0.999, 3.996, id="a3-r.999"),
        pytest.param(6, 0.5, 15.0, id="a6-r.5-capped"),
        pytest.param(10, 0.999, 29.97, id="a10-r.999-capped"),
        pytest.param(1000, 0.5, 15.0, id="huge-attempt-capped-no-overflow"),
    ],
)
def test_backoff_full_jitter_exact_values(attempt: int, rand: float, expected: float) -> None:
    """Default Backoff: delay = min(30, 0.5 * 2**attempt) * rand (full jitter)."""
    assert Backoff().delay(attempt, rand=rand) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("attempt", "expected"),
    [
        pytest.param(0, 0.5, id="a0"),
        pytest.param(1, 1.0, id="a1"),
        pytest.param(5, 16.0, id="a5"),
        pytest.param(6, 30.0, id="a6-capped"),
        pytest.param(100, 30.0, id="a100-capped"),
    ],
)
def test_backoff_without_jitter_is_the_ceiling(attempt: int, expected: float) -> None:
    """jitter=0: the delay is exactly the capped exponential, whatever rand is."""
    backoff = Backoff(jitter=0.0)
    for rand in (0.0, 0.5, 0.999):
        assert backoff.delay(attempt, rand=rand) == pytest.approx(expected)
    assert backoff.ceiling(attempt) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("rand", "expected"),
    [
        pytest.param(0.0, 2.0, id="r0"),
        pytest.param(0.5, 3.0, id="r.5"),
        pytest.param(0.999, 3.998, id="r.999"),
    ],
)
def test_backoff_partial_jitter(rand: float, expected: float) -> None:
    """delay = cap*(1-jitter) + cap*jitter*rand; cap = min(maximum, initial*factor**attempt)."""
    backoff = Backoff(initial=1.0, factor=3.0, maximum=100.0, jitter=0.5)
    # attempt 1: cap = min(100, 1 * 3**1) = 3 -> 1.5 + 1.5 * rand
    assert backoff.delay(1, rand=rand) == pytest.approx(3.0 * 0.5 + 3.0 * 0.5 * rand)
    # attempt 2 with a cap of 4: cap = min(4, 9) = 4 -> 2 + 2 * rand
    capped = attrs.evolve(backoff, maximum=4.0)
    assert capped.delay(2, rand=rand) == pytest.approx(expected)


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"initial": -0.1}, id="negative-initial"),
        pytest.param({"factor": -1.0}, id="negative-factor"),
        pytest.param({"maximum": -5.0}, id="negative-maximum"),
        pytest.param({"initial": math.nan}, id="nan-initial"),
        pytest.param({"jitter": 1.5}, id="jitter-above-1"),
        pytest.param({"jitter": -0.1}, id="jitter-below-0"),
    ],
)
def test_backoff_rejects_bad_values(kwargs: dict[str, float]) -> None:
    """Backoff refuses negative/NaN durations and a jitter outside [0, 1]."""
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        Backoff(**kwargs)


# -- RetryPolicy --------------------------------------------------------------------------------


def test_retry_policy_delay_is_the_backoff_delay() -> None:
    """Without Retry-After, RetryPolicy.delay is backoff.delay(attempt, rand)."""
    policy = RetryPolicy(backoff=Backoff(initial=0.2, factor=2.0, maximum=10.0))
    assert policy.delay(0, rand=0.5) == pytest.approx(0.1)
    assert policy.delay(3, rand=0.5) == pytest.approx(0.8)
    assert policy.delay(3, rand=0.0) == 0.0


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        pytest.param(0.0, 0.0, id="zero"),
        pytest.param(7.0, 7.0, id="below-cap"),
        pytest.param(60.0, 60.0, id="at-cap"),
        pytest.param(3600.0, 60.0, id="capped"),
    ],
)
def test_retry_policy_honours_retry_after_up_to_the_cap(
    retry_after: float, expected: float
) -> None:
    """A server Retry-After replaces the backoff delay, capped at retry_after_cap."""
    policy = RetryPolicy()
    assert policy.delay(0, rand=0.5, retry_after=retry_after) == expected
    # whatever the attempt, rand or code: Retry-After is the server's own word
    assert policy.delay(4, rand=0.9, retry_after=retry_after, code=1302) == expected


def test_retry_policy_custom_retry_after_cap() -> None:
    """retry_after_cap is configurable."""
    assert RetryPolicy(retry_after_cap=5.0).delay(0, rand=0.1, retry_after=30.0) == 5.0


@pytest.mark.parametrize(
    ("attempt", "rand", "expected"),
    [
        pytest.param(0, 0.0, 1.0, id="tiny-backoff-raised-to-1s"),
        pytest.param(0, 0.999, 1.0, id="a0-still-1s"),
        pytest.param(2, 0.5, 1.0, id="a2-1s"),
        pytest.param(3, 0.5, 2.0, id="a3-above-min"),
        pytest.param(5, 0.999, 15.984, id="a5-large"),
    ],
)
def test_retry_policy_1303_waits_at_least_one_second(
    attempt: int, rand: float, expected: float
) -> None:
    """A 1303 (concurrency) wait is max(backoff delay, 1 s), per the official advice."""
    policy = RetryPolicy()
    assert policy.delay(attempt, rand=rand, code=1303) == pytest.approx(expected)
    # other codes keep the plain backoff
    assert policy.delay(attempt, rand=rand, code=1302) == pytest.approx(
        Backoff().delay(attempt, rand=rand))


def test_retry_policy_rejects_bad_values() -> None:
    """max_attempts must be >= 1 and durations non-negative."""
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="retry_after_cap"):
        RetryPolicy(retry_after_cap=-1.0)
    with pytest.raises(ValueError, match="concurrency_min_delay"):
        RetryPolicy(concurrency_min_delay=-1.0)
    assert RetryPolicy(max_attempts=1).max_attempts == 1


def test_policies_are_frozen() -> None:
    """Policies are immutable values."""
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        RetryPolicy().max_attempts = 3  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        PollPolicy().jitter = 0.0  # type: ignore[misc]


# -- PollPolicy ---------------------------------------------------------------------------------
# Every value the formulas use is given explicitly, so these tests pin the formulas, not defaults.

POLL = PollPolicy(
    first_poll=None, first_fraction=0.75, growth_ratio=0.2, min_interval=1.0, max_interval=30.0,
    jitter=0.5, expected_image=20.0, expected_video=120.0, pro_factor=1.4,
)


@pytest.mark.parametrize(
    ("kind", "seconds", "pro", "expected"),
    [
        pytest.param("image", 5.0, False, 20.0, id="image"),
        pytest.param("image", 10.0, True, 20.0, id="image-ignores-seconds-and-pro"),
        pytest.param("video", 5.0, False, 120.0, id="video-5s-std"),
        pytest.param("video", 5.0, True, 168.0, id="video-5s-pro"),
        pytest.param("video", 10.0, False, 120.0 * 2**0.6, id="video-10s-std"),
        pytest.param("video", 15.0, True, 120.0 * 3**0.6 * 1.4, id="video-15s-pro"),
    ],
)
def test_expected_duration_formula(
    kind: Literal["image", "video"], seconds: float, pro: bool, expected: float
) -> None:
    """E(image) = expected_image; E(video) = expected_video * (s/5)**0.6 * (pro_factor if pro)."""
    got = POLL.expected_duration(kind, seconds=seconds, pro=pro)
    assert got == pytest.approx(expected)


def test_first_delay_is_a_fraction_of_expected_or_fixed() -> None:
    """first = first_poll if set, else first_fraction * E."""
    assert POLL.first_delay(120.0) == pytest.approx(90.0)
    assert attrs.evolve(POLL, first_fraction=0.5).first_delay(20.0) == pytest.approx(10.0)
    assert attrs.evolve(POLL, first_poll=3.0).first_delay(120.0) == 3.0


@pytest.mark.parametrize(
    ("age", "expected", "base"),
    [
        pytest.param(0.0, 2.0, 1.0, id="short-task-clamped-to-min"),
        pytest.param(0.0, 20.0, 4.0, id="before-E-share-of-E"),
        pytest.param(15.0, 20.0, 4.0, id="still-before-E"),
        pytest.param(50.0, 20.0, 10.0, id="past-E-grows-with-age"),
        pytest.param(100.0, 20.0, 20.0, id="past-E-grows-more"),
        pytest.param(0.0, 120.0, 24.0, id="video-share-of-E"),
        pytest.param(200.0, 120.0, 30.0, id="clamped-to-max"),
        pytest.param(10_000.0, 20.0, 30.0, id="very-old-clamped-to-max"),
    ],
)
def test_interval_formula_and_clamping(age: float, expected: float, base: float) -> None:
    """interval = clamp(growth_ratio * max(E, age), min, max) * (1 + jitter * (2*rand - 1))."""
    assert POLL.interval(age, expected=expected, rand=0.5) == pytest.approx(base)
    assert POLL.interval(age, expected=expected, rand=0.0) == pytest.approx(base * 0.5)
    assert POLL.interval(age, expected=expected, rand=0.999) == pytest.approx(
        base * (1 + 0.5 * 0.998))


def test_interval_jitter_bounds() -> None:
    """With jitter j, every interval lies in [base*(1-j), base*(1+j)]."""
    policy = attrs.evolve(POLL, jitter=0.3, min_interval=2.0, max_interval=8.0, growth_ratio=0.1)
    for age in (0.0, 30.0, 55.0, 500.0):
        base = min(8.0, max(2.0, 0.1 * max(10.0, age)))
        for step in range(101):
            got = policy.interval(age, expected=10.0, rand=step / 101)
            assert base * 0.7 - 1e-9 <= got <= base * 1.3 + 1e-9
    full = attrs.evolve(POLL, jitter=1.0)
    assert full.interval(0.0, expected=1.0, rand=0.0) == 0.0
    assert full.interval(0.0, expected=1.0, rand=0.5) == pytest.approx(1.0)


def test_interval_without_jitter_is_exact() -> None:
    """jitter=0: the interval is the clamped base whatever rand is."""
    policy = attrs.evolve(POLL, jitter=0.0)
    got = [policy.interval(50.0, expected=20.0, rand=r) for r in (0.0, 0.3, 0.999)]
    assert got == [10.0, 10.0, 10.0]


def test_scaled_divides_every_duration() -> None:
    """scaled(k) divides first_poll, intervals, deadline and expected durations by k."""
    policy = attrs.evolve(POLL, first_poll=10.0, min_interval=2.0, max_interval=40.0,
                          deadline=1000.0, expected_image=30.0, expected_video=200.0)
    fast = policy.scaled(10.0)
    assert (fast.first_poll, fast.min_interval, fast.max_interval, fast.deadline,
            fast.expected_image, fast.expected_video) == pytest.approx(
        (1.0, 0.2, 4.0, 100.0, 3.0, 20.0))
    # ratios and counts are not durations: unchanged
    assert (fast.first_fraction, fast.growth_ratio, fast.jitter, fast.pro_factor,
            fast.bulk_threshold, fast.bulk_page_size) == (
        policy.first_fraction, policy.growth_ratio, policy.jitter, policy.pro_factor,
        policy.bulk_threshold, policy.bulk_page_size)
    # the same schedule, k times faster
    slow_e = policy.expected_duration("video")
    fast_e = fast.expected_duration("video")
    assert fast_e == pytest.approx(slow_e / 10)
    assert fast.interval(5.0, expected=fast_e, rand=0.3) == pytest.approx(
        policy.interval(50.0, expected=slow_e, rand=0.3) / 10)
    assert fast.first_delay(fast_e) == pytest.approx(1.0)


def test_scaled_keeps_none_values() -> None:
    """scaled() keeps first_poll=None and deadline=None as None."""
    fast = attrs.evolve(POLL, first_poll=None, deadline=None).scaled(4.0)
    assert fast.first_poll is None
    assert fast.deadline is None
    assert fast.first_delay(fast.expected_duration("image")) == pytest.approx(0.75 * 5.0)


@pytest.mark.parametrize("speedup", [pytest.param(0.0, id="zero"), pytest.param(-2.0, id="neg")])
def test_scaled_rejects_non_positive_speedup(speedup: float) -> None:
    """scaled() needs a speedup > 0."""
    with pytest.raises(ValueError, match="speedup"):
        POLL.scaled(speedup)


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"first_fraction": -0.1}, id="negative-first-fraction"),
        pytest.param({"growth_ratio": -1.0}, id="negative-growth"),
        pytest.param({"min_interval": -1.0}, id="negative-min-interval"),
        pytest.param({"max_interval": -1.0}, id="negative-max-interval"),
        pytest.param({"jitter": 2.0}, id="jitter-above-1"),
        pytest.param({"expected_image": -1.0}, id="negative-expected-image"),
        pytest.param({"expected_video": math.nan}, id="nan-expected-video"),
        pytest.param({"pro_factor": -1.0}, id="negative-pro-factor"),
        pytest.param({"first_poll": -1.0}, id="negative-first-poll"),
        pytest.param({"deadline": -1.0}, id="negative-deadline"),
        pytest.param({"bulk_page_size": 0}, id="page-size-0"),
        pytest.param({"bulk_page_size": 501}, id="page-size-501"),
    ],
)
def test_poll_policy_rejects_bad_values(kwargs: dict[str, Any]) -> None:  # Any: fields' types
    """PollPolicy refuses negative/NaN durations, jitter outside [0, 1], page sizes outside
    [1, 500]."""
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        PollPolicy(**kwargs)
