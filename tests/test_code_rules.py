"""Code rules of the package that no linter checks: no generated code, imports at the top."""

from __future__ import annotations

import ast
import pathlib

import kling_async

PACKAGE_DIR = pathlib.Path(kling_async.__file__).parent
SOURCES = sorted(PACKAGE_DIR.rglob("*.py"))
FORBIDDEN_CALLS = frozenset({"exec", "eval", "compile"})


def _called_name(node: ast.Call) -> str | None:
    """The builtin a call goes to: ``exec(...)`` or ``builtins.exec(...)`` (not
    ``re.compile(...)``); None for any other call."""
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
            and func.value.id == "builtins"):
        return func.attr
    return None


def _code_runners(path: pathlib.Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        f"{path.relative_to(PACKAGE_DIR)}:{node.lineno}: {name}()"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and (name := _called_name(node)) in FORBIDDEN_CALLS
    ]


def test_the_package_is_found() -> None:
    """The scan below sees the package's modules (an empty scan would pass vacuously)."""
    names = {path.name for path in SOURCES}
    assert {"_wire.py", "_results.py", "_client.py"} <= names


def test_no_module_runs_generated_code() -> None:
    """No exec(), eval() or compile() call anywhere in the package: every function is plain
    code a reader, a traceback and mypy can see."""
    found = [hit for path in SOURCES for hit in _code_runners(path)]
    assert found == []


def test_no_module_imports_halfway_down() -> None:
    """No `noqa: E402` in the package: a module's imports are at its top, so a module never
    hides a second one glued below it."""
    found = [
        f"{path.relative_to(PACKAGE_DIR)}:{number}"
        for path in SOURCES
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "noqa: E402" in line
    ]
    assert found == []
