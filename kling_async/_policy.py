"""Frozen scheduling policies: pure values, no I/O, no clock; random draws are passed in.

Every delay is in seconds.  ``rand`` is a float in [0, 1) supplied by the caller, so tests can
pin it and schedules are exact.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import attrs

#: What a task makes, for its expected run time and its concurrency weight: ``image`` tasks
#: hold ``n`` slots and run about ``expected_image``; ``audio`` (sound, speech) and
#: ``resource`` (a custom voice or element) tasks are short, timed like images.
JobKind = Literal["image", "video", "audio", "resource"]


def _non_negative(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    if value < 0 or math.isnan(value):
        raise ValueError(f"{attribute.name} must be >= 0, got {value!r}")


def _optional_non_negative(_inst: object, attribute: attrs.Attribute[Any],
                           value: float | None) -> None:
    if value is not None:
        _non_negative(_inst, attribute, value)


def _unit(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be in [0, 1], got {value!r}")


def _jittered(base: float, jitter: float, rand: float) -> float:
    """``base * (1 + jitter * (2*rand - 1))``: jitter=1 spreads over [0, 2*base], mean ``base``."""
    return base * (1.0 + jitter * (2.0 * rand - 1.0))


@attrs.frozen(kw_only=True)
class Backoff:
    """Capped exponential backoff with full jitter (AWS "full jitter" when ``jitter=1``).

    ``delay(attempt) = cap * (1 - jitter) + cap * jitter * rand`` where
    ``cap = min(maximum, initial * factor ** attempt)`` and attempt counts from 0.
    """

    initial: float = attrs.field(default=0.5, validator=_non_negative)
    factor: float = attrs.field(default=2.0, validator=_non_negative)
    maximum: float = attrs.field(default=30.0, validator=_non_negative)
    jitter: float = attrs.field(default=1.0, validator=_unit)

    def ceiling(self, attempt: int) -> float:
        """The un-jittered delay for ``attempt`` (0-based), capped at ``maximum``."""
        exponent = min(attempt, 64)
        return min(self.maximum, self.initial * self.factor**exponent)

    def delay(self, attempt: int, *, rand: float) -> float:
        cap = self.ceiling(attempt)
        return cap * (1.0 - self.jitter) + cap * self.jitter * rand


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """When and how long the one retry loop in ``_http`` waits before trying again.

    - GETs are retried on 5xx / codes 5000-5002, 1302, 429 and network errors, at most
      ``max_attempts`` tries in all.
    - A create POST is retried only when it provably created nothing: a connection that was
      never established, or a 1302/1303 envelope.  Everything else after sending is ambiguous.
    - The wait is ``backoff.delay(attempt)``; a server ``Retry-After`` replaces it, capped at
      ``retry_after_cap``; a 1303 (concurrency) wait is at least ``concurrency_min_delay``
      (official advice: first delay >= 1 s).
    """

    max_attempts: int = attrs.field(default=6)
    backoff: Backoff = attrs.field(factory=Backoff)
    retry_after_cap: float = attrs.field(default=60.0, validator=_non_negative)
    concurrency_min_delay: float = attrs.field(default=1.0, validator=_non_negative)

    @max_attempts.validator
    def _check_attempts(self, attribute: attrs.Attribute[int], value: int) -> None:
        if value < 1:
            raise ValueError(f"max_attempts must be >= 1, got {value!r}")

    def delay(
        self, attempt: int, *, rand: float, retry_after: float | None = None,
        code: int | None = None,
    ) -> float:
        """Seconds to wait after failed try number ``attempt`` (0-based)."""
        if retry_after is not None and retry_after >= 0:
            return min(retry_after, self.retry_after_cap)
        wait = self.backoff.delay(attempt, rand=rand)
        if code == 1303:
            wait = max(wait, self.concurrency_min_delay)
        return wait


@attrs.frozen(kw_only=True)
class PollPolicy:
    """The schedule on which the shared poller queries one task, and when it gives up.

    The expected duration ``E`` of a task is estimated from its endpoint and request::

        E(image) = expected_image
        E(video) = expected_video * (seconds / 5) ** 0.6 * (pro_factor if mode == "pro" else 1)

    Poll times, measured from acceptance (``age``), are::

        first    = first_poll if set, else first_fraction * E
        interval = clamp(growth_ratio * max(E, age), min_interval, max_interval)
        next     = age + interval * (1 + jitter * (2*rand - 1))

    Until the task reaches its expected duration the interval is a constant share of ``E``
    (dense where tasks actually finish); past it the interval grows exponentially with age
    (by ``1 + growth_ratio`` a poll) up to the cap.  ``jitter=1`` is full jitter (uniform over
    [0, 2x] with the same mean); the default 0.25 de-synchronises tasks submitted together at
    a smaller cost in polls (``benchmarks/README.md`` shows the trade-off).  The task is given
    up on after ``deadline`` seconds (``None``: never).

    When at least ``bulk_threshold`` tasks of one endpoint are in flight, the poller refreshes
    them all with the list endpoint (``bulk_page_size`` per page, ``bulk_max_pages`` at most)
    instead of one GET each, no more often than every ``min_interval``; ``bulk_threshold=0``
    turns that off.  A server without listing makes the poller fall back to single GETs.

    The poller adapts that schedule to what is at stake (``kling_async._schedule`` has the
    rules): while work waits for capacity (in any bucket), an endpoint is swept in bulk from
    ``busy_bulk_threshold`` tasks in flight (0: as ``bulk_threshold``); while work waits in
    a job's own bucket, a task swept in bulk is polled every
    ``busy_ratio * E`` (within [``min_interval``, ``max_interval``]) from ``first_fraction * E`` on
    (``busy_ratio=None``: off); polled alone, its intervals are ``busy_stretch`` times the
    above.  When nothing waits, intervals are ``idle_stretch`` times the above (only latency
    is at stake).  While verified callbacks arrive for its endpoint, every delay is
    ``safety_stretch`` times longer, at most ``safety_max_interval``: polling is the safety net.
    Callbacks count as arriving until none came for ``callback_silence`` expected durations
    although the task should have ended (``callback_silence=0``: never rely on them).  Every
    ``*_stretch=1`` with ``busy_ratio=None`` and ``busy_bulk_threshold=bulk_threshold`` is the
    plain schedule above.
    """

    first_poll: float | None = attrs.field(default=None, validator=_optional_non_negative)
    first_fraction: float = attrs.field(default=0.7, validator=_non_negative)
    growth_ratio: float = attrs.field(default=0.15, validator=_non_negative)
    min_interval: float = attrs.field(default=1.0, validator=_non_negative)
    max_interval: float = attrs.field(default=30.0, validator=_non_negative)
    jitter: float = attrs.field(default=0.25, validator=_unit)
    deadline: float | None = attrs.field(default=1800.0, validator=_optional_non_negative)
    expected_image: float = attrs.field(default=20.0, validator=_non_negative)
    expected_video: float = attrs.field(default=120.0, validator=_non_negative)
    pro_factor: float = attrs.field(default=1.4, validator=_non_negative)
    bulk_threshold: int = attrs.field(default=20)
    bulk_page_size: int = attrs.field(default=500)
    bulk_max_pages: int = attrs.field(default=4)
    busy_bulk_threshold: int = attrs.field(default=4, validator=attrs.validators.ge(0))
    busy_ratio: float | None = attrs.field(default=0.075, validator=_optional_non_negative)
    busy_stretch: float = attrs.field(default=0.67, validator=_non_negative)
    idle_stretch: float = attrs.field(default=1.5, validator=_non_negative)
    safety_stretch: float = attrs.field(default=4.0, validator=_non_negative)
    safety_max_interval: float = attrs.field(default=120.0, validator=_non_negative)
    callback_silence: float = attrs.field(default=2.0, validator=_non_negative)

    @bulk_page_size.validator
    def _check_page_size(self, attribute: attrs.Attribute[int], value: int) -> None:
        if not 1 <= value <= 500:
            raise ValueError(f"bulk_page_size must be in [1, 500], got {value!r}")

    def expected_duration(self, kind: JobKind, *, seconds: float = 5.0, pro: bool = False) -> float:
        """The estimated run time ``E`` of a task of this kind (see the class docstring)."""
        if kind != "video":
            return self.expected_image
        factor: float = (max(seconds, 1.0) / 5.0) ** 0.6
        return self.expected_video * factor * (self.pro_factor if pro else 1.0)

    def bulk_threshold_for(self, waiting: bool) -> int:
        """In-flight tasks of one endpoint from which it is swept in bulk (0: never):
        ``busy_bulk_threshold`` while work waits for capacity (if lower and not 0), else
        ``bulk_threshold``."""
        busy = self.busy_bulk_threshold
        if waiting and 0 < busy < self.bulk_threshold:
            return busy
        return self.bulk_threshold

    def first_delay(self, expected: float) -> float:
        """Seconds from acceptance to the first poll."""
        if self.first_poll is not None:
            return self.first_poll
        return self.first_fraction * expected

    def interval(self, age: float, *, expected: float, rand: float) -> float:
        """Seconds from a poll at ``age`` (seconds since acceptance) to the next one."""
        stretch = self.growth_ratio * max(expected, age)
        base = min(self.max_interval, max(self.min_interval, stretch))
        return float(_jittered(base, self.jitter, rand))

    def scaled(self, speedup: float) -> PollPolicy:
        """This policy for a world running ``speedup`` times faster (a time-scaled simulator):
        every duration (expected run times, intervals, first poll, deadline) divided by it."""
        if speedup <= 0:
            raise ValueError(f"speedup must be > 0, got {speedup!r}")
        return attrs.evolve(
            self,
            first_poll=None if self.first_poll is None else self.first_poll / speedup,
            min_interval=self.min_interval / speedup,
            max_interval=self.max_interval / speedup,
            safety_max_interval=self.safety_max_interval / speedup,
            deadline=None if self.deadline is None else self.deadline / speedup,
            expected_image=self.expected_image / speedup,
            expected_video=self.expected_video / speedup,
        )
