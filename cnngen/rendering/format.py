"""Plain-text formatting of plan data: shapes, counts, layer labels, the plan table.

Pure functions over plan objects (duck-typed, so this module imports nothing
of cnngen and :class:`~cnngen.core.plan.Plan` can use it for ``summary()``).
"""

from __future__ import annotations

from typing import Any

from cnngen.rendering.messages import Messages


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


def field_text(plan: Any, lang: str = "en") -> str:
    """The model's receptive field, saying whether it is the whole input."""
    t = Messages(lang)
    field = plain_shape(plan.receptive_field)
    if plan.field_covers_input:
        return t("field.whole", field=field)
    if plan.family == "decoder":  # growing a latent map, each output reads a patch of it
        return t("field.decoder", field=field, size=plain_shape(plan.input_shape[1:]))
    return t("field.partial", field=field, size=plain_shape(plan.input_shape[1:]))


def plan_table(plan: Any, lang: str = "en") -> str:
    """Every op: name, layer, output shape, receptive field; then the totals."""
    t = Messages(lang)
    rows = [tuple(t(f"table.{key}") for key in ("layer", "kind", "output", "rf", "params"))]
    # The training-only heads last, without a field (the column is the output's).
    heads = tuple(extra.stage for extra in plan.extras)
    for stage in (*plan.stages, *heads):
        for name, op in stage.all_ops():
            rows.append(
                (
                    name,
                    op_summary(op),
                    plain_shape(op.out_shape),
                    plain_shape(op.receptive_field)
                    if op.receptive_field and stage not in heads
                    else "",
                    t.number(op.params) if op.params else "",
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
    lines.append(t("table.parameters", count=t.number(plan.params)))
    lines.append(t("table.macs", count=t.number(plan.macs)))
    lines.append(t("table.field", field=field_text(plan, lang)))
    lines.extend(t("table.note", note=t.note(note)) for note in plan.notes)
    return "\n".join(lines)
