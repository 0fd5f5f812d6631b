"""Shared CLI plumbing: server flags, building a client, printing errors and JSON."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import signal
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import anyio

from .._client import KlingClient
from .._config import DEFAULT_BASE_URL
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
    group.add_argument("--base-url", help="API base URL, with any gateway prefix (default: "
                       f"$KLING_BASE_URL, else {DEFAULT_BASE_URL})")
    group.add_argument("--api-key", action=ApiKeys,
                       help="gateway bearer key; prefer the env var (default: $KLING_API_KEY); "
                            "'run --store' takes it repeated: a key pool, each key its own "
                            "account (like $KLING_API_KEYS)")
    group.add_argument("--access-key", help="official access key; prefer the env var "
                       "(default: $KLING_ACCESS_KEY)")
    group.add_argument("--secret-key", help="official secret key; prefer the env var "
                       "(default: $KLING_SECRET_KEY)")
    group.add_argument("--insecure-http", action="store_true",
                       help="allow plain http:// to a non-loopback host")
    group.add_argument("--time-scale", type=float, default=None,
                       help="speed-up of a time-scaled simulator; scales polling (default: "
                            f"${ENV_TIME_SCALE}, else 1: real time)")


class ApiKeys(argparse.Action):
    """``--api-key``: ``api_key`` is the last one given, ``api_keys`` all of them in order
    (several different keys are a key pool: ``run --store`` only, see ``several_keys``)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        keys = list(getattr(namespace, "api_keys", None) or ())
        keys.append(values)
        namespace.api_keys = keys
        setattr(namespace, self.dest, values)


def api_keys(args: argparse.Namespace) -> list[str]:
    """The different keys given by repeated ``--api-key``, in order (none: ``[]``)."""
    return list(dict.fromkeys(k for k in getattr(args, "api_keys", None) or () if k))


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


def run_async(command: Callable[[argparse.Namespace], Any]
              ) -> Callable[[argparse.Namespace], int]:
    """A subcommand's ``func``: ``asyncio.run(command(args))``, its ``KlingError`` printed
    with its exit code, Ctrl-C as ``EXIT_INTERRUPTED``; a ``--timeout`` (where the command
    has one) that is not a number of seconds > 0 is refused first."""
    def run(args: argparse.Namespace) -> int:
        timeout = getattr(args, "timeout", None)
        if timeout is not None and not (math.isfinite(timeout) and timeout > 0):
            return fail(f"--timeout must be a number of seconds > 0 (got {timeout})", EXIT_USAGE)
        try:
            code: int = asyncio.run(command(args))
        except KlingError as exc:
            return fail(str(exc), exit_code_for(exc))
        except KeyboardInterrupt:
            return fail("interrupted", EXIT_INTERRUPTED)
        return code
    return run


def note(message: str) -> None:
    """Print ``kling-async: message`` on stderr (not an error: a handle, a hint)."""
    print(f"kling-async: {escape_surrogates(message)}", file=sys.stderr, flush=True)


def print_text(text: str) -> bool:
    """``text`` on stdout, whatever it holds (lone surrogates escaped as ``\\udXXX``); False
    when stdout is a closed pipe (``... | head``), which is not an error."""
    try:
        print(escape_surrogates(text), flush=True)
    except BrokenPipeError:
        stdout_closed()
        return False
    return True


def print_json(value: Any) -> bool:
    """``value`` as indented JSON on stdout (UTF-8 text as it is; a lone surrogate as its
    ``\\udXXX`` escape, which is still valid JSON for the same string); False when stdout is a
    closed pipe."""
    ascii_only = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "") \
        not in ("utf8", "utf8sig")
    text = escape_surrogates(json.dumps(value, indent=2, ensure_ascii=ascii_only))
    try:
        sys.stdout.write(text)
        sys.stdout.write("\n")
        sys.stdout.flush()
    except BrokenPipeError:
        stdout_closed()
        return False
    return True


def stdout_closed() -> None:
    """The reader of stdout went away (``| head``): point stdout at the null device, as the
    Python docs recommend, so later writes and the flush at exit do not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        finally:
            os.close(devnull)
    except (OSError, ValueError):  # stdout is not a file (already replaced)
        pass


@contextlib.contextmanager
def interruptible() -> Iterator[anyio.CancelScope]:
    """A cancel scope that SIGINT (Ctrl-C) and SIGTERM cancel: the command inside stops
    cleanly and can say what it knows (``scope.cancelled_caught``) instead of a traceback."""
    with anyio.CancelScope() as scope, on_signals(scope.cancel):
        yield scope


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
