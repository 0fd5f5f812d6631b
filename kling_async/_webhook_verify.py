"""Checking a webhook request (reference §5.3): Standard Webhooks signatures and delivery ids.

- ``load_secrets``: the receiver's secrets (several during a rotation on our side), each a
  ``standardwebhooks.Webhook``; ``ConfigurationError`` naming which one is unusable, never
  echoing it.
- ``verify``: a tri-state verdict (plus ``REPLAYED``) for one request: the three
  ``webhook-*`` headers, a timestamp within ``TOLERANCE`` seconds of this machine's clock, and
  at least one ``v1,<base64>`` entry of ``webhook-signature`` (several, space-separated,
  during Kling's rotation) matching one of our secrets over the raw body bytes.  The
  signatures themselves are checked by the ``standardwebhooks`` package; the headers are
  screened first, so a malformed entry beside a good one (which that package would raise on)
  is skipped, and no header of any size costs more than ``MAX_SIGNATURES`` HMACs per secret.
- ``SeenIds``: the delivery ids already handled, with their body digests: a bounded LRU.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import re
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from ._errors import ConfigurationError

#: Seconds a signed request's ``webhook-timestamp`` may differ from this machine's clock (the
#: Standard Webhooks tolerance, which the ``standardwebhooks`` package also enforces).
TOLERANCE = 300
#: Signature entries looked at per request (Kling sends one, or two during a rotation).
MAX_SIGNATURES = 8
#: The longest ``webhook-id`` accepted.
MAX_ID_LENGTH = 256
_SECRET = re.compile(r"(whsec_)?[A-Za-z0-9+/]+={0,2}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_HEADER_LIMIT = 4096

#: Headers as a mapping (a dict, aiohttp's ``CIMultiDictProxy``) or ASGI's (name, value) pairs.
Headers = Mapping[str, str] | Iterable[tuple[str | bytes, str | bytes]]


class Verdict(enum.Enum):
    """What the signature headers of one request say."""

    VERIFIED = "verified"  # a v1 signature by one of our secrets, timestamp in tolerance
    UNSIGNED = "unsigned"  # none of the three webhook-* headers
    FORGED = "forged"  # headers present but incomplete, malformed, or no signature matches
    REPLAYED = "replayed"  # a well-formed timestamp outside the tolerance


def load_secrets(secrets: str | Sequence[str] | None) -> tuple[Webhook, ...]:
    """One ``Webhook`` per secret (``whsec_`` + base64, as Kling's console shows it; a string
    may hold several separated by commas or spaces); ``ConfigurationError`` for an unusable
    one, naming only its position."""
    if secrets is None:
        return ()
    if isinstance(secrets, str):
        items = [s for s in re.split(r"[\s,]+", secrets) if s]
    else:
        items = list(secrets)
    loaded = []
    for number, secret in enumerate(items, start=1):
        loaded.append(_load_secret(number, secret))
    return tuple(loaded)


def _load_secret(number: int, secret: object) -> Webhook:
    if not isinstance(secret, str):
        problem = "is not text"
    elif not _SECRET.fullmatch(secret):
        problem = "is not whsec_ followed by base64"
    else:
        try:
            return Webhook(secret)
        except Exception:  # binascii.Error, an empty key: never show the value
            problem = "does not decode to a key"
    raise ConfigurationError(f"webhook secret #{number} {problem} (copy it from the Kling "
                             "console: Basic Settings -> Webhook)")


def header_map(headers: Headers) -> dict[str, str]:
    """The ``webhook-*`` headers, names lower-cased, the first of each name (bytes from ASGI
    read as Latin-1)."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    found: dict[str, str] = {}
    for name, value in pairs:
        key = (name.decode("latin-1") if isinstance(name, bytes) else str(name)).lower()
        if key.startswith("webhook-") and key not in found:
            found[key] = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    return found


def verify(keys: Sequence[Webhook], headers: Mapping[str, str], body: bytes) -> Verdict:
    """The verdict on a request whose ``webhook-*`` headers (see ``header_map``) and raw body
    are given, by this machine's clock."""
    msg_id = headers.get("webhook-id")
    stamp = headers.get("webhook-timestamp")
    signature = headers.get("webhook-signature")
    if msg_id is None and stamp is None and signature is None:
        return Verdict.UNSIGNED
    if not (msg_id and stamp and signature) or len(msg_id) > MAX_ID_LENGTH:
        return Verdict.FORGED
    if len(stamp) > _HEADER_LIMIT or not _TIMESTAMP.fullmatch(stamp.strip()):
        return Verdict.FORGED
    if abs(time.time() - int(stamp.strip())) > TOLERANCE:
        return Verdict.REPLAYED
    entries = _v1_entries(signature)
    if not entries:
        return Verdict.FORGED
    screened = {"webhook-id": msg_id, "webhook-timestamp": stamp.strip(),
                "webhook-signature": " ".join(entries)}
    return _check(keys, screened, body)


def _v1_entries(header: str) -> list[str]:
    """The well-formed ``v1,<base64>`` entries of a ``webhook-signature`` header (at most
    ``MAX_SIGNATURES``); other versions and malformed entries are skipped."""
    if len(header) > _HEADER_LIMIT:
        return []
    found = []
    for entry in header.split()[:MAX_SIGNATURES]:
        version, comma, value = entry.partition(",")
        if version != "v1" or not comma or "," in value:
            continue
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            continue
        found.append(entry)
    return found


def _check(keys: Sequence[Webhook], headers: dict[str, str], body: bytes) -> Verdict:
    """``VERIFIED`` if one of ``keys`` signed it (per the ``standardwebhooks`` package)."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:  # Kling signs JSON text; the package would raise on it
        return Verdict.FORGED
    for key in keys:
        try:
            key.verify(body, headers, json_parse=False)
        except WebhookVerificationError as exc:
            if "timestamp" in str(exc):  # its clock disagrees with ours at the edge
                return Verdict.REPLAYED
            continue
        except Exception:  # anything the package did not foresee is no signature of ours
            continue
        return Verdict.VERIFIED
    return Verdict.FORGED


Seen = Literal["new", "duplicate", "conflict"]


class SeenIds:
    """The ``webhook-id`` of each handled delivery with the SHA-256 of its body, at most
    ``size`` of them (the least recently seen is forgotten first): about 40 bytes plus the id
    each.  A redelivery older than that is handled again, which is harmless (a job's status
    never goes back)."""

    __slots__ = ("_size", "_ids")

    def __init__(self, size: int) -> None:
        self._size = size
        self._ids: OrderedDict[str, bytes] = OrderedDict()

    def __len__(self) -> int:
        return len(self._ids)

    def check(self, msg_id: str, body: bytes) -> Seen:
        """Whether ``msg_id`` is new, the same delivery again, or a different body under an
        id seen before."""
        digest = self._ids.get(msg_id)
        if digest is None:
            return "new"
        self._ids.move_to_end(msg_id)
        return "duplicate" if digest == hashlib.sha256(body).digest() else "conflict"

    def add(self, msg_id: str, body: bytes) -> None:
        """Remember a handled delivery (forgetting the oldest one past ``size``)."""
        self._ids[msg_id] = hashlib.sha256(body).digest()
        self._ids.move_to_end(msg_id)
        while len(self._ids) > self._size:
            self._ids.popitem(last=False)
