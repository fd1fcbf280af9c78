"""Build plan ops with their exact shapes, parameter counts and MACs.

The solver decides *what* each layer is (kernel, stride, padding ...); this
module turns a decision into an :class:`~cnngen.plan.Op`, computing the output
shape with :mod:`cnngen.core.arithmetic`, the parameter count and the
multiply-accumulates the way torch's own counters do.
Constructor arguments equal to torch's defaults are left out so the generated
code reads like code a person wrote.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from cnngen.core import arithmetic
from cnngen.core.plan import Arg, Op, Shape, Stage, new_op, new_stage
from cnngen.core.vocab import ACTIVATION_PARAMETERS, ACTIVATIONS, split_activation
from cnngen.errors import CnngenError


@dataclass(frozen=True)
class LayerOptions:
    """Settings of every convolution and norm in a model (--norm-eps, --padding-mode ...).

    They hold for every layer whichever family builder places it, so the
    solver sets them once for the whole solve (:func:`layer_options`) rather
    than threading four more arguments through every block builder.  The
    defaults are torch's, and a default is never written into the file.
    """

    norm_eps: float | None = None
    norm_momentum: float | None = None
    affine: bool = True
    padding_mode: str = "zeros"


# A frozen dataclass, so sharing the default instance is safe.
_LAYER_OPTIONS: ContextVar[LayerOptions] = ContextVar(
    "layer_options",
    default=LayerOptions(),  # noqa: B039
)


@contextmanager
def layer_options(options: LayerOptions) -> Iterator[None]:
    """Build every op inside the block with ``options``."""
    token = _LAYER_OPTIONS.set(options)
    try:
        yield
    finally:
        _LAYER_OPTIONS.reset(token)


# --padding-mode -> the explicit pad layer that fills the border the same way.
_PAD_MODULES = {
    "zeros": "ConstantPad",
    "reflect": "ReflectionPad",
    "replicate": "ReplicationPad",
    "circular": "CircularPad",
}


def _all(values: Sequence[int], value: int) -> bool:
    """Whether every dimension's value is ``value`` (torch's default, left out of the file)."""
    return values.count(value) == len(values)


def _window_args(
    kernel: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    output_padding: Sequence[int] | None,
    dilation: Sequence[int],
) -> list[Arg]:
    """A convolution's window arguments in torch's order, those at torch's default left out."""
    args: list[Arg] = [("kernel_size", compact(kernel))]
    if not _all(stride, 1):
        args.append(("stride", compact(stride)))
    if not _all(padding, 0):
        args.append(("padding", compact(padding)))
    if output_padding is not None and not _all(output_padding, 0):
        args.append(("output_padding", compact(output_padding)))
    if not _all(dilation, 1):
        args.append(("dilation", compact(dilation)))
    return args


def compact(values: Sequence[int]) -> int | tuple[int, ...]:
    """An int when every dimension agrees, else the tuple (as a person writes it)."""
    values = tuple(values)
    return values[0] if values and values.count(values[0]) == len(values) else values


def group_count(channels: int) -> int:
    """GroupNorm groups: the largest of 32, 16, 8, 4, 2, 1 that divides ``channels``."""
    for groups in (32, 16, 8, 4, 2):
        if channels % groups == 0 and channels >= groups:
            return groups
    return 1


# Attribute names by op kind (see StageBuilder._name): the role, then which number
# follows it: "next" weighted layer's, "this" (the last) weighted layer's, the
# next linear layer's ("fc"), or none.
_NAMES: dict[str, tuple[str, str | None]] = {
    "conv": ("conv", "next"),
    "conv_transpose": ("conv", "next"),
    "lifting_conv": ("conv", "next"),
    "group_conv": ("conv", "next"),
    "group_pool": ("group_pool", None),
    "fold_orientations": ("fold", None),
    "unfold_orientations": ("unfold", None),
    "linear": ("fc", "fc"),
    "pad": ("pad", "next"),
    "crop": ("crop", "this"),
    "batchnorm": ("bn", "this"),
    "instancenorm": ("norm", "this"),
    "groupnorm": ("norm", "this"),
    "layernorm": ("norm", "this"),
    "layer_scale": ("layer_scale", None),
    "activation": ("act", "this"),
    "dropout": ("drop", "this"),
    "squeeze_excite": ("se", None),
    "maxpool": ("pool", None),
    "avgpool": ("pool", None),
    "flatten": ("flatten", None),
    "unflatten": ("unflatten", None),
    "rotation_stack": ("rotate", None),
    "rotation_mean": ("rotation_pool", None),
    "rotation_max": ("rotation_pool", None),
}


class StageBuilder:
    """Appends ops to one stage, tracking the running shape.

    Receptive fields are not tracked here: :mod:`cnngen.core.fields` gives
    every op its exact field once the plan's stages are known.

    With ``positional`` the ops are named 0, 1, 2 ... as in a positional
    ``nn.Sequential`` (a residual shortcut, torchvision's ``downsample``)
    rather than by their roles.
    """

    def __init__(self, in_shape: Shape, positional: bool = False) -> None:
        self.positional = positional
        self.in_shape = tuple(in_shape)
        self.shape: Shape = tuple(in_shape)
        self.ops: list[Op] = []
        # Copies of each sample in the batch: 4 between a rotation stack and its pooling.
        self.batch = 1
        # What naming the next op needs, kept up to date by _add (see _name):
        # the weighted and linear layers so far, and the names taken.
        self._weighted = 0
        self._linears = 0
        self._taken: set[str] = set()

    @property
    def dims(self) -> int:
        return len(self.shape) - 1

    @property
    def channels(self) -> int:
        return self.shape[0]

    @property
    def spatial(self) -> Shape:
        return self.shape[1:]

    def _add(
        self,
        kind: str,
        module: str,
        args: Sequence[Arg],
        out_shape: Shape,
        params: int = 0,
        macs: int = 0,
    ) -> Op:
        batch = self.batch
        op = new_op(
            self._name(kind),
            kind,
            module,
            tuple(args),
            self.shape,
            tuple(out_shape),
            params,
            # Between a rotation stack and its pooling each sample runs as four copies.
            macs * batch,
            batch,
        )
        self.ops.append(op)
        self._taken.add(op.path)
        self._weighted += kind in WEIGHTED
        self._linears += kind == "linear"
        self.shape = op.out_shape
        return op

    def rename_last(self, path: str) -> Op:
        """Give the last op another attribute name (a preset's norm keeps batch norm's)."""
        if self.ops[-1].path == path:  # batch norm itself: nothing to rename
            return self.ops[-1]
        op = dataclasses.replace(self.ops[-1], path=path)
        self._taken.discard(self.ops[-1].path)
        self._taken.add(path)
        self.ops[-1] = op
        return op

    def name_for(self, kind: str) -> str:
        """The name the next op of ``kind`` would get (presets keep batch norm's name)."""
        return self._name(kind)

    def _name(self, kind: str) -> str:
        """The op's attribute name: its role and the number of its weighted layer.

        Convolutions and linear layers are numbered (``conv1``, ``conv2``,
        ``fc1``); the norm, activation and dropout after one take its number
        (``bn1``, ``act1``, ``drop1``) and a pad before one takes the next
        (``pad2``).  Inserting or removing a layer without weights therefore
        never renames a weight, which keeps state_dicts loadable across small
        edits of the command.
        """
        if self.positional:
            return str(len(self.ops))
        role, counter = _NAMES.get(kind, (kind, None))
        if counter == "next":
            base = f"{role}{self._weighted + 1}"
        elif counter == "fc":
            base = f"{role}{self._linears + 1}"
        elif counter == "this" and self._weighted:
            base = f"{role}{self._weighted}"
        else:  # no number, or none yet: before any weighted layer (act, drop ...)
            base = role
        taken = self._taken
        name, suffix = base, 2
        while name in taken:
            name, suffix = f"{base}_{suffix}", suffix + 1
        return name

    # ----------------------------------------------------------- convolutions
    def conv(
        self,
        out_channels: int,
        kernel: Sequence[int],
        stride: Sequence[int],
        padding: Sequence[int],
        dilation: Sequence[int] | None = None,
        groups: int = 1,
        bias: bool = True,
    ) -> Op:
        dilation = dilation or (1,) * self.dims
        spatial = arithmetic.planned_conv_shape(self.spatial, kernel, stride, padding, dilation)
        in_channels = self.channels
        if in_channels % groups or out_channels % groups:
            common = math.gcd(in_channels, out_channels)
            fits = max(g for g in range(1, groups + 1) if common % g == 0)
            raise CnngenError(
                f"--groups: a convolution from {in_channels} to {out_channels} channels "
                f"cannot be split into {groups} groups (both must divide by it); use "
                f"--groups {fits}, or a --start-channels that divides by {groups}",
                "--groups",
                key="refusal.groups",
                fields={"c_in": in_channels, "c_out": out_channels, "groups": groups, "fits": fits},
            )
        args: list[Arg] = [
            (None, in_channels),
            (None, out_channels),
            *_window_args(kernel, stride, padding, None, dilation),
        ]
        if groups != 1:
            args.append(("groups", groups))
        if not bias:
            args.append(("bias", False))
        mode = _LAYER_OPTIONS.get().padding_mode
        if mode != "zeros" and not _all(padding, 0):
            self._check_border(mode, padding)
            args.append(("padding_mode", mode))
        taps = math.prod(kernel) * (in_channels // groups)
        params = out_channels * taps + (out_channels if bias else 0)
        macs = math.prod(spatial) * out_channels * taps
        return self._add(
            "conv", f"nn.Conv{self.dims}d", args, (out_channels, *spatial), params, macs
        )

    def conv_transpose(
        self,
        out_channels: int,
        kernel: Sequence[int],
        stride: Sequence[int],
        padding: Sequence[int],
        output_padding: Sequence[int],
        dilation: Sequence[int] | None = None,
        bias: bool = True,
    ) -> Op:
        dilation = dilation or (1,) * self.dims
        spatial = arithmetic.planned_transposed_shape(
            self.spatial, kernel, stride, padding, output_padding, dilation
        )
        in_channels = self.channels
        args: list[Arg] = [
            (None, in_channels),
            (None, out_channels),
            *_window_args(kernel, stride, padding, output_padding, dilation),
        ]
        if not bias:
            args.append(("bias", False))
        taps = math.prod(kernel) * in_channels
        params = out_channels * taps + (out_channels if bias else 0)
        # Every input position scatters into kernel taps of every output channel.
        macs = math.prod(self.spatial) * out_channels * taps
        return self._add(
            "conv_transpose",
            f"nn.ConvTranspose{self.dims}d",
            args,
            (out_channels, *spatial),
            params,
            macs,
        )

    def _check_border(self, mode: str, padding: Sequence[int]) -> None:
        """Reflection needs padding below the size it reflects; circular at most the size."""
        for pad, size in zip(padding, self.spatial, strict=True):
            if (mode == "reflect" and pad >= size) or (mode == "circular" and pad > size):
                limit = "below" if mode == "reflect" else "at most"
                raise CnngenError(
                    f"--padding-mode: {mode} padding must be {limit} the size it pads, but a "
                    f"layer pads {pad} on a feature map of {_shape_text(self.shape)}; use "
                    f"--padding-mode replicate or zeros, or fewer --layers",
                    "--padding-mode",
                )

    def pad(self, before: Sequence[int], after: Sequence[int]) -> Op:
        """Explicit padding, filled as --padding-mode says (torch lists the last dimension first)."""
        torch_order: list[int] = []
        for i in reversed(range(self.dims)):
            torch_order += [before[i], after[i]]
        spatial = tuple(self.spatial[i] + before[i] + after[i] for i in range(self.dims))
        mode = _LAYER_OPTIONS.get().padding_mode
        args: list[Arg] = [(None, tuple(torch_order))]
        if mode == "zeros":
            args.append((None, 0.0))
        else:
            self._check_border(mode, [max(b, a) for b, a in zip(before, after, strict=True)])
        return self._add(
            "pad", f"nn.{_PAD_MODULES[mode]}{self.dims}d", args, (self.channels, *spatial)
        )

    def crop(self, before: Sequence[int], after: Sequence[int]) -> Op:
        """Cut ``before``/``after`` positions off each spatial dimension (a static slice)."""
        spatial = tuple(self.spatial[i] - before[i] - after[i] for i in range(self.dims))
        return self._add(
            "crop", "Crop", [(None, tuple(before)), (None, spatial)], (self.channels, *spatial)
        )

    def pool(
        self,
        kind: str,
        kernel: Sequence[int],
        stride: Sequence[int],
        padding: Sequence[int] | None = None,
        ceil_mode: bool = False,
    ) -> Op:
        padding = padding or (0,) * self.dims
        spatial = arithmetic.pool_output_shape(
            self.spatial, kernel, stride, padding, ceil_mode=ceil_mode, kind=kind
        )
        args: list[Arg] = [("kernel_size", compact(kernel))]
        if tuple(stride) != tuple(kernel):
            args.append(("stride", compact(stride)))
        if any(p != 0 for p in padding):
            args.append(("padding", compact(padding)))
        if ceil_mode:
            args.append(("ceil_mode", True))
        module = f"nn.{'Max' if kind == 'max' else 'Avg'}Pool{self.dims}d"
        return self._add(f"{kind}pool", module, args, (self.channels, *spatial))

    def global_avg_pool(self) -> None:
        """Average over the whole feature map with an exact kernel, then flatten."""
        spatial = self.spatial
        self.pool("avg", spatial, spatial)
        self.flatten()

    # ------------------------------------------------------------ pointwise
    def norm(self, norm: str, dropout: float = 0.0) -> Op | None:
        channels = self.channels
        options = _LAYER_OPTIONS.get()
        # --norm-eps, --norm-momentum and --no-affine, where given (the spec
        # refuses them for a norm without the setting).
        settings: list[Arg] = []
        if options.norm_eps is not None:
            settings.append(("eps", options.norm_eps))
        if options.norm_momentum is not None and norm == "batchnorm":
            settings.append(("momentum", options.norm_momentum))
        if not options.affine and norm in ("batchnorm", "groupnorm"):
            settings.append(("affine", False))
        weights = 2 * channels if options.affine else 0
        if norm == "batchnorm":
            return self._add(
                "batchnorm",
                f"nn.BatchNorm{self.dims}d",
                [(None, channels), *settings],
                self.shape,
                weights,
            )
        single = math.prod(self.spatial) == 1
        if norm == "instancenorm" and single:
            raise CnngenError(
                f"--norm: instance norm needs more than one value per channel, but the "
                f"feature map at {_shape_text(self.shape)} is a single pixel; use --norm "
                f"batchnorm or groupnorm",
                "--norm",
            )
        if norm == "instancenorm":
            return self._add(
                "instancenorm",
                f"nn.InstanceNorm{self.dims}d",
                [(None, channels), *settings],
                self.shape,
            )
        if norm == "groupnorm":
            groups = group_count(channels)
            if single:
                # torch needs more than one value per group: on a single pixel, that
                # means at least two channels in every group.
                groups = group_count(channels // 2) if channels % 2 == 0 else 1
                if channels // groups < 2:
                    raise CnngenError(
                        f"--norm: group norm needs more than one value per group, but the "
                        f"feature map at {_shape_text(self.shape)} is a single pixel with "
                        f"one channel; use --norm batchnorm or more channels",
                        "--norm",
                    )
            return self._add(
                "groupnorm",
                "nn.GroupNorm",
                [(None, groups), (None, channels), *settings],
                self.shape,
                weights,
            )
        if norm == "layernorm":
            return self.channel_norm(options.norm_eps)
        if norm == "dropout":
            return self.dropout(dropout)
        return None

    def channel_norm(self, eps: float | None = None) -> Op:
        """LayerNorm over the channels at each position (ConvNeXt's ``LayerNorm2d``), any rank.

        ``eps`` None keeps torch's default (1e-5); ConvNeXt uses 1e-6.
        """
        channels = self.channels
        args: list[Arg] = [(None, channels)]
        if eps is not None:
            args.append(("eps", eps))
        return self._add("layernorm", "ChannelNorm", args, self.shape, 2 * channels)

    def layer_scale(self, init: float) -> Op:
        """Multiply each channel by a learned scale that starts at ``init`` (ConvNeXt's)."""
        channels = self.channels
        shape = (channels, *(1,) * self.dims)
        return self._add(
            "layer_scale", "LayerScale", [(None, shape), (None, init)], self.shape, channels
        )

    def dropout(self, probability: float) -> Op:
        module = f"nn.Dropout{self.dims}d" if len(self.shape) > 1 else "nn.Dropout"
        return self._add("dropout", module, [("p", probability)], self.shape)

    def activation(self, name: str) -> Op:
        """``name`` as --activation spells it: ``relu``, ``leaky_relu:0.2``, ``prelu`` ...

        PReLU learns one slope per channel (``num_parameters``), which the
        parameter count includes.
        """
        name, number = split_activation(name)
        module, defaults = ACTIVATIONS[name]
        args: list[Arg] = list(defaults)
        params = 0
        if name == "prelu":
            params = self.channels
            args = [("num_parameters", self.channels)]
        if number is not None:
            keyword = ACTIVATION_PARAMETERS[name][0]
            args = [arg for arg in args if arg[0] != keyword] + [(keyword, float(number))]
        return self._add("activation", module, args, self.shape, params)

    def squeeze_excite(self, reduced: int) -> Op:
        channels = self.channels
        params = 2 * channels * reduced + reduced + channels
        macs = 2 * channels * reduced
        return self._add(
            "squeeze_excite",
            "SqueezeExcite",
            [(None, channels), (None, reduced)],
            self.shape,
            params,
            macs,
        )

    def flatten(self) -> Op:
        return self._add("flatten", "nn.Flatten", [], (math.prod(self.shape),))

    def unflatten(self, shape: Shape) -> Op:
        return self._add("unflatten", "nn.Unflatten", [(None, 1), (None, tuple(shape))], shape)

    def linear(self, out_features: int, bias: bool = True) -> Op:
        (in_features,) = self.shape
        args: list[Arg] = [(None, in_features), (None, out_features)]
        if not bias:
            args.append(("bias", False))
        params = in_features * out_features + (out_features if bias else 0)
        return self._add(
            "linear", "nn.Linear", args, (out_features,), params, in_features * out_features
        )

    def rotation_stack(self) -> Op:
        """Stack the four quarter-turn rotations along the batch (batch grows 4x)."""
        self.batch = 4
        return self._add("rotation_stack", "RotationStack", [], self.shape)

    def rotation_mean(self) -> Op:
        """Average the four rotations' features back into one per sample."""
        self.batch = 1
        return self._add("rotation_mean", "RotationMean", [], self.shape)

    def rotation_max(self) -> Op:
        """Keep each feature's maximum over the four rotations (one per sample)."""
        self.batch = 1
        return self._add("rotation_max", "RotationMax", [], self.shape)

    def upsample(self, size: Sequence[int], mode: str) -> Op:
        """Interpolate to an exact, constant ``size`` (never a size computed at run time).

        ``mode`` is ``nearest`` or ``bilinear``; bilinear is torch's ``linear``
        in 1D and ``trilinear`` in 3D.
        """
        size = tuple(size)
        if mode == "bilinear":
            mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[self.dims]
        args: list[Arg] = [("size", size if len(size) > 1 else size[0]), ("mode", mode)]
        if mode != "nearest":
            args.append(("align_corners", False))
        return self._add("upsample", "nn.Upsample", args, (self.channels, *size))

    def pixel_shuffle(self, factor: int) -> Op:
        """Move ``factor**2`` channels into a ``factor`` times larger 2D map (sub-pixel upsampling)."""
        spatial = tuple(size * factor for size in self.spatial)
        out_shape = (self.channels // factor**2, *spatial)
        return self._add("pixel_shuffle", "nn.PixelShuffle", [(None, factor)], out_shape)

    def build(self, name: str, role: str) -> Stage:
        return new_stage(name, "sequential", role, tuple(self.ops), self.in_shape, self.shape)


# Kinds of op that hold weights and give the layer numbers in names.
WEIGHTED = frozenset({"conv", "conv_transpose", "lifting_conv", "group_conv", "linear"})


def _shape_text(shape: Shape) -> str:
    return "x".join(str(size) for size in shape)
