"""Shared CLI plumbing: server flags, building a client, printing errors and JSON."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .._client import KlingClient
from .._errors import ConfigurationError, KlingError, ValidationError
from .._policy import PollPolicy
from .._settings import ENV_TIME_SCALE, checked_time_scale, time_scale_from
from ..batch._storage import BatchStorageError
from ..batch._text import escape_surrogates

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def add_server_flags(parser: argparse.ArgumentParser) -> None:
    """``--base-url``, credentials, ``--insecure-http`` and ``--time-scale``."""
    group = parser.add_argument_group(
        "server", "override KLING_BASE_URL, KLING_API_KEY, KLING_ACCESS_KEY, KLING_SECRET_KEY"
    )
    group.add_argument("--base-url", help="API base URL, with any gateway prefix")
    group.add_argument("--api-key", help="gateway bearer key (prefer the env var)")
    group.add_argument("--access-key", help="official access key (prefer the env var)")
    group.add_argument("--secret-key", help="official secret key (prefer the env var)")
    group.add_argument("--insecure-http", action="store_true",
                       help="allow plain http:// to a non-loopback host")
    group.add_argument("--time-scale", type=float, default=None,
                       help=f"speed-up of a time-scaled simulator (env {ENV_TIME_SCALE}); "
                            "scales polling")


def time_scale(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> float | None:
    """The simulator speed-up from ``--time-scale`` or ``KLING_TIME_SCALE`` (None if unset)."""
    if getattr(args, "time_scale", None) is not None:
        return checked_time_scale(args.time_scale)
    return time_scale_from(os.environ if env is None else env)


def poll_policy(args: argparse.Namespace) -> PollPolicy:
    """The default poll policy, scaled for a time-scaled simulator when asked."""
    scale = time_scale(args)
    return PollPolicy().scaled(scale) if scale else PollPolicy()


def make_client(args: argparse.Namespace, **extra: Any) -> KlingClient:
    """A client from the environment, with the command-line flags winning."""
    overrides: dict[str, Any] = dict(extra)
    for flag in ("base_url", "api_key", "access_key", "secret_key"):
        value = getattr(args, flag, None)
        if value:
            overrides[flag] = value
    if getattr(args, "insecure_http", False):
        overrides["allow_insecure_http"] = True
    overrides.setdefault("poll", poll_policy(args))
    return KlingClient.from_env(**overrides)


def fail(message: str, code: int = EXIT_FAILED) -> int:
    """Print ``message`` on stderr; returns ``code``."""
    print(f"kling-async: {escape_surrogates(message)}", file=sys.stderr)
    return code


def exit_code_for(exc: KlingError) -> int:
    """2 for bad input or settings (and an output folder or journal that cannot be used), 1
    for API, transport and task errors."""
    usage = (ValidationError, ConfigurationError, ValueError, BatchStorageError)
    return EXIT_USAGE if isinstance(exc, usage) else EXIT_FAILED


def print_text(text: str) -> None:
    """``text`` on stdout, whatever it holds (lone surrogates escaped as ``\\udXXX``)."""
    print(escape_surrogates(text))


def print_json(value: Any) -> None:
    """``value`` as indented JSON on stdout (UTF-8 text as it is; a lone surrogate as its
    ``\\udXXX`` escape, which is still valid JSON for the same string)."""
    ascii_only = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "") \
        not in ("utf8", "utf8sig")
    sys.stdout.write(escape_surrogates(json.dumps(value, indent=2, ensure_ascii=ascii_only)))
    sys.stdout.write("\n")
    sys.stdout.flush()


@contextlib.contextmanager
def on_signals(callback: Callable[[], object]) -> Iterator[None]:
    """While inside: SIGINT and SIGTERM call ``callback`` on the running loop (where the
    platform lets a loop handle signals; elsewhere Ctrl+C stays a ``KeyboardInterrupt``)."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, callback)
            installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
