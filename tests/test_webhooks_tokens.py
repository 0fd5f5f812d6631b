"""Webhooks without a secret (gateways that do not sign): each job's callback URL carries an
unguessable token, and a callback with it only re-queries that job; the body is never
trusted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import attrs
import pytest
from yarl import URL

from kling_async import ImageGenerationRequest, Job, JobState, KlingClient, TaskStatus
from kling_async.testing import KlingSimulator
from tests._simhelpers import until
from tests._webhookhelpers import FOREVER, NO_POLLS, Receiver, legacy_body, receiver

pytestmark = pytest.mark.anyio

#: No scheduled poll within a test (the first after an hour, then hourly), while a callback
#: may re-query a job every 10 ms.
TOKEN_POLLS = attrs.evolve(NO_POLLS, min_interval=0.01, growth_ratio=1.0, expected_image=3600)


@asynccontextmanager
async def token_client(sim: KlingSimulator, hook: Receiver) -> AsyncIterator[KlingClient]:
    """An open client of ``sim``, webhooks to ``hook``, no secret, no scheduled poll."""
    client = KlingClient(api_key=sim.api_key, base_url=sim.base_url, poll=TOKEN_POLLS,
                         webhook_url=hook.url)
    hook.client = client
    async with client:
        yield client


def callback_url(sim: KlingSimulator, job: Job) -> URL:
    """The callback URL the job's create carried (as the simulator received it)."""
    [record] = [r for r in sim.tasks() if r.task_id == job.task_id]
    return URL(record.body["callback_url"])


async def test_unsigned_callbacks_resolve_jobs_through_a_get_each(sim: KlingSimulator) -> None:
    """With no secret, every job still ends with no scheduled poll: each callback re-queries
    its job (202 ``poked``)."""
    async with receiver(sim) as hook, token_client(sim, hook) as client:
        jobs = await client.submit_many(
            [ImageGenerationRequest(prompt=f"fox {i}") for i in range(10)])
        with anyio.fail_after(20):
            for job in jobs:
                assert (await job.result()).status is TaskStatus.SUCCEED
        stats = client.statistics()
    assert stats.webhooks["poked"] >= 10
    assert 10 <= stats.polls <= 3 * 10


async def test_each_job_gets_its_own_unguessable_token(sim: KlingSimulator) -> None:
    """Callback URLs are ``webhook_url`` plus a job key and a token of 32 characters or more,
    different for every job."""
    sim.configure(latency=FOREVER)
    async with receiver(sim) as hook, token_client(sim, hook) as client:
        jobs = await client.submit_many([ImageGenerationRequest(prompt="a"),
                                         ImageGenerationRequest(prompt="b")])
        urls = [callback_url(sim, job) for job in jobs]
    assert all(str(url.with_query(None)) == hook.url for url in urls)
    tokens = [url.query["kling_token"] for url in urls]
    assert len(set(tokens)) == 2 and min(map(len, tokens)) >= 32


async def test_an_unsigned_body_is_never_trusted(sim: KlingSimulator) -> None:
    """A body claiming ``succeed`` on the job's own valid URL only re-queries the task: the
    job stays ``submitted`` as the server says."""
    sim.configure(latency=FOREVER)
    async with receiver(sim) as hook, token_client(sim, hook) as client:
        job = await client.submit(ImageGenerationRequest(prompt="fox"))
        assert job.task_id is not None
        url = str(callback_url(sim, job))
        assert await hook.post(legacy_body(job.task_id, "succeed"), url=url) == 202
        await until(lambda: job.polls >= 1)
        await anyio.sleep(0.05)
        assert job.status is JobState.SUBMITTED
        assert job.task_status is TaskStatus.SUBMITTED


async def test_a_wrong_or_missing_token_is_refused(sim: KlingSimulator) -> None:
    """A wrong token, an unknown job key or no token at all gets 401 and polls nothing."""
    sim.configure(latency=FOREVER)
    async with receiver(sim) as hook, token_client(sim, hook) as client:
        job = await client.submit(ImageGenerationRequest(prompt="fox"))
        assert job.task_id is not None
        url = callback_url(sim, job)
        body = legacy_body(job.task_id, "succeed")
        token = url.query["kling_token"]
        wrong = url.update_query(kling_token=token[:-1] + ("B" if token.endswith("A") else "A"))
        unknown = url.update_query(kling_job="ffff")
        assert await hook.post(body, url=str(wrong)) == 401
        assert await hook.post(body, url=str(unknown)) == 401
        assert await hook.post(body) == 401
        await anyio.sleep(0.05)
        counts = client.statistics().webhooks
        assert (counts["forged"], counts["unsigned"], counts["poked"]) == (2, 1, 0)
        assert job.polls == 0


async def test_a_token_of_a_finished_job_is_answered_as_stale(sim: KlingSimulator) -> None:
    """After its job ended, a callback on its URL gets 200 ``stale`` and polls nothing."""
    async with receiver(sim) as hook, token_client(sim, hook) as client:
        job = await client.submit(ImageGenerationRequest(prompt="fox"))
        with anyio.fail_after(20):
            await job.result()
        polls = job.polls
        assert job.task_id is not None
        url = str(callback_url(sim, job))
        assert await hook.post(legacy_body(job.task_id, "succeed"), url=url) == 200
        assert client.statistics().webhooks["stale"] >= 1
        assert job.polls == polls
