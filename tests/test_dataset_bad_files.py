"""Generated IDX and folder dataset files meet bad files: one line, non-zero exit, no hang.

Each test writes a dataset file with ``cnngen dataset``, puts small real or
broken data next to it and runs ``python dataset.py`` in a subprocess with a
timeout, so a loader that spins on a truncated file fails the test.
"""

from __future__ import annotations

import gzip
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

TIMEOUT = 60


def generate(folder: Path, *argv: str) -> Path:
    subprocess.run(
        [sys.executable, "-m", "cnngen", "dataset", *argv, "--output", "dataset.py"],
        cwd=folder,
        check=True,
        capture_output=True,
    )
    return folder / "dataset.py"


def run_dataset(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "dataset.py"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        errors="replace",
    )


def refused(folder: Path, *words: str) -> str:
    """Run the file; assert it stops with one line naming ``words``; return that line."""
    result = run_dataset(folder)
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


# ------------------------------------------------------------------ IDX
def idx_bytes(values: np.ndarray, code: int = 8) -> bytes:
    dtype = {8: ">u1", 13: ">f4"}[code]
    header = bytes([0, 0, code, values.ndim]) + struct.pack(f">{values.ndim}I", *values.shape)
    return header + values.astype(dtype).tobytes()


def idx_folder(tmp_path: Path, images: bytes, labels: bytes, gz: bool = True) -> Path:
    (tmp_path / "images.gz").write_bytes(gzip.compress(images) if gz else images)
    (tmp_path / "labels").write_bytes(labels)
    generate(tmp_path, "idx", "--images", "images.gz", "--labels", "labels")
    return tmp_path


def good_images(count: int = 10) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (count, 4, 4))


def test_idx_reads_a_good_pair(tmp_path: Path) -> None:
    idx_folder(tmp_path, idx_bytes(good_images()), idx_bytes(np.arange(10) % 10))
    result = run_dataset(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "8, 2 samples" in result.stdout


def test_idx_gzip_bomb_is_refused_from_its_header(tmp_path: Path) -> None:
    # Declares 60000 x 2000 x 2000 bytes (240 GB) but holds only a few values.
    header = bytes([0, 0, 8, 3]) + struct.pack(">3I", 60000, 2000, 2000)
    idx_folder(tmp_path, header + bytes(4096), idx_bytes(np.zeros(10)))
    refused(tmp_path, "images.gz", "MAX_BYTES")


def test_idx_gzip_stream_stops_at_the_declared_size(tmp_path: Path) -> None:
    # 1 MB of extra zeros after the declared values: refused, not inflated into memory.
    idx_folder(tmp_path, idx_bytes(good_images()) + bytes(2**20), idx_bytes(np.arange(10)))
    refused(tmp_path, "images.gz", "more than")


@pytest.mark.parametrize("cut", [0, 3, 9, 40])
def test_idx_truncated_files_name_the_file(tmp_path: Path, cut: int) -> None:
    idx_folder(tmp_path, idx_bytes(good_images())[:cut], idx_bytes(np.arange(10)), gz=False)
    refused(tmp_path, "images.gz")


def test_idx_truncated_values_say_how_many_bytes(tmp_path: Path) -> None:
    idx_folder(tmp_path, idx_bytes(good_images())[:-5], idx_bytes(np.arange(10)))
    refused(tmp_path, "images.gz", "truncated: expected 160 bytes, got 155")


def test_idx_cut_gzip_stream_names_the_file(tmp_path: Path) -> None:
    idx_folder(tmp_path, idx_bytes(good_images()), idx_bytes(np.arange(10)))
    packed = (tmp_path / "images.gz").read_bytes()
    (tmp_path / "images.gz").write_bytes(packed[: len(packed) // 2])
    refused(tmp_path, "images.gz", "truncated")


@pytest.mark.parametrize(
    ("labels", "words"),
    [
        (idx_bytes(np.full(10, 2.7), code=13), ("labels", "integers")),
        (idx_bytes(np.full(10, 12)), ("labels", "10 classes")),
        (idx_bytes(np.zeros(0)), ("labels", "expected 10 labels")),
    ],
)
def test_idx_bad_labels_are_refused(tmp_path: Path, labels: bytes, words: tuple[str, ...]) -> None:
    idx_folder(tmp_path, idx_bytes(good_images()), labels)
    refused(tmp_path, *words)


def test_idx_nan_images_are_refused(tmp_path: Path) -> None:
    images = good_images().astype(np.float32)
    images[3, 1, 1] = np.nan
    idx_folder(tmp_path, idx_bytes(images, code=13), idx_bytes(np.arange(10)))
    refused(tmp_path, "images.gz", "NaN")


def test_idx_error_type_is_a_value_error_for_train_py(tmp_path: Path) -> None:
    idx_folder(tmp_path, b"", idx_bytes(np.arange(10)), gz=False)
    code = "import dataset\ntry:\n    dataset.make_datasets()\nexcept ValueError as e:\n"
    code += "    print(type(e).__name__, len(str(e).splitlines()))\n"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT
    )
    assert result.stdout.strip() == "DatasetError 1", result.stderr


# ------------------------------------------------------------------ folder
def pgm(width: int = 4, height: int = 4, top: int = 255) -> bytes:
    return f"P5\n# a comment\n{width} {height}\n{top}\n".encode() + bytes(range(width * height))


def image_folder(tmp_path: Path, broken: bytes | None = None, suffix: str = ".pgm") -> Path:
    for name in ("a", "b"):
        (tmp_path / "data" / name).mkdir(parents=True)
        for index in range(3):
            (tmp_path / "data" / name / f"{index}.pgm").write_bytes(pgm())
    if broken is not None:
        (tmp_path / "data" / "b" / f"bad{suffix}").write_bytes(broken)
    generate(tmp_path, "folder", "--root", "data", "--channels", "1", "--stats-samples", "100")
    return tmp_path


def test_folder_reads_good_images(tmp_path: Path) -> None:
    result = run_dataset(image_folder(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "classes ['a', 'b']" in result.stdout


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", ("empty file",)),
        (b"P5", ("truncated",)),
        (b"P5\n4 4", ("truncated",)),
        (b"P5\n# comment without its end", ("truncated",)),
        (b"P5\n4 4 255", ("truncated",)),
        (b"P5\n4 4 255\n" + bytes(10), ("truncated: expected 16 bytes", "got 10")),
        (b"P5\n4 4 0\n" + bytes(16), ("maxval",)),
        (b"P5\n-8 4 255\n" + bytes(16), ("width",)),
        (b"P5\n4 x 255\n" + bytes(16), ("height",)),
        (b"GIF89a", ("P5",)),
    ],
)
def test_folder_bad_pgm_is_one_line_and_never_hangs(
    tmp_path: Path, data: bytes, words: tuple[str, ...]
) -> None:
    refused(image_folder(tmp_path, data), "bad.pgm", *words)


def test_folder_csv_saved_as_npy_names_the_file(tmp_path: Path) -> None:
    line = refused(image_folder(tmp_path, b"1,2,3\n4,5,6\n", ".npy"), "bad.npy")
    assert "allow_pickle" not in line


def test_folder_object_and_nan_npy_are_refused(tmp_path: Path) -> None:
    image = np.zeros((4, 4))
    image[0, 0] = np.nan
    image_folder(tmp_path)
    np.save(tmp_path / "data" / "a" / "nan.npy", image)
    refused(tmp_path, "nan.npy", "NaN")
    (tmp_path / "data" / "a" / "nan.npy").unlink()
    np.save(tmp_path / "data" / "a" / "objects.npy", np.array([None, 1]), allow_pickle=True)
    refused(tmp_path, "objects.npy")


def test_folder_empty_class_folder_is_refused(tmp_path: Path) -> None:
    image_folder(tmp_path)
    (tmp_path / "data" / "c").mkdir()
    refused(tmp_path, "data/c", "no images")


@pytest.mark.skipif(sys.platform != "linux", reason="bytes file names are a POSIX thing")
def test_folder_undecodable_class_name_prints_safely(tmp_path: Path) -> None:
    image_folder(tmp_path)
    odd = os.path.join(os.fsencode(tmp_path / "data"), b"caf\xe9")
    os.mkdir(odd)
    os.rename(os.fsencode(tmp_path / "data" / "b" / "0.pgm"), os.path.join(odd, b"0.pgm"))
    result = run_dataset(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "caf\\udce9" in result.stdout
    os.remove(os.path.join(odd, b"0.pgm"))
    line = refused(tmp_path, "no images")
    assert "caf\\udce9" in line
