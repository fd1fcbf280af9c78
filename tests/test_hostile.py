"""A hostile battery: input a careless or malicious user would give, across every command.

Each row is a command line and the option its error must name.  Every row
must end with exit status 2, exactly one ``Error:`` line on stderr that names
the option, nothing on stdout, no traceback, and the folder it ran in exactly
as it was (an existing file the command was told to ``--force`` over
included).  The rows cover non-finite and out-of-range numbers, sizes no
machine could run, options the chosen family or preset would silently ignore,
class and module names that would shadow what the generated files use, and
verify's own options.  The last test feeds hostile options to a generated
``train.py``.  ``tests/test_hostile_io.py`` holds the file-system half.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

BIG = "100000000000000000000"  # 10**20
HUGE = "1" + "0" * 30  # 10**30

# Commands that write a file get "-o out.txt" and, in a second run,
# "-o existing.txt --force"; both must leave the folder untouched.
WRITES = ("model", "handout", "dataset", "train")

# (arguments, the option the error names)
CASES: list[tuple[str, str]] = [
    # ---- non-finite and out-of-range floats in the model spec
    ("plan encoder -i 100 --ratio inf", "--ratio"),
    ("plan encoder -i 100 --ratio nan", "--ratio"),
    ("plan encoder -i 100 --ratio 1e400", "--ratio"),
    ("plan encoder -i 100 --ratio -1", "--ratio"),
    ("plan encoder -i 100 --ratio 0", "--ratio"),
    ("plan encoder -i 100 --ratio 1e9", "--ratio"),
    ("model encoder -i 100 --dropout nan", "--dropout"),
    ("model encoder -i 100 --dropout inf", "--dropout"),
    ("model encoder -i 100 --dropout -0.5", "--dropout"),
    ("model encoder -i 100 --dropout 1", "--dropout"),
    ("handout encoder -i 100 --ratio -inf", "--ratio"),
    # ---- sizes and counts no machine could run
    (f"model encoder -i {BIG}", "--input-size"),
    (f"plan encoder -i 64x{BIG}", "--input-size"),
    ("plan encoder -i 0", "--input-size"),
    ("plan encoder -i -5", "--input-size"),
    (f"model encoder -i 100 --start-channels {HUGE} --max-channels {HUGE}", "--start-channels"),
    (f"plan encoder -i 100 --max-channels {HUGE}", "--max-channels"),
    (f"plan encoder -i 100 --in-channels {BIG}", "--in-channels"),
    ("plan encoder -i 100 --in-channels 0", "--in-channels"),
    (f"model forecaster -i 64x64 --latent {BIG}0", "--latent"),
    ("plan forecaster -i 64x64 --latent 0", "--latent"),
    (f"model classifier -i 32x32 --hidden {BIG}x5", "--hidden"),
    ("plan classifier -i 32x32 --hidden 0", "--hidden"),
    ("plan encoder -i 100 --sub-blocks 1000000", "--sub-blocks"),
    ("plan encoder -i 100 --sub-blocks 0", "--sub-blocks"),
    ("plan encoder -i 100 --layers 100 --sub-blocks 20 --stride 1", "--sub-blocks"),
    ("plan encoder -i 100 --layers 1001", "--layers"),
    ("plan encoder -i 100 --layers -1", "--layers"),
    (f"plan encoder -i 100 --kernel {BIG}", "--kernel"),
    (f"plan encoder -i 100 --stride {BIG}", "--stride"),
    ("plan encoder -i 100 --dilation 0", "--dilation"),
    (f"plan forecaster -i 8x64x64 --out-depth {BIG}", "--out-depth"),
    (f"model classifier -i 32x32 --classes {BIG}", "--classes"),
    ("model classifier -i 32x32 --classes 1", "--classes"),
    ("plan classifier -i 32x32 --classes 0", "--classes"),
    ("plan equivariant -i 32x32 --classes 1", "--classes"),
    (
        "model classifier -i 4000x4000 -n 2 --start-channels 100000 --max-channels 100000",
        "--max-channels",
    ),
    (
        "model forecaster -i 1000x1000 -n 2 --latent 1000000 --start-channels 10000 "
        "--max-channels 10000",
        "--latent",
    ),
    ("model classifier -i 1000x1000 -n 2 --head flatten --hidden 1000000", "--hidden"),
    (
        "plan encoder -i 16777216 -n 1 --start-channels 4096 --max-channels 4096",
        "--input-size",
    ),
    # ---- options the family or the preset would ignore
    ("model encoder -i 100 --hidden 5", "--hidden"),
    ("model encoder -i 100 --classes 3", "--classes"),
    ("model encoder -i 100 --head flatten", "--head"),
    ("model forecaster -i 64 --hidden 5", "--hidden"),
    ("model forecaster -i 64 --classes 3", "--classes"),
    ("model forecaster -i 64 --head gap", "--head"),
    ("plan encoder -i 100 --latent 4", "--latent"),
    ("plan classifier -i 32x32 --latent 4", "--latent"),
    ("plan equivariant -i 32x32 --latent 4", "--latent"),
    ("plan encoder -i 100 --out-channels 3", "--out-channels"),
    ("plan classifier -i 32x32 --out-depth 2", "--out-depth"),
    ("plan equivariant -i 32x32 --block vgg", "--block"),
    ("plan encoder -i 28x28 --preset lenet5", "--preset"),
    ("model classifier --preset lenet5 --layers 3", "--layers"),
    ("model classifier --preset lenet5 --block vgg", "--block"),
    ("model classifier --preset lenet5 --kernel 3", "--kernel"),
    ("model classifier --preset lenet5 --se", "--se"),
    ("model classifier --preset lenet5 --head gap", "--head"),
    ("handout classifier --preset lenet5 --sub-blocks 2 --dropout 0.2", "--sub-blocks"),
    ("model classifier --preset resnet18 --depthwise --norm groupnorm", "--depthwise"),
    # ---- norms and dropout rates a preset cannot take
    ("handout classifier --preset lenet5 --norm dropout --dropout 0.2", "--norm"),
    ("model classifier --preset vgg11 --norm dropout", "--norm"),
    ("plan classifier --preset resnet18 -i 32x32 --norm instancenorm", "--norm"),
    ("model classifier --preset googlenet --dropout nan", "--dropout"),
    ("model classifier --preset vgg16 --dropout 1", "--dropout"),
    ("plan classifier --preset mobilenet_v2 --dropout -0.1", "--dropout"),
    ("plan encoder -i 100 --block residual", "--block"),
    ("plan forecaster -i 64 --block vgg", "--block"),
    # ---- class names that would shadow what the model file uses
    ("model classifier -i 32x32 --name print", "--name"),
    ("model classifier -i 32x32 --name super", "--name"),
    ("model classifier -i 32x32 --name tuple", "--name"),
    ("model classifier -i 32x32 --name sum", "--name"),
    ("model classifier -i 32x32 --name __name__", "--name"),
    ("model classifier -i 32x32 --name __doc__", "--name"),
    ("model encoder -i 64 --name torch", "--name"),
    ("model encoder -i 64 --name nn", "--name"),
    ("model encoder -i 64 --name INPUT_SHAPE", "--name"),
    ("model encoder -i 64 --name LAYER_SHAPES", "--name"),
    ("model classifier -i 32x32 --block residual --name Residual", "--name"),
    ("model equivariant -i 32x32 --name RotationStack", "--name"),
    ("handout encoder -i 64 --name ValueError", "--name"),
    ("model encoder -i 64 --name class", "--name"),
    ("model encoder -i 64 --name 1bad", "--name"),
    ("model encoder -i 64 --name my-model", "--name"),
    ("model encoder -i 64 --name Modèle", "--name"),
    # ---- project names that would break train.py
    ("project proj --name main", "--name"),
    ("project proj --name nn", "--name"),
    ("project proj --family classifier --name DataLoader", "--name"),
    ("project proj --name make_datasets", "--name"),
    ("project proj --name LR", "--name"),
    ("project proj --name Path", "--name"),
    ("project proj --name model", "--name"),
    ("project proj --family equivariant --name EPOCHS", "--name"),
    # ---- project numbers
    ("project proj --lr inf", "--lr"),
    ("project proj --lr nan", "--lr"),
    ("project proj --seed -1", "--seed"),
    ("project proj --noise nan", "--noise"),
    ("project proj --noise -1", "--noise"),
    ("project proj --epochs 0", "--epochs"),
    ("project proj --batch-size 0", "--batch-size"),
    (f"project proj --frames {BIG}", "--frames"),
    ("project proj --family classifier --samples 0", "--samples"),
    ("project proj --ratio inf", "--ratio"),
    ("project proj --family classifier --classes 1", "--classes"),
    ("project proj --hidden 5", "--hidden"),
    ("project proj --family classifier --latent 4", "--latent"),
    ("project proj --samples 10", "--samples"),
    ("project proj --rotate", "--rotate"),
    ("project proj --family classifier --frames 10", "--frames"),
    # ---- train
    ("train --task forecasting --model-class F --lr inf", "--lr"),
    ("train --task forecasting --model-class F --lr nan", "--lr"),
    ("train --task forecasting --model-class F --lr 1e400", "--lr"),
    ("train --task forecasting --model-class F --lr -0.1", "--lr"),
    ("train --task forecasting --model-class F --lr 0", "--lr"),
    ("train --task forecasting --model-class F --lr 1e9", "--lr"),
    ("train --task forecasting --model-class F --seed -1", "--seed"),
    ("train --task forecasting --model-class F --seed 4294967296", "--seed"),
    (f"train --task forecasting --model-class F --seed {HUGE}", "--seed"),
    ("train --task forecasting --model-class F --epochs -3", "--epochs"),
    ("train --task forecasting --model-class F --epochs 10000000", "--epochs"),
    (f"train --task forecasting --model-class F --batch-size {BIG}", "--batch-size"),
    ("train --task classification --model-class main", "--model-class"),
    ("train --task classification --model-class np", "--model-class"),
    ("train --task classification --model-class DataLoader", "--model-class"),
    ("train --task classification --model-class LR", "--model-class"),
    ("train --task classification --model-class Path", "--model-class"),
    ("train --task classification --model-class print", "--model-class"),
    ("train --task classification --model-class __doc__", "--model-class"),
    ("train --task classification --model-class M --model-module json", "--model-module"),
    ("train --task classification --model-class M --model-module torch", "--model-module"),
    ("train --task classification --model-class M --dataset-module numpy", "--dataset-module"),
    ("train --task classification --model-class M --dataset-module random", "--dataset-module"),
    # ---- dataset windows / arrays / synthetic
    ("dataset windows --threshold inf", "--threshold"),
    ("dataset windows --threshold nan", "--threshold"),
    ("dataset windows --threshold -inf", "--threshold"),
    ("dataset windows --val-fraction nan", "--val-fraction"),
    ("dataset windows --val-fraction inf", "--val-fraction"),
    ("dataset windows --val-fraction 0", "--val-fraction"),
    ("dataset windows --val-fraction 1", "--val-fraction"),
    (f"dataset windows --pre-history {BIG}", "--pre-history"),
    ("dataset windows --forecast 0", "--forecast"),
    (f"dataset windows --forecast {BIG}", "--forecast"),
    ("dataset windows --name print", "--name"),
    ("dataset windows --name __name__", "--name"),
    ("dataset arrays --val-fraction nan", "--val-fraction"),
    ("dataset arrays --name sum", "--name"),
    ("dataset synthetic moving-square --noise nan", "--noise"),
    ("dataset synthetic moving-square --noise inf", "--noise"),
    ("dataset synthetic moving-square --noise 1e400", "--noise"),
    ("dataset synthetic noisy-square --noise -1", "--noise"),
    ("dataset synthetic moving-square --frames 0", "--frames"),
    (f"dataset synthetic moving-square --frames {BIG}", "--frames"),
    ("dataset synthetic moving-square --period 0", "--period"),
    (f"dataset synthetic moving-square --period {BIG}", "--period"),
    ("dataset synthetic moving-square --pre-history 0", "--pre-history"),
    ("dataset synthetic moving-square --name tuple", "--name"),
    (f"dataset synthetic shapes --samples {BIG}", "--samples"),
    ("dataset synthetic shapes --samples 1000000 --size 512x512", "--samples"),
    ("dataset synthetic shapes --channels 0", "--channels"),
    (f"dataset synthetic shapes --channels {BIG}", "--channels"),
    (f"dataset synthetic shapes --size {BIG}", "--size"),
    ("dataset synthetic shapes --classes 1", "--classes"),
    ("dataset synthetic shapes --noise inf", "--noise"),
    ("dataset synthetic shapes --frames 10", "--frames"),
    ("dataset synthetic shapes --name Shapes", "--name"),
    ("dataset synthetic moving-square --samples 10", "--samples"),
    ("dataset synthetic noisy-square --rotate", "--rotate"),
    # ---- verify's own options (the file exists; nothing may run)
    (f"verify model.py --batch {BIG}", "--batch"),
    ("verify model.py --batch 0", "--batch"),
    ("verify model.py --batch 100000", "--batch"),
    ("verify model.py --steps -1", "--steps"),
    (f"verify model.py --steps {BIG}", "--steps"),
    ("verify model.py --timeout inf", "--timeout"),
    ("verify model.py --timeout nan", "--timeout"),
    ("verify model.py --timeout 0", "--timeout"),
    ("verify model.py --timeout -1", "--timeout"),
    ("verify model.py --timeout 1e9", "--timeout"),
    ("verify model.py --max-memory 10", "--max-memory"),
    ("verify model.py --max-memory -1", "--max-memory"),
    (f"verify model.py --max-memory {HUGE}", "--max-memory"),
    ("verify model.py --device tpu", "--device"),
    ("verify missing.py", "FILE"),
    ("verify existing.txt", "FILE"),
    ("verify .", "FILE"),
    # ---- calc
    ("calc conv --input 10 --kernel 0", "--kernel"),
    ("calc conv --input 10 --kernel 3 --stride 0", "--stride"),
    ("calc conv --input 10 --kernel 3 --padding -1", "--padding"),
    ("calc conv --input 0 --kernel 3", "--input"),
    ("calc conv --input 10 --kernel 20", "--kernel"),
    ("calc transposed --input 10 --kernel 3 --output-padding -1", "--output-padding"),
    ("calc conv --input 10 --kernel 3 --dilation 0", "--dilation"),
    ("calc pool --input 10 --kernel 0", "--kernel"),
]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes() if path.is_file() else b"<dir>"
        for path in sorted(folder.rglob("*"))
    }


def _check(result: object, option: str) -> None:
    code, out, err = result.code, result.out, result.err  # type: ignore[attr-defined]
    lines = err.splitlines()
    assert code == 2, (code, err)
    assert len(lines) == 1, err
    assert lines[0].startswith("Error: "), lines[0]
    assert option in lines[0], lines[0]
    assert "Traceback" not in err + out
    assert out == ""


@pytest.mark.parametrize(("arguments", "option"), CASES, ids=[case[0] for case in CASES])
def test_hostile_input_is_one_line_and_writes_nothing(
    run_cli: Callable[..., object],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    arguments: str,
    option: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("model.py").write_text("# a model file\n")
    Path("existing.txt").write_text("keep me\n")
    before = _snapshot(tmp_path)
    words = shlex.split(arguments)
    runs = [words]
    if words[0] in WRITES:
        runs = [[*words, "-o", "out.txt"], [*words, "-o", "existing.txt", "--force"]]
    for argv in runs:
        _check(run_cli(*argv), option)
        assert _snapshot(tmp_path) == before


def test_the_battery_is_large_and_covers_every_command() -> None:
    assert len(CASES) >= 150
    commands = {arguments.split()[0] for arguments, _ in CASES}
    assert commands == {"plan", "model", "handout", "calc", "verify", "dataset", "train", "project"}
    kinds = {arguments.split()[1] for arguments, _ in CASES if arguments.startswith("dataset")}
    assert kinds == {"windows", "arrays", "synthetic"}


# ------------------------------------------------------------------ generated files
TRAIN_CASES = [
    ("--lr inf", "--lr"),
    ("--lr nan", "--lr"),
    ("--lr -1", "--lr"),
    ("--seed -1", "--seed"),
    ("--seed 4294967296", "--seed"),
    ("--epochs 0", "--epochs"),
    ("--batch-size 0", "--batch-size"),
    ("--workers -1", "--workers"),
]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile") / "proj"
    subprocess.run(
        [sys.executable, "-m", "cnngen", "project", str(folder), "-i", "16x16", "--layers", "2"],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return folder


def test_generated_train_py_refuses_hostile_options(project: Path) -> None:
    """One run of the generated script per option; each must stop before training starts."""
    before = _snapshot(project)
    for arguments, option in TRAIN_CASES:
        result = subprocess.run(
            [sys.executable, "train.py", *shlex.split(arguments)],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 2, (arguments, result.stderr)
        assert "Traceback" not in result.stderr, result.stderr
        last = result.stderr.strip().splitlines()[-1]
        assert option in last and "error" in last, (arguments, last)
        assert _snapshot(project) == before, arguments
