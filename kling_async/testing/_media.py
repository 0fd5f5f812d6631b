"""Small, real result files: a valid PNG for images, an MP4-shaped payload for videos, and
valid MP3 and WAV audio (a moment of silence).

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


#: One MPEG-1 Layer III frame header: sync, 128 kbit/s, 44.1 kHz, no padding, mono.
_MP3_HEADER = b"\xff\xfb\x90\xc4"
_MP3_FRAME = 417  # 144 * 128000 // 44100 bytes


@lru_cache(maxsize=256)
def mp3_bytes(seed: str, frames: int = 4) -> bytes:
    """An MP3 of ``frames`` silent frames (about 0.1 s) after an ID3v2 tag naming ``seed``:
    zero side information decodes as silence."""
    text = b"\x00" + f"kling_async simulator {seed}".encode()[:200]
    frame = b"TIT2" + struct.pack(">I", len(text)) + b"\x00\x00" + text
    size = len(frame)  # a synchsafe integer: 7 bits per byte
    tag = b"ID3\x03\x00\x00" + bytes((size >> 21 & 0x7F, size >> 14 & 0x7F, size >> 7 & 0x7F,
                                         size & 0x7F)) + frame
    return tag + (_MP3_HEADER + bytes(_MP3_FRAME - len(_MP3_HEADER))) * frames


@lru_cache(maxsize=256)
def wav_bytes(seed: str, rate: int = 8000, samples: int = 800) -> bytes:
    """A RIFF/WAVE file: 16-bit mono PCM at ``rate`` Hz, ``samples`` samples (0.1 s) of a
    near-silent level derived from ``seed``."""
    level = zlib.crc32(seed.encode()) % 16
    data = struct.pack("<h", level) * samples
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def file_bytes(task_id: str, name: str) -> tuple[bytes, str]:
    """The content and content type of result file ``name`` of task ``task_id``."""
    seed = f"{task_id}/{name}"
    if name.endswith(".png"):
        return png_bytes(seed), "image/png"
    if name.endswith(".mp3"):
        return mp3_bytes(seed), "audio/mpeg"
    if name.endswith(".wav"):
        return wav_bytes(seed), "audio/wav"
    return mp4_bytes(seed), "video/mp4"


def file_etag(content: bytes) -> str:
    """The strong ETag of a result file: a quoted hash of its bytes (stable across runs)."""
    return '"' + hashlib.sha256(content).hexdigest()[:32] + '"'
