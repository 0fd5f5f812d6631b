"""``kling-async run ... --store postgresql://...`` (a fleet of workers on one batch) and
``kling-async fleet status``.

The same ``run`` command started in any number of processes, on any hosts, with the same
``--store`` (or ``KLING_STORE``) and ``--batch`` (default: the jobs file's name) cooperates on
one batch: each job is created once, by one worker; ``--max-in-flight`` is the account's
limit for the whole fleet.  Run again after everything finished, it only writes
``results.jsonl``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio

from .._admission import account_id as shared_account_id
from .._config import ENV_ACCESS_KEY, ENV_API_KEY, Limits
from .._errors import KlingError
from ..batch import RESULTS_NAME, BatchJob, format_summary
from ..batch._gallery import GALLERY_NAME
from ..batch._results import cost_line
from ._common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    api_keys,
    exit_code_for,
    fail,
    make_client,
    on_signals,
    print_text,
)

ENV_STORE = "KLING_STORE"
#: A key pool: comma-separated API keys, each its own account (``run --store`` only).
ENV_API_KEYS = "KLING_API_KEYS"


def add_run_flags(p: argparse.ArgumentParser) -> None:
    """``--store``, ``--batch`` and ``--lease-seconds`` of ``run``."""
    group = p.add_argument_group("fleet (several processes on one batch)")
    group.add_argument("--store", default=None,
                       help=f"PostgreSQL DSN of a shared store (default: ${ENV_STORE}); every "
                            "process given it works on the same batch")
    group.add_argument("--batch", default=None,
                       help="the batch's name in the store (default: the jobs file's name)")
    group.add_argument("--lease-seconds", type=float, default=30.0,
                       help="a dead worker's jobs are taken over after this long "
                            "(default: %(default)s)")


def store_dsn(args: argparse.Namespace) -> str | None:
    """The ``--store`` (or ``KLING_STORE``) DSN, or None: a single-process run."""
    return getattr(args, "store", None) or os.environ.get(ENV_STORE) or None


def account_id(args: argparse.Namespace, base_url: str) -> str:
    """A stable name for the account of the run's credentials (a hash: never the key)."""
    key = (getattr(args, "api_key", None) or os.environ.get(ENV_API_KEY)
           or getattr(args, "access_key", None) or os.environ.get(ENV_ACCESS_KEY) or "")
    return shared_account_id(base_url, key)


def key_pool_refusal(args: argparse.Namespace) -> str | None:
    """Why the command refuses its repeated ``--api-key`` (several different keys are a key
    pool, which only ``run --store`` uses), or None; never names a key."""
    keys = api_keys(args)
    if len(keys) < 2 or (getattr(args, "command", None) == "run" and store_dsn(args)):
        return None
    return (f"--api-key was given {len(keys)} different keys: several keys (a key pool, each "
            "its own account) are accepted only by 'run --store' (or $KLING_STORE); give one "
            "--api-key here")


def pool_keys(args: argparse.Namespace) -> list[str | None]:
    """The run's API keys: ``--api-key`` repeated with different keys, else
    ``KLING_API_KEYS=k1,k2`` (a key pool: each key its own account, ledger and limit) unless
    one ``--api-key`` is given; ``[None]``: the usual credentials."""
    given = api_keys(args)
    if len(given) > 1:
        return list(given)
    if given:
        return [None]
    keys = [k.strip() for k in os.environ.get(ENV_API_KEYS, "").split(",") if k.strip()]
    return list(dict.fromkeys(keys)) or [None]


def _client_for(args: argparse.Namespace, key: str | None) -> tuple[Any, str]:
    """A client for ``key`` (None: the usual credentials) and its account's name."""
    extra: dict[str, Any] = {}
    if args.max_in_flight is not None:
        extra["limits"] = Limits(max_in_flight=args.max_in_flight)
    if key is not None:  # a key of the pool, not the flag's last one
        extra["api_key"] = key
        args = argparse.Namespace(**{**vars(args), "api_key": None})
    client = make_client(args, **extra)
    account = (account_id(args, client.base_url) if key is None
               else shared_account_id(client.base_url, key))
    return client, account


def run_command(args: argparse.Namespace, jobs: list[BatchJob]) -> int:
    """``run`` with ``--store``: this process's share of the batch (one worker per key)."""
    from .._fleet import PostgresStore

    if not args.lease_seconds > 0:
        return fail(f"--lease-seconds must be > 0 (got {args.lease_seconds})", EXIT_USAGE)
    unsupported = _single_process_flags(args)
    if unsupported:
        return fail(f"{', '.join(unsupported)}: not supported with --store yet (a fleet run "
                    "would ignore them); run without --store to use them", EXIT_USAGE)
    batch = args.batch or Path(args.jobs).name
    try:
        clients = [_client_for(args, key) for key in pool_keys(args)]
        store = PostgresStore(str(store_dsn(args)), batch=batch)
    except (KlingError, ValueError) as exc:
        return fail(str(exc), exit_code_for(exc) if isinstance(exc, KlingError) else EXIT_USAGE)
    try:
        return asyncio.run(_run(clients, store, jobs, args))
    except KeyboardInterrupt:
        return fail("interrupted: the other workers (or the same command) finish the batch",
                    EXIT_INTERRUPTED)
    except KlingError as exc:
        return fail(str(exc), exit_code_for(exc))
    finally:
        store.close()


#: ``run`` flags a fleet worker does not honour yet, refused rather than silently ignored.
_SINGLE_PROCESS_FLAGS = (("max_units", "--max-units"), ("allow_unpriced", "--allow-unpriced"),
                         ("retry_failed", "--retry-failed"), ("webhook_listen", "--webhook-listen"),
                         ("webhook_url", "--webhook-url"), ("webhook_secret", "--webhook-secret"))


def _single_process_flags(args: argparse.Namespace) -> list[str]:
    """The flags given on the command line that only a single-process ``run`` honours."""
    return [flag for dest, flag in _SINGLE_PROCESS_FLAGS
            if getattr(args, dest, None) not in (None, False)]


async def _run(clients: list[tuple[Any, str]], store: Any, jobs: list[BatchJob],
               args: argparse.Namespace) -> int:
    from .._fleet import FleetResult, FleetWorker

    out = Path(args.out)
    results: list[FleetResult] = []
    async with contextlib.AsyncExitStack() as stack:
        workers = []
        for client, account in clients:
            await stack.enter_async_context(client)
            workers.append(FleetWorker(
                client, store, jobs, account=account, out_dir=out, download=args.download,
                max_in_flight=args.max_in_flight, lease_seconds=args.lease_seconds,
                max_downloads=args.max_downloads))

        def stop() -> None:
            for worker in workers:
                worker.stop()

        with on_signals(stop):
            await _all(workers, results)
    return _report(results, store, out)


async def _all(workers: list[Any], results: list[Any]) -> None:
    """Run every worker (one per key) to its end; the first typed error, if one failed."""
    from .._fleet._worker import first_error

    async def one(worker: Any) -> None:
        results.append(await worker.run())

    try:
        async with anyio.create_task_group() as tg:
            for worker in workers:
                tg.start_soon(one, worker)
    except Exception as exc:
        raise first_error(exc) from None


def _report(results: list[Any], store: Any, out: Path) -> int:
    last = results[-1]  # the last to finish saw the most (it wrote results.jsonl last)
    print_text(format_summary(last.rows))
    print_text(cost_line(last.rows))
    claimed = sum(r.claimed for r in results)
    print_text(f"\nresults: {out / RESULTS_NAME}   gallery: {out / GALLERY_NAME}\n"
               f"store: {store.name} batch {store.batch!r}"
               f"   (this process claimed {claimed} job(s))")
    refused = [r.auth_error for r in results if r.auth_error is not None]
    if refused:
        return fail(f"stopped: the server rejected an API key ({refused[0]}); fix it "
                    "and run the same command again", EXIT_FAILED)
    if any(r.interrupted for r in results):
        print("interrupted: the other workers (or the same command) finish the batch",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK if last.ok else EXIT_FAILED


def register(subparsers: Any) -> None:
    """Add ``fleet status``."""
    p = subparsers.add_parser("fleet", help="a fleet's shared store (--store)",
                              description="Inspect a fleet's shared PostgreSQL store.")
    sub = p.add_subparsers(dest="fleet_command", metavar="SUBCOMMAND")
    s = sub.add_parser("status", help="workers, leases, slots by account, jobs by state")
    s.add_argument("--store", default=None, help=f"PostgreSQL DSN (default: ${ENV_STORE})")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=_status_command)
    p.set_defaults(func=lambda _args: fail("fleet: name a subcommand (status)", EXIT_USAGE))


def _status_command(args: argparse.Namespace) -> int:
    from .._fleet import PostgresStore
    from .._fleet._status import format_status

    dsn = store_dsn(args)
    if dsn is None:
        return fail(f"fleet status needs --store or ${ENV_STORE}", EXIT_USAGE)
    try:
        store = PostgresStore(dsn, batch="default")
    except (KlingError, ValueError) as exc:
        return fail(str(exc), EXIT_USAGE)
    try:
        status = store.status()
    except KlingError as exc:
        return fail(str(exc), exit_code_for(exc))
    finally:
        store.close()
    print_text(json.dumps(status, default=str, sort_keys=True) if args.json
               else format_status(status))
    return EXIT_OK
