"""Task results from the wire: ``parse_task``, ``parse_callback``, ``created_task``,
``callback_ids`` and the task-id rule (``is_plain_id``).

Both API standards' task objects give the one ``Task``: legacy (``task_id``, ``task_status``,
``task_info``, ``task_result``, reference §3.3) and new (``id``, ``status``, ``message``,
``external_id``, ``create_time``, ``update_time``, ``outputs[]`` typed by ``type``, §12.3; its
create reply is the same object without outputs, §11.2).  An object is read as the new shape
when it has an ``id`` and no ``task_id`` (and no ``data`` object to unwrap).

Lenient about what the documentation allows, strict about what the SDK needs.  Rules:

1. Extra fields anywhere are ignored.
2. Numbers may arrive as strings (``"5.1"``, ``"1722769557708"``) and ids as numbers.
3. ``task_id`` and a known status are required; anything else is optional.  A create reply
   (``created_task``) without a status is ``submitted`` and keeps the ``external_task_id``
   that was sent if the reply omits it.
4. A gateway wrapper whose ``data`` holds the raw Kling reply (``data.data.data``) is
   unwrapped.
5. ``status`` is accepted where ``task_status`` is missing, with the gateway spellings the
   reference documents (``SUCCESS``, ``FAILURE``, ``IN_PROGRESS``...), case-insensitively;
   the new standard's ``succeeded`` is the legacy ``succeed`` (``TaskStatus.SUCCEED``), and
   the text as sent is kept in ``Task.raw_status``.
6. The id rule: a task id that is not plain (see ``is_plain_id``) is refused, since it would
   reach poll URLs and journals.
7. Whatever a reply holds, the result is a ``Task`` or a ``ResponseDecodeError``: an optional
   field no Python value can hold sensibly (a time past year 9999, an infinite duration, an
   id of a thousand digits) is read as absent; lone surrogates in text become U+FFFD; what is
   kept is bounded (``MAX_RESULT_ITEMS`` results of each kind, URLs up to ``MAX_URL_LENGTH``,
   status messages cut at ``MAX_MESSAGE_LENGTH``).
8. A callback body is never trusted: ``callback_ids`` reads only the ids to re-query.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Mapping
from functools import partial
from types import MappingProxyType
from typing import Any, TypeVar

import attrs

from ._costs import JSON_OBJECT, parse_cost
from ._errors import ResponseDecodeError
from ._models.task import (
    Audio,
    ElementReference,
    ElementResult,
    Image,
    ParentVideo,
    Task,
    TaskStatus,
    Video,
    VoiceResult,
)

_STATUS_ALIASES: dict[str, TaskStatus] = {
    "submitted": TaskStatus.SUBMITTED,
    "processing": TaskStatus.PROCESSING,
    "in_progress": TaskStatus.PROCESSING,
    "succeed": TaskStatus.SUCCEED,
    "succeeded": TaskStatus.SUCCEED,
    "success": TaskStatus.SUCCEED,
    "failed": TaskStatus.FAILED,
    "failure": TaskStatus.FAILED,
}

_MAX_UNWRAP = 3
_EMPTY: Mapping[str, Any] = MappingProxyType({})
#: The longest task id accepted from a server (Kling's are 18-19 digits).
MAX_ID_LENGTH = 256
#: Results kept per kind (images, videos, audio tracks, voices, elements) of one task; Kling
#: makes at most 9.
MAX_RESULT_ITEMS = 100
#: ``outputs[]`` items read at most (every kind together).
_MAX_OUTPUTS = 5 * MAX_RESULT_ITEMS
#: The longest URL (or other optional text) kept; a longer one is read as absent.
MAX_URL_LENGTH = 8192
#: Status messages longer than this are cut (ending with "...").
MAX_MESSAGE_LENGTH = 2000
#: The latest ``created_at``/``updated_at`` read (9999-12-31T23:59:59.999Z, in ms).
_MAX_TIME_MS = 253_402_300_799_999
_MAX_INDEX = 1_000_000
#: Most views ``url_1`` .. ``url_N`` read from one image item (ai-multi-shot sends 3).
_MAX_VIEWS = 9
#: Numbers arriving as text longer than this are no time, index or duration.
_MAX_NUMBER_TEXT = 64
#: Integers wider than this are no id or number the SDK keeps (str() of huge ints is slow).
_MAX_INT_BITS = 256
_UNSAFE_ID_CHARS = frozenset("/?#%\\")
_T = TypeVar("_T")


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
    if text.isascii():
        if text.isalnum():  # the usual id (Kling's are digits): nothing to look for
            return True
        # The same rule, read in C (about 30 k instructions less per id than the loop
        # below): an ASCII control is the only ASCII character not printable, and the space
        # the only ASCII whitespace that is printable.
        return text.isprintable() and " " not in text and _UNSAFE_ID_CHARS.isdisjoint(text)
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


def _is_new_shape(body: Mapping[str, Any]) -> bool:
    """Whether ``body`` is a new-standard task object: an ``id``, no ``task_id``, and no
    ``data`` object (a gateway wrapper may carry an ``id`` of its own around one)."""
    return "id" in body and "task_id" not in body and not isinstance(body.get("data"), Mapping)


def _unwrap(data: Mapping[str, Any]) -> Mapping[str, Any]:
    current = data
    for _ in range(_MAX_UNWRAP):
        if "task_status" in current or _is_new_shape(current):
            return current
        inner = current.get("data")
        if not isinstance(inner, Mapping):
            return current
        # A gateway wrapper around a whole Kling envelope: {"code": 0, "data": {...}}.
        current = inner
    return current


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, JSON_OBJECT) else _EMPTY


def _text(value: Any) -> str | None:
    """A JSON string, or a number's text (ids may arrive as numbers); None for anything else."""
    if isinstance(value, str):
        return value
    if value is None:  # absent: most optional fields of most replies
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value) if value.bit_length() <= _MAX_INT_BITS else None
    if isinstance(value, float) and math.isfinite(value):
        return str(value)
    return None


def _opt_str(value: Any, limit: int = MAX_URL_LENGTH) -> str | None:
    """Optional text: None when absent, empty, not text or a number, or over ``limit``."""
    if value is None:  # absent: most optional fields of most replies
        return None
    text = value if isinstance(value, str) else _text(value)  # (text: the usual case)
    if not text or len(text) > limit:
        return None
    return text if text.isascii() else _clean(text)


def _message(value: Any) -> str | None:
    """A status message: any length is read, at most ``MAX_MESSAGE_LENGTH`` kept."""
    if value is None:  # absent: the usual case until a task fails
        return None
    text = value if isinstance(value, str) else _text(value)  # (text: the usual case)
    if not text:
        return None
    if len(text) > MAX_MESSAGE_LENGTH:
        text = text[: MAX_MESSAGE_LENGTH - 3] + "..."
    return text if text.isascii() else _clean(text)


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
    if type(value) is int:  # the usual case: a JSON integer, read as it is
        return value if 0 <= value <= high else None
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
    if isinstance(value, str):  # the usual case
        text: str | None = value
    elif isinstance(value, float):
        raise ResponseDecodeError(f"task_id {_describe(value)} is a float, not an id")
    else:
        text = _text(value)
    if not text:
        raise ResponseDecodeError("task object has no task_id")
    if not is_plain_id(text):
        raise ResponseDecodeError(
            f"task_id {_describe(text)} is not a plain id (1-{MAX_ID_LENGTH} characters, no "
            "'/', '?', '#', '%', '\\\\', whitespace, control characters or lone surrogates)"
        )
    return text


def _external_id(info: Mapping[str, Any], body: Mapping[str, Any], sent: str | None
                 ) -> str | None:
    """``task_info.external_task_id`` (or a flat ``external_task_id``) if plain, else ``sent``
    (the id a create sent, None elsewhere); a reply echoing ``sent`` gives ``sent``, with no
    id check: it is what the result would be either way."""
    value = info.get("external_task_id")
    if value is None:
        value = body.get("external_task_id")
    if value is None or value == sent:
        return sent
    return _plain_id(value) or sent


def _plain_id(value: Any) -> str | None:
    """An optional id (a string or an integer); None unless plain."""
    if isinstance(value, str):  # the usual case
        return value if is_plain_id(value) else None
    text = None if isinstance(value, float) else _text(value)
    return text if text and is_plain_id(text) else None


def _status(body: Mapping[str, Any], default: TaskStatus | None
            ) -> tuple[TaskStatus, str | None]:
    """The status (``task_status``, else ``status``) and its text as the server sent it;
    ``(default, None)`` when there is a ``default`` and the reply has neither key."""
    raw = body.get("task_status")
    if raw is None:
        raw = body.get("status")
    if raw is None and default is not None and not ("task_status" in body or "status" in body):
        return default, None
    if isinstance(raw, str):
        # Text parse_status accepts is kept as it is: it is 1-64 characters (a known
        # spelling, perhaps with spaces around it) with no lone surrogate, so no further check
        # applies.  A spelling as sent (the usual case) needs no further reading.
        return _STATUS_ALIASES.get(raw) or parse_status(raw), raw
    return parse_status(raw), None


def _parent_video(value: Any) -> ParentVideo | None:
    if not isinstance(value, JSON_OBJECT):
        return None
    return ParentVideo(id=_opt_str(value.get("id"), MAX_ID_LENGTH),
                       url=_opt_str(value.get("url")),
                       duration=_opt_float(value.get("duration")))


def _items(raw: Any, make: Callable[[Mapping[str, Any]], _T | None]) -> tuple[_T, ...]:
    """The items of a ``task_result`` list: only a JSON array is read, at most
    ``MAX_RESULT_ITEMS`` of it; items that are not objects, or that ``make`` refuses (an image
    or video without a usable URL), are skipped."""
    if not isinstance(raw, list):
        return ()
    found: list[_T] = []
    for item in raw[:MAX_RESULT_ITEMS]:
        if isinstance(item, JSON_OBJECT):
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


def _image_views(item: Mapping[str, Any]) -> list[Image]:
    """A legacy image item without a ``url``: ai-multi-shot's angle views ``url_1``, ``url_2``,
    ``url_3`` (reference §2.20), one ``Image`` each with its ``view`` number."""
    index = _opt_int(item.get("index"), _MAX_INDEX) or 0
    views: list[Image] = []
    for view in range(1, _MAX_VIEWS + 1):
        url = _opt_str(item.get(f"url_{view}"))
        if url is not None:
            views.append(Image(index=index, url=url, view=view))
    return views


def _images(raw: Any) -> tuple[Image, ...]:
    """A legacy ``images[]`` (or ``series_images[]``): like ``_items``, but an item may hold
    several views instead of one ``url``; at most ``MAX_RESULT_ITEMS`` images in all."""
    if not isinstance(raw, list):
        return ()
    found: list[Image] = []
    for item in raw[:MAX_RESULT_ITEMS]:
        if isinstance(item, JSON_OBJECT):
            image = _image(item)
            if image is not None:
                found.append(image)
            else:
                found.extend(_image_views(item))
    return tuple(found[:MAX_RESULT_ITEMS])


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


def _resource_status(value: Any) -> str | None:
    """A voice's or element's status, ``succeeded`` read as ``succeed`` (one spelling)."""
    text = _opt_str(value, _MAX_NUMBER_TEXT)
    return "succeed" if text == "succeeded" else text


def _voice(item: Mapping[str, Any]) -> VoiceResult | None:
    """A legacy ``voices[]`` item (``voice_id``...) or a new ``voice`` output (``id``...)."""
    legacy = "voice_id" in item
    voice_id = _opt_str(item.get("voice_id" if legacy else "id"), MAX_ID_LENGTH)
    if voice_id is None:
        return None
    return VoiceResult(id=voice_id,
                       name=_opt_str(item.get("voice_name" if legacy else "name")),
                       url=_opt_str(item.get("trial_url" if legacy else "url")),
                       owned_by=_opt_str(item.get("owned_by"), MAX_ID_LENGTH),
                       status=_resource_status(item.get("status")))


def _reference(item: Mapping[str, Any]) -> ElementReference:
    return ElementReference(type=_opt_str(item.get("type"), _MAX_NUMBER_TEXT),
                            role=_opt_str(item.get("role"), _MAX_NUMBER_TEXT),
                            url=_opt_str(item.get("url")),
                            id=_opt_str(item.get("id"), MAX_ID_LENGTH),
                            name=_opt_str(item.get("name")))


def _legacy_references(item: Mapping[str, Any]) -> tuple[ElementReference, ...]:
    """The materials of a legacy element: frontal and other images, videos, its voice."""
    images = _mapping(item.get("element_image_list"))
    found: list[ElementReference] = []
    frontal = _opt_str(images.get("frontal_image"))
    if frontal is not None:
        found.append(ElementReference(type="image", role="frontal", url=frontal))
    found.extend(_items(images.get("refer_images"), lambda i: ElementReference(
        type="image", role="reference", url=_opt_str(i.get("image_url")))))
    videos = _mapping(item.get("element_video_list"))
    found.extend(_items(videos.get("refer_videos"), lambda i: ElementReference(
        type="video", role="refer", url=_opt_str(i.get("video_url")))))
    voice = _voice(_mapping(item.get("element_voice_info")))
    if voice is not None:
        found.append(ElementReference(type="voice", role="refer", url=voice.url, id=voice.id,
                                      name=voice.name))
    return tuple(found[:MAX_RESULT_ITEMS])


def _element(item: Mapping[str, Any]) -> ElementResult | None:
    """A legacy ``elements[]`` item (``element_id``...) or a new ``element`` output."""
    legacy = "element_id" in item
    element_id = _opt_str(item.get("element_id" if legacy else "id"), MAX_ID_LENGTH)
    if element_id is None:
        return None
    if legacy:
        refs = _legacy_references(item)
    else:
        raw = item.get("references")
        refs = _items(item.get("materials") if raw is None else raw, _reference)
    return ElementResult(
        id=element_id,
        name=_opt_str(item.get("element_name" if legacy else "name")),
        description=_opt_str(item.get("element_description" if legacy else "description")),
        element_type=_opt_str(item.get("reference_type" if legacy else "element_type"),
                              _MAX_NUMBER_TEXT),
        owned_by=_opt_str(item.get("owned_by"), MAX_ID_LENGTH),
        status=_resource_status(item.get("status")), references=refs)


#: How each list a legacy ``task_result`` may hold is read (images may hold several views).
_LEGACY_RESULTS: dict[str, Callable[[Any], tuple[Any, ...]]] = {
    "images": _images, "series_images": _images,
    "videos": partial(_items, make=_video), "audios": partial(_items, make=_audio),
    "voices": partial(_items, make=_voice), "elements": partial(_items, make=_element),
}


def _legacy_results(raw: Any) -> dict[str, Any]:
    """The ``Task`` fields a ``task_result`` object holds (only those: a create or running
    task's reply has none)."""
    if not isinstance(raw, JSON_OBJECT):
        return {}
    # The lists it holds of those the table reads, in the table's order (at most six keys
    # looked at, whatever ``raw`` holds; the filter runs in C).
    fields: dict[str, Any] = {}
    for key in filter(raw.__contains__, _LEGACY_RESULTS):
        fields[key] = _LEGACY_RESULTS[key](raw[key])
    if "result_type" in raw:
        fields["result_type"] = _opt_str(raw.get("result_type"), _MAX_NUMBER_TEXT)
    return fields


def _read_legacy(body: Mapping[str, Any], default: TaskStatus | None,
                 sent_external_id: str | None) -> Task:
    """A legacy task object (reference §3.3)."""
    info = body.get("task_info")
    if not isinstance(info, JSON_OBJECT):
        info = _EMPTY
    parent = info.get("parent_video")
    result = body.get("task_result")  # (none, or empty, until the task succeeded)
    status, raw_status = _status(body, default)
    return Task(
        task_id=_task_id(body.get("task_id")),
        status=status,
        raw_status=raw_status,
        status_msg=_message(body.get("task_status_msg")),
        external_task_id=_external_id(info, body, sent_external_id),
        parent_video=None if parent is None else _parent_video(parent),
        created_at=_opt_int(body.get("created_at")),
        updated_at=_opt_int(body.get("updated_at")),
        final_unit_deduction=_opt_str(body.get("final_unit_deduction"), _MAX_NUMBER_TEXT),
        cost=parse_cost(body),
        **(_legacy_results(result) if result else {}),
    )


def _new_audio(item: Mapping[str, Any]) -> Audio:
    return Audio(id=_opt_str(item.get("id"), MAX_ID_LENGTH) or "",
                 url_mp3=_opt_str(item.get("mp3_url")), url_wav=_opt_str(item.get("wav_url")),
                 duration_mp3=_opt_float(item.get("mp3_duration")),
                 duration_wav=_opt_float(item.get("wav_duration")))


def _new_image(item: Mapping[str, Any]) -> Image | None:
    url = _opt_str(item.get("url"))
    if url is None:
        return None
    return Image(index=0, url=url, watermark_url=_opt_str(item.get("watermark_url")),
                 group_id=_opt_str(item.get("group_id"), MAX_ID_LENGTH))


#: How each ``outputs[].type`` is read (reference §12.3), and the ``Task`` field it fills;
#: other types are skipped.
_OUTPUT_MAKERS: dict[str, tuple[str, Callable[[Mapping[str, Any]], Any]]] = {
    "video": ("videos", _video), "image": ("images", _new_image),
    "audio": ("audios", _new_audio), "voice": ("voices", _voice),
    "element": ("elements", _element),
}


def _outputs(raw: Any) -> dict[str, Any]:
    """The ``Task`` fields ``outputs[]`` fills (only those of the kinds present): at most
    ``_MAX_OUTPUTS`` items read, ``MAX_RESULT_ITEMS`` kept per type; items that are no object,
    of an unknown type, or that a maker refuses are skipped.  New-standard images have no
    index: theirs is their place among the images."""
    if not isinstance(raw, list):
        return {}
    found: dict[str, list[Any]] = {}
    for item in raw[:_MAX_OUTPUTS]:
        if not isinstance(item, JSON_OBJECT):
            continue
        kind = item.get("type")
        if not isinstance(kind, str) or kind not in _OUTPUT_MAKERS:
            continue
        field, make = _OUTPUT_MAKERS[kind]
        kept = found.setdefault(field, [])
        if len(kept) >= MAX_RESULT_ITEMS:
            continue
        made = make(item)
        if made is not None:
            kept.append(made)
    if "images" in found:
        found["images"] = [attrs.evolve(image, index=i) for i, image in enumerate(found["images"])]
    return {field: tuple(items) for field, items in found.items()}


def _read_new(body: Mapping[str, Any], default: TaskStatus | None,
              sent_external_id: str | None) -> Task:
    """A new-standard task object (reference §12.3) or create reply (§11.2)."""
    status, raw_status = _status(body, default)
    return Task(
        task_id=_task_id(body.get("id")),
        status=status,
        raw_status=raw_status,
        status_msg=_message(body.get("message")),
        external_task_id=_plain_id(body.get("external_id")) or sent_external_id,
        created_at=_opt_int(body.get("create_time")),
        updated_at=_opt_int(body.get("update_time")),
        cost=parse_cost(body),
        **_outputs(body.get("outputs")),
    )


def _read_task(data: Any, default: TaskStatus | None = None,
               sent_external_id: str | None = None) -> Task:
    """A ``Task`` from a task object, with any failure a ``ResponseDecodeError`` naming what
    went wrong."""
    try:
        if not isinstance(data, JSON_OBJECT):
            raise ResponseDecodeError(f"expected a task object, got {_describe(data)}")
        body = _unwrap(data)
        read = _read_new if _is_new_shape(body) else _read_legacy
        return read(body, default, sent_external_id)
    except ResponseDecodeError:
        raise
    except Exception as exc:  # e.g. RecursionError: no reply may escape as anything else
        raise ResponseDecodeError(f"unreadable task object ({type(exc).__name__})") from exc


def parse_task(data: Any) -> Task:
    """A ``Task`` from a task object (the ``data`` of a query, a list item or a callback body).

    Any input gives a ``Task`` or raises ``ResponseDecodeError``, nothing else."""
    return _read_task(data)


def created_task(data: Any, external_task_id: str | None) -> Task:
    """The ``Task`` from a create reply.  A created task is ``submitted`` if the reply omits its
    status, and carries the ``external_task_id`` that was sent if the reply omits that.

    Any input gives a ``Task`` or raises ``ResponseDecodeError``, nothing else."""
    return _read_task(data, TaskStatus.SUBMITTED, external_task_id)


def parse_callback(body: Any) -> Task:
    """A ``Task`` from a callback POST body: a flat task object, or one wrapped in an envelope.

    Callbacks carry no signature: confirm by re-querying the task before acting on it.
    """
    return parse_task(body)


def _ids_object(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """The object of a callback body that names its task (the body, or an envelope's data)."""
    current = body
    for _ in range(_MAX_UNWRAP):
        if ("task_id" in current or "external_task_id" in current or "task_info" in current
                or _is_new_shape(current) or "external_id" in current):
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
    if value is None:
        value = body.get("external_id")  # a new-standard task object
    text = None if isinstance(value, float) else _text(value)
    return text if text and len(text) <= MAX_ID_LENGTH else None


def callback_ids(body: Any) -> tuple[str | None, str | None]:
    """``(task_id, external_task_id)`` named by a callback body (flat or in an envelope; a
    legacy task object, or a new-standard one with ``id`` and ``external_id``), for
    a re-query: no status is needed, since the body itself is never trusted.  At least one
    is a plain id, else ``ResponseDecodeError``."""
    try:
        if not isinstance(body, Mapping):
            raise ResponseDecodeError(f"expected a callback object, got {_describe(body)}")
        inner = _ids_object(body)
        key = "id" if _is_new_shape(inner) else "task_id"
        task_id = _task_id(inner[key]) if inner.get(key) is not None else None
        external = _lookup_id(_mapping(inner.get("task_info")), inner)
    except ResponseDecodeError:
        raise
    except Exception as exc:
        raise ResponseDecodeError(f"unreadable callback body ({type(exc).__name__})") from exc
    if task_id is None and external is None:
        raise ResponseDecodeError("callback body names no task_id or external_task_id")
    return task_id, external
