"""Text that cannot be encoded: lone surrogates (``"\\ud800"``), found, refused or escaped.

Python strings may hold lone surrogates (a JSON escape such as ``"\\ud800"``, an undecodable
byte in ``argv``, a hostile server reply); UTF-8 cannot encode them, so SQLite, ``str.encode()``
and a UTF-8 stdout raise ``UnicodeEncodeError`` on them.  Input (a jobs file, a request body)
is refused with the path of the bad value; what must be stored or printed anyway (an error
message, a server's id) is escaped: each lone surrogate becomes the six characters ``\\udXXX``,
which inside a JSON string is the same escape a JSON reader turns back into it.
"""

from __future__ import annotations

import re
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")


def has_surrogate(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate (so UTF-8 cannot encode it)."""
    return _SURROGATE.search(text) is not None


def escape_surrogates(text: str) -> str:
    """``text`` with each lone surrogate written as ``\\udXXX`` (always UTF-8 encodable)."""
    if _SURROGATE.search(text) is None:
        return text
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def surrogate_path(value: Any, root: str) -> str | None:
    """The dotted path (from ``root``) of the first string or key in a JSON value holding a
    lone surrogate, or None.  Iterative: any nesting depth json.loads accepts is fine."""
    stack: list[tuple[str, Any]] = [(root, value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if has_surrogate(item):
                return path
        elif isinstance(item, dict):
            for key, child in item.items():
                name = str(key)
                if has_surrogate(name):
                    return f"{path}.{escape_surrogates(name)}"
                stack.append((f"{path}.{name}", child))
        elif isinstance(item, list):
            stack.extend((f"{path}[{i}]", child) for i, child in enumerate(item))
    return None
