"""``cnngen project``: the starter folder is complete, reproducible and trains as written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from generated import PROJECT_ENV, train_project

from cnngen.cli.config import tomllib
from cnngen.rendering.engine import format_python

REPO = Path(__file__).resolve().parent.parent
ENV = PROJECT_ENV
FILES = {"model.py", "dataset.py", "train.py", "predict.py", "README.md", "cnngen.toml"}
SMALL = ("-i", "16x16", "--layers", "2", "--start-channels", "8")


@pytest.mark.slow
def test_forecaster_project_trains_and_the_loss_falls(run_cli, tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    result = run_cli("project", str(folder), *SMALL, "--frames", "120", "--epochs", "4")
    assert result.code == 0, result.err
    assert {path.name for path in folder.iterdir()} == FILES
    for name in ("model.py", "dataset.py", "train.py", "predict.py"):
        text = (folder / name).read_text()
        assert format_python(text) == text and "cnngen" not in _imports(text)
    ruff = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--config",
         str(REPO / "pyproject.toml"), "."],
        cwd=folder, capture_output=True, text=True,
    )  # fmt: skip
    assert ruff.returncode == 0, ruff.stdout
    # No further set-up: the defaults written into train.py are what runs.
    rows = train_project(folder, timeout=300)
    assert len(rows) == 4
    train_loss = [float(row["train_loss"]) for row in rows]
    val_loss = [float(row["val_loss"]) for row in rows]
    assert train_loss[-1] < 0.5 * train_loss[0], train_loss
    assert min(val_loss[1:]) < val_loss[0], val_loss
    assert (folder / "runs" / "best.pt").is_file() and (folder / "runs" / "last.pt").is_file()
    # The README's load snippet works as written: weights only, onto the CPU.
    readme = (folder / "README.md").read_text()
    snippet = readme.split("```python\n", 1)[1].split("```", 1)[0]
    assert "weights_only=True" in snippet and 'map_location="cpu"' in snippet
    loaded = subprocess.run(
        [sys.executable, "-c", snippet + "\nprint(sum(p.numel() for p in model.parameters()))"],
        cwd=folder, env=ENV, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr


def _imports(text: str) -> set[str]:
    return {
        line.split()[1].split(".")[0]
        for line in text.splitlines()
        if line.startswith(("import ", "from "))
    }


def test_config_records_the_options_and_reproduces_the_project(run_cli, tmp_path: Path) -> None:
    first = tmp_path / "one"
    argv = ["--family", "equivariant", "-i", "12x12", "--layers", "2", "--samples", "200",
            "--epochs", "2"]  # fmt: skip
    assert run_cli("project", str(first), *argv).code == 0
    config = tomllib.loads((first / "cnngen.toml").read_text())
    assert config["family"] == "equivariant" and config["input-size"] == "12x12"
    assert config["layers"] == 2 and config["samples"] == 200 and config["epochs"] == 2
    assert config["rotate"] is True  # rotated shapes for a rotation-invariant model
    second = tmp_path / "two"
    result = run_cli("project", str(second), "--config", str(first / "cnngen.toml"))
    assert result.code == 0, result.err
    for name in ("model.py", "dataset.py", "train.py"):
        assert (first / name).read_text() == (second / name).read_text(), name
    readme = (first / "README.md").read_text()
    for needle in ("python train.py", "--resume runs/last.pt", "make_datasets(seed)",
                   "cnngen dataset arrays", "C4Classifier"):  # fmt: skip
        assert needle in readme, needle
    trained = subprocess.run(
        [sys.executable, "train.py", "--max-steps", "3", "--out", "quick"], cwd=second, env=ENV,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    assert "accuracy" in trained.stdout and (second / "quick" / "metrics.json").is_file()


def test_existing_folder_needs_force_and_errors_write_nothing(run_cli, tmp_path: Path) -> None:
    folder = tmp_path / "busy"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    result = run_cli("project", str(folder), *SMALL)
    assert result.code == 2 and "--force" in result.err
    assert [path.name for path in folder.iterdir()] == ["notes.txt"]
    assert run_cli("project", str(folder), *SMALL, "--force").code == 0
    assert {path.name for path in folder.iterdir()} == FILES | {"notes.txt"}
    assert (folder / "notes.txt").read_text() == "mine"

    for argv, option in (
        (["--family", "encoder"], "--family"),
        (["--family", "classifier", "--classes", "9"], "--classes"),
        (["--min-size", "64"], "--min-size"),
        (["--frames", "5"], "--frames"),
        (["--epochs", "0"], "--epochs"),
    ):
        target = tmp_path / "never"
        result = run_cli("project", str(target), *argv)
        assert result.code == 2 and option in result.err, (argv, result.err)
        assert not target.exists()
    assert run_cli("project", str(tmp_path / "a" / "b")).code == 2


def test_projects_are_byte_for_byte_deterministic(run_cli, tmp_path: Path) -> None:
    for parent in ("x", "y"):
        (tmp_path / parent).mkdir()
        argv = ["project", str(tmp_path / parent / "p"), "--family", "classifier", *SMALL]
        assert run_cli(*argv).code == 0
    for name in FILES:
        left = (tmp_path / "x" / "p" / name).read_text()
        right = (tmp_path / "y" / "p" / name).read_text()
        assert left.replace(str(tmp_path / "x"), "") == right.replace(str(tmp_path / "y"), "")
