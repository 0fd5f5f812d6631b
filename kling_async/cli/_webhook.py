"""``kling-async run --webhook-listen HOST:PORT --webhook-url URL``: a webhook receiver for
the length of one batch.

``--webhook-url`` is the public URL Kling calls back (it reaches the listener, directly or
through a proxy); without it, ``http://HOST:PORT/kling-webhook``.  The listener answers
POSTs on any path with ``KlingClient.handle_webhook`` (``aiohttp_webhook_handler``), from
when the client opens until it closes.  The secret comes from ``KLING_WEBHOOK_SECRET`` (or
``--webhook-secret``; prefer the variable); without one each job's URL carries its token.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from .._client import KlingClient
from .._errors import ConfigurationError
from .._webhook_adapters import aiohttp_webhook_handler

DEFAULT_PATH = "/kling-webhook"


def add_webhook_flags(parser: argparse.ArgumentParser) -> None:
    """The ``run`` options that serve a webhook receiver during the batch."""
    group = parser.add_argument_group(
        "webhooks", "receive Kling's callbacks: jobs resolve as they end, with fewer polls")
    group.add_argument("--webhook-listen", metavar="HOST:PORT", default=None,
                       help="serve a webhook receiver here during the batch (default: none)")
    group.add_argument("--webhook-url", metavar="URL", default=None,
                       help="the public URL Kling calls back (default: KLING_WEBHOOK_URL, "
                            f"else http://HOST:PORT{DEFAULT_PATH})")
    group.add_argument("--webhook-secret", default=None,
                       help="the webhook secret (whsec_...); prefer the env var (default: "
                            "KLING_WEBHOOK_SECRET; none: each job's URL carries a token)")


def listen_address(text: str) -> tuple[str, int]:
    """(host, port) of ``HOST:PORT`` (``[::1]:PORT`` for IPv6); ``ConfigurationError``."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigurationError(f"--webhook-listen must be HOST:PORT, got {text[:80]!r}")
    return host, int(port)


def webhook_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The ``KlingClient`` arguments the webhook flags ask for (none without a listener)."""
    listen = getattr(args, "webhook_listen", None)
    if listen is None:
        return {}
    host, port = listen_address(listen)
    overrides: dict[str, Any] = {}
    if args.webhook_url:
        overrides["webhook_url"] = args.webhook_url
    else:
        overrides["webhook_url"] = f"http://{_url_host(host)}:{port}{DEFAULT_PATH}"
    if args.webhook_secret:
        overrides["webhook_secret"] = args.webhook_secret
    return overrides


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


@contextlib.asynccontextmanager
async def webhook_listener(client: KlingClient, args: argparse.Namespace
                           ) -> AsyncIterator[None]:
    """Serve ``client``'s webhook receiver on ``--webhook-listen`` while inside (nothing
    without that flag)."""
    listen = getattr(args, "webhook_listen", None)
    if listen is None:
        yield
        return
    host, port = listen_address(listen)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", aiohttp_webhook_handler(client))
    runner = web.AppRunner(app, access_log=None)  # the URLs carry job tokens
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            raise ConfigurationError(f"cannot listen for webhooks on {host}:{port}: "
                                     f"{exc.strerror or exc}") from None
        print(f"receiving webhooks on {host}:{port} for {client.webhook_url}", file=sys.stderr)
        yield
    finally:
        await runner.cleanup()
