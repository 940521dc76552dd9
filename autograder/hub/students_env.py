"""The students' environment: the course's package from a wheel, the public packages shared.

Students' servers, terminals and kernels must not run the repository's editable install: it
imports the package from the repository, which then has to be readable by every account, and
with it the solutions (``assignment/``), the hidden tests and sample answers (``tests/``) and
the history (``.git``). So at each start the hub builds a wheel of the repository (``pip wheel
--no-deps``: what setuptools packages, ``lab_utils`` and ``autograder`` with their package
data, nothing else) and installs it, not editable, into a virtual environment in the state
folder, which the students' servers, terminals and kernels run.

The third-party packages (TensorFlow, JupyterLab, nbgrader, JupyterHub, ...) are public and
large: installing them again at every start would take minutes. The environment reaches the
repository venv's site-packages by a line in a ``.pth`` file instead. A folder that a ``.pth``
line adds goes on ``sys.path`` without its own ``.pth`` files being processed, so the
repository's editable finder (``__editable__.*.pth``) never runs there, and the wheel's copy,
first on the path, is what ``import autograder`` finds. The wheel is installed before that line
exists, so that pip never sees the repository's editable install (and never offers to remove
it). What else the public packages bring is linked or wrapped: Jupyter's data and
configuration folders (``share/jupyter``: JupyterLab's extensions; ``etc/jupyter``: the server
extensions enabled) and a small script in ``bin/`` per console script (``jupyterhub-singleuser``,
``jupyter``, ``jupyter-lab``, ``nbgrader``, ...).

The wheel is built offline, with ``.venv``'s own build requirements (``.ci/setup`` installs
them), and outside the repository: setuptools would write ``build/`` and the ``.egg-info``
into the source tree, and a module deleted since an earlier build would linger in
``build/lib`` and ship. ``DIST_EXTRA_CONFIG``, an extra setuptools configuration file, moves
both into the build's temporary folder.

A restart builds the wheel again (seconds) and keeps the environment when the wheel's
``RECORD`` (every file's hash), the interpreter and the shared site-packages are unchanged.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import venv
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from autograder.hub.layout import REPO_ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

#: The distribution the wheel holds (its own console scripts come from pip's install).
DISTRIBUTION = "nn-training-course"
#: The ``.pth`` file that puts the repository venv's third-party packages on the path.
SHARED_PTH = "course-third-party.pth"
#: Jupyter's folders under a prefix that the public packages fill (data, configuration).
JUPYTER_FOLDERS = (Path("share") / "jupyter", Path("etc") / "jupyter")


class StudentsEnvError(RuntimeError):
    """The students' environment cannot be built; the message says what to do."""


@dataclass(frozen=True)
class StudentsEnv:
    """A students' environment: a virtual environment at ``prefix``."""

    prefix: Path

    @property
    def bin(self) -> Path:
        return self.prefix / "bin"

    @property
    def python(self) -> Path:
        return self.bin / "python"

    @property
    def site_packages(self) -> Path:
        return Path(sysconfig.get_path("purelib", vars={"base": self.prefix}))

    @property
    def stamp(self) -> Path:
        """What the environment was built from, written last (a half-built one has none)."""
        return self.prefix / "built-from.txt"


def shared_site_packages() -> list[Path]:
    """Return the site-packages folders of the environment running the hub (``.venv``)."""
    paths = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    return [Path(p) for p in sorted(paths)]


def build_requirements() -> list[str]:
    """Return the package's build requirements (``[build-system] requires``, pyproject.toml)."""
    with (REPO_ROOT / "pyproject.toml").open("rb") as project:
        return list(tomllib.load(project)["build-system"]["requires"])


def missing_build_requirements() -> list[str]:
    """Return the build requirements that the running environment does not satisfy."""
    from packaging.requirements import Requirement

    missing = []
    for line in build_requirements():
        requirement = Requirement(line)
        try:
            version = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(line)
            continue
        if not requirement.specifier.contains(version, prereleases=True):
            missing.append(f"{line} (found {version})")
    return missing


def build_wheel(into: Path) -> Path:
    """Build the repository's wheel in the folder ``into`` (nothing is written elsewhere)."""
    missing = missing_build_requirements()
    if missing:
        raise StudentsEnvError(
            f"{sys.prefix} lacks the package's build requirements ({', '.join(missing)}):"
            " run bash .ci/setup, which installs them, or pip install them there"
        )
    config = into / "setup.cfg"
    config.write_text(
        f"[build]\nbuild_base = {into / 'build'}\n[egg_info]\negg_base = {into}\n",
        encoding="utf-8",
    )
    pip_wheel = ["pip", "wheel", "--quiet", "--no-deps", "--no-index", "--no-build-isolation"]
    done = subprocess.run(
        [sys.executable, "-m", *pip_wheel, "--wheel-dir", str(into), str(REPO_ROOT)],
        env={**os.environ, "DIST_EXTRA_CONFIG": str(config)},
        capture_output=True,
        text=True,
    )
    wheels = sorted(into.glob("*.whl"))
    if done.returncode != 0 or len(wheels) != 1:
        raise StudentsEnvError(
            f"pip wheel {REPO_ROOT} failed ({done.returncode}):\n{done.stderr[-3000:]}"
        )
    return wheels[0]


def _origin(wheel: Path) -> str:
    """Return what an environment built from ``wheel`` depends on, one fact per line."""
    with zipfile.ZipFile(wheel) as archive:
        (record,) = [n for n in archive.namelist() if n.endswith(".dist-info/RECORD")]
        digest = hashlib.sha256(archive.read(record)).hexdigest()
    # The interpreter a virtual environment was made from (CPython's; typeshed does not list it).
    base: str = sys._base_executable  # type: ignore[attr-defined]
    return "\n".join(
        [
            f"wheel {wheel.name} RECORD sha256 {digest}",
            f"python {os.path.realpath(base)}",
            *(f"shared {path}" for path in shared_site_packages()),
        ]
    )


def _install(env: StudentsEnv, wheel: Path) -> None:
    """Create the environment afresh and install ``wheel`` into it (pip writes its scripts)."""
    shutil.rmtree(env.prefix, ignore_errors=True)
    venv.EnvBuilder(with_pip=False, symlinks=True).create(env.prefix)
    pip_install = ["pip", "--python", str(env.python), "install", "--quiet", "--no-index"]
    done = subprocess.run(
        [sys.executable, "-m", *pip_install, "--no-deps", str(wheel)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise StudentsEnvError(
            f"pip install {wheel.name} into {env.prefix} failed:\n{done.stderr[-3000:]}"
        )


def _console_script(python: Path, entry: importlib.metadata.EntryPoint) -> str:
    """Return a console script for ``entry`` run by ``python``, as pip would write it."""
    return (
        f"#!{python}\n"
        "import sys\n\n"
        f"from {entry.module} import {entry.attr.split('.')[0]}\n\n"
        'if __name__ == "__main__":\n'
        f"    sys.exit({entry.attr}())\n"
    )


def _share_public_packages(env: StudentsEnv) -> int:
    """Put the repository venv's third-party packages within ``env``'s reach: the ``.pth``
    line, Jupyter's folders, their console scripts; return how many scripts were written."""
    shared = shared_site_packages()
    (env.site_packages / SHARED_PTH).write_text(
        "".join(f"{path}\n" for path in shared), encoding="utf-8"
    )
    for folder in JUPYTER_FOLDERS:
        source, link = Path(sys.prefix) / folder, env.prefix / folder
        if link.is_symlink() or link.exists():
            link.unlink()
        if source.is_dir():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(source, target_is_directory=True)
    written = 0
    for dist in sorted(
        importlib.metadata.distributions(path=[str(p) for p in shared]),
        key=lambda d: d.metadata["Name"] or "",
    ):
        name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        if name == DISTRIBUTION:  # the repository's editable install: the wheel replaced it
            continue
        for entry in dist.entry_points:
            if entry.group not in ("console_scripts", "gui_scripts"):
                continue
            script = env.bin / entry.name
            script.write_text(_console_script(env.python, entry), encoding="utf-8")
            script.chmod(0o755)
            written += 1
    return written


def ensure_students_env(
    prefix: Path, say: Callable[[str], None] = lambda line: None
) -> StudentsEnv:
    """Build the students' environment at ``prefix``, or keep it when its wheel is unchanged.

    Run by root at each start of the hub; everything written is readable by every account
    (umask 022 for the while), nothing by a student writable.
    """
    env = StudentsEnv(Path(os.path.abspath(prefix)))
    started = time.monotonic()
    umask = os.umask(0o022)
    try:
        env.prefix.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".wheel-", dir=env.prefix.parent) as scratch:
            wheel = build_wheel(Path(scratch))
            origin = _origin(wheel)
            kept = env.stamp.is_file() and env.stamp.read_text(encoding="utf-8") == origin
            if not kept:
                env.stamp.unlink(missing_ok=True)
                _install(env, wheel)
        scripts = _share_public_packages(env)
        env.stamp.write_text(origin, encoding="utf-8")
    finally:
        os.umask(umask)
    what = "kept (same wheel)" if kept else f"built from {wheel.name}"
    say(
        f"class hub: students' environment {env.prefix}: {what}, with the course venv's"
        f" third-party packages and {scripts} of their scripts, in"
        f" {time.monotonic() - started:.1f} s"
    )
    return env
