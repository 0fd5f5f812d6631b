"""``BlockingJob``: a ``Job`` of ``BlockingKlingClient`` seen from synchronous code.

Its own module so that ``_blocking`` (the client) and ``_blocking_namespaces`` (its
namespaces, whose ``create`` calls return jobs) both import it without importing each other.
"""

from __future__ import annotations

from typing import Any, Protocol

from ._errors import ClientClosedError
from ._models.task import Task, TaskStatus
from ._portal import PortalThread
from ._registry import Job, JobState


class JobOwner(Protocol):
    """What a ``BlockingJob`` holds on to: the client (kept alive) and its loop thread."""

    @property
    def _loop(self) -> PortalThread: ...


class BlockingJob:
    """A ``Job`` seen from synchronous code: ``result()`` blocks until the task ends.

    Two ``BlockingJob``s of the same job are equal (``as_completed`` hands out new wrappers).
    A job keeps its client open: ``BlockingKlingClient(...).submit(req).result()`` works.
    """

    __slots__ = ("_job", "_loop", "_client")

    def __init__(self, job: Job, client: JobOwner) -> None:
        self._job = job
        self._loop = client._loop
        self._client = client  # keeps the client (so its loop) alive while the job is in use

    @property
    def endpoint(self) -> str:
        return self._job.endpoint

    @property
    def request(self) -> Any:
        return self._job.request

    @property
    def task_id(self) -> str | None:
        return self._job.task_id

    @property
    def external_task_id(self) -> str | None:
        return self._job.external_task_id

    @property
    def status(self) -> JobState:
        return self._job.status

    @property
    def task_status(self) -> TaskStatus | None:
        """The last server-side status seen, or None before acceptance."""
        return self._job.task_status

    @property
    def error(self) -> BaseException | None:
        return self._job.error

    @property
    def history(self) -> list[tuple[TaskStatus, float]]:
        """(server status, seconds since acceptance) each time the status changed."""
        return list(self._job.history)

    @property
    def task(self) -> Task | None:
        """The last ``Task`` seen for this job, or None before acceptance."""
        job = self._job
        return self._loop.read(lambda: job.task)

    def done(self) -> bool:
        return self._job.done()

    def result(self, timeout: float | None = None) -> Task:
        """Block until the task ends; the finished ``Task``.

        Raises as ``Job.result``: ``TaskFailedError``, ``TaskTimeoutError`` (also when this
        wait's ``timeout`` passed; the job stays tracked), the submission's error, or
        ``ClientClosedError``.
        """
        job = self._job
        if self._loop.closed and not job.done():
            raise _closed_before_end(job)
        if job.done():  # no round trip, and readable after close()
            if job.error is not None:
                raise job.error
            task = self.task
            assert task is not None
            return task
        return self._loop.run("BlockingJob.result()", lambda: job.result(timeout))

    def wait_submitted(self, timeout: float | None = None) -> BlockingJob:
        """Block until the server accepted the task (or the job ended); returns this job."""
        job = self._job
        self._loop.run("BlockingJob.wait_submitted()", lambda: job.wait_submitted(timeout))
        return self

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BlockingJob) and other._job is self._job

    def __hash__(self) -> int:
        return hash(self._job)

    def __repr__(self) -> str:
        return "<Blocking" + repr(self._job)[1:]


def _closed_before_end(job: Job) -> ClientClosedError:
    where = (
        f"task {job.task_id} may still be running on the server; re-attach with "
        f"client.attach({job.endpoint!r}, task_id={job.task_id!r})"
        if job.task_id else "it was never accepted by the server"
    )
    return ClientClosedError(f"the client closed before this job ended: {where}")
