"""``cnngen project DIR``: a model, a synthetic dataset and a training script in one go.

The project is planned and rendered completely in memory first; only when
every file rendered does anything touch the disk, so an error leaves no
half-written folder behind.  ``python train.py`` in the folder then trains on
seeded synthetic data that matches the model's input and output shapes.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from cnngen.cli import build_spec, model_options
from cnngen.datasets import (
    SHAPES_1D,
    SHAPES_2D,
    Synthetic,
    command_line,
    invocation,
    render_synthetic,
    render_train,
)
from cnngen.errors import CnngenError
from cnngen.output import emit_files
from cnngen.spec import option_words

PROJECT_INPUT_SIZE = (32, 32)
PROJECT_FRAMES_IN = 4
PROJECT_FRAMES_OUT = 2
PROJECT_CLASSES = 4
PROJECT_START_CHANNELS = 16
FILES = ("model.py", "dataset.py", "train.py", "README.md", "cnngen.toml")


@dataclass(frozen=True)
class TrainDefaults:
    epochs: int = 5
    batch_size: int = 16
    lr: float = 1e-3
    seed: int = 0


def toml_value(value: Any) -> str:
    """A TOML literal for an option value, spelled as on the command line (sizes ``"32x32"``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return toml_value("x".join(str(item) for item in value))
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        escaped = []
        for char in value:
            if char in '\\"':
                escaped.append("\\" + char)
            elif ord(char) < 0x20 or ord(char) == 0x7F:
                escaped.append(f"\\u{ord(char):04x}")
            else:
                escaped.append(char)
        return '"' + "".join(escaped) + '"'
    raise TypeError(f"no TOML literal for {value!r}")


def render_project(
    folder: str,
    family: str,
    model: dict[str, Any],
    *,
    frames: int = 240,
    samples: int = 1000,
    noise: float | None = None,
    rotate: bool | None = None,
    train: TrainDefaults = TrainDefaults(),
    command: str = "project",
) -> dict[str, str]:
    """Every file of a starter project, by name, rendered and formatted."""
    from cnngen.render import render_model, render_template
    from cnngen.solver import solve

    if family == "encoder":
        raise CnngenError(
            "--family: an encoder has no training target of its own; choose forecaster, "
            "classifier or equivariant (or use 'cnngen model encoder' in your own project)",
            "--family",
        )
    model = {key: value for key, value in model.items() if value is not None}
    model.setdefault("input_size", PROJECT_INPUT_SIZE)
    if model.get("max_channels", PROJECT_START_CHANNELS) >= PROJECT_START_CHANNELS:
        # Smaller than `cnngen model`'s 32, so that the default project trains quickly on a CPU.
        model.setdefault("start_channels", PROJECT_START_CHANNELS)
    if family == "forecaster":
        model.setdefault("in_channels", PROJECT_FRAMES_IN)
        model.setdefault("out_channels", PROJECT_FRAMES_OUT)
    elif family in ("classifier", "equivariant") and "preset" not in model:
        model.setdefault("classes", PROJECT_CLASSES)
    spec = build_spec(family, model)
    plan = solve(spec)
    model_words = ["model", family, *option_words(spec.given), "-o", "model.py"]
    model_command = " ".join(shlex.quote(word) for word in model_words)  # escaped by render_model
    forecasting = family == "forecaster"
    if forecasting:
        if plan.output_shape[1:] != plan.input_shape[1:]:
            raise CnngenError(
                "--latent: the synthetic frames need the forecast at the input size", "--latent"
            )
        synthetic = Synthetic(
            kind="moving-square" if not noise else "noisy-square",
            size=spec.input_size,
            frames=frames,
            pre_history=spec.in_channels,
            forecast=plan.output_shape[0],
            noise=noise,
        )
        task = "forecasting"
    else:
        classes = plan.output_shape[0]
        shapes = SHAPES_1D if spec.dims == 1 else SHAPES_2D
        if not 2 <= classes <= len(shapes):
            raise CnngenError(
                f"--classes: the synthetic shapes dataset has 2 to {len(shapes)} classes "
                f"({', '.join(shapes)}), the model {classes}; use --classes {len(shapes)} "
                f"or fewer",
                "--classes",
            )
        synthetic = Synthetic(
            kind="shapes",
            size=spec.input_size,
            samples=samples,
            classes=classes,
            channels=spec.in_channels,
            noise=noise,
            rotate=family == "equivariant" if rotate is None else rotate,
        )
        task = "classification"
    dataset_words = dataset_invocation(synthetic)
    files = {
        "model.py": render_model(plan, model_command),
        "dataset.py": render_synthetic(synthetic, command=command_line(dataset_words)),
        "train.py": render_train(
            task=task,
            model_module="model",
            model_class=spec.class_name,
            dataset_module="dataset",
            epochs=train.epochs,
            batch_size=train.batch_size,
            lr=train.lr,
            seed=train.seed,
            command=command_line(train_invocation(task, spec.class_name, train)),
        ),
    }
    context = {
        "folder": Path(folder).name or folder,
        "command": command,
        "family": family,
        "task": task,
        "class_name": spec.class_name,
        "input_shape": plan.input_shape,
        "output_shape": plan.output_shape,
        "params": plan.params,
        "synthetic": synthetic,
        "dataset_description": describe(synthetic),
        "model_command": "cnngen " + model_command,
        "dataset_command": "cnngen " + " ".join(shlex.quote(w) for w in dataset_words),
        "train_command": "cnngen "
        + " ".join(shlex.quote(w) for w in train_invocation(task, spec.class_name, train)),
        "train": train,
    }
    files["README.md"] = render_template("project_readme.md.jinja", **context)
    config = [("family", family), *spec.given]
    if forecasting:
        config.append(("frames", frames))
    else:
        config.append(("samples", samples))
        config.append(("rotate", synthetic.rotate))
    if noise is not None:
        config.append(("noise", noise))
    config += [(key, value) for key, value in vars(train).items()]
    files["cnngen.toml"] = render_template(
        "project_config.toml.jinja",
        command=command,
        items=[(key.replace("_", "-"), toml_value(value)) for key, value in config],
    )
    return files


def dataset_config(synthetic: Synthetic) -> dict[str, Any]:
    """The dataset options that matter for this kind, for cnngen.toml."""
    if synthetic.forecasting:
        keys = ("kind", "size", "frames", "pre_history", "forecast", "period", "noise")
    else:
        keys = ("kind", "size", "samples", "classes", "channels", "rotate", "noise")
    values = {key: getattr(synthetic, key) for key in keys}
    return {key: value for key, value in values.items() if value is not None}


def dataset_invocation(synthetic: Synthetic) -> list[str]:
    """``dataset synthetic ...`` words that regenerate the project's dataset.py."""
    words = ["dataset", "synthetic", synthetic.kind, "--size", "x".join(map(str, synthetic.size))]
    for key, value in dataset_config(synthetic).items():
        if key in ("kind", "size"):
            continue
        option = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            words += [option] if value else []
        else:
            words += [option, str(value)]
    return [*words, "-o", "dataset.py"]


def train_invocation(task: str, class_name: str, train: TrainDefaults) -> list[str]:
    return [
        "train", "--task", task, "--model-class", class_name,
        "--epochs", str(train.epochs), "--batch-size", str(train.batch_size),
        "--lr", repr(train.lr), "--seed", str(train.seed), "-o", "train.py",
    ]  # fmt: skip


def describe(synthetic: Synthetic) -> str:
    if synthetic.forecasting:
        return (
            f"{synthetic.frames} frames of a square moving on a circle"
            + (" under noise" if synthetic.kind == "noisy-square" else "")
            + f", cut into windows of {synthetic.pre_history} input and "
            f"{synthetic.forecast} target frames"
        )
    return f"{synthetic.samples} noisy images of {synthetic.classes} shapes" + (
        ", randomly rotated" if synthetic.rotate else ""
    )


def write_project(folder: Path, files: dict[str, str], force: bool) -> None:
    """Write the rendered files; an existing non-empty folder needs ``force``."""
    if folder.exists() and not folder.is_dir():
        raise CnngenError(f"DIR: {folder} is a file; give a folder name", "DIR")
    if folder.is_dir() and any(folder.iterdir()) and not force:
        raise CnngenError(
            f"DIR: {folder} exists and is not empty; pass --force to write the project "
            f"files into it (other files are left alone)",
            "DIR",
        )
    if not folder.parent.is_dir():
        raise CnngenError(f"DIR: folder {folder.parent} does not exist; create it first", "DIR")
    folder.mkdir(exist_ok=True)
    emit_files([(folder / name, files[name]) for name in FILES], force=True, option="DIR")


@click.command("project")
@click.argument("folder", metavar="DIR")
@click.option(
    "--family",
    default="forecaster",
    show_default=True,
    help="forecaster, classifier or equivariant.",
)
@model_options
@click.option(
    "--frames",
    type=int,
    default=240,
    show_default=True,
    help="Forecasters: frames of the synthetic series.",
)
@click.option(
    "--samples", type=int, default=1000, show_default=True, help="Classifiers: synthetic samples."
)
@click.option(
    "--noise", type=float, default=None, help="Noise standard deviation of the synthetic data."
)
@click.option(
    "--rotate/--no-rotate",
    default=None,
    help="Classifiers: rotate the shapes.  [default: on for equivariant]",
)
@click.option("--epochs", type=int, default=5, show_default=True, help="Default epochs.")
@click.option("--batch-size", type=int, default=16, show_default=True, help="Default batch size.")
@click.option("--lr", type=float, default=1e-3, show_default=True, help="Default learning rate.")
@click.option("--seed", type=int, default=0, show_default=True, help="Default seed.")
@click.option("--force", is_flag=True, help="Write into an existing non-empty DIR.")
@click.pass_context
def project_command(
    ctx: click.Context,
    folder: str,
    family: str,
    frames: int,
    samples: int,
    noise: float | None,
    rotate: bool | None,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    force: bool,
    **model: Any,
) -> None:
    """Write a starter project: model, synthetic dataset, train.py, README, config.

    \b
    Defaults: --input-size 32x32; forecasters 4 frames in, 2 out; classifiers 4 classes.
    Examples:
      cnngen project demo
      cnngen project shapes --family classifier -i 28x28 --classes 4
      cd demo && python train.py
    """
    files = render_project(
        folder,
        family,
        model,
        frames=frames,
        samples=samples,
        noise=noise,
        rotate=rotate,
        train=TrainDefaults(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed),
        command=command_line(invocation(ctx)),
    )
    write_project(Path(folder), files, force)
    click.echo(f"next: cd {shlex.quote(folder)} && python train.py", err=True)
