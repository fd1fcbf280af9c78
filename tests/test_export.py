"""``cnngen export``: deployable files that run at any batch size and match eager PyTorch."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from generated import load, model_class, write_model

REPO = Path(__file__).resolve().parent.parent
SMALL = {"input_size": (12, 12), "layers": 2, "start_channels": 4, "classes": 3}


def trained_weights(path: Path, folder: Path) -> tuple[torch.nn.Module, Path]:
    """The model of ``path`` with perturbed weights, saved as a train.py checkpoint."""
    model = model_class(load(path))().eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    weights = folder / "best.pt"
    torch.save({"format": 1, "model": model.state_dict(), "epoch": 3}, weights)
    return model, weights


def test_export_writes_files_that_match_the_weights(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    import onnxruntime

    path = write_model(tmp_path, "classifier", **SMALL)
    model, weights = trained_weights(path, tmp_path)
    out = tmp_path / "deploy"
    result = run_cli("export", str(path), "--weights", str(weights), "--out", str(out))
    assert result.code == 0, result.err
    stem = path.stem
    assert f"wrote {out / (stem + '.pt2')}" in result.out and "batch 1 and 7 match" in result.out
    record = json.loads((out / f"{stem}.json").read_text())
    assert record["input_shape"] == ["batch", 1, 12, 12] and record["output_shape"] == [
        "batch",
        3,
    ]
    assert record["onnx_exporter"] == "dynamo" and record["opset"] >= 18
    assert record["cnngen_command"].startswith("cnngen export ")
    assert record["weights"] == str(weights)
    program = torch.export.load(out / f"{stem}.pt2").module()
    session = onnxruntime.InferenceSession(str(out / f"{stem}.onnx"))
    for batch in (1, 7, 3):  # 3: neither size the files were checked at
        x = torch.randn(batch, 1, 12, 12)
        with torch.no_grad():
            expected = model(x)
            torch.testing.assert_close(program(x), expected, rtol=1e-4, atol=1e-5)
        (onnx_out,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
        torch.testing.assert_close(torch.from_numpy(onnx_out), expected, rtol=1e-4, atol=1e-5)
    assert not list(out.glob(".cnngen-export-*"))


def test_export_refuses_bad_weights_and_existing_files(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    path = write_model(tmp_path, "classifier", **SMALL)
    (tmp_path / "other").mkdir()
    other = write_model(tmp_path / "other", "classifier", **{**SMALL, "classes": 5})
    _, wrong = trained_weights(other, tmp_path)
    out = tmp_path / "deploy"
    result = run_cli("export", str(path), "--weights", str(wrong), "--out", str(out))
    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: --weights: {wrong} does not fit ")
    assert not out.exists() or not any(out.iterdir())
    missing = run_cli("export", str(path), "--weights", str(tmp_path / "none.pt"))
    assert missing.code == 2 and "--weights:" in missing.err and "does not exist" in missing.err
    out.mkdir(exist_ok=True)
    (out / f"{path.stem}.onnx").write_text("old")
    exists = run_cli("export", str(path), "--out", str(out))
    assert exists.code == 2 and "add --force to overwrite" in exists.err
    assert (out / f"{path.stem}.onnx").read_text() == "old"


@pytest.mark.parametrize("command", ["export", "verify"])
def test_missing_torch_is_one_line_saying_how_to_install(tmp_path: Path, command: str) -> None:
    path = write_model(tmp_path, "classifier", **SMALL)
    code = (
        "import importlib.util, sys\n"
        "real = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda name, *a: None if name == 'torch' else real(name, *a)\n"
        "from cnngen.cli import main\n"
        f"main([{command!r}, {str(path)!r}])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {command}: needs PyTorch"), lines
    assert 'pip install "cnngen[torch]"' in lines[0]
    assert not list(tmp_path.glob("*.pt2"))


@pytest.mark.parametrize("exporter", ["dynamo", "torchscript"])
def test_both_onnx_exporters_give_a_dynamic_batch(tmp_path: Path, exporter: str) -> None:
    from cnngen.deploy.export import sample_inputs
    from cnngen.deploy.onnx_export import export_onnx, onnx_opset, run_onnx

    path = write_model(tmp_path, "forecaster", input_size=(20,), in_channels=2, layers=2)
    module = load(path)
    model = model_class(module)().eval()
    inputs = sample_inputs(module.INPUT_SHAPE)
    data = export_onnx(model, inputs[7], exporter)
    assert onnx_opset(data) >= 18
    outputs = run_onnx(data, inputs)
    assert outputs is not None and set(outputs) == {1, 7}
    with torch.no_grad():
        for batch, x in inputs.items():
            torch.testing.assert_close(outputs[batch], model(x), rtol=1e-4, atol=1e-5)


def test_without_onnx_packages_the_pt2_is_still_written(
    tmp_path: Path, run_cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import cnngen.deploy.onnx_export as onnx_export

    monkeypatch.setattr(onnx_export, "onnx_missing", lambda: "onnx")
    path = write_model(tmp_path, "classifier", **SMALL)
    out = tmp_path / "deploy"
    result = run_cli("export", str(path), "--out", str(out), "--max-batch", "16")
    assert result.code == 0, result.err
    stem = path.stem
    wrote, missing = result.out.strip().splitlines()
    assert wrote.startswith(f"wrote {out / (stem + '.pt2')} and {out / (stem + '.json')}: ")
    assert (
        missing
        == f'no {out / (stem + ".onnx")}: onnx is not installed, pip install "cnngen[onnx]" adds it'
    )
    assert (out / f"{stem}.pt2").is_file() and not (out / f"{stem}.onnx").exists()
    record = json.loads((out / f"{stem}.json").read_text())
    assert record["onnx_missing"] == "onnx" and record["files"]["onnx"] is None
    assert record["batch_bounds"] == [1, 16]
    program = torch.export.load(out / f"{stem}.pt2").module()
    assert program(torch.randn(16, 1, 12, 12)).shape == (16, 3)
    with pytest.raises(Exception):  # noqa: B017 - the bound is enforced by the program
        program(torch.randn(17, 1, 12, 12))


def test_max_batch_out_of_range_is_one_line(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    path = write_model(tmp_path, "classifier", **SMALL)
    result = run_cli("export", str(path), "--out", str(tmp_path / "d"), "--max-batch", "3")
    assert result.code == 2 and "--max-batch: 3 is out of range" in result.err
    assert not (tmp_path / "d").exists()


def test_onnx_names_batch_dim_and_metadata(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    import onnx

    path = write_model(tmp_path, "classifier", **SMALL)
    out = tmp_path / "deploy"
    result = run_cli("export", str(path), "--out", str(out))
    assert result.code == 0, result.err
    model = onnx.load(str(out / f"{path.stem}.onnx"))
    (given,), (produced,) = model.graph.input, model.graph.output
    assert given.name == "input" and produced.name == "logits"
    assert given.type.tensor_type.shape.dim[0].dim_param == "batch"
    assert produced.type.tensor_type.shape.dim[0].dim_param == "batch"
    props = {entry.key: entry.value for entry in model.metadata_props}
    assert props["cnngen_command"].startswith("cnngen export ") and props["cnngen_version"]
    record = json.loads((out / f"{path.stem}.json").read_text())
    assert record["onnx_names"] == {"input": "input", "output": "logits"}
    versions = [e.version for e in model.opset_import if e.domain in ("", "ai.onnx")]
    assert record["opset"] == max(versions)


def test_checkpoint_classes_and_normalization_reach_the_record(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    import hashlib

    path = write_model(tmp_path, "classifier", **SMALL)
    model = model_class(load(path))()
    weights = tmp_path / "best.pt"
    checkpoint = {
        "model": model.state_dict(),
        "classes": ["cat", "dog", "eel"],
        "normalization": {"mean": [0.5], "std": [0.25]},
    }
    torch.save(checkpoint, weights)
    out = tmp_path / "deploy"
    result = run_cli("export", str(path), "--weights", str(weights), "--out", str(out))
    assert result.code == 0, result.err
    record = json.loads((out / f"{path.stem}.json").read_text())
    assert record["classes"] == ["cat", "dog", "eel"]
    assert record["normalization"] == {"mean": [0.5], "std": [0.25]}
    assert record["weights_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    import onnx

    props = {e.key: e.value for e in onnx.load(str(out / f"{path.stem}.onnx")).metadata_props}
    assert json.loads(props["classes"]) == ["cat", "dog", "eel"]
    assert json.loads(props["normalization"]) == {"mean": [0.5], "std": [0.25]}


def test_torchscript_target(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    path = write_model(tmp_path, "classifier", **SMALL)
    model, weights = trained_weights(path, tmp_path)
    out = tmp_path / "deploy"
    result = run_cli(
        "export",
        str(path),
        "--weights",
        str(weights),
        "--out",
        str(out),
        "--torchscript",
    )
    assert result.code == 0, result.err
    record = json.loads((out / f"{path.stem}.json").read_text())
    assert record["files"]["torchscript"] == f"{path.stem}.torchscript.pt"
    assert set(record["max_abs_diff"]["torchscript"]) == {"1", "7"}
    loaded = torch.jit.load(str(out / f"{path.stem}.torchscript.pt"))
    x = torch.randn(5, 1, 12, 12)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_with_the_torch_extra_alone_export_writes_the_pt2_and_names_the_onnx_extra(
    tmp_path: Path,
) -> None:
    """``pip install "cnngen[torch]"``: cnngen's own packages and torch, no onnx.

    The venv links exactly those distributions, so a crash on a user's minimal
    install (an import of an optional package) shows here.
    """
    from tests.venvs import linked_venv

    python = linked_venv(tmp_path / "venv", "torch", "jinja2", "black", "click", "numpy")
    probe = subprocess.run([python, "-c", "import onnx"], capture_output=True, text=True)
    assert "No module named 'onnx'" in probe.stderr, probe.stderr
    path = write_model(tmp_path, "classifier", input_size=(12, 12), layers=2, classes=3)
    out = tmp_path / "deploy"
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [python, "-m", "cnngen", "export", str(path), "--out", str(out)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[-1].startswith(f"no {out / (path.stem + '.onnx')}: onnx is not installed")
    assert 'pip install "cnngen[onnx]"' in lines[-1]
    assert (out / f"{path.stem}.pt2").stat().st_size > 0
    loaded = torch.export.load(out / f"{path.stem}.pt2").module()
    assert loaded(torch.zeros(5, 1, 12, 12)).shape == (5, 3)
