"""The committed examples: golden files that run, standalone and clean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from generated import imported_modules, load, model_class, shape_mismatches

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))
import regenerate  # noqa: E402

NAMES = [name for name, _ in regenerate.EXAMPLES]


@pytest.mark.parametrize("name, arguments", regenerate.EXAMPLES, ids=NAMES)
def test_committed_example_matches_generator(name: str, arguments: str) -> None:
    committed = (ROOT / "examples" / name).read_text(encoding="utf-8")
    assert regenerate.render_example(name, arguments) == committed, (
        f"examples/{name} is stale: run `python examples/regenerate.py`"
    )


def test_golden_outputs_match_the_generator(tmp_path: Path) -> None:
    """Training scripts, datasets, a handout, an SVG and a project: every kind of output."""
    built = regenerate.build_golden(tmp_path)
    committed = ROOT / "examples" / "golden"
    assert {name for name, _ in regenerate.GOLDEN} <= {p.name for p in committed.iterdir()}
    stale = regenerate.stale_golden(built, committed)
    assert not stale, f"stale golden files {stale}: run `python examples/regenerate.py`"


@pytest.mark.parametrize("name, arguments", regenerate.EXAMPLES, ids=NAMES)
def test_header_holds_the_regenerating_command(name: str, arguments: str) -> None:
    text = (ROOT / "examples" / name).read_text(encoding="utf-8")
    words = " ".join(regenerate.example_argv(name, arguments))
    assert f"    cnngen {words}\n" in text


@pytest.mark.parametrize("name", NAMES)
def test_example_imports_only_torch_and_stdlib(name: str) -> None:
    source = (ROOT / "examples" / name).read_text(encoding="utf-8")
    foreign = imported_modules(source) - {"torch"} - set(sys.stdlib_module_names)
    assert not foreign, f"{name} imports {foreign}"
    assert "cnngen" not in imported_modules(source)


def test_examples_are_black_and_ruff_clean() -> None:
    files = [str(ROOT / "examples" / name) for name in NAMES]
    black = subprocess.run(
        [sys.executable, "-m", "black", "--check", "--quiet", *files],
        capture_output=True,
        text=True,
    )
    assert black.returncode == 0, black.stderr
    ruff = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache", *files],
        capture_output=True,
        text=True,
    )
    assert ruff.returncode == 0, ruff.stdout


@pytest.mark.parametrize("name", NAMES)
def test_example_runs_its_own_self_check(name: str) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / name)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert "parameters" in result.stdout


@pytest.mark.parametrize("name", NAMES)
def test_every_layer_shape_matches_the_plan(name: str) -> None:
    module = load(ROOT / "examples" / name)
    assert shape_mismatches(module) == []


@pytest.mark.parametrize("name", NAMES)
def test_backward_gives_every_parameter_a_finite_gradient(name: str) -> None:
    module = load(ROOT / "examples" / name)
    torch.manual_seed(0)
    model = model_class(module)()
    output = model(torch.randn(2, *module.INPUT_SHAPE))
    output.square().mean().backward()
    for parameter_name, parameter in model.named_parameters():
        assert parameter.grad is not None, parameter_name
        assert torch.isfinite(parameter.grad).all(), parameter_name


def test_lenet5_matches_the_classic_parameter_count() -> None:
    module = load(ROOT / "examples" / "lenet5.py")
    model = model_class(module)()
    assert sum(p.numel() for p in model.parameters()) == 61706
    assert "Parameters: 61,706" in (ROOT / "examples" / "lenet5.py").read_text()
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.kernel_size, c.padding) for c in convs] == [((5, 5), (2, 2)), ((5, 5), (0, 0))]
    assert any(isinstance(m, torch.nn.Tanh) for m in model.modules())
    assert any(isinstance(m, torch.nn.AvgPool2d) for m in model.modules())
    widths = [m.out_features for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert widths == [120, 84, 10]


def test_forecaster_reproduces_its_input_size_without_resizing() -> None:
    source = (ROOT / "examples" / "forecaster_2d.py").read_text(encoding="utf-8")
    for banned in ("Upsample", "interpolate", "Adaptive"):
        assert banned not in source
    module = load(ROOT / "examples" / "forecaster_2d.py")
    assert module.INPUT_SHAPE == (60, 100, 100)
    assert module.OUTPUT_SHAPE == (30, 100, 100)


@pytest.mark.parametrize("quarter_turns", [1, 2, 3])
def test_c4_example_is_invariant_to_quarter_turns(quarter_turns: int) -> None:
    module = load(ROOT / "examples" / "c4_classifier.py")
    torch.manual_seed(0)
    model = model_class(module)().eval()
    batch = torch.randn(4, *module.INPUT_SHAPE)
    with torch.no_grad():
        logits = model(batch)
        rotated = model(torch.rot90(batch, quarter_turns, dims=(-2, -1)))
    torch.testing.assert_close(rotated, logits, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_cnngen_verify_passes_every_example(name: str) -> None:
    """The product's own proof step, run over every committed example."""
    from cnngen.verify.runner import verify_file

    report = verify_file(
        ROOT / "examples" / name, device="cpu", steps=3, measure=False, timeout=300
    )
    # Script and FX are reported on their own (a failure is a failure); every
    # other check must pass outright.
    failed = [
        check
        for check in report["checks"]
        if check["status"] == "failed" and check["name"] not in ("torchscript", "fx")
    ]
    assert not failed and report["error"] is None, failed or report["error"]
    statuses = {check["name"]: check["status"] for check in report["checks"]}
    assert report["verdict"] == (
        "passed" if statuses["torchscript"] == statuses["fx"] == "passed" else "failed"
    )
    assert statuses["layer_shapes"] == "passed"
    assert statuses["gradients"] == "passed"
    module = load(ROOT / "examples" / name)
    assert statuses["macs"] == ("passed" if hasattr(module, "MACS") else "skipped")
    assert statuses["export"] == statuses["onnx"] == statuses["autocast"] == "passed"
    if name == "c4_classifier.py":
        assert statuses["equivariance"] == "passed"
