"""``cnngen predict``: write predict.py, inference with the files ``cnngen export`` wrote."""

from __future__ import annotations

from typing import Any

import click

from cnngen.cli.options import Words, invocation
from cnngen.cli.output import emit, output_options
from cnngen.rendering.datafiles import TASKS, render_predict
from cnngen.rendering.escape import command_line


@click.command("predict")
@click.option(
    "--task",
    required=True,
    type=Words(TASKS),
    help="classification (classes with probabilities), segmentation (masks as PNG) or "
    "forecasting (forecasts as .npy).",
)
@click.option(
    "--dataset-module",
    default="dataset",
    show_default=True,
    help="Module of make_datasets(seed) (--evaluate) and read_image (image inputs).",
)
@click.option(
    "--model",
    default="runs/model.onnx",
    show_default=True,
    help="The script's default --model: an exported .onnx or .pt2, its .json beside it.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Default split seed.")
@output_options()
@click.pass_context
def predict_command(
    ctx: click.Context, output: str, force: bool, check: bool, dry_run: bool, **options: Any
) -> None:
    """Write predict.py: predictions from an exported model, without cnngen.

    \b
    The script loads MODEL.onnx (onnxruntime) or MODEL.pt2 (torch) with its
    MODEL.json, reads .npy samples (images through the dataset file's
    read_image), applies the normalisation the checkpoint carried, batches
    within the exported batch bounds and prints classes with probabilities or
    writes masks (PNG) and forecasts (.npy); --evaluate scores the dataset
    file's test split as train.py does.  cnngen project writes it too.
    Examples:
      cnngen predict --task classification -o predict.py
      cnngen predict --task segmentation --model deploy/unet.onnx -o predict.py
    """
    text = render_predict(command=command_line(invocation(ctx)), **options)
    emit(text, output, force=force, check=check, dry_run=dry_run)
