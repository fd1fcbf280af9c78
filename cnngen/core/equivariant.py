"""True p4 group convolutions for the equivariant family (``--group-conv``).

The rotation-stack classifier runs the same trunk on the four quarter turns of
the input and pools over them at the end: invariant, but its inner features
are not tied to each other.  A p4 network (Cohen & Welling, 2016) carries an
orientation axis instead: feature maps have shape (C, 4, H, W).

- A lifting convolution correlates the input with the four quarter turns of
  each kernel, giving one map per orientation.
- A group convolution turns its kernels and shifts their orientation axis
  cyclically, so rotating its input rotates every output map and shifts the
  orientations by one.
- The head either takes the maximum over the orientations and averages the
  maps (``--head gap``), or turns each orientation's maps back and runs the
  head on the four copies, pooling their logits (``--head flatten``).

Every layer is therefore equivariant, exactly, when the sampling grid maps onto
itself under a quarter turn: square inputs, odd kernels with symmetric padding,
and pools that cover the grid symmetrically (2x2 on even sizes, 3x3 with
stride 2 and padding 1 on odd ones).  Norms, activations and dropout act on the
(C, 4, H, W) tensor with one set of statistics per channel, shared by all
orientations, which keeps them equivariant too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

from cnngen.core.arithmetic import Field
from cnngen.core.builder import StageBuilder, fresh_fields
from cnngen.core.plan import Arg, Op, Shape, Stage
from cnngen.core.spec import ModelSpec
from cnngen.core.vocab import NORMS_THAT_CANCEL_BIAS

ORIENTATIONS = 4


class GroupStageBuilder(StageBuilder):
    """A stage builder whose shapes may carry the orientation axis: (C, 4, H, W).

    The orientation axis gets a placeholder receptive field of one, left out
    of the reported receptive field.
    """

    def _rf(self) -> Shape:
        field = super()._rf()
        return field[1:] if len(field) == 3 else field

    def lifting_conv(self, out_channels: int, kernel: int, padding: int, bias: bool) -> Op:
        """(C, H, W) -> (O, 4, H', W'): each kernel correlated in its four quarter turns."""
        in_channels = self.shape[0]
        self.fields = (
            Field(Fraction(1), Fraction(1)),
            *(f.through_conv(kernel, 1) for f in self.fields),
        )
        return self._p4_conv(
            "lifting_conv", "LiftingConv2d", in_channels, 1, out_channels, kernel, padding, bias
        )

    def group_conv(self, out_channels: int, kernel: int, padding: int, bias: bool) -> Op:
        """(C, 4, H, W) -> (O, 4, H', W'): turned kernels over every input orientation."""
        in_channels = self.shape[0]
        self.fields = (self.fields[0], *(f.through_conv(kernel, 1) for f in self.fields[1:]))
        return self._p4_conv(
            "group_conv",
            "GroupConv2d",
            in_channels,
            ORIENTATIONS,
            out_channels,
            kernel,
            padding,
            bias,
        )

    def _p4_conv(
        self,
        kind: str,
        module: str,
        in_channels: int,
        in_orientations: int,
        out_channels: int,
        kernel: int,
        padding: int,
        bias: bool,
    ) -> Op:
        """The op of a lifting or group convolution, whose output has four orientations."""
        height, width = self.shape[-2:]
        spatial = tuple(size + 2 * padding - kernel + 1 for size in (height, width))
        taps = in_channels * in_orientations * kernel * kernel
        args: list[Arg] = [(None, in_channels), (None, out_channels), ("kernel_size", kernel)]
        if padding:
            args.append(("padding", padding))
        if not bias:
            args.append(("bias", False))
        return self._add(
            kind,
            module,
            args,
            (out_channels, ORIENTATIONS, *spatial),
            out_channels * taps + (out_channels if bias else 0),
            math.prod(spatial) * ORIENTATIONS * out_channels * taps,
        )

    def group_pool(self) -> Op:
        """Maximum over the orientation axis: (C, 4, H, W) -> (C, H, W), invariant."""
        channels, _, *spatial = self.shape
        self.fields = self.fields[1:]
        return self._add("group_pool", "GroupPool", [], (channels, *spatial))

    def orientation_stack(self) -> Op:
        """(C, 4, H, W) -> (C, H, W) four times per sample, each orientation turned back.

        Orientation r's maps turned back r quarter turns do not turn with the
        input; a quarter turn of the input only permutes the four copies, so a
        head that pools over them at the end may flatten them first.
        """
        channels, _, *spatial = self.shape
        self.fields = self.fields[1:]
        self.batch = 4
        return self._add("orientation_stack", "OrientationStack", [], (channels, *spatial))


def _symmetric_pool(builder: GroupStageBuilder, kind: str) -> None:
    """Halve H and W with windows that a quarter turn maps onto each other.

    An even size takes 2x2 windows; an odd size 3x3 windows with stride 2 and
    padding 1, which start and end one pixel outside the map on both sides.
    """
    size = builder.shape[-1]
    if size % 2 == 0:
        builder.pool(kind, (1, 2, 2), (1, 2, 2))
    else:
        builder.pool(kind, (1, 3, 3), (1, 2, 2), (0, 1, 1))


def group_conv_stages(
    spec: ModelSpec, downsampling: Sequence[bool], channels: Sequence[int]
) -> tuple[list[Stage], StageBuilder]:
    """The p4 trunk, one stage per layer, and a builder for the head after it.

    ``downsampling`` says which layers halve the feature map (the solver's
    spread of downsampling layers); the caller adds the classifier head.
    """
    kernel = spec.kernel[0]
    padding = (kernel - 1) // 2
    bias = spec.norm not in NORMS_THAT_CANCEL_BIAS
    shape: Shape = (spec.in_channels, *spec.input_size)
    fields: tuple = fresh_fields(2)
    stages = []
    for index, halves in enumerate(downsampling):
        builder = GroupStageBuilder(shape, fields)
        if index == 0:
            builder.lifting_conv(channels[index], kernel, padding, bias)
        else:
            builder.group_conv(channels[index], kernel, padding, bias)
        builder.norm(spec.norm, spec.dropout)
        builder.activation(spec.activation)
        if spec.dropout > 0 and spec.norm != "dropout":
            builder.dropout(spec.dropout)
        if halves:
            _symmetric_pool(builder, spec.pool)
        stages.append(builder.build(f"layer{index + 1}", "trunk"))
        shape, fields = builder.shape, builder.fields
    return stages, GroupStageBuilder(shape, fields)
