"""Reusable attrs validators and converters that raise ``ValidationError``.

Shaped like ``attrs.validators``: a small frozen callable class plus a lowercase factory
(``max_len``, ``in_range``, ``one_of``, ...), each with a readable repr.  Every validator
skips ``None`` (an unset optional field); required fields are required by the class itself.
The field named in an error is the attribute name, which is also the wire name.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import attrs

from ._errors import ValidationError

T = TypeVar("T")

#: Largest element id the API can hold (a signed 64-bit "long").
MAX_INT64 = 2**63 - 1
MIN_INT64 = -(2**63)
#: Significant digits of the longest 64-bit number; a digit string past it is never parsed.
MAX_INT64_DIGITS = 19
_SURROGATES = re.compile("[\ud800-\udfff]")


class Validator:
    """Base of the validators here: ``validator(instance, attribute, value)`` like attrs'."""

    __slots__ = ()

    def __call__(self, inst: object, attr: attrs.Attribute[Any], value: Any) -> None:
        raise NotImplementedError


@attrs.frozen(repr=False)
class _TypeValidator(Validator):
    types: tuple[type, ...]
    label: str

    def __call__(self, inst: object, attr: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            return
        bad_bool = isinstance(value, bool) and bool not in self.types
        if bad_bool or not isinstance(value, self.types):
            raise ValidationError(attr.name, f"must be {self.label}", value)

    def __repr__(self) -> str:
        return f"<instance_of {self.label}>"


def instance_of(*types: type, label: str | None = None) -> _TypeValidator:
    """The value is an instance of one of ``types`` (``bool`` never passes for ``int``)."""
    name = label or " or ".join(t.__name__ for t in types)
    return _TypeValidator(types, name)


@attrs.frozen(repr=False)
class _Required(Validator):
    def __call__(self, inst: object, attr: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            raise ValidationError(attr.name, "is required", value)

    def __repr__(self) -> str:
        return "<required>"


def required() -> _Required:
    """The value is not None: for a required nested object, whose type check skips None
    (put it before ``instance_of``)."""
    return _Required()


@attrs.frozen(repr=False)
class _NonEmpty(Validator):
    def __call__(self, inst: object, attr: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            return
        if not isinstance(value, str) or not value or value.isspace():
            raise ValidationError(attr.name, "must be a non-empty string", value)
        check_encodable(attr.name, value)

    def __repr__(self) -> str:
        return "<non_empty_str>"


def non_empty_str() -> _NonEmpty:
    """The value is a string with at least one non-blank character and no lone surrogate."""
    return _NonEmpty()


def check_encodable(field: str, text: str) -> None:
    """``text`` can be sent as UTF-8 JSON: it holds no lone surrogate (U+D800..U+DFFF), which
    ``json.loads`` produces from an escaped ``"\\ud800"`` but no UTF-8 encoder accepts."""
    if not text.isascii():
        found = _SURROGATES.search(text)
        if found is not None:
            raise ValidationError(
                field, f"must not hold a lone surrogate (U+{ord(found.group()):04X} at index "
                f"{found.start()}): it cannot be sent as UTF-8", text,
            )


@attrs.frozen(repr=False)
class _MaxLen(Validator):
    limit: int | Callable[[], int]
    label: str
    hint: str | None

    def __call__(self, inst: object, attr: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            return
        limit = self.limit if isinstance(self.limit, int) else self.limit()
        if not isinstance(value, (str, tuple, list)):
            raise ValidationError(attr.name, "must be a string", value)
        if len(value) > limit:
            raise ValidationError(
                attr.name, f"must be at most {limit} characters, got {len(value)}", value,
                hint=self.hint,
            )

    def __repr__(self) -> str:
        return f"<max_len {self.label}>"


def max_len(
    limit: int | Callable[[], int], label: str | None = None, *, hint: str | None = None
) -> _MaxLen:
    """``len(value) <= limit``; ``limit`` may be a callable read at each check (configurable)."""
    return _MaxLen(limit, label or str(limit), hint)


@attrs.frozen(repr=False)
class _LenBetween(Validator):
    low: int
    high: int
    what: str

    def __call__(self, inst: object, attr: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            return
        if not isinstance(value, (str, tuple, list)):
            raise ValidationError(attr.name, f"must be a list of {self.what}", value)
        if not self.low <= len(value) <= self.high:
            raise ValidationError(
                attr.name, f"must hold {self.low} to {self.high} {self.what}, got {len(value)}",
                value,
            )

    def __repr__(self) -> str:
        return f"<len_between {self.low}..{self.high}>"


def len_between(low: int, high: int, what: str = "items") -> _LenBetween:
    """``low <= len(value) <= high``."""
    return _LenBetween(low, high, what)


@attrs.frozen(repr=False)
class _InRange(Validator):
    low: float
    high: float
    integer: bool

    def __call__(self, inst: object, attr: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            return
        kind = int if self.integer else (int, float)
        bounds = f"[{_bound(self.low)}, {_bound(self.high)}]"
        if isinstance(value, bool) or not isinstance(value, kind):
            what = "a whole number" if self.integer else "a number"
            raise ValidationError(attr.name, f"must be {what} in {bounds}", value)
        # No float(value): an int past 1e308 would overflow.  int <= float compares exactly.
        if (isinstance(value, float) and math.isnan(value)) or not self.low <= value <= self.high:
            raise ValidationError(attr.name, f"must be in {bounds}", value)

    def __repr__(self) -> str:
        kind = "int" if self.integer else "number"
        return f"<in_range {kind} [{_bound(self.low)}, {_bound(self.high)}]>"


def _bound(limit: float) -> str:
    if limit == MAX_INT64:
        return "2**63-1"
    if limit == MIN_INT64:
        return "-2**63"
    return f"{limit:g}"


def in_range(low: float, high: float, *, integer: bool = False) -> _InRange:
    """A number (``integer=True``: an int) with ``low <= value <= high``; never a bool or NaN."""
    return _InRange(low, high, integer)


@attrs.frozen(repr=False)
class _InRangeOr(Validator):
    numbers: _InRange
    words: tuple[str, ...]

    def __call__(self, inst: object, attr: attrs.Attribute[Any], value: Any) -> None:
        if isinstance(value, str) and value in self.words:
            return
        if not isinstance(value, str):
            try:
                self.numbers(inst, attr, value)
                return
            except ValidationError:
                pass
        bounds = f"[{_bound(self.numbers.low)}, {_bound(self.numbers.high)}]"
        words = " or ".join(repr(w) for w in self.words)
        hint = None
        if isinstance(value, str) and value.strip().lower() in self.words:
            hint = f"use {value.strip().lower()!r} (values are case-sensitive)"
        raise ValidationError(attr.name, f"must be a whole number in {bounds} or {words}",
                              value, hint=hint)

    def __repr__(self) -> str:
        return f"<in_range_or {self.numbers!r} | {', '.join(self.words)}>"


def in_range_or(low: int, high: int, *words: str) -> _InRangeOr:
    """An int in ``[low, high]`` or one of the strings ``words`` (``series_amount``: 2..9 or
    ``"auto"``); never a bool or a float."""
    return _InRangeOr(_InRange(low, high, True), tuple(words))


def int64() -> _InRange:
    """A whole number a signed 64-bit integer can hold (what a server can parse)."""
    return _InRange(MIN_INT64, MAX_INT64, True)


@attrs.frozen(repr=False)
class _OneOf(Validator):
    options: tuple[str, ...]
    hints: Mapping[str, str]

    def __call__(self, inst: object, attr: attrs.Attribute[Any], value: Any) -> None:
        if value is None or (isinstance(value, str) and value in self.options):
            return
        hint = self.hints.get(value) if isinstance(value, str) else None
        if hint is None and isinstance(value, str) and value.lower() in self.options:
            hint = f"use {value.lower()!r} (values are case-sensitive)"
        choices = ", ".join(repr(o) for o in self.options)
        raise ValidationError(attr.name, f"must be one of {choices}", value, hint=hint)

    def __repr__(self) -> str:
        return f"<one_of {', '.join(self.options)}>"


def one_of(*options: str, hints: Mapping[str, str] | None = None) -> _OneOf:
    """The value is one of ``options``; ``hints`` maps known mistakes to a suggestion."""
    return _OneOf(tuple(options), dict(hints or {}))


@attrs.frozen(repr=False)
class _ItemsOf(Validator):
    item_type: type

    def __call__(self, inst: object, attr: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, tuple):
            raise ValidationError(attr.name, f"must be a list of {self.item_type.__name__}", value)
        for i, item in enumerate(value):
            if not isinstance(item, self.item_type):
                raise ValidationError(
                    f"{attr.name}[{i}]", f"must be a {self.item_type.__name__}", item,
                    hint=f"build it with kling_async.{self.item_type.__name__}(...)",
                )

    def __repr__(self) -> str:
        return f"<items_of {self.item_type.__name__}>"


def items_of(item_type: type) -> _ItemsOf:
    """The field is a tuple (see ``to_tuple``) of ``item_type`` instances."""
    return _ItemsOf(item_type)


# --- converters ---------------------------------------------------------------------------------


def to_tuple(value: Iterable[T]) -> tuple[T, ...]:
    """Lists become tuples, so requests stay hashable; anything else is left for ``items_of``."""
    if isinstance(value, (list, tuple)):
        return tuple(value)
    return value  # type: ignore[return-value]  # rejected by items_of with the field's name


def whole_number(value: Any) -> int | None:
    """``value`` as an int if it is one (never a bool) or a string of ASCII digits (blanks
    around allowed); None for anything else.  A digit string longer than any 64-bit number
    gives ``MAX_INT64 + 1`` instead of being parsed: ``int()`` of a long string is slow, and
    refused past 4,300 digits on Python 3.11+, and every caller refuses such a number."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not (text.isascii() and text.isdigit()):
        return None
    text = text.lstrip("0") or "0"
    return int(text) if len(text) <= MAX_INT64_DIGITS else MAX_INT64 + 1


def to_duration(value: str | int | None) -> str | None:
    """A duration in whole seconds as the wire string: ``5`` and ``"5"`` both become ``"5"``."""
    if value is None:
        return None
    number = whole_number(value)
    if number is None:
        raise ValidationError("duration", "must be a whole number of seconds", value)
    if number < 1:
        raise ValidationError("duration", "must be >= 1", value)
    if number > MAX_INT64:
        raise ValidationError("duration", "must be at most 2**63-1 seconds", value)
    return str(number)


def to_required_duration(value: str | int) -> str:
    """``to_duration`` for a field that must be set (a shot's duration)."""
    text = to_duration(value)
    if text is None:
        raise ValidationError("duration", "is required", value)
    return text


def to_element_id(value: int | str) -> int:
    """A 64-bit element id kept exact: an int, or a string of digits (gateways send those)."""
    number = whole_number(value)
    if number is None:
        raise ValidationError(
            "element_id", "must be an integer or a string of digits (never a float)", value
        )
    if not 1 <= number <= MAX_INT64:
        raise ValidationError("element_id", "must be in [1, 2**63-1] (a 64-bit id)", value)
    return number
