"""Simulator settings: ``SimulatorConfig`` and ``FaultConfig``, frozen attrs values.

Both are plain values with validators; the simulator swaps them whole on ``configure()``.
Durations in ``SimulatorConfig`` are *simulated* seconds (scaled by ``time_scale``); every
``*_seconds``/``retry_after``/``timeout`` that concerns the network is *real* seconds.
"""

from __future__ import annotations

import math
import types
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import attrs

from .._endpoints import ENDPOINTS
from .._errors import ConfigurationError
from .._webhook_verify import load_secrets

Scope = Literal["post", "get", "both"]
CallbackShape = Literal["auto", "legacy", "new"]

#: Fault kinds, in the order the injector considers them.  ``delay`` combines with the others;
#: the rest are mutually exclusive (their probabilities must sum to at most 1).
FAULT_KINDS: tuple[str, ...] = (
    "drop_before",
    "error_5xx",
    "rate_limited",
    "malformed",
    "drop_after_create",
    "delay",
)


def _probability(_inst: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not 0.0 <= value <= 1.0 or math.isnan(value):
        raise ValueError(f"{attribute.name} must be in [0, 1], got {value!r}")


def _non_negative(_inst: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and (value < 0 or math.isnan(value)):
        raise ValueError(f"{attribute.name} must be >= 0, got {value!r}")


def _positive(_inst: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and not value > 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value!r}")


def _scope(_inst: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if value not in ("post", "get", "both"):
        raise ValueError(f"{attribute.name} must be 'post', 'get' or 'both', got {value!r}")


def _shape(_inst: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if value not in ("auto", "legacy", "new"):
        raise ValueError(f"{attribute.name} must be 'auto', 'legacy' or 'new', got {value!r}")


def _count(_inst: object, attribute: attrs.Attribute[Any], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{attribute.name} must be an int >= 0, got {value!r}")


def _secrets(value: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(s.strip() for s in value.split(",") if s.strip())
    return tuple(value)


def _signing_secrets(_inst: object, attribute: attrs.Attribute[Any],
                     value: tuple[str, ...]) -> None:
    try:
        load_secrets(value)
    except ConfigurationError as exc:
        raise ValueError(f"{attribute.name}: {exc}") from None


def _prob_field() -> Any:
    return attrs.field(default=0.0, validator=_probability, converter=float)


@attrs.frozen(kw_only=True)
class FaultConfig:
    """Probabilities of injected faults, per Kling API request (never ``/__sim/*`` or files).

    Each kind has a probability in [0, 1] and a scope: ``"post"`` (create calls), ``"get"``
    (queries and lists) or ``"both"``.

    - ``drop_before``: the connection is closed before the request is handled; nothing is created.
    - ``error_5xx``: HTTP 500/503/504 with code 5000/5001/5002 (seeded choice); nothing created.
    - ``rate_limited``: a 429/1302 burst, with ``Retry-After`` = ``rate_limit_retry_after`` of
      the simulator config when that is set; nothing created.
    - ``malformed``: the request IS handled (a POST creates its task), then the reply is HTTP
      200 with truncated, invalid JSON: the ambiguous case.
    - ``drop_after_create``: the request IS handled (a POST creates its task), then the
      connection is closed with no response: the ambiguous case.
    - ``delay``: the response is delayed by ``delay_seconds`` real seconds (combines with the
      others).

    The exclusive kinds (all but ``delay``) must have probabilities summing to at most 1.
    """

    drop_before: float = _prob_field()
    drop_before_scope: Scope = attrs.field(default="both", validator=_scope)
    error_5xx: float = _prob_field()
    error_5xx_scope: Scope = attrs.field(default="both", validator=_scope)
    rate_limited: float = _prob_field()
    rate_limited_scope: Scope = attrs.field(default="both", validator=_scope)
    malformed: float = _prob_field()
    malformed_scope: Scope = attrs.field(default="both", validator=_scope)
    drop_after_create: float = _prob_field()
    drop_after_create_scope: Scope = attrs.field(default="post", validator=_scope)
    delay: float = _prob_field()
    delay_scope: Scope = attrs.field(default="both", validator=_scope)
    delay_seconds: float = attrs.field(default=1.0, validator=_non_negative, converter=float)

    def __attrs_post_init__(self) -> None:
        total = sum(getattr(self, k) for k in FAULT_KINDS if k != "delay")
        if total > 1.0 + 1e-9:
            raise ValueError(f"exclusive fault probabilities sum to {total:g} > 1")

    @property
    def enabled(self) -> bool:
        """Whether any fault has a non-zero probability."""
        return any(getattr(self, k) > 0 for k in FAULT_KINDS)

    def applies(self, kind: str, method: str) -> float:
        """The probability of ``kind`` for a request with HTTP ``method`` (0 when out of scope)."""
        scope: str = getattr(self, f"{kind}_scope")
        if scope == "both" or (scope == "post") == (method == "POST"):
            return float(getattr(self, kind))
        return 0.0


def _freeze_mapping(value: Mapping[str, float] | None) -> Mapping[str, float]:
    items = dict(value or {})
    for name, seconds in items.items():
        if name not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {name!r}; expected one of {sorted(ENDPOINTS)}")
        if not seconds >= 0:
            raise ValueError(f"latency for {name!r} must be >= 0, got {seconds!r}")
    return types.MappingProxyType({k: float(v) for k, v in items.items()})


def _latency(value: float | Mapping[str, float] | None) -> float | Mapping[str, float] | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return _freeze_mapping(value)
    seconds = float(value)
    if not seconds >= 0:
        raise ValueError(f"latency must be >= 0, got {value!r}")
    return seconds


def _limits(value: Mapping[str, int] | None) -> Mapping[str, int]:
    items = dict(value or {})
    for bucket, limit in items.items():
        if not isinstance(bucket, str) or not bucket:
            raise ValueError(f"concurrency_limits: a bucket is a non-empty string, got {bucket!r}")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"concurrency_limits[{bucket!r}] must be an int >= 1, got {limit!r}")
    return types.MappingProxyType(items)


def _one_of(*allowed: Any) -> Any:
    def check(_inst: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value not in allowed:
            raise ValueError(f"{attribute.name} must be one of {list(allowed)}, got {value!r}")
    return check


def _faults(value: FaultConfig | Mapping[str, Any] | None) -> FaultConfig:
    if value is None:
        return FaultConfig()
    if isinstance(value, FaultConfig):
        return value
    return FaultConfig(**dict(value))


@attrs.frozen(kw_only=True)
class SimulatorConfig:
    """Everything about how the simulator behaves; swap fields at runtime with ``configure()``.

    Task durations (simulated seconds) are lognormal: ``median * exp(latency_sigma * N(0, 1))``,
    with ``image_median`` / ``video_median`` per kind, ``endpoint_medians`` per endpoint name.
    ``latency`` overrides the draw with a fixed duration, for every endpoint (a number) or
    per endpoint (a mapping); ``latency=0`` makes tasks finish at once.  A task spends
    ``queue_fraction`` of its duration ``submitted``, the rest ``processing``; it then ends
    ``failed`` with probability ``fail_rate`` (``task_status_msg`` = ``failure_message``),
    else ``succeed``.

    Callbacks (see ``_callbacks``): ``webhook_secrets`` sign them (Standard Webhooks, one
    signature per secret: two during a rotation; a string may list several, comma-separated);
    ``callback_shape`` picks the body (``legacy``, ``new`` or ``auto``: the standard of the
    field that named the URL); ``callback_drop``, ``callback_duplicate``, ``callback_reorder``
    and ``callback_delay`` (of ``callback_delay_seconds`` real seconds) are probabilities of
    injected delivery faults; a delivery not answered 2xx is retried ``callback_retries``
    times, ``callback_retry_delay`` real seconds apart, doubling.

    Concurrency (reference §6) is counted per account, model version and pack type: a task
    holds its slots in one bucket, ``"<pack>/<model>"`` (``"video/kling-3.0"``,
    ``"image/kling-v2-1"``; legacy ``model_name``s are named as the new path's model where one
    exists, e.g. ``kling-v3`` -> ``kling-3.0``).  ``concurrency_limits`` maps a bucket to its
    limit, ``"*"`` is the limit of every bucket not listed; a create over its bucket's limit is
    429 / 1303 and other buckets are not affected.  ``concurrency_limit`` is an older,
    account-wide cap over all buckets together (a simulator liberty; both apply when set).

    ``tasks_id_limit``: most ids one ``GET /tasks`` takes (20 live); more is 400 / 1201.
    ``not_found_code``: how an unknown task id or external id is answered: ``1201`` = HTTP 400
    "Task not found by id/external id: X" (the 2026 API, reference §3.1), ``1203`` = the
    pre-2026 HTTP 404 answer (for gateway tests).  ``charge_type``: whether tasks are paid
    from a resource pack (``"unit"``) or the cash balance (``"cash"``), which shapes
    ``billing[]`` and the legacy ``final_*_deduction`` fields.

    ``max_body_bytes`` caps create bodies; the server's hard cap is the value at ``start()``.
    ``validate_requests=False`` skips ``kling_async._wire.load_request`` (bodies are then
    accepted as long as they are JSON objects).
    """

    time_scale: float = attrs.field(default=1.0, validator=_positive, converter=float)
    seed: int = 0
    image_median: float = attrs.field(default=20.0, validator=_non_negative, converter=float)
    video_median: float = attrs.field(default=120.0, validator=_non_negative, converter=float)
    latency_sigma: float = attrs.field(default=0.4, validator=_non_negative, converter=float)
    endpoint_medians: Mapping[str, float] = attrs.field(factory=dict, converter=_freeze_mapping)
    latency: float | Mapping[str, float] | None = attrs.field(default=None, converter=_latency)
    queue_fraction: float = attrs.field(default=0.15, validator=_probability, converter=float)
    fail_rate: float = attrs.field(default=0.0, validator=_probability, converter=float)
    failure_message: str = "Failure to pass the risk control system (simulated)"
    list_supported: bool = True
    validate_requests: bool = True
    concurrency_limit: int | None = attrs.field(default=None, validator=_positive)
    rate_limit: float | None = attrs.field(default=None, validator=_positive)
    rate_limit_burst: float | None = attrs.field(default=None, validator=_positive)
    rate_limit_retry_after: float | None = attrs.field(default=None, validator=_non_negative)
    faults: FaultConfig = attrs.field(factory=FaultConfig, converter=_faults)
    max_tasks: int = attrs.field(default=1_000_000, validator=_positive)
    max_body_bytes: int = attrs.field(default=16 * 1024 * 1024, validator=_positive)
    callback_timeout: float = attrs.field(default=2.0, validator=_positive, converter=float)
    callback_queue_size: int = attrs.field(default=10_000, validator=_positive)
    extra_api_keys: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    webhook_secrets: tuple[str, ...] = attrs.field(default=(), converter=_secrets,
                                                   validator=_signing_secrets)
    callback_shape: CallbackShape = attrs.field(default="auto", validator=_shape)
    callback_drop: float = _prob_field()
    callback_duplicate: float = _prob_field()
    callback_reorder: float = _prob_field()
    callback_delay: float = _prob_field()
    callback_delay_seconds: float = attrs.field(default=1.0, validator=_non_negative,
                                                converter=float)
    callback_retries: int = attrs.field(default=3, validator=_count)
    callback_retry_delay: float = attrs.field(default=0.5, validator=_non_negative,
                                              converter=float)
    concurrency_limits: Mapping[str, int] = attrs.field(factory=dict, converter=_limits)
    tasks_id_limit: int = attrs.field(default=20, validator=_positive)
    not_found_code: int = attrs.field(default=1201, validator=_one_of(1201, 1203))
    charge_type: Literal["unit", "cash"] = attrs.field(
        default="unit", validator=_one_of("unit", "cash")
    )

    def bucket_limit(self, bucket: str) -> int | None:
        """The concurrency limit of one (model version, pack type) bucket, or None."""
        found = self.concurrency_limits.get(bucket)
        return found if found is not None else self.concurrency_limits.get("*")

    def median_for(self, endpoint: str) -> float:
        """The lognormal median duration (simulated seconds) for an endpoint name."""
        found = self.endpoint_medians.get(endpoint)
        if found is not None:
            return found
        return self.image_median if ENDPOINTS[endpoint].kind == "image" else self.video_median

    def fixed_latency(self, endpoint: str) -> float | None:
        """The fixed duration override for an endpoint, or None to draw one."""
        if self.latency is None or isinstance(self.latency, float):
            return self.latency
        return self.latency.get(endpoint)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict of every field (``GET /__sim/config``)."""
        out: dict[str, Any] = {}
        for field in attrs.fields(SimulatorConfig):
            value = getattr(self, field.name)
            if isinstance(value, FaultConfig):
                value = attrs.asdict(value)
            elif isinstance(value, Mapping):
                value = dict(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[field.name] = value
        return out


#: Field names accepted by ``configure()`` and ``POST /__sim/config``.
CONFIG_FIELDS: frozenset[str] = frozenset(f.name for f in attrs.fields(SimulatorConfig))


def evolve_config(config: SimulatorConfig, changes: Mapping[str, Any]) -> SimulatorConfig:
    """``config`` with ``changes`` applied; unknown names raise ``ValueError``.

    ``faults`` may be a ``FaultConfig`` (replaces) or a mapping (merged into the current one).
    """
    unknown = sorted(set(changes) - CONFIG_FIELDS)
    if unknown:
        raise ValueError(
            f"unknown config field(s) {unknown}; expected some of {sorted(CONFIG_FIELDS)}"
        )
    updates = dict(changes)
    faults = updates.get("faults")
    if isinstance(faults, Mapping):
        updates["faults"] = attrs.evolve(config.faults, **dict(faults))
    return attrs.evolve(config, **updates)
