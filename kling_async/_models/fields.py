"""Fields and rules shared by the catalogue's request classes (reference §2.7-§2.20).

``CallbackFields`` is the common tail of the task endpoints that take no ``watermark_info``
(effects, audio, elements, voices, ai-multi-shot, try-on); the others use ``parts.CommonFields``.
``exactly_one`` checks the "exactly one of A or B" rules the reference states for media inputs.
"""

from __future__ import annotations

from typing import Any

import attrs

from .._errors import ValidationError
from .._validators import check_encodable, in_range, max_len, one_of
from .parts import TEXT

MODE = one_of("std", "pro", hints={"standard": "use 'std'", "professional": "use 'pro'"})
VOLUME = in_range(0, 2)
MS = in_range(0, 2**53, integer=True)
SHORT_PROMPT = max_len(200)


@attrs.frozen(kw_only=True)
class CallbackFields:
    """``callback_url`` and ``external_task_id`` (reference §2.1), without ``watermark_info``."""

    external_task_id: str | None = attrs.field(default=None, validator=TEXT)
    callback_url: str | None = attrs.field(default=None, validator=TEXT)


def each_text(inst: object, attr: attrs.Attribute[Any], value: Any) -> None:
    """Validator: ``value`` is a tuple of non-empty strings that UTF-8 can carry."""
    if not isinstance(value, tuple):
        raise ValidationError(attr.name, "must be a list of strings", value)
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise ValidationError(f"{attr.name}[{i}]", "must be a non-empty string", item)
        check_encodable(f"{attr.name}[{i}]", item)


def exactly_one(owner: Any, *names: str, prefix: str = "") -> str:
    """The one of ``names`` set on ``owner`` (not None, not empty); ``ValidationError`` naming
    the first field when none or several are set."""
    present = [name for name in names if getattr(owner, name) not in (None, "", ())]
    if len(present) != 1:
        given = ", ".join(present) if present else "none"
        raise ValidationError(
            prefix + names[0], f"exactly one of {' or '.join(names)} must be set (given: {given})",
            None,
        )
    return present[0]
