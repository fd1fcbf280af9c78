"""The equivariant family: max (default) or mean over rotations, and true p4 group convolutions.

Group convolutions are checked exactly, layer by layer: rotating the input by a
quarter turn rotates every feature map and shifts its orientations by one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from group_layers import assert_counts_and_shapes, layer_layouts, layer_outputs

import cnngen
from cnngen.errors import CnngenError


def _turn(x: torch.Tensor) -> torch.Tensor:
    return torch.rot90(x, 1, dims=(-2, -1))


@pytest.mark.parametrize(
    ("size", "options"),
    [
        (16, {"layers": 2, "start_channels": 4}),
        (16, {"layers": 2, "start_channels": 4, "head": "gap"}),
        (13, {"layers": 3, "start_channels": 3, "norm": "groupnorm", "activation": "gelu"}),
        (15, {"layers": 2, "start_channels": 2, "in_channels": 2, "pool": "avg"}),
        (9, {"layers": 1, "start_channels": 2, "head": "flatten", "hidden": (5,)}),
        (12, {"layers": 2, "start_channels": 3, "norm": "instancenorm", "dropout": 0.3}),
        (10, {"layers": 2, "start_channels": 4, "norm": "layernorm", "head": "gap"}),
        (11, {"layers": 2, "start_channels": 2, "norm": "none", "pool": "avg"}),
    ],
)
def test_group_conv_is_equivariant_at_every_layer(size: int, options: dict[str, Any]) -> None:
    torch.manual_seed(0)
    plan = cnngen.plan("equivariant", input_size=(size, size), group_conv=True, **options)
    model = cnngen.build(plan).double().eval()
    batch = 2
    x = torch.randn(batch, plan.input_shape[0], size, size, dtype=torch.float64)
    plain, turned = layer_outputs(model, x), layer_outputs(model, _turn(x))
    layouts = layer_layouts(plan)
    checked = 0
    for name, out in plain.items():
        assert out.dim() <= 4, name  # 2D ops only: no 5-D tensor anywhere
        if out.shape[0] == 4 * batch:
            # Four copies per sample (orientations turned back): a quarter turn
            # of the input moves copy r to copy r + 1, and nothing else.
            expected = torch.roll(out.unflatten(0, (4, batch)), 1, dims=0).flatten(0, 1)
        elif layouts[name] == "group":  # (B, C * 4, H, W): maps turn, orientations shift by one
            expected = _turn(torch.roll(out.unflatten(1, (-1, 4)), 1, dims=2)).flatten(1, 2)
        elif layouts[name] == "folded":  # (B, C, 4 * H, W): the same, stacked along H
            maps = out.unflatten(2, (4, -1))
            expected = _turn(torch.roll(maps, 1, dims=2)).flatten(2, 3)
        elif out.dim() == 4:  # after group pooling: maps turn
            expected = _turn(out)
        else:  # pooled features and logits: unchanged
            expected = out
        torch.testing.assert_close(turned[name], expected, rtol=1e-9, atol=1e-9, msg=name)
        checked += 1
    assert checked >= 3 * len(plan.stages)


def test_group_conv_plan_counts_equal_torch() -> None:
    plan = cnngen.plan(
        "equivariant", input_size=(16, 16), layers=3, start_channels=4, group_conv=True
    )
    assert_counts_and_shapes(plan, cnngen.build(plan).eval())
    source = cnngen.render(plan)
    assert "escnn" not in source and "class GroupConv2d" in source


def test_rotation_pool_max_is_default_and_mean_remains() -> None:
    default = cnngen.render(cnngen.plan("equivariant", input_size=(12, 12), layers=2))
    mean = cnngen.render(
        cnngen.plan("equivariant", input_size=(12, 12), layers=2, rotation_pool="mean")
    )
    assert "rotation_pool=RotationMax()" in default and "RotationMean" not in default
    assert "rotation_pool=RotationMean()" in mean and "RotationMax" not in mean


@pytest.mark.parametrize("pool", ["max", "mean"])
@pytest.mark.parametrize(
    "options",
    [
        {"head": "gap"},
        {"head": "flatten"},
        {"head": "flatten", "hidden": (7, 5), "dropout": 0.2, "final_activation": "sigmoid"},
        {"head": "auto", "se": True},
    ],
)
def test_rotation_stack_logits_are_invariant(pool: str, options: dict[str, Any]) -> None:
    torch.manual_seed(0)
    plan = cnngen.plan("equivariant", input_size=(11, 11), layers=2, rotation_pool=pool, **options)
    model = cnngen.build(plan).double().eval()
    x = torch.randn(3, 1, 11, 11, dtype=torch.float64)
    for turns in range(1, 4):
        torch.testing.assert_close(model(torch.rot90(x, turns, (-2, -1))), model(x))


def test_rotations_are_pooled_after_the_last_linear_layer() -> None:
    """Each copy gets its own logits, so features that fire together stay together."""
    plan = cnngen.plan("equivariant", input_size=(16, 16), layers=2, hidden=(16,))
    kinds = [op.kind for op in plan.stages[-1].ops]
    assert kinds == ["flatten", "linear", "activation", "linear", "rotation_max"]
    assert [op.batch for op in plan.stages[-1].ops] == [4, 4, 4, 4, 1]
    # The hidden and output layers run on four copies per sample.
    linear = plan.stages[-1].ops[1]
    assert linear.macs == 4 * linear.params - 4 * linear.out_shape[0]


@pytest.mark.parametrize(
    ("size", "layers", "head"),
    [
        ((16, 16), 2, "flatten"),
        ((28, 28), 2, "flatten"),
        ((64, 64), 2, "gap"),
        ((24, 24, 24), 3, "gap"),
    ],
)
def test_auto_head_flattens_small_maps_and_matches_the_plain_classifier(
    size: Any, layers: int, head: str
) -> None:
    """``--head auto`` decides alike for both families, so their sizes stay equal."""
    plain = cnngen.plan("classifier", input_size=size, layers=layers)
    invariant = cnngen.plan("equivariant", input_size=size, layers=layers)
    assert plain.params == invariant.params
    explicit = cnngen.plan("classifier", input_size=size, layers=layers, head=head)
    assert plain.params == explicit.params
    first = "flatten" if head == "flatten" else "avgpool"
    assert plain.stages[-1].ops[0].kind == invariant.stages[-1].ops[0].kind == first


@pytest.mark.parametrize(
    ("family", "options", "param"),
    [
        ("classifier", {"group_conv": True}, "--group-conv"),
        ("classifier", {"rotation_pool": "mean"}, "--rotation-pool"),
        ("equivariant", {"group_conv": True, "kernel": (4,)}, "--kernel"),
        ("equivariant", {"group_conv": True, "rotation_pool": "mean"}, "--rotation-pool"),
        ("equivariant", {"rotation_pool": "median"}, "--rotation-pool"),
    ],
)
def test_options_the_family_would_ignore_are_refused(
    family: str, options: dict[str, Any], param: str
) -> None:
    with pytest.raises(CnngenError) as caught:
        cnngen.plan(family, input_size=(16, 16), **options)
    assert caught.value.param == param


def test_cli_writes_a_group_conv_file_that_runs(tmp_path: Path, run_cli: Any) -> None:
    target = tmp_path / "c4.py"
    result = run_cli(
        "model", "equivariant", "-i", "16x16", "--layers", "2", "--group-conv", "-o", str(target)
    )
    assert result.code == 0, result.err
    namespace: dict[str, Any] = {"__name__": "generated"}
    exec(compile(target.read_text(), str(target), "exec"), namespace)
    model = namespace["C4Classifier"]().eval()
    x = torch.randn(2, 1, 16, 16)
    torch.testing.assert_close(model(_turn(x)), model(x), rtol=1e-4, atol=1e-5)


def test_benchmark_compares_models_of_the_same_size() -> None:
    from benchmarks.equivariance import BASE, models

    sizes = {
        name: cnngen.plan(family, **BASE, **options).params for name, family, options in models()
    }
    # Each model is compared with the plain CNN of its head.
    plain = sizes.pop("plain CNN")
    plain_gap = sizes.pop("plain CNN, --head gap")
    for name, params in sizes.items():
        reference = plain_gap if "--head gap" in name else plain
        assert abs(params - reference) <= 0.1 * reference, (name, params, reference)


def test_group_conv_exports_2d_ops_only_with_3d_statistics() -> None:
    """torch.export holds no 3-D pool or norm and no 5-D tensor (ExecuTorch has neither).

    The folded BatchNorm2d computes what BatchNorm3d over (B, C, 4, H, W)
    does: one set of statistics per channel, shared by its four orientations.
    """
    plan = cnngen.plan(
        "equivariant", input_size=(14, 14), layers=2, start_channels=3, group_conv=True
    )
    torch.manual_seed(0)
    model = cnngen.build(plan).double().train()
    x = torch.randn(3, 1, 14, 14, dtype=torch.float64)
    reference = torch.nn.BatchNorm3d(3).double().train()
    lift = model.get_submodule("layer1.conv1")(x)  # (B, 3 * 4, 14, 14)
    bn = model.get_submodule("layer1.bn1")
    assert isinstance(bn, torch.nn.BatchNorm2d) and bn.num_features == 3
    ours = model.get_submodule("layer1.unfold")(bn(model.get_submodule("layer1.fold")(lift)))
    theirs = reference(lift.unflatten(1, (3, 4))).flatten(1, 2)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-12)
    torch.testing.assert_close(bn.running_var, reference.running_var, rtol=0, atol=1e-12)

    program = torch.export.export(model.float().eval(), (torch.randn(2, 1, 14, 14),))
    targets = [str(node.target) for node in program.graph.nodes if node.op == "call_function"]
    assert not [name for name in targets if "3d" in name], targets
    assert any("max_pool2d" in name for name in targets)
    # Every tensor computed from the input is at most 4-D: (B, C * 4, H, W).
    (user_input,) = program.graph_signature.user_inputs
    from_input: set[str] = {user_input}
    for node in program.graph.nodes:
        if any(getattr(arg, "name", None) in from_input for arg in node.all_input_nodes):
            from_input.add(node.name)
            value = node.meta.get("val")
            if isinstance(value, torch.Tensor):
                assert value.dim() <= 4, (node.name, tuple(value.shape))
