"""Client settings: timeouts and capacity limits, plus the defaults every policy starts from."""

from __future__ import annotations

from typing import Any

import attrs

from ._policy import Backoff, PollPolicy, RetryPolicy


def _positive(_inst: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and value <= 0:
        raise ValueError(f"{attribute.name} must be > 0 or None, got {value!r}")


@attrs.frozen(kw_only=True)
class Timeouts:
    """Network time limits, in seconds (``None``: no limit).

    ``connect`` bounds establishing the connection (a failure there provably sent nothing);
    ``total`` bounds one whole try, from sending to the last byte of the reply (the default,
    60 s, is far above any Kling API reply); ``read``, off by default, bounds each wait for
    bytes of the reply (aiohttp's ``sock_read``).  A try past ``total`` is a timeout inside the
    retry loop: a GET is retried, a create is ambiguous.

    ``call`` bounds one whole logical call: every try of it, the waits between tries and any
    wait for a free request slot (default 300 s; ``RetryPolicy`` alone allows 6 tries of up to
    ``total`` each, plus waits).  When it runs out the call raises ``TransportError``, or, for a
    create whose last try may have reached the server, ``AmbiguousSubmissionError``.

    ``submission`` bounds one job's whole submission, from its first create POST to the
    server's acceptance: every try, the 1303 back-offs and waits for capacity between them, and
    the lookups by ``external_task_id`` that reconcile an ambiguous create, with their retries
    (default 600 s).  When it passes the job fails with ``AmbiguousSubmissionError`` (naming
    the ``external_task_id`` to look up) if a create may have reached the server, else with
    ``SubmissionTimeoutError`` (nothing was created).  Time spent queued for capacity before
    the first POST does not count.
    """

    connect: float | None = attrs.field(default=10.0, validator=_positive)
    read: float | None = attrs.field(default=None, validator=_positive)
    total: float | None = attrs.field(default=60.0, validator=_positive)
    call: float | None = attrs.field(default=300.0, validator=_positive)
    submission: float | None = attrs.field(default=600.0, validator=_positive)


@attrs.frozen(kw_only=True)
class Limits:
    """Client-side capacity.

    ``max_in_flight``: the most concurrency slots (Kling's parallel-task limit; an image task
    weighs ``n``, an omni-image series ``series_amount``, a video 1) the client will hold at
    once, all models together.  Kling counts concurrency per model version and pack type
    (reference §6), so each such bucket (``concurrency_bucket``: ``"video/kling-3.0"``...) has
    an adaptive limit of its own: it starts at ``initial_in_flight`` (default:
    ``max_in_flight``); on a 1303 for that bucket's task it shrinks to what the server
    demonstrably accepts in that bucket, then grows by one slot after each ``grow_after`` of its
    tasks that end without a rejection in between, never past ``max_in_flight``.  A task
    starts when its slots fit under its bucket's limit and under ``max_in_flight``.
    ``max_requests`` bounds concurrent HTTP requests.

    ``max_reply_bytes`` bounds the size of one API reply as read, after decompression (default
    8 MiB, far above any real Kling reply): a longer reply is refused as it arrives with
    ``ResponseTooLargeError`` (for a create, ``AmbiguousSubmissionError``).

    ``max_webhook_bytes`` bounds one webhook body (``KlingClient.handle_webhook`` and its
    adapters answer 413 past it; default 1 MiB); ``max_webhook_ids`` is how many delivery ids
    (``webhook-id``) are remembered to recognise redeliveries (default 10 000, about 40 bytes
    each; the oldest is forgotten first).

    New-standard tasks are polled together through ``GET /tasks?task_ids=a,b,...``:
    ``max_ids_per_task_query`` ids at most per call (default 20, the most the official host
    accepts, reference §12.1; raise it only for a gateway that allows more).  A task missing
    from such a reply is "not visible yet" (a task just created may not be listed at once)
    for ``task_visibility_grace`` seconds after its create was accepted (default 30); after
    that each reply without it counts as a "not found" poll, and three in a row end its job
    with ``NotFoundError``, as a legacy 404 does.
    """

    max_in_flight: int = attrs.field(default=20)
    initial_in_flight: int | None = attrs.field(default=None)
    min_in_flight: int = attrs.field(default=1)
    grow_after: int | None = attrs.field(default=None)
    max_requests: int = attrs.field(default=64)
    max_reply_bytes: int = attrs.field(default=8 * 1024 * 1024)
    max_webhook_bytes: int = attrs.field(default=1024 * 1024)
    max_webhook_ids: int = attrs.field(default=10_000)
    max_ids_per_task_query: int = attrs.field(default=20)
    task_visibility_grace: float = attrs.field(default=30.0)

    @max_in_flight.validator
    def _check_max(self, attribute: attrs.Attribute[int], value: int) -> None:
        if value < 1:
            raise ValueError(f"max_in_flight must be >= 1, got {value!r}")

    @max_requests.validator
    def _check_requests(self, attribute: attrs.Attribute[int], value: int) -> None:
        if value < 1:
            raise ValueError(f"max_requests must be >= 1, got {value!r}")

    @max_ids_per_task_query.validator
    def _check_ids(self, attribute: attrs.Attribute[int], value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"max_ids_per_task_query must be an int >= 1, got {value!r}")

    @task_visibility_grace.validator
    def _check_grace(self, attribute: attrs.Attribute[float], value: float) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ValueError(f"task_visibility_grace must be a number >= 0, got {value!r}")

    @max_reply_bytes.validator
    @max_webhook_bytes.validator
    @max_webhook_ids.validator
    def _check_positive_int(self, attribute: attrs.Attribute[int], value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{attribute.name} must be an int > 0, got {value!r}")


#: Official global host (Singapore).  Gateways: ``https://<gateway>/kling``.
DEFAULT_BASE_URL = "https://api-singapore.klingai.com"
DEFAULT_TIMEOUTS = Timeouts()
DEFAULT_LIMITS = Limits()
DEFAULT_RETRY = RetryPolicy()
DEFAULT_POLL = PollPolicy()
DEFAULT_BACKOFF = Backoff()
#: Environment variables read by ``KlingClient.from_env`` and the CLI.
ENV_API_KEY = "KLING_API_KEY"
ENV_ACCESS_KEY = "KLING_ACCESS_KEY"
ENV_SECRET_KEY = "KLING_SECRET_KEY"
ENV_BASE_URL = "KLING_BASE_URL"
