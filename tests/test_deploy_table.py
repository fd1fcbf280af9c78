"""The family x runtime table of docs/deploy.md says what ``cnngen export`` really does.

One small model per row goes through every installed runtime; a cell reads
``yes`` when the file was written and matched the model at batch 1 and 7, and
``refused: REASON`` when export left that runtime out with a line holding
REASON.  Runtimes not installed here are not checked.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from generated import load, model_class, write_model

from cnngen.deploy.runtimes import TARGETS

DOC = Path(__file__).resolve().parents[1] / "docs" / "deploy.md"
HEADING = "## Which family reaches which runtime"

ROWS: dict[str, tuple[str, dict[str, Any]]] = {
    "classifier 1D": ("classifier", {"input_size": (32,), "layers": 2, "start_channels": 4}),
    "classifier 2D": ("classifier", {"input_size": (16, 16), "layers": 2, "start_channels": 4}),
    "classifier 3D": ("classifier", {"input_size": (6, 8, 8), "layers": 2, "start_channels": 4}),
    "classifier residual + SE": (
        "classifier",
        {"input_size": (16, 16), "layers": 2, "start_channels": 4, "block": "residual", "se": True},
    ),
    "preset lenet5": ("classifier", {"preset": "lenet5"}),
    "forecaster 2D": ("forecaster", {"input_size": (16, 16), "in_channels": 2, "layers": 2}),
    "forecaster latent": (
        "forecaster",
        {"input_size": (16, 16), "in_channels": 2, "layers": 2, "latent": 8},
    ),
    "U-Net 1D": ("unet", {"input_size": (32,), "layers": 2, "start_channels": 4}),
    "U-Net 2D": ("unet", {"input_size": (16, 16), "layers": 2, "start_channels": 4}),
    "U-Net 3D": ("unet", {"input_size": (8, 8, 8), "layers": 2, "start_channels": 4}),
    "C4 (equivariant)": ("equivariant", {"input_size": (12, 12), "layers": 2}),
    "p4 (equivariant, group conv)": (
        "equivariant",
        {"input_size": (13, 13), "layers": 2, "start_channels": 4, "group_conv": True},
    ),
}


def doc_table() -> tuple[list[str], dict[str, dict[str, str]]]:
    """The runtime columns and, per family row, each cell of the table under :data:`HEADING`."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = lines.index(HEADING)
    rows = []
    for line in lines[start + 1 :]:
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif rows:
            break
    header, _, *body = rows
    assert header[0] == "family"
    return header[1:], {row[0]: dict(zip(header[1:], row[1:], strict=True)) for row in body}


def test_the_table_has_a_row_per_family_and_a_column_per_runtime() -> None:
    columns, table = doc_table()
    assert columns == list(TARGETS)
    assert list(table) == list(ROWS)


@pytest.mark.slow
def test_the_table_says_what_export_does(tmp_path: Path) -> None:
    from cnngen.deploy.export import export_files

    columns, table = doc_table()
    installed = [name for name in columns if TARGETS[name].missing() is None]
    assert "pt2" in installed
    seen: dict[str, dict[str, str]] = {}
    started = time.monotonic()
    for row, (family, options) in ROWS.items():
        folder = tmp_path / f"row{len(seen)}"
        folder.mkdir()
        path = write_model(folder, family, **options)
        module = load(path)
        model = model_class(module)()
        record = export_files(
            model, module.INPUT_SHAPE, folder, path.stem, "cnngen export", 16,
            targets=installed, latency=False,
        )  # fmt: skip
        seen[row] = {}
        for name in installed:
            if name in record["skipped"]:
                reason = table[row][name].removeprefix("refused: ")
                assert table[row][name].startswith("refused: "), (row, name, record["skipped"])
                assert reason.lower() in record["skipped"][name].lower(), (row, name, reason)
                seen[row][name] = "refused"
            elif record["max_abs_diff"][name] is not None:  # written and run (ONNX needs ORT)
                assert table[row][name] == "yes", (row, name)
                seen[row][name] = "yes"
    assert len(seen) == len(ROWS)
    print(f"{len(ROWS)} families x {installed} in {time.monotonic() - started:.0f} s")
