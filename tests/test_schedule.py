"""The poll schedule's rules (kling_async._schedule): pure arithmetic, exact with jitter 0."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kling_async import PollPolicy
from kling_async._schedule import CallbackHealth, first_delay, next_delay

#: No jitter: every delay is exact.
EXACT = PollPolicy(jitter=0.0)
#: Every rule of the schedule turned off: the policy's own interval.
PLAIN = PollPolicy(busy_ratio=None, busy_stretch=1.0, idle_stretch=1.0, busy_bulk_threshold=0,
                   safety_stretch=1.0, callback_silence=0.0)
E = 20.0


def delay(policy: PollPolicy = EXACT, *, age: float, waiting: bool = False, bulk: bool = False,
          callbacks: bool = False, rand: float = 0.5, expected: float = E) -> float:
    return next_delay(policy, age=age, expected=expected, waiting=waiting, bulk=bulk,
                      callbacks=callbacks, rand=rand)


@pytest.mark.parametrize(("age", "expected"), [
    pytest.param(0.0, 14.0, id="young-waits-for-its-window"),
    pytest.param(10.0, 4.0, id="nearer-the-window"),
    pytest.param(13.0, 1.5, id="a-step-at-least"),
    pytest.param(14.0, 1.5, id="in-the-window"),
    pytest.param(100.0, 1.5, id="long-overdue-still-dense"),
])
def test_waiting_work_and_a_bulk_sweep_poll_densely_where_ends_are_likely(
        age: float, expected: float) -> None:
    """Work waiting, endpoint swept in bulk: every busy_ratio*E (1.5 s) from 0.7*E (14 s) on."""
    assert delay(age=age, waiting=True, bulk=True) == pytest.approx(expected)


def test_the_dense_step_is_never_below_min_interval() -> None:
    """A tiny expected duration still polls no faster than min_interval."""
    policy = attrs.evolve(EXACT, min_interval=1.0)
    assert delay(policy, age=10.0, expected=2.0, waiting=True, bulk=True) == 1.0


def test_waiting_work_polled_task_by_task_is_denser_by_busy_stretch() -> None:
    """Work waiting, no bulk sweep: the policy's interval with growth ratio * busy_stretch."""
    assert delay(age=20.0, waiting=True) == pytest.approx(0.67 * 0.15 * 20.0)
    assert delay(age=40.0, waiting=True) == pytest.approx(0.67 * 0.15 * 40.0)


def test_busy_ratio_none_turns_the_dense_rule_off() -> None:
    """busy_ratio=None: a bulk-swept job with work waiting gets the task-by-task rule."""
    policy = attrs.evolve(EXACT, busy_ratio=None)
    assert delay(policy, age=20.0, waiting=True, bulk=True) == delay(age=20.0, waiting=True)


def test_nothing_waiting_polls_sparsely_and_keeps_max_interval() -> None:
    """Nothing waits: growth ratio * idle_stretch (1.5), still capped at max_interval."""
    assert delay(age=20.0) == pytest.approx(1.5 * 0.15 * 20.0)
    assert delay(age=1000.0) == EXACT.max_interval


def test_callbacks_stretch_every_delay_by_safety_stretch_up_to_its_cap() -> None:
    """Callbacks arriving: 4x the delay, capped at safety_max_interval (120 s)."""
    assert delay(age=20.0, callbacks=True) == pytest.approx(4 * 1.5 * 0.15 * 20.0)
    assert delay(age=1000.0, callbacks=True) == 120.0
    assert delay(age=20.0, waiting=True, bulk=True, callbacks=True) == pytest.approx(6.0)


def test_callbacks_do_not_stretch_the_wait_for_the_dense_window() -> None:
    """A young job swept in bulk is first due at 0.7*E whether callbacks arrive or not."""
    assert delay(age=0.0, waiting=True, bulk=True, callbacks=True) == pytest.approx(14.0)


def test_the_first_poll_is_the_policys_unless_callbacks_arrive() -> None:
    """first_delay: 0.7*E; with callbacks 4x that, capped at safety_max_interval."""
    assert first_delay(EXACT, expected=E, callbacks=False) == pytest.approx(14.0)
    assert first_delay(EXACT, expected=E, callbacks=True) == pytest.approx(56.0)
    assert first_delay(EXACT, expected=120.0, callbacks=True) == 120.0
    pinned = attrs.evolve(EXACT, first_poll=0.0)
    assert first_delay(pinned, expected=E, callbacks=True) == 0.0


def test_the_safety_cap_never_shortens_a_delay() -> None:
    """safety_max_interval below a delay leaves that delay as it is."""
    policy = attrs.evolve(EXACT, safety_max_interval=1.0)
    assert delay(policy, age=20.0, callbacks=True) == delay(policy, age=20.0)


ages = st.floats(min_value=0.0, max_value=10_000.0)
expecteds = st.floats(min_value=0.0, max_value=1_000.0)
rands = st.floats(min_value=0.0, max_value=0.999999)


@given(age=ages, expected=expecteds, rand=rands, waiting=st.booleans(), bulk=st.booleans(),
       callbacks=st.booleans())
def test_with_every_rule_off_the_schedule_is_the_policys_interval(
        age: float, expected: float, rand: float, waiting: bool, bulk: bool,
        callbacks: bool) -> None:
    """PLAIN (every stretch 1, busy_ratio None): exactly PollPolicy.interval, any inputs."""
    got = delay(PLAIN, age=age, expected=expected, rand=rand, waiting=waiting, bulk=bulk,
                callbacks=callbacks)
    assert got == pytest.approx(PLAIN.interval(age, expected=expected, rand=rand))


@given(age=ages, expected=expecteds, rand=rands, waiting=st.booleans(), bulk=st.booleans())
def test_callbacks_never_poll_sooner_and_never_stop_polling(
        age: float, expected: float, rand: float, waiting: bool, bulk: bool) -> None:
    """With callbacks a delay is at least the one without, and finite: bounded by the
    safety cap, the max interval (jittered) and the wait for the dense window."""
    policy = PollPolicy()
    plain = delay(policy, age=age, expected=expected, rand=rand, waiting=waiting, bulk=bulk)
    safe = delay(policy, age=age, expected=expected, rand=rand, waiting=waiting, bulk=bulk,
                 callbacks=True)
    assert plain <= safe
    bound = max(policy.safety_max_interval, policy.max_interval * (1 + policy.jitter),
                policy.first_fraction * expected)
    assert 0 < safe <= bound + 1e-9


@given(age=ages, expected=st.floats(min_value=1.0, max_value=1_000.0), rand=rands)
def test_waiting_work_is_never_polled_later_than_idle_work(
        age: float, expected: float, rand: float) -> None:
    """Past the dense window's start, a job whose bucket has waiters is polled no later than
    the same job with nothing waiting, swept in bulk or not."""
    age = max(age, 0.7 * expected)
    idle = delay(PollPolicy(), age=age, expected=expected, rand=rand)
    for bulk in (False, True):
        assert delay(PollPolicy(), age=age, expected=expected, rand=rand, waiting=True,
                     bulk=bulk) <= idle


# -- CallbackHealth -----------------------------------------------------------------------------

def test_callbacks_are_not_relied_on_before_one_was_seen() -> None:
    """No callback seen for an endpoint: not healthy, whatever the job's age."""
    health = CallbackHealth()
    assert not health.healthy("image", now=100.0, age=0.0, expected=E, silence=2.0)
    health.seen("video", 100.0)
    assert not health.healthy("image", now=100.0, age=0.0, expected=E, silence=2.0)
    assert health.last("video") == 100.0 and health.last("image") is None


@pytest.mark.parametrize(("now", "age", "healthy"), [
    pytest.param(100.0, 50.0, True, id="just-seen"),
    pytest.param(140.0, 50.0, True, id="silent-two-durations"),
    pytest.param(140.1, 50.0, False, id="silent-longer-and-overdue"),
    pytest.param(500.0, 20.0, True, id="silent-but-not-overdue"),
    pytest.param(500.0, 20.1, False, id="silent-and-just-overdue"),
])
def test_callback_health_lapses_after_silence_while_the_job_is_overdue(
        now: float, age: float, healthy: bool) -> None:
    """Healthy while the last callback is at most silence*E old, or the job is not overdue."""
    health = CallbackHealth()
    health.seen("image", 100.0)
    assert health.healthy("image", now=now, age=age, expected=E, silence=2.0) is healthy


def test_callback_silence_zero_never_relies_on_callbacks() -> None:
    """callback_silence=0: callbacks never stretch the schedule."""
    health = CallbackHealth()
    health.seen("image", 100.0)
    assert not health.healthy("image", now=100.0, age=0.0, expected=E, silence=0.0)


# -- PollPolicy's new fields -----------------------------------------------------------------

@pytest.mark.parametrize(("bulk", "busy", "waiting", "expected"), [
    pytest.param(20, 4, False, 20, id="nothing-waits"),
    pytest.param(20, 4, True, 4, id="work-waits"),
    pytest.param(20, 0, True, 20, id="busy-off"),
    pytest.param(0, 4, True, 0, id="bulk-off-stays-off"),
    pytest.param(3, 4, True, 3, id="never-higher"),
])
def test_bulk_sweeps_start_lower_while_work_waits(bulk: int, busy: int, waiting: bool,
                                                  expected: int) -> None:
    """bulk_threshold_for: busy_bulk_threshold while work waits, if lower and not 0."""
    policy = PollPolicy(bulk_threshold=bulk, busy_bulk_threshold=busy)
    assert policy.bulk_threshold_for(waiting) == expected


def test_scaled_scales_the_safety_cap_and_keeps_the_ratios() -> None:
    """scaled(10): safety_max_interval / 10; stretches and busy_ratio unchanged."""
    fast = PollPolicy().scaled(10)
    assert fast.safety_max_interval == pytest.approx(12.0)
    assert (fast.busy_ratio, fast.safety_stretch, fast.idle_stretch, fast.callback_silence) \
        == (0.075, 4.0, 1.5, 2.0)


@pytest.mark.parametrize("field", ["busy_ratio", "busy_stretch", "idle_stretch",
                                   "safety_stretch", "safety_max_interval", "callback_silence"])
def test_negative_schedule_settings_are_refused(field: str) -> None:
    """Each new duration or ratio must be >= 0."""
    with pytest.raises(ValueError, match=field):
        changes: dict[str, Any] = {field: -1.0}
        PollPolicy(**changes)
