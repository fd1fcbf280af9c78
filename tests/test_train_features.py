"""Training scripts carry the features they are asked for, and nothing of the others.

The default starter is short enough to read in one sitting; every feature adds its
flags and code only when named in ``--with``; and the lean script trains, resumes,
evaluates and exports with torch alone.
"""

from __future__ import annotations

import itertools
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cnngen.errors import CnngenError
from cnngen.rendering.datafiles import DEFAULT_FEATURES, FEATURES, TASKS, render_train
from tests.venvs import linked_venv

REPO = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ""}
# A flag or file only the feature brings: it must appear exactly when the feature is chosen.
MARKS = {
    "ddp": "--sync-bn",
    "amp": "--channels-last",
    "compile": "torch.compile",
    "resume": "--resume",
    "export": "model.pt2",
    "plots": "loss.png",
    "progress": "--progress-every",
    "schedule": "--scheduler",
}


def test_every_feature_has_a_mark_and_the_default_is_resume() -> None:
    assert set(MARKS) == set(FEATURES)
    assert DEFAULT_FEATURES == ("resume",)


@pytest.mark.parametrize("family", ["forecaster", "classifier", "unet"])
def test_the_default_project_train_py_has_at_most_500_lines(
    run_cli, tmp_path: Path, family: str
) -> None:
    result = run_cli("project", str(tmp_path / family), "--family", family, "--size", "tiny")
    assert result.code == 0, result.err
    text = (tmp_path / family / "train.py").read_text()
    assert len(text.splitlines()) <= 500, len(text.splitlines())
    assert "--resume" in text and "def evaluate" in text


def test_each_subset_carries_exactly_its_features_and_is_ruff_clean(tmp_path: Path) -> None:
    rng = random.Random(0)
    # Every feature alone (on one task), and on every task: none, all, the default and
    # two random mixes (rendering runs Black, which is what the time goes to).
    subsets = [(), tuple(FEATURES), DEFAULT_FEATURES]
    subsets += [tuple(rng.sample(list(FEATURES), rng.randint(2, 6))) for _ in range(2)]
    cases = [("classification", (name,)) for name in FEATURES]
    cases += list(itertools.product(TASKS, subsets))
    paths = []
    for index, (task, chosen) in enumerate(cases):
        text = render_train(task=task, model_class="Net", features=",".join(chosen) or "none")
        for feature, mark in MARKS.items():
            assert (mark in text) == (feature in chosen), (task, chosen, feature)
        listed = ", ".join(name for name in FEATURES if name in chosen) or "none"
        assert f"Features: {listed}" in text
        path = tmp_path / f"train_{index}.py"
        path.write_text(text)
        paths.append(str(path))
    # F401 and F841: no import and no variable that the chosen features leave unused.
    ruff = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated", "--select", "F,E9,B",
         *paths], capture_output=True, text=True,
    )  # fmt: skip
    assert ruff.returncode == 0, ruff.stdout[-3000:]


@pytest.mark.parametrize(
    ("features", "message"),
    [
        ("resume,gpu", "--with: unknown feature 'gpu'"),
        ("all,ddp", "--with: unknown feature 'all'"),
        ((1, 2), "--with: expected feature names"),
    ],
)
def test_unknown_features_are_named(features: object, message: str) -> None:
    with pytest.raises(CnngenError, match=message) as error:
        render_train(task="forecasting", model_class="Net", features=features)  # type: ignore[arg-type]
    assert error.value.param == "--with"


def test_a_schedule_needs_its_feature() -> None:
    with pytest.raises(CnngenError, match="--with schedule") as error:
        render_train(task="forecasting", model_class="Net", scheduler="cosine")
    assert error.value.param == "--scheduler"
    text = render_train(
        task="forecasting", model_class="Net", scheduler="cosine", features="schedule"
    )
    assert 'SCHEDULER = "cosine"' in text


def test_the_cli_records_the_features_in_the_regenerate_line(run_cli, tmp_path: Path) -> None:
    out = tmp_path / "train.py"
    result = run_cli(
        "train", "--task", "classification", "--model-class", "Net", "--with", "plots,resume",
        "-o", str(out),
    )  # fmt: skip
    assert result.code == 0, result.err
    text = out.read_text()
    assert "--with plots,resume" in text and "Features: resume, plots (" in text
    bad = run_cli("train", "--task", "classification", "--model-class", "Net", "--with", "gpu")
    assert bad.code == 2 and "--with: unknown feature 'gpu'" in bad.err
    project = run_cli("project", str(tmp_path / "p"), "--size", "tiny", "--with", "none")
    assert project.code == 0, project.err
    lean = (tmp_path / "p" / "train.py").read_text()
    assert "--with none" in lean and "--resume" not in lean
    assert 'with = "none"' in (tmp_path / "p" / "cnngen.toml").read_text()


@pytest.fixture(scope="module")
def torch_alone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv holding torch and its requirements only (linked from this one), no numpy."""
    python = linked_venv(tmp_path_factory.mktemp("torch-alone"), "torch")
    probe = subprocess.run([python, "-c", "import torch, numpy"], capture_output=True, text=True)
    assert "No module named 'numpy'" in probe.stderr, probe.stderr
    return python


@pytest.mark.slow
def test_the_lean_script_trains_resumes_and_exports_with_torch_alone(
    run_cli, tmp_path: Path, torch_alone: Path
) -> None:
    """In a venv with torch alone, an export of a checkpoint needs no data and no extra."""
    folder = tmp_path / "lean"
    made = run_cli(
        "project", str(folder), "--family", "classifier", "--size", "tiny", "--epochs", "1",
        "--with", "resume,export",
    )  # fmt: skip
    assert made.code == 0, made.err

    def run(python: Path | str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(python), "train.py", *args], cwd=folder, env=ENV, capture_output=True,
            text=True, timeout=300,
        )  # fmt: skip

    trained = run(sys.executable, "--max-steps", "3")
    assert trained.returncode == 0, trained.stderr
    assert "next: python train.py --epochs 0 --resume runs/best.pt --export" in trained.stdout
    resumed = run(sys.executable, "--epochs", "2", "--max-steps", "5", "--resume", "runs/last.pt")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming runs/last.pt after epoch 1 (step 3)" in resumed.stdout
    exported = run(torch_alone, "--epochs", "0", "--resume", "runs/best.pt", "--export")
    assert exported.returncode == 0, exported.stderr
    assert "Traceback" not in exported.stderr
    assert "model.onnx not written: the ONNX exporter needs the onnx package" in exported.stdout
    assert (folder / "runs" / "model.pt2").stat().st_size > 0
    assert not (folder / "runs" / "model.onnx").exists()


# Runs a script as ``python train.py ARGS`` would, and reports whether torch was
# imported by the time argparse ended the run (--help, or a bad flag).
HELP_PROBE = """
import runpy, sys
sys.argv = [sys.argv[1], *sys.argv[2:]]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit as stop:
    print("torch imported:", "torch" in sys.modules, "exit:", stop.code)
"""


@pytest.mark.parametrize("features", ["resume", ",".join(FEATURES)])
def test_train_py_parses_its_flags_before_importing_torch(tmp_path: Path, features: str) -> None:
    # No model.py or dataset.py beside it: --help and a bad flag need neither.
    scheduler = "cosine" if "schedule" in features else "none"
    text = render_train(
        task="segmentation", model_class="UNet", epochs=7, features=features, scheduler=scheduler
    )
    script = tmp_path / "train.py"
    script.write_text(text)

    def probe(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-c", HELP_PROBE, str(script), *args]
        return subprocess.run(command, capture_output=True, text=True, env=ENV, cwd=tmp_path)

    shown = probe("--help")
    assert "torch imported: False exit: 0" in shown.stdout, shown.stdout + shown.stderr
    # Every default the script runs with is on the help screen.
    help_text = " ".join(shown.stdout.split())
    for flag, default in [("--epochs", "7"), ("--batch-size", "32"), ("--lr", "0.001"),
                          ("--out", "runs"), ("--device", "auto"), ("--workers", "0")]:  # fmt: skip
        assert re.search(rf"{flag} \S+ .*?\(default: {re.escape(default)}\)", help_text), flag
    bad = probe("--epochs", "-1")
    assert "torch imported: False exit: 2" in bad.stdout, bad.stdout + bad.stderr
    assert "--epochs: must be >= 1, got -1" in bad.stderr
