"""Segmentation: the synthetic masks, ``train --task segmentation`` and ``project --family unet``.

The training script is run for real on a small U-Net project; its Dice and IoU
are checked against the definitions computed here from the saved model.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch

from cnngen.rendering.datafiles import Synthetic, render_synthetic
from cnngen.rendering.engine import format_python

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ""}


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
    trained = subprocess.run(
        [sys.executable, "train.py"], cwd=folder, env=ENV, capture_output=True, text=True,
        timeout=400,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    rows = list(csv.DictReader(open(folder / "runs" / "history.csv")))
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
    dice, iou = [], []
    for label in range(1, model_module.OUTPUT_SHAPE[0]):
        p, t = predicted == label, y == label
        if p.sum() + t.sum() == 0:
            continue
        overlap = (p & t).sum().item()
        dice.append(2 * overlap / (p.sum() + t.sum()).item())
        iou.append(overlap / (p | t).sum().item())
    assert abs(metrics["dice"] - np.mean(dice)) < 1e-6
    assert abs(metrics["iou"] - np.mean(iou)) < 1e-6
    assert abs(metrics["pixel_accuracy"] - (predicted == y).double().mean().item()) < 1e-6


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
