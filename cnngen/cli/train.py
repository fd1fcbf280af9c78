"""``cnngen train``: write a training script for a generated model and dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cnngen.cli.options import invocation
from cnngen.cli.output import emit, output_options
from cnngen.rendering.datafiles import render_train
from cnngen.rendering.escape import command_line


@click.command("train")
@click.option("--task", required=True, help="classification or forecasting.")
@click.option(
    "--model-module",
    default="model",
    show_default=True,
    help="Module (file name without .py) that defines the model.",
)
@click.option("--model-class", required=True, help="The model class, e.g. Forecaster.")
@click.option(
    "--dataset-module",
    default="dataset",
    show_default=True,
    help="Module that defines make_datasets(seed).",
)
@click.option("--epochs", type=int, default=10, show_default=True, help="Default epochs.")
@click.option("--batch-size", type=int, default=32, show_default=True, help="Default batch size.")
@click.option("--lr", type=float, default=1e-3, show_default=True, help="Default learning rate.")
@click.option("--seed", type=int, default=0, show_default=True, help="Default seed.")
@click.option("--out", default="runs", show_default=True, help="Default output folder.")
@click.option(
    "--scheduler",
    type=click.Choice(["none", "cosine", "warmup-multistep"]),
    default="none",
    show_default=True,
    help="Default learning-rate schedule (train.py --scheduler overrides it).",
)
@output_options()
@click.pass_context
def train_command(
    ctx: click.Context, output: str, force: bool, check: bool, dry_run: bool, **options: Any
) -> None:
    """Write a training script for a generated model and dataset.

    \b
    The script imports the model and make_datasets(seed) from sibling files,
    picks CUDA/MPS/CPU, uses mixed precision on CUDA and runs under torchrun.
    Example:
      cnngen train --task forecasting --model-class Forecaster -o train.py
    """
    script = "train.py" if output == "-" else Path(output).name
    text = render_train(command=command_line(invocation(ctx)), script_name=script, **options)
    emit(text, output, force=force, check=check, dry_run=dry_run)
