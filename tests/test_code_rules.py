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


#: The longest function a reader should have to hold in mind (issue 13: "no function over ~60").
MAX_FUNCTION_LINES = 60


def _long_functions(path: pathlib.Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        f"{path.relative_to(PACKAGE_DIR)}:{node.lineno}: {node.name} ({length} lines)"
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and (length := (node.end_lineno or node.lineno) - node.lineno + 1) > MAX_FUNCTION_LINES
    ]


def test_no_function_is_longer_than_a_screen() -> None:
    """No function or method in the package is over 60 lines (docstring included)."""
    found = [hit for path in SOURCES for hit in _long_functions(path)]
    assert found == []


#: Attributes without a leading underscore that are internals all the same (json's C scanner).
_UNDOCUMENTED = frozenset({"scan_once"})


def _private_library_attributes(path: pathlib.Path) -> list[str]:
    """``x._name`` reads where ``x`` is a library module or an aiohttp/json object we hold:
    a private attribute of aiohttp or json (``session._connector``, ``json.decoder._x``)."""
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text, filename=str(path))
    library_names = {"aiohttp", "json", "session", "_session", "resp", "response", "connector"}
    hits = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        if node.attr in _UNDOCUMENTED:
            hits.append(f"{path.relative_to(PACKAGE_DIR)}:{node.lineno}: .{node.attr}")
            continue
        if not node.attr.startswith("_") or node.attr.startswith("__"):
            continue
        base = node.value
        while isinstance(base, ast.Attribute):
            base = base.value
        name = base.id if isinstance(base, ast.Name) else None
        owner = node.value.attr if isinstance(node.value, ast.Attribute) else name
        if name in {"aiohttp", "json"} or owner in library_names:
            hits.append(f"{path.relative_to(PACKAGE_DIR)}:{node.lineno}: .{node.attr}")
    return hits


def test_no_private_attribute_of_aiohttp_or_json_is_used() -> None:
    """The package reads no private attribute of aiohttp or json (they change without notice:
    the C scanner behind json.loads, a session's hidden retry flag)."""
    found = [hit for path in SOURCES for hit in _private_library_attributes(path)]
    assert found == []
