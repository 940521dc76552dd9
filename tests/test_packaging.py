"""The package metadata, the conda environment and the installed package agree."""

from __future__ import annotations

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
