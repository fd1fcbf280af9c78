"""Validation helpers shared by every spec: each raises a CnngenError naming the option."""

from __future__ import annotations

from pathlib import Path

from cnngen.core.spec import check_identifier
from cnngen.errors import CnngenError


def check_module(param: str, value: str) -> None:
    """A module name reaches an import line: dotted identifiers only."""
    for part in value.split("."):
        check_identifier(param, part)


def check_positive(param: str, value: int) -> None:
    if value < 1:
        raise CnngenError(f"{param}: must be >= 1, got {value}", param)


def check_fraction(value: float) -> None:
    if not 0.0 < value < 1.0:
        raise CnngenError(
            f"--val-fraction: must lie between 0 and 1, got {value}; e.g. 0.2", "--val-fraction"
        )


def check_path(param: str, value: str | None, suffixes: tuple[str, ...]) -> None:
    """Paths are written as repr'd strings; only the suffix is checked."""
    if value is None:
        return
    if not value or Path(value).suffix not in suffixes:
        raise CnngenError(
            f"{param}: {value!r} is not a {' or '.join(suffixes)} file; "
            f"save the array with numpy.save or numpy.savez",
            param,
        )
