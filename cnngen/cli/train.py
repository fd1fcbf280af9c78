"""``cnngen train``: write a training script for a generated model and dataset."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import click

from cnngen.cli.options import Words, invocation
from cnngen.cli.output import emit, output_options
from cnngen.core.checks import parse_size
from cnngen.core.spec import check_choice
from cnngen.errors import CnngenError
from cnngen.rendering.datafiles import FEATURES_HELP, TASKS, render_finetune, render_train
from cnngen.rendering.escape import command_line


@click.command("train")
@click.option(
    "--task",
    required=True,
    type=Words((*TASKS, "finetune")),
    help="classification, forecasting, segmentation (a per-pixel class mask, Dice and "
    "IoU), or finetune (transfer learning from trained weights).",
)
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
@click.option("--epochs", type=int, default=None, help="Default epochs.  [default: 10; finetune 5]")
@click.option("--batch-size", type=int, default=32, show_default=True, help="Default batch size.")
@click.option("--lr", type=float, default=1e-3, show_default=True, help="Default learning rate.")
@click.option("--seed", type=int, default=0, show_default=True, help="Default seed.")
@click.option(
    "--out", default=None, help="Default output folder.  [default: runs; finetune: finetune]"
)
@click.option(
    "--scheduler",
    type=click.Choice(["none", "cosine", "warmup-multistep"]),
    default=None,
    help="Default learning-rate schedule, overridden by the script's --scheduler.  "
    "[default: none; finetune: warmup-multistep]",
)
@click.option(
    "--with",
    "features",
    default=None,
    metavar="FEATURES",
    help=FEATURES_HELP,
)
@click.option(
    "--extra-weights",
    default=None,
    metavar="W1,W2,...",
    help="The model returns extra outputs in training (GoogLeNet --aux-logits, U-Net "
    "--deep-supervision): the loss adds each one's, with these weights, e.g. 0.3,0.3.  "
    "cnngen project writes them from the model's plan.",
)
@click.option(
    "--extra-steps",
    default=None,
    metavar="SIZE,...",
    help="segmentation: per extra map, the step at which the mask is sampled to the map's "
    "exact size, e.g. 2x2,4x4.",
)
@click.option(
    "--weights",
    default=None,
    help="finetune: the pretrained state_dict.  [default: runs/best.pt]",
)
@click.option(
    "--freeze",
    multiple=True,
    help="finetune: parameter name prefix to freeze (repeatable), or 'all' for all but "
    "the head.  [default: all]",
)
@click.option("--head", default=None, help="finetune: the Linear to replace.  [default: the last]")
@output_options()
@click.pass_context
def train_command(
    ctx: click.Context, output: str, force: bool, check: bool, dry_run: bool, **options: Any
) -> None:
    """Write a training script for a generated model and dataset.

    \b
    The script imports the model and make_datasets(seed) from sibling files,
    picks CUDA/MPS/CPU, uses mixed precision on CUDA and runs under torchrun.
    With --task finetune it writes a transfer-learning script instead: it
    loads --weights (e.g. runs/best.pt of an earlier train.py run), replaces
    the head for the dataset's classes, freezes --freeze prefixes, prints the
    frozen and trainable parameter counts and trains with warmup + MultiStepLR.
    Examples:
      cnngen train --task forecasting --model-class Forecaster -o train.py
      cnngen train --task classification --model-class Classifier --with resume,plots
      cnngen train --task finetune --model-class Classifier --freeze layer1 -o finetune.py
    """
    task = options["task"]
    check_choice("--task", task, (*TASKS, "finetune"))
    command = command_line(invocation(ctx))
    given = {key: value for key, value in options.items() if value not in (None, ())}
    if task == "finetune":
        if "features" in given:
            raise CnngenError("--with: applies to train.py, not to --task finetune", "--with")
        for option in ("extra_weights", "extra_steps"):
            if option in given:
                flag = "--" + option.replace("_", "-")
                raise CnngenError(f"{flag}: applies to train.py, not to --task finetune", flag)
        script = "finetune.py" if output == "-" else Path(output).name
        given.pop("task")
        if "freeze" in given:
            given["freeze"] = tuple(given["freeze"])
        text = render_finetune(command=command, script_name=script, **given)
    else:
        for option in ("weights", "freeze", "head"):
            if option in given:
                raise CnngenError(
                    f"--{option}: applies to --task finetune only, not to {task}", f"--{option}"
                )
        script = "train.py" if output == "-" else Path(output).name
        if "extra_weights" in given:
            given["extra_weights"] = _weights(given["extra_weights"])
        if "extra_steps" in given:
            given["extra_steps"] = tuple(
                parse_size("--extra-steps", word) for word in given["extra_steps"].split(",")
            )
        text = render_train(command=command, script_name=script, **given)
    # After rendering, which checks every other option first.
    extras = len(given.get("extra_weights", ())) if task != "finetune" else None
    check_model_class(output, options["model_module"], options["model_class"], extras)
    emit(text, output, force=force, check=check, dry_run=dry_run)


def _weights(text: str) -> tuple[float, ...]:
    """``--extra-weights 0.3,0.3`` as numbers."""
    try:
        return tuple(float(word) for word in text.split(","))
    except ValueError:
        raise CnngenError(
            f"--extra-weights: expected numbers separated by commas, e.g. 0.3,0.3; got {text!r}",
            "--extra-weights",
        ) from None


def check_model_class(output: str, module: str, name: str, extras: int | None = None) -> None:
    """When the model file sits beside the script, the class must be one it defines,
    and a model with ``extras`` training-only outputs (its TRAINING_OUTPUT_SHAPES)
    needs one --extra-weights each.

    The file is parsed, never imported (generating does not import torch).
    """
    if not name.isidentifier():
        return  # the script's own checks name what a class name may be
    folder = Path(".") if output == "-" else Path(output).parent
    path = folder / (module.replace(".", "/") + ".py")
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return  # not written yet (or not Python): the script checks on import
    _check_extra_count(path, tree, extras)
    classes = [node.name for node in tree.body if isinstance(node, ast.ClassDef)]
    if name not in classes:
        found = ", ".join(classes) if classes else "none"
        raise CnngenError(
            f"--model-class: {path} defines no class {name!r} (classes found: {found})",
            "--model-class",
        )


def _check_extra_count(path: Path, tree: ast.Module, extras: int | None) -> None:
    """``extras`` weights for the model's TRAINING_OUTPUT_SHAPES (None: the finetune script,
    which trains the main output alone and takes no such model)."""
    for node in tree.body:
        targets = [t.id for t in getattr(node, "targets", ()) if isinstance(t, ast.Name)]
        if "TRAINING_OUTPUT_SHAPES" in targets and isinstance(node.value, ast.Tuple):
            count = len(node.value.elts)
            break
    else:
        count = 0
    if extras is None and count:
        raise CnngenError(
            f"--task: {path} returns {count} extra outputs in training (TRAINING_OUTPUT_SHAPES), "
            f"which finetune.py does not train; regenerate the model without --aux-logits or "
            f"--deep-supervision, or train it with --task classification or segmentation",
            "--task",
        )
    if extras is not None and count != extras:
        raise CnngenError(
            f"--extra-weights: {path} returns {count} extra output{'' if count == 1 else 's'} "
            f"in training (TRAINING_OUTPUT_SHAPES), the script would weigh {extras}; give "
            f"{count} weights (as `cnngen project` does, e.g. 0.3 per auxiliary head)"
            if count
            else f"--extra-weights: {path} returns no extra outputs in training; drop it",
            "--extra-weights",
        )
