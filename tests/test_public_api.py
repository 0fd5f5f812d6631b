"""The curated public namespace: one import path per public name, sorted and complete."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pathlib
import re
import typing

import attrs
import pytest

import kling_async

PACKAGE_DIR = pathlib.Path(kling_async.__file__).parent

# Names users are told about in the docs and issues: they must be importable from the top.
REQUIRED = [
    "KlingClient", "load_request", "dump_request", "parse_task", "parse_callback", "Job",
    "JobState", "Task", "TaskStatus", "Image", "Video", "Audio", "TaskPage",
    "Backoff", "RetryPolicy", "PollPolicy", "Timeouts", "Limits",
    "ImageGenerationRequest", "OmniImageRequest", "OmniVideoRequest", "TextToVideoRequest",
    "ImageToVideoRequest",
    "KlingError", "ValidationError", "ConfigurationError", "ClientClosedError",
    "WrongEventLoopError",
    "TransportError", "ResponseDecodeError", "AmbiguousSubmissionError", "APIError",
    "AuthenticationError", "AccountError", "PermissionDeniedError", "InvalidRequestError",
    "NotFoundError", "ContentPolicyError", "RateLimitError", "ConcurrencyLimitError",
    "ServerError", "TaskError", "TaskFailedError", "TaskTimeoutError",
]


def test_all_is_sorted() -> None:
    """__all__ is in sorted() order, so additions land in one obvious place."""
    names = list(kling_async.__all__)
    misplaced = [a for a, b in zip(names, sorted(names), strict=True) if a != b]
    assert names == sorted(names), f"out of sorted() order: {misplaced}"


def test_all_has_no_duplicates() -> None:
    """Each public name is exported once."""
    assert len(kling_async.__all__) == len(set(kling_async.__all__))


def test_every_exported_name_resolves() -> None:
    """Every name in __all__ is an attribute of the package."""
    missing = [name for name in kling_async.__all__ if not hasattr(kling_async, name)]
    assert missing == []


@pytest.mark.parametrize("name", [pytest.param(n, id=n) for n in REQUIRED])
def test_required_name_is_exported(name: str) -> None:
    """The names users need are in __all__ and importable from kling_async."""
    assert name in kling_async.__all__
    assert getattr(kling_async, name) is not None


def test_every_error_class_is_exported() -> None:
    """Every KlingError subclass defined in the package is exported (one root, no hidden ones)."""
    errors = importlib.import_module("kling_async._errors")
    defined = {
        name for name, obj in vars(errors).items()
        if inspect.isclass(obj) and issubclass(obj, kling_async.KlingError)
        and obj.__module__ == errors.__name__
    }
    assert defined, "no error classes found"
    assert defined - set(kling_async.__all__) == set()
    for name in defined:
        assert getattr(kling_async, name) is getattr(errors, name)


def test_every_request_class_and_event_is_exported() -> None:
    """Each endpoint's request class, each result class and each Event subclass is exported."""
    exported = _exported_ids()
    for endpoint in kling_async.ENDPOINTS.values():
        assert id(endpoint.request_type) in exported, endpoint.name
    for module_name in ("kling_async._models.task", "kling_async._events"):
        module = importlib.import_module(module_name)
        for name, obj in vars(module).items():
            if (inspect.isclass(obj) and obj.__module__ == module_name
                    and not name.startswith("_") and attrs.has(obj)):
                assert id(obj) in exported, f"{module_name}.{name}"


def _exported_ids() -> set[int]:
    return {id(getattr(kling_async, name)) for name in kling_async.__all__}


def _package_classes(hint: object) -> set[type]:
    """kling_async classes mentioned anywhere in a type hint."""
    found: set[type] = set()
    if inspect.isclass(hint) and hint.__module__.startswith("kling_async."):
        found.add(hint)
    for arg in typing.get_args(hint):
        found |= _package_classes(arg)
    return found


def test_classes_needed_to_build_a_request_are_exported() -> None:
    """Every class a request field takes (shots, elements, image items...) is exported, so no
    user has to import from a private module to build a valid request."""
    exported = _exported_ids()
    todo = [e.request_type for e in kling_async.ENDPOINTS.values()]
    seen: set[type] = set()
    needed: set[type] = set()
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        for hint in typing.get_type_hints(cls).values():
            for part in _package_classes(hint):
                if attrs.has(part):
                    needed.add(part)
                    todo.append(part)
    missing = sorted(f"{c.__module__}.{c.__name__}" for c in needed if id(c) not in exported)
    assert not missing, f"needed to build requests but not exported: {missing}"


def test_names_the_package_tells_users_to_call_exist() -> None:
    """Every `kling_async.<name>` an error message or docstring mentions is a real public name."""
    pattern = re.compile(r"\bkling_async\.([A-Za-z]\w*)")
    missing = set()
    for path in PACKAGE_DIR.rglob("*.py"):
        for name in pattern.findall(path.read_text(encoding="utf-8")):
            if importlib.util.find_spec(f"kling_async.{name}") is not None:
                continue  # a public subpackage such as kling_async.testing
            if not hasattr(kling_async, name):
                missing.add(f"{path.relative_to(PACKAGE_DIR)}: kling_async.{name}")
    assert not missing, f"mentioned but not exported: {sorted(missing)}"


def test_py_typed_marker_exists() -> None:
    """The package ships py.typed so type checkers use its annotations."""
    assert (PACKAGE_DIR / "py.typed").is_file()


def test_version_is_a_string() -> None:
    """kling_async.__version__ is a version string."""
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", kling_async.__version__)


def test_endpoints_table_is_read_only() -> None:
    """kling_async.ENDPOINTS cannot be changed in place: adding, replacing or deleting a row
    raises TypeError and leaves the table as it was."""
    table = kling_async.ENDPOINTS
    row = table["videos/omni-video"]
    with pytest.raises(TypeError):
        table["videos/new"] = row  # type: ignore[index]
    with pytest.raises(TypeError):
        table["videos/omni-video"] = table["videos/text2video"]  # type: ignore[index]
    with pytest.raises(TypeError):
        del table["videos/omni-video"]  # type: ignore[attr-defined]
    assert "videos/new" not in table
    assert table["videos/omni-video"] is row


#: Legacy endpoints whose ``model_name`` the model catalog checks (the others take no model,
#: or pass any ``model_name`` through: the catalogue endpoints of reference §2.5-§2.20).
MODEL_CHECKED = {"images/generations", "images/omni-image", "videos/omni-video",
                 "videos/text2video", "videos/image2video"}


def test_every_endpoint_has_a_model_catalog_entry() -> None:
    """The endpoint table and the model catalog name the same endpoints (spelled once)."""
    for name in MODEL_CHECKED:
        assert name in kling_async.ENDPOINTS, name
        assert kling_async.known_models(name), name
    for name in set(kling_async.ENDPOINTS) - MODEL_CHECKED:
        with pytest.raises(kling_async.ValidationError):
            kling_async.known_models(name)
    with pytest.raises(kling_async.ValidationError):
        kling_async.known_models("videos/no-such-endpoint")


def test_request_type_is_every_endpoints_request_class() -> None:
    """kling_async.Request is the union of exactly the request classes of ENDPOINTS, so a
    new endpoint cannot be missing from the type users annotate with."""
    members = set(typing.get_args(kling_async.Request))
    assert members == {e.request_type for e in kling_async.ENDPOINTS.values()}
