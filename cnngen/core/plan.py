"""The plan: plain frozen data describing every layer of a generated model.

The plan is the contract between the solver and everything after it.  The
solver builds it; templates only loop over it and print it; ``verify`` reads
the shapes back out of the generated file and compares; ``plan --json`` only
serializes it.  Nothing here knows about text, Jinja or torch.

Shapes never include the batch dimension: ``(channels, *spatial)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from cnngen.core.format import plan_table

Shape = tuple[int, ...]

# A constructor argument: (keyword, value); keyword None means positional.
Arg = tuple[str | None, Any]


@dataclass(frozen=True)
class Op:
    """One module inside a stage, e.g. a convolution or an activation.

    ``module`` is the expression that constructs it (``"nn.Conv2d"`` for torch
    modules, a bare name such as ``"SqueezeExcite"`` for helper classes that the
    generated file defines).  ``path`` is the attribute path under its stage,
    so ``f"{stage.name}.{op.path}"`` is the name ``named_modules()`` reports.
    """

    path: str
    kind: str
    module: str
    args: tuple[Arg, ...]
    in_shape: Shape
    out_shape: Shape
    params: int = 0
    macs: int = 0
    receptive_field: Shape | None = None

    def arg(self, key: str, default: Any = None) -> Any:
        """The value of keyword argument ``key`` (or ``default``)."""
        for name, value in self.args:
            if name == key:
                return value
        return default


@dataclass(frozen=True)
class Stage:
    """A named attribute of the model: a ``nn.Sequential`` or a residual block.

    ``kind`` is ``"sequential"`` (``ops`` in order) or ``"residual"``
    (``ops`` is the main path, ``shortcut`` the projection, empty for identity,
    and ``post`` the activation applied after the sum).
    """

    name: str
    kind: str
    role: str
    ops: tuple[Op, ...]
    in_shape: Shape
    out_shape: Shape
    shortcut: tuple[Op, ...] = ()
    post: tuple[Op, ...] = ()

    def all_ops(self) -> Iterator[tuple[str, Op]]:
        """Every op with its full module name, in execution order."""
        if self.kind == "sequential":
            for op in self.ops:
                yield f"{self.name}.{op.path}", op
            return
        for op in self.ops:
            yield f"{self.name}.main.{op.path}", op
        for op in self.shortcut:
            yield f"{self.name}.shortcut.{op.path}", op
        for op in self.post:
            yield f"{self.name}.{op.path}", op

    @property
    def params(self) -> int:
        return sum(op.params for _, op in self.all_ops())

    @property
    def macs(self) -> int:
        return sum(op.macs for _, op in self.all_ops())


@dataclass(frozen=True)
class Plan:
    """A whole model: stages in forward order plus the totals.

    ``helpers`` names the helper classes the generated file must define
    (``"Residual"``, ``"SqueezeExcite"``, ...), in a fixed order.
    """

    family: str
    class_name: str
    dims: int
    input_shape: Shape
    output_shape: Shape
    stages: tuple[Stage, ...]
    receptive_field: Shape
    helpers: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())
    # The `cnngen` arguments that regenerate this plan (written into file headers).
    command: str = ""

    @property
    def params(self) -> int:
        return sum(stage.params for stage in self.stages)

    @property
    def macs(self) -> int:
        return sum(stage.macs for stage in self.stages)

    def layer_shapes(self) -> dict[str, Shape]:
        """Output shape of every named module, stages and ops, in forward order."""
        shapes: dict[str, Shape] = {}
        for stage in self.stages:
            for name, op in stage.all_ops():
                shapes[name] = op.out_shape
            shapes[stage.name] = stage.out_shape
        return shapes

    def summary(self) -> str:
        """The plan as a text table: every layer, its output shape, receptive field, parameters."""
        return plan_table(self)

    def to_json(self) -> dict[str, Any]:
        """The plan as JSON-ready data (the ``cnngen plan --json`` schema)."""
        layers = []
        for stage in self.stages:
            for name, op in stage.all_ops():
                layers.append(
                    {
                        "name": name,
                        "stage": stage.name,
                        "kind": op.kind,
                        "module": op.module,
                        "args": {
                            (key if key is not None else f"arg{index}"): _jsonable(value)
                            for index, (key, value) in enumerate(op.args)
                        },
                        "in": list(op.in_shape),
                        "out": list(op.out_shape),
                        "params": op.params,
                        "macs": op.macs,
                        "receptive_field": (
                            list(op.receptive_field) if op.receptive_field else None
                        ),
                    }
                )
        return {
            "family": self.family,
            "class_name": self.class_name,
            "input": list(self.input_shape),
            "output": list(self.output_shape),
            "layers": layers,
            "params": self.params,
            "macs": self.macs,
            "receptive_field": list(self.receptive_field),
            "notes": list(self.notes),
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(item) for item in value]
    return value
