"""The wire format, in one place.

Result side (``parse_task``), lenient about what the documentation allows and strict about what
the SDK needs:

- extra fields anywhere are ignored;
- numbers may arrive as strings (``"5.1"``, ``"1722769557708"``) and ids as numbers;
- ``task_id`` and a known status are required; anything else is optional;
- a gateway wrapper whose ``data`` holds the raw Kling reply (``data.data.data``) is unwrapped;
- ``status`` is accepted where ``task_status`` is missing, with the gateway spellings the
  reference documents (``SUCCESS``, ``FAILURE``, ``IN_PROGRESS``...), case-insensitively.

Request side (``dump_request`` / ``load_request``): see the functions below.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

import attrs

from ._errors import ResponseDecodeError
from ._models.task import Audio, Image, ParentVideo, Task, TaskStatus, Video

_STATUS_ALIASES: dict[str, TaskStatus] = {
    "submitted": TaskStatus.SUBMITTED,
    "processing": TaskStatus.PROCESSING,
    "in_progress": TaskStatus.PROCESSING,
    "succeed": TaskStatus.SUCCEED,
    "success": TaskStatus.SUCCEED,
    "failed": TaskStatus.FAILED,
    "failure": TaskStatus.FAILED,
}

_MAX_UNWRAP = 3
_T = TypeVar("_T", bound=attrs.AttrsInstance)
_EMPTY: Mapping[str, Any] = MappingProxyType({})


def parse_status(value: Any) -> TaskStatus:
    """A ``TaskStatus`` from a wire value; unknown values are an error, never a guess."""
    if isinstance(value, TaskStatus):
        return value
    if isinstance(value, str):
        found = _STATUS_ALIASES.get(value) or _STATUS_ALIASES.get(value.strip().lower())
        if found is not None:
            return found
    raise ResponseDecodeError(f"unknown task status {value!r}")


def _unwrap(data: Mapping[str, Any]) -> Mapping[str, Any]:
    current = data
    for _ in range(_MAX_UNWRAP):
        if "task_status" in current:
            return current
        inner = current.get("data")
        if not isinstance(inner, Mapping):
            return current
        # A gateway wrapper around a whole Kling envelope: {"code": 0, "data": {...}}.
        current = inner
    return current


def _opt_str(value: Any) -> str | None:
    if type(value) is str:  # the common case first: this runs for every field of every poll
        return value or None
    if value is None:
        return None
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _opt_int(value: Any) -> int | None:
    if type(value) is int:  # the common case first
        return value
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        try:
            return int(float(value))
        except (TypeError, ValueError, OverflowError):  # "inf", "1e999": no such time
            return None


def _opt_float(value: Any) -> float | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):  # an int too large for a float
        return None


def _fields_maker(cls: type[_T]) -> Callable[..., _T]:
    """A function building a ``cls`` from all its field values, positionally, in field order.

    Only for plain attrs classes (slotted, every field set by ``__init__`` under its own name,
    no validators, converters, pre/post-init hooks or cached hash), where it is equal to
    ``cls(**fields)``; anything else is a TypeError.  Each slot is set through its descriptor
    directly rather than ``object.__setattr__``, which looks the descriptor up again for every
    field (a frozen class's ``__init__`` does that): a Task and its images are built per poll.
    """
    fields = attrs.fields(cls)
    names = [field.name for field in fields]
    slots = cls.__dict__.get("__slots__", None)
    plain = (
        slots is not None
        and set(slots) <= {*names, "__weakref__"}
        and not hasattr(cls, "__attrs_pre_init__")
        and not hasattr(cls, "__attrs_post_init__")
        and all(f.init and f.alias == f.name and f.validator is None and f.converter is None
                for f in fields)
        and all(type(cls.__dict__.get(name)).__name__ == "member_descriptor" for name in names)
    )
    if not plain:
        raise TypeError(f"{cls.__qualname__} is not a plain slotted attrs class")
    # Parameters v0, v1, ...: no field name can clash with the function's own names.
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    params = [f"v{i}" for i in range(len(names))]
    lines = [f"def make({', '.join(params)}):", "    self = _new(_cls)"]
    for i, name in enumerate(names):
        namespace[f"_set{i}"] = cls.__dict__[name].__set__
        lines.append(f"    _set{i}(self, v{i})  # {name}")
    lines.append("    return self")
    exec(compile("\n".join(lines), f"<kling_async maker {cls.__qualname__}>", "exec"), namespace)
    make: Callable[..., _T] = namespace["make"]
    return make


_new_task = _fields_maker(Task)
_new_image = _fields_maker(Image)
_new_video = _fields_maker(Video)
_new_audio = _fields_maker(Audio)


def _is_mapping(value: Any) -> bool:
    return type(value) is dict or isinstance(value, Mapping)


def parse_task(data: Any) -> Task:
    """A ``Task`` from a task object (the ``data`` of a query, a list item or a callback body)."""
    if not _is_mapping(data):
        raise ResponseDecodeError(f"expected a task object, got {type(data).__name__}")
    body = data if "task_status" in data else _unwrap(data)
    get = body.get
    task_id = _opt_str(get("task_id"))
    if task_id is None:
        raise ResponseDecodeError("task object has no task_id")
    raw_status = get("task_status")
    if raw_status is None:
        raw_status = get("status")
    status = _STATUS_ALIASES.get(raw_status) if type(raw_status) is str else None
    if status is None:
        status = parse_status(raw_status)
    info = get("task_info")
    info = info if info and _is_mapping(info) else _EMPTY
    result = get("task_result")
    images: tuple[Image, ...] = ()
    videos: tuple[Video, ...] = ()
    audios: tuple[Audio, ...] = ()
    if result and _is_mapping(result):
        raw = result.get("images")
        if raw:
            images = _images(raw)
        raw = result.get("videos")
        if raw:
            videos = _videos(raw)
        raw = result.get("audios")
        if raw:
            audios = _audios(raw)
    parent = info.get("parent_video")
    parent_video = (
        ParentVideo(
            id=_opt_str(parent.get("id")),
            url=_opt_str(parent.get("url")),
            duration=_opt_float(parent.get("duration")),
        )
        if parent is not None and isinstance(parent, Mapping)
        else None
    )
    external = info.get("external_task_id")
    if external is None:
        external = get("external_task_id")
    return _new_task(
        task_id, status, _opt_str(get("task_status_msg")), _opt_str(external),
        images, videos, audios, parent_video,
        _opt_int(get("created_at")), _opt_int(get("updated_at")),
        _opt_str(get("final_unit_deduction")),
    )


# The items of a ``task_result``: one loop per kind, run only for the kinds present (this
# runs for every finished task).  Items that are not objects, or (images, videos) have no URL,
# are skipped.

def _images(raw: Any) -> tuple[Image, ...]:
    found = []
    for item in raw if isinstance(raw, list) else ():
        if _is_mapping(item) and item.get("url"):
            found.append(_new_image(_opt_int(item.get("index")) or 0, str(item["url"]),
                                    _opt_str(item.get("watermark_url"))))
    return tuple(found)


def _videos(raw: Any) -> tuple[Video, ...]:
    found = []
    for item in raw if isinstance(raw, list) else ():
        if _is_mapping(item) and item.get("url"):
            found.append(_new_video(_opt_str(item.get("id")) or "", str(item["url"]),
                                    _opt_float(item.get("duration")),
                                    _opt_str(item.get("watermark_url"))))
    return tuple(found)


def _audios(raw: Any) -> tuple[Audio, ...]:
    found = []
    for item in raw if isinstance(raw, list) else ():
        if _is_mapping(item):
            found.append(_new_audio(_opt_str(item.get("id")) or "", _opt_str(item.get("url_mp3")),
                                    _opt_str(item.get("url_wav")),
                                    _opt_float(item.get("duration_mp3")),
                                    _opt_float(item.get("duration_wav"))))
    return tuple(found)


def created_task(data: Any, external_task_id: str | None) -> Task:
    """The ``Task`` from a create reply.  A created task is ``submitted`` if the reply omits it,
    and carries the ``external_task_id`` that was sent if the reply omits that."""
    if isinstance(data, dict) and "task_status" not in data and "status" not in data:
        data = {**data, "task_status": "submitted"}
    task = parse_task(data)
    if task.external_task_id is None and external_task_id is not None:
        task = attrs.evolve(task, external_task_id=external_task_id)
    return task


def created_head(data: Any, external_task_id: str | None
                 ) -> tuple[str, TaskStatus, str | None] | None:
    """``(task_id, status, external_task_id)`` of a create reply in its usual shape (a flat task
    object, a non-empty string ``task_id``, a known or missing status), exactly as
    ``created_task`` would read them, without building the ``Task``; None for any other shape
    (then ``created_task`` decides).  A job keeps the reply and builds its Task on demand."""
    if type(data) is not dict:
        return None
    task_id = data.get("task_id")
    if type(task_id) is not str or not task_id:
        return None
    if "task_status" in data:
        raw_status = data["task_status"]
        found = _STATUS_ALIASES.get(raw_status) if type(raw_status) is str else None
        if found is None:
            return None
        status = found
    elif "status" in data:
        return None
    else:
        status = TaskStatus.SUBMITTED
    info = data.get("task_info")
    if info is not None and type(info) is not dict:
        return None
    external = info.get("external_task_id") if info else None
    if external is None:
        external = data.get("external_task_id")
    if external is not None and type(external) is not str:
        return None
    return task_id, status, external or external_task_id


def parse_callback(body: Any) -> Task:
    """A ``Task`` from a callback POST body: a flat task object, or one wrapped in an envelope.

    Callbacks carry no signature: confirm by re-querying the task before acting on it.
    """
    return parse_task(body)


# ---------------------------------------------------------------------------------------------
# Request side: the private cattrs converter behind dump_request / load_request.
# ---------------------------------------------------------------------------------------------

import typing  # noqa: E402
import warnings  # noqa: E402
from math import isfinite  # noqa: E402
from types import UnionType  # noqa: E402

import cattrs  # noqa: E402

from ._errors import ValidationError, _short_repr  # noqa: E402
from ._models.parts import OmniImageItem  # noqa: E402
from ._validators import MAX_INT64, MAX_INT64_DIGITS, MIN_INT64  # noqa: E402


class KlingWireWarning(UserWarning):
    """A payload used a form the SDK accepts but would not send (e.g. the legacy ``model``)."""


_converter = cattrs.Converter()

#: Per nested class: wire alias -> field name (gateways' spellings accepted on load).
_ALIASES: dict[type[Any], dict[str, str]] = {OmniImageItem: {"image_url": "image"}}
_EXACT_FLOAT_INT = 2**53
#: A list on the wire longer than this is refused before its items are read (the longest the
#: API takes is a mask's 77 trajectory points): a million-item list costs no work.
MAX_WIRE_ITEMS = 1000
_PLAIN = (str, int, float, bool)


def _is_unset(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value == "")


def _join(prefix: str, inner: str) -> str:
    if not inner:
        return prefix
    return prefix + inner if inner.startswith("[") else f"{prefix}.{inner}"


def _relabel(prefix: str, error: ValidationError) -> ValidationError:
    return ValidationError(_join(prefix, error.field), error.rule, error.value, hint=error.hint)


def _same(first: Any, second: Any) -> bool:
    """Two spellings of one field agree: equal JSON scalars of one type.  Never ``==`` on
    containers, which recurses (a value nested 1,000 deep is a RecursionError)."""
    return type(first) is type(second) and type(first) in _PLAIN and first == second


_SCALARS = frozenset({str, int, float, bool})


def _make_dumper(cls: type[Any]) -> Callable[[Any], dict[str, Any]]:
    """The converter's unstructure hook for one attrs class (requests and their parts; cattrs
    makes it once per class): wire rules 1, 2 and 5 of ``dump_request`` as a straight-line
    function, one block per field, as attrs and cattrs generate theirs (no loop and no
    getattr per field: this runs for every create).  Each block omits None and empty tuples,
    keeps JSON scalars as they are and hands anything else to the converter."""
    lines = ["def dump(obj):", "    out = {}"]
    for field in attrs.fields(cls):
        name = field.name  # an identifier: attrs field names are attribute names
        lines += [
            f"    value = obj.{name}",
            "    if value is not None and value != ():",
            f"        out[{name!r}] = (value if type(value) in _SCALARS",
            "                         else _converter.unstructure(value))",
        ]
    lines.append("    return out")
    namespace: dict[str, Any] = {"_SCALARS": _SCALARS, "_converter": _converter}
    exec(compile("\n".join(lines), f"<kling_async dumper {cls.__qualname__}>", "exec"),
         namespace)
    dump: Callable[[Any], dict[str, Any]] = namespace["dump"]
    return dump


def _unstructure_tuple(items: tuple[Any, ...]) -> list[Any]:
    return [_converter.unstructure(item) for item in items]


def _structure_str(value: Any, _type: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and MIN_INT64 <= value <= MAX_INT64:
        return str(value)  # never str() of a huge int: refused past 4,300 digits, slow before
    return value  # a non-string is rejected by the field's validator, with its name


def _number_text(value: str) -> float | None:
    """A number written as ASCII text (``"0.5"``, ``"1e1"``), if finite; else None, so the
    validator shows what was sent (``'1e400'``, ``'nan'``, ``'\u0665'``), not ``inf``."""
    text = value.strip()
    if not text.isascii():
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return number if isfinite(number) else None


def _structure_int(value: Any, _type: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit():
            # A digit string past any 64-bit number is left as it is, for the validator to
            # refuse with the field's rule: never int() of a long string (see whole_number).
            significant = text.lstrip("0") or "0"
            return int(significant) if len(significant) <= MAX_INT64_DIGITS else value
        number = _number_text(value)
        if number is None:
            return value
        value = number
    if isinstance(value, float) and value.is_integer() and abs(value) < _EXACT_FLOAT_INT:
        return int(value)
    return value


def _structure_float(value: Any, _type: Any) -> Any:
    if isinstance(value, str):
        number = _number_text(value)
        return value if number is None else number
    return value


def _structure_bool(value: Any, _type: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return value


def _structure_passthrough(value: Any, _type: Any) -> Any:
    return value  # Literal values: the one_of validator names the field and the choices


def _structure_tuple(value: Any, type_: Any) -> tuple[Any, ...]:
    if not isinstance(value, (list, tuple)):
        raise ValidationError("", "must be a list", value)
    if len(value) > MAX_WIRE_ITEMS:
        raise ValidationError("", f"must hold at most {MAX_WIRE_ITEMS} items", len(value))
    (item_type, *_rest) = typing.get_args(type_)
    out = []
    for i, item in enumerate(value):
        try:
            out.append(_converter.structure(item, item_type))
        except ValidationError as error:
            raise _relabel(f"[{i}]", error) from None
    return tuple(out)


def _is_literal(type_: Any) -> bool:
    return typing.get_origin(type_) is typing.Literal


def _is_tuple(type_: Any) -> bool:
    return typing.get_origin(type_) is tuple


def _strip_optional(type_: Any) -> Any:
    if typing.get_origin(type_) in (typing.Union, UnionType):
        args = [a for a in typing.get_args(type_) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return type_


def _attrs_structure_fn(cls: type[Any]) -> typing.Callable[[Any, Any], Any]:
    hints = {k: _strip_optional(v) for k, v in typing.get_type_hints(cls).items()}
    fields = {f.name: f for f in attrs.fields(cls)}
    aliases = _ALIASES.get(cls, {})

    def structure(value: Any, _type: Any) -> Any:
        if not isinstance(value, Mapping):
            raise ValidationError("", "must be a JSON object", value)
        kwargs: dict[str, Any] = {}
        for key, raw in value.items():
            if not isinstance(key, str):
                raise ValidationError("", "has a key that is not a string", key)
            name = aliases.get(key, key)
            if name not in fields:
                if _is_unset(raw):
                    continue
                raise ValidationError(
                    key, f"is not a field of {cls.__name__}", raw,
                    hint=f"known fields: {', '.join(fields)}",
                )
            if _is_unset(raw):
                continue
            try:
                loaded = _converter.structure(raw, hints[name])
            except ValidationError as error:
                raise _relabel(name, error) from None
            if name in kwargs and not _same(kwargs[name], loaded):
                raise ValidationError(key, f"conflicts with {name}", raw)
            kwargs[name] = loaded
        for field in fields.values():
            if field.default is attrs.NOTHING and field.name not in kwargs:
                raise ValidationError(field.name, "is required", value.get(field.name))
        return cls(**kwargs)

    return structure


_converter.register_unstructure_hook_factory(attrs.has, _make_dumper)
_converter.register_unstructure_hook(tuple, _unstructure_tuple)
_converter.register_structure_hook(str, _structure_str)
_converter.register_structure_hook(int, _structure_int)
_converter.register_structure_hook(float, _structure_float)
_converter.register_structure_hook(bool, _structure_bool)
_converter.register_structure_hook_func(_is_literal, _structure_passthrough)
_converter.register_structure_hook_func(_is_tuple, _structure_tuple)
_converter.register_structure_hook_factory(attrs.has, _attrs_structure_fn)


def dump_request(request: Any) -> dict[str, Any]:
    """The exact JSON body for a request object.

    Wire rules:

    1. Attribute names ARE the wire names; the model is always sent as ``model_name``, never
       ``model`` (the official API reads ``model`` as an empty model_name, i.e. kling-v1).
    2. ``None`` and empty lists are omitted; ``False`` and ``0`` are sent.
    3. ``duration`` and shot durations are strings (``"5"``), as the requests store them.
    4. ``element_id`` is a Python int, never a float, so a 64-bit id (``829836802793406551``)
       survives ``json.dumps`` exactly.
    5. Booleans are JSON booleans; nested parts are JSON objects; tuples are JSON arrays.
    """
    if isinstance(request, type) or not attrs.has(type(request)):
        raise ValidationError("request", "must be a request object", type(request).__name__)
    body: dict[str, Any] = _converter.unstructure(request)
    return body


def load_request(endpoint: str, payload: Any) -> Any:
    """A validated request for ``endpoint`` (``videos/omni-video``...) from a wire JSON body.

    Wire rules (lenient about the spellings the reference documents, strict about the rest):

    1. The payload must be a mapping, else a ValidationError on field ``request``.
    2. ``""`` or ``null`` for a known key means "not set" (the gateway examples send
       ``"resolution": ""``); an unknown key whose value is ``""``/``null`` is dropped; an
       unknown key with a real value is a ValidationError naming it (typos are never ignored).
    3. The legacy ``model`` key becomes ``model_name``, with a ``KlingWireWarning``; the gateway
       alias ``image_url`` in omni-image ``image_list`` items becomes ``image``.  Both spellings
       with different values is a ValidationError.
    4. Numbers may arrive as strings (``"n": "2"``, ``"image_fidelity": "0.5"``), durations as
       ints (``5``), integral floats where an int is due (``1.0``, below 2**53), booleans as
       ``"true"``/``"false"``, element ids as digit strings.  Number text is ASCII and finite;
       a digit string is read by value (leading zeros free) and never parsed past 19
       significant digits; whole numbers must fit a signed 64-bit integer.
    5. Anything else is handed to the class's validators: errors are the same ValidationError
       as at construction, naming the wire path (``multi_prompt[2].duration``).
    6. ``load_request(ep, dump_request(r)) == r`` for every valid request ``r``.
    7. Whatever the payload holds (huge ints, values nested thousands deep, NaN, keys that
       are not strings, lists past ``MAX_WIRE_ITEMS`` items, text with a lone surrogate,
       which UTF-8 cannot carry), the only error is a ValidationError, with a short
       printable message.
    """
    from ._endpoints import endpoint_named

    if not isinstance(endpoint, str):
        raise ValidationError("endpoint", "must be a string such as 'videos/omni-video'",
                              endpoint)
    request_type = endpoint_named(endpoint).request_type
    if not isinstance(payload, Mapping):
        raise ValidationError("request", "must be a JSON object", type(payload).__name__)
    body = dict(payload)
    if "model" in body:
        legacy = body.pop("model")
        if not _is_unset(legacy):
            current = body.get("model_name")
            if not _is_unset(current) and not _same(current, legacy):
                raise ValidationError(
                    "model", f"conflicts with model_name={_short_repr(current)}", legacy
                )
            body["model_name"] = legacy
            warnings.warn(
                KlingWireWarning(
                    f"payload uses the legacy key 'model' ({_short_repr(legacy)}); the SDK "
                    "sends it as 'model_name', because the official API treats 'model' as if "
                    "model_name were empty, i.e. kling-v1"
                ),
                stacklevel=2,
            )
    try:
        return _converter.structure(body, request_type)
    except ValidationError as error:
        if error.field:
            raise
        raise _relabel("request", error) from None  # a top-level rule (a key not a string)

