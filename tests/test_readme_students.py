"""Does the command the README gives students, run verbatim from the repository root, start a
JupyterLab that serves the labs? (The instructors' commands run in
``test_autograder_end_to_end.py``; the quickstart's are what CI itself runs.)"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import time
import urllib.request

import pytest

from conftest import REPO_ROOT
from support import readme

pytestmark = pytest.mark.slow


def _student_command() -> str:
    blocks = readme.blocks("## For students")
    assert len(blocks) == 1, "the students' section should show one command block"
    return blocks[0].strip()


def test_the_students_command_serves_the_labs_in_jupyterlab(tmp_path):
    command = _student_command()
    assert command == ".venv/bin/jupyter lab labs/"
    config = tmp_path / "config"
    config.mkdir()
    if os.geteuid() == 0:  # CI runs as root, which Jupyter refuses unless its config allows it
        (config / "jupyter_server_config.json").write_text('{"ServerApp": {"allow_root": true}}')
    env = {
        **os.environ,
        "BROWSER": "true",  # no browser to open on a test machine: `true` opens nothing
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTER_CONFIG_DIR": str(config),
    }
    server = subprocess.Popen(
        shlex.split(command),
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        info = None
        deadline = time.monotonic() + 120
        while info is None and time.monotonic() < deadline:
            assert server.poll() is None, "jupyter lab exited"
            found = list((tmp_path / "runtime").glob("jpserver-*.json"))
            info = json.loads(found[0].read_text()) if found else None
            time.sleep(0.5)
        assert info is not None, "jupyter lab did not start within 120 s"
        assert os.path.realpath(info["root_dir"]) == os.path.realpath(REPO_ROOT / "labs")
        url = f"{info['url'].rstrip('/')}/api/contents?token={info['token']}"
        with urllib.request.urlopen(url, timeout=30) as response:
            names = {item["name"] for item in json.load(response)["content"]}
        assert "C2_W2_Relu.ipynb" in names and "C2_W2_SoftMax.ipynb" in names
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
