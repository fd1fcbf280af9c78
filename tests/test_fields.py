"""Receptive fields in the plan equal the ones gradients measure in the generated model.

Backpropagate from the central output position (index ``(size - 1) // 2`` per
dimension) of a layer and count, per dimension, the extent of the input whose
gradient is nonzero.  Weights and inputs are positive and the model is in
eval mode, so no contribution cancels; max pooling routes its gradient to one
input only, so it is swapped for average pooling with the same window (same
field); instance and group norm are replaced by identities, because their
statistics would make every field global, which is not what a receptive field
means.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cnngen.core.fields import annotate
from cnngen.core.solver import solve
from cnngen.core.spec import make_spec
from tests.generated import load, model_class, write_model

torch = pytest.importorskip("torch")

CASES: list[tuple[str, dict[str, Any]]] = [
    ("forecaster", {"input_size": (64, 64), "layers": 3}),
    ("forecaster", {"input_size": (64, 64), "layers": 3, "latent": 16}),
    ("forecaster", {"input_size": (17, 23), "layers": 3}),
    ("forecaster", {"input_size": (9, 20, 20), "layers": 2, "out_depth": 4}),
    ("forecaster", {"input_size": (33,), "layers": 3, "kernel": (4,)}),
    ("encoder", {"input_size": (97, 131), "layers": 4}),
    ("encoder", {"input_size": (50,), "layers": 3, "dilation": (2,)}),
    ("encoder", {"input_size": (64, 64), "layers": 3, "downsample": "pool"}),
    ("encoder", {"input_size": (40, 40), "layers": 3, "padding": "same", "kernel": (4, 4)}),
    ("classifier", {"preset": "lenet5"}),
    ("classifier", {"input_size": (64, 64), "layers": 3, "head": "gap"}),
    ("classifier", {"input_size": (64, 64), "layers": 3, "block": "residual", "se": True}),
    ("classifier", {"input_size": (96, 96), "layers": 3, "block": "bottleneck"}),
    ("classifier", {"input_size": (96, 96), "layers": 2, "depthwise": True}),
    ("equivariant", {"input_size": (32, 32), "layers": 2}),
    ("unet", {"input_size": (19, 23), "layers": 2, "start_channels": 4}),
    ("unet", {"input_size": (19, 23), "layers": 2, "start_channels": 4,
              "upsample": "pixelshuffle", "downsample": "stride"}),
    ("unet", {"input_size": (17, 21), "layers": 2, "start_channels": 4,
              "residual_units": True}),
    ("decoder", {"input_size": (5, 6), "in_channels": 4, "layers": 2}),
    ("forecaster", {"input_size": (33, 20), "layers": 2, "decoder_kernel": (4,),
                    "decoder_stride": (2,)}),
    ("forecaster", {"input_size": (16, 16), "layers": 2, "latent": (4, 2, 2),
                    "latent_layers": 2}),
]  # fmt: skip
# Presets nest their stages (blocks in layers, branches in modules); their fields
# are clipped to the input too, not the textbook ones that count the padding.
PRESETS: list[tuple[str, dict[str, Any]]] = [
    ("classifier", {"preset": "alexnet", "input_size": (67, 67)}),
    ("classifier", {"preset": "vgg11_bn", "input_size": (32, 32)}),
    ("classifier", {"preset": "googlenet", "input_size": (40, 40)}),
    ("classifier", {"preset": "resnet18", "input_size": (33, 47)}),
    ("classifier", {"preset": "resnet50", "input_size": (32, 32)}),
    ("classifier", {"preset": "se_resnet18", "input_size": (32, 32)}),
    ("classifier", {"preset": "mobilenet_v2", "input_size": (32, 32)}),
]


def positive(model: Any) -> Any:
    """Positive weights, pooling by average, no instance statistics: nothing cancels."""
    from torch import nn

    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            swap = None
            if isinstance(child, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)):
                pool = {1: nn.AvgPool1d, 2: nn.AvgPool2d, 3: nn.AvgPool3d}
                dims = int(type(child).__name__[-2])
                swap = pool[dims](
                    child.kernel_size, child.stride, child.padding, ceil_mode=child.ceil_mode
                )
            elif isinstance(child, (nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d)):
                swap = nn.Identity()
            elif isinstance(child, (nn.GroupNorm, nn.ReLU6)):
                # ReLU6 saturates at 6, where no gradient passes; it is pointwise anyway.
                swap = nn.Identity()
            if swap is not None:
                setattr(module, child_name, swap)
        del name
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():
            values = torch.rand(parameter.shape, generator=generator, dtype=torch.float64)
            parameter.copy_((0.5 + values) / max(parameter[0].numel(), 1))
    return model.double().eval()


def measured(model: Any, input_shape: tuple[int, ...], layer: str | None) -> tuple[int, ...]:
    """Input extent per dimension whose gradient from the central output position is nonzero."""
    x = torch.ones(1, *input_shape, dtype=torch.float64, requires_grad=True)
    seen: dict[str, Any] = {}
    hook = None
    if layer is not None:
        module = model.get_submodule(layer)
        hook = module.register_forward_hook(lambda m, i, o: seen.__setitem__("y", o))
    output = model(x)
    if hook is not None:
        hook.remove()
        output = seen["y"]
    if output.dim() > 2:
        center = tuple((size - 1) // 2 for size in output.shape[2:])
        target = output[(slice(None), slice(None), *center)].sum()
    else:
        target = output.sum()
    (grad,) = torch.autograd.grad(target, x)
    nonzero = grad[0].abs().sum(dim=0) != 0
    extent = []
    for dim in range(nonzero.dim()):
        line = nonzero.movedim(dim, 0).reshape(nonzero.shape[dim], -1).any(dim=1)
        indices = line.nonzero()
        extent.append(int(indices.max() - indices.min() + 1) if len(indices) else 0)
    return tuple(extent)


@pytest.mark.parametrize(
    ("family", "options"),
    [*CASES, *(pytest.param(*case, marks=pytest.mark.slow) for case in PRESETS)],
)
def test_plan_field_equals_gradient_field(
    tmp_path: Path, family: str, options: dict[str, Any]
) -> None:
    spec = make_spec(family, **options)
    plan = solve(spec)
    module = load(write_model(tmp_path, family, **options))
    model = positive(model_class(module)())
    assert measured(model, plan.input_shape, None) == plan.receptive_field
    if family == "equivariant":
        return  # inside the rotation stack a layer's batch holds four turned copies
    for stage in plan.stages:
        for name, op in stage.all_ops():
            if op.out_shape != op.in_shape or op.kind == "squeeze_excite":
                assert measured(model, plan.input_shape, name) == op.receptive_field, name


def test_decoder_field_is_exact_not_the_bound() -> None:
    plan = solve(make_spec("forecaster", input_size=(64, 64), layers=3))
    assert plan.receptive_field == (23, 23)
    assert any("does not cover" in note for note in plan.notes)


def test_heads_and_latents_see_the_whole_input() -> None:
    latent = solve(make_spec("forecaster", input_size=(64, 64), layers=3, latent=16))
    assert latent.receptive_field == (64, 64)
    lenet = solve(make_spec("classifier", preset="lenet5"))
    assert lenet.receptive_field == lenet.input_shape[1:]
    assert not any("does not cover" in note for note in lenet.notes + latent.notes)
    assert any("convolutions alone see 16x16" in note for note in lenet.notes)


def test_preset_fields_are_clipped_to_the_input() -> None:
    """ResNet-18's textbook field is 435 at 224; at 224x224 the input is all there is."""
    resnet = solve(make_spec("classifier", preset="resnet18", input_size=(224, 224)))
    assert resnet.receptive_field == (224, 224)
    fields = [op.receptive_field for stage in resnet.stages for _, op in stage.all_ops()]
    assert max(max(field) for field in fields if field) == 224
    alexnet = solve(make_spec("classifier", preset="alexnet", input_size=(224, 224)))
    assert alexnet.receptive_field == (224, 224)
    assert any("convolutions alone see 193x193" in note for note in alexnet.notes)


def test_annotate_is_idempotent() -> None:
    plan = solve(make_spec("classifier", input_size=(64, 64), layers=3, block="residual"))
    stages, field = annotate(plan.stages, plan.input_shape)
    assert tuple(stages) == plan.stages and field == plan.receptive_field
