"""The README stays true to the package: every public error is in its errors table."""

from __future__ import annotations

import pathlib
import re

import kling_async
import kling_async.batch

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _errors_section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("## Errors\n")
    return text[start:text.index("\n## ", start + 1)]


def test_the_errors_table_lists_every_public_error() -> None:
    """Each KlingError subclass exported by kling_async or kling_async.batch is named in the
    README's errors table."""
    section = _errors_section()
    public = {
        name
        for module in (kling_async, kling_async.batch)
        for name in module.__all__
        if isinstance(getattr(module, name), type)
        and issubclass(getattr(module, name), kling_async.KlingError)
    }
    missing = sorted(name for name in public if f"`{name}`" not in section
                     and f"`kling_async.batch.{name}`" not in section)
    assert public and missing == [], missing


def test_every_link_works_outside_the_repository() -> None:
    """The README is also the package's page on PyPI: its links are absolute URLs (or anchors
    within the page), never paths into the repository."""
    links = re.findall(r"\]\(([^)]+)\)", (ROOT / "README.md").read_text())
    assert links and [link for link in links if not link.startswith(("https://", "#"))] == []
