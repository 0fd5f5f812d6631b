"""What a package index and an installer see: license, version, classifiers, project URLs.

``pyproject.toml`` is read as data, and the installed distribution's metadata (what the build
backend wrote at ``pip install``) is checked against it: a stale install says so.
"""

from __future__ import annotations

import importlib.metadata
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

import kling_async

if sys.version_info >= (3, 11):
    import tomllib
else:  # pytest itself needs tomli on Python 3.10
    import tomli as tomllib

ROOT = Path(kling_async.__file__).resolve().parent.parent
HOME = "https://github.com/kling-async/kling-async"
REQUIRED_CLASSIFIERS = {
    "Development Status :: 4 - Beta",
    "Framework :: AsyncIO",
    "Intended Audience :: Developers",
    "Operating System :: OS Independent",
    "Typing :: Typed",
}
STALE = "the installed metadata does not match pyproject.toml: run `pip install -e .` again"


@pytest.fixture(scope="module")
def project() -> dict[str, Any]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {"project": data["project"], "tool": data.get("tool", {}),
            "build": data["build-system"]}


@pytest.fixture(scope="module")
def installed() -> Any:
    return importlib.metadata.metadata("kling-async")


def _floors(requirements: list[str]) -> dict[str, Version]:
    """name -> the version of its one ``>=`` bound (a requirement without one fails)."""
    floors: dict[str, Version] = {}
    for line in requirements:
        req = Requirement(line)
        lower = [Version(s.version) for s in req.specifier if s.operator == ">="]
        assert len(lower) == 1, f"{line!r} needs exactly one >= floor"
        floors[canonicalize_name(req.name)] = lower[0]
    return floors


def _lowest_pins() -> dict[str, Version]:
    """name -> version of each ``name==version`` line of .ci/lowest.txt."""
    pins: dict[str, Version] = {}
    for line in (ROOT / ".ci" / "lowest.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep and version, f".ci/lowest.txt: {line!r} is not name==version"
            pins[canonicalize_name(name)] = Version(version)
    return pins


def _ci_pythons() -> list[str]:
    script = (ROOT / ".ci" / "pythons").read_text(encoding="utf-8")
    found = re.search(r"^for v in ([\d. ]+); do$", script, re.M)
    assert found, ".ci/pythons lists no versions"
    return found.group(1).split()


def test_the_version_has_one_source(project: dict[str, Any]) -> None:
    """The version is dynamic, read by hatchling from kling_async/__init__.py, which sets
    __version__ exactly once."""
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    path = project["tool"]["hatch"]["version"]["path"]
    assert path == "kling_async/__init__.py"
    text = (ROOT / path).read_text(encoding="utf-8")
    assigned = re.findall(r"^__version__ = \"([^\"]+)\"$", text, re.M)
    assert assigned == [kling_async.__version__]


def test_the_license_is_mit_as_an_spdx_expression_with_its_file(
    project: dict[str, Any],
) -> None:
    """license = "MIT" (SPDX), the LICENSE file ships, and no deprecated License classifier
    contradicts it (PEP 639; indexes refuse both together)."""
    meta = project["project"]
    assert meta["license"] == "MIT" and meta["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n") and "kling_async maintainers" in text
    assert not [c for c in meta["classifiers"] if c.startswith("License ::")]
    backend = " ".join(project["build"]["requires"])
    assert re.search(r"hatchling>=1\.(2[7-9]|[3-9]\d)", backend), "PEP 639 needs hatchling 1.27+"


def test_classifiers_name_every_python_ci_runs(project: dict[str, Any]) -> None:
    """Classifiers say beta, typed, asyncio, OS independent, and exactly the Python versions
    .ci/pythons tests, whose oldest is requires-python's floor."""
    meta = project["project"]
    classifiers = set(meta["classifiers"])
    assert REQUIRED_CLASSIFIERS <= classifiers
    pattern = re.compile(r"Programming Language :: Python :: (3\.\d+)")
    found = [m.group(1) for m in map(pattern.fullmatch, classifiers) if m]
    versions = sorted(found, key=lambda v: tuple(map(int, v.split("."))))
    assert versions == _ci_pythons()
    assert meta["requires-python"] == f">={versions[0]}"


def test_project_urls_point_at_the_public_repository(project: dict[str, Any]) -> None:
    """Homepage, Repository, Changelog and Issues are https links into the project's home;
    the changelog link names a file that exists."""
    urls = project["project"]["urls"]
    assert set(urls) == {"Homepage", "Repository", "Changelog", "Issues"}
    assert all(url.startswith(HOME) for url in urls.values())
    assert urls["Changelog"] == f"{HOME}/blob/main/CHANGELOG.md"
    assert (ROOT / "CHANGELOG.md").is_file()


def test_the_built_metadata_agrees_with_pyproject(
    project: dict[str, Any], installed: Any
) -> None:
    """The metadata the build backend wrote carries the same version, SPDX license, license
    file, classifiers, URLs and Python floor."""
    meta = project["project"]
    assert installed["Version"] == kling_async.__version__, STALE
    assert installed["License-Expression"] == "MIT", STALE
    assert installed.get_all("License-File") == ["LICENSE"], STALE
    assert set(installed.get_all("Classifier")) == set(meta["classifiers"]), STALE
    urls = dict(u.split(", ", 1) for u in installed.get_all("Project-URL"))
    assert urls == meta["urls"], STALE
    assert installed["Requires-Python"] == meta["requires-python"], STALE


def test_the_lowest_constraints_pin_every_runtime_floor(project: dict[str, Any]) -> None:
    """.ci/lowest.txt pins each [project] dependency and the postgres extra to exactly its
    declared floor, and nothing else: the floors CI tests are the floors users are promised."""
    meta = project["project"]
    floors = _floors(meta["dependencies"] + meta["optional-dependencies"]["postgres"])
    assert _lowest_pins() == floors


def test_ci_runs_the_suite_at_the_lowest_versions() -> None:
    """.ci/run calls .ci/lowest after the other Pythons and before the browser step, and
    .ci/lowest installs with .ci/lowest.txt as constraints in a fresh .venv-lowest."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    steps = [line for line in ci if line.startswith("bash .ci/")]
    assert steps == ["bash .ci/pythons", "bash .ci/lowest", "bash .ci/browser"]
    script = (ROOT / ".ci" / "lowest").read_text(encoding="utf-8")
    assert "set -euo pipefail" in script and "rm -rf .venv-lowest" in script
    assert '-c .ci/lowest.txt -e ".[test]"' in script and "python -m pytest" in script
