"""What every check of ``cnngen verify`` shares: outcomes, tolerances and timing.

Imported only inside the child process (it imports torch).  A check is a
function of the running :class:`~cnngen.verify.child.Verifier` that returns
``(message, details)`` when it passes and raises :class:`Skip`,
:class:`Warn` or :class:`CheckFailed` otherwise.
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import torch

from cnngen.deploy.export import ABSOLUTE_TOLERANCE, RELATIVE_TOLERANCE, tolerance
from cnngen.deploy.modelfile import Fatal, describe_error
from cnngen.deploy.onnx_export import max_difference

Verifier = Any
"""The running :class:`cnngen.verify.child.Verifier`, as the checks see it.

Spelled ``Any`` so that the checks need not import the module that imports them.
"""

__all__ = [
    "Verifier",
    "ABSOLUTE_TOLERANCE",
    "CheckFailed",
    "Fatal",
    "RELATIVE_TOLERANCE",
    "Skip",
    "Warn",
    "describe_error",
    "finite",
    "max_difference",
    "median_time",
    "parity",
    "peak_rss_bytes",
    "synchronize",
    "tolerance",
]


class Skip(Exception):
    """Raised inside a check to record it as skipped with a reason."""

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details = details or {}


class Warn(Exception):
    """Raised inside a check to record a warning: worth reading, not a failure."""

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details = details or {}


class CheckFailed(Exception):
    """Raised inside a check to record it as failed with a message and its evidence."""

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details = details or {}


def finite(value: float) -> float | None:
    """JSON has no inf/nan: report them as None."""
    return value if math.isfinite(value) else None


def parity(
    name: str, reference: torch.Tensor, other: torch.Tensor, limit: float | None = None
) -> tuple[str, dict[str, Any]]:
    """Compare two outputs; raise CheckFailed when they differ beyond the tolerance."""
    if tuple(other.shape) != tuple(reference.shape):
        raise CheckFailed(
            f"{name} output has shape {tuple(other.shape)}, the model gives {tuple(reference.shape)}"
        )
    difference = max_difference(reference, other)
    limit = tolerance(reference) if limit is None else limit
    details = {"max_abs_diff": finite(difference), "tolerance": limit}
    if not difference <= limit:
        raise CheckFailed(
            f"{name} output differs from the model by {difference:.3g} (> {limit:.3g})", details
        )
    return f"output matches (max abs diff {difference:.2g} <= {limit:.2g})", details


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_time(
    function: Callable[[], Any],
    device: torch.device,
    warmup: int = 3,
    min_runs: int = 5,
    max_runs: int = 50,
    budget_s: float = 1.0,
) -> dict[str, Any]:
    """Median wall time of ``function`` after warm-up; runs until ``budget_s`` or ``max_runs``."""
    for _ in range(warmup):
        function()
    synchronize(device)
    times: list[float] = []
    started = time.perf_counter()
    while len(times) < max_runs and (
        len(times) < min_runs or time.perf_counter() - started < budget_s
    ):
        synchronize(device)
        begin = time.perf_counter()
        function()
        synchronize(device)
        times.append(time.perf_counter() - begin)
    return {"median_ms": statistics.median(times) * 1e3, "runs": len(times)}


def peak_rss_bytes() -> int | None:
    """The process's peak resident set size so far (None where unsupported)."""
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)
