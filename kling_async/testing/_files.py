"""Result files as the simulator serves them: the streaming knobs and the ``Range`` rule.

``FileServing`` is a test knob each simulator owns (``file_serving(sim)`` or
``sim.file_serving``); ``requested_range`` reads one byte range the way a CDN does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal, Protocol

import attrs

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)
Span = tuple[int, int] | Literal["unsatisfiable"] | None


@attrs.define(kw_only=True)
class FileServing:
    """How the simulator streams result files: a test knob (default: each body in one write).

    - ``chunk_bytes``: write bodies in pieces of at most this many bytes (None: one piece);
    - ``pieces``: or write each body in this many pieces of about equal size, so every file
      takes ``(pieces - 1) * chunk_delay`` whatever its size;
    - ``chunk_delay``: real seconds to wait before each piece but the first;
    - ``cut_after`` / ``cuts``: the next ``cuts`` bodies stop after ``cut_after`` bytes and
      the connection is closed, like a CDN dropping a download mid-stream.

    ``file_serving(sim)`` is the simulator's own, mutable; ``reset()`` leaves it as it is.
    """

    chunk_bytes: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.ge(1)))
    pieces: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.ge(1)))
    chunk_delay: float = attrs.field(default=0.0, validator=attrs.validators.ge(0.0))
    cut_after: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    cuts: int = attrs.field(default=0, validator=attrs.validators.ge(0))

    def piece_size(self, length: int) -> int:
        """The size of the pieces a body of ``length`` bytes is written in."""
        if self.pieces is not None:
            return max(1, -(-length // self.pieces))
        return self.chunk_bytes or max(1, length)


class HasFileServing(Protocol):
    """Anything that owns ``FileServing`` knobs, such as ``KlingSimulator``."""

    @property
    def file_serving(self) -> FileServing: ...


def file_serving(sim: HasFileServing) -> FileServing:
    """The ``FileServing`` knobs of ``sim`` (its own, mutable): ``sim.file_serving``."""
    return sim.file_serving


def requested_range(headers: Mapping[str, str], etag: str, size: int) -> Span:
    """The one byte range asked for, ``(first, last)`` inclusive; ``"unsatisfiable"``; or None
    for the whole file (no ``Range``, an ``If-Range`` other than ``etag``, malformed, several)."""
    header = headers.get("Range")
    if header is None:
        return None
    if_range = headers.get("If-Range")
    if if_range is not None and if_range.strip() != etag:
        return None  # strong comparison; a date never matches (no Last-Modified is served)
    match = _RANGE.match(header)
    if match is None:
        return None
    first, last = match.groups()
    if not first:
        if not last:
            return None
        wanted = int(last)
        return (max(0, size - wanted), size - 1) if wanted and size else "unsatisfiable"
    start = int(first)
    if last and int(last) < start:
        return None  # an invalid range-spec: ignored
    if start >= size:
        return "unsatisfiable"
    return start, min(int(last), size - 1) if last else size - 1
