"""``cnngen export MODEL.py``: a deployable ``torch.export`` program and a file per runtime.

The torch work lives in :mod:`cnngen.deploy.export`, imported only when the
command runs, so starting the CLI still never imports torch.
"""

from __future__ import annotations

import contextlib
import io
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import click

from cnngen.cli.options import invocation
from cnngen.cli.output import cleanup_on_signals
from cnngen.deploy import ONNX_OPSET, require_torch
from cnngen.deploy.runtimes import DEFAULT_TARGETS, TARGETS, parse_targets
from cnngen.errors import CnngenError
from cnngen.rendering.escape import command_line, terminal_text


@click.command("export")
@click.argument("file", metavar="MODEL.py")
@click.option(
    "--weights",
    default=None,
    metavar="FILE",
    help="A state_dict or a train.py checkpoint (its 'model' entry), loaded with "
    "weights_only=True on the CPU. Without it the freshly built model is exported.",
)
@click.option(
    "--out",
    default=".",
    show_default=True,
    help="Folder for MODEL.pt2, MODEL.json and the files of each --target.",
)
@click.option(
    "--max-batch",
    "max_batch",
    default=64,
    show_default=True,
    type=int,
    help="Largest batch the exported programs accept (the batch dimension runs 1..N); "
    "runtimes that plan memory ahead size their buffers for it.",
)
@click.option(
    "--target",
    "target_text",
    default=",".join(DEFAULT_TARGETS),
    show_default=True,
    metavar="LIST",
    help=f"Runtimes to write for, comma separated: {', '.join(TARGETS)}, or all. "
    "MODEL.pt2 is always written (the others start from it).",
)
@click.option(
    "--opset",
    default=ONNX_OPSET,
    show_default=True,
    type=int,
    help="ONNX opset asked of the exporter; MODEL.json records the file's real one.",
)
@click.option(
    "--torchscript",
    is_flag=True,
    help="Same as adding torchscript to --target (MODEL.torchscript.pt, torch.jit.script).",
)
@click.option(
    "--no-latency",
    "no_latency",
    is_flag=True,
    help="Skip timing each runtime at batch 1, 8 and --max-batch (at most 64) for MODEL.json.",
)
@click.option(
    "--int8",
    is_flag=True,
    help="Also write MODEL.int8.pte (ExecuTorch, XNNPACK) and MODEL.int8.pt2: PT2E int8, "
    "calibrated on --dataset; MODEL.json records accuracy (or error) before and after. "
    'Needs pip install "cnngen[executorch]".',
)
@click.option(
    "--dataset",
    default=None,
    metavar="DATASET.py",
    help="The generated dataset file the model was trained with (--int8 calibrates on its "
    "training split and evaluates on its test split, else validation).",
)
@click.option(
    "--calibration-samples",
    "calibration_samples",
    default=256,
    show_default=True,
    type=click.IntRange(1, 1_000_000),
    help="Training samples the int8 observers see.",
)
@click.option("--force", is_flag=True, help="Overwrite existing files.")
@click.pass_context
def export_command(
    ctx: click.Context,
    file: str,
    weights: str | None,
    out: str,
    max_batch: int,
    target_text: str,
    opset: int,
    torchscript: bool,
    no_latency: bool,
    int8: bool,
    dataset: str | None,
    calibration_samples: int,
    force: bool,
) -> None:
    """Export a model file to torch.export, ONNX and more runtimes, checked against PyTorch.

    \b
    Writes MODEL.pt2 (torch.export) and, per --target, MODEL.onnx, MODEL.pte
    (ExecuTorch, XNNPACK), MODEL.xml/.bin (OpenVINO IR) and
    MODEL.torchscript.pt, all with a dynamic batch; runs each at batch 1 and
    7 against the eager model, times it, and records shapes, opset,
    differences and latencies in MODEL.json. A runtime whose package is
    missing, or that cannot run the model, is left out with one line.
    Needs torch: pip install "cnngen[torch]".
    Example:
      cnngen export model.py --weights runs/best.pt --out deploy --target all
    """
    path = Path(file)
    if not path.is_file() or path.suffix != ".py":
        raise CnngenError(
            f"MODEL.py: {path} is not a Python file; give the model file, e.g. model.py",
            "MODEL.py",
        )
    try:
        chosen = parse_targets(target_text)
    except ValueError as error:
        raise CnngenError(
            f"--target: {terminal_text(str(error))!r} is not a runtime; choose from "
            f"{', '.join(TARGETS)} or all, comma separated, e.g. --target pt2,onnx",
            "--target",
        ) from None
    if torchscript and "torchscript" not in chosen:
        chosen = [name for name in TARGETS if name in {*chosen, "torchscript"}]
    if weights is not None and not Path(weights).is_file():
        raise CnngenError(f"--weights: {weights} does not exist", "--weights")
    if not 7 <= max_batch <= 65536:
        raise CnngenError(
            f"--max-batch: {max_batch} is out of range; give 7 to 65536 (the export is "
            f"traced and checked at batch 7), e.g. --max-batch 64",
            "--max-batch",
        )
    if int8 and dataset is None:
        raise CnngenError(
            "--dataset: --int8 calibrates on a dataset file; give the generated one, "
            "e.g. --int8 --dataset dataset.py",
            "--dataset",
        )
    if dataset is not None and not (Path(dataset).is_file() and dataset.endswith(".py")):
        raise CnngenError(
            f"--dataset: {dataset} is not a Python file; give the generated dataset file, "
            f"e.g. dataset.py",
            "--dataset",
        )
    folder = Path(out)
    names = [name for target in chosen for name in TARGETS[target].files(path.stem)]
    targets = [folder / name for name in names] + [folder / f"{path.stem}.json"]
    for target in targets:
        if target.is_dir():
            raise CnngenError(
                f"--out: {terminal_text(str(target))} is a folder, in the way of the file "
                f"export writes; remove it or choose another --out",
                "--out",
            )
    extra = [folder / f"{path.stem}.int8{suffix}" for suffix in (".pte", ".pt2")] if int8 else []
    existing = [str(target) for target in targets + extra if target.exists()]
    if existing and not force:
        raise CnngenError(
            f"--out: {', '.join(existing)} already exist; add --force to overwrite",
            "--out",
        )
    require_torch("export")
    _DONE.clear()
    with _step("importing torch"):
        from cnngen.deploy.export import ExportError, export_model_file
        from cnngen.deploy.onnx_export import onnx_exporter, opset_range
        from cnngen.deploy.onnx_export import onnx_missing as missing_onnx
    if "onnx" in chosen and missing_onnx() is None:
        exporter = onnx_exporter()
        low, high = opset_range(exporter)
        if not low <= opset <= high:
            raise CnngenError(
                f"--opset: {opset} is out of range; the {exporter} ONNX exporter writes "
                f"opsets {low} to {high}, e.g. --opset {ONNX_OPSET}",
                "--opset",
            )
    caught: list[str] = []
    runtimes = ", ".join(chosen)
    timing = "" if no_latency else "; timed for the latency table"
    try:
        with (
            cleanup_on_signals() as pending,
            _step(
                f"exporting {path.name} ({runtimes}; checks at batch 1 and 7{timing}"
                f"{'; int8 calibrated and evaluated' if int8 else ''})"
            ),
            warnings.catch_warnings(record=True) as recorded,
            contextlib.redirect_stdout(io.StringIO()) as chatter,
        ):
            warnings.simplefilter("always")
            try:
                record = export_model_file(
                    path,
                    None if weights is None else Path(weights),
                    folder,
                    "cnngen " + command_line(invocation(ctx)),
                    max_batch,
                    on_stage=pending.append,
                    targets=chosen,
                    opset=opset,
                    latency=not no_latency,
                    int8=Path(dataset) if int8 and dataset is not None else None,
                    calibration_samples=calibration_samples,
                )
            finally:
                caught = [str(w.message).splitlines()[0] for w in recorded if str(w.message)]
                caught += [line for line in chatter.getvalue().splitlines() if line.strip()]
    except ExportError as error:
        click.echo(f"Error: {error}", err=True)
        raise click.exceptions.Exit(1) from None
    if caught:
        distinct = list(dict.fromkeys(caught))
        click.echo(
            f"torch said {len(caught)} thing(s) while exporting ({len(distinct)} distinct); "
            f"first: {distinct[0][:160]}",
            err=True,
        )
    _report_steps()
    click.echo(_summary(record, folder, path.stem))
    for target, reason in record["skipped"].items():
        click.echo(f"no {folder / TARGETS[target].files(path.stem)[0]}: {reason}")
    if int8:
        click.echo(_int8_line(record["int8"], folder / f"{path.stem}.int8.pte"))


def _summary(record: dict, folder: Path, stem: str) -> str:
    """``wrote A, B (...) and C: Class (shape) -> (shape), batch 1 and 7 match ...``."""
    written = []
    for target in record["targets"]:
        if target in record["skipped"]:
            continue
        first, *others = TARGETS[target].files(stem)
        name = str(folder / first) + "".join(f"/{Path(other).suffix}" for other in others)
        if target == "onnx":
            name += f" ({record['onnx_exporter']} exporter, opset {record['opset']})"
        written.append(name)
    written.append(str(folder / f"{stem}.json"))
    differences = [
        value for kind in record["max_abs_diff"].values() for value in (kind or {}).values()
    ]
    not_run = [
        target
        for target in record["targets"]
        if target not in record["skipped"] and record["max_abs_diff"][target] is None
    ]
    note = " (ONNX not run: no onnxruntime)" if "onnx" in not_run else ""
    return (
        f"wrote {', '.join(written[:-1])} and {written[-1]}: {record['class_name']} "
        f"{tuple(record['input_shape'])} -> {tuple(record['output_shape'])}, batch 1 and 7 "
        f"match the model (max abs diff {max(differences):.2g}){note}"
    )


def _int8_line(entry: dict, pte: Path) -> str:
    """One line on the int8 program: its accuracy (or error) before and after, and its size."""
    if "skipped" in entry:
        return f"no {pte}: {entry['skipped']}"
    if "accuracy" in entry:
        fp32, int8 = entry["accuracy"]["fp32"], entry["accuracy"]["int8"]
        metric = f"accuracy {100 * fp32:.2f}% -> {100 * int8:.2f}%"
    elif "mse" in entry:
        metric = f"MSE {entry['mse']['fp32']:.4g} -> {entry['mse']['int8']:.4g}"
    else:
        metric = f"max abs diff {entry['max_abs_diff']:.3g}"
    return (
        f"wrote {pte}: int8, {metric} on {entry['evaluated_samples']} {entry['evaluated_on']} "
        f"samples (ExecuTorch), {entry['size_ratio']:.1f}x smaller than the fp32 .pte"
    )


_DONE: list[str] = []


@contextlib.contextmanager
def _step(what: str) -> Iterator[None]:
    """One progress line on stderr per step, with its elapsed time once done.

    On a terminal the step shows as it starts; elsewhere (logs, pipes) the
    timings come once every step succeeded, so an error stays a single line.
    """
    live = sys.stderr.isatty()
    start = time.perf_counter()
    if live:
        click.echo(f"{what} ...", err=True)
    yield
    line = f"{what}: done in {time.perf_counter() - start:.1f} s"
    if live:
        click.echo(line, err=True)
    else:
        _DONE.append(line)


def _report_steps() -> None:
    for line in _DONE:
        click.echo(line, err=True)
    _DONE.clear()
