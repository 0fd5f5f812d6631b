"""The jobs file: every bad line reported with its number and rule; nothing sent or written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kling_async import KlingError
from kling_async.batch import JobsFileError, load_jobs, parse_jobs
from kling_async.cli import main

GOOD_VIDEO = {"id": "a", "endpoint": "videos/omni-video",
              "request": {"prompt": "a cat", "aspect_ratio": "16:9", "duration": "5"}}
GOOD_IMAGE = {"id": "b", "endpoint": "images/generations", "request": {"prompt": "a dog"}}


def _line(**changes: object) -> str:
    return json.dumps({**GOOD_IMAGE, **changes})


def test_valid_file_gives_jobs_in_order_skipping_blank_and_comment_lines() -> None:
    """Blank lines and ``#`` comments are skipped; jobs keep their line numbers."""
    jobs = parse_jobs(["# header", json.dumps(GOOD_VIDEO), "", "  ", json.dumps(GOOD_IMAGE)])
    assert [(j.id, j.endpoint, j.line) for j in jobs] == [
        ("a", "videos/omni-video", 2), ("b", "images/generations", 5)]
    assert type(jobs[0].request).__name__ == "OmniVideoRequest"


@pytest.mark.parametrize(("line", "expected"), [
    pytest.param("{not json", "line 1: invalid JSON", id="syntax"),
    pytest.param("[1, 2]", "line 1: must be a JSON object (got list)", id="not-object"),
    pytest.param(json.dumps({"endpoint": "images/generations", "request": {"prompt": "x"}}),
                 "line 1: id: is required", id="missing-id"),
    pytest.param(json.dumps({"id": "x", "endpoint": "images/generations"}),
                 "line 1: request: is required", id="missing-request"),
    pytest.param(_line(endpoint="videos/nope"), "line 1: endpoint: must be one of",
                 id="unknown-endpoint"),
    pytest.param(_line(id="a/b"), "line 1: id: must be 1-128 letters", id="unsafe-id"),
    pytest.param(_line(extra=1), "line 1: extra: is not a known key", id="unknown-key"),
    pytest.param(_line(request={"prompt": "x", "n": 12}), "line 1: request.n: ",
                 id="request-rule"),
    pytest.param(_line(request={"prompt": "x", "colour": "red"}), "line 1: request.colour",
                 id="request-typo"),
])
def test_each_rule_is_reported_with_line_number_and_field(line: str, expected: str) -> None:
    """A broken rule is reported as ``line N: <field>: <rule>``."""
    with pytest.raises(JobsFileError) as caught:
        parse_jobs([line])
    assert caught.value.problems[0].startswith(expected), caught.value.problems


def test_every_bad_line_is_reported_at_once() -> None:
    """All problems of all lines come in one error, a KlingError and a ValueError."""
    lines = [_line(id="ok"), "{oops", _line(id="ok"), _line(id="c", endpoint="x"),
             _line(id="d", request={"prompt": ""})]
    with pytest.raises(JobsFileError) as caught:
        parse_jobs(lines, source="jobs.jsonl")
    error = caught.value
    assert isinstance(error, KlingError) and isinstance(error, ValueError)
    numbers = [p.split(":")[0] for p in error.problems]
    assert numbers == ["line 2", "line 3", "line 4", "line 5"]
    assert "line 3: id: must be unique; line 1 has it already" in str(error)
    assert str(error).startswith("jobs.jsonl: 4 invalid lines, nothing was submitted")


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    """A file with no jobs is refused."""
    path = tmp_path / "jobs.jsonl"
    path.write_text("# nothing\n\n")
    with pytest.raises(JobsFileError, match="holds no jobs"):
        load_jobs(path)


def test_cli_reports_every_bad_line_exits_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``kling-async run`` on a bad file prints every problem, exits 2, creates no output."""
    path = tmp_path / "jobs.jsonl"
    path.write_text("\n".join([_line(id="a"), "{bad", _line(id="c", request={"n": 2})]))
    out = tmp_path / "out"
    code = main(["run", str(path), "--out", str(out), "--api-key", "k",
                 "--base-url", "http://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert code == 2
    assert "line 2: invalid JSON" in err and "line 3: request.prompt" in err
    assert not out.exists()


def test_ids_whose_result_files_could_clash_are_refused() -> None:
    """``img`` with several results writes ``img_0``, ``img_1``...: a job ``img_1`` would share
    a file with it; ``Cat`` and ``cat`` share one on case-insensitive disks."""
    lines = [_line(id="img", request={"prompt": "x", "n": 2}), _line(id="img_1"),
             _line(id="img_x"), _line(id="Cat"), _line(id="cat"), _line(id="x_9")]
    with pytest.raises(JobsFileError) as caught:
        parse_jobs(lines, source="jobs.jsonl")
    problems = caught.value.problems
    assert len(problems) == 2
    assert problems[0].startswith("line 2: id: 'img_1' can clash with the result files of job "
                                  "'img' (line 1)")
    assert problems[1].startswith("line 5: id: 'cat' differs from 'Cat' (line 4) only in case")
