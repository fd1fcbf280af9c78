"""``train.py --channels-last`` on CPU: the flag is a no-op there, and the run survives.

torch 2.13.0+cpu computes the weight gradient of a 1x1, stride-2 convolution
over a channels-last input with few input channels (a residual block's
``downsample`` shortcut) in oneDNN's ``jit_avx2_1x1_convolution_bwd_weights``,
which writes outside its buffers: with one thread the process dies ("double
free or corruption", "free(): invalid next size", SIGSEGV), with two it hangs
or returns wrong gradients.  The generated script therefore applies
channels-last on CUDA only and says so in one line elsewhere.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cnngen.core.solver import solve
from cnngen.core.spec import make_spec
from cnngen.rendering.datafiles import Synthetic, render_synthetic, render_train
from cnngen.rendering.engine import render_model

# One thread per process (the suite shares two cores); one thread is also where
# the oneDNN bug crashes at once instead of hanging.
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ""}


def residual_project(folder: Path) -> None:
    """A residual classifier whose second block has the shortcut that crashed.

    ``layer2.downsample.0`` is ``Conv2d(4, 8, kernel_size=1, stride=2)`` over a
    16x16 map in batches of 30: the shape of the oneDNN bug (few input
    channels, even sizes of at least 8, batch above 1).
    """
    spec = make_spec(
        "classifier", input_size=(16, 16), layers=2, start_channels=4, block="residual",
        classes=3,
    )  # fmt: skip
    plan = solve(spec)
    (folder / "model.py").write_text(render_model(plan, spec.command()))
    synthetic = Synthetic(kind="shapes", size=(16, 16), classes=3, samples=120)
    (folder / "dataset.py").write_text(render_synthetic(synthetic))
    (folder / "train.py").write_text(
        render_train(
            task="classification", model_class="Classifier", epochs=1, batch_size=30, features="all"
        )
    )


def run(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "train.py", "--device", "cpu", "--epochs", "1", "--max-steps", "3",
         *args],
        cwd=folder, env=ENV, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.slow
def test_channels_last_on_cpu_is_noted_and_trains_like_the_default(tmp_path: Path) -> None:
    residual_project(tmp_path)
    assert (
        "nn.Conv2d(4, 8, kernel_size=1, stride=2, bias=False)"
        in (tmp_path / "model.py").read_text()
    )
    flagged = run(tmp_path, "--channels-last", "--out", "flagged")
    assert flagged.returncode == 0, (flagged.returncode, flagged.stderr[-2000:])
    notes = [line for line in flagged.stdout.splitlines() if "--channels-last" in line]
    assert notes == [
        "note: --channels-last applies to CUDA only; training in the default memory format on cpu"
    ]
    plain = run(tmp_path, "--out", "plain")
    assert plain.returncode == 0, plain.stderr[-2000:]
    assert "--channels-last" not in plain.stdout

    def losses(out: str) -> list[tuple[str, str]]:
        rows = csv.DictReader(open(tmp_path / out / "history.csv"))
        return [(row["train_loss"], row["val_loss"]) for row in rows]

    # The flag changes nothing on CPU: the same seed gives the same losses.
    assert losses("flagged") == losses("plain") and len(losses("plain")) == 1
