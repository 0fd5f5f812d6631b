"""The poll schedule: when to poll a job next, from what the poller knows about it.

Pure: no I/O and no clock of its own (times are passed in); random draws are passed in too,
so a schedule is exact under test.  The poller calls ``first_delay`` when it starts tracking a
job and ``next_delay`` after every status it sees, with:

- ``age``: seconds since the task was accepted; ``expected``: its expected duration ``E``;
- ``waiting``: whether work waits for capacity in the job's bucket.  Then a slot freed late is
  throughput lost; otherwise a late detection costs only latency;
- ``bulk``: whether the job's endpoint is refreshed by bulk queries (one request covers every
  task of the endpoint in flight, so the endpoint's sweep cadence is its jobs' smallest delay);
- ``callbacks``: whether verified callbacks are arriving (``CallbackHealth``): webhooks are
  then the primary signal and polling only the safety net.

The rules (``PollPolicy`` holds their numbers), with ``interval(s)`` the policy's own interval
with its growth ratio multiplied by ``s`` (``clamp(s * growth_ratio * max(E, age),
min_interval, max_interval)``, jittered):

1. work waits and the endpoint is swept in bulk: poll densely where the task is likely to
   have ended: from ``first_fraction * E`` on, every ``busy_ratio * E`` (clamped to
   [``min_interval``, ``max_interval``], jittered); a younger task first at that age.
   ``busy_ratio=None`` turns this rule off (rule 2 then applies);
2. work waits, task by task: ``interval(busy_stretch)`` (denser, each poll costs a request);
3. nothing waits: ``interval(idle_stretch)`` (sparser: only latency is at stake);
4. callbacks arriving: the delay of rules 1-3 times ``safety_stretch``, but no more than
   ``safety_max_interval`` (nor less than the delay itself).  The first poll too.

No job depends on a callback: with ``callbacks`` the delays are longer, never infinite, and
health lapses by itself (``CallbackHealth.healthy``) when callbacks stop arriving.
"""

from __future__ import annotations

from ._policy import PollPolicy


def first_delay(policy: PollPolicy, *, expected: float, callbacks: bool) -> float:
    """Seconds from a task's acceptance to its first poll."""
    delay = policy.first_delay(expected)
    return _safety(policy, delay) if callbacks else delay


def next_delay(policy: PollPolicy, *, age: float, expected: float, waiting: bool, bulk: bool,
               callbacks: bool, rand: float) -> float:
    """Seconds from a poll at ``age`` to the job's next one (see the module docstring)."""
    if waiting and bulk and policy.busy_ratio is not None:
        return _dense(policy, age, expected, rand, callbacks)
    stretch = policy.busy_stretch if waiting else policy.idle_stretch
    delay = _interval(policy, age, expected, rand, stretch)
    return _safety(policy, delay) if callbacks else delay


def _dense(policy: PollPolicy, age: float, expected: float, rand: float,
           callbacks: bool) -> float:
    """Rule 1: every ``busy_ratio * E`` from ``first_fraction * E`` on (the step, not the
    wait for that age, is stretched by rule 4)."""
    assert policy.busy_ratio is not None
    step = min(policy.max_interval, max(policy.min_interval, policy.busy_ratio * expected))
    step = _jittered(step, policy.jitter, rand)
    if callbacks:
        step = _safety(policy, step)
    return max(step, policy.first_fraction * expected - age)


def _interval(policy: PollPolicy, age: float, expected: float, rand: float,
              stretch: float) -> float:
    """The policy's interval with its growth ratio times ``stretch``: the interval grows
    with ``max(E, age)``, so stretching both stretches it (clamped all the same)."""
    return policy.interval(stretch * age, expected=stretch * expected, rand=rand)


def _safety(policy: PollPolicy, delay: float) -> float:
    """Rule 4: ``delay * safety_stretch``, capped at ``safety_max_interval`` (never below
    ``delay``)."""
    return max(delay, min(delay * policy.safety_stretch, policy.safety_max_interval))


def _jittered(base: float, jitter: float, rand: float) -> float:
    return base * (1.0 + jitter * (2.0 * rand - 1.0))


class CallbackHealth:
    """When a verified callback was last seen, per endpoint name.

    Callbacks are healthy for a job when one has been seen for its endpoint, and either the
    last one is at most ``silence * E`` old, or the job is not overdue yet (``age <= E``: it
    may simply not have ended).  So a job waits on the safety net only while callbacks are
    flowing; once none came for ``silence`` expected durations although the job should have
    ended, it is polled on the normal schedule again, by itself.
    """

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: dict[str, float] = {}

    def seen(self, endpoint: str, now: float) -> None:
        """A verified callback about a task of ``endpoint`` arrived at ``now``."""
        self._last[endpoint] = now

    def last(self, endpoint: str) -> float | None:
        """When the last verified callback of ``endpoint`` arrived (None: never)."""
        return self._last.get(endpoint)

    def healthy(self, endpoint: str, *, now: float, age: float, expected: float,
                silence: float) -> bool:
        """Whether a job of ``endpoint`` at ``age`` may rely on callbacks first (see above)."""
        last = self._last.get(endpoint)
        if last is None or silence <= 0:
            return False
        return now - last <= silence * expected or age <= expected
