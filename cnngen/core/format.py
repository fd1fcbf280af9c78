"""Plain-text formatting of plan data: shapes, counts, layer labels, the plan table.

Pure functions over plan objects (duck-typed, so this module imports nothing
of cnngen and :class:`~cnngen.core.plan.Plan` can use it for ``summary()``).
"""

from __future__ import annotations

from typing import Any


def plain_shape(shape: tuple[int, ...]) -> str:
    return "x".join(str(size) for size in shape)


def thousands(number: int) -> str:
    return f"{number:,}"


def op_summary(op: Any) -> str:
    """A short label such as ``Conv 3x3/2`` for the plan table."""
    name = op.module.removeprefix("nn.")
    kernel = op.arg("kernel_size")
    if kernel is None:
        return name
    kernel = kernel if isinstance(kernel, tuple) else (kernel,)
    label = f"{name} {'x'.join(str(k) for k in kernel)}"
    stride = op.arg("stride")
    if stride is not None:
        stride = stride if isinstance(stride, tuple) else (stride,)
        label += "/" + "x".join(str(s) for s in stride)
    return label


def plan_table(plan: Any) -> str:
    """Every op: name, layer, output shape, receptive field; then the totals."""
    rows = [("layer", "kind", "output", "rf", "params")]
    for stage in plan.stages:
        for name, op in stage.all_ops():
            rows.append(
                (
                    name,
                    op_summary(op),
                    plain_shape(op.out_shape),
                    plain_shape(op.receptive_field) if op.receptive_field else "",
                    thousands(op.params) if op.params else "",
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        f"{plan.class_name}: {plain_shape(plan.input_shape)} -> {plain_shape(plan.output_shape)}"
    ]
    for index, row in enumerate(rows):
        cells = [
            row[i].ljust(widths[i]) if i < 4 else row[i].rjust(widths[i]) for i in range(len(row))
        ]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append(f"parameters: {thousands(plan.params)}")
    lines.append(f"multiply-accumulates per sample: {thousands(plan.macs)}")
    lines.append(f"receptive field: {plain_shape(plan.receptive_field)}")
    lines.extend(f"note: {note}" for note in plan.notes)
    return "\n".join(lines)
