"""Seeded fault decisions: which fault (if any) hits the next Kling API request.

One ``random.Random`` stream, used only when faults are enabled.  Per request it draws one
uniform for the exclusive kinds (considered in ``FAULT_KINDS`` order, scope-filtered by
method), one more if ``delay`` applies, and one to pick the 5xx status when ``error_5xx``
fires: the same request sequence under the same config gives the same faults.
"""

from __future__ import annotations

import random

import attrs

from ._config import FaultConfig

#: (HTTP status, business code, message) of the injected server errors.
SERVER_ERRORS: tuple[tuple[int, int, str], ...] = (
    (500, 5000, "internal server error (simulated)"),
    (503, 5001, "service unavailable (simulated)"),
    (504, 5002, "internal timeout (simulated)"),
)

_EXCLUSIVE = ("drop_before", "error_5xx", "rate_limited", "malformed", "drop_after_create")


@attrs.frozen
class FaultDecision:
    """What to do to one request: an exclusive ``kind`` (or None) and a real ``delay``."""

    kind: str | None = None
    delay: float = 0.0
    server_error: tuple[int, int, str] | None = None


NO_FAULT = FaultDecision()


class FaultInjector:
    """Draws ``FaultDecision``s from a seeded stream."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"kling-sim:{seed}:faults")

    def decide(self, faults: FaultConfig, method: str) -> FaultDecision:
        """The faults for a request with HTTP ``method`` under ``faults``."""
        if not faults.enabled:
            return NO_FAULT
        rng = self._rng
        draw = rng.random()
        kind: str | None = None
        edge = 0.0
        for name in _EXCLUSIVE:
            p = faults.applies(name, method)
            if p <= 0:
                continue
            edge += p
            if draw < edge:
                kind = name
                break
        delay = 0.0
        p_delay = faults.applies("delay", method)
        if p_delay > 0 and rng.random() < p_delay:
            delay = faults.delay_seconds
        server_error = SERVER_ERRORS[rng.randrange(3)] if kind == "error_5xx" else None
        if kind is None and delay == 0.0:
            return NO_FAULT
        return FaultDecision(kind, delay, server_error)
