"""Exact receptive fields, read off the finished plan.

The receptive field of a layer is the extent, per dimension, of the model
input that its *central* output position (index ``(size - 1) // 2`` in every
dimension) depends on.  What one op's output positions read of its input is
``op_back``, with the op's real kernel, stride, padding and dilation, so the
field is exact where a closed formula is not:

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

Planning composes ``op_back`` forward, once per op (:class:`FieldPass`):
through windows, pads and crops the composition stays a clipped affine map
per dimension, so a plan of any depth costs one constant step per op, with no
recursion and no walk back to the input.  The few ops that do not fold
(strided transposed convolutions, rotation stacks, merges of differing
branches) are walked through with ``op_back`` itself.  Walking every op's
centre back to the input, as cnngen once did, gives the same fields at a cost
quadratic in depth; ``tests/test_fields_pass.py`` checks the two agree.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from cnngen.core.plan import Op, Shape, Stage

# One closed interval of indices per spatial dimension; None: nothing reaches.
Interval = tuple[int, int] | None
Box = tuple[Interval, ...]

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


def _per_dim(value: object, dims: int) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, tuple) else (int(value),) * dims  # type: ignore[call-overload]


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
    _WINDOWS[id(op)] = (op, _parse_window(op))
    return _WINDOWS[id(op)][1]


def _parse_window(op: Op) -> tuple[tuple[int, ...], ...]:
    dims = len(op.in_shape) - 1
    kernel = _per_dim(op.arg("kernel_size"), dims)
    default = kernel if op.kind.endswith("pool") else (1,) * dims
    stride = _per_dim(op.arg("stride", default), dims)
    return (
        kernel,
        stride,
        _per_dim(op.arg("padding", 0), dims),
        _per_dim(op.arg("dilation", 1), dims),
    )


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


_Map = tuple[int, int, int, int, int, int, int]

# Kinds whose output positions map to input intervals by a window (or a shift).
WINDOW_KINDS = frozenset({"conv", "maxpool", "avgpool", "pad", "crop"})
# Kinds op_back knows position by position; every other kind sees its whole input.
KNOWN_KINDS = GLOBAL_KINDS | POINTWISE_KINDS | WINDOW_KINDS | {"conv_transpose", "rotation_stack"}
# A map that no interval survives (every position it is asked about reads only padding).
_NEVER: _Map = (0, 0, 0, 0, 0, 1, -1)


def _identity(size: int) -> _Map:
    return (1, 0, 0, 0, size - 1, 0, size - 1)


def _apply(m: _Map, interval: Interval) -> Interval:
    """The anchor interval that ``interval`` (one dimension of a box) depends on.

    A map ``(jump, low_offset, high_offset, floor, ceiling, first, last)``
    sends ``[a, b]`` to ``[max(jump*a + low_offset, floor), min(jump*b +
    high_offset, ceiling)]`` when ``a <= last`` and ``b >= first``, else to
    nothing.  Composing op_back through windows, pads and crops keeps that form
    (see ``_through``), which is what makes one forward pass enough.
    """
    if interval is None:
        return None
    jump, low, high, floor, ceiling, first, last = m
    if interval[0] > last or interval[1] < first:
        return None
    return (max(jump * interval[0] + low, floor), min(jump * interval[1] + high, ceiling))


def _through(m: _Map, stride: int, shift: int, span: int, size_in: int, size_out: int) -> _Map:
    """``m`` (for the op's input) composed with a window: output ``[a, b]`` reads
    input ``[stride*a - shift, stride*b - shift + span]`` clipped to ``size_in``.
    """
    jump, low, high, floor, ceiling, first, last = m
    if last < 0 or first > size_in - 1:
        return _NEVER
    last = (min(last, size_in - 1) + shift) // stride
    first = -(-(max(first, 0) + shift - span) // stride)
    if last < 0 or first > size_out - 1:
        return _NEVER
    # The clip of the window at 0 and at size_in - 1 becomes a floor and a ceiling.
    floor = max(floor, low)
    ceiling = min(ceiling, jump * (size_in - 1) + high)
    low, high, jump = low - jump * shift, high + jump * (span - shift), jump * stride
    # Floors and ceilings that no in-range position reaches are dropped, so equal
    # functions get equal maps and residual sums see one branch dominate.
    return (
        jump,
        low,
        high,
        max(floor, low),
        min(ceiling, jump * (size_out - 1) + high),
        max(first, 0),
        min(last, size_out - 1),
    )


def _plain_transposed(op: Op) -> bool:
    """A transposed convolution with stride 1 and no dilation is a window read backwards."""
    if op.kind != "conv_transpose":
        return False
    _, stride, _, dilation = _window(op)
    return all(s == 1 for s in stride) and all(d == 1 for d in dilation)


def _dominant(a: _Map, b: _Map) -> _Map | None:
    """The map whose interval contains the other's for every box, if one does."""
    if b == _NEVER or a == b:
        return a
    if a == _NEVER:
        return b
    for big, small in ((a, b), (b, a)):
        if (
            big[0] == small[0]
            and big[1] <= small[1]
            and big[3] <= small[3]
            and big[2] >= small[2]
            and big[4] >= small[4]
            and big[5] <= small[5]
            and big[6] >= small[6]
        ):
            return big
    return None


class _Node:
    """A point where the forward pass could not fold an op into a map.

    ``op`` set: the op's output, evaluated by op_back then ``reps[0]``; no op:
    the hull of ``reps`` (a merge or a residual sum whose branches differ); no
    op and no reps: the model input.
    """

    __slots__ = ("op", "reps")

    def __init__(self, op: Op | None = None, reps: tuple[_Rep, ...] = ()) -> None:
        self.op = op
        self.reps = reps


class _Rep:
    """What positions of one tensor see of the model input.

    For a box: the hull of ``const`` (a box every position sees, or None) and
    what ``node`` sees of ``maps`` applied to the box (``maps`` None: the box
    unchanged).  ``exact`` evaluates the same function one op at a time; it
    answers the boxes maps cannot (a vector's None).
    """

    __slots__ = ("const", "node", "maps", "exact")

    def __init__(
        self,
        const: Box | None,
        node: _Node | None,
        maps: tuple[_Map, ...] | None,
        exact: _Node | None,
    ) -> None:
        self.const = const
        self.node = node
        self.maps = maps
        self.exact = exact


def _base(node: _Node, shape: Shape) -> _Rep:
    maps = tuple(_identity(size) for size in shape[1:]) if len(shape) > 1 else None
    return _Rep(None, node, maps, node)


Key = tuple[_Node, "Box | None"]


class FieldPass:
    """Receptive fields of every tensor of a plan, carried forward op by op.

    Each tensor gets a ``_Rep``: through convolutions, pools, pads and crops
    the maps compose in constant time per op and dimension, so a plain or
    residual network of any depth costs one step per op.  Ops that do not fold
    (transposed convolutions, rotation stacks, merges of differing branches)
    become nodes that a query walks through with op_back, with an explicit
    stack and a memo, never recursion.
    """

    def __init__(self, input_shape: Shape) -> None:
        self.input_shape = tuple(input_shape)
        self.input = _Node()
        self.memo: dict[Key, Box | None] = {}

    def start(self) -> _Rep:
        return _base(self.input, self.input_shape)

    def through(self, rep: _Rep, op: Op) -> _Rep:
        """The rep of ``op``'s output, given the rep of its input."""
        if rep.node is None:
            return rep  # every position already sees the same box, whatever op_back does
        if op.kind in POINTWISE_KINDS and rep.maps is not None and len(op.out_shape) > 1:
            return rep  # the most common op: position by position, nothing to fold
        spatial_in, spatial_out = len(op.in_shape) > 1, len(op.out_shape) > 1
        if spatial_in and (op.kind in GLOBAL_KINDS or op.kind not in KNOWN_KINDS):
            return _Rep(self.query(rep, _whole(op.in_shape)), None, None, None)
        if not (spatial_in and spatial_out) or rep.maps is None:
            return _base(_Node(op, (rep,)), op.out_shape)
        if op.kind in POINTWISE_KINDS:
            return rep
        if op.kind not in WINDOW_KINDS and not _plain_transposed(op):
            return _base(_Node(op, (rep,)), op.out_shape)
        sizes_in, sizes_out = op.in_shape[1:], op.out_shape[1:]
        if op.kind == "conv_transpose":
            # Output o receives inputs o + padding - (kernel - 1) .. o + padding.
            kernel, _, padding, _ = _window(op)
            steps = [(1, k - 1 - p, k - 1) for k, p in zip(kernel, padding, strict=True)]
        elif op.kind == "pad":
            order = op.args[0][1]
            dims = len(sizes_in)
            steps = [(1, order[2 * (dims - 1 - d)], 0) for d in range(dims)]
        elif op.kind == "crop":
            steps = [(1, -before, 0) for before in op.args[0][1]]
        else:
            kernel, stride, padding, dilation = _window(op)
            steps = [
                (stride[d], padding[d], dilation[d] * (kernel[d] - 1)) for d in range(len(kernel))
            ]
        maps = tuple(
            _through(m, stride, shift, span, size_in, size_out)
            for m, (stride, shift, span), size_in, size_out in zip(
                rep.maps, steps, sizes_in, sizes_out, strict=True
            )
        )
        return _Rep(rep.const, rep.node, maps, _Node(op, (rep,)))

    def hull(self, reps: Sequence[_Rep], shape: Shape) -> _Rep:
        """The rep of a tensor that sees what every one of ``reps`` sees."""
        result = reps[0]
        for other in reps[1:]:
            result = self._hull2(result, other, shape)
        return result

    def _hull2(self, a: _Rep, b: _Rep, shape: Shape) -> _Rep:
        if a is b:
            return a
        exact = _Node(None, (a, b))
        if a.node is None or b.node is None:
            const, rest = (a, b) if b.node is not None else (b, a)
            return _Rep(_hull_box(a.const, b.const), rest.node, rest.maps, exact)
        if a.node is b.node and a.maps is not None and b.maps is not None:
            maps = [_dominant(x, y) for x, y in zip(a.maps, b.maps, strict=True)]
            if all(m is not None for m in maps):
                return _Rep(_hull_box(a.const, b.const), a.node, tuple(maps), exact)  # type: ignore[arg-type]
        return _base(exact, shape)

    def _targets(self, rep: _Rep, box: Box | None) -> tuple[Box | None, Key | None]:
        if rep.node is None:
            return rep.const, None
        if rep.maps is None:
            return rep.const, (rep.node, box)
        if box is None or len(box) != len(rep.maps):
            assert rep.exact is not None
            return None, (rep.exact, box)
        mapped = tuple(_apply(m, iv) for m, iv in zip(rep.maps, box, strict=True))
        return rep.const, (rep.node, mapped)

    def _children(self, key: Key) -> tuple[Box | None, list[Key]]:
        node, box = key
        if node.op is None and not node.reps:
            if box is None:
                return _whole(self.input_shape), []
            return tuple(
                _clip(iv, size) for iv, size in zip(box, self.input_shape[1:], strict=True)
            ), []
        if node.op is not None:
            box = op_back(node.op, box)
        const: Box | None = None
        keys = []
        for rep in node.reps:
            found, key = self._targets(rep, box)
            const = _hull_box(const, found)
            if key is not None:
                keys.append(key)
        return const, keys

    def query(self, rep: _Rep, box: Box | None) -> Box | None:
        """The model-input box that ``box`` of ``rep``'s tensor depends on."""
        const, key = self._targets(rep, box)
        if key is None:
            return const
        memo = self.memo
        pending: dict[Key, tuple[Box | None, list[Key]]] = {}
        stack = [key]
        while stack:
            top = stack[-1]
            if top in memo:
                stack.pop()
                continue
            entry = pending.get(top)
            if entry is None:
                entry = self._children(top)
                if not entry[1]:
                    memo[top] = entry[0]
                    stack.pop()
                    continue
                pending[top] = entry
            missing = [child for child in entry[1] if child not in memo]
            if missing:
                stack.extend(missing)
                continue
            value = entry[0]
            for child in entry[1]:
                value = _hull_box(value, memo[child])
            memo[top] = value
            del pending[top]
            stack.pop()
        return _hull_box(const, memo[key])


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

    One forward pass: each stage starts from the rep of what it reads (the
    previous stage, the stages it names, or the model input), carries it
    through its ops, its shortcut and its post ops, and leaves the rep of its
    output for the stages after it.
    """
    fields = FieldPass(input_shape)
    index = {stage.name: i for i, stage in enumerate(stages)}
    outputs: list[_Rep] = []
    result = []
    for position, stage in enumerate(stages):
        if stage.inputs and not stage.is_merge:
            start = fields.hull([outputs[index[name]] for name in stage.inputs], stage.in_shape)
        else:
            start = outputs[position - 1] if position else fields.start()
        changes = {}
        ends = {}
        for branch in ("ops", "shortcut", "post"):
            rep = start
            if branch == "post":
                rep = ends["ops"]
                if stage.kind == "residual":
                    rep = fields.hull([rep, ends["shortcut"]], _meeting_shape(stage))
            annotated: list[Op] = []
            for op in getattr(stage, branch):
                rep = fields.through(rep, op)
                if annotated and op.kind in POINTWISE_KINDS and op.in_shape == op.out_shape:
                    # A layer that works position by position sees what the one before saw.
                    field = annotated[-1].receptive_field
                else:
                    field = _extent(fields.query(rep, _center(op.out_shape)), fields.input_shape)
                # Builders often set the textbook field, which is exact away from
                # the edges; rebuilding an unchanged op would cost more than the pass.
                if field != op.receptive_field:
                    op = _with_field(op, field)
                annotated.append(op)
            if any(
                new is not old for new, old in zip(annotated, getattr(stage, branch), strict=True)
            ):
                changes[branch] = tuple(annotated)
            ends[branch] = rep
        if stage.is_merge:
            outputs.append(
                fields.hull([outputs[index[name]] for name in stage.inputs], stage.out_shape)
            )
        else:
            outputs.append(ends["post"])
        result.append(dataclasses.replace(stage, **changes) if changes else stage)
    last = stages[-1]
    return result, _extent(fields.query(outputs[-1], _center(last.out_shape)), fields.input_shape)


def _with_field(op: Op, field: Shape) -> Op:
    """``dataclasses.replace(op, receptive_field=field)`` at a fifth of the cost.

    Op is a frozen dataclass without ``__post_init__``, so a copy of its
    attributes is exactly what replace would build; at thousands of ops per
    plan, replace's per-field checks were a large part of planning.
    """
    new = object.__new__(Op)
    new.__dict__.update(op.__dict__)
    new.__dict__["receptive_field"] = field
    return new


assert not hasattr(Op, "__post_init__") and not hasattr(Op, "__slots__")


def _meeting_shape(stage: Stage) -> Shape:
    """The shape where a residual stage's branches meet: the output of its main path."""
    if stage.ops:
        return stage.ops[-1].out_shape
    if stage.shortcut:
        return stage.shortcut[-1].out_shape
    return stage.in_shape


def _ops_back(ops: Sequence[Op], box: Box | None) -> Box | None:
    """Walk ``box`` back through ``ops`` (last first)."""
    for op in reversed(ops):
        box = op_back(op, box)
    return box


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
        annotated.append(dataclasses.replace(op, receptive_field=field))
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
