"""Stages from a geometry: plain, VGG and residual blocks, and the mirrored decoder.

The builders here turn the planned per-dimension convolutions into named
stages (``layer1``, ``enc2``, ``dec1`` ...) of ops with exact shapes; the
decoder undoes each encoder layer with a transposed convolution (or an
upsample) whose ``output_padding`` lands on the encoder's size exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

from cnngen.core.builder import StageBuilder
from cnngen.core.geometry import DimConv, Geometry
from cnngen.core.plan import Op, Shape, Stage
from cnngen.core.spec import ModelSpec, conv_bias, format_value
from cnngen.core.transposed import _find_transposed, solve_transposed
from cnngen.errors import CnngenError


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
    groups: int = 1,
) -> None:
    """One planned convolution (explicit pad first when uneven).

    With ``depthwise``, a k x k convolution becomes a per-channel k x k
    convolution, norm and activation, then a 1x1 convolution across channels.
    ``groups`` (--groups) splits it into that many grouped convolutions.
    """
    # One tuple per field of the convolutions, over the dimensions.
    kernel, stride, padding, dilation, pre, _, _ = zip(*convs, strict=True)
    if pre.count((0, 0)) != len(pre):
        builder.pad([before for before, _ in pre], [after for _, after in pre])
    if depthwise and any(k > 1 for k in kernel):
        channels = builder.channels
        builder.conv(channels, kernel, stride, padding, dilation, groups=channels, bias=bias)
        _norm_act(builder, norm, activation, dropout)
        ones = [1] * len(kernel)
        builder.conv(out_channels, ones, ones, [0] * len(kernel), bias=bias)
    else:
        builder.conv(out_channels, kernel, stride, padding, dilation, groups=groups, bias=bias)


def planned_groups(spec: ModelSpec, index: int, block: int = 0) -> int:
    """--groups for a planned convolution; the first one reads the input and is never split."""
    return 1 if index == 0 and block == 0 else spec.groups


def _norm_act(builder: StageBuilder, norm: str, activation: str | None, dropout: float) -> None:
    builder.norm(norm, dropout)
    if activation is not None and activation != "none":
        builder.activation(activation)
    if dropout > 0 and norm != "dropout":
        builder.dropout(dropout)


def _pool(builder: StageBuilder, geometry: Geometry, index: int, kind: str) -> None:
    pools = [dim[index].pool for dim in geometry.dims]
    if max(pools) > 1:
        builder.pool(kind, pools, pools, ceil_mode=True)


def _conv_block(
    spec: ModelSpec,
    builder: StageBuilder,
    geometry: Geometry,
    index: int,
    out_channels: int,
) -> None:
    """A plain encoder layer: (conv, norm, act) x sub-blocks, SE, pool."""
    bias = conv_bias(spec)
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
            planned_groups(spec, index, block),
        )
        _norm_act(builder, spec.norm, spec.activation, spec.dropout)
    if spec.se:
        builder.squeeze_excite(_se_width(out_channels))
    _pool(builder, geometry, index, spec.pool)


def _plain_layer(
    spec: ModelSpec,
    name: str,
    role: str,
    in_shape: Shape,
    geometry: Geometry,
    index: int,
    out_channels: int,
    final_activation: str,
) -> list[Stage]:
    """A plain or VGG layer as a stage, ending with ``final_activation`` when it ends the model."""
    builder = StageBuilder(in_shape)
    _conv_block(spec, builder, geometry, index, out_channels)
    if final_activation != "none":
        builder.activation(final_activation)
    return [builder.build(name, role)]


def _se_width(channels: int) -> int:
    return max(channels // 16, min(channels, 4))


def _residual_stage(
    spec: ModelSpec,
    name: str,
    in_shape: Shape,
    geometry: Geometry,
    index: int,
    out_channels: int,
) -> Stage:
    """A basic or bottleneck residual block with a projection where shapes change."""
    bias = conv_bias(spec)
    main = StageBuilder(in_shape)
    convs = _dim_conv(geometry, index, 0)
    groups = planned_groups(spec, index)
    ones = [1] * spec.dims
    zeros = [0] * spec.dims
    if spec.block == "bottleneck":
        width = max(out_channels // 4, 1)
        main.conv(width, ones, ones, zeros, bias=bias)
        _norm_act(main, spec.norm, spec.activation, 0.0)
        _add_conv(
            main, convs, width, bias, spec.depthwise, spec.norm, spec.activation, 0.0, groups
        )
        _norm_act(main, spec.norm, spec.activation, spec.dropout)
        main.conv(out_channels, ones, ones, zeros, bias=bias)
        main.norm(spec.norm, spec.dropout)
    else:
        _add_conv(
            main, convs, out_channels, bias, spec.depthwise, spec.norm, spec.activation, 0.0, groups
        )
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
        _add_conv(
            main, same, out_channels, bias, spec.depthwise, spec.norm, spec.activation, 0.0,
            spec.groups,
        )
        main.norm(spec.norm, spec.dropout)
    if spec.se:
        main.squeeze_excite(_se_width(out_channels))
    stride = [c.stride for c in convs]
    return residual_stage(
        name, in_shape, main, stride, bias, spec.norm, spec.activation, spec.dropout
    )


def residual_stage(
    name: str,
    in_shape: Shape,
    main: StageBuilder,
    stride: Sequence[int],
    bias: bool,
    norm: str,
    activation: str | None,
    dropout: float = 0.0,
) -> Stage:
    """A residual stage around a built main path: shortcut, the sum, then the activation.

    The shortcut is a 1x1 convolution and a norm wherever the channels or the
    stride change (identity elsewhere), named 0, 1 as torchvision's
    ``downsample``; the activation after the sum is ``act``.  Both the
    ``--block residual|bottleneck`` layers and the ResNet presets build their
    stages here, so a change to the residual wiring is made once.
    """
    ones = [1] * len(stride)
    zeros = [0] * len(stride)
    shortcut = StageBuilder(in_shape, positional=True)
    if in_shape[0] != main.shape[0] or any(s != 1 for s in stride):
        shortcut.conv(main.shape[0], ones, list(stride), zeros, bias=bias)
        shortcut.norm(norm, dropout)
    if shortcut.shape != main.shape:
        raise CnngenError(
            f"--kernel: the residual main path gives {format_value(main.shape)} but the "
            f"shortcut gives {format_value(shortcut.shape)}; use an odd --kernel or "
            f"--padding same",
            "--kernel",
        )
    post = StageBuilder(main.shape)
    post.activation(activation)
    return Stage(
        name,
        "residual",
        "trunk",
        tuple(main.ops),
        in_shape,
        main.shape,
        shortcut=tuple(shortcut.ops),
        # The only op of its builder, the activation is named ``act`` already.
        post=tuple(post.ops),
    )


def _residual_layer(
    spec: ModelSpec,
    name: str,
    role: str,
    in_shape: Shape,
    geometry: Geometry,
    index: int,
    out_channels: int,
    final_activation: str,
) -> list[Stage]:
    return [_residual_stage(spec, name, in_shape, geometry, index, out_channels)]


# ConvNeXt (Liu et al., 2022): its depthwise kernel, expansion and layer-scale start.
CONVNEXT_KERNEL = 7
CONVNEXT_EXPANSION = 4
LAYER_SCALE_INIT = 1e-6
# ConvNeXt's LayerNorm epsilon (torch's default is 1e-5).
CONVNEXT_EPS = 1e-6


def convnext_norm(builder: StageBuilder, norm: str) -> Op | None:
    """ConvNeXt's LayerNorm over channels for ``layernorm``, else ``norm`` as everywhere."""
    if norm == "layernorm":
        return builder.channel_norm(CONVNEXT_EPS)
    return builder.norm(norm)


def convnext_block(
    name: str,
    role: str,
    in_shape: Shape,
    activation: str,
    norm: str = "layernorm",
    dropout: float = 0.0,
    se: bool = False,
) -> Stage:
    """One ConvNeXt block, in any number of dimensions; it keeps its input's shape.

    A 7x7 depthwise convolution (padding 3, so every size is kept), a norm
    over channels, a 1x1 convolution to 4x the channels, the activation, a
    1x1 convolution back, and a learned per-channel scale that starts at
    1e-6, added to the block's input.  torchvision writes the two 1x1
    convolutions as linear layers on channels-last tensors; as convolutions
    they hold the same weights and need no permutes.  The preset and
    ``--block convnext`` both build their blocks here.
    """
    dims = len(in_shape) - 1
    channels = in_shape[0]
    ones, zeros = [1] * dims, [0] * dims
    main = StageBuilder(in_shape)
    kernel = [CONVNEXT_KERNEL] * dims
    main.conv(channels, kernel, ones, [CONVNEXT_KERNEL // 2] * dims, groups=channels)
    convnext_norm(main, norm)
    main.conv(CONVNEXT_EXPANSION * channels, ones, ones, zeros)
    main.activation(activation)
    if dropout > 0:
        main.dropout(dropout)
    main.conv(channels, ones, ones, zeros)
    if se:
        main.squeeze_excite(_se_width(channels))
    main.layer_scale(LAYER_SCALE_INIT)
    return Stage(name, "residual", role, tuple(main.ops), in_shape, main.shape)


def _convnext_layer(
    spec: ModelSpec,
    name: str,
    role: str,
    in_shape: Shape,
    geometry: Geometry,
    index: int,
    out_channels: int,
    final_activation: str,
) -> list[Stage]:
    """The planned convolution and --norm (ConvNeXt's downsampling), then a ConvNeXt block.

    The planned convolution changes the size and the width, as every block's
    first convolution does; the block after it keeps both, so the layer's
    shapes are the plain block's.  Inside the block the norm is always
    ConvNeXt's LayerNorm over channels; --norm sets the one after the
    downsampling convolution.  Two stages: ``layer<i>`` and ``block<i>``.
    """
    bias = conv_bias(spec)
    down = StageBuilder(in_shape)
    convs = _dim_conv(geometry, index, 0)
    _add_conv(
        down, convs, out_channels, bias, spec.depthwise, spec.norm, spec.activation, 0.0,
        planned_groups(spec, index),
    )
    down.norm(spec.norm, spec.dropout)
    layer = down.build(name, role)
    block = convnext_block(
        f"block{index + 1}",
        role,
        layer.out_shape,
        spec.activation,
        dropout=spec.dropout if spec.norm != "dropout" else 0.0,
        se=spec.se,
    )
    return [layer, block]


# Block name (cnngen.core.vocab.BLOCK_TABLE) -> the builder of one encoder layer:
# (spec, name, role, in_shape, geometry, index, out_channels, final_activation)
# -> its stages.
LAYER_BUILDERS: dict[str, Callable[..., list[Stage]]] = {
    "plain": _plain_layer,
    "vgg": _plain_layer,
    "residual": _residual_layer,
    "bottleneck": _residual_layer,
    "convnext": _convnext_layer,
}


# --------------------------------------------------------------- decoder
class Transform(NamedTuple):
    """A size-changing encoder op, per dimension, for the decoder to undo.

    A named tuple: the decoder makes one per encoder layer, and a tuple is
    several times cheaper to make than a frozen dataclass.
    """

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
    # Back from each dimension's output size to its input size.
    found = list(
        map(
            _find_transposed,
            transform.size_out,
            transform.size_in,
            transform.kernel,
            transform.stride,
            transform.dilation,
            transform.prefer,
        )
    )
    if None not in found:
        return found, None  # type: ignore[return-value]
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
        # One tuple per field of the convolutions, over the dimensions.
        kernel, stride, padding, dilation, pre, size_in, size_out = zip(
            *_dim_conv(geometry, index, block), strict=True
        )
        # An explicit pad's centre is where the transposed convolution's padding goes.
        prefer = padding
        if pre.count((0, 0)) != len(pre):
            prefer = tuple(p + (b + a) // 2 for p, (b, a) in zip(padding, pre, strict=True))
        transforms.append(
            Transform(
                kernel,
                stride,
                dilation,
                prefer,
                size_in,
                size_out,
                channels_in if block == 0 else channels_out,
                channels_out,
                pre,
            )
        )
    pools = [dim[index].pool for dim in geometry.dims]
    if max(pools) > 1:
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


def mirror_widths(spec: ModelSpec, channels: Sequence[int]) -> list[int]:
    """The decoder widths that mirror the encoder: its widths in reverse, then --out-channels."""
    assert spec.out_channels is not None
    return [*reversed(channels[:-1]), spec.out_channels]


def decoder_stages(
    spec: ModelSpec,
    geometry: Geometry,
    channels: Sequence[int],
    in_shape: Shape,
    finishes: bool = True,
    widths: Sequence[int] | None = None,
) -> list[Stage]:
    """Transposed layers that undo the encoder, layer by layer, to its exact sizes.

    With ``finishes`` the last op gets the final activation and keeps its bias;
    otherwise (a head follows) it is an ordinary layer with norm and activation.
    ``widths`` are the output channels of each decoder layer (the last is
    ``--out-channels``); by default they mirror the encoder.  Within a layer
    every transposed convolution but the last keeps the layer's input
    channels, as the encoder's extra convolutions and pools kept theirs.
    """
    stages = []
    shape = in_shape
    bias = conv_bias(spec)
    ladder = [spec.in_channels, *channels]
    if widths is None:
        widths = mirror_widths(spec, channels)
    for step, index in enumerate(reversed(range(geometry.layers))):
        builder = StageBuilder(shape)
        layer_in = shape[0]
        transforms = _layer_transforms(
            geometry, index, ladder[index], ladder[index + 1], spec.sub_blocks or 1
        )
        for position, transform in enumerate(reversed(transforms)):
            closes = position == len(transforms) - 1
            outermost = step == geometry.layers - 1 and closes
            last = outermost and finishes
            out_channels = widths[step] if closes else layer_in
            solved, crop = _undo(transform)
            paddings, output_paddings = zip(*solved, strict=True)
            builder.conv_transpose(
                out_channels,
                transform.kernel,
                transform.stride,
                paddings,
                output_paddings,
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
        shape = builder.shape
    return stages


# --------------------------------------------------------------- families
def encoder_stages(
    spec: ModelSpec,
    geometry: Geometry,
    channels: Sequence[int],
    role: str,
    prefix: str,
    finishes: bool = False,
) -> tuple[list[Stage], Shape]:
    """The encoder (or classifier trunk) stages, layer by layer.

    With ``finishes`` the encoder is the whole model: its last stage ends
    with ``--final-activation``, inside that stage (no stage of its own).
    """
    shape: Shape = (spec.in_channels, *spec.input_size)
    stages = []
    for index in range(geometry.layers):
        name = f"{prefix}{index + 1}"
        last = finishes and index == geometry.layers - 1
        final = spec.final_activation if last else "none"
        build = LAYER_BUILDERS[spec.block]
        built = build(spec, name, role, shape, geometry, index, channels[index], final)
        stages += built
        shape = built[-1].out_shape
    return stages, shape
