"""Generated loaders on broken files: an error at the end of the file, never a hang.

Each case writes a real file, generates the loader with the CLI, and runs
``python dataset.py`` with a time limit: one line naming the file, a non-zero
exit, no traceback.
"""

from __future__ import annotations

import gzip
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.generated import PROJECT_ENV

pytestmark = pytest.mark.slow


def cnngen(folder: Path, *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cnngen", *args], cwd=folder, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def run_dataset(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "dataset.py"], cwd=folder, env=PROJECT_ENV, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip


def one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def idx_bytes(values: np.ndarray, code: int = 8, shape: tuple[int, ...] | None = None) -> bytes:
    shape = values.shape if shape is None else shape
    header = bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)
    return header + values.astype(values.dtype.newbyteorder(">")).tobytes()


def good_images(count: int = 20) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (count, 8, 8), dtype=np.uint8)


def good_labels(count: int = 20) -> np.ndarray:
    return (np.arange(count) % 10).astype(np.uint8)


def test_the_good_idx_pair_loads(tmp_path: Path) -> None:
    (tmp_path / "images.gz").write_bytes(gzip.compress(idx_bytes(good_images())))
    (tmp_path / "labels").write_bytes(idx_bytes(good_labels()))
    cnngen(tmp_path, "dataset", "idx", "--images", "images.gz", "--labels", "labels", "-o", "dataset.py")
    result = run_dataset(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "(1, 8, 8)" in result.stdout


@pytest.mark.parametrize(
    "case",
    ["gzip_bomb", "truncated_gzip", "short_values", "long_values", "float_labels", "nan_images",
     "no_labels", "not_idx"],
)  # fmt: skip
def test_a_broken_idx_file_is_named_in_one_line(tmp_path: Path, case: str) -> None:
    images, labels = idx_bytes(good_images()), idx_bytes(good_labels())
    words: tuple[str, ...]
    if case == "gzip_bomb":  # a valid header declaring 60000 x 4096 x 4096 bytes
        images = gzip.compress(idx_bytes(np.zeros(4, np.uint8), shape=(60000, 4096, 4096)))
        words = ("images", "limit is")
    elif case == "truncated_gzip":
        images = gzip.compress(images)[:-30]
        words = ("images", "cannot read")
    elif case == "short_values":
        images = images[:-5]
        words = ("images", "truncated")
    elif case == "long_values":
        images = images + b"\0" * 3
        words = ("images", "longer than its header")
    elif case == "float_labels":
        labels = idx_bytes((np.arange(20) % 10 + 0.7).astype(np.float32), code=13)
        words = ("labels", "integers")
    elif case == "nan_images":
        images = idx_bytes(np.full((20, 8, 8), np.nan, np.float32), code=13)
        words = ("images", "NaN")
    elif case == "no_labels":
        images, labels = idx_bytes(good_images(0)), idx_bytes(good_labels(0))
        words = ("labels", "no labels")
    else:
        images = b"a,b,c\n1,2,3\n"
        words = ("images", "not an IDX file")
    (tmp_path / "images").write_bytes(images)
    (tmp_path / "labels").write_bytes(labels)
    cnngen(tmp_path, "dataset", "idx", "--images", "images", "--labels", "labels", "-o", "dataset.py")
    one_line_error(run_dataset(tmp_path), *words)


@pytest.mark.parametrize(
    "content",
    [b"", b"P5\n", b"P5\n8 8", b"P5 # a comment that never ends", b"P5\n8 8\n0\n" + bytes(64),
     b"P5\n-8 8\n255\n" + bytes(64), b"P5\n8 8\n255\n" + bytes(10)],
    ids=["empty", "magic_only", "cut_in_header", "endless_comment", "maxval_0", "width_-8",
         "truncated_pixels"],
)  # fmt: skip
def test_a_broken_pgm_ends_in_one_line_not_a_hang(tmp_path: Path, content: bytes) -> None:
    for kind in ("cats", "dogs"):
        folder = tmp_path / "photos" / kind
        folder.mkdir(parents=True)
        for index in range(3):
            (folder / f"{index}.pgm").write_bytes(b"P5\n8 8\n255\n" + bytes(range(64)))
    (tmp_path / "photos" / "cats" / "0.pgm").write_bytes(content)
    cnngen(tmp_path, "dataset", "folder", "--root", "photos", "--size", "8x8", "-o", "dataset.py")
    code = (
        "import dataset\n"
        "train, val = dataset.make_datasets()\n"
        "[train[i] for i in range(len(train))]; [val[i] for i in range(len(val))]\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=PROJECT_ENV, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "0.pgm" in result.stderr.strip().splitlines()[-1]
