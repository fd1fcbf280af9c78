"""Accuracy of a small generated classifier on the synthetic shapes, easy against hard.

Each run is what a student does: ``cnngen project DIR --family classifier``
(32x32 inputs, start channels 16, batch 16, AdamW lr 1e-3) with its dataset
regenerated at the given difficulty (1000 samples, 20% validation), and the
generated ``train.py`` for two epochs on the CPU.  The
table goes to ``benchmarks/SHAPES_DIFFICULTY.md``.

    python benchmarks/shapes_difficulty.py            # seeds 0 1 2
    python benchmarks/shapes_difficulty.py --seeds 0  # one seed
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from cnngen.rendering.datafiles import Synthetic, render_synthetic
from cnngen.rendering.project import render_project

HERE = Path(__file__).resolve().parent
SETTINGS = {"easy": 4, "hard": 6}  # difficulty -> classes (the defaults of each)


def one_run(folder: Path, difficulty: str, seed: int, epochs: int) -> dict:
    """A ``cnngen project`` classifier folder, its dataset set to ``difficulty``, trained."""
    classes = SETTINGS[difficulty]
    files = render_project(str(folder), "classifier", {"classes": classes})
    files["dataset.py"] = render_synthetic(
        Synthetic(kind="shapes", size=(32, 32), classes=classes, difficulty=difficulty)
    )
    for name, text in files.items():
        (folder / name).write_text(text)
    env = {**os.environ, "OMP_NUM_THREADS": "2", "PYTHONPATH": ""}
    subprocess.run(
        [sys.executable, "train.py", "--seed", str(seed), "--epochs", str(epochs), "--out", "out",
         "--no-progress"],
        cwd=folder, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads((folder / "out" / "metrics.json").read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--output", type=Path, default=HERE / "SHAPES_DIFFICULTY.md")
    args = parser.parse_args(argv)
    lines = [
        "# Synthetic shapes: easy against hard",
        "",
        "The classifier of `cnngen project DIR --family classifier` (32x32, start channels 16),"
        " its dataset regenerated with `--difficulty easy` (4 classes) or `hard` (6 classes),"
        " 1000 samples (800 training, 200 validation), the generated `train.py` for"
        f" {args.epochs} epochs (AdamW, lr 1e-3, batch 16) on a 2-core CPU. Validation accuracy"
        " and macro-F1 per seed; `python benchmarks/shapes_difficulty.py`.",
        "",
        "| difficulty | classes | seed | accuracy | macro-F1 |",
        "| --- | -: | -: | -: | -: |",
    ]
    summary = {}
    for difficulty in SETTINGS:
        accuracies = []
        for seed in args.seeds:
            with tempfile.TemporaryDirectory() as folder:
                metrics = one_run(Path(folder), difficulty, seed, args.epochs)
            accuracies.append(metrics["accuracy"])
            lines.append(
                f"| {difficulty} | {SETTINGS[difficulty]} | {seed} | {metrics['accuracy']:.3f} "
                f"| {metrics['macro_f1']:.3f} |"
            )
            print(lines[-1], flush=True)
        summary[difficulty] = statistics.mean(accuracies)
    lines += [
        "",
        "Mean accuracy: "
        + ", ".join(f"{name} {value:.3f}" for name, value in summary.items())
        + ".",
    ]
    args.output.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
