"""Generated training scripts, run for real on CPU: one process and torchrun with gloo."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from cnngen.core.solver import solve
from cnngen.core.spec import make_spec
from cnngen.rendering.datafiles import Synthetic, render_synthetic, render_train
from cnngen.rendering.engine import format_python, render_model
from tests.generated import load

REPO = Path(__file__).resolve().parent.parent
# One thread per process: the suite shares two cores.
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ""}


def classifier_project(
    folder: Path,
    classes: int = 3,
    test_fraction: float = 0.0,
    scheduler: str = "none",
    dropout: float = 0.0,
    features: str = "all",
) -> None:
    """A tiny classifier, shapes data and train.py (every feature by default) in ``folder``."""
    spec = make_spec(
        "classifier", input_size=(12, 12), layers=2, start_channels=8, classes=classes,
        dropout=dropout,
    )  # fmt: skip
    (folder / "model.py").write_text(render_model(solve(spec), spec.command()))
    synthetic = Synthetic(
        kind="shapes", size=(12, 12), classes=classes, samples=180, test_fraction=test_fraction
    )
    (folder / "dataset.py").write_text(render_synthetic(synthetic))
    (folder / "train.py").write_text(
        render_train(
            task="classification",
            model_class="Classifier",
            epochs=2,
            batch_size=30,
            scheduler=scheduler,
            features=features,
        )
    )


def run(folder: Path, *args: str, timeout: int = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=folder, env=ENV, capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip


def test_classifier_trains_and_writes_every_result(tmp_path: Path) -> None:
    classifier_project(tmp_path)
    result = run(tmp_path, "train.py", "--epochs", "2", "--out", "out", "--seed", "1")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("epoch ")]
    assert len(lines) == 2 and "accuracy" in lines[0] and "samples/s" in lines[0]
    rows = list(csv.DictReader(open(tmp_path / "out" / "history.csv")))
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert set(rows[0]) >= {"train_loss", "val_loss", "accuracy", "macro_f1", "samples_per_s"}
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    confusion = np.array(metrics["confusion"])
    assert confusion.shape == (3, 3) and confusion.sum() == 36  # every validation sample once
    assert metrics["accuracy"] == pytest.approx(np.trace(confusion) / 36)
    assert metrics["world_size"] == 1 and metrics["steps"] == 2 * 5
    model = load(tmp_path / "model.py").Classifier()
    for name in ("best.pt", "last.pt"):
        checkpoint = torch.load(tmp_path / "out" / name, map_location="cpu", weights_only=True)
        model.load_state_dict(checkpoint["model"])
    assert not (tmp_path / "out" / "loss.png").exists() or _has_matplotlib()


def test_resume_continues_bit_for_bit(tmp_path: Path) -> None:
    """Two epochs in one go equal one epoch, a resume and one more, to the last bit.

    The model has dropout, so the random streams must be restored too, and the
    data order comes from the loader's own generator, which is restored as well.
    """
    classifier_project(tmp_path, dropout=0.2)
    flags = ("--batch-size", "40", "--seed", "3")
    whole = run(tmp_path, "train.py", "--epochs", "2", "--out", "whole", *flags)
    assert whole.returncode == 0, whole.stderr
    half = run(tmp_path, "train.py", "--epochs", "1", "--out", "parts", *flags)
    assert half.returncode == 0, half.stderr
    resumed = run(
        tmp_path, "train.py", "--epochs", "2", "--out", "parts", "--resume", "parts/last.pt", *flags
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming parts/last.pt after epoch 1 (step 4)" in resumed.stdout

    def state(folder: str) -> dict:
        return torch.load(tmp_path / folder / "last.pt", map_location="cpu", weights_only=True)

    a, b = state("whole"), state("parts")
    assert a["model"].keys() == b["model"].keys()
    for name in a["model"]:
        assert torch.equal(a["model"][name], b["model"][name]), name
    for index, slot in a["optimizer"]["state"].items():
        for key, value in slot.items():
            assert torch.equal(value, b["optimizer"]["state"][index][key]), (index, key)
    assert torch.equal(a["rng"][0]["torch"], b["rng"][0]["torch"])
    assert (a["epoch"], a["step"], a["best_epoch"]) == (b["epoch"], b["step"], b["best_epoch"]) == (
        2, 8, a["best_epoch"],
    )  # fmt: skip
    assert a["best_loss"] == b["best_loss"]
    for row_a, row_b in zip(a["history"], b["history"], strict=True):
        assert row_a["train_loss"] == row_b["train_loss"]
        assert row_a["val_loss"] == row_b["val_loss"]
    assert a["cnngen_command"] == "cnngen train" and a["cnngen_version"]
    assert a["args"]["seed"] == 3 and set(a["rng"][0]) == {"torch", "cuda"}
    history = list(csv.DictReader(open(tmp_path / "parts" / "history.csv")))
    assert [row["epoch"] for row in history] == ["1", "2"]

    # Exporting the best checkpoint trains nothing and leaves both deployable files.
    export = run(
        tmp_path, "train.py", "--epochs", "0", "--resume", "parts/best.pt", "--export",
        "--out", "parts",
    )  # fmt: skip
    assert export.returncode == 0, export.stderr
    assert (
        "nothing to train" in export.stdout and "match the model at batch 1 and 7" in export.stdout
    )
    assert_exports_match(tmp_path, tmp_path / "parts")


def test_export_without_onnxscript_uses_the_torchscript_exporter(tmp_path: Path) -> None:
    """Where onnxscript is missing, --export falls back to the older exporter, still dynamic."""
    classifier_project(tmp_path)
    code = (
        "import runpy, sys\n"
        "sys.modules['onnxscript'] = None  # as if it were not installed\n"
        "sys.argv = ['train.py', '--epochs', '1', '--max-steps', '1', '--export']\n"
        "runpy.run_path('train.py', run_name='__main__')\n"
    )
    result = run(tmp_path, "-c", code)
    assert result.returncode == 0, result.stderr
    record = json.loads((tmp_path / "runs" / "model.json").read_text())
    assert record["onnx_exporter"] == "torchscript" and record["opset"] == 18
    assert_exports_match(tmp_path, tmp_path / "runs", exporter="torchscript")


def assert_exports_match(folder: Path, out: Path, exporter: str = "dynamo") -> None:
    """model.pt2 and model.onnx run at batch 1 and 7 and match the eager model of best.pt."""
    import onnxruntime

    model = load(folder / "model.py").Classifier().eval()
    checkpoint = torch.load(out / "best.pt", map_location="cpu", weights_only=True)
    model.load_state_dict(checkpoint["model"])
    program = torch.export.load(out / "model.pt2").module()
    session = onnxruntime.InferenceSession(
        str(out / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    record = json.loads((out / "model.json").read_text())
    assert record["input_shape"] == ["batch", 1, 12, 12] and record["output_shape"] == ["batch", 3]
    assert record["onnx_exporter"] == exporter and record["opset"] >= 18
    assert record["cnngen_command"] == "cnngen train"
    for batch in (1, 7):
        assert (
            max(record["max_abs_diff"][kind][str(batch)] for kind in ("pt2", "onnx"))
            <= (record["tolerance"])
        )
        x = torch.randn(batch, 1, 12, 12, generator=torch.Generator().manual_seed(batch))
        with torch.no_grad():
            expected = model(x)
            torch.testing.assert_close(program(x), expected, rtol=1e-4, atol=1e-5)
        onnx_out = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
        torch.testing.assert_close(torch.from_numpy(onnx_out), expected, rtol=1e-4, atol=1e-5)


def _has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def test_metrics_agree_with_scikit_learn(tmp_path: Path) -> None:
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    classifier_project(tmp_path, classes=5)
    sys.path.insert(0, str(tmp_path))
    try:
        train = load(tmp_path / "train.py")
    finally:
        sys.path.remove(str(tmp_path))
    rng = np.random.default_rng(0)
    for trial in range(5):
        truth = rng.integers(0, 5, 200)
        predicted = np.where(rng.random(200) < 0.6, truth, rng.integers(0, 5 - trial % 2, 200))
        if trial == 4:
            truth[truth == 2], predicted[predicted == 2] = 1, 3  # a class that never occurs
        confusion = confusion_matrix(truth, predicted, labels=range(5))
        metrics = train.classification_metrics(confusion)
        assert metrics["accuracy"] == pytest.approx(accuracy_score(truth, predicted))
        assert metrics["macro_f1"] == pytest.approx(f1_score(truth, predicted, average="macro"))


def test_torchrun_two_processes_with_gloo_resume_and_export(tmp_path: Path) -> None:
    classifier_project(tmp_path, dropout=0.2)
    torchrun = ("-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "train.py")
    first = run(tmp_path, *torchrun, "--epochs", "1", "--out", "ddp", "--sync-bn", timeout=400)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "--sync-bn applies under torchrun on CUDA devices only" in first.stdout
    out = tmp_path / "ddp"
    checkpoint = torch.load(out / "last.pt", map_location="cpu", weights_only=True)
    # One random state per rank, and they differ: each rank draws its own dropout masks.
    assert checkpoint["world_size"] == 2 and len(checkpoint["rng"]) == 2
    assert not torch.equal(checkpoint["rng"][0]["torch"], checkpoint["rng"][1]["torch"])
    second = run(
        tmp_path, *torchrun, "--epochs", "2", "--max-steps", "5", "--out", "ddp",
        "--resume", "ddp/last.pt", "--export", timeout=400,
    )  # fmt: skip
    assert second.returncode == 0, second.stderr[-3000:]
    assert {"best.pt", "last.pt", "history.csv", "metrics.json", "model.pt2", "model.onnx",
            "model.json"} <= {p.name for p in out.iterdir()}  # fmt: skip
    assert not list(out.glob("*.tmp"))
    epochs = [line for line in first.stdout.splitlines() + second.stdout.splitlines()
              if line.startswith("epoch ")]  # fmt: skip
    assert len(epochs) == 2  # rank 0 alone logs
    metrics = json.loads((out / "metrics.json").read_text())
    # 72 samples per rank in batches of 30: 3 steps in epoch 1, then 2 until --max-steps 5.
    assert metrics["world_size"] == 2 and metrics["steps"] == 5 and metrics["epochs"] == 2
    assert np.array(metrics["confusion"]).sum() == 36  # the shards add up to the whole set
    rows = list(csv.DictReader(open(out / "history.csv")))
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert_exports_match(tmp_path, out)


def test_data_that_does_not_fit_the_model_is_refused(tmp_path: Path) -> None:
    classifier_project(tmp_path)
    wrong = Synthetic(kind="shapes", size=(10, 10), classes=3, samples=60)
    (tmp_path / "dataset.py").write_text(render_synthetic(wrong))
    result = run(tmp_path, "train.py", "--epochs", "1")
    assert result.returncode == 1
    assert re.fullmatch(
        r"error: training sample \d+: x has shape \(1, 10, 10\), but Classifier expects "
        r"\(1, 12, 12\)\n",
        result.stderr,
    )
    bad_flag = run(tmp_path, "train.py", "--epochs", "0")
    assert bad_flag.returncode == 2 and "--epochs: must be >= 1" in bad_flag.stderr
    assert "--epochs 0 needs --resume CHECKPOINT" in bad_flag.stderr
    missing = run(tmp_path, "train.py", "--resume", "nowhere.pt")
    assert missing.returncode == 2
    assert "--resume: nowhere.pt does not exist" in missing.stderr


def test_train_script_is_clean_and_deterministic(tmp_path: Path) -> None:
    for task in ("classification", "forecasting", "segmentation"):
        text = render_train(task=task, model_class="Net", model_module="nets.cnn")
        assert text == render_train(task=task, model_class="Net", model_module="nets.cnn")
        assert format_python(text) == text
        assert "from nets.cnn import INPUT_SHAPE, OUTPUT_SHAPE, Net" in text
        path = tmp_path / f"train_{task}.py"
        path.write_text(text)
        ruff = subprocess.run(
            [sys.executable, "-m", "ruff", "check", "--no-cache", "--config",
             str(REPO / "pyproject.toml"), "--ignore", "I001", str(path)],
            capture_output=True, text=True,
        )  # fmt: skip
        assert ruff.returncode == 0, ruff.stdout
        top = {line.split()[1].split(".")[0] for line in text.splitlines()
               if line.startswith(("import ", "from "))}  # fmt: skip
        assert top <= {"argparse", "collections", "csv", "dataclasses", "functools", "io",
                       "itertools", "json", "logging", "math", "os", "pickle", "random", "shutil",
                       "sys", "warnings", "time", "pathlib", "torch", "dataset", "nets"}, top  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["--task", "regression", "--model-class", "M"], "--task"),
        (["--task", "forecasting", "--model-class", "M-1"], "--model-class"),
        (["--task", "forecasting", "--model-class", "M", "--model-module", "my-model"],
         "--model-module"),
        (["--task", "forecasting", "--model-class", "M", "--dataset-module", "model"],
         "--dataset-module"),
        (["--task", "forecasting", "--model-class", "M", "--epochs", "0"], "--epochs"),
    ],
)  # fmt: skip
def test_train_command_errors(run_cli, tmp_path: Path, argv: list[str], option: str) -> None:
    out = tmp_path / "train.py"
    result = run_cli("train", *argv, "-o", str(out))
    assert result.code == 2 and option in result.err and not out.exists()


def blocked(folder: Path, *modules: str) -> dict[str, str]:
    """An environment in which importing ``modules`` fails, as if they were not installed."""
    for module in modules:
        package = folder / "blocked" / module
        package.mkdir(parents=True)
        (package / "__init__.py").write_text(f"raise ImportError('{module} is blocked')\n")
    return {**ENV, "PYTHONPATH": str(folder / "blocked")}


def test_test_split_progress_class_names_and_plots(tmp_path: Path) -> None:
    classifier_project(tmp_path, test_fraction=0.2, scheduler="warmup-multistep")
    result = subprocess.run(
        [sys.executable, "train.py", "--out", "out", "--progress", "--progress-every", "0",
         "--warmup-steps", "3"],
        cwd=tmp_path, env=blocked(tmp_path, "tqdm"), capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    steps = [line for line in result.stdout.splitlines() if " step " in line]
    # 180 samples: 108 training (4 batches of 30), 36 validation, 36 test; a line per step.
    assert len(steps) == 2 * 4 and "epoch 1/2 step 1/4  loss " in steps[0]
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["classes"] == ["square", "circle", "triangle"]
    test_confusion = np.array(metrics["test_confusion"])
    assert test_confusion.sum() == 36 and np.array(metrics["confusion"]).sum() == 36
    assert metrics["test_accuracy"] == pytest.approx(np.trace(test_confusion) / 36)
    assert "test (36 samples, best epoch):  accuracy " in result.stdout
    assert "confusion matrix, test split (rows: true class, columns: predicted):" in result.stdout
    assert "    square" in result.stdout and "  triangle" in result.stdout
    rows = list(csv.DictReader(open(tmp_path / "out" / "history.csv")))
    # Warmup over 3 of 8 steps, then x0.1 at step round(0.6 * 8) = 5: after 4 steps 1e-3,
    # after 8 steps 1e-3 * 0.1 * 0.1 (the second drop is at round(0.85 * 8) = 7).
    assert float(rows[0]["lr"]) == pytest.approx(1e-3)
    assert float(rows[1]["lr"]) == pytest.approx(1e-5)
    pngs = {"confusion.png", "gallery.png"} <= {p.name for p in (tmp_path / "out").iterdir()}
    assert pngs == _has_matplotlib()


def test_without_matplotlib_a_hint_and_without_a_terminal_no_progress(tmp_path: Path) -> None:
    classifier_project(tmp_path)
    result = subprocess.run(
        [sys.executable, "train.py", "--out", "out", "--epochs", "1"],
        cwd=tmp_path, env=blocked(tmp_path, "matplotlib"), capture_output=True, text=True,
        timeout=240,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert not [line for line in result.stdout.splitlines() if " step " in line]
    assert "it/s" not in result.stderr  # no tqdm bar either: stdout is not a terminal
    hints = [line for line in result.stdout.splitlines() if line.startswith("hint: ")]
    assert hints == [
        "hint: pip install matplotlib to also get loss.png, confusion.png and gallery.png"
    ]
    assert not list((tmp_path / "out").glob("*.png"))
    assert "confusion matrix, validation split" in result.stdout


def test_schedules_follow_their_formulas(tmp_path: Path) -> None:
    classifier_project(tmp_path)
    sys.path.insert(0, str(tmp_path))
    try:
        train = load(tmp_path / "train.py")
    finally:
        sys.path.remove(str(tmp_path))

    def rates(*argv: str, total: int = 20) -> list[float]:
        args = train.parse_args(["--lr", "1.0", *argv])
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        scheduler = train.make_scheduler(optimizer, args, total)
        seen = []
        for _ in range(total):
            seen.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
        return seen

    assert rates() == [1.0] * 20
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    reference = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=20)
    expected = []
    for _ in range(20):
        expected.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        reference.step()
    assert rates("--scheduler", "cosine") == pytest.approx(expected)
    warm = rates("--scheduler", "warmup-multistep", "--warmup-steps", "4", "--milestones",
                 "0.5,0.75", "--gamma", "0.5")  # fmt: skip
    assert warm[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert warm[4:10] == pytest.approx([1.0] * 6)
    assert warm[10:15] == pytest.approx([0.5] * 5) and warm[15:] == pytest.approx([0.25] * 5)
    with pytest.raises(SystemExit):
        train.parse_args(["--milestones", "1.5"])
