"""The package and its tests are fully typed and lint-clean: mypy --strict and ruff run inside
the suite."""

from __future__ import annotations

import pathlib
import re
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _tool(name: str) -> list[str]:
    found = shutil.which(name, path=str(pathlib.Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", name]


def test_mypy_strict_passes_on_the_package() -> None:
    """`mypy --strict kling_async` reports no issue (py.typed is honest)."""
    run = subprocess.run([*_tool("mypy"), "--strict", "kling_async"], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr


def test_mypy_strict_passes_on_the_tests() -> None:
    """`mypy --strict tests` (pyproject's [tool.mypy]: the modules it relaxes by name only)
    reports no issue: the suite's helpers and fixtures are typed like the package."""
    run = subprocess.run([*_tool("mypy"), "--strict", "tests"], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr


def test_mypy_with_no_arguments_checks_the_package_and_the_tests() -> None:
    """Plain `mypy` (what an editor or CI runs) covers both kling_async and tests."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    section = pyproject.split("[tool.mypy]\n", 1)[1].split("\n[", 1)[0]
    assert "strict = true\n" in section
    assert re.search(r'^files = \["kling_async", "tests"\]', section, re.MULTILINE), section


def test_ruff_is_clean() -> None:
    """`ruff check` finds nothing in the package, tests, benchmarks and examples."""
    run = subprocess.run([*_tool("ruff"), "check", "kling_async", "tests", "benchmarks",
                          "examples"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr


def test_readme_set_up_commands_are_the_ci_command() -> None:
    """`.ci/run` runs the README's second set-up command verbatim, before the other Pythons."""
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    command = next(line for line in ci if "pytest" in line)
    assert f"```bash\n{command}\n```" in readme
    assert ci.index(command) < ci.index("bash .ci/pythons")


def test_ci_runs_every_supported_python() -> None:
    """`.ci/pythons` covers 3.10 to 3.13, as `requires-python` promises."""
    script = (ROOT / ".ci" / "pythons").read_text()
    assert "for v in 3.10 3.11 3.12 3.13; do" in script
