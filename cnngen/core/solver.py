"""The shape solver: a validated spec in, an exact plan out.

Each family is put together here from the parts that plan it: the
per-dimension geometry and channel schedule (``geometry``), the encoder and
the mirrored decoder stages (``blocks``), the presets, U-Nets and group
convolutions (``presets``, ``unet``, ``equivariant``) and the heads.  Every
size is an exact integer, and a forecaster's decoder lands on its encoder's
sizes without any resize.

Planning never imports torch and stays cheap (see benchmarks/PLAN_SPEED.md).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from cnngen.core.blocks import decoder_stages, encoder_stages, mirror_widths
from cnngen.core.builder import LayerOptions, StageBuilder, layer_options
from cnngen.core.channels import tcb_decoder_channels
from cnngen.core.checks import check_plan_limits
from cnngen.core.fields import annotate
from cnngen.core.geometry import encoder_channels, plan_geometry
from cnngen.core.notes import Note
from cnngen.core.plan import Plan, Shape, Stage
from cnngen.core.spec import MAX_CHANNELS, ModelSpec, conv_bias, format_value
from cnngen.core.transposed import free_decoder_dim
from cnngen.core.vocab import FLATTEN_MAX_POSITIONS, HELPER_CLASSES
from cnngen.errors import CnngenError


def _trunk_field(stages: Sequence[Stage]) -> Shape:
    """The receptive field of the last op that still has positions (before any flatten)."""
    for stage in reversed(stages):
        for op in reversed(stage.every_op()):
            if len(op.out_shape) > 1 and op.kind != "unflatten" and op.receptive_field:
                return op.receptive_field
    return ()


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
    used = {op.module for stage in stages for op in stage.every_op()}
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
        # A decoder grows a latent map: each output reading a patch of it is the point.
        notes=(*notes, *(() if spec.family == "decoder" else _coverage_note(spec, stages, field))),
        command=spec.command(),
    )


def _solve_encoder(spec: ModelSpec) -> Plan:
    geometry = plan_geometry(spec)
    channels, notes = encoder_channels(spec, geometry)
    stages, _ = encoder_stages(spec, geometry, channels, "encoder", "enc", finishes=True)
    return _plan(spec, stages, notes)


def _solve_forecaster(spec: ModelSpec) -> Plan:
    geometry = plan_geometry(spec)
    channels, notes = encoder_channels(spec, geometry)
    stages, shape = encoder_stages(spec, geometry, channels, "encoder", "enc")
    if spec.latent is not None:
        stages.append(_latent_stage(spec, shape))
    depth = spec.input_size[0]
    needs_depth_head = spec.out_depth is not None and spec.out_depth != depth
    widths, width_notes = decoder_widths(spec, channels)
    notes = [*notes, *width_notes]
    resized = spec.out_size is not None and spec.out_size != spec.input_size
    own_depth = spec.decoder_layers is not None and spec.decoder_layers != spec.layers
    own_taps = spec.decoder_kernel is not None or spec.decoder_stride is not None
    if resized or own_depth or own_taps:
        decoder = free_decoder_stages(spec, shape, widths, finishes=not needs_depth_head)
        notes.append(
            Note(
                "note.free_decoder",
                layers=len(widths),
                size=format_value(spec.out_size or spec.input_size),
            )
        )
    else:
        decoder = decoder_stages(
            spec, geometry, channels, shape, finishes=not needs_depth_head, widths=widths
        )
    stages += decoder
    if needs_depth_head:
        stages.append(_depth_head(spec, decoder[-1].out_shape))
        notes = [*notes, Note("note.time_head", depth=depth, out_depth=spec.out_depth)]
    return _plan(spec, stages, notes)


def latent_widths(size_in: int, size_out: int, layers: int) -> list[int]:
    """The outputs of ``layers`` linear layers from ``size_in`` to ``size_out`` features.

    Spaced evenly on a log scale (as TorchCNNBuilder's latent module spaces
    them), rounded to whole features; the last is ``size_out`` exactly.
    """
    ratio = math.log(size_out / size_in)
    inner = [round(size_in * math.exp(ratio * step / layers)) for step in range(1, layers)]
    return [*(max(1, width) for width in inner), size_out]


def _latent_stage(spec: ModelSpec, shape: Shape) -> Stage:
    """Flatten the bottleneck, linear layers down to ``--latent`` and back, unflatten.

    A latent shape (``8x4x4``) is unflattened to in the middle, so the plan
    shows the latent tensor itself; a width stays a vector.
    """
    assert spec.latent is not None
    activation = spec.latent_activation or spec.activation
    flat, latent = math.prod(shape), math.prod(spec.latent)
    builder = StageBuilder(shape)
    builder.flatten()
    for width in latent_widths(flat, latent, spec.latent_layers):
        builder.linear(width)
        if activation != "none":
            builder.activation(activation)
    if len(spec.latent) > 1:
        builder.unflatten(spec.latent)
        builder.flatten()
    for width in latent_widths(latent, flat, spec.latent_layers):
        builder.linear(width)
        if activation != "none":
            builder.activation(activation)
    builder.unflatten(shape)
    return builder.build("latent", "latent")


def _solve_decoder(spec: ModelSpec) -> Plan:
    """``--layers`` transposed convolutions from a latent map to ``--out-size``, solved exactly."""
    shape = (spec.in_channels, *spec.input_size)
    widths, notes = decoder_widths(spec, [spec.in_channels])
    stages = free_decoder_stages(spec, shape, widths, finishes=True)
    assert spec.out_size is not None
    size = format_value(spec.out_size)
    notes = [*notes, Note("note.free_decoder", layers=len(widths), size=size)]
    return _plan(spec, stages, notes)


def halving_widths(in_channels: int, out_channels: int, layers: int) -> list[int]:
    """A decoder family's default widths: halve the latent's channels each layer, end at the output's.

    The halving stops at the output's channels (and at 1), as generators
    from a latent map usually do (64 -> 32, 16, 3).
    """
    widths = [max(in_channels >> step, out_channels, 1) for step in range(1, layers)]
    return [*widths, out_channels]


def decoder_widths(spec: ModelSpec, channels: Sequence[int]) -> tuple[list[int], list[str]]:
    """The output channels of each decoder layer, from ``--decoder-channels``, and a note.

    ``mirror`` (the default) reverses the encoder's widths; a TorchCNNBuilder
    rule interpolates from the bottleneck to ``--out-channels`` as it does
    (60 -> 30 at 100x100 over 5 layers: 94, 78, 62, 46, 30); a list is taken as given.
    """
    rule = spec.decoder_channels
    if spec.family == "decoder" and rule is None:
        assert spec.out_channels is not None
        return halving_widths(channels[-1], spec.out_channels, spec.layers), []
    if rule is None or rule == "mirror":
        return mirror_widths(spec, channels), []
    if isinstance(rule, tuple):
        widths = list(rule)
        return widths, [Note("note.decoder_channels", widths=", ".join(map(str, widths)))]
    assert spec.out_channels is not None
    bottleneck = channels[-1]
    depth = spec.decoder_layers or spec.layers
    widths = tcb_decoder_channels(rule, depth, bottleneck, spec.out_channels, spec.ratio)
    if not widths or min(widths) < 1:
        why = (
            f"gives {min(widths)} channels on a decoder layer"
            if widths
            else f"cannot step from {bottleneck} to {spec.out_channels} in {depth} whole steps"
        )
        raise CnngenError(
            f"--decoder-channels: {rule} {why} (TorchCNNBuilder refuses it too); use "
            f"another rule, a list such as --decoder-channels "
            f"{','.join(map(str, mirror_widths(spec, channels)))}, or fewer --layers",
            "--decoder-channels",
        )
    for width in widths:
        if width > MAX_CHANNELS:
            raise CnngenError(
                f"--decoder-channels: {rule} gives {width:,} channels, above the "
                f"{MAX_CHANNELS:,} cnngen plans; use a smaller --ratio or a list",
                "--decoder-channels",
            )
    return widths, [Note("note.decoder_rule", rule=rule, widths=", ".join(map(str, widths)))]


def free_decoder_stages(
    spec: ModelSpec, in_shape: Shape, widths: Sequence[int], finishes: bool
) -> list[Stage]:
    """``--decoder-layers`` transposed convolutions from the bottleneck to ``--out-size``.

    Each dimension's strides, paddings and output paddings are solved
    exactly (:func:`free_decoder_dim`); nothing is cropped or resized.
    """
    layers = len(widths)
    target = spec.out_size or spec.input_size
    kernel = spec.decoder_kernel or spec.kernel
    per_dim = []
    for d in range(spec.dims):
        strides = (2, 1) if spec.decoder_stride is None else (spec.decoder_stride[d],)
        solved = free_decoder_dim(
            in_shape[1 + d], target[d], layers, kernel[d], spec.dilation[d], strides
        )
        if solved is None:
            raise _unreachable_decoder(spec, layers, kernel[d], in_shape[1 + d], target[d], d)
        per_dim.append(solved)
    bias = conv_bias(spec)
    stages = []
    shape = in_shape
    for step in range(layers):
        last = step == layers - 1 and finishes
        builder = StageBuilder(shape)
        builder.conv_transpose(
            widths[step],
            kernel,
            [per_dim[d][step][0] for d in range(spec.dims)],
            [per_dim[d][step][1] for d in range(spec.dims)],
            [per_dim[d][step][2] for d in range(spec.dims)],
            spec.dilation,
            bias=bias or last,
        )
        if last:
            if spec.final_activation != "none":
                builder.activation(spec.final_activation)
        else:
            builder.norm(spec.norm, spec.dropout)
            builder.activation(spec.activation)
            if spec.dropout > 0 and spec.norm != "dropout":
                builder.dropout(spec.dropout)
        stages.append(builder.build(f"dec{step + 1}", "decoder"))
        shape = builder.shape
    return stages


def _unreachable_decoder(
    spec: ModelSpec, layers: int, kernel: int, size_in: int, size_out: int, d: int
) -> CnngenError:
    """The one-line refusal of a decoder whose layers cannot land on the output size.

    It names the option that pinned the decoder (its stride, its depth, or the
    output size) and what would reach the size.
    """
    taps = f"kernel {kernel}"
    grow = "(each at most doubles the size), or an --out-size they reach"
    if spec.decoder_stride is not None:
        param, taps = "--decoder-stride", f"{taps}, stride {spec.decoder_stride[d]}"
        fix = "another --decoder-stride, a --decoder-kernel, or more or fewer layers"
    elif spec.family == "decoder":
        param, fix = "--out-size", f"more --layers {grow}"
    elif spec.decoder_layers is not None:
        param, fix = "--decoder-layers", f"more --decoder-layers {grow}"
    else:
        param, fix = "--out-size", f"more --decoder-layers {grow}"
    return CnngenError(
        f"{param}: {layers} transposed convolutions ({taps}) cannot grow {size_in} to "
        f"exactly {size_out} along dimension {d + 1}; use {fix}",
        param,
    )


def _depth_head(spec: ModelSpec, shape: Shape) -> Stage:
    """Map the depth (time) axis to ``--out-depth`` with one exact convolution.

    Fewer steps: a convolution over time only, kernel (in - out + 1, 1, 1), no
    padding.  More steps: the transposed counterpart, kernel (out - in + 1, 1, 1).
    Every output step is a learned mix of the input steps; nothing is resized.
    """
    depth, out_depth = shape[1], spec.out_depth
    assert out_depth is not None
    builder = StageBuilder(shape)
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
    if builder.batch > 1:
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
        from cnngen.core.presets import solve_preset

        plan = solve_preset(spec)
        coverage = _coverage_note(spec, plan.stages, plan.receptive_field)
        return dataclasses.replace(plan, notes=(*plan.notes, *coverage))
    geometry = plan_geometry(spec)
    channels, notes = encoder_channels(spec, geometry)
    stages, shape = encoder_stages(spec, geometry, channels, "trunk", "layer")
    builder = StageBuilder(shape)
    _flatten_or_average(spec, builder)
    _head(spec, builder, spec.classes)
    stages.append(builder.build("head", "head"))
    return _plan(spec, stages, notes)


def _solve_equivariant(spec: ModelSpec) -> Plan:
    from cnngen.core.equivariant import FULL_BASIS, group_conv_stages, harmonic_weights

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
        group_note = "note.group_conv_d4" if spec.group == "d4" else "note.group_conv"
        notes = [*notes, Note(group_note)]
        if spec.basis == FULL_BASIS:
            return _plan(spec, stages, notes)
        kernel = spec.kernel[0]
        basis_note = Note(
            "note.harmonic_basis", weights=harmonic_weights(kernel), kernel=kernel,
            taps=kernel * kernel,
        )  # fmt: skip
        return _plan(spec, stages, [*notes, basis_note], helpers=("HarmonicBasis",))
    stages, shape = encoder_stages(spec, geometry, channels, "trunk", "layer")
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
    rotate = StageBuilder((spec.in_channels, *spec.input_size))
    rotate.rotation_stack()
    builder = StageBuilder(shape)
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
    from cnngen.core.presets import dropout_before_last_linear, option_notes, preset_norm

    shape: Shape = (spec.in_channels, *spec.input_size)
    stages = []
    act = spec.activation
    for index, (out_channels, padding) in enumerate(((6, 2), (16, 0))):
        builder = StageBuilder(shape)
        try:
            builder.conv(out_channels, (5, 5), (1, 1), (padding, padding))
            preset_norm(builder, spec.norm)
            builder.activation(act)
            builder.pool(spec.pool, (2, 2), (2, 2))
        except CnngenError:
            raise CnngenError(
                f"--input-size: {format_value(spec.input_size)} is too small for LeNet-5 "
                "(two 5x5 convolutions and two 2x2 poolings need at least 12x12); "
                "use -i 12x12 or larger (LeNet-5 was drawn for 32x32)",
                "--input-size",
                key="refusal.lenet_small",
                fields={"value": format_value(spec.input_size)},
            ) from None
        stages.append(builder.build(f"layer{index + 1}", "trunk"))
        shape = builder.shape
    builder = StageBuilder(shape)
    builder.flatten()
    for width in spec.hidden or (120, 84):
        builder.linear(width)
        builder.activation(act)
    if dropout_before_last_linear(spec):
        builder.dropout(spec.dropout)
    builder.linear(spec.classes)
    stages.append(builder.build("head", "head"))
    return _plan(spec, stages, [Note("note.lenet5"), *option_notes(spec, stages)])


def _solve_unet(spec: ModelSpec) -> Plan:
    from cnngen.core.unet import solve_unet

    return solve_unet(spec)


# The presets, U-Nets and group convolutions are imported by their own
# families only: a forecaster's `cnngen model` does not load them.
SOLVERS = {
    "encoder": _solve_encoder,
    "forecaster": _solve_forecaster,
    "decoder": _solve_decoder,
    "classifier": _solve_classifier,
    "equivariant": _solve_equivariant,
    "unet": _solve_unet,
}


def solve(spec: ModelSpec) -> Plan:
    """The exact plan for a validated spec; one that could never run is refused."""
    options = LayerOptions(
        norm_eps=spec.norm_eps,
        norm_momentum=spec.norm_momentum,
        affine=not spec.no_affine,
        padding_mode=spec.padding_mode,
    )
    with layer_options(options):
        plan = SOLVERS[spec.family](spec)
    check_plan_limits(plan)
    return plan
