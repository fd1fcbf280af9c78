"""``cnngen export MODEL.py``: a deployable ``torch.export`` program and ONNX file.

The torch work lives in :mod:`cnngen.deploy.export`, imported only when the
command runs, so starting the CLI still never imports torch.
"""

from __future__ import annotations

from pathlib import Path

import click

from cnngen.cli.options import invocation
from cnngen.cli.output import cleanup_on_signals
from cnngen.deploy import require_torch
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
    help="Folder for MODEL.pt2, MODEL.onnx and MODEL.json.",
)
@click.option("--force", is_flag=True, help="Overwrite existing files.")
@click.pass_context
def export_command(
    ctx: click.Context, file: str, weights: str | None, out: str, force: bool
) -> None:
    """Export a model file to torch.export and ONNX, checked against PyTorch.

    \b
    Writes MODEL.pt2 (torch.export) and MODEL.onnx (the dynamo exporter when
    onnxscript is installed), both with a dynamic batch, runs each at batch 1
    and 7 against the eager model, and records shapes, opset and the
    differences in MODEL.json. Needs torch: pip install "cnngen[torch]".
    Example:
      cnngen export model.py --weights runs/best.pt --out deploy
    """
    path = Path(file)
    if not path.is_file() or path.suffix != ".py":
        raise CnngenError(
            f"MODEL.py: {path} is not a Python file; give the model file, e.g. model.py",
            "MODEL.py",
        )
    if weights is not None and not Path(weights).is_file():
        raise CnngenError(f"--weights: {weights} does not exist", "--weights")
    folder = Path(out)
    targets = [folder / f"{path.stem}{suffix}" for suffix in (".pt2", ".onnx", ".json")]
    for target in targets:
        if target.is_dir():
            raise CnngenError(
                f"--out: {terminal_text(str(target))} is a folder, in the way of the file "
                f"export writes; remove it or choose another --out",
                "--out",
            )
    existing = [str(target) for target in targets if target.exists()]
    if existing and not force:
        raise CnngenError(
            f"--out: {', '.join(existing)} already exist; add --force to overwrite", "--out"
        )
    require_torch("export")
    from cnngen.deploy.export import ExportError, export_model_file

    try:
        with cleanup_on_signals() as pending:
            record = export_model_file(
                path,
                None if weights is None else Path(weights),
                folder,
                "cnngen " + command_line(invocation(ctx)),
                on_stage=pending.append,
            )
    except ExportError as error:
        click.echo(f"Error: {error}", err=True)
        raise click.exceptions.Exit(1) from None
    differences = [
        value for kind in record["max_abs_diff"].values() for value in (kind or {}).values()
    ]
    onnx_note = (
        "" if record["max_abs_diff"]["onnx"] is not None else " (ONNX not run: no onnxruntime)"
    )
    click.echo(
        f"wrote {targets[0]}, {targets[1]} ({record['onnx_exporter']} exporter, opset "
        f"{record['opset']}) and {targets[2]}: {record['class_name']} "
        f"{tuple(record['input_shape'])} -> {tuple(record['output_shape'])}, batch 1 and 7 "
        f"match the model (max abs diff {max(differences):.2g}){onnx_note}"
    )
