"""Report grading progress and results: progress bar, JSON-lines stream, table and CSV."""

from __future__ import annotations

import csv
import json
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING

from tqdm import tqdm

if TYPE_CHECKING:
    from autograder.grading.planning import Plan
    from autograder.grading.recording import Outcome


class Progress:
    """Show a progress bar with ETA on stderr and write JSON lines (done, total, ETA)."""

    def __init__(self, *, total: int, json_path: str | None = None, bar: bool = True) -> None:
        self.total = total
        self.done = 0
        self.start = time.monotonic()
        self._bar = tqdm(total=total, unit="submission", file=sys.stderr, disable=not bar)
        self._stream: IO[str] | None = None
        if json_path == "-":
            self._stream = sys.stdout
        elif json_path:
            self._stream = open(json_path, "a", encoding="utf-8")  # noqa: SIM115
        self._emit(None)

    def eta(self) -> float | None:
        """Return the estimated seconds left, or None before the first result."""
        if self.done == 0:
            return None
        rate = (time.monotonic() - self.start) / self.done
        return round(rate * (self.total - self.done), 1)

    def _emit(self, outcome: Outcome | None) -> None:
        if self._stream is None:
            return
        line: dict[str, object] = {
            "done": self.done,
            "total": self.total,
            "elapsed_s": round(time.monotonic() - self.start, 1),
            "eta_s": self.eta(),
        }
        if outcome is not None:
            line.update(student=outcome.student, status=outcome.status, score=outcome.score)
        self._stream.write(json.dumps(line) + "\n")
        self._stream.flush()

    def update(self, outcome: Outcome) -> None:
        """Count one finished submission."""
        self.done += 1
        self._bar.update(1)
        self._bar.set_postfix_str(f"{outcome.student}: {outcome.status}", refresh=False)
        self._emit(outcome)

    def close(self) -> None:
        """Close the bar and the JSON stream (not stdout)."""
        self._bar.close()
        if self._stream is not None and self._stream is not sys.stdout:
            self._stream.close()


def format_table(rows: Iterable[Outcome]) -> str:
    """Return the final table: student, score, max, time, status (and sandbox)."""
    header = ("student", "score", "max", "time_s", "status", "sandbox")
    lines = [header]
    for row in rows:
        lines.append(
            (
                row.student,
                f"{row.score:g}",
                f"{row.max_score:g}",
                f"{row.seconds:.1f}",
                row.status,
                "yes" if row.sandbox else "NO (--no-sandbox)",
            )
        )
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True))
        for line in lines
    )


def write_csv(rows: Iterable[Outcome], plan: Plan, folder: Path) -> Path:
    """Write the table with one column per graded test to ``<folder>/<assignment>.csv``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{plan.assignment}.csv"
    fields = ["student", "score", "max_score", "seconds", "status", "reason", "sandbox"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*fields, *plan.test_ids])
        for row in rows:
            writer.writerow(
                [
                    row.student,
                    row.score,
                    row.max_score,
                    round(row.seconds, 2),
                    row.status,
                    row.reason,
                    row.sandbox,
                    *(row.tests.get(g, 0.0) for g in plan.test_ids),
                ]
            )
    return path
