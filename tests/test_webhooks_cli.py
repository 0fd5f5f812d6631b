"""``kling-async run --webhook-listen HOST:PORT [--webhook-url URL]``: a batch with its own
webhook receiver, the simulator (in a thread) calling it back signed."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from kling_async.cli import main
from kling_async.testing import KlingSimulator
from tests._simhelpers import threaded_simulator
from tests._webhookhelpers import SECRET

SCALE = 400.0


@pytest.fixture(scope="module")
def sim() -> Iterator[KlingSimulator]:
    """A simulator signing its callbacks with ``SECRET``, serving from its own thread."""
    with threaded_simulator(time_scale=SCALE, seed=9, webhook_secrets=(SECRET,)) as simulator:
        yield simulator


@pytest.fixture
def env(sim: KlingSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KLING_ACCESS_KEY", "KLING_SECRET_KEY", "KLING_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {"KLING_BASE_URL": sim.base_url, "KLING_API_KEY": sim.api_key,
                        "KLING_TIME_SCALE": str(SCALE), "KLING_WEBHOOK_SECRET": SECRET}.items():
        monkeypatch.setenv(name, value)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def jobs_file(tmp_path: Path, count: int) -> Path:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("\n".join(json.dumps({"id": f"j{i}", "endpoint": "images/generations",
                                          "request": {"prompt": f"p{i}"}})
                              for i in range(count)))
    return jobs


@pytest.mark.usefixtures("env")
def test_run_serves_a_webhook_receiver_for_the_batch(
        sim: KlingSimulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every create names the listener's URL; the simulator's signed callbacks are all
    accepted (2xx) and the batch succeeds."""
    port = free_port()
    before = sim.stats()
    argv = ["run", str(jobs_file(tmp_path, 5)), "--out", str(tmp_path / "out"),
            "--no-progress", "--webhook-listen", f"127.0.0.1:{port}"]
    assert main(argv) == 0
    printed = capsys.readouterr()
    assert "5 succeeded, 0 failed" in printed.out
    assert f"receiving webhooks on 127.0.0.1:{port}" in printed.err
    assert SECRET not in printed.out + printed.err
    urls = {record.body.get("callback_url") for record in sim.tasks()[-5:]}
    assert urls == {f"http://127.0.0.1:{port}/kling-webhook"}
    after = sim.stats()
    assert after.callbacks_sent > before.callbacks_sent
    assert after.callbacks_failed == before.callbacks_failed


@pytest.mark.usefixtures("env")
@pytest.mark.parametrize("listen", ["nowhere", "127.0.0.1:99999", ":80"])
def test_a_bad_listen_address_is_a_usage_error(
        listen: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--webhook-listen`` must be HOST:PORT: anything else exits 2 and sends nothing."""
    argv = ["run", str(jobs_file(tmp_path, 1)), "--out", str(tmp_path / "out"),
            "--no-progress", "--webhook-listen", listen]
    assert main(argv) == 2
    assert "--webhook-listen" in capsys.readouterr().err
