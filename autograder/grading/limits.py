"""The resource limits of one submission's kernel, declared once, and their grading settings.

:class:`Limits` holds each limit in its base unit (bytes, seconds, counts), with its default
and help; :class:`GradingLimits` makes each one an nbgrader setting
(``c.GradingLimits.cell_timeout = 600``) and a flag of the grading command, in the unit it is
set in. :mod:`autograder.grading.sandbox` applies them to the kernel.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, NewType, cast

from traitlets import Bool, Float, Int, TraitType
from traitlets.config import Configurable

_GIB = 1024**3
_MIB = 1024**2

#: Seconds, as a type: a limit's unit is part of its type, so mypy stops a value in the wrong one.
Seconds = NewType("Seconds", float)
#: Bytes, as a type (see :data:`Seconds`).
Bytes = NewType("Bytes", int)


@dataclasses.dataclass(frozen=True)
class Unit:
    """A unit a limit is set in (``nbgrader_config.py``, flags): its name and its size in base units."""

    suffix: str
    size: int
    whole: bool = False

    def to_base(self, value: float) -> int | float:
        """Return ``value`` (in this unit) in base units: bytes or seconds; counts as they are."""
        return int(value * self.size) if self.size > 1 else value


SECONDS, GIB, MIB = Unit("", 1), Unit("gib", _GIB), Unit("mib", _MIB)
COUNT = Unit("", 1, whole=True)


def _about(help: str, unit: Unit | None = None) -> dict[str, Any]:
    """Return a :class:`Limits` field's metadata: its help and the unit it is set in."""
    return {"help": help, "unit": unit}


@dataclasses.dataclass(frozen=True)
class Limits:
    """Resource limits for one submission's kernel: the one place each limit is declared.

    A field with a unit in its metadata is also a grading setting (:class:`GradingLimits`,
    ``c.GradingLimits.<name>`` and ``--<name>``), named after the field plus the unit's suffix,
    with the field's default and help.

    Attributes:
        processes: counted with threads (a process with 10 threads counts 10), the kernel and
            the sandbox's own included; more stop the kernel
            (:class:`~autograder.grading.process_watch.ProcessWatch`).
        disk: ``/tmp`` (the working folder included) and ``/dev/shm`` together, sized tmpfs
            mounts, so memory of the host.
        allow_unenforced: where ``prlimit`` is missing, run without the limits it applies
            (``memory``, ``file_size``, ``open_files``) instead of refusing.
    """

    cell_timeout: Seconds = dataclasses.field(
        default=Seconds(300.0), metadata=_about("Seconds one cell may run.", SECONDS)
    )
    total_timeout: Seconds = dataclasses.field(
        default=Seconds(900.0),
        metadata=_about("Seconds all cells of a submission may run together.", SECONDS),
    )
    memory: Bytes = dataclasses.field(
        default=Bytes(8 * _GIB),
        metadata=_about("Address space (RLIMIT_AS) per kernel process, in GiB.", GIB),
    )
    file_size: Bytes = dataclasses.field(
        default=Bytes(256 * _MIB),
        metadata=_about("Largest file a kernel may write (RLIMIT_FSIZE)."),
    )
    open_files: int = dataclasses.field(
        default=1024, metadata=_about("Most file descriptors per process (RLIMIT_NOFILE).")
    )
    startup_timeout: Seconds = dataclasses.field(
        default=Seconds(60.0),
        metadata=_about("Seconds the kernel may take to answer its first request."),
    )
    threads: int = dataclasses.field(
        default=0,
        metadata=_about(
            "Threads per kernel for OpenMP and TensorFlow (0: cores / workers).", COUNT
        ),
    )
    output_size: Bytes = dataclasses.field(
        default=Bytes(10 * _MIB), metadata=_about("Bytes of output a kernel may send, in MiB.", MIB)
    )
    # Running the assignment's notebook (TensorFlow 2.21, training included), a kernel and its
    # sandbox peaked at 32, 36, 48 and 96 threads with ``threads`` 1, 2, 8 and 32 (about
    # 32 + 2 x threads), and 35 with 0 on 2 cores: 256 leaves room up to about 100 threads per
    # kernel and still stops a thread or fork bomb at a few hundred.
    processes: int = dataclasses.field(
        default=256,
        metadata=_about(
            "Processes and threads per kernel, counted together, the sandbox's own included.", COUNT
        ),
    )
    disk: Bytes = dataclasses.field(
        default=Bytes(1 * _GIB),
        metadata=_about(
            "Files a kernel may keep in /tmp (its working folder) and /dev/shm, in GiB.", GIB
        ),
    )
    allow_unenforced: bool = dataclasses.field(
        default=False,
        metadata=_about(
            "Grade even where prlimit is missing, without the memory, file-size and open-file "
            "limits (not recommended)."
        ),
    )

    def __post_init__(self) -> None:
        for field in (
            "cell_timeout",
            "total_timeout",
            "memory",
            "file_size",
            "startup_timeout",
            "output_size",
            "processes",
            "disk",
        ):
            if getattr(self, field) <= 0:
                raise ValueError(f"Limits.{field} must be positive, got {getattr(self, field)}")

    def for_workers(self, workers: int) -> Limits:
        """Return these limits with ``threads`` 0 made the cores shared among ``workers`` jobs."""
        if self.threads:
            return self
        return dataclasses.replace(self, threads=max(1, (os.cpu_count() or 1) // max(1, workers)))


def _field(name: str) -> dataclasses.Field[Any]:
    return next(f for f in dataclasses.fields(Limits) if f.name == name)


def _setting(name: str) -> TraitType[Any, Any]:
    """Return the trait of the :class:`Limits` field ``name``: its default, in its unit, and help."""
    field = _field(name)
    unit, help_text = field.metadata["unit"], field.metadata["help"]
    trait: TraitType[Any, Any]
    if isinstance(field.default, bool):
        trait = Bool(field.default, help=help_text)
    elif unit.whole:
        trait = Int(cast(int, field.default), help=help_text)
    else:
        trait = Float(field.default / unit.size, help=help_text)
    return trait.tag(config=True, limit=name)


class GradingLimits(Configurable):
    """The limits per submission as nbgrader settings (``c.GradingLimits.cell_timeout = 600``).

    Each setting is a :class:`Limits` field, named after it with its unit's suffix, with its
    default and help; the grading command's flags override the configuration.
    """

    cell_timeout = _setting("cell_timeout")
    total_timeout = _setting("total_timeout")
    memory_gib = _setting("memory")
    disk_gib = _setting("disk")
    max_processes = _setting("processes")
    output_mib = _setting("output_size")
    threads = _setting("threads")
    allow_unenforced = _setting("allow_unenforced").tag(flag="allow-unenforced-limits")

    def limits(self, *, workers: int) -> Limits:
        """Return these settings as :class:`Limits` for ``workers`` parallel jobs."""
        values: dict[str, Any] = {}
        for name, trait in self.traits(limit=lambda v: v is not None).items():
            field = _field(trait.metadata["limit"])
            unit = field.metadata["unit"]
            value = getattr(self, name)
            values[field.name] = value if unit is None else unit.to_base(value)
        return Limits(**values).for_workers(workers)
