"""Small, real result files: a valid PNG for images, an MP4-shaped payload for videos.

The PNG is built with ``zlib`` and ``struct`` (signature, IHDR, IDAT, IEND, correct CRCs); its
colour derives from the task id so different tasks give different bytes.  The video is a
minimal ISO-BMFF sequence (``ftyp``, ``free``, ``mdat`` boxes): enough for sniffers and
download code, not meant to play.  ``file_etag`` is the strong ETag a file is served with.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from functools import lru_cache

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


@lru_cache(maxsize=256)
def png_bytes(seed: str, width: int = 4, height: int = 4) -> bytes:
    """A ``width`` x ``height`` RGB PNG whose colour is derived from ``seed``."""
    digest = zlib.crc32(seed.encode())
    rgb = bytes(((digest >> 16) & 0xFF, (digest >> 8) & 0xFF, digest & 0xFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    raw = b"".join(b"\x00" + rgb * width for _ in range(height))
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(raw))
        + _chunk(b"IEND", b"")
    )


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


@lru_cache(maxsize=256)
def mp4_bytes(seed: str) -> bytes:
    """An MP4-like payload: ``ftyp`` (isom), a ``free`` box naming ``seed``, a small ``mdat``."""
    ftyp = _box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2avc1mp41")
    free = _box(b"free", f"kling_async simulator {seed}".encode())
    mdat = _box(b"mdat", bytes(range(256)) * 4)
    return ftyp + free + mdat


def file_bytes(task_id: str, name: str) -> tuple[bytes, str]:
    """The content and content type of result file ``name`` of task ``task_id``."""
    if name.endswith(".png"):
        return png_bytes(f"{task_id}/{name}"), "image/png"
    return mp4_bytes(f"{task_id}/{name}"), "video/mp4"


def file_etag(content: bytes) -> str:
    """The strong ETag of a result file: a quoted hash of its bytes (stable across runs)."""
    return '"' + hashlib.sha256(content).hexdigest()[:32] + '"'
