"""Shared helpers for the "Neural network training" course notebooks.

Import the topic module a lab needs, e.g. ``from lab_utils import data, style``.
Importing this package changes no global state; call :func:`lab_utils.style.use`
to apply the course look.
"""

__version__ = "0.1.0"
