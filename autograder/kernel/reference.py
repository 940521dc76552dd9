"""Read the reference data in ``autograder/reference/`` (package data; a sandbox lacks it)."""

from __future__ import annotations

import json
from importlib import resources


class ReferenceUnavailable(RuntimeError):
    """Raise when the reference data cannot be read (e.g. hidden by a grading sandbox)."""


def load() -> dict:
    """Return ``{"softmax": {...}, "model": {...}}`` read from this package's JSON files."""
    data = {}
    try:
        for key in ("softmax", "model"):
            text = (
                resources.files("autograder")
                .joinpath(f"reference/{key}.json")
                .read_text(encoding="utf-8")
            )
            data[key] = json.loads(text)
    except (OSError, ValueError) as err:
        raise ReferenceUnavailable(f"reference data not readable: {err}") from err
    return data
