"""The package metadata, the conda environment and the installed package agree."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import tomllib
import yaml
from packaging.requirements import Requirement

from conftest import REPO_ROOT

# pip extras that conda spells as separate packages, and pip wheels conda spells otherwise:
# conda-forge's one `tensorflow` installs its CPU build where there is no CUDA.
CONDA_SPELLING = {"dask[distributed]": ["dask", "distributed"], "tensorflow-cpu": ["tensorflow"]}


def _pyproject():
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())


def _pip_requirements() -> dict[str, str]:
    project = _pyproject()["project"]
    extras = project["optional-dependencies"]
    reqs = project["dependencies"] + extras["grading"] + extras["hub"] + extras["test"]
    out = {}
    for text in reqs:
        req = Requirement(text)
        names = CONDA_SPELLING.get(
            f"{req.name}[{','.join(sorted(req.extras))}]" if req.extras else req.name, [req.name]
        )
        for name in names:
            out[name.lower()] = str(req.specifier)
    return out


def _conda_requirements() -> dict[str, str]:
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    out = {}
    for dep in env["dependencies"]:
        if isinstance(dep, str) and dep.split(">")[0].split("=")[0] not in {"python", "pip"}:
            req = Requirement(dep)
            out[req.name.lower()] = str(req.specifier)
    return out


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    assert _conda_requirements() == _pip_requirements()


def test_environment_yml_python_matches_requires_python():
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    assert python.removeprefix("python") == _pyproject()["project"]["requires-python"]


def test_dependencies_pin_lower_bounds_not_exact_versions():
    for name, spec in _pip_requirements().items():
        assert spec.startswith(">="), f"{name} should pin a lower bound, got {spec!r}"
        assert "==" not in spec


def test_style_sheet_ships_as_package_data():
    package_data = _pyproject()["tool"]["setuptools"]["package-data"]["lab_utils"]
    assert "styles/*.mplstyle" in package_data
    assert (REPO_ROOT / "lab_utils" / "styles" / "course.mplstyle").is_file()


def test_every_platform_gets_exactly_one_tensorflow_wheel_of_the_same_minimum():
    """Is tensorflow-cpu installed on Linux x86-64 and tensorflow elsewhere, never both?"""
    reqs = [Requirement(t) for t in _pyproject()["project"]["dependencies"]]
    wheels = [r for r in reqs if r.name in {"tensorflow", "tensorflow-cpu"}]
    assert len({str(r.specifier) for r in wheels}) == 1, "one minimum version for both wheels"
    for system, machine, expected in [
        ("linux", "x86_64", "tensorflow-cpu"),
        ("linux", "aarch64", "tensorflow"),
        ("darwin", "arm64", "tensorflow"),
        ("win32", "AMD64", "tensorflow"),
    ]:
        env = {"sys_platform": system, "platform_machine": machine}
        chosen = [r.name for r in wheels if r.marker is None or r.marker.evaluate(env)]
        assert chosen == [expected], (system, machine)


#: Where our modules run, and so which extras they may rely on beside the base dependencies
#: (the base set is what a student's kernel has: lab_utils, autograder.kernel, the notebook
#: runner). A room is a package or a module's dotted name; the longest match decides.
ROOM_EXTRAS = {
    "lab_utils": set(),
    "autograder": set(),
    "autograder.grading": {"grading"},
    "autograder.feedback": {"grading"},
    "autograder.__main__": {"grading"},
    # The hub runs the grading side too (the watcher, the gradebook), as its docs install it.
    "autograder.hub": {"grading", "hub"},
}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared(extras: set[str]) -> set[str]:
    """Return the distributions the base dependencies and ``extras`` declare, a requirement's
    own extras included (``dask[distributed]`` declares ``distributed``); markers ignored."""
    project = _pyproject()["project"]
    texts = project["dependencies"] + [
        t for extra in sorted(extras) for t in project["optional-dependencies"][extra]
    ]
    names = set()
    for text in texts:
        req = Requirement(text)
        names.add(_normalise(req.name))
        for extra in req.extras:
            for sub in importlib.metadata.requires(req.name) or []:
                sub_req = Requirement(sub)
                if sub_req.marker is not None and sub_req.marker.evaluate({"extra": extra}):
                    names.add(_normalise(sub_req.name))
    return names


def _third_party_imports(path: Path) -> set[str]:
    """Return the top-level names of the modules ``path`` imports that are not ours nor the
    standard library's (imports under a version check, such as tomli's, included)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    ours = {"lab_utils", "autograder", "__future__"}
    return {n for n in names if n not in sys.stdlib_module_names and n not in ours}


def _package_modules() -> list[tuple[str, Path]]:
    modules = []
    for package in ("lab_utils", "autograder"):
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            dotted = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
            if not dotted.startswith("autograder.course"):  # course data, not packaged
                modules.append((dotted, path))
    return modules


def test_every_third_party_import_is_a_declared_dependency_of_its_room():
    """Does each module's extra (or the base set) declare every package the module imports?"""
    distributions = importlib.metadata.packages_distributions()
    undeclared = []
    for dotted, path in _package_modules():
        room = max((r for r in ROOM_EXTRAS if f"{dotted}.".startswith(f"{r}.")), key=len)
        declared = _declared(ROOM_EXTRAS[room])
        for name in sorted(_third_party_imports(path)):
            # An import's distribution, or the import's own name where it is not installed
            # (tomli on Python 3.11).
            provided_by = {_normalise(d) for d in distributions.get(name, [name])}
            if not provided_by & declared:
                undeclared.append(f"{dotted} imports {name} ({', '.join(sorted(provided_by))})")
    assert undeclared == [], "declare these in pyproject.toml (and environment.yml)"


def test_the_import_check_sees_an_undeclared_import(tmp_path):
    """Would the check above catch a module importing a package no extra declares?"""
    module = tmp_path / "probe.py"
    module.write_text("import pandas\nfrom scipy import ndimage\nimport json\n", encoding="utf-8")
    assert _third_party_imports(module) == {"pandas", "scipy"}
    assert "pandas" not in _declared(set()) and "scipy" in _declared(set())
    assert "distributed" in _declared({"grading"}) and "distributed" not in _declared(set())


def _constraints() -> dict[str, str]:
    lines = (REPO_ROOT / ".ci" / "constraints.txt").read_text(encoding="utf-8").splitlines()
    pins = {}
    for line in lines:
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[_normalise(name)] = version.strip()
    return pins


def test_ci_constraints_pin_every_declared_dependency_within_its_lower_bound():
    """Does .ci/constraints.txt fix the version of every dependency CI installs (Linux x86-64,
    base and the grading, hub and test extras), at a version pyproject.toml allows?"""
    pins = _constraints()
    project = _pyproject()["project"]
    extras = project["optional-dependencies"]
    texts = project["dependencies"] + extras["grading"] + extras["hub"] + extras["test"]
    ci = {"sys_platform": "linux", "platform_machine": "x86_64", "python_version": "3.11"}
    wrong = []
    for text in texts:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate(ci):
            continue
        pinned = pins.get(_normalise(req.name))
        if pinned is None or not req.specifier.contains(pinned):
            wrong.append(f"{text}: pinned {pinned}")
    assert wrong == []
    build = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    for text in build:  # .ci/setup installs these with the same constraints
        assert Requirement(text).specifier.contains(pins[_normalise(Requirement(text).name)])


def test_every_group_the_suite_starts_first_names_a_shared_group_or_a_test_file():
    from conftest import LONGEST_FIRST, SHARED_GROUPS

    tests = Path(__file__).parent
    unknown = [g for g in LONGEST_FIRST if g not in SHARED_GROUPS and not (tests / g).is_file()]
    assert unknown == []
    for files in SHARED_GROUPS.values():
        assert all((tests / name).is_file() for name in files), files
