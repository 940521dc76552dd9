"""Execute the course notebooks headlessly and render them to HTML (the main job).

Run ``nn-course run`` (or ``python -m autograder.runner run``) from the repository root. The
course's own check that every notebook runs: developer and CI tooling, so it lives beside the
grader (whose notebook-execution core, :mod:`autograder.notebooks`, it shares), not in the
students' ``lab_utils``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from autograder import notebooks

if TYPE_CHECKING:
    from nbformat import NotebookNode

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "build" / "course"
#: Per-notebook seconds of the last run, kept in the output folder to schedule the next one.
TIMINGS_FILE = "timings.json"
#: Seconds a course notebook's cell may run (the longest, a 200-epoch training, takes ~10 s).
CELL_TIMEOUT = 900


@dataclasses.dataclass(frozen=True)
class NotebookResult:
    """Hold the outcome of executing one notebook."""

    path: Path
    seconds: float
    status: Literal["ok", "error"]
    error: str = ""
    executed: Path | None = None
    html: Path | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def course_notebooks(root: Path = REPO_ROOT) -> list[Path]:
    """Return the labs and the assignment source notebook, in teaching order."""
    labs = sorted((root / "labs").glob("*.ipynb"))
    assignment = sorted((root / "assignment").glob("*/*.ipynb"))
    return labs + assignment


class NotebookFailed(RuntimeError):
    """Raise when a notebook does not run to its end; the message names the cell."""


def _why(run: notebooks.CellsRun, nb: NotebookNode) -> str:
    """Return one line saying where and why ``run`` stopped."""
    if run.stop == notebooks.Stop.CELL_ERROR:
        return next(iter(notebooks.error_lines(nb)), _first_line(run.error))
    where = "" if run.index is None else f"cell {run.index + 1}: "
    detail = _first_line(run.error) if run.error is not None else ""
    stop = "" if run.stop is None else run.stop.value
    return f"{where}{stop}" + (f" ({detail})" if detail else "")


def execute_notebook(path: str | Path, *, timeout: int = CELL_TIMEOUT) -> NotebookNode:
    """Execute a notebook top to bottom in a fresh kernel and return the executed notebook.

    Raises :class:`NotebookFailed` naming the cell that failed.
    """
    import nbformat

    path = Path(path)
    nb: NotebookNode = nbformat.read(path, as_version=4)
    run = notebooks.execute_notebook(nb, cwd=path.parent, cell_timeout=timeout)
    if run.stop is not None:
        raise NotebookFailed(f"{path.name}: {_why(run, nb)}")
    return nb


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def static_figures(nb: NotebookNode) -> NotebookNode:
    """Return a copy of ``nb`` whose outputs show their static image instead of a widget view.

    An ipympl figure's output carries both a widget view and a PNG of the figure; HTML export
    would show the widget, which renders nothing without a kernel, so keep only the PNG.
    """
    import copy

    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_VIEW in data and "image/png" in data:
                del data[WIDGET_VIEW]
    return nb


def _run_one(path: Path, out_dir: Path, timeout: int) -> NotebookResult:
    import nbformat
    from nbconvert import HTMLExporter

    start = time.perf_counter()
    nb = nbformat.read(path, as_version=4)
    out_dir.mkdir(parents=True, exist_ok=True)
    executed = out_dir / path.name
    with open(executed.with_suffix(".kernel.log"), "wb") as kernel_log:
        run = notebooks.execute_notebook(
            nb, cwd=path.parent, cell_timeout=timeout, kernel_log=kernel_log
        )
    status: Literal["ok", "error"] = "ok" if run.stop is None else "error"
    error = "" if run.stop is None else _why(run, nb)
    seconds = time.perf_counter() - start
    nbformat.write(nb, executed)
    exporter = HTMLExporter()  # type: ignore[no-untyped-call]  # nbconvert's is unannotated
    html_body, _ = exporter.from_notebook_node(static_figures(nb))
    html = executed.with_suffix(".html")
    html.write_text(html_body, encoding="utf-8")
    return NotebookResult(path, seconds, status, error, executed, html)


def _first_line(err: BaseException | None) -> str:
    if err is None:
        return ""
    text = str(err).strip()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    # CellExecutionError's last non-empty line is "<Name>: <message>".
    return lines[-1] if lines else type(err).__name__


def thread_env(jobs: int, cores: int | None = None) -> dict[str, str]:
    """Return environment settings that share ``cores`` among ``jobs`` concurrent kernels."""
    cores = cores or os.cpu_count() or 1
    return notebooks.thread_env(cores // max(1, jobs))


def _init_worker(env: dict[str, str]) -> None:
    # Kernels inherit the worker's environment, so N notebooks do not oversubscribe N cores.
    os.environ.update(env)


def run_course(
    *,
    notebooks: list[Path] | None = None,
    out_dir: Path = DEFAULT_OUT,
    jobs: int | None = None,
    timeout: int = CELL_TIMEOUT,
) -> list[NotebookResult]:
    """Execute notebooks concurrently and return their results in the given order.

    Notebooks start longest first, by the times the previous run recorded in ``out_dir``,
    so that no core idles at the end waiting for one long notebook.
    """
    notebooks = list(notebooks if notebooks is not None else course_notebooks())
    jobs = max(1, jobs or os.cpu_count() or 1)
    workers = min(jobs, len(notebooks) or 1)
    timings_file = Path(out_dir) / TIMINGS_FILE
    timings = _read_timings(timings_file)
    # Notebooks without a recorded time may be long: start them first.
    start_order = sorted(notebooks, key=lambda nb: -timings.get(nb.name, math.inf))
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=workers, initializer=_init_worker, initargs=(thread_env(workers),)
    ) as pool:
        futures = {nb: pool.submit(_run_one, nb, out_dir, timeout) for nb in start_order}
        results = [futures[nb].result() for nb in notebooks]
    timings.update({r.path.name: round(r.seconds, 2) for r in results if r.ok})
    timings_file.parent.mkdir(parents=True, exist_ok=True)
    timings_file.write_text(json.dumps(timings, indent=1, sort_keys=True))
    return results


def _read_timings(path: Path) -> dict[str, float]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: float(v) for k, v in data.items() if isinstance(v, int | float)}


def format_table(results: list[NotebookResult]) -> str:
    """Return a plain-text table of notebook, seconds and status."""
    width = max([len(r.path.name) for r in results] + [8])
    rows = [f"{'notebook':<{width}}  {'seconds':>8}  status"]
    for r in results:
        status = r.status if r.ok else f"{r.status}: {r.error}"
        rows.append(f"{r.path.name:<{width}}  {r.seconds:8.1f}  {status}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the course."""
    parser = argparse.ArgumentParser(prog="nn-course", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute every notebook and write executed copies + HTML")
    run.add_argument("notebooks", nargs="*", type=Path, help="notebooks (default: all)")
    run.add_argument("--jobs", type=int, default=os.cpu_count(), help="notebooks run at once")
    run.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    run.add_argument("--timeout", type=int, default=CELL_TIMEOUT, help="seconds allowed per cell")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    results = run_course(
        notebooks=args.notebooks or None, out_dir=args.out, jobs=args.jobs, timeout=args.timeout
    )
    print(format_table(results))
    print(
        f"total wall time {time.perf_counter() - start:.1f} s with --jobs {args.jobs}; "
        f"outputs in {args.out}"
    )
    failed = [r for r in results if not r.ok]
    for r in failed:
        print(f"FAILED {r.path}: {r.error}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
