"""``KlingClient``: configuration, the one ``aiohttp.ClientSession``, and the wiring of the parts.

Lifecycle: unopened -> open (``async with`` / ``__aenter__``) -> closed (``aclose()``,
idempotent).  The session is created inside the running loop on entry (or borrowed, and then
left open).  The client belongs to that loop: a call from another loop or thread raises
``WrongEventLoopError``.  The shared poller runs in one background task of the client, inside
a cancel scope of that task (not of the task that opened the client), so any task of the loop
may close it; that task also closes everything if the poller fails or the loop shuts down.
Each job's submission (from its create to its first poll) runs in a plain asyncio task of its
own, kept in the client's ``_submissions`` until it ends; closing cancels those too.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import logging
import os
import random
import threading
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, overload

import aiohttp
import anyio
from standardwebhooks import Webhook

from ._account import Account
from ._admission import CapacityStore, shared_admission
from ._auth import Auth, BearerKeyAuth, JwtAuth
from ._buckets import concurrency_bucket
from ._capacity import AdaptiveCapacity
from ._completion import Completions
from ._config import (
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
from ._endpoints import (
    Endpoint,
    Request,
    endpoint_for,
    endpoint_named,
    note_use,
    request_external_id,
    task_weight,
)
from ._errors import (
    AmbiguousSubmissionError,
    ClientClosedError,
    ConfigurationError,
    KlingError,
    NotFoundError,
    ResponseDecodeError,
    ValidationError,
    WrongEventLoopError,
)
from ._events import Event, EventHub, RateLimited, RetryScheduled
from ._http import RetryNotice, Transport
from ._logging import configure_from_env
from ._models.sync import IdentifyFaceRequest, ImageRecognitionRequest, TextToSpeechRequest
from ._models.task import Task, TaskStatus
from ._multi_elements import MultiElements
from ._policy import PollPolicy, RetryPolicy
from ._poller import Poller
from ._queries import (
    TaskPage,
    TimeValue,
    checked_id,
    find_by_external_id,
    get_new_task,
    listed_tasks,
    listing_body,
    lookup_safe,
    task_pages,
)
from ._registry import Job, TaskRegistry
from ._resources import Elements, Voices
from ._results import callback_ids, created_task, parse_task
from ._session import owned_session
from ._settings import ExternalIdQuery, client_settings, time_scale_from
from ._submitter import SubmissionSettings, Submitter
from ._sync import FaceIdentification, ImageRecognition, Speech
from ._sync import identify_face as _identify_face
from ._sync import recognize_image as _recognize_image
from ._sync import text_to_speech as _text_to_speech
from ._webhook_verify import Headers
from ._webhooks import CallbackRelay, WebhookReceiver, webhook_settings
from ._wire import dump_request
from ._wiring import ClientCalls, ClientStatistics, Submissions, snapshot

log = logging.getLogger("kling_async")

#: Where a client being constructed reads its ``KLING_*`` settings: ``os.environ``, or the
#: mapping given to ``from_env(env)`` while that call constructs.
_ENVIRONMENT: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "kling_async_environment", default=None)


def _environment() -> Mapping[str, str]:
    """Where the client being constructed reads its settings (``KLING_LOG`` is applied from
    ``os.environ`` too, if it was set after the import)."""
    configure_from_env()
    source = _ENVIRONMENT.get()
    return os.environ if source is None else source


def _with_environment(source: Mapping[str, str], api_key: str | None, access_key: str | None,
                      secret_key: str | None, base_url: str | None
                      ) -> tuple[str | None, str | None, str | None, str | None]:
    """(api_key, access_key, secret_key, base_url): the arguments, and for what is not given
    ``KLING_API_KEY`` or ``KLING_ACCESS_KEY`` + ``KLING_SECRET_KEY`` (the bearer key wins when
    both are set; no credential argument at all to use them) and ``KLING_BASE_URL``."""
    if base_url is None:
        base_url = source.get(ENV_BASE_URL) or None
    if api_key is not None or access_key is not None or secret_key is not None:
        return api_key, access_key, secret_key, base_url
    if source.get(ENV_API_KEY):
        return source[ENV_API_KEY], None, None, base_url
    return None, source.get(ENV_ACCESS_KEY) or None, source.get(ENV_SECRET_KEY) or None, base_url


def _credentials(api_key: str | None, access_key: str | None, secret_key: str | None) -> Auth:
    if api_key and (access_key or secret_key):
        raise ConfigurationError("give either api_key or access_key + secret_key, not both")
    if api_key:
        return BearerKeyAuth(api_key)
    if access_key or secret_key:
        return JwtAuth(access_key or "", secret_key or "")
    raise ConfigurationError(
        "no credentials: pass api_key=... (gateway) or access_key=... and secret_key=... "
        f"(official), or set {ENV_API_KEY} / {ENV_ACCESS_KEY} + {ENV_SECRET_KEY}"
    )


class KlingClient:
    """An asyncio client for the Kling API (official host or a ``/kling`` gateway).

    Credentials: ``api_key`` (a gateway bearer key) or ``access_key`` + ``secret_key`` (the
    official HS256 JWT).  ``base_url`` carries any gateway prefix
    (``https://www.anyapi.vip/kling``); the default is the official global host.

    What is not given comes from the environment, as ``OpenAI()`` does: without any
    credential argument, ``KLING_API_KEY`` (or ``KLING_ACCESS_KEY`` + ``KLING_SECRET_KEY``);
    without ``base_url``, ``KLING_BASE_URL``; without ``poll``, ``KLING_TIME_SCALE`` (the
    speed-up of a time-scaled simulator, ``kling-async simulate --time-scale N``) scales the
    default poll policy by it (``PollPolicy().scaled(N)``), as the CLI does.  Arguments always
    win over the environment; ``from_env(env)`` reads another mapping instead.

    ``external_id_query`` picks how a legacy task is looked up by ``external_task_id``:
    ``"path"`` = ``GET <path>/X`` (default: the official form since 2026, reference §3.1);
    older forms for gateways that need them: ``"query"`` = ``GET <path>?external_task_id=X``,
    ``"path-flag"`` = ``GET <path>/X?external_task_id=true``, ``"path-param"`` =
    ``GET <path>/X?external_task_id=X``.  A new-standard task is always looked up with
    ``GET /tasks?external_task_ids=X``.  An answer of HTTP 404 / 1203 or HTTP 400 / 1201 "Task
    not found by id/external id" is "no such task".  ``reconcile_delay`` is how long to wait
    after an ambiguous create before that lookup (read-after-write consistency is UNCERTAIN).

    New-standard endpoints (``text-to-video/kling-3.0``...) take an API key only (reference
    §1.2): with AK/SK (JWT) credentials, a new-standard create, query or listing raises
    ``ConfigurationError`` before anything is sent.  Their tasks are polled together, up to
    ``Limits.max_ids_per_task_query`` ids per ``GET /tasks`` call.

    Open it with ``async with`` (or ``await client.__aenter__()`` and later ``aclose()``, from
    any task of the same loop, e.g. in notebook cells); it belongs to that event loop.

    A job submitted without an ``external_task_id`` gets a generated one:
    ``external_id_prefix`` + 16 random hex digits drawn once per client + ``-`` + a counter.

    Webhooks (``KLING_WEBHOOK_URL``, ``KLING_WEBHOOK_SECRET`` when not given): with a
    ``webhook_url``, every create carries a callback URL derived from it (a request's own
    ``callback_url`` is kept); feed each request the URL receives to ``handle_webhook``.
    ``webhook_secret`` (Kling's ``whsec_...``; several, as a sequence or comma-separated, while
    rotating) makes it verify signatures and resolve jobs from the bodies; without one, each
    job's URL carries a token and a callback only re-queries its job.

    ``store=PostgresStore(dsn)`` shares the account's capacity with every process using that
    store: ``limits.max_in_flight`` is then the whole account's limit (see ``_fleet._shared``).
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
        session: aiohttp.ClientSession | None = None,
        allow_insecure_http: bool = False,
        on_event: Callable[[Event], Any] | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | Sequence[str] | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[Any]] = anyio.sleep,
        rand: Callable[[], float] = random.random,
        store: CapacityStore | None = None,
    ):
        try:
            source = _environment()
            api_key, access_key, secret_key, base_url = _with_environment(
                source, api_key, access_key, secret_key, base_url)
            self._auth = _credentials(api_key, access_key, secret_key)
            settings = client_settings(
                base_url=base_url, allow_insecure_http=allow_insecure_http, timeouts=timeouts,
                retry=retry, poll=poll, limits=limits, external_id_query=external_id_query,
                reconcile_delay=reconcile_delay, external_id_prefix=external_id_prefix,
                time_scale=time_scale_from(source) if poll is DEFAULT_POLL else None,
            )
            hook_url, hook_keys = webhook_settings(source, webhook_url, webhook_secret)
            self._admission = shared_admission(store, settings, api_key or access_key)
        except ConfigurationError as exc:
            traceback.clear_frames(exc.__traceback__)  # the raising frames' locals: the keys
            raise
        finally:
            # No traceback through this frame shows a credential in its locals (error
            # reporters such as Sentry record them; a base_url may carry a password).
            del api_key, access_key, secret_key, base_url, webhook_secret
        self._settings = settings
        self._id_seq = itertools.count(1)  # generated external ids: settings.id_prefix + this
        self._borrowed = session
        self._user_clock = clock
        self._clock = clock or _loop_time  # bound to the loop's own clock once open
        self._sleep = sleep
        self._rand = rand
        self._init_lifecycle()
        # Webhooks on any worker: callbacks shared with the store's other processes.
        relay = store.callback_relay() if store is not None and hook_keys else None
        self._init_jobs(limits, on_event, hook_url, hook_keys, relay)
        self._init_namespaces()

    def _init_jobs(self, limits: Limits, on_event: Callable[[Event], Any] | None,
                   hook_url: str | None, hook_keys: tuple[Webhook, ...],
                   relay: CallbackRelay | None = None) -> None:
        """What keeps the jobs: events, the registry, capacity, completions, webhooks."""
        self._events = EventHub(on_event)
        self._registry = TaskRegistry()
        self._capacity = AdaptiveCapacity.for_limits(limits)
        self._completions = Completions(self._registry, self._capacity)
        self._webhooks = WebhookReceiver(url=hook_url, keys=hook_keys, limits=limits,
                                         registry=self._registry, events=self._events,
                                         clock=lambda: self._clock(), relay=relay)
        self._submissions = Submissions(settled=self._completions.settled,
                                        find=self._find_by_external_id)

    def _init_namespaces(self) -> None:
        """``elements``, ``voices``, ``multi_elements`` and ``account`` (their calls need an
        open client)."""
        self.elements = Elements(self._require_open, self.submit)
        self.voices = Voices(self._require_open, self.submit)
        self.multi_elements = MultiElements(self._require_open, self.submit)
        self.account = Account(self._require_open, lambda: self._clock(), self._sleep)

    def _init_lifecycle(self) -> None:
        """The state of an unopened client (see the module docstring)."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._state: Literal["unopened", "open", "closed"] = "unopened"
        self._session: aiohttp.ClientSession | None = None
        self._thread: int | None = None  # the ident of the thread running self._loop
        self._runner: asyncio.Task[None] | None = None  # the background task (_background)
        self._scope: anyio.CancelScope | None = None  # the poller's, in the background task
        self._failure: Exception | None = None  # what ended the background work, if it failed
        self._ended = ""  # why the client closed, when not by aclose()
        self._transport: Transport | None = None
        self._calls: ClientCalls | None = None  # the transport as the client's calls use it
        self._poller: Poller | None = None
        self._submitter: Submitter | None = None

    # -- configuration (checked once, in ``client_settings``) ----------------------------------
    @property
    def base_url(self) -> str:
        """The checked base URL, without a trailing slash."""
        return self._settings.base_url

    @property
    def timeouts(self) -> Timeouts:
        return self._settings.timeouts

    @property
    def retry(self) -> RetryPolicy:
        return self._settings.retry

    @property
    def poll(self) -> PollPolicy:
        """The client's default ``PollPolicy`` (a job's own ``poll=`` overrides it)."""
        return self._settings.poll

    @property
    def limits(self) -> Limits:
        return self._settings.limits

    @property
    def external_id_query(self) -> ExternalIdQuery:
        return self._settings.external_id_query

    @property
    def reconcile_delay(self) -> float:
        return self._settings.reconcile_delay

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> KlingClient:
        """A client configured from ``KLING_API_KEY`` or ``KLING_ACCESS_KEY`` +
        ``KLING_SECRET_KEY``, ``KLING_BASE_URL`` and ``KLING_TIME_SCALE`` (of ``env``, by
        default ``os.environ``); keyword ``overrides`` win.  ``KlingClient(**overrides)``
        reads ``os.environ`` the same way."""
        token = _ENVIRONMENT.set(os.environ if env is None else env)
        try:
            return cls(**overrides)
        finally:
            _ENVIRONMENT.reset(token)

    def __repr__(self) -> str:
        kind = "bearer" if isinstance(self._auth, BearerKeyAuth) else "jwt"
        return f"<KlingClient {self.base_url} auth={kind} state={self._state}>"

    # -- lifecycle ----------------------------------------------------------------------------
    async def __aenter__(self) -> KlingClient:
        if self._state != "unopened":
            raise ClientClosedError(
                "this KlingClient is already open: enter `async with` once"
                if self._state == "open" else
                "this KlingClient was closed and cannot be reopened: create a new one"
            )
        # Nothing here awaits, so a cancellation (Ctrl-C under asyncio.run) cannot land
        # half-way; anything else that fails closes what was made so far.
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise WrongEventLoopError(
                "KlingClient runs on asyncio: enter it inside a running asyncio event loop "
                "(asyncio.run, or anyio with the asyncio backend; not trio)"
            ) from None
        try:
            self._open(loop)
        except BaseException:
            self._state = "closed"
            await self._release()
            raise
        return self

    def _open(self, loop: asyncio.AbstractEventLoop) -> None:
        # Bind the running loop once: asyncio.get_running_loop() costs a getpid() system call
        # per call on CPython 3.11, and the hot path would otherwise make several per job.
        self._loop = loop
        self._thread = threading.get_ident()
        if self._user_clock is None:
            self._clock = loop.time
        if self._borrowed is not None:
            if self._borrowed.closed:
                raise ConfigurationError(
                    "the aiohttp session passed as session= is closed: pass an open one, or "
                    "none (the client then makes and closes its own)"
                )
            self._session = self._borrowed
        else:
            self._session = owned_session(self.limits.max_requests)  # no hidden re-sends
        self._transport = Transport(
            self._session, self.base_url, self._auth, retry=self.retry, timeouts=self.timeouts,
            max_requests=self.limits.max_requests, max_reply_bytes=self.limits.max_reply_bytes,
            sleep=self._sleep, rand=self._rand,
            on_retry=self._on_retry,
        )
        self._calls = ClientCalls(self._transport, lambda: self.closed)
        self._poller = Poller(
            transport=self._transport, registry=self._registry, capacity=self._capacity,
            events=self._events, policy=self.poll, clock=self._clock, rand=self._rand,
            workers=self.limits.max_requests, ids_per_query=self.limits.max_ids_per_task_query,
            visibility_grace=self.limits.task_visibility_grace,
        )
        self._submitter = Submitter(
            host=self._submissions, transport=self._transport, poller=self._poller,
            registry=self._registry, capacity=self._capacity, events=self._events,
            settings=SubmissionSettings(retry=self.retry, reconcile_delay=self.reconcile_delay,
                                        timeout=self.timeouts.submission,
                                        prepare=self._webhooks.prepare),
            clock=self._clock, sleep=self._sleep, rand=self._rand, admission=self._admission,
        )
        # The poller runs in a background task of its own (and its task group inside that
        # task): any task of this loop may then close the client without cancelling the task
        # that opened it (notebook cells, asyncio.wait_for(client.aclose(), ...)).
        self._webhooks.bind(self._poller)
        self._state = "open"  # first: an eager task factory runs the task's start right here
        self._runner = loop.create_task(self._background(), name="kling_async client")

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop polling and submitting, wake every waiter, close the owned session.

        Idempotent, and safe from any task of the loop that opened the client; concurrent
        calls all return once the client is closed.  Unfinished jobs stay readable; their
        ``result()`` raises ``ClientClosedError`` naming the task id to re-attach to later.  A
        job whose create was under way (sent, or being reconciled) ends with
        ``SubmissionInterruptedError`` (a ``ClientClosedError`` and an
        ``AmbiguousSubmissionError``) naming its ``external_task_id``: re-attach with
        ``client.attach(endpoint, external_task_id=...)``.  One never sent says so.
        """
        runner = self._runner
        if runner is None:  # never opened
            self._state = "closed"
            self._events.close()  # events() readers end
            return
        if runner.done():
            return
        self._check_loop()
        if self._state == "open":
            self._state = "closed"
            self._begin_close()
            if self._scope is not None:  # else the task sees the state when it first runs
                self._scope.cancel()
        # An enclosing anyio cancel scope must not leave the session half-closed; the
        # shutdown is short (cancelled submissions, one session close).  A plain task
        # cancel (asyncio.wait_for's timeout) still ends this wait; the closing goes on.
        with anyio.CancelScope(shield=True):
            await asyncio.wait((runner,))

    def _begin_close(self) -> None:
        """Closing started: as_completed loops raise ClientClosedError, queued jobs stay
        unsent.  Idempotent."""
        self._completions.close()
        if self._submitter is not None:
            self._submitter.close()

    async def _background(self) -> None:
        """The client's background task: runs the poller until ``aclose()`` cancels its scope
        (or it fails, or the loop shuts down), then stops submissions and releases all."""
        assert self._poller is not None
        try:
            with anyio.CancelScope() as self._scope:
                if self._state == "open":  # else aclose() came before this task first ran
                    await self._poller.run()
        except Exception as exc:  # a bug in the background work: surface it, then close
            self._failure = exc
            log.error("kling_async: the client's background work failed; the client is "
                      "closed and its unfinished jobs raise ClientClosedError", exc_info=exc)
        except asyncio.CancelledError:
            if self._state == "open":
                self._ended = "the event loop that opened it shut down"
            raise
        finally:
            self._state = "closed"
            self._begin_close()
            try:
                await self._submissions.stop()
            finally:
                await self._release()

    async def _release(self) -> None:
        """Wake every unfinished job's waiters, end events() readers, close the owned
        session.  Idempotent."""
        self._webhooks.bind(None)
        if self._poller is not None:
            self._poller.close(self._registry.unfinished())
        self._events.close()
        if self._transport is not None:
            self._transport.close()
        session, self._session = self._session, None
        if self._borrowed is None and session is not None and not session.closed:
            await session.close()

    def _check_loop(self) -> None:
        """Raise ``WrongEventLoopError`` unless called from the loop that opened the client.

        Two cheap tests instead of asyncio.get_running_loop() (a system call per call on
        CPython 3.11): one thread runs at most one loop, so the opener's thread while its
        loop is running means that loop."""
        loop = self._loop
        if threading.get_ident() != self._thread or loop is None or not loop.is_running():
            raise WrongEventLoopError(
                "this KlingClient belongs to the event loop that opened it (thread "
                f"{self._thread_name()}), and was called from another event loop or thread; "
                "call it from that loop (from another thread, hand the call over with "
                "asyncio.run_coroutine_threadsafe(coro, loop)), or open a separate "
                "KlingClient in this loop"
            )

    def _thread_name(self) -> str:
        for thread in threading.enumerate():
            if thread.ident == self._thread:
                return repr(thread.name)
        return f"id {self._thread}"

    def _require_open(self) -> ClientCalls:
        calls = self._calls
        if self._state != "open" or calls is None:
            raise ClientClosedError(self._not_open_message())
        self._check_loop()
        return calls

    @property
    def closed(self) -> bool:
        """True once ``aclose()`` began (or the client's loop ended); a closed client cannot
        be reopened."""
        return self._state == "closed"

    def _not_open_message(self) -> str:
        if self._state == "unopened":
            return "the client is not open: use `async with KlingClient(...) as client:`"
        if self._failure is not None:
            return (f"the client closed after its background work failed "
                    f"({type(self._failure).__name__}); open a new one with `async with`")
        why = f" ({self._ended})" if self._ended else ""
        return f"the client is closed{why}: open a new one with `async with KlingClient(...)`"

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
    async def create_task(self, request: Request, *, external_task_id: str | None = None) -> Task:
        """One create POST; returns the submitted ``Task``.

        Retried only when it provably created nothing (connection never made, 1302/1303).
        An ambiguous failure (including a reply that cannot be read) raises
        ``AmbiguousSubmissionError``: the task may exist.
        """
        transport = self._require_open()
        endpoint = self._usable(endpoint_for(request))
        note_use(endpoint)
        body = dump_request(request)
        if external_task_id is not None:
            endpoint.set_option(body, "external_task_id", external_task_id)
        self._webhooks.prepare(None, body, endpoint)
        ext = endpoint.options_of(body).get("external_task_id")
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

    def _usable(self, endpoint: Endpoint) -> Endpoint:
        """``endpoint``, unless these credentials cannot call it: the new standard takes an
        API key only, so AK/SK (JWT) credentials are a ``ConfigurationError`` before any I/O."""
        if endpoint.standard == "new":
            self._require_api_key(endpoint.name)
        return endpoint

    def _require_api_key(self, what: str) -> None:
        if isinstance(self._auth, JwtAuth):
            raise ConfigurationError(
                f"{what} is a new-standard API (model in the path, /tasks), which takes an "
                f"API key only: AK/SK (JWT) credentials work only for legacy /v1 endpoints. "
                f"Create an API key in the Kling console and pass api_key=... (or set "
                f"{ENV_API_KEY})"
            )

    async def get_task(self, endpoint: str, task_id: str) -> Task:
        """The task's current state: ``GET /v1/<endpoint>/<task_id>`` (legacy), or
        ``GET /tasks?task_ids=<task_id>`` (new standard; ``NotFoundError`` when absent)."""
        transport = self._require_open()
        row = self._usable(endpoint_named(endpoint))
        if row.standard == "new":
            return await get_new_task(transport, task_id)
        return parse_task(await transport.call("GET", row.task_path(checked_id(task_id))))

    async def get_task_by_external_id(self, endpoint: str, external_task_id: str) -> Task:
        """The task created with this ``external_task_id``; ``NotFoundError`` if there is none."""
        self._require_open()
        task = await self._find_by_external_id(self._usable(endpoint_named(endpoint)),
                                               external_task_id)
        if task is None:
            raise NotFoundError(
                f"no {endpoint} task with external_task_id {external_task_id!r}",
                http_status=None, code=None,
            )
        return task

    async def _find_by_external_id(self, endpoint: Endpoint, external_task_id: str,
                                   subject: object = None) -> Task | None:
        calls = self._require_open()
        return await find_by_external_id(calls, endpoint, external_task_id,
                                         self.external_id_query, subject)

    @overload
    def list_tasks(
        self, endpoint: str, *, page_size: int = 30, start_page: int = 1,
        max_pages: int | None = None,
    ) -> AsyncIterator[TaskPage]: ...

    @overload
    def list_tasks(
        self, endpoint: None = None, *, status: str | Iterable[str] | None = None,
        product_type: str | Iterable[str] | None = None, start_time: TimeValue | None = None,
        end_time: TimeValue | None = None, limit: int = 100, max_pages: int | None = None,
    ) -> AsyncIterator[Task]: ...

    def list_tasks(
        self, endpoint: str | None = None, *, page_size: int | None = None,
        start_page: int | None = None, status: str | Iterable[str] | None = None,
        product_type: str | Iterable[str] | None = None, start_time: TimeValue | None = None,
        end_time: TimeValue | None = None, limit: int | None = None,
        max_pages: int | None = None,
    ) -> AsyncIterator[TaskPage] | AsyncIterator[Task]:
        """The account's tasks, in one of two forms.

        ``list_tasks(endpoint)`` (legacy endpoints): pages (``TaskPage``) of that endpoint's
        tasks, newest first, until a short page; ``page_size`` in [1, 500] and page numbers in
        [1, 1000] (Kling's limits).

        ``list_tasks()`` without an endpoint: every task (``Task``) of ``POST /tasks``, the
        new standard's cursor listing (reference §12.2), page after page while the server
        says ``has_more``.  Filters: ``status`` (one or several of ``submitted``,
        ``processing``, ``succeed``/``succeeded``, ``failed``, or ``TaskStatus`` values),
        ``product_type`` (``video``, ``image``, ``try_on``), ``start_time``/``end_time``
        (milliseconds since the epoch or aware datetimes; the server's default window is the
        last 30 days); ``limit`` tasks per page (1-500, default 100); ``max_pages`` bounds the
        pages read.  Needs an API key (``ConfigurationError`` with AK/SK).  Bad filters raise
        ``ValidationError`` naming the field before anything is sent.
        """
        if endpoint is not None:
            if (status, product_type, start_time, end_time, limit) != (None,) * 5:
                raise ValidationError(
                    "endpoint", "filters (status, product_type, start_time, end_time, limit) "
                    "are for list_tasks() without an endpoint (POST /tasks)", endpoint)
            return self._legacy_pages(endpoint, page_size=30 if page_size is None else page_size,
                                      start_page=1 if start_page is None else start_page,
                                      max_pages=max_pages)
        if page_size is not None or start_page is not None:
            raise ValidationError("page_size", "pages by number need an endpoint: "
                                  "list_tasks(endpoint, ...); without one use limit", page_size)
        body = listing_body(status=status, product_type=product_type, start_time=start_time,
                            end_time=end_time, limit=100 if limit is None else limit)
        return self._listing(body, max_pages)

    async def _legacy_pages(self, endpoint: str, *, page_size: int, start_page: int,
                            max_pages: int | None) -> AsyncIterator[TaskPage]:
        calls = self._require_open()
        pages = task_pages(calls, endpoint_named(endpoint), page_size=page_size,
                           start_page=start_page, max_pages=max_pages)
        async with contextlib.aclosing(pages):
            async for page in pages:
                yield page

    async def _listing(self, body: dict[str, Any], max_pages: int | None
                       ) -> AsyncIterator[Task]:
        calls = self._require_open()
        self._require_api_key("POST /tasks (list_tasks() without an endpoint)")
        tasks = listed_tasks(calls, body, max_pages=max_pages)
        async with contextlib.aclosing(tasks):
            async for task in tasks:
                yield task

    # -- synchronous endpoints (charged: never retried after an ambiguous failure) ----------
    async def text_to_speech(self, request: TextToSpeechRequest) -> Speech:
        """``POST /v1/audio/tts``: the speech, at once (no task to poll).  A failure after
        the request may have reached the server raises ``AmbiguousCallError``."""
        return await _text_to_speech(self._require_open(), request)

    async def identify_face(self, request: IdentifyFaceRequest) -> FaceIdentification:
        """``POST /v1/videos/identify-face``: the faces and the ``session_id`` advanced
        lip-sync takes.  Retried as ``text_to_speech``."""
        return await _identify_face(self._require_open(), request)

    async def recognize_image(self, request: ImageRecognitionRequest) -> ImageRecognition:
        """``POST /v1/videos/image-recognize``: the image's segmentations.  Retried as
        ``text_to_speech``."""
        return await _recognize_image(self._require_open(), request)

    # -- orchestration ------------------------------------------------------------------------
    def _new_job(self, request: Any, external_task_id: str | None, policy: PollPolicy | None
                 ) -> Job:
        endpoint = self._usable(endpoint_for(request))
        note_use(endpoint)
        user_id = external_task_id or request_external_id(request)
        if user_id:
            ext = lookup_safe(user_id)
        else:
            ext = f"{self._settings.id_prefix}{next(self._id_seq):x}"
        return Job(endpoint.name, request, ext, weight=task_weight(endpoint, request),
                   expected=endpoint.expected_duration(request, policy or self._settings.poll),
                   bucket=concurrency_bucket(endpoint, request))

    def submit_nowait(self, request: Request, *, external_task_id: str | None = None,
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

    async def submit(self, request: Request, *, external_task_id: str | None = None,
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

    async def submit_many(self, requests: Iterable[Request], *, poll: PollPolicy | None = None,
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

    def as_completed(
        self, items: Iterable[Job | Request], *, poll: PollPolicy | None = None
    ) -> AsyncIterator[Job]:
        """Yield jobs as they finish.  ``items`` may mix ``Job``s and requests; requests are
        submitted lazily, as capacity frees (at most twice the current limit wait unsent), so a
        huge iterable is never queued all at once.  The client must be open when the loop
        starts (``ClientClosedError`` otherwise), and stay open until it ends."""
        return self._completions.stream(items, self._open_loop,
                                        lambda request: self.submit_nowait(request, poll=poll),
                                        lambda: self._state == "open")

    def _open_loop(self) -> asyncio.AbstractEventLoop:
        """The loop of the open client, called from it (else ``_require_open``'s error)."""
        self._require_open()
        assert self._loop is not None
        return self._loop

    async def attach(
        self, endpoint: str, *, task_id: str | None = None, external_task_id: str | None = None,
        request: Request | None = None, poll: PollPolicy | None = None,
    ) -> Job:
        """Track an existing task (e.g. after a restart) by ``task_id`` or ``external_task_id``.

        Nothing is created.  Raises ``NotFoundError`` when only an external id is given and no
        such task exists.
        """
        self._require_open()
        assert self._submitter is not None
        row = self._usable(endpoint_named(endpoint))
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
            task = Task(task_id=checked_id(task_id), status=TaskStatus.SUBMITTED,
                        external_task_id=external_task_id)
            first = 0.0
        policy = poll or self.poll
        job = Job(row.name, request, external_task_id,
                  weight=row.weight(request) if request is not None else 1,
                  expected=row.expected_duration(request, policy),
                  bucket=concurrency_bucket(row, request))
        self._registry.add(job)
        self._submitter.attach(job, poll, task, first)
        return job

    def notify_callback(self, payload: Any) -> Job | None:
        """Feed a Kling callback body: the matching job is re-queried soon.  Returns the job,
        if tracked.

        Callbacks carry no signature, so only the task they name is read from the body (its
        ``task_id``, or ``external_task_id``; no status needed) and the task is re-queried:
        at most one re-query per job at a time, and none sooner than the job's
        ``PollPolicy.min_interval`` after its last poll, however many callbacks arrive.  A body
        naming no task (or a task id that is not plain) raises ``ResponseDecodeError``.
        """
        self._require_open()
        assert self._poller is not None
        task_id, external_task_id = callback_ids(payload)
        job = self._registry.get(task_id) if task_id is not None else None
        if job is None and external_task_id is not None:
            job = self._registry.get_by_external_id(external_task_id)
        if job is not None:
            self._poller.poke(job)
        return job

    @property
    def webhook_url(self) -> str | None:
        """The URL every create's callback URL derives from (None: no webhooks)."""
        return self._webhooks.url

    async def handle_webhook(self, headers: Headers, body: bytes, *, url: str | None = None,
                             length: int | None = None) -> int:
        """Handle one webhook request; returns the HTTP status to answer it with.

        ``headers``: the request's headers (a mapping, or ASGI's ``(name, value)`` pairs);
        ``body``: its raw bytes, exactly as received (a body over
        ``Limits.max_webhook_bytes`` is answered 413: read at most one byte more than that);
        ``url``: the request's URL or path and query (needed without a secret: the job's
        token is there); ``length``: its declared ``Content-Length``, if any (over the cap,
        413 at once: pass ``b""`` without reading the body).

        With a ``webhook_secret``: the Standard Webhooks signature and timestamp are
        verified first (401), then redeliveries are recognised by ``webhook-id`` (the same
        body again: 200, not applied twice; another body: 409), and a task object (legacy
        or new shape) saying the task ended ends its job at once, without a GET (an earlier
        status is only counted, as ``progress``).  Without one: a valid job token
        re-queries that job (202), within its ``PollPolicy.min_interval``; the body is never
        read.  A status never goes back, a finished job stays finished, a body about no job of
        this client is ignored (200).  Every outcome is counted in ``statistics().webhooks``
        and emitted as a ``WebhookReceived`` event; a client that is not open answers 503.
        """
        if self._state == "open":
            self._check_loop()
        return await self._webhooks.handle(headers, body, url, length)

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
        if self._state == "open":
            self._check_loop()
        stream = await self._events.subscribe()
        async for event in stream:
            yield event

    def statistics(self) -> ClientStatistics:
        """A frozen snapshot: jobs by state, capacity and its adaptive limit, request counts."""
        return snapshot(self._registry, self._capacity, self._events, self._transport,
                        self._poller, self._submitter, self._submissions,
                        self._webhooks.counts)


def _loop_time() -> float:
    """The running event loop's monotonic clock (what ``anyio.current_time`` returns on
    asyncio, without the backend lookup on every call)."""
    return asyncio.get_running_loop().time()


def _unreadable_create(endpoint: str, ext: str | None, exc: Exception
                       ) -> AmbiguousSubmissionError:
    return AmbiguousSubmissionError(endpoint, ext, ResponseDecodeError(
        f"the create reply could not be read ({type(exc).__name__}: {str(exc)[:160]})"))
