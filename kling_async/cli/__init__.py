"""The ``kling-async`` command line: a thin layer over the public API.

::

    kling-async demo                                      # offline, against the simulator
    kling-async run jobs.jsonl --out results/ --download  # the same command resumes
    kling-async submit videos/omni-video --json '{...}' [--wait]
    kling-async status ENDPOINT TASK_ID | wait ENDPOINT TASK_ID | list ENDPOINT
    kling-async simulate --port 8000

Credentials come from ``KLING_API_KEY`` or ``KLING_ACCESS_KEY`` + ``KLING_SECRET_KEY`` and
the host from ``KLING_BASE_URL`` (flags override them); no key is ever printed.  Exit codes:
0 success, 1 API/transport/task failure, 2 bad input, 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from . import _batch, _tasks


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="kling-async", description="Kling AI image/video generation from the command line.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    _batch.register(subparsers)
    _tasks.register(subparsers)
    try:
        simulate = importlib.import_module(f"{__name__}._simulate")
    except ImportError:  # the simulator command ships separately
        simulate = None
    if simulate is not None:
        simulate.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(list(argv) if argv is not None else sys.argv[1:])
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    code: int = func(args)
    return code
