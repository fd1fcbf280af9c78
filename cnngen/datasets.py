"""Dataset files, training scripts and starter projects.

``cnngen dataset windows|arrays|synthetic`` writes a standalone dataset file,
``cnngen train`` a training script for a generated model and dataset, and
``cnngen project DIR`` all of them at once with a README and a config.

Every dataset file honours one contract, which the training script relies
on: it defines ``make_datasets(seed: int) -> (train, val)``, two map-style
torch Datasets of ``(x, y)`` pairs, ``x`` a float tensor of the model's input
shape and ``y`` an integer class index (classification) or a float tensor of
the model's output shape (forecasting).

The render functions validate their input (raising
:class:`~cnngen.errors.CnngenError` that names the option) and return text;
the Click commands only parse options and write.  Nothing here imports torch.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from cnngen.cli import SIZE
from cnngen.errors import CnngenError
from cnngen.output import emit, output_options
from cnngen.spec import check_choice, check_identifier, format_value

TASKS = ("classification", "forecasting")
SYNTHETIC_KINDS = ("moving-square", "noisy-square", "shapes")
LAYOUTS = ("auto", "none", "first", "last")
SHAPES_2D = ("square", "circle", "triangle", "cross", "ring", "x")
SHAPES_1D = ("box", "bump", "triangle", "ramp", "double", "notch")
LAYOUT_HELP = {
    "auto": "no channel axis for up to 3 axes, else a small last axis or axis 1 "
    "holds the channels",
    "none": "``[N, *spatial]``, single-channel; a channel axis of 1 is added",
    "first": "``[N, C, *spatial]``, already channels-first",
    "last": "``[N, *spatial, C]``, the channel axis is moved to the front",
}
NOISY_SQUARE_NOISE = 0.1
SHAPES_NOISE = 0.3


# ------------------------------------------------------------------ helpers
def doc_text(text: str) -> str:
    """``text`` made safe inside a generated triple-quoted docstring.

    Commands echo user paths into docstrings; backslashes, quotes and
    unprintable characters are escaped so they can never end the string.
    """
    out = []
    for char in text:
        if char in '\\"':
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        else:
            out.append(repr(char)[1:-1])
    return "".join(out)


def command_line(words: list[str]) -> str:
    """Shell words quoted as a user would type them, made docstring-safe."""
    return doc_text(" ".join(shlex.quote(word) for word in words))


def check_module(param: str, value: str) -> None:
    """A module name reaches an import line: dotted identifiers only."""
    for part in value.split("."):
        check_identifier(param, part)


def check_positive(param: str, value: int) -> None:
    if value < 1:
        raise CnngenError(f"{param}: must be >= 1, got {value}", param)


def check_fraction(value: float) -> None:
    if not 0.0 < value < 1.0:
        raise CnngenError(
            f"--val-fraction: must lie between 0 and 1, got {value}; e.g. 0.2", "--val-fraction"
        )


def check_path(param: str, value: str | None, suffixes: tuple[str, ...]) -> None:
    """Paths are written as repr'd strings; only the suffix is checked."""
    if value is None:
        return
    if not value or Path(value).suffix not in suffixes:
        raise CnngenError(
            f"{param}: {value!r} is not a {' or '.join(suffixes)} file; "
            f"save the array with numpy.save or numpy.savez",
            param,
        )


# ------------------------------------------------------------------ datasets
def render_windows(
    *,
    pre_history: int = 60,
    forecast: int = 30,
    threshold: float | None = None,
    binarize_x: bool = False,
    single_output: bool = False,
    data_path: str | None = None,
    additional_paths: tuple[str, ...] = (),
    val_fraction: float = 0.2,
    name: str = "WindowDataset",
    command: str = "dataset windows",
) -> str:
    """The source of a sliding-window forecasting dataset file."""
    from cnngen.render import render_python

    check_positive("--pre-history", pre_history)
    check_positive("--forecast", forecast)
    check_identifier("--name", name)
    check_fraction(val_fraction)
    if binarize_x and threshold is None:
        raise CnngenError(
            "--binarize-x: needs --threshold, the value above which inputs become 1",
            "--binarize-x",
        )
    check_path("--data", data_path, (".npy", ".npz"))
    for path in additional_paths:
        check_path("--additional", path, (".npy", ".npz"))
    return render_python(
        "dataset_windows.py.jinja",
        class_name=name,
        command=command,
        pre_history=pre_history,
        forecast=forecast,
        threshold=threshold,
        binarize_x=binarize_x,
        single_output=single_output,
        data_path=data_path,
        additional_paths=tuple(additional_paths),
        val_fraction=val_fraction,
    )


def render_arrays(
    *,
    data_path: str | None = None,
    x_path: str | None = None,
    y_path: str | None = None,
    x_key: str = "x",
    y_key: str = "y",
    layout: str = "auto",
    val_fraction: float = 0.2,
    name: str = "ArrayDataset",
    command: str = "dataset arrays",
) -> str:
    """The source of a classification dataset file over ``.npy``/``.npz`` arrays."""
    from cnngen.render import render_python

    check_identifier("--name", name)
    check_choice("--layout", layout, LAYOUTS)
    check_fraction(val_fraction)
    if data_path is not None and (x_path is not None or y_path is not None):
        raise CnngenError(
            "--data: give either --data FILE.npz or --x FILE.npy --y FILE.npy, not both",
            "--data",
        )
    if (x_path is None) != (y_path is None):
        missing = "--y" if y_path is None else "--x"
        raise CnngenError(f"{missing}: --x and --y go together; give both .npy files", missing)
    check_path("--data", data_path, (".npz",))
    check_path("--x", x_path, (".npy",))
    check_path("--y", y_path, (".npy",))
    for param, key in (("--x-key", x_key), ("--y-key", y_key)):
        if not key:
            raise CnngenError(f"{param}: must not be empty", param)
    if data_path is not None:
        source = doc_text(f"{data_path}, arrays {x_key!r} and {y_key!r}")
    elif x_path is not None:
        source = doc_text(f"{x_path} and {y_path}")
    else:
        source = "arrays passed to make_datasets"
    return render_python(
        "dataset_arrays.py.jinja",
        class_name=name,
        command=command,
        source=source,
        data_path=data_path,
        x_path=x_path,
        y_path=y_path,
        x_key=x_key,
        y_key=y_key,
        layout=layout,
        layout_help=LAYOUT_HELP[layout],
        val_fraction=val_fraction,
    )


@dataclass(frozen=True)
class Synthetic:
    """What a synthetic dataset file generates; the CLI options, validated."""

    kind: str
    size: tuple[int, ...] = (32, 32)
    frames: int = 200
    pre_history: int = 8
    forecast: int = 4
    period: int = 24
    noise: float | None = None
    samples: int = 1000
    classes: int = 4
    channels: int = 1
    rotate: bool = False
    val_fraction: float = 0.2
    name: str = "WindowDataset"

    @property
    def forecasting(self) -> bool:
        return self.kind != "shapes"


def render_synthetic(options: Synthetic, command: str = "dataset synthetic") -> str:
    """The source of a seeded synthetic dataset file (forecasting frames or shapes)."""
    from cnngen.render import render_python

    check_choice("KIND", options.kind, SYNTHETIC_KINDS)
    size = tuple(options.size)
    if not 1 <= len(size) <= 3 or min(size) < 4:
        raise CnngenError(
            f"--size: 1 to 3 sizes of at least 4, got {format_value(size)}; e.g. 32x32",
            "--size",
        )
    check_fraction(options.val_fraction)
    check_identifier("--name", options.name)
    noise = options.noise
    if noise is None:
        noise = {"moving-square": 0.0, "noisy-square": NOISY_SQUARE_NOISE}.get(
            options.kind, SHAPES_NOISE
        )
    if noise < 0:
        raise CnngenError(f"--noise: must be >= 0, got {noise}", "--noise")
    if options.forecasting:
        for param, value in (
            ("--pre-history", options.pre_history),
            ("--forecast", options.forecast),
            ("--frames", options.frames),
            ("--period", options.period),
        ):
            check_positive(param, value)
        window = options.pre_history + options.forecast
        # The validation part holds max(forecast, val_fraction * frames) targets;
        # the training part needs at least one whole window.
        held_out = max(options.forecast, round(options.frames * options.val_fraction))
        if options.frames - held_out < window:
            raise CnngenError(
                f"--frames: {options.frames} frames leave no training window of "
                f"{window} frames once {held_out} are held out for validation; use "
                f"--frames {-(-(window + options.forecast) // (1 - options.val_fraction)):.0f}"
                f" or more",
                "--frames",
            )
        square = max(1, min(size[-2:]) // 6)
        return render_python(
            "dataset_synthetic.py.jinja",
            forecasting=True,
            description=("a square moving on a circle" + (", with noise" if noise else "")),
            command=command,
            class_name=options.name,
            size=size,
            frames=options.frames,
            square=square,
            period=options.period,
            noise=float(noise),
            pre_history=options.pre_history,
            forecast=options.forecast,
            val_fraction=options.val_fraction,
        )
    shapes = SHAPES_1D if len(size) == 1 else SHAPES_2D
    if not 2 <= options.classes <= len(shapes):
        raise CnngenError(
            f"--classes: the synthetic shapes come in 2 to {len(shapes)} classes "
            f"({', '.join(shapes)}), got {options.classes}; use --classes {len(shapes)} "
            f"or fewer, or your own data with 'cnngen dataset arrays'",
            "--classes",
        )
    check_positive("--channels", options.channels)
    if options.samples < 2 * options.classes:
        raise CnngenError(
            f"--samples: {options.samples} samples are too few for {options.classes} "
            f"classes and a validation split; use at least {10 * options.classes}",
            "--samples",
        )
    square_plane = len(size) >= 2 and size[-1] == size[-2]
    return render_python(
        "dataset_synthetic.py.jinja",
        forecasting=False,
        description=", ".join(shapes[: options.classes])
        + (" (randomly rotated)" if options.rotate else ""),
        command=command,
        size=size,
        sample_shape=(options.channels, *size),
        samples=options.samples,
        shapes=shapes[: options.classes],
        rotate=options.rotate,
        rotation_step=90 if square_plane else 180,
        noise=float(noise),
        channels=options.channels,
        val_fraction=options.val_fraction,
    )


# ------------------------------------------------------------------ training
def render_train(
    *,
    task: str,
    model_module: str = "model",
    model_class: str = "Model",
    dataset_module: str = "dataset",
    epochs: int = 10,
    batch_size: int = 32,
    lr: float = 1e-3,
    seed: int = 0,
    out: str = "runs",
    script_name: str = "train.py",
    command: str = "train",
) -> str:
    """The source of a training script for a model module and a dataset module."""
    from cnngen.render import render_python

    check_choice("--task", task, TASKS)
    check_module("--model-module", model_module)
    check_module("--dataset-module", dataset_module)
    check_identifier("--model-class", model_class)
    if model_module == dataset_module:
        raise CnngenError(
            f"--dataset-module: {dataset_module!r} is also the model module; the model "
            f"and the dataset live in separate files",
            "--dataset-module",
        )
    check_positive("--epochs", epochs)
    check_positive("--batch-size", batch_size)
    if not lr > 0:
        raise CnngenError(f"--lr: must be > 0, got {lr}", "--lr")
    if not out:
        raise CnngenError("--out: must not be empty; e.g. --out runs", "--out")
    return render_python(
        "train.py.jinja",
        task=task,
        model_module=model_module,
        model_class=model_class,
        dataset_module=dataset_module,
        sibling_imports=sorted(
            [
                f"from {dataset_module} import make_datasets",
                f"from {model_module} import INPUT_SHAPE, OUTPUT_SHAPE, {model_class}",
            ]
        ),
        epochs=epochs,
        batch_size=batch_size,
        lr=float(lr),
        seed=seed,
        out=out,
        script_name=doc_text(script_name),
        command=command,
    )


# ------------------------------------------------------------------ the CLI
def invocation(ctx: click.Context) -> list[str]:
    """The words after ``cnngen`` that reproduce this command: the options the user set."""
    names = []
    context: click.Context | None = ctx
    while context is not None and context.parent is not None:
        names.append(context.info_name or "")
        context = context.parent
    words = list(reversed(names))
    for param in ctx.command.params:
        if param.name is None:
            continue
        source = ctx.get_parameter_source(param.name)
        value = ctx.params.get(param.name)
        if source is click.core.ParameterSource.DEFAULT or value is None:
            continue
        if isinstance(param, click.Argument):
            words.append(str(value))
            continue
        flag = max(param.opts, key=len)
        if isinstance(param, click.Option) and param.is_flag:
            if param.secondary_opts and not value:
                words.append(max(param.secondary_opts, key=len))
            elif value:
                words.append(flag)
            continue
        values = value if isinstance(value, list | tuple) and param.multiple else [value]
        for item in values:
            words += [flag, format_value(item) if isinstance(item, tuple) else str(item)]
    return words


@click.group("dataset")
def dataset_group() -> None:
    """Write a standalone dataset file (imports only numpy and torch).

    \b
    Every file defines make_datasets(seed) -> (train, val), which train.py calls.
    Examples:
      cnngen dataset windows --pre-history 60 --forecast 30 --data frames.npy -o dataset.py
      cnngen dataset arrays --data digits.npz -o dataset.py
      cnngen dataset synthetic moving-square --size 64x64 -o dataset.py
    """


@dataset_group.command("windows")
@click.option(
    "--pre-history",
    type=int,
    default=60,
    show_default=True,
    help="Input frames per window (the model's --in-channels).",
)
@click.option(
    "--forecast",
    type=int,
    default=30,
    show_default=True,
    help="Target frames per window (the model's --out-channels).",
)
@click.option("--threshold", type=float, default=None, help="Binarize targets: above it 1, else 0.")
@click.option("--binarize-x", is_flag=True, help="Binarize inputs too (needs --threshold).")
@click.option(
    "--single-output",
    is_flag=True,
    help="One sample: every frame before the last --forecast frames.",
)
@click.option(
    "--data",
    "data_path",
    default=None,
    help="Frames [T, *spatial] to load in make_datasets (.npy or .npz).",
)
@click.option(
    "--additional",
    "additional_paths",
    multiple=True,
    help="An extra series stacked as channels of x (repeatable).",
)
@click.option(
    "--val-fraction",
    type=float,
    default=0.2,
    show_default=True,
    help="Share of the frames held out for validation targets.",
)
@click.option("--name", default="WindowDataset", show_default=True, help="Class name.")
@output_options()
@click.pass_context
def windows_command(
    ctx: click.Context, output: str, force: bool, check: bool, dry_run: bool, **options: Any
) -> None:
    """Sliding windows over a series of frames, for forecasting.

    \b
    x: --pre-history frames, y: the next --forecast frames; all
    T - pre_history - forecast + 1 windows, made lazily on access.
    Example:
      cnngen dataset windows --pre-history 60 --forecast 30 --threshold 0.5 -o dataset.py
    """
    options["additional_paths"] = tuple(options["additional_paths"])
    text = render_windows(command=command_line(invocation(ctx)), **options)
    emit(text, output, force=force, check=check, dry_run=dry_run)


@dataset_group.command("arrays")
@click.option("--data", "data_path", default=None, help="A .npz file holding x and y.")
@click.option("--x", "x_path", default=None, help="Samples as a .npy file (with --y).")
@click.option("--y", "y_path", default=None, help="Labels as a .npy file (with --x).")
@click.option("--x-key", default="x", show_default=True, help="Name of the samples in --data.")
@click.option("--y-key", default="y", show_default=True, help="Name of the labels in --data.")
@click.option(
    "--layout",
    default="auto",
    show_default=True,
    help="Channel axis of the stored samples: auto, none, first or last.",
)
@click.option(
    "--val-fraction",
    type=float,
    default=0.2,
    show_default=True,
    help="Share of the samples held out for validation.",
)
@click.option("--name", default="ArrayDataset", show_default=True, help="Class name.")
@output_options()
@click.pass_context
def arrays_command(
    ctx: click.Context, output: str, force: bool, check: bool, dry_run: bool, **options: Any
) -> None:
    """An image or signal classification dataset from .npy/.npz arrays.

    \b
    Channels-first samples, normalization from the training split only,
    a seeded train/validation split.
    Example:
      cnngen dataset arrays --x images.npy --y labels.npy --layout last -o dataset.py
    """
    text = render_arrays(command=command_line(invocation(ctx)), **options)
    emit(text, output, force=force, check=check, dry_run=dry_run)


@dataset_group.command("synthetic")
@click.argument("kind")
@click.option(
    "--size",
    type=SIZE,
    default="32x32",
    show_default=True,
    help="Frame or image size: 64, 32x32 or 8x32x32.",
)
@click.option(
    "--frames", type=int, default=200, show_default=True, help="Forecasting: length of the series."
)
@click.option(
    "--pre-history",
    type=int,
    default=8,
    show_default=True,
    help="Forecasting: input frames per window.",
)
@click.option(
    "--forecast",
    type=int,
    default=4,
    show_default=True,
    help="Forecasting: target frames per window.",
)
@click.option(
    "--period",
    type=int,
    default=24,
    show_default=True,
    help="Forecasting: frames per turn of the square.",
)
@click.option(
    "--noise",
    type=float,
    default=None,
    help="Noise standard deviation.  [default: 0 moving-square, 0.1 noisy-square, " "0.3 shapes]",
)
@click.option(
    "--samples",
    type=int,
    default=1000,
    show_default=True,
    help="Classification: number of samples.",
)
@click.option(
    "--classes",
    type=int,
    default=4,
    show_default=True,
    help="Classification: number of shapes (2 to 6).",
)
@click.option(
    "--channels",
    type=int,
    default=1,
    show_default=True,
    help="Classification: channels per sample.",
)
@click.option("--rotate", is_flag=True, help="Classification: turn shapes by multiples of 90°.")
@click.option(
    "--val-fraction",
    type=float,
    default=0.2,
    show_default=True,
    help="Share held out for validation.",
)
@click.option(
    "--name",
    default="WindowDataset",
    show_default=True,
    help="Forecasting: class name of the window dataset.",
)
@output_options()
@click.pass_context
def synthetic_command(
    ctx: click.Context,
    kind: str,
    output: str,
    force: bool,
    check: bool,
    dry_run: bool,
    **options: Any,
) -> None:
    """Seeded synthetic data: KIND is moving-square, noisy-square or shapes.

    \b
    moving-square / noisy-square: frames of a square moving on a circle, cut
    into forecasting windows.  shapes: squares, circles, triangles, crosses,
    rings and x's on noise, for classification.
    Example:
      cnngen dataset synthetic shapes --size 28x28 --classes 4 --rotate -o dataset.py
    """
    text = render_synthetic(
        Synthetic(kind=kind, **options),
        command=command_line(invocation(ctx)),
    )
    emit(text, output, force=force, check=check, dry_run=dry_run)


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


def register(group: click.Group) -> None:
    """Attach ``dataset``, ``train`` and ``project`` to the main command group."""
    from cnngen.starter import project_command

    group.add_command(dataset_group)
    group.add_command(train_command)
    group.add_command(project_command)
