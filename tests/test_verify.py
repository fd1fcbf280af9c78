"""``cnngen verify``: fresh model files pass; deliberately broken ones fail for the right reason.

Broken files are made here from freshly generated ones with small string
edits, so they follow the templates; only the non-cnngen file lives in
tests/broken/.  Every run happens in a child process, so the models are tiny
and latency measurement is switched off except where it is under test.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from generated import load, write_model

from cnngen.errors import CnngenError
from cnngen.verify.runner import describe_mismatch, format_report, verify_file

SMALL = {"start_channels": 4, "max_channels": 16}
BROKEN = Path(__file__).resolve().parent / "broken"
SCHEMA_DOC = Path(__file__).resolve().parent.parent / "docs" / "verify.md"

MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "forecaster_1d": (
        "forecaster",
        {"input_size": (40,), "in_channels": 3, "out_channels": 2, "layers": 3},
    ),
    "forecaster_2d": ("forecaster", {"input_size": (21, 17), "in_channels": 2, "layers": 3}),
    "forecaster_3d": ("forecaster", {"input_size": (6, 12, 10), "layers": 2}),
    "residual_se": (
        "classifier",
        {"input_size": (16, 16), "in_channels": 3, "block": "residual", "se": True, "layers": 3},
    ),
    "equivariant": ("equivariant", {"input_size": (12, 12), "layers": 2}),
}

DEPLOYMENT = ("export", "onnx", "autocast")
# Script and FX are reported on their own; whether a generated file passes them
# depends on its input check, so these tests hold them to "reported honestly".
SCRIPTING = ("torchscript", "fx")
ALL_CHECKS = [
    "forward", "output_shape", "layer_shapes", "params", "macs", "resize", "structure",
    "gradients", "training", "equivariance", "export", "onnx", "artifacts", "torchscript", "fx",
    "autocast", "compile",
]  # fmt: skip


def assert_scripting_reported(by_name: dict[str, dict[str, Any]]) -> None:
    """Script and FX each pass, or fail naming the tool: never a silent fallback."""
    for name, tool in (("torchscript", "torch.jit.script"), ("fx", "torch.fx.symbolic_trace")):
        check = by_name[name]
        assert check["status"] in ("passed", "failed"), check
        assert check["message"].startswith(tool) or tool in check["message"], check["message"]


def checks(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for check in report["checks"]}


def generate(directory: Path, name: str) -> Path:
    family, options = MODELS[name]
    return write_model(directory, family, **{**SMALL, **options})


def edited(path: Path, old: str, new: str, count: int = 1) -> Path:
    """A copy of ``path`` with ``old`` replaced; fails loudly when the templates moved on."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= count, f"{old!r} not found in {path.name}"
    target = path.with_name(f"{path.stem}_edited.py")
    target.write_text(text.replace(old, new, count), encoding="utf-8")
    return target


def key_paths(report: dict[str, Any]) -> set[str]:
    """Every key of the report as a dotted path; check entries as ``checks[].key``."""
    paths: set[str] = set()

    def walk(value: Any, prefix: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                path = f"{prefix}.{key}" if prefix else key
                paths.add(path)
                if path != "checks[].details":
                    walk(item, path)

    walk({key: value for key, value in report.items() if key != "checks"}, "")
    paths.add("checks")
    for check in report["checks"]:
        walk(check, "checks[]")
    return paths


def assert_documented(report: dict[str, Any]) -> None:
    """Every key the report has appears in docs/verify.md, details per check included."""
    text = SCHEMA_DOC.read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z0-9_.\[\]]+)`", text, re.MULTILINE))
    assert key_paths(report) - documented == set()
    rows = dict(re.findall(r"^\| `([a-z_]+)` \| (`.*) \|$", text, re.MULTILINE))
    for check in report["checks"]:
        details_doc = set(re.findall(r"`([a-z_]+)`", rows.get(check["name"], "")))
        assert set(check["details"]) - details_doc == set(), check["name"]


# ---------------------------------------------------------------- good files
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MODELS))
def test_generated_model_passes_every_check(tmp_path: Path, name: str) -> None:
    path = generate(tmp_path, name)
    report = verify_file(path, device="cpu", steps=2, measure=False)
    by_name = checks(report)
    failed = {n: c["message"] for n, c in by_name.items() if c["status"] == "failed"}
    assert report["verdict"] == "passed", failed
    assert report["error"] is None
    assert list(by_name) == ALL_CHECKS
    assert_scripting_reported(by_name)
    module = load(path)
    assert by_name["layer_shapes"]["details"]["compared"] == len(module.LAYER_SHAPES)
    assert by_name["layer_shapes"]["details"]["mismatches"] == []
    assert by_name["params"]["status"] == by_name["macs"]["status"] == "passed"
    assert report["model"]["family"] == module.FAMILY
    assert report["metrics"]["macs_measured"] == report["metrics"]["macs_declared"] == module.MACS
    for kind in ("export", "onnx"):
        assert by_name[kind]["details"]["batches"] == [1, 7]
        assert set(by_name[kind]["details"]["max_abs_diff"]) == {"1", "7"}
    assert by_name["resize"]["status"] == "passed"
    losses = by_name["training"]["details"]["losses"]
    assert len(losses) == 3 and losses[-1] < losses[0]
    for check in DEPLOYMENT:
        assert by_name[check]["status"] == "passed", by_name[check]["message"]
    assert by_name["compile"]["status"] == "skipped"
    assert by_name["structure"]["status"] == "passed", by_name["structure"]["message"]
    assert by_name["structure"]["details"]["mismatches"] == []
    assert by_name["artifacts"]["status"] == "skipped"
    equivariance = by_name["equivariance"]
    if name == "equivariant":
        assert report["model"]["equivariant"] is True
        assert equivariance["status"] == "passed"
        assert len(equivariance["details"]["max_abs_diff"]) == 3
        assert max(equivariance["details"]["max_abs_diff"]) <= equivariance["details"]["tolerance"]
        assert by_name["training"]["details"]["loss"] == "cross_entropy"
    else:
        assert equivariance["status"] == "skipped"
        assert "RotationStack" in equivariance["message"]
    if name.startswith("forecaster"):
        assert by_name["training"]["details"]["loss"] == "mse"
    assert report["metrics"]["latency"] == {}


@pytest.mark.slow
def test_lenet5_through_the_cli_json_report_and_measurements(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    path = write_model(tmp_path, "classifier", preset="lenet5")
    result = run_cli("verify", str(path), "--device", "cpu", "--steps", "3", "--json")
    report = json.loads(result.out)
    assert result.code == 0, report
    assert "[1/17] forward" in result.err and "training step 3/3" in result.err
    assert report["schema"] == 1
    assert report["verdict"] == "passed"
    assert report["model"]["class_name"] == "Classifier"
    assert report["model"]["input_shape"] == [1, 28, 28]
    assert report["environment"]["device"] == "cpu"
    assert report["options"] == {
        "device": "cpu",
        "batch": 2,
        "steps": 3,
        "compile": False,
        "measure": True,
        "checks": ALL_CHECKS,
        "weights": None,
        "export_dir": None,
        "timeout": 120.0,
    }
    metrics = report["metrics"]
    assert metrics["params"] == metrics["params_declared"] == 61_706
    assert metrics["macs_measured"] == metrics["macs_declared"] == 416_520
    latency = metrics["latency"]
    assert latency["forward_ms"] > 0 and latency["forward_backward_ms"] > 0
    assert latency["runs"] >= 5
    assert latency["forward_samples_per_s"] == pytest.approx(2 / (latency["forward_ms"] / 1e3))
    assert metrics["memory"]["kind"] == "cpu_peak_rss_growth"
    assert metrics["mixed_precision"]["status"] == "skipped"
    assert_documented(report)
    text = format_report(report)
    assert "verdict: PASSED (14 passed, 3 skipped)" in text
    assert "MACs per sample      416,520 by torch, 416,520 in the file (agree)" in text
    assert "CPU peak RSS growth" in text


# ---------------------------------------------------------------- broken files
@pytest.mark.slow
def test_wrong_padding_is_reported_by_layer_name(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    path = generate(tmp_path, "forecaster_2d")
    module = load(path)
    # enc2 keeps its size (stride 1, padding 1); padding 2 grows it by two.
    assert "nn.Conv2d(4, 8, kernel_size=3, padding=1, bias=False)" in path.read_text()
    broken = edited(
        path,
        "nn.Conv2d(4, 8, kernel_size=3, padding=1, bias=False)",
        "nn.Conv2d(4, 8, kernel_size=3, padding=2, bias=False)",
    )
    result = run_cli("verify", str(broken), "--device", "cpu", "--steps", "2", "--json")
    assert result.code == 1
    report = json.loads(result.out)
    assert report["verdict"] == "failed"
    by_name = checks(report)
    layer = by_name["layer_shapes"]
    assert layer["status"] == "failed"
    first = layer["details"]["mismatches"][0]
    expected = list(module.LAYER_SHAPES["enc2.conv1"])
    actual = [expected[0], expected[1] + 2, expected[2] + 2]
    assert first == {
        "name": "enc2.conv1",
        "expected": expected,
        "actual": actual,
        "problem": "shape",
    }
    assert f"first: enc2.conv1: expected {'x'.join(map(str, expected))}, got " in layer["message"]
    assert by_name["output_shape"]["status"] == "failed"
    assert by_name["macs"]["status"] == "failed"
    # The other checks still ran and say something useful.
    assert by_name["params"]["status"] == "passed"
    assert by_name["gradients"]["status"] == "passed"
    assert "enc2.conv1: expected" in format_report(report)
    assert_documented(report)


def test_file_without_input_shape_is_not_a_cnngen_file(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    path = generate(tmp_path, "forecaster_1d")
    broken = edited(path, "\nINPUT_SHAPE = ", "\nINPUT_SIZE = ")
    result = run_cli("verify", str(broken), "--device", "cpu")
    assert result.code == 1
    assert (
        "error: " in result.out
        and "defines no INPUT_SHAPE, so it is not a cnngen model file" in result.out
    )
    assert "verdict: FAILED" in result.out
    assert "Traceback" not in result.out + result.err


def test_plain_pytorch_file_is_not_a_cnngen_file() -> None:
    report = verify_file(BROKEN / "not_cnngen.py", device="cpu")
    assert report["verdict"] == "failed"
    assert report["error"]["kind"] == "not_cnngen"
    assert report["checks"] == []


def test_import_error_names_the_module_and_line(tmp_path: Path) -> None:
    path = generate(tmp_path, "forecaster_1d")
    broken = edited(path, "\nimport torch\n", "\nimport torch\nimport cnngen_no_such_module\n")
    line = broken.read_text().splitlines().index("import cnngen_no_such_module") + 1
    report = verify_file(broken, device="cpu")
    assert report["verdict"] == "failed"
    assert report["error"]["kind"] == "import_error"
    message = report["error"]["message"]
    assert f"import failed on line {line}: No module named 'cnngen_no_such_module'" in message


def test_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = generate(tmp_path, "forecaster_1d")
    broken = edited(
        path, "    def forward(self, x: torch.Tensor) -> torch.Tensor:", "    def forward(self, x:"
    )
    line = next(
        i
        for i, text in enumerate(broken.read_text().splitlines(), 1)
        if "def forward(self, x:" in text
    )
    report = verify_file(broken, device="cpu")
    assert report["error"]["kind"] == "syntax_error"
    assert f"syntax error on line {line}" in report["error"]["message"]
    assert report["verdict"] == "failed"


def test_infinite_loop_is_stopped_by_the_time_limit(tmp_path: Path) -> None:
    path = generate(tmp_path, "forecaster_1d")
    broken = edited(path, "\nINPUT_SHAPE = ", "\nwhile True:\n    pass\n\nINPUT_SHAPE = ")
    report = verify_file(broken, device="cpu", timeout=4)
    assert report["verdict"] == "failed"
    assert report["error"]["kind"] == "timeout"
    assert "no result within the 4 s time limit" in report["error"]["message"]
    assert 4 <= report["elapsed_s"] < 30
    assert_documented(report)


@pytest.mark.slow
def test_broken_invariance_and_false_declarations_fail_their_checks(tmp_path: Path) -> None:
    path = generate(tmp_path, "equivariant")
    # Keep only the unrotated copy: shapes stay right, invariance is gone.
    broken = edited(
        path,
        "return x.view(4, -1, x.shape[1]).amax(dim=0)",
        "return x.view(4, -1, x.shape[1])[0]",
    )
    # Declare wrong totals (the last assignment wins) and add a parameter the
    # forward pass never uses.
    broken.write_text(broken.read_text() + "\nPARAMETERS = 7\nMACS = 1\n")
    broken = edited(
        broken,
        "        super().__init__()\n",
        "        super().__init__()\n        self.unused = nn.Linear(2, 2)\n",
        1,
    )
    report = verify_file(broken, device="cpu", steps=2, measure=False)
    by_name = checks(report)
    assert report["verdict"] == "failed"
    assert by_name["layer_shapes"]["status"] == "passed"
    equivariance = by_name["equivariance"]
    assert equivariance["status"] == "failed"
    assert "quarter turn" in equivariance["message"]
    assert max(equivariance["details"]["max_abs_diff"]) > equivariance["details"]["tolerance"]
    assert by_name["params"]["status"] == "failed"
    assert "PARAMETERS says 7" in by_name["params"]["message"]
    assert by_name["macs"]["status"] == "failed"
    assert by_name["gradients"]["status"] == "failed"
    assert by_name["gradients"]["details"]["no_gradient"] == ["unused.weight", "unused.bias"]


# ---------------------------------------------------------------- usage
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "absent.py", "does not exist"),
        (lambda d: d, "is a directory"),
        (lambda d: d / "model.txt", "is not a .py file"),
    ],
)
def test_bad_paths_are_usage_errors(
    tmp_path: Path, run_cli: Callable[..., Any], make: Callable[[Path], Path], message: str
) -> None:
    (tmp_path / "model.txt").write_text("INPUT_SHAPE = (1,)\n")
    result = run_cli("verify", str(make(tmp_path)))
    assert result.code == 2
    assert result.out == ""
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: FILE: ") and message in lines[0]


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--batch", "0", "--batch: must be >= 1, got 0"),
        ("--timeout", "0", "--timeout: must be > 0, got 0.0"),
    ],
)
def test_bad_option_values_are_usage_errors(
    tmp_path: Path, run_cli: Callable[..., Any], option: str, value: str, message: str
) -> None:
    path = generate(tmp_path, "forecaster_1d")
    result = run_cli("verify", str(path), option, value)
    assert result.code == 2
    assert result.err.startswith(f"Error: {message}")


def test_cuda_requested_without_cuda_is_a_usage_error(tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    path = generate(tmp_path, "forecaster_1d")
    with pytest.raises(CnngenError, match=r"^--device: CUDA is not available"):
        verify_file(path, device="cuda")


def test_verify_help_shows_an_example(run_cli: Callable[..., Any]) -> None:
    result = run_cli("verify", "--help")
    assert result.code == 0
    for option in ("--device", "--batch", "--steps", "--compile", "--json", "--timeout"):
        assert option in result.out
    assert "cnngen verify lenet5.py" in result.out


def test_starting_verify_does_not_import_torch() -> None:
    code = (
        "import sys\n"
        "from cnngen import cli, verify\n"
        "assert 'verify' in cli.cli.commands\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------- pure helpers
def test_mismatch_sentences() -> None:
    assert describe_mismatch(
        {"name": "enc1.0", "expected": [4, 10], "actual": [4, 11], "problem": "shape"}
    ) == ("enc1.0: expected 4x10, got 4x11")
    assert "no such module" in describe_mismatch(
        {"name": "head.9", "expected": [10], "actual": None, "problem": "missing"}
    )
    assert "never ran" in describe_mismatch(
        {"name": "head.1", "expected": [10], "actual": None, "problem": "not_called"}
    )


def test_model_class_is_the_one_the_helpers_serve(tmp_path: Path) -> None:
    """RotationStack and RotationMean take no arguments too; the model is still found."""
    from cnngen.verify.child import find_model_class

    path = generate(tmp_path, "equivariant")
    headless = edited(path, '"""C4Classifier: ', '"""A model: ')
    for candidate in (path, headless):
        module = load(candidate)
        assert find_model_class(module, candidate).__name__ == "C4Classifier"


# ---------------------------------------------------------------- hand-written files
HAND_WRITTEN = """
import torch
from torch import nn

INPUT_SHAPE = (1, 8, 8)
OUTPUT_SHAPE = (2,)
FAMILY = "classifier"
PARAMETERS = 114
MACS = 2376


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.act = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d((3, 3))
        self.head = nn.Linear(36, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        CHECK
        return self.head(self.pool(self.act(self.conv(x))).flatten(1))
"""


@pytest.mark.slow
def test_hand_written_file_without_layer_shapes(tmp_path: Path) -> None:
    """No LAYER_SHAPES, no docstring: checks that need them skip with a hint, the rest run."""
    path = tmp_path / "net.py"
    path.write_text(HAND_WRITTEN.replace("CHECK", "pass"))
    report = verify_file(path, device="cpu", steps=2, measure=False)
    by_name = checks(report)
    assert report["verdict"] == "passed", report
    assert report["model"]["class_name"] == "Net" and report["model"]["family"] == "classifier"
    layer = by_name["layer_shapes"]
    assert layer["status"] == "skipped" and "add LAYER_SHAPES = " in layer["message"]
    assert layer["details"]["measured"] == {"conv": [4, 8, 8], "act": [4, 8, 8],
                                            "pool": [4, 3, 3], "head": [2]}  # fmt: skip
    assert by_name["params"]["status"] == "passed" and report["metrics"]["params"] == 114
    assert by_name["macs"]["status"] == "passed" and report["metrics"]["macs_measured"] == 2376
    resize = by_name["resize"]
    assert (
        resize["status"] == "warning" and "pool (AdaptiveAvgPool2d) 8x8 -> 3x3" in resize["message"]
    )
    for name in ("torchscript", "fx", "export", "onnx", "autocast"):
        assert by_name[name]["status"] == "passed", by_name[name]
    assert by_name["training"]["details"]["loss"] == "cross_entropy"
    assert by_name["onnx"]["details"]["exporter"] == "dynamo"
    assert (
        by_name["autocast"]["details"]["results"]["bf16"]["max_abs_diff"]
        <= (by_name["autocast"]["details"]["results"]["bf16"]["tolerance"])
    )
    # No regenerate line: no plan to compare the structure with.
    assert by_name["structure"]["status"] == "skipped"
    assert "hand-written" in by_name["structure"]["message"]
    assert "verdict: PASSED (11 passed, 1 warning, 5 skipped)" in format_report(report)
    assert_documented(report)


@pytest.mark.slow
def test_unscriptable_file_fails_script_and_fx_without_falling_back(tmp_path: Path) -> None:
    """A data-dependent f-string check defeats script and FX; export still works."""
    check = (
        "if tuple(x.shape[1:]) != INPUT_SHAPE:\n"
        "            raise ValueError(f'expected {INPUT_SHAPE}, got {tuple(x.shape[1:])}')"
    )
    path = tmp_path / "net.py"
    path.write_text(HAND_WRITTEN.replace("CHECK", check).replace("PARAMETERS = 114\n", ""))
    report = verify_file(path, device="cpu", steps=0, measure=False)
    by_name = checks(report)
    assert report["verdict"] == "failed"
    assert by_name["torchscript"]["status"] == "failed"
    assert by_name["torchscript"]["message"].startswith("torch.jit.script cannot compile")
    assert by_name["fx"]["status"] == "failed"
    assert by_name["fx"]["message"].startswith("torch.fx.symbolic_trace cannot trace")
    assert by_name["export"]["status"] == "passed"
    params = by_name["params"]
    assert params["status"] == "skipped" and "add PARAMETERS = 114" in params["message"]
    assert_documented(report)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("out_channels", "kind"), [(3, "pixel_cross_entropy"), (1, "pixel_binary_cross_entropy")]
)
def test_unet_trains_against_a_class_mask(tmp_path: Path, out_channels: int, kind: str) -> None:
    """A U-Net trains as `train --task segmentation` trains it, not by regressing noise.

    The first loss in the report is recomputed here from the same seeds: the
    model built with seed 0, the input drawn with seed 1, the mask with seed
    2, a train-mode forward with seed 3, and the per-pixel loss on its logits.
    """
    import torch

    path = write_model(
        tmp_path, "unet", input_size=(13, 11), layers=2, out_channels=out_channels, **SMALL
    )
    report = verify_file(path, device="cpu", steps=2, measure=False)
    by_name = checks(report)
    training = by_name["training"]
    assert training["status"] == "passed", training["message"]
    assert training["details"]["loss"] == kind
    assert training["message"].startswith(kind)
    assert by_name["gradients"]["status"] == "passed"
    assert_documented(report)

    module = load(path)
    torch.manual_seed(0)
    model = module.UNet().train()
    x = torch.randn(2, *module.INPUT_SHAPE, generator=torch.Generator().manual_seed(1))
    generator = torch.Generator().manual_seed(2)
    spatial = module.OUTPUT_SHAPE[1:]
    torch.manual_seed(3)
    with torch.no_grad():
        logits = model(x)
    assert tuple(logits.shape[2:]) == spatial == tuple(module.INPUT_SHAPE[1:])
    if out_channels > 1:
        mask = torch.randint(0, out_channels, (2, *spatial), generator=generator)
        expected = torch.nn.functional.cross_entropy(logits, mask)
    else:
        mask = torch.randint(0, 2, (2, 1, *spatial), generator=generator).float()
        expected = torch.nn.functional.binary_cross_entropy_with_logits(logits, mask)
    assert training["details"]["losses"][0] == pytest.approx(float(expected), rel=1e-5)
