"""For people, not only programs (issue 18): a client configured from the environment like
``OpenAI()``, ``KLING_TIME_SCALE`` honoured by the library, ``Task.to_dict()`` / ``to_json()``,
and ``KLING_LOG`` logging."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from typing import Any

import pytest
from anyio.from_thread import start_blocking_portal
from hypothesis import given
from hypothesis import strategies as st

import kling_async as kling
from kling_async import (
    BlockingKlingClient,
    ConfigurationError,
    ImageGenerationRequest,
    KlingClient,
    PollPolicy,
    Task,
    TaskStatus,
)
from kling_async.testing import KlingSimulator
from tests._simhelpers import child_env

KLING_VARS = ("KLING_API_KEY", "KLING_ACCESS_KEY", "KLING_SECRET_KEY", "KLING_BASE_URL",
              "KLING_TIME_SCALE", "KLING_LOG")


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """``os.environ`` without any KLING_* variable (restored after the test)."""
    for name in KLING_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _point_at(environ: pytest.MonkeyPatch, sim: KlingSimulator, scale: str = "50") -> None:
    environ.setenv("KLING_API_KEY", sim.api_key)
    environ.setenv("KLING_BASE_URL", sim.base_url)
    environ.setenv("KLING_TIME_SCALE", scale)


# -- 1. KlingClient() reads the environment --------------------------------------------------

@pytest.mark.anyio
async def test_client_without_arguments_reads_the_environment(
        environ: pytest.MonkeyPatch, sim: KlingSimulator) -> None:
    """KlingClient() takes KLING_API_KEY, KLING_BASE_URL and KLING_TIME_SCALE from the
    environment (it used to raise "set KLING_API_KEY" while that was set), and works."""
    _point_at(environ, sim)
    async with KlingClient(reconcile_delay=0) as client:
        assert client.base_url == sim.base_url
        assert client.poll == PollPolicy().scaled(50)
        job = await client.submit(ImageGenerationRequest(prompt="a dog"))
        assert (await job.result(timeout=60)).status is TaskStatus.SUCCEED


def test_arguments_win_over_the_environment(environ: pytest.MonkeyPatch) -> None:
    """Explicit credentials, base_url and poll win; the environment's credentials are not
    mixed with explicit ones."""
    environ.setenv("KLING_API_KEY", "env-key")
    environ.setenv("KLING_BASE_URL", "http://127.0.0.1:9/env")
    environ.setenv("KLING_TIME_SCALE", "50")
    poll = PollPolicy(min_interval=3)
    client = KlingClient(access_key="ak", secret_key="sk", base_url="https://example.com/gw",
                         poll=poll)
    assert client.base_url == "https://example.com/gw" and client.poll == poll
    assert "auth=jwt" in repr(client)  # not the environment's bearer key
    assert "auth=bearer" in repr(KlingClient())


def test_access_key_and_secret_key_come_from_the_environment(
        environ: pytest.MonkeyPatch) -> None:
    """Without KLING_API_KEY, KLING_ACCESS_KEY + KLING_SECRET_KEY make a JWT client on the
    default host with the default poll policy."""
    environ.setenv("KLING_ACCESS_KEY", "ak")
    environ.setenv("KLING_SECRET_KEY", "sk")
    client = KlingClient()
    assert "auth=jwt" in repr(client) and client.base_url == kling.DEFAULT_BASE_URL
    assert client.poll == PollPolicy()


def test_no_credentials_anywhere_is_still_a_configuration_error(
        environ: pytest.MonkeyPatch) -> None:
    """With nothing set the error names the variables to set."""
    with pytest.raises(ConfigurationError, match="KLING_API_KEY"):
        KlingClient()


def test_from_env_with_a_mapping_reads_only_that_mapping(environ: pytest.MonkeyPatch) -> None:
    """from_env(env) stays: it reads the mapping given, never os.environ behind it."""
    environ.setenv("KLING_API_KEY", "env-key")
    with pytest.raises(ConfigurationError, match="no credentials"):
        KlingClient.from_env({})
    client = KlingClient.from_env({"KLING_API_KEY": "k", "KLING_BASE_URL": "http://127.0.0.1:1",
                                   "KLING_TIME_SCALE": "4"})
    assert client.base_url == "http://127.0.0.1:1"
    assert client.poll == PollPolicy().scaled(4)
    assert KlingClient.from_env().base_url == kling.DEFAULT_BASE_URL


@pytest.mark.parametrize("value", ["fast", "0", "-2", "inf", "nan"])
def test_a_bad_time_scale_is_a_configuration_error(environ: pytest.MonkeyPatch,
                                                   value: str) -> None:
    """KLING_TIME_SCALE must be a finite number > 0; the error names the variable or says
    what a time scale must be."""
    environ.setenv("KLING_API_KEY", "k")
    environ.setenv("KLING_TIME_SCALE", value)
    with pytest.raises(ConfigurationError, match=r"KLING_TIME_SCALE|time scale"):
        KlingClient()


def test_a_time_scale_against_a_remote_host_is_warned_about(
        environ: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """KLING_TIME_SCALE is for a simulator on this machine: with a remote base_url the client
    still scales its polling, and logs a warning saying so."""
    environ.setenv("KLING_API_KEY", "k")
    environ.setenv("KLING_TIME_SCALE", "50")
    with caplog.at_level(logging.WARNING, logger="kling_async"):
        client = KlingClient(base_url="https://api.example.com")
    assert client.poll == PollPolicy().scaled(50)
    assert "KLING_TIME_SCALE" in caplog.text and "api.example.com" in caplog.text


def test_blocking_client_without_arguments_reads_the_environment(
        environ: pytest.MonkeyPatch) -> None:
    """BlockingKlingClient() forwards to KlingClient, so it reads the environment too."""
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(
            KlingSimulator(time_scale=50, seed=5, image_median=2)) as sim:
        _point_at(environ, sim)
        with BlockingKlingClient(reconcile_delay=0) as client:
            assert client.base_url == sim.base_url
            task = client.submit(ImageGenerationRequest(prompt="a dog")).result(timeout=60)
    assert task.status is TaskStatus.SUCCEED


# -- 2. Task.to_dict() / to_json() ------------------------------------------------------------

@pytest.mark.anyio
async def test_a_finished_task_as_a_dict_and_as_json(sim: KlingSimulator) -> None:
    """A finished task's to_dict() is plain JSON data: status in its one spelling, its result
    URLs, times and the units deducted; to_json() is the same as text."""
    async with KlingClient(api_key=sim.api_key, base_url=sim.base_url,
                           poll=PollPolicy().scaled(50), reconcile_delay=0) as client:
        job = await client.submit(ImageGenerationRequest(prompt="a dog", n=2))
        task = await job.result(timeout=60)
    view = task.to_dict()
    assert view["status"] == "succeed" and type(view["status"]) is str
    assert view["task_id"] == task.task_id and view["external_task_id"] == job.external_task_id
    assert view["urls"] == [image.url for image in task.images] and len(view["urls"]) == 2
    assert [image["url"] for image in view["images"]] == view["urls"]
    assert isinstance(view["created_at"], int) and isinstance(view["updated_at"], int)
    assert "final_unit_deduction" in view
    assert json.loads(json.dumps(view)) == view
    assert json.loads(task.to_json()) == view and json.loads(task.to_json(indent=2)) == view


def test_audio_and_parent_video_results_are_in_the_view() -> None:
    """Audio tracks and the parent video of a task are kept, with every URL in ``urls``."""
    task = kling.parse_task({
        "task_id": "t1", "task_status": "succeed", "created_at": 1, "updated_at": 2,
        "final_unit_deduction": "0.5",
        "task_info": {"parent_video": {"id": "p", "url": "https://x/p.mp4", "duration": "5"}},
        "task_result": {"audios": [{"id": "a", "url_mp3": "https://x/a.mp3",
                                    "url_wav": "https://x/a.wav", "duration_mp3": "3.5"}]},
    })
    view = task.to_dict()
    assert view["urls"] == ["https://x/a.mp3", "https://x/a.wav"]
    assert view["audios"][0]["duration_mp3"] == 3.5
    assert view["parent_video"] == {"id": "p", "url": "https://x/p.mp4", "duration": 5.0}
    assert view["final_unit_deduction"] == "0.5" and view["created_at"] == 1


_text = st.text(max_size=12)  # any code point, lone surrogates included
_seconds = st.none() | st.floats(allow_nan=True, allow_infinity=True)
_tasks = st.builds(
    Task, task_id=_text, status=st.sampled_from(TaskStatus), status_msg=st.none() | _text,
    external_task_id=st.none() | _text,
    images=st.lists(st.builds(kling.Image, index=st.integers(), url=_text,
                              watermark_url=st.none() | _text), max_size=2).map(tuple),
    videos=st.lists(st.builds(kling.Video, id=_text, url=_text, duration=_seconds),
                    max_size=2).map(tuple),
    audios=st.lists(st.builds(kling.Audio, id=_text, url_mp3=st.none() | _text,
                              duration_wav=_seconds), max_size=2).map(tuple),
    parent_video=st.none() | st.builds(kling.ParentVideo, duration=_seconds),
    created_at=st.none() | st.integers(), final_unit_deduction=st.none() | _text,
)


@given(_tasks)
def test_any_task_round_trips_through_json(task: Task) -> None:
    """Whatever a Task holds (any text, huge ints, NaN or infinite durations), its view is
    strict JSON (no NaN/Infinity) that reads back equal to itself."""
    view: dict[str, Any] = task.to_dict()
    text = json.dumps(view, allow_nan=False)
    assert json.loads(text) == view
    assert json.loads(task.to_json()) == view


# -- 3. KLING_LOG and the /v1 hint -------------------------------------------------------------

_LOGGING_SCRIPT = """
import logging, kling_async
log = logging.getLogger("kling_async")
for _ in range(3):
    kling_async.KlingClient(api_key="k")  # each creation reads KLING_LOG again
log.debug("a debug line")
log.info("an info line")
print(sum(h.get_name() == "kling_async:KLING_LOG" for h in log.handlers))
"""


def _python(script: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in a child Python with ``env`` added to a KLING_*-free environment."""
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=True, env=child_env(**env))


@pytest.mark.parametrize(("value", "shown", "hidden"), [
    pytest.param("debug", ["a debug line", "an info line"], [], id="debug"),
    pytest.param(" INFO ", ["an info line"], ["a debug line"], id="info"),
])
def test_kling_log_turns_on_one_readable_stderr_handler(value: str, shown: list[str],
                                                        hidden: list[str]) -> None:
    """KLING_LOG=debug|info logs kling_async records to stderr as "[time LEVEL name] text",
    through exactly one handler however many clients are created."""
    done = _python(_LOGGING_SCRIPT, KLING_LOG=value)
    assert done.stdout.strip() == "1"
    for text in shown:
        level = text.split()[1].upper()
        line = rf"^\[\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d {level} kling_async\] {text}$"
        assert len(re.findall(line, done.stderr, re.MULTILINE)) == 1, done.stderr
    for text in hidden:
        assert text not in done.stderr


@pytest.mark.parametrize("value", ["", "verbose"])
def test_kling_log_unset_or_unknown_adds_no_handler(value: str) -> None:
    """Unset, KLING_LOG changes nothing; an unknown value is ignored with one warning."""
    done = _python(_LOGGING_SCRIPT, KLING_LOG=value)
    assert done.stdout.strip() == "0"
    assert "a debug line" not in done.stderr and "an info line" not in done.stderr
    if value:
        assert done.stderr.count("KLING_LOG='verbose' is ignored: use debug or info") == 1


@pytest.mark.parametrize("base_url", ["https://api-singapore.klingai.com/v1",
                                      "https://gw.example.com/kling/v1/"])
def test_a_base_url_ending_in_v1_gets_a_hint(base_url: str,
                                             caplog: pytest.LogCaptureFixture) -> None:
    """A base_url ending in /v1 is logged as a warning: requests would go to /v1/v1/...;
    a gateway prefix alone is not."""
    with caplog.at_level(logging.WARNING, logger="kling_async"):
        KlingClient(api_key="k", base_url=base_url)
        assert "/v1/v1/" in caplog.text and "drop the trailing /v1" in caplog.text
        caplog.clear()
        KlingClient(api_key="k", base_url=base_url.rstrip("/").removesuffix("/v1"))
        assert caplog.text == ""
