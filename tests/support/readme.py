"""Read the README's command blocks, so tests run exactly what it shows."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def section(heading: str, path: Path = README) -> str:
    """Return the README's section that starts with the line ``heading``, up to the next
    heading of the same or a higher level (lines inside code blocks are not headings)."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.rstrip("\n") == heading)
    level = len(heading.split(" ")[0])
    fenced = False
    for end in range(start + 1, len(lines)):
        line = lines[end]
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(rf"#{{1,{level}}} ", line):
            return "".join(lines[start:end])
    return "".join(lines[start:])


def blocks(heading: str, fence: str = "bash", path: Path = README) -> list[str]:
    """Return the fenced ``fence`` blocks of the section ``heading``, in order."""
    return re.findall(rf"```{fence}\n(.*?)```", section(heading, path), flags=re.DOTALL)
