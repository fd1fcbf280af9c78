"""Generated dataset files, imported and checked against hand-computed windows and splits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch

from cnngen.rendering.datafiles import (
    Synthetic,
    render_arrays,
    render_folder,
    render_idx,
    render_synthetic,
    render_windows,
)
from cnngen.rendering.engine import format_python
from tests.generated import load, model_class, write_model

REPO = Path(__file__).resolve().parent.parent


def generate(tmp_path: Path, text: str, name: str = "dataset") -> ModuleType:
    path = tmp_path / f"{name}.py"
    path.write_text(text, encoding="utf-8")
    return load(path)


@pytest.fixture
def windows(tmp_path: Path) -> ModuleType:
    return generate(tmp_path, render_windows(pre_history=3, forecast=2))


def frames(count: int = 12, shape: tuple[int, ...] = (2, 3)) -> np.ndarray:
    """Frame t holds the values 100 t + 0, 1, 2, ...: every frame is recognisable."""
    cells = int(np.prod(shape))
    return (
        (100 * np.arange(count)[:, None] + np.arange(cells))
        .reshape(count, *shape)
        .astype(np.float32)
    )


# ------------------------------------------------------------------ windows
def test_multi_output_windows_match_hand_slices(windows: ModuleType) -> None:
    data = frames(12)
    dataset = windows.WindowDataset(data)
    assert len(dataset) == 12 - 3 - 2 + 1 == 8
    for i in range(len(dataset)):
        x, y = dataset[i]
        assert x.dtype == torch.float32 and tuple(x.shape) == (3, 2, 3)
        assert np.array_equal(x.numpy(), data[i : i + 3])
        assert np.array_equal(y.numpy(), data[i + 3 : i + 5])
    # The last window is kept: its target ends on the last frame.
    x, y = dataset[-1]
    assert np.array_equal(y.numpy(), data[-2:])
    assert np.array_equal(x.numpy(), data[-5:-2])
    with pytest.raises(IndexError):
        dataset[8]


def test_window_count_when_the_window_fills_the_series(windows: ModuleType) -> None:
    dataset = windows.WindowDataset(frames(5))
    assert len(dataset) == 1
    x, y = dataset[0]
    assert x[0, 0, 0] == 0 and y[-1, 0, 0] == 400


def test_single_output_is_one_sample_of_everything_before_the_forecast(
    windows: ModuleType,
) -> None:
    data = frames(10)
    dataset = windows.WindowDataset(data, single_output=True)
    assert len(dataset) == 1
    x, y = dataset[0]
    assert np.array_equal(x.numpy(), data[:8])
    assert np.array_equal(y.numpy(), data[8:])


def test_windows_are_views_of_the_source(windows: ModuleType) -> None:
    data = frames(12)
    x, y = windows.WindowDataset(data)[4]
    assert np.shares_memory(x.numpy(), data) and np.shares_memory(y.numpy(), data)
    source = torch.from_numpy(frames(12))
    x, _ = windows.WindowDataset(source)[4]
    assert x.data_ptr() == source[4].data_ptr()


@pytest.mark.parametrize("as_tensor", [False, True])
def test_threshold_binarizes_y_only_and_leaves_the_source_alone(
    windows: ModuleType, as_tensor: bool
) -> None:
    data = np.random.default_rng(0).random((12, 4, 4)).astype(np.float32)
    original = data.copy()
    source = torch.from_numpy(data) if as_tensor else data
    dataset = windows.WindowDataset(source, threshold=0.5)
    for i in range(len(dataset)):
        x, y = dataset[i]
        assert np.array_equal(y.numpy(), (original[i + 3 : i + 5] > 0.5).astype(np.float32))
        # x keeps its values even where earlier windows' targets were binarized.
        assert np.array_equal(x.numpy(), original[i : i + 3])
    assert np.array_equal(data, original)


def test_binarize_x_binarizes_inputs_too(windows: ModuleType) -> None:
    data = np.random.default_rng(1).random((9, 3, 3))
    original = data.copy()
    x, y = windows.WindowDataset(data, threshold=0.3, binarize_x=True)[2]
    assert np.array_equal(x.numpy(), (original[2:5] > 0.3).astype(np.float32))
    assert np.array_equal(y.numpy(), (original[5:7] > 0.3).astype(np.float32))
    assert set(np.unique(x.numpy())) <= {0.0, 1.0}
    assert np.array_equal(data, original)


def test_additional_series_are_stacked_as_channels(windows: ModuleType) -> None:
    data = frames(10, (4, 5))
    extra = [-frames(10, (4, 5)), frames(10, (4, 5)) + 0.5, frames(10, (4, 5)) * 2]
    dataset = windows.WindowDataset(data, additional=extra)
    x, y = dataset[3]
    assert tuple(x.shape) == (3, 4, 4, 5)
    assert np.array_equal(x[:, 0].numpy(), data[3:6])
    for channel, series in enumerate(extra, start=1):
        assert np.array_equal(x[:, channel].numpy(), series[3:6])
    assert np.array_equal(y.numpy(), data[6:8])


def test_stacked_series_feed_a_3d_forecaster_with_time_as_depth(tmp_path: Path) -> None:
    """--extras stack: x [series, time, H, W] and y [1, forecast, H, W], what a 3D forecaster
    with --out-depth takes and gives; the default merges the series into the channels."""
    data = frames(40, (6, 5))
    extra = [frames(40, (6, 5)) * 2 + 1]
    for extras, (x_shape, y_shape) in {
        "stack": ((2, 4, 6, 5), (1, 3, 6, 5)),
        "channels": ((8, 6, 5), (3, 6, 5)),
    }.items():
        (tmp_path / extras).mkdir()
        module = generate(tmp_path / extras, render_windows(pre_history=4, forecast=3, extras=extras))
        train, _ = module.make_datasets(data=data, additional=extra)
        x, y = train[5]
        assert (tuple(x.shape), tuple(y.shape)) == (x_shape, y_shape)
        if extras == "stack":
            assert np.array_equal(x[0].numpy(), data[5:9]) and np.array_equal(x[1].numpy(), extra[0][5:9])
            assert np.array_equal(y[0].numpy(), data[9:12])
    model_file = write_model(
        tmp_path, "forecaster", input_size=(4, 6, 5), in_channels=2, out_channels=1, out_depth=3,
        layers=2,
        min_size=(1,),
    )
    model = model_class(load(model_file))()
    module = load(tmp_path / "stack" / "dataset.py")
    x, y = module.make_datasets(data=data, additional=extra)[0][0]
    assert model(x[None]).shape[1:] == y.shape


def test_talk_example_shapes(tmp_path: Path) -> None:
    module = generate(tmp_path, render_windows(pre_history=60, forecast=30))
    data = np.zeros((100, 100, 100), dtype=np.float32)
    dataset = module.WindowDataset(data, additional=[data, data, data])
    x, y = dataset[0]
    assert tuple(x.shape) == (60, 4, 100, 100) and tuple(y.shape) == (30, 100, 100)
    assert len(dataset) == 11


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pre_history": 8, "forecast": 5}, r"pre_history \+ forecast: .* 13 frames is longer"),
        ({"pre_history": 0}, "pre_history must be a positive integer"),
        ({"forecast": -1}, "forecast must be a positive integer"),
        ({"forecast": 2.5}, "forecast must be a positive integer"),
        ({"forecast": 12, "single_output": True}, "forecast: 12 frames leave no input"),
        ({"additional": [np.zeros((11, 2, 3))]}, r"additional\[0\]: shape \(11, 2, 3\)"),
        ({"binarize_x": True}, "binarize_x: needs a threshold"),
    ],
)
def test_bad_arguments_are_refused_at_construction(
    windows: ModuleType, kwargs: dict, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        windows.WindowDataset(frames(12), **kwargs)


def test_make_datasets_splits_in_time_without_shared_targets(tmp_path: Path) -> None:
    data = frames(50, (1,))
    path = tmp_path / "frames.npy"
    np.save(path, data)
    module = generate(tmp_path, render_windows(pre_history=4, forecast=3, data_path=str(path)))
    train, val = module.make_datasets(0)

    def targets(dataset: object) -> set[int]:
        return {int(v) // 100 for i in range(len(dataset)) for v in dataset[i][1].flatten()}

    train_targets, val_targets = targets(train), targets(val)
    assert not train_targets & val_targets
    assert max(train_targets) < min(val_targets)
    assert max(val_targets) == 49
    # 10 frames held out: training has 40 frames, validation reaches back 4.
    assert len(train) == 40 - 7 + 1 and len(val) == 14 - 7 + 1
    # Loaded memory-mapped, read-only: the windows are still right.
    assert np.array_equal(val[0][0].numpy(), data[36:40])


def test_make_datasets_without_data_says_what_to_pass(windows: ModuleType) -> None:
    with pytest.raises(ValueError, match="make_datasets\\(data=frames\\)"):
        windows.make_datasets(0)
    train, val = windows.make_datasets(0, data=frames(40))
    assert len(train) > 0 and len(val) > 0


def test_windows_file_self_check_runs(tmp_path: Path) -> None:
    for single in (False, True):
        path = tmp_path / f"w{single}.py"
        path.write_text(
            render_windows(pre_history=5, forecast=2, single_output=single, threshold=0.2)
        )
        result = subprocess.run([sys.executable, str(path)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr


# ------------------------------------------------------------------- arrays
@pytest.fixture
def digits(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = bunch.images.astype(np.float32)
    y = bunch.target
    path = tmp_path / "digits.npz"
    np.savez(path, x=x, y=y)
    return path, x, y


def test_arrays_from_npz_channels_first_with_train_only_statistics(
    tmp_path: Path, digits: tuple[Path, np.ndarray, np.ndarray]
) -> None:
    path, x, y = digits
    module = generate(tmp_path, render_arrays(data_path=str(path)))
    train, val = module.make_datasets(seed=3)
    assert len(train) + len(val) == len(x) and len(val) == round(0.2 * len(x))
    assert not set(train.indices) & set(val.indices)
    sample, label = train[0]
    assert tuple(sample.shape) == (1, 8, 8) and label.dtype == torch.int64
    row = train.indices[0]
    mean = x[train.indices].mean(dtype=np.float64)
    std = x[train.indices].std(dtype=np.float64)
    assert np.allclose(sample.numpy()[0], (x[row] - mean) / std, atol=1e-5)
    assert int(label) == y[row]
    # Validation samples are normalized with the training statistics.
    stacked = np.stack([train[i][0].numpy() for i in range(len(train))])
    assert abs(stacked.mean()) < 1e-4 and abs(stacked.std() - 1) < 1e-4
    # The split is seeded: same seed, same split; another seed, another split.
    again, _ = module.make_datasets(seed=3)
    other, _ = module.make_datasets(seed=4)
    assert np.array_equal(again.indices, train.indices)
    assert not np.array_equal(other.indices, train.indices)


def test_validation_data_never_changes_the_statistics(
    tmp_path: Path, digits: tuple[Path, np.ndarray, np.ndarray]
) -> None:
    _, x, y = digits
    module = generate(tmp_path, render_arrays())
    train, val = module.make_datasets(seed=0, x=x, y=y)
    changed = x.copy()
    changed[val.indices] += 1000.0
    train2, _ = module.make_datasets(seed=0, x=changed, y=y)
    assert torch.equal(train.mean, train2.mean) and torch.equal(train.std, train2.std)


def test_channels_last_arrays_are_moved_and_labels_mapped(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, (40, 6, 5, 3)).astype(np.float32)
    x[..., 2] += 50.0  # one channel far from the others: per-channel statistics matter
    labels = np.array(["cat", "dog"] * 20)
    np.save(tmp_path / "xs.npy", x)
    np.save(tmp_path / "ys.npy", labels)
    module = generate(
        tmp_path,
        render_arrays(
            x_path=str(tmp_path / "xs.npy"), y_path=str(tmp_path / "ys.npy"), layout="last"
        ),
    )
    train, val = module.make_datasets(seed=0)
    sample, label = val[1]
    row = val.indices[1]
    assert tuple(sample.shape) == (3, 6, 5)
    train_x = x[train.indices]
    for channel in range(3):
        values = train_x[..., channel]
        expected = (x[row, :, :, channel] - values.mean()) / values.std()
        assert np.allclose(sample[channel].numpy(), expected, atol=1e-4)
    assert list(train.classes) == ["cat", "dog"] and int(label) == (labels[row] == "dog")
    assert module.resolve_layout((40, 6, 5, 3), "auto") == "last"
    assert module.resolve_layout((40, 3, 6, 5), "auto") == "first"
    assert module.resolve_layout((40, 6, 5), "auto") == "none"


def test_arrays_self_check_runs(tmp_path: Path) -> None:
    path = tmp_path / "arrays.py"
    path.write_text(render_arrays(layout="auto"))
    result = subprocess.run([sys.executable, str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------- synthetic
def test_moving_square_is_seeded_and_moves_along_a_circle(tmp_path: Path) -> None:
    module = generate(tmp_path, render_synthetic(Synthetic(kind="moving-square", size=(30, 30))))
    video = module.moving_square(frames=48, seed=1)
    assert video.shape == (48, 30, 30) and video.dtype == np.float32
    assert np.array_equal(video, module.moving_square(frames=48, seed=1))
    assert not np.array_equal(video, module.moving_square(frames=48, seed=2))
    side = module.SQUARE
    assert (video.sum(axis=(1, 2)) == side * side).all()
    centres = np.array([np.argwhere(frame).mean(axis=0) for frame in video])
    radii = np.linalg.norm(centres - centres.mean(axis=0), axis=1)
    assert radii.min() > 4 and radii.max() - radii.min() <= 1.5  # a circle
    # One turn every PERIOD frames.
    assert np.array_equal(video[0], video[module.PERIOD])
    train, val = module.make_datasets(0)
    x, y = train[0]
    assert tuple(x.shape) == (8, 30, 30) and tuple(y.shape) == (4, 30, 30)


@pytest.mark.parametrize("size", [(40,), (6, 20, 20)])
def test_noisy_square_in_1d_and_3d(tmp_path: Path, size: tuple[int, ...]) -> None:
    module = generate(tmp_path, render_synthetic(Synthetic(kind="noisy-square", size=size)))
    video = module.moving_square(frames=30, seed=0)
    assert video.shape == (30, *size)
    assert 0.05 < float(np.std(video - np.round(video))) < 0.2  # the noise is there
    train, _ = module.make_datasets(0)
    assert tuple(train[0][0].shape) == (8, *size)


def test_shapes_are_balanced_seeded_and_distinct(tmp_path: Path) -> None:
    options = Synthetic(kind="shapes", size=(16, 16), classes=6, channels=2, samples=120)
    module = generate(tmp_path, render_synthetic(options))
    x, y = module.make_shapes(seed=5)
    assert x.shape == (120, 2, 16, 16) and np.bincount(y).tolist() == [20] * 6
    again, labels = module.make_shapes(seed=5)
    assert np.array_equal(x, again) and np.array_equal(y, labels)
    rng = np.random.default_rng(0)
    masks = [module.draw(shape, (16, 16), rng) for shape in module.SHAPES]
    for i, a in enumerate(masks):
        assert a.sum() > 4
        for b in masks[i + 1 :]:
            assert not np.array_equal(a, b)
    train, val = module.make_datasets(0)
    assert len(train) == 96 and len(val) == 24


def test_rotated_shapes_turn_by_quarter_turns(tmp_path: Path) -> None:
    text = render_synthetic(Synthetic(kind="shapes", size=(15, 15), classes=3, rotate=True))
    module = generate(tmp_path, text.replace("NOISE = 0.3", "NOISE = 0.0"))
    images, labels = module.make_shapes(samples=60, seed=0)
    triangles = images[labels == module.SHAPES.index("triangle"), 0]
    # An upright triangle is wider at the bottom; turned ones are wider elsewhere.
    widest = {int(np.argmax([(t > 0).sum(axis=1)[-4:].sum(), (t > 0).sum(axis=0)[-4:].sum(),
                             (t > 0).sum(axis=1)[:4].sum(), (t > 0).sum(axis=0)[:4].sum()]))
              for t in triangles}  # fmt: skip
    assert len(widest) >= 3


def test_hard_shapes_add_clutter_classes_and_a_test_split(tmp_path: Path) -> None:
    hard = generate(tmp_path, render_synthetic(Synthetic(kind="shapes", size=(24, 24),
                    classes=None, difficulty="hard", noise=0.0, samples=60,
                    test_fraction=0.25)), "hard")  # fmt: skip
    easy = generate(tmp_path, render_synthetic(Synthetic(kind="shapes", size=(24, 24),
                    noise=0.0, samples=60)), "easy")  # fmt: skip
    assert len(hard.SHAPES) == 6 and hard.CLUTTER == 3 and easy.CLUTTER == 0
    train, val, test = hard.make_datasets(1)
    assert (len(train), len(val), len(test)) == (33, 12, 15)
    assert train.classes == list(hard.SHAPES) and test.classes == train.classes
    x, _ = hard.make_shapes(60, seed=1)
    assert np.array_equal(torch.cat([train.tensors[0], val.tensors[0], test.tensors[0]]), x)
    # Without noise an easy image holds 0 and one brightness; the dimmer strokes add levels.
    for image in easy.make_shapes(20, seed=0)[0]:
        assert len(np.unique(image)) <= 2
    assert np.mean([len(np.unique(image)) > 2 for image in x]) > 0.9
    assert len(easy.make_datasets(0)) == 2


def test_synthetic_self_checks_run(tmp_path: Path) -> None:
    for index, options in enumerate(
        [
            Synthetic(kind="moving-square", size=(24, 24)),
            Synthetic(kind="shapes", size=(32,), classes=6, rotate=True, samples=60),
            Synthetic(kind="shapes", size=(4, 12, 10), rotate=True, samples=40),
        ]
    ):
        path = tmp_path / f"s{index}.py"
        path.write_text(render_synthetic(options))
        result = subprocess.run([sys.executable, str(path)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------- the files
ALL_DATASETS = [
    ("windows", lambda: render_windows()),
    ("windows_all", lambda: render_windows(pre_history=4, forecast=1, threshold=0.5,
                                           binarize_x=True, single_output=True,
                                           data_path="a b.npy", additional_paths=("c.npz",))),
    ("arrays", lambda: render_arrays(data_path="d.npz", layout="last")),
    ("moving", lambda: render_synthetic(Synthetic(kind="moving-square"))),
    ("shapes", lambda: render_synthetic(Synthetic(kind="shapes", rotate=True))),
    ("idx", lambda: render_idx(images="i.gz", labels="l.gz")),
    ("idx_test", lambda: render_idx(images="i", labels="l", test_images="ti", test_labels="tl",
                                    class_names_="fashion")),
    ("folder", lambda: render_folder(root="data")),
    ("folder_all", lambda: render_folder(root="a", test_root="b", size=(28, 28), channels=1)),
]  # fmt: skip


@pytest.mark.parametrize(("name", "render"), ALL_DATASETS)
def test_generated_files_are_black_ruff_clean_deterministic_and_standalone(
    tmp_path: Path, name: str, render: object
) -> None:
    text = render()  # type: ignore[operator]
    assert text == render()  # type: ignore[operator]
    assert format_python(text) == text
    path = tmp_path / f"{name}.py"
    path.write_text(text)
    ruff = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--config",
         str(REPO / "pyproject.toml"), str(path)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert ruff.returncode == 0, ruff.stdout
    imports = {
        line.split()[1].split(".")[0]
        for line in text.splitlines()
        if line.startswith(("import ", "from "))
    }
    stdlib = {"collections", "contextlib", "gzip", "math", "pathlib", "struct", "sys", "typing", "zipfile", "zlib"}
    assert imports <= stdlib | {"numpy", "torch"}, imports


@pytest.mark.parametrize("path", ['evil"""; import os; """\\.npy', 'x"""\nimport os  # .npy'])
def test_user_text_cannot_escape_the_docstring(run_cli, tmp_path: Path, path: str) -> None:
    out = tmp_path / "w.py"
    result = run_cli("dataset", "windows", "--data", path, "-o", str(out))
    assert result.code == 0, result.err
    text = out.read_text()
    assert format_python(text) == text
    module = load(out)
    assert module.DATA_PATH == path
    assert not [line for line in text.splitlines() if line.startswith("import os")]


# ---------------------------------------------------------------------- CLI
@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["dataset", "windows", "--binarize-x"], "--binarize-x"),
        (["dataset", "windows", "--pre-history", "0"], "--pre-history"),
        (["dataset", "windows", "--name", "class"], "--name"),
        (["dataset", "windows", "--data", "frames.csv"], "--data"),
        (["dataset", "windows", "--val-fraction", "1.5"], "--val-fraction"),
        (["dataset", "arrays", "--x", "a.npy"], "--y"),
        (["dataset", "arrays", "--layout", "sideways"], "--layout"),
        (["dataset", "synthetic", "circles"], "KIND"),
        (["dataset", "synthetic", "shapes", "--classes", "7"], "--classes"),
        (["dataset", "synthetic", "moving-square", "--frames", "10"], "--frames"),
        (["dataset", "synthetic", "shapes", "--size", "2x2"], "--size"),
        (["dataset", "synthetic", "moving-square", "--difficulty", "hard"], "--difficulty"),
        (["dataset", "synthetic", "shapes", "--test-fraction", "0.8"], "--test-fraction"),
        (["dataset", "idx", "--images", "i"], "--labels"),
        (
            ["dataset", "idx", "--images", "i", "--labels", "l", "--test-images", "t"],
            "--test-labels",
        ),
        (
            ["dataset", "idx", "--images", "i", "--labels", "l", "--class-names", "a"],
            "--class-names",
        ),
        (["dataset", "idx", "--images", "", "--labels", "l"], "--images"),
        (["dataset", "folder", "--root", "r", "--channels", "2"], "--channels"),
        (["dataset", "folder", "--root", "r", "--size", "8x8x8"], "--size"),
        (["dataset", "folder"], "--root"),
    ],
)
def test_cli_errors_name_the_option_and_write_nothing(
    run_cli, tmp_path: Path, argv: list[str], option: str
) -> None:
    out = tmp_path / "dataset.py"
    result = run_cli(*argv, "-o", str(out))
    assert result.code == 2
    assert result.err.startswith("Error: ") and option in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert not out.exists()


def test_cli_writes_and_records_the_command(run_cli, tmp_path: Path) -> None:
    out = tmp_path / "dataset.py"
    result = run_cli(
        "dataset", "windows", "--pre-history", "6", "--forecast", "3", "--threshold", "0.5",
        "--name", "Frames", "-o", str(out),
    )  # fmt: skip
    assert result.code == 0, result.err
    text = out.read_text()
    assert "cnngen dataset windows --pre-history 6 --forecast 3 --threshold 0.5" in text
    module = load(out)
    assert (module.PRE_HISTORY, module.FORECAST, module.THRESHOLD) == (6, 3, 0.5)
    assert len(module.Frames(frames(20))) == 12
    assert run_cli("dataset", "windows", "-o", str(out)).code == 2  # exists, no --force
    assert run_cli("dataset", "windows", "-o", str(out), "--force").code == 0
    shown = run_cli("dataset", "synthetic", "shapes")
    assert shown.code == 0 and "def make_datasets(seed: int = 0)" in shown.out


def test_generating_never_imports_torch() -> None:
    code = (
        "import sys\n"
        "import cnngen.cli\n"
        "from cnngen.rendering.datafiles import Synthetic, render_arrays, render_synthetic, render_train,"
        " render_windows\n"
        "from cnngen.rendering.project import render_project\n"
        "render_windows(); render_arrays(); render_synthetic(Synthetic(kind='shapes'))\n"
        "from cnngen.rendering.datafiles import render_finetune, render_folder, render_idx\n"
        "render_idx(images='i', labels='l'); render_folder(root='r')\n"
        "render_finetune(model_class='M')\n"
        "render_train(task='forecasting', model_class='M')\n"
        "render_project('p', 'classifier', {'input_size': (16, 16)})\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr


def test_model_output_path_cannot_escape_the_docstring(run_cli, tmp_path: Path) -> None:
    out = tmp_path / 'm"""+__import__("os").getcwd()+"""x.py'
    result = run_cli("model", "encoder", "-i", "16", "-n", "1", "-o", str(out))
    assert result.code == 0, result.err
    text = out.read_text()
    assert format_python(text) == text
    # The runs of quotes are escaped (a lone quote needs no escape in a docstring).
    assert str(out).replace('"""', '\\"\\"\\"') in text
    assert load(out).__doc__.count('"""+__import__') == 1
