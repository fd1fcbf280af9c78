"""True p4 group convolutions for the equivariant family (``--group-conv``).

The rotation-stack classifier runs the same trunk on the four quarter turns of
the input and pools over them at the end: invariant, but its inner features
are not tied to each other.  A p4 network (Cohen & Welling, 2016) carries an
orientation axis instead: each channel has four maps, one per orientation,
written as 2D tensors of shape (C * 4, H, W) (channel c * 4 + r is
orientation r of channel c), so every op is a 2D op.

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
stride 2 and padding 1 on odd ones).  Norms and dropout act on the
channel's four orientations stacked along the height, (C, 4 * H, W), with one
set of statistics per channel shared by all orientations, which keeps them
equivariant too.

With ``--basis harmonic`` each k x k kernel is a sum of a few fixed waves
around the rings of its grid (ring r: the taps r steps from the centre in the
larger of the two directions), frequencies 0 .. max(2, r) in cosine and sine:
6, 11 and 18 weights per kernel at k = 3, 5 and 7 instead of 9, 25 and 49, the
counts of the band-limited bases of steerable CNNs.  A quarter turn or a
mirror image maps each ring onto itself, so the waves span the same kernels in
every orientation; the layer stays exactly equivariant because it still turns
the summed kernel on the grid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from cnngen.core.builder import StageBuilder
from cnngen.core.plan import Arg, Op, Shape, Stage
from cnngen.core.spec import ModelSpec, conv_bias
from cnngen.core.vocab import ACTIVATIONS_WITH_WEIGHTS, split_activation

ORIENTATIONS = 4
# Orientations per channel of each group: its number of elements.
GROUP_ORDERS = {"c4": 4, "d4": 8}
# Kernels a group convolution learns: every tap, or the waves of harmonic_weights.
FULL_BASIS = "full"
# The helper classes of each group's lifting and group convolutions.
CONV_MODULES = {
    "c4": ("LiftingConv2d", "GroupConv2d"),
    "d4": ("DihedralLiftingConv2d", "DihedralGroupConv2d"),
}


def harmonic_weights(kernel: int) -> int:
    """Waves of a harmonic k x k kernel: 1 at the centre, 2 * max(2, r) + 1 on ring r.

    Frequency m on a ring counts a cosine and a sine (m > 0); ring r has 8 * r
    taps, so every frequency up to max(2, r) < 4 * r is seen without aliasing
    and the waves are linearly independent.
    """
    return 1 + sum(2 * max(2, ring) + 1 for ring in range(1, kernel // 2 + 1))


class GroupStageBuilder(StageBuilder):
    """A stage builder for p4 maps, written as 2D tensors (C * 4, H, W).

    Channel ``c * 4 + r`` holds orientation r of channel c, so every op stays
    a 2D op (no 5-D tensors, no 3-D pools or norms, which runtimes such as
    ExecuTorch lack).  Norms, dropout and PReLU need one set of statistics (or weights) per
    channel, shared by its four orientations: they run between
    :meth:`fold_orientations` and :meth:`unfold_orientations`, which stack the
    orientations along the height, (C * 4, H, W) <-> (C, 4 * H, W).

    With the group D4 (``group="d4"``) every 4 reads 8: channel ``c * 8 + g``
    holds element g = 4 * m + r of the group, r quarter turns after m mirror
    images (a flip of the width).
    """

    orientations = ORIENTATIONS
    group = "c4"
    basis = FULL_BASIS

    def for_group(self, group: str, basis: str = FULL_BASIS) -> GroupStageBuilder:
        """This builder for the group ``c4`` or ``d4``, with ``full`` or ``harmonic`` kernels."""
        self.group = group
        self.orientations = GROUP_ORDERS[group]
        self.basis = basis
        return self

    def lifting_conv(self, out_channels: int, kernel: int, padding: int, bias: bool) -> Op:
        """(C, H, W) -> (O * 4, H', W'): each kernel correlated in its four quarter turns."""
        in_channels = self.shape[0]
        return self._p4_conv(
            "lifting_conv",
            CONV_MODULES[self.group][0],
            in_channels,
            1,
            out_channels,
            kernel,
            padding,
            bias,
        )

    def group_conv(self, out_channels: int, kernel: int, padding: int, bias: bool) -> Op:
        """(C * 4, H, W) -> (O * 4, H', W'): turned kernels over every input orientation."""
        in_channels = self.shape[0] // self.orientations
        return self._p4_conv(
            "group_conv",
            CONV_MODULES[self.group][1],
            in_channels,
            self.orientations,
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
        # A harmonic kernel learns its waves' weights; the kernel summed from them
        # (once per forward, whatever the batch) still has every tap.
        per_kernel = kernel * kernel if self.basis == FULL_BASIS else harmonic_weights(kernel)
        weights = in_channels * in_orientations * per_kernel
        args: list[Arg] = [(None, in_channels), (None, out_channels), ("kernel_size", kernel)]
        if padding:
            args.append(("padding", padding))
        if not bias:
            args.append(("bias", False))
        return self._add(
            kind,
            module,
            args,
            (out_channels * self.orientations, *spatial),
            out_channels * weights + (out_channels if bias else 0),
            math.prod(spatial) * self.orientations * out_channels * taps,
        )

    def fold_orientations(self) -> Op:
        """(C * 4, H, W) -> (C, 4 * H, W): a 2D norm over C channels then spans all four."""
        channels, height, width = self.shape
        return self._add(
            "fold_orientations",
            "FoldOrientations",
            [],
            (channels // self.orientations, self.orientations * height, width),
        )

    def unfold_orientations(self) -> Op:
        """(C, 4 * H, W) -> (C * 4, H, W): the inverse of :meth:`fold_orientations`."""
        channels, height, width = self.shape
        return self._add(
            "unfold_orientations",
            "UnfoldOrientations",
            [],
            (channels * self.orientations, height // self.orientations, width),
        )

    def group_pool(self) -> Op:
        """Maximum over the orientations: (C * 4, H, W) -> (C, H, W), invariant."""
        channels, *spatial = self.shape
        return self._add(
            "group_pool", "GroupPool", [], (channels // self.orientations, *spatial)
        )

    def orientation_stack(self) -> Op:
        """(C * 4, H, W) -> (C, H, W) four times per sample, each orientation turned back.

        Orientation r's maps turned back r quarter turns do not turn with the
        input; a quarter turn of the input only permutes the four copies, so a
        head that pools over them at the end may flatten them first.
        """
        channels, *spatial = self.shape
        self.batch = self.orientations
        return self._add(
            "orientation_stack", "OrientationStack", [], (channels // self.orientations, *spatial)
        )

    def rotation_max(self) -> Op:
        """The maximum of each logit over the copies: D4's eight name their count."""
        if self.orientations == ORIENTATIONS:
            return super().rotation_max()
        self.batch = 1
        return self._add("rotation_max", "RotationMax", [(None, self.orientations)], self.shape)


def _symmetric_pool(builder: GroupStageBuilder, kind: str) -> None:
    """Halve H and W with windows that a quarter turn maps onto each other.

    An even size takes 2x2 windows; an odd size 3x3 windows with stride 2 and
    padding 1, which start and end one pixel outside the map on both sides.
    """
    size = builder.shape[-1]
    if size % 2 == 0:
        builder.pool(kind, (2, 2), (2, 2))
    else:
        builder.pool(kind, (3, 3), (2, 2), (1, 1))


def group_conv_stages(
    spec: ModelSpec, downsampling: Sequence[bool], channels: Sequence[int]
) -> tuple[list[Stage], StageBuilder]:
    """The p4 trunk, one stage per layer, and a builder for the head after it.

    ``downsampling`` says which layers halve the feature map (the solver's
    spread of downsampling layers); the caller adds the classifier head.
    """
    kernel = spec.kernel[0]
    padding = (kernel - 1) // 2
    bias = conv_bias(spec)
    shape: Shape = (spec.in_channels, *spec.input_size)
    stages = []
    for index, halves in enumerate(downsampling):
        builder = GroupStageBuilder(shape).for_group(spec.group, spec.basis)
        if index == 0:
            builder.lifting_conv(channels[index], kernel, padding, bias)
        else:
            builder.group_conv(channels[index], kernel, padding, bias)
        # Norms and dropout share their statistics (and dropped channels) across
        # the four orientations of a channel, which keeps them equivariant.
        fold = (
            spec.norm != "none"
            or spec.dropout > 0
            or split_activation(spec.activation)[0] in ACTIVATIONS_WITH_WEIGHTS
        )
        if fold:
            builder.fold_orientations()
        builder.norm(spec.norm, spec.dropout)
        builder.activation(spec.activation)
        if spec.dropout > 0 and spec.norm != "dropout":
            builder.dropout(spec.dropout)
        if fold:
            builder.unfold_orientations()
        if halves:
            _symmetric_pool(builder, spec.pool)
        stages.append(builder.build(f"layer{index + 1}", "trunk"))
        shape = builder.shape
    return stages, GroupStageBuilder(shape).for_group(spec.group, spec.basis)
