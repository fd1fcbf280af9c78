"""Regenerate every example and golden file.

Run from the repository root:

    python examples/regenerate.py            # rewrite the examples and golden files
    python examples/regenerate.py --check    # exit 1 if any of them is stale

Each example model is one ``cnngen model`` command; the command is also
written in the header of the file it makes.  ``examples/golden/`` holds one
file of every other kind cnngen writes (training scripts, dataset files, a
handout, an SVG diagram and a whole project), each made by the command in
``GOLDEN``.  The golden tests (tests/test_examples.py) run the same commands
and fail when a committed file differs.
"""

from __future__ import annotations

import filecmp
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# (file, cnngen arguments) — the argument order is the order users would type.
EXAMPLES: list[tuple[str, str]] = [
    ("lenet5.py", "model classifier --preset lenet5 --name LeNet5"),
    (
        "forecaster_2d.py",
        "model forecaster --input-size 100x100 --in-channels 60 --out-channels 30 --layers 5",
    ),
    (
        "encoder_1d.py",
        "model encoder --input-size 1000 --layers 6 --name SignalEncoder",
    ),
    (
        "forecaster_3d.py",
        (
            "model forecaster --input-size 16x64x64 --start-channels 16 "
            "--final-activation sigmoid --out-depth 8 --name VolumeForecaster"
        ),
    ),
    (
        "resnet_se.py",
        (
            "model classifier --input-size 64x64 --in-channels 3 --block residual --se "
            "--name ResNetSE"
        ),
    ),
    (
        "c4_classifier.py",
        "model equivariant --input-size 28x28 --layers 3 --start-channels 16 --name C4Classifier",
    ),
    (
        "resnet18_97x131.py",
        "model classifier --input-size 97x131 --in-channels 3 --preset resnet18 --name ResNet18",
    ),
    (
        "c4_group_conv.py",
        (
            "model equivariant --input-size 28x28 --layers 3 --start-channels 8 --group-conv "
            "--name P4Classifier"
        ),
    ),
    (
        "unet_97x131.py",
        "model unet --input-size 97x131 --in-channels 3 --out-channels 2 --start-channels 8",
    ),
]


# (path under examples/golden/, cnngen arguments): one of every other kind of output.
GOLDEN: list[tuple[str, str]] = [
    ("train_forecasting.py", "train --task forecasting --model-class Forecaster"),
    ("train_classification.py", "train --task classification --model-class LeNet5"),
    ("train_segmentation.py", "train --task segmentation --model-class UNet"),
    ("train_classification_all.py", "train --task classification --model-class LeNet5 --with all"),
    ("predict_forecasting.py", "predict --task forecasting --model deploy/forecaster.onnx"),
    (
        "dataset_windows.py",
        "dataset windows --pre-history 60 --forecast 30 --threshold 0.5 --data frames.npy",
    ),
    ("dataset_arrays.py", "dataset arrays --data digits.npz"),
    ("dataset_synthetic.py", "dataset synthetic moving-square --size 64x64"),
    (
        "dataset_idx.py",
        (
            "dataset idx --images train-images-idx3-ubyte.gz --labels train-labels-idx1-ubyte.gz "
            "--test-images t10k-images-idx3-ubyte.gz --test-labels t10k-labels-idx1-ubyte.gz "
            "--class-names fashion"
        ),
    ),
    ("dataset_folder.py", "dataset folder --root data/train --test-root data/test --size 64x64"),
    ("finetune.py", "train --task finetune --model-class LeNet5 --freeze layer1"),
    ("lenet5.ipynb", "handout classifier --preset lenet5 --name LeNet5"),
    (
        "resnet18_97x131.ipynb",
        "handout classifier --input-size 97x131 --in-channels 3 --preset resnet18 --name ResNet18",
    ),
    ("conv.ipynb", "handout conv"),
    ("train_digits_ru.ipynb", "handout train --lang ru"),
    ("transfer_student.ipynb", "handout transfer --student"),
    ("forecaster.svg", "plan forecaster --input-size 64x64 --layers 4 --svg"),
    ("unet.svg", "plan unet --input-size 97x131 --layers 4 --svg"),
    (
        "unet_97x131.ipynb",
        "handout unet --input-size 97x131 --in-channels 3 --layers 3 --start-channels 8",
    ),
    ("project", "project --family classifier --input-size 28x28 --classes 4"),
    ("project_unet", "project --family unet --size tiny"),
    ("dataset_synthetic_shapes.py", "dataset synthetic shapes --size 28x28 --classes 4 --rotate"),
    ("dataset_synthetic_noisy_square.py", "dataset synthetic noisy-square --size 32x32"),
    (
        "dataset_synthetic_segmentation.py",
        "dataset synthetic segmentation --size 97x131 --classes 1",
    ),
    ("dataset_arrays_npy.py", "dataset arrays --x x.npy --y y.npy --layout first"),
    (
        "dataset_windows_single.py",
        (
            "dataset windows --pre-history 4 --forecast 2 --single-output --data frames.npy "
            "--additional extra.npy"
        ),
    ),
    (
        "model_classifier_ru.py",
        "model classifier --input-size 28x28 --block residual --se --name ResNetSE --lang ru",
    ),
    ("model_unet_ru.py", "model unet --input-size 64x64 --lang ru"),
]


def golden_argv(name: str, arguments: str) -> list[str]:
    """The argv that writes golden output ``name`` (a project takes its folder first)."""
    words = shlex.split(arguments)
    target = f"examples/golden/{name}"
    if words[0] == "project":
        return [words[0], target, *words[1:]]
    if words[-1] == "--svg":
        return [*words, target]
    return [*words, "--output", target]


def build_golden(folder: Path) -> Path:
    """Run every GOLDEN command in ``folder`` (as the repository root); return its golden dir."""
    golden = folder / "examples" / "golden"
    golden.mkdir(parents=True)
    for name, arguments in GOLDEN:
        subprocess.run(
            [sys.executable, "-m", "cnngen", *golden_argv(name, arguments)],
            cwd=folder,
            check=True,
            capture_output=True,
            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        )
    return golden


def stale_golden(built: Path, committed: Path) -> list[str]:
    """Relative paths that differ, or exist on one side only."""
    compare = filecmp.dircmp(built, committed)
    stale: list[str] = []

    def walk(cmp: filecmp.dircmp, prefix: str) -> None:
        for name in cmp.left_only + cmp.right_only + cmp.diff_files + cmp.funny_files:
            stale.append(prefix + name)
        for name in cmp.common_files:
            if (Path(cmp.left) / name).read_bytes() != (Path(cmp.right) / name).read_bytes():
                if prefix + name not in stale:
                    stale.append(prefix + name)
        for name, sub in cmp.subdirs.items():
            walk(sub, f"{prefix}{name}/")

    walk(compare, "")
    return sorted(stale)


def example_argv(name: str, arguments: str) -> list[str]:
    """The argv that writes example ``name`` (relative path, so headers are portable)."""
    return [*shlex.split(arguments), "--output", f"examples/{name}"]


def render_example(name: str, arguments: str) -> str:
    """The text ``cnngen`` writes for one example, without touching the disk."""
    from cnngen.cli.model import model_command
    from cnngen.cli.options import build_plan
    from cnngen.rendering.engine import render_model

    argv = example_argv(name, arguments)
    params = dict(model_command.make_context("model", argv[1:]).params)
    family, output = params.pop("family"), params.pop("output")
    spec, plan = build_plan(family, params)
    return render_model(plan, spec.command(output=output))


def main(argv: list[str]) -> int:
    from cnngen.rendering import reserved

    check = "--check" in argv
    stale = []
    # The names a --name may not take, stored so that checking one needs no probe renders.
    if not reserved.refresh(check):
        stale.append("cnngen/rendering/reserved_names.py")
        if not check:
            print("wrote cnngen/rendering/reserved_names.py")
    for name, arguments in EXAMPLES:
        path = ROOT / "examples" / name
        text = render_example(name, arguments)
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(name)
        if not check:
            path.write_text(text, encoding="utf-8")
            print(f"wrote examples/{name}")
    committed = ROOT / "examples" / "golden"
    with tempfile.TemporaryDirectory() as scratch:
        built = build_golden(Path(scratch))
        golden_stale = stale_golden(built, committed) if committed.exists() else ["golden/"]
        if golden_stale and not check:
            shutil.rmtree(committed, ignore_errors=True)
            shutil.copytree(built, committed)
            print("wrote examples/golden/ (" + ", ".join(golden_stale) + ")")
    stale += [f"golden/{name}" for name in golden_stale]
    if check and stale:
        print("stale examples: " + ", ".join(stale), file=sys.stderr)
        return 1
    if not stale:
        print("examples are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
