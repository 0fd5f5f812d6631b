"""Webhooks (reference §5): the callback URL every create carries, and the framework-free
receiver behind ``KlingClient.handle_webhook``.

Two modes, by whether the client has a ``webhook_secret``:

- **signed**: each create carries ``webhook_url`` as its callback URL.  A request is checked
  in this order: the body size cap (413), the Standard Webhooks signature and timestamp
  (401), the delivery id (an exact redelivery is answered 200 and not applied again; another
  body under an id seen before is refused with 409), the body (400 if a signed body is no
  task object).  A verified end (``succeed``/``failed``) is applied to its job at once,
  with no GET (``Poller.observe``); an earlier status (``progress``) updates the job's state,
  history and events, but not its poll schedule.  A status never goes back and a finished
  job stays finished.
- **token** (no secret: a gateway that does not sign): each job's callback URL carries
  ``kling_job=<key>&kling_token=<token>`` (``secrets.token_urlsafe``), checked in constant
  time.  A valid one only re-queries the job (``Poller.poke``: at once, but at most once per
  its ``PollPolicy.min_interval``); the body is never read.

With a store (``KlingClient(store=PostgresStore(dsn))``, several processes behind one URL),
a verified body about no job of this client is recorded in the store for the process that
owns the job (``relayed``, 200 once recorded; 503 if the store could not be written, so it is
delivered again), which applies it as if received itself (``deliver``); a body no client of
the store knows stays ``unknown``.

Every request has one outcome (``WEBHOOK_OUTCOMES``, each with its HTTP status), counted in
``statistics().webhooks`` and emitted as a ``WebhookReceived`` event.
"""

from __future__ import annotations

import hmac
import itertools
import json
import logging
import secrets
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from standardwebhooks import Webhook
from yarl import URL

from ._config import Limits
from ._endpoints import Endpoint
from ._errors import ConfigurationError, ResponseDecodeError
from ._events import EventHub, WebhookReceived
from ._models.task import Task, TaskStatus
from ._poller import Poller
from ._registry import Job, TaskRegistry
from ._results import parse_callback
from ._webhook_verify import Headers, SeenIds, Verdict, header_map, load_secrets, verify

log = logging.getLogger("kling_async")

ENV_WEBHOOK_URL = "KLING_WEBHOOK_URL"
#: One secret, or several separated by commas (a rotation: any of them verifies).
ENV_WEBHOOK_SECRET = "KLING_WEBHOOK_SECRET"
#: The query parameters of a callback URL in token mode.
JOB_PARAM = "kling_job"
TOKEN_PARAM = "kling_token"

#: Each outcome of a webhook request and the HTTP status answered for it.
WEBHOOK_STATUS: Mapping[str, int] = {
    "applied": 200,  # signed: the job ended from the body (no GET)
    "progress": 200,  # signed: a status before the end (left to the poller's schedule)
    "poked": 202,  # token: the job is re-queried soon
    "duplicate": 200,  # signed: this delivery (same id, same body) was handled before
    "stale": 200,  # the job has finished, or the status is behind the one seen: ignored
    "unknown": 200,  # a verified body about no job of this client: ignored
    "relayed": 200,  # signed: about a job of another process of the store: recorded for it
    "unrecorded": 503,  # signed: for another process, but the store could not record it
    "early": 503,  # the job's create reply has not arrived yet: deliver again later
    "unsigned": 401,  # no signature (signed mode) or no token (token mode)
    "forged": 401,  # a signature or token that does not match, or malformed headers
    "replayed": 401,  # a timestamp outside the 5-minute tolerance
    "conflict": 409,  # signed: another body under a webhook-id seen before
    "malformed": 400,  # signed: a verified body that is no task object
    "oversized": 413,  # a body over Limits.max_webhook_bytes
    "closed": 503,  # the client is not open
}
WEBHOOK_OUTCOMES: tuple[str, ...] = tuple(WEBHOOK_STATUS)
#: How far each status is along a task's way (a status never goes back).
_RANK = {TaskStatus.SUBMITTED: 0, TaskStatus.PROCESSING: 1, TaskStatus.SUCCEED: 2,
         TaskStatus.FAILED: 2}


def webhook_settings(source: Mapping[str, str], url: str | None,
                     secret: str | Sequence[str] | None) -> tuple[str | None, tuple[Webhook, ...]]:
    """(checked webhook URL, secrets): the arguments, else ``KLING_WEBHOOK_URL`` and
    ``KLING_WEBHOOK_SECRET``; ``ConfigurationError`` naming what is wrong (never a secret)."""
    if url is None:
        url = source.get(ENV_WEBHOOK_URL) or None
    if secret is None:
        secret = source.get(ENV_WEBHOOK_SECRET) or None
    return (None if url is None else check_webhook_url(url)), load_secrets(secret)


def check_webhook_url(url: object) -> str:
    """``url`` if it can be a callback URL (http(s), a host, no fragment, none of our
    parameters), else ``ConfigurationError`` naming at most its scheme and host."""
    try:
        parsed: URL | None = URL(url) if isinstance(url, str) else None
    except (TypeError, ValueError):
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigurationError("webhook_url must be an http(s) URL with a host, like "
                                 "'https://example.com/kling/webhook'")
    if parsed.raw_fragment or JOB_PARAM in parsed.query or TOKEN_PARAM in parsed.query:
        raise ConfigurationError(
            f"webhook_url (host {parsed.host!r}) must have no fragment and no "
            f"{JOB_PARAM}/{TOKEN_PARAM} parameter: the client adds those")
    assert isinstance(url, str)
    return url


def has_callback_url(body: Mapping[str, Any]) -> bool:
    """Whether a create body already names a callback URL (legacy or new standard)."""
    options = body.get("options")
    return bool(body.get("callback_url")) or (
        isinstance(options, Mapping) and bool(options.get("callback_url")))


def set_callback_url(body: dict[str, Any], url: str, endpoint: Endpoint) -> None:
    """Put ``url`` where ``endpoint``'s standard keeps the callback URL: the new standard's
    ``options.callback_url``, else the legacy top-level ``callback_url``."""
    endpoint.set_option(body, "callback_url", url)


class CallbackRelay(Protocol):
    """Verified callbacks shared through a store with the other processes using it."""

    async def record(self, task: Task, decoded: Any, rank: int) -> bool:
        """Record a verified callback for the process owning its job: False if no process
        knows the task; a store error raises."""
        ...

    def start(self, receiver: WebhookReceiver) -> None:
        """Apply to ``receiver`` (``owns``/``deliver``) what others record for its jobs."""

    def stop(self) -> None:
        """Stop applying (the client closed)."""


class WebhookReceiver:
    """A client's webhook side: ``prepare()`` each create body, ``handle()`` each request.
    ``bind()`` it to the client's poller once open (``None`` once closed)."""

    def __init__(self, *, url: str | None, keys: tuple[Webhook, ...], limits: Limits,
                 registry: TaskRegistry, events: EventHub, clock: Callable[[], float],
                 relay: CallbackRelay | None = None) -> None:
        self.url = url
        self._relay = relay if keys else None
        self._keys = keys
        self.max_bytes = limits.max_webhook_bytes
        self._registry = registry
        self._events = events
        self._clock = clock
        self._poller: Poller | None = None
        self._seen = SeenIds(limits.max_webhook_ids)
        self._live: dict[str, tuple[Job, str]] = {}  # token mode: key -> (job, token)
        self._retired: OrderedDict[str, str] = OrderedDict()  # ...of finished jobs
        self._retired_size = limits.max_webhook_ids
        self._serial = itertools.count(1)
        self.counts: dict[str, int] = dict.fromkeys(WEBHOOK_OUTCOMES, 0)

    def __repr__(self) -> str:
        mode = "signed" if self._keys else "token"
        return f"<WebhookReceiver {mode} keys={len(self._keys)}>"

    @property
    def signed(self) -> bool:
        return bool(self._keys)

    def bind(self, poller: Poller | None) -> None:
        self._poller = poller
        if self._relay is not None:
            if poller is None:
                self._relay.stop()
            else:
                self._relay.start(self)

    # -- the create side ------------------------------------------------------------------------
    def prepare(self, job: Job | None, body: dict[str, Any], endpoint: Endpoint) -> None:
        """Give a create body this client's callback URL, unless it names one already (a
        user's own is never overwritten).  In token mode the URL is the job's own, so a
        create with no job (``create_task``) gets none."""
        if self.url is None or has_callback_url(body):
            return
        if self._keys:
            set_callback_url(body, self.url, endpoint)
        elif job is not None:
            set_callback_url(body, self._job_url(self.url, job), endpoint)

    def _job_url(self, base: str, job: Job) -> str:
        """The job's own callback URL: ``base`` with a new key and token."""
        key = f"{next(self._serial):x}"
        token = secrets.token_urlsafe(24)
        self._live[key] = (job, token)
        job.add_done_callback(lambda _job: self._retire(key))
        separator = "&" if "?" in base else "?"
        return f"{base}{separator}{JOB_PARAM}={key}&{TOKEN_PARAM}={token}"

    def _retire(self, key: str) -> None:
        """A job ended: its token is kept (boundedly) so a late callback reads as stale."""
        entry = self._live.pop(key, None)
        if entry is None:
            return
        self._retired[key] = entry[1]
        while len(self._retired) > self._retired_size:
            self._retired.popitem(last=False)

    # -- the receiving side ---------------------------------------------------------------------
    async def handle(self, headers: Headers, body: bytes, url: str | None = None,
                     length: int | None = None) -> int:
        """The HTTP status to answer a webhook request with (see the module docstring);
        ``url`` is the request's URL (or path and query: token mode reads its query),
        ``length`` its declared Content-Length (if known)."""
        if len(body) > self.max_bytes or (length is not None and length > self.max_bytes):
            return self._outcome("oversized")
        poller = self._poller
        if poller is None:
            return self._outcome("closed")
        if self._keys:
            return await self._signed(poller, header_map(headers), body)
        return self._token(poller, url)

    async def _signed(self, poller: Poller, headers: dict[str, str], body: bytes) -> int:
        verdict = verify(self._keys, headers, body)
        if verdict is not Verdict.VERIFIED:
            return self._outcome(verdict.value)
        msg_id = headers["webhook-id"]
        seen = self._seen.check(msg_id, body)
        if seen != "new":
            return self._outcome(seen, webhook_id=msg_id)
        try:
            decoded = json.loads(body)
            task = parse_callback(decoded)
        except (ValueError, RecursionError, ResponseDecodeError) as exc:
            log.info("a signed webhook body is no task object (%s)", type(exc).__name__)
            return self._outcome("malformed", webhook_id=msg_id)
        outcome, job = self._applied(poller, task)
        if outcome == "unknown" and self._relay is not None:
            outcome = await self._relayed(self._relay, task, decoded)
        if outcome not in ("early", "unrecorded"):  # to be delivered again, then applied
            self._seen.add(msg_id, body)
        return self._outcome(outcome, job=job, webhook_id=msg_id, task_id=task.task_id)

    async def _relayed(self, relay: CallbackRelay, task: Task, decoded: Any) -> str:
        """Record a callback for the process owning its job: ``relayed``, ``unknown`` (no
        process knows it) or ``unrecorded`` (the store failed: to be delivered again)."""
        try:
            known = await relay.record(task, decoded, _RANK[task.status])
        except Exception as exc:
            log.warning("a verified webhook for another process could not be recorded: %s",
                        exc)
            return "unrecorded"
        return "relayed" if known else "unknown"

    def owns(self, task_id: str, external_task_id: str | None) -> bool:
        """Whether this client tracks a job of that task id or external id."""
        return self._registry.get(task_id) is not None or (
            external_task_id is not None
            and self._registry.get_by_external_id(external_task_id) is not None)

    def deliver(self, task: Task) -> str:
        """Apply a verified task object recorded by another process as if its callback had
        reached this client (counted and emitted); the outcome (``early``: too soon)."""
        poller = self._poller
        if poller is None:
            return "closed"
        outcome, job = self._applied(poller, task)
        if outcome != "unknown":
            self._outcome(outcome, job=job, task_id=task.task_id)
        return outcome

    def _applied(self, poller: Poller, task: Task) -> tuple[str, Job | None]:
        """``_apply``, and note that callbacks flow for a job they reached."""
        outcome, job = self._apply(poller, task)
        if job is not None and outcome != "unknown":
            poller.callback_seen(job)  # callbacks are flowing: polling is the safety net
        return outcome, job

    def _apply(self, poller: Poller, task: Task) -> tuple[str, Job | None]:
        """Apply a verified task object to its job: the outcome, and the job."""
        registry = self._registry
        job = registry.get(task.task_id)
        if job is None and task.external_task_id is not None:
            job = registry.get_by_external_id(task.external_task_id)
        if job is None:
            return "unknown", None
        if job.task_id is None:
            return "early", job
        if job.task_id != task.task_id:
            return "unknown", None
        old = job.task_status
        if job.done() or (old is not None and _RANK[task.status] < _RANK[old]):
            return "stale", job
        if not task.status.is_terminal:
            # Information only: its state, history and events, but not its poll schedule
            # (moving the next poll earlier cost a poll more per job, for no end seen sooner).
            poller.observe(job, task, polled=False)
            return "progress", job
        poller.observe(job, task)
        return "applied", job

    def _token(self, poller: Poller, url: str | None) -> int:
        key, token = _token_params(url)
        if key is None or token is None:
            return self._outcome("unsigned")
        entry = self._live.get(key)
        retired = self._retired.get(key)
        expected = entry[1] if entry is not None else retired
        # Compared in constant time even for an unknown key (against a token of ours).
        valid = hmac.compare_digest(token.encode(), (expected or _PLACEHOLDER).encode())
        if not valid or expected is None:
            return self._outcome("forged")
        if entry is None:
            return self._outcome("stale")
        job = entry[0]
        if job.task_id is None:
            return self._outcome("early", job=job)
        poller.callback_seen(job)
        poller.poke(job)
        return self._outcome("poked", job=job, task_id=job.task_id)

    def _outcome(self, outcome: str, *, job: Job | None = None, webhook_id: str | None = None,
                 task_id: str | None = None) -> int:
        """Count and announce one request's outcome; its HTTP status."""
        status = WEBHOOK_STATUS[outcome]
        self.counts[outcome] += 1
        if status >= 400:
            log.debug("webhook refused: %s (HTTP %d)", outcome, status)
        if self._events.active:
            self._events.emit(WebhookReceived(self._clock(), job=job, outcome=outcome,
                                              status=status, webhook_id=webhook_id,
                                              task_id=task_id))
        return status


_PLACEHOLDER = secrets.token_urlsafe(24)


def _token_params(url: str | None) -> tuple[str | None, str | None]:
    """(job key, token) from a request URL's query, or Nones."""
    if not url:
        return None, None
    try:
        query = URL(url).query
    except (TypeError, ValueError):
        return None, None
    key, token = query.get(JOB_PARAM), query.get(TOKEN_PARAM)
    if not key or not token or len(key) > 64 or len(token) > 256:
        return None, None
    return key, token
