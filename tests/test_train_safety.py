"""The generated training scripts on broken files, bad data, full disks and Ctrl-C.

Each case runs the generated ``train.py`` (or ``finetune.py``) for real, as a
user would, and asserts what the user sees: one line on stderr that names the
flag or file and the reason, a non-zero exit, no traceback, no hang, and no
good file lost or replaced.
"""

from __future__ import annotations

import hashlib
import os
import re
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from cnngen.rendering.datafiles import render_finetune
from tests.test_train import ENV, classifier_project, run

pytestmark = pytest.mark.slow


def one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> str:
    """The single stderr line of a failed run, checked to hold every one of ``words``."""
    assert result.returncode not in (0, None), result.stdout[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A classifier project trained for one epoch: ``runs/last.pt`` and ``runs/best.pt``."""
    folder = tmp_path_factory.mktemp("trained")
    classifier_project(folder, classes=4)
    result = run(folder, "train.py", "--epochs", "1")
    assert result.returncode == 0, result.stderr
    return folder


def broken_checkpoints(folder: Path) -> dict[str, tuple[Path, tuple[str, ...]]]:
    """Files a user might pass to --resume, each with the words its error must say."""
    good = torch.load(folder / "runs" / "last.pt", map_location="cpu", weights_only=True)
    cases: dict[str, tuple[Path, tuple[str, ...]]] = {}

    def case(name: str, content: bytes | None, words: tuple[str, ...], obj: object = None) -> None:
        path = folder / f"{name}.pt"
        if content is None:
            torch.save(obj, path)
        else:
            path.write_bytes(content)
        cases[name] = (path, words)

    raw = (folder / "runs" / "last.pt").read_bytes()
    case("empty", b"", ("empty file",))
    case("random", os.urandom(2000), ("not a checkpoint",))
    case("truncated", raw[: len(raw) // 2], ("truncated",))
    case("bare", None, ("bare state_dict",), good["model"])
    case("format", None, ("format 99",), {**good, "format": 99})
    case("no_rng", None, ("'rng'",), {key: v for key, v in good.items() if key != "rng"})
    other = dict(good["model"])
    key = next(iter(other))
    other[key] = torch.zeros(2, 2)
    case("other_model", None, ("another model", key, "(2, 2)"), {**good, "model": other})
    renamed = {f"net.{k}": v for k, v in good["model"].items()}
    case("renamed", None, ("another model",), {**good, "model": renamed})
    case("bad_rng", None, ("random state",), {**good, "rng": [{"python": 3}]})

    class Payload:
        def __reduce__(self) -> tuple:
            return (os.system, ("touch pwned",))

    case("malicious", None, ("Python objects",), {"format": 1, "model": Payload()})
    return cases


def test_every_broken_resume_file_is_one_line_naming_the_file(trained: Path) -> None:
    before = digest(trained / "runs" / "last.pt")
    for name, (path, words) in broken_checkpoints(trained).items():
        result = run(trained, "train.py", "--epochs", "2", "--resume", path.name, timeout=120)
        one_line_error(result, "--resume", path.name, *words)
        assert not (trained / "pwned").exists(), name
    assert digest(trained / "runs" / "last.pt") == before


def test_a_good_checkpoint_still_resumes(trained: Path) -> None:
    result = run(trained, "train.py", "--epochs", "2", "--resume", "runs/last.pt", "--out", "more")
    assert result.returncode == 0, result.stderr
    assert "resuming runs/last.pt after epoch 1" in result.stdout
    assert "amp off" in result.stdout and "amp None" not in result.stdout
    assert "next: python train.py --epochs 0 --resume more/best.pt --export" in result.stdout


def test_a_non_finite_loss_stops_at_once_and_keeps_the_last_good_checkpoint(tmp_path: Path) -> None:
    classifier_project(tmp_path, classes=4)
    # The model turns to nan in its 9th forward pass: step 2 of epoch 2 (5 steps an epoch,
    # then two validation batches).
    with open(tmp_path / "model.py", "a") as model:
        model.write(
            "\n\n_forward, _calls = Classifier.forward, [0]\n\n\n"
            "def _failing(self, x):\n"
            "    _calls[0] += 1\n"
            "    y = _forward(self, x)\n"
            "    return y * float('nan') if _calls[0] > 8 and self.training else y\n\n\n"
            "Classifier.forward = _failing\n"
        )
    result = run(tmp_path, "train.py", "--epochs", "3")
    one_line_error(result, "epoch 2, step 7: the training loss is nan")
    assert "wrote" not in result.stdout
    last = torch.load(tmp_path / "runs" / "last.pt", map_location="cpu", weights_only=True)
    assert last["epoch"] == 1
    assert all(torch.isfinite(value).all() for value in last["model"].values())
    best = torch.load(tmp_path / "runs" / "best.pt", map_location="cpu", weights_only=True)
    assert best["epoch"] == 1


@pytest.mark.parametrize("fault", ["nan_x", "label", "shape", "unreadable"])
def test_a_bad_sample_anywhere_is_named_by_index(tmp_path: Path, fault: str) -> None:
    classifier_project(tmp_path, classes=4)
    source = (tmp_path / "dataset.py").read_text()
    (tmp_path / "dataset.py").write_text(
        source.replace("def make_datasets(", "def _make_datasets(", 1)
        + f'''

class _Faulty(torch.utils.data.Dataset):
    def __init__(self, base):
        self.base = base
        self.classes = base.classes

    def __len__(self):
        return len(self.base)

    def __getitem__(self, index):
        x, y = self.base[index]
        if index == 17:
            fault = {fault!r}
            if fault == "nan_x":
                x = x.clone()
                x[0, 0, 0] = float("nan")
            elif fault == "label":
                y = torch.tensor(9)
            elif fault == "shape":
                x = x[:, :5]
            else:
                raise OSError("cannot read frames/17.pgm: truncated header")
        return x, y


def make_datasets(seed=0):
    train, *rest = _make_datasets(seed)
    return (_Faulty(train), *rest)
'''
    )
    expected = {
        "nan_x": "nan or inf",
        "label": "label 9, but Classifier has 4 classes",
        "shape": "x has shape (1, 5, 12)",
        "unreadable": "frames/17.pgm",
    }[fault]
    for workers in ("0", "2"):
        result = run(tmp_path, "train.py", "--epochs", "1", "--workers", workers, timeout=180)
        one_line_error(result, "training sample 17", expected)
        assert not (tmp_path / "runs" / "best.pt").exists()


@pytest.mark.parametrize("where", ["a_file", "a_file/below"])
def test_an_unwritable_out_is_refused_before_training(tmp_path: Path, where: str) -> None:
    classifier_project(tmp_path)
    (tmp_path / "a_file").write_text("not a folder")
    started = time.perf_counter()
    result = run(tmp_path, "train.py", "--out", where, "--epochs", "50")
    one_line_error(result, "--out", where, "cannot write")
    assert "epoch 1" not in result.stdout
    assert time.perf_counter() - started < 60


def test_a_full_disk_leaves_no_partial_file(tmp_path: Path) -> None:
    classifier_project(tmp_path)

    def small_disk() -> None:  # writes past 20 kB fail as on a full disk (EFBIG)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    result = subprocess.run(
        [sys.executable, "train.py", "--epochs", "1"], cwd=tmp_path, env=ENV,
        capture_output=True, text=True, timeout=120, preexec_fn=small_disk,
    )  # fmt: skip
    one_line_error(result, "cannot write", "best.pt")
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == []


def test_export_with_torch_alone_writes_the_pt2_and_keeps_old_files_on_failure(
    trained: Path, tmp_path: Path
) -> None:
    no_onnx = tmp_path / "no_onnx" / "onnx"
    no_onnx.mkdir(parents=True)
    (no_onnx / "__init__.py").write_text("raise ImportError('No module named onnx')\n")
    env = {**ENV, "PYTHONPATH": str(no_onnx.parent)}
    result = subprocess.run(
        [sys.executable, "train.py", "--epochs", "0", "--resume", "runs/best.pt", "--export"],
        cwd=trained, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    out = trained / "runs"
    assert (out / "model.pt2").is_file() and not (out / "model.onnx").exists()
    assert "pip install onnx" in result.stdout
    exported = torch.export.load(out / "model.pt2").module()
    assert tuple(exported(torch.randn(3, 1, 12, 12)).shape) == (3, 4)
    # An export that fails (a model torch.export cannot trace) leaves the .pt2 as it was.
    kept = digest(out / "model.pt2")
    model = (trained / "model.py").read_text()
    broken = trained / "model_untraceable.py"
    broken.write_text(
        model.replace("    def forward(self, x", "    def forward(self, x", 1).replace(
            "        return ", "        if float(x.sum()) > 1e30:\n            x = x * 2\n        return ", 1
        )
    )
    script = (trained / "train.py").read_text().replace("from model import", "from model_untraceable import")
    (trained / "train_untraceable.py").write_text(script)
    failed = run(trained, "train_untraceable.py", "--epochs", "0", "--resume", "runs/best.pt", "--export")
    # torch itself logs the graph it could not trace; the run ends on one line of its own.
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert failed.stderr.strip().splitlines()[-1].startswith("error: --export: torch.export cannot")
    assert digest(out / "model.pt2") == kept
    assert not [p for p in out.iterdir() if p.name.startswith(".export")]


def test_ctrl_c_names_the_last_checkpoint_that_resumes(tmp_path: Path) -> None:
    classifier_project(tmp_path)
    process = subprocess.Popen(
        [sys.executable, "train.py", "--epochs", "10000"], cwd=tmp_path, env=ENV,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    for line in process.stdout:  # wait until an epoch has trained
        if line.startswith("epoch 2/"):
            break
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130
    assert "Traceback" not in stderr
    assert re.search(r"interrupted in epoch \d+; repeat it with python train.py --resume runs/last.pt", stderr)
    resumed = run(tmp_path, "train.py", "--epochs", "4", "--resume", "runs/last.pt")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming runs/last.pt after epoch" in resumed.stdout


def test_finetune_names_a_broken_weights_file(trained: Path, tmp_path: Path) -> None:
    (trained / "finetune.py").write_text(
        render_finetune(model_class="Classifier", epochs=1, batch_size=30)
    )
    for name, (path, _) in broken_checkpoints(trained).items():
        if name in ("format", "no_rng", "bad_rng", "bare"):
            continue  # finetune takes any file that holds the weights
        result = run(trained, "finetune.py", "--weights", path.name, "--out", "ft", timeout=120)
        one_line_error(result, "--weights", path.name)
