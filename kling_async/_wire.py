"""The wire format, in one place.

Result side (``parse_task``), lenient about what the documentation allows and strict about what
the SDK needs:

- extra fields anywhere are ignored;
- numbers may arrive as strings (``"5.1"``, ``"1722769557708"``) and ids as numbers;
- ``task_id`` and a known status are required; anything else is optional;
- a gateway wrapper whose ``data`` holds the raw Kling reply (``data.data.data``) is unwrapped;
- ``status`` is accepted where ``task_status`` is missing, with the gateway spellings the
  reference documents (``SUCCESS``, ``FAILURE``, ``IN_PROGRESS``...), case-insensitively;
- whatever a reply holds, the result is a ``Task`` or a ``ResponseDecodeError``: a task id
  that is not plain (see ``is_plain_id``) is refused, since it would reach poll URLs and
  journals; an optional field no Python value can hold sensibly (a time past year 9999, an
  infinite duration, an id of a thousand digits) is read as absent; lone surrogates in text
  become U+FFFD; what is kept is bounded (``MAX_RESULT_ITEMS`` results of each kind, URLs up
  to ``MAX_URL_LENGTH``, status messages cut at ``MAX_MESSAGE_LENGTH``).

Request side (``dump_request`` / ``load_request``): see the functions below.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

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
_EMPTY: Mapping[str, Any] = MappingProxyType({})
#: The longest task id accepted from a server (Kling's are 18-19 digits).
MAX_ID_LENGTH = 256
#: Results kept per kind (images, videos, audio tracks) of one task; Kling makes at most 9.
MAX_RESULT_ITEMS = 100
#: The longest URL (or other optional text) kept; a longer one is read as absent.
MAX_URL_LENGTH = 8192
#: Status messages longer than this are cut (ending with "...").
MAX_MESSAGE_LENGTH = 2000
#: The latest ``created_at``/``updated_at`` read (9999-12-31T23:59:59.999Z, in ms).
_MAX_TIME_MS = 253_402_300_799_999
_MAX_INDEX = 1_000_000
#: Numbers arriving as text longer than this are no time, index or duration.
_MAX_NUMBER_TEXT = 64
#: Integers wider than this are no id or number the SDK keeps (str() of huge ints is slow).
_MAX_INT_BITS = 256
_UNSAFE_ID_CHARS = frozenset("/?#%\\")


def _describe(value: Any) -> str:
    """A short description of a wire value for an error message: never long, never raises."""
    if value is None or isinstance(value, (bool, float)):
        return repr(value)
    if isinstance(value, int):
        bits = value.bit_length()
        return repr(value) if bits <= 64 else f"an integer of {bits} bits"
    if isinstance(value, str):
        return repr(value[:40]) + ("..." if len(value) > 40 else "")
    return f"a JSON {'object' if isinstance(value, Mapping) else type(value).__name__}"


def is_plain_id(text: str) -> bool:
    """Whether ``text`` may be used as a task id: 1 to ``MAX_ID_LENGTH`` characters, not ``.``
    or ``..``, none of them ``/ ? # % \\``, whitespace, a control, format or private-use
    character, or a lone surrogate (so it is one path segment and one journal line)."""
    if not 0 < len(text) <= MAX_ID_LENGTH or text in (".", ".."):
        return False
    return all(
        char not in _UNSAFE_ID_CHARS and unicodedata.category(char)[0] not in "CZ"
        for char in text
    )


def _clean(text: str) -> str:
    """``text`` with every lone surrogate (not encodable as UTF-8) replaced by U+FFFD."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def parse_status(value: Any) -> TaskStatus:
    """A ``TaskStatus`` from a wire value; unknown values are an error, never a guess."""
    if isinstance(value, TaskStatus):
        return value
    if isinstance(value, str) and len(value) <= _MAX_NUMBER_TEXT:
        found = _STATUS_ALIASES.get(value) or _STATUS_ALIASES.get(value.strip().lower())
        if found is not None:
            return found
    raise ResponseDecodeError(f"unknown task status {_describe(value)}")


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


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else _EMPTY


def _text(value: Any) -> str | None:
    """A JSON string, or a number's text (ids may arrive as numbers); None for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value) if value.bit_length() <= _MAX_INT_BITS else None
    if isinstance(value, float) and math.isfinite(value):
        return str(value)
    return None


def _opt_str(value: Any, limit: int = MAX_URL_LENGTH) -> str | None:
    """Optional text: None when absent, empty, not text or a number, or over ``limit``."""
    text = _text(value)
    if not text or len(text) > limit:
        return None
    return _clean(text)


def _message(value: Any) -> str | None:
    """A status message: any length is read, at most ``MAX_MESSAGE_LENGTH`` kept."""
    text = _text(value)
    if not text:
        return None
    if len(text) > MAX_MESSAGE_LENGTH:
        text = text[: MAX_MESSAGE_LENGTH - 3] + "..."
    return _clean(text)


def _number(value: Any) -> float | int | None:
    """A JSON number, or a number as text; None for anything else (bool included)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str) and len(value) <= _MAX_NUMBER_TEXT:
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return None
    return None


def _opt_int(value: Any, high: int = _MAX_TIME_MS) -> int | None:
    """An integer in [0, ``high``] (a float is truncated), else None: a time past year 9999,
    ``inf`` or ``1e999`` is no time at all."""
    number = _number(value)
    if isinstance(number, float):
        number = int(number) if math.isfinite(number) else None
    if number is None or not 0 <= number <= high:
        return None
    return number


def _opt_float(value: Any) -> float | None:
    """A finite, non-negative float (a duration), else None."""
    number = _number(value)
    if number is None:
        return None
    try:
        result = float(number)
    except OverflowError:  # an int too large for a float
        return None
    return result if math.isfinite(result) and result >= 0 else None


def _task_id(value: Any) -> str:
    """The task id: a string or an integer that is a plain id (``is_plain_id``)."""
    if isinstance(value, float):
        raise ResponseDecodeError(f"task_id {_describe(value)} is a float, not an id")
    text = _text(value)
    if not text:
        raise ResponseDecodeError("task object has no task_id")
    if not is_plain_id(text):
        raise ResponseDecodeError(
            f"task_id {_describe(text)} is not a plain id (1-{MAX_ID_LENGTH} characters, no "
            "'/', '?', '#', '%', '\\\\', whitespace, control characters or lone surrogates)"
        )
    return text


def _external_id(info: Mapping[str, Any], body: Mapping[str, Any]) -> str | None:
    """``task_info.external_task_id`` (or a flat ``external_task_id``); None unless plain."""
    value = info.get("external_task_id")
    if value is None:
        value = body.get("external_task_id")
    if isinstance(value, float):
        return None
    text = _text(value)
    return text if text and is_plain_id(text) else None


def _status(body: Mapping[str, Any], default: TaskStatus | None) -> TaskStatus:
    """``task_status`` (or ``status``); ``default`` when the reply has neither key."""
    if default is not None and "task_status" not in body and "status" not in body:
        return default
    raw = body.get("task_status")
    if raw is None:
        raw = body.get("status")
    return parse_status(raw)


def _parent_video(value: Any) -> ParentVideo | None:
    if not isinstance(value, Mapping):
        return None
    return ParentVideo(id=_opt_str(value.get("id"), MAX_ID_LENGTH),
                       url=_opt_str(value.get("url")),
                       duration=_opt_float(value.get("duration")))


def _read_task(data: Any, default: TaskStatus | None) -> Task:
    if not isinstance(data, Mapping):
        raise ResponseDecodeError(f"expected a task object, got {_describe(data)}")
    body = _unwrap(data)
    info = _mapping(body.get("task_info"))
    result = _mapping(body.get("task_result"))
    return Task(
        task_id=_task_id(body.get("task_id")),
        status=_status(body, default),
        status_msg=_message(body.get("task_status_msg")),
        external_task_id=_external_id(info, body),
        images=_items(result.get("images"), _image),
        videos=_items(result.get("videos"), _video),
        audios=_items(result.get("audios"), _audio),
        parent_video=_parent_video(info.get("parent_video")),
        created_at=_opt_int(body.get("created_at")),
        updated_at=_opt_int(body.get("updated_at")),
        final_unit_deduction=_opt_str(body.get("final_unit_deduction"), _MAX_NUMBER_TEXT),
    )


def _guarded(data: Any, default: TaskStatus | None) -> Task:
    """``_read_task``, with any failure a ``ResponseDecodeError`` naming what went wrong."""
    try:
        return _read_task(data, default)
    except ResponseDecodeError:
        raise
    except Exception as exc:  # e.g. RecursionError: no reply may escape as anything else
        raise ResponseDecodeError(f"unreadable task object ({type(exc).__name__})") from exc


def parse_task(data: Any) -> Task:
    """A ``Task`` from a task object (the ``data`` of a query, a list item or a callback body).

    Any input gives a ``Task`` or raises ``ResponseDecodeError``, nothing else."""
    return _guarded(data, None)


# The items of a ``task_result``: only a JSON array is read, at most MAX_RESULT_ITEMS of it;
# items that are not objects, or (images, videos) have no usable URL, are skipped.

def _items(raw: Any, make: Callable[[Mapping[str, Any]], Any]) -> tuple[Any, ...]:
    if not isinstance(raw, list):
        return ()
    found = []
    for item in raw[:MAX_RESULT_ITEMS]:
        if isinstance(item, Mapping):
            made = make(item)
            if made is not None:
                found.append(made)
    return tuple(found)


def _image(item: Mapping[str, Any]) -> Image | None:
    url = _opt_str(item.get("url"))
    if url is None:
        return None
    return Image(index=_opt_int(item.get("index"), _MAX_INDEX) or 0, url=url,
                 watermark_url=_opt_str(item.get("watermark_url")))


def _video(item: Mapping[str, Any]) -> Video | None:
    url = _opt_str(item.get("url"))
    if url is None:
        return None
    return Video(id=_opt_str(item.get("id"), MAX_ID_LENGTH) or "", url=url,
                 duration=_opt_float(item.get("duration")),
                 watermark_url=_opt_str(item.get("watermark_url")))


def _audio(item: Mapping[str, Any]) -> Audio:
    return Audio(id=_opt_str(item.get("id"), MAX_ID_LENGTH) or "",
                 url_mp3=_opt_str(item.get("url_mp3")), url_wav=_opt_str(item.get("url_wav")),
                 duration_mp3=_opt_float(item.get("duration_mp3")),
                 duration_wav=_opt_float(item.get("duration_wav")))


def created_task(data: Any, external_task_id: str | None) -> Task:
    """The ``Task`` from a create reply.  A created task is ``submitted`` if the reply omits its
    status, and carries the ``external_task_id`` that was sent if the reply omits that.

    Any input gives a ``Task`` or raises ``ResponseDecodeError``, nothing else."""
    task = _guarded(data, TaskStatus.SUBMITTED)
    if task.external_task_id is None and external_task_id is not None:
        task = attrs.evolve(task, external_task_id=external_task_id)
    return task


def created_head(data: Any, external_task_id: str | None
                 ) -> tuple[str, TaskStatus, str | None] | None:
    """``(task_id, status, external_task_id)`` of a create reply, exactly as ``created_task``
    reads them (it is ``created_task``), or None when ``created_task`` would refuse it."""
    try:
        task = created_task(data, external_task_id)
    except ResponseDecodeError:
        return None
    return task.task_id, task.status, task.external_task_id


def parse_callback(body: Any) -> Task:
    """A ``Task`` from a callback POST body: a flat task object, or one wrapped in an envelope.

    Callbacks carry no signature: confirm by re-querying the task before acting on it.
    """
    return parse_task(body)


def _ids_object(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """The object of a callback body that names its task (the body, or an envelope's data)."""
    current = body
    for _ in range(_MAX_UNWRAP):
        if "task_id" in current or "external_task_id" in current or "task_info" in current:
            return current
        inner = current.get("data")
        if not isinstance(inner, Mapping):
            return current
        current = inner
    return current


def _lookup_id(info: Mapping[str, Any], body: Mapping[str, Any]) -> str | None:
    """The external id a callback names, only to look a job up: any text up to
    ``MAX_ID_LENGTH`` (a user's own id need not be plain), or an integer."""
    value = info.get("external_task_id")
    if value is None:
        value = body.get("external_task_id")
    text = None if isinstance(value, float) else _text(value)
    return text if text and len(text) <= MAX_ID_LENGTH else None


def callback_ids(body: Any) -> tuple[str | None, str | None]:
    """``(task_id, external_task_id)`` named by a callback body (flat or in an envelope), for
    a re-query: no status is needed, since the body itself is never trusted.  At least one
    is a plain id, else ``ResponseDecodeError``."""
    try:
        if not isinstance(body, Mapping):
            raise ResponseDecodeError(f"expected a callback object, got {_describe(body)}")
        inner = _ids_object(body)
        task_id = _task_id(inner["task_id"]) if inner.get("task_id") is not None else None
        external = _lookup_id(_mapping(inner.get("task_info")), inner)
    except ResponseDecodeError:
        raise
    except Exception as exc:
        raise ResponseDecodeError(f"unreadable callback body ({type(exc).__name__})") from exc
    if task_id is None and external is None:
        raise ResponseDecodeError("callback body names no task_id or external_task_id")
    return task_id, external


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

