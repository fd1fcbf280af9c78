"""What each module of an equivariant model outputs, shared by the C4 and D4 tests."""

from __future__ import annotations

from typing import Any

import torch


def layer_outputs(model: torch.nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every named module's output on ``x``, by module name."""
    seen: dict[str, torch.Tensor] = {}
    handles = [
        module.register_forward_hook(
            lambda _m, _i, out, name=name: seen.__setitem__(name, out.detach().clone())
        )
        for name, module in model.named_modules()
        if name
    ]
    try:
        model(x)
    finally:
        for handle in handles:
            handle.remove()
    return seen


def layer_layouts(plan: Any) -> dict[str, str]:
    """Each module's output layout, so a test knows how a transform of the input moves it.

    "group": (B, C * |G|, H, W), orientations next to each other; "folded":
    (B, C, |G| * H, W); "plain": an ordinary map or vector.
    """
    layouts: dict[str, str] = {}
    layout = "plain"
    for stage in plan.stages:
        for name, op in stage.all_ops():
            if op.kind in ("lifting_conv", "unfold_orientations"):
                layout = "group"
            elif op.kind == "fold_orientations":
                layout = "folded"
            elif op.kind in ("group_pool", "orientation_stack"):
                layout = "plain"
            layouts[name] = layout
        layouts[stage.name] = layout
    return layouts


def assert_counts_and_shapes(plan: Any, model: torch.nn.Module) -> None:
    """Parameters and MACs as torch counts them, and every layer's shape as the plan says."""
    from torch.utils.flop_counter import FlopCounterMode

    assert sum(p.numel() for p in model.parameters()) == plan.params
    with FlopCounterMode(display=False) as counter:
        model(torch.randn(1, *plan.input_shape))
    assert counter.get_total_flops() == 2 * plan.macs
    shapes = {
        name: tuple(out.shape[1:])
        for name, out in layer_outputs(model, torch.randn(2, *plan.input_shape)).items()
    }
    for name, shape in plan.layer_shapes().items():
        assert shapes[name] == shape, name
