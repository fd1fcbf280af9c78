"""predict.py and the data contract: what train.py stores, cnngen export records, predict.py uses.

The end-to-end test trains a starter project on scikit-learn's bundled digits
(8x8 images stored as binary PGM files in class folders, with a test folder),
exports the best checkpoint and checks that ``predict.py --evaluate`` scores
the exported ``.onnx`` (and ``.pt2``) exactly as train.py scored the model.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from generated import PROJECT_ENV

from cnngen.rendering.datafiles import TASKS, render_predict
from cnngen.rendering.engine import format_python

REPO = Path(__file__).resolve().parent.parent


def run(folder: Path, *argv: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *argv], cwd=folder, env=PROJECT_ENV, capture_output=True,
        text=True, timeout=timeout,
    )  # fmt: skip


def cnngen(folder: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """The CLI in a child process, as a user runs it (export imports torch)."""
    env = {**PROJECT_ENV, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "cnngen", *argv], cwd=folder, env=env, capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip


@pytest.mark.parametrize("task", TASKS)
def test_predict_py_is_formatted_ruff_clean_and_imports_no_cnngen(
    task: str, tmp_path: Path
) -> None:
    text = render_predict(task=task, model="deploy/net.pt2", dataset_module="data", seed=3)
    assert format_python(text) == text
    assert render_predict(task=task, model="deploy/net.pt2", dataset_module="data", seed=3) == text
    imports = {
        line.split()[1] for line in text.splitlines() if line.startswith(("import ", "from "))
    }
    assert imports <= {"argparse", "importlib", "json", "struct", "sys", "zlib", "pathlib", "numpy"}
    assert 'MODEL = "deploy/net.pt2"' in text and 'DATASET_MODULE = "data"' in text
    (tmp_path / "predict.py").write_text(text)
    ruff = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--config",
         str(REPO / "pyproject.toml"), "predict.py"],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert ruff.returncode == 0, ruff.stdout


def test_cnngen_predict_refuses_a_model_that_is_no_export(run_cli, tmp_path: Path) -> None:
    result = run_cli("predict", "--task", "classification", "--model", "runs/best.pt")
    assert result.code == 2 and "--model" in result.err and "runs/model.onnx" in result.err
    assert len(result.err.strip().splitlines()) == 1


def write_digits(folder: Path) -> int:
    """Digits 0-3 as 8x8 PGM files: 500 to train on, the rest (the count returned) to test."""
    load_digits = pytest.importorskip("sklearn.datasets").load_digits
    data = load_digits()
    chosen = data.target < 4
    pairs = zip(data.images[chosen], data.target[chosen], strict=True)
    for index, (image, label) in enumerate(pairs):
        split = "train" if index < 500 else "test"
        path = folder / split / str(label) / f"{index}.pgm"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"P5\n8 8\n16\n" + bytes(int(v) for v in image.ravel()))
    return int(chosen.sum()) - 500


@pytest.mark.slow
def test_predict_reproduces_the_test_accuracy_of_train_py_from_the_onnx(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    folder = tmp_path / "digits"
    made = cnngen(
        tmp_path, "project", str(folder), "--family", "classifier", "-i", "8x8",
        "--classes", "4", "--layers", "2", "--start-channels", "8", "--epochs", "2",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    tested = write_digits(folder)
    made = cnngen(
        folder, "dataset", "folder", "--root", str(folder / "train"), "--test-root",
        str(folder / "test"), "--channels", "1", "--output", "dataset.py", "--force",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    trained = run(folder, "train.py")
    assert trained.returncode == 0, trained.stderr
    checkpoint = run(folder, "-c", "import torch; print(torch.load('runs/best.pt')['data'])")
    assert "'layout': 'NCHW'" in checkpoint.stdout and "'classes': ['0', '1'," in checkpoint.stdout
    exported = cnngen(folder, "export", "model.py", "--weights", "runs/best.pt", "--out", "runs")
    assert exported.returncode == 0, exported.stderr
    record = json.loads((folder / "runs" / "model.json").read_text())
    assert record["data"]["classes"] == ["0", "1", "2", "3"]
    assert record["data"]["layout"] == "NCHW" and len(record["data"]["mean"]) == 1
    assert "onnxruntime==" in (folder / "runs" / "requirements.txt").read_text()
    card = (folder / "runs" / "MODEL_CARD.md").read_text()
    assert "0: 0, 1: 1" in card and "Batch size 1 to 64" in card and "accuracy" in card

    metrics = json.loads((folder / "runs" / "metrics.json").read_text())
    shown = trained.stdout.split(f"test ({tested} samples, best epoch):  accuracy ")[1].split()[0]
    for model in ("runs/model.onnx", "runs/model.pt2"):
        scored = run(folder, "predict.py", "--model", model, "--evaluate")
        assert scored.returncode == 0, scored.stderr
        assert f"test ({tested} samples, {Path(model).name}):  accuracy {shown}" in scored.stdout
    code = "import predict; print(predict.main(['--evaluate', '--batch-size', '7'])['accuracy'])"
    exact = run(folder, "-c", code)
    assert exact.returncode == 0, exact.stderr
    assert float(exact.stdout.split()[-1]) == metrics["test_accuracy"]

    # An image is read by the dataset file's read_image and normalised as in training.
    image = next((folder / "test" / "3").iterdir())
    predicted = run(folder, "predict.py", str(image))
    assert predicted.returncode == 0 and predicted.stdout.startswith(f"{image}: "), predicted
    # Bad inputs: one line each, exit status 2, no traceback.
    (folder / "nan.npy").write_bytes(b"")
    (folder / "noise.npy").write_bytes(bytes(range(256)) * 4)
    np = pytest.importorskip("numpy")
    np.save(folder / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    for argv, words in (
        (["missing.npy"], "no such file"),
        (["nan.npy"], "not a readable .npy"),
        (["noise.npy"], "not a readable .npy array (no .npy header)"),
        (["objects.npy"], "not a readable .npy array (Python objects, not numbers)"),
        (["--model", "runs/other.onnx", "--evaluate"], "no such file"),
        (["--batch-size", "65", "--evaluate"], "batches of 1 to 64"),
        (["model.py"], "no such file; give .npy"),
    ):
        failed = run(folder, "predict.py", *argv)
        assert failed.returncode == 2 and words in failed.stderr, (argv, failed.stderr)
        assert len(failed.stderr.strip().splitlines()) == 1, failed.stderr


def read_png(path: Path) -> list[bytes]:
    """The rows of an 8-bit gray PNG that predict.py wrote (filter 0 on every row)."""
    import struct
    import zlib

    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert (depth, colour) == (8, 0)
    size = struct.unpack(">I", data[33:37])[0]
    assert data[37:41] == b"IDAT"
    raw = zlib.decompress(data[41 : 41 + size])
    rows = [raw[row * (width + 1) : (row + 1) * (width + 1)] for row in range(height)]
    assert all(row[0] == 0 for row in rows)
    return [row[1:] for row in rows]


@pytest.mark.slow
def test_an_old_checkpoint_resumes_and_train_py_export_feeds_predict_py(tmp_path: Path) -> None:
    """A checkpoint without ``data`` (an older train.py's) still resumes; the next one has it."""
    pytest.importorskip("onnxruntime")
    folder = tmp_path / "seg"
    made = cnngen(tmp_path, "project", str(folder), "--family", "unet", "--size", "tiny",
                  "--with", "resume,export")  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert run(folder, "train.py", "--epochs", "1", "--max-steps", "2").returncode == 0
    strip = (
        "import torch; c = torch.load('runs/last.pt'); del c['data']; torch.save(c, 'runs/last.pt')"
    )
    assert run(folder, "-c", strip).returncode == 0
    resumed = run(
        folder, "train.py", "--resume", "runs/last.pt", "--epochs", "2", "--max-steps", "4"
    )
    assert resumed.returncode == 0, resumed.stderr
    data = run(folder, "-c", "import torch; print(torch.load('runs/last.pt')['data'])")
    expected = "{'task': 'segmentation', 'layout': 'NCHW', 'shape': (1, 16, 16)}"
    assert data.stdout.strip() == expected, data.stdout
    exported = run(folder, "train.py", "--epochs", "0", "--resume", "runs/best.pt", "--export")
    assert exported.returncode == 0, exported.stderr
    record = json.loads((folder / "runs" / "model.json").read_text())
    assert record["data"]["layout"] == "NCHW" and record["batch_bounds"] == [1, 64]

    metrics = json.loads((folder / "runs" / "metrics.json").read_text())
    history = (folder / "runs" / "history.csv").read_text().splitlines()
    best = dict(zip(history[0].split(","), history[metrics["best_epoch"]].split(","), strict=True))
    scored = run(folder, "predict.py", "--evaluate")
    assert scored.returncode == 0, scored.stderr
    assert f"pixel_accuracy {float(best['pixel_accuracy']):.4f}" in scored.stdout, scored.stdout
    assert f"dice {float(best['dice']):.4f}" in scored.stdout, scored.stdout

    save = "import numpy as np; np.save('x.npy', np.random.default_rng(0).random((2, 1, 16, 16)))"
    assert run(folder, "-c", save).returncode == 0
    predicted = run(folder, "predict.py", "x.npy", "--out", "masks")
    assert predicted.returncode == 0, predicted.stderr
    for name in ("x-0.png", "x-1.png"):
        rows = read_png(folder / "masks" / name)
        assert len(rows) == 16 and all(len(row) == 16 and set(row) <= {0, 1, 2} for row in rows)


def test_checkpoint_info_reads_the_data_contract_metrics_and_seed(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from cnngen.deploy.card import write_card
    from cnngen.deploy.export import checkpoint_info

    history = [
        {"epoch": 1, "train_loss": 1.0, "val_loss": 0.9, "accuracy": 0.5, "lr": 1e-3},
        {"epoch": 2, "train_loss": 0.5, "val_loss": 0.4, "accuracy": 0.75, "lr": 1e-3},
    ]
    data = {"task": "classification", "layout": "NCHW", "shape": (3, 8, 8),
            "mean": [0.5, 0.25, 0.125], "std": [2.0, 1.0, 0.5], "classes": ["cat", "dog"]}  # fmt: skip
    checkpoint = {"format": 1, "model": {}, "history": history, "best_epoch": 2,
                  "args": {"seed": 7}, "data": data}  # fmt: skip
    torch.save(checkpoint, tmp_path / "best.pt")
    info = checkpoint_info(tmp_path / "best.pt")
    assert info["classes"] == ["cat", "dog"] and info["mean"] == [0.5, 0.25, 0.125]
    assert info["std"] == [2.0, 1.0, 0.5] and info["layout"] == "NCHW"
    assert info["input_shape"] == [3, 8, 8] and info["task"] == "classification"
    assert info["metrics"] == {"train_loss": 0.5, "val_loss": 0.4, "accuracy": 0.75, "epoch": 2}
    assert info["seed"] == 7
    # An older checkpoint (no data) and a bare state_dict carry none of it.
    del checkpoint["data"]
    torch.save(checkpoint, tmp_path / "old.pt")
    assert checkpoint_info(tmp_path / "old.pt")["layout"] is None
    torch.save({"weight": torch.zeros(1)}, tmp_path / "bare.pt")
    assert set(checkpoint_info(tmp_path / "bare.pt").values()) == {None}

    record = {"class_name": "Net", "cnngen_command": "cnngen export net.py", "files":
              {"torch_export": "net.pt2", "onnx": None}, "input_shape": ["batch", 3, 8, 8],
              "output_shape": ["batch", 2], "batch_bounds": [1, 16], "checked_batches": [1, 7],
              "tolerance": 1e-6}  # fmt: skip
    assert write_card(tmp_path, "net", record, info) == ["MODEL_CARD.md", "requirements.txt"]
    assert record["data"]["classes"] == ["cat", "dog"] and record["data"]["seed"] == 7
    card = (tmp_path / "MODEL_CARD.md").read_text()
    assert (
        "0: cat, 1: dog" in card
        and "Batch size 1 to 16" in card
        and "| accuracy | 0.7500 |" in card
    )
    assert "layout `NCHW`" in card and "split seed 7" in card
    requirements = (tmp_path / "requirements.txt").read_text().splitlines()
    assert [line.split("==")[0] for line in requirements[1:]] == ["numpy", "torch"]
    record = {**record, "data": None}
    write_card(tmp_path, "net", record, dict.fromkeys(info))
    card = (tmp_path / "MODEL_CARD.md").read_text()
    assert "Normalisation: none recorded" in card and "carry no training history" in card
