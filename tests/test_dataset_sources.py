"""IDX files and image folders on disk, written byte by byte in the test and read back."""

from __future__ import annotations

import gzip
import os
import struct
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch

from cnngen.rendering.datafiles import CLASS_NAMES, render_folder, render_idx
from tests.generated import load


def write_idx(path: Path, array: np.ndarray, compress: bool = False) -> None:
    """The IDX format by hand: 0, 0, type 0x08 (ubyte), number of axes, big-endian sizes, bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)


def digits(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (count, 6, 5)), rng.integers(0, 10, count)


def module_from(tmp_path: Path, text: str) -> ModuleType:
    path = tmp_path / "dataset.py"
    path.write_text(text)
    return load(path)


def test_idx_files_gzipped_or_not_with_a_test_split(tmp_path: Path) -> None:
    images, labels = digits(40, 0)
    test_images, test_labels = digits(7, 1)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", images, compress=True)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", labels, compress=True)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", test_images)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", test_labels)
    module = module_from(
        tmp_path,
        render_idx(
            images=str(tmp_path / "train-images-idx3-ubyte.gz"),
            labels=str(tmp_path / "train-labels-idx1-ubyte.gz"),
            test_images=str(tmp_path / "t10k-images-idx3-ubyte"),
            test_labels=str(tmp_path / "t10k-labels-idx1-ubyte"),
            class_names_="fashion",
        ),
    )
    assert np.array_equal(module.read_idx(str(tmp_path / "t10k-images-idx3-ubyte")), test_images)
    train, val, test = module.make_datasets(3)
    assert (len(train), len(val), len(test)) == (32, 8, 7)
    assert train.classes == list(CLASS_NAMES["fashion"]) and test.classes == train.classes
    assert sorted(np.concatenate([train.indices, val.indices]).tolist()) == list(range(40))
    # Normalization uses the training rows only, and the pixels are the written bytes.
    pixels = images[train.indices] / 255.0
    assert train.mean == pytest.approx(pixels.mean()) and train.std == pytest.approx(pixels.std())
    x, y = test[4]
    assert x.dtype == torch.float32 and tuple(x.shape) == (1, 6, 5)
    expected = (test_images[4] / 255.0 - pixels.mean()) / pixels.std()
    assert np.allclose(x[0].numpy(), expected, atol=1e-5) and int(y) == test_labels[4]
    assert [len(s) for s in module.make_datasets(3)] == [32, 8, 7]  # seeded


def test_idx_without_test_files_keeps_two_splits(tmp_path: Path) -> None:
    images, labels = digits(10, 2)
    write_idx(tmp_path / "i", images)
    write_idx(tmp_path / "l", labels)
    module = module_from(
        tmp_path, render_idx(images=str(tmp_path / "i"), labels=str(tmp_path / "l"))
    )
    splits = module.make_datasets()
    assert len(splits) == 2 and splits[0].classes == [str(d) for d in range(10)]
    result = subprocess.run(
        [sys.executable, str(tmp_path / "dataset.py")], capture_output=True, text=True
    )
    assert result.returncode == 0 and "8, 2 samples (train, val) of (1, 6, 5)" in result.stdout


def test_broken_idx_files_are_refused_with_the_reason(tmp_path: Path) -> None:
    images, labels = digits(10, 2)
    write_idx(tmp_path / "i", images)
    write_idx(tmp_path / "l", labels[:9])
    (tmp_path / "bad").write_bytes(b"PK\x03\x04 not idx")
    module = module_from(
        tmp_path, render_idx(images=str(tmp_path / "i"), labels=str(tmp_path / "l"))
    )
    with pytest.raises(ValueError, match="expected 10 labels"):
        module.make_datasets()
    with pytest.raises(ValueError, match="not an IDX file"):
        module.read_idx(str(tmp_path / "bad"))
    (tmp_path / "cut").write_bytes((tmp_path / "i").read_bytes()[:-3])
    with pytest.raises(ValueError, match="truncated: expected 300 bytes, got 297"):
        module.read_idx(str(tmp_path / "cut"))


def write_pgm(path: Path, image: np.ndarray) -> None:
    height, width = image.shape
    path.write_bytes(
        f"P5\n# a comment\n{width} {height}\n255\n".encode() + image.astype(np.uint8).tobytes()
    )


def image_folder(root: Path, seed: int, per_class: int = 4) -> dict[Path, np.ndarray]:
    """Two classes of 6x8 gray images, as .pgm and .npy (no decoder needed)."""
    rng = np.random.default_rng(seed)
    written = {}
    for name in ("cat", "dog"):
        (root / name).mkdir(parents=True)
        for index in range(per_class):
            image = rng.integers(0, 256, (6, 8))
            path = root / name / (f"{index}.pgm" if index % 2 else f"{index}.npy")
            if path.suffix == ".pgm":
                write_pgm(path, image)
            else:
                np.save(path, image.astype(np.uint8))
            written[path] = image / 255.0
    (root / "cat" / "notes.txt").write_text("not an image")
    return written


def test_image_folder_without_a_decoder(tmp_path: Path) -> None:
    written = image_folder(tmp_path / "train", 0)
    image_folder(tmp_path / "test", 1, per_class=2)
    module = module_from(
        tmp_path,
        render_folder(root=str(tmp_path / "train"), test_root=str(tmp_path / "test"), channels=1),
    )
    train, val, test = module.make_datasets(0)
    assert (len(train), len(val), len(test)) == (6, 2, 4)
    assert train.classes == ["cat", "dog"] and test.labels == [0, 0, 1, 1]
    for dataset in (train, val):
        for path, label in zip(dataset.files, dataset.labels, strict=True):
            assert label == ["cat", "dog"].index(path.parent.name)
    pixels = np.stack([written[path] for path in train.files])
    x, y = val[1]
    expected = (written[val.files[1]] - pixels.mean()) / pixels.std()
    assert tuple(x.shape) == (1, 6, 8) and np.allclose(x[0].numpy(), expected, atol=1e-5)
    three = module_from(tmp_path, render_folder(root=str(tmp_path / "train"), channels=3))
    x3, _ = three.make_datasets(0)[0][0]
    assert tuple(x3.shape) == (3, 6, 8)


def test_png_needs_pillow_and_says_so(tmp_path: Path) -> None:
    image_folder(tmp_path / "train", 0)
    (tmp_path / "train" / "dog" / "photo.png").write_bytes(b"\x89PNG not really")
    (tmp_path / "dataset.py").write_text(render_folder(root=str(tmp_path / "train"), channels=1))
    blocker = tmp_path / "blocker" / "PIL"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('PIL is blocked for this test')\n")
    result = subprocess.run(
        [sys.executable, "dataset.py"], cwd=tmp_path, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(tmp_path / "blocker")},
    )  # fmt: skip
    assert result.returncode == 1
    assert "needs Pillow (pip install pillow)" in result.stderr


def test_png_and_jpeg_are_read_and_resized_with_pillow(tmp_path: Path) -> None:
    image_module = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        (tmp_path / "train" / name).mkdir(parents=True)
        for index in range(3):
            pixels = rng.integers(0, 256, (20, 10, 3)).astype(np.uint8)
            image_module.fromarray(pixels).save(tmp_path / "train" / name / f"{index}.png")
        image_module.fromarray(pixels).save(tmp_path / "train" / name / "x.jpg")
    module = module_from(tmp_path, render_folder(root=str(tmp_path / "train"), size=(8, 12)))
    train, val = module.make_datasets(0)
    assert len(train) + len(val) == 8
    x, _ = train[0]
    assert tuple(x.shape) == (3, 8, 12)
    png = sorted((tmp_path / "train" / "a").glob("*.png"))[0]
    raw = module.read_image(png)
    with image_module.open(png) as image:
        resized = np.asarray(image.convert("RGB").resize((12, 8), image_module.BILINEAR))
    assert np.allclose(raw, np.moveaxis(resized, -1, 0) / 255.0)
