"""``kling-async`` against hostile servers and hostile input, as real subprocesses: every
failure a clean one-line message with its exit code, no traceback, nothing of the user's
touched, and a rerun that does not crash."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

import kling_async
from kling_async.testing import KlingSimulator
from tests._scripted import Reply, ScriptedServer, error_body, ok, task_json

REPO = Path(kling_async.__file__).resolve().parent.parent
SCALE = 400.0
IMAGES = "/v1/images/generations"


def _env(base_url: str, api_key: str = "test-key") -> dict[str, str]:
    env = {**os.environ, "KLING_BASE_URL": base_url, "KLING_API_KEY": api_key,
           "KLING_TIME_SCALE": str(SCALE), "PYTHONPATH": str(REPO)}
    env.pop("KLING_ACCESS_KEY", None)
    env.pop("KLING_SECRET_KEY", None)
    return env


async def _cli(args: list[str], env: dict[str, str] | None = None, *, guard: float = 60.0,
               prelude: str = "") -> tuple[int, str, str]:
    """Run ``kling-async ARGS`` in a child process (after ``prelude`` Python code); the exit
    code, stdout and stderr.  ``guard`` only stops a hung child (the test then fails)."""
    code = f"import sys\n{prelude}\nfrom kling_async.cli import main\nsys.exit(main(sys.argv[1:]))"
    with anyio.fail_after(guard):
        done = await anyio.run_process([sys.executable, "-c", code, *args], check=False,
                                       env=env or _env("http://127.0.0.1:9"))
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def _clean(stderr: str) -> None:
    assert "Traceback" not in stderr and "test-key" not in stderr, stderr


def _rows(out: Path) -> dict[str, dict[str, Any]]:
    lines = (out / "results.jsonl").read_text(encoding="utf-8").split("\n")
    return {row["id"]: row for row in map(json.loads, filter(None, lines))}


def _image_jobs(path: Path, ids: list[str], prompt: str = "a dog") -> Path:
    path.write_text("".join(json.dumps({"id": i, "endpoint": "images/generations",
                                        "request": {"prompt": prompt}}) + "\n" for i in ids),
                    encoding="utf-8")
    return path


def _serve_tasks(server: ScriptedServer, urls: list[str]) -> None:
    """Creates answer task ``t-0``, ``t-1``... in order; each task succeeded with one image
    at the matching URL; the list endpoint is not supported (per-task polls)."""
    server.script("POST", IMAGES, *(Reply(json=ok(task_json(f"t-{i}"))) for i in range(len(urls))))
    server.script("GET", IMAGES, then=Reply(404, json=error_body(1202, "no list")))
    for i, url in enumerate(urls):
        done = task_json(f"t-{i}", "succeed", task_result={"images": [{"index": 0, "url": url}]})
        server.script("GET", f"{IMAGES}/t-{i}", then=Reply(json=ok(done)))


# -- 1. only files the run wrote and journaled are ever touched ------------------------------

@pytest.mark.anyio
async def test_run_download_never_touches_a_users_partial_or_same_named_files(
    tmp_path: Path,
) -> None:
    """A browser's ``movie.mp4.part``, a stray ``x.part.json``, and a user's ``a.png`` /
    ``a.png.part`` / symlinked ``b.png.part`` under result names all survive a downloading
    run and its rerun byte for byte; the results go to ``a~1.png`` / ``b~1.png``."""
    out = tmp_path / "Downloads"
    out.mkdir()
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"not yours")
    users = {"movie.mp4.part": b"half a movie", "x.part.json": b'{"format": 1, "size": 3}',
             "a.png": b"my own picture", "a.png.part": b"my half picture",
             "a.png.part.json": b"garbage"}
    for name, data in users.items():
        (out / name).write_bytes(data)
    (out / "b.png.part").symlink_to(outside)
    jobs = _image_jobs(tmp_path / "jobs.jsonl", ["a", "b"])
    async with KlingSimulator(time_scale=SCALE, seed=3) as sim:
        env = _env(sim.base_url, sim.api_key)
        for _ in range(2):
            code, _, stderr = await _cli(["run", str(jobs), "--out", str(out), "--download",
                                          "--no-progress"], env)
            assert code == 0, stderr
            _clean(stderr)
    for name, data in users.items():
        assert (out / name).read_bytes() == data, name
    assert (out / "b.png.part").is_symlink() and outside.read_bytes() == b"not yours"
    rows = _rows(out)
    assert rows["a"]["files"] == ["a~1.png"] and rows["b"]["files"] == ["b~1.png"]
    assert (out / "a~1.png").stat().st_size > 0 and (out / "b~1.png").stat().st_size > 0


# -- 2. result URLs that cannot be parsed ----------------------------------------------------

@pytest.mark.anyio
async def test_unparsable_result_urls_are_per_file_failures_and_reruns_do_not_crash(
    tmp_path: Path,
) -> None:
    """Result URLs with a port out of range, a broken IPv6 host, ``ftp:`` or no host each
    fail only their own file (an error in ``results.jsonl``; a 100 KB one is dropped when the
    task is read); the good file downloads; the run and its rerun exit 1 with no traceback."""
    jobs_ids = ["port", "ipv6", "ftp", "relative", "huge", "good"]
    async with ScriptedServer() as server:
        bad = ["http://127.0.0.1:99999/x.png", "http://[::1", "ftp://127.0.0.1/x.png",
               "/relative/x.png", f"{server.url}/{'a' * 100_000}.png"]
        _serve_tasks(server, [*bad, f"{server.url}/files/good.png"])
        server.script("GET", "/files/good.png", then=Reply(body=b"\x89PNG good"))
        jobs = _image_jobs(tmp_path / "jobs.jsonl", jobs_ids)
        out = tmp_path / "out"
        for _ in range(2):
            code, _, stderr = await _cli(["run", str(jobs), "--out", str(out),
                                          "--download", "--no-progress"], _env(server.url))
            assert code == 1, stderr
            _clean(stderr)
            rows = _rows(out)
            assert rows["good"]["files"] == ["good.png"] and not rows["good"]["error"]
            for job_id in jobs_ids[:-2]:
                assert rows[job_id]["status"] == "succeeded" and rows[job_id]["files"] == []
                assert "download of" in rows[job_id]["error"], rows[job_id]
            # a 100 KB URL is no result URL at all: parse_task reads it as absent
            assert rows["huge"]["files"] == [] and not rows["huge"]["error"]
    assert (out / "good.png").read_bytes() == b"\x89PNG good"


# -- 3. lone surrogates ------------------------------------------------------------------------

@pytest.mark.anyio
async def test_a_lone_surrogate_in_a_jobs_file_is_refused_with_its_line(tmp_path: Path) -> None:
    """A prompt written as the JSON escape ``"\\ud800"`` (no pair) is refused: exit 2, one
    message naming the line and field, nothing sent."""
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text('{"id": "ok", "endpoint": "images/generations", "request": {"prompt": "x"}}\n'
                    '{"id": "s", "endpoint": "images/generations", '
                    '"request": {"prompt": "bad \\ud800 text"}}\n', encoding="utf-8")
    async with ScriptedServer() as server:
        code, _, stderr = await _cli(["run", str(jobs), "--out", str(tmp_path / "out")],
                                     _env(server.url))
        assert server.requests == []
    assert code == 2
    _clean(stderr)
    assert "line 2: request.prompt: holds a lone surrogate" in stderr


@pytest.mark.anyio
async def test_a_lone_surrogate_in_a_server_task_id_does_not_crash_the_journal(
    tmp_path: Path,
) -> None:
    """A server whose create answers a task id holding a lone surrogate: the run ends
    without a traceback, the journal stays a readable database, and a rerun does too."""
    async with ScriptedServer() as server:
        server.script("POST", IMAGES, then=Reply(json=ok(task_json("t\ud800x"))))
        server.script("GET", IMAGES, then=Reply(404, json=error_body(1202, "no list")))
        jobs = _image_jobs(tmp_path / "jobs.jsonl", ["a"])
        out = tmp_path / "out"
        for _ in range(2):
            code, _, stderr = await _cli(["run", str(jobs), "--out", str(out), "--no-progress"],
                                         _env(server.url), guard=120)
            assert code in (1, 2), stderr
            _clean(stderr)
    db = sqlite3.connect(out / "journal.sqlite3")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert db.execute("SELECT COUNT(*) FROM jobs").fetchone() == (1,)
    db.close()


# -- 5. unusable output folders and journals -------------------------------------------------

@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["text", "garbage", "other-database"])
async def test_a_journal_that_is_not_ours_is_refused_and_left_intact(
    tmp_path: Path, kind: str,
) -> None:
    """``journal.sqlite3`` holding text, random bytes or another program's SQLite database:
    exit 2, one line naming the file, and the file byte for byte as it was."""
    out = tmp_path / "out"
    out.mkdir()
    journal = out / "journal.sqlite3"
    if kind == "text":
        journal.write_text("my notes\n")
    elif kind == "garbage":
        journal.write_bytes(bytes(range(256)) * 20)
    else:
        db = sqlite3.connect(journal)
        db.execute("CREATE TABLE contacts (name TEXT)")
        db.commit()
        db.close()
    before = journal.read_bytes()
    jobs = _image_jobs(tmp_path / "jobs.jsonl", ["a"])
    code, _, stderr = await _cli(["run", str(jobs), "--out", str(out)])
    assert code == 2
    _clean(stderr)
    assert str(journal) in stderr and "not a kling-async journal" in stderr
    assert len(stderr.strip().splitlines()) == 1
    assert journal.read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["journal.sqlite3"]


@pytest.mark.anyio
@pytest.mark.parametrize("where", ["under-a-file", "is-a-file", "proc"])
async def test_an_output_folder_that_cannot_be_made_is_a_clean_error(
    tmp_path: Path, where: str,
) -> None:
    """``--out`` below a regular file, naming a regular file, or inside ``/proc``: exit 2 and
    one line naming the folder, no traceback, nothing sent."""
    (tmp_path / "file").write_text("x")
    out = {"under-a-file": tmp_path / "file" / "out", "is-a-file": tmp_path / "file",
           "proc": Path("/proc/kling-async-test/out")}[where]
    jobs = _image_jobs(tmp_path / "jobs.jsonl", ["a"])
    async with ScriptedServer() as server:
        code, _, stderr = await _cli(["run", str(jobs), "--out", str(out), "--download"],
                                     _env(server.url))
        assert server.requests == []
    assert code == 2, stderr
    _clean(stderr)
    assert len(stderr.strip().splitlines()) == 1 and "kling-async: " in stderr
    assert (tmp_path / "file").read_text() == "x"


_FULL_DISK = """
import resource, signal
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (MAXBYTES, MAXBYTES))
"""


@pytest.mark.anyio
async def test_a_full_disk_stops_the_run_cleanly_and_the_rerun_finishes_exactly_once(
    tmp_path: Path,
) -> None:
    """With a file size limit (writes fail with EFBIG, like a full disk) the run stops with
    exit 2 and a message naming the file; the journal stays a sound database, and a rerun
    without the limit ends every job with each task created exactly once."""
    jobs = _image_jobs(tmp_path / "jobs.jsonl", [f"j{i:03d}" for i in range(150)],
                       prompt="a long prompt " * 40)
    out = tmp_path / "out"
    async with KlingSimulator(time_scale=SCALE, seed=5) as sim:
        env = _env(sim.base_url, sim.api_key)
        args = ["run", str(jobs), "--out", str(out), "--no-progress"]
        code, _, stderr = await _cli(args, env, prelude=_FULL_DISK.replace("MAXBYTES", "65536"))
        assert code == 2, stderr
        _clean(stderr)
        assert "kling-async: " in stderr and str(out) in stderr
        db = sqlite3.connect(out / "journal.sqlite3")
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        db.close()
        code, _, stderr = await _cli(args, env)
        assert code == 0, stderr
        tasks = sim.tasks()
    assert len(tasks) == 150 and len({t.external_task_id for t in tasks}) == 150
    assert {r["status"] for r in _rows(out).values()} == {"succeeded"}


# -- 7. submit --wait --timeout bounds everything --------------------------------------------

@pytest.mark.anyio
@pytest.mark.parametrize("wait", [True, False])
async def test_submit_timeout_bounds_a_create_that_never_answers(wait: bool) -> None:
    """A server that accepts the connection and never answers the create: ``submit
    [--wait] --timeout 2`` ends (exit 1) with a message carrying the external_task_id to look
    the task up with, instead of retrying for half an hour."""
    async with ScriptedServer() as server:
        server.script("POST", "/v1/videos/omni-video", then=Reply(delay=3600))
        server.script("GET", "/v1/videos/omni-video", then=Reply(delay=3600))
        body = json.dumps({"prompt": "a cat", "aspect_ratio": "16:9", "duration": "5"})
        args = ["submit", "videos/omni-video", "--json", body, "--timeout", "2",
                "--external-task-id", "mine-1", *(["--wait"] if wait else [])]
        code, stdout, stderr = await _cli(args, _env(server.url), guard=45)
    assert code == 1 and stdout == ""
    _clean(stderr)
    assert "timed out after 2 s" in stderr and "external_task_id mine-1" in stderr
    assert "--external-task-id mine-1" in stderr


@pytest.mark.anyio
async def test_submit_timeout_reports_the_task_id_once_the_task_exists() -> None:
    """Created, then never finishing: ``submit --wait --timeout 2`` ends with the task id
    and the ``wait`` command to continue with."""
    async with ScriptedServer() as server:
        server.script("POST", "/v1/videos/omni-video", then=Reply(json=ok(task_json("t-77"))))
        server.script("GET", "/v1/videos/omni-video/t-77", then=Reply(delay=3600))
        server.script("GET", "/v1/videos/omni-video", then=Reply(delay=3600))
        body = json.dumps({"prompt": "a cat", "aspect_ratio": "16:9", "duration": "5"})
        code, _, stderr = await _cli(["submit", "videos/omni-video", "--json", body, "--wait",
                                      "--timeout", "2"], _env(server.url), guard=45)
    assert code == 1
    _clean(stderr)
    assert "task_id t-77" in stderr and "kling-async wait videos/omni-video t-77" in stderr


# -- 8. more hostile input -----------------------------------------------------------------------

@pytest.mark.anyio
@pytest.mark.parametrize(("content", "expected"), [
    pytest.param(b"\xff\xfe{}\n", "line 1: not UTF-8 text", id="not-utf8"),
    pytest.param(b"", "holds no jobs", id="empty"),
    pytest.param(bytes(range(256)) * 64, "invalid", id="binary"),
    pytest.param(b"\x00" * (2 * 1024 * 1024), "longer than", id="one-huge-line"),
    pytest.param(b"[" * 100_000 + b"\n", "line 1: invalid JSON", id="deep-nesting"),
    pytest.param(json.dumps({"id": "nul", "endpoint": "images/generations",
                             "request": {"prompt": "x"}}).encode(), "reserved device name",
                 id="reserved-name"),
    pytest.param(json.dumps({"id": "ab\n", "endpoint": "images/generations",
                             "request": {"prompt": "x"}}).encode(), "line 1: id: must be",
                 id="id-with-newline"),
])
async def test_bad_jobs_files_are_one_clean_error(tmp_path: Path, content: bytes,
                                                  expected: str) -> None:
    """Jobs files that are not UTF-8, empty, binary, one endless line, nested 100,000 deep,
    or with an id Windows reserves or ending in a newline: exit 2, a message, no traceback."""
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_bytes(content)
    code, _, stderr = await _cli(["run", str(jobs), "--out", str(tmp_path / "out")])
    assert code == 2, stderr
    _clean(stderr)
    assert expected in stderr
    assert len(stderr) < 20_000  # a binary file does not print a line per byte


@pytest.mark.anyio
@pytest.mark.parametrize(("args", "body", "expected"), [
    pytest.param(["--file", "BODY"], b"\xff{}", "must be UTF-8 text", id="file-not-utf8"),
    pytest.param(["--file", "BODY"], b"[" * 100_000, "must be JSON", id="file-deep"),
    pytest.param(["--json", '{"prompt": "\\udc80", "n": 1}'], b"", "lone surrogate",
                 id="json-surrogate"),
    pytest.param(["--json", "{}", "--timeout", "nan"], b"", "--timeout must be",
                 id="timeout-nan"),
])
async def test_bad_submit_input_is_one_clean_error(tmp_path: Path, args: list[str],
                                                   body: bytes, expected: str) -> None:
    """A request file that is not UTF-8 or nests too deep, a body with a lone surrogate, a
    NaN timeout: exit 2 and one message, no traceback."""
    path = tmp_path / "body.json"
    path.write_bytes(body)
    argv = ["submit", "images/generations", *(str(path) if a == "BODY" else a for a in args)]
    code, _, stderr = await _cli(argv)
    assert code == 2, stderr
    _clean(stderr)
    assert expected in stderr


@pytest.mark.anyio
async def test_max_downloads_zero_is_a_usage_error(tmp_path: Path) -> None:
    """``--max-downloads 0`` is refused up front (exit 2), not a traceback mid-run."""
    jobs = _image_jobs(tmp_path / "jobs.jsonl", ["a"])
    code, _, stderr = await _cli(["run", str(jobs), "--out", str(tmp_path / "o"), "--download",
                                  "--max-downloads", "0"])
    assert code == 2 and "--max-downloads must be >= 1" in stderr
    _clean(stderr)


@pytest.mark.anyio
async def test_wait_timeout_bounds_a_server_that_never_answers() -> None:
    """``wait ENDPOINT ID --timeout 2`` against a server that never answers ends (exit 1)
    with the task id and the command to go on with."""
    async with ScriptedServer() as server:
        server.script("GET", "/v1/videos/omni-video/t-5", then=Reply(delay=3600))
        code, _, stderr = await _cli(["wait", "videos/omni-video", "t-5", "--timeout", "2"],
                                     _env(server.url), guard=45)
    assert code == 1
    _clean(stderr)
    assert "timed out after 2 s" in stderr and "task_id t-5" in stderr


@pytest.mark.anyio
async def test_demo_reset_removes_only_what_the_previous_demo_journaled(tmp_path: Path) -> None:
    """``demo --out DIR`` twice: the second run forgets the first demo's files, but a user's
    ``movie.mp4.part`` / ``x.part.json`` / ``notes.txt`` in DIR survive byte for byte."""
    out = tmp_path / "demo"
    out.mkdir()
    users = {"movie.mp4.part": b"half", "x.part.json": b"{}", "notes.txt": b"mine"}
    for name, data in users.items():
        (out / name).write_bytes(data)
    for _ in range(2):
        code, _, stderr = await _cli(["demo", "--out", str(out), "--time-scale", "400",
                                      "--no-progress"], guard=120)
        assert code in (0, 1), stderr
        _clean(stderr)
    for name, data in users.items():
        assert (out / name).read_bytes() == data, name


@pytest.mark.anyio
async def test_result_downloads_carry_no_credentials_even_through_a_redirect(
    tmp_path: Path,
) -> None:
    """A result URL redirecting to another host name: neither hop receives the API key (or
    any Authorization header); the redirected file is saved under the job's name."""
    async with ScriptedServer() as server:
        final = f"http://localhost:{server.port}/cdn/final.png"
        _serve_tasks(server, [f"{server.url}/files/r.png?sig=abc"])
        server.script("GET", "/files/r.png", then=Reply(302, headers={"Location": final}))
        server.script("GET", "/cdn/final.png", then=Reply(body=b"\x89PNG moved"))
        jobs = _image_jobs(tmp_path / "jobs.jsonl", ["a"])
        out = tmp_path / "out"
        code, _, stderr = await _cli(["run", str(jobs), "--out", str(out), "--download",
                                      "--no-progress"], _env(server.url))
        file_requests = server.requests_to("GET", "/files/r.png") + \
            server.requests_to("GET", "/cdn/final.png")
    assert code == 0, stderr
    assert (out / "a.png").read_bytes() == b"\x89PNG moved"
    assert len(file_requests) == 2
    for request in file_requests:
        assert "Authorization" not in request.headers
        assert "test-key" not in json.dumps(dict(request.headers))
