"""The command line: a thin Click layer from options to a spec and back out.

Commands parse options, call :func:`cnngen.spec.make_spec`, the solver and
the renderer, and print.  Every :class:`~cnngen.errors.CnngenError` and
Click usage error becomes one ``Error: ...`` line on stderr with exit status
2; nothing is written when an error occurs.  torch is never imported here.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from cnngen import __version__
from cnngen.config import dump_config, install_config_option
from cnngen.errors import CnngenError
from cnngen.output import check_target, emit_files, output_options
from cnngen.output import emit as emit_output
from cnngen.spec import (
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
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

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
    from cnngen.spec import SPEC_DEFAULTS, make_spec

    spec_options = {k: v for k, v in options.items() if k in SPEC_DEFAULTS and v is not None}
    return make_spec(family, **spec_options)


def build_plan(family: str, options: dict[str, Any]) -> tuple[Any, Any]:
    from cnngen.solver import solve

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


# --------------------------------------------------------------------- group
@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="cnngen")
def cli() -> None:
    """Generate PyTorch CNN model files whose shapes are right the first time.

    \b
    Examples:
      cnngen plan forecaster -i 100x100 --in-channels 60 --out-channels 30 -n 5
      cnngen model classifier --preset lenet5 -o lenet5.py
      cnngen calc conv --input 28 --kernel 5 --padding 2
      cnngen plan forecaster -i 64x64 -n 4 --svg forecaster.svg
      cnngen handout classifier --preset lenet5 -o lenet5.ipynb
      cnngen model --config model.toml --check

    Every command takes --config FILE (TOML, keys are the long option names;
    flags override it).  Shell completion: eval "$(_CNNGEN_COMPLETE=bash_source cnngen)".
    """


@cli.command("plan")
@click.argument("family", required=False, type=Words(FAMILIES))
@model_options
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.option(
    "--svg",
    "svg",
    default=None,
    metavar="FILE",
    help="Also draw the architecture as an SVG diagram (- prints only the SVG).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing --svg file.")
def plan_command(
    family: str | None, as_json: bool, svg: str | None, force: bool, **options: Any
) -> None:
    """Show the exact plan for a model: every layer, shape and receptive field.

    \b
    FAMILY is encoder, forecaster, classifier or equivariant (or family = ...
    in a --config file).  A warning goes to stderr when the final receptive
    field does not cover the input.
    Examples:
      cnngen plan encoder -i 1000 -n 6 --json
      cnngen plan forecaster -i 64x64 -n 4 --svg forecaster.svg
    """
    from cnngen.report import plan_text

    spec, plan = build_plan(require_family(family), options)
    if svg is not None:
        from cnngen.svg import plan_svg

        drawing = plan_svg(plan, f"{spec.command('plan')} --svg {svg}")
        if svg == "-":
            click.echo(drawing, nl=False)
            return
        emit_output(drawing, svg, force=force, option="--svg")
    if as_json:
        click.echo(json.dumps(plan.to_json(), indent=2))
        return
    click.echo(plan_text(plan))
    for note in plan.notes:
        if note.startswith("receptive field"):
            click.echo(f"Warning: {note}", err=True)


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


@cli.command("model")
@click.argument("family", required=False, type=Words(FAMILIES))
@model_options
@output_options(default="-")
@save_config_option
def model_command(
    family: str | None,
    output: str,
    force: bool,
    check: bool,
    dry_run: bool,
    save_config: str | None,
    **options: Any,
) -> None:
    """Write a standalone PyTorch model file (imports only torch).

    \b
    FAMILY is encoder, forecaster, classifier or equivariant (or family = ...
    in a --config file).  --check exits 1 when the file on disk is stale.
    Examples:
      cnngen model forecaster -i 100x100 --in-channels 60 --out-channels 30 -n 5 -o model.py
      cnngen model --config model.toml --check
    """
    from cnngen.render import render_model

    spec, plan = build_plan(require_family(family), options)
    command = spec.command(output=output)
    emit_with_config(
        render_model(plan, command),
        output,
        save_config,
        save_config_text(spec, output, "model"),
        force,
        check,
        dry_run,
    )


@cli.command("handout")
@click.argument("family", required=False, type=Words(FAMILIES))
@model_options
@output_options(default="-", help_output="Notebook to write (.ipynb), or - for stdout.")
@save_config_option
def handout_command(
    family: str | None,
    output: str,
    force: bool,
    check: bool,
    dry_run: bool,
    save_config: str | None,
    **options: Any,
) -> None:
    """Write a Jupyter notebook that teaches the model layer by layer.

    \b
    The notebook holds the model code, one cell per shape-changing layer with
    its output-size formula filled in, a cell that runs a random batch, and
    exercises with hidden answers.  Takes the same options as `model`.
    Example:
      cnngen handout classifier --preset lenet5 -o lenet5.ipynb
    """
    from cnngen.handout import render_handout

    spec, plan = build_plan(require_family(family), options)
    command = spec.command("handout", output)
    emit_with_config(
        render_handout(spec, plan, command),
        output,
        save_config,
        save_config_text(spec, output, "handout"),
        force,
        check,
        dry_run,
    )


@cli.command("calc")
@click.argument("operation", type=click.Choice(["conv", "transposed", "pool"]))
@click.option(
    "-i",
    "--input",
    "--input-size",
    "input_size",
    type=SIZE,
    required=True,
    help=f"Input size: {SIZE_HELP} (-i/--input-size as in `model`).",
)
@click.option("--kernel", type=SIZE, required=True, help="Kernel size.")
@click.option("--stride", type=SIZE, default=None, help="Stride.  [default: 1; kernel for pool]")
@click.option("--padding", type=SIZE, default=(0,), show_default="0", help="Padding.")
@click.option("--dilation", type=SIZE, default=(1,), show_default="1", help="Dilation.")
@click.option(
    "--output-padding",
    type=SIZE,
    default=(0,),
    show_default="0",
    help="Extra size on one side (transposed only).",
)
@click.option("--ceil-mode", is_flag=True, help="Round up (pool only).")
def calc_command(
    operation: str,
    input_size: tuple[int, ...],
    kernel: tuple[int, ...],
    stride: tuple[int, ...] | None,
    padding: tuple[int, ...],
    dilation: tuple[int, ...],
    output_padding: tuple[int, ...],
    ceil_mode: bool,
) -> None:
    """Output size of one layer, with the formula filled in.

    \b
    OPERATION is conv, transposed or pool.
    Example:
      cnngen calc conv --input 28x28 --kernel 5 --padding 2
    """
    from cnngen.arithmetic import expand
    from cnngen.explain import explain

    dims = len(input_size)
    if stride is None:
        stride = kernel if operation == "pool" else (1,)
    params = {
        name: expand(value, dims, f"--{name.replace('_', '-')}")
        for name, value in (
            ("kernel", kernel),
            ("stride", stride),
            ("padding", padding),
            ("dilation", dilation),
            ("output_padding", output_padding),
        )
    }
    if operation != "transposed" and any(params["output_padding"]):
        raise CnngenError(
            "--output-padding: only transposed convolutions take it", "--output-padding"
        )
    if operation != "pool" and ceil_mode:
        raise CnngenError("--ceil-mode: only pooling takes it", "--ceil-mode")
    for name in ("kernel", "stride", "dilation"):
        if any(v < 1 for v in params[name]):
            raise CnngenError(
                f"--{name}: must be >= 1, got {'x'.join(map(str, params[name]))}", f"--{name}"
            )
    for name in ("padding", "output_padding"):
        if any(v < 0 for v in params[name]):
            raise CnngenError(f"--{name.replace('_', '-')}: must be >= 0", f"--{name}")
    if any(v < 1 for v in input_size):
        raise CnngenError("--input: every size must be >= 1", "--input")
    try:
        lines = explain(operation, input_size, ceil_mode=ceil_mode, **params)
    except CnngenError as error:
        # The arithmetic names its parameters bare ("kernel"); say it as a flag.
        param = error.param or ""
        if param and not param.startswith("-"):
            flag = "--" + param.replace("_", "-")
            raise CnngenError(f"{flag}{str(error).removeprefix(param)}", flag) from None
        raise
    for line in lines:
        click.echo(line)
    outputs = [line.rsplit("= ", 1)[1] for line in lines]
    click.echo(f"output size: {'x'.join(outputs)}")


# ---------------------------------------------------------------------- main
def _register_optional_commands() -> None:
    """Commands that live in their own modules (kept out of start-up cost)."""
    from cnngen import commands

    commands.register(cli)
    install_config_option(cli)


def _param_hint(param: click.Parameter | None, ctx: click.Context | None) -> str:
    """How the user spells a parameter: its long option, or an argument's NAME."""
    if param is None:
        return ""
    if isinstance(param, click.Argument):
        return (param.name or "argument").upper()
    longs = [opt for opt in param.opts if opt.startswith("--")]
    return longs[0] if longs else param.opts[0]


def _long_name(option: str, ctx: click.Context | None) -> str:
    """``-n`` -> ``--layers`` for the command in ``ctx``."""
    if ctx is None:
        return option
    for param in ctx.command.params:
        if option in getattr(param, "opts", ()):
            return _param_hint(param, ctx)
    return option


def _closest(word: str, choices: list[str]) -> str | None:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.5)
    return close[0] if close else None


def _command_for(argv: list[str]) -> tuple[click.Command, str]:
    """The command ``argv`` names and its path, for errors Click raises without a context."""
    command: click.Command = cli
    path = ["cnngen"]
    for token in argv:
        if not isinstance(command, click.Group) or token.startswith("-"):
            break
        sub = command.commands.get(token)
        if sub is None:
            break
        command, path = sub, [*path, token]
    return command, " ".join(path)


def usage_error_line(error: click.exceptions.UsageError, argv: list[str] | None = None) -> str:
    """Click's own usage errors as one line: the parameter, what was wrong, what works."""
    ctx = error.ctx
    if ctx is None:
        command, path = _command_for(argv or [])
        ctx = click.Context(command, info_name=path)
    path = ctx.command_path or "cnngen"
    see = f"see '{path} --help'"
    if isinstance(error, getattr(click.exceptions, "NoArgsIsHelpError", ())) or (
        isinstance(ctx.command, click.Group) and error.message.startswith("Usage:")
    ):
        commands = sorted(getattr(ctx.command, "commands", {}))
        return f"COMMAND: missing; '{path}' needs one of: {', '.join(commands)}; {see}"
    if isinstance(error, click.exceptions.NoSuchOption):
        options = sorted(
            opt
            for param in (ctx.command.params if ctx else [])
            for opt in getattr(param, "opts", ())
            if opt.startswith("--")
        )
        best = _closest(error.option_name, options)
        hint = f"did you mean {best}? " if best else ""
        return f"{error.option_name}: no such option for '{path}'; {hint}{see}"
    if isinstance(error, click.exceptions.BadOptionUsage):
        name = _long_name(error.option_name, ctx)
        if "requires an argument" in error.message:
            return f"{name}: needs a value after it, e.g. {name} VALUE; {see}"
        return f"{name}: {error.message.rstrip('.')}; {see}"
    if isinstance(error, click.exceptions.MissingParameter):
        name = _param_hint(error.param, ctx)
        choices = getattr(getattr(error.param, "type", None), "choices", None)
        if choices:
            return f"{name}: missing; give one of {', '.join(map(str, choices))}"
        return f"{name}: missing; it is required, {see}"
    if isinstance(error, click.exceptions.BadParameter):
        name = _param_hint(error.param, ctx) or str(error.param_hint or "value")
        message = error.message.rstrip(".")
        choices = getattr(getattr(error.param, "type", None), "choices", None)
        if choices:
            given = re.match(r"'(.*?)' is not", message)
            best = _closest(given.group(1), [str(c) for c in choices]) if given else None
            hint = f" (did you mean {best!r}?)" if best else ""
            value = given.group(1) if given else ""
            return f"{name}: unknown value {value!r}{hint}; choose one of: {', '.join(map(str, choices))}"
        if "is not a valid integer" in message:
            return f"{name}: {message}; give a whole number, e.g. {name} 4"
        if "is not a valid float" in message:
            return f"{name}: {message}; give a number, e.g. {name} 0.5"
        return f"{name}: {message}"
    no_command = getattr(click.exceptions, "NoSuchCommand", None)
    if (
        no_command is not None
        and isinstance(error, no_command)
        or error.message.startswith("No such command")
    ):
        name = getattr(error, "command_name", None) or error.message.split("'")[1]
        commands = sorted(cli.commands)
        best = _closest(name, commands)
        hint = f"did you mean '{best}'? " if best else ""
        return f"{name}: no such command; {hint}commands: {', '.join(commands)}"
    extra = re.match(r"Got unexpected extra arguments? \((.*)\)", error.message)
    if extra and ctx is not None:
        usage = " ".join(ctx.command.collect_usage_pieces(ctx))
        return (
            f"{extra.group(1)}: unexpected extra argument; usage: {path} {usage} "
            f"(options start with --; quote values containing spaces)"
        )
    return f"{error.format_message()}; {see}"


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, mapping errors to one line and an exit status."""
    _register_optional_commands()
    arguments = list(sys.argv[1:] if argv is None else argv)
    completing = any(
        name.endswith("_COMPLETE") and name.startswith("_CNNGEN") for name in os.environ
    )
    if not arguments and not completing:
        # Bare `cnngen` asks what there is: the help, not an error.
        with click.Context(cli, info_name="cnngen") as ctx:
            click.echo(ctx.get_help())
        sys.exit(EXIT_OK)
    try:
        result = cli.main(args=arguments, prog_name="cnngen", standalone_mode=False)
    except CnngenError as error:
        click.echo(f"Error: {one_line(str(error))}", err=True)
        sys.exit(EXIT_USAGE)
    except click.exceptions.UsageError as error:
        click.echo(f"Error: {one_line(usage_error_line(error, arguments))}", err=True)
        sys.exit(EXIT_USAGE)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(EXIT_FAILED)
    except click.exceptions.Exit as error:
        sys.exit(error.exit_code)
    except BrokenPipeError:
        sys.exit(EXIT_FAILED)
    except Exception as error:  # noqa: BLE001 - last resort, reported as a bug
        from cnngen.errors import TemplateBug

        command = " ".join(["cnngen", *arguments])
        kind = "" if isinstance(error, TemplateBug) else f"{type(error).__name__}: "
        click.echo(
            f"Error: internal error ({one_line(f'{kind}{error}')}). This is a cnngen bug; "
            f"please report it with the command: {command}",
            err=True,
        )
        sys.exit(EXIT_FAILED)
    sys.exit(result if isinstance(result, int) else EXIT_OK)


def one_line(text: str) -> str:
    """Collapse a message onto one line so stderr carries exactly one error line."""
    return " ".join(text.split())


install_config_option(cli)
