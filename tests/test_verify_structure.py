"""verify's structure check: edits that keep shapes, parameters and MACs still fail.

Files are generated fresh, mutated by text edits as a person would edit them,
and checked two ways: the check itself in this process (fast, every family),
and ``cnngen verify`` end to end for each mutation (slow).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from generated import load, model_class, write_model

from cnngen.errors import CnngenError
from cnngen.verify.checks_structure import check_structure, regenerate_command
from cnngen.verify.common import CheckFailed, Skip
from cnngen.verify.runner import (
    CHECK_NAMES,
    SELECTABLE,
    format_report,
    select_checks,
    verify_file,
)

SMALL = {"start_channels": 4, "max_channels": 16}

# Every family, and the variants whose modules differ most (presets, U-Net
# decoders, p4 group convolutions).
FAMILIES: dict[str, tuple[str, dict[str, Any]]] = {
    "encoder_1d": ("encoder", {"input_size": (40,), "layers": 3, **SMALL}),
    "forecaster_2d": ("forecaster", {"input_size": (21, 17), "in_channels": 2, **SMALL}),
    "forecaster_3d_latent": (
        "forecaster",
        {"input_size": (6, 12, 10), "layers": 2, "latent": 8, **SMALL},
    ),
    "classifier_residual_se": (
        "classifier",
        {"input_size": (16, 16), "in_channels": 3, "block": "residual", "se": True, **SMALL},
    ),
    "classifier_convnext": (
        "classifier",
        {"input_size": (32, 32), "block": "convnext", "layers": 2, **SMALL},
    ),
    "lenet5": ("classifier", {"preset": "lenet5"}),
    "resnet18": ("classifier", {"preset": "resnet18", "input_size": (32, 32)}),
    "c4": ("equivariant", {"input_size": (12, 12), "layers": 2, **SMALL}),
    "p4": ("equivariant", {"input_size": (12, 12), "layers": 2, "group_conv": True, **SMALL}),
    "unet_transposed": ("unet", {"input_size": (21, 17), "layers": 2, **SMALL}),
    "unet_bilinear": (
        "unet",
        {"input_size": (21, 17), "layers": 2, "upsample": "bilinear", **SMALL},
    ),
}

CLASSIFIER = ("classifier", {"input_size": (16, 16), "in_channels": 3, **SMALL})
C4 = ("equivariant", {"input_size": (12, 12), "layers": 2, **SMALL})

# name -> (model, old text, new text, the layer the message must name, words it must hold)
MUTATIONS: dict[str, tuple[tuple[str, dict[str, Any]], str, str, str, tuple[str, ...]]] = {
    "reflect": (
        CLASSIFIER,
        "conv1=nn.Conv2d(3, 4, kernel_size=3, padding=1, bias=False)",
        "conv1=nn.Conv2d(3, 4, kernel_size=3, padding=1, bias=False, padding_mode='reflect')",
        "layer1.conv1",
        ("padding_mode='zeros'", "padding_mode='reflect'"),
    ),
    "dilation": (
        CLASSIFIER,
        "conv1=nn.Conv2d(4, 8, kernel_size=3, padding=1, bias=False)",
        "conv1=nn.Conv2d(4, 8, kernel_size=3, padding=2, dilation=2, bias=False)",
        "layer2.conv1",
        ("dilation=[1, 1]", "dilation=[2, 2]"),
    ),
    "gelu": (
        CLASSIFIER,
        "act1=nn.ReLU()",
        "act1=nn.GELU()",
        "layer1.act1",
        ("ReLU()", "GELU(approximate='none')"),
    ),
    "norm_after_activation": (
        CLASSIFIER,
        "bn1=nn.BatchNorm2d(4),\n                act1=nn.ReLU(),",
        "act1=nn.ReLU(),\n                bn1=nn.BatchNorm2d(4),",
        "layer1.act1",
        ("another order", "layer1.bn1"),
    ),
    "c4_average_pool": (
        C4,
        "pool=nn.MaxPool2d(kernel_size=2, ceil_mode=True)",
        "pool=nn.AvgPool2d(kernel_size=2, ceil_mode=True)",
        "layer2.pool",
        ("MaxPool2d", "AvgPool2d"),
    ),
}


def fake_verifier(path: Path) -> SimpleNamespace:
    """What check_structure reads of the running verifier, built in this process."""
    module = load(path)
    torch.manual_seed(0)
    model = model_class(module)()
    return SimpleNamespace(
        module=module,
        model=model,
        x=torch.randn(2, *module.INPUT_SHAPE),
        path=path,
        input_shape=tuple(module.INPUT_SHAPE),
        progress=lambda line: None,
    )


def mutate(tmp_path: Path, name: str) -> Path:
    (family, options), old, new, _, _ = MUTATIONS[name]
    path = write_model(tmp_path, family, **options)
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in the generated file: the templates moved on"
    target = path.with_name(f"{path.stem}_{name}.py")
    target.write_text(text.replace(old, new, 1), encoding="utf-8")
    return target


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_unmodified_files_of_every_family_match_their_plan(tmp_path: Path, name: str) -> None:
    family, options = FAMILIES[name]
    path = write_model(tmp_path, family, **options)
    message, details = check_structure(fake_verifier(path))
    assert details["mismatches"] == []
    assert details["modules"] > 3 and details["calls"] > 3
    assert details["command"].startswith(f"cnngen model {family}")
    assert "match the plan" in message


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_each_mutation_fails_naming_the_layer(tmp_path: Path, name: str) -> None:
    _, _, _, layer, words = MUTATIONS[name]
    path = mutate(tmp_path, name)
    module = load(path)
    # The edit keeps what the other checks compare: the model still builds and
    # runs, with the parameter count the file declares.
    model = model_class(module)()
    assert sum(p.numel() for p in model.parameters()) == module.PARAMETERS
    assert tuple(model.eval()(torch.randn(1, *module.INPUT_SHAPE)).shape[1:]) == (
        module.OUTPUT_SHAPE
    )
    with pytest.raises(CheckFailed) as failure:
        check_structure(fake_verifier(path))
    message = str(failure.value)
    assert f"first: {layer}: " in message, message
    for word in words:
        assert word in message, message
    first = failure.value.details["mismatches"][0]
    assert first["name"] == layer


def test_code_edits_in_forward_are_named(tmp_path: Path) -> None:
    family, options = CLASSIFIER
    path = write_model(tmp_path, family, **options)
    text = path.read_text(encoding="utf-8")
    old = "        x = self.layer1(x)"
    assert old in text
    path.write_text(text.replace(old, old + "\n        x = x * 2", 1), encoding="utf-8")
    with pytest.raises(CheckFailed) as failure:
        check_structure(fake_verifier(path))
    assert "Classifier.forward: its code" in str(failure.value)


def test_a_hand_written_file_skips_the_check(tmp_path: Path) -> None:
    family, options = CLASSIFIER
    path = write_model(tmp_path, family, **options)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("    cnngen model", "    model", 1), encoding="utf-8")
    with pytest.raises(Skip, match="no `cnngen model"):
        check_structure(fake_verifier(path))


def test_regenerate_line_is_read_from_the_docstring() -> None:
    doc = 'X.\n\nGenerated by cnngen 0.1.0. Regenerate with:\n\n    cnngen model unet --name "My Net"\n'
    assert regenerate_command(doc) == ["model", "unet", "--name", "My Net"]
    assert regenerate_command("no command here") is None


def test_check_selection() -> None:
    assert select_checks(None) == list(SELECTABLE)
    assert select_checks("structure, params") == ["params", "structure"]
    assert select_checks(None, "measure,onnx") == [
        n for n in CHECK_NAMES if n != "onnx"
    ]
    assert select_checks(["forward", "fx"], ["fx"]) == ["forward"]
    with pytest.raises(CnngenError, match=r"--checks: 'shapes' is not a check; valid: forward"):
        select_checks("shapes")
    with pytest.raises(CnngenError, match=r"--skip: 'x' is not a check"):
        select_checks(None, "x")
    with pytest.raises(CnngenError, match="nothing is left"):
        select_checks("forward", "forward")


def test_child_runs_the_checks_the_runner_names() -> None:
    from cnngen.verify.child import CHECK_ORDER

    assert CHECK_ORDER == CHECK_NAMES


def test_unknown_check_is_one_line_and_exit_2(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    path = write_model(tmp_path, *CLASSIFIER[:1], **CLASSIFIER[1])
    result = run_cli("verify", str(path), "--skip", "bogus")
    assert result.code == 2
    assert result.out == ""
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "'bogus' is not a check" in lines[0]
    assert all(name in lines[0] for name in SELECTABLE)


def test_unknown_check_in_a_config_file_is_a_usage_error(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    path = write_model(tmp_path, *CLASSIFIER[:1], **CLASSIFIER[1])
    config = tmp_path / "verify.toml"
    config.write_text('checks = "structure,shapes"\n', encoding="utf-8")
    result = run_cli("verify", str(path), "--config", str(config))
    assert result.code == 2
    assert "--checks: 'shapes' is not a check" in result.err


@pytest.mark.slow
def test_mutations_fail_cnngen_verify_end_to_end(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    config = tmp_path / "verify.toml"
    config.write_text('checks = "structure,params"\n', encoding="utf-8")
    for index, (name, (_, _, _, layer, _)) in enumerate(MUTATIONS.items()):
        path = mutate(tmp_path, name)
        started = time.monotonic()
        # The selection from the command line, and once from a config file.
        selection = ["--config", str(config)] if index == 0 else ["--checks", "structure,params"]
        result = run_cli("verify", str(path), *selection, "--json")
        report = json.loads(result.out)
        assert result.code == 1, (name, report)
        by_name = {check["name"]: check for check in report["checks"]}
        assert list(by_name) == ["params", "structure"]
        assert by_name["params"]["status"] == "passed"
        assert by_name["structure"]["status"] == "failed"
        assert f"first: {layer}: " in by_name["structure"]["message"]
        assert report["options"]["checks"] == ["params", "structure"]
        first = by_name["structure"]["details"]["mismatches"][0]["message"]
        assert first.startswith(f"{layer}: ") and first in format_report(report)
        assert time.monotonic() - started < 60  # generous: the benchmark records the real time


@pytest.mark.slow
def test_weights_are_loaded_strictly_and_exported_files_must_match(tmp_path: Path) -> None:
    """A trained file: its weights load strictly and the export made from them matches."""
    from cnngen.deploy.export import export_model_file

    family, options = CLASSIFIER
    path = write_model(tmp_path, family, **options)
    model = model_class(load(path))()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.1)
    weights = tmp_path / "best.pt"
    torch.save({"model": model.state_dict(), "epoch": 3}, weights)
    out = tmp_path / "exported"
    export_model_file(path, weights, out, "cnngen export")
    selected = "forward,output_shape,structure,artifacts"
    report = verify_file(path, device="cpu", checks=selected, weights=weights, export_dir=out)
    by_name = {check["name"]: check for check in report["checks"]}
    assert report["verdict"] == "passed", by_name
    artifacts = by_name["artifacts"]
    assert artifacts["status"] == "passed", artifacts
    assert set(artifacts["details"]["parity"]) >= {f"{path.stem}.pt2"}
    assert report["model"]["weights"] == str(weights.resolve())
    # Other weights than the export's: the files no longer match.
    other = tmp_path / "other.pt"
    torch.save(model_class(load(path))().state_dict(), other)
    report = verify_file(path, device="cpu", checks="artifacts", weights=other, export_dir=out)
    artifacts = report["checks"][0]
    assert artifacts["status"] == "failed"
    assert "records weights" in artifacts["message"] or "differs" in artifacts["message"]
    # Weights of another model stop the run with one line naming the problem.
    state = model.state_dict()
    state.pop(next(iter(state)))
    torch.save(state, other)
    report = verify_file(path, device="cpu", checks="params", weights=other)
    assert report["verdict"] == "failed"
    assert report["error"]["kind"] == "weights"
    assert "does not fit" in report["error"]["message"]
    with pytest.raises(CnngenError, match="--weights: .* is not a file"):
        verify_file(path, weights=tmp_path / "missing.pt")
    with pytest.raises(CnngenError, match="--export-dir: give --weights too"):
        verify_file(path, export_dir=out)
