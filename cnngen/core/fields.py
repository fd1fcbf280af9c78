"""Exact receptive fields, read off the finished plan.

The receptive field of a layer is the extent, per dimension, of the model
input that its *central* output position (index ``(size - 1) // 2`` in every
dimension) depends on.  It is found by walking that position backwards
through every op of the plan with the op's real kernel, stride, padding and
dilation, so it is exact where a closed formula is not:

- a transposed convolution gives different output positions different numbers
  of input taps (``ceil`` or ``floor`` of ``span / stride``), so the usual
  formula is only an upper bound for decoders;
- positions outside the input (padding) are not input, so a field is never
  wider than the input;
- a flatten, a global pooling, a squeeze-excitation gate or a latent bottleneck
  lets every output see the whole feature map before it, which is whole-input
  coverage even when the convolutions alone see less.

Gradients give the same numbers: backpropagate from the central output
position with positive weights and inputs and count the nonzero input extent
(``tests/test_fields.py`` does this for every family).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from cnngen.core.field_maps import (
    GLOBAL_KINDS,
    POINTWISE_KINDS,
    annotate_forward,
    annotate_nested_forward,
    window,
)
from cnngen.core.plan import Op, Shape, Stage, fill_fields

# One closed interval of indices per spatial dimension; None: nothing reaches.
Interval = tuple[int, int] | None
Box = tuple[Interval, ...]

def _hull(a: Interval, b: Interval) -> Interval:
    if a is None:
        return b
    if b is None:
        return a
    return (min(a[0], b[0]), max(a[1], b[1]))


def _hull_box(a: Box | None, b: Box | None) -> Box | None:
    if a is None:
        return b
    if b is None:
        return a
    return tuple(_hull(x, y) for x, y in zip(a, b, strict=True))


def _clip(interval: Interval, size: int) -> Interval:
    if interval is None:
        return None
    low, high = max(interval[0], 0), min(interval[1], size - 1)
    return (low, high) if low <= high else None


def _window_back(
    interval: Interval, kernel: int, stride: int, padding: int, dilation: int, size_in: int
) -> Interval:
    """Inputs that output positions ``interval`` of a convolution or pooling window read."""
    if interval is None:
        return None
    low = interval[0] * stride - padding
    high = interval[1] * stride - padding + dilation * (kernel - 1)
    return _clip((low, high), size_in)


_WINDOWS: dict[int, tuple[Op, tuple[tuple[int, ...], ...]]] = {}


def _window(op: Op) -> tuple[tuple[int, ...], ...]:
    """Kernel, stride, padding and dilation per dimension.

    Walks revisit the same ops many times, so the values are kept by object
    identity (hashing a frozen op would cost more than parsing its arguments).
    """
    hit = _WINDOWS.get(id(op))
    if hit is not None and hit[0] is op:
        return hit[1]
    if len(_WINDOWS) > 10_000:
        _WINDOWS.clear()
    _WINDOWS[id(op)] = (op, window(op))
    return _WINDOWS[id(op)][1]


def _transposed_taps(
    out: int, kernel: int, stride: int, padding: int, dilation: int, size_in: int
) -> Interval:
    """Inputs that one output position of a transposed convolution receives from.

    Input ``i`` writes to ``i * stride - padding + j * dilation`` for every tap
    ``j``; the output position collects the inputs for which that hits it.
    """
    found: Interval = None
    for tap in range(kernel):
        offset = out + padding - tap * dilation
        if offset % stride == 0 and 0 <= offset // stride < size_in:
            found = _hull(found, (offset // stride, offset // stride))
    return found


def _transposed_back(
    interval: Interval, kernel: int, stride: int, padding: int, dilation: int, size_in: int
) -> Interval:
    """Hull of the inputs that any output in ``interval`` receives from.

    The pattern of taps repeats every ``stride * dilation`` outputs, so only the
    outputs near each end of a long interval need looking at.
    """
    if interval is None:
        return None
    low, high = interval
    if dilation == 1 or high - low + 1 >= dilation:
        # Then ``out + padding - tap * dilation`` takes every value between its
        # extremes, so the inputs that divide into it form one run.
        first = -(-(low + padding - dilation * (kernel - 1)) // stride)
        last = (high + padding) // stride
        return _clip((first, last), size_in) if first <= last else None
    edge = stride * dilation + dilation * kernel
    positions = range(low, high + 1)
    if high - low > 2 * edge:
        positions = [*range(low, low + edge), *range(high - edge + 1, high + 1)]  # type: ignore[assignment]
    found: Interval = None
    for out in positions:
        found = _hull(found, _transposed_taps(out, kernel, stride, padding, dilation, size_in))
    return found


def _whole(shape: Shape) -> Box:
    return tuple((0, size - 1) for size in shape[1:])


def _rotations(box: Box, shape: Shape) -> Box:
    """Hull of ``box`` over the four quarter turns of the last two dimensions."""
    *rest, rows, cols = box
    height, width = shape[-2], shape[-1]
    options = [rows, cols]
    if rows is not None:
        options.append((height - 1 - rows[1], height - 1 - rows[0]))
    if cols is not None:
        options.append((width - 1 - cols[1], width - 1 - cols[0]))
    merged: Interval = None
    for option in options:
        merged = _hull(merged, option)
    return (*rest, _clip(merged, height), _clip(merged, width))


def op_back(op: Op, box: Box | None) -> Box | None:
    """Positions of ``op``'s input that positions ``box`` of its output depend on.

    ``None`` stands for a vector (no positions): everything before it counts.
    """
    if op.kind in GLOBAL_KINDS:
        return _whole(op.in_shape)
    if op.kind in POINTWISE_KINDS or op.kind == "rotation_stack" and box is None:
        return box if len(op.in_shape) > 1 or box is None else None
    if box is None:
        return _whole(op.in_shape) if len(op.in_shape) > 1 else None
    dims = len(op.in_shape) - 1
    sizes = op.in_shape[1:]
    if op.kind == "rotation_stack":
        return _rotations(box, op.in_shape)
    if op.kind == "pad":
        torch_order = op.args[0][1]
        before = [torch_order[2 * (dims - 1 - d)] for d in range(dims)]
        return tuple(
            _clip(None if iv is None else (iv[0] - before[d], iv[1] - before[d]), sizes[d])
            for d, iv in enumerate(box)
        )
    if op.kind == "pixel_shuffle":  # output (y, x) reads input (y // r, x // r)
        factor = op.args[0][1]
        return tuple(None if iv is None else (iv[0] // factor, iv[1] // factor) for iv in box)
    if op.kind == "crop":
        before = op.args[0][1]
        return tuple(
            None if iv is None else (iv[0] + before[d], iv[1] + before[d])
            for d, iv in enumerate(box)
        )
    if op.kind in ("conv", "maxpool", "avgpool", "conv_transpose"):
        kernel, stride, padding, dilation = _window(op)
        back = _transposed_back if op.kind == "conv_transpose" else _window_back
        return tuple(
            back(iv, kernel[d], stride[d], padding[d], dilation[d], sizes[d])
            for d, iv in enumerate(box)
        )
    # Anything unknown is treated as seeing its whole input: never an underestimate.
    return _whole(op.in_shape)


def _ops_back(ops: Sequence[Op], box: Box | None) -> Box | None:
    for op in reversed(ops):
        box = op_back(op, box)
    return box


class FieldWalker:
    """Walks positions of any op's output back to the model input.

    The walk is a loop over an explicit stack, not recursion, so a plan of any
    depth walks without touching Python's recursion limit.
    """

    def __init__(self, stages: Sequence[Stage], input_shape: Shape) -> None:
        self.stages = list(stages)
        self.input_shape = tuple(input_shape)
        self.index = {stage.name: i for i, stage in enumerate(self.stages)}
        # Walks from different layers meet: deep in a network the walked box is
        # often the whole feature map, so each (stage, box) is walked once.
        self.memo: dict[tuple[int, Box | None], Box | None] = {}

    def _input_keys(self, position: int, box: Box | None) -> list[tuple[int, Box | None]] | None:
        """Stage outputs whose hull is the input of stage ``position``; None: the model input."""
        stage = self.stages[position]
        if stage.inputs and not stage.is_merge:
            return [(self.index[name], box) for name in stage.inputs]
        if position == 0:
            return None
        return [(position - 1, box)]

    def _model_input(self, box: Box | None) -> Box | None:
        if box is None:
            return _whole(self.input_shape)
        return tuple(_clip(iv, size) for iv, size in zip(box, self.input_shape[1:], strict=True))

    def _children(self, key: tuple[int, Box | None]) -> list[tuple[int, Box | None]] | Box | None:
        """The keys whose hull is ``key``'s value, or (a tuple) the value itself."""
        position, box = key
        stage = self.stages[position]
        if stage.is_merge:
            return [(self.index[name], box) for name in stage.inputs]
        box = _ops_back(stage.post, box)
        main = _ops_back(stage.ops, box)
        if stage.kind == "residual":
            main = _hull_box(main, _ops_back(stage.shortcut, box))
        keys = self._input_keys(position, main)
        return self._model_input(main) if keys is None else keys

    def _resolve(self, keys: list[tuple[int, Box | None]]) -> Box | None:
        memo = self.memo
        pending: dict[tuple[int, Box | None], list[tuple[int, Box | None]]] = {}
        stack = [key for key in keys if key not in memo]
        while stack:
            key = stack[-1]
            if key in memo:
                stack.pop()
                continue
            children = pending.get(key)
            if children is None:
                found = self._children(key)
                if not isinstance(found, list):
                    memo[key] = found
                    stack.pop()
                    continue
                pending[key] = children = found
            missing = [child for child in children if child not in memo]
            if missing:
                stack.extend(missing)
                continue
            value: Box | None = None
            for child in children:
                value = _hull_box(value, memo[child])
            memo[key] = value
            del pending[key]
            stack.pop()
        result: Box | None = None
        for key in keys:
            result = _hull_box(result, memo[key])
        return result

    def _stage_input(self, position: int, box: Box | None) -> Box | None:
        keys = self._input_keys(position, box)
        return self._model_input(box) if keys is None else self._resolve(keys)

    def field_of(self, position: int, branch: str, upto: int, op: Op) -> Shape:
        """Field of the central output position of op ``upto`` on ``branch`` of a stage."""
        stage = self.stages[position]
        box = _center(op.out_shape)
        if branch == "post":
            box = _ops_back(stage.post[: upto + 1], box)
            main = _hull_box(
                _ops_back(stage.ops, box),
                _ops_back(stage.shortcut, box) if stage.kind == "residual" else None,
            )
        else:
            main = _ops_back(getattr(stage, branch)[: upto + 1], box)
        found = self._stage_input(position, main)
        return _extent(found, self.input_shape)

    def output_field(self) -> Shape:
        last = len(self.stages) - 1
        return _extent(self._resolve([(last, _center(self.stages[last].out_shape))]), self.input_shape)


def _center(shape: Shape) -> Box | None:
    if len(shape) < 2:
        return None
    return tuple(((size - 1) // 2, (size - 1) // 2) for size in shape[1:])


def _extent(box: Box | None, input_shape: Shape) -> Shape:
    if box is None:
        return tuple(input_shape[1:])
    return tuple(0 if iv is None else iv[1] - iv[0] + 1 for iv in box)


def annotate(stages: Sequence[Stage], input_shape: Shape) -> tuple[list[Stage], Shape]:
    """The stages with every op's exact receptive field, and the model output's field.

    The forward pass of :mod:`cnngen.core.field_maps` gives the walk's answer in
    time linear in the plan's depth; where it declines, every op is walked.
    """
    forward = annotate_forward(stages, input_shape, _lead_back(stages, input_shape))
    if forward is not None:
        per_stage, output = forward
        result = []
        for stage, found in zip(stages, per_stage, strict=True):
            # ``found`` holds the fields of the ops, the shortcut and post, in that order.
            if fill_fields(stage.ops + stage.shortcut + stage.post, found):
                result.append(stage)
                continue
            main, short = len(stage.ops), len(stage.ops) + len(stage.shortcut)
            result.append(
                stage.with_ops(
                    tuple(map(Op.with_field, stage.ops, found[:main])),
                    tuple(map(Op.with_field, stage.shortcut, found[main:short])),
                    tuple(map(Op.with_field, stage.post, found[short:])),
                )
            )
        return result, output
    return walk_annotate(stages, input_shape)


def _lead_back(stages: Sequence[Stage], input_shape: Shape) -> Callable[[Box], Box] | None:
    """The walk back through a leading rotation stack, which the forward maps do not hold."""
    first = stages[0]
    if first.inputs or first.is_merge or not first.ops or first.ops[0].kind != "rotation_stack":
        return None
    lead = first.ops[0]
    walker = FieldWalker(stages, input_shape)
    return lambda box: walker._model_input(op_back(lead, box))  # type: ignore[return-value]


def walk_annotate(stages: Sequence[Stage], input_shape: Shape) -> tuple[list[Stage], Shape]:
    """:func:`annotate` by walking every op back to the input (the definition)."""
    walker = FieldWalker(stages, input_shape)
    result = []
    for position, stage in enumerate(stages):
        changes = {}
        for branch in ("ops", "shortcut", "post"):
            annotated: list[Op] = []
            for upto, op in enumerate(getattr(stage, branch)):
                if annotated and op.kind in POINTWISE_KINDS and op.in_shape == op.out_shape:
                    # A layer that works position by position sees what the one before saw.
                    field = annotated[-1].receptive_field
                else:
                    field = walker.field_of(position, branch, upto, op)
                annotated.append(op.with_field(field))
            changes[branch] = tuple(annotated)
        result.append(dataclasses.replace(stage, **changes))
    return result, walker.output_field()


# ------------------------------------------------------------ nested stages (presets)
Back = Callable[[Box | None], Box | None]


def _stage_back(stage: Stage, box: Box | None) -> Box | None:
    """Positions of a nested stage's input that positions ``box`` of its output read.

    Children run before the stage's own ops; an Inception stage's children are
    parallel branches over the same input; a residual stage reads its input
    through the main path and through the shortcut (identity when empty).
    """
    box = _ops_back(stage.post, box)
    if stage.kind == "inception":
        found: Box | None = None
        for child in stage.children:
            found = _hull_box(found, _stage_back(child, box))
        return found
    main = _ops_back(stage.ops, box)
    for child in reversed(stage.children):
        main = _stage_back(child, main)
    if stage.kind == "residual":
        main = _hull_box(main, _ops_back(stage.shortcut, box))
    return main


def _then(before: Back, ops: Sequence[Op]) -> Back:
    """``before`` after walking back through ``ops``."""
    return lambda box: before(_ops_back(ops, box))


def _then_stages(before: Back, stages: Sequence[Stage]) -> Back:
    def back(box: Box | None) -> Box | None:
        for stage in reversed(stages):
            box = _stage_back(stage, box)
        return before(box)

    return back


def _annotated_ops(ops: Sequence[Op], before: Back, input_shape: Shape) -> tuple[Op, ...]:
    """``ops`` run in order after ``before``, each with its exact field."""
    annotated: list[Op] = []
    for upto, op in enumerate(ops):
        if annotated and op.kind in POINTWISE_KINDS and op.in_shape == op.out_shape:
            field = annotated[-1].receptive_field
        else:
            field = _extent(_then(before, ops[: upto + 1])(_center(op.out_shape)), input_shape)
        annotated.append(op.with_field(field))
    return tuple(annotated)


def _annotate_stage(stage: Stage, before: Back, input_shape: Shape) -> Stage:
    """``stage`` with every op's exact field; ``before`` walks its input back to the model's."""
    children = []
    for position, child in enumerate(stage.children):
        if stage.kind == "inception":
            child_before = before
        else:
            child_before = _then_stages(before, stage.children[:position])
        children.append(_annotate_stage(child, child_before, input_shape))
    main = before if stage.kind == "inception" else _then_stages(before, stage.children)
    ops = _annotated_ops(stage.ops, main, input_shape)
    shortcut = _annotated_ops(stage.shortcut, before, input_shape)

    def summed(box: Box | None) -> Box | None:
        # What the stage's ops (and shortcut) read, before ``post``.
        found = main(_ops_back(stage.ops, box))
        if stage.kind == "residual":
            found = _hull_box(found, before(_ops_back(stage.shortcut, box)))
        if stage.kind == "inception":
            found = None
            for child in stage.children:
                found = _hull_box(found, before(_stage_back(child, box)))
        return found

    post = _annotated_ops(stage.post, summed, input_shape)
    return dataclasses.replace(
        stage, children=tuple(children), ops=ops, shortcut=shortcut, post=post
    )


def annotate_nested(stages: Sequence[Stage], input_shape: Shape) -> tuple[list[Stage], Shape]:
    """:func:`annotate` for stages run one after another that may nest (the presets)."""
    forward = annotate_nested_forward(stages, input_shape)
    return forward if forward is not None else walk_annotate_nested(stages, input_shape)


def walk_annotate_nested(
    stages: Sequence[Stage], input_shape: Shape
) -> tuple[list[Stage], Shape]:
    """:func:`annotate_nested` by walking every op back to the input (the definition)."""
    input_shape = tuple(input_shape)

    def model_input(box: Box | None) -> Box | None:
        if box is None:
            return _whole(input_shape)
        return tuple(_clip(iv, size) for iv, size in zip(box, input_shape[1:], strict=True))

    result = [
        _annotate_stage(stage, _then_stages(model_input, stages[:position]), input_shape)
        for position, stage in enumerate(stages)
    ]
    last = stages[-1]
    output = _then_stages(model_input, stages)(_center(last.out_shape))
    return result, _extent(output, input_shape)
