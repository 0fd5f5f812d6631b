"""The typed seams of the core: the poller and the submitter run on any ``CallTransport``, and
the submitter on any ``SubmissionHost``, so fakes drive them with no ``type: ignore`` and no
socket (httpx's ``MockTransport`` is the model)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Any

import pytest

from kling_async import (
    AmbiguousSubmissionError,
    ImageGenerationRequest,
    Job,
    JobState,
    PollPolicy,
    RetryPolicy,
    Task,
    TaskStatus,
    TransportError,
)
from kling_async._capacity import AdaptiveCapacity
from kling_async._endpoints import Endpoint
from kling_async._events import EventHub
from kling_async._poller import Poller
from kling_async._registry import TaskRegistry
from kling_async._submitter import SubmissionSettings, Submitter

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(10)]

IMAGES = "images/generations"
#: Polls due at once, no jitter, no bulk sweeps, no deadline.
AT_ONCE = PollPolicy(first_poll=0.0, min_interval=1.0, max_interval=1.0, jitter=0.0,
                     deadline=None, bulk_threshold=0)

Handler = Callable[[str, str, Any], Any]


class MockTransport:
    """A ``CallTransport`` answering from ``handler(method, path, body)`` (which may raise)."""

    def __init__(self, handler: Handler, *, idle_slot: bool = True) -> None:
        self.handler = handler
        self.idle_slot = idle_slot
        self.calls: list[tuple[str, str]] = []

    async def call(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
                   body: Any = None, create: str | None = None,
                   external_task_id: str | None = None,
                   retry_codes: frozenset[int] | None = None, subject: object = None,
                   deadline: float | None = None) -> Any:
        self.calls.append((method, path))
        return self.handler(method, path, body)


class FakeHost:
    """A ``SubmissionHost`` that keeps the spawned submissions for the test to run, and
    answers lookups by external id with ``found``."""

    def __init__(self, found: Task | None = None) -> None:
        self.found = found
        self.spawned: list[Coroutine[Any, Any, None]] = []
        self.settled_count = 0
        self.lookups: list[str] = []

    def spawn(self, job: Job, submission: Coroutine[Any, Any, None]) -> None:
        self.spawned.append(submission)

    def settled(self) -> None:
        self.settled_count += 1

    async def find_by_external_id(self, endpoint: Endpoint, external_task_id: str,
                                  job: Job) -> Task | None:
        self.lookups.append(external_task_id)
        return self.found


def _task_json(task_id: str, status: str, ext: str | None = None) -> dict[str, Any]:
    info = {"external_task_id": ext} if ext is not None else {}
    return {"task_id": task_id, "task_status": status, "task_status_msg": "", "task_info": info}


def _parts(transport: MockTransport, policy: PollPolicy = AT_ONCE
           ) -> tuple[TaskRegistry, AdaptiveCapacity, Poller]:
    registry = TaskRegistry()
    capacity = AdaptiveCapacity(4)
    poller = Poller(transport=transport, registry=registry, capacity=capacity,
                    events=EventHub(None), policy=policy, clock=lambda: 0.0, rand=lambda: 0.5)
    return registry, capacity, poller


async def _no_sleep(seconds: float) -> None:
    return None


@pytest.mark.parametrize("idle", [pytest.param(True, id="slot-free"),
                                  pytest.param(False, id="no-slot-free")])
async def test_follow_polls_an_accepted_job_at_once_in_its_caller_only_with_a_free_slot(
    idle: bool,
) -> None:
    """Poller.follow() makes a due first poll in the calling task when a request slot is free,
    and otherwise leaves it to the poll loop (which is not running here: nothing is sent)."""
    transport = MockTransport(lambda method, path, body: _task_json("t1", "succeed"),
                              idle_slot=idle)
    registry, capacity, poller = _parts(transport)
    job = Job(IMAGES, None, None)
    registry.add(job)
    capacity.hold(1)
    registry.accept(job, Task(task_id="t1", status=TaskStatus.SUBMITTED), 0.0)
    await poller.follow(job)
    assert [method for method, _ in transport.calls] == (["GET"] if idle else [])
    assert job.done() == idle
    assert poller.scheduled == (0 if idle else 1)


@pytest.mark.parametrize("ambiguous", [pytest.param(False, id="accepted"),
                                       pytest.param(True, id="ambiguous-then-found")])
async def test_a_submitter_on_fakes_submits_once_and_polls_the_job_to_its_end(
    ambiguous: bool,
) -> None:
    """A Submitter driven through its seams alone (a MockTransport, a fake host) POSTs once,
    reconciles an ambiguous create through the host's lookup, tells the host once, and hands
    the job to the poller, which polls it to its end."""
    ext = "ext-1"

    def handler(method: str, path: str, body: Any) -> Any:
        if method == "POST":
            assert body["external_task_id"] == ext
            if ambiguous:
                raise AmbiguousSubmissionError(IMAGES, ext, TransportError("reset"))
            return _task_json("t1", "submitted", ext)
        return _task_json("t1", "succeed", ext)

    transport = MockTransport(handler)
    registry, capacity, poller = _parts(transport)
    host = FakeHost(Task(task_id="t1", status=TaskStatus.SUBMITTED, external_task_id=ext))
    submitter = Submitter(
        host=host, transport=transport, poller=poller, registry=registry, capacity=capacity,
        events=EventHub(None), settings=SubmissionSettings(retry=RetryPolicy()),
        clock=lambda: 0.0, sleep=_no_sleep, rand=lambda: 0.5,
    )
    job = Job(IMAGES, ImageGenerationRequest(prompt="a cat"), ext)
    registry.add(job)
    submitter.start(job, None)
    assert (len(host.spawned), job.status) == (1, JobState.SUBMITTING)
    await host.spawned[0]
    assert [method for method, _ in transport.calls] == ["POST", "GET"]
    assert host.lookups == ([ext] if ambiguous else [])
    assert host.settled_count == 1
    assert job.task_id == "t1" and job.status is JobState.SUCCEEDED
    assert capacity.in_use == 0
