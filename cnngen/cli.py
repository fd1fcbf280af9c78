"""The command line: a thin Click layer from options to a spec and back out.

Commands parse options, call :func:`cnngen.spec.make_spec`, the solver and
the renderer, and print.  Every :class:`~cnngen.errors.CnngenError` and
Click usage error becomes one ``Error: ...`` line on stderr with exit status
2; nothing is written when an error occurs.  torch is never imported here.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from cnngen import __version__
from cnngen.errors import CnngenError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

SIZE_HELP = "sizes like 100, 100x100 or 16x64x64"


class SizeType(click.ParamType):
    """``100``, ``100x100``, ``100,100`` or ``16x64x64`` as a tuple of ints."""

    name = "SIZE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[int, ...]:
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


def _option(*names: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(*names, show_default=kwargs.pop("show_default", True), **kwargs)


# Options shared by `plan` and `model`, in spec field order.
MODEL_OPTIONS: list[Callable[[Callable[..., Any]], Callable[..., Any]]] = [
    _option("-i", "--input-size", type=SIZE, default=None, show_default=False,
            help=f"Spatial input size: {SIZE_HELP} (1D, 2D or 3D)."),
    _option("--in-channels", type=int, default=None, show_default=False,
            help="Input channels (for forecasters: pre-history frames).  [default: 1]"),
    _option("--out-channels", type=int, default=None, show_default=False,
            help="Forecaster output channels (forecast frames).  [default: in-channels]"),
    _option("-n", "--layers", type=int, default=None, show_default=False,
            help="Encoder layers (stages).  [default: 4]"),
    _option("--min-size", type=SIZE, default=None, show_default=False,
            help="Smallest feature map to downsample to.  [default: 5]"),
    _option("--target-size", type=SIZE, default=None, show_default=False,
            help="Exact final feature-map size (instead of --min-size)."),
    _option("--kernel", type=SIZE, default=None, show_default=False,
            help="Kernel size, one or per dimension.  [default: 3]"),
    _option("--stride", type=SIZE, default=None, show_default=False,
            help="Pin the stride of every layer (default: stride 2 where the size allows)."),
    _option("--padding", default=None, show_default=False,
            help="auto (symmetric, size-keeping), same (TensorFlow: out = ceil(in/stride), "
            "pad layer when uneven) or valid (none).  [default: auto]"),
    _option("--dilation", type=SIZE, default=None, show_default=False,
            help="Dilation, one or per dimension.  [default: 1]"),
    _option("--downsample", default=None, show_default=False,
            help="stride, pool or none.  [default: pool for plain/vgg classifiers, else stride]"),
    _option("--pool", default=None, show_default=False, help="max or avg pooling.  [default: max]"),
    _option("--channel-rule", default=None, show_default=False,
            help="exponential, linear, proportion, power or constant.  [default: exponential]"),
    _option("--start-channels", type=int, default=None, show_default=False,
            help="Channels of the first layer.  [default: 32]"),
    _option("--ratio", type=float, default=None, show_default=False,
            help="Growth ratio of the channel rule.  [default: 2.0]"),
    _option("--min-channels", type=int, default=None, show_default=False,
            help="Lower clamp for channels.  [default: 1]"),
    _option("--max-channels", type=int, default=None, show_default=False,
            help="Upper clamp for channels.  [default: 512]"),
    _option("--norm", default=None, show_default=False,
            help="batchnorm, instancenorm, groupnorm, dropout or none.  [default: batchnorm]"),
    _option("--activation", default=None, show_default=False,
            help="relu, leaky_relu, elu, gelu, silu, tanh or sigmoid.  [default: relu]"),
    _option("--final-activation", default=None, show_default=False,
            help="Activation on the output, or none.  [default: none]"),
    _option("--dropout", type=float, default=None, show_default=False,
            help="Dropout probability after each block.  [default: 0.0]"),
    _option("--sub-blocks", type=int, default=None, show_default=False,
            help="Convolutions per layer.  [default: 1; 2 for vgg]"),
    _option("--latent", type=int, default=None, show_default=False,
            help="Forecaster: width of a linear latent bottleneck."),
    _option("--classes", type=int, default=None, show_default=False,
            help="Classifier outputs.  [default: 10]"),
    _option("--block", default=None, show_default=False,
            help="Classifier blocks: plain, vgg, residual or bottleneck.  [default: plain]"),
    _option("--se", is_flag=True, default=None, show_default=False,
            help="Add squeeze-and-excitation to every block."),
    _option("--depthwise", is_flag=True, default=None, show_default=False,
            help="Use depthwise-separable convolutions."),
    _option("--head", default=None, show_default=False,
            help="Classifier head: gap (global average pool) or flatten.  [default: gap]"),
    _option("--hidden", type=SIZE, default=None, show_default=False,
            help="Hidden widths of the classifier head, e.g. 120x84."),
    _option("--preset", default=None, show_default=False, help="A classic architecture: lenet5."),
    _option("--name", default=None, show_default=False,
            help="Class name of the model (a Python identifier)."),
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


def emit(text: str, output: str, force: bool) -> None:
    """Write ``text`` to stdout (``-``) or atomically to a file."""
    if output == "-":
        click.echo(text, nl=False)
        return
    from cnngen.render import write_atomic

    write_atomic(Path(output), text, force=force)
    click.echo(f"wrote {output}", err=True)


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
    """


@cli.command("plan")
@click.argument("family")
@model_options
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def plan_command(family: str, as_json: bool, **options: Any) -> None:
    """Show the exact plan for a model: every layer, shape and receptive field.

    \b
    FAMILY is encoder, forecaster, classifier or equivariant.
    Example:
      cnngen plan encoder -i 1000 -n 6 --json
    """
    from cnngen.report import plan_text

    _, plan = build_plan(family, options)
    if as_json:
        click.echo(json.dumps(plan.to_json(), indent=2))
        return
    click.echo(plan_text(plan))
    for note in plan.notes:
        if note.startswith("receptive field"):
            click.echo(f"Warning: {note}", err=True)


@cli.command("model")
@click.argument("family")
@model_options
@click.option("-o", "--output", default="-", show_default=True,
              help="File to write, or - for stdout.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def model_command(family: str, output: str, force: bool, **options: Any) -> None:
    """Write a standalone PyTorch model file (imports only torch).

    \b
    FAMILY is encoder, forecaster, classifier or equivariant.
    Example:
      cnngen model forecaster -i 100x100 --in-channels 60 --out-channels 30 -n 5 -o model.py
    """
    from cnngen.render import render_model

    spec, plan = build_plan(family, options)
    command = spec.command() + ("" if output == "-" else f" -o {output}")
    emit(render_model(plan, command), output, force)


@cli.command("calc")
@click.argument("operation", type=click.Choice(["conv", "transposed", "pool"]))
@click.option("--input", "input_size", type=SIZE, required=True, help=f"Input size: {SIZE_HELP}.")
@click.option("--kernel", type=SIZE, required=True, help="Kernel size.")
@click.option("--stride", type=SIZE, default=None, help="Stride.  [default: 1; kernel for pool]")
@click.option("--padding", type=SIZE, default=(0,), show_default="0", help="Padding.")
@click.option("--dilation", type=SIZE, default=(1,), show_default="1", help="Dilation.")
@click.option("--output-padding", type=SIZE, default=(0,), show_default="0",
              help="Extra size on one side (transposed only).")
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
        raise CnngenError("--output-padding: only transposed convolutions take it", "--output-padding")
    if operation != "pool" and ceil_mode:
        raise CnngenError("--ceil-mode: only pooling takes it", "--ceil-mode")
    for name in ("kernel", "stride", "dilation"):
        if any(v < 1 for v in params[name]):
            raise CnngenError(f"--{name}: must be >= 1", f"--{name}")
    for name in ("padding", "output_padding"):
        if any(v < 0 for v in params[name]):
            raise CnngenError(f"--{name.replace('_', '-')}: must be >= 0", f"--{name}")
    if any(v < 1 for v in input_size):
        raise CnngenError("--input: every size must be >= 1", "--input")
    lines = explain(operation, input_size, ceil_mode=ceil_mode, **params)
    for line in lines:
        click.echo(line)
    outputs = [line.rsplit("= ", 1)[1] for line in lines]
    click.echo(f"output size: {'x'.join(outputs)}")


# ---------------------------------------------------------------------- main
def _register_optional_commands() -> None:
    """Commands that live in their own modules (kept out of start-up cost)."""
    from cnngen import commands

    commands.register(cli)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, mapping errors to one line and an exit status."""
    _register_optional_commands()
    try:
        result = cli.main(args=argv, prog_name="cnngen", standalone_mode=False)
    except CnngenError as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(EXIT_USAGE)
    except click.exceptions.UsageError as error:
        message = error.format_message().replace("\n", " ")
        click.echo(f"Error: {message}", err=True)
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

        command = " ".join(["cnngen", *(argv if argv is not None else sys.argv[1:])])
        kind = "" if isinstance(error, TemplateBug) else f"{type(error).__name__}: "
        click.echo(
            f"Error: internal error ({kind}{error}). This is a cnngen bug; please "
            f"report it with the command: {command}",
            err=True,
        )
        sys.exit(EXIT_FAILED)
    sys.exit(result if isinstance(result, int) else EXIT_OK)
