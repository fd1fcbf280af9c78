"""ExecuTorch ``.pte`` programs and int8 export: every 2-D family runs there at batch 1, 7 and
the bound, 3-D ones are refused in one line, and the int8 digits classifier keeps its accuracy."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from generated import load, model_class, write_model
from test_export_paths import FAMILIES

import cnngen
from cnngen.deploy.edge import (
    EdgeError,
    executorch_missing,
    executorch_refusal,
    run_pte,
    write_pte,
)
from cnngen.deploy.export import sample_inputs
from cnngen.deploy.onnx_export import export_program

MISSING = executorch_missing()
needs_executorch = pytest.mark.skipif(MISSING is not None, reason=str(MISSING))


def _dimensions(key: str) -> int:
    family, options = FAMILIES[key]
    return len(cnngen.plan(family, **options).input_shape) - 1


FLAT = sorted(key for key in FAMILIES if _dimensions(key) == 2)  # 1-D runs too, as 2-D does
SOLID = sorted(key for key in FAMILIES if _dimensions(key) == 3)


def _program(key: str, max_batch: int = 64) -> tuple[torch.nn.Module, Any, tuple[int, ...]]:
    family, options = FAMILIES[key]
    plan = cnngen.plan(family, **options)
    torch.manual_seed(0)
    model = cnngen.build(plan).eval()
    shape = tuple(plan.input_shape)
    return model, export_program(model, torch.randn(7, *shape), max_batch), shape


@pytest.mark.slow
@needs_executorch
@pytest.mark.parametrize("key", FLAT)
def test_every_2d_family_runs_in_executorch(key: str, tmp_path: Path) -> None:
    model, program, shape = _program(key)
    assert executorch_refusal(shape) is None
    path = tmp_path / f"{key}.pte"
    write_pte(program, path)
    inputs = {**sample_inputs(shape), 64: torch.randn(64, *shape)}  # 64: the batch bound
    outputs = run_pte(path, inputs)
    with torch.no_grad():
        for batch, x in inputs.items():
            expected = model(x)
            torch.testing.assert_close(outputs[batch], expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("key", SOLID)
def test_three_d_families_are_refused_in_one_line(key: str) -> None:
    family, options = FAMILIES[key]
    shape = tuple(cnngen.plan(family, **options).input_shape)
    line = executorch_refusal(shape)
    assert line is not None and "\n" not in line
    assert "3-D" in line and "x".join(map(str, shape)) in line and "5-D convolution" in line


@pytest.mark.slow
@needs_executorch
def test_the_refusal_is_true_a_three_d_program_fails_in_executorch(tmp_path: Path) -> None:
    _, program, shape = _program("encoder-3d")
    path = tmp_path / "solid.pte"
    write_pte(program, path)
    with pytest.raises(EdgeError, match="ExecuTorch failed at batch 1: .*Check failed"):
        run_pte(path, {1: torch.randn(1, *shape)})


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def digits_project(tmp_path: Path) -> tuple[Path, Path, Path]:
    """scikit-learn's digits as IDX files (the last 297 as the test split), a dataset file,
    and a small classifier trained on its training split: (model, checkpoint, dataset)."""
    from sklearn.datasets import load_digits

    from cnngen.rendering.datafiles import render_idx

    data = load_digits()
    images = np.round(data.images * 255 / 16)
    for name, rows in (("train", slice(0, 1500)), ("test", slice(1500, None))):
        _write_idx(tmp_path / f"{name}-images", images[rows])
        _write_idx(tmp_path / f"{name}-labels", data.target[rows])
    dataset = tmp_path / "dataset.py"
    files = {f"{key}": str(tmp_path / f"{name}-{kind}") for key, name, kind in (
        ("images", "train", "images"), ("labels", "train", "labels"),
        ("test_images", "test", "images"), ("test_labels", "test", "labels"),
    )}  # fmt: skip
    dataset.write_text(render_idx(**files))
    path = write_model(tmp_path, "classifier", input_size=(8, 8), layers=2, classes=10)
    train = load(dataset).make_datasets(0)[0]
    x = torch.stack([train[i][0] for i in range(len(train))])
    y = torch.stack([train[i][1] for i in range(len(train))])
    torch.manual_seed(0)
    model = model_class(load(path))()
    optimizer = torch.optim.Adam(model.parameters(), 3e-3)
    for _ in range(4):
        for rows in torch.randperm(len(x)).split(64):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x[rows]), y[rows]).backward()
            optimizer.step()
    weights = tmp_path / "best.pt"
    torch.save({"model": model.state_dict(), "args": {"seed": 0}}, weights)
    return path, weights, dataset


@pytest.mark.slow
@needs_executorch
def test_int8_digits_keep_their_accuracy_in_executorch(
    digits_project: tuple[Path, Path, Path], run_cli: Callable[..., Any]
) -> None:
    path, weights, dataset = digits_project
    out = path.parent / "deploy"
    result = run_cli(
        "export", str(path), "--weights", str(weights), "--out", str(out),
        "--int8", "--dataset", str(dataset), "--calibration-samples", "128",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert f"wrote {out / (path.stem + '.int8.pte')}: int8, accuracy " in result.out
    entry = json.loads((out / f"{path.stem}.json").read_text())["int8"]
    assert entry["evaluated_on"] == "test" and entry["evaluated_samples"] == 297
    assert entry["calibration_samples"] == 128
    fp32, int8 = entry["accuracy"]["fp32"], entry["accuracy"]["int8"]
    assert fp32 > 0.85 and abs(fp32 - int8) <= 0.01, entry
    assert entry["size_ratio"] > 2.5
    outputs = run_pte(out / f"{path.stem}.int8.pte", {7: torch.randn(7, 1, 8, 8)})
    assert outputs[7].shape == (7, 10)
    assert torch.export.load(out / f"{path.stem}.int8.pt2").module()(
        torch.randn(3, 1, 8, 8)
    ).shape == (3, 10)


def test_int8_without_a_dataset_is_a_usage_error(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    path = write_model(tmp_path, "classifier", input_size=(8, 8), layers=1)
    result = run_cli("export", str(path), "--out", str(tmp_path / "d"), "--int8")
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: --dataset: --int8 calibrates on")
    assert not (tmp_path / "d").exists()


def test_int8_without_executorch_still_writes_the_rest(
    tmp_path: Path, run_cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import cnngen.deploy.edge as edge

    monkeypatch.setattr(
        edge,
        "executorch_missing",
        lambda: f"executorch is not installed, {edge.EXECUTORCH_EXTRA} adds it",
    )
    path = write_model(tmp_path, "classifier", input_size=(8, 8), layers=1)
    dataset = tmp_path / "dataset.py"
    dataset.write_text("def make_datasets(seed):\n    raise AssertionError('not reached')\n")
    out = tmp_path / "d"
    result = run_cli("export", str(path), "--out", str(out), "--int8", "--dataset", str(dataset))
    assert result.code == 0, result.err
    pte = out / f"{path.stem}.int8.pte"
    assert (
        f'no {pte}: executorch is not installed, pip install "cnngen[executorch]" adds it'
        in result.out
    )
    assert (out / f"{path.stem}.pt2").is_file() and not pte.exists()
    record = json.loads((out / f"{path.stem}.json").read_text())
    assert record["int8"] == {"skipped": edge.executorch_missing()}


@pytest.mark.slow
@needs_executorch
def test_int8_forecaster_records_mse_before_and_after(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    path = write_model(
        tmp_path, "forecaster", input_size=(12, 12), in_channels=2, out_channels=1, layers=2
    )
    dataset = tmp_path / "dataset.py"
    dataset.write_text(
        "import torch\n\n\n"
        "def make_datasets(seed):\n"
        "    x = torch.randn(40, 2, 12, 12, generator=torch.Generator().manual_seed(seed))\n"
        "    items = [(sample, sample[:1] * 0.5) for sample in x]\n"
        "    return items[:30], items[30:]\n"
    )
    out = tmp_path / "d"
    result = run_cli("export", str(path), "--out", str(out), "--int8", "--dataset", str(dataset))
    assert result.code == 0, result.err
    assert "int8, MSE " in result.out and "on 10 validation samples" in result.out
    entry = json.loads((out / f"{path.stem}.json").read_text())["int8"]
    assert entry["calibration_samples"] == 30 and set(entry["mse"]) == {"fp32", "int8"}
    assert 0 < entry["mean_abs_diff"] <= entry["max_abs_diff"] < 1


@needs_executorch
def test_int8_of_a_three_d_model_is_refused_and_the_rest_written(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    path = write_model(tmp_path, "encoder", input_size=(4, 6, 6), layers=1, start_channels=4)
    dataset = tmp_path / "dataset.py"
    dataset.write_text("def make_datasets(seed):\n    raise AssertionError('not reached')\n")
    out = tmp_path / "d"
    result = run_cli("export", str(path), "--out", str(out), "--int8", "--dataset", str(dataset))
    assert result.code == 0, result.err
    pte = out / f"{path.stem}.int8.pte"
    assert f"no {pte}: ExecuTorch cannot run 3-D models (input C,D,H,W = 1x4x6x6)" in result.out
    assert (out / f"{path.stem}.pt2").is_file() and not pte.exists()
