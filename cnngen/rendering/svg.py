"""The plan as an SVG diagram (``cnngen plan ... --svg FILE``).

Written directly as XML text, so no plotting library is needed.  Each stage
is one block: its height grows with the log of the feature map's spatial
size and its width with the log of its channel count, so downsampling reads
as blocks getting shorter and channel growth as blocks getting wider.  Blocks
sit on one centre line, which makes a forecaster's encoder and decoder mirror
images of each other around the bottleneck; residual stages get a skip arc
over their block, and a U-Net's skips arc from each encoder level to the
concatenation that reads it, nested level by level.  All text is XML-escaped
(:func:`cnngen.rendering.escape.xml_text`).  The output is deterministic:
coordinates are rounded and nothing depends on time or dictionary order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from cnngen._version import __version__
from cnngen.core.plan import Plan, Shape, Stage
from cnngen.rendering.escape import xml_text
from cnngen.rendering.format import field_text, op_summary, plain_shape
from cnngen.rendering.messages import Messages

ROLE_COLOURS = {
    "input": "#bab0ac",
    "encoder": "#4e79a7",
    "latent": "#b07aa1",
    "decoder": "#f28e2b",
    "rotate": "#76b7b2",
    "trunk": "#59a14f",
    "head": "#9c755f",
    "bottleneck": "#b07aa1",
    "upsample": "#edc948",
    "skip": "#e15759",
}
FALLBACK_COLOUR = "#8c8c8c"
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
CHAR_WIDTH = 6.6  # average advance of an 11px sans-serif glyph
GAP = 34.0
MARGIN = 24.0
MIN_HEIGHT, MAX_HEIGHT = 22.0, 220.0
MIN_WIDTH, MAX_WIDTH = 10.0, 96.0
ARC_SPACE = 56.0
MAX_DRAWN_WIDTH = 1400.0


@dataclass(frozen=True)
class Block:
    """One drawn block: a stage (or the input) with its box and labels."""

    name: str
    role: str
    shape: Shape
    label: str
    tooltip: str
    width: float
    height: float
    stage: Stage | None


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def block_size(shape: Shape) -> tuple[float, float]:
    """(width, height): log of channels and log of the spatial size.

    A flat vector (``(features,)``) is drawn as a thin bar whose height grows
    with the log of its length.
    """
    if len(shape) == 1:
        return MIN_WIDTH, _clamp(
            MIN_HEIGHT + 12 * math.log2(max(shape[0], 1)), MIN_HEIGHT, MAX_HEIGHT
        )
    channels, spatial = shape[0], shape[1:]
    mean = math.exp(sum(math.log(max(size, 1)) for size in spatial) / len(spatial))
    height = _clamp(MIN_HEIGHT + 26 * math.log2(mean), MIN_HEIGHT, MAX_HEIGHT)
    width = _clamp(MIN_WIDTH + 9 * math.log2(max(channels, 1)), MIN_WIDTH, MAX_WIDTH)
    return width, height


def _main_label(stage: Stage) -> str:
    """The op that defines the stage, e.g. ``Conv2d 3/2``; else its first op."""
    for _, op in stage.all_ops():
        if op.kind in ("conv", "conv_transpose", "linear"):
            return op_summary(op)
    ops = [op for _, op in stage.all_ops()]
    return op_summary(ops[0]) if ops else stage.kind


def _blocks(plan: Plan, t: Messages) -> list[Block]:
    width, height = block_size(plan.input_shape)
    blocks = [
        Block(
            "input",
            "input",
            plan.input_shape,
            t("svg.input"),
            f"{t('svg.input')} {plain_shape(plan.input_shape)}",
            width,
            height,
            None,
        )
    ]
    for stage in plan.stages:
        width, height = block_size(stage.out_shape)
        ops = ", ".join(op_summary(op) for _, op in stage.all_ops())
        tooltip = (
            f"{stage.name}: {plain_shape(stage.in_shape)} -> {plain_shape(stage.out_shape)}; {ops}"
        )
        blocks.append(
            Block(
                stage.name,
                stage.role,
                stage.out_shape,
                _main_label(stage),
                tooltip,
                width,
                height,
                stage,
            )
        )
    return blocks


def _num(value: float) -> str:
    """Coordinates rounded to 0.1 px and printed without noise (``12`` not ``12.0``)."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _text(
    x: float,
    y: float,
    content: str,
    cls: str,
    size: int = 11,
    weight: str = "normal",
    anchor: str = "middle",
    fill: str = "#222",
) -> str:
    return (
        f'<text class="{cls}" x="{_num(x)}" y="{_num(y)}" font-size="{size}" '
        f'font-weight="{weight}" text-anchor="{anchor}" fill="{fill}">{xml_text(content)}</text>'
    )


def _text_width(content: str, size: int = 11) -> float:
    return len(content) * CHAR_WIDTH * size / 11


def _residual_blocks(stage: Stage | None) -> int:
    """How many residual blocks a drawn stage holds (a ResNet layer holds several)."""
    if stage is None:
        return 0
    if stage.kind == "residual":
        return 1
    return sum(child.kind == "residual" for child in stage.children)


def _shortcut_label(stage: Stage, t: Messages) -> str:
    if stage.kind != "residual":
        blocks = t.count(_residual_blocks(stage), "residual_block")
        return t("svg.skip", shortcut=blocks)
    if not stage.shortcut:
        return t("svg.skip", shortcut=t("svg.identity"))
    for op in stage.shortcut:
        if op.kind == "conv":
            return t("svg.skip", shortcut=op_summary(op))
    return t("svg.skip", shortcut=t("svg.projection"))


def plan_svg(plan: Plan, command: str | None = None, lang: str = "en") -> str:
    """The whole diagram as SVG text (UTF-8, ending in a newline).

    ``command`` (the cnngen arguments that drew it) goes into ``<desc>`` so the
    file records how to regenerate it; ``lang`` is the language of its labels.
    """
    t = Messages(lang)
    blocks = _blocks(plan, t)
    residual = any(_residual_blocks(block.stage) for block in blocks)
    mirrored = plan.family in ("forecaster", "unet")
    tallest = max(block.height for block in blocks)
    links = _skip_links(blocks)

    # Columns wide enough for the block and its three label lines.
    columns = []
    for block in blocks:
        labels = [_shown_name(block, t), plain_shape(block.shape), block.label]
        widths = [_text_width(label) for label in labels]
        if _residual_blocks(block.stage):
            widths.append(_text_width(_shortcut_label(block.stage, t), 9) - GAP / 2)
        columns.append(max(block.width, *widths) + GAP)
    title = f"{plan.class_name}: {plain_shape(plan.input_shape)} → {plain_shape(plan.output_shape)}"
    subtitle = t(
        "svg.subtitle",
        dims=plan.dims,
        family=t(f"model.family.{plan.family}"),
        params=t.number(plan.params),
        field=field_text(plan, lang),
    )
    body_width = sum(columns)
    width = MARGIN * 2 + max(body_width, _text_width(title, 15), _text_width(subtitle))
    top = 58.0 + (ARC_SPACE if residual or mirrored else 12.0) + SKIP_STEP * len(links)
    centre = top + tallest / 2
    label_y = top + tallest + 18
    legend_y = label_y + 52
    # Training-only heads are not on the inference path: one line under the legend names them.
    extras = ", ".join(
        t("svg.extra", name=extra.stage.name, source=extra.source,
          shape=plain_shape(extra.stage.out_shape))
        for extra in plan.extras
    )  # fmt: skip
    extras_line = t("svg.extras", heads=extras) if extras else ""
    height = legend_y + 22 + (16 if extras else 0)
    width = max(width, MARGIN * 2 + _text_width(extras_line))

    # Deep and 3D nets are scaled down to a screen's width (the viewBox keeps the layout).
    scale = min(1.0, MAX_DRAWN_WIDTH / width)
    out: list[str] = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_num(width * scale)}" '
        f'height="{_num(height * scale)}" viewBox="0 0 {_num(width)} {_num(height)}" font-family={quoteattr(FONT)} role="img">',
        f"<title>{xml_text(title)}</title>",
        *(
            [f"<desc>{xml_text(t('svg.generated', version=__version__, command=command))}</desc>"]
            if command
            else []
        ),
        "<defs>",
        '<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
        'fill="#555"/></marker>',
        "</defs>",
        f'<rect class="background" x="0" y="0" width="{_num(width)}" height="{_num(height)}" '
        'fill="#ffffff"/>',
        _text(MARGIN, 26, title, "title", 15, "bold", "start"),
        _text(MARGIN, 44, subtitle, "subtitle", 11, "normal", "start", "#555"),
    ]

    # Block centres, left to right.
    centres = []
    x = MARGIN
    for column in columns:
        centres.append(x + column / 2)
        x += column

    for index, block in enumerate(blocks):
        cx = centres[index]
        left, right = cx - block.width / 2, cx + block.width / 2
        if index + 1 < len(blocks):
            nxt = blocks[index + 1]
            out.append(
                f'<line class="flow" x1="{_num(right + 2)}" y1="{_num(centre)}" '
                f'x2="{_num(centres[index + 1] - nxt.width / 2 - 2)}" y2="{_num(centre)}" '
                'stroke="#555" stroke-width="1.4" marker-end="url(#arrow)"/>'
            )
        colour = ROLE_COLOURS.get(block.role, FALLBACK_COLOUR)
        kind = "input" if block.stage is None else "stage"
        out.append(
            f'<g class="{kind}" data-name={quoteattr(block.name)} data-role={quoteattr(block.role)} '
            f"data-shape={quoteattr(plain_shape(block.shape))}>"
        )
        out.append(f"<title>{xml_text(block.tooltip)}</title>")
        out.append(
            f'<rect class="block" x="{_num(left)}" y="{_num(centre - block.height / 2)}" '
            f'width="{_num(block.width)}" height="{_num(block.height)}" rx="3" '
            f'fill="{colour}" fill-opacity="0.85" stroke="#333" stroke-width="1"/>'
        )
        out.append(_text(cx, label_y, _shown_name(block, t), "name", 11, "bold"))
        out.append(_text(cx, label_y + 15, plain_shape(block.shape), "shape", 11))
        out.append(_text(cx, label_y + 30, block.label, "op", 10, "normal", "middle", "#555"))
        out.append("</g>")

        if _residual_blocks(block.stage):
            # The skip leaves the incoming arrow and joins the outgoing one at a sum node.
            x1 = left - GAP / 2
            x2 = cx + columns[index] / 2
            peak = centre - block.height / 2 - ARC_SPACE + 12
            out.append(
                f'<path class="skip" data-stage={quoteattr(block.name)} '
                f'd="M {_num(x1)} {_num(centre)} C {_num(x1)} {_num(peak)}, {_num(x2)} '
                f'{_num(peak)}, {_num(x2)} {_num(centre - 8)}" fill="none" stroke="#d62728" '
                'stroke-width="1.4" stroke-dasharray="5 3" marker-end="url(#arrow)"/>'
            )
            out.append(
                f'<circle class="sum" cx="{_num(x2)}" cy="{_num(centre)}" r="6" fill="#ffffff" '
                'stroke="#d62728" stroke-width="1.2"/>'
            )
            out.append(_text(x2, centre + 3.5, "+", "sum-label", 10, "bold", "middle", "#d62728"))
            out.append(
                _text(
                    (x1 + x2) / 2,
                    peak + 8,
                    _shortcut_label(block.stage, t),
                    "skip-label",
                    9,
                    "normal",
                    "middle",
                    "#d62728",
                )
            )

    out.extend(_skip_arcs(blocks, links, centres, centre, tallest))
    if mirrored:
        out.extend(_mirror(blocks, centres, top - SKIP_STEP * len(links), label_y))
    out.extend(_legend(blocks, legend_y, t))
    if extras:
        out.append(_text(MARGIN, legend_y + 26, extras_line, "extras", 10, "normal", "start"))
    out.append("</svg>")
    return "\n".join(out) + "\n"


SKIP_STEP = 14.0


def _skip_links(blocks: list[Block]) -> list[tuple[int, int]]:
    """(source block, merge block) for every input a merge reads by name, longest first."""
    index = {block.name: i for i, block in enumerate(blocks)}
    links = []
    for i, block in enumerate(blocks):
        if block.stage is None or not block.stage.is_merge:
            continue
        for name in block.stage.inputs:
            if name in index and index[name] < i - 1:
                links.append((index[name], i))
    return sorted(links, key=lambda link: (link[0] - link[1], link))


def _skip_arcs(
    blocks: list[Block],
    links: list[tuple[int, int]],
    centres: list[float],
    centre: float,
    tallest: float,
) -> list[str]:
    """Arcs from a skip's source block over the blocks between to the merge that reads it.

    Longer skips arc higher, so nested U-Net levels never cross.
    """
    lines: list[str] = []
    for rank, (source, merge) in enumerate(links):
        x1, x2 = centres[source], centres[merge]
        y1 = centre - blocks[source].height / 2 - 2
        y2 = centre - blocks[merge].height / 2 - 2
        peak = centre - tallest / 2 - 22 - SKIP_STEP * (len(links) - rank)
        name = blocks[source].name
        lines.append(
            f'<path class="skip" data-from={quoteattr(name)} '
            f"data-to={quoteattr(blocks[merge].name)} "
            f'd="M {_num(x1)} {_num(y1)} L {_num(x1)} {_num(peak)} L {_num(x2)} {_num(peak)} '
            f'L {_num(x2)} {_num(y2)}" fill="none" stroke="#e15759" stroke-width="1.4" '
            'stroke-dasharray="5 3" marker-end="url(#arrow)"/>'
        )
        lines.append(
            _text(
                (x1 + x2) / 2,
                peak - 3,
                f"skip: {name} {plain_shape(blocks[source].shape)}",
                "skip-label",
                9,
                "normal",
                "middle",
                "#e15759",
            )
        )
    return lines


def _mirror(blocks: list[Block], centres: list[float], top: float, label_y: float) -> list[str]:
    """Brackets over encoder and decoder, and the dashed axis they mirror around."""
    lines: list[str] = []
    spans: dict[str, list[float]] = {}
    for block, cx in zip(blocks, centres, strict=True):
        if block.role in ("encoder", "decoder"):
            spans.setdefault(block.role, []).append(cx)
    y = top - ARC_SPACE + 18
    for role, xs in spans.items():
        x1, x2 = min(xs) - 14, max(xs) + 14
        lines.append(
            f'<path class="bracket" data-role="{role}" d="M {_num(x1)} {_num(y + 8)} L {_num(x1)} '
            f'{_num(y)} L {_num(x2)} {_num(y)} L {_num(x2)} {_num(y + 8)}" fill="none" '
            f'stroke="{ROLE_COLOURS[role]}" stroke-width="1.4"/>'
        )
        lines.append(
            _text(
                (x1 + x2) / 2,
                y - 5,
                role,
                "bracket-label",
                11,
                "bold",
                "middle",
                ROLE_COLOURS[role],
            )
        )
    if "encoder" in spans and "decoder" in spans:
        last_encoder = max(spans["encoder"])
        first_decoder = min(spans["decoder"])
        latent = [cx for block, cx in zip(blocks, centres, strict=True) if block.role == "latent"]
        axis = latent[0] if latent else (last_encoder + first_decoder) / 2
        lines.append(
            f'<line class="mirror" x1="{_num(axis)}" y1="{_num(y + 12)}" x2="{_num(axis)}" '
            f'y2="{_num(label_y - 14)}" stroke="#999" stroke-width="1" stroke-dasharray="3 3"/>'
        )
    return lines


def _shown_name(block: Block, t: Messages) -> str:
    """The name under a block: the stage's own, or the input's in the diagram's language."""
    return t("svg.input") if block.stage is None else block.name


def _legend(blocks: list[Block], y: float, t: Messages) -> list[str]:
    """One swatch per role present, in drawing order."""
    roles: list[str] = []
    for block in blocks:
        if block.role not in roles:
            roles.append(block.role)
    lines = ['<g class="legend">']
    x = MARGIN
    for role in roles:
        colour = ROLE_COLOURS.get(role, FALLBACK_COLOUR)
        lines.append(
            f'<rect x="{_num(x)}" y="{_num(y - 9)}" width="10" height="10" fill="{colour}" '
            'stroke="#333" stroke-width="0.5"/>'
        )
        label = t(f"svg.role.{role}") if t.has(f"svg.role.{role}") else role
        lines.append(_text(x + 14, y, label, "legend-label", 10, "normal", "start", "#444"))
        x += 14 + _text_width(label, 10) + 16
    lines.append(
        _text(
            x + 8,
            y,
            t("svg.legend"),
            "legend-note",
            10,
            "normal",
            "start",
            "#777",
        )
    )
    lines.append("</g>")
    return lines
