"""Every file of a starter project, rendered in memory: model, dataset, train.py, README, config.

Nothing touches the disk here; :mod:`cnngen.cli.project` writes the result
only when every file rendered, so an error leaves no half-written folder.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnngen.core.spec import format_value, spec_from_options
from cnngen.errors import CnngenError
from cnngen.rendering.datafiles import (
    DEFAULT_FEATURES,
    SHAPES_1D,
    SHAPES_2D,
    Synthetic,
    extra_options,
    render_predict,
    render_synthetic,
    render_train,
)
from cnngen.rendering.escape import command_line, toml_value
from cnngen.rendering.namespace import template_names

if TYPE_CHECKING:
    from cnngen.core.plan import Extra

PROJECT_INPUT_SIZE = (32, 32)
PROJECT_FRAMES_IN = 4
PROJECT_FRAMES_OUT = 2
PROJECT_CLASSES = 4
PROJECT_START_CHANNELS = 16
# A U-Net project segments two shape kinds: background, square and circle.
PROJECT_SEGMENTATION_CHANNELS = 3
PROJECT_UNET_START_CHANNELS = 8
FILES = ("model.py", "dataset.py", "train.py", "predict.py", "README.md", "cnngen.toml")


@dataclass(frozen=True)
class ProjectSize:
    """What ``cnngen project --size`` picks: input, synthetic data and model widths."""

    input_size: tuple[int, ...]
    samples: int
    frames: int
    start_channels: int
    unet_start_channels: int
    unet_layers: int


# small trains one epoch of every family in about a minute on two CPU cores.
PROJECT_SIZES = {
    "tiny": ProjectSize((16, 16), 200, 80, 8, 4, 2),
    "small": ProjectSize(
        PROJECT_INPUT_SIZE, 1000, 240, PROJECT_START_CHANNELS, PROJECT_UNET_START_CHANNELS, 3
    ),
    "paper": ProjectSize((64, 64), 5000, 1000, 32, 16, 4),
}
PROJECT_SIZE = "small"


@dataclass(frozen=True)
class TrainDefaults:
    epochs: int = 5
    batch_size: int = 16
    lr: float = 1e-3
    seed: int = 0
    features: tuple[str, ...] = DEFAULT_FEATURES


def render_project(
    folder: str,
    family: str,
    model: dict[str, Any],
    *,
    frames: int | None = None,
    samples: int | None = None,
    noise: float | None = None,
    rotate: bool | None = None,
    train: TrainDefaults = TrainDefaults(),
    command: str = "project",
    size: str = PROJECT_SIZE,
) -> dict[str, str]:
    """Every file of a starter project, by name, rendered and formatted.

    ``size`` (a :data:`PROJECT_SIZES` key) picks the defaults of the options not given.
    """
    from cnngen.core.solver import solve
    from cnngen.rendering.engine import render_model, render_template, template_dir_words

    if family == "encoder":
        raise CnngenError(
            "--family: an encoder has no training target of its own; choose forecaster, "
            "classifier, equivariant or unet (or use 'cnngen model encoder' in your own project)",
            "--family",
        )
    model = {key: value for key, value in model.items() if value is not None}
    if size not in PROJECT_SIZES:
        raise CnngenError(
            f"--size: {size!r} is not a project size; use {', '.join(PROJECT_SIZES)}", "--size"
        )
    chosen = PROJECT_SIZES[size]
    frames = chosen.frames if frames is None else frames
    samples = chosen.samples if samples is None else samples
    model.setdefault("input_size", chosen.input_size)
    preset = "preset" in model  # a preset fixes its own widths
    # Smaller than `cnngen model`'s 32, so that the default project trains quickly on a
    # CPU (a U-Net's full-resolution decoder is costlier still).
    start = chosen.unet_start_channels if family == "unet" else chosen.start_channels
    if not preset and model.get("max_channels", start) >= start:
        model.setdefault("start_channels", start)
    if family == "forecaster":
        model.setdefault("in_channels", PROJECT_FRAMES_IN)
        model.setdefault("out_channels", PROJECT_FRAMES_OUT)
    elif family in ("classifier", "equivariant") and "preset" not in model:
        model.setdefault("classes", PROJECT_CLASSES)
    elif family == "unet":
        model.setdefault("out_channels", PROJECT_SEGMENTATION_CHANNELS)
        # A full-resolution decoder is costly on a CPU: a lighter U-Net by default.
        model.setdefault("layers", chosen.unet_layers)
    # The class name lands in model.py and in train.py, which imports it.
    spec = spec_from_options(family, model, lambda kinds: template_names((*kinds, "train")))
    plan = solve(spec)
    # Escaped by render_model; a --template-dir the project uses is named there too.
    model_command = shlex.join(spec.command_words("model", "model.py") + template_dir_words())
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
    elif family == "unet":
        synthetic = _segmentation_data(spec.input_size, plan.output_shape[0], spec, samples, noise)
        if rotate:
            raise CnngenError(
                "--rotate: the segmentation shapes are placed at random already; drop --rotate",
                "--rotate",
            )
        task = "segmentation"
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
        "dataset.py": _synthetic_for_project(synthetic, command_line(dataset_words)),
        "train.py": render_train(
            task=task,
            model_module="model",
            model_class=spec.class_name,
            dataset_module="dataset",
            epochs=train.epochs,
            batch_size=train.batch_size,
            lr=train.lr,
            seed=train.seed,
            features=train.features,
            command=command_line(train_invocation(task, spec.class_name, train, plan.extras)),
            **extra_options(plan.extras),
        ),
        "predict.py": render_predict(
            task=task, seed=train.seed, command=command_line(predict_invocation(task, train))
        ),
    }
    context = {
        "folder": Path(folder).name or folder,
        "command": command,
        "family": family,
        "task": task,
        # One output channel: train.py's BINARY segmentation, masks of 0 and 1.
        "binary": task == "segmentation" and plan.output_shape[0] == 1,
        "class_name": spec.class_name,
        "input_shape": plan.input_shape,
        "output_shape": plan.output_shape,
        "params": plan.params,
        "synthetic": synthetic,
        "dataset_description": describe(synthetic),
        "model_command": "cnngen " + model_command,
        "dataset_command": "cnngen " + shlex.join(dataset_words),
        "train_command": "cnngen "
        + shlex.join(train_invocation(task, spec.class_name, train, plan.extras)),
        "predict_command": "cnngen " + shlex.join(predict_invocation(task, train)),
        "train": train,
    }
    files["README.md"] = render_template("project_readme.md.jinja", **context)
    config = [("family", family), *spec.given]
    if forecasting:
        config.append(("frames", frames))
    elif task == "segmentation":
        config.append(("samples", samples))
    else:
        config.append(("samples", samples))
        config.append(("rotate", synthetic.rotate))
    if noise is not None:
        config.append(("noise", noise))
    config += [(key, value) for key, value in vars(train).items() if key != "features"]
    config.append(("with", ",".join(train.features) or "none"))
    files["cnngen.toml"] = render_template(
        "project_config.toml.jinja",
        command=command,
        items=[(key.replace("_", "-"), toml_value(value)) for key, value in config],
    )
    return files


# The project's options that become the synthetic dataset's: errors name the former.
PROJECT_OPTION_FOR = {
    "--size": "--input-size",
    "--pre-history": "--in-channels",
    "--forecast": "--out-channels",
    "--channels": "--in-channels",
}


def _synthetic_for_project(synthetic: Synthetic, command: str) -> str:
    """``render_synthetic``, with errors naming the ``cnngen project`` option the user gave."""
    try:
        return render_synthetic(synthetic, command=command)
    except CnngenError as error:
        name = PROJECT_OPTION_FOR.get(error.param or "")
        if name is None or error.param is None:
            raise
        text = (
            str(error).replace(f"{error.param}:", f"{name}:").replace(f"{error.param} ", f"{name} ")
        )
        raise CnngenError(text, name) from None


def _segmentation_data(
    size: tuple[int, ...], channels: int, spec: Any, samples: int, noise: float | None
) -> Synthetic:
    """The synthetic masks for a U-Net with ``channels`` outputs: background + shape kinds.

    One output channel is binary segmentation (train.py's ``BINARY``): one
    shape kind, so the masks hold 0 (background) and 1 (foreground) only.
    """
    shapes = SHAPES_1D if len(size) == 1 else SHAPES_2D
    if not 1 <= channels <= len(shapes) + 1:
        raise CnngenError(
            f"--out-channels: the synthetic segmentation data has the background and 1 to "
            f"{len(shapes)} shape kinds, so 2 to {len(shapes) + 1} output channels, or 1 for "
            f"binary segmentation; got {channels}",
            "--out-channels",
        )
    return Synthetic(
        kind="segmentation",
        size=size,
        samples=samples,
        classes=max(channels - 1, 1),
        channels=spec.in_channels,
        noise=noise,
    )


def dataset_config(synthetic: Synthetic) -> dict[str, Any]:
    """The dataset options that matter for this kind, for cnngen.toml."""
    if synthetic.kind == "segmentation":
        keys = ("kind", "size", "samples", "classes", "channels", "noise")
    elif synthetic.forecasting:
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
    return [*words, "--output", "dataset.py"]


def train_invocation(
    task: str, class_name: str, train: TrainDefaults, extras: tuple[Extra, ...] = ()
) -> list[str]:
    features = [] if train.features == DEFAULT_FEATURES else ["--with", ",".join(train.features) or "none"]
    # The model's training-only outputs: their weights (and for masks their sampling steps).
    chosen = extra_options(extras)
    if chosen["extra_weights"]:
        features += ["--extra-weights", ",".join(repr(w) for w in chosen["extra_weights"])]
    if chosen["extra_steps"]:
        features += ["--extra-steps", ",".join(format_value(s) for s in chosen["extra_steps"])]
    return [
        "train", "--task", task, "--model-class", class_name,
        "--epochs", str(train.epochs), "--batch-size", str(train.batch_size),
        "--lr", repr(train.lr), "--seed", str(train.seed), *features, "--output", "train.py",
    ]  # fmt: skip


def predict_invocation(task: str, train: TrainDefaults) -> list[str]:
    """``predict ...`` words that regenerate the project's predict.py."""
    return ["predict", "--task", task, "--seed", str(train.seed), "--output", "predict.py"]


def describe(synthetic: Synthetic) -> str:
    if synthetic.forecasting:
        return (
            f"{synthetic.frames} frames of a square moving on a circle"
            + (" under noise" if synthetic.kind == "noisy-square" else "")
            + f", cut into windows of {synthetic.pre_history} input and "
            f"{synthetic.forecast} target frames"
        )
    if synthetic.kind == "segmentation":
        return (
            f"{synthetic.samples} noisy images of 1 to 3 shapes ({synthetic.classes} "
            f"kind{'s' if synthetic.classes > 1 else ''}) with a class for every pixel"
        )
    return f"{synthetic.samples} noisy images of {synthetic.classes} shapes" + (
        ", randomly rotated" if synthetic.rotate else ""
    )
