"""``cnngen verify FILE``: run a generated model file and prove its shapes."""

from __future__ import annotations

import json

import click

from cnngen.deploy import require_torch
from cnngen.verify.runner import (
    DEFAULT_TIMEOUT,
    DEVICES,
    SELECTABLE,
    format_report,
    verify_file,
)

CHECK_LIST = ", ".join(SELECTABLE)


@click.command("verify")
@click.argument("file", metavar="FILE")
@click.option(
    "--device",
    type=click.Choice(DEVICES),
    default="auto",
    show_default=True,
    help="auto (CUDA when present), cuda or cpu.",
)
@click.option(
    "--batch", type=int, default=2, show_default=True, help="Batch size of the random input."
)
@click.option(
    "--steps",
    type=int,
    default=5,
    show_default=True,
    help="Adam steps on a fixed batch; the loss must fall (0 skips the check).",
)
@click.option("--compile", "use_compile", is_flag=True, help="Also check torch.compile (slow).")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the report as JSON (schema: docs/verify.md)."
)
@click.option(
    "--timeout",
    type=float,
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds before the run is stopped and reported as a timeout.",
)
@click.option(
    "--max-memory",
    type=int,
    default=None,
    metavar="MIB",
    help="Cap the verifying process's heap (RLIMIT_DATA), in MiB.  [default: no cap]",
)
@click.option(
    "--checks",
    default=None,
    metavar="NAMES",
    help=f"Run only these checks, comma-separated. One or more of: {CHECK_LIST}.  "
    "[default: all]",
)
@click.option(
    "--skip",
    default=None,
    metavar="NAMES",
    help="Leave out these checks, comma-separated (same names as --checks).",
)
@click.option(
    "--weights",
    default=None,
    metavar="W.pt",
    help="Load trained weights first (a state_dict or a train.py checkpoint; strict, "
    "weights_only) and check the model with them.",
)
@click.option(
    "--export-dir",
    default=None,
    metavar="DIR",
    help="With --weights: the folder cnngen export wrote; its STEM.pt2 and STEM.onnx must "
    "match the model.  [default: the model file's folder, when it holds them]",
)
def verify_command(
    file: str,
    device: str,
    batch: int,
    steps: int,
    use_compile: bool,
    as_json: bool,
    timeout: float,
    max_memory: int | None,
    checks: str | None,
    skip: str | None,
    weights: str | None,
    export_dir: str | None,
) -> None:
    """Run a model file for real and check it against its own constants.

    \b
    Imports FILE in a separate process, runs a forward pass, compares every
    layer with LAYER_SHAPES, the output with OUTPUT_SHAPE and the counts with
    PARAMETERS and MACS (each skipped with a hint when the file lacks it),
    checks gradients, trains a few steps, checks rotation invariance of
    equivariant models, exports (torch.export and ONNX at batch 1 and 7),
    scripts (torch.jit.script), traces (torch.fx), compares bf16/fp16
    autocast with float32 and times the model. Needs torch.
    Exit status: 0 no check failed, 1 a check failed, 2 bad usage.

    \b
    This RUNS THE FILE'S CODE with your rights: verify only files you would
    run yourself.  The run is contained (killed with everything it forked
    when verify ends or is killed, a CPU-time limit, --max-memory, a report
    the file cannot write) but it is not a sandbox; see docs/verify.md.
    \b
    The structure check rebuilds the plan from the regenerate command in
    the file's docstring and compares module types, hyperparameters
    (kernel, stride, padding, padding mode, dilation, groups, bias, the
    kinds of activation, pool and norm), the order forward runs them in and
    the code of forward, naming the first layer that differs.
    Example:
      cnngen model classifier --preset lenet5 -o lenet5.py
      cnngen verify lenet5.py --device cpu --steps 10
      cnngen verify lenet5.py --checks structure,params    # fast, for CI
      cnngen verify lenet5.py --weights runs/best.pt --export-dir exported
    """

    require_torch("verify")

    def show(line: str) -> None:
        click.echo(f"  {line}", err=True)

    report = verify_file(
        file,
        device=device,
        batch=batch,
        steps=steps,
        compile=use_compile,
        timeout=timeout,
        progress=show,
        max_memory=max_memory,
        checks=checks,
        skip=skip,
        weights=weights,
        export_dir=export_dir,
    )
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(format_report(report))
    raise click.exceptions.Exit(0 if report["verdict"] == "passed" else 1)
