"""Drive a real JupyterLab in headless Chromium: the server, the browser, and one open notebook."""

from __future__ import annotations

import ast
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
# --headless is added by Playwright too; the rest keep Chromium off the (closed) network.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
VIEWPORT = {"width": 1280, "height": 900}
# Chromium cannot capture images much taller than its maximum texture size.
MAX_SCREENSHOT_HEIGHT = 16_000

# JupyterLab user settings for a deterministic, quiet session: every cell stays in the DOM
# (no virtual scrolling), no autosave into the copied notebooks, no news or update toasts.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}

# JupyterLab 4 renders error outputs like stderr (both as "application/vnd.jupyter.stderr"),
# so errors are read from the notebook model (output type "error") through ``window.jupyterapp``.
STDERR_OUTPUT = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
# Rendered widget views, by kind, and the kernel-side view names that produce them.
WIDGET_KINDS = {
    "slider": (
        ".widget-slider",
        (
            "IntSliderView",
            "FloatSliderView",
            "FloatLogSliderView",
            "IntRangeSliderView",
            "FloatRangeSliderView",
            "SelectionSliderView",
            "SelectionRangeSliderView",
        ),
    ),
    "button": (".widget-button", ("ButtonView",)),
    "text input": (".widget-text", ("TextView", "IntTextView", "FloatTextView")),
    "dropdown": (".widget-dropdown", ("DropdownView",)),
    "checkbox": (".widget-checkbox", ("CheckboxView",)),
    "image": (".widget-image", ("ImageView",)),
    "ipympl figure": (".jupyter-matplotlib-figure", ("MPLCanvasView",)),
}
SLIDER_HANDLE = ".widget-slider .noUi-handle"
TEXT_INPUT = ".widget-text input"
CONTROLS = ".widget-slider, .widget-text, .widget-button, .widget-dropdown, .widget-checkbox"
# Parts of a cell that change when the cell becomes active (focusing a control activates it).
CELL_CHROME = ".jp-OutputPrompt, .jp-Collapser, .jp-OutputArea-promptOverlay"
IPYMPL_CANVAS = ".jupyter-matplotlib-canvas-div canvas"
WIDGET_PROBLEM_TEXTS = ("Loading widget...", "Error displaying widget", "Model not found")

# Counts the live widgets of the kernel by view name, to compare with what the page rendered.
KERNEL_WIDGET_COUNT = (
    "__import__('json').dumps(dict(__import__('collections').Counter("
    "getattr(w, '_view_name', '') for w in list(__import__('ipywidgets').widgets.widget"
    "._instances.values()) if getattr(w, 'comm', None) is not None)))"
)
# JavaScript prelude that finds this notebook's panel in the exposed JupyterLab app.
FIND_PANEL = (
    "const panel = [...window.jupyterapp.shell.widgets('main')]"
    ".find(w => w.context && w.context.path === path);"
    "if (!panel) throw new Error('notebook ' + path + ' is not open');"
)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def jupyter_lab_command(root_dir: Path, state_dir: Path, port: int, token: str) -> list[str]:
    """Return the command line of a private JupyterLab server serving ``root_dir``."""
    return [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root_dir}",
        f"--LabApp.user_settings_dir={state_dir / 'settings'}",
        f"--LabApp.workspaces_dir={state_dir / 'workspaces'}",
        "--LabApp.news_url=",
        "--ServerApp.allow_root=True",
        # Lets the tests read the notebook model (output types) and ask the kernel questions.
        "--LabApp.expose_app_in_browser=True",
    ]


def write_lab_settings(settings_dir: Path) -> None:
    """Write the JupyterLab user settings the browser tests rely on."""
    for relative, values in LAB_SETTINGS.items():
        path = settings_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")


@dataclass
class JupyterLabServer:
    """A JupyterLab process on loopback with its own port, token, settings and runtime dir."""

    root_dir: Path
    state_dir: Path
    port: int = field(default_factory=free_port)
    token: str = field(default_factory=lambda: secrets.token_hex(24))
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> JupyterLabServer:
        """Start the server and wait until its REST API answers."""
        write_lab_settings(self.state_dir / "settings")
        env = dict(os.environ)
        env.update(
            JUPYTER_RUNTIME_DIR=str(self.state_dir / "runtime"),
            JUPYTER_CONFIG_DIR=str(self.state_dir / "config"),
            # Keep the kernels' TF logging out of the stderr outputs we screenshot.
            TF_CPP_MIN_LOG_LEVEL=env.get("TF_CPP_MIN_LOG_LEVEL", "2"),
            PYTHONUNBUFFERED="1",
        )
        env.pop("MPLBACKEND", None)
        self.log_path = self.state_dir / "jupyterlab.log"
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            jupyter_lab_command(self.root_dir, self.state_dir, self.port, self.token),
            cwd=self.root_dir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited early:\n{self.log_tail()}")
            with contextlib.suppress(OSError, urllib.error.URLError):
                self.api("GET", "/api/status")
                return self
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"jupyter lab did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def api(self, method: str, path: str):
        """Call the server's REST API and return the decoded JSON (or None)."""
        request = urllib.request.Request(
            f"{self.url}{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def lab_url(self, notebook: str) -> str:
        """Return the URL that opens ``notebook`` (relative to the root) in a fresh workspace."""
        return f"{self.url}/lab/tree/{notebook}?reset&token={self.token}"

    def shutdown_kernels(self) -> None:
        """Delete every session and kernel, as File > Shut Down All Kernels would."""
        for session in self.api("GET", "/api/sessions") or []:
            with contextlib.suppress(urllib.error.HTTPError):
                self.api("DELETE", f"/api/sessions/{session['id']}")
        for kernel in self.api("GET", "/api/kernels") or []:
            with contextlib.suppress(urllib.error.HTTPError):
                self.api("DELETE", f"/api/kernels/{kernel['id']}")

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except (OSError, AttributeError):
            return ""

    def stop(self) -> None:
        """Stop the server's whole process group (server and kernels)."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(Exception):
            self.shutdown_kernels()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def launch_chromium(playwright, user_data_dir: Path):
    """Launch Debian's Chromium through Playwright with a fresh profile; return the context."""
    return playwright.chromium.launch_persistent_context(
        str(user_data_dir),
        executable_path=str(CHROMIUM),
        headless=True,
        args=list(CHROMIUM_ARGS),
        viewport=VIEWPORT,
        device_scale_factor=1,
    )


def copy_notebooks(repo_root: Path, dest: Path) -> None:
    """Copy ``labs/`` and ``assignment/`` into ``dest`` so the tests never touch the repo."""
    ignore = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc")
    for folder in ("labs", "assignment"):
        if (repo_root / folder).is_dir():
            shutil.copytree(repo_root / folder, dest / folder, ignore=ignore)


def release_with_solutions(path: Path) -> None:
    """Rewrite an nbgrader source notebook in place as the students' release plus solutions.

    Hidden tests are removed with nbgrader's own ``ClearHiddenTests`` preprocessor; the
    reference solutions stay, so every cell runs and every visible test passes.
    """
    import nbformat
    from nbgrader.preprocessors import ClearHiddenTests

    nb = nbformat.read(path, as_version=4)
    nb, _ = ClearHiddenTests().preprocess(nb, {})
    nbformat.write(nb, path)


class NotebookTimeout(AssertionError):
    """The notebook did not finish running in time."""


class LabNotebook:
    """One notebook open in JupyterLab, with the checks the browser tests make."""

    def __init__(self, page, server: JupyterLabServer, name: str):
        self.page = page
        self.server = server
        self.name = name
        self.panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)").first

    # -- opening and running -------------------------------------------------------------
    def open(self, timeout_s: float = 90) -> LabNotebook:
        """Open the notebook and wait until its kernel is idle."""
        self.page.goto(self.server.lab_url(self.name), wait_until="domcontentloaded")
        self.panel.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=timeout_s * 1000)
        self.wait_kernel_idle(timeout_s)
        self.collapse_left_sidebar()
        # JupyterLab ignores Run All Cells for a moment after the kernel first reports idle.
        self.page.wait_for_timeout(1500)
        return self

    def kernel_status(self) -> str:
        """Return the toolbar's kernel status (``idle``, ``busy``, ``starting``...)."""
        indicator = self.panel.locator(".jp-Notebook-ExecutionIndicator")
        if indicator.count() == 0:
            return ""
        return indicator.first.get_attribute("data-status") or ""

    def wait_kernel_idle(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.kernel_status() == "idle":
                return
            self.page.wait_for_timeout(250)
        raise NotebookTimeout(
            f"{self.name}: kernel not idle after {timeout_s:.0f} s (status {self.kernel_status()!r})"
        )

    def run_all_cells(self, timeout_s: float = 420) -> float:
        """Choose Run > Run All Cells in the menu bar; wait until the kernel is done. Return seconds.

        Like in JupyterLab, a cell that raises stops the run: later cells stay unexecuted
        (see ``unexecuted_cells``).
        """
        started = time.monotonic()
        self.run_all_attempts = 0
        while not self._any_ran():
            if self.run_all_attempts == 3:
                raise NotebookTimeout(f"{self.name}: Run > Run All Cells did not start any cell")
            self.run_all_attempts += 1
            self.panel.locator(".jp-Notebook").first.click(position={"x": 5, "y": 5})
            self.page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            self.page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
            # The menu command is ignored while the notebook is still settling: retry then.
            self._wait_for(self._any_ran, 5)
        self.wait_until_finished(timeout_s)
        return time.monotonic() - started

    def _any_ran(self) -> bool:
        return any(p[1:2] == "*" or p[1:2].isdigit() for p in self.prompts())

    def _wait_for(self, condition, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if condition():
                return True
            self.page.wait_for_timeout(200)
        return False

    def prompts(self) -> list[str]:
        """Return the input prompt of every code cell whose source is not blank."""
        return self.panel.evaluate(
            """panel => [...panel.querySelectorAll('.jp-CodeCell')]
                .filter(cell => (cell.querySelector('.jp-InputArea-editor')?.innerText || '')
                    .trim() !== '')
                .map(cell => cell.querySelector('.jp-InputPrompt')?.innerText.trim() || '')"""
        )

    def unexecuted_cells(self) -> list[int]:
        """Return the (0-based) indices, among non-blank code cells, of cells that never ran."""
        return [i for i, p in enumerate(self.prompts()) if not p[1:2].isdigit()]

    def wait_until_finished(self, timeout_s: float) -> None:
        """Wait until no cell is queued or running and the kernel is idle."""
        deadline = time.monotonic() + timeout_s
        # The kernel is idle between two queued cells, so insist on three calm polls in a row.
        calm = 0
        while time.monotonic() < deadline:
            pending = any(p[1:2] == "*" for p in self.prompts())
            calm = calm + 1 if not pending and self.kernel_status() == "idle" else 0
            if calm >= 3:
                return
            self.page.wait_for_timeout(500)
        raise NotebookTimeout(
            f"{self.name}: cells still running after {timeout_s:.0f} s; prompts {self.prompts()}"
        )

    # -- inspecting ----------------------------------------------------------------------
    def _eval(self, body: str):
        return self.page.evaluate(f"async (path) => {{ {FIND_PANEL} {body} }}", self.name)

    def error_outputs(self) -> list[str]:
        """Return ``cell N: EName: value`` for every error output in the notebook."""
        return self._eval(
            """const found = [];
            panel.content.widgets.forEach((cell, i) => {
                if (cell.model.type !== 'code') return;
                for (let j = 0; j < cell.model.outputs.length; j++) {
                    const out = cell.model.outputs.get(j).toJSON();
                    if (out.output_type === 'error')
                        found.push(`cell ${i}: ${out.ename}: ${out.evalue}`);
                }
            });
            return found;"""
        )

    def shown_traceback_count(self) -> int:
        """Count outputs on the page that show a Python traceback."""
        return self.panel.locator(
            STDERR_OUTPUT, has_text="Traceback (most recent call last)"
        ).count()

    def kernel_widget_counts(self) -> dict[str, int]:
        """Ask the notebook's kernel how many live widgets of each kind it created."""
        raw = self._eval(
            f"""const kernel = panel.sessionContext.session.kernel;
            const future = kernel.requestExecute({{code: '', silent: true, store_history: false,
                user_expressions: {{counts: {json.dumps(KERNEL_WIDGET_COUNT)}}}}});
            const reply = await future.done;
            const result = reply.content.user_expressions.counts;
            if (result.status !== 'ok') return 'ERROR ' + result.ename + ': ' + result.evalue;
            return result.data['text/plain'];"""
        )
        if raw.startswith("ERROR"):
            raise AssertionError(f"{self.name}: could not count the kernel's widgets: {raw}")
        # The expression's value comes back as its repr: a quoted JSON string.
        by_view = json.loads(ast.literal_eval(raw))
        return {
            kind: sum(by_view.get(view, 0) for view in views)
            for kind, (_selector, views) in WIDGET_KINDS.items()
        }

    def rendered_widget_counts(self) -> dict[str, int]:
        """Count the rendered widget views of each kind inside cell outputs."""
        return {
            kind: self.count(f".jp-OutputArea-output {selector}")
            for kind, (selector, _views) in WIDGET_KINDS.items()
        }

    def count(self, selector: str) -> int:
        return self.panel.locator(selector).count()

    def count_text(self, text: str) -> int:
        return self.panel.locator(".jp-OutputArea-output", has_text=text).count()

    def widget_problems(self) -> list[str]:
        """Return the widget placeholder or error messages shown instead of widgets."""
        return [t for t in WIDGET_PROBLEM_TEXTS if self.count_text(t)]

    def wait_widgets_settled(self, timeout_s: float = 30) -> None:
        """Wait until no widget placeholder says it is still loading."""
        self._wait_for(lambda: not self.count_text("Loading widget..."), timeout_s)

    # -- interacting ---------------------------------------------------------------------
    def drawing_state(self, control) -> tuple:
        """Return what the notebook draws: its ipympl canvases' pixels and the control's cell.

        The cell's outputs are captured with every input control, the prompts and the active-cell
        marker masked out, so a moving slider handle, its readout or the cell becoming active
        never counts as a change of the drawing.
        """
        canvases = self._eval(
            f"""return [...panel.node.querySelectorAll({json.dumps(IPYMPL_CANVAS)})]
                .filter(c => c.width > 0 && c.height > 0).map(c => c.toDataURL());"""
        )
        outputs = control.locator("xpath=ancestor::div[contains(@class, 'jp-Cell-outputWrapper')]")
        picture = outputs.first.screenshot(
            mask=[self.panel.locator(CONTROLS), self.panel.locator(CELL_CHROME)],
            animations="disabled",
            caret="hide",
        )
        return tuple(canvases), picture

    def settled_drawing_state(self, control, timeout_s: float = 15) -> tuple:
        """Return the drawing once two captures in a row agree (figures may still be drawing)."""
        state = self.drawing_state(control)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.page.wait_for_timeout(300)
            latest = self.drawing_state(control)
            if latest == state:
                return state
            state = latest
        raise AssertionError(f"{self.name}: the drawing keeps changing by itself")

    def wait_for_drawing_change(self, control, before: tuple, timeout_s: float = 30) -> bool:
        """Wait until the drawing differs from ``before``; return whether it did."""
        return self._wait_for(lambda: self.drawing_state(control) != before, timeout_s)

    def first_slider(self):
        return self.panel.locator(f".jp-OutputArea-output {SLIDER_HANDLE}").first

    def first_text_input(self):
        return self.panel.locator(f".jp-OutputArea-output {TEXT_INPUT}").first

    def nudge_first_slider(self, presses: int = 5) -> object:
        """Focus the first slider's handle and press the arrow key; return the slider."""
        handle = self.first_slider()
        handle.scroll_into_view_if_needed()
        value = float(handle.get_attribute("aria-valuenow") or 0)
        top = float(handle.get_attribute("aria-valuemax") or 0)
        key = "ArrowLeft" if value >= top else "ArrowRight"
        handle.focus()
        for _ in range(presses):
            handle.press(key)
            self.page.wait_for_timeout(100)
        return handle

    def type_in_first_text_input(self) -> object:
        """Type a new value into the first text input and press Enter; return the input."""
        box = self.first_text_input()
        box.scroll_into_view_if_needed()
        old = box.input_value()
        new = "1.5" if old.strip() not in ("1.5", "1.50") else "-2"
        box.fill(new)
        box.press("Enter")
        return box

    def collapse_left_sidebar(self) -> None:
        """Hide the file browser so the notebook gets the page's width, as students often do."""
        tab = self.page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
        if tab.count():
            tab.first.click()

    def screenshot(self, path: Path) -> Path:
        """Save a screenshot of the whole notebook, growing the window to fit it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        # The notebook scrolls inside its panel: measure it, then show it all at once.
        height = self.panel.evaluate(
            """panel => {
                const scroller = panel.querySelector('.jp-WindowedPanel-outer')
                    || panel.querySelector('.jp-Notebook');
                scroller.scrollTop = 0;
                const cells = panel.querySelectorAll('.jp-Cell');
                const last = cells[cells.length - 1];
                return last.getBoundingClientRect().bottom + 40;
            }"""
        )
        full = min(max(VIEWPORT["height"], int(height) + 60), MAX_SCREENSHOT_HEIGHT)
        self.page.set_viewport_size({"width": VIEWPORT["width"], "height": full})
        try:
            self.page.wait_for_timeout(500)
            self.page.screenshot(path=str(path))
        finally:
            self.page.set_viewport_size(VIEWPORT)
        return path

    def close(self) -> None:
        """Close the page and shut the notebook's kernel down."""
        with contextlib.suppress(Exception):
            self.page.close()
        self.server.shutdown_kernels()


def missing_widgets(created: dict[str, int], rendered: dict[str, int]) -> list[str]:
    """Describe each kind of widget the kernel created more often than the page rendered it."""
    return [
        f"{kind}: kernel created {created[kind]}, page rendered {rendered.get(kind, 0)}"
        for kind in created
        if rendered.get(kind, 0) < created[kind]
    ]


def make_notebook(path: Path, cells: list[str]) -> Path:
    """Write a small notebook whose code cells are ``cells``; return its path."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[new_code_cell(source) for source in cells])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path
