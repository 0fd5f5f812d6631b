"""benchmarks/model_utilization: the offline model behind benchmark 7's ceiling."""

from __future__ import annotations

import pytest

from benchmarks.model_utilization import Scenario, mean_outcome, simulate


def test_with_every_end_announced_the_model_matches_the_oracle() -> None:
    """Callbacks for every end (none dropped): each next task starts within a model step of
    the end, so utilization is the oracle's."""
    outcome = mean_outcome(Scenario(drop=0.0), "periodic", 5.0, range(2))
    assert outcome.ratio >= 0.998


@pytest.mark.parametrize(("drop", "intervals"), [(1.0, (1.0, 2.0)), (0.1, (4.0, 8.0))],
                         ids=["polling-only", "webhooks-10pct-dropped"])
def test_periodic_sweeps_trade_loss_for_requests_at_a_fixed_product(
        drop: float, intervals: tuple[float, float]) -> None:
    """Sweeping every d seconds loses about drop * d / 2 per unseen end and costs m / (L d)
    sweeps per job: their product stays near drop / (2 L) (0.05 polling only at limit 10,
    0.005 with 10 % of callbacks dropped) whatever d, which is benchmark 7's ceiling."""
    scenario = Scenario(drop=drop)
    products = []
    for interval in intervals:
        outcome = mean_outcome(scenario, "periodic", interval, range(3))
        products.append((1 - outcome.ratio) * (outcome.requests_per_job - 1))
    bound = drop / (2 * scenario.limit)
    assert all(0.7 * bound <= product <= 1.3 * bound for product in products)
    assert max(products) <= 1.15 * min(products)


def test_the_hazard_schedule_sweeps_less_when_it_may_lose_more() -> None:
    """A higher loss threshold for the hazard-timed schedule means fewer sweeps and a lower
    ratio: the knob moves the point along the trade-off."""
    scenario = Scenario(jobs=120)
    dense = simulate(scenario, "hazard", 0.3, seed=1)
    sparse = simulate(scenario, "hazard", 1.0, seed=1)
    assert sparse.requests_per_job < dense.requests_per_job
    assert sparse.ratio < dense.ratio <= 1.0
