"""Classic architectures as small builders over the plan, exact at any input size.

Each preset writes the network as torchvision does, with torchvision's module
names (``features.0``, ``layer1.0.conv1``, ``classifier.6``), so at 224x224
with 3 input channels and 1000 classes its parameter count equals the
published one and a torchvision ``state_dict`` loads into the generated file.

At other sizes nothing is resized: no adaptive pooling, no interpolation.
The size-changing layers of a preset are listed as :class:`Step` objects,
each with the original window first and relaxed windows after it (a smaller
stride, one position of pooling padding).  Along every dimension the solver
keeps the original windows where they run and relaxes as few (and as early)
steps as needed where they would not, and notes what it changed.  The head
then takes exactly the feature map the trunk gives: an average pool over the
whole map, or a first linear layer as wide as the flattened features.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cnngen.core import arithmetic
from cnngen.core.blocks import convnext_block, convnext_norm, residual_stage
from cnngen.core.builder import StageBuilder
from cnngen.core.fields import annotate_nested
from cnngen.core.notes import Count, Note
from cnngen.core.plan import Extra, Op, Plan, Shape, Stage
from cnngen.core.spec import ModelSpec, format_value
from cnngen.core.vocab import HELPER_CLASSES, PRESET_DROPOUTS, PRESET_NORMS, PRESET_TABLE
from cnngen.errors import CnngenError


# --------------------------------------------------------------- geometry
@dataclass(frozen=True)
class Window:
    """A convolution or pooling window along one dimension."""

    kernel: int
    stride: int
    padding: int

    def size(self, size: int, pool: bool, ceil: bool) -> int | None:
        """The output length, or None where the window does not fit."""
        try:
            if pool:
                return arithmetic.pool_size(size, self.kernel, self.stride, self.padding, 1, ceil)
            return arithmetic.conv_size(size, self.kernel, self.stride, self.padding)
        except CnngenError:
            return None


@dataclass(frozen=True)
class Step:
    """A size-changing layer of a preset: its name and its windows, the original first."""

    label: str
    choices: tuple[Window, ...]
    pool: bool = False
    ceil: bool = False


def conv_step(label: str, kernel: int, stride: int, padding: int) -> Step:
    """A strided convolution; the stride may halve down to 1 (the kernel, and so the weights, stay)."""
    strides = [stride]
    while strides[-1] > 1:
        strides.append(max(strides[-1] // 2, 1))
    return Step(label, tuple(Window(kernel, s, padding) for s in strides))


def pool_step(label: str, kernel: int, stride: int, padding: int = 0, ceil: bool = False) -> Step:
    """A pooling window; where it does not fit it may pad one position (pooling has no weights)."""
    choices = [Window(kernel, stride, padding)]
    if padding < 1 <= kernel // 2:
        choices.append(Window(kernel, stride, 1))
    return Step(label, tuple(choices), pool=True, ceil=ceil)


def _run(size: int, steps: Sequence[Step], picks: Sequence[int]) -> list[int] | int:
    """Sizes after each step, or the index of the first step that does not fit."""
    sizes = []
    for index, (step, pick) in enumerate(zip(steps, picks, strict=True)):
        out = step.choices[pick].size(size, step.pool, step.ceil)
        if out is None or out < 1:
            return index
        sizes.append(out)
        size = out
    return sizes


def fit_dim(size: int, steps: Sequence[Step]) -> tuple[int, ...] | None:
    """The choice per step for one dimension: fewest and earliest relaxations that run."""
    options = itertools.product(*(range(len(step.choices)) for step in steps))
    ordered = sorted(options, key=lambda p: (sum(i > 0 for i in p), sum(p), p[::-1]))
    for picks in ordered:
        if not isinstance(_run(size, steps, picks), int):
            return picks
    return None


@dataclass(frozen=True)
class Fitted:
    """The windows of every step, one per dimension, and what was relaxed."""

    windows: tuple[tuple[Window, ...], ...]
    notes: tuple[str, ...]

    def conv_args(self, index: int) -> tuple[list[int], list[int], list[int]]:
        ws = self.windows[index]
        return [w.kernel for w in ws], [w.stride for w in ws], [w.padding for w in ws]


def fit(spec: ModelSpec, preset: str, steps: Sequence[Step]) -> Fitted:
    """Fit the steps to every dimension of the input, or say which size would work."""
    picks = []
    for dim, size in enumerate(spec.input_size):
        chosen = fit_dim(size, steps)
        if chosen is None:
            smallest = next(n for n in itertools.count(size + 1) if fit_dim(n, steps) is not None)
            where = f" along dimension {dim + 1}" if spec.dims > 1 else ""
            failing = _run(size, steps, [len(step.choices) - 1 for step in steps])
            assert isinstance(failing, int)
            raise CnngenError(
                f"--input-size: {format_value(spec.input_size)} is too small for {preset}"
                f"{where}: {steps[failing].label} does not fit even with every stride "
                f"relaxed; use at least {smallest} there",
                "--input-size",
            )
        picks.append(chosen)
    windows = tuple(
        tuple(step.choices[picks[dim][index]] for dim in range(spec.dims))
        for index, step in enumerate(steps)
    )
    notes = []
    size_text = format_value(spec.input_size)
    for step, chosen in zip(steps, windows, strict=True):
        original = step.choices[0]
        if all(w == original for w in chosen):
            continue
        # A conv step only relaxes its stride, a pool step only its padding.
        if any(w.stride != original.stride for w in chosen):
            new = _per_dim([w.stride for w in chosen])
            notes.append(
                Note(
                    "note.stride_relaxed",
                    layer=step.label,
                    old=original.stride,
                    new=new,
                    size=size_text,
                )
            )
        else:
            new = _per_dim([w.padding for w in chosen])
            notes.append(
                Note(
                    "note.pool_padded",
                    layer=step.label,
                    old=original.padding,
                    new=new,
                    size=size_text,
                    kernel=original.kernel,
                )
            )
    return Fitted(windows, tuple(notes))


def _per_dim(values: Sequence[int]) -> str:
    return str(values[0]) if len(set(values)) == 1 else "x".join(str(v) for v in values)


# --------------------------------------------------------------- building
def renamed(ops: Sequence[Op], names: Sequence[str]) -> tuple[Op, ...]:
    """The ops with new attribute names (torchvision's, rather than cnngen's roles)."""
    return tuple(dataclasses.replace(op, path=name) for op, name in zip(ops, names, strict=True))


def numbered(ops: Sequence[Op]) -> tuple[Op, ...]:
    """The ops named 0, 1, 2 ... (a positional ``nn.Sequential``)."""
    return renamed(ops, [str(index) for index in range(len(ops))])


class Net:
    """The stages of a preset in forward order, with the running shape."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.shape: Shape = (spec.in_channels, *spec.input_size)
        self.stages: list[Stage] = []

    def builder(self) -> StageBuilder:
        return StageBuilder(self.shape)

    def add(self, stage: Stage) -> None:
        self.stages.append(stage)
        self.shape = stage.out_shape

    def sequential(self, name: str, role: str, builder: StageBuilder, positional: bool) -> None:
        ops = numbered(builder.ops) if positional else tuple(builder.ops)
        stage = Stage(name, "sequential", role, ops, builder.in_shape, builder.shape)
        self.add(stage)

    def module(self, name: str, role: str, make: Callable[[StageBuilder], object]) -> None:
        """One layer as a model attribute of its own (``conv1``, ``fc``)."""
        builder = self.builder()
        make(builder)
        (op,) = builder.ops
        stage = Stage(name, "module", role, renamed([op], [""]), op.in_shape, op.out_shape)
        self.add(stage)

    def finish(self, notes: Sequence[str], extras: Sequence[Extra] = ()) -> Plan:
        spec = self.spec
        notes = [*notes, *option_notes(spec, self.stages)]
        kinds = {stage.kind for stage in self._all()}
        modules = {op.module for stage in self.stages for _, op in stage.all_ops()}
        used = modules | {name.capitalize() for name in kinds}
        # Exact fields, clipped to the input as every plan's are, not the textbook ones.
        stages, field = annotate_nested(self.stages, (spec.in_channels, *spec.input_size))
        return Plan(
            family=spec.family,
            class_name=spec.class_name,
            dims=spec.dims,
            input_shape=(spec.in_channels, *spec.input_size),
            output_shape=self.stages[-1].out_shape,
            stages=tuple(stages),
            receptive_field=field,
            helpers=tuple(h for h in HELPER_CLASSES if h in used),
            notes=tuple(notes),
            command=spec.command(),
            extras=tuple(extras),
        )

    def _all(self) -> list[Stage]:
        found: list[Stage] = []
        pending = list(self.stages)
        while pending:
            stage = pending.pop()
            found.append(stage)
            pending.extend(stage.children)
        return found


def _ones(dims: int) -> list[int]:
    return [1] * dims


def _zeros(dims: int) -> list[int]:
    return [0] * dims


def _same(dims: int, kernel: int) -> tuple[list[int], list[int], list[int]]:
    return [kernel] * dims, _ones(dims), [kernel // 2] * dims


def preset_norm(builder: StageBuilder, norm: str) -> Op | None:
    """``norm`` where the preset has a batch norm, under batch norm's name (or nothing for none).

    A group or instance norm named ``bn1`` reads oddly, but keeping the name
    means swapping ``--norm batchnorm`` for ``groupnorm`` never renames a
    weight, so a state_dict's conv and norm weights still line up.
    """
    name = builder.name_for("batchnorm")
    op = builder.norm(norm)
    if op is None:
        return None
    return builder.rename_last(name)


def conv_bias(spec: ModelSpec) -> bool:
    """A convolution followed by a norm has no bias (the norm's shift replaces it)."""
    return spec.norm == "none"


def option_notes(spec: ModelSpec, stages: Sequence[Stage]) -> list[str]:
    """What --norm and --dropout changed against the preset as published."""
    assert spec.preset is not None
    notes: list[str] = []
    own = PRESET_NORMS[spec.preset]
    if spec.norm != own:
        if own == "none":
            notes.append(Note("note.preset_norm_added", norm=spec.norm))
        elif spec.norm == "none":
            notes.append(Note("note.preset_norm_removed"))
        else:
            notes.append(Note("note.preset_norm_replaced", norm=spec.norm))
    old = PRESET_DROPOUTS[spec.preset]
    if spec.dropout != old:
        paths = [path for stage in stages for path, op in stage.all_ops() if op.kind == "dropout"]
        layers = ", ".join(paths)
        if old == 0.0:
            linears = [
                path for stage in stages for path, op in stage.all_ops() if op.kind == "linear"
            ]
            notes.append(Note("note.preset_dropout_added", new=spec.dropout, layer=linears[-1]))
        elif spec.dropout == 0.0:
            notes.append(Note("note.preset_dropout_kept", old=old, layers=layers))
        else:
            notes.append(Note("note.preset_dropout", old=old, new=spec.dropout, layers=layers))
    return notes


def dropout_before_last_linear(spec: ModelSpec) -> bool:
    """A preset without dropout of its own gets one before its last linear layer."""
    assert spec.preset is not None
    return PRESET_DROPOUTS[spec.preset] == 0.0 and spec.dropout > 0


def _head_note(layer: str, shape: Shape, reference: Shape, spec: ModelSpec) -> list[str]:
    """A note where the first linear layer's width differs from the one at 224x224."""
    if shape == reference:
        return []
    fields = {
        "layer": layer,
        "shape": format_value(shape),
        "count": Count(math.prod(shape)),
        "size": format_value(spec.input_size),
    }
    if spec.dims == 2:
        return [Note("note.head_features_224", usual=Count(math.prod(reference)), **fields)]
    return [Note("note.head_features", **fields)]


def _pool_note(shape: Shape, spec: ModelSpec) -> list[str]:
    """What the final average pool covers: the whole map, with a fixed kernel."""
    key = "note.avgpool_224" if spec.dims == 2 and shape[1:] != (7, 7) else "note.avgpool"
    return [Note(key, shape=format_value(shape[1:]))]


# ------------------------------------------------------------ AlexNet, VGG
def alexnet(spec: ModelSpec, name: str) -> Plan:
    """AlexNet as in torchvision (the one-GPU variant of Krizhevsky et al., 2012).

    ``--norm`` adds a norm after each convolution (torchvision has no AlexNet
    with batch norm; this is how its VGG-BN adds one), which moves every later
    layer of ``features`` down its index.
    """
    dims = spec.dims
    # conv, (norm,) relu: the pools sit at 2, 5, 12 without a norm, 3, 7, 17 with one.
    per_conv = 2 if spec.norm == "none" else 3
    pools = (per_conv, 2 * per_conv + 1, 5 * per_conv + 2)
    steps = [
        conv_step("features.0", 11, 4, 2),
        *(pool_step(f"features.{index}", 3, 2) for index in pools),
    ]
    fitted = fit(spec, "alexnet", steps)
    net = Net(spec)
    b = net.builder()

    def conv(width: int, *args: list[int]) -> None:
        # torchvision's VGG-BN keeps the convolution's bias before its batch norm.
        b.conv(width, *args)
        b.norm(spec.norm)
        b.activation(spec.activation)

    conv(64, *fitted.conv_args(0))
    b.pool("max", *fitted.conv_args(1))
    conv(192, *_same(dims, 5))
    b.pool("max", *fitted.conv_args(2))
    for width in (384, 256, 256):
        conv(width, *_same(dims, 3))
    b.pool("max", *fitted.conv_args(3))
    net.sequential("features", "trunk", b, positional=True)
    features = net.shape
    net.module("flatten", "head", lambda h: h.flatten())
    h = net.builder()
    h.dropout(spec.dropout)
    h.linear(4096)
    h.activation(spec.activation)
    h.dropout(spec.dropout)
    h.linear(4096)
    h.activation(spec.activation)
    h.linear(spec.classes)
    net.sequential("classifier", "head", h, positional=True)
    notes = [
        Note("note.alexnet"),
        *fitted.notes,
        *_head_note("classifier.1", features, (256, *(6,) * dims), spec),
    ]
    return net.finish(notes)


def vgg(spec: ModelSpec, name: str) -> Plan:
    """VGG (Simonyan and Zisserman, 2014) as in torchvision, with or without a norm.

    ``_bn`` presets have batch norm after each convolution; ``--norm`` puts
    another there, or adds one to a plain VGG exactly as ``_bn`` does (the
    convolutions keep their bias), so ``vgg11 --norm batchnorm`` is ``vgg11_bn``.
    """
    dims = spec.dims
    normed = spec.norm != "none"
    layers = PRESET_TABLE[name].config
    # The index of each pool in `features`: conv, (norm,) relu per width, one per "M".
    index, steps = 0, []
    for item in layers:
        if item == "M":
            steps.append(pool_step(f"features.{index}", 2, 2))
            index += 1
        else:
            index += 3 if normed else 2
    fitted = fit(spec, name, steps)
    net = Net(spec)
    b = net.builder()
    pools = 0
    for item in layers:
        if item == "M":
            b.pool("max", *fitted.conv_args(pools))
            pools += 1
            continue
        assert isinstance(item, int)
        b.conv(item, *_same(dims, 3))
        b.norm(spec.norm)
        b.activation(spec.activation)
    net.sequential("features", "trunk", b, positional=True)
    features = net.shape
    net.module("flatten", "head", lambda h: h.flatten())
    h = net.builder()
    h.linear(4096)
    h.activation(spec.activation)
    h.dropout(spec.dropout)
    h.linear(4096)
    h.activation(spec.activation)
    h.dropout(spec.dropout)
    h.linear(spec.classes)
    net.sequential("classifier", "head", h, positional=True)
    notes = [
        Note("note.vgg", model=name.upper().replace("_BN", "-BN")),
        *fitted.notes,
        *_head_note("classifier.0", features, (512, *(7,) * dims), spec),
    ]
    return net.finish(notes)


# ------------------------------------------------------------------ ResNet
def _resnet_block(
    spec: ModelSpec,
    name: str,
    shape: Shape,
    kind: str,
    width: int,
    stride: Sequence[int],
    se: bool,
) -> Stage:
    """torchvision's BasicBlock or Bottleneck (stride on the 3x3, "ResNet v1.5")."""
    dims = spec.dims
    main = StageBuilder(shape)
    out = width * (4 if kind == "bottleneck" else 1)
    bias = conv_bias(spec)
    if kind == "bottleneck":
        main.conv(width, _ones(dims), _ones(dims), _zeros(dims), bias=bias)
        preset_norm(main, spec.norm)
        main.activation(spec.activation)
        main.conv(width, [3] * dims, stride, _ones(dims), bias=bias)
        preset_norm(main, spec.norm)
        main.activation(spec.activation)
        main.conv(out, _ones(dims), _ones(dims), _zeros(dims), bias=bias)
        preset_norm(main, spec.norm)
    else:
        main.conv(width, [3] * dims, stride, _ones(dims), bias=bias)
        preset_norm(main, spec.norm)
        main.activation(spec.activation)
        main.conv(width, *_same(dims, 3), bias=bias)
        preset_norm(main, spec.norm)
    if se:
        main.squeeze_excite(max(out // 16, 1))
    return residual_stage(name, shape, main, stride, bias, spec.norm, spec.activation)


def resnet(spec: ModelSpec, name: str) -> Plan:
    """ResNet (He et al., 2016) as in torchvision; ``se_`` adds squeeze-and-excitation."""
    dims = spec.dims
    kind, counts, se = PRESET_TABLE[name].config
    steps = [
        conv_step("conv1", 7, 2, 3),
        pool_step("maxpool", 3, 2, 1),
        *(conv_step(f"layer{n}", 3, 2, 1) for n in (2, 3, 4)),
    ]
    fitted = fit(spec, name, steps)
    net = Net(spec)
    bias = conv_bias(spec)
    net.module("conv1", "stem", lambda b: b.conv(64, *fitted.conv_args(0), bias=bias))
    if spec.norm != "none":
        net.module("bn1", "stem", lambda b: b.norm(spec.norm))
    net.module("relu", "stem", lambda b: b.activation(spec.activation))
    net.module("maxpool", "stem", lambda b: b.pool("max", *fitted.conv_args(1)))
    for layer, (width, count) in enumerate(zip((64, 128, 256, 512), counts, strict=True)):
        blocks = []
        shape = net.shape
        for index in range(count):
            stride = [1] * dims
            if layer > 0 and index == 0:
                stride = [w.stride for w in fitted.windows[1 + layer]]
            block = _resnet_block(spec, str(index), shape, kind, width, stride, se)
            blocks.append(block)
            shape = block.out_shape
        stage = Stage(
            f"layer{layer + 1}", "sequential", "trunk", (), net.shape, shape, children=tuple(blocks)
        )
        net.add(stage)
    final = net.shape
    net.module("avgpool", "head", lambda b: b.pool("avg", b.spatial, b.spatial))
    net.module("flatten", "head", lambda b: b.flatten())
    if dropout_before_last_linear(spec):
        # Where GoogLeNet has its dropout: a named attribute, so no name moves.
        net.module("dropout", "head", lambda b: b.dropout(spec.dropout))
    net.module("fc", "head", lambda b: b.linear(spec.classes))
    notes = [
        Note(
            "note.se_resnet" if se else "note.resnet",
            model=f"{'SE-' if se else ''}ResNet-{name.rsplit('resnet', 1)[1]}",
        ),
        *fitted.notes,
        *_pool_note(final, spec),
    ]
    return net.finish(notes)


# ------------------------------------------------------------ MobileNetV2
MOBILENET_V2 = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2))
MOBILENET_V2 += ((6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def _conv_bn_act(
    builder: StageBuilder,
    out: int,
    kernel: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    activation: str,
    norm: str,
    groups: int = 1,
) -> Stage:
    """torchvision's Conv2dNormActivation: conv (no bias), norm, activation, as 0, 1, 2.

    Without a norm, the conv has a bias and the activation is 1, as torchvision
    writes it with ``norm_layer=None``.
    """
    start = len(builder.ops)
    builder.conv(out, kernel, stride, padding, groups=groups, bias=norm == "none")
    builder.norm(norm)
    builder.activation(activation)
    ops = numbered(builder.ops[start:])
    return Stage("", "sequential", "trunk", ops, ops[0].in_shape, ops[-1].out_shape)


def mobilenet_v2(spec: ModelSpec, name: str) -> Plan:
    """MobileNetV2 (Sandler et al., 2018) as in torchvision: depthwise inverted residuals."""
    dims = spec.dims
    act, norm = spec.activation, spec.norm
    steps = [conv_step("features.0", 3, 2, 1)]
    index = 1
    for _, _, count, stride in MOBILENET_V2:
        if stride > 1:
            steps.append(conv_step(f"features.{index}", 3, stride, 1))
        index += count
    fitted = fit(spec, "mobilenet_v2", steps)
    net = Net(spec)
    blocks: list[Stage] = []
    b = net.builder()
    blocks.append(
        dataclasses.replace(_conv_bn_act(b, 32, *fitted.conv_args(0), act, norm), name="0")
    )
    shape = b.shape
    step = 1
    for expand, out, count, stride in MOBILENET_V2:
        for repeat in range(count):
            strides = [1] * dims
            if repeat == 0 and stride > 1:
                strides = [w.stride for w in fitted.windows[step]]
                step += 1
            b = StageBuilder(shape)
            parts = []
            hidden = shape[0] * expand
            if expand != 1:
                parts.append(
                    _conv_bn_act(b, hidden, _ones(dims), _ones(dims), _zeros(dims), act, norm)
                )
            parts.append(
                _conv_bn_act(b, hidden, [3] * dims, strides, _ones(dims), act, norm, hidden)
            )
            start = len(b.ops)
            b.conv(out, _ones(dims), _ones(dims), _zeros(dims), bias=conv_bias(spec))
            b.norm(norm)
            linear = [
                Stage(
                    str(len(parts) + n),
                    "module",
                    "trunk",
                    renamed([op], [""]),
                    op.in_shape,
                    op.out_shape,
                )
                for n, op in enumerate(b.ops[start:])
            ]
            parts = [dataclasses.replace(part, name=str(n)) for n, part in enumerate(parts)]
            conv = Stage(
                "conv", "sequential", "trunk", (), shape, b.shape, children=(*parts, *linear)
            )
            residual = all(s == 1 for s in strides) and shape[0] == out
            block = Stage(
                str(len(blocks)),
                "residual" if residual else "sequential",
                "trunk",
                (),
                shape,
                b.shape,
                children=(conv,),
            )
            blocks.append(block)
            shape = b.shape
    b = StageBuilder(shape)
    last = _conv_bn_act(b, 1280, _ones(dims), _ones(dims), _zeros(dims), act, norm)
    blocks.append(dataclasses.replace(last, name=str(len(blocks))))
    features = Stage(
        "features",
        "sequential",
        "trunk",
        (),
        net.shape,
        b.shape,
        children=tuple(blocks),
    )
    net.add(features)
    final = net.shape
    net.module("avgpool", "head", lambda h: h.pool("avg", h.spatial, h.spatial))
    net.module("flatten", "head", lambda h: h.flatten())
    h = net.builder()
    h.dropout(spec.dropout)
    h.linear(spec.classes)
    net.sequential("classifier", "head", h, positional=True)
    notes = [
        Note("note.mobilenet_v2"),
        *fitted.notes,
        *_pool_note(final, spec),
    ]
    return net.finish(notes)


# ---------------------------------------------------------------- GoogLeNet
INCEPTION = {
    "inception3a": (64, 96, 128, 16, 32, 32),
    "inception3b": (128, 128, 192, 32, 96, 64),
    "inception4a": (192, 96, 208, 16, 48, 64),
    "inception4b": (160, 112, 224, 24, 64, 64),
    "inception4c": (128, 128, 256, 24, 64, 64),
    "inception4d": (112, 144, 288, 32, 64, 64),
    "inception4e": (256, 160, 320, 32, 128, 128),
    "inception5a": (256, 160, 320, 32, 128, 128),
    "inception5b": (384, 192, 384, 48, 128, 128),
}


def _basic_conv(
    builder: StageBuilder,
    name: str,
    out: int,
    kernel: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    activation: str,
    norm: str,
) -> Stage:
    """torchvision's BasicConv2d: conv (no bias), norm (eps 0.001), activation.

    Without a norm, the conv has a bias and the block is conv, act.
    """
    start = len(builder.ops)
    builder.conv(out, kernel, stride, padding, bias=norm == "none")
    builder.norm(norm)
    builder.activation(activation)
    ops = list(builder.ops[start:])
    if norm != "none":
        ops[1] = dataclasses.replace(ops[1], args=(*ops[1].args, ("eps", 0.001)))
    names = ("conv", "bn", "act") if norm != "none" else ("conv", "act")
    ops = renamed(ops, names)
    return Stage(name, "sequential", "trunk", ops, ops[0].in_shape, ops[-1].out_shape)


def _inception(
    spec: ModelSpec, name: str, shape: Shape, widths: Sequence[int]
) -> Stage:
    """Four parallel branches (1x1; 1x1, 3x3; 1x1, 3x3; 3x3 max pool, 1x1), concatenated."""
    dims, act, norm = spec.dims, spec.activation, spec.norm
    one, three = _same(dims, 1), _same(dims, 3)
    b1, r3, c3, r5, c5, pool_proj = widths
    branches = []
    builder = StageBuilder(shape)
    branches.append(_basic_conv(builder, "branch1", b1, *one, act, norm))
    for branch, (reduce, width) in (("branch2", (r3, c3)), ("branch3", (r5, c5))):
        builder = StageBuilder(shape)
        # torchvision's branch3 uses a 3x3 convolution (not the paper's 5x5).
        first = _basic_conv(builder, "0", reduce, *one, act, norm)
        second = _basic_conv(builder, "1", width, *three, act, norm)
        branches.append(
            Stage(branch, "sequential", "trunk", (), shape, builder.shape, children=(first, second))
        )
    builder = StageBuilder(shape)
    builder.pool("max", [3] * dims, _ones(dims), _ones(dims), ceil_mode=True)
    (pool,) = numbered(builder.ops)
    pool_stage = Stage("0", "module", "trunk", renamed([pool], [""]), shape, shape)
    proj = _basic_conv(builder, "1", pool_proj, *one, act, norm)
    branches.append(
        Stage(
            "branch4", "sequential", "trunk", (), shape, builder.shape, children=(pool_stage, proj)
        )
    )
    channels = sum(branch.out_shape[0] for branch in branches)
    out_shape = (channels, *shape[1:])
    return Stage(name, "inception", "trunk", (), shape, out_shape, children=tuple(branches))


# The auxiliary classifiers: where they read, what they pool to, their share of the loss.
AUX_SOURCES = {"aux1": "inception4a", "aux2": "inception4d"}
AUX_SIDE = 4  # torchvision pools to 4x4 (adaptive_avg_pool2d((4, 4)))
AUX_WEIGHT = 0.3  # each head's weight in the training loss, as in the paper and torchvision
AUX_DROPOUT = 0.7


def aux_pool(size: int) -> tuple[int, int] | None:
    """Kernel and stride of the average pool giving exactly 4 positions from ``size``.

    The stride is ``size // 4`` and the kernel the rest, ``size - 3 * stride``
    (at least the stride, so every position is read): at 14 that is kernel 5,
    stride 3, the paper's head.  None below 4, where no exact pool exists.
    """
    if size < AUX_SIDE:
        return None
    stride = size // AUX_SIDE
    return size - (AUX_SIDE - 1) * stride, stride


def _aux_head(spec: ModelSpec, name: str, shape: Shape) -> Stage:
    """torchvision's InceptionAux: a 4x4 average pool, a 1x1 BasicConv2d to 128, fc1, fc2."""
    windows = [aux_pool(size) for size in shape[1:]]
    kernel = [window[0] for window in windows if window]
    stride = [window[1] for window in windows if window]
    builder = StageBuilder(shape)
    builder.pool("avg", kernel, stride)
    parts = [Stage("pool", "module", "aux", renamed(builder.ops[-1:], [""]), shape, builder.shape)]
    conv = _basic_conv(builder, "conv", 128, *_same(spec.dims, 1), spec.activation, spec.norm)
    parts.append(dataclasses.replace(conv, role="aux"))
    for part, make in (
        ("flatten", builder.flatten),
        ("fc1", lambda: builder.linear(1024)),
        ("act", lambda: builder.activation(spec.activation)),
        ("dropout", lambda: builder.dropout(AUX_DROPOUT)),
        ("fc2", lambda: builder.linear(spec.classes)),
    ):
        op = make()
        parts.append(Stage(part, "module", "aux", renamed([op], [""]), op.in_shape, op.out_shape))
    return Stage(name, "sequential", "aux", (), shape, builder.shape, children=tuple(parts))


def _check_aux(spec: ModelSpec, steps: Sequence[Step], shape: Shape) -> None:
    """The auxiliary heads need a map of at least 4 positions along each dimension."""
    if all(size >= AUX_SIDE for size in shape[1:]):
        return
    least = []
    for size in spec.input_size:
        n = size
        while True:
            picks = fit_dim(n, steps)
            sizes = _run(n, steps, picks) if picks is not None else 0
            if isinstance(sizes, list) and sizes[3] >= AUX_SIDE:
                break
            n += 1
        least.append(n)
    raise CnngenError(
        f"--aux-logits: at --input-size {format_value(spec.input_size)} the auxiliary "
        f"heads read a {format_value(shape[1:])} map (after inception4a), smaller than the "
        f"{AUX_SIDE}x{AUX_SIDE} they pool to; use --input-size {format_value(tuple(least))} or "
        f"larger, or drop --aux-logits",
        "--aux-logits",
        key="refusal.aux_logits_size",
        fields={
            "input": format_value(spec.input_size),
            "map": format_value(shape[1:]),
            "least": format_value(tuple(least)),
        },
    )


def _googlenet_note(spec: ModelSpec, heads: dict[str, Stage]) -> str:
    if not heads:
        return Note("note.googlenet")
    pool = heads["aux1"].children[0].ops[0]
    kernel, stride = pool.arg("kernel_size"), pool.arg("stride", pool.arg("kernel_size"))
    return Note(
        "note.googlenet_aux", kernel=format_value(kernel), stride=format_value(stride),
        weight=AUX_WEIGHT,
    )  # fmt: skip


def googlenet(spec: ModelSpec, name: str) -> Plan:
    """GoogLeNet (Szegedy et al., 2015) as in torchvision.

    With ``--aux-logits`` it has torchvision's two auxiliary classifiers
    (``aux1`` reads inception4a, ``aux2`` inception4d); they run in training
    only, and forward then returns ``(logits, aux2, aux1)``.
    """
    dims, act = spec.dims, spec.activation
    steps = [
        conv_step("conv1", 7, 2, 3),
        pool_step("maxpool1", 3, 2, ceil=True),
        pool_step("maxpool2", 3, 2, ceil=True),
        pool_step("maxpool3", 3, 2, ceil=True),
        pool_step("maxpool4", 2, 2, ceil=True),
    ]
    fitted = fit(spec, "googlenet", steps)
    net = Net(spec)

    def basic(name: str, out: int, kernel: int, windows: int | None = None) -> None:
        builder = net.builder()
        args = fitted.conv_args(windows) if windows is not None else _same(dims, kernel)
        net.add(_basic_conv(builder, name, out, *args, act, spec.norm))

    def maxpool(name: str, index: int) -> None:
        net.module(name, "trunk", lambda b: b.pool("max", *fitted.conv_args(index), ceil_mode=True))

    def inception(name: str) -> None:
        net.add(_inception(spec, name, net.shape, INCEPTION[name]))

    basic("conv1", 64, 7, 0)
    maxpool("maxpool1", 1)
    basic("conv2", 64, 1)
    basic("conv3", 192, 3)
    maxpool("maxpool2", 2)
    inception("inception3a")
    inception("inception3b")
    maxpool("maxpool3", 3)
    heads: dict[str, Stage] = {}
    for name in ("inception4a", "inception4b", "inception4c", "inception4d", "inception4e"):
        inception(name)
        for head, source in AUX_SOURCES.items():
            if spec.aux_logits and source == name:
                _check_aux(spec, steps, net.shape)
                heads[head] = _aux_head(spec, head, net.shape)
    maxpool("maxpool4", 4)
    inception("inception5a")
    inception("inception5b")
    final = net.shape
    net.module("avgpool", "head", lambda b: b.pool("avg", b.spatial, b.spatial))
    net.module("flatten", "head", lambda b: b.flatten())
    net.module("dropout", "head", lambda b: b.dropout(spec.dropout))
    net.module("fc", "head", lambda b: b.linear(spec.classes))
    notes = [
        _googlenet_note(spec, heads),
        *fitted.notes,
        *_pool_note(final, spec),
    ]
    # torchvision's order: GoogLeNetOutputs(logits, aux_logits2, aux_logits1).
    extras = [Extra(heads[head], AUX_SOURCES[head], AUX_WEIGHT) for head in heads]
    return net.finish(notes, extras[::-1])


# ------------------------------------------------------------------ ConvNeXt
def convnext(spec: ModelSpec, name: str) -> Plan:
    """ConvNeXt (Liu et al., 2022) as in torchvision: a 4x4 patchify stem, four stages.

    ``features`` alternates downsampling (``features.0``: a 4x4 convolution with
    stride 4 and a norm; ``features.2``, ``.4``, ``.6``: a norm and a 2x2
    convolution with stride 2) and stages of ConvNeXt blocks
    (:func:`cnngen.core.blocks.convnext_block`, the one ``--block convnext``
    uses).  The norm is ConvNeXt's LayerNorm over channels, which ``--norm``
    replaces.  Its convolutions keep their bias, as torchvision's do.
    """
    depths, widths = PRESET_TABLE[name].config
    steps = [
        conv_step("features.0", 4, 4, 0),
        *(conv_step(f"features.{2 * stage}", 2, 2, 0) for stage in range(1, len(depths))),
    ]
    fitted = fit(spec, name, steps)
    net = Net(spec)
    parts: list[Stage] = []
    b = net.builder()
    for stage, (depth, width) in enumerate(zip(depths, widths, strict=True)):
        start = len(b.ops)
        if stage == 0:
            b.conv(width, *fitted.conv_args(0))
            convnext_norm(b, spec.norm)
        else:
            convnext_norm(b, spec.norm)
            b.conv(width, *fitted.conv_args(stage))
        ops = numbered(b.ops[start:])
        parts.append(
            Stage(str(len(parts)), "sequential", "trunk", ops, ops[0].in_shape, ops[-1].out_shape)
        )
        blocks = []
        shape = b.shape
        for index in range(depth):
            block = convnext_block(
                str(index), "trunk", shape, spec.activation, spec.norm
            )
            blocks.append(block)
        parts.append(
            Stage(str(len(parts)), "sequential", "trunk", (), shape, shape, children=tuple(blocks))
        )
        b = StageBuilder(shape)
    features = Stage(
        "features", "sequential", "trunk", (), net.shape, b.shape, children=tuple(parts)
    )
    net.add(features)
    final = net.shape
    net.module("avgpool", "head", lambda h: h.pool("avg", h.spatial, h.spatial))
    h = net.builder()
    convnext_norm(h, spec.norm)
    h.flatten()
    if dropout_before_last_linear(spec):
        h.dropout(spec.dropout)
    h.linear(spec.classes)
    net.sequential("classifier", "head", h, positional=True)
    notes = [
        Note("note.convnext", model=f"ConvNeXt-{name.split('_', 1)[1].capitalize()}"),
        *fitted.notes,
        *_pool_note(final, spec),
    ]
    return net.finish(notes)


# ------------------------------------------------------------------ table
# Architecture -> the builder that plans every preset declared with it
# (cnngen.core.vocab.PRESET_TABLE); a builder takes the spec and the preset's name.
ARCHITECTURES: dict[str, Callable[[ModelSpec, str], Plan]] = {
    "alexnet": alexnet,
    "vgg": vgg,
    "resnet": resnet,
    "mobilenet_v2": mobilenet_v2,
    "googlenet": googlenet,
    "convnext": convnext,
}


def solve_preset(spec: ModelSpec) -> Plan:
    """The plan of ``spec.preset`` (every preset but lenet5, which the solver builds)."""
    assert spec.preset is not None
    return ARCHITECTURES[PRESET_TABLE[spec.preset].architecture](spec, spec.preset)
