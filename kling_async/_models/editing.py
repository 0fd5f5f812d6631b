"""Multi-elements video editing, the task step (reference §2.10).

``POST /v1/videos/multi-elements``.

The selection steps before it (init, add, delete, clear, preview) are synchronous calls, run in
order by ``MultiElementsSession``; this request is the final, asynchronous step.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import attrs

from .._errors import ValidationError
from .._validators import items_of, one_of, to_tuple
from .fields import MODE
from .parts import NEGATIVE_PROMPT, PROMPT, TEXT, CommonFields

EditMode = Literal["addition", "swap", "removal"]
#: Images each edit mode takes: (at least, at most).
IMAGES_PER_MODE: dict[str, tuple[int, int]] = {
    "addition": (1, 2), "swap": (1, 1), "removal": (0, 0),
}


@attrs.frozen(kw_only=True)
class EditImage:
    """An ``image_list`` item of a multi-elements edit (Base64 or URL; not cropped)."""

    image: str = attrs.field(validator=TEXT)


def _to_images(value: Iterable[EditImage]) -> tuple[EditImage, ...]:
    return to_tuple(value)


@attrs.frozen(kw_only=True)
class MultiElementsRequest(CommonFields):
    """``POST /v1/videos/multi-elements``: add, swap or remove the selected elements of the
    session's video.  ``duration`` ``"5"`` needs a 2-5 s input, ``"10"`` a 7-10 s one."""

    session_id: str = attrs.field(validator=TEXT)
    edit_mode: EditMode = attrs.field(validator=one_of(*IMAGES_PER_MODE))
    prompt: str = attrs.field(validator=[TEXT, PROMPT])
    image_list: tuple[EditImage, ...] = attrs.field(
        default=(), converter=_to_images, validator=items_of(EditImage)
    )
    negative_prompt: str | None = attrs.field(default=None, validator=[TEXT, NEGATIVE_PROMPT])
    mode: Literal["std", "pro"] | None = attrs.field(default=None, validator=MODE)
    duration: Literal["5", "10"] | None = attrs.field(default=None, validator=one_of("5", "10"))

    def __attrs_post_init__(self) -> None:
        low, high = IMAGES_PER_MODE[self.edit_mode]
        if not low <= len(self.image_list) <= high:
            wanted = "no images" if high == 0 else f"{low}-{high} image(s)"
            raise ValidationError("image_list", f"edit_mode {self.edit_mode!r} takes {wanted}",
                                  len(self.image_list))
