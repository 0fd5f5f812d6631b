"""The ``kling-async`` commands, in process via ``main([...])`` and as a console script.

``main`` runs its own event loop, so the simulator runs in a background thread here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kling_async.cli import main
from kling_async.testing import KlingSimulator
from tests._simhelpers import child_env, threaded_simulator

SCALE = 400.0
VIDEO = json.dumps({"prompt": "a cat", "aspect_ratio": "16:9", "duration": "5"})


@pytest.fixture(scope="module")
def sim() -> Iterator[KlingSimulator]:
    """A simulator serving from its own thread and event loop."""
    with threaded_simulator(time_scale=SCALE, seed=9) as simulator:
        yield simulator


@pytest.fixture
def env(sim: KlingSimulator, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in ("KLING_ACCESS_KEY", "KLING_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    values = {"KLING_BASE_URL": sim.base_url, "KLING_API_KEY": sim.api_key,
              "KLING_TIME_SCALE": str(SCALE)}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def _json(capsys: pytest.CaptureFixture[str]) -> object:
    captured = capsys.readouterr()
    return json.loads(captured.out)


def test_submit_prints_the_task_and_status_finds_it(
    env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """``submit`` prints the submitted task; ``status`` by id and by external id agree."""
    assert main(["submit", "videos/omni-video", "--json", VIDEO,
                 "--external-task-id", "cli-one"]) == 0
    task = _json(capsys)
    assert isinstance(task, dict) and task["status"] == "submitted"
    assert set(task) == {"task_id", "status", "status_msg", "external_task_id", "urls", "images",
                         "videos", "audios", "parent_video", "created_at", "updated_at",
                         "final_unit_deduction", "cost", "series_images", "result_type",
                         "voices", "elements"}  # Task.to_dict()
    assert main(["status", "videos/omni-video", task["task_id"]]) == 0
    by_id = _json(capsys)
    assert main(["status", "videos/omni-video", "--external-task-id", "cli-one"]) == 0
    by_ext = _json(capsys)
    assert isinstance(by_id, dict) and isinstance(by_ext, dict)
    assert by_id["task_id"] == by_ext["task_id"] == task["task_id"]


def test_submit_wait_and_wait_return_the_finished_task(
    env: dict[str, str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """``submit --wait`` (body from a file) and ``wait`` print a succeeded task with URLs."""
    body = tmp_path / "req.json"
    body.write_text(json.dumps({"prompt": "a dog", "n": 2}))
    assert main(["submit", "images/generations", "--file", str(body), "--wait"]) == 0
    task = _json(capsys)
    assert isinstance(task, dict) and task["status"] == "succeed" and len(task["images"]) == 2
    assert main(["wait", "images/generations", task["task_id"], "--timeout", "30"]) == 0
    again = _json(capsys)
    assert isinstance(again, dict) and again["task_id"] == task["task_id"]


def test_list_prints_a_json_array(env: dict[str, str], capsys: pytest.CaptureFixture[str]
                                  ) -> None:
    """``list`` prints the endpoint's tasks as one JSON array."""
    main(["submit", "images/omni-image", "--json", json.dumps({"prompt": "a teapot"})])
    capsys.readouterr()
    assert main(["list", "images/omni-image", "--page-size", "5", "--pages", "2"]) == 0
    tasks = _json(capsys)
    assert isinstance(tasks, list) and tasks and all("task_id" in t for t in tasks)


@pytest.mark.parametrize(("argv", "code", "message"), [
    pytest.param(["submit", "videos/omni-video", "--json", "{oops"], 2, "must be JSON",
                 id="bad-json"),
    pytest.param(["submit", "videos/omni-video", "--json", '{"prompt": "x"}'], 2,
                 "aspect_ratio", id="invalid-request"),
    pytest.param(["submit", "videos/nope", "--json", "{}"], 2, "endpoint", id="bad-endpoint"),
    pytest.param(["status", "videos/omni-video", "999"], 1, "not found", id="unknown-task"),
    pytest.param(["status", "videos/omni-video"], 2, "TASK_ID or --external-task-id",
                 id="status-needs-an-id"),
    pytest.param(["status", "videos/omni-video", "1", "--base-url", "http://example.com"], 2,
                 "refusing plain http", id="insecure-http"),
])
def test_expected_errors_are_one_line_on_stderr_with_exit_code(
    env: dict[str, str], capsys: pytest.CaptureFixture[str], argv: list[str], code: int,
    message: str,
) -> None:
    """Bad input exits 2, API errors exit 1; a message, never a traceback or the key."""
    assert main(argv) == code
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and env["KLING_API_KEY"] not in err


def test_missing_credentials_exit_2(monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    """No key anywhere: exit 2 naming the environment variables."""
    for name in ("KLING_API_KEY", "KLING_ACCESS_KEY", "KLING_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert main(["status", "videos/omni-video", "1"]) == 2
    assert "KLING_API_KEY" in capsys.readouterr().err


def test_run_downloads_writes_results_and_resumes_as_a_no_op(
    env: dict[str, str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """``run --download`` finishes the batch with a summary; the same command again sends
    nothing new."""
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("\n".join(json.dumps({"id": f"j{i}", "endpoint": "images/generations",
                                          "request": {"prompt": f"p{i}"}}) for i in range(5)))
    out = tmp_path / "out"
    argv = ["run", str(jobs), "--out", str(out), "--download", "--no-progress"]
    assert main(argv) == 0
    first = capsys.readouterr()
    assert "5 succeeded, 0 failed, 5 files downloaded" in first.out
    assert sorted(p.name for p in out.glob("j*.png")) == [f"j{i}.png" for i in range(5)]
    assert main(argv) == 0
    assert "5 succeeded" in capsys.readouterr().out
    assert len((out / "results.jsonl").read_text().splitlines()) == 5


def test_demo_runs_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``demo`` runs the sample batch on its own simulator and prints the summary table."""
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--time-scale", "200", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "cat-video" in printed and "10 succeeded, 0 failed" in printed
    assert (out / "cat-video.mp4").stat().st_size > 0
    (out / "cat-video.mp4.part").write_bytes(b"left by a killed earlier demo")
    (out / "cat-video.mp4.part.json").write_text("{}")
    assert main(["demo", "--out", str(out), "--time-scale", "200", "--no-progress"]) == 0
    assert "10 succeeded, 0 failed, 11 files downloaded" in capsys.readouterr().out
    assert not list(out.glob("*.part*"))  # no partial download survives a new demo


def test_console_script_module_runs_and_shows_help() -> None:
    """``python -m kling_async.cli --help`` lists every command."""
    done = subprocess.run([sys.executable, "-m", "kling_async.cli", "--help"],
                          capture_output=True, text=True, timeout=30,
                          env=child_env(), check=False)
    assert done.returncode == 0
    for command in ("demo", "run", "submit", "status", "wait", "list", "simulate"):
        assert command in done.stdout


def test_interrupted_run_says_how_to_resume_and_exits_130(
    env: dict[str, str], tmp_path: Path, sim: KlingSimulator
) -> None:
    """SIGINT stops submitting, keeps the journal, prints the resume hint, exits 130."""
    import signal
    import time

    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("\n".join(json.dumps({"id": f"v{i}", "endpoint": "videos/omni-video",
                                          "request": json.loads(VIDEO)}) for i in range(60)))
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "kling_async.cli", "run", str(jobs), "--out", str(out),
         "--max-in-flight", "5", "--time-scale", "10"],
        env=child_env(**env), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 20
    while not (out / "journal.sqlite3").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=20)
    assert process.returncode == 130, stderr
    assert "run the same command again" in stderr
    assert env["KLING_API_KEY"] not in stdout + stderr
    rows = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 60 and any(r["status"] == "not_sent" for r in rows)
