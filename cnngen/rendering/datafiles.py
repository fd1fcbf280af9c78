"""Dataset files and training scripts, rendered from validated options.

Every dataset file honours one contract, which the training script relies
on: it defines ``make_datasets(seed: int) -> (train, val)``, two map-style
torch Datasets of ``(x, y)`` pairs, ``x`` a float tensor of the model's input
shape and ``y`` an integer class index (classification) or a float tensor of
the model's output shape (forecasting).

The render functions validate their input (raising
:class:`~cnngen.errors.CnngenError` that names the option) and return text.
Nothing here imports torch.
"""

from __future__ import annotations

import math
import os
import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cnngen.core.checks import (
    check_class_name,
    check_count,
    check_fraction,
    check_module,
    check_number,
    check_path,
    check_positive,
    check_seed,
)
from cnngen.core.spec import check_choice, format_value
from cnngen.errors import CnngenError

if TYPE_CHECKING:
    from cnngen.core.plan import Extra
from cnngen.rendering.escape import doc_text
from cnngen.rendering.namespace import (
    PROBE,
    PROBE_MODULES,
    imported_modules,
    register_sources,
    template_names,
)

TASKS = ("classification", "forecasting", "segmentation")
SCHEDULERS = ("none", "cosine", "warmup-multistep")
# What a training script can carry beyond training, evaluation and safe files,
# in the order --with lists them.  The default is what a starter needs: a run
# that stops can continue (resume); `cnngen export` deploys its best.pt.
FEATURES = {
    "ddp": "torchrun: DistributedDataParallel, sharded data, --sync-bn",
    "amp": "mixed precision on CUDA (--amp) and --channels-last",
    "compile": "--compile: torch.compile",
    "resume": "last.pt with every state, and --resume",
    "export": "--export: model.pt2, model.onnx and model.json, each checked",
    "plots": "loss.png, and for classification the confusion matrix and a gallery",
    "progress": "--progress: a bar or a line per step",
    "schedule": "--scheduler: cosine or warmup-multistep learning rates",
}
DEFAULT_FEATURES = ("resume",)
FEATURES_HELP = (
    "What train.py carries beyond training and evaluation, comma-separated: "
    + "; ".join(f"{name} ({what})" for name, what in FEATURES.items())
    + "; or all, or none.  [default: "
    + ",".join(DEFAULT_FEATURES)
    + "]"
)
SYNTHETIC_KINDS = ("moving-square", "noisy-square", "shapes", "segmentation")
LAYOUTS = ("auto", "none", "first", "last")
# How a window's x holds its series: merged into the time axis, or stacked as channels.
WINDOW_EXTRAS = ("channels", "stack")
SHAPES_2D = ("square", "circle", "triangle", "cross", "ring", "x")
SHAPES_1D = ("box", "bump", "triangle", "ramp", "double", "notch")
LAYOUT_HELP = {
    "auto": "no channel axis for up to 3 axes, else a small last axis or axis 1 holds the channels",
    "none": "``[N, *spatial]``, single-channel; a channel axis of 1 is added",
    "first": "``[N, C, *spatial]``, already channels-first",
    "last": "``[N, *spatial, C]``, the channel axis is moved to the front",
}
NOISY_SQUARE_NOISE = 0.1
SHAPES_NOISE = 0.3
DIFFICULTIES = ("easy", "hard")
# The hard shapes: stronger noise, distractor strokes, wider scale, position and contrast.
HARD_SHAPES_NOISE = 0.6
HARD_CLUTTER = 3
HARD_CLASSES = 6
# Limits that keep generated files runnable; README ("Limits") documents them.
MAX_WINDOW = 2**20  # --pre-history, --forecast (frames per window)
MAX_NOISE = 1e6
MAX_SYNTHETIC_VALUES = 2**31  # float32 values a synthetic dataset may hold: 8 GiB
MAX_EPOCHS = 10**6
MAX_LR = 1e3


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
    extras: str = "channels",
    val_fraction: float = 0.2,
    name: str = "WindowDataset",
    command: str = "dataset windows",
) -> str:
    """The source of a sliding-window forecasting dataset file."""
    from cnngen.rendering.engine import render_python

    check_count("--pre-history", pre_history, 1, MAX_WINDOW)
    check_count("--forecast", forecast, 1, MAX_WINDOW)
    check_class_name("--name", name, ("dataset_windows",), template_names)
    check_fraction(val_fraction)
    if threshold is not None:
        check_number("--threshold", threshold, example="0.5")
    if binarize_x and threshold is None:
        raise CnngenError(
            "--binarize-x: needs --threshold, the value above which inputs become 1",
            "--binarize-x",
        )
    check_choice("--extras", extras, WINDOW_EXTRAS)
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
        stack=extras == "stack",
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
    from cnngen.rendering.engine import render_python

    check_class_name("--name", name, ("dataset_arrays",), template_names)
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


CLASS_NAMES = {
    "digits": tuple(str(digit) for digit in range(10)),
    "fashion": (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
}


def class_names(value: str) -> tuple[str, ...]:
    """``digits``, ``fashion`` or a comma-separated list, checked name by name."""
    if value in CLASS_NAMES:
        return CLASS_NAMES[value]
    names = tuple(name.strip() for name in value.split(","))
    for name in names:
        if not name or len(name) > 40 or not name.isprintable():
            raise CnngenError(
                f"--class-names: {name!r} is not a class name; give 'digits', 'fashion' or "
                f"printable names of at most 40 characters separated by commas",
                "--class-names",
            )
    if len(names) < 2 or len(set(names)) != len(names):
        raise CnngenError(
            f"--class-names: needs at least 2 distinct names, got {len(names)}; e.g. cat,dog",
            "--class-names",
        )
    return names


def _check_file(param: str, value: str | None) -> None:
    if value is not None and not value.strip():
        raise CnngenError(f"{param}: must not be empty; give the path of a local file", param)


def render_idx(
    *,
    images: str,
    labels: str,
    test_images: str | None = None,
    test_labels: str | None = None,
    class_names_: str = "digits",
    val_fraction: float = 0.2,
    name: str = "IdxDataset",
    command: str = "dataset idx",
) -> str:
    """The source of a dataset file over local IDX files (MNIST, Fashion-MNIST)."""
    from cnngen.rendering.engine import render_python

    check_class_name("--name", name, (), None)
    check_fraction(val_fraction)
    for param, value in (
        ("--images", images),
        ("--labels", labels),
        ("--test-images", test_images),
        ("--test-labels", test_labels),
    ):
        _check_file(param, value)
    if (test_images is None) != (test_labels is None):
        missing = "--test-labels" if test_labels is None else "--test-images"
        raise CnngenError(
            f"{missing}: --test-images and --test-labels go together; give both IDX files",
            missing,
        )
    source = f"{images} and {labels}"
    if test_images is not None:
        source += f"; test split {test_images} and {test_labels}"
    return render_python(
        "dataset_idx.py.jinja",
        class_name=name,
        command=command,
        source=doc_text(source),
        images=images,
        labels=labels,
        test_images=test_images,
        test_labels=test_labels,
        classes=class_names(class_names_),
        val_fraction=val_fraction,
    )


def render_folder(
    *,
    root: str,
    test_root: str | None = None,
    size: tuple[int, ...] | None = None,
    channels: int = 3,
    val_fraction: float = 0.2,
    stats_samples: int = 1000,
    name: str = "FolderDataset",
    command: str = "dataset folder",
) -> str:
    """The source of a dataset file over a local folder of class folders of images."""
    from cnngen.rendering.engine import render_python

    check_class_name("--name", name, (), None)
    check_fraction(val_fraction)
    _check_file("--root", root)
    _check_file("--test-root", test_root)
    if channels not in (1, 3):
        raise CnngenError(f"--channels: must be 1 (gray) or 3 (RGB), got {channels}", "--channels")
    if size is not None and (len(size) != 2 or min(size) < 1):
        raise CnngenError(
            f"--size: images are 2D; give HxW such as 28x28, got {format_value(tuple(size))}",
            "--size",
        )
    check_positive("--stats-samples", stats_samples)
    sample = f"[{channels}, {size[0]}, {size[1]}]" if size else f"[{channels}, H, W]"
    return render_python(
        "dataset_folder.py.jinja",
        class_name=name,
        command=command,
        source=doc_text(root),
        root=root,
        test_root=test_root,
        test_root_doc=doc_text(test_root or ""),
        size=tuple(size) if size else None,
        sample_shape=sample,
        channels=channels,
        val_fraction=val_fraction,
        stats_samples=stats_samples,
    )


# Synthetic-dataset options (field names) only one side uses; the other would
# ignore them silently, so given there they are refused.
FORECASTING_ONLY = frozenset({"frames", "pre_history", "forecast", "period", "name"})
SHAPES_ONLY = frozenset({"samples", "classes", "channels", "rotate", "difficulty", "test_fraction"})
# The shapes options that segmentation data uses too.
SEGMENTATION_USES = frozenset({"samples", "classes", "channels"})


def check_synthetic_options(kind: str, given: set[str] | frozenset[str]) -> None:
    """Refuse options the user gave that this kind of synthetic data does not use."""
    check_choice("KIND", kind, SYNTHETIC_KINDS)
    if kind == "shapes":
        unused = FORECASTING_ONLY
    elif kind == "segmentation":
        unused = (SHAPES_ONLY | FORECASTING_ONLY) - SEGMENTATION_USES
    else:
        unused = SHAPES_ONLY
    for name in sorted(given & unused):
        option = "--" + name.replace("_", "-")
        if name in SEGMENTATION_USES:
            users = "shapes and segmentation"
        elif name in SHAPES_ONLY:
            users = "shapes"
        else:
            users = "moving-square and noisy-square"
        raise CnngenError(
            f"{option}: only {users} data use it, so it has no effect on {kind}; drop it",
            option,
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
    classes: int | None = 4
    channels: int = 1
    rotate: bool = False
    val_fraction: float = 0.2
    name: str = "WindowDataset"
    difficulty: str = "easy"
    test_fraction: float = 0.0

    @property
    def forecasting(self) -> bool:
        return self.kind not in ("shapes", "segmentation")


def render_synthetic(options: Synthetic, command: str = "dataset synthetic") -> str:
    """The source of a seeded synthetic dataset file (forecasting frames or shapes)."""
    from cnngen.rendering.engine import render_python

    check_choice("KIND", options.kind, SYNTHETIC_KINDS)
    size = tuple(options.size)
    if not 1 <= len(size) <= 3 or min(size) < 4:
        raise CnngenError(
            f"--size: 1 to 3 sizes of at least 4, got {format_value(size)}; e.g. 32x32",
            "--size",
        )
    for item in size:
        check_count("--size", item, 4)
    check_fraction(options.val_fraction)
    if options.forecasting:
        check_class_name("--name", options.name, ("dataset_synthetic",), template_names)
    check_choice("--difficulty", options.difficulty, DIFFICULTIES)
    hard = options.difficulty == "hard"
    noise = options.noise
    if noise is None:
        noise = {"moving-square": 0.0, "noisy-square": NOISY_SQUARE_NOISE}.get(
            options.kind, HARD_SHAPES_NOISE if hard else SHAPES_NOISE
        )
    check_number("--noise", noise, 0.0, MAX_NOISE, example="0.1")
    if options.forecasting and (hard or options.test_fraction):
        param = "--difficulty" if hard else "--test-fraction"
        raise CnngenError(
            f"{param}: applies to the shapes (classification) only, not to {options.kind}",
            param,
        )
    if not 0.0 <= options.test_fraction < 1.0 or (
        options.test_fraction + options.val_fraction >= 1.0
    ):
        raise CnngenError(
            f"--test-fraction: must be >= 0 and leave training samples next to "
            f"--val-fraction {options.val_fraction}, got {options.test_fraction}; e.g. 0.2",
            "--test-fraction",
        )
    if options.forecasting:
        for param, value in (
            ("--pre-history", options.pre_history),
            ("--forecast", options.forecast),
            ("--period", options.period),
        ):
            check_count(param, value, 1, MAX_WINDOW)
        check_positive("--frames", options.frames)
        _check_values("--frames", options.frames * math.prod(size))
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
    if options.kind == "segmentation":
        return _render_segmentation(options, size, shapes, float(noise), command)
    classes = options.classes
    if classes is None:
        classes = HARD_CLASSES if hard else 4
    if not 2 <= classes <= len(shapes):
        raise CnngenError(
            f"--classes: the synthetic shapes come in 2 to {len(shapes)} classes "
            f"({', '.join(shapes)}), got {classes}; use --classes {len(shapes)} "
            f"or fewer, or your own data with 'cnngen dataset arrays'",
            "--classes",
        )
    check_positive("--channels", options.channels)
    check_positive("--samples", options.samples)
    _check_values("--samples", options.samples * options.channels * math.prod(size))
    splits = 3 if options.test_fraction else 2
    if options.samples < splits * classes:
        raise CnngenError(
            f"--samples: {options.samples} samples are too few for {classes} "
            f"classes and {splits - 1} held-out split(s); use at least {10 * classes}",
            "--samples",
        )
    square_plane = len(size) >= 2 and size[-1] == size[-2]
    return render_python(
        "dataset_synthetic.py.jinja",
        forecasting=False,
        description=", ".join(shapes[:classes])
        + (" (randomly rotated)" if options.rotate else "")
        + (", hard: clutter and strong noise" if hard else ""),
        command=command,
        size=size,
        sample_shape=(options.channels, *size),
        samples=options.samples,
        shapes=shapes[:classes],
        rotate=options.rotate,
        rotation_step=90 if square_plane else 180,
        noise=float(noise),
        channels=options.channels,
        val_fraction=options.val_fraction,
        test_fraction=options.test_fraction,
        difficulty=options.difficulty,
        clutter=HARD_CLUTTER if hard else 0,
    )


def _check_values(param: str, values: int) -> None:
    """A synthetic dataset is made in memory at once; it must fit in 8 GiB of float32."""
    if values > MAX_SYNTHETIC_VALUES:
        raise CnngenError(
            f"{param}: the synthetic data would hold {values:,} float32 values "
            f"({4 * values / 2**30:,.0f} GiB), above the limit of {MAX_SYNTHETIC_VALUES:,} "
            f"(8 GiB); use fewer samples or frames, or a smaller --size",
            param,
        )


def _check_sibling_module(param: str, module: str) -> None:
    """A sibling module named like a module train.py or a dataset file imports would shadow it."""
    top = module.split(".")[0]
    kinds = ("train", "dataset_windows", "dataset_arrays", "dataset_synthetic")
    taken = imported_modules(kinds) | set(sys.stdlib_module_names)
    if top in taken:
        raise CnngenError(
            f"{param}: a file named {top}.py next to train.py would shadow the module "
            f"{top!r} that train.py or its data imports; name it e.g. 'my_{top}'",
            param,
        )


SEGMENTATION_OBJECTS = 3


def _render_segmentation(
    options: Synthetic, size: tuple[int, ...], shapes: tuple[str, ...], noise: float, command: str
) -> str:
    """Images of a few shapes and their per-pixel masks (``--classes`` shape kinds)."""
    from cnngen.rendering.engine import render_python

    for param, used in (
        ("--difficulty", options.difficulty != "easy"),
        ("--test-fraction", bool(options.test_fraction)),
    ):
        if used:
            raise CnngenError(f"{param}: the segmentation data takes no {param}; drop it", param)
    classes = options.classes if options.classes is not None else 2
    if not 1 <= classes <= len(shapes):
        raise CnngenError(
            f"--classes: the segmentation shapes come in 1 to {len(shapes)} kinds "
            f"({', '.join(shapes)}), got {classes}; the model then needs "
            f"--out-channels classes + 1 (the background is class 0)",
            "--classes",
        )
    check_positive("--channels", options.channels)
    check_positive("--samples", options.samples)
    _check_values("--samples", options.samples * options.channels * math.prod(size))
    if options.samples < 2:
        raise CnngenError(
            f"--samples: {options.samples} sample leaves none for validation; use 100 or more",
            "--samples",
        )
    if options.rotate:
        raise CnngenError(
            "--rotate: segmentation shapes are already placed at random; drop --rotate",
            "--rotate",
        )
    return render_python(
        "dataset_segmentation.py.jinja",
        description=", ".join(shapes[:classes]) + " on a noisy background",
        command=command,
        size=size,
        sample_shape=(options.channels, *size),
        samples=options.samples,
        shapes=shapes[:classes],
        out_channels=classes + 1,
        binary=classes == 1,
        objects=SEGMENTATION_OBJECTS,
        noise=noise,
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
    scheduler: str = "none",
    features: str | tuple[str, ...] | list[str] = DEFAULT_FEATURES,
    script_name: str = "train.py",
    command: str = "train",
    extra_weights: tuple[float, ...] = (),
    extra_steps: tuple[tuple[int, ...], ...] = (),
) -> str:
    """The source of a training script for a model module and a dataset module.

    ``features`` (names of FEATURES, "all" or "none") is what the script carries
    beyond training and evaluation; no line of a feature left out is written.
    ``extra_weights`` are the weights of the model's training-only outputs
    (``Plan.extras``, :func:`extra_options`): the script then trains on the main
    loss plus each extra's, weighted; for segmentation ``extra_steps`` gives the
    step per dimension at which each extra's mask is sampled.
    """
    from cnngen.rendering.engine import render_python

    check_choice("--task", task, TASKS)
    chosen = check_features(features)
    if scheduler != "none" and "schedule" not in chosen:
        raise CnngenError(
            f"--scheduler: {scheduler} needs the schedule feature; add --with schedule",
            "--scheduler",
        )
    check_module("--model-module", model_module)
    check_module("--dataset-module", dataset_module)
    _check_sibling_module("--model-module", model_module)
    _check_sibling_module("--dataset-module", dataset_module)
    check_class_name("--model-class", model_class, ("train",), template_names)
    if model_module == dataset_module:
        raise CnngenError(
            f"--dataset-module: {dataset_module!r} is also the model module; the model "
            f"and the dataset live in separate files",
            "--dataset-module",
        )
    check_count("--epochs", epochs, 1, MAX_EPOCHS)
    check_choice("--scheduler", scheduler, SCHEDULERS)
    check_positive("--batch-size", batch_size)
    check_number("--lr", lr, 0.0, MAX_LR, low_open=True, example="0.001")
    check_seed("--seed", seed)
    if not out:
        raise CnngenError("--out: must not be empty; e.g. --out runs", "--out")
    _check_extras(task, extra_weights, extra_steps)
    return render_python(
        f"train/{task}.py.jinja",
        task=task,
        features=chosen,
        model_module=model_module,
        model_class=model_class,
        dataset_module=dataset_module,
        model_import=f"from {model_module} import INPUT_SHAPE, OUTPUT_SHAPE, {model_class}",
        epochs=epochs,
        batch_size=batch_size,
        lr=float(lr),
        seed=seed,
        out=out,
        scheduler=scheduler,
        script_name=doc_text(script_name),
        command=command,
        extra_weights=tuple(float(weight) for weight in extra_weights),
        extra_steps=tuple(tuple(step) for step in extra_steps),
    )


def extra_options(extras: tuple[Extra, ...]) -> dict[str, tuple]:
    """``render_train``'s ``extra_weights`` and ``extra_steps`` for a plan's extras."""
    steps = tuple(extra.step for extra in extras if extra.step)
    return {"extra_weights": tuple(extra.weight for extra in extras), "extra_steps": steps}


def _check_extras(
    task: str, weights: tuple[float, ...], steps: tuple[tuple[int, ...], ...]
) -> None:
    """Extra losses: a finite positive weight each; segmentation also a sampling step each."""
    if (weights or steps) and task == "forecasting":
        raise CnngenError(
            "--extra-weights: forecasting models return no training-only outputs; drop it",
            "--extra-weights",
        )
    for weight in weights:
        check_number("--extra-weights", weight, 0.0, 1e6, low_open=True, example="0.3,0.3")
    if task == "classification" and steps:
        raise CnngenError(
            "--extra-steps: auxiliary classifiers take the labels as they are; drop it "
            "(it samples segmentation masks)",
            "--extra-steps",
        )
    if task == "segmentation" and len(steps) != len(weights):
        raise CnngenError(
            f"--extra-steps: {len(steps)} sampling steps for {len(weights)} --extra-weights; "
            f"give one per extra map, e.g. --extra-weights 0.5,0.25 --extra-steps 2x2,4x4",
            "--extra-steps",
        )
    for step in steps:
        for value in step:
            check_count("--extra-steps", value, 1, 2**30)


def render_predict(
    *,
    task: str,
    dataset_module: str = "dataset",
    model: str = "runs/model.onnx",
    seed: int = 0,
    command: str = "predict",
) -> str:
    """The source of ``predict.py``: inference with the files ``cnngen export`` wrote.

    ``model`` is the script's default ``--model`` (an ``.onnx`` or ``.pt2``);
    the ``.json`` beside it holds the shapes and the data contract.
    """
    from cnngen.rendering.engine import render_python

    check_choice("--task", task, TASKS)
    check_module("--dataset-module", dataset_module)
    _check_sibling_module("--dataset-module", dataset_module)
    check_seed("--seed", seed)
    stem, suffix = os.path.splitext(model)
    if (
        suffix not in (".onnx", ".pt2")
        or not os.path.basename(stem)
        or not re.fullmatch(r"[\w./-]+", model)
    ):
        raise CnngenError(
            f"--model: {model!r} is not an exported file; e.g. --model runs/model.onnx "
            f"(or runs/model.pt2)",
            "--model",
        )
    return render_python(
        f"predict/{task}.py.jinja",
        task=task,
        dataset_module=dataset_module,
        model_path=model,
        record_path=stem + ".json",
        pt2_path=stem + ".pt2",
        export_command=(
            f"cnngen export {os.path.basename(stem)}.py --weights runs/best.pt "
            f"--out {os.path.dirname(stem) or '.'}"
        ),
        seed=seed,
        command=command,
    )


def check_features(features: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The features named in ``features`` (a comma list or a sequence), in FEATURES order."""
    names = features.split(",") if isinstance(features, str) else list(features)
    if not all(isinstance(name, str) for name in names):
        raise CnngenError("--with: expected feature names, e.g. --with resume,plots", "--with")
    names = [name.strip() for name in names if name.strip()]
    if names == ["all"]:
        return tuple(FEATURES)
    if names == ["none"]:
        return ()
    for name in names:
        if name not in FEATURES:
            raise CnngenError(
                f"--with: unknown feature {name!r}; choose from {', '.join(FEATURES)}, all or none",
                "--with",
            )
    return tuple(name for name in FEATURES if name in names)


def render_finetune(
    *,
    model_module: str = "model",
    model_class: str = "Model",
    dataset_module: str = "dataset",
    weights: str = "runs/best.pt",
    freeze: tuple[str, ...] = ("all",),
    head: str | None = None,
    epochs: int = 5,
    batch_size: int = 32,
    lr: float = 1e-3,
    seed: int = 0,
    out: str = "finetune",
    scheduler: str = "warmup-multistep",
    script_name: str = "finetune.py",
    command: str = "train --task finetune",
) -> str:
    """The source of a transfer-learning script: load weights, replace the head, freeze, train."""
    from cnngen.rendering.engine import render_python

    check_module("--model-module", model_module)
    check_module("--dataset-module", dataset_module)
    check_class_name("--model-class", model_class, ("finetune",), template_names)
    if model_module == dataset_module:
        raise CnngenError(
            f"--dataset-module: {dataset_module!r} is also the model module; the model "
            f"and the dataset live in separate files",
            "--dataset-module",
        )
    check_positive("--epochs", epochs)
    check_positive("--batch-size", batch_size)
    check_choice("--scheduler", scheduler, SCHEDULERS)
    if not lr > 0:
        raise CnngenError(f"--lr: must be > 0, got {lr}", "--lr")
    for param, value in (("--weights", weights), ("--out", out)):
        if not value or not value.strip():
            raise CnngenError(f"{param}: must not be empty", param)
    for prefix in freeze:
        if prefix != "all":
            if not all(part.isidentifier() or part.isdigit() for part in prefix.split(".")):
                raise CnngenError(
                    f"--freeze: {prefix!r} is not a parameter name prefix; give dotted module "
                    f"names such as stage1 or layer1.0, or 'all'",
                    "--freeze",
                )
    if head is not None and not all(
        part.isidentifier() or part.isdigit() for part in head.split(".")
    ):
        raise CnngenError(
            f"--head: {head!r} is not a module name; give a dotted name such as head.2 or fc",
            "--head",
        )
    return render_python(
        "finetune.py.jinja",
        model_module=model_module,
        model_class=model_class,
        dataset_module=dataset_module,
        sibling_imports=[f"from {model_module} import INPUT_SHAPE, {model_class}"],
        weights=weights,
        freeze=tuple(freeze),
        head=head,
        epochs=epochs,
        batch_size=batch_size,
        lr=float(lr),
        seed=seed,
        out=out,
        scheduler=scheduler,
        script_name=doc_text(script_name),
        command=command,
    )


# ------------------------------------------------------------------ probes
# Files rendered with a probe class name so that cnngen.rendering.namespace can
# collect every name the templates use (see check_class_name).
def _train_sources() -> list[str]:
    # Every feature, and the default: a feature can also take a name away (the
    # default's log is functools.partial, ddp's a function of its own).
    model_module, dataset_module = PROBE_MODULES
    return [
        render_train(
            task=task,
            model_class=PROBE,
            model_module=model_module,
            dataset_module=dataset_module,
            features=features,
        )
        for task in TASKS
        for features in ("all", ",".join(DEFAULT_FEATURES))
    ] + [
        # A model with training-only outputs: the weighted loss (and its mask sampling).
        render_train(
            task=task,
            model_class=PROBE,
            model_module=model_module,
            dataset_module=dataset_module,
            features="all",
            **extra_options(_probe_extras(family, options)),
        )
        for task, family, options in (
            ("classification", "classifier", {"preset": "googlenet", "aux_logits": True}),
            ("segmentation", "unet", {"layers": 2, "deep_supervision": 1}),
        )
    ]


def _probe_extras(family: str, options: dict[str, object]) -> tuple[Extra, ...]:
    from cnngen.core.solver import solve
    from cnngen.core.spec import make_spec

    return solve(make_spec(family, input_size=(64, 64), **options)).extras


def _finetune_sources() -> list[str]:
    model_module, dataset_module = PROBE_MODULES
    return [
        render_finetune(
            model_class=PROBE,
            model_module=model_module,
            dataset_module=dataset_module,
        )
    ]


def _windows_sources() -> list[str]:
    return [
        render_windows(name=PROBE),
        render_windows(
            name=PROBE,
            threshold=0.5,
            binarize_x=True,
            data_path="a.npz",
            additional_paths=("b.npy",),
        ),
        render_windows(name=PROBE, single_output=True, data_path="a.npy"),
    ]


def _arrays_sources() -> list[str]:
    return [
        render_arrays(name=PROBE),
        render_arrays(name=PROBE, data_path="a.npz", layout="last"),
        render_arrays(name=PROBE, x_path="x.npy", y_path="y.npy", layout="first"),
    ]


def _synthetic_sources() -> list[str]:
    return [
        render_synthetic(Synthetic(kind="noisy-square", name=PROBE)),
        render_synthetic(Synthetic(kind="shapes", rotate=True)),
        render_synthetic(Synthetic(kind="shapes", size=(64,))),
    ]


register_sources("train", _train_sources)
register_sources("finetune", _finetune_sources)
register_sources("dataset_windows", _windows_sources)
register_sources("dataset_arrays", _arrays_sources)
register_sources("dataset_synthetic", _synthetic_sources)
