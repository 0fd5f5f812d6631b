"""``kling-async run`` (a journaled batch from a JSONL file) and ``kling-async demo``."""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
import textwrap
from importlib import resources
from pathlib import Path
from typing import Any

from .._client import KlingClient
from .._config import Limits
from .._errors import KlingError
from .._policy import PollPolicy
from ..batch import (
    JOURNAL_NAME,
    RESULTS_NAME,
    BatchJob,
    BatchResult,
    BatchRunner,
    JobsFileError,
    ProgressDisplay,
    SqliteJobStore,
    format_summary,
    load_jobs,
    parse_jobs,
)
from ..batch._budget import SpendGuard
from ..batch._fetch import plain_name
from ..batch._gallery import GALLERY_NAME
from ..batch._jobsfile import split_lines
from ..batch._partial import remove_leftovers
from ..batch._results import cost_line
from ..batch._storage import make_folder, storage_error
from ._common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    add_server_flags,
    exit_code_for,
    fail,
    make_client,
    on_signals,
    print_text,
)
from ._fleet import add_run_flags, run_command, store_dsn
from ._webhook import add_webhook_flags, webhook_listener, webhook_overrides

#: The demo's simulator speed-up: its mixed batch ends in about 5-15 seconds.
DEMO_TIME_SCALE = 25.0
DEMO_OUT = "demo-results"


def register(subparsers: Any) -> None:
    """Add ``run`` and ``demo``."""
    p = subparsers.add_parser(
        "run", help="run (or resume) a batch of jobs from a JSONL file",
        description="Run a JSONL batch with a crash-safe journal; the same command resumes.",
    )
    p.add_argument("jobs", help='JSONL file: {"id": ..., "endpoint": ..., "request": {...}}')
    p.add_argument("--out", default="kling-results",
                   help="output folder: journal, results.jsonl, files (default: %(default)s)")
    _add_batch_flags(p)
    add_server_flags(p)
    p.add_argument("--retry-failed", action="store_true",
                   help="send the jobs that ended 'failed' in a previous run of this --out "
                        "folder again, as new tasks (paid again; default: failed jobs stay "
                        "failed)")
    p.add_argument("--max-units", type=float, default=None, metavar="N",
                   help="spend at most N units: refuse a batch estimated over N, stop "
                        "sending once N are spent (default: no limit)")
    p.add_argument("--allow-unpriced", action="store_true",
                   help="with --max-units: count jobs the price table has no price for as 0 "
                        "in the estimate instead of refusing the batch")
    p.add_argument("--max-in-flight", type=int, default=None,
                   help="most concurrency slots held at once, the account's limit (default: "
                        f"{Limits().max_in_flight})")
    add_webhook_flags(p)
    add_run_flags(p)
    p.set_defaults(func=_run_command)

    p = subparsers.add_parser(
        "demo", help="run a sample batch against the built-in simulator (no account needed)",
        description="Run a sample batch (or --jobs) against the built-in simulator, offline.",
    )
    p.add_argument("--out", default=DEMO_OUT, help="output folder (default: %(default)s)")
    p.add_argument("--jobs", default=None, help="a JSONL jobs file (default: the built-in sample)")
    p.add_argument("--time-scale", type=float, default=DEMO_TIME_SCALE,
                   help="simulator speed-up (default: %(default)g)")
    p.add_argument("--seed", type=int, default=7, help="simulator seed (default: %(default)s)")
    _add_batch_flags(p, download_default=True)
    p.set_defaults(func=_demo_command)


def _add_batch_flags(p: argparse.ArgumentParser, download_default: bool = False) -> None:
    if download_default:
        p.add_argument("--no-download", dest="download", action="store_false",
                       help="do not download the results")
    else:
        p.add_argument("--download", action="store_true",
                       help="download result files into the output folder")
    p.set_defaults(download=download_default)
    p.add_argument("--max-downloads", type=int, default=4,
                   help="parallel downloads (default: %(default)s)")
    p.add_argument("--no-progress", action="store_true", help="no progress display")


def _run_command(args: argparse.Namespace) -> int:
    if args.max_downloads < 1:
        return fail(f"--max-downloads must be >= 1 (got {args.max_downloads})", EXIT_USAGE)
    if args.max_units is not None and not (math.isfinite(args.max_units) and args.max_units > 0):
        return fail(f"--max-units must be a number of units > 0 (got {args.max_units})",
                    EXIT_USAGE)
    try:
        jobs = load_jobs(args.jobs)
    except JobsFileError as exc:
        return fail(str(exc), EXIT_USAGE)
    if store_dsn(args):  # a fleet: any number of processes on one batch
        return run_command(args, jobs)
    try:
        extra: dict[str, Any] = webhook_overrides(args)
        if args.max_in_flight is not None:
            extra["limits"] = Limits(max_in_flight=args.max_in_flight)
        client = make_client(args, **extra)
        store = open_journal(Path(args.out))
    except (KlingError, ValueError) as exc:
        return fail(str(exc), EXIT_USAGE)
    return _guarded(_batch(client, jobs, store, Path(args.out), args))


def _demo_command(args: argparse.Namespace) -> int:
    try:
        if args.jobs:
            jobs = load_jobs(args.jobs)
        else:
            text = resources.files("kling_async.cli").joinpath("demo_jobs.jsonl").read_text(
                encoding="utf-8")
            jobs = parse_jobs(split_lines(text), source="demo_jobs.jsonl")
    except JobsFileError as exc:
        return fail(str(exc), EXIT_USAGE)
    if not args.time_scale > 0:
        return fail(f"--time-scale must be > 0 (got {args.time_scale})", EXIT_USAGE)
    if args.max_downloads < 1:
        return fail(f"--max-downloads must be >= 1 (got {args.max_downloads})", EXIT_USAGE)
    out = Path(args.out)
    try:
        _reset_demo_folder(out)
        store = open_journal(out)
    except KlingError as exc:
        return fail(str(exc), exit_code_for(exc))
    return _guarded(_demo(jobs, store, out, args))


def _guarded(coro: Any) -> int:
    try:
        code: int = asyncio.run(coro)
    except KeyboardInterrupt:
        print(_RESUME_HINT, file=sys.stderr)
        return EXIT_INTERRUPTED
    except KlingError as exc:
        return fail(str(exc), exit_code_for(exc))
    return code


_RESUME_HINT = ("interrupted: nothing sent is lost (see the journal); "
                "run the same command again to resume")


def _units_line(result: BatchResult, args: argparse.Namespace) -> str:
    """``units spent: X`` (as the server reported them for the tasks that ended in this
    run), with the limit when there is one."""
    limit = getattr(args, "max_units", None)
    extra = f" (limit {limit:g})" if limit is not None else ""
    return f"units spent: {result.units_spent:g}{extra}"


def _terminal_width(stream: Any) -> int | None:
    """The width of the terminal ``stream`` writes to, or None when it is not one."""
    try:
        if stream.isatty():
            return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        pass
    return None


def _say(message: str) -> None:
    """``message`` on stderr, wrapped to the terminal's width when it is one."""
    width = _terminal_width(sys.stderr)
    if width is not None and width > 20:
        message = "\n".join(textwrap.wrap(message, width - 1, break_on_hyphens=False))
    print(message, file=sys.stderr)


def open_journal(out: Path) -> SqliteJobStore:
    """The batch journal in ``out`` (the folder is created); ``BatchStorageError`` if the
    folder cannot be made or the journal cannot be opened (a file that is not a journal is
    left as it is)."""
    make_folder(out)
    return SqliteJobStore(out / JOURNAL_NAME)


async def _demo(jobs: list[BatchJob], store: SqliteJobStore, out: Path,
                args: argparse.Namespace) -> int:
    from ..testing import KlingSimulator

    print(f"Starting the built-in Kling simulator ({args.time_scale:g}x time, offline)...",
          file=sys.stderr)
    try:
        async with KlingSimulator(time_scale=args.time_scale, seed=args.seed) as sim:
            client = KlingClient(api_key=sim.api_key, base_url=sim.base_url,
                                 poll=PollPolicy().scaled(args.time_scale))
            print(f"Running {len(jobs)} jobs (images and videos) into {out}/", file=sys.stderr)
            return await _batch(client, jobs, store, out, args)
    finally:
        store.close()


def _reset_demo_folder(out: Path) -> None:
    """Forget a previous demo in ``out``: its journal, results, and the files (with their
    partial downloads) its journal recorded; nothing else in the folder is touched.  A
    journal that cannot be read is left as it is (``BatchStorageError``)."""
    journal = out / JOURNAL_NAME
    if not journal.is_file():
        return
    store = SqliteJobStore(journal)
    try:
        names = {name for record in store.records()
                 for name in (*record.files.values(), *record.downloads.values())}
    finally:
        store.close()
    try:
        for name in names:
            if plain_name(name):
                (out / name).unlink(missing_ok=True)
                remove_leftovers(out / name)
        for name in (JOURNAL_NAME, f"{JOURNAL_NAME}-wal", f"{JOURNAL_NAME}-shm", RESULTS_NAME,
                     GALLERY_NAME):
            (out / name).unlink(missing_ok=True)
    except OSError as exc:
        raise storage_error(out, exc) from None


async def _batch(client: KlingClient, jobs: list[BatchJob], store: SqliteJobStore, out: Path,
                 args: argparse.Namespace) -> int:
    display = ProgressDisplay(sys.stderr, tty=False if args.no_progress else None)
    try:
        async with client, webhook_listener(client, args):
            runner = BatchRunner(client, store, out_dir=out, download=args.download,
                                 max_downloads=args.max_downloads,
                                 on_progress=None if args.no_progress else display,
                                 on_failure=display.job_failed,
                                 retry_failed=getattr(args, "retry_failed", False),
                                 guard=SpendGuard(getattr(args, "max_units", None),
                                                  allow_unpriced=getattr(args, "allow_unpriced",
                                                                         False)))
            with on_signals(runner.stop):  # stop submitting, flush, exit 130
                result = await runner.run(jobs)
    finally:
        display.close()
        store.close()
    return _report(result, out, args)


def _report(result: BatchResult, out: Path, args: argparse.Namespace) -> int:
    """The summary on stdout, what to do next on stderr; the exit code."""
    print_text(format_summary(result.rows, width=_terminal_width(sys.stdout)))
    print_text(cost_line(result.rows))
    print_text(f"\nresults: {out / RESULTS_NAME}\ngallery: {out / GALLERY_NAME}\n"
               f"journal: {out / JOURNAL_NAME}")
    if result.interrupted:
        _say(_RESUME_HINT)
        return EXIT_INTERRUPTED
    p = result.progress
    print_text(f"{p.succeeded} succeeded, {p.failed} failed, {p.downloaded} files downloaded")
    if getattr(args, "max_units", None) is not None:  # else the cost line above says it
        print_text(_units_line(result, args))
    if result.auth_error is not None:
        unsent = sum(1 for row in result.rows if row["status"] == "not_sent")
        _say(f"stopped submitting: the server rejected the API key ({result.auth_error}); "
             f"{unsent} job(s) not sent: fix the key and run the same command again")
        return EXIT_FAILED
    if result.spend_stopped:
        unsent = sum(1 for row in result.rows if row["status"] == "not_sent")
        _say(f"stopped submitting: the spending limit --max-units {args.max_units:g} was "
             f"reached ({result.units_spent:g} units reported spent, with the tasks still "
             f"running estimated); {unsent} job(s) not sent")
    if not result.ok:
        if result.retryable:
            _say("some jobs did not finish cleanly: run the same command again to retry "
                 "what can be retried")
        failed = sum(1 for row in result.rows if row["status"] == "failed")
        if failed and args.func is _run_command:
            _say(f"{failed} job(s) failed for good: the same command with --retry-failed "
                 "sends them again as new tasks (paid again)")
        return EXIT_FAILED
    return EXIT_OK
