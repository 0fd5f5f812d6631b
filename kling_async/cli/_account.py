"""``kling-async account costs|balance|packages``: the account's resource packs and its
billing deductions, one JSON object per line on stdout (``| jq`` friendly).

Times (``--start``, ``--end``) are milliseconds since the epoch or ISO 8601 dates/datetimes
(UTC unless they say otherwise); the default window is the last 30 days.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import attrs

from .._errors import ValidationError
from ._common import (
    EXIT_OK,
    EXIT_USAGE,
    add_server_flags,
    fail,
    make_client,
    print_text,
    run_async,
)

_DAY_MS = 86_400_000
_WINDOW_DAYS = 30


def register(subparsers: Any) -> None:
    """Add ``account`` with its ``costs``, ``balance`` and ``packages`` subcommands."""
    account = subparsers.add_parser(
        "account", help="resource packs and billing deductions (JSON lines)",
        description="The account's resource packs and billing deductions, one JSON object per "
                    "line.")
    commands = account.add_subparsers(dest="account_command", metavar="WHAT", required=True)
    p = commands.add_parser("costs", help="resource packs and what remains of them",
                            description="GET /account/costs: one line per resource pack.")
    _window(p)
    p.add_argument("--pack", help="only the resource pack of this name")
    p.set_defaults(func=run_async(_costs))
    p = commands.add_parser("balance", help="cash deductions (cursor-paged)",
                            description="POST /account/billing/balance: one line per "
                                        "deduction.")
    _window(p)
    _listing_flags(p)
    p.set_defaults(func=run_async(_balance))
    p = commands.add_parser("packages", help="resource-pack (units) deductions",
                            description="POST /account/billing/package: one line per "
                                        "deduction.")
    _window(p)
    _listing_flags(p)
    p.add_argument("--product-type", action="append", default=[],
                   choices=("video", "image", "try-on"), help="only this pack type (repeat "
                   "for several)")
    p.add_argument("--package-name", action="append", default=[],
                   help="only this pack name (repeat; not with --package-id)")
    p.add_argument("--package-id", action="append", default=[],
                   help="only this pack id (repeat; not with --package-name)")
    p.set_defaults(func=run_async(_packages))
    for command in commands.choices.values():
        add_server_flags(command)


def _window(p: argparse.ArgumentParser) -> None:
    p.add_argument("--start", help="window start: ms since the epoch or ISO 8601 (default: "
                   f"{_WINDOW_DAYS} days before --end)")
    p.add_argument("--end", help="window end: ms since the epoch or ISO 8601 (default: now)")


def _listing_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--api-key-name", action="append", default=[],
                   help="only deductions of this API key name (repeat for several)")
    p.add_argument("--limit", type=int, default=500,
                   help="deductions per request, 1-500 (default: %(default)s)")


def parse_time(flag: str, text: str) -> int:
    """Milliseconds since the epoch from digits or an ISO 8601 date/datetime (UTC if naive)."""
    value = text.strip()
    if value.isdigit():
        return int(value)
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(flag, "must be milliseconds since the epoch or an ISO 8601 date "
                              "(2026-11-01, 2026-11-01T12:00:00Z)", text) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return int(when.timestamp() * 1000)


def window(args: argparse.Namespace) -> tuple[int, int]:
    """(start, end) in ms from ``--start``/``--end`` (default: the last 30 days)."""
    end = (parse_time("--end", args.end) if args.end
           else int(dt.datetime.now(dt.timezone.utc).timestamp() * 1000))
    start = parse_time("--start", args.start) if args.start else end - _WINDOW_DAYS * _DAY_MS
    return max(0, start), end


def plain(value: Any) -> Any:
    """A JSON-ready view of a result: attrs classes as objects, Decimals as numbers."""
    if attrs.has(type(value)):
        return {f.name: plain(getattr(value, f.name)) for f in attrs.fields(type(value))}
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    return value


def _line(value: Any) -> bool:
    return print_text(json.dumps(plain(value), ensure_ascii=True, separators=(",", ":")))


async def _costs(args: argparse.Namespace) -> int:
    start, end = window(args)
    async with make_client(args) as client:
        for pack in await client.account.costs(start, end, resource_pack_name=args.pack):
            if not _line(pack):
                break
    return EXIT_OK


async def _print_all(details: AsyncIterator[Any]) -> int:
    """One line per detail; a closed stdout stops the listing (asyncio.run closes it)."""
    async for detail in details:
        if not _line(detail):
            break
    return EXIT_OK


async def _balance(args: argparse.Namespace) -> int:
    start, end = window(args)
    async with make_client(args) as client:
        return await _print_all(client.account.balance_deductions(
            start, end, api_key_names=args.api_key_name, limit=args.limit))


async def _packages(args: argparse.Namespace) -> int:
    if args.package_name and args.package_id:
        return fail("--package-name and --package-id exclude each other", EXIT_USAGE)
    start, end = window(args)
    async with make_client(args) as client:
        return await _print_all(client.account.package_deductions(
            start, end, api_key_names=args.api_key_name, product_types=args.product_type,
            package_names=args.package_name, package_ids=args.package_id, limit=args.limit))
