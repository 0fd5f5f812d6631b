"""The request side of the wire format: ``dump_request``, ``load_request`` and the private
cattrs converter behind them.

``dump_request`` (a request object -> the exact JSON body) follows five rules, and
``load_request`` (a wire JSON body -> a validated request) seven: both lists are in the
functions' docstrings below.  In short: attribute names are the wire names; None and empty
lists are never sent; what a documented spelling allows on load (numbers as text, ``""`` for
unset, the legacy ``model`` key, the ``image_url`` alias) is read, anything else is a
``ValidationError`` naming the wire path, whatever the payload holds.
"""

from __future__ import annotations

import typing
import warnings
from collections.abc import Callable, Mapping
from math import isfinite
from types import UnionType
from typing import Any

import attrs
import cattrs

from ._endpoints import REQUEST_TYPES, endpoint_named
from ._errors import ValidationError, _short_repr
from ._models.parts import OmniImageItem
from ._models.standard import CONTENT_TYPES, ContentItem, is_wire_field
from ._validators import MAX_INT64, MAX_INT64_DIGITS, MIN_INT64
from ._warnings import KlingWireWarning as KlingWireWarning  # its import path before 0.2

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
    """The converter's unstructure hook for one attrs class (requests and their parts): wire
    rules 1, 2 and 5 of ``dump_request``.  The field names are read once per class; the hook
    omits None and empty tuples, keeps JSON scalars as they are and hands anything else
    (nested parts, tuples) back to the converter."""
    names = tuple(field.name for field in attrs.fields(cls) if is_wire_field(field))

    def dump(obj: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in names:
            value = getattr(obj, name)
            if value is None or value == ():
                continue
            out[name] = value if type(value) in _SCALARS else _converter.unstructure(value)
        return out

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


def _is_int_or_literal(type_: Any) -> bool:
    """``int | Literal["auto"]`` (optional or not): omni-image ``series_amount``."""
    if typing.get_origin(type_) not in (typing.Union, UnionType):
        return False
    args = [a for a in typing.get_args(type_) if a is not type(None)]
    return len(args) == 2 and int in args and any(_is_literal(a) for a in args)


def _structure_int_or_literal(value: Any, type_: Any) -> Any:
    words = {w for a in typing.get_args(type_) if _is_literal(a) for w in typing.get_args(a)}
    if isinstance(value, str) and value in words:
        return value
    return _structure_int(value, int)  # anything else: the field's validator names the choices


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


def _attrs_structure_fn(cls: type[Any]) -> Callable[[Any, Any], Any]:
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


def _structure_content_item(value: Any, _type: Any) -> ContentItem:
    """A new-standard ``contents[]`` item: the class is picked by its ``type`` key."""
    if not isinstance(value, Mapping):
        raise ValidationError("", "must be a JSON object", value)
    kind = value.get("type")
    cls = CONTENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        rule = "is required" if _is_unset(kind) else "must be a known item type"
        raise ValidationError("type", f"{rule}: one of {', '.join(CONTENT_TYPES)}", kind)
    item: ContentItem = _converter.structure(value, cls)
    return item


_converter.register_unstructure_hook_factory(attrs.has, _make_dumper)
_converter.register_unstructure_hook(tuple, _unstructure_tuple)
_converter.register_structure_hook(str, _structure_str)
_converter.register_structure_hook(int, _structure_int)
_converter.register_structure_hook(float, _structure_float)
_converter.register_structure_hook(bool, _structure_bool)
_converter.register_structure_hook_func(_is_literal, _structure_passthrough)
_converter.register_structure_hook_func(_is_int_or_literal, _structure_int_or_literal)
_converter.register_structure_hook_func(_is_tuple, _structure_tuple)
_converter.register_structure_hook_factory(attrs.has, _attrs_structure_fn)
_converter.register_structure_hook_func(lambda t: t is ContentItem, _structure_content_item)


def dump_request(request: Any) -> dict[str, Any]:
    """The exact JSON body for a request object.

    Wire rules:

    1. Attribute names ARE the wire names; the model is always sent as ``model_name``, never
       ``model`` (the official API reads ``model`` as an empty model_name, i.e. kling-v1).
    2. ``None`` and empty lists are omitted; ``False`` and ``0`` are sent.
    3. Legacy ``duration`` and shot durations are strings (``"5"``), as the requests store
       them; the new standard's ``settings.duration`` is an int (``5``).
    4. ``element_id`` is a Python int, never a float, so a 64-bit id (``829836802793406551``)
       survives ``json.dumps`` exactly.
    5. Booleans are JSON booleans; nested parts are JSON objects; tuples are JSON arrays.
    6. A new-standard request's ``model`` is in the path, not the body: not sent.
    7. A new-standard ``contents[]`` item is an object with its ``type`` first
       (``{"type": "first_frame", "url": ...}``); its ``element_id`` / ``voice_id`` are strings.
    """
    cls = type(request)
    if cls not in REQUEST_TYPES and (isinstance(request, type) or not attrs.has(cls)):
        raise ValidationError("request", "must be a request object", cls.__name__)
    body: dict[str, Any] = _converter.unstructure(request)
    return body


def _move_legacy_model(body: dict[str, Any]) -> None:
    """Load rule 3: the legacy ``model`` key becomes ``model_name`` (warning the caller of
    ``load_request``); a different ``model_name`` beside it is a ValidationError."""
    legacy = body.pop("model")
    if _is_unset(legacy):
        return
    current = body.get("model_name")
    if not _is_unset(current) and not _same(current, legacy):
        raise ValidationError("model", f"conflicts with model_name={_short_repr(current)}", legacy)
    body["model_name"] = legacy
    warnings.warn(
        KlingWireWarning(
            f"payload uses the legacy key 'model' ({_short_repr(legacy)}); the SDK sends it as "
            "'model_name', because the official API treats 'model' as if model_name were "
            "empty, i.e. kling-v1"
        ),
        stacklevel=3,  # the caller of load_request
    )


def _put_path_model(body: dict[str, Any], model: str) -> None:
    """Load rule 8: a new-standard endpoint's model is its path's (``text-to-video/
    kling-3.0``); a body that names a model itself is a ValidationError."""
    for key in ("model", "model_name"):
        if key in body and not _is_unset(body[key]):
            raise ValidationError(key, "is not a body field of the new standard: the model is "
                                  "in the endpoint path", body[key])
    body["model"] = model


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
    8. A new-standard endpoint (``text-to-video/kling-3.0-turbo``) gives the request its
       ``model``; the body must not name one.  An undocumented model of a new-standard family
       (``text-to-video/kling-9``) is accepted with a ``KlingWireWarning``.
    9. A ``contents[]`` item's class is chosen by its ``type`` key (``CONTENT_TYPES``); a
       missing or unknown type is a ValidationError on ``contents[i].type``.
    """
    if not isinstance(endpoint, str):
        raise ValidationError("endpoint", "must be a string such as 'videos/omni-video'",
                              endpoint)
    row = endpoint_named(endpoint)
    request_type = row.request_type
    if not isinstance(payload, Mapping):
        raise ValidationError("request", "must be a JSON object", type(payload).__name__)
    body = dict(payload)
    if row.model is not None:
        _put_path_model(body, row.model)
    elif "model" in body:
        _move_legacy_model(body)
    try:
        return _converter.structure(body, request_type)
    except ValidationError as error:
        if error.field:
            raise
        raise _relabel("request", error) from None  # a top-level rule (a key not a string)
