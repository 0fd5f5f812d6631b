"""The simulator's parts meet through explicit public seams (``SimState``, ``file_serving``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from kling_async.testing import FileServing, KlingSimulator, file_serving

TESTING = Path(__file__).parent.parent / "kling_async" / "testing"


def _foreign_private_reads(path: Path) -> list[str]:
    """``obj._name`` reads in a module where ``obj`` is not ``self`` or ``cls``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Attribute) or not node.attr.startswith("_"):
            continue
        if node.attr.startswith("__") and node.attr.endswith("__"):
            continue
        owner = node.value
        if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
            continue
        found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_simulator_module_reads_another_objects_private_attributes() -> None:
    """Routes, state and server use each other's public attributes only."""
    modules = sorted(TESTING.glob("*.py"))
    assert len(modules) > 10
    assert [hit for path in modules for hit in _foreign_private_reads(path)] == []


@pytest.mark.anyio
async def test_file_serving_is_the_simulators_own_and_survives_reset() -> None:
    """``file_serving(sim)`` is ``sim.file_serving``: one per simulator, kept by ``reset()``."""
    async with KlingSimulator() as sim:
        knobs = file_serving(sim)
        assert knobs is sim.file_serving
        assert isinstance(knobs, FileServing)
        knobs.cuts = 2
        sim.reset()
        assert file_serving(sim) is knobs and knobs.cuts == 2
    assert file_serving(KlingSimulator()) is not knobs
