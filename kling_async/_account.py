"""``client.account``: resource packs and the billing listings (reference §2.18).

Account paths have no ``/v1`` prefix (a gateway prefix in ``base_url`` still applies).

- ``costs(start_time, end_time, resource_pack_name=None)``: ``GET /account/costs``, the
  resource packs and what remains of them (``remaining_quantity`` lags about 12 h).  Its
  ``data`` wraps a second envelope (``{code, msg, resource_pack_subscribe_infos}``): a
  non-zero inner ``code`` raises the ``APIError`` of that code.  Kling asks for at most one
  call per second: calls of one client are spaced by ``costs_interval`` (1 s) at least.
- ``balance_deductions(...)`` (``POST /account/billing/balance``, cash) and
  ``package_deductions(...)`` (``POST /account/billing/package``, units): every deduction in
  ``[start_time, end_time]`` matching the filters, as an async iterator over typed details,
  following ``next_cursor`` while ``has_more`` (``limit`` details per call, at most 500).
  Values of one filter are OR-ed, different filters AND-ed; ``package_names`` and
  ``package_ids`` exclude each other.  These POSTs only read, so they are retried like GETs.

Times are milliseconds since the epoch (an ``int``) or aware ``datetime``s.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

import anyio
import attrs

from ._errors import ResponseDecodeError, ValidationError, error_class
from ._queries import epoch_ms
from ._replies import decimal, flag, items, mapping, text, whole
from ._wiring import ClientCalls

MAX_LIMIT = 500
PRODUCT_TYPES = ("video", "image", "try-on")
_MAX_MS = 253402300799999  # 9999-12-31
_MAX_CURSORS = 1_000_000  # a bound on any listing: far beyond any account's history

Calls = Callable[[], ClientCalls]
T = TypeVar("T")


@attrs.frozen(kw_only=True)
class ResourcePack:
    """A resource pack (``resource_pack_subscribe_infos[]``): name, id, type
    (``decreasing_total`` | ``constant_period``), total and remaining quantity, purchase,
    effective and expiry times (ms) and status (``toBeOnline`` | ``online`` | ``expired`` |
    ``runOut``)."""

    resource_pack_name: str | None = None
    resource_pack_id: str | None = None
    resource_pack_type: str | None = None
    total_quantity: Decimal | None = None
    remaining_quantity: Decimal | None = None
    purchase_time: int | None = None
    effective_time: int | None = None
    invalid_time: int | None = None
    status: str | None = None


@attrs.frozen(kw_only=True)
class DeductionDetail:
    """Fields of every deduction detail: the task, the API key's name, the function
    (``Image to Video``), model, resolution (``720p`` | ``1080p`` | ``4k``), video
    duration (text, video only), whether a reference video, sound (``native`` | ``original``
    | ``off``) or a voice were used, the deduction time (ms) and the amount deducted."""

    task_id: str | None = None
    api_key_name: str | None = None
    product_function: str | None = None
    model_name: str | None = None
    resolution: str | None = None
    duration: str | None = None
    refer_video_input: bool | None = None
    video_sound: str | None = None
    voice_control: bool | None = None
    deduction_time: int | None = None
    deduction_amount: Decimal | None = None


@attrs.frozen(kw_only=True)
class BalanceDeduction(DeductionDetail):
    """A cash deduction (``/account/billing/balance``): ``cash_type`` (``balance`` |
    ``test_balance``), the balance before and after, the list price and the currency
    (``CNY`` | ``USD``)."""

    cash_type: str | None = None
    balance_before_deduction: Decimal | None = None
    balance_after_deduction: Decimal | None = None
    list_price: Decimal | None = None
    currency: str | None = None


@attrs.frozen(kw_only=True)
class PackageDeduction(DeductionDetail):
    """A units deduction (``/account/billing/package``): the pack's id and type (``video``
    | ``image`` | ``try-on``) and the units before and after."""

    package_id: str | None = None
    product_type: str | None = None
    unit_before_deduction: Decimal | None = None
    unit_after_deduction: Decimal | None = None


_TEXT_FIELDS = ("task_id", "api_key_name", "product_function", "model_name", "resolution",
                "duration", "video_sound", "cash_type", "currency", "package_id",
                "product_type", "resource_pack_name", "resource_pack_id",
                "resource_pack_type", "status")
_FLAG_FIELDS = ("refer_video_input", "voice_control")
_TIME_FIELDS = ("deduction_time", "purchase_time", "effective_time", "invalid_time")


def _read(cls: type[T], item: Mapping[str, Any]) -> T:
    """``cls`` from a detail object: each field read by its kind (text, flag, time, amount)."""
    values: dict[str, Any] = {}
    for field in attrs.fields(cls):  # type: ignore[arg-type]
        raw = item.get(field.name)
        if field.name in _TEXT_FIELDS:
            values[field.name] = text(raw, 512)
        elif field.name in _FLAG_FIELDS:
            values[field.name] = flag(raw)
        elif field.name in _TIME_FIELDS:
            found = whole(raw)
            values[field.name] = found if found is not None and 0 <= found <= _MAX_MS else None
        else:
            values[field.name] = decimal(raw)
    return cls(**values)


def millis(name: str, value: int | _dt.datetime | None) -> int | None:
    """Milliseconds since the epoch from an int or an aware datetime, up to 9999-12-31;
    ``ValidationError`` otherwise."""
    return epoch_ms(name, value, high=_MAX_MS)


def _window(start_time: int | _dt.datetime | None, end_time: int | _dt.datetime | None
            ) -> tuple[int, int]:
    """Both times in ms (``millis``); ``ValidationError`` naming the one missing."""
    start, end = millis("start_time", start_time), millis("end_time", end_time)
    if start is None or end is None:
        raise ValidationError("start_time" if start is None else "end_time",
                              "is required (milliseconds since the epoch)", None)
    return start, end


def _strings(name: str, values: Iterable[str]) -> list[str]:
    if isinstance(values, str):
        raise ValidationError(name, "must be a list of strings, not one string", values)
    found = list(values)
    for i, value in enumerate(found):
        if not isinstance(value, str) or not value.strip():
            raise ValidationError(f"{name}[{i}]", "must be a non-empty string", value)
    return found


def billing_body(start_time: int | _dt.datetime | None, end_time: int | _dt.datetime | None,
                 limit: int, filters: Mapping[str, list[str]]) -> dict[str, Any]:
    """The first page's body: times (required), ``limit`` and the non-empty filters (wire
    key -> values, checked by the caller)."""
    start, end = _window(start_time, end_time)
    if start > end:
        raise ValidationError("end_time", f"must not be before start_time ({start})", end)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValidationError("limit", f"must be a whole number in [1, {MAX_LIMIT}]", limit)
    body: dict[str, Any] = {"start_time": start, "end_time": end, "limit": limit}
    chosen = [{"key": key, "values": values} for key, values in filters.items() if values]
    if chosen:
        body["filters"] = chosen
    return body


class Account:
    """``client.account``: ``costs``, ``balance_deductions``, ``package_deductions``."""

    def __init__(self, calls: Calls, clock: Callable[[], float],
                 sleep: Callable[[float], Awaitable[Any]]) -> None:
        self._calls = calls
        self._clock = clock
        self._sleep = sleep
        self._lock = anyio.Lock()
        self._last: float | None = None
        #: Seconds between the starts of two ``costs`` calls (Kling: QPS <= 1).
        self.costs_interval = 1.0

    async def costs(self, start_time: int | _dt.datetime, end_time: int | _dt.datetime,
                    resource_pack_name: str | None = None) -> tuple[ResourcePack, ...]:
        """The account's resource packs in ``[start_time, end_time]`` (optionally one by
        name)."""
        start, end = _window(start_time, end_time)
        params = {"start_time": str(start), "end_time": str(end)}
        if resource_pack_name is not None:
            params["resource_pack_name"] = _strings("resource_pack_name",
                                                    [resource_pack_name])[0]
        calls = self._calls()
        async with self._lock:
            await self._space()
            try:
                data = await calls.call("GET", "/account/costs", params=params)
            finally:
                self._last = self._clock()
        return _packs(data)

    async def _space(self) -> None:
        if self._last is None:
            return
        wait = self._last + self.costs_interval - self._clock()
        if wait > 0:
            await self._sleep(wait)

    async def balance_deductions(
        self, start_time: int | _dt.datetime, end_time: int | _dt.datetime, *,
        api_key_names: Iterable[str] = (), limit: int = MAX_LIMIT,
    ) -> AsyncIterator[BalanceDeduction]:
        """Cash deductions, newest first as Kling sends them."""
        body = billing_body(start_time, end_time, limit,
                            {"api_key_name": _strings("api_key_names", api_key_names)})
        pages = self._details("/account/billing/balance", body, BalanceDeduction)
        async with contextlib.aclosing(pages):
            async for detail in pages:
                yield detail

    async def package_deductions(
        self, start_time: int | _dt.datetime, end_time: int | _dt.datetime, *,
        api_key_names: Iterable[str] = (), product_types: Iterable[str] = (),
        package_names: Iterable[str] = (), package_ids: Iterable[str] = (),
        limit: int = MAX_LIMIT,
    ) -> AsyncIterator[PackageDeduction]:
        """Units deductions from resource packs."""
        kinds = _strings("product_types", product_types)
        for i, kind in enumerate(kinds):
            if kind not in PRODUCT_TYPES:
                raise ValidationError(f"product_types[{i}]", "must be one of "
                                      + ", ".join(repr(p) for p in PRODUCT_TYPES), kind)
        names, ids = _strings("package_names", package_names), _strings("package_ids",
                                                                        package_ids)
        if names and ids:
            raise ValidationError("package_ids", "cannot be combined with package_names "
                                  "(Kling refuses both filters at once)", ids)
        body = billing_body(start_time, end_time, limit, {
            "api_key_name": _strings("api_key_names", api_key_names), "product_type": kinds,
            "package_name": names, "package_id": ids})
        pages = self._details("/account/billing/package", body, PackageDeduction)
        async with contextlib.aclosing(pages):
            async for detail in pages:
                yield detail

    async def _details(self, path: str, body: dict[str, Any], cls: type[T]
                       ) -> AsyncGenerator[T, None]:
        calls = self._calls()
        seen: set[str] = set()
        for _ in range(_MAX_CURSORS):
            data = mapping(await calls.call("POST", path, body=body))
            result = mapping(data.get("result"))
            for detail in items(result.get("detail"), lambda item: _read(cls, item)):
                yield detail
            cursor = text(data.get("next_cursor"), 4096)
            if flag(data.get("has_more")) is not True or cursor is None:
                return
            if cursor in seen:
                raise ResponseDecodeError(f"POST {path}: next_cursor repeats an earlier one")
            seen.add(cursor)
            body = {"cursor": cursor}


def _packs(data: Any) -> tuple[ResourcePack, ...]:
    """The packs of a costs reply; the inner envelope's non-zero ``code`` is an APIError."""
    inner = mapping(data)
    code = whole(inner.get("code"))
    if code not in (0, None):
        message = text(inner.get("msg"), 500) or text(inner.get("message"), 500) or "failed"
        raise error_class(None, code)(f"GET /account/costs: {message}", http_status=None,
                                      code=code)
    return items(inner.get("resource_pack_subscribe_infos"), lambda i: _read(ResourcePack, i))
