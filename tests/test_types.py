"""Does `mypy --strict` (configured in pyproject.toml) pass on autograder/?"""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import REPO_ROOT


@pytest.mark.slow  # about 20 s from a cold cache
def test_mypy_strict_passes_on_the_autograder_package():
    # mypy is in the test extra: a missing one fails here (no skip), as CI must run it.
    done = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr
