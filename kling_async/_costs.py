"""What a task cost: ``Cost`` (with its ``Charge`` entries), read by ``parse_cost``, and the
running totals of many tasks (``CostTally``).

Kling reports a task's cost in two shapes (reference §3.3, §12.3):

- new standard: ``billing[]``, entries ``{charge_type: "unit" | "cash", amount, package_type
  (unit: video | image | audio), cash_type (cash: balance | test_balance), currency, list_price}``,
  ``amount`` a decimal string: the units taken from a resource pack, or the (discounted) money
  taken from the cash balance;
- legacy: ``final_unit_deduction`` (units, a string) and ``final_balance_deduction{quota,
  list_price}`` (cash, strings; no currency).

Both read into one ``Cost``: ``units`` (resource-pack units) and ``cash`` (money) as exact
``Decimal``s, plus the entries as read.  When a reply holds both shapes, ``billing[]`` wins.

The reader is lenient and never raises: numbers may be strings or JSON numbers; extra fields
are ignored; an amount that is not a finite number in [0, ``MAX_AMOUNT``] (NaN, ``"1e999"``,
a negative, ``true``, an object...) is read as absent; at most ``MAX_CHARGES`` entries are read
and amounts keep at most 12 decimal places, so whatever a server sends, a ``Cost`` stays small.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import attrs

#: Billing entries read per task (Kling sends one or two); the rest are ignored.
MAX_CHARGES = 32
#: The largest amount (units or money) of one entry; a larger one is read as absent.
MAX_AMOUNT = Decimal(10) ** 12
#: Distinct package types / currencies a ``CostTally`` keeps apart; more go under ``"other"``.
MAX_TALLY_KEYS = 16
_MAX_TEXT = 64  # longest number-as-text read
_MAX_WORD = 32  # longest charge_type / package_type / cash_type / currency kept
_PLACES = Decimal("1e-12")
#: The one arithmetic context (not the thread's, which a user may set to trap): wide enough
#: that sums of bounded amounts are exact, and no trap ever fires.
_CONTEXT = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_EVEN, traps=[])
_ZERO = Decimal(0)
#: What a JSON object may be, for ``isinstance``: a dict (what ``json.loads`` makes, checked
#: first) or any other ``Mapping`` a caller passes.  (An ABC check alone costs about 1.4 k
#: instructions on CPython 3.11, a dozen times per job of benchmark 1.)
JSON_OBJECT = (dict, Mapping)


@attrs.frozen(kw_only=True)
class Charge:
    """One entry of a task's cost: a ``billing[]`` item, or a legacy deduction as one.

    ``charge_type`` is ``"unit"`` (a resource pack paid: ``package_type`` says which) or
    ``"cash"`` (the balance paid: ``currency``, ``cash_type``, ``list_price``), lower-cased as
    sent (an unknown type is kept, and counted in neither total); ``amount`` is None when the
    entry had no readable amount."""

    charge_type: str
    amount: Decimal | None = None
    package_type: str | None = None
    cash_type: str | None = None
    currency: str | None = None
    list_price: Decimal | None = None

    def to_dict(self) -> dict[str, Any]:
        """The entry in ``billing[]``'s wire shape (amounts as decimal strings, None left out)."""
        out: dict[str, Any] = {"charge_type": self.charge_type}
        for key, value in (("amount", self.amount), ("package_type", self.package_type),
                           ("cash_type", self.cash_type), ("currency", self.currency),
                           ("list_price", self.list_price)):
            if value is not None:
                out[key] = _decimal_text(value) if isinstance(value, Decimal) else value
        return out


@attrs.frozen(kw_only=True)
class Cost:
    """What one task cost, as the server reported it (``Task.cost``).

    - ``units``: resource-pack units deducted (sum of the ``unit`` charges), None if none
      was reported; ``units_by_package`` splits them by pack (``"video"``, ``"image"``,
      ``"audio"``; ``""`` when not stated, as on legacy replies);
    - ``cash``: money deducted from the balance (sum of the ``cash`` charges, discounted
      price), None if none; ``currency`` its currency (None when not stated, as on legacy
      replies, or when charges name several: then see ``cash_by_currency``); ``list_price``
      the undiscounted price, when reported;
    - ``charges``: every entry as read.
    """

    units: Decimal | None = None
    cash: Decimal | None = None
    currency: str | None = None
    list_price: Decimal | None = None
    charges: tuple[Charge, ...] = ()

    @property
    def units_by_package(self) -> dict[str, Decimal]:
        """Units per resource-pack type (``""``: not stated)."""
        return _sum_by(self.charges, "unit", lambda c: c.package_type or "")

    @property
    def cash_by_currency(self) -> dict[str, Decimal]:
        """Cash per currency (``""``: not stated)."""
        return _sum_by(self.charges, "cash", lambda c: c.currency or "")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view: amounts as exact decimal strings, ``billing`` the entries in the
        wire shape (so ``parse_cost(cost.to_dict()) == cost``)."""
        return {
            "units": _opt_text(self.units),
            "cash": _opt_text(self.cash),
            "currency": self.currency,
            "list_price": _opt_text(self.list_price),
            "billing": [charge.to_dict() for charge in self.charges],
        }


def parse_cost(body: Any) -> Cost | None:
    """The ``Cost`` a task object reports (``billing[]``, else the legacy deductions), or None
    when it reports none.  Never raises: what cannot be read is absent."""
    if not isinstance(body, JSON_OBJECT):
        return None
    try:
        billing = body.get("billing")
        if billing is not None:
            charges = _billing(billing)
            if charges:
                return cost_of(charges)
        if "final_unit_deduction" in body or "final_balance_deduction" in body:
            return _legacy(body)
    except Exception:  # an odd Mapping, a RecursionError: a cost is never worth a failure
        return None
    return None  # (the usual create reply or running task: nothing to read)


def cost_of(charges: Iterable[Charge]) -> Cost:
    """The ``Cost`` made of ``charges`` (totals computed)."""
    entries = tuple(charges)
    unit_amounts: list[Decimal | None] = []
    cash_entries: list[Charge] = []
    for charge in entries:  # one pass: the unit charges' amounts, and the cash charges
        if charge.charge_type == "unit":
            unit_amounts.append(charge.amount)
        elif charge.charge_type == "cash":
            cash_entries.append(charge)
    units = _total(unit_amounts)
    if not cash_entries:  # (a legacy reply's usual cost: units only)
        return Cost(units=units, charges=entries)
    currencies = {c.currency for c in cash_entries if c.amount is not None}
    mixed = len(currencies) > 1
    return Cost(
        units=units,
        cash=None if mixed else _total(c.amount for c in cash_entries),
        currency=None if mixed or not currencies else currencies.pop(),
        list_price=None if mixed else _total(c.list_price for c in cash_entries),
        charges=entries,
    )


class CostTally:
    """Running totals of the costs of many tasks, in bounded space: ``units``,
    ``units_by_package``, ``cash_by_currency`` (at most ``MAX_TALLY_KEYS`` keys each) and
    ``tasks``, how many tasks reported a cost."""

    __slots__ = ("units", "units_by_package", "cash_by_currency", "tasks")

    def __init__(self) -> None:
        self.units = _ZERO
        self.units_by_package: dict[str, Decimal] = {}
        self.cash_by_currency: dict[str, Decimal] = {}
        self.tasks = 0

    def add(self, cost: Cost | None) -> None:
        """Count one task's cost (None: nothing reported, nothing counted)."""
        if cost is None:
            return
        self.tasks += 1
        if cost.units is not None:
            self.units = _CONTEXT.add(self.units, cost.units)
        for charge in cost.charges:  # as units_by_package and cash_by_currency split them
            if charge.amount is None:
                continue
            if charge.charge_type == "unit":
                _add_to(self.units_by_package, charge.package_type or "", charge.amount)
            elif charge.charge_type == "cash":
                _add_to(self.cash_by_currency, charge.currency or "", charge.amount)

    def summary(self) -> str:
        """One line for people: ``"4.8 units (video 4.8); cash 0.35 USD"``, or ``"none
        reported"``."""
        if not self.tasks:
            return "none reported"
        text = f"{_decimal_text(self.units)} units"
        if any(self.units_by_package):  # some pack named (legacy replies name none)
            text += " (" + ", ".join(f"{name or 'unstated'} {_decimal_text(amount)}"
                                     for name, amount in sorted(self.units_by_package.items()))
            text += ")"
        for currency, amount in sorted(self.cash_by_currency.items()):
            text += f"; cash {_decimal_text(amount)}" + (f" {currency}" if currency else "")
        return text


# -- reading --------------------------------------------------------------------------------

def _billing(raw: Any) -> list[Charge]:
    """The charges of a ``billing[]`` array: its object items, at most ``MAX_CHARGES``."""
    if not isinstance(raw, list):
        return []
    return [_charge(item) for item in raw[:MAX_CHARGES] if isinstance(item, JSON_OBJECT)]


def _charge(item: Mapping[str, Any]) -> Charge:
    package_type = _word(item.get("package_type"))
    currency = _word(item.get("currency"))
    currency = currency.upper() if currency else None
    cash_type = _word(item.get("cash_type"))
    list_price = amount_of(item.get("list_price"))
    charge_type = _word(item.get("charge_type"))
    if charge_type is None:  # not stated: what the other fields say it is
        cash_like = currency or cash_type or list_price is not None
        charge_type = "unit" if package_type else "cash" if cash_like else "unknown"
    return Charge(charge_type=charge_type, amount=amount_of(item.get("amount")),
                  package_type=package_type, cash_type=cash_type, currency=currency,
                  list_price=list_price)


def _legacy(body: Mapping[str, Any]) -> Cost | None:
    """``final_unit_deduction`` and ``final_balance_deduction`` as a ``Cost`` (None when
    neither holds an amount)."""
    charges = []
    units = amount_of(body.get("final_unit_deduction"))
    if units is not None:
        charges.append(Charge(charge_type="unit", amount=units))
    balance = body.get("final_balance_deduction")
    if balance is not None and isinstance(balance, JSON_OBJECT):
        quota, list_price = amount_of(balance.get("quota")), amount_of(balance.get("list_price"))
        if quota is not None or list_price is not None:
            charges.append(Charge(charge_type="cash", amount=quota, list_price=list_price))
    return cost_of(charges) if charges else None


def amount_of(value: Any) -> Decimal | None:
    """An amount: a finite number in [0, ``MAX_AMOUNT``] (a JSON number or a number as text),
    rounded to 12 decimal places; None for anything else."""
    if isinstance(value, str):
        if len(value) > _MAX_TEXT:
            return None
        if value.isascii() and value.isdigit():  # the usual "8": whole, nothing to round
            number = Decimal(value)
            return number if number <= MAX_AMOUNT else None
        number = _CONTEXT.create_decimal(value)  # NaN (no trap) when it is no number
    elif isinstance(value, int) and not isinstance(value, bool):
        if value.bit_length() > 64:
            return None
        number = Decimal(value)
    elif isinstance(value, float):
        number = _CONTEXT.create_decimal(repr(value))  # 2.4, not 2.399999999999999911...
    else:
        return None
    if not number.is_finite() or not _ZERO <= number <= MAX_AMOUNT:
        return None
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -12:
        number = _CONTEXT.quantize(number, _PLACES)
    return _CONTEXT.plus(number)  # -0 -> 0


def _word(value: Any) -> str | None:
    """A short enum-like text (lower-cased, stripped), else None."""
    if not isinstance(value, str) or len(value) > _MAX_WORD:
        return None
    text = value.strip().lower()
    return text if text and text.isprintable() else None


# -- arithmetic -----------------------------------------------------------------------------

def _total(amounts: Iterable[Decimal | None]) -> Decimal | None:
    """The sum of the amounts present; None when none is."""
    total: Decimal | None = None
    for amount in amounts:
        if amount is not None:
            total = amount if total is None else _CONTEXT.add(total, amount)
    return total


def _sum_by(charges: Iterable[Charge], charge_type: str, key: Any) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for charge in charges:
        if charge.charge_type == charge_type and charge.amount is not None:
            _add_to(out, key(charge), charge.amount)
    return out


def _add_to(totals: dict[str, Decimal], key: str, amount: Decimal) -> None:
    if key not in totals and len(totals) >= MAX_TALLY_KEYS:
        key = "other"
    totals[key] = _CONTEXT.add(totals.get(key, _ZERO), amount)


def _decimal_text(value: Decimal) -> str:
    """Plain decimal notation (``"1000"``, ``"0.35"``; never ``"1E+3"``)."""
    return format(value, "f")


def _opt_text(value: Decimal | None) -> str | None:
    return None if value is None else _decimal_text(value)
