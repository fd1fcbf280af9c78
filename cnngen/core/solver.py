"""The shape solver: a validated spec in, an exact plan out.

For every layer and every spatial dimension the solver picks kernel, stride,
padding (and pad layers, pooling, output_padding for decoders) so that every
size is an exact integer and the decoder of a forecaster lands on its
encoder's sizes without any resize.  Choices are the ones an expert would
write: the user's kernel (3 by default), same-style padding, stride 2 for
downsampling spread evenly over the layers, and ``output_padding`` only where
the arithmetic needs it.

Planning never imports torch and stays cheap: a 3840x2160 input with 50 layers
plans in a few milliseconds.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

from cnngen.core import arithmetic
from cnngen.core.builder import StageBuilder, fresh_fields
from cnngen.core.channels import channel_schedule
from cnngen.core.checks import check_plan_limits
from cnngen.core.equivariant import group_conv_stages
from cnngen.core.fields import annotate
from cnngen.core.messages import Note
from cnngen.core.plan import Plan, Shape, Stage
from cnngen.core.presets import (
    dropout_before_last_linear,
    option_notes,
    preset_norm,
    solve_preset,
)
from cnngen.core.spec import ModelSpec, format_value
from cnngen.core.transposed import _find_transposed, solve_transposed
from cnngen.core.unet import solve_unet
from cnngen.core.vocab import FLATTEN_MAX_POSITIONS, HELPER_CLASSES
from cnngen.errors import CnngenError

NORMS_THAT_CANCEL_BIAS = ("batchnorm", "instancenorm")
DOWNSAMPLE_FACTOR = 2


# --------------------------------------------------------------- geometry
@dataclass(frozen=True)
class DimConv:
    """One convolution along one dimension: explicit pad, then conv."""

    kernel: int
    stride: int
    padding: int
    dilation: int
    pre: tuple[int, int]
    size_in: int
    size_out: int


@dataclass(frozen=True)
class DimLayer:
    """One encoder layer along one dimension: its convolutions, then a pool."""

    convs: tuple[DimConv, ...]
    pool: int
    size_in: int
    size_out: int


@dataclass(frozen=True)
class LayerIntent:
    """What the solver wants from one layer in one dimension."""

    stride: int
    pool: int
    reduction: int = 0


def spread(count: int, layers: int) -> set[int]:
    """``count`` layer indices spread evenly over ``layers`` layers."""
    if count <= 0:
        return set()
    return {math.floor((j + 0.5) * layers / count) for j in range(count)}


def _padding(
    mode: str, size: int, kernel: int, stride: int, dilation: int
) -> tuple[int, tuple[int, int]]:
    """(symmetric conv padding, explicit (before, after) pad) for a padding mode."""
    if mode == "valid":
        return 0, (0, 0)
    if mode == "same":
        before, after = arithmetic.same_padding(size, kernel, stride, dilation)
        if before == after:
            return before, (0, 0)
        return 0, (before, after)
    return dilation * (kernel - 1) // 2, (0, 0)


def simulate_dim(
    size: int,
    intents: Sequence[LayerIntent],
    kernel: int,
    dilation: int,
    padding_mode: str,
    sub_blocks: int,
) -> list[DimLayer] | int:
    """Run the layers along one dimension.

    Returns the realized layers, or the index of the first layer that cannot
    run (its window no longer fits the feature map).
    """
    realized: list[DimLayer] = []
    for index, intent in enumerate(intents):
        layer_in = size
        convs = []
        for block in range(sub_blocks):
            stride = intent.stride if block == 0 else 1
            padding, pre = _padding(padding_mode, size, kernel, stride, dilation)
            if block == 0 and intent.reduction:
                padding -= intent.reduction
            padded = size + pre[0] + pre[1]
            if padded + 2 * padding < dilation * (kernel - 1) + 1:
                return index
            out = arithmetic.conv_size(padded, kernel, stride, padding, dilation)
            convs.append(DimConv(kernel, stride, padding, dilation, pre, size, out))
            size = out
        if intent.pool > 1:
            if size < intent.pool:
                return index
            size = arithmetic.pool_size(size, intent.pool, intent.pool, 0, ceil_mode=True)
        realized.append(DimLayer(tuple(convs), intent.pool, layer_in, size))
    return realized


@dataclass(frozen=True)
class Geometry:
    """Per-dimension plans of every encoder layer, from the spec."""

    dims: tuple[tuple[DimLayer, ...], ...]

    @property
    def layers(self) -> int:
        return len(self.dims[0])

    def sizes_after(self, index: int) -> Shape:
        return tuple(dim[index].size_out for dim in self.dims)


def _intents(spec: ModelSpec, dim: int, downsampling: set[int]) -> list[LayerIntent]:
    pinned = spec.stride[dim] if spec.stride is not None else None
    intents = []
    for index in range(spec.layers):
        if pinned is not None:
            intents.append(LayerIntent(pinned, 1))
        elif index in downsampling and spec.downsample == "stride":
            intents.append(LayerIntent(DOWNSAMPLE_FACTOR, 1))
        elif index in downsampling and spec.downsample == "pool":
            intents.append(LayerIntent(1, DOWNSAMPLE_FACTOR))
        else:
            intents.append(LayerIntent(1, 1))
    return intents


def _simulate(spec: ModelSpec, dim: int, intents: Sequence[LayerIntent]) -> list[DimLayer] | int:
    return simulate_dim(
        spec.input_size[dim],
        intents,
        spec.kernel[dim],
        spec.dilation[dim],
        spec.padding,
        spec.sub_blocks or 1,
    )


def _max_downsampling(spec: ModelSpec, dim: int) -> int:
    """Upper bound on useful downsampling layers for one dimension."""
    if spec.stride is not None or spec.downsample == "none":
        return 0
    return min(spec.layers, max(spec.input_size[dim], 1).bit_length())


def _first_failure(
    spec: ModelSpec, dim: int, realized: list[DimLayer] | int, floor: int
) -> int | None:
    if isinstance(realized, int):
        return realized
    for index, layer in enumerate(realized):
        if layer.size_out < floor:
            return index
    return None


def _too_many_layers(spec: ModelSpec, fits: int) -> CnngenError:
    how = []
    if spec.stride is not None:
        how.append(f"stride {format_value(spec.stride)}")
    if spec.padding != "auto":
        how.append(f"{spec.padding} padding")
    how.append(f"kernel {format_value(spec.kernel)}")
    if spec.sub_blocks and spec.sub_blocks > 1:
        how.append(f"{spec.sub_blocks} convolutions per layer")
    floor = spec.min_size or spec.target_size
    if fits >= 1:
        fix = f"use --layers {fits} or fewer"
    else:
        remedies = ["a smaller --min-size"]
        if any(k > 1 for k in spec.kernel):
            remedies.insert(0, "a smaller --kernel")
        if spec.padding != "auto":
            remedies.insert(0, "--padding auto")
        if spec.stride is not None and any(s > 1 for s in spec.stride):
            remedies.insert(0, "--stride 1")
        fix = (
            "use " + ", ".join(remedies[:-1]) + (" or " if len(remedies) > 1 else "") + remedies[-1]
        )
    return CnngenError(
        f"--layers: {spec.layers} layers shrink a {format_value(spec.input_size)} input "
        f"below {'--min-size' if spec.min_size else '--target-size'} {format_value(floor)} "
        f"(with {', '.join(how)}); at most {fits} layers fit, so {fix}",
        "--layers",
    )


def _plan_dim_min(spec: ModelSpec, dim: int) -> list[DimLayer]:
    floor = spec.min_size[dim]
    for count in range(_max_downsampling(spec, dim), -1, -1):
        realized = _simulate(spec, dim, _intents(spec, dim, spread(count, spec.layers)))
        if _first_failure(spec, dim, realized, floor) is None:
            assert not isinstance(realized, int)
            return realized
    raise _too_many_layers(spec, min(_layers_that_fit(spec, d) for d in range(spec.dims)))


def _layers_that_fit(spec: ModelSpec, dim: int) -> int:
    """How many layers stay at or above --min-size along ``dim`` without downsampling.

    When a layer cannot run at all, the layers before it are still checked
    against the floor: they may already have gone below it.
    """
    intents = _intents(spec, dim, set())
    realized = _simulate(spec, dim, intents)
    if isinstance(realized, int):
        realized = _simulate(spec, dim, intents[:realized])
        assert not isinstance(realized, int)
    floor = spec.min_size[dim]
    return next(
        (index for index, layer in enumerate(realized) if layer.size_out < floor), len(realized)
    )


def _fewest_reductions(
    spec: ModelSpec, dim: int, intents: Sequence[LayerIntent], target: int
) -> list[LayerIntent] | None:
    """Exact search: per-layer padding reductions that land on ``target``.

    Dynamic programming over the reachable sizes after each layer (sizes never
    grow, so anything below the target is dropped).  Among the ways to reach a
    size it keeps the one with the fewest reductions, placed as late as
    possible, which is what a person would do: keep early layers "same".
    """
    kernel, dilation = spec.kernel[dim], spec.dilation[dim]
    full = dilation * (kernel - 1) // 2
    states: dict[int, tuple[int, ...]] = {spec.input_size[dim]: ()}
    for intent in intents:
        following: dict[int, tuple[int, ...]] = {}
        for size, reductions in states.items():
            for reduction in range(full + 1):
                trial = LayerIntent(intent.stride, intent.pool, reduction)
                realized = simulate_dim(
                    size, [trial], kernel, dilation, spec.padding, spec.sub_blocks or 1
                )
                if isinstance(realized, int) or realized[0].size_out < target:
                    continue
                out = realized[0].size_out
                candidate = (*reductions, reduction)
                best = following.get(out)
                if best is None or (sum(candidate), candidate) < (sum(best), best):
                    following[out] = candidate
        states = following
    if target not in states:
        return None
    return [
        LayerIntent(intent.stride, intent.pool, reduction)
        for intent, reduction in zip(intents, states[target], strict=True)
    ]


def _placements(count: int, layers: int) -> list[set[int]]:
    """Where the downsampling layers may go: evenly spread first, then front-loaded."""
    options = [spread(count, layers), set(range(count)), set(range(layers - count, layers))]
    unique: list[set[int]] = []
    for option in options:
        if option not in unique:
            unique.append(option)
    return unique


def _plan_dim_target(spec: ModelSpec, dim: int) -> list[DimLayer]:
    target = spec.target_size[dim]
    reachable: set[int] = set()
    for count in range(_max_downsampling(spec, dim), -1, -1):
        for placement in _placements(count, spec.layers):
            intents = _intents(spec, dim, placement)
            realized = _simulate(spec, dim, intents)
            if isinstance(realized, int):
                continue
            reachable.add(realized[-1].size_out)
            if realized[-1].size_out < target:
                continue
            if spec.padding == "auto":
                reduced = _fewest_reductions(spec, dim, intents, target)
                if reduced is not None:
                    intents = reduced
                    realized = _simulate(spec, dim, intents)
            if not isinstance(realized, int) and realized[-1].size_out == target:
                return realized
    near = sorted(reachable, key=lambda size: (abs(size - target), size))[:4]
    raise CnngenError(
        f"--target-size: {spec.input_size[dim]} cannot reach exactly {target} in "
        f"{spec.layers} layers along dimension {dim + 1}; sizes these layers reach "
        f"near it: {', '.join(str(size) for size in sorted(near))} (or change --layers "
        f"or --kernel)",
        "--target-size",
    )


def plan_geometry(spec: ModelSpec) -> Geometry:
    """Per-dimension layer plans for the encoder trunk of ``spec``."""
    planner = _plan_dim_target if spec.target_size is not None else _plan_dim_min
    return Geometry(tuple(tuple(planner(spec, dim)) for dim in range(spec.dims)))


# ------------------------------------------------------------- channels
def _shrinks(spec: ModelSpec, geometry: Geometry) -> list[float]:
    result = []
    for index in range(geometry.layers):
        sizes = geometry.sizes_after(index)
        ratios = [spec.input_size[d] / sizes[d] for d in range(spec.dims)]
        result.append(math.prod(ratios) ** (1 / spec.dims))
    return result


def encoder_channels(spec: ModelSpec, geometry: Geometry) -> tuple[list[int], list[str]]:
    channels, clamped = channel_schedule(
        spec.channel_rule,
        spec.layers,
        spec.start_channels,
        spec.ratio,
        spec.min_channels,
        spec.max_channels,
        _shrinks(spec, geometry),
    )
    notes = []
    if clamped:
        layers = _ranges([i + 1 for i in clamped])
        notes.append(
            Note("note.clamped", low=spec.min_channels, high=spec.max_channels, layers=layers)
        )
    return channels, notes


def _ranges(numbers: Sequence[int]) -> str:
    """``[1, 2, 3, 5]`` as ``"1-3, 5"``."""
    parts: list[str] = []
    start = previous = numbers[0]
    for number in [*numbers[1:], None]:
        if number is not None and number == previous + 1:
            previous = number
            continue
        parts.append(str(start) if start == previous else f"{start}-{previous}")
        if number is not None:
            start = previous = number
    return ", ".join(parts)


# --------------------------------------------------------------- blocks
def _dim_conv(geometry: Geometry, index: int, block: int) -> list[DimConv]:
    return [dim[index].convs[block] for dim in geometry.dims]


def _add_conv(
    builder: StageBuilder,
    convs: Sequence[DimConv],
    out_channels: int,
    bias: bool,
    depthwise: bool,
    norm: str,
    activation: str,
    dropout: float,
) -> None:
    """One planned convolution (explicit pad first when uneven).

    With ``depthwise``, a k x k convolution becomes a per-channel k x k
    convolution, norm and activation, then a 1x1 convolution across channels.
    """
    if any(c.pre != (0, 0) for c in convs):
        builder.pad([c.pre[0] for c in convs], [c.pre[1] for c in convs])
    kernel = [c.kernel for c in convs]
    stride = [c.stride for c in convs]
    padding = [c.padding for c in convs]
    dilation = [c.dilation for c in convs]
    if depthwise and any(k > 1 for k in kernel):
        channels = builder.channels
        builder.conv(channels, kernel, stride, padding, dilation, groups=channels, bias=bias)
        _norm_act(builder, norm, activation, dropout)
        ones = [1] * len(kernel)
        builder.conv(out_channels, ones, ones, [0] * len(kernel), bias=bias)
    else:
        builder.conv(out_channels, kernel, stride, padding, dilation, bias=bias)


def _norm_act(builder: StageBuilder, norm: str, activation: str | None, dropout: float) -> None:
    builder.norm(norm, dropout)
    if activation is not None and activation != "none":
        builder.activation(activation)
    if dropout > 0 and norm != "dropout":
        builder.dropout(dropout)


def _pool(builder: StageBuilder, geometry: Geometry, index: int, kind: str) -> None:
    pools = [dim[index].pool for dim in geometry.dims]
    if any(p > 1 for p in pools):
        builder.pool(kind, pools, pools, ceil_mode=True)


def _conv_block(
    spec: ModelSpec,
    builder: StageBuilder,
    geometry: Geometry,
    index: int,
    out_channels: int,
) -> None:
    """A plain encoder layer: (conv, norm, act) x sub-blocks, SE, pool."""
    bias = spec.norm not in NORMS_THAT_CANCEL_BIAS
    for block in range(spec.sub_blocks or 1):
        _add_conv(
            builder,
            _dim_conv(geometry, index, block),
            out_channels,
            bias,
            spec.depthwise,
            spec.norm,
            spec.activation,
            0.0,
        )
        _norm_act(builder, spec.norm, spec.activation, spec.dropout)
    if spec.se:
        builder.squeeze_excite(_se_width(out_channels))
    _pool(builder, geometry, index, spec.pool)


def _se_width(channels: int) -> int:
    return max(channels // 16, min(channels, 4))


def _residual_stage(
    spec: ModelSpec,
    name: str,
    in_shape: Shape,
    fields: tuple,
    geometry: Geometry,
    index: int,
    out_channels: int,
) -> tuple[Stage, tuple]:
    """A basic or bottleneck residual block with a projection where shapes change."""
    bias = spec.norm not in NORMS_THAT_CANCEL_BIAS
    main = StageBuilder(in_shape, fields)
    convs = _dim_conv(geometry, index, 0)
    ones = [1] * spec.dims
    zeros = [0] * spec.dims
    if spec.block == "bottleneck":
        width = max(out_channels // 4, 1)
        main.conv(width, ones, ones, zeros, bias=bias)
        _norm_act(main, spec.norm, spec.activation, 0.0)
        _add_conv(main, convs, width, bias, spec.depthwise, spec.norm, spec.activation, 0.0)
        _norm_act(main, spec.norm, spec.activation, spec.dropout)
        main.conv(out_channels, ones, ones, zeros, bias=bias)
        main.norm(spec.norm, spec.dropout)
    else:
        _add_conv(main, convs, out_channels, bias, spec.depthwise, spec.norm, spec.activation, 0.0)
        _norm_act(main, spec.norm, spec.activation, spec.dropout)
        same = [
            DimConv(
                c.kernel,
                1,
                c.dilation * (c.kernel - 1) // 2,
                c.dilation,
                (0, 0),
                c.size_out,
                c.size_out,
            )
            for c in convs
        ]
        _add_conv(main, same, out_channels, bias, spec.depthwise, spec.norm, spec.activation, 0.0)
        main.norm(spec.norm, spec.dropout)
    if spec.se:
        main.squeeze_excite(_se_width(out_channels))
    stride = [c.stride for c in convs]
    shortcut = StageBuilder(in_shape, fields)
    if in_shape[0] != out_channels or any(s != 1 for s in stride):
        shortcut.conv(out_channels, ones, stride, zeros, bias=bias)
        shortcut.norm(spec.norm, spec.dropout)
    if shortcut.shape != main.shape:
        raise CnngenError(
            f"--kernel: the residual main path gives {format_value(main.shape)} but the "
            f"shortcut gives {format_value(shortcut.shape)}; use an odd --kernel or "
            f"--padding same",
            "--kernel",
        )
    post = StageBuilder(main.shape, main.fields)
    post.activation(spec.activation)
    post_ops = tuple(dataclasses.replace(op, path="act") for op in post.ops)
    # The shortcut is torchvision's `downsample`: an nn.Sequential indexed 0, 1.
    shortcut_ops = tuple(
        dataclasses.replace(op, path=str(index)) for index, op in enumerate(shortcut.ops)
    )
    stage = Stage(
        name,
        "residual",
        "trunk",
        tuple(main.ops),
        in_shape,
        main.shape,
        shortcut=shortcut_ops,
        post=post_ops,
    )
    return stage, main.fields


# --------------------------------------------------------------- decoder
@dataclass(frozen=True)
class Transform:
    """A size-changing encoder op, per dimension, for the decoder to undo."""

    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    prefer: tuple[int, ...]
    size_in: tuple[int, ...]
    size_out: tuple[int, ...]
    channels_in: int
    channels_out: int
    pre: tuple[tuple[int, int], ...] = ()


def _undo(transform: Transform) -> tuple[list[tuple[int, int]], tuple[tuple[int, int], ...] | None]:
    """Per-dimension (padding, output_padding) that undo ``transform``, and a crop if needed.

    An explicit uneven pad (``--padding same`` with an even kernel at stride 1)
    leaves a parity no transposed convolution can produce; then the transposed
    convolution maps back to the padded size and a negative pad crops exactly
    what the encoder's pad added.
    """
    dims = range(len(transform.kernel))
    found = [
        _find_transposed(
            transform.size_out[d],
            transform.size_in[d],
            transform.kernel[d],
            transform.stride[d],
            transform.dilation[d],
            transform.prefer[d],
        )
        for d in dims
    ]
    if all(item is not None for item in found):
        return [item for item in found if item is not None], None
    pre = transform.pre or ((0, 0),) * len(dims)
    solved = [
        solve_transposed(
            transform.size_out[d],
            transform.size_in[d] + sum(pre[d]),
            transform.kernel[d],
            transform.stride[d],
            transform.dilation[d],
            transform.prefer[d] - sum(pre[d]) // 2,
        )
        for d in dims
    ]
    return solved, transform.pre


def _layer_transforms(
    geometry: Geometry, index: int, channels_in: int, channels_out: int, sub_blocks: int
) -> list[Transform]:
    transforms = []
    for block in range(sub_blocks):
        convs = _dim_conv(geometry, index, block)
        transforms.append(
            Transform(
                kernel=tuple(c.kernel for c in convs),
                stride=tuple(c.stride for c in convs),
                dilation=tuple(c.dilation for c in convs),
                prefer=tuple(c.padding + (c.pre[0] + c.pre[1]) // 2 for c in convs),
                size_in=tuple(c.size_in for c in convs),
                size_out=tuple(c.size_out for c in convs),
                channels_in=channels_in if block == 0 else channels_out,
                channels_out=channels_out,
                pre=tuple(c.pre for c in convs),
            )
        )
    pools = [dim[index].pool for dim in geometry.dims]
    if any(p > 1 for p in pools):
        last = transforms[-1]
        transforms.append(
            Transform(
                kernel=tuple(pools),
                stride=tuple(pools),
                dilation=(1,) * len(pools),
                prefer=(0,) * len(pools),
                size_in=last.size_out,
                size_out=tuple(dim[index].size_out for dim in geometry.dims),
                channels_in=channels_out,
                channels_out=channels_out,
            )
        )
    return transforms


def _decoder_stages(
    spec: ModelSpec,
    geometry: Geometry,
    channels: Sequence[int],
    in_shape: Shape,
    fields: tuple,
    finishes: bool = True,
) -> tuple[list[Stage], tuple]:
    """Transposed layers that undo the encoder, layer by layer, to its exact sizes.

    With ``finishes`` the last op gets the final activation and keeps its bias;
    otherwise (a head follows) it is an ordinary layer with norm and activation.
    """
    stages = []
    shape = in_shape
    bias = spec.norm not in NORMS_THAT_CANCEL_BIAS
    ladder = [spec.in_channels, *channels]
    for step, index in enumerate(reversed(range(geometry.layers))):
        builder = StageBuilder(shape, fields)
        transforms = _layer_transforms(
            geometry, index, ladder[index], ladder[index + 1], spec.sub_blocks or 1
        )
        for position, transform in enumerate(reversed(transforms)):
            outermost = step == geometry.layers - 1 and position == len(transforms) - 1
            last = outermost and finishes
            out_channels = spec.out_channels if outermost else transform.channels_in
            solved, crop = _undo(transform)
            builder.conv_transpose(
                out_channels,
                transform.kernel,
                transform.stride,
                [p for p, _ in solved],
                [o for _, o in solved],
                transform.dilation,
                bias=bias or last,
            )
            if crop is not None:
                builder.crop([before for before, _ in crop], [after for _, after in crop])
            if last:
                if spec.final_activation != "none":
                    builder.activation(spec.final_activation)
            else:
                _norm_act(builder, spec.norm, spec.activation, spec.dropout)
        stages.append(builder.build(f"dec{step + 1}", "decoder"))
        shape, fields = builder.shape, builder.fields
    return stages, fields


# --------------------------------------------------------------- families
def _encoder_stages(
    spec: ModelSpec,
    geometry: Geometry,
    channels: Sequence[int],
    role: str,
    prefix: str,
    finishes: bool = False,
) -> tuple[list[Stage], tuple, Shape]:
    """The encoder (or classifier trunk) stages, layer by layer.

    With ``finishes`` the encoder is the whole model: its last stage ends
    with ``--final-activation``, added while that stage is built so the op's
    receptive field continues from the layers before it.
    """
    shape: Shape = (spec.in_channels, *spec.input_size)
    fields = fresh_fields(spec.dims)
    stages = []
    for index in range(geometry.layers):
        name = f"{prefix}{index + 1}"
        if spec.block in ("residual", "bottleneck"):
            stage, fields = _residual_stage(
                spec, name, shape, fields, geometry, index, channels[index]
            )
        else:
            builder = StageBuilder(shape, fields)
            _conv_block(spec, builder, geometry, index, channels[index])
            last = index == geometry.layers - 1
            if finishes and last and spec.final_activation != "none":
                builder.activation(spec.final_activation)
            stage, fields = builder.build(name, role), builder.fields
        stages.append(stage)
        shape = stage.out_shape
    return stages, fields, shape


def _trunk_field(stages: Sequence[Stage]) -> Shape:
    """The receptive field of the last op that still has positions (before any flatten)."""
    best: Shape = ()
    for stage in stages:
        for _, op in stage.all_ops():
            if len(op.out_shape) > 1 and op.kind not in ("unflatten",) and op.receptive_field:
                best = op.receptive_field
    return best


def _coverage_note(spec: ModelSpec, stages: Sequence[Stage], field: Shape) -> list[str]:
    """A warning when the output misses part of the input; a remark when a head fixes that."""
    size = spec.input_size
    if field and any(f < s for f, s in zip(field, size, strict=True)):
        return [Note("note.short_field", field=format_value(field), size=format_value(size))]
    trunk = _trunk_field(stages)
    if trunk and any(f < s for f, s in zip(trunk, size, strict=True)):
        return [Note("note.head_field", field=format_value(trunk), size=format_value(size))]
    return []


def _plan(
    spec: ModelSpec, stages: Sequence[Stage], notes: Sequence[str], helpers: Sequence[str] = ()
) -> Plan:
    used = {op.module for stage in stages for _, op in stage.all_ops()}
    if any(stage.kind == "residual" for stage in stages):
        used.add("Residual")
    stages, field = annotate(stages, (spec.in_channels, *spec.input_size))
    return Plan(
        family=spec.family,
        class_name=spec.class_name,
        dims=spec.dims,
        input_shape=(spec.in_channels, *spec.input_size),
        output_shape=stages[-1].out_shape,
        stages=tuple(stages),
        receptive_field=field,
        helpers=tuple(h for h in HELPER_CLASSES if h in used or h in helpers),
        notes=tuple(notes) + tuple(_coverage_note(spec, stages, field)),
        command=spec.command(),
    )


def _solve_encoder(spec: ModelSpec) -> Plan:
    geometry = plan_geometry(spec)
    channels, notes = encoder_channels(spec, geometry)
    stages, _, _ = _encoder_stages(spec, geometry, channels, "encoder", "enc", finishes=True)
    return _plan(spec, stages, notes)


def _solve_forecaster(spec: ModelSpec) -> Plan:
    geometry = plan_geometry(spec)
    channels, notes = encoder_channels(spec, geometry)
    stages, fields, shape = _encoder_stages(spec, geometry, channels, "encoder", "enc")
    if spec.latent is not None:
        builder = StageBuilder(shape, fields)
        builder.flatten()
        builder.linear(spec.latent)
        builder.activation(spec.activation)
        builder.linear(math.prod(shape))
        builder.activation(spec.activation)
        builder.unflatten(shape)
        stages.append(builder.build("latent", "latent"))
    depth = spec.input_size[0]
    needs_depth_head = spec.out_depth is not None and spec.out_depth != depth
    decoder, fields = _decoder_stages(
        spec, geometry, channels, shape, fields, finishes=not needs_depth_head
    )
    stages += decoder
    if needs_depth_head:
        stages.append(_depth_head(spec, decoder[-1].out_shape, fields))
        notes = [*notes, Note("note.time_head", depth=depth, out_depth=spec.out_depth)]
    return _plan(spec, stages, notes)


def _depth_head(spec: ModelSpec, shape: Shape, fields: tuple) -> Stage:
    """Map the depth (time) axis to ``--out-depth`` with one exact convolution.

    Fewer steps: a convolution over time only, kernel (in - out + 1, 1, 1), no
    padding.  More steps: the transposed counterpart, kernel (out - in + 1, 1, 1).
    Every output step is a learned mix of the input steps; nothing is resized.
    """
    depth, out_depth = shape[1], spec.out_depth
    assert out_depth is not None
    builder = StageBuilder(shape, fields)
    kernel = (abs(depth - out_depth) + 1, 1, 1)
    ones, zeros = (1, 1, 1), (0, 0, 0)
    if out_depth < depth:
        builder.conv(spec.out_channels, kernel, ones, zeros)
    else:
        builder.conv_transpose(spec.out_channels, kernel, ones, zeros, zeros)
    if spec.final_activation != "none":
        builder.activation(spec.final_activation)
    return builder.build("time", "head")


def _head_kind(spec: ModelSpec, spatial: Shape) -> str:
    """``--head``, with ``auto`` resolved for a last feature map of size ``spatial``.

    Flattening keeps where each feature fired, which small inputs such as
    digits need (and a rotation-invariant model all the more); on large maps it
    would make a huge linear layer, so ``auto`` averages those.
    """
    if spec.head != "auto":
        return spec.head
    return "flatten" if math.prod(spatial) <= FLATTEN_MAX_POSITIONS else "gap"


def _flatten_or_average(spec: ModelSpec, builder: StageBuilder) -> None:
    """The head's first step: flatten the last feature map or average it away."""
    if _head_kind(spec, builder.spatial) == "gap":
        builder.global_avg_pool()
    else:
        builder.flatten()


def _head(spec: ModelSpec, builder: StageBuilder, classes: int) -> None:
    """Hidden layers, dropout and the output layer; a rotation stack is pooled last.

    Between a rotation stack and its pooling every layer runs on each of the
    four copies, so each copy gets its own logits, and a class scores its best
    orientation (``max``) or the average of the four (``mean``).  Pooling the
    logits rather than the features keeps which features fired together in one
    orientation.
    """
    for width in spec.hidden:
        builder.linear(width)
        builder.activation(spec.activation)
    if spec.dropout > 0:
        builder.dropout(spec.dropout)
    builder.linear(classes)
    if builder.batch == 4:
        if spec.rotation_pool == "mean":
            builder.rotation_mean()
        else:
            builder.rotation_max()
    if spec.final_activation != "none":
        builder.activation(spec.final_activation)


def _solve_classifier(spec: ModelSpec) -> Plan:
    if spec.preset == "lenet5":
        return _solve_lenet5(spec)
    if spec.preset is not None:
        return solve_preset(spec)
    geometry = plan_geometry(spec)
    channels, notes = encoder_channels(spec, geometry)
    stages, fields, shape = _encoder_stages(spec, geometry, channels, "trunk", "layer")
    builder = StageBuilder(shape, fields)
    _flatten_or_average(spec, builder)
    _head(spec, builder, spec.classes)
    stages.append(builder.build("head", "head"))
    return _plan(spec, stages, notes)


def _solve_equivariant(spec: ModelSpec) -> Plan:
    geometry = plan_geometry(spec)
    channels, notes = encoder_channels(spec, geometry)
    if spec.group_conv:
        downsampling = [layer.size_out < layer.size_in for layer in geometry.dims[-1]]
        stages, head = group_conv_stages(spec, downsampling, channels)
        if _head_kind(spec, head.shape[-2:]) == "gap":
            head.group_pool()
            head.global_avg_pool()
        else:
            # Each orientation's maps turned back: a quarter turn of the input
            # then permutes the four copies, as in the rotation stack.
            head.orientation_stack()
            head.flatten()
        _head(spec, head, spec.classes)
        stages.append(head.build("head", "head"))
        notes = [*notes, Note("note.group_conv")]
        return _plan(spec, stages, notes)
    stages, fields, shape = _encoder_stages(spec, geometry, channels, "trunk", "layer")
    # Each sample runs the trunk once per quarter turn, so its MACs count four times.
    stages = [
        dataclasses.replace(
            stage,
            ops=tuple(dataclasses.replace(op, macs=4 * op.macs, batch=4) for op in stage.ops),
            shortcut=tuple(
                dataclasses.replace(op, macs=4 * op.macs, batch=4) for op in stage.shortcut
            ),
            post=tuple(dataclasses.replace(op, batch=4) for op in stage.post),
        )
        for stage in stages
    ]
    rotate = StageBuilder((spec.in_channels, *spec.input_size), fresh_fields(spec.dims))
    rotate.rotation_stack()
    builder = StageBuilder(shape, fields)
    builder.batch = 4
    # A quarter turn of the input permutes the four copies exactly, feature map
    # layout included, so flattening each copy keeps the result invariant.
    _flatten_or_average(spec, builder)
    _head(spec, builder, spec.classes)
    stages = [rotate.build("rotate", "rotate"), *stages, builder.build("head", "head")]
    notes = [*notes, Note("note.invariant")]
    return _plan(spec, stages, notes)


def _solve_lenet5(spec: ModelSpec) -> Plan:
    """LeNet-5 as in the course notebook: conv 5x5 pad 2, tanh, avg pool, 120-84-10.

    ``--norm`` adds a norm after each convolution (the convolution keeps its
    bias, as in torchvision's VGG-BN), named ``bn1``, ``bn2`` whatever the norm;
    ``--dropout`` adds a dropout before the last linear layer.
    """
    shape: Shape = (spec.in_channels, *spec.input_size)
    fields = fresh_fields(2)
    stages = []
    act = spec.activation
    for index, (out_channels, padding) in enumerate(((6, 2), (16, 0))):
        builder = StageBuilder(shape, fields)
        try:
            builder.conv(out_channels, (5, 5), (1, 1), (padding, padding))
            preset_norm(builder, spec.norm)
            builder.activation(act)
            builder.pool(spec.pool, (2, 2), (2, 2))
        except CnngenError as error:
            raise CnngenError(
                f"--input-size: {format_value(spec.input_size)} is too small for LeNet-5 "
                f"(two 5x5 convolutions and two 2x2 poolings need at least 12x12): {error}",
                "--input-size",
            ) from None
        stages.append(builder.build(f"layer{index + 1}", "trunk"))
        shape, fields = builder.shape, builder.fields
    builder = StageBuilder(shape, fields)
    builder.flatten()
    for width in spec.hidden or (120, 84):
        builder.linear(width)
        builder.activation(act)
    if dropout_before_last_linear(spec):
        builder.dropout(spec.dropout)
    builder.linear(spec.classes)
    stages.append(builder.build("head", "head"))
    return _plan(spec, stages, [Note("note.lenet5"), *option_notes(spec, stages)])


SOLVERS = {
    "encoder": _solve_encoder,
    "forecaster": _solve_forecaster,
    "classifier": _solve_classifier,
    "equivariant": _solve_equivariant,
    "unet": solve_unet,
}


def solve(spec: ModelSpec) -> Plan:
    """The exact plan for a validated spec; one that could never run is refused."""
    plan = SOLVERS[spec.family](spec)
    check_plan_limits(plan)
    return plan
