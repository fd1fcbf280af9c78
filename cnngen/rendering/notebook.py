"""How a plan shows itself in a notebook: the layer table and the SVG diagram, as HTML."""

from __future__ import annotations

from html import escape

from cnngen.core.plan import Plan
from cnngen.rendering.format import op_summary, plain_shape
from cnngen.rendering.svg import plan_svg


def plan_html(plan: Plan) -> str:
    """A table of every op (output shape, parameters, MACs, receptive field) and the diagram."""
    head = ("layer", "kind", "output", "parameters", "MACs", "receptive field")
    rows = ["<tr>" + "".join(f"<th>{cell}</th>" for cell in head) + "</tr>"]
    for stage in plan.stages:
        for name, op in stage.all_ops():
            cells = (
                name,
                op_summary(op),
                plain_shape(op.out_shape),
                f"{op.params:,}" if op.params else "",
                f"{op.macs:,}" if op.macs else "",
                plain_shape(op.receptive_field) if op.receptive_field else "",
            )
            rows.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
    title = (
        f"{escape(plan.class_name)} ({escape(plan.family)}, {plan.dims}D): "
        f"{plain_shape(plan.input_shape)} -> {plain_shape(plan.output_shape)}, "
        f"{plan.params:,} parameters, {plan.macs:,} MACs"
    )
    return (
        f"<div class='cnngen-plan'><p><b>{title}</b></p>"
        f"<table>{''.join(rows)}</table>"
        f"<div>{_inline(plan_svg(plan))}</div></div>"
    )


def _inline(svg: str) -> str:
    """The SVG without its XML declaration, so it can sit inside HTML."""
    return svg.split("?>", 1)[1].lstrip() if svg.startswith("<?xml") else svg
