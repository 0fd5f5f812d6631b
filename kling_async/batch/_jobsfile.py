"""The jobs file: JSONL, one job per line, validated whole before anything is sent.

Each line is ``{"id": "...", "endpoint": "videos/omni-video", "request": {...}}`` with
``request`` in the documented wire format (``kling_async.load_request``).  Blank lines and
lines starting with ``#`` are skipped.  Every broken rule on every line is collected and raised
as one ``JobsFileError``, so a bad file spends nothing (its message lists the first
``MAX_PROBLEMS_SHOWN`` problems and counts the rest).

Lines end at ``\n`` (or ``\r\n``) only: U+2028, U+0085 and the other separators of
``str.splitlines`` are valid inside JSON strings.  The file is read line by line, as UTF-8,
each line at most ``MAX_LINE_BYTES``; a longer line stops the reading (a binary file or a
device such as ``/dev/zero`` ends in a clean error, not in memory exhaustion).  Text holding a
lone surrogate (a JSON escape such as ``"\\ud800"``) is refused: it is not Unicode text and
could not be sent, hashed or journaled.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeGuard

import attrs

from .._endpoints import ENDPOINTS
from .._errors import KlingError, ValidationError
from .._wire import dump_request, load_request
from ._store import JobRecord, request_hash
from ._text import escape_surrogates, surrogate_path

#: A job id: used in file names and external task ids, so kept to a safe alphabet (matched
#: whole, with ``fullmatch``: ``$`` would accept a trailing newline).
JOB_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
#: Device names Windows reserves whatever the extension (``nul.png`` is the null device).
_RESERVED_NAMES = frozenset({"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)),
                             *(f"lpt{i}" for i in range(10))})
#: The longest line a jobs file may have (bytes); a longer one stops the reading.
MAX_LINE_BYTES = 1024 * 1024
#: How many problems a ``JobsFileError`` message lists, and keeps in ``.problems`` (the
#: rest are only counted: a file of a million bad lines costs no more than this).
MAX_PROBLEMS_SHOWN = 50
MAX_PROBLEMS_KEPT = 1000
#: Past this many problems the reading stops (a random or endless binary stream ends too).
MAX_PROBLEMS_COUNTED = 100_000
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
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

    def __init__(self, source: str, problems: Sequence[str], *, more: int = 0):
        self.source = source
        self.problems = tuple(problems)
        count = len(self.problems) + more
        head = f"{source}: {count} invalid line{'s' if count != 1 else ''}, nothing was submitted"
        shown = [f"  {p}" for p in self.problems[:MAX_PROBLEMS_SHOWN]]
        if count > MAX_PROBLEMS_SHOWN:
            shown.append(f"  ... and {count - MAX_PROBLEMS_SHOWN} more")
        super().__init__(escape_surrogates("\n".join([head, *shown])))


def _short(value: Any, limit: int = 60) -> str:
    if isinstance(value, str) and len(value) > limit:
        value = value[:limit]
    try:
        text = repr(value)
    except RecursionError:
        text = f"<a nested {type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def valid_job_id(job_id: object) -> TypeGuard[str]:
    """Whether ``job_id`` is a usable job id: the safe alphabet, and not a reserved name."""
    return (isinstance(job_id, str) and JOB_ID_PATTERN.fullmatch(job_id) is not None
            and job_id.split(".", 1)[0].lower() not in _RESERVED_NAMES)


def _decode_object(where: str, text: str) -> tuple[dict[str, Any] | None, list[str]]:
    """The JSON object on a line, or None and why it is not one (not JSON, not an object, or
    holding a lone surrogate)."""
    try:
        item = json.loads(text)
    except ValueError as exc:
        return None, [f"{where}: invalid JSON: {exc.args[0] if exc.args else exc}"]
    except RecursionError:
        return None, [f"{where}: invalid JSON: nested too deeply"]
    if not isinstance(item, dict):
        return None, [f"{where}: must be a JSON object (got {type(item).__name__})"]
    bad = surrogate_path(item, "") if _SURROGATE_ESCAPE.search(text) else None
    if bad is not None:
        return None, [f"{where}: {bad.lstrip('.')}: holds a lone surrogate (a \\ud800-\\udfff "
                      "escape without its pair), which is not Unicode text"]
    return item, []


def _key_problems(where: str, item: Mapping[str, Any]) -> list[str]:
    """Each missing required key, and the first unknown key."""
    problems = [f"{where}: {key}: is required (got nothing)"
                for key in _REQUIRED if key not in item]
    unknown = sorted(set(item) - set(_REQUIRED))
    if unknown:
        problems.append(f"{where}: {unknown[0]}: is not a known key; expected id, endpoint, "
                        f"request (got {_short(item[unknown[0]])})")
    return problems


def _id_problems(where: str, number: int, job_id: object, seen: dict[str, int]) -> list[str]:
    """Why ``job_id`` is not usable (bad spelling, or a duplicate); a good id is added to
    ``seen`` with its line ``number``."""
    if not valid_job_id(job_id):
        return [f"{where}: id: must be 1-128 letters, digits, '.', '_' or '-', starting with a "
                f"letter or digit, and not a reserved device name such as 'nul' "
                f"(got {_short(job_id)})"]
    if job_id in seen:
        return [f"{where}: id: must be unique; line {seen[job_id]} has it already "
                f"(got {job_id!r})"]
    seen[job_id] = number
    return []


def _load_payload(where: str, endpoint: str, payload: Any) -> tuple[Any, list[str]]:
    """The request object of ``payload`` for ``endpoint``, or None and why it is invalid."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a legacy spelling is still a valid request
            return load_request(endpoint, payload), []
    except ValidationError as exc:
        return None, [f"{where}: request.{exc}" if exc.field != "request" else f"{where}: {exc}"]
    except (TypeError, ValueError, ArithmeticError, RecursionError) as exc:
        return None, [f"{where}: request: invalid ({type(exc).__name__}: "
                      f"{_short(str(exc), 200)})"]


def _check_line(number: int, text: str, seen: dict[str, int]) -> tuple[BatchJob | None, list[str]]:
    """The job on one line, or None and the problems found on it.

    Steps: decode the JSON object; check its keys; check the id (``seen`` records each good
    id's line); check the endpoint; then, if the endpoint is known, load the request."""
    where = f"line {number}"
    item, problems = _decode_object(where, text)
    if item is None:
        return None, problems
    problems = _key_problems(where, item)
    job_id = item.get("id")
    if "id" in item:
        problems += _id_problems(where, number, job_id, seen)
    endpoint = item.get("endpoint")
    if "endpoint" in item and (not isinstance(endpoint, str) or endpoint not in ENDPOINTS):
        problems.append(f"{where}: endpoint: must be one of {', '.join(sorted(ENDPOINTS))} "
                        f"(got {_short(endpoint)})")
        endpoint = None
    request = None
    if isinstance(endpoint, str) and "request" in item:
        request, found = _load_payload(where, endpoint, item["request"])
        problems += found
    if problems or request is None:
        return None, problems
    assert isinstance(job_id, str) and isinstance(endpoint, str)
    if not isinstance(item["request"], dict):
        return None, [f"{where}: request: must be a JSON object (got "
                      f"{type(item['request']).__name__})"]
    return BatchJob(id=job_id, endpoint=endpoint, request=request,
                    payload=item["request"], line=number), []


def _line_number(problem: str) -> int:
    """The line a problem is about (its ``line N:`` prefix), for sorting; 0 if none."""
    head = problem.split(":", 1)[0]
    number = head[5:] if head.startswith("line ") else ""
    return int(number) if number.isdigit() and len(number) < 19 else 0


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


def parse_jobs(lines: Iterable[str], *, source: str = "<jobs>",
               problems: list[str] | None = None) -> list[BatchJob]:
    """Every job in ``lines`` (JSONL), or ``JobsFileError`` listing every bad line.

    ``problems``: a list that already holds (or receives, while ``lines`` is read) problems
    found by the reader; they are reported with the others."""
    jobs: list[BatchJob] = []
    problems = problems if problems is not None else []
    seen: dict[str, int] = {}
    more = 0
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        job, found = _check_line(number, text, seen)
        problems.extend(found)
        if len(problems) > MAX_PROBLEMS_KEPT:
            more += len(problems) - MAX_PROBLEMS_KEPT
            del problems[MAX_PROBLEMS_KEPT:]
            if more + MAX_PROBLEMS_KEPT > MAX_PROBLEMS_COUNTED:
                problems.append(f"stopped reading at line {number}: more than "
                                f"{MAX_PROBLEMS_COUNTED} problems (is this a JSONL jobs file?)")
                break
        if job is not None:
            jobs.append(job)
    problems.extend(_file_name_clashes(seen))
    if problems:
        raise JobsFileError(source, sorted(problems, key=_line_number), more=more)
    if not jobs:
        raise JobsFileError(source, ["the file holds no jobs"])
    return jobs


def split_lines(text: str) -> list[str]:
    """``text`` cut at ``\n`` only (a ``\r`` before it is dropped by the caller's strip):
    unlike ``str.splitlines``, U+2028 / U+0085 inside a JSON string do not end a line."""
    return text.split("\n")


def _read_lines(file: Path, problems: list[str]) -> Iterator[str]:
    """The lines of ``file`` decoded one by one; a line that is not UTF-8 is reported (and
    yields ``""``); a line over ``MAX_LINE_BYTES`` is reported and ends the reading."""
    with open(file, "rb") as handle:
        for number in range(1, 2**63):
            raw = handle.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                problems.append(f"line {number}: longer than {MAX_LINE_BYTES} bytes (is this a "
                                "JSONL jobs file?); stopped reading there")
                return
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                problems.append(f"line {number}: not UTF-8 text ({exc.reason} at byte "
                                f"{exc.start})")
                yield ""


def load_jobs(path: str | Path) -> list[BatchJob]:
    """Every job in the JSONL file at ``path``; ``JobsFileError`` if any line is bad."""
    file = Path(path)
    problems: list[str] = []
    try:
        jobs = parse_jobs(_read_lines(file, problems), source=str(file), problems=problems)
    except OSError as exc:
        raise JobsFileError(str(file), [f"cannot read: {exc.strerror or exc}"]) from None
    return jobs


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
