"""The ``kling-async`` command line: a thin layer over the public API.

::

    kling-async demo                                      # offline, against the simulator
    kling-async run jobs.jsonl --out results/ --download  # the same command resumes
    kling-async run jobs.jsonl --retry-failed             # send the failed jobs again (new tasks)
    kling-async run jobs.jsonl --max-units 200            # refuse/stop past 200 units
    kling-async run jobs.jsonl --store postgresql://...   # any number of processes, one batch
    kling-async fleet status --store postgresql://...     # workers, leases, slots, jobs
    kling-async submit videos/omni-video --json '{...}' [--wait]
    kling-async status ENDPOINT TASK_ID | wait ENDPOINT TASK_ID | list ENDPOINT
    kling-async simulate --port 8000                      # prints `export KLING_...` lines
    kling-async account costs|balance|packages            # JSON lines
    kling-async --version;  kling-async COMMAND --help;  -v on any command: debug logging

Credentials come from ``KLING_API_KEY`` or ``KLING_ACCESS_KEY`` + ``KLING_SECRET_KEY`` and
the host from ``KLING_BASE_URL`` (flags override them); no key is ever printed.  Exit codes:
0 success, 1 API/transport/task failure, 2 bad input, 130 interrupted.  Output piped into
a reader that stops early (``| head``) ends quietly; an interrupted ``submit``/``wait`` prints
the task's ids on stderr.  ``run`` draws its progress on a terminal (one line fitted to
its width, a line per failure) and writes ``gallery.html`` beside ``results.jsonl``; ``submit
--wait`` and ``wait`` show the task's status and the time waited on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from .. import __version__
from .._logging import enable as enable_logging
from . import _account, _batch, _fleet, _tasks
from ._common import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, fail, stdout_closed


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="kling-async", description="Kling AI image/video generation from the command line.",
        epilog="Credentials: KLING_API_KEY (or KLING_ACCESS_KEY + KLING_SECRET_KEY); host: "
               "KLING_BASE_URL; debug logging: KLING_LOG=debug or -v.  "
               "'kling-async COMMAND --help' shows a command's flags and defaults.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="debug logging of the kling_async logger on stderr")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    _batch.register(subparsers)
    _tasks.register(subparsers)
    _account.register(subparsers)
    _fleet.register(subparsers)
    try:
        simulate = importlib.import_module(f"{__name__}._simulate")
    except ImportError:  # the simulator command ships separately
        simulate = None
    if simulate is not None:
        simulate.register(subparsers)
    for command in subparsers.choices.values():
        # After the command name too; SUPPRESS keeps a -v given before it.
        command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                             help="debug logging of the kling_async logger on stderr")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code.  A closed stdout (``... | head``) is
    not an error (exit 0); Ctrl-C is exit 130 without a traceback."""
    try:
        code = _main(argv)
        sys.stdout.flush()
    except BrokenPipeError:
        stdout_closed()
        return EXIT_OK
    except KeyboardInterrupt:
        return fail("interrupted", EXIT_INTERRUPTED)
    return code


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(argv) if argv is not None else sys.argv[1:])
    if getattr(args, "verbose", False):
        enable_logging(logging.DEBUG)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return EXIT_USAGE
    refusal = _fleet.key_pool_refusal(args)
    if refusal is not None:
        return fail(refusal, EXIT_USAGE)
    code: int = func(args)
    return code
