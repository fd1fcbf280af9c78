"""The transfer-learning script, end to end on CPU with weights from a generated train.py run."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cnngen.rendering.datafiles import Synthetic, render_finetune, render_synthetic
from cnngen.rendering.engine import format_python
from tests.generated import load
from tests.test_train import ENV, REPO, classifier_project, run


def checkpoint_weights(path: Path) -> dict:
    """The model weights in a train.py checkpoint (under "model") or a plain state_dict."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state["model"] if isinstance(state.get("model"), dict) else state


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a 3-class classifier trained for a few steps: runs/best.pt."""
    folder = tmp_path_factory.mktemp("pretrained")
    classifier_project(folder)
    result = run(folder, "train.py", "--epochs", "1", "--max-steps", "3", "--out", "runs")
    assert result.returncode == 0, result.stderr
    # New data: 4 classes, a test split; the backbone saw 3.
    new = Synthetic(kind="shapes", size=(12, 12), classes=4, samples=120, test_fraction=0.25)
    (folder / "newdata.py").write_text(render_synthetic(new))
    return folder


@pytest.mark.slow
def test_finetune_freezes_replaces_the_head_and_counts(pretrained: Path) -> None:
    first = next(iter(load(pretrained / "model.py").Classifier().named_children()))[0]
    (pretrained / "finetune.py").write_text(
        render_finetune(model_class="Classifier", dataset_module="newdata", freeze=(first,),
                        epochs=2, batch_size=20)
    )  # fmt: skip
    result = run(pretrained, "finetune.py", "--out", "ft", "--max-steps", "5")
    assert result.returncode == 0, result.stderr
    model_module = load(pretrained / "model.py")
    original = checkpoint_weights(pretrained / "runs" / "best.pt")
    tuned = torch.load(pretrained / "ft" / "best.pt")
    head = re.search(r"replaced (\S+): Linear\((\d+), 3\) -> Linear\(\2, 4\)", result.stdout)
    assert head, result.stdout
    name = head.group(1)
    assert tuned[name + ".weight"].shape[0] == 4 and original[name + ".weight"].shape[0] == 3
    # The frozen stage (weights and BatchNorm statistics) is exactly the pretrained one.
    frozen_keys = [key for key in original if key.startswith(first + ".")]
    assert frozen_keys
    for key in frozen_keys:
        assert torch.equal(tuned[key], original[key]), key
    changed = [key for key in original if not key.startswith((first + ".", name + "."))
               and original[key].is_floating_point() and not torch.equal(tuned[key], original[key])]  # fmt: skip
    assert changed, "nothing outside the frozen stage was trained"
    model = model_module.Classifier()
    frozen = sum(p.numel() for n, p in model.named_parameters() if n.startswith(first + "."))
    old_head = sum(p.numel() for n, p in model.named_parameters() if n.startswith(name + "."))
    in_features = original[name + ".weight"].shape[1]
    total = sum(p.numel() for p in model.parameters()) - old_head + 4 * in_features + 4
    assert f"parameters: {frozen:,} frozen ({first}), {total - frozen:,} trainable, {total:,}" in (
        result.stdout
    )
    metrics = json.loads((pretrained / "ft" / "metrics.json").read_text())
    assert metrics["frozen_parameters"] == frozen and metrics["steps"] == 5
    assert metrics["classes"] == ["square", "circle", "triangle", "cross"]
    assert sum(map(sum, metrics["test_confusion"])) == 30
    assert "confusion matrix, test split" in result.stdout


@pytest.mark.slow
def test_freeze_all_trains_only_the_head_and_bad_prefixes_are_named(
    pretrained: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (pretrained / "head_only.py").write_text(
        render_finetune(model_class="Classifier", dataset_module="newdata", epochs=1)
    )
    # In this process (torch is imported already); the siblings come from the folder.
    monkeypatch.chdir(pretrained)
    monkeypatch.syspath_prepend(str(pretrained))
    for name in ("model", "newdata"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    script = load(pretrained / "head_only.py")
    summary = script.main(["--out", "h", "--max-steps", "2", "--no-progress"])
    original = checkpoint_weights(pretrained / "runs" / "best.pt")
    tuned = torch.load(pretrained / "h" / "last.pt")
    head = summary["head"]
    for key, value in original.items():
        if not key.startswith(head + "."):
            assert torch.equal(tuned[key], value), key
    assert summary["trainable_parameters"] == tuned[head + ".weight"].numel() + 4
    with pytest.raises(SystemExit, match="--freeze nosuchstage: no parameter of Classifier"):
        script.main(["--freeze", "nosuchstage", "--out", "h2"])
    with pytest.raises(SystemExit, match="--weights none.pt: no such file"):
        script.main(["--weights", "none.pt", "--out", "h3"])
    for name in ("model", "newdata"):
        sys.modules.pop(name, None)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--lr", "inf"], "--lr: must be a finite number > 0, got inf"),
        (["--seed", "-1"], "--seed: numpy takes seeds from 0 to 2**32 - 1, got -1"),
        (["--milestones", "0.5,2"], "--milestones: every fraction must lie between 0 and 1"),
        (["--max-steps", "0"], "--max-steps: must be >= 1, got 0"),
    ],
)
def test_finetune_checks_its_flags_as_train_py_does(
    pretrained: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    """The flags both scripts share are checked by the same code: one line, exit 2."""
    (pretrained / "flags.py").write_text(
        render_finetune(model_class="Classifier", dataset_module="newdata")
    )
    monkeypatch.syspath_prepend(str(pretrained))
    for name in ("model", "newdata"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    script = load(pretrained / "flags.py")
    with pytest.raises(SystemExit) as exit_info:
        script.parse_args(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit, match="--device cuda: no CUDA device is available"):
            script.main(["--device", "cuda", "--out", str(pretrained / "no_cuda")])
    for name in ("model", "newdata"):
        sys.modules.pop(name, None)


def test_finetune_script_is_clean_and_deterministic(tmp_path: Path) -> None:
    text = render_finetune(
        model_class="Net", model_module="nets.cnn", freeze=("layer1", "layer2.0")
    )
    assert text == render_finetune(
        model_class="Net", model_module="nets.cnn", freeze=("layer1", "layer2.0")
    )
    assert format_python(text) == text
    path = tmp_path / "finetune.py"
    path.write_text(text)
    ruff = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--config",
         str(REPO / "pyproject.toml"), "--ignore", "I001", str(path)],
        capture_output=True, text=True, env=ENV,
    )  # fmt: skip
    assert ruff.returncode == 0, ruff.stdout
    assert 'FREEZE = ("layer1", "layer2.0")' in text


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["--task", "classification", "--model-class", "M", "--weights", "w.pt"], "--weights"),
        (["--task", "forecasting", "--model-class", "M", "--freeze", "stage1"], "--freeze"),
        (["--task", "finetune", "--model-class", "M", "--freeze", "a-b"], "--freeze"),
        (["--task", "finetune", "--model-class", "M", "--head", "x;y"], "--head"),
        (["--task", "finetune", "--model-class", "M", "--weights", ""], "--weights"),
        (["--task", "finetuning", "--model-class", "M"], "--task"),
    ],
)
def test_finetune_command_errors(run_cli, tmp_path: Path, argv: list[str], option: str) -> None:
    out = tmp_path / "finetune.py"
    result = run_cli("train", *argv, "-o", str(out))
    assert result.code == 2 and result.err.startswith(f"Error: {option}") and not out.exists()


def test_finetune_command_writes_the_script(run_cli, tmp_path: Path) -> None:
    out = tmp_path / "finetune.py"
    result = run_cli("train", "--task", "finetune", "--model-class", "Classifier",
                     "--freeze", "stage1", "--freeze", "stage2", "-o", str(out))  # fmt: skip
    assert result.code == 0, result.err
    text = out.read_text()
    assert 'FREEZE = ("stage1", "stage2")' in text and 'SCHEDULER = "warmup-multistep"' in text
    assert "cnngen train --task finetune --model-class Classifier --freeze stage1" in text
