"""``kling-async simulate``: run the built-in Kling simulator until SIGINT/SIGTERM.

It prints the base URL in both forms (official ``http://HOST:PORT`` and the ``/kling`` gateway
form) and the simulator's own throwaway credentials, then serves.  Exit code 0 on a signal,
1 when the server cannot start (port in use...).
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
from typing import Any

from ..testing import FaultConfig, KlingSimulator, SimulatorConfig
from ._common import on_signals, print_text

_FAULT_FLAGS = (
    "error_5xx",
    "drop_before",
    "drop_after_create",
    "malformed",
    "delay",
    "rate_limited",
)


def register(subparsers: Any) -> None:
    """Add the ``simulate`` subcommand to an argparse ``subparsers`` object."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "simulate",
        help="run an offline Kling API simulator on loopback",
        description="Serve a Kling-compatible API (official /v1 and /kling/v1 forms) offline.",
    )
    _add_server_options(parser)
    _add_limit_options(parser)
    _add_credential_options(parser)
    _add_fault_options(parser)
    _add_callback_options(parser)
    parser.set_defaults(func=run)


def _add_server_options(parser: argparse.ArgumentParser) -> None:
    """Where the simulator listens, and how its tasks behave."""
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8000,
                        help="port, 0 = any free (default: %(default)s)")
    parser.add_argument("--time-scale", type=float, default=1.0,
                        help="simulated seconds per real second (default: 1, real time)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--fail-rate", type=float, default=0.0,
                        help="share of tasks that end 'failed' (default: 0)")
    parser.add_argument("--latency", type=float, default=None,
                        help="fixed task duration in simulated seconds (default: lognormal)")


def _add_limit_options(parser: argparse.ArgumentParser) -> None:
    """The account limits the simulator enforces."""
    parser.add_argument("--concurrency-limit", type=int, default=None,
                        help="parallel task slots per account (default: unlimited)")
    parser.add_argument("--rate-limit", type=float, default=None,
                        help="requests per second per account (default: unlimited)")
    parser.add_argument("--rate-limit-retry-after", type=float, default=None,
                        help="Retry-After seconds sent with 1302 (default: no header)")
    parser.add_argument("--no-list", action="store_true",
                        help="answer the list endpoint with 404/1202")
    parser.add_argument("--bucket-limit", action="append", default=[], metavar="BUCKET=N",
                        help="parallel task slots of one model-version bucket, e.g. "
                             "video/kling-3.0=2; '*=N' for every other bucket; repeatable "
                             "(default: no per-bucket limit)")
    parser.add_argument("--tasks-id-limit", type=int, default=20,
                        help="most ids one GET /tasks takes (default: %(default)s)")
    parser.add_argument("--not-found-code", type=int, choices=(1201, 1203), default=1201,
                        help="unknown task ids: 1201 = HTTP 400 'Task not found by id/external "
                             "id' (2026), 1203 = the older HTTP 404 (default: %(default)s)")
    parser.add_argument("--charge-type", choices=("unit", "cash"), default="unit",
                        help="tasks are paid from a resource pack or the cash balance "
                             "(default: %(default)s)")


def _add_credential_options(parser: argparse.ArgumentParser) -> None:
    """The credentials the simulator accepts (generated when omitted)."""
    parser.add_argument("--api-key", default=None,
                        help="a fixed bearer key to accept (default: generated)")
    parser.add_argument("--access-key", default=None, help="JWT access key (default: generated)")
    parser.add_argument("--secret-key", default=None, help="JWT secret key (default: generated)")


def _add_fault_options(parser: argparse.ArgumentParser) -> None:
    """One ``--fault-KIND P`` probability per fault, and the delay fault's length."""
    for kind in _FAULT_FLAGS:
        parser.add_argument(
            f"--fault-{kind.replace('_', '-')}",
            type=float,
            default=0.0,
            dest=f"fault_{kind}",
            metavar="P",
            help=f"probability of the {kind} fault (default: 0)",
        )
    parser.add_argument("--delay-seconds", type=float, default=1.0,
                        help="real seconds added by the delay fault (default: 1.0)")


def _add_callback_options(parser: argparse.ArgumentParser) -> None:
    """How callbacks are signed, shaped and disturbed."""
    parser.add_argument("--webhook-secret", action="append", default=[], metavar="SECRET",
                        help="sign callbacks with this Standard Webhooks secret (whsec_...); "
                             "give it twice to sign with two, as during a rotation (default: "
                             "unsigned)")
    parser.add_argument("--callback-shape", choices=("auto", "legacy", "new"), default="auto",
                        help="callback body shape (default: auto, by the request's standard)")
    for kind in _CALLBACK_FAULTS:
        parser.add_argument(f"--callback-{kind}", type=float, default=0.0, metavar="P",
                            dest=f"callback_{kind}",
                            help=f"probability that a callback is {_CALLBACK_FAULTS[kind]} "
                                 "(default: 0)")


_CALLBACK_FAULTS = {"drop": "dropped", "duplicate": "sent twice",
                    "reorder": "sent after the end (processing)", "delay": "delayed 1 s"}


def build_simulator(args: argparse.Namespace) -> KlingSimulator:
    """A simulator configured from parsed ``simulate`` arguments (raises ValueError if bad)."""
    faults = FaultConfig(
        delay_seconds=args.delay_seconds,
        **{kind: getattr(args, f"fault_{kind}") for kind in _FAULT_FLAGS},
    )
    config = SimulatorConfig(
        time_scale=args.time_scale,
        seed=args.seed,
        fail_rate=args.fail_rate,
        latency=args.latency,
        concurrency_limit=args.concurrency_limit,
        rate_limit=args.rate_limit,
        rate_limit_retry_after=args.rate_limit_retry_after,
        list_supported=not args.no_list,
        faults=faults,
        webhook_secrets=tuple(args.webhook_secret),
        callback_shape=args.callback_shape,
        **{f"callback_{kind}": getattr(args, f"callback_{kind}") for kind in _CALLBACK_FAULTS},
        concurrency_limits=_bucket_limits(args.bucket_limit),
        tasks_id_limit=args.tasks_id_limit,
        not_found_code=args.not_found_code,
        charge_type=args.charge_type,
    )
    return KlingSimulator(
        config=config,
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        access_key=args.access_key,
        secret_key=args.secret_key,
    )


def _bucket_limits(items: list[str]) -> dict[str, int]:
    """``--bucket-limit BUCKET=N`` values as a mapping (ValueError naming a bad one)."""
    limits: dict[str, int] = {}
    for item in items:
        bucket, sep, raw = item.rpartition("=")
        if not sep or not bucket or not raw.strip().isdigit():
            raise ValueError(f"--bucket-limit: expected BUCKET=N, got {item!r}")
        limits[bucket] = int(raw)
    return limits


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM; the exit code."""
    try:
        sim = build_simulator(args)
    except (TypeError, ValueError) as exc:
        print(f"kling-async simulate: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_serve(sim))
    except KeyboardInterrupt:  # platforms without loop signal handlers
        return 0


async def _serve(sim: KlingSimulator) -> int:
    try:
        await sim.start()
    except OSError as exc:
        print(
            f"kling-async simulate: cannot listen on {sim.host}:{sim.port}: {exc}", file=sys.stderr
        )
        return 1
    stop = asyncio.Event()
    try:
        with on_signals(stop.set):
            _print_banner(sim)
            await stop.wait()
    finally:
        await sim.aclose()
    print_text("Kling simulator stopped.")
    return 0


def _print_banner(sim: KlingSimulator) -> None:
    """Where the simulator listens, the credentials it accepts, and one ready-to-paste
    ``export`` line pointing ``kling-async`` and ``KlingClient()`` at it."""
    pairs = [("KLING_BASE_URL", sim.base_url), ("KLING_API_KEY", sim.api_key),
             ("KLING_TIME_SCALE", f"{sim.config.time_scale:g}")]
    if sim.config.webhook_secrets:
        pairs.append(("KLING_WEBHOOK_SECRET", ",".join(sim.config.webhook_secrets)))
    exports = " ".join(f"{name}={shlex.quote(value)}" for name, value in pairs)
    print_text("\n".join([
        "Kling simulator running (offline; no request leaves this machine)",
        f"  base URL (official form): {sim.base_url}",
        f"  base URL (/kling gateway form): {sim.gateway_url}",
        f"  API key (Authorization: Bearer ...): {sim.api_key}",
        f"  JWT access key: {sim.access_key}",
        f"  JWT secret key: {sim.secret_key}",
        f"  introspection: {sim.base_url}/__sim/stats (same bearer key)",
        "Paste into a shell to use it from kling-async and KlingClient():",
        f"export {exports}",
        "Press Ctrl+C to stop.",
    ]))
