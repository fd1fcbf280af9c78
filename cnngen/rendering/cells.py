"""Notebook cells and the layer arithmetic that handouts and their lessons share."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from cnngen.core.plan import Op
from cnngen.rendering.engine import format_python

# Tags the teacher edition puts on what the student edition leaves out.
ANSWER_TAGS = ("answer", "solution")
CHECK_TAGS = ("hidden-check",)


@dataclass(frozen=True)
class Cell:
    """One notebook cell before serialization."""

    kind: str  # "markdown" or "code"
    source: str
    hidden: bool = False
    tags: tuple[str, ...] = ()


def markdown(text: str, tags: tuple[str, ...] = ()) -> Cell:
    return Cell("markdown", text.strip("\n"), tags=tags)


@functools.lru_cache(maxsize=4096)
def _formatted(text: str) -> str:
    """Black's output for one cell; editions and languages share most cells, so it is cached."""
    return format_python(text, "handout").rstrip("\n")


def code(text: str, hidden: bool = False, tags: tuple[str, ...] = ()) -> Cell:
    """A code cell, Black-formatted so a template slip is caught before writing."""
    return Cell("code", _formatted(text), hidden, tags)


def _per_dim(value: Any, dims: int) -> tuple[int, ...]:
    if isinstance(value, tuple):
        return value
    return (value,) * dims


def window(op: Op) -> dict[str, tuple[int, ...]]:
    """Kernel, stride, padding, dilation and output padding of a windowed op, per dim."""
    dims = len(op.in_shape) - 1
    kernel = _per_dim(op.arg("kernel_size"), dims)
    default_stride = kernel if op.kind.endswith("pool") else 1
    return {
        "kernel": kernel,
        "stride": _per_dim(op.arg("stride", default_stride), dims),
        "padding": _per_dim(op.arg("padding", 0), dims),
        "dilation": _per_dim(op.arg("dilation", 1), dims),
        "output_padding": _per_dim(op.arg("output_padding", 0), dims),
    }


def _compact(values: tuple[int, ...]) -> int | tuple[int, ...]:
    return values[0] if len(set(values)) == 1 else values


def conv_call(op: Op, **changes: Any) -> str:
    """Source of an equivalent ``nn.ConvNd``/``ConvTransposeNd`` with some arguments changed.

    Arguments at torch's defaults are left out, as a person would write it;
    ``groups`` and ``bias=False`` are kept, since they change the weights.
    """
    w = window(op)
    values: dict[str, Any] = {
        "kernel_size": w["kernel"],
        "stride": w["stride"],
        "padding": w["padding"],
        "output_padding": w["output_padding"],
        "dilation": w["dilation"],
        **changes,
    }
    defaults = {"stride": 1, "padding": 0, "output_padding": 0, "dilation": 1}
    args = [str(op.in_shape[0]), str(op.out_shape[0])]
    for key, value in values.items():
        if key == "output_padding" and op.kind != "conv_transpose":
            continue
        if isinstance(value, str):
            args.append(f"{key}={value}")
            continue
        if key in defaults and all(v == defaults[key] for v in value):
            continue
        args.append(f"{key}={_compact(value)!r}")
    groups = op.arg("groups", 1)
    if groups != 1:
        args.append(f"groups={groups}")
    if not op.arg("bias", True):
        args.append("bias=False")
    return f"{op.module}({', '.join(args)})"
