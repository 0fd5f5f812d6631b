"""Time for the simulator: a virtual clock over a real one, and a per-account token bucket.

Simulated seconds = real seconds since start * ``time_scale``.  Changing the scale re-anchors
the clock, so simulated time never jumps or runs backwards.  The real clock is injectable
(``clock=`` on ``KlingSimulator``), which makes lifecycle tests exact and instant.
"""

from __future__ import annotations

import time
from collections.abc import Callable

RealClock = Callable[[], float]


class VirtualClock:
    """Simulated time (seconds since the simulator started) driven by a real monotonic clock."""

    __slots__ = ("_real", "_real_anchor", "_scale", "_sim_anchor", "epoch_ms")

    def __init__(self, time_scale: float, real: RealClock | None = None) -> None:
        self._real = real or time.monotonic
        self._scale = time_scale
        self._real_anchor = self._real()
        self._sim_anchor = 0.0
        #: Wall-clock milliseconds at simulated time 0 (``created_at`` etc. derive from it).
        self.epoch_ms = int(time.time() * 1000)

    @property
    def real(self) -> RealClock:
        """The real (monotonic, seconds) clock this one runs on."""
        return self._real

    @property
    def time_scale(self) -> float:
        """Simulated seconds per real second."""
        return self._scale

    def now(self) -> float:
        """Simulated seconds since start."""
        return self._sim_anchor + (self._real() - self._real_anchor) * self._scale

    def set_scale(self, time_scale: float) -> None:
        """Change the speed from now on, keeping simulated time continuous."""
        now_real = self._real()
        self._sim_anchor += (now_real - self._real_anchor) * self._scale
        self._real_anchor = now_real
        self._scale = time_scale

    def to_ms(self, sim_seconds: float) -> int:
        """Epoch milliseconds for a simulated instant."""
        return self.epoch_ms + int(sim_seconds * 1000)

    def real_delay(self, sim_seconds: float) -> float:
        """Real seconds until ``sim_seconds`` of simulated time have passed."""
        return sim_seconds / self._scale


class TokenBucket:
    """``rate`` tokens per real second, holding at most ``burst``; one token per request."""

    __slots__ = ("_burst", "_last", "_rate", "_tokens")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self._rate = rate
        self._burst = burst
        self._tokens = burst
        self._last = now

    def take(self, now: float) -> bool:
        """Spend one token if there is one; False means the request is over the rate."""
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False
