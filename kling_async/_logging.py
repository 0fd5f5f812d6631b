"""``KLING_LOG``: turn on the ``kling_async`` logger from the environment, as ``OPENAI_LOG``.

``KLING_LOG=debug`` or ``KLING_LOG=info`` gives the ``kling_async`` logger that level and one
stderr handler with a readable line format (wall-clock time, level, logger, message).  It is
read when the package is imported and again when a client is created (so a notebook may set
it late); the handler is added once, never twice.  Any other value is ignored with a warning.
The CLI's ``-v/--verbose`` calls ``enable(logging.DEBUG)``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

ENV_LOG = "KLING_LOG"
LOG_FORMAT = "[%(asctime)s %(levelname)s %(name)s] %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
#: The name of the handler this module adds (how it finds it again).
HANDLER_NAME = "kling_async:KLING_LOG"

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO}
_warned: set[str] = set()

log = logging.getLogger("kling_async")


def configure_from_env(env: Mapping[str, str] | None = None) -> None:
    """Apply ``KLING_LOG`` (of ``env``, by default ``os.environ``) if it is set."""
    raw = (os.environ if env is None else env).get(ENV_LOG, "").strip()
    if not raw:
        return
    level = _LEVELS.get(raw.lower())
    if level is not None:
        enable(level)
    elif raw not in _warned:
        _warned.add(raw)
        log.warning("%s=%r is ignored: use %s", ENV_LOG, raw[:40], " or ".join(_LEVELS))


def enable(level: int) -> None:
    """Log ``kling_async`` records of ``level`` and above to stderr: one handler, added once;
    a level already more verbose is kept."""
    if not any(handler.get_name() == HANDLER_NAME for handler in log.handlers):
        handler = logging.StreamHandler()  # sys.stderr
        handler.set_name(HANDLER_NAME)
        handler.setFormatter(logging.Formatter(LOG_FORMAT, DATE_FORMAT))
        log.addHandler(handler)
    if log.level == logging.NOTSET or level < log.level:
        log.setLevel(level)
