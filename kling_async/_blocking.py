"""``BlockingKlingClient`` and ``run()``: the async client for plain scripts and notebooks.

A ``KlingClient`` runs on a private event loop in its own thread (``_portal.PortalThread``,
anyio's blocking portal); each blocking method hands one call to that loop and waits for its
answer.  The namespaces (``elements``, ``voices``, ``multi_elements``, ``account``) and the
synchronous calls (``text_to_speech``...) are in ``_blocking_namespaces``.

Threads: any thread may call it, including one that runs its own asyncio loop (a notebook
cell, an ``async def``): that works, but blocks that loop while it waits.  A call that waits
is refused with ``BlockingCallError`` on the client's own loop thread (``on_event`` handlers
and ``before_send`` hooks run there), where it could never return.
"""

from __future__ import annotations

import contextlib
import os
import random
import weakref
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterable,
    Mapping,
    Sequence,
)
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar, overload

import anyio

from ._admission import CapacityStore
from ._blocking_job import BlockingJob
from ._blocking_namespaces import (
    BlockingAccount,
    BlockingElements,
    BlockingMultiElements,
    BlockingVoices,
    SynchronousCalls,
)
from ._client import KlingClient
from ._config import DEFAULT_LIMITS, DEFAULT_POLL, DEFAULT_RETRY, DEFAULT_TIMEOUTS, Limits, Timeouts
from ._errors import ClientClosedError, ConfigurationError, ValidationError
from ._events import Event
from ._models.task import Task
from ._policy import PollPolicy, RetryPolicy
from ._portal import PortalThread
from ._queries import TaskPage, TimeValue
from ._registry import Job
from ._settings import ExternalIdQuery
from ._webhook_verify import Headers
from ._wiring import ClientStatistics
from .batch._single import download_files

_T = TypeVar("_T")


class BlockingKlingClient(SynchronousCalls):
    """``KlingClient`` for synchronous code: same settings, methods that block.

    Open from construction until ``close()`` (idempotent; also ``with ... as client:``),
    which closes the async client and stops its thread.  A client never closed is closed
    once nothing uses it any more (no reference to it or to one of its jobs) or when the
    interpreter exits.  ``on_event``, ``before_send`` and
    ``sleep`` run on the client's own thread.  ``session`` is not accepted: an
    ``aiohttp.ClientSession`` belongs to the loop that made it.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        base_url: str | None = None,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        retry: RetryPolicy = DEFAULT_RETRY,
        poll: PollPolicy = DEFAULT_POLL,
        limits: Limits = DEFAULT_LIMITS,
        external_id_query: ExternalIdQuery = "path",
        reconcile_delay: float = 0.5,
        external_id_prefix: str = "kas-",
        allow_insecure_http: bool = False,
        on_event: Callable[[Event], Any] | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | Sequence[str] | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[Any]] = anyio.sleep,
        rand: Callable[[], float] = random.random,
        store: CapacityStore | None = None,
    ) -> None:
        self._start(KlingClient(
            api_key=api_key, access_key=access_key, secret_key=secret_key, base_url=base_url,
            timeouts=timeouts, retry=retry, poll=poll, limits=limits,
            external_id_query=external_id_query, reconcile_delay=reconcile_delay,
            external_id_prefix=external_id_prefix, allow_insecure_http=allow_insecure_http,
            on_event=on_event, webhook_url=webhook_url, webhook_secret=webhook_secret,
            clock=clock, sleep=sleep, rand=rand, store=store,
        ))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any
                 ) -> BlockingKlingClient:
        """As ``KlingClient.from_env``: settings from the environment, ``overrides`` win."""
        if "session" in overrides:
            raise ConfigurationError(
                "BlockingKlingClient makes its own session on its own event loop; "
                "drop session=..."
            )
        self = cls.__new__(cls)
        self._start(KlingClient.from_env(env, **overrides))
        return self

    def _start(self, client: KlingClient) -> None:
        self._client = client
        self._loop = loop = PortalThread(client, "BlockingKlingClient")
        # A safety net, not the way to close: a client left open is closed when it is
        # garbage-collected or at interpreter exit, which would otherwise wait forever on
        # its loop thread.
        self._release = weakref.finalize(self, loop.release)

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        return self._loop.closed

    @property
    def base_url(self) -> str:
        return self._client.base_url

    def __repr__(self) -> str:
        return "<Blocking" + repr(self._client)[1:]

    # -- namespaces (``_blocking_namespaces``): thin views made on each access, so the client
    # holds no reference to them (a view, or an iterator from it, keeps the client alive) ---
    @property
    def elements(self) -> BlockingElements:
        """Custom elements: create, result, get, list, presets, delete."""
        return BlockingElements(self, self._client.elements)

    @property
    def voices(self) -> BlockingVoices:
        """Custom voices: create, result, get, list, presets, delete."""
        return BlockingVoices(self, self._client.voices)

    @property
    def multi_elements(self) -> BlockingMultiElements:
        """Multi-elements video editing: ``start(...)`` returns the session."""
        return BlockingMultiElements(self, self._client.multi_elements)

    @property
    def account(self) -> BlockingAccount:
        """Resource packs (``costs``) and the billing listings."""
        return BlockingAccount(self, self._client.account)

    # -- lifecycle ----------------------------------------------------------------------------
    def __enter__(self) -> BlockingKlingClient:
        if self.closed:
            raise ClientClosedError("this BlockingKlingClient is closed; create a new one")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close the async client (waiters raise ``ClientClosedError``) and stop its thread.

        Idempotent.  Unfinished tasks may go on on the server: re-attach later by id.
        """
        self._loop.refuse_on_loop_thread("BlockingKlingClient.close()")
        self._release.detach()
        self._loop.close()

    def _wrap(self, job: Job) -> BlockingJob:
        return BlockingJob(job, self)

    # -- calls --------------------------------------------------------------------------------
    def create_task(self, request: Any, *, external_task_id: str | None = None) -> Task:
        """One create POST; returns the submitted ``Task`` (see ``KlingClient.create_task``)."""
        client = self._client
        return self._loop.run("create_task()", lambda: client.create_task(
            request, external_task_id=external_task_id))

    def get_task(self, endpoint: str, task_id: str) -> Task:
        """The task's current state."""
        client = self._client
        return self._loop.run("get_task()", lambda: client.get_task(endpoint, task_id))

    def get_task_by_external_id(self, endpoint: str, external_task_id: str) -> Task:
        """The task created with this ``external_task_id``; ``NotFoundError`` if none."""
        client = self._client
        return self._loop.run("get_task_by_external_id()", lambda: client.get_task_by_external_id(
            endpoint, external_task_id))

    @overload
    def list_tasks(self, endpoint: str, *, page_size: int = 30, start_page: int = 1,
                   max_pages: int | None = None) -> Generator[TaskPage, None, None]: ...

    @overload
    def list_tasks(
        self, endpoint: None = None, *, status: str | Iterable[str] | None = None,
        product_type: str | Iterable[str] | None = None, start_time: TimeValue | None = None,
        end_time: TimeValue | None = None, limit: int = 100, max_pages: int | None = None,
    ) -> Generator[Task, None, None]: ...

    def list_tasks(
        self, endpoint: str | None = None, *, page_size: int | None = None,
        start_page: int | None = None, status: str | Iterable[str] | None = None,
        product_type: str | Iterable[str] | None = None, start_time: TimeValue | None = None,
        end_time: TimeValue | None = None, limit: int | None = None,
        max_pages: int | None = None,
    ) -> Generator[TaskPage, None, None] | Generator[Task, None, None]:
        """``list_tasks(endpoint)``: pages of a legacy endpoint's tasks, newest first;
        ``list_tasks()``: every task of the new standard's ``POST /tasks`` listing, filtered
        (see ``KlingClient.list_tasks``)."""
        client = self._client
        if endpoint is not None:
            if (status, product_type, start_time, end_time, limit) != (None,) * 5:
                raise ValidationError(
                    "endpoint", "filters (status, product_type, start_time, end_time, limit) "
                    "are for list_tasks() without an endpoint (POST /tasks)", endpoint)
            size, first = 30 if page_size is None else page_size, start_page or 1
            return self._iterate(lambda: client.list_tasks(
                endpoint, page_size=size, start_page=first, max_pages=max_pages))
        if page_size is not None or start_page is not None:
            raise ValidationError("page_size", "pages by number need an endpoint: "
                                  "list_tasks(endpoint, ...); without one use limit", page_size)
        per_page = 100 if limit is None else limit
        return self._iterate(lambda: client.list_tasks(
            status=status, product_type=product_type, start_time=start_time,
            end_time=end_time, limit=per_page, max_pages=max_pages))

    def _iterate(self, source: Callable[[], AsyncIterator[_T]]) -> Generator[_T, None, None]:
        """``list_tasks()``'s items, one per ``next()``; the generator keeps this client (so
        its loop) alive while it is in use, as a job does."""
        yield from self._loop.iterate("list_tasks()", source)

    def download(self, task: Task, folder: str | os.PathLike[str]) -> list[Path]:
        """``task.download(folder)`` on the client's loop, with the client's session: every
        result file of ``task`` into ``folder``; the paths written (see ``Task.download``)."""
        client = self._client
        return self._loop.run("download()", lambda: download_files(
            task.task_id, task.urls, folder, session=client.session))

    def submit(self, request: Any, *, external_task_id: str | None = None,
               poll: PollPolicy | None = None,
               before_send: Callable[[BlockingJob], object] | None = None) -> BlockingJob:
        """Submit one request; returns once the server accepted it (raises if it did not).

        ``before_send(job)`` runs on the client's thread right before the create POST.
        """
        client = self._client
        hook = None if before_send is None else (lambda job: before_send(self._wrap(job)))
        job = self._loop.run("submit()", lambda: client.submit(
            request, external_task_id=external_task_id, poll=poll, before_send=hook))
        return self._wrap(job)

    def submit_many(self, requests: Iterable[Any], *, poll: PollPolicy | None = None
                    ) -> list[BlockingJob]:
        """Submit many requests concurrently; the jobs in input order once each was
        accepted or failed to submit (see ``KlingClient.submit_many``)."""
        client = self._client
        items = list(requests)
        jobs = self._loop.run("submit_many()", lambda: client.submit_many(items, poll=poll))
        return [self._wrap(job) for job in jobs]

    def as_completed(self, items: Iterable[BlockingJob | Any], *,
                     poll: PollPolicy | None = None) -> Generator[BlockingJob, None, None]:
        """Jobs as they finish; ``items`` may mix ``BlockingJob``s and requests (requests are
        submitted lazily, as in ``KlingClient.as_completed``).  Leaving the loop early
        stops it; jobs already submitted go on and stay tracked."""
        client = self._client
        unwrapped = (item._job if isinstance(item, BlockingJob) else item for item in items)
        with contextlib.closing(self._loop.iterate(
                "as_completed()", lambda: client.as_completed(unwrapped, poll=poll))) as jobs:
            for job in jobs:
                yield self._wrap(job)

    def attach(self, endpoint: str, *, task_id: str | None = None,
               external_task_id: str | None = None, request: Any = None,
               poll: PollPolicy | None = None) -> BlockingJob:
        """Track an existing task by ``task_id`` or ``external_task_id`` (nothing is created)."""
        client = self._client
        job = self._loop.run("attach()", lambda: client.attach(
            endpoint, task_id=task_id, external_task_id=external_task_id, request=request,
            poll=poll))
        return self._wrap(job)

    def handle_webhook(self, headers: Headers, body: bytes, *, url: str | None = None,
                       length: int | None = None) -> int:
        """Handle one webhook request; the HTTP status to answer (see
        ``KlingClient.handle_webhook``): for WSGI apps (Flask, Django)."""
        client = self._client
        return self._loop.run("handle_webhook()", lambda: client.handle_webhook(
            headers, body, url=url, length=length))

    def notify_callback(self, payload: Any) -> BlockingJob | None:
        """Feed a Kling callback body (see ``KlingClient.notify_callback``)."""
        client = self._client
        job = self._loop.read(lambda: client.notify_callback(payload))
        return None if job is None else self._wrap(job)

    def job(self, *, task_id: str | None = None, external_task_id: str | None = None
            ) -> BlockingJob | None:
        """The tracked job with this task id or external id, or None."""
        client = self._client
        job = self._loop.read(
            lambda: client.job(task_id=task_id, external_task_id=external_task_id))
        return None if job is None else self._wrap(job)

    def statistics(self) -> ClientStatistics:
        """A frozen snapshot of what the client is doing (see ``KlingClient.statistics``)."""
        return self._loop.read(self._client.statistics)


def run(request: Any, *, timeout: float | None = None, **client_kwargs: Any) -> Task:
    """Create one task, wait for it, return the finished ``Task`` (like ``replicate.run``).

    The client comes from ``BlockingKlingClient.from_env(**client_kwargs)``.  Raises the
    job's error: ``TaskFailedError``, ``TaskTimeoutError`` (after ``timeout`` seconds of
    waiting; the task may still finish on the server), an ``APIError``...
    """
    with BlockingKlingClient.from_env(**client_kwargs) as client:
        return client.submit(request).result(timeout)
