"""Options and helpers shared by the commands: sizes, the model options, spec building.

Commands turn their options into a validated spec with :func:`build_spec`
and into a plan with :func:`build_plan`; nothing here imports torch, and the
solver is imported only when a plan is asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from cnngen._version import __version__
from cnngen.cli.config import dump_config
from cnngen.cli.lang import choose, say
from cnngen.cli.output import check_target, emit_files
from cnngen.cli.output import emit as emit_output
from cnngen.cli.templates import template_dir_given, template_dir_words
from cnngen.core.checks import SIZE_HELP, parse_size
from cnngen.core.spec import (
    ACTIVATIONS,
    BLOCKS,
    BORDER_MODES,
    CHANNEL_RULES,
    DOWNSAMPLE,
    FAMILIES,
    FINAL_ACTIVATIONS,
    HEADS,
    NORMS,
    PADDING_MODES,
    POOLS,
    PRESETS,
    check_choice,
    format_value,
)
from cnngen.core.vocab import (
    BASES,
    DECODER_CHANNEL_RULES,
    GROUPS,
    PRESET_OPTIONS,
    ROTATION_POOLS,
    UPSAMPLE,
)
from cnngen.errors import CnngenError


def _preset_options_help() -> str:
    """The options presets take, read from the vocabulary so help never drifts from it."""

    def spell(names: tuple[str, ...] | list[str]) -> str:
        flags = [f"--{name.replace('_', '-')}" for name in names]
        return f"{', '.join(flags[:-1])} and {flags[-1]}"

    every = PRESET_OPTIONS["alexnet"]
    lenet = [name for name in PRESET_OPTIONS["lenet5"] if name not in every]
    googlenet = [name for name in PRESET_OPTIONS["googlenet"] if name not in every]
    return (
        f"It takes {spell(every)} (lenet5 also {spell(lenet)}, googlenet also "
        f"--{googlenet[0].replace('_', '-')}) and refuses the rest."
    )


class SizeType(click.ParamType):
    """``100``, ``100x100``, ``100,100`` or ``16x64x64`` as a tuple of ints."""

    name = "SIZE"
    # A TOML config may spell a size as a list, e.g. input-size = [100, 100].
    accepts_list = True

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[int, ...]:
        if isinstance(value, tuple):
            return value
        if isinstance(value, int):
            return (value,)
        if isinstance(value, list):
            # From a TOML config: every item a whole number (not 64.5, true or a list).
            bad = [v for v in value if isinstance(v, bool) or not isinstance(v, int)]
            if bad or not value:
                import json  # only to quote the bad list in this error

                self.fail(say()("cli.size_list", value=json.dumps(value)), param, ctx)
            return tuple(value)
        try:
            return parse_size("size", str(value))
        except CnngenError:
            self.fail(say()("cli.size", value=repr(value)), param, ctx)


SIZE = SizeType()


class WidthsType(SizeType):
    """Channel widths: ``32,64,96`` (or ``32x64x96``, or a TOML list)."""

    name = "LIST"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[int, ...]:
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter:
            self.fail(say()("cli.widths", value=repr(value)), param, ctx)


WIDTHS = WidthsType()


class DecoderChannelsType(click.ParamType):
    """``--decoder-channels``: a rule's name, or widths such as ``94,78,62,46,30``.

    The value passes through as given (a TOML list as a tuple); the spec tells
    a rule from a list and checks both, naming the option.
    """

    name = "RULE|LIST"
    accepts_list = True

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, list):
            return WIDTHS.convert(value, param, ctx)
        return value if isinstance(value, tuple) else str(value)

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[Any]:
        return Words(DECODER_CHANNEL_RULES).shell_complete(ctx, param, incomplete)


class Words(click.ParamType):
    """Free text that shell completion can finish from a list of known words.

    Validation stays in :func:`cnngen.spec.make_spec`, which names the option
    and suggests the closest spelling; this type only helps the shell.
    """

    name = "TEXT"

    def __init__(self, words: tuple[str, ...]) -> None:
        self.words = tuple(words)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        return str(value)

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[Any]:
        from click.shell_completion import CompletionItem

        return [CompletionItem(word) for word in self.words if word.startswith(incomplete)]


def _option(*names: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(*names, show_default=kwargs.pop("show_default", True), **kwargs)


def _model_option(
    *flags: str,
    help: str,
    type: Any = None,
    choices: tuple[str, ...] = (),
    default: str | None = None,
    is_flag: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """One model option.  Its default is read from ModelSpec and its choices from the
    vocabulary, so help never retypes either; ``default`` describes a default that
    depends on other options.

    The Click default stays ``None`` so a spec can tell which options the user gave.
    """
    from cnngen.core.spec import SPEC_DEFAULTS

    field = max(flags, key=len).removeprefix("--").replace("-", "_")
    static = SPEC_DEFAULTS[field]
    if default is None and isinstance(static, int | float | str | tuple) and static != ():
        default = format_value(static) if isinstance(static, tuple) else str(static)
    if choices:
        help = f"{help} One of: {', '.join(choices)}."
        type = Words(choices)
    if default and not is_flag:
        help = f"{help}  [default: {default}]"
    return click.option(*flags, type=type, is_flag=is_flag, default=None, help=help)


# Options shared by `plan`, `model`, `handout` and `project`, in spec field order.
MODEL_OPTIONS: list[Callable[[Callable[..., Any]], Callable[..., Any]]] = [
    _model_option(
        "-i", "--input-size", type=SIZE, help=f"Spatial input size: {SIZE_HELP} (1D, 2D or 3D)."
    ),
    _model_option(
        "--in-channels", type=int, help="Input channels (for forecasters: pre-history frames)."
    ),
    _model_option(
        "--out-channels",
        type=int,
        default="in-channels for forecasters, 2 for U-Nets",
        help="Forecaster output channels (forecast frames), or U-Net output channels "
        "(segmentation classes; 1 is binary segmentation, a foreground logit per pixel).",
    ),
    _model_option(
        "-n", "--layers", type=int, help="Encoder layers (stages); for a U-Net, its depth (levels)."
    ),
    _model_option(
        "--min-size",
        type=SIZE,
        default="5; 2 for U-Nets",
        help="Smallest feature map to downsample to.",
    ),
    _model_option(
        "--target-size", type=SIZE, help="Exact final feature-map size (instead of --min-size)."
    ),
    _model_option("--kernel", type=SIZE, help="Kernel size, one or per dimension."),
    _model_option(
        "--stride",
        type=SIZE,
        default="2 where the size allows",
        help="Pin the stride of every layer.",
    ),
    _model_option(
        "--padding",
        choices=PADDING_MODES,
        help="auto: symmetric and size-keeping; same: TensorFlow's out = ceil(in/stride), "
        "with a pad layer when uneven; valid: none; or N positions on every side (at most "
        "dilation*(kernel-1)/2, refused where a strided layer would skip input).",
    ),
    _model_option("--dilation", type=SIZE, help="Dilation, one or per dimension."),
    _model_option(
        "--downsample",
        choices=DOWNSAMPLE,
        default="pool for plain/vgg classifiers and U-Nets, else stride",
        help="How layers shrink the feature map (a U-Net: pool, or stride for a stride-2 "
        "convolution in place of each max pool).",
    ),
    _model_option("--pool", choices=POOLS, help="Pooling kind."),
    _model_option(
        "--channel-rule",
        choices=CHANNEL_RULES,
        help="How channels grow.  The tcb- rules are TorchCNNBuilder 0.1.5's, with its exact "
        "widths: tcb-exponential int(start x ratio^i); tcb-linear in+1, in+2, ...; "
        "tcb-proportion in .. in + mean(input size)/2 in equal steps; tcb-power "
        "int((in+i)^ratio), its 3D default; tcb-constant 1.",
    ),
    _model_option("--start-channels", type=int, help="Channels of the first layer."),
    _model_option("--ratio", type=float, help="Growth ratio of the channel rule."),
    _model_option("--min-channels", type=int, help="Lower clamp for channels."),
    _model_option("--max-channels", type=int, help="Upper clamp for channels."),
    _model_option(
        "--channels",
        type=WIDTHS,
        help="Every layer's channels, e.g. 32,64,96: one per layer (a U-Net: one per level, "
        "--layers + 1), instead of --channel-rule.",
    ),
    _model_option(
        "--norm",
        choices=NORMS,
        default="batchnorm; a preset's own",
        help="Normalization after each convolution.  A preset puts it in place of its batch "
        "norm, under the same names (none removes it and gives those convolutions a bias), or "
        "after each convolution where it has none: vgg11 --norm batchnorm is vgg11_bn.  "
        "Presets take every choice but dropout.",
    ),
    _model_option(
        "--activation",
        choices=tuple(ACTIVATIONS),
        default="relu; a preset's own",
        help="Activation function; leaky_relu:SLOPE, elu:ALPHA and prelu:INIT take a number "
        "(e.g. leaky_relu:0.2), and prelu learns one slope per channel.",
    ),
    _model_option(
        "--final-activation",
        choices=FINAL_ACTIVATIONS,
        help="Activation on the output (the same forms as --activation).",
    ),
    _model_option(
        "--dropout",
        type=float,
        default="0.0; a preset's own",
        help="Dropout probability after each block.  A preset's own dropout layers take it "
        "(0 keeps them, at p=0.0, so no layer is renumbered); a preset without dropout gets "
        "one before its last linear layer.",
    ),
    _model_option(
        "--norm-eps",
        type=float,
        default="torch's, 1e-5",
        help="Epsilon of every batch, instance, group or layer norm.",
    ),
    _model_option(
        "--norm-momentum",
        type=float,
        default="torch's, 0.1",
        help="Momentum of every batch norm's running statistics.",
    ),
    _model_option(
        "--no-affine",
        is_flag=True,
        help="Batch and group norms without a learned scale and shift.",
    ),
    _model_option(
        "--padding-mode",
        choices=BORDER_MODES,
        help="How convolutions and pad layers fill the border (torch's padding_mode); "
        "reflect needs padding below the size it pads.  Not for --group-conv.",
    ),
    click.option(
        "--bias/--no-bias",
        default=None,
        help="Bias in every planned convolution and transposed convolution (output layers "
        "keep theirs).  [default: on, off before a batch or instance norm]",
    ),
    _model_option(
        "--groups",
        type=int,
        help="Grouped convolutions: every planned convolution but the first (which reads the "
        "input) splits its channels into G groups (ResNeXt's 3x3 in bottlenecks); both of its "
        "channel counts must divide by G.",
    ),
    _model_option("--sub-blocks", type=int, default="1; 2 for vgg", help="Convolutions per layer."),
    _model_option(
        "--latent",
        type=SIZE,
        help="Forecaster: a linear latent bottleneck, a width (16) or a tensor shape (8x4x4) "
        "the bottleneck is reshaped to.",
    ),
    _model_option(
        "--latent-layers",
        type=int,
        default=1,
        help="Forecaster: linear layers each way through the latent, widths spaced evenly "
        "on a log scale between the bottleneck's size and the latent's.",
    ),
    _model_option(
        "--latent-activation",
        choices=FINAL_ACTIVATIONS,
        default="--activation",
        help="Forecaster: the activation after each latent linear layer, or none "
        "(TorchCNNBuilder's default).",
    ),
    _model_option(
        "--out-depth",
        type=int,
        default="input depth",
        help="3D forecaster: output time steps along depth.",
    ),
    _model_option(
        "--decoder-channels",
        type=DecoderChannelsType(),
        default="mirror",
        help="Forecaster: each decoder layer's output channels, the last --out-channels.  "
        "mirror: the encoder's in reverse; a tcb- rule: TorchCNNBuilder's, from the "
        "bottleneck to --out-channels; or a list, e.g. 94,78,62,46,30.",
    ),
    _model_option(
        "--decoder-layers",
        type=int,
        default="--layers",
        help="Forecaster: a decoder depth of its own (with --decoder-channels); each "
        "transposed convolution's stride, padding and output_padding are solved so the "
        "output has the input's size exactly.",
    ),
    _model_option(
        "--out-size",
        type=SIZE,
        default="input size",
        help="Forecaster: the output's spatial size, e.g. 64x64 (3D: depth too); the "
        "decoder's transposed convolutions are solved to land on it exactly, no resize.",
    ),
    _model_option(
        "--decoder-kernel",
        type=SIZE,
        default="--kernel",
        help="Forecaster, decoder: the transposed convolutions' own kernel, one or per "
        "dimension; strides, paddings and output paddings are solved to land on the output size.",
    ),
    _model_option(
        "--decoder-stride",
        type=SIZE,
        default="2 or 1, solved",
        help="Forecaster, decoder: pin every transposed convolution's stride (one or per "
        "dimension); paddings and output paddings are solved to land on the output size.",
    ),
    _model_option("--classes", type=int, help="Classifier outputs."),
    _model_option("--block", choices=BLOCKS, help="Classifier blocks."),
    _model_option("--se", is_flag=True, help="Add squeeze-and-excitation to every block."),
    _model_option("--depthwise", is_flag=True, help="Use depthwise-separable convolutions."),
    _model_option(
        "--head",
        choices=HEADS,
        help="Classifier head: flatten the last feature map (keeps where features are) or "
        "average it (gap); auto flattens maps of at most 64 positions (8x8) and averages "
        "larger ones.",
    ),
    _model_option("--hidden", type=SIZE, help="Hidden widths of the classifier head, e.g. 120x84."),
    _model_option(
        "--preset",
        choices=PRESETS,
        help="A classic architecture, exact at any input size (torchvision's layer names).  "
        + _preset_options_help(),
    ),
    _model_option(
        "--aux-logits",
        is_flag=True,
        help="GoogLeNet: the two auxiliary classifiers (after inception4a and inception4d) "
        "that torchvision's weights carry; in training forward returns (logits, aux2, aux1) "
        "and train.py adds 0.3 of each head's loss.",
    ),
    _model_option(
        "--upsample",
        choices=UPSAMPLE,
        help="U-Net decoders: transposed (learned, output_padding solved per level), "
        "nearest/bilinear interpolation to the skip's exact size, then a 1x1 conv, or "
        "pixelshuffle (2D: a convolution to 4x the channels, then PixelShuffle(2)).",
    ),
    _model_option(
        "--residual-units",
        is_flag=True,
        help="U-Net: each level's convolutions add their input back (a 1x1 convolution "
        "where the channels change), as residual units do.",
    ),
    _model_option(
        "--deep-supervision",
        type=int,
        default="0, none",
        help="U-Net: a 1x1 convolution head on each of the N decoder levels below full "
        "resolution (dec2, dec3 ...); in training forward returns them after the output and "
        "train.py adds their losses, weighted 1/2, 1/4 ..., against the mask sampled to "
        "each level's exact size.",
    ),
    _model_option(
        "--rotation-pool",
        choices=ROTATION_POOLS,
        help="Equivariant: pool the four rotations' features with their max or mean.",
    ),
    _model_option(
        "--group-conv",
        is_flag=True,
        help="Equivariant: true p4 group convolutions (lifting conv, rotated kernels with "
        "cyclically shifted orientations, group pooling), equivariant at every layer.",
    ),
    _model_option(
        "--group",
        choices=GROUPS,
        help="Equivariant with --group-conv: c4, the four quarter turns (4 orientations per "
        "channel), or d4, the quarter turns and their mirror images (8 per channel).",
    ),
    _model_option(
        "--basis",
        choices=BASES,
        help="Equivariant with --group-conv: full, a weight for every kernel tap, or "
        "harmonic, each kernel a sum of a few waves around its rings (6 weights instead of "
        "9 at kernel 3, 11 of 25 at 5, 18 of 49 at 7), as steerable CNNs do.",
    ),
    _model_option("--name", help="Class name of the model (a Python identifier)."),
]

FAMILY_HELP = f"FAMILY is one of: {', '.join(FAMILIES)}."


def lang_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--lang en|ru``: the language of tables, handouts and generated comments."""
    from cnngen.rendering.messages import LANGUAGES

    def chosen(ctx: click.Context, param: click.Parameter, value: str) -> str:
        choose(value)
        return value

    return click.option(
        "--lang",
        type=click.Choice(LANGUAGES),
        default="en",
        show_default=True,
        callback=chosen,
        help="Language of the text written (en or ru); code stays the same.",
    )(function)


def model_options(function: Callable[..., Any]) -> Callable[..., Any]:
    for decorator in reversed(MODEL_OPTIONS):
        function = decorator(function)
    return function


def build_spec(family: str, options: dict[str, Any]) -> Any:
    """A validated spec; ``--name`` is checked against the names the model template uses."""
    from cnngen.core.spec import spec_from_options
    from cnngen.rendering.namespace import template_names

    return spec_from_options(family, options, template_names)


def build_plan(family: str, options: dict[str, Any], lang: str = "en") -> tuple[Any, Any]:
    """The spec and its plan; an unusually large plan gets a warning on stderr, in ``lang``."""
    from cnngen.core.checks import size_warnings
    from cnngen.core.solver import solve
    from cnngen.rendering.messages import Messages

    spec = build_spec(family, options)
    plan = solve(spec)
    t = Messages(lang)
    for warning in size_warnings(plan):
        click.echo(t("plan.warning", note=t.note(warning)), err=True)
    return spec, plan


def save_config_text(spec: Any, output: str | None, command: str) -> str:
    """The TOML that reproduces a run: family, the options given, the output file."""
    from cnngen.core.spec import LIST_OPTIONS

    items: list[tuple[str, Any]] = [("family", spec.family)]
    for name, value in spec.given:
        # Width lists read as lists: channels = "32,64,96", not a size like 32x64x96.
        if name in LIST_OPTIONS and isinstance(value, tuple):
            value = ",".join(str(item) for item in value)
        items.append((name, value))
    if output not in (None, "-"):
        items.append(("output", output))
    # Templates shape the file as much as any option, so the config keeps them.
    template_dir = template_dir_given()
    if template_dir is not None:
        items.append(("template-dir", template_dir))
    comment = (
        f"cnngen {__version__} config; reproduce with: cnngen {command} --config FILE\n"
        "Keys are the long option names; flags on the command line override them."
    )
    return dump_config(items, comment)


def emit_with_config(
    text: str,
    output: str,
    save_config: str | None,
    config_text: str,
    force: bool,
    check: bool,
    dry_run: bool,
) -> None:
    """Emit a generated file and, with ``--save-config``, its config, as one unit.

    Both targets are checked before either is written, including that they
    are not the same file under two spellings (``-o m.py --save-config ./m.py``).
    """
    if save_config is None:
        emit_output(text, output, force=force, check=check, dry_run=dry_run)
        return
    if save_config == "-":
        raise CnngenError(
            "--save-config: give a file of its own, e.g. --save-config model.toml", "--save-config"
        )
    if output == "-":
        if not (check or dry_run):
            check_target(save_config, force, "--save-config")
        emit_output(text, output, force=force, check=check, dry_run=dry_run)
        emit_files(
            [(save_config, config_text, "--save-config")], force=force, check=check, dry_run=dry_run
        )
        return
    emit_files(
        [(output, text, "--output"), (save_config, config_text, "--save-config")],
        force=force,
        check=check,
        dry_run=dry_run,
    )


def require_family(family: str | None) -> str:
    """The family from the command line or the config file, else a helpful error."""
    if family is None:
        raise CnngenError(say()("cli.family_missing", families=", ".join(FAMILIES)), "FAMILY")
    check_choice("FAMILY", family, FAMILIES)
    return family


def save_config_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--save-config",
        default=None,
        metavar="FILE",
        help="Also write a TOML config that reproduces this run (use it with --config).",
    )(function)


def given_options(ctx: click.Context) -> set[str]:
    """Parameters the user set, on the command line or in a --config file (not defaults)."""
    sources = (
        click.core.ParameterSource.COMMANDLINE,
        click.core.ParameterSource.ENVIRONMENT,
        click.core.ParameterSource.DEFAULT_MAP,
    )
    return {
        param.name
        for param in ctx.command.params
        if param.name is not None and ctx.get_parameter_source(param.name) in sources
    }


def invocation(ctx: click.Context) -> list[str]:
    """The words after ``cnngen`` that reproduce this command: the options the user set."""
    names = []
    context: click.Context | None = ctx
    while context is not None and context.parent is not None:
        names.append(context.info_name or "")
        context = context.parent
    words = list(reversed(names))
    for param in ctx.command.params:
        if param.name is None:
            continue
        source = ctx.get_parameter_source(param.name)
        value = ctx.params.get(param.name)
        if source is click.core.ParameterSource.DEFAULT or value is None:
            continue
        if isinstance(param, click.Argument):
            words.append(str(value))
            continue
        flag = max(param.opts, key=len)
        if isinstance(param, click.Option) and param.is_flag:
            if param.secondary_opts and not value:
                words.append(max(param.secondary_opts, key=len))
            elif value:
                words.append(flag)
            continue
        values = value if isinstance(value, list | tuple) and param.multiple else [value]
        for item in values:
            words += [flag, format_value(item) if isinstance(item, tuple) else str(item)]
    return words + template_dir_words(ctx)
