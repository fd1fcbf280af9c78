"""The source material's results, reproduced with generated models.

* ``rotation``    a plain classifier and a C4-equivariant classifier of the same
  parameter count, trained on scikit-learn's bundled digits, tested upright and
  rotated by 90 degrees.
* ``lenet5``      the ``--preset lenet5`` model on the digits: accuracy, macro-F1
  and the confusion matrix.
* ``forecasting`` a generated forecaster on a synthetic moving square, against
  the "repeat the last frame" baseline, with a PNG strip of predictions.

The digits are 8x8 images with values 0..16.  They are scaled to 0..1, enlarged
3x by pixel repetition to 24x24 and zero-padded by 2 pixels to 28x28, the
input size of LeNet-5 and of MNIST.  No data set is downloaded.
"""

from __future__ import annotations

import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import count_params, generate, import_file, model_class, table, write_png

HERE = Path(__file__).resolve().parent


# ------------------------------------------------------------------ data
def digits_28(seed: int = 0, scale: int = 3, pad: int = 2) -> dict[str, np.ndarray]:
    """Digits as (N, 1, 28, 28) float32 in [0, 1], stratified 75/25 split.

    ``scale`` and ``pad`` give other sizes: (2, 0) is 16x16.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    images = data.images.astype(np.float32) / 16.0
    images = np.kron(images, np.ones((1, scale, scale), dtype=np.float32))
    images = np.pad(images, ((0, 0), (pad, pad), (pad, pad)))[:, None]
    x_train, x_test, y_train, y_test = train_test_split(
        images, data.target, test_size=0.25, random_state=seed, stratify=data.target
    )
    return {
        "x_train": x_train,
        "y_train": y_train.astype(np.int64),
        "x_test": x_test,
        "y_test": y_test.astype(np.int64),
    }


def train_classifier(
    model: Any,
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    batch: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
) -> float:
    """A plain Adam + cross-entropy loop; returns the wall seconds it took."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    xs, ys = torch.from_numpy(x), torch.from_numpy(y)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs)
    loss_fn = torch.nn.CrossEntropyLoss()
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(xs), generator=generator)
        for i in range(0, len(xs), batch):
            index = order[i : i + batch]
            optimizer.zero_grad()
            loss = loss_fn(model(xs[index]), ys[index])
            loss.backward()
            optimizer.step()
        scheduler.step()
    return time.perf_counter() - start


def predict(model: Any, x: np.ndarray, batch: int = 256) -> np.ndarray:
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out.append(
                model(torch.from_numpy(np.ascontiguousarray(x[i : i + batch]))).argmax(1).numpy()
            )
    return np.concatenate(out)


def rotate90(x: np.ndarray, k: int = 1) -> np.ndarray:
    return np.ascontiguousarray(np.rot90(x, k, axes=(-2, -1)))


# ------------------------------------------------------------------ rotation
def rotation(quick: bool = False) -> tuple[str, dict[str, Any]]:
    import torch

    data = digits_28(scale=2, pad=0)
    epochs = 2 if quick else 15
    options = dict(input_size=(16, 16), layers=4, start_channels=16, min_size=(2,), classes=10)
    rows = []
    headline: dict[str, Any] = {}
    commands = []
    with tempfile.TemporaryDirectory() as folder:
        for family, filename in (("classifier", "plain.py"), ("equivariant", "c4.py")):
            torch.manual_seed(0)
            path, plan, command = generate(family, Path(folder), filename, **options)
            commands.append(f"`cnngen {command}`")
            model = model_class(import_file(path))()
            seconds = train_classifier(model, data["x_train"], data["y_train"], epochs)
            upright = float((predict(model, data["x_test"]) == data["y_test"]).mean())
            turned = [
                float((predict(model, rotate90(data["x_test"], k)) == data["y_test"]).mean())
                for k in (1, 2, 3)
            ]
            # Largest change of any logit when the input turns by 90 degrees.
            model.eval()
            with torch.no_grad():
                sample = torch.from_numpy(data["x_test"][:64])
                drift = float(
                    (model(sample) - model(torch.rot90(sample, 1, dims=(-2, -1)))).abs().max()
                )
            name = "plain CNN" if family == "classifier" else "C4-equivariant CNN"
            rows.append(
                [
                    name,
                    f"{count_params(model):,}",
                    f"{upright:.1%}",
                    f"{turned[0]:.1%}",
                    f"{turned[1]:.1%}",
                    f"{turned[2]:.1%}",
                    f"{drift:.1e}",
                    f"{seconds:.0f} s",
                ]
            )
            headline[family] = {
                "params": count_params(model),
                "test": upright,
                "rot90": turned[0],
                "rot180": turned[1],
                "rot270": turned[2],
                "max_logit_change": drift,
            }
    text = [
        "### Rotation: plain vs C4-equivariant classifier (digits)",
        "",
        f"Both models generated by cnngen with the same options and trained the same "
        f"way (Adam, lr 2e-3 with cosine decay, batch 64, {epochs} epochs, upright "
        f"training images only, seed 0), {len(data['y_train'])} training and "
        f"{len(data['y_test'])} test digits (stratified 25% split, seed 0), enlarged to "
        "16x16 by pixel repetition:",
        "",
        *[f"- {c}" for c in commands],
        "",
        table(
            [
                "model",
                "params",
                "test",
                "test rotated 90",
                "rotated 180",
                "rotated 270",
                "max logit change at 90",
                "train time",
            ],
            rows,
        ),
        "",
        "The source article reports, on MNIST, 97.3% upright / 15.1% rotated for the "
        "plain CNN and 96.5% / 96.5% for the equivariant one. The shape to look for: "
        "the plain model collapses on rotated digits, the equivariant model scores "
        "the same at every quarter turn (its logits change only by float rounding). "
        "Full C4 invariance also makes a 6 and a 9 rotated by 180 degrees look alike, "
        "which costs the equivariant model some upright accuracy.",
    ]
    return "\n".join(text), headline


# ------------------------------------------------------------------ LeNet-5
def lenet5(quick: bool = False) -> tuple[str, dict[str, Any]]:
    """LeNet-5 trained by the generated train script (or a plain loop without one)."""
    epochs = 3 if quick else 30
    with tempfile.TemporaryDirectory() as folder:
        if has_train_command():
            result = lenet5_with_train_script(Path(folder), epochs)
        else:
            result = lenet5_plain_loop(Path(folder), epochs)
    accuracy, macro_f1, matrix = result["accuracy"], result["macro_f1"], result["confusion"]
    rows = [[f"**{i}**", *[str(v) for v in matrix[i]]] for i in range(10)]
    text = [
        "### LeNet-5 on the digits",
        "",
        f"`cnngen {result['command']}` ({result['params']:,} parameters), {result['how']}, "
        f"{epochs} epochs ({result['seconds']:.0f} s); {result['split']}",
        "",
        table(
            ["metric", "value", "course threshold"],
            [
                ["accuracy", f"{accuracy:.3f}", ">= 0.7"],
                ["macro-F1", f"{macro_f1:.3f}", ">= 0.7"],
            ],
            "lrr",
        ),
        "",
        "Confusion matrix (rows: true digit, columns: predicted digit):",
        "",
        table(["true \\ predicted", *[str(i) for i in range(10)]], rows),
    ]
    if result.get("check"):
        text += ["", result["check"]]
    return "\n".join(text), {
        "accuracy": accuracy,
        "macro_f1": macro_f1,
        "trained_with": result["how"],
    }


def has_train_command() -> bool:
    try:
        from cnngen.rendering.datafiles import render_train  # noqa: F401
    except ImportError:
        return False
    return True


def cnngen_cli(folder: Path, *words: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "cnngen", *words],
        check=True,
        cwd=folder,
        capture_output=True,
        text=True,
    )


def lenet5_with_train_script(folder: Path, epochs: int) -> dict[str, Any]:
    """Model, dataset and train script all written by the cnngen CLI, then run."""
    import json

    import torch
    from sklearn.datasets import load_digits
    from sklearn.metrics import f1_score

    digits = load_digits()
    images = np.kron(digits.images.astype(np.float32) / 16.0, np.ones((1, 3, 3), dtype=np.float32))
    images = np.pad(images, ((0, 0), (2, 2), (2, 2)))[:, None]
    np.save(folder / "digits_x.npy", images)
    np.save(folder / "digits_y.npy", digits.target.astype(np.int64))
    model_words = ["model", "classifier", "--preset", "lenet5", "-o", "model.py"]
    data_words = ["dataset", "arrays", "--x", str(folder / "digits_x.npy"), "--y", str(folder / "digits_y.npy"),
                  "--layout", "first", "--val-fraction", "0.25", "-o", "dataset.py"]  # fmt: skip
    train_words = ["train", "--task", "classification", "--model-class", "Classifier",
                   "--epochs", str(epochs), "--batch-size", "64", "--lr", "0.002", "-o", "train.py"]  # fmt: skip
    for words in (model_words, data_words, train_words):
        cnngen_cli(folder, *words)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "train.py", "--out", "runs", "--device", "cpu"],
        check=True, cwd=folder, capture_output=True, text=True,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    metrics = json.loads((folder / "runs" / "metrics.json").read_text())
    # Cross-check the script's numbers with scikit-learn on its own validation split.
    sys.path.insert(0, str(folder))
    try:
        model_module = import_file(folder / "model.py", "bench_lenet_model")
        data_module = import_file(folder / "dataset.py", "bench_lenet_dataset")
        model = model_class(model_module)()
        saved = torch.load(folder / "runs" / "last.pt", map_location="cpu")
        # A training checkpoint holds the weights under "model" beside the optimiser state.
        if isinstance(saved, dict) and isinstance(saved.get("model"), dict):
            saved = saved["model"]
        model.load_state_dict(saved)
        _train, val = data_module.make_datasets(0)
        xs = np.stack([np.asarray(val[i][0]) for i in range(len(val))]).astype(np.float32)
        ys = np.array([int(val[i][1]) for i in range(len(val))])
    finally:
        sys.path.remove(str(folder))
    predicted = predict(model, xs)
    sk_f1 = float(f1_score(ys, predicted, average="macro"))
    sk_acc = float((predicted == ys).mean())
    return {
        "command": " ".join(model_words[:-2]),
        "params": count_params(model),
        "how": "trained by the generated train script (`cnngen train --task classification "
        f"--model-class Classifier --epochs {epochs} --batch-size 64 --lr 0.002`, AdamW) on the "
        "dataset file from `cnngen dataset arrays --layout first --val-fraction 0.25`",
        "seconds": seconds,
        "split": f"{len(ys)} held-out digits (the script's validation split, never trained "
        "on; metrics of the last epoch, as the script's `metrics.json` reports them). "
        "Digits enlarged to 28x28 as described above.",
        "accuracy": float(metrics["accuracy"]),
        "macro_f1": float(metrics["macro_f1"]),
        "confusion": metrics["confusion"],
        "check": f"scikit-learn on the same split and checkpoint (`last.pt`): accuracy "
        f"{sk_acc:.3f}, macro-F1 {sk_f1:.3f}.",
    }


def lenet5_plain_loop(folder: Path, epochs: int) -> dict[str, Any]:
    import torch
    from sklearn.metrics import confusion_matrix, f1_score

    data = digits_28()
    torch.manual_seed(0)
    path, _plan, command = generate("classifier", folder, "lenet5.py", preset="lenet5")
    model = model_class(import_file(path))()
    seconds = train_classifier(model, data["x_train"], data["y_train"], epochs, lr=2e-3)
    predicted = predict(model, data["x_test"])
    return {
        "command": command,
        "params": count_params(model),
        "how": "trained with a plain Adam loop (lr 2e-3, cosine decay, batch 64); "
        "`cnngen train` was not available",
        "seconds": seconds,
        "split": f"{len(data['y_test'])} test digits (stratified 25% split, seed 0).",
        "accuracy": float((predicted == data["y_test"]).mean()),
        "macro_f1": float(f1_score(data["y_test"], predicted, average="macro")),
        "confusion": confusion_matrix(data["y_test"], predicted, labels=list(range(10))).tolist(),
    }


# ------------------------------------------------------------------ forecasting
def moving_square(
    frames: int,
    size: int = 32,
    side: int = 6,
    radius: float = 9.0,
    period: float = 24.0,
    phase: float = 0.0,
    direction: int = 1,
) -> np.ndarray:
    """(frames, size, size) float32: a bright square whose centre moves along a circle."""
    video = np.zeros((frames, size, size), dtype=np.float32)
    centre = (size - 1) / 2
    for t in range(frames):
        angle = phase + direction * 2 * math.pi * t / period
        cy = centre + radius * math.sin(angle)
        cx = centre + radius * math.cos(angle)
        top = int(round(cy - side / 2))
        left = int(round(cx - side / 2))
        video[t, max(top, 0) : max(top + side, 0), max(left, 0) : max(left + side, 0)] = 1.0
    return video


def windows(video: np.ndarray, history: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Every (history, horizon) window of a video, the last one included."""
    count = len(video) - history - horizon + 1
    x = np.stack([video[i : i + history] for i in range(count)])
    y = np.stack([video[i + history : i + history + horizon] for i in range(count)])
    return x, y


def square_sequences(count: int, frames: int, seed: int, size: int) -> list[np.ndarray]:
    """Videos with random speed, direction, radius and starting phase (fallback generator)."""
    rng = np.random.default_rng(seed)
    return [
        moving_square(
            frames,
            size=size,
            radius=float(rng.uniform(6, 10)),
            period=float(rng.uniform(16, 32)),
            phase=float(rng.uniform(0, 2 * math.pi)),
            direction=int(rng.choice([-1, 1])),
        )
        for _ in range(count)
    ]


def generated_square_data(
    folder: Path,
    size: int,
    history: int,
    horizon: int,
    frames: int,
    train_count: int,
    test_count: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str, str]:
    """Windows from the file ``cnngen dataset synthetic moving-square`` writes.

    Each video gets its own seed (starting angle) and period (speed); test
    videos use periods and seeds that no training video has.  Falls back to
    this module's own generator when the dataset command is not available.
    """
    try:
        from cnngen.rendering.datafiles import Synthetic, render_synthetic  # noqa: F401
    except ImportError:
        train = square_sequences(train_count, frames, seed=0, size=size)
        test = square_sequences(test_count, frames, seed=1, size=size)
        x_tr, y_tr = map(
            np.concatenate, zip(*(windows(v, history, horizon) for v in train), strict=True)
        )
        x_te, y_te = map(
            np.concatenate, zip(*(windows(v, history, horizon) for v in test), strict=True)
        )
        return x_tr, y_tr, x_te, y_te, "this benchmark's own generator", "6x6"
    words = [
        "dataset", "synthetic", "moving-square", "--size", f"{size}x{size}",
        "--frames", str(frames), "--pre-history", str(history), "--forecast", str(horizon),
        "-o", str(folder / "square_data.py"), "--force",
    ]  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "cnngen", *words], check=True, cwd=folder, capture_output=True
    )
    module = import_file(folder / "square_data.py")
    rng = np.random.default_rng(0)

    def cut(count: int, periods: np.ndarray, seed0: int) -> tuple[np.ndarray, np.ndarray]:
        xs, ys = [], []
        for index in range(count):
            video = module.moving_square(
                frames=frames, period=int(periods[index]), seed=seed0 + index
            )
            dataset = module.WindowDataset(video, pre_history=history, forecast=horizon)
            for i in range(len(dataset)):
                x, y = dataset[i]
                xs.append(x.numpy())
                ys.append(y.numpy())
        return np.stack(xs), np.stack(ys)

    train_periods = rng.choice([16, 18, 20, 22, 26, 28, 30, 32], size=train_count)
    test_periods = rng.choice([17, 21, 24, 29], size=test_count)
    x_tr, y_tr = cut(train_count, train_periods, 0)
    x_te, y_te = cut(test_count, test_periods, 10_000)
    side = f"{module.SQUARE}x{module.SQUARE}"
    return x_tr, y_tr, x_te, y_te, f"`cnngen {' '.join(words[:-3])}`", side


def forecasting(quick: bool = False, png: Path | None = None) -> tuple[str, dict[str, Any]]:
    import torch

    size, history, horizon = 32, 6, 4
    frames = 60
    train_count, test_count = (8, 4) if quick else (40, 10)
    epochs = 2 if quick else 25
    options = dict(
        input_size=(size, size),
        in_channels=history,
        out_channels=horizon,
        layers=4,
        min_size=(2,),
        start_channels=24,
        final_activation="sigmoid",
    )
    with tempfile.TemporaryDirectory() as folder:
        x_train, y_train, x_test, y_test, source, side = generated_square_data(
            Path(folder), size, history, horizon, frames, train_count, test_count
        )
        torch.manual_seed(0)
        path, plan, command = generate("forecaster", Path(folder), "square.py", **options)
        model = model_class(import_file(path))()
        seconds = train_forecaster(model, x_train, y_train, epochs)
        model.eval()
        with torch.no_grad():
            predicted = np.concatenate(
                [
                    model(torch.from_numpy(x_test[i : i + 256])).numpy()
                    for i in range(0, len(x_test), 256)
                ]
            )
    mae_model = float(np.abs(predicted - y_test).mean())
    last = np.repeat(x_test[:, -1:], horizon, axis=1)
    mae_last = float(np.abs(last - y_test).mean())
    mae_blank = float(np.abs(y_test).mean())
    per_step = [
        [
            f"t+{k + 1}",
            f"{np.abs(predicted[:, k] - y_test[:, k]).mean():.4f}",
            f"{np.abs(last[:, k] - y_test[:, k]).mean():.4f}",
            f"{np.abs(y_test[:, k]).mean():.4f}",
        ]
        for k in range(horizon)
    ]
    per_step.append(["all", f"**{mae_model:.4f}**", f"{mae_last:.4f}", f"{mae_blank:.4f}"])
    png_note = ""
    if png is not None:
        write_strip(png, x_test, y_test, predicted, samples=(0, len(x_test) // 2))
        png_note = (
            f"\n\n![predicted vs true frames]({png.name})\n\n`{png.name}`: for two test "
            f"windows, the top row shows the last {min(history, 3)} input frames and then the "
            f"{horizon} true future frames, the row below the model's {horizon} predicted frames."
        )
    text = [
        "### Forecasting a moving square",
        "",
        f"Synthetic videos from {source}: a {side} bright square on a {size}x{size} black "
        "frame moving along a circle. Each video has its own starting angle (seed) and "
        "speed (period); the test videos use periods (17, 21, 24, 29 frames per turn) "
        "and seeds that no training video has (training periods 16-32, even). "
        f"{train_count} training and {test_count} test videos of {frames} frames, cut "
        "with the generated `WindowDataset` into every "
        f"window of {history} input and {horizon} output frames ({len(x_train)} training, "
        f"{len(x_test)} test windows). The model, `cnngen {command}` "
        f"({count_params(model):,} parameters), is trained with Adam (lr 2e-3, cosine "
        f"decay, MSE loss) for {epochs} epochs ({seconds:.0f} s).",
        "",
        table(
            ["horizon", "MAE generated forecaster", "MAE repeat last frame", "MAE all-black frame"],
            per_step,
        ),
        "",
        "The all-black column is a second trivial baseline: the square covers a few "
        "percent of the frame, so predicting nothing already has a low MAE.",
        png_note,
    ]
    return "\n".join(text).rstrip(), {
        "mae_model": mae_model,
        "mae_last_frame": mae_last,
        "mae_black": mae_blank,
    }


def train_forecaster(
    model: Any, x: np.ndarray, y: np.ndarray, epochs: int, batch: int = 32, lr: float = 2e-3
) -> float:
    import torch

    generator = torch.Generator().manual_seed(0)
    xs, ys = torch.from_numpy(x), torch.from_numpy(y)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs)
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(xs), generator=generator)
        for i in range(0, len(xs), batch):
            index = order[i : i + batch]
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(model(xs[index]), ys[index])
            loss.backward()
            optimizer.step()
        scheduler.step()
    return time.perf_counter() - start


def write_strip(
    path: Path,
    x: np.ndarray,
    y: np.ndarray,
    predicted: np.ndarray,
    samples: tuple[int, ...],
    scale: int = 3,
) -> None:
    """Rows of frames (inputs, truth; then predictions), upscaled, grey gutters."""
    horizon = y.shape[1]
    shown_inputs = min(x.shape[1], 3)
    size = y.shape[-1]
    gutter = 2
    cols = shown_inputs + horizon
    blank = np.full((size, size), 0.5, dtype=np.float32)
    lines = []
    for sample in samples:
        top = [*x[sample, -shown_inputs:], *y[sample]]
        bottom = [blank] * shown_inputs + list(np.clip(predicted[sample], 0, 1))
        lines += [top, bottom]
    height = len(lines) * (size + gutter) + gutter
    width = cols * (size + gutter) + gutter
    canvas = np.full((height, width), 0.5, dtype=np.float32)
    for r, line in enumerate(lines):
        for c, frame in enumerate(line):
            top_px = gutter + r * (size + gutter)
            left_px = gutter + c * (size + gutter)
            canvas[top_px : top_px + size, left_px : left_px + size] = frame
    canvas = np.kron(canvas, np.ones((scale, scale), dtype=np.float32))
    write_png(path, (canvas * 255).round().astype(np.uint8).tolist())
