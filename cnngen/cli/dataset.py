"""``cnngen dataset windows|arrays|synthetic``: write a standalone dataset file."""

from __future__ import annotations

from typing import Any

import click

from cnngen.cli.options import SIZE, Words, given_options, invocation
from cnngen.cli.output import emit, output_options
from cnngen.rendering.datafiles import (
    SYNTHETIC_KINDS,
    WINDOW_EXTRAS,
    Synthetic,
    check_synthetic_options,
    render_arrays,
    render_folder,
    render_idx,
    render_synthetic,
    render_windows,
)
from cnngen.rendering.escape import command_line


@click.group("dataset")
def dataset_group() -> None:
    """Write a standalone dataset file (imports only numpy and torch).

    \b
    Every file defines make_datasets(seed) -> (train, val) or, with a held-out
    test split, (train, val, test), which train.py calls.  No file downloads
    anything: data is read from local paths.
    Examples:
      cnngen dataset windows --pre-history 60 --forecast 30 --data frames.npy -o dataset.py
      cnngen dataset arrays --data digits.npz -o dataset.py
      cnngen dataset idx --images train-images-idx3-ubyte.gz --labels train-labels-idx1-ubyte.gz -o dataset.py
      cnngen dataset folder --root photos --size 64x64 -o dataset.py
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
    help="An extra series stacked as channels of x (repeatable); make_datasets merges "
    "them into the channels, so the model takes --in-channels PRE_HISTORY x (1 + extras).",
)
@click.option(
    "--extras",
    type=click.Choice(WINDOW_EXTRAS),
    default="channels",
    show_default=True,
    help="How x holds the series: channels: [PRE_HISTORY x (1 + extras), H, W] for a 2D "
    "forecaster; stack: [1 + extras, PRE_HISTORY, H, W] (time as depth, y [1, FORECAST, H, "
    "W]) for a 3D forecaster with --out-depth FORECAST.",
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


@dataset_group.command("idx")
@click.option(
    "--images",
    required=True,
    help="Training images: an IDX file, e.g. train-images-idx3-ubyte[.gz].",
)
@click.option(
    "--labels",
    required=True,
    help="Training labels: an IDX file, e.g. train-labels-idx1-ubyte[.gz].",
)
@click.option("--test-images", default=None, help="Test images (IDX): adds a held-out test split.")
@click.option("--test-labels", default=None, help="Test labels (IDX), with --test-images.")
@click.option(
    "--class-names",
    "class_names_",
    default="digits",
    show_default=True,
    help="digits (MNIST), fashion (Fashion-MNIST) or names separated by commas.",
)
@click.option(
    "--val-fraction",
    type=float,
    default=0.2,
    show_default=True,
    help="Share of the training images held out for validation.",
)
@click.option("--name", default="IdxDataset", show_default=True, help="Class name.")
@output_options()
@click.pass_context
def idx_command(
    ctx: click.Context, output: str, force: bool, check: bool, dry_run: bool, **options: Any
) -> None:
    """MNIST / Fashion-MNIST from local IDX files (gzipped or not); no download.

    \b
    Samples are float32 [1, H, W], normalized with training statistics.
    Example:
      cnngen dataset idx --images train-images-idx3-ubyte.gz --labels train-labels-idx1-ubyte.gz \\
        --test-images t10k-images-idx3-ubyte.gz --test-labels t10k-labels-idx1-ubyte.gz \\
        --class-names fashion -o dataset.py
    """
    text = render_idx(command=command_line(invocation(ctx)), **options)
    emit(text, output, force=force, check=check, dry_run=dry_run)


@dataset_group.command("folder")
@click.option("--root", required=True, help="Folder with one subfolder of images per class.")
@click.option("--test-root", default=None, help="The same layout for a held-out test split.")
@click.option(
    "--size",
    type=SIZE,
    default=None,
    help="Resize to HxW (Pillow); without it images keep their size.",
)
@click.option(
    "--channels",
    type=int,
    default=3,
    show_default=True,
    help="1 (gray) or 3 (RGB): channels of every sample.",
)
@click.option(
    "--val-fraction",
    type=float,
    default=0.2,
    show_default=True,
    help="Share of ROOT held out for validation.",
)
@click.option(
    "--stats-samples",
    type=int,
    default=1000,
    show_default=True,
    help="Training images read for the normalization statistics.",
)
@click.option("--name", default="FolderDataset", show_default=True, help="Class name.")
@output_options()
@click.pass_context
def folder_command(
    ctx: click.Context, output: str, force: bool, check: bool, dry_run: bool, **options: Any
) -> None:
    """Images from class folders on a local path: ROOT/CLASS/IMAGE.

    \b
    .npy and binary .pgm/.ppm need nothing more; PNG, JPEG, BMP and GIF
    need Pillow (pip install pillow), and the file says so when it is missing.
    Example:
      cnngen dataset folder --root data/train --test-root data/test --size 64x64 -o dataset.py
    """
    text = render_folder(command=command_line(invocation(ctx)), **options)
    emit(text, output, force=force, check=check, dry_run=dry_run)


@dataset_group.command("synthetic")
@click.argument("kind", type=Words(SYNTHETIC_KINDS))
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
    help="Noise standard deviation.  [default: 0 moving-square, 0.1 noisy-square, 0.3 shapes "
    "and segmentation, 0.6 hard shapes]",
)
@click.option(
    "--samples",
    type=int,
    default=1000,
    show_default=True,
    help="Shapes and segmentation: number of samples.",
)
@click.option(
    "--classes",
    type=int,
    default=None,
    help="Classification: number of shapes (2 to 6); segmentation: shape kinds (1 to 6).  "
    "[default: 4 easy, 6 hard; 2 for segmentation]",
)
@click.option(
    "--difficulty",
    type=click.Choice(["easy", "hard"]),
    default="easy",
    show_default=True,
    help="Classification: hard adds distractor strokes, stronger noise, wider scale, "
    "position and contrast.",
)
@click.option(
    "--test-fraction",
    type=float,
    default=0.0,
    show_default=True,
    help="Classification: share held out as a test split (make_datasets returns 3 splits).",
)
@click.option(
    "--channels",
    type=int,
    default=1,
    show_default=True,
    help="Shapes and segmentation: channels per sample.",
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
    """Seeded synthetic data: KIND is moving-square, noisy-square, shapes or segmentation.

    \b
    moving-square / noisy-square: frames of a square moving on a circle, cut
    into forecasting windows.  shapes: squares, circles, triangles, crosses,
    rings and x's on noise, for classification.  segmentation: 1 to 3 such
    shapes per image and a mask giving each pixel its class (0 background).
    Examples:
      cnngen dataset synthetic shapes --size 28x28 --classes 4 --rotate -o dataset.py
      cnngen dataset synthetic segmentation --size 97x131 --classes 1 -o dataset.py
    """
    check_synthetic_options(kind, given_options(ctx))
    text = render_synthetic(
        Synthetic(kind=kind, **options),
        command=command_line(invocation(ctx)),
    )
    emit(text, output, force=force, check=check, dry_run=dry_run)
