"""Human-readable plan tables for the terminal."""

from __future__ import annotations

from cnngen.plan import Plan
from cnngen.render import op_summary, plain_shape, thousands


def plan_text(plan: Plan) -> str:
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
    lines = [f"{plan.class_name}: {plain_shape(plan.input_shape)} -> {plain_shape(plan.output_shape)}"]
    for index, row in enumerate(rows):
        cells = [row[i].ljust(widths[i]) if i < 4 else row[i].rjust(widths[i]) for i in range(len(row))]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append(f"parameters: {thousands(plan.params)}")
    lines.append(f"multiply-accumulates per sample: {thousands(plan.macs)}")
    lines.append(f"receptive field: {plain_shape(plan.receptive_field)}")
    lines.extend(f"note: {note}" for note in plan.notes)
    return "\n".join(lines)
