"""``cnngen calc``: one layer's output size with the formula filled in."""

from __future__ import annotations

from typing import Any

import click

from cnngen.cli.options import SIZE, SIZE_HELP, lang_option
from cnngen.errors import CnngenError

SOLVABLE = ("padding", "kernel", "stride", "dilation", "output-padding")


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
@click.option("--kernel", type=SIZE, default=None, help="Kernel size (required unless solved).")
@click.option("--stride", type=SIZE, default=None, help="Stride.  [default: 1; kernel for pool]")
@click.option("--padding", type=SIZE, default=None, help="Padding.  [default: 0]")
@click.option("--dilation", type=SIZE, default=None, help="Dilation.  [default: 1]")
@click.option(
    "--output-padding",
    type=SIZE,
    default=None,
    help="Extra size on one side (transposed only).  [default: 0]",
)
@click.option("--ceil-mode", is_flag=True, help="Round up (pool only).")
@click.option(
    "--output",
    "target",
    type=SIZE,
    default=None,
    help="Wanted output size: solve for the parameter named by --solve instead.",
)
@click.option(
    "--solve",
    "unknown",
    type=click.Choice(SOLVABLE),
    default=None,
    help="The parameter to solve for with --output.  [default: padding]",
)
@click.option(
    "--layers",
    type=click.IntRange(min=1, max=1000),
    default=1,
    show_default=True,
    help="Apply the same layer this many times and show every size.",
)
@lang_option
def calc_command(
    operation: str,
    input_size: tuple[int, ...],
    kernel: tuple[int, ...] | None,
    stride: tuple[int, ...] | None,
    padding: tuple[int, ...] | None,
    dilation: tuple[int, ...] | None,
    output_padding: tuple[int, ...] | None,
    ceil_mode: bool,
    target: tuple[int, ...] | None,
    unknown: str | None,
    layers: int,
    lang: str,
) -> None:
    """Output size of a layer with the formula filled in, or (--output) the missing parameter.

    \b
    OPERATION is conv, transposed or pool.
    Examples:
      cnngen calc conv --input 28x28 --kernel 5 --padding 2
      cnngen calc conv --input 28x28 --kernel 3 --stride 2 --padding 1 --layers 3
      cnngen calc conv --input 8x16 --kernel 3 --output 22x30          # padding 8x8
      cnngen calc pool --input 32 --kernel 2 --output 16 --solve stride
      cnngen calc conv --input 28x28 --kernel 5 --lang ru

    \b
    With --output every solution per dimension is listed (the search range is
    stated and provably holds every solution of one layer), each checked by
    the forward formula; where none exists the nearest values are shown and
    the exit status is 1.
    """
    from cnngen.core.arithmetic import expand
    from cnngen.rendering.messages import Messages

    t = Messages(lang)

    def refuse(flag: str, key: str, **fields: Any) -> CnngenError:
        """Bad input, said in ``lang`` and naming its flag."""
        return CnngenError(f"{flag}: {t('calc.err.' + key, **fields)}", flag)

    dims = len(input_size)
    if unknown is not None and target is None:
        raise refuse("--solve", "needs_output", unknown=unknown)
    solving = None
    if target is not None:
        solving = (unknown or "padding").replace("-", "_")
        given = {
            "padding": padding,
            "kernel": kernel,
            "stride": stride,
            "dilation": dilation,
            "output_padding": output_padding,
        }[solving]
        flag = "--" + solving.replace("_", "-")
        if given is not None:
            raise refuse(flag, "is_unknown")
        if solving == "output_padding" and operation != "transposed":
            raise refuse("--solve", "output_padding_unknown")
    if kernel is None and solving != "kernel":
        raise refuse("--kernel", "no_kernel")
    kernel = kernel or (1,)
    if stride is None:
        stride = kernel if operation == "pool" and solving != "kernel" else (1,)
        if operation == "pool" and solving == "kernel":
            raise refuse("--stride", "pool_stride")
    for name, value in (
        ("kernel", kernel),
        ("stride", stride),
        ("padding", padding),
        ("dilation", dilation),
        ("output_padding", output_padding),
        ("output", target),
    ):
        if value is not None and len(value) not in (1, dims):
            raise refuse(
                f"--{name.replace('_', '-')}", "values", dims=dims, count=len(value)
            )
    params = {
        name: expand(value, dims, f"--{name.replace('_', '-')}")
        for name, value in (
            ("kernel", kernel),
            ("stride", stride),
            ("padding", padding or (0,)),
            ("dilation", dilation or (1,)),
            ("output_padding", output_padding or (0,)),
        )
    }
    if operation != "transposed" and any(params["output_padding"]):
        raise refuse("--output-padding", "transposed_only")
    if operation != "pool" and ceil_mode:
        raise refuse("--ceil-mode", "pool_only")
    for name in ("kernel", "stride", "dilation"):
        if any(v < 1 for v in params[name]):
            raise refuse(f"--{name}", "at_least_1", value="x".join(map(str, params[name])))
    for name in ("padding", "output_padding"):
        if any(v < 0 for v in params[name]):
            raise refuse(f"--{name.replace('_', '-')}", "at_least_0")
    if any(v < 1 for v in input_size):
        raise refuse("--input", "sizes")
    if target is not None:
        target = expand(target, dims, "--output")
        if any(v < 1 for v in target):
            raise refuse("--output", "sizes")
    try:
        if solving is not None and target is not None:
            found = _solve(operation, solving, input_size, target, params, ceil_mode, layers, lang)
            if not found:
                raise SystemExit(1)
            return
        _forward(operation, input_size, params, ceil_mode, layers, lang)
    except CnngenError as error:
        # The arithmetic names its parameters bare ("kernel"); say it as a flag.
        from cnngen.rendering.explain import say_refusal

        param = error.param or ""
        if param and not param.startswith("-"):
            flag = "--" + param.replace("_", "-")
            reason = str(error).removeprefix(param).removeprefix(": ")
            raise CnngenError(f"{flag}: {say_refusal(reason, lang)}", flag) from None
        raise


def _forward(
    operation: str,
    input_size: tuple[int, ...],
    params: dict[str, tuple[int, ...]],
    ceil_mode: bool,
    layers: int,
    lang: str = "en",
) -> None:
    """Print the output size (and with --layers every intermediate size)."""
    from cnngen.rendering.explain import explain, explain_chain
    from cnngen.rendering.messages import Messages

    t = Messages(lang)
    lines = explain(operation, input_size, ceil_mode=ceil_mode, lang=lang, **params)
    for line in lines:
        click.echo(line)
    outputs = [line.rsplit("= ", 1)[1] for line in lines]
    if layers == 1:
        click.echo(t("calc.output", size="x".join(outputs)))
        return
    chains = explain_chain(operation, input_size, params, layers, ceil_mode, lang)
    click.echo(t("calc.chain", times_n=t.count(layers, "time")))
    for line in chains:
        click.echo("  " + line)
    finals = [line.rsplit(" ", 1)[1] for line in chains]
    click.echo(t("calc.after", layers_n=t.count(layers, "layer.gen"), size="x".join(finals)))


def _solve(
    operation: str,
    unknown: str,
    input_size: tuple[int, ...],
    target: tuple[int, ...],
    params: dict[str, tuple[int, ...]],
    ceil_mode: bool,
    layers: int,
    lang: str = "en",
) -> bool:
    """Print every solution per dimension; False when some dimension has none."""
    from cnngen.core.inverse import solve
    from cnngen.rendering.explain import explain_inverse
    from cnngen.rendering.messages import Messages

    t = Messages(lang)
    answers = solve(operation, unknown, input_size, target, params, ceil_mode, layers)
    for line in explain_inverse(
        operation, unknown, input_size, target, params, answers, ceil_mode, layers, lang
    ):
        click.echo(line)
    name = unknown.replace("_", "-")
    if all(answer.found for answer in answers):
        smallest = "x".join(str(answer.smallest) for answer in answers)
        several = any(
            len(answer.values) + (answer.every_from is not None) > 1 for answer in answers
        )
        click.echo(f"{name}: {smallest}" + (t("calc.smallest") if several else ""))
        return True
    missing = ", ".join(str(dim + 1) for dim, answer in enumerate(answers) if not answer.found)
    click.echo(t("calc.no_solution", name=name, target="x".join(map(str, target)), missing=missing))
    return False
