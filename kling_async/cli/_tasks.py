"""One-off task commands: ``submit``, ``status``, ``wait``, ``list`` (JSON on stdout).

``--timeout S`` of ``submit`` and ``wait`` bounds the whole command (opening the client, the
create with its retries and lookups, the wait): past it the command stops, prints the task id
and external_task_id it knows (so the task can be found with ``status`` / ``wait`` instead of
paying again) and exits 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import anyio

from .._endpoints import ENDPOINTS, endpoint_named
from .._errors import KlingError, TaskFailedError, ValidationError
from .._models.task import TaskStatus
from .._registry import Job
from .._wire import load_request
from ..batch._text import surrogate_path
from ._common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    add_server_flags,
    fail,
    interruptible,
    make_client,
    note,
    print_json,
    run_async,
)
from ._waiting import wait_showing

#: The largest request body read from ``--file`` / stdin (bytes); real ones are a few KB.
MAX_BODY_BYTES = 16 * 1024 * 1024

_ENDPOINT_HELP = "endpoint name: " + ", ".join(sorted(ENDPOINTS))


def register(subparsers: Any) -> None:
    """Add ``submit``, ``status``, ``wait`` and ``list``."""
    p = subparsers.add_parser(
        "submit", help="create one task (prints the task as JSON)",
        description="Create one task and print it as JSON; with --wait, wait for it to end.")
    p.add_argument("endpoint", help=_ENDPOINT_HELP)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--json", dest="json_body",
                        help="the request body as JSON text (required: this or --file)")
    source.add_argument("--file", help="a file holding the request JSON, '-' = stdin "
                        "(required: this or --json)")
    p.add_argument("--external-task-id", help="your own unique id for the task (default: "
                   "generated, kas-...)")
    p.add_argument("--wait", action="store_true", help="wait until the task ends")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds the whole command may take at most, create and wait "
                        "(default: no limit)")
    add_server_flags(p)
    p.set_defaults(func=run_async(_submit))

    p = subparsers.add_parser("status", help="show one task (JSON)",
                              description="Show one task's current state as JSON.")
    p.add_argument("endpoint", help=_ENDPOINT_HELP)
    p.add_argument("task_id", nargs="?", help="the task id")
    p.add_argument("--external-task-id", help="look the task up by your external id instead "
                   "(default: none, by TASK_ID)")
    add_server_flags(p)
    p.set_defaults(func=run_async(_status))

    p = subparsers.add_parser("wait", help="wait for one task to end (JSON)",
                              description="Wait for an existing task to end; print it as JSON.")
    p.add_argument("endpoint", help=_ENDPOINT_HELP)
    p.add_argument("task_id", help="the task id")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds the whole command may take at most (default: no limit)")
    add_server_flags(p)
    p.set_defaults(func=run_async(_wait))

    p = subparsers.add_parser("list", help="list recent tasks of an endpoint (JSON array)",
                              description="List an endpoint's recent tasks, newest first, as "
                                          "a JSON array.")
    p.add_argument("endpoint", help=_ENDPOINT_HELP)
    p.add_argument("--page-size", type=int, default=30,
                   help="tasks per page, 1-500 (default: %(default)s)")
    p.add_argument("--pages", type=int, default=1,
                   help="pages to fetch at most (default: %(default)s)")
    add_server_flags(p)
    p.set_defaults(func=run_async(_list))


def _read_text(args: argparse.Namespace) -> tuple[bytes, str]:
    """The raw request body and where it came from."""
    if args.json_body is not None:
        return args.json_body.encode("utf-8", "surrogateescape"), "--json"
    try:
        if args.file == "-":
            return sys.stdin.buffer.read(MAX_BODY_BYTES + 1), "stdin"
        with open(args.file, "rb") as handle:
            return handle.read(MAX_BODY_BYTES + 1), args.file
    except OSError as exc:
        raise ValidationError("--file", f"cannot be read ({exc.strerror or exc})",
                              args.file) from None


def _read_body(args: argparse.Namespace) -> Any:
    raw, where = _read_text(args)
    if len(raw) > MAX_BODY_BYTES:
        raise ValidationError(where, f"must be at most {MAX_BODY_BYTES} bytes", f"{len(raw)}+")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError(where, f"must be UTF-8 text ({exc.reason} at byte {exc.start})",
                              raw[max(0, exc.start - 10): exc.start + 10]) from None
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise ValidationError(where, f"must be JSON ({exc})", text[:40]) from None
    except RecursionError:
        raise ValidationError(where, "must be JSON nested at most a few hundred deep",
                              text[:40]) from None
    bad = surrogate_path(body, "")
    if bad is not None:
        raise ValidationError(bad.lstrip(".") or where, "holds a lone surrogate (a "
                              "\\ud800-\\udfff escape without its pair), which is not Unicode "
                              "text", None)
    return body


def _finished(task_dict: dict[str, Any]) -> int:
    print_json(task_dict)
    return EXIT_OK if task_dict["status"] != TaskStatus.FAILED.value else EXIT_FAILED


def _handle(args: argparse.Namespace, job: Job | None) -> str:
    """Every id known of the task (" (task_id X, external_task_id Y)") and how to go on, so
    the task is found again instead of paid for twice."""
    known = []
    task_id = job.task_id if job is not None else getattr(args, "task_id", None)
    ext = job.external_task_id if job is not None else None
    if task_id:
        known.append(f"task_id {task_id}")
    if ext:
        known.append(f"external_task_id {ext}")
    if task_id:
        hint = f"; see it with: kling-async wait {args.endpoint} {task_id}"
    elif ext:
        hint = (f"; the task may exist: look it up with: kling-async status {args.endpoint} "
                f"--external-task-id {ext} (do not submit again)")
    else:
        hint = ""
    ids = f" ({', '.join(known)})" if known else ""
    return f"{ids}{hint}"


def _timed_out(args: argparse.Namespace, job: Job | None, what: str) -> int:
    """The message when ``--timeout`` expired: every id known, and how to go on."""
    return fail(f"timed out after {args.timeout:g} s {what}{_handle(args, job)}", EXIT_FAILED)


def _interrupted(args: argparse.Namespace, job: Job | None, what: str) -> int:
    """The message after Ctrl-C (SIGINT) or SIGTERM: no traceback, every id known."""
    goes_on = "; the task goes on on the server" if job is None or job.task_id else ""
    return fail(f"interrupted {what}{goes_on}{_handle(args, job)}", EXIT_INTERRUPTED)


async def _submit(args: argparse.Namespace) -> int:
    request = load_request(endpoint_named(args.endpoint).name, _read_body(args))
    started: list[Job] = []
    with interruptible():
        with anyio.move_on_after(args.timeout):
            return await _submit_in_time(args, request, started)
        return _timed_out(args, started[0] if started else None, _doing(args, started))
    return _interrupted(args, started[0] if started else None, _doing(args, started))


def _doing(args: argparse.Namespace, started: list[Job]) -> str:
    submitted = bool(started) and started[0].task_id is not None
    return "waiting for the task to end" if args.wait and submitted else "submitting"


async def _submit_in_time(args: argparse.Namespace, request: Any, started: list[Job]) -> int:
    async with make_client(args) as client:
        job = client.submit_nowait(request, external_task_id=args.external_task_id)
        started.append(job)
        await job.wait_submitted()
        if job.task_id is None:
            raise job.error if job.error is not None else KlingError(
                f"the task was not accepted (external_task_id {job.external_task_id})")
        assert job.task is not None
        if not args.wait:
            if not print_json(job.task.to_dict()):  # stdout closed: the handle on stderr
                note(f"stdout is closed; the task was created{_handle(args, job)}")
            return EXIT_OK  # created: never an error code that invites a paid re-submit
        note(f"task {job.task_id} created (external_task_id {job.external_task_id}); "
             "waiting for it to end (Ctrl-C stops waiting, the task goes on)")
        return await wait_showing(job, lambda: _result(job))


async def _result(job: Any) -> int:
    try:
        task = await job.result()
    except TaskFailedError:
        assert job.task is not None
        return _finished(job.task.to_dict())
    return _finished(task.to_dict())


async def _status(args: argparse.Namespace) -> int:
    if (args.task_id is None) == (args.external_task_id is None):
        return fail("status needs a TASK_ID or --external-task-id (one of them)", EXIT_USAGE)
    async with make_client(args) as client:
        if args.task_id is not None:
            task = await client.get_task(args.endpoint, args.task_id)
        else:
            task = await client.get_task_by_external_id(args.endpoint, args.external_task_id)
    print_json(task.to_dict())
    return EXIT_OK


async def _wait(args: argparse.Namespace) -> int:
    with interruptible():
        with anyio.move_on_after(args.timeout):
            async with make_client(args) as client:
                job = await client.attach(args.endpoint, task_id=args.task_id)
                note(f"waiting for task {args.task_id} to end (Ctrl-C stops waiting, the task "
                     "goes on)")
                return await wait_showing(job, lambda: _result(job))
        return _timed_out(args, None, "waiting for the task to end")
    return _interrupted(args, None, "waiting for the task to end")


async def _list(args: argparse.Namespace) -> int:
    if args.pages < 1:
        return fail(f"--pages must be >= 1 (got {args.pages})", EXIT_USAGE)
    found: list[dict[str, Any]] = []
    async with make_client(args) as client:
        async for page in client.list_tasks(args.endpoint, page_size=args.page_size,
                                            max_pages=args.pages):
            found.extend(t.to_dict() for t in page)
    print_json(found)
    return EXIT_OK
