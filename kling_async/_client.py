"""``KlingClient``: configuration, the one ``aiohttp.ClientSession``, and the wiring of the parts.

Lifecycle: unopened -> open (``async with`` / ``__aenter__``) -> closed (``aclose()``,
idempotent).  The session is created inside the running loop on entry (or borrowed, and then
left open); the shared poller and every submission run in the client's anyio task group.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import os
import random
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Mapping
from types import TracebackType
from typing import Any, Literal

import aiohttp
import anyio
import anyio.abc
import attrs
from yarl import URL

from ._auth import Auth, BearerKeyAuth, JwtAuth
from ._capacity import AdaptiveCapacity
from ._config import (
    DEFAULT_BASE_URL,
    DEFAULT_LIMITS,
    DEFAULT_POLL,
    DEFAULT_RETRY,
    DEFAULT_TIMEOUTS,
    ENV_ACCESS_KEY,
    ENV_API_KEY,
    ENV_BASE_URL,
    ENV_SECRET_KEY,
    Limits,
    Timeouts,
)
from ._endpoints import Endpoint, endpoint_for, endpoint_named
from ._errors import (
    AmbiguousSubmissionError,
    ClientClosedError,
    ConfigurationError,
    InvalidRequestError,
    KlingError,
    NotFoundError,
    ResponseDecodeError,
    ValidationError,
)
from ._events import Event, EventHub, RateLimited, RetryScheduled
from ._http import RetryNotice, Transport
from ._models.task import Task, TaskStatus
from ._net import is_loopback_host
from ._policy import PollPolicy, RetryPolicy
from ._poller import Poller
from ._registry import Job, JobState, TaskRegistry
from ._submitter import Submitter
from ._wire import created_task, dump_request, parse_task

ExternalIdQuery = Literal["query", "path-flag", "path-param"]

_END = object()


@attrs.frozen(kw_only=True)
class TaskPage:
    """One page of ``list_tasks``: ``page_num`` and its tasks (newest first, as Kling sends)."""

    page_num: int
    tasks: tuple[Task, ...]

    def __iter__(self) -> Any:
        return iter(self.tasks)

    def __len__(self) -> int:
        return len(self.tasks)


@attrs.frozen(kw_only=True)
class ClientStatistics:
    """A frozen snapshot of what the client is doing (``KlingClient.statistics()``)."""

    jobs_total: int
    jobs_by_state: Mapping[str, int]
    in_flight_slots: int
    capacity_limit: int
    capacity_max: int
    waiting_for_capacity: int
    concurrency_rejections: int
    requests: int
    requests_by_method: Mapping[str, int]
    retries: int
    polls: int
    sweeps: int
    sweep_pages: int
    reconciliations: int
    events_dropped: int


def _check_base_url(base_url: str, allow_insecure_http: bool) -> str:
    url = URL(base_url)
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigurationError(f"base_url must be an http(s) URL with a host, got {base_url!r}")
    if url.scheme == "http" and not is_loopback_host(url.host) and not allow_insecure_http:
        raise ConfigurationError(
            f"refusing plain http:// to non-loopback host {url.host!r}: credentials would travel "
            "unencrypted; use https:// or pass allow_insecure_http=True"
        )
    return base_url.rstrip("/")


class KlingClient:
    """An asyncio client for the Kling API (official host or a ``/kling`` gateway).

    Credentials: ``api_key`` (a gateway bearer key) or ``access_key`` + ``secret_key`` (the
    official HS256 JWT).  ``base_url`` carries any gateway prefix
    (``https://www.anyapi.vip/kling``); the default is the official global host.

    ``external_id_query`` picks how a task is looked up by ``external_task_id`` (the form is
    UNCERTAIN in Kling's docs, reference §3.1): ``"query"`` = ``GET <path>?external_task_id=X``
    (default), ``"path-flag"`` = ``GET <path>/X?external_task_id=true``, ``"path-param"`` =
    ``GET <path>/X?external_task_id=X``.  ``reconcile_delay`` is how long to wait after an
    ambiguous create before that lookup (read-after-write consistency is also UNCERTAIN).

    A job submitted without an ``external_task_id`` gets a generated one:
    ``external_id_prefix`` + 16 random hex digits drawn once per client + ``-`` + a counter.
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
        external_id_query: ExternalIdQuery = "query",
        reconcile_delay: float = 0.5,
        external_id_prefix: str = "kas-",
        session: aiohttp.ClientSession | None = None,
        allow_insecure_http: bool = False,
        on_event: Callable[[Event], Any] | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[Any]] = anyio.sleep,
        rand: Callable[[], float] = random.random,
    ):
        if api_key and (access_key or secret_key):
            raise ConfigurationError("give either api_key or access_key + secret_key, not both")
        self._auth: Auth
        if api_key:
            self._auth = BearerKeyAuth(api_key)
        elif access_key or secret_key:
            self._auth = JwtAuth(access_key or "", secret_key or "")
        else:
            raise ConfigurationError(
                "no credentials: pass api_key=... (gateway) or access_key=... and secret_key=... "
                f"(official), or set {ENV_API_KEY} / {ENV_ACCESS_KEY} + {ENV_SECRET_KEY}"
            )
        if external_id_query not in ("query", "path-flag", "path-param"):
            raise ConfigurationError(f"unknown external_id_query {external_id_query!r}")
        self.base_url = _check_base_url(base_url or DEFAULT_BASE_URL, allow_insecure_http)
        self.timeouts = timeouts
        self.retry = retry
        self.poll = poll
        self.limits = limits
        self.external_id_query: ExternalIdQuery = external_id_query
        self.reconcile_delay = reconcile_delay
        # Generated external ids: one random 64-bit base per client, then a counter (cheaper
        # than a uuid4 per job; unique across clients with overwhelming probability).
        self._id_prefix = f"{external_id_prefix}{secrets.token_hex(8)}-"
        self._id_seq = itertools.count(1)
        self._borrowed = session
        self._user_clock = clock
        self._clock = clock or _loop_time  # bound to the loop's own clock once open
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sleep = sleep
        self._rand = rand
        self._state: Literal["unopened", "open", "closed"] = "unopened"
        self._session: aiohttp.ClientSession | None = None
        self._tg: anyio.abc.TaskGroup | None = None
        self._events = EventHub(on_event)
        self._streams: set[_Signal] = set()  # the running as_completed loops' wake-up signals
        #: The running Submitter.run tasks, by job (each removes itself as it ends).
        self._submissions: dict[Job, asyncio.Task[None]] = {}
        self._registry = TaskRegistry()
        self._capacity = AdaptiveCapacity(
            limits.max_in_flight, initial=limits.initial_in_flight,
            min_limit=limits.min_in_flight, grow_after=limits.grow_after,
        )
        self._transport: Transport | None = None
        self._poller: Poller | None = None
        self._submitter: Submitter | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> KlingClient:
        """A client configured from ``KLING_API_KEY`` or ``KLING_ACCESS_KEY`` +
        ``KLING_SECRET_KEY``, and ``KLING_BASE_URL``; keyword ``overrides`` win."""
        source = os.environ if env is None else env
        settings: dict[str, Any] = {}
        if source.get(ENV_API_KEY):
            settings["api_key"] = source[ENV_API_KEY]
        elif source.get(ENV_ACCESS_KEY) or source.get(ENV_SECRET_KEY):
            settings["access_key"] = source.get(ENV_ACCESS_KEY)
            settings["secret_key"] = source.get(ENV_SECRET_KEY)
        if source.get(ENV_BASE_URL):
            settings["base_url"] = source[ENV_BASE_URL]
        if {"api_key", "access_key", "secret_key"} & overrides.keys():
            for key in ("api_key", "access_key", "secret_key"):
                settings.pop(key, None)
        settings.update(overrides)
        return cls(**settings)

    def __repr__(self) -> str:
        kind = "bearer" if isinstance(self._auth, BearerKeyAuth) else "jwt"
        return f"<KlingClient {self.base_url} auth={kind} state={self._state}>"

    # -- lifecycle ----------------------------------------------------------------------------
    async def __aenter__(self) -> KlingClient:
        if self._state != "unopened":
            raise ClientClosedError(f"a KlingClient can be opened once (it is {self._state})")
        # Bind the running loop once: asyncio.get_running_loop() costs a getpid() system call
        # per call on CPython 3.11, and the hot path would otherwise make several per job.
        self._loop = loop = asyncio.get_running_loop()
        if self._user_clock is None:
            self._clock = loop.time
        self._capacity.loop = loop
        if self._borrowed is not None:
            self._session = self._borrowed
        else:
            connector = aiohttp.TCPConnector(limit=self.limits.max_requests)
            self._session = aiohttp.ClientSession(connector=connector)
            # aiohttp silently re-sends an idempotent request once when a pooled connection
            # drops; the SDK has exactly one retry loop, so that hidden one is turned off.
            # (A borrowed session keeps its owner's setting.)
            self._session._retry_connection = False
        self._transport = Transport(
            self._session, self.base_url, self._auth, retry=self.retry, timeouts=self.timeouts,
            max_requests=self.limits.max_requests, sleep=self._sleep, rand=self._rand,
            on_retry=self._on_retry,
        )
        self._poller = Poller(
            transport=self._transport, registry=self._registry, capacity=self._capacity,
            events=self._events, policy=self.poll, clock=self._clock, rand=self._rand,
            workers=self.limits.max_requests,
        )
        self._submitter = Submitter(
            transport=self._transport, registry=self._registry, capacity=self._capacity,
            poller=self._poller, events=self._events, retry=self.retry,
            lookup=self._find_by_external_id, reconcile_delay=self.reconcile_delay,
            clock=self._clock, sleep=self._sleep, rand=self._rand, on_sent=self._sent,
            on_done=self._submitted, spawn=self._spawn,
            submission_timeout=self.timeouts.submission,
        )
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self._poller.run)
        self._state = "open"
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop polling and submitting, wake every waiter, close the owned session.  Idempotent.

        Unfinished jobs stay readable; their ``result()`` raises ``ClientClosedError`` naming
        the task id to re-attach to later.  A job whose create was under way (sent, or being
        reconciled) ends with ``SubmissionInterruptedError`` (a ``ClientClosedError`` and an
        ``AmbiguousSubmissionError``) naming its ``external_task_id``: re-attach with
        ``client.attach(endpoint, external_task_id=...)``.  One never sent says so.
        """
        if self._state == "closed":
            return
        was_open = self._state == "open"
        self._state = "closed"
        if not was_open:
            return
        assert self._tg is not None and self._poller is not None
        for signal in self._streams:  # as_completed loops raise ClientClosedError
            signal.set()
        assert self._submitter is not None
        self._submitter.closing = True  # queued jobs are not started any more
        submissions = list(self._submissions.values())
        for task in submissions:
            task.cancel()
        try:
            if submissions:  # before the scope is cancelled: this task is inside it
                await asyncio.wait(submissions)
            self._submissions.clear()
        finally:
            self._tg.cancel_scope.cancel()
            try:
                await self._tg.__aexit__(None, None, None)
            finally:
                self._poller.close(self._registry.unfinished())
                self._events.close()
                self._submitter.close()
                if self._transport is not None:
                    self._transport.close()
                if self._borrowed is None and self._session is not None:
                    await self._session.close()

    def _require_open(self) -> Transport:
        if self._state != "open" or self._transport is None:
            raise ClientClosedError(
                f"the client is {self._state}: use `async with KlingClient(...) as client:`"
            )
        return self._transport

    @property
    def session(self) -> aiohttp.ClientSession:
        """The client's one ``aiohttp.ClientSession`` (for downloads); only while open."""
        self._require_open()
        assert self._session is not None
        return self._session

    def _on_retry(self, notice: RetryNotice) -> None:
        job = notice.subject if isinstance(notice.subject, Job) else None
        now = self._clock()
        events = self._events
        if notice.code == 1302 or notice.http_status == 429:
            events.emit(RateLimited(now, job=job, code=notice.code, delay=notice.delay,
                                    retry_after=notice.retry_after))
        events.emit(RetryScheduled(now, job=job, method=notice.method, path=notice.path,
                                   attempt=notice.attempt, delay=notice.delay,
                                   reason=notice.reason))

    # -- low-level calls ----------------------------------------------------------------------
    async def create_task(self, request: Any, *, external_task_id: str | None = None) -> Task:
        """One create POST; returns the submitted ``Task``.

        Retried only when it provably created nothing (connection never made, 1302/1303).
        An ambiguous failure (including a reply that cannot be read) raises
        ``AmbiguousSubmissionError``: the task may exist.
        """
        transport = self._require_open()
        endpoint = endpoint_for(request)
        body = dump_request(request)
        if external_task_id is not None:
            body["external_task_id"] = external_task_id
        ext = body.get("external_task_id")
        try:
            data = await transport.call("POST", endpoint.path, body=body, create=endpoint.name,
                                        external_task_id=ext)
        except KlingError:
            raise
        except Exception as exc:  # a reply the transport could not read: the task may exist
            raise _unreadable_create(endpoint.name, ext, exc) from None
        try:
            task = created_task(data, ext)
        except Exception as exc:
            raise _unreadable_create(endpoint.name, ext, exc) from None
        if ext is not None and task.external_task_id != ext:
            raise AmbiguousSubmissionError(endpoint.name, ext, ResponseDecodeError(
                f"the create reply names external_task_id {task.external_task_id!r}"))
        return task

    async def get_task(self, endpoint: str, task_id: str) -> Task:
        """The task's current state: ``GET /v1/<endpoint>/<task_id>``."""
        transport = self._require_open()
        row = endpoint_named(endpoint)
        return parse_task(await transport.call("GET", row.task_path(_checked_id(task_id))))

    async def get_task_by_external_id(self, endpoint: str, external_task_id: str) -> Task:
        """The task created with this ``external_task_id``; ``NotFoundError`` if there is none."""
        self._require_open()
        task = await self._find_by_external_id(endpoint_named(endpoint), external_task_id)
        if task is None:
            raise NotFoundError(
                f"no {endpoint} task with external_task_id {external_task_id!r}",
                http_status=None, code=None,
            )
        return task

    async def _find_by_external_id(self, endpoint: Endpoint, external_task_id: str,
                                   subject: object = None) -> Task | None:
        transport = self._require_open()
        ext = _checked_id(external_task_id)
        form = self.external_id_query
        try:
            if form == "query":
                data = await transport.call("GET", endpoint.path,
                                            params={"external_task_id": ext}, subject=subject)
            else:
                flag = "true" if form == "path-flag" else ext
                data = await transport.call("GET", endpoint.task_path(ext),
                                            params={"external_task_id": flag}, subject=subject)
        except NotFoundError:
            return None
        except InvalidRequestError as exc:
            if _says_not_found(exc):
                return None
            raise
        return _task_with_external_id(data, ext, endpoint)

    async def list_tasks(
        self, endpoint: str, *, page_size: int = 30, start_page: int = 1,
        max_pages: int | None = None,
    ) -> AsyncIterator[TaskPage]:
        """Pages of the account's tasks on ``endpoint``, newest first, until a short page.

        ``page_size`` in [1, 500] and page numbers in [1, 1000] (Kling's limits).
        """
        transport = self._require_open()
        row = endpoint_named(endpoint)
        if not 1 <= page_size <= 500:
            raise ValidationError("pageSize", "must be in [1, 500]", page_size)
        if not 1 <= start_page <= 1000:
            raise ValidationError("pageNum", "must be in [1, 1000]", start_page)
        last = 1000 if max_pages is None else min(1000, start_page + max_pages - 1)
        for page in range(start_page, last + 1):
            data = await transport.call(
                "GET", row.path, params={"pageNum": str(page), "pageSize": str(page_size)}
            )
            items = data if isinstance(data, list) else []
            yield TaskPage(page_num=page, tasks=tuple(parse_task(i) for i in items))
            if len(items) < page_size:
                return

    # -- orchestration ------------------------------------------------------------------------
    def _new_job(self, request: Any, external_task_id: str | None, policy: PollPolicy | None
                 ) -> Job:
        endpoint = endpoint_for(request)
        user_id = external_task_id or getattr(request, "external_task_id", None)
        ext = _lookup_safe(user_id) if user_id else f"{self._id_prefix}{next(self._id_seq):x}"
        return Job(endpoint.name, request, ext, weight=endpoint.weight(request),
                   expected=endpoint.expected_duration(request, policy or self.poll))

    def submit_nowait(self, request: Any, *, external_task_id: str | None = None,
                      poll: PollPolicy | None = None,
                      before_send: Callable[[Job], object] | None = None) -> Job:
        """Register a job and start its submission in the background; never awaits.

        ``before_send(job)`` is called once, synchronously, right before the job's first create
        POST (after it got capacity; ``job.external_task_id`` is final).  Use it to journal the
        intent durably just before money can be spent.  If it raises, nothing is sent and the
        job fails with ``SubmissionAbortedError``.
        """
        self._require_open()
        job = self._new_job(request, external_task_id, poll)
        self._start(job, poll, before_send)
        return job

    def _start(self, job: Job, poll: PollPolicy | None,
               before_send: Callable[[Job], object] | None = None) -> None:
        assert self._submitter is not None
        self._registry.add(job)
        self._submitter.start(job, poll, before_send)

    def _spawn(self, job: Job, submission: Coroutine[Any, Any, None]) -> None:
        """Run a job's submission (once it has capacity): a bare asyncio task, tracked here
        and cancelled by aclose(); anyio's start_soon costs several times more per task, and
        this runs once per job.  It removes itself when it ends (_submitted), cheaper than a
        done callback per task."""
        assert self._loop is not None
        task = self._loop.create_task(submission)
        if not task.done():  # an eager task factory may have run it to its end already
            self._submissions[job] = task

    def _submitted(self, job: Job) -> None:
        self._submissions.pop(job, None)

    async def submit(self, request: Any, *, external_task_id: str | None = None,
                     poll: PollPolicy | None = None,
                     before_send: Callable[[Job], object] | None = None) -> Job:
        """Submit one request; returns once the server accepted the task (raises if it did not).

        ``poll`` overrides the client's ``PollPolicy`` (schedule and deadline) for this job;
        ``before_send`` is as in ``submit_nowait``.  ``Timeouts.submission`` bounds the whole
        submission (``AmbiguousSubmissionError`` or ``SubmissionTimeoutError`` when it passes);
        an ``external_task_id`` the account already used raises ``DuplicateExternalIdError``.
        """
        job = self.submit_nowait(request, external_task_id=external_task_id, poll=poll,
                                 before_send=before_send)
        await job.wait_submitted()
        if job.task_id is None:
            # not accepted: its submission error, or the client closed while it was under way
            raise job.error if job.error is not None else job._closed_error()
        return job

    async def submit_many(self, requests: Iterable[Any], *, poll: PollPolicy | None = None,
                          before_send: Callable[[Job], object] | None = None) -> list[Job]:
        """Submit many requests concurrently within the account's limits.

        Every request is checked first (class, duplicate ``external_task_id``), so bad input
        submits nothing.  Returns the jobs in input order once each was accepted or failed to
        submit (its ``result()`` then raises the reason); one failure never affects the others.
        ``before_send`` is as in ``submit_nowait``, called for each job (one that raises fails
        that job only, with ``SubmissionAbortedError``).
        """
        self._require_open()
        prepared = [self._new_job(r, None, poll) for r in requests]
        seen: set[str] = set()
        for job in prepared:
            ext = job.external_task_id
            assert ext is not None
            if ext in seen or self._registry.get_by_external_id(ext) is not None:
                raise ValidationError("external_task_id", "must be unique across jobs", ext)
            seen.add(ext)
        for job in prepared:
            self._start(job, poll, before_send)
        for job in prepared:
            await job.wait_submitted()
        return prepared

    async def as_completed(
        self, items: Iterable[Job | Any], *, poll: PollPolicy | None = None
    ) -> AsyncIterator[Job]:
        """Yield jobs as they finish.  ``items`` may mix ``Job``s and requests; requests are
        submitted lazily, as capacity frees (at most twice the current limit wait unsent), so a
        huge iterable is never queued all at once."""
        self._require_open()
        assert self._loop is not None
        ready: collections.deque[Job] = collections.deque()
        signal = _Signal(self._loop)  # set once per finished job (hot)

        def finished(job: Job) -> None:
            ready.append(job)
            signal.set()

        source = iter(items)
        exhausted = False
        pending = 0
        self._streams.add(signal)
        try:
            while True:
                while not exhausted and not self._backlog_full():
                    item = next(source, _END)
                    if item is _END:
                        exhausted = True
                        break
                    job = item if isinstance(item, Job) else self.submit_nowait(item, poll=poll)
                    pending += 1
                    job.add_done_callback(finished)
                while ready:
                    pending -= 1
                    yield ready.popleft()
                if pending == 0 and exhausted:
                    return
                if self._state != "open":
                    raise ClientClosedError(
                        f"the client closed with {pending} job(s) of this as_completed() "
                        "unfinished; their tasks may still run: re-attach with client.attach()"
                    )
                # No await since the last look at the backlog: if it has room now (submissions
                # were accepted while the consumer ran), refill instead of waiting, so no wake
                # from _sent() can be missed.
                if not exhausted and not self._backlog_full():
                    continue
                signal.clear()
                await signal.wait()  # a job of ours ended, the backlog got room, or closing
        finally:
            self._streams.discard(signal)

    def _sent(self) -> None:
        """A submission ended (accepted or failed): wake as_completed loops, which refill if
        they still have requests to send."""
        if self._streams and not self._backlog_full():
            for signal in self._streams:
                signal.set()

    def _backlog_full(self) -> bool:
        return self._registry.unsent >= 2 * self._capacity.limit  # the limit is never below 1

    async def attach(
        self, endpoint: str, *, task_id: str | None = None, external_task_id: str | None = None,
        request: Any = None, poll: PollPolicy | None = None,
    ) -> Job:
        """Track an existing task (e.g. after a restart) by ``task_id`` or ``external_task_id``.

        Nothing is created.  Raises ``NotFoundError`` when only an external id is given and no
        such task exists.
        """
        self._require_open()
        assert self._submitter is not None
        row = endpoint_named(endpoint)
        existing = (self._registry.get(task_id) if task_id else None) or (
            self._registry.get_by_external_id(external_task_id) if external_task_id else None
        )
        if existing is not None:
            return existing
        if task_id is None:
            if external_task_id is None:
                raise ValidationError("task_id", "attach needs task_id or external_task_id", None)
            task = await self.get_task_by_external_id(row.name, external_task_id)
            existing = self._registry.get(task.task_id)
            if existing is not None:  # tracked already, under another handle: never two jobs
                if existing.external_task_id in (None, external_task_id):
                    return existing
                raise ResponseDecodeError(
                    f"lookup by external_task_id {external_task_id!r} answered with task "
                    f"{task.task_id!r}, tracked here with external_task_id "
                    f"{existing.external_task_id!r}"
                )
            first = None
        else:
            task = Task(task_id=_checked_id(task_id), status=TaskStatus.SUBMITTED,
                        external_task_id=external_task_id)
            first = 0.0
        policy = poll or self.poll
        job = Job(row.name, request, external_task_id,
                  weight=row.weight(request) if request is not None else 1,
                  expected=row.expected_duration(request, policy))
        self._registry.add(job)
        self._submitter.attach(job, poll, task, first)
        return job

    def notify_callback(self, payload: Any) -> Job | None:
        """Feed a Kling callback body: the matching job is re-queried at once (callbacks carry
        no signature, so the body itself is never trusted).  Returns the job, if tracked."""
        self._require_open()
        assert self._poller is not None
        task = parse_task(payload)
        job = self._registry.get(task.task_id)
        if job is None and task.external_task_id:
            job = self._registry.get_by_external_id(task.external_task_id)
        if job is not None:
            self._poller.poke(job)
        return job

    def job(self, *, task_id: str | None = None, external_task_id: str | None = None
            ) -> Job | None:
        """The tracked job with this task id or external id (O(1)), or None."""
        if task_id is not None:
            return self._registry.get(task_id)
        if external_task_id is not None:
            return self._registry.get_by_external_id(external_task_id)
        return None

    async def events(self) -> AsyncIterator[Event]:
        """Every lifecycle event from now on, as an async iterator (ends when the client closes)."""
        stream = await self._events.subscribe()
        async for event in stream:
            yield event

    def statistics(self) -> ClientStatistics:
        """A frozen snapshot: jobs by state, capacity and its adaptive limit, request counts."""
        transport = self._transport
        poller = self._poller
        counts = self._registry.counts
        return ClientStatistics(
            jobs_total=self._registry.total,
            jobs_by_state={s.value: counts[s] for s in JobState},
            in_flight_slots=self._capacity.in_use,
            capacity_limit=self._capacity.limit,
            capacity_max=self._capacity.max_limit,
            waiting_for_capacity=counts[JobState.WAITING],
            concurrency_rejections=self._capacity.rejections,
            requests=transport.counters.requests if transport else 0,
            requests_by_method=dict(transport.counters.by_method) if transport else {},
            retries=transport.counters.retries if transport else 0,
            polls=poller.counters.polls if poller else 0,
            sweeps=poller.counters.sweeps if poller else 0,
            sweep_pages=poller.counters.sweep_pages if poller else 0,
            reconciliations=self._submitter.reconciliations if self._submitter else 0,
            events_dropped=self._events.dropped,
        )


class _Signal:
    """``asyncio.Event`` without its per-wait running-loop lookup (a ``getpid()`` system call
    on CPython 3.11): a flag plus one future on a known loop, for a single waiting task."""

    __slots__ = ("_flag", "_loop", "_waiter")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._flag = False
        self._waiter: asyncio.Future[None] | None = None

    def set(self) -> None:
        self._flag = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def clear(self) -> None:
        self._flag = False

    async def wait(self) -> None:
        if self._flag:
            return
        self._waiter = self._loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None


def _loop_time() -> float:
    """The running event loop's monotonic clock (what ``anyio.current_time`` returns on
    asyncio, without the backend lookup on every call)."""
    return asyncio.get_running_loop().time()


def _task_with_external_id(data: Any, ext: str, endpoint: Endpoint) -> Task | None:
    """The task with external id ``ext`` in a lookup reply: a task object, or a list (the new
    standard's ``[]`` for none).  None only when the reply proves there is none; a reply that
    cannot be read, or a task object naming another external id, is a ``ResponseDecodeError``
    (a caller reconciling a create must not take it for "absent" and pay twice), and so is a
    task whose results show it belongs to an endpoint of another kind."""
    try:
        if isinstance(data, list):
            for item in data:
                task = parse_task(item)
                if task.external_task_id == ext:
                    return task
            return None
        task = parse_task(data)
    except KlingError:
        raise
    except Exception as exc:  # whatever a hostile reply may hold
        raise ResponseDecodeError(
            f"lookup by external_task_id {ext!r}: unreadable reply ({type(exc).__name__})"
        ) from None
    if task.external_task_id is not None and task.external_task_id != ext:
        raise ResponseDecodeError(
            f"lookup by external_task_id {ext!r} answered with task {task.task_id!r} of "
            f"external_task_id {task.external_task_id!r}"
        )
    foreign = task.videos if endpoint.kind == "image" else task.images
    own = task.images if endpoint.kind == "image" else task.videos
    if foreign and not own:
        raise ResponseDecodeError(
            f"lookup by external_task_id {ext!r} on {endpoint.name} answered with task "
            f"{task.task_id!r}, whose results are not {endpoint.kind}s (another endpoint's task)"
        )
    if task.external_task_id is None:
        return attrs.evolve(task, external_task_id=ext)
    return task


def _says_not_found(exc: InvalidRequestError) -> bool:
    """Whether a 1201 is the official API's answer for an unknown id ("Task not found by
    id/external id: ...", reference §3.1), not a refused parameter."""
    return exc.code == 1201 and "not found" in exc.message.lower()


def _unreadable_create(endpoint: str, ext: str | None, exc: Exception
                       ) -> AmbiguousSubmissionError:
    return AmbiguousSubmissionError(endpoint, ext, ResponseDecodeError(
        f"the create reply could not be read ({type(exc).__name__}: {str(exc)[:160]})"))


def _lookup_safe(ext: Any) -> str:
    """A user's external_task_id, refused (``ValidationError``) before anything is sent if it
    could not be looked up exactly as sent: an ambiguous create could then never be
    reconciled (or a lookup for a trimmed id would find another task)."""
    if not isinstance(ext, str):
        raise ValidationError("external_task_id", "must be a string", ext)
    if (ext != ext.strip() or any(c in "/?#" or not c.isprintable() for c in ext)):
        raise ValidationError(
            "external_task_id", "must be printable, without '/', '?', '#' or surrounding "
            "whitespace (it is looked up in a URL to reconcile a lost create)", ext)
    return ext


def _checked_id(value: str) -> str:
    text = str(value).strip()
    if not text or "/" in text or "?" in text or "#" in text:
        raise ValidationError("task_id", "must be a non-empty id without '/', '?' or '#'", value)
    return text
