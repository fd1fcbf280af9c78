"""The U-Net family: encoder levels, a bottleneck, decoder levels fed by skips.

Ronneberger et al. (2015) crop each skip to fit its decoder level, and most
libraries since demand an input divisible by 2^depth.  Here every size is
exact for any input, odd and prime included: convolutions keep their size
(odd kernel, symmetric padding), each level halves a dimension with a 2-wide
max pool (``ceil_mode`` where the size is odd, so no pixel is dropped), and
each decoder level lands on its skip's size exactly:

- ``--upsample transposed`` solves the transposed convolution's padding and
  ``output_padding`` per level and per dimension;
- ``--upsample nearest|bilinear`` interpolates to the skip's size, written as
  a constant, then a 1x1 convolution halves the channels;
- ``--upsample pixelshuffle`` (2D) convolves to four times the channels and
  moves them into a map twice the size (sub-pixel convolution), cropping the
  last row or column where the skip's size is odd.

``--downsample stride`` halves with a stride-2 convolution (kernel 3,
padding 1: exactly ceil(n / 2), as the pool gives) in place of the pool.

``--deep-supervision N`` adds a 1x1 head to each of the N decoder levels
below full resolution (``head2`` on ``dec2`` ...); in training forward
returns their maps after the output, at each level's own size, and
``train.py`` compares each with the mask sampled to that size, with weights
1/2, 1/4 ... (see :func:`_deep_supervision`).

The skip is concatenated as it is: never cropped, never padded.  A dimension
that would fall below ``--min-size`` stops halving (its pool and upsampling
kernel are 1 along it), and the plan notes where.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from cnngen.core.blocks import residual_stage
from cnngen.core.builder import StageBuilder
from cnngen.core.fields import annotate
from cnngen.core.geometry import channel_widths, rule_notes
from cnngen.core.notes import Note
from cnngen.core.plan import Extra, Plan, Shape, Stage
from cnngen.core.spec import ModelSpec, conv_bias, format_value
from cnngen.core.transposed import solve_transposed
from cnngen.core.vocab import HELPER_CLASSES
from cnngen.errors import CnngenError


def level_sizes(spec: ModelSpec) -> tuple[list[Shape], list[Shape], list[str]]:
    """Spatial sizes of each level (input first, bottleneck last), pool kernels, notes.

    A dimension halves (rounding up) at a level while the result stays at or
    above ``--min-size``; a level where no dimension can halve means too many
    levels.
    """
    assert spec.min_size is not None
    sizes: list[Shape] = [spec.input_size]
    kernels: list[Shape] = []
    notes: list[str] = []
    for level in range(spec.layers):
        current = sizes[-1]
        kernel = tuple(
            2 if math.ceil(size / 2) >= spec.min_size[d] and size >= 2 else 1
            for d, size in enumerate(current)
        )
        if all(k == 1 for k in kernel):
            raise CnngenError(
                f"--layers: a {spec.layers}-level U-Net halves a "
                f"{format_value(spec.input_size)} input below --min-size "
                f"{format_value(spec.min_size)} (level {level + 1} is "
                f"{format_value(current)}); at most {level} levels fit, so use "
                f"--layers {max(level, 1)} or a smaller --min-size",
                "--layers",
                key="refusal.unet_levels",
                fields={
                    "layers": spec.layers,
                    "input": format_value(spec.input_size),
                    "min": format_value(spec.min_size),
                    "level": level + 1,
                    "size": format_value(current),
                    "fit": level,
                    "use": max(level, 1),
                },
            )
        kept = [d + 1 for d, k in enumerate(kernel) if k == 1]
        if kept:
            notes.append(
                Note(
                    "note.unet_level_kept",
                    level=level + 1,
                    dims=", ".join(map(str, kept)),
                    sizes=format_value(tuple(current[d - 1] for d in kept)),
                )
            )
        kernels.append(kernel)
        sizes.append(tuple(math.ceil(size / k) for size, k in zip(current, kernel, strict=True)))
    return sizes, kernels, notes


def _norm_act(builder: StageBuilder, spec: ModelSpec) -> None:
    builder.norm(spec.norm, spec.dropout)
    if spec.activation != "none":
        builder.activation(spec.activation)
    if spec.dropout > 0 and spec.norm != "dropout":
        builder.dropout(spec.dropout)


def _convs(
    builder: StageBuilder, spec: ModelSpec, out_channels: int, last_activation: bool = True
) -> None:
    """``--sub-blocks`` size-keeping convolutions (2 by default), each with norm and activation.

    Without ``last_activation`` the last one stops after its norm: a residual
    unit applies the activation after adding its input back.
    """
    bias = conv_bias(spec)
    ones = (1,) * spec.dims
    padding = [d * (k - 1) // 2 for k, d in zip(spec.kernel, spec.dilation, strict=True)]
    count = spec.sub_blocks or 2
    for index in range(count):
        # --groups splits every convolution but the first, which reads the input.
        first = not builder.ops and builder.in_shape == (spec.in_channels, *spec.input_size)
        groups = 1 if first else spec.groups
        builder.conv(
            out_channels, spec.kernel, ones, padding, spec.dilation, groups=groups, bias=bias
        )
        if index < count - 1 or last_activation:
            _norm_act(builder, spec)
        else:
            builder.norm(spec.norm, spec.dropout)


def _level(
    spec: ModelSpec, name: str, role: str, builder: StageBuilder, out_channels: int, level: int
) -> list[Stage]:
    """A level's stages: its convolutions, or with --residual-units a residual unit of them.

    The unit's shortcut is a 1x1 convolution where the channels change (the
    identity elsewhere); what came before the convolutions (the level's
    downsampling) stays a stage of its own, named ``downN``.
    """
    if not spec.residual_units:
        _convs(builder, spec, out_channels)
        return [builder.build(name, role)]
    stages = []
    if builder.ops:
        stages.append(builder.build(f"down{level}", "downsample"))
    main = StageBuilder(builder.shape)
    _convs(main, spec, out_channels, last_activation=False)
    activation = spec.activation if spec.activation != "none" else None
    unit = residual_stage(
        name, builder.shape, main, (1,) * spec.dims, conv_bias(spec),
        spec.norm, activation,
    )  # fmt: skip
    stages.append(dataclasses.replace(unit, role=role))
    return stages


def _channels(spec: ModelSpec, sizes: Sequence[Shape]) -> tuple[list[int], list[str]]:
    shrinks = [
        math.prod(spec.input_size[d] / size[d] for d in range(spec.dims)) ** (1 / spec.dims)
        for size in sizes
    ]
    channels, clamped = channel_widths(spec, spec.layers + 1, shrinks)
    notes = rule_notes(spec, channels)
    if clamped:
        notes.append(
            Note(
                "note.unet_clamped",
                low=spec.min_channels,
                high=spec.max_channels,
                levels=", ".join(str(i + 1) for i in clamped),
            )
        )
    return channels, notes


def _upsample(
    spec: ModelSpec, builder: StageBuilder, kernel: Shape, size: Shape, channels: int
) -> None:
    """Bring the level below up to ``size`` exactly, with ``channels`` channels."""
    if spec.upsample == "transposed":
        solved = [
            solve_transposed(builder.spatial[d], size[d], kernel[d], kernel[d], 1, 0)
            for d in range(spec.dims)
        ]
        builder.conv_transpose(
            channels, kernel, kernel, [p for p, _ in solved], [o for _, o in solved]
        )
        return
    ones = (1,) * spec.dims
    if spec.upsample == "pixelshuffle":
        padding = [(k - 1) // 2 for k in spec.kernel]
        builder.conv(channels * 4, spec.kernel, ones, padding, bias=conv_bias(spec))
        builder.pixel_shuffle(2)
        extra = [have - want for have, want in zip(builder.spatial, size, strict=True)]
        if any(extra):
            builder.crop((0,) * spec.dims, extra)
        return
    builder.upsample(size, spec.upsample)
    builder.conv(channels, ones, ones, (0,) * spec.dims)


def _downsample(spec: ModelSpec, builder: StageBuilder, kernel: Shape, odd: bool) -> None:
    """Halve each dimension whose ``kernel`` is 2: a max pool, or a stride-2 convolution."""
    if spec.downsample != "stride":
        builder.pool(spec.pool, kernel, kernel, ceil_mode=odd)
        return
    taps = [3 if k == 2 else 1 for k in kernel]
    padding = [1 if k == 2 else 0 for k in kernel]
    builder.conv(builder.channels, taps, kernel, padding, bias=conv_bias(spec))
    _norm_act(builder, spec)


def _check_pixel_shuffle(spec: ModelSpec, kernels: Sequence[Shape]) -> None:
    """Sub-pixel upsampling grows every dimension of a 2D map by the same factor."""
    if spec.upsample != "pixelshuffle":
        return
    if spec.dims != 2:
        raise CnngenError(
            f"--upsample: pixelshuffle is 2D (torch's PixelShuffle), the input is "
            f"{spec.dims}D; use --upsample transposed",
            "--upsample",
        )
    for level, kernel in enumerate(kernels):
        if any(k == 1 for k in kernel):
            raise CnngenError(
                f"--upsample: pixelshuffle doubles both dimensions, but level {level + 1} "
                f"keeps one (it would fall below --min-size); use --upsample transposed, "
                f"fewer --layers or a smaller --min-size",
                "--upsample",
            )


def _head(spec: ModelSpec, shape: Shape, name: str, role: str) -> Stage:
    """A 1x1 convolution to --out-channels (with --final-activation): a map of logits."""
    head = StageBuilder(shape)
    ones = (1,) * spec.dims
    assert spec.out_channels is not None
    head.conv(spec.out_channels, ones, ones, (0,) * spec.dims)
    if spec.final_activation != "none":
        head.activation(spec.final_activation)
    return head.build(name, role)


def _deep_supervision(
    spec: ModelSpec, stages: Sequence[Stage], kernels: Sequence[Shape]
) -> list[Extra]:
    """``--deep-supervision N``: a head on each of dec2 .. dec(N + 1), in training only.

    Head ``headL`` reads ``decL``, whose map is the input halved (rounding up)
    wherever levels 1 .. L-1 pool, so the target sampled every ``step``-th
    position (the product of those pool kernels) has its size exactly:
    ceil(ceil(n / 2) / 2) = ceil(n / 4).  The weights halve per level as in
    MONAI's DynUNet: 1/2 for head2, 1/4 for head3 ... (the output's is 1).
    """
    ends = {stage.name: stage for stage in stages}
    extras = []
    for level in range(2, spec.deep_supervision + 2):
        source = ends[f"dec{level}"]
        head = _head(spec, source.out_shape, f"head{level}", "aux")
        pooled = kernels[: level - 1]
        step = tuple(math.prod(kernel[d] for kernel in pooled) for d in range(spec.dims))
        extras.append(Extra(head, source.name, 0.5 ** (level - 1), step))
    return extras


def solve_unet(spec: ModelSpec) -> Plan:
    """The exact U-Net plan for a validated spec."""
    sizes, kernels, notes = level_sizes(spec)
    _check_pixel_shuffle(spec, kernels)
    channels, channel_notes = _channels(spec, sizes)
    notes += channel_notes
    shape: Shape = (spec.in_channels, *spec.input_size)
    stages: list[Stage] = []
    for level in range(spec.layers + 1):
        builder = StageBuilder(shape)
        if level:
            kernel = kernels[level - 1]
            odd = any(size % 2 and k == 2 for size, k in zip(shape[1:], kernel, strict=True))
            _downsample(spec, builder, kernel, odd)
        name, role = (
            (f"enc{level + 1}", "encoder") if level < spec.layers else ("bottleneck", "bottleneck")
        )
        level_stages = _level(spec, name, role, builder, channels[level], level + 1)
        stages += level_stages
        shape = level_stages[-1].out_shape
    skips = {stage.name: stage for stage in stages}
    for level in reversed(range(spec.layers)):
        skip = skips[f"enc{level + 1}"]
        up = StageBuilder(shape)
        _upsample(spec, up, kernels[level], sizes[level], channels[level])
        stages.append(up.build(f"up{level + 1}", "upsample"))
        merged: Shape = (skip.out_shape[0] + up.shape[0], *up.shape[1:])
        stages.append(
            Stage(
                f"cat{level + 1}",
                "concat",
                "skip",
                (),
                up.shape,
                merged,
                inputs=(skip.name, f"up{level + 1}"),
            )
        )
        builder = StageBuilder(merged)
        stages += _level(spec, f"dec{level + 1}", "decoder", builder, channels[level], level + 1)
        shape = stages[-1].out_shape
    stages.append(_head(spec, shape, "head", "head"))
    extras = _deep_supervision(spec, stages, kernels)
    # The exact field of the central output pixel, as every other family reports it.
    annotated, field = annotate(stages, (spec.in_channels, *spec.input_size))
    stages = list(annotated)
    if field and any(f < s for f, s in zip(field, spec.input_size, strict=True)):
        notes.append(
            Note(
                "note.short_field",
                field=format_value(field),
                size=format_value(spec.input_size),
            )
        )
    notes.append(Note("note.unet_skips", upsample=spec.upsample))
    if extras:
        notes.append(
            Note(
                "note.unet_deep_supervision",
                heads=", ".join(extra.stage.name for extra in extras),
                weights=", ".join(format_value(extra.weight) for extra in extras),
                steps=", ".join(format_value(extra.step) for extra in extras),
            )
        )
    # The helper classes its ops construct (ChannelNorm for --norm layernorm).
    used = {op.module for stage in stages for _, op in stage.all_ops()}
    if spec.residual_units:
        used.add("Residual")
    return Plan(
        family=spec.family,
        class_name=spec.class_name,
        dims=spec.dims,
        input_shape=(spec.in_channels, *spec.input_size),
        output_shape=stages[-1].out_shape,
        stages=tuple(stages),
        receptive_field=field,
        helpers=tuple(name for name in HELPER_CLASSES if name in used),
        notes=tuple(notes),
        command=spec.command(),
        extras=tuple(extras),
    )
