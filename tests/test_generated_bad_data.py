"""The generated ``train.py`` meets bad data of every loaded kind: one line, no hang.

One classifier and one forecaster project are generated once; each case swaps
in a dataset file (``cnngen dataset arrays|windows|folder``) and a broken data
file, then runs ``python train.py`` with a time limit, so a loader that spins
fails the test.  Each case must end with a non-zero exit, no traceback and one
line on stderr that names the file and what is wrong with it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.generated import PROJECT_ENV

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
CLI_ENV = {**os.environ, "PYTHONPATH": str(REPO)}
RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 16, 16)).astype(np.float32)
Y = np.arange(40) % 4
FRAMES = RNG.normal(size=(60, 16, 16)).astype(np.float32)


def cnngen(folder: Path, *argv: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cnngen", *argv], cwd=folder, env=CLI_ENV,
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny classifier (1x16x16, 4 classes) and forecaster (4 frames in) project."""
    base = tmp_path_factory.mktemp("bad_data")
    for family in ("classifier", "forecaster"):
        cnngen(base, "project", family, "--family", family, "--size", "tiny")
    return base


def with_arrays(folder: Path, x: np.ndarray = X, y: np.ndarray = Y) -> None:
    np.savez(folder / "d.npz", x=x, y=y)
    cnngen(folder, "dataset", "arrays", "--data", "d.npz", "-o", "dataset.py", "--force")


def with_npy(folder: Path) -> None:
    np.save(folder / "x.npy", X)
    np.save(folder / "y.npy", Y)
    cnngen(folder, "dataset", "arrays", "--x", "x.npy", "--y", "y.npy", "-o", "dataset.py",
           "--force")  # fmt: skip


def with_frames(folder: Path, frames: np.ndarray = FRAMES) -> None:
    np.save(folder / "f.npy", frames)
    cnngen(folder, "dataset", "windows", "--pre-history", "4", "--forecast", "2",
           "--data", "f.npy", "-o", "dataset.py", "--force")  # fmt: skip


def with_photos(folder: Path) -> None:
    shutil.rmtree(folder / "photos", ignore_errors=True)
    for name in "abcd":
        (folder / "photos" / name).mkdir(parents=True)
        for index in range(4):
            image = b"P5\n16 16\n255\n" + bytes(range(256))
            (folder / "photos" / name / f"{index}.pgm").write_bytes(image)
    cnngen(folder, "dataset", "folder", "--root", "photos", "--size", "16x16",
           "--channels", "1", "-o", "dataset.py", "--force")  # fmt: skip


def nan_sample(folder: Path) -> None:
    x = X.copy()
    x[5, 1, 1] = np.nan
    with_arrays(folder, x=x)


def inf_sample(folder: Path) -> None:
    x = X.copy()
    x[30, 2, 2] = np.inf
    with_arrays(folder, x=x)


def nan_label(folder: Path) -> None:
    y = Y.astype(float)
    y[3] = np.nan
    with_arrays(folder, y=y)


def cut_npz(folder: Path) -> None:
    with_arrays(folder)
    (folder / "d.npz").write_bytes((folder / "d.npz").read_bytes()[:300])


def cut_npy(folder: Path) -> None:
    with_npy(folder)
    (folder / "x.npy").write_bytes((folder / "x.npy").read_bytes()[:500])


def csv_npy(folder: Path) -> None:
    with_npy(folder)
    (folder / "x.npy").write_text("1,2,3\n4,5,6\n")


def missing_npy(folder: Path) -> None:
    with_npy(folder)
    (folder / "x.npy").unlink()


def nan_frame(folder: Path) -> None:
    frames = FRAMES.copy()
    frames[50] = np.nan
    with_frames(folder, frames)


def cut_frames(folder: Path) -> None:
    with_frames(folder)
    (folder / "f.npy").write_bytes((folder / "f.npy").read_bytes()[:1000])


def cut_pgm(folder: Path) -> None:
    with_photos(folder)
    (folder / "photos" / "b" / "2.pgm").write_bytes(b"P5\n16 1")


def undecodable_empty_class(folder: Path) -> None:
    with_photos(folder)
    os.mkdir(os.path.join(os.fsencode(folder / "photos"), b"caf\xe9"))


CASES: dict[str, tuple[str, Callable[[Path], None], tuple[str, ...]]] = {
    "nan_sample": ("classifier", nan_sample, ("d.npz [x]", "sample 5", "NaN")),
    "inf_sample": ("classifier", inf_sample, ("d.npz [x]", "sample 30", "inf")),
    "nan_label": ("classifier", nan_label, ("d.npz [y]", "whole numbers", "nan")),
    "fraction_label": (
        "classifier", lambda f: with_arrays(f, y=Y + 0.7), ("d.npz [y]", "whole numbers"),
    ),  # fmt: skip
    "label_out_of_range": (
        "classifier", lambda f: with_arrays(f, y=np.arange(40) % 9), ("label 4", "4 classes"),
    ),  # fmt: skip
    "narrow_sample": (
        "classifier", lambda f: with_arrays(f, x=X[:, :, :10]), ("(1, 16, 10)", "(1, 16, 16)"),
    ),  # fmt: skip
    "cut_npz": ("classifier", cut_npz, ("d.npz", "damaged")),
    "cut_npy": ("classifier", cut_npy, ("x.npy", "mmap")),
    "csv_npy": ("classifier", csv_npy, ("x.npy", "not a numeric numpy array")),
    "missing_npy": ("classifier", missing_npy, ("x.npy", "No such file")),
    "cut_pgm": ("classifier", cut_pgm, ("photos/b/2.pgm", "truncated")),
    "undecodable_empty_class": (
        "classifier", undecodable_empty_class, ("caf\\udce9", "no images"),
    ),  # fmt: skip
    "nan_frame": ("forecaster", nan_frame, ("f.npy", "frame 50", "NaN")),
    "cut_frames": ("forecaster", cut_frames, ("f.npy", "mmap")),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_data_ends_train_py_in_one_line(projects: Path, case: str) -> None:
    family, make, words = CASES[case]
    folder = projects / family
    make(folder)
    result = subprocess.run(
        [sys.executable, "train.py", "--epochs", "1", "--max-steps", "2"], cwd=folder,
        env=PROJECT_ENV, capture_output=True, text=True, errors="replace", timeout=180,
    )  # fmt: skip
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    assert not (folder / "runs" / "best.pt").exists(), "a checkpoint was written"


def test_good_arrays_train(projects: Path) -> None:
    """The same project trains on good arrays: the cases above fail for their data alone."""
    folder = projects / "classifier"
    with_arrays(folder)
    result = subprocess.run(
        [sys.executable, "train.py", "--epochs", "1", "--max-steps", "2", "--out", "good"],
        cwd=folder, env=PROJECT_ENV, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (folder / "good" / "best.pt").is_file()
