"""Receptive fields in one forward pass over the plan, exact and linear in its depth.

:mod:`cnngen.core.fields` defines a field by walking an op's central output
position back to the model input, clipping to every feature map on the way.
Doing that for every op costs the depth of the plan per op, so a plan of
``n`` ops costs ``n**2``: minutes for a thousand undownsampled layers.

This module carries the walk forward instead.  For every op it keeps, per
dimension and per end of the interval, the map from a position of the op's
output to the model-input position that the backward walk would reach.  Each
op's backward step is one of

- ``x -> s * x + c`` (convolution and pooling windows, pads, crops),
- ``x -> floor((x + c) / s)`` (transposed convolutions, pixel shuffle),

followed by clipping to the op's input.  Composed, they stay in one family,

    ``t(x) = clamp(A * floor((a * x + b) / m) + B, low, high)``,

because clipping commutes outwards through a non-decreasing map and nested
floor divisions merge.  So each op adds O(1) work per dimension, and its field
is ``t`` evaluated at its central position.  Where branches meet (residual
shortcuts, U-Net skips, merges) the interval is the hull of the branches: the
smallest low end and the largest high end, so a map is a short list of terms
(a term that is never beyond another one is dropped).

The pass answers only where it is provably the walk's answer; otherwise it
returns None and the caller walks.  It declines a plan with

- a window that can read padding only (then the walk's interval is empty at
  that op, a case these maps do not track),
- a transposed convolution with dilation or with gaps between its taps,
- rotation ops (they swap dimensions), a vector model input, or an op kind
  it does not know,
- a composition outside the family (a strided window after a transposed one,
  then another transposed one, in some rare stride patterns), or branch terms
  that do not stay few.

``tests/test_field_maps.py`` checks the pass against the walk on random plans.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from cnngen.core.plan import Op, Shape, Stage

# A term: (A, a, b, m, B, low, high) for clamp(A * floor((a*x + b) / m) + B, low, high).
Term = tuple[int, int, int, int, int, int, int]
# Per dimension: the terms of the interval's low end (their minimum) and high end (maximum).
DimMap = tuple[tuple[Term, ...], tuple[Term, ...]]
FieldMap = tuple[DimMap, ...]
# A box of (low, high) per dimension to the model input's box (None: nothing reaches).
Finish = Callable[[tuple[tuple[int, int], ...]], tuple[tuple[int, int] | None, ...]]

# Ops whose output at one position depends on every position of their input.
GLOBAL_KINDS = frozenset({"flatten", "squeeze_excite"})
# Ops that work position by position (or on vectors, where positions do not exist).
POINTWISE_KINDS = frozenset(
    {
        "batchnorm",
        "instancenorm",
        "groupnorm",
        "layernorm",
        "layer_scale",
        "activation",
        "dropout",
        "linear",
        "unflatten",
        "rotation_mean",
        "rotation_max",
    }
)
# Ops that slide a window: convolutions, poolings and transposed convolutions.
WINDOWED_KINDS = frozenset({"conv", "maxpool", "avgpool", "conv_transpose"})
# Beyond this many terms per end the pass gives way to the walk.
MAX_TERMS = 8


class Unsupported(Exception):
    """The plan holds something these maps do not represent exactly."""


def _value(term: Term, x: int) -> int:
    big_a, a, b, m, big_b, low, high = term
    value = big_a * ((a * x + b) // m) + big_b
    return low if value < low else high if value > high else value


def _constant(value: int) -> Term:
    return (0, 0, 0, 1, value, value, value)


def _after_multiply(term: Term, scale: int, shift: int, size_in: int) -> Term:
    """``term`` applied after ``x -> clip(scale * x + shift, 0, size_in - 1)``."""
    low, high = _value(term, 0), _value(term, size_in - 1)
    if low == high:
        # Clipped to one value: the term no longer depends on the position.
        return (0, 0, 0, 1, low, low, low)
    big_a, a, b, m, big_b, _, _ = term
    return (big_a, a * scale, a * shift + b, m, big_b, low, high)


def _after_divide(term: Term, divisor: int, shift: int, size_in: int) -> Term:
    """``term`` applied after ``x -> clip(floor((x + shift) / divisor), 0, size_in - 1)``."""
    low, high = _value(term, 0), _value(term, size_in - 1)
    if low == high:
        return (0, 0, 0, 1, low, low, low)
    big_a, a, b, m, big_b, _, _ = term
    if a == 0:
        return (big_a, 0, b, m, big_b, low, high)
    if m % a == 0:
        # floor((a*q + b) / m) = floor((q + floor(b/a)) / (m/a)) for whole q.
        return (big_a, 1, shift + (b // a) * divisor, (m // a) * divisor, big_b, low, high)
    if a % m == 0:
        # floor((a*q + b) / m) = (a/m)*q + floor(b/m) when m divides a.
        return (big_a * (a // m), 1, shift, divisor, big_a * (b // m) + big_b, low, high)
    raise Unsupported("nested floor divisions that do not merge")


def _dominated(term: Term, by: Term, low_end: bool) -> bool:
    """Whether ``by`` is never beyond ``term`` on its side (then ``term`` adds nothing)."""
    if term[:2] != by[:2] or term[3] != by[3]:
        return False
    if term[1] == 0:
        return by[4] <= term[4] if low_end else by[4] >= term[4]
    pairs = zip(by[2:3] + by[4:], term[2:3] + term[4:], strict=True)
    if low_end:
        return all(mine <= other for mine, other in pairs)
    return all(mine >= other for mine, other in pairs)


def _merged(terms: Sequence[Term], low_end: bool) -> tuple[Term, ...]:
    kept: list[Term] = []
    for term in terms:
        if any(_dominated(term, other, low_end) for other in kept):
            continue
        kept = [other for other in kept if not _dominated(other, term, low_end)]
        kept.append(term)
    if len(kept) > MAX_TERMS:
        raise Unsupported("too many branch terms")
    return tuple(kept)


def hull(maps: Sequence[FieldMap]) -> FieldMap:
    """The map of the hull of several branches' intervals."""
    if len(maps) == 1:
        return maps[0]
    return tuple(
        (
            _merged([t for dim_map in dims for t in dim_map[0]], True),
            _merged([t for dim_map in dims for t in dim_map[1]], False),
        )
        for dims in zip(*maps, strict=True)
    )


def identity(input_shape: Shape) -> FieldMap:
    """The model input itself: positions clipped to it."""
    return tuple(
        (((1, 1, 0, 1, 0, 0, size - 1),), ((1, 1, 0, 1, 0, 0, size - 1),))
        for size in input_shape[1:]
    )


def _whole(field_map: FieldMap, shape: Shape) -> FieldMap:
    """Every position of a map of ``shape`` at once: constant terms."""
    result = []
    for (lows, highs), size in zip(field_map, _spatial_or_any(field_map, shape), strict=True):
        low = min(_value(t, 0) for t in lows)
        high = max(_value(t, size - 1) for t in highs)
        result.append(((_constant(low),), (_constant(high),)))
    return tuple(result)


def _spatial_or_any(field_map: FieldMap, shape: Shape) -> Sequence[int]:
    if len(shape) - 1 == len(field_map):
        return shape[1:]
    if _is_constant(field_map):
        return (1,) * len(field_map)
    raise Unsupported("an op changes the number of spatial dimensions")


def _is_constant(field_map: FieldMap) -> bool:
    # Loops rather than all() over a generator: the pass asks this once per op.
    for lows, highs in field_map:
        for term in lows:
            if term[1]:
                return False
        for term in highs:
            if term[1]:
                return False
    return True


def window(op: Op) -> tuple[tuple[int, ...], ...]:
    """Kernel, stride, padding and dilation per dimension of a convolution or pooling op."""
    dims = len(op.in_shape) - 1
    # Keyword arguments by name (positional ones share the key None, unread here).
    named = dict(op.args)
    kernel = named["kernel_size"]
    stride = named.get("stride")
    padding = named.get("padding", 0)
    dilation = named.get("dilation", 1)
    kernels = kernel if isinstance(kernel, tuple) else (kernel,) * dims
    if stride is None:
        stride = kernels if op.kind.endswith("pool") else 1
    return (
        kernels,
        stride if isinstance(stride, tuple) else (stride,) * dims,
        padding if isinstance(padding, tuple) else (padding,) * dims,
        dilation if isinstance(dilation, tuple) else (dilation,) * dims,
    )


# A backward step per dimension: the term map (_after_multiply or _after_divide),
# its scale, and the shift of the interval's low end and of its high end.
Step = tuple[Callable[[Term, int, int, int], Term], int, int, int]


def _window_dim_step(
    transposed: bool,
    kernel: int,
    stride: int,
    padding: int,
    dilation: int,
    size_in: int,
    size_out: int,
) -> Step:
    """A convolution's, pooling's or transposed convolution's step along one dimension."""
    if transposed:
        last_first = -(-(size_out - 1 + padding - (kernel - 1)) // stride)
        if dilation != 1 or kernel < stride or padding < 0 or last_first > size_in - 1:
            raise Unsupported("a transposed convolution with gaps or dilation")
        return (_after_divide, stride, padding - (kernel - 1) + stride - 1, padding)
    reach = dilation * (kernel - 1)
    # The first window must end inside the input and the last begin inside it.
    if reach < padding or stride * (size_out - 1) - padding > size_in - 1:
        raise Unsupported("a window that reads padding only")
    return (_after_multiply, stride, -padding, reach - padding)


def _steps(op: Op) -> list[Step] | None:
    """Per dimension, the backward step of the interval's two ends (see Step).

    None: the op keeps positions as they are.  Raises Unsupported for what the
    pass does not represent, or for a window that can read padding only.
    """
    kind = op.kind
    if kind in POINTWISE_KINDS:
        return None
    dims = len(op.in_shape) - 1
    sizes_in, sizes_out = op.in_shape[1:], op.out_shape[1:]
    if kind in WINDOWED_KINDS:
        kernel, stride, padding, dilation = window(op)
        transposed = kind == "conv_transpose"
        return [
            _window_dim_step(
                transposed, kernel[d], stride[d], padding[d], dilation[d], sizes_in[d], sizes_out[d]
            )
            for d in range(dims)
        ]
    if kind == "pixel_shuffle":
        factor = op.args[0][1]
        return [(_after_divide, factor, 0, 0)] * dims
    if kind == "crop":
        before = op.args[0][1]
        return [(_after_multiply, 1, before[d], before[d]) for d in range(dims)]
    if kind == "pad":
        # Safe only before a window that always reaches past the border (see _padded).
        torch_order = op.args[0][1]
        before = [torch_order[2 * (dims - 1 - d)] for d in range(dims)]
        return [(_after_multiply, 1, -before[d], -before[d]) for d in range(dims)]
    raise Unsupported(f"op kind {kind}")


# Kinds with a step of their own; the rotation ones move positions between dimensions.
_KNOWN_KINDS = POINTWISE_KINDS | WINDOWED_KINDS | {"pixel_shuffle", "crop", "pad", "rotation_stack"}


def _check_padded(pad: Op, after: Op | None) -> None:
    """An explicit pad's border reads nothing: every window after it must reach real input."""
    if after is None or after.kind not in ("conv", "maxpool", "avgpool"):
        raise Unsupported("explicit padding that no window follows")
    dims = len(pad.in_shape) - 1
    torch_order = pad.args[0][1]
    kernel, stride, padding, dilation = window(after)
    for d in range(dims):
        before = torch_order[2 * (dims - 1 - d)]
        reach = dilation[d] * (kernel[d] - 1)
        last_start = stride[d] * (after.out_shape[1 + d] - 1) - padding[d]
        if reach - padding[d] < before or last_start > before + pad.in_shape[1 + d] - 1:
            raise Unsupported("a window that reads padding only")


def run(field_map: FieldMap, ops: Sequence[Op], found: list[Shape], finish: Finish | None) -> FieldMap:
    """The map after ``ops`` in turn; each op's field is appended to ``found``."""
    seen: tuple[FieldMap, Shape, Shape] | None = None
    for position, op in enumerate(ops):
        kind = op.kind
        if kind in POINTWISE_KINDS:
            if seen is not None and seen[1] == op.out_shape:
                # A norm or an activation keeps the map and the shape: its field is the last one.
                found.append(seen[2])
                continue
        elif kind == "pad":
            _check_padded(op, ops[position + 1] if position + 1 < len(ops) else None)
            field_map = step(field_map, op)
        elif finish is None and kind in _WINDOW_KINDS:
            advanced = _window_step(field_map, op)
            if advanced is not None:
                field_map, field = advanced
                seen = (field_map, op.out_shape, field)
                found.append(field)
                continue
            field_map = step(field_map, op)
        else:
            field_map = step(field_map, op)
        if seen is None or seen[0] is not field_map or seen[1] != op.out_shape:
            seen = (field_map, op.out_shape, extent(field_map, op.out_shape, finish))
        found.append(seen[2])
    return field_map


# The kinds run() gives to _window_step (a test empties it to check the general path).
_WINDOW_KINDS = WINDOWED_KINDS


def _window_step(field_map: FieldMap, op: Op) -> tuple[FieldMap, Shape] | None:
    """:func:`step` and :func:`extent` at once for a window over one-term ends.

    Nearly every op that moves positions is a convolution, pooling or
    transposed convolution whose interval ends are one term each; for them the
    step and the field at the central output position are worked out in one
    loop per dimension, from the window read once; a dimension that asks what
    the one before asked is not stepped again.  None: another case, for the
    general functions.
    """
    in_shape, out_shape = op.in_shape, op.out_shape
    dims = len(in_shape) - 1
    if len(field_map) != dims or len(out_shape) != len(in_shape):
        return None
    kernel, stride, padding, dilation = window(op)
    transposed = op.kind == "conv_transpose"
    result: list[DimMap] = []
    widths: list[int] = []
    asked = None
    for d in range(dims):
        dim_map = field_map[d]
        lows, highs = dim_map
        if len(lows) != 1 or len(highs) != 1:
            return None
        size, size_out = in_shape[d + 1], out_shape[d + 1]
        question = (size, size_out, kernel[d], stride[d], padding[d], dilation[d], dim_map)
        if question == asked:
            # What the dimension before asked (a square input): its answer.
            result.append(result[-1])
            widths.append(widths[-1])
            continue
        asked = question
        after, scale, low_shift, high_shift = _window_dim_step(
            transposed, kernel[d], stride[d], padding[d], dilation[d], size, size_out
        )
        low = after(lows[0], scale, low_shift, size)
        high = after(highs[0], scale, high_shift, size)
        result.append(((low,), (high,)))
        center = (size_out - 1) // 2
        widths.append(_value(high, center) - _value(low, center) + 1)
    return tuple(result), tuple(widths)


def step(field_map: FieldMap, op: Op) -> FieldMap:
    """The map of ``op``'s output, given the map of its input."""
    if op.kind in GLOBAL_KINDS or op.kind not in _KNOWN_KINDS:
        # As in the walk, an op of unknown reach counts as seeing all of its input.
        return _whole(field_map, op.in_shape)
    steps = _steps(op)
    if steps is None:
        return field_map
    if _is_constant(field_map):
        return field_map
    if len(steps) != len(field_map):
        raise Unsupported("an op changes the number of spatial dimensions")
    result = []
    for (lows, highs), (after, scale, low_shift, high_shift), size in zip(
        field_map, steps, op.in_shape[1:], strict=True
    ):
        if len(lows) == 1 and len(highs) == 1:  # the common case, without generators
            result.append(
                (
                    (after(lows[0], scale, low_shift, size),),
                    (after(highs[0], scale, high_shift, size),),
                )
            )
        else:
            result.append(
                (
                    tuple(after(t, scale, low_shift, size) for t in lows),
                    tuple(after(t, scale, high_shift, size) for t in highs),
                )
            )
    return tuple(result)


def extent(field_map: FieldMap, shape: Shape, finish: Finish | None) -> Shape:
    """Field of the central position of a map of ``shape``, per input dimension.

    ``finish`` takes the box the maps reach to the model input's (see _forward).
    """
    if len(shape) < 2:
        if not _is_constant(field_map):
            raise Unsupported("a vector whose field is not constant")
        centers: Sequence[int] = (0,) * len(field_map)
    else:
        centers = [(size - 1) // 2 for size in shape[1:]]
        if len(centers) != len(field_map):
            if not _is_constant(field_map):
                raise Unsupported("an op changes the number of spatial dimensions")
            centers = (0,) * len(field_map)
    box = []
    widths = []
    for (lows, highs), center in zip(field_map, centers, strict=True):
        # One term per end is the common case: no slices, no min() or max().
        low = _value(lows[0], center)
        if len(lows) > 1:
            low = min(_value(term, center) for term in lows)
        high = _value(highs[0], center)
        if len(highs) > 1:
            high = max(_value(term, center) for term in highs)
        box.append((low, high))
        widths.append(high - low + 1)
    if finish is None:
        return tuple(widths)
    return tuple(0 if iv is None else iv[1] - iv[0] + 1 for iv in finish(tuple(box)))


def annotate_forward(
    stages: Sequence[Stage], input_shape: Shape, lead_back: Finish | None = None
) -> tuple[list[tuple[Shape, ...]], Shape] | None:
    """Per stage, the field of every op (ops, shortcut, post in order), and the output's field.

    ``lead_back``, when given, is the walk's step back through the first op of
    the first stage (the rotation stack of an equivariant model, which moves
    positions between dimensions) and on to the model input: the maps then
    start at that op's output and end there.  None when the plan holds
    something the maps do not represent: walk instead.
    """
    if len(input_shape) < 2:
        return None
    try:
        return _forward(stages, tuple(input_shape), lead_back)
    except Unsupported:
        return None


def _forward(
    stages: Sequence[Stage], input_shape: Shape, lead_back: Finish | None
) -> tuple[list[tuple[Shape, ...]], Shape]:
    outputs: dict[str, FieldMap] = {}
    fields: list[tuple[Shape, ...]] = []
    first_ops: Sequence[Op] = stages[0].ops
    if lead_back is None:
        previous = identity(input_shape)
    else:
        lead, *rest = first_ops
        previous = identity(lead.out_shape)
        first_ops = rest
    for position, stage in enumerate(stages):
        entry = hull([outputs[name] for name in stage.inputs]) if stage.inputs else previous
        found: list[Shape] = []
        if position == 0 and lead_back is not None:
            found.append(extent(previous, stages[0].ops[0].out_shape, lead_back))
        if stage.is_merge:
            if stage.ops or stage.shortcut or stage.post:
                raise Unsupported("a merge with layers of its own")
            out = entry
        else:
            ops = first_ops if position == 0 else stage.ops
            out = run(entry, ops, found, lead_back)
            if stage.kind == "residual":
                out = hull([out, run(entry, stage.shortcut, found, lead_back)])
            elif stage.shortcut:
                raise Unsupported("a shortcut outside a residual stage")
            if stage.post:
                out = run(out, stage.post, found, lead_back)
        outputs[stage.name] = out
        previous = out
        fields.append(tuple(found))
    return fields, extent(previous, stages[-1].out_shape, lead_back)


# ------------------------------------------------------------ nested stages (presets)
def annotate_nested_forward(
    stages: Sequence[Stage], input_shape: Shape
) -> tuple[list[Stage], Shape] | None:
    """:func:`cnngen.core.fields.annotate_nested` in one pass; None: walk instead.

    Recursion here follows the nesting of modules (a few levels: blocks in
    layers, branches in an Inception module), never the depth of the plan.
    """
    if len(input_shape) < 2:
        return None
    try:
        field_map = identity(tuple(input_shape))
        result = []
        for stage in stages:
            annotated, field_map = _nested(stage, field_map)
            result.append(annotated)
        return result, extent(field_map, stages[-1].out_shape, None)
    except Unsupported:
        return None


def _with_fields(ops: Sequence[Op], field_map: FieldMap) -> tuple[tuple[Op, ...], FieldMap]:
    found: list[Shape] = []
    field_map = run(field_map, ops, found, None)
    return tuple(
        op.with_field(field) for op, field in zip(ops, found, strict=True)
    ), field_map


def _nested(stage: Stage, entry: FieldMap) -> tuple[Stage, FieldMap]:
    """``stage`` with every op's field, and the map of its output, from the map of its input.

    As in the walk: children run before the stage's own ops; an Inception
    stage's children are parallel branches over its input, concatenated; a
    residual stage adds its shortcut (identity when empty) before ``post``.
    """
    children = []
    if stage.kind == "inception":
        branch_maps = []
        for child in stage.children:
            annotated, branch = _nested(child, entry)
            children.append(annotated)
            branch_maps.append(branch)
        ops, _ = _with_fields(stage.ops, entry)
        shortcut, _ = _with_fields(stage.shortcut, entry)
        summed = hull(branch_maps) if branch_maps else entry
    else:
        main = entry
        for child in stage.children:
            annotated, main = _nested(child, main)
            children.append(annotated)
        ops, main = _with_fields(stage.ops, main)
        shortcut, short_map = _with_fields(stage.shortcut, entry)
        summed = hull([main, short_map]) if stage.kind == "residual" else main
    post, out = _with_fields(stage.post, summed)
    annotated_stage = dataclasses.replace(
        stage, children=tuple(children), ops=ops, shortcut=shortcut, post=post
    )
    return annotated_stage, out
