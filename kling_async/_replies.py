"""Lenient, bounded readers of the ``data`` of synchronous, resource and account replies.

Servers (and gateways) send numbers as text and ids as numbers; these readers take both, keep
text short and printable, and answer None (or an empty tuple) for anything else, so a hostile
reply can only lose fields, never raise anything but ``ResponseDecodeError`` where a field is
essential (``required_text``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import attrs

from ._errors import ResponseDecodeError

T = TypeVar("T")
_EMPTY: Mapping[str, Any] = {}
MAX_TEXT = 4096
MAX_ITEMS = 10_000
_MAX_NUMBER_TEXT = 64


def mapping(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else an empty one."""
    return value if isinstance(value, Mapping) else _EMPTY


def text(value: Any, limit: int = MAX_TEXT) -> str | None:
    """A string (or a whole number's text: ids may come as numbers), printable, at most
    ``limit`` characters; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        value = str(value) if value.bit_length() <= 128 else None
    if not isinstance(value, str) or not value or len(value) > limit:
        return None
    return "".join(c if c.isprintable() else "?" for c in value)


def required_text(data: Mapping[str, Any], key: str, what: str) -> str:
    """``text(data[key])``, or ``ResponseDecodeError`` naming ``what`` lacks it."""
    found = text(data.get(key), 256)
    if found is None:
        raise ResponseDecodeError(f"{what}: the reply has no usable {key!r}")
    return found


def number(value: Any) -> float | None:
    """A finite float from a JSON number or number text; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and len(value) <= _MAX_NUMBER_TEXT:
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, int):
        value = float(value) if value.bit_length() <= 1000 else None
    if isinstance(value, float) and math.isfinite(value):
        return value
    return None


def whole(value: Any) -> int | None:
    """An int from a JSON number (integral) or digit text; None otherwise."""
    found = number(value)
    if found is None or not found.is_integer():
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return int(found)


def decimal(value: Any) -> Decimal | None:
    """An exact ``Decimal`` from a JSON number or number text (money, units); None otherwise."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    raw = str(value) if isinstance(value, (int, float, str)) else None
    if raw is None or not raw or len(raw) > _MAX_NUMBER_TEXT:
        return None
    try:
        found = Decimal(raw.strip())
    except InvalidOperation:
        return None
    return found if found.is_finite() else None


def flag(value: Any) -> bool | None:
    """A JSON boolean (or ``"true"``/``"false"``); None otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def items(value: Any, make: Callable[[Mapping[str, Any]], T | None]) -> tuple[T, ...]:
    """``make`` of each JSON object in the list ``value`` (at most ``MAX_ITEMS``), skipping
    what is not an object or what ``make`` declines."""
    if not isinstance(value, list):
        return ()
    found = (make(item) for item in value[:MAX_ITEMS] if isinstance(item, Mapping))
    return tuple(item for item in found if item is not None)


@attrs.frozen(kw_only=True)
class Deduction:
    """What a call cost, as Kling reports it: ``units`` (``final_unit_deduction``, units of a
    resource pack) and, for accounts billed in cash, ``final_balance_deduction``'s ``quota``
    (the discounted price) and ``list_price``.  Exact decimals; None when absent."""

    units: Decimal | None = None
    quota: Decimal | None = None
    list_price: Decimal | None = None


def deduction(data: Mapping[str, Any]) -> Deduction:
    """The ``Deduction`` of a reply's ``data``."""
    balance = mapping(data.get("final_balance_deduction"))
    return Deduction(units=decimal(data.get("final_unit_deduction")),
                     quota=decimal(balance.get("quota")),
                     list_price=decimal(balance.get("list_price")))
