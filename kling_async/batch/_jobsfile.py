"""The jobs file: JSONL, one job per line, validated whole before anything is sent.

Each line is ``{"id": "...", "endpoint": "videos/omni-video", "request": {...}}`` with
``request`` in the documented wire format (``kling_async.load_request``).  Blank lines and
lines starting with ``#`` are skipped.  Every broken rule on every line is collected and raised
as one ``JobsFileError``, so a bad file spends nothing.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from .._endpoints import ENDPOINTS
from .._errors import KlingError, ValidationError
from .._wire import dump_request, load_request
from ._store import JobRecord, request_hash

#: A job id: used in file names and external task ids, so kept to a safe alphabet.
JOB_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_REQUIRED = ("id", "endpoint", "request")


@attrs.frozen(kw_only=True)
class BatchJob:
    """One validated job of a batch: its ``id``, ``endpoint``, request object and wire body."""

    id: str
    endpoint: str
    request: Any = attrs.field(eq=False, repr=False)
    payload: dict[str, Any] = attrs.field(eq=False, repr=False)
    line: int = 0


class JobsFileError(KlingError, ValueError):
    """A jobs file broke one or more rules; ``problems`` lists each as ``line N: ...``."""

    def __init__(self, source: str, problems: Sequence[str]):
        self.source = source
        self.problems = tuple(problems)
        count = len(self.problems)
        head = f"{source}: {count} invalid line{'s' if count != 1 else ''}, nothing was submitted"
        super().__init__("\n".join([head, *(f"  {p}" for p in self.problems)]))


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_line(number: int, text: str, seen: dict[str, int]) -> tuple[BatchJob | None, list[str]]:
    """The job on one line, or None and the problems found on it."""
    problems: list[str] = []
    where = f"line {number}"
    try:
        item = json.loads(text)
    except ValueError as exc:
        return None, [f"{where}: invalid JSON: {exc.args[0] if exc.args else exc}"]
    if not isinstance(item, dict):
        return None, [f"{where}: must be a JSON object (got {type(item).__name__})"]
    for key in _REQUIRED:
        if key not in item:
            problems.append(f"{where}: {key}: is required (got nothing)")
    unknown = sorted(set(item) - set(_REQUIRED))
    if unknown:
        problems.append(f"{where}: {unknown[0]}: is not a known key; expected id, endpoint, "
                        f"request (got {_short(item[unknown[0]])})")
    job_id = item.get("id")
    if "id" in item:
        if not isinstance(job_id, str) or not JOB_ID_PATTERN.match(job_id):
            problems.append(
                f"{where}: id: must be 1-128 letters, digits, '.', '_' or '-', starting with a "
                f"letter or digit (got {_short(job_id)})"
            )
        elif job_id in seen:
            problems.append(f"{where}: id: must be unique; line {seen[job_id]} has it already "
                            f"(got {job_id!r})")
        else:
            seen[job_id] = number
    endpoint = item.get("endpoint")
    if "endpoint" in item and (not isinstance(endpoint, str) or endpoint not in ENDPOINTS):
        problems.append(f"{where}: endpoint: must be one of {', '.join(sorted(ENDPOINTS))} "
                        f"(got {_short(endpoint)})")
        endpoint = None
    request = None
    if isinstance(endpoint, str) and "request" in item:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a legacy spelling is still a valid request
                request = load_request(endpoint, item["request"])
        except ValidationError as exc:
            problems.append(f"{where}: request.{exc}" if exc.field != "request"
                            else f"{where}: {exc}")
        except (TypeError, ValueError) as exc:
            problems.append(f"{where}: request: invalid ({exc})")
    if problems or request is None:
        return None, problems
    assert isinstance(job_id, str) and isinstance(endpoint, str)
    return BatchJob(id=job_id, endpoint=endpoint, request=request,
                    payload=dict(item["request"]), line=number), []


def _file_name_clashes(seen: Mapping[str, int]) -> list[str]:
    """Ids whose result files could share a name: ``a_1`` against job ``a``'s second result
    (``a_0``, ``a_1``, ...), or ids differing only in case (one file on macOS and Windows)."""
    problems: list[str] = []
    folded: dict[str, str] = {}
    for job_id, number in seen.items():
        stem, sep, index = job_id.rpartition("_")
        if sep and stem and index.isdigit() and stem in seen:
            problems.append(
                f"line {number}: id: {job_id!r} can clash with the result files of job {stem!r} "
                f"(line {seen[stem]}), named {stem}_0, {stem}_1, ... when it has several "
                "results; rename one of them")
        other = folded.setdefault(job_id.casefold(), job_id)
        if other != job_id:
            problems.append(
                f"line {number}: id: {job_id!r} differs from {other!r} (line {seen[other]}) only "
                "in case, so their result files clash on case-insensitive disks; rename one")
    return problems


def parse_jobs(lines: Iterable[str], *, source: str = "<jobs>") -> list[BatchJob]:
    """Every job in ``lines`` (JSONL), or ``JobsFileError`` listing every bad line."""
    jobs: list[BatchJob] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        job, found = _check_line(number, text, seen)
        problems.extend(found)
        if job is not None:
            jobs.append(job)
    problems.extend(_file_name_clashes(seen))
    if problems:
        raise JobsFileError(source, problems)
    if not jobs:
        raise JobsFileError(source, ["the file holds no jobs"])
    return jobs


def load_jobs(path: str | Path) -> list[BatchJob]:
    """Every job in the JSONL file at ``path``; ``JobsFileError`` if any line is bad."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise JobsFileError(str(file), [f"not UTF-8 text: {exc.reason}"]) from None
    except OSError as exc:
        raise JobsFileError(str(file), [f"cannot read: {exc.strerror or exc}"]) from None
    return parse_jobs(text.splitlines(), source=str(file))


def check_against_journal(jobs: Sequence[BatchJob], records: Mapping[str, JobRecord]) -> None:
    """``JobsFileError`` (nothing sent yet) if a journaled job now has another endpoint or,
    when its hash was journaled, another request: every such line is listed."""
    problems = []
    for job in jobs:
        record = records.get(job.id)
        if record is None:
            continue
        if record.endpoint != job.endpoint:
            problems.append(f"line {job.line}: endpoint: the journal has {record.endpoint!r} "
                            f"for job {job.id!r}; use a new output folder for a different "
                            f"batch (got {job.endpoint!r})")
            continue
        if record.request_hash is None:
            continue  # journaled by an older version: unknown
        digest = request_hash(dump_request(job.request))
        if digest != record.request_hash:
            problems.append(f"line {job.line}: request: differs from the one journaled for "
                            f"job {job.id!r} (sha256 {record.request_hash[:12]}...); use a new "
                            f"output folder for a different batch (got {digest[:12]}...)")
    if problems:
        raise JobsFileError("jobs file does not match the journal", problems)
