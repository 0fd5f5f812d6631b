"""For people, not only programs (issue 18): a client configured from the environment like
``OpenAI()``, ``KLING_TIME_SCALE`` honoured by the library, ``Task.to_dict()`` / ``to_json()``,
and ``KLING_LOG`` logging."""

from __future__ import annotations

import logging

import pytest
from anyio.from_thread import start_blocking_portal

import kling_async as kling
from kling_async import (
    BlockingKlingClient,
    ConfigurationError,
    ImageGenerationRequest,
    KlingClient,
    PollPolicy,
    TaskStatus,
)
from kling_async.testing import KlingSimulator

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
