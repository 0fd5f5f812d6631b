"""The SDK's one warning class, in a module of its own so that every layer can raise it."""

from __future__ import annotations


class KlingWireWarning(UserWarning):
    """A payload or request used a form the SDK accepts but would not send as is: the legacy
    ``model`` key, a new-standard model id the SDK does not know, a prompt past the length
    the reference recommends."""
