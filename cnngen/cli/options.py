"""Options and helpers shared by the commands: sizes, the model options, spec building.

Commands turn their options into a validated spec with :func:`build_spec`
and into a plan with :func:`build_plan`; nothing here imports torch, and the
solver is imported only when a plan is asked for.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from cnngen import __version__
from cnngen.cli.config import dump_config
from cnngen.cli.output import check_target, emit_files
from cnngen.cli.output import emit as emit_output
from cnngen.core.spec import (
    ACTIVATIONS,
    BLOCKS,
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
from cnngen.errors import CnngenError

SIZE_HELP = "sizes like 100, 100x100 or 16x64x64"


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
            return tuple(int(v) for v in value)
        text = str(value).strip()
        if not re.fullmatch(r"-?\d+([x,]\s*-?\d+)*", text):
            self.fail(f"expected {SIZE_HELP}, got {value!r}", param, ctx)
        return tuple(int(part) for part in re.split(r"[x,]\s*", text))


SIZE = SizeType()


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


# Options shared by `plan` and `model`, in spec field order.
MODEL_OPTIONS: list[Callable[[Callable[..., Any]], Callable[..., Any]]] = [
    _option(
        "-i",
        "--input-size",
        type=SIZE,
        default=None,
        show_default=False,
        help=f"Spatial input size: {SIZE_HELP} (1D, 2D or 3D).",
    ),
    _option(
        "--in-channels",
        type=int,
        default=None,
        show_default=False,
        help="Input channels (for forecasters: pre-history frames).  [default: 1]",
    ),
    _option(
        "--out-channels",
        type=int,
        default=None,
        show_default=False,
        help="Forecaster output channels (forecast frames).  [default: in-channels]",
    ),
    _option(
        "-n",
        "--layers",
        type=int,
        default=None,
        show_default=False,
        help="Encoder layers (stages).  [default: 4]",
    ),
    _option(
        "--min-size",
        type=SIZE,
        default=None,
        show_default=False,
        help="Smallest feature map to downsample to.  [default: 5]",
    ),
    _option(
        "--target-size",
        type=SIZE,
        default=None,
        show_default=False,
        help="Exact final feature-map size (instead of --min-size).",
    ),
    _option(
        "--kernel",
        type=SIZE,
        default=None,
        show_default=False,
        help="Kernel size, one or per dimension.  [default: 3]",
    ),
    _option(
        "--stride",
        type=SIZE,
        default=None,
        show_default=False,
        help="Pin the stride of every layer (default: stride 2 where the size allows).",
    ),
    _option(
        "--padding",
        type=Words(PADDING_MODES),
        default=None,
        show_default=False,
        help="auto (symmetric, size-keeping), same (TensorFlow: out = ceil(in/stride), "
        "pad layer when uneven) or valid (none).  [default: auto]",
    ),
    _option(
        "--dilation",
        type=SIZE,
        default=None,
        show_default=False,
        help="Dilation, one or per dimension.  [default: 1]",
    ),
    _option(
        "--downsample",
        type=Words(DOWNSAMPLE),
        default=None,
        show_default=False,
        help="stride, pool or none.  [default: pool for plain/vgg classifiers, else stride]",
    ),
    _option(
        "--pool",
        type=Words(POOLS),
        default=None,
        show_default=False,
        help="max or avg pooling.  [default: max]",
    ),
    _option(
        "--channel-rule",
        type=Words(CHANNEL_RULES),
        default=None,
        show_default=False,
        help="exponential, linear, proportion, power or constant.  [default: exponential]",
    ),
    _option(
        "--start-channels",
        type=int,
        default=None,
        show_default=False,
        help="Channels of the first layer.  [default: 32]",
    ),
    _option(
        "--ratio",
        type=float,
        default=None,
        show_default=False,
        help="Growth ratio of the channel rule.  [default: 2.0]",
    ),
    _option(
        "--min-channels",
        type=int,
        default=None,
        show_default=False,
        help="Lower clamp for channels.  [default: 1]",
    ),
    _option(
        "--max-channels",
        type=int,
        default=None,
        show_default=False,
        help="Upper clamp for channels.  [default: 512]",
    ),
    _option(
        "--norm",
        type=Words(NORMS),
        default=None,
        show_default=False,
        help="batchnorm, instancenorm, groupnorm, dropout or none.  [default: batchnorm]",
    ),
    _option(
        "--activation",
        type=Words(tuple(ACTIVATIONS)),
        default=None,
        show_default=False,
        help="relu, leaky_relu, elu, gelu, silu, tanh or sigmoid.  [default: relu]",
    ),
    _option(
        "--final-activation",
        type=Words(FINAL_ACTIVATIONS),
        default=None,
        show_default=False,
        help="Activation on the output, or none.  [default: none]",
    ),
    _option(
        "--dropout",
        type=float,
        default=None,
        show_default=False,
        help="Dropout probability after each block.  [default: 0.0]",
    ),
    _option(
        "--sub-blocks",
        type=int,
        default=None,
        show_default=False,
        help="Convolutions per layer.  [default: 1; 2 for vgg]",
    ),
    _option(
        "--latent",
        type=int,
        default=None,
        show_default=False,
        help="Forecaster: width of a linear latent bottleneck.",
    ),
    _option(
        "--out-depth",
        type=int,
        default=None,
        show_default=False,
        help="3D forecaster: output time steps along depth.  [default: input depth]",
    ),
    _option(
        "--classes",
        type=int,
        default=None,
        show_default=False,
        help="Classifier outputs.  [default: 10]",
    ),
    _option(
        "--block",
        type=Words(BLOCKS),
        default=None,
        show_default=False,
        help="Classifier blocks: plain, vgg, residual or bottleneck.  [default: plain]",
    ),
    _option(
        "--se",
        is_flag=True,
        default=None,
        show_default=False,
        help="Add squeeze-and-excitation to every block.",
    ),
    _option(
        "--depthwise",
        is_flag=True,
        default=None,
        show_default=False,
        help="Use depthwise-separable convolutions.",
    ),
    _option(
        "--head",
        type=Words(HEADS),
        default=None,
        show_default=False,
        help="Classifier head: gap (global average pool) or flatten.  [default: gap]",
    ),
    _option(
        "--hidden",
        type=SIZE,
        default=None,
        show_default=False,
        help="Hidden widths of the classifier head, e.g. 120x84.",
    ),
    _option(
        "--preset",
        type=Words(PRESETS),
        default=None,
        show_default=False,
        help="A classic architecture: lenet5.",
    ),
    _option(
        "--name",
        default=None,
        show_default=False,
        help="Class name of the model (a Python identifier).",
    ),
]

FAMILY_HELP = "FAMILY is encoder, forecaster, classifier or equivariant."


def model_options(function: Callable[..., Any]) -> Callable[..., Any]:
    for decorator in reversed(MODEL_OPTIONS):
        function = decorator(function)
    return function


def build_spec(family: str, options: dict[str, Any]) -> Any:
    from cnngen.core.spec import spec_from_options

    return spec_from_options(family, options)


def build_plan(family: str, options: dict[str, Any]) -> tuple[Any, Any]:
    from cnngen.core.solver import solve

    spec = build_spec(family, options)
    return spec, solve(spec)


def save_config_text(spec: Any, output: str | None, command: str) -> str:
    """The TOML that reproduces a run: family, the options given, the output file."""
    items: list[tuple[str, Any]] = [("family", spec.family), *spec.given]
    if output not in (None, "-"):
        items.append(("output", output))
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
    """Emit a generated file and, with ``--save-config``, its config, as one unit."""
    if save_config is None:
        emit_output(text, output, force=force, check=check, dry_run=dry_run)
        return
    if save_config == "-" or save_config == output:
        raise CnngenError(
            "--save-config: give a file of its own, e.g. --save-config model.toml", "--save-config"
        )
    if output == "-":
        if not (check or dry_run):
            check_target(Path(save_config), force, "--save-config")
        emit_output(text, output, force=force, check=check, dry_run=dry_run)
        emit_files(
            [(save_config, config_text)],
            force=force,
            check=check,
            dry_run=dry_run,
            option="--save-config",
        )
        return
    if not (check or dry_run):
        check_target(Path(save_config), force, "--save-config")
    emit_files(
        [(output, text), (save_config, config_text)], force=force, check=check, dry_run=dry_run
    )


def require_family(family: str | None) -> str:
    """The family from the command line or the config file, else a helpful error."""
    if family is None:
        raise CnngenError(
            f"FAMILY: missing; give one of {', '.join(FAMILIES)} after the command "
            f'(or family = "encoder" in a --config file)',
            "FAMILY",
        )
    check_choice("FAMILY", family, FAMILIES)
    return family


def save_config_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--save-config",
        default=None,
        metavar="FILE",
        help="Also write a TOML config that reproduces this run (use it with --config).",
    )(function)


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
    return words
