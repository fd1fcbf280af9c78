"""``cnngen calc``: one layer's output size with the formula filled in."""

from __future__ import annotations

import click

from cnngen.cli.options import SIZE, SIZE_HELP
from cnngen.errors import CnngenError


@click.command("calc")
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
    from cnngen.core.arithmetic import expand
    from cnngen.rendering.explain import explain

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
