"""Signed webhooks: the simulator calls back a loopback aiohttp app running
``aiohttp_webhook_handler``, and ``KlingClient.handle_webhook`` resolves jobs from the bodies.

Hostile requests (forged, replayed, unsigned, oversized, changed under a seen id, out of
order, for unknown or finished jobs) are posted to the same app: each is refused or ignored,
changes no job, and is counted and emitted.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

from kling_async import (
    BlockingKlingClient,
    ConfigurationError,
    Event,
    ImageGenerationRequest,
    Job,
    JobState,
    KlingClient,
    Limits,
    PollPolicy,
    TaskStatus,
    WebhookReceived,
)
from kling_async.testing import KlingSimulator, SimulatorConfig
from tests._simhelpers import SCALE
from tests._webhookhelpers import (
    FOREVER,
    NO_POLLS,
    OTHER_SECRET,
    SECRET,
    Receiver,
    legacy_body,
    new_body,
    receiver,
    signed,
)
from tests.test_blocking import serving
from tests.test_lifecycle_secrets import _local_texts

pytestmark = pytest.mark.anyio


@pytest.fixture
def sim_config() -> SimulatorConfig:
    """Fast tasks, callbacks signed with ``SECRET``."""
    return SimulatorConfig(time_scale=SCALE, seed=7, image_median=2, video_median=4,
                           webhook_secrets=(SECRET,))


@asynccontextmanager
async def webhook_client(sim: KlingSimulator, hook: Receiver, *, poll: PollPolicy = NO_POLLS,
                         events: list[Event] | None = None, **kwargs: Any
                         ) -> AsyncIterator[KlingClient]:
    """An open client of ``sim`` whose webhooks go to ``hook`` (signed with ``SECRET``
    unless ``webhook_secret`` is given)."""
    kwargs.setdefault("webhook_secret", SECRET)
    client = KlingClient(api_key=sim.api_key, base_url=sim.base_url, poll=poll,
                         webhook_url=hook.url, on_event=events.append if events is not None
                         else None, **kwargs)
    hook.client = client
    async with client:
        yield client


async def pending_job(client: KlingClient, sim: KlingSimulator, prompt: str = "a fox") -> Job:
    """A submitted image job whose task does not end during the test."""
    sim.configure(latency=FOREVER)
    return await client.submit(ImageGenerationRequest(prompt=prompt))


async def test_signed_callbacks_resolve_jobs_without_any_poll(sim: KlingSimulator) -> None:
    """Twenty image jobs end through signed callbacks alone: no GET is made."""
    async with receiver(sim) as hook, webhook_client(sim, hook) as client:
        jobs = await client.submit_many(
            [ImageGenerationRequest(prompt=f"fox {i}") for i in range(20)])
        with anyio.fail_after(20):
            for job in jobs:
                assert (await job.result()).status is TaskStatus.SUCCEED
        stats = client.statistics()
    assert stats.requests_by_method.get("GET", 0) == 0
    assert stats.polls == 0
    assert stats.webhooks["applied"] >= 20
    assert stats.jobs_by_state["succeeded"] == 20


async def test_every_create_carries_the_webhook_url_and_keeps_a_users_own(
        sim: KlingSimulator) -> None:
    """Each create body names ``webhook_url`` as its callback_url; a request's own
    callback_url is sent unchanged, and so is create_task's."""
    async with receiver(sim) as hook, webhook_client(sim, hook) as client:
        await client.submit(ImageGenerationRequest(prompt="ours"))
        await client.submit(ImageGenerationRequest(prompt="mine",
                                                   callback_url="http://127.0.0.1:9/mine"))
        await client.create_task(ImageGenerationRequest(prompt="low level"))
    urls = {record.body["prompt"]: record.body.get("callback_url") for record in sim.tasks()}
    assert urls == {"ours": hook.url, "mine": "http://127.0.0.1:9/mine", "low level": hook.url}


async def test_a_forged_signature_is_refused_and_changes_nothing(sim: KlingSimulator) -> None:
    """A body signed with another secret gets 401; the job stays as it was; the request is
    counted and emitted as ``forged``."""
    events: list[Event] = []
    async with receiver(sim) as hook, webhook_client(sim, hook, events=events) as client:
        job = await pending_job(client, sim)
        assert job.task_id is not None
        body = legacy_body(job.task_id, "succeed", job.external_task_id)
        assert await hook.post(body, signed(body, OTHER_SECRET)) == 401
        assert job.status is JobState.SUBMITTED
        assert client.statistics().webhooks["forged"] == 1
    received = [e for e in events if isinstance(e, WebhookReceived)]
    assert [(e.outcome, e.status) for e in received] == [("forged", 401)]


async def test_a_replayed_request_is_refused_by_its_timestamp(sim: KlingSimulator) -> None:
    """A correctly signed request whose timestamp is more than 5 minutes old (or ahead)
    gets 401 ``replayed`` and changes nothing."""
    async with receiver(sim) as hook, webhook_client(sim, hook) as client:
        job = await pending_job(client, sim)
        assert job.task_id is not None
        body = legacy_body(job.task_id, "succeed")
        old = signed(body, SECRET, timestamp=int(time.time()) - 400)
        ahead = signed(body, SECRET, msg_id="msg-2", timestamp=int(time.time()) + 400)
        assert await hook.post(body, old) == 401
        assert await hook.post(body, ahead) == 401
        assert job.status is JobState.SUBMITTED
        assert client.statistics().webhooks["replayed"] == 2


async def test_an_unsigned_callback_is_refused_when_a_secret_is_set(
        sim: KlingSimulator) -> None:
    """With a secret, a body without signature headers gets 401 ``unsigned``."""
    async with receiver(sim) as hook, webhook_client(sim, hook) as client:
        job = await pending_job(client, sim)
        assert job.task_id is not None
        assert await hook.post(legacy_body(job.task_id, "succeed")) == 401
        assert job.status is JobState.SUBMITTED
        assert client.statistics().webhooks["unsigned"] == 1


async def test_malformed_signature_headers_are_refused(sim: KlingSimulator) -> None:
    """Missing, non-numeric or garbled signature headers get 401 ``forged``, never an
    error."""
    async with receiver(sim) as hook, webhook_client(sim, hook) as client:
        job = await pending_job(client, sim)
        assert job.task_id is not None
        body = legacy_body(job.task_id, "succeed")
        good = signed(body, SECRET)
        variants = [
            {**good, "webhook-timestamp": "soon"},
            {**good, "webhook-signature": "v1"},
            {**good, "webhook-signature": "v1,not base64!!"},
            {k: v for k, v in good.items() if k != "webhook-id"},
            {**good, "webhook-id": "x" * 300},
        ]
        for headers in variants:
            assert await hook.post(body, headers) == 401
        assert job.status is JobState.SUBMITTED
        assert client.statistics().webhooks["forged"] == len(variants)


async def test_rotation_several_signatures_and_several_secrets(sim: KlingSimulator) -> None:
    """Kling's rotation (two signatures in the header, one by a secret we do not have) and
    ours (two secrets, the body signed by either) verify; a malformed entry beside a good
    one is skipped."""
    async with receiver(sim) as hook, webhook_client(
            sim, hook, webhook_secret=[OTHER_SECRET, SECRET]) as client:
        job = await pending_job(client, sim)
        assert job.task_id is not None
        third = "whsec_" + "dGhpcmQtc2VjcmV0LXRoaXJkLXNlY3JldC10aGlyZC0="
        processing = legacy_body(job.task_id, "processing")
        assert await hook.post(processing, signed(processing, third, SECRET, msg_id="a")) == 200
        headers = signed(processing, SECRET, msg_id="b")
        headers["webhook-signature"] = "v1,@@@ v2,abc " + headers["webhook-signature"]
        assert await hook.post(processing, headers) == 200
        done = legacy_body(job.task_id, "succeed")
        assert await hook.post(done, signed(done, OTHER_SECRET, msg_id="c")) == 200
        assert job.status is JobState.SUCCEEDED
        counts = client.statistics().webhooks
        assert (counts["progress"], counts["applied"]) == (2, 1)


async def test_a_redelivery_is_answered_but_applied_once_and_a_changed_body_refused(
        sim: KlingSimulator) -> None:
    """The same webhook-id and body again gets 200 ``duplicate``; another body under that
    id gets 409 ``conflict`` and changes nothing."""
    events: list[Event] = []
    async with receiver(sim) as hook, webhook_client(sim, hook, events=events) as client:
        job = await pending_job(client, sim)
        assert job.task_id is not None
        body = legacy_body(job.task_id, "failed")
        headers = signed(body, SECRET, msg_id="once")
        assert await hook.post(body, headers) == 200
        assert await hook.post(body, signed(body, SECRET, msg_id="once")) == 200
        changed = legacy_body(job.task_id, "succeed")
        assert await hook.post(changed, signed(changed, SECRET, msg_id="once")) == 409
        assert job.status is JobState.FAILED
        counts = client.statistics().webhooks
    assert (counts["applied"], counts["duplicate"], counts["conflict"]) == (1, 1, 1)
    ends = [e for e in events if type(e).__name__ in ("JobFailed", "JobSucceeded")]
    assert len(ends) == 1


async def test_a_status_before_the_end_is_information_not_a_poll(sim: KlingSimulator) -> None:
    """A verified ``processing`` gets 200 ``progress``: the job's state and history show it,
    and it triggers no poll (the schedule stays the poller's until the task ends)."""
    async with receiver(sim) as hook, webhook_client(sim, hook) as client:
        job = await pending_job(client, sim)
        assert job.task_id is not None
        body = legacy_body(job.task_id, "processing")
        assert await hook.post(body, signed(body, SECRET)) == 200
        await anyio.sleep(0.05)
        assert (job.status, job.polls) == (JobState.PROCESSING, 0)
        assert job.task_status is TaskStatus.PROCESSING
        assert [status for status, _ in job.history][-1] is TaskStatus.PROCESSING
        assert client.statistics().webhooks["progress"] == 1


async def test_out_of_order_and_late_callbacks_never_move_a_job_back(
        sim: KlingSimulator) -> None:
    """``processing`` after ``succeed`` is ignored (200 ``stale``), and so is any callback for
    a finished job: its result stays."""
    async with receiver(sim) as hook, webhook_client(sim, hook) as client:
        job = await pending_job(client, sim)
        assert job.task_id is not None
        done = legacy_body(job.task_id, "succeed", url="https://cdn.example/final.png")
        assert await hook.post(done, signed(done, SECRET, msg_id="end")) == 200
        late = legacy_body(job.task_id, "processing")
        assert await hook.post(late, signed(late, SECRET, msg_id="late")) == 200
        failed = legacy_body(job.task_id, "failed")
        assert await hook.post(failed, signed(failed, SECRET, msg_id="later")) == 200
        result = await job.result()
        assert job.status is JobState.SUCCEEDED
        assert result.urls == ("https://cdn.example/final.png",)
        assert client.statistics().webhooks["stale"] == 2


async def test_a_callback_about_no_job_of_this_client_is_ignored(sim: KlingSimulator) -> None:
    """A verified body naming an unknown task (or Kling's console test body) gets 200
    ``unknown``."""
    async with receiver(sim) as hook, webhook_client(sim, hook) as client:
        test_body = new_body("1234567890", "submitted")
        assert await hook.post(test_body, signed(test_body, SECRET, msg_id="t")) == 200
        other = legacy_body("999", "succeed")
        assert await hook.post(other, signed(other, SECRET, msg_id="u")) == 200
        assert client.statistics().webhooks["unknown"] == 2


async def test_the_new_standard_body_resolves_its_job(sim: KlingSimulator) -> None:
    """A signed new-standard task object (``id``, ``succeeded``, ``outputs``) ends its job
    with its outputs."""
    async with receiver(sim) as hook, webhook_client(sim, hook) as client:
        job = await pending_job(client, sim)
        assert job.task_id is not None
        body = new_body(job.task_id, "succeeded", url="https://cdn.example/new.png")
        assert await hook.post(body, signed(body, SECRET)) == 200
        assert (await job.result()).urls == ("https://cdn.example/new.png",)


async def test_a_signed_body_that_is_no_task_object_is_refused(sim: KlingSimulator) -> None:
    """A verified body that is not JSON, or names no task, gets 400 ``malformed``."""
    async with receiver(sim) as hook, webhook_client(sim, hook) as client:
        for number, body in enumerate([b"not json", b"[1, 2]", b'{"status": "succeed"}']):
            assert await hook.post(body, signed(body, SECRET, msg_id=f"m{number}")) == 400
        assert client.statistics().webhooks["malformed"] == 3


async def test_oversized_bodies_are_refused_before_being_read_whole(
        sim: KlingSimulator) -> None:
    """Over ``Limits.max_webhook_bytes``, a body gets 413 ``oversized``: by its
    Content-Length, and (sent chunked, with none) by counting while reading."""
    async with receiver(sim) as hook, webhook_client(
            sim, hook, limits=Limits(max_webhook_bytes=1000)) as client:
        big = b"{" + b" " * 5000 + b"}"
        assert await hook.post(big, signed(big, SECRET)) == 413

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(100):
                yield b" " * 1000

        async with hook.session.post(hook.url, data=chunks(), headers=signed(big, SECRET)
                                     ) as resp:
            assert resp.status == 413
        assert client.statistics().webhooks["oversized"] == 2


async def test_remembered_delivery_ids_are_bounded(sim: KlingSimulator) -> None:
    """With ``Limits.max_webhook_ids=5``, the sixth newer id makes the oldest forgotten (its
    redelivery is handled again) while a recent one is still recognised."""
    async with receiver(sim) as hook, webhook_client(
            sim, hook, limits=Limits(max_webhook_ids=5)) as client:
        bodies = [legacy_body(str(1000 + n), "succeed") for n in range(20)]
        for n, body in enumerate(bodies):
            assert await hook.post(body, signed(body, SECRET, msg_id=f"id-{n}")) == 200
        assert await hook.post(bodies[19], signed(bodies[19], SECRET, msg_id="id-19")) == 200
        assert await hook.post(bodies[0], signed(bodies[0], SECRET, msg_id="id-0")) == 200
        counts = client.statistics().webhooks
    assert (counts["duplicate"], counts["unknown"]) == (1, 21)


async def test_a_client_that_is_not_open_answers_503(sim: KlingSimulator) -> None:
    """Before it opens and after it closes, ``handle_webhook`` answers 503 ``closed``."""
    client = KlingClient(api_key=sim.api_key, base_url=sim.base_url, webhook_secret=SECRET)
    body = legacy_body("1", "succeed")
    assert await client.handle_webhook(signed(body, SECRET), body) == 503
    async with client:
        pass
    assert await client.handle_webhook(signed(body, SECRET), body) == 503
    assert client.statistics().webhooks["closed"] == 2


def test_webhook_settings_come_from_the_environment() -> None:
    """``KLING_WEBHOOK_URL`` and ``KLING_WEBHOOK_SECRET`` (comma-separated for a rotation)
    configure a client; arguments win."""
    env = {"KLING_API_KEY": "k", "KLING_WEBHOOK_URL": "https://example.com/hook",
           "KLING_WEBHOOK_SECRET": f"{SECRET},{OTHER_SECRET}"}
    assert KlingClient.from_env(env).webhook_url == "https://example.com/hook"
    assert KlingClient.from_env(env, webhook_url="https://other.example/h").webhook_url == (
        "https://other.example/h")
    assert KlingClient.from_env({"KLING_API_KEY": "k"}).webhook_url is None


@pytest.mark.parametrize("secret", ["whsec_not base64!", "whsec_@@@@", "plain text secret"])
def test_an_unusable_secret_is_a_configuration_error_that_never_shows_it(secret: str) -> None:
    """A secret that is not ``whsec_`` + base64 raises ``ConfigurationError`` naming its
    position, not its value."""
    with pytest.raises(ConfigurationError, match="webhook secret") as caught:
        KlingClient(api_key="k", webhook_secret=[SECRET, secret])
    assert "#2" in str(caught.value)
    assert secret not in str(caught.value)


@pytest.mark.parametrize("url", ["ftp://example.com/h", "not a url", "https://e.com/h#frag",
                                 "https://e.com/h?kling_token=1"])
def test_an_unusable_webhook_url_is_a_configuration_error(url: str) -> None:
    """``webhook_url`` must be http(s) with a host, no fragment and none of our parameters."""
    with pytest.raises(ConfigurationError, match="webhook_url"):
        KlingClient(api_key="k", webhook_url=url)


async def test_a_callback_before_the_create_reply_is_deferred_not_remembered(
        sim: KlingSimulator) -> None:
    """A verified callback naming a job whose create reply has not arrived gets 503 (to be
    delivered again) and its webhook-id is not remembered as handled."""
    sim.configure(latency=FOREVER, faults={"delay": 1.0, "delay_scope": "post",
                                           "delay_seconds": 0.5})
    async with receiver(sim) as hook, webhook_client(sim, hook) as client:
        job = client.submit_nowait(ImageGenerationRequest(prompt="fox"))
        assert job.external_task_id is not None and job.task_id is None
        body = legacy_body("4242", "succeed", job.external_task_id)
        assert await hook.post(body, signed(body, SECRET, msg_id="early")) == 503
        await job.wait_submitted()
        assert await hook.post(body, signed(body, SECRET, msg_id="early")) == 200
        counts = client.statistics().webhooks
    assert (counts["early"], counts["duplicate"], counts["unknown"]) == (1, 0, 1)
    assert job.status is JobState.SUBMITTED


def test_an_unusable_secret_leaves_no_secret_in_the_traceback_locals() -> None:
    """A refused ``webhook_secret`` list leaves neither secret in the message, the formatted
    traceback or the locals of the frames it passed through."""
    with pytest.raises(ConfigurationError) as caught:
        KlingClient(api_key="k", webhook_secret=[SECRET, BAD_SECRET])
    texts = [str(caught.value), "".join(traceback.format_exception(caught.value)),
             *_local_texts(caught.value)]
    for text in texts:
        assert SECRET not in text and BAD_SECRET not in text, text


BAD_SECRET = "whsec_@@ bad"


def test_the_blocking_client_handles_webhooks_too() -> None:
    """``BlockingKlingClient(webhook_url=, webhook_secret=).handle_webhook`` (for WSGI apps)
    verifies and applies a signed body like the async client."""
    with serving(latency=FOREVER) as sim, BlockingKlingClient(
            api_key=sim.api_key, base_url=sim.base_url, poll=NO_POLLS,
            webhook_url="https://example.com/hook", webhook_secret=SECRET) as client:
        job = client.submit(ImageGenerationRequest(prompt="fox"))
        assert job.task_id is not None
        body = legacy_body(job.task_id, "succeed")
        assert client.handle_webhook(signed(body, OTHER_SECRET), body) == 401
        assert client.handle_webhook(signed(body, SECRET), body) == 200
        assert job.result(timeout=5).status is TaskStatus.SUCCEED


@pytest.mark.parametrize("wrap", [
    pytest.param(lambda task_id: {"code": 0, "data": {"id": task_id, "status": "succeeded",
                                                      "outputs": []}}, id="new-in-envelope"),
    pytest.param(lambda task_id: {"task_id": task_id, "task_status": "succeeded"},
                 id="legacy-keys-new-status"),
])
async def test_envelopes_and_mixed_spellings_resolve_their_job(
        sim: KlingSimulator, wrap: Any) -> None:
    """A task object inside a ``{code, data}`` envelope, or legacy keys with the new status
    spelling ``succeeded``, is read as its task (reference §5.2)."""
    async with receiver(sim) as hook, webhook_client(sim, hook) as client:
        job = await pending_job(client, sim)
        body = json.dumps(wrap(job.task_id)).encode()
        assert await hook.post(body, signed(body, SECRET)) == 200
        assert (await job.result()).status is TaskStatus.SUCCEED
