"""What a task cost: ``Task.cost`` from ``billing[]`` (new standard) and the legacy deductions,
summed in ``statistics()``, written to ``results.jsonl`` and printed in the batch summary."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import kling_async as kling
from kling_async import Charge, Cost
from kling_async._costs import MAX_CHARGES, CostTally, parse_cost
from kling_async.batch import BatchJob, JournalStatus, parse_jobs, run_batch
from kling_async.batch._results import cost_line, result_row, total_cost
from kling_async.batch._store import JobRecord
from kling_async.cli import main
from kling_async.testing import KlingSimulator

from ._simhelpers import client_for


def _task(**fields: Any) -> dict[str, Any]:
    return {"task_id": "t1", "task_status": "succeed", **fields}


# -- reading one task's cost -----------------------------------------------------------------

def test_unit_billing_reads_as_units_of_a_pack() -> None:
    """A new-standard ``unit`` charge is units of its resource pack, exact (2.4, not 2.3999...)."""
    task = kling.parse_task(_task(billing=[
        {"charge_type": "unit", "amount": "2.4", "package_type": "video"}]))
    assert task.cost is not None
    assert task.cost.units == Decimal("2.4") and task.cost.cash is None
    assert task.cost.units_by_package == {"video": Decimal("2.4")}
    assert task.cost.charges == (Charge(charge_type="unit", amount=Decimal("2.4"),
                                        package_type="video"),)


def test_cash_billing_reads_as_money_with_its_currency() -> None:
    """A ``cash`` charge is money: discounted amount, currency and list price."""
    cost = parse_cost({"billing": [{"charge_type": "cash", "cash_type": "balance",
                                    "amount": "0.35", "currency": "usd", "list_price": "0.42"}]})
    assert cost == Cost(cash=Decimal("0.35"), currency="USD", list_price=Decimal("0.42"),
                        charges=(Charge(charge_type="cash", amount=Decimal("0.35"),
                                        cash_type="balance", currency="USD",
                                        list_price=Decimal("0.42")),))
    assert cost.units is None and cost.cash_by_currency == {"USD": Decimal("0.35")}


def test_legacy_deductions_read_as_units_and_cash() -> None:
    """Legacy ``final_unit_deduction`` is units; ``final_balance_deduction`` is cash (quota,
    list_price), with no currency stated."""
    task = kling.parse_task(_task(final_unit_deduction="1.5",
                                  final_balance_deduction={"quota": "0.2", "list_price": "0.25"}))
    assert task.cost is not None
    assert (task.cost.units, task.cost.cash, task.cost.list_price, task.cost.currency) == (
        Decimal("1.5"), Decimal("0.2"), Decimal("0.25"), None)
    assert task.final_unit_deduction == "1.5"  # the raw field stays


def test_billing_wins_over_the_legacy_fields() -> None:
    """A reply with both shapes is counted once, from ``billing[]``."""
    cost = parse_cost({"final_unit_deduction": "9", "billing": [
        {"charge_type": "unit", "amount": 1.8, "package_type": "video"}]})
    assert cost is not None and cost.units == Decimal("1.8")


def test_several_charges_are_summed_per_kind() -> None:
    """Units add up across packs; cash adds up in one currency; several currencies are not
    summed into one number (``cash_by_currency`` keeps them apart)."""
    cost = parse_cost({"billing": [
        {"charge_type": "unit", "amount": "2", "package_type": "video"},
        {"charge_type": "unit", "amount": "0.25", "package_type": "audio"},
        {"charge_type": "cash", "amount": "1", "currency": "CNY"},
        {"charge_type": "cash", "amount": "2", "currency": "USD"},
    ]})
    assert cost is not None and cost.units == Decimal("2.25")
    assert cost.units_by_package == {"video": Decimal(2), "audio": Decimal("0.25")}
    assert cost.cash is None and cost.currency is None
    assert cost.cash_by_currency == {"CNY": Decimal(1), "USD": Decimal(2)}


@pytest.mark.parametrize("body", [
    pytest.param({}, id="nothing"),
    pytest.param({"billing": []}, id="empty-billing"),
    pytest.param({"billing": "2.4"}, id="billing-not-a-list"),
    pytest.param({"billing": [1, "x", None]}, id="no-object-entries"),
    pytest.param({"final_unit_deduction": None}, id="null-deduction"),
    pytest.param({"final_balance_deduction": {"quota": "x"}}, id="unreadable-balance"),
    pytest.param("not a task", id="not-an-object"),
])
def test_no_readable_cost_is_none(body: Any) -> None:
    """A task that reports no readable charge has ``cost`` None."""
    assert parse_cost(body) is None


@pytest.mark.parametrize("amount", [
    pytest.param("NaN", id="nan-text"), pytest.param(math.nan, id="nan"),
    pytest.param("Infinity", id="inf-text"), pytest.param(math.inf, id="inf"),
    pytest.param("1e999999999", id="huge-exponent"), pytest.param(10**400, id="huge-int"),
    pytest.param("-3", id="negative"), pytest.param(True, id="bool"),
    pytest.param({"v": 1}, id="object"), pytest.param([2], id="array"),
    pytest.param("2" * 10_000, id="long-text"), pytest.param("sNaN", id="snan"),
    pytest.param("1e13", id="over-max"), pytest.param("two", id="word"),
])
def test_hostile_amounts_are_absent(amount: Any) -> None:
    """An amount that is no finite, non-negative, bounded number is read as absent; the entry
    stays, the task still parses."""
    task = kling.parse_task(_task(billing=[{"charge_type": "unit", "amount": amount,
                                            "package_type": "video"}],
                                  final_unit_deduction=amount))
    assert task.cost is not None and task.cost.units is None
    assert task.cost.charges == (Charge(charge_type="unit", package_type="video"),)


def test_amounts_keep_at_most_twelve_places() -> None:
    """A long fraction is rounded to 12 decimal places; its text form stays short."""
    cost = parse_cost({"final_unit_deduction": "0." + "3" * 60})
    assert cost is not None and cost.units == Decimal("0.333333333333")
    assert parse_cost({"final_unit_deduction": "1e-999"}) == Cost(
        units=Decimal(0), charges=(Charge(charge_type="unit", amount=Decimal(0)),))


def test_a_million_entries_read_only_the_first_few() -> None:
    """However many entries ``billing[]`` holds, at most ``MAX_CHARGES`` are read."""
    entry = {"charge_type": "unit", "amount": "1", "package_type": "video"}
    cost = parse_cost({"billing": [entry] * 1_000_000})
    assert cost is not None and len(cost.charges) == MAX_CHARGES
    assert cost.units == MAX_CHARGES


def test_odd_fields_are_read_leniently() -> None:
    """Extra fields are ignored, long or non-text enum fields are absent, and a missing
    ``charge_type`` is told by the other fields."""
    cost = parse_cost({"billing": [
        {"amount": "1", "package_type": "IMAGE", "extra": {"x": [1]}},
        {"amount": "3", "currency": "cny"},
        {"charge_type": "unit", "amount": "1", "package_type": "p" * 100},
        {"charge_type": 7, "amount": "5"},
    ]})
    assert cost is not None
    assert [c.charge_type for c in cost.charges] == ["unit", "cash", "unit", "unknown"]
    assert cost.units_by_package == {"image": Decimal(1), "": Decimal(1)}
    assert cost.cash == Decimal(3) and cost.currency == "CNY"


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=12,
)
_entry = st.fixed_dictionaries({}, optional={
    key: _json | st.sampled_from(["unit", "cash", "video", "USD", "2.4", "1e9", "NaN"])
    for key in ("charge_type", "amount", "package_type", "cash_type", "currency", "list_price")
})


@given(st.lists(_entry | _json, max_size=5), _json, _json)
def test_any_billing_parses_to_a_bounded_cost(billing: Any, units: Any, balance: Any) -> None:
    """Whatever the cost fields hold, the task parses; its cost is None or bounded finite
    Decimals, and its JSON view is strict JSON that reads back as the same cost."""
    task = kling.parse_task(_task(billing=billing, final_unit_deduction=units,
                                  final_balance_deduction=balance))
    cost = task.cost
    if cost is None:
        return
    for value in (cost.units, cost.cash, cost.list_price):
        assert value is None or (value.is_finite() and 0 <= value <= MAX_CHARGES * 10**12)
    view = cost.to_dict()
    assert parse_cost(json.loads(json.dumps(view, allow_nan=False))) == cost
    assert json.loads(task.to_json())["cost"] == view


_amount = st.none() | st.decimals(min_value=0, max_value=10**6, places=3)
_charge = st.builds(Charge, charge_type=st.sampled_from(["unit", "cash", "unknown"]),
                    amount=_amount, currency=st.sampled_from([None, "USD", "CNY"]),
                    list_price=_amount)


@given(st.lists(_charge, max_size=6))
def test_a_costs_totals_are_the_sums_of_its_charges(charges: list[Charge]) -> None:
    """cost_of: units is the sum of the unit charges' amounts, cash and list_price those of
    the cash charges in their one currency (None when none is stated, or currencies mix),
    and the charges are kept in order."""
    from kling_async._costs import cost_of

    def total(amounts: list[Decimal | None]) -> Decimal | None:
        present = [a for a in amounts if a is not None]
        return sum(present, Decimal(0)) if present else None

    cost = cost_of(iter(charges))
    cash = [c for c in charges if c.charge_type == "cash"]
    currencies = {c.currency for c in cash if c.amount is not None}
    assert cost.charges == tuple(charges)
    assert cost.units == total([c.amount for c in charges if c.charge_type == "unit"])
    if len(currencies) > 1:
        assert (cost.cash, cost.currency, cost.list_price) == (None, None, None)
    else:
        assert cost.cash == total([c.amount for c in cash])
        assert cost.list_price == total([c.list_price for c in cash])
        assert cost.currency == (currencies.pop() if currencies else None)


def test_tally_sums_tasks_in_bounded_space() -> None:
    """``CostTally`` sums units and cash of many tasks exactly, keeping at most a few keys."""
    tally = CostTally()
    for i in range(100):
        tally.add(parse_cost({"billing": [
            {"charge_type": "unit", "amount": "0.1", "package_type": f"pack{i}"},
            {"charge_type": "cash", "amount": "0.01", "currency": "USD"}]}))
    tally.add(None)
    assert tally.tasks == 100 and tally.units == Decimal(10)
    assert tally.cash_by_currency == {"USD": Decimal(1)}
    assert len(tally.units_by_package) <= 17
    assert sum(tally.units_by_package.values()) == Decimal(10)
    assert tally.summary().startswith("10.0 units (")
    assert CostTally().summary() == "none reported"


# -- totals in statistics() ------------------------------------------------------------------

@pytest.mark.anyio
async def test_statistics_sum_the_units_of_finished_tasks(sim: KlingSimulator) -> None:
    """``statistics().units_spent`` is the sum of the finished tasks' units (the simulator
    deducts one unit per kling-v1 image), and nothing is counted before a task ends."""
    async with client_for(sim) as client:
        assert client.statistics().units_spent == 0
        jobs = await client.submit_many(
            [kling.ImageGenerationRequest(prompt=f"cat {i}", n=2, model_name="kling-v1")
             for i in range(3)])
        assert client.statistics().units_spent == 0  # accepted, not finished
        tasks = [await job.result(timeout=60) for job in jobs]
        stats = client.statistics()
    assert all(t.cost is not None and t.cost.units == 2 for t in tasks)
    assert stats.units_spent == Decimal(6)
    assert stats.units_spent_by_package == {"": Decimal(6)}  # legacy replies name no pack
    assert stats.cash_spent == {}


# -- the batch: results.jsonl and the summary ------------------------------------------------

def _batch_jobs() -> list[BatchJob]:
    lines = [json.dumps({"id": f"i{i}", "endpoint": "images/generations",
                         "request": {"model_name": "kling-v1", "prompt": "a dog", "n": 2}})
             for i in range(3)]
    lines.append(json.dumps({"id": "v0", "endpoint": "videos/text2video",
                             "request": {"prompt": "a cat", "duration": "5"}}))
    return parse_jobs(lines)


@pytest.mark.anyio
async def test_results_jsonl_has_each_task_cost_and_a_rerun_keeps_it(
    sim: KlingSimulator, tmp_path: Path
) -> None:
    """Each finished row of ``results.jsonl`` carries its task's cost (2 units per 2-image
    task, 1 for a 5 s std video); the summary line sums them; a rerun reads them back from
    the journal."""
    jobs = _batch_jobs()
    for attempt in range(2):
        async with client_for(sim) as client:
            result = await run_batch(client, jobs, out_dir=tmp_path)
        rows = [json.loads(x) for x in (tmp_path / "results.jsonl").read_text().splitlines()]
        assert rows == result.rows, attempt
        assert [r["cost"]["units"] for r in rows] == ["2", "2", "2", "1"], attempt
        assert rows[0]["cost"]["billing"] == [{"charge_type": "unit", "amount": "2"}]
        assert cost_line(rows) == "cost: 7 units"
        assert total_cost(rows).units == 7 and total_cost(rows).tasks == 4
    assert len(sim.tasks()) == 4  # the rerun sent nothing


def test_unsent_and_unfinished_rows_have_no_cost() -> None:
    """A row of a job never sent, or not finished, has ``cost`` None; a journaled task whose
    cost is unreadable gives None too."""
    job = _batch_jobs()[0]
    assert result_row(job, None)["cost"] is None
    sent = JobRecord(job_id="i0", endpoint=job.endpoint, external_task_id="e",
                     status=JournalStatus.SUBMITTED,
                     task={"cost": {"units": "1", "billing": [{"charge_type": "unit",
                                                               "amount": "1"}]}})
    assert result_row(job, sent)["cost"] is None
    odd = attrs.evolve(sent, status=JournalStatus.SUCCEEDED, task={"cost": ["junk", 1e999]})
    assert result_row(job, odd)["cost"] is None
    assert cost_line([result_row(job, None)]) == "cost: none reported"


def test_the_run_summary_prints_the_units_spent(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """``kling-async demo`` (a batch run) prints what the finished tasks cost in all."""
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--time-scale", "200", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    rows = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    total = sum(Decimal(r["cost"]["units"]) for r in rows)
    assert total > 0 and f"\ncost: {format(total, 'f')} units\n" in printed


@given(st.text(alphabet="0123456789", min_size=1, max_size=64))
def test_whole_number_text_reads_as_the_general_decimal_path_does(text: str) -> None:
    """A units string of digits ("8", "0008") reads as the same exact Decimal as any number."""
    found = parse_cost({"final_unit_deduction": text})
    general = parse_cost({"final_unit_deduction": text + ".0"})
    assert (found is None) == (general is None)
    if found is not None and general is not None:
        assert found.units == general.units
        assert str(found.units) == str(Decimal(text)) == format(found.units, "f")
