"""``cnngen export --target``: every runtime written, refused or missing in one line."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from generated import write_model

from cnngen.deploy.runtimes import TARGETS

SMALL = {"input_size": (12, 12), "layers": 2, "start_channels": 4, "classes": 3}


def test_an_unknown_target_is_one_line_listing_the_runtimes(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    path = write_model(tmp_path, "classifier", **SMALL)
    out = tmp_path / "deploy"
    result = run_cli("export", str(path), "--out", str(out), "--target", "pt2,tflite")
    assert result.code == 2
    (line,) = result.err.strip().splitlines()
    assert line.startswith("Error: --target: 'tflite' is not a runtime; choose from ")
    assert all(name in line for name in TARGETS) and "all" in line
    assert not out.exists()


def test_an_opset_the_exporter_cannot_write_is_one_line(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    path = write_model(tmp_path, "classifier", **SMALL)
    out = tmp_path / "deploy"
    result = run_cli("export", str(path), "--out", str(out), "--opset", "99")
    assert result.code == 2
    (line,) = result.err.strip().splitlines()
    assert line.startswith("Error: --opset: 99 is out of range; the dynamo ONNX exporter writes")
    assert not out.exists() or not any(out.iterdir())


def test_opset_and_latency_reach_the_record(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    import onnx

    path = write_model(tmp_path, "classifier", **SMALL)
    out = tmp_path / "deploy"
    result = run_cli("export", str(path), "--out", str(out), "--opset", "20", "--max-batch", "16")
    assert result.code == 0, result.err
    assert "(dynamo exporter, opset 20)" in result.out
    record = json.loads((out / f"{path.stem}.json").read_text())
    model = onnx.load(str(out / f"{path.stem}.onnx"))
    versions = [e.version for e in model.opset_import if e.domain in ("", "ai.onnx")]
    assert record["opset"] == record["opset_requested"] == max(versions) == 20
    assert record["latency"]["batches"] == [1, 8, 16]
    assert set(record["latency_ms"]) == {"pt2", "onnx"}
    for table in record["latency_ms"].values():
        assert set(table) == {"1", "8", "16"}
        assert all(isinstance(ms, float) and ms > 0 for ms in table.values())
    quiet = run_cli(
        "export",
        str(path),
        "--out",
        str(out),
        "--target",
        "pt2",
        "--no-latency",
        "--force",
    )
    assert quiet.code == 0, quiet.err
    record = json.loads((out / f"{path.stem}.json").read_text())
    assert record["latency_ms"] is None and record["targets"] == ["pt2"]
    assert record["files"] == {"torch_export": f"{path.stem}.pt2"}


def test_missing_runtimes_name_their_extra_and_the_rest_is_written(
    tmp_path: Path, run_cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec
    gone = {"executorch", "openvino"}
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name in gone else real(name, *a),
    )
    path = write_model(tmp_path, "classifier", **SMALL)
    out = tmp_path / "deploy"
    result = run_cli("export", str(path), "--out", str(out), "--target", "all", "--no-latency")
    assert result.code == 0, result.err
    stem = path.stem
    wrote, *missing = result.out.strip().splitlines()
    assert wrote.startswith(f"wrote {out / (stem + '.pt2')}, {out / (stem + '.onnx')} ")
    assert missing == [
        f'no {out / (stem + ".pte")}: executorch is not installed, '
        'pip install "cnngen[executorch]" adds it',
        f'no {out / (stem + ".xml")}: openvino is not installed, '
        'pip install "cnngen[openvino]" adds it',
    ]
    names = sorted(p.name for p in out.iterdir())
    written = [f"{stem}{s}" for s in (".pt2", ".onnx", ".torchscript.pt", ".json")]
    assert names == sorted([*written, "MODEL_CARD.md", "requirements.txt"])
    record = json.loads((out / f"{stem}.json").read_text())
    assert record["files"]["executorch"] is None and record["files"]["openvino"] is None
    assert set(record["skipped"]) == {"executorch", "openvino"}
    loaded = torch.jit.load(str(out / f"{stem}.torchscript.pt"))
    assert loaded(torch.randn(2, 1, 12, 12)).shape == (2, 3)


def test_executorch_refuses_a_3d_model_in_one_line(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    path = write_model(tmp_path, "classifier", input_size=(4, 6, 6), layers=1, start_channels=2)
    out = tmp_path / "deploy"
    result = run_cli(
        "export",
        str(path),
        "--out",
        str(out),
        "--target",
        "pt2,executorch",
        "--no-latency",
    )
    assert result.code == 0, result.err
    wrote, refused = result.out.strip().splitlines()
    assert wrote.startswith(f"wrote {out / (path.stem + '.pt2')} and ")
    assert refused.startswith(f"no {out / (path.stem + '.pte')}: ")
    assert "5-D convolution" in refused
    assert not (out / f"{path.stem}.pte").exists()


@pytest.mark.skipif(
    importlib.util.find_spec("openvino") is None,
    reason='needs pip install "cnngen[openvino]"',
)
def test_openvino_ir_runs_any_batch_up_to_the_bound(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    import openvino
    from generated import load, model_class

    path = write_model(tmp_path, "forecaster", input_size=(10, 10), in_channels=2, layers=2)
    model = model_class(load(path))().eval()
    torch.save(model.state_dict(), tmp_path / "w.pt")
    out = tmp_path / "deploy"
    result = run_cli(
        "export", str(path), "--weights", str(tmp_path / "w.pt"), "--out", str(out),
        "--target", "openvino", "--max-batch", "9",
    )  # fmt: skip
    assert result.code == 0, result.err
    record = json.loads((out / f"{path.stem}.json").read_text())
    assert record["files"]["openvino"] == f"{path.stem}.xml"
    assert (out / f"{path.stem}.bin").is_file()
    assert set(record["latency_ms"]["openvino"]) == {"1", "8", "9"}
    compiled = openvino.Core().compile_model(
        str(out / f"{path.stem}.xml"), "CPU", {"INFERENCE_PRECISION_HINT": "f32"}
    )
    for batch in (3, 9):  # neither size the file was checked at
        x = torch.randn(batch, 2, 10, 10)
        with torch.no_grad():
            expected = model(x)
        actual = torch.from_numpy(compiled(x.numpy())[0])
        torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-5)
