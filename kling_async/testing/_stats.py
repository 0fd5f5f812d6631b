"""Counters the simulator keeps, and ``SimStats``, their frozen snapshot.

Only Kling API traffic is counted in ``requests`` (not ``/__sim/*`` introspection or result
files).  A request answered with no response at all (a ``drop_*`` fault) is counted with HTTP
status ``0``.  Result-file GETs are counted apart, in the ``file*`` counters (HEADs are not).
"""

from __future__ import annotations

import types
from collections import Counter
from collections.abc import Mapping
from typing import Any

import attrs


def _frozen(value: Mapping[Any, int]) -> Mapping[Any, int]:
    return types.MappingProxyType(dict(value))


@attrs.frozen(kw_only=True)
class SimStats:
    """A snapshot of the simulator's counters (``KlingSimulator.stats()``).

    - ``requests``: ``(method, route template, http status) -> count``; status 0 = dropped.
    - ``codes``: business code of error replies -> count (1201, 1302, 1303, 5000...).
    - ``tasks_created``; ``duplicates``: creates rejected for a reused external_task_id.
    - ``peak_concurrency`` / ``in_flight``: account -> slots (image tasks weigh ``n``).
    - ``faults``: fault kind -> times injected.
    - ``callbacks_sent`` (2xx), ``callbacks_failed`` (error or timeout), ``callbacks_dropped``
      (queue full, a non-loopback URL the simulator refuses to contact, or an injected drop);
      ``callbacks_retried`` (deliveries tried again after a non-2xx or no answer),
      ``callbacks_duplicated`` (deliveries sent a second time, by the injected fault).
    - ``file_requests``: HTTP status -> result-file GETs answered with it (200, 206, 404, 416).
    - ``files_served``: file path -> ``200`` replies whose whole body was sent.
    - ``file_ranges_served``: file path -> ``206`` replies whose whole body was sent.
    - ``file_bytes_served``: file path -> body bytes sent (200 and 206, cut ones included).
    - ``files_cut``: bodies that stopped early (a ``FileServing`` cut, or the client left).
    - ``tasks_queries``: ``GET /tasks`` calls answered with tasks (HTTP 200);
      ``tasks_ids_per_query``: ids asked in one such call -> calls (``tasks_ids_queried`` is
      the total); ``tasks_listings``: ``POST /tasks`` pages answered.
    - ``peak_by_bucket``: ``"account|bucket"`` -> the most slots that bucket ever held.
    """

    requests: Mapping[tuple[str, str, int], int] = attrs.field(converter=_frozen)
    codes: Mapping[int, int] = attrs.field(converter=_frozen)
    tasks_created: int
    duplicates: int
    peak_concurrency: Mapping[str, int] = attrs.field(converter=_frozen)
    in_flight: Mapping[str, int] = attrs.field(converter=_frozen)
    faults: Mapping[str, int] = attrs.field(converter=_frozen)
    callbacks_sent: int
    callbacks_failed: int
    callbacks_dropped: int
    file_requests: Mapping[int, int] = attrs.field(factory=dict, converter=_frozen)
    files_served: Mapping[str, int] = attrs.field(factory=dict, converter=_frozen)
    file_ranges_served: Mapping[str, int] = attrs.field(factory=dict, converter=_frozen)
    file_bytes_served: Mapping[str, int] = attrs.field(factory=dict, converter=_frozen)
    files_cut: int = 0
    callbacks_retried: int = 0
    callbacks_duplicated: int = 0
    tasks_queries: int = 0
    tasks_ids_per_query: Mapping[int, int] = attrs.field(factory=dict, converter=_frozen)
    tasks_listings: int = 0
    peak_by_bucket: Mapping[str, int] = attrs.field(factory=dict, converter=_frozen)

    @property
    def tasks_ids_queried(self) -> int:
        """Ids asked for in all ``GET /tasks`` calls answered with tasks."""
        return sum(n * calls for n, calls in self.tasks_ids_per_query.items())

    @property
    def total_requests(self) -> int:
        """Every counted request."""
        return sum(self.requests.values())

    def count(
        self, method: str | None = None, route: str | None = None, status: int | None = None
    ) -> int:
        """Requests matching the given method / route template / status (None = any)."""
        return sum(
            n
            for (m, r, s), n in self.requests.items()
            if (method is None or m == method)
            and (route is None or r == route)
            and (status is None or s == status)
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form (``GET /__sim/stats``)."""
        return {
            "requests": [
                {"method": m, "route": r, "status": s, "count": n}
                for (m, r, s), n in sorted(self.requests.items())
            ],
            "total_requests": self.total_requests,
            "codes": {str(k): v for k, v in sorted(self.codes.items())},
            "tasks_created": self.tasks_created,
            "duplicates": self.duplicates,
            "peak_concurrency": dict(self.peak_concurrency),
            "in_flight": dict(self.in_flight),
            "faults": dict(self.faults),
            "callbacks_sent": self.callbacks_sent,
            "callbacks_failed": self.callbacks_failed,
            "callbacks_dropped": self.callbacks_dropped,
            "callbacks_retried": self.callbacks_retried,
            "callbacks_duplicated": self.callbacks_duplicated,
            "file_requests": {str(k): v for k, v in sorted(self.file_requests.items())},
            "files_served": dict(sorted(self.files_served.items())),
            "file_ranges_served": dict(sorted(self.file_ranges_served.items())),
            "file_bytes_served": dict(sorted(self.file_bytes_served.items())),
            "files_cut": self.files_cut,
            "tasks_queries": self.tasks_queries,
            "tasks_ids_per_query": {str(k): v for k, v in sorted(self.tasks_ids_per_query.items())},
            "tasks_ids_queried": self.tasks_ids_queried,
            "tasks_listings": self.tasks_listings,
            "peak_by_bucket": dict(sorted(self.peak_by_bucket.items())),
        }


class StatsCollector:
    """The live, mutable counters behind ``SimStats``."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        """Zero every counter."""
        self.requests: Counter[tuple[str, str, int]] = Counter()
        self.codes: Counter[int] = Counter()
        self.faults: Counter[str] = Counter()
        self.tasks_created = 0
        self.duplicates = 0
        self.callbacks_sent = 0
        self.callbacks_failed = 0
        self.callbacks_dropped = 0
        self.callbacks_retried = 0
        self.callbacks_duplicated = 0
        self.file_requests: Counter[int] = Counter()
        self.files_served: Counter[str] = Counter()
        self.file_ranges_served: Counter[str] = Counter()
        self.file_bytes_served: Counter[str] = Counter()
        self.files_cut = 0
        self.tasks_queries = 0
        self.tasks_ids_per_query: Counter[int] = Counter()
        self.tasks_listings = 0

    def snapshot(
        self,
        peak: Mapping[str, int],
        in_flight: Mapping[str, int],
        peak_by_bucket: Mapping[str, int] | None = None,
    ) -> SimStats:
        """Freeze the counters, with the store's concurrency figures."""
        return SimStats(
            requests=self.requests,
            codes=self.codes,
            tasks_created=self.tasks_created,
            duplicates=self.duplicates,
            peak_concurrency=peak,
            in_flight=in_flight,
            faults=self.faults,
            callbacks_sent=self.callbacks_sent,
            callbacks_failed=self.callbacks_failed,
            callbacks_dropped=self.callbacks_dropped,
            file_requests=self.file_requests,
            files_served=self.files_served,
            file_ranges_served=self.file_ranges_served,
            file_bytes_served=self.file_bytes_served,
            files_cut=self.files_cut,
            callbacks_retried=self.callbacks_retried,
            callbacks_duplicated=self.callbacks_duplicated,
            tasks_queries=self.tasks_queries,
            tasks_ids_per_query=self.tasks_ids_per_query,
            tasks_listings=self.tasks_listings,
            peak_by_bucket=peak_by_bucket or {},
        )
