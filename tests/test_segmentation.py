"""Segmentation: the synthetic masks, ``train --task segmentation`` and ``project --family unet``.

The training script is run for real on a small U-Net project; its Dice and IoU
are checked against the definitions computed here from the saved model.
"""

from __future__ import annotations

import importlib.util
import json
import shlex
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch
from generated import PROJECT_ENV, train_project

from cnngen.rendering.datafiles import Synthetic, render_synthetic
from cnngen.rendering.engine import format_python

ENV = PROJECT_ENV


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"seg_{path.parent.name}_{path.stem}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_masks_are_seeded_and_match_the_images(tmp_path: Path) -> None:
    for size in ((23, 31), (41,), (5, 17, 19)):
        text = render_synthetic(Synthetic(kind="segmentation", size=size, samples=12, classes=2))
        assert format_python(text) == text
        path = tmp_path / f"data_{len(size)}.py"
        path.write_text(text)
        module = _load(path)
        x, y = module.make_masks(12, seed=5)
        again_x, again_y = module.make_masks(12, seed=5)
        assert np.array_equal(x, again_x) and np.array_equal(y, again_y)
        assert x.shape == (12, 1, *size) and y.shape == (12, *size) and y.dtype == np.int64
        assert set(np.unique(y)) <= {0, 1, 2} and (y > 0).any()
        # Without noise the image is dark exactly where the mask is background.
        module.NOISE = 0.0
        clean, mask = module.make_masks(6, seed=1)
        assert np.array_equal(clean[:, 0] > 0, mask > 0)


@pytest.mark.slow
def test_unet_project_trains_with_dice_and_iou(run_cli: Any, tmp_path: Path) -> None:
    folder = tmp_path / "seg"
    result = run_cli(
        "project", str(folder), "--family", "unet", "-i", "19x23", "--layers", "2",
        "--start-channels", "4", "--samples", "120", "--epochs", "3", "--batch-size", "8",
        "--lr", "0.01",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "segmentation" in (folder / "train.py").read_text()
    assert "Dice" in (folder / "README.md").read_text()
    rows = train_project(folder, timeout=400)
    assert len(rows) == 3 and {"dice", "iou", "pixel_accuracy"} <= set(rows[0])
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
    metrics = json.loads((folder / "runs" / "metrics.json").read_text())

    # Recompute Dice and IoU from the last checkpoint with the textbook definitions.
    sys.path.insert(0, str(folder))
    try:
        model_module, data_module = _load(folder / "model.py"), _load(folder / "dataset.py")
    finally:
        sys.path.remove(str(folder))
    model = model_module.UNet()
    checkpoint = torch.load(folder / "runs" / "last.pt", weights_only=False)
    model.load_state_dict(checkpoint.get("model", checkpoint))
    model.eval()
    _, val = data_module.make_datasets(0)
    x, y = val.tensors
    with torch.no_grad():
        predicted = model(x).argmax(dim=1)
    _assert_textbook_metrics(metrics, predicted, y, model_module.OUTPUT_SHAPE[0])


def _assert_textbook_metrics(
    metrics: dict, predicted: torch.Tensor, y: torch.Tensor, classes: int
) -> None:
    """Dice and IoU averaged over the foreground classes present, and pixel accuracy."""
    dice, iou = [], []
    for label in range(1, classes):
        p, t = predicted == label, y == label
        if p.sum() + t.sum() == 0:
            continue
        overlap = (p & t).sum().item()
        dice.append(2 * overlap / (p.sum() + t.sum()).item())
        iou.append(overlap / (p | t).sum().item())
    assert abs(metrics["dice"] - np.mean(dice)) < 1e-6
    assert abs(metrics["iou"] - np.mean(iou)) < 1e-6
    assert abs(metrics["pixel_accuracy"] - (predicted == y).double().mean().item()) < 1e-6
    confusion = torch.bincount((y * classes + predicted).flatten(), minlength=classes**2)
    assert metrics["confusion"] == confusion.view(classes, classes).tolist()


@pytest.mark.slow
def test_one_output_channel_trains_as_binary_segmentation(run_cli: Any, tmp_path: Path) -> None:
    """``--out-channels 1``: binary cross-entropy on the one logit, 0/1 masks, 2x2 metrics.

    Cross-entropy over a single channel is 0 whatever the model does; the
    binary loss must be positive, finite and falling, and the metrics must
    treat the logit's sign as background (0) or foreground (1).
    """
    folder = tmp_path / "binary"
    result = run_cli(
        "project", str(folder), "--family", "unet", "-i", "16x16", "--layers", "2",
        "--start-channels", "4", "--out-channels", "1", "--samples", "64", "--epochs", "2",
        "--batch-size", "8", "--lr", "0.01",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "binary segmentation" in (folder / "README.md").read_text()
    sys.path.insert(0, str(folder))
    try:
        model_module, data_module = _load(folder / "model.py"), _load(folder / "dataset.py")
    finally:
        sys.path.remove(str(folder))
    assert model_module.OUTPUT_SHAPE == (1, 16, 16)
    train, val = data_module.make_datasets(0)
    masks = torch.cat([train.tensors[1], val.tensors[1]])
    assert set(masks.unique().tolist()) == {0, 1}

    rows = train_project(folder, timeout=300)
    assert len(rows) == 2
    losses = [float(row[key]) for row in rows for key in ("train_loss", "val_loss")]
    assert all(0 < loss < 10 for loss in losses), losses
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
    metrics = json.loads((folder / "runs" / "metrics.json").read_text())
    assert all(0 <= metrics[name] <= 1 for name in ("dice", "iou", "pixel_accuracy"))
    assert sum(map(sum, metrics["confusion"])) == masks[len(train) :].numel()

    model = model_module.UNet()
    model.load_state_dict(torch.load(folder / "runs" / "last.pt", weights_only=True)["model"])
    model.eval()
    x, y = val.tensors
    with torch.no_grad():
        logits = model(x)[:, 0]
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y.float())
    assert abs(metrics["val_loss"] - loss.item()) < 1e-5
    _assert_textbook_metrics(metrics, (logits > 0).long(), y, 2)


def test_binary_training_refuses_a_mask_with_another_class(run_cli: Any, tmp_path: Path) -> None:
    folder = tmp_path / "binary"
    result = run_cli(
        "project", str(folder), "--family", "unet", "-i", "8x8", "--layers", "1",
        "--start-channels", "2", "--out-channels", "1", "--samples", "4",
    )  # fmt: skip
    assert result.code == 0, result.err
    (folder / "dataset.py").write_text(
        "import torch\n"
        "from torch.utils.data import TensorDataset\n\n\n"
        "def make_datasets(seed):\n"
        "    data = TensorDataset(torch.zeros(2, 1, 8, 8), torch.full((2, 8, 8), 2))\n"
        "    return data, data\n"
    )
    trained = subprocess.run(
        [sys.executable, "train.py", "--max-steps", "1"], cwd=folder, env=ENV,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert trained.returncode != 0
    assert "binary segmentation: masks of 0 and 1" in trained.stderr + trained.stdout


def test_dataset_command_of_a_binary_project_reproduces_its_masks(
    run_cli: Any, tmp_path: Path
) -> None:
    """The command in dataset.py's header runs and writes the same 0/1 masks."""
    folder = tmp_path / "binary"
    result = run_cli(
        "project", str(folder), "--family", "unet", "-i", "12x12", "--layers", "1",
        "--out-channels", "1", "--samples", "10",
    )  # fmt: skip
    assert result.code == 0, result.err
    text = (folder / "dataset.py").read_text()
    command = next(line for line in text.splitlines() if line.startswith("    cnngen dataset "))
    words = shlex.split(command)[1:]
    assert "--classes" in words and words[-2:] == ["--output", "dataset.py"]
    again = tmp_path / "again.py"
    result = run_cli(*words[:-1], str(again))
    assert result.code == 0, result.err
    assert again.read_text().replace(str(again), "dataset.py") == text


def test_train_refuses_a_mask_of_the_wrong_shape(tmp_path: Path, run_cli: Any) -> None:
    folder = tmp_path / "bad"
    result = run_cli(
        "project", str(folder), "--family", "unet", "-i", "16x16", "--layers", "1",
        "--start-channels", "2", "--samples", "20",
    )  # fmt: skip
    assert result.code == 0, result.err
    data = (folder / "dataset.py").read_text().replace("SIZE = (16, 16)", "SIZE = (16, 15)")
    (folder / "dataset.py").write_text(data)
    trained = subprocess.run(
        [sys.executable, "train.py", "--max-steps", "1"], cwd=folder, env=ENV,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert trained.returncode != 0 and "expects" in trained.stderr + trained.stdout


def test_project_and_dataset_refuse_what_does_not_fit(run_cli: Any, tmp_path: Path) -> None:
    result = run_cli("project", str(tmp_path / "a"), "--family", "unet", "--out-channels", "9")
    assert result.code == 2 and result.err.startswith("Error: --out-channels:")
    result = run_cli("dataset", "synthetic", "segmentation", "--classes", "7")
    assert result.code == 2 and result.err.startswith("Error: --classes:")
    assert not (tmp_path / "a").exists()


def test_dataset_synthetic_segmentation_takes_its_options(run_cli: Any, tmp_path: Path) -> None:
    """--samples, --classes and --channels shape the masks; options of other kinds are refused."""
    path = tmp_path / "masks.py"
    result = run_cli(
        "dataset", "synthetic", "segmentation", "--size", "12x12", "--samples", "10",
        "--classes", "1", "--channels", "2", "-o", str(path),
    )  # fmt: skip
    assert result.code == 0, result.err
    train, val = _load(path).make_datasets(0)
    x, y = train.tensors
    assert len(train) + len(val) == 10 and x.shape[1:] == (2, 12, 12)
    assert set(torch.cat([y, val.tensors[1]]).unique().tolist()) == {0, 1}
    for argv, option in (
        (["--frames", "10"], "--frames"),
        (["--name", "Masks"], "--name"),
        (["--rotate"], "--rotate"),
        (["--difficulty", "hard"], "--difficulty"),
        (["--samples", "1"], "--samples"),
        (["--channels", "0"], "--channels"),
    ):
        result = run_cli(
            "dataset", "synthetic", "segmentation", *argv, "-o", str(tmp_path / "x.py")
        )
        assert result.code == 2 and result.err.startswith(f"Error: {option}:"), result.err
    result = run_cli("dataset", "synthetic", "moving-square", "--samples", "10")
    assert result.code == 2 and "only shapes and segmentation data use it" in result.err
    assert not (tmp_path / "x.py").exists()
