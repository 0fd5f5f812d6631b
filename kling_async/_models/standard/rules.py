"""Per-model rules of the new standard shared by the request classes (reference §11).

Each check names the wire path of what it refuses (``settings.duration``, ``contents[2].type``,
``contents[0].text``).  A ``NewModelSpec`` with ``documented=False`` (an unknown model id)
gets only the checks of types and of the family's values: its own limits are unknown.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from typing import Any

from ..._errors import ValidationError
from ..._validators import check_encodable
from ..._warnings import KlingWireWarning
from .contents import ContentItem, PromptItem, item_type
from .specs import DEFAULT_DURATION, DEFAULT_RESOLUTION, MAX_SHOT_WORDS, MAX_SHOTS, NewModelSpec

_MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: A prompt in shot syntax starts like ``shot 1, 5,`` (``Shot 1: a cat`` is plain text).
_SHOT_START = re.compile(r"\s*shot\s*\d{1,9}\s*,\s*\d{1,9}\s*,", re.IGNORECASE)
_SHOT = re.compile(r"\s*shot\s*(\d{1,9})\s*,\s*(\d{1,9})\s*,(.*)", re.IGNORECASE | re.DOTALL)
_SETTINGS = (("resolution", "resolutions"), ("aspect_ratio", "aspect_ratios"),
             ("duration", "durations"), ("audio", "audio"))


def check_model_id(model: Any) -> None:
    """A model id is one plain path segment: letters, digits, ``.``, ``_``, ``-`` (<= 64)."""
    if not isinstance(model, str) or _MODEL_ID.fullmatch(model) is None:
        raise ValidationError("model", "must be a model id such as 'kling-3.0' (letters, "
                              "digits, '.', '_', '-'; at most 64 characters)", model)


def _choices(allowed: Sequence[Any]) -> str:
    ints = all(isinstance(v, int) for v in allowed)
    if ints and len(allowed) > 2 and list(allowed) == list(range(allowed[0], allowed[-1] + 1)):
        return f"{allowed[0]} to {allowed[-1]}"
    return ", ".join(repr(v) if isinstance(v, str) else str(v) for v in allowed)


def check_settings(spec: NewModelSpec, settings: Any) -> None:
    """Each setting is one the model has, with one of its values."""
    if settings is None:
        return
    for name, spec_field in _SETTINGS:
        _check_setting(spec, name, getattr(settings, name, None), getattr(spec, spec_field))
    multi_shot = getattr(settings, "multi_shot", None)
    if multi_shot is not None and not spec.multi_shot:
        raise ValidationError("settings.multi_shot", f"is not a setting of {spec.endpoint}"
                              + (" (write the shots in the prompt)" if spec.shot_syntax else ""),
                              multi_shot)


def _check_setting(spec: NewModelSpec, name: str, value: Any,
                   allowed: tuple[Any, ...] | None) -> None:
    if value is None:
        return
    if allowed is None:
        raise ValidationError(f"settings.{name}", f"is not a setting of {spec.endpoint}", value)
    if allowed and value not in allowed:
        raise ValidationError(f"settings.{name}",
                              f"must be one of {_choices(allowed)} for {spec.endpoint}", value)


def resolution_of(settings: Any) -> str:
    """The resolution the server uses: the setting, else its default ``720p``."""
    value = getattr(settings, "resolution", None)
    return value if isinstance(value, str) else DEFAULT_RESOLUTION


def duration_of(settings: Any) -> int:
    """The duration the server uses: the setting, else its default 5 s."""
    value = getattr(settings, "duration", None)
    return value if isinstance(value, int) else DEFAULT_DURATION


def require_1080p(spec: NewModelSpec, settings: Any, why: str) -> None:
    """``settings.resolution`` is (explicitly) ``1080p`` because of ``why``."""
    if resolution_of(settings) == "1080p":
        return
    unset = getattr(settings, "resolution", None) is None
    raise ValidationError(
        "settings.resolution", f"must be '1080p' {why} on {spec.endpoint}",
        getattr(settings, "resolution", None),
        hint="resolution is unset, so the default '720p' counts" if unset else None,
    )


def check_prompt(spec: NewModelSpec, where: str, text: str, settings: Any) -> None:
    """A prompt's length, and its multi-shot syntax where the model reads one."""
    check_encodable(where, text)
    if len(text) > spec.prompt_max:
        raise ValidationError(where, f"must be at most {spec.prompt_max} characters on "
                              f"{spec.endpoint}, got {len(text)}", text)
    if spec.prompt_recommended is not None and len(text) > spec.prompt_recommended:
        warnings.warn(KlingWireWarning(
            f"{where}: {len(text)} characters; the reference recommends at most "
            f"{spec.prompt_recommended} on {spec.endpoint}"), stacklevel=4)
    shots_on = spec.shot_syntax and getattr(settings, "multi_shot", None) is not False
    if shots_on and _SHOT_START.match(text):
        check_shot_syntax(where, text, duration_of(settings))


def check_shot_syntax(where: str, text: str, duration: int) -> None:
    """``shot n, m, words; shot n, m, words;`` (reference §11.2): 1-6 shots numbered 1, 2, ...
    in order, each ``m`` >= 1 s, the ``m`` summing to the duration, ``words`` at most 512
    characters.  Half-width semicolons separate the shots; the last one is optional."""
    parts = text.split(";")
    if not parts[-1].strip():
        parts.pop()
    if not 1 <= len(parts) <= MAX_SHOTS:
        raise ValidationError(where, f"a multi-shot prompt has 1 to {MAX_SHOTS} shots, got "
                              f"{len(parts)}", len(parts))
    total = 0
    for i, part in enumerate(parts, start=1):
        found = _SHOT.fullmatch(part)
        if found is None:
            raise ValidationError(where, f"shot {i} must read 'shot {i}, <seconds>, <words>' "
                                  "(shots end with a half-width ';')", part)
        number, length, words = int(found[1]), int(found[2]), found[3].strip()
        if number != i:
            raise ValidationError(where, f"shot {i} is numbered {number}: number the shots "
                                  "1, 2, ... in order", part)
        if length < 1:
            raise ValidationError(where, f"shot {i} must last at least 1 second", part)
        if not words or len(words) > MAX_SHOT_WORDS:
            raise ValidationError(where, f"shot {i}'s words must be 1 to {MAX_SHOT_WORDS} "
                                  f"characters, got {len(words)}", part)
        total += length
    if total != duration:
        raise ValidationError(where, f"shot seconds must sum to settings.duration={duration}",
                              total)


def check_contents(spec: NewModelSpec, contents: tuple[ContentItem, ...], settings: Any) -> None:
    """Item types the model takes, at most as many of each as it takes, unique ``id``s, and
    each prompt item's text."""
    if not contents:
        raise ValidationError("contents", "must hold at least one item", 0)
    seen: dict[str, int] = {}
    ids: set[str] = set()
    for i, item in enumerate(contents):
        kind = item_type(item)
        if kind not in spec.contents:
            raise ValidationError(f"contents[{i}].type", f"{kind!r} is not accepted by "
                                  f"{spec.endpoint} (accepted: {_choices(list(spec.contents))})",
                                  kind)
        seen[kind] = seen.get(kind, 0) + 1
        if seen[kind] > spec.contents[kind]:
            raise ValidationError(f"contents[{i}]", f"at most {spec.contents[kind]} {kind!r} "
                                  f"item(s) on {spec.endpoint}", seen[kind])
        item_id = item.item_id
        if item_id is not None:
            if item_id in ids:
                raise ValidationError(f"contents[{i}].id", "must be unique within the task",
                                      item_id)
            ids.add(item_id)
        if isinstance(item, PromptItem):
            check_prompt(spec, f"contents[{i}].text", item.text, settings)


def positions(contents: tuple[ContentItem, ...], *kinds: str) -> list[int]:
    """The indexes of the items of the given types."""
    return [i for i, item in enumerate(contents) if item_type(item) in kinds]
