"""``cnngen project DIR``: a model, a synthetic dataset and a training script in one go.

The project is planned and rendered completely in memory first
(:mod:`cnngen.rendering.project`); only when every file rendered does anything
touch the disk.  ``python train.py`` in the folder then trains on seeded
synthetic data that matches the model's input and output shapes.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from cnngen.cli.lang import say
from cnngen.cli.options import Words, given_options, invocation, model_options
from cnngen.cli.output import announce, emit_files, stage_folder
from cnngen.errors import CnngenError
from cnngen.rendering.datafiles import DEFAULT_FEATURES, FEATURES_HELP, check_features
from cnngen.rendering.escape import shell_word, shell_words, terminal_text
from cnngen.rendering.project import (
    FILES,
    PROJECT_CLASSES,
    PROJECT_FRAMES_IN,
    PROJECT_FRAMES_OUT,
    PROJECT_SEGMENTATION_CHANNELS,
    PROJECT_SIZE,
    PROJECT_SIZES,
    ProjectSize,
    TrainDefaults,
    render_project,
)

PROJECT_FAMILIES = ("forecaster", "classifier", "equivariant", "unet")


def _by_size(value: Callable[[ProjectSize], object]) -> str:
    return ", ".join(f"{value(size)} {name}" for name, size in PROJECT_SIZES.items())


def write_project(folder: Path, files: dict[str, str], force: bool) -> None:
    """Write the rendered files as one unit; an existing non-empty folder needs ``force``.

    A new folder is staged next to its final place and renamed, so it appears
    complete or not at all; into an existing folder the files are staged and
    renamed together (see :func:`cnngen.cli.output.emit_files`).
    """
    name = os.fspath(folder)
    try:
        status = os.stat(folder)
    except FileNotFoundError:
        if os.path.islink(folder):
            raise CnngenError(
                f"DIR: {name} is a symbolic link to {os.readlink(folder)}, which does not "
                f"exist; remove the link or give another folder name",
                "DIR",
            ) from None
        status = None
    except NotADirectoryError:
        raise CnngenError(
            f"DIR: {name}: a part of the path is a file, not a folder", "DIR"
        ) from None
    if status is not None and not stat.S_ISDIR(status.st_mode):
        raise CnngenError(f"DIR: {name} is a file; give a folder name", "DIR")
    if status is not None:
        if any(folder.iterdir()) and not force:
            raise CnngenError(
                f"DIR: {name} exists and is not empty; pass --force to write the project "
                f"files into it (other files are left alone)",
                "DIR",
            )
        emit_files([(folder / file, files[file], "DIR") for file in FILES], force=force)
        return
    parent = folder.parent
    if not parent.is_dir():
        raise CnngenError(f"DIR: folder {parent} does not exist; create it first", "DIR")
    stage_folder(folder, {file: files[file] for file in FILES})
    for file in FILES:
        announce(say()("cli.wrote", name=terminal_text(str(folder / file))))


@click.command("project")
@click.argument("folder", metavar="DIR")
@click.option(
    "--family",
    type=Words(PROJECT_FAMILIES),
    default="forecaster",
    show_default=True,
    help=f"What the project trains (unet: segmentation). One of: {', '.join(PROJECT_FAMILIES)}.",
)
@click.option(
    "--size",
    "project_size",
    type=click.Choice(tuple(PROJECT_SIZES)),
    default=PROJECT_SIZE,
    show_default=True,
    help="Input size, synthetic data and widths: tiny (seconds), small (an epoch in about a "
    "minute on a laptop CPU), paper (64x64, wider, 5000 samples).",
)
@model_options
@click.option(
    "--frames",
    type=int,
    default=None,
    help="Forecasters: frames of the synthetic series.  [default: "
    + _by_size(lambda size: size.frames)
    + "]",
)
@click.option(
    "--samples",
    type=int,
    default=None,
    help="Classifiers and U-Nets: synthetic samples.  [default: "
    + _by_size(lambda size: size.samples)
    + "]",
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
@click.option("--with", "features", default=None, metavar="FEATURES", help=FEATURES_HELP)
@click.option("--force", is_flag=True, help="Write into an existing non-empty DIR.")
@click.option("--dry-run", is_flag=True, help="Print the files it would write; write nothing.")
@click.pass_context
def project_command(
    ctx: click.Context,
    folder: str,
    family: str,
    project_size: str,
    dry_run: bool,
    frames: int | None,
    samples: int | None,
    noise: float | None,
    rotate: bool | None,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    features: str | None,
    force: bool,
    **model: Any,
) -> None:
    """Write a starter project: model, synthetic dataset, train.py, README, config.

    \b
    Defaults: --input-size 32x32; forecasters 4 frames in, 2 out; classifiers 4 classes;
    U-Nets 3 output channels (background and two shape kinds to segment; --out-channels 1
    is binary segmentation of one shape kind).
    Examples:
      cnngen project demo
      cnngen project shapes --family classifier -i 28x28 --classes 4
      cnngen project seg --family unet -i 97x131
      cd demo && python train.py
    """
    given = given_options(ctx)
    unused = {"samples", "rotate"} if family == "forecaster" else {"frames"}
    for name in sorted(given & unused):
        option = "--" + name
        raise CnngenError(
            f"{option}: the synthetic data of a {family} project does not use it; drop it",
            option,
        )
    files = render_project(
        folder,
        family,
        model,
        frames=frames,
        samples=samples,
        noise=noise,
        rotate=rotate,
        train=TrainDefaults(
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            seed=seed,
            features=DEFAULT_FEATURES if features is None else check_features(features),
        ),
        command=shell_words(invocation(ctx)),
        size=project_size,
    )
    if dry_run:
        for file in FILES:
            lines = files[file].count("\n")
            click.echo(f"would write {terminal_text(str(Path(folder) / file))} ({lines} lines)")
        return
    write_project(Path(folder), files, force)
    click.echo(f"next: cd {shell_word(folder)} && python train.py", err=True)


def _state_project_defaults(command: click.Command) -> None:
    """The model options' help states `cnngen model`'s defaults; a project has its own."""
    small = PROJECT_SIZES[PROJECT_SIZE]
    real = {
        "input_size": "x".join(map(str, small.input_size)) + " (--size small)",
        "in_channels": f"{PROJECT_FRAMES_IN} for forecasters, 1 otherwise",
        "out_channels": f"{PROJECT_FRAMES_OUT} for forecasters, "
        f"{PROJECT_SEGMENTATION_CHANNELS} for U-Nets",
        "classes": str(PROJECT_CLASSES),
        "layers": f"4; {small.unet_layers} for U-Nets (--size small)",
        "start_channels": f"{small.start_channels}, {small.unet_start_channels} for U-Nets "
        "(--size small)",
    }
    for param in command.params:
        if param.name in real and isinstance(param, click.Option) and param.help:
            text = param.help.split("  [default:")[0]
            param.help = f"{text}  [default: {real[param.name]}]"


_state_project_defaults(project_command)
