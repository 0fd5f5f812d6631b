"""Concurrency per (account, model version, pack type) bucket (reference §6): a 1303 on one
model never throttles another model's work; ``max_in_flight`` stays the account-wide ceiling."""

from __future__ import annotations

from typing import Any

import anyio
import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import kling_async as kling
from kling_async import (
    Event,
    ImageToVideoRequest,
    JobState,
    JobSubmitted,
    KlingClient,
    Limits,
    PollPolicy,
    TextToVideoRequest,
    WaitingForCapacity,
)
from kling_async._buckets import concurrency_bucket
from kling_async._capacity import AdaptiveCapacity

from ._scripted import Reply, ScriptedServer, error_body, ok, task_json
from ._simhelpers import FAST_RETRY, until

pytestmark = pytest.mark.timeout(20)

T2V = "/v1/videos/text2video"  # kling-v3 work here (= kling-3.0)
I2V = "/v1/videos/image2video"  # kling-v2-6 work here (= kling-2.6)
V3 = "video/kling-3.0"
V26 = "video/kling-2.6"
FRAME = "https://example.com/frame.png"
#: Fast polls and no deadline: a task left running stays running.
POLL = attrs.evolve(PollPolicy().scaled(500), deadline=None)


# -- which bucket ----------------------------------------------------------------------------

@pytest.mark.parametrize(("endpoint", "request_", "bucket"), [
    pytest.param("videos/text2video", TextToVideoRequest(prompt="x", model_name="kling-v3"),
                 "video/kling-3.0", id="legacy-v3"),
    pytest.param("text-to-video/kling-3.0", None, "video/kling-3.0", id="new-3.0"),
    pytest.param("videos/omni-video", kling.OmniVideoRequest(prompt="x", aspect_ratio="16:9"),
                 "video/kling-o1", id="legacy-default-o1"),
    pytest.param("videos/omni-video", {"model_name": "kling-v3-omni"},
                 "video/kling-3.0-omni", id="wire-body-v3-omni"),
    pytest.param("videos/image2video", {"model_name": "kling-v2-6"}, "video/kling-2.6",
                 id="legacy-v2-6"),
    pytest.param("text-to-video/kling-2.6", None, "video/kling-2.6", id="new-2.6"),
    pytest.param("videos/text2video", {"model_name": "kling-v2-5-turbo"},
                 "video/kling-2.5-turbo", id="legacy-2.5-turbo"),
    pytest.param("text-to-video/kling-3.0-turbo", None, "video/kling-3.0-turbo",
                 id="new-3.0-turbo"),
    pytest.param("videos/text2video", None, "video/kling-v1", id="no-request-default"),
    pytest.param("images/generations", {"model_name": "kling-v3"}, "image/kling-3.0",
                 id="image-pack"),
    pytest.param("images/omni-image", {}, "image/kling-image-o1", id="image-default"),
    pytest.param("videos/text2video", {"model_name": 7}, "video/kling-v1", id="odd-name"),
])
def test_concurrency_bucket_maps_both_standards_to_one_family(
    endpoint: str, request_: Any, bucket: str
) -> None:
    """Legacy ``model_name``s and new path models of one model share one bucket per pack."""
    assert concurrency_bucket(endpoint, request_) == bucket


# -- through the client, against a scripted server -------------------------------------------

def _client(server: ScriptedServer, events: list[Event], max_in_flight: int = 4
            ) -> KlingClient:
    return KlingClient(api_key="k", base_url=server.url, allow_insecure_http=True,
                       retry=FAST_RETRY, poll=POLL, reconcile_delay=0,
                       limits=Limits(max_in_flight=max_in_flight), on_event=events.append)


def _v3(i: int) -> TextToVideoRequest:
    return TextToVideoRequest(prompt=f"a cat {i}", model_name="kling-v3")


def _v26(i: int) -> ImageToVideoRequest:
    return ImageToVideoRequest(image=FRAME, prompt=f"a dog {i}", model_name="kling-v2-6")


def _succeeded(task_id: str) -> Reply:
    return Reply(json=ok(task_json(task_id, "succeed", task_result={
        "videos": [{"id": "v", "url": f"https://cdn.example/{task_id}.mp4"}]})))


def _script_v3_full(server: ScriptedServer) -> None:
    """kling-3.0: one task accepted and still running; every further create gets 1303."""
    server.script("POST", T2V, Reply(json=ok(task_json("a-1"))),
                  then=Reply(429, json=error_body(1303, "parallel task over limit")))
    server.script("GET", f"{T2V}/a-1", then=Reply(json=ok(task_json("a-1", "processing"))))


def _script_v26(server: ScriptedServer, count: int) -> None:
    """kling-2.6: every create accepted, every task done at its first poll."""
    server.script("POST", I2V, *(Reply(json=ok(task_json(f"b-{i}"))) for i in range(count)))
    for i in range(count):
        server.script("GET", f"{I2V}/b-{i}", then=_succeeded(f"b-{i}"))


@pytest.mark.anyio
async def test_a_1303_on_one_model_never_delays_another_models_jobs(
    server: ScriptedServer,
) -> None:
    """After kling-3.0 answers 1303 (its limit learned: 1), kling-2.6 jobs are sent at once,
    none waits for capacity, all finish, while the kling-3.0 job stays queued."""
    _script_v3_full(server)
    _script_v26(server, 3)
    events: list[Event] = []
    async with _client(server, events) as client:
        first = await client.submit(_v3(0))
        second = client.submit_nowait(_v3(1))
        await until(lambda: client.statistics().concurrency_rejections == 1
                     and second.status is JobState.WAITING)
        with anyio.fail_after(10):  # bounded: before buckets, these waited behind kling-3.0
            others = await client.submit_many([_v26(i) for i in range(3)])
            tasks = [await job.result() for job in others]
        stats = client.statistics()
        assert second.status is JobState.WAITING and first.status is JobState.PROCESSING
    assert [t.task_id for t in tasks] == ["b-0", "b-1", "b-2"]
    assert server.count("POST", I2V) == 3 and server.count("POST", T2V) == 2
    waited = [e.job for e in events if isinstance(e, WaitingForCapacity)]
    assert waited and all(job is second for job in waited)
    assert stats.capacity_by_bucket == {V3: 1, V26: 4}
    assert stats.in_flight_slots_by_bucket == {V3: 1, V26: 0}


@pytest.mark.anyio
async def test_max_in_flight_stays_the_account_wide_ceiling(server: ScriptedServer) -> None:
    """With ``max_in_flight=2`` and one kling-3.0 task running, kling-2.6 jobs go one at a
    time: all buckets together never hold more than 2 slots."""
    _script_v3_full(server)
    _script_v26(server, 4)
    events: list[Event] = []
    held: list[int] = []  # slots held, all buckets, each time a job was accepted
    clients: list[KlingClient] = []

    def on_event(event: Event) -> None:
        events.append(event)
        if isinstance(event, JobSubmitted):
            held.append(clients[0].statistics().in_flight_slots)

    client = KlingClient(api_key="k", base_url=server.url, allow_insecure_http=True,
                         retry=FAST_RETRY, poll=POLL, reconcile_delay=0,
                         limits=Limits(max_in_flight=2), on_event=on_event)
    clients.append(client)
    async with client:
        await client.submit(_v3(0))
        jobs = await client.submit_many([_v26(i) for i in range(4)])
        for job in jobs:
            await job.result(timeout=10)
    assert len(held) == 5 and max(held) == 2
    assert server.count("POST", I2V) == 4
    assert sum(isinstance(e, WaitingForCapacity) for e in events) == 3


@pytest.mark.anyio
async def test_every_bucket_gives_its_slots_back(server: ScriptedServer) -> None:
    """When the running kling-3.0 task ends, the queued kling-3.0 job is sent; at the end no
    bucket holds a slot and every job of both models succeeded."""
    server.script("POST", T2V, Reply(json=ok(task_json("a-0"))),
                  Reply(429, json=error_body(1303)), Reply(json=ok(task_json("a-1"))))
    server.script("GET", f"{T2V}/a-0", Reply(json=ok(task_json("a-0", "processing"))),
                  Reply(json=ok(task_json("a-0", "processing"))), then=_succeeded("a-0"))
    server.script("GET", f"{T2V}/a-1", then=_succeeded("a-1"))
    _script_v26(server, 3)
    events: list[Event] = []
    async with _client(server, events) as client:
        jobs = [await client.submit(_v3(0)), client.submit_nowait(_v3(1)),
                *await client.submit_many([_v26(i) for i in range(3)])]
        for job in jobs:
            await job.result(timeout=10)
        stats = client.statistics()
    assert stats.in_flight_slots == 0
    assert set(stats.in_flight_slots_by_bucket.values()) == {0}
    assert stats.jobs_by_state["succeeded"] == 5 and stats.concurrency_rejections == 1


# -- the buckets' queues (AdaptiveCapacity) --------------------------------------------------

def _granted_into(log: list[str], name: str) -> Any:
    def grant() -> bool:
        log.append(name)
        return True
    return grant


def test_a_full_bucket_never_blocks_a_later_waiter_of_another_bucket() -> None:
    """A waiter of a full bucket stays queued while a later waiter of another bucket is served
    as soon as its own bucket has room."""
    capacity = AdaptiveCapacity(10, initial=1)
    granted: list[str] = []
    assert capacity.try_acquire(1, bucket="a") and capacity.try_acquire(1, bucket="b")
    capacity.defer(1, _granted_into(granted, "a-waiter"), bucket="a")
    capacity.defer(1, _granted_into(granted, "b-waiter"), bucket="b")
    capacity.release(1, bucket="b")
    assert granted == ["b-waiter"] and capacity.waiting == 1
    capacity.release(1, bucket="a")
    assert granted == ["b-waiter", "a-waiter"] and capacity.in_use == 2


def test_the_ceiling_serves_waiters_in_arrival_order() -> None:
    """Slots freed under ``max_limit`` go to the oldest waiter whose bucket has room, and a
    new request does not jump ahead of it, even a lighter one that would fit."""
    capacity = AdaptiveCapacity(3)
    granted: list[str] = []
    assert capacity.try_acquire(2, bucket="a")
    capacity.defer(2, _granted_into(granted, "b-heavy"), bucket="b")  # waits for the ceiling
    assert not capacity.try_acquire(1, bucket="c"), "must not overtake b-heavy"
    capacity.defer(1, _granted_into(granted, "c-light"), bucket="c")
    capacity.release(2, bucket="a")
    assert granted == ["b-heavy", "c-light"] and capacity.in_use == 3


def test_a_rejection_shrinks_only_its_own_bucket() -> None:
    """A 1303 sets its bucket's limit to what the server confirmed there; other buckets keep
    theirs, and the account-wide ``limit`` is their sum under the ceiling."""
    capacity = AdaptiveCapacity(8)
    for bucket in ("a", "a", "b"):
        assert capacity.try_acquire(1, bucket=bucket)
        capacity.confirm(1, bucket=bucket)
    assert capacity.try_acquire(1, bucket="a")
    capacity.reject(1, bucket="a")
    assert capacity.limits_by_bucket() == {"a": 2, "b": 8}
    assert capacity.in_use_by_bucket() == {"a": 2, "b": 1}
    assert capacity.limit == 8 and capacity.rejections == 1


_ops = st.lists(st.tuples(st.sampled_from(["take", "release", "reject", "confirm"]),
                          st.sampled_from(["a", "b", "c"]), st.integers(1, 3)), max_size=60)


@given(_ops, st.integers(1, 6), st.integers(1, 6))
def test_buckets_keep_their_books_whatever_happens(ops: list[tuple[str, str, int]],
                                                   ceiling: int, initial: int) -> None:
    """Any sequence of takes (queued when they do not fit), releases and 1303s keeps the
    books: slots add up across buckets, the ceiling holds (bar a lone heavy task), every limit
    stays in [1, ceiling], the account-wide limit is their sum under the ceiling (the initial
    limit before any bucket), and nobody waits who could be served."""
    capacity = AdaptiveCapacity(ceiling, initial=min(initial, ceiling))
    held: dict[str, list[int]] = {"a": [], "b": [], "c": []}

    def grant(bucket: str, weight: int) -> Any:
        def granted() -> bool:
            held[bucket].append(weight)
            return True
        return granted

    for op, bucket, weight in ops:
        if op == "take":
            if capacity.try_acquire(weight, bucket=bucket):
                held[bucket].append(weight)
            else:
                capacity.defer(weight, grant(bucket, weight), bucket=bucket)
        elif held[bucket]:
            slots = held[bucket].pop(0)
            if op == "reject":
                capacity.reject(slots, bucket=bucket)
            else:
                capacity.release(slots, bucket=bucket, confirmed=op == "confirm")
        in_use = capacity.in_use_by_bucket()
        assert {b: in_use.get(b, 0) for b in held} == {b: sum(w) for b, w in held.items()}
        assert capacity.in_use == sum(in_use.values())
        assert capacity.in_use <= ceiling or sum(len(w) for w in held.values()) == 1
        limits = capacity.limits_by_bucket()
        assert all(1 <= limit <= ceiling for limit in limits.values())
        assert capacity.limit == (min(ceiling, sum(limits.values())) if limits
                                  else min(initial, ceiling))
        if capacity.waiting == 0:
            continue
        assert capacity.in_use > 0, "a waiter with nothing in flight would wait forever"
