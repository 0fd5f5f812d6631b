"""One-off task commands: ``submit``, ``status``, ``wait``, ``list`` (JSON on stdout)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from .._endpoints import ENDPOINTS, endpoint_named
from .._errors import KlingError, TaskFailedError, ValidationError
from .._models.task import TaskStatus
from .._wire import load_request
from ..batch import task_to_dict
from ._common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    add_server_flags,
    exit_code_for,
    fail,
    make_client,
    print_json,
)

_ENDPOINT_HELP = "endpoint name: " + ", ".join(sorted(ENDPOINTS))


def register(subparsers: Any) -> None:
    """Add ``submit``, ``status``, ``wait`` and ``list``."""
    p = subparsers.add_parser("submit", help="create one task (prints the task as JSON)")
    p.add_argument("endpoint", help=_ENDPOINT_HELP)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--json", dest="json_body", help="the request body as JSON text")
    source.add_argument("--file", help="a file holding the request JSON ('-' = stdin)")
    p.add_argument("--external-task-id", help="your own unique id for the task")
    p.add_argument("--wait", action="store_true", help="wait until the task ends")
    p.add_argument("--timeout", type=float, default=None, help="seconds to wait at most")
    add_server_flags(p)
    p.set_defaults(func=_run_async(_submit))

    p = subparsers.add_parser("status", help="show one task (JSON)")
    p.add_argument("endpoint", help=_ENDPOINT_HELP)
    p.add_argument("task_id", nargs="?", help="the task id")
    p.add_argument("--external-task-id", help="look the task up by your external id instead")
    add_server_flags(p)
    p.set_defaults(func=_run_async(_status))

    p = subparsers.add_parser("wait", help="wait for one task to end (JSON)")
    p.add_argument("endpoint", help=_ENDPOINT_HELP)
    p.add_argument("task_id", help="the task id")
    p.add_argument("--timeout", type=float, default=None, help="seconds to wait at most")
    add_server_flags(p)
    p.set_defaults(func=_run_async(_wait))

    p = subparsers.add_parser("list", help="list recent tasks of an endpoint (JSON array)")
    p.add_argument("endpoint", help=_ENDPOINT_HELP)
    p.add_argument("--page-size", type=int, default=30, help="tasks per page, 1-500")
    p.add_argument("--pages", type=int, default=1, help="pages to fetch at most")
    add_server_flags(p)
    p.set_defaults(func=_run_async(_list))


def _run_async(command: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        try:
            code: int = asyncio.run(command(args))
        except KlingError as exc:
            return fail(str(exc), exit_code_for(exc))
        return code
    return run


def _read_body(args: argparse.Namespace) -> Any:
    if args.json_body is not None:
        text, where = args.json_body, "--json"
    elif args.file == "-":
        text, where = sys.stdin.read(), "stdin"
    else:
        try:
            with open(args.file, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as exc:
            raise ValidationError("--file", f"cannot be read ({exc.strerror})", args.file) from None
        where = args.file
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ValidationError(where, f"must be JSON ({exc})", text[:40]) from None


def _finished(task_dict: dict[str, Any]) -> int:
    print_json(task_dict)
    return EXIT_OK if task_dict["status"] != TaskStatus.FAILED.value else EXIT_FAILED


async def _submit(args: argparse.Namespace) -> int:
    request = load_request(endpoint_named(args.endpoint).name, _read_body(args))
    async with make_client(args) as client:
        job = await client.submit(request, external_task_id=args.external_task_id)
        if not args.wait:
            assert job.task is not None
            print_json(task_to_dict(job.task))
            return EXIT_OK
        return await _result(job, args.timeout)


async def _result(job: Any, timeout: float | None) -> int:
    try:
        task = await job.result(timeout=timeout)
    except TaskFailedError:
        assert job.task is not None
        return _finished(task_to_dict(job.task))
    return _finished(task_to_dict(task))


async def _status(args: argparse.Namespace) -> int:
    if (args.task_id is None) == (args.external_task_id is None):
        return fail("status needs a TASK_ID or --external-task-id (one of them)", EXIT_USAGE)
    async with make_client(args) as client:
        if args.task_id is not None:
            task = await client.get_task(args.endpoint, args.task_id)
        else:
            task = await client.get_task_by_external_id(args.endpoint, args.external_task_id)
    print_json(task_to_dict(task))
    return EXIT_OK


async def _wait(args: argparse.Namespace) -> int:
    async with make_client(args) as client:
        job = await client.attach(args.endpoint, task_id=args.task_id)
        return await _result(job, args.timeout)


async def _list(args: argparse.Namespace) -> int:
    if args.pages < 1:
        return fail(f"--pages must be >= 1 (got {args.pages})", EXIT_USAGE)
    found: list[dict[str, Any]] = []
    async with make_client(args) as client:
        async for page in client.list_tasks(args.endpoint, page_size=args.page_size,
                                            max_pages=args.pages):
            found.extend(task_to_dict(t) for t in page)
    print_json(found)
    return EXIT_OK
