"""``--block convnext``: ConvNeXt blocks (Liu et al., 2022) in 1D, 2D and 3D, run for real."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch
from generated import load, model_class, shape_mismatches, write_model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cnngen
from cnngen.core.blocks import convnext_block
from cnngen.core.builder import StageBuilder

torch.set_num_threads(1)


def block_params(channels: int, dims: int) -> int:
    """A ConvNeXt block's weights, counted by hand from the paper's layers."""
    depthwise = channels * 7**dims + channels
    norm = 2 * channels
    expand = channels * 4 * channels + 4 * channels
    project = 4 * channels * channels + channels
    scale = channels
    return depthwise + norm + expand + project + scale


@st.composite
def convnext_requests(draw: st.DrawFn) -> dict[str, Any]:
    """A random ConvNeXt classifier, small enough to build and run quickly."""
    dims = draw(st.integers(1, 3))
    limit = {1: 160, 2: 40, 3: 12}[dims]
    return {
        "input_size": tuple(draw(st.integers(5, limit)) for _ in range(dims)),
        "in_channels": draw(st.integers(1, 3)),
        "layers": draw(st.integers(1, 4)),
        "kernel": (draw(st.sampled_from([1, 3, 5])),),
        "norm": draw(st.sampled_from(["batchnorm", "groupnorm", "layernorm", "none"])),
        "activation": draw(st.sampled_from(["gelu", "relu", "silu"])),
        "head": draw(st.sampled_from(["auto", "gap", "flatten"])),
        "se": draw(st.booleans()),
        "depthwise": draw(st.booleans()),
        "dropout": draw(st.sampled_from([0.0, 0.1])),
        "classes": draw(st.integers(2, 5)),
        "start_channels": draw(st.sampled_from([4, 8])),
        "max_channels": 16,
        "block": "convnext",
    }


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(convnext_requests())
def test_random_convnext_classifiers_run_exactly_as_planned(
    tmp_path: Path, options: dict[str, Any]
) -> None:
    path = write_model(tmp_path, "classifier", **options)
    module = load(path)
    # Every layer's output shape, block by block, is the plan's.
    assert shape_mismatches(module) == []
    model = model_class(module)()
    assert sum(p.numel() for p in model.parameters()) == module.PARAMETERS
    plan = cnngen.plan("classifier", **options)
    dims = len(options["input_size"])
    blocks = [stage for stage in plan.stages if stage.name.startswith("block")]
    assert len(blocks) == options["layers"]
    for stage in blocks:
        # A block keeps its input's shape; its weights are the paper's (plus SE if asked).
        assert stage.in_shape == stage.out_shape
        se = sum(op.params for op in stage.ops if op.kind == "squeeze_excite")
        assert stage.params - se == block_params(stage.in_shape[0], dims)
        assert sum(p.numel() for p in getattr(model, stage.name).parameters()) == stage.params


@pytest.mark.parametrize("input_size", [(97,), (33, 21), (9, 12, 11)])
def test_a_block_adds_its_scaled_branch_to_its_input(input_size: tuple[int, ...]) -> None:
    """``block(x) == x + scale * branch(x)``: checked against the file's own layers."""
    options = {"input_size": input_size, "layers": 2, "block": "convnext", "start_channels": 8}
    source = cnngen.render(cnngen.plan("classifier", **options))
    namespace: dict[str, Any] = {}
    exec(compile(source, "<convnext>", "exec"), namespace)
    model = namespace["Classifier"]().eval()
    block = model.block1
    with torch.no_grad():
        block.layer_scale.scale.fill_(0.5)
        x = torch.randn(2, *model.layer1(torch.randn(2, 1, *input_size)).shape[1:])
        branch = x
        for name in block.LAYERS:
            branch = getattr(block, name)(branch)
        assert torch.allclose(block(x), x + branch, atol=1e-6)
        # The scale starts at 1e-6, so a fresh block is nearly the identity.
        block.layer_scale.scale.fill_(1e-6)
        assert torch.allclose(block(x), x, atol=1e-4)


def test_the_channel_norm_normalizes_each_position_over_channels() -> None:
    source = cnngen.render(cnngen.plan("classifier", input_size=(6, 7, 5), block="convnext"))
    namespace: dict[str, Any] = {}
    exec(compile(source, "<convnext>", "exec"), namespace)
    norm = namespace["ChannelNorm"](4, eps=1e-6)
    x = torch.randn(3, 4, 6, 7, 5)
    expected = torch.nn.functional.layer_norm(
        x.movedim(1, -1), (4,), norm.weight, norm.bias, 1e-6
    ).movedim(-1, 1)
    assert torch.allclose(norm(x), expected)
    mean = norm(x).mean(dim=1)
    assert torch.allclose(mean, torch.zeros_like(mean), atol=1e-5)


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_the_block_builder_counts_what_torch_counts(dims: int) -> None:
    shape = (12, *(5,) * dims)
    stage = convnext_block("block", "trunk", shape, "gelu")
    assert stage.params == block_params(12, dims)
    assert [op.kind for op in stage.ops] == [
        "conv", "layernorm", "conv", "activation", "conv", "layer_scale",
    ]  # fmt: skip
    assert stage.ops[0].arg("groups") == 12 and stage.ops[0].arg("padding") == 3
    assert stage.out_shape == shape
    # The norm after the depthwise convolution is ConvNeXt's, with its epsilon.
    assert stage.ops[1].arg("eps") == 1e-6
    assert math.prod(stage.ops[2].out_shape) == 4 * math.prod(shape)
    assert StageBuilder(shape).norm("layernorm").params == 24


def test_the_cli_offers_the_block(run_cli, tmp_path: Path) -> None:
    assert "convnext" in " ".join(run_cli("model", "--help").out.split())
    out = tmp_path / "m.py"
    result = run_cli(
        "model", "classifier", "-i", "1000", "-n", "3", "--block", "convnext", "-o", str(out)
    )
    assert result.code == 0, result.err
    assert shape_mismatches(load(out)) == []
    # Like the other blocks with a shortcut, it is a classifier block.
    refused = run_cli("model", "encoder", "-i", "64", "--block", "convnext")
    assert refused.code == 2 and "--block" in refused.err
    # A layer holds one planned convolution: more would be ignored, so they are refused.
    refused = run_cli(
        "plan", "classifier", "-i", "32x32", "--block", "convnext", "--sub-blocks", "2"
    )
    assert refused.code == 2 and refused.err.startswith("Error: --sub-blocks: ")


LAYERNORM_CASES = {
    "encoder-1d": ("encoder", {"input_size": (97,), "layers": 3}),
    "forecaster-2d": ("forecaster", {"input_size": (31, 23), "layers": 2}),
    "unet-2d": ("unet", {"input_size": (24, 20), "layers": 2}),
    "classifier-3d": ("classifier", {"input_size": (7, 12, 9), "layers": 2}),
    "equivariant-group": ("equivariant", {"input_size": (12, 12), "group_conv": True}),
    "resnet18": ("classifier", {"preset": "resnet18", "input_size": (33, 33)}),
}


@pytest.mark.parametrize(("family", "options"), LAYERNORM_CASES.values(), ids=LAYERNORM_CASES)
def test_norm_layernorm_runs_exactly_in_every_family(
    tmp_path: Path, family: str, options: dict[str, Any]
) -> None:
    if "preset" not in options:
        options = {**options, "start_channels": 4, "max_channels": 16}
    module = load(write_model(tmp_path, family, norm="layernorm", **options))
    assert shape_mismatches(module) == []
    model = model_class(module)()
    assert sum(p.numel() for p in model.parameters()) == module.PARAMETERS
    assert any(type(m).__name__ == "ChannelNorm" for m in model.modules())
    if family == "equivariant":
        # A norm over channels at each position and orientation keeps the invariance.
        model.eval()
        x = torch.randn(2, *module.INPUT_SHAPE)
        with torch.no_grad():
            assert torch.allclose(model(x), model(torch.rot90(x, 1, (-2, -1))), atol=1e-4)
