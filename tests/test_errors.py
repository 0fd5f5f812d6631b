"""The exception tree and the one (HTTP status, business code) -> class table (reference §4)."""

from __future__ import annotations

import pickle

import pytest

import kling_async as kling
from kling_async._errors import error_class

# (HTTP status, code, class): every row of the reference §4 table, then HTTP-only fallbacks.
TABLE = [
    pytest.param(401, 1000, kling.AuthenticationError, id="401-1000-auth-failed"),
    pytest.param(401, 1001, kling.AuthenticationError, id="401-1001-auth-empty"),
    pytest.param(401, 1002, kling.AuthenticationError, id="401-1002-auth-invalid"),
    pytest.param(401, 1003, kling.AuthenticationError, id="401-1003-token-not-yet-valid"),
    pytest.param(401, 1004, kling.AuthenticationError, id="401-1004-token-expired"),
    pytest.param(429, 1100, kling.AccountError, id="429-1100-account-exception"),
    pytest.param(429, 1101, kling.AccountError, id="429-1101-arrears"),
    pytest.param(429, 1102, kling.AccountError, id="429-1102-pack-used-up"),
    pytest.param(403, 1103, kling.PermissionDeniedError, id="403-1103-no-permission"),
    pytest.param(400, 1200, kling.InvalidRequestError, id="400-1200-invalid-request"),
    pytest.param(400, 1201, kling.InvalidRequestError, id="400-1201-invalid-parameter"),
    pytest.param(404, 1202, kling.InvalidRequestError, id="404-1202-invalid-method"),
    pytest.param(404, 1203, kling.NotFoundError, id="404-1203-not-found"),
    pytest.param(400, 1300, kling.ContentPolicyError, id="400-1300-platform-policy"),
    pytest.param(400, 1301, kling.ContentPolicyError, id="400-1301-content-safety"),
    pytest.param(429, 1302, kling.RateLimitError, id="429-1302-rate-limit"),
    pytest.param(429, 1303, kling.ConcurrencyLimitError, id="429-1303-concurrency"),
    pytest.param(429, 1304, kling.AccountError, id="429-1304-ip-whitelist"),
    pytest.param(500, 5000, kling.ServerError, id="500-5000-internal"),
    pytest.param(503, 5001, kling.ServerError, id="503-5001-unavailable"),
    pytest.param(504, 5002, kling.ServerError, id="504-5002-backlog"),
    # HTTP status alone (no business code in the body).
    pytest.param(404, None, kling.NotFoundError, id="404-no-code"),
    pytest.param(429, None, kling.RateLimitError, id="429-no-code"),
    pytest.param(500, None, kling.ServerError, id="500-no-code"),
    pytest.param(503, None, kling.ServerError, id="503-no-code"),
    pytest.param(502, None, kling.ServerError, id="502-no-code"),
    pytest.param(401, None, kling.AuthenticationError, id="401-no-code"),
    pytest.param(403, None, kling.PermissionDeniedError, id="403-no-code"),
    pytest.param(400, None, kling.InvalidRequestError, id="400-no-code"),
]


@pytest.mark.parametrize(("http_status", "code", "expected"), TABLE)
def test_error_class_maps_every_documented_code(
    http_status: int, code: int | None, expected: type[kling.APIError]
) -> None:
    """Each (HTTP status, code) pair of reference §4 maps to exactly its documented class."""
    assert error_class(http_status, code) is expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        pytest.param(1100, kling.AccountError, id="1100"),
        pytest.param(1101, kling.AccountError, id="1101"),
        pytest.param(1102, kling.AccountError, id="1102"),
        pytest.param(1302, kling.RateLimitError, id="1302"),
        pytest.param(1303, kling.ConcurrencyLimitError, id="1303"),
        pytest.param(1304, kling.AccountError, id="1304"),
    ],
)
def test_http_429_is_mapped_by_business_code_first(
    code: int, expected: type[kling.APIError]
) -> None:
    """HTTP 429 means five different things: the business code decides the class."""
    assert error_class(429, code) is expected


@pytest.mark.parametrize(
    ("http_status", "code", "expected"),
    [
        pytest.param(200, 1201, kling.InvalidRequestError, id="code-on-http-200"),
        pytest.param(500, 1203, kling.NotFoundError, id="code-beats-5xx"),
        pytest.param(400, 5001, kling.ServerError, id="5xxx-code-on-400"),
        pytest.param(200, 5099, kling.ServerError, id="undocumented-5xxx-code"),
    ],
)
def test_code_wins_over_http_status(
    http_status: int, code: int, expected: type[kling.APIError]
) -> None:
    """A business code decides the class even when the HTTP status says something else."""
    assert error_class(http_status, code) is expected


def test_unknown_code_and_status_fall_back_to_api_error() -> None:
    """An undocumented code on a non-error status is a plain APIError, never a guess."""
    assert error_class(418, 9999) is kling.APIError
    assert error_class(None, None) is kling.APIError


def test_api_error_carries_its_fields_in_attributes_and_message() -> None:
    """APIError exposes http_status, code, message and request_id and names them in str()."""
    err = kling.RateLimitError("too fast", http_status=429, code=1302, request_id="r-9",
                               retry_after=3.0)
    assert (err.http_status, err.code, err.message, err.request_id, err.retry_after) == (
        429, 1302, "too fast", "r-9", 3.0)
    assert str(err) == "HTTP 429 code 1302: too fast (request_id=r-9)"


def test_validation_error_is_kling_error_and_value_error() -> None:
    """ValidationError is both a KlingError and a ValueError, and names field, rule and value."""
    err = kling.ValidationError("multi_prompt[2].duration", "must be >= 1", 0)
    assert isinstance(err, kling.KlingError)
    assert isinstance(err, ValueError)
    assert "multi_prompt[2].duration" in str(err)
    assert "must be >= 1" in str(err)
    assert "0" in str(err)


def test_task_timeout_error_is_a_timeout_error() -> None:
    """TaskTimeoutError is a TaskError and a builtin TimeoutError (`except TimeoutError` works)."""
    err = kling.TaskTimeoutError("t-1", 30.0, kling.TaskStatus.SUBMITTED,
                                 [(kling.TaskStatus.SUBMITTED, 0.0)])
    assert isinstance(err, kling.TaskError)
    assert isinstance(err, TimeoutError)
    assert isinstance(err, kling.KlingError)
    assert "still queued" in str(err)


@pytest.mark.parametrize(
    ("child", "parent"),
    [
        pytest.param(kling.ResponseDecodeError, kling.TransportError, id="decode-is-transport"),
        pytest.param(kling.PermissionDeniedError, kling.AccountError, id="1103-is-account"),
        pytest.param(kling.NotFoundError, kling.InvalidRequestError, id="404-is-invalid"),
        pytest.param(kling.ConfigurationError, ValueError, id="config-is-valueerror"),
        pytest.param(kling.ClientClosedError, RuntimeError, id="closed-is-runtimeerror"),
        pytest.param(kling.AmbiguousSubmissionError, kling.KlingError, id="ambiguous-root"),
        pytest.param(kling.TaskFailedError, kling.TaskError, id="failed-is-task-error"),
    ],
)
def test_exception_tree_shape(child: type[BaseException], parent: type[BaseException]) -> None:
    """The documented inheritance holds, so callers can catch families."""
    assert issubclass(child, parent)


@pytest.mark.parametrize(
    "cls",
    [
        pytest.param(kling.APIError, id="APIError"),
        pytest.param(kling.AuthenticationError, id="AuthenticationError"),
        pytest.param(kling.AccountError, id="AccountError"),
        pytest.param(kling.PermissionDeniedError, id="PermissionDeniedError"),
        pytest.param(kling.InvalidRequestError, id="InvalidRequestError"),
        pytest.param(kling.NotFoundError, id="NotFoundError"),
        pytest.param(kling.ContentPolicyError, id="ContentPolicyError"),
        pytest.param(kling.RateLimitError, id="RateLimitError"),
        pytest.param(kling.ConcurrencyLimitError, id="ConcurrencyLimitError"),
        pytest.param(kling.ServerError, id="ServerError"),
    ],
)
def test_api_errors_pickle_round_trip(cls: type[kling.APIError]) -> None:
    """Every APIError subclass survives pickling with its class and every field intact."""
    err = cls("boom", http_status=429, code=1302, request_id="r-1", retry_after=2.5)
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is cls
    assert (back.message, back.http_status, back.code, back.request_id, back.retry_after) == (
        "boom", 429, 1302, "r-1", 2.5)
    assert str(back) == str(err)


def test_validation_error_pickle_round_trip() -> None:
    """ValidationError survives pickling with field, rule, value and hint intact."""
    err = kling.ValidationError("duration", "must be one of '5', '10'", "7", hint="use '5'")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is kling.ValidationError
    assert (back.field, back.rule, back.value, back.hint) == ("duration",
                                                             "must be one of '5', '10'", "7",
                                                             "use '5'")
    assert str(back) == str(err)


def test_ambiguous_submission_error_names_the_external_task_id() -> None:
    """AmbiguousSubmissionError tells the caller which external_task_id to look up."""
    err = kling.AmbiguousSubmissionError("videos/omni-video", "ext-42",
                                         kling.TransportError("reset"))
    assert err.external_task_id == "ext-42"
    assert "'ext-42'" in str(err)
    assert "videos/omni-video" in str(err)


def _nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        pytest.param(_nested(5000), "[[[[...]]]]", id="5000-deep-list"),
        pytest.param({"a": {"b": {"c": {"d": 1}}}}, "{'a': {'b': {'c': {...}}}}", id="deep-dict"),
        pytest.param(10**5000, "<int of about 5001 digits>", id="5000-digit-int"),
        pytest.param(-(10**400), "<negative int of about 401 digits>", id="negative-huge-int"),
        pytest.param("a\ud800", "'a\\ud800'", id="lone-surrogate"),
        pytest.param((1,), "(1,)", id="one-tuple"),
        pytest.param(2**63 - 1, "9223372036854775807", id="int64-exact"),
    ],
)
def test_validation_error_shows_any_value_briefly(value: object, shown: str) -> None:
    """The value in a ValidationError's message is a short printable repr: never a recursion,
    never str() of a huge int, a lone surrogate escaped."""
    message = str(kling.ValidationError("field", "rule", value))
    assert message == f"field: rule (got {shown})"


def test_validation_error_message_is_bounded_and_printable() -> None:
    """A huge field, rule, value and hint still give one short printable line."""
    err = kling.ValidationError("f\n" * 100_000, "r\ud800" * 100_000, "v" * 10**6,
                                hint="h\x00" * 100_000)
    message = str(err)
    assert len(message) <= 200 + 500 + 80 + 500 + 12 and message.isprintable()
    assert message.startswith("f\\nf\\n")
    assert err.field == "f\n" * 100_000  # the attributes keep what was given


def test_validation_error_shows_an_object_whose_repr_fails() -> None:
    """A value whose repr raises is shown by its type."""

    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    assert str(kling.ValidationError("f", "r", Broken())) == "f: r (got <Broken>)"


def test_validation_error_with_a_deep_value_pickles_and_copies() -> None:
    """A ValidationError about a value nested 3,000 deep survives pickle and deepcopy (e.g. sent
    back from a worker process), carrying the value's short repr; plain values stay as they
    are."""
    import copy

    from kling_async import load_request

    with pytest.raises(kling.ValidationError) as caught:
        load_request("videos/text2video", {"prompt": _nested(3000)})
    for back in (pickle.loads(pickle.dumps(caught.value)), copy.deepcopy(caught.value)):
        assert (back.field, back.value) == ("prompt", "[[[[...]]]]")
        assert str(back) == str(caught.value)
    plain = kling.ValidationError("n", "must be in [1, 9]", [1, {"a": (2, 3)}])
    assert pickle.loads(pickle.dumps(plain)).value == [1, {"a": (2, 3)}]
