"""Generated files people edit, fine-tune and deploy.

Weight names survive small edits of the command (dropout, activation, norm
without weights, explicit pads), and every family scripts, traces with FX,
exports with a dynamic batch, goes to ONNX and compiles as one graph.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

import pytest
import torch

import cnngen

# One small model of every family and block kind.
FAMILIES: dict[str, tuple[str, dict[str, Any]]] = {
    "encoder-1d": ("encoder", {"input_size": (37,), "layers": 3, "start_channels": 4}),
    "encoder-3d": ("encoder", {"input_size": (6, 9, 7), "layers": 2, "start_channels": 4}),
    "forecaster": (
        "forecaster",
        {"input_size": (21, 18), "in_channels": 3, "out_channels": 2, "layers": 3},
    ),
    "forecaster-latent": (
        "forecaster",
        {"input_size": (16, 16), "in_channels": 2, "layers": 2, "latent": 8},
    ),
    "classifier-plain": ("classifier", {"input_size": (20, 20), "in_channels": 3, "layers": 3}),
    "classifier-vgg": ("classifier", {"input_size": (20, 20), "layers": 3, "block": "vgg"}),
    "classifier-residual-se": (
        "classifier",
        {"input_size": (19, 23), "in_channels": 3, "layers": 3, "block": "residual", "se": True},
    ),
    "classifier-bottleneck": (
        "classifier",
        {"input_size": (16, 16), "layers": 3, "block": "bottleneck", "depthwise": True},
    ),
    "lenet5": ("classifier", {"preset": "lenet5"}),
    "equivariant": ("equivariant", {"input_size": (12, 12), "layers": 2}),
    "equivariant-mean": (
        "equivariant",
        {"input_size": (12, 12), "layers": 2, "rotation_pool": "mean"},
    ),
    "equivariant-group-conv": (
        "equivariant",
        {"input_size": (13, 13), "layers": 2, "start_channels": 4, "group_conv": True},
    ),
    "unet-2d": ("unet", {"input_size": (13, 19), "layers": 2, "start_channels": 4}),
    "unet-1d-bilinear": (
        "unet",
        {"input_size": (41,), "layers": 3, "start_channels": 4, "upsample": "bilinear"},
    ),
    "unet-3d-nearest": (
        "unet",
        {"input_size": (5, 9, 7), "layers": 2, "start_channels": 4, "upsample": "nearest"},
    ),
}

# Edits that add, drop or swap only modules without weights.
TOGGLES: list[dict[str, Any]] = [
    {"dropout": 0.2},
    {"activation": "gelu"},
    {"activation": "leaky_relu", "dropout": 0.1},
]


def _parameter_names(family: str, options: dict[str, Any]) -> list[str]:
    return [name for name, _ in cnngen.build(cnngen.plan(family, **options)).named_parameters()]


@pytest.mark.parametrize("key", sorted(FAMILIES))
def test_weight_names_survive_dropout_and_activation(key: str) -> None:
    family, options = FAMILIES[key]
    if "preset" in options:
        pytest.skip("presets fix their own activation and dropout")
    before = _parameter_names(family, options)
    for toggle in TOGGLES:
        assert _parameter_names(family, {**options, **toggle}) == before, toggle


@pytest.mark.parametrize("key", sorted(k for k in FAMILIES if "preset" not in FAMILIES[k][1]))
def test_weight_names_agree_between_norm_dropout_and_none(key: str) -> None:
    """Neither norm has weights, so swapping them (and adding dropout) renames nothing."""
    family, options = FAMILIES[key]
    plain = _parameter_names(family, {**options, "norm": "none"})
    assert _parameter_names(family, {**options, "norm": "dropout", "dropout": 0.1}) == plain
    assert _parameter_names(family, {**options, "norm": "none", "dropout": 0.3}) == plain


def test_an_explicit_pad_shifts_no_weight_name() -> None:
    """An even kernel with --padding same needs an uneven pad layer; no weight moves."""
    options = {"input_size": (20, 20), "layers": 3, "kernel": (4,)}
    valid = _parameter_names("encoder", {**options, "padding": "valid"})
    same_plan = cnngen.plan("encoder", **options, padding="same")
    assert any(op.kind == "pad" for stage in same_plan.stages for op in stage.ops)
    assert _parameter_names("encoder", {**options, "padding": "same"}) == valid


def test_parameter_names_follow_torchvision_style() -> None:
    plan = cnngen.plan("classifier", input_size=(32, 32), layers=2, block="residual")
    names = {name for name, _ in cnngen.build(plan).named_parameters()}
    assert {"layer1.conv1.weight", "layer1.bn1.weight", "layer1.downsample.0.weight"} <= names
    assert not any(".main." in name or ".shortcut." in name for name in names)


# ------------------------------------------------------------------ deployment
def _model_and_input(key: str) -> tuple[torch.nn.Module, torch.Tensor, cnngen.Plan]:
    family, options = FAMILIES[key]
    plan = cnngen.plan(family, **options)
    torch.manual_seed(0)
    model = cnngen.build(plan).eval()
    return model, torch.randn(3, *plan.input_shape), plan


@pytest.fixture(autouse=True)
def _quiet() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.mark.parametrize("key", sorted(FAMILIES))
def test_torchscript_script(key: str) -> None:
    model, x, _ = _model_and_input(key)
    scripted = torch.jit.script(model)
    torch.testing.assert_close(scripted(x), model(x))
    with pytest.raises(Exception, match="expected input of shape"):
        scripted(x[..., :-1])


@pytest.mark.parametrize("key", sorted(FAMILIES))
def test_fx_symbolic_trace(key: str) -> None:
    model, x, _ = _model_and_input(key)
    traced = torch.fx.symbolic_trace(model)
    assert any(node.target.__name__ == "check_input" for node in traced.graph.nodes
               if node.op == "call_function")  # fmt: skip
    torch.testing.assert_close(traced(x), model(x))


@pytest.mark.parametrize("key", sorted(FAMILIES))
def test_torch_export_with_a_dynamic_batch(key: str) -> None:
    model, x, plan = _model_and_input(key)
    batch = torch.export.Dim("batch", min=1, max=64)
    exported = torch.export.export(model, (x,), dynamic_shapes={"x": {0: batch}}).module()
    for size in (1, 7):
        sample = torch.randn(size, *plan.input_shape)
        torch.testing.assert_close(exported(sample), model(sample))


@pytest.mark.parametrize("key", sorted(FAMILIES))
def test_onnx_runs_in_onnxruntime_at_batch_1_and_7(key: str) -> None:
    onnxruntime = pytest.importorskip("onnxruntime")
    model, x, plan = _model_and_input(key)
    buffer = io.BytesIO()
    torch.onnx.export(
        model, (x,), buffer, dynamo=False, input_names=["x"], output_names=["y"],
        dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}},
    )  # fmt: skip
    session = onnxruntime.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    for size in (1, 7):
        sample = torch.randn(size, *plan.input_shape)
        (output,) = session.run(None, {"x": sample.numpy()})
        torch.testing.assert_close(torch.from_numpy(output), model(sample), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("key", sorted(FAMILIES))
def test_compile_captures_one_graph(key: str) -> None:
    """fullgraph=True fails on any graph break; the eager backend keeps the test fast."""
    model, x, _ = _model_and_input(key)
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True, backend="eager")
    torch.testing.assert_close(compiled(x), model(x))


def test_compile_with_inductor_on_a_residual_model() -> None:
    model, x, _ = _model_and_input("classifier-residual-se")
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True)
    torch.testing.assert_close(compiled(x), model(x), atol=1e-4, rtol=1e-4)
