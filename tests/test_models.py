"""Generated model files, run for real: every family, dimension and block type."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from generated import imported_modules, load, model_class, shape_mismatches, write_model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnngen.core.spec import make_spec
from cnngen.errors import CnngenError
from cnngen.rendering.namespace import template_names

SMALL = {"start_channels": 4, "max_channels": 16}


@st.composite
def model_requests(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A random but plannable request: small channels and sizes so runs stay fast."""
    family = draw(st.sampled_from(["encoder", "forecaster", "classifier", "equivariant"]))
    dims = draw(st.sampled_from([2, 3]) if family == "equivariant" else st.integers(1, 3))
    limit = {1: 200, 2: 48, 3: 14}[dims]
    if family == "equivariant":
        side = draw(st.integers(6, limit))
        sizes = (side,) * dims
    else:
        sizes = tuple(draw(st.integers(5, limit)) for _ in range(dims))
    options: dict[str, Any] = {
        "input_size": sizes,
        "layers": draw(st.integers(1, 5)),
        "in_channels": draw(st.integers(1, 3)),
        "norm": draw(st.sampled_from(["batchnorm", "instancenorm", "groupnorm", "none"])),
        "activation": draw(st.sampled_from(["relu", "leaky_relu", "gelu", "silu", "tanh"])),
        "kernel": (draw(st.sampled_from([1, 3, 5])),),
        "padding": draw(st.sampled_from(["auto", "same"])),
        "sub_blocks": draw(st.integers(1, 2)),
        "channel_rule": draw(st.sampled_from(["exponential", "linear", "constant", "proportion"])),
        **SMALL,
    }
    if family in ("encoder", "forecaster"):
        options["downsample"] = draw(st.sampled_from(["stride", "pool", "none"]))
    if family == "forecaster":
        options["out_channels"] = draw(st.integers(1, 3))
        if draw(st.booleans()):
            options["latent"] = draw(st.integers(1, 8))
    if family == "equivariant":
        options["head"] = draw(st.sampled_from(["auto", "gap", "flatten"]))
        options["hidden"] = draw(st.sampled_from([(), (6,)]))
        options["rotation_pool"] = draw(st.sampled_from(["max", "mean"]))
    if family == "classifier":
        block = draw(st.sampled_from(["plain", "vgg", "residual", "bottleneck", "convnext"]))
        options["block"] = block
        options["se"] = draw(st.booleans())
        options["depthwise"] = draw(st.booleans())
        options["head"] = draw(st.sampled_from(["auto", "gap", "flatten"]))
        options["classes"] = draw(st.integers(2, 5))
        if block in ("residual", "bottleneck", "convnext"):
            options["padding"] = "auto"
            options["kernel"] = (3,)
            options["sub_blocks"] = 1
    return family, options


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(model_requests())
def test_random_generated_models_run_exactly_as_planned(
    tmp_path: Path, request_: tuple[str, dict[str, Any]]
) -> None:
    family, options = request_
    try:
        path = write_model(tmp_path, family, **options)
    except CnngenError as error:
        # Only refusals that name the option at fault are acceptable.
        assert str(error).startswith("--"), str(error)
        return
    module = load(path)
    assert shape_mismatches(module) == []
    if family == "forecaster":
        assert module.OUTPUT_SHAPE[1:] == module.INPUT_SHAPE[1:]


@pytest.mark.parametrize("out_depth", [1, 4, 9, 20])
def test_3d_forecaster_maps_time_steps_exactly(tmp_path: Path, out_depth: int) -> None:
    module = load(
        write_model(
            tmp_path, "forecaster", input_size=(9, 13, 11), layers=2, out_depth=out_depth, **SMALL
        )
    )
    assert module.OUTPUT_SHAPE == (1, out_depth, 13, 11)
    assert shape_mismatches(module) == []


def test_out_depth_needs_a_3d_forecaster() -> None:
    with pytest.raises(CnngenError, match="^--out-depth: needs a 3D input"):
        make_spec("forecaster", input_size=(20, 20), out_depth=3)
    with pytest.raises(CnngenError, match="^--out-depth: only forecasters take it"):
        make_spec("encoder", input_size=(8, 20, 20), out_depth=3)


CASES = {
    "encoder-1d": ("encoder", {"input_size": (97,), "layers": 4}),
    "encoder-3d-valid": ("encoder", {"input_size": (9, 17, 13), "layers": 2, "padding": "valid"}),
    "forecaster-1d-pool": ("forecaster", {"input_size": (131,), "layers": 4, "downsample": "pool"}),
    "forecaster-2d-latent": (
        "forecaster",
        {"input_size": (37, 23), "in_channels": 6, "out_channels": 3, "layers": 3, "latent": 8},
    ),
    "forecaster-3d-same": (
        "forecaster",
        {"input_size": (7, 19, 11), "layers": 2, "padding": "same"},
    ),
    "forecaster-dilated": ("forecaster", {"input_size": (41, 29), "layers": 3, "dilation": (2,)}),
    "forecaster-target": (
        "forecaster",
        {"input_size": (101, 64), "layers": 4, "target_size": (9, 8)},
    ),
    "forecaster-3d-fewer-steps": (
        "forecaster",
        {"input_size": (12, 20, 20), "layers": 2, "out_depth": 5, "final_activation": "sigmoid"},
    ),
    "forecaster-3d-more-steps": (
        "forecaster",
        {"input_size": (6, 9, 9), "layers": 2, "out_depth": 11},
    ),
    "classifier-vgg-depthwise": (
        "classifier",
        {"input_size": (32, 32), "in_channels": 3, "block": "vgg", "depthwise": True},
    ),
    "classifier-bottleneck-se-3d": (
        "classifier",
        {"input_size": (8, 16, 16), "block": "bottleneck", "se": True, "layers": 3},
    ),
    "classifier-convnext-1d": (
        "classifier",
        {"input_size": (301,), "block": "convnext", "layers": 3, "activation": "gelu"},
    ),
    "classifier-convnext-3d-se": (
        "classifier",
        {"input_size": (7, 13, 10), "block": "convnext", "se": True, "layers": 2},
    ),
    "classifier-flatten-hidden": (
        "classifier",
        {"input_size": (28, 28), "head": "flatten", "hidden": (32, 16), "dropout": 0.1},
    ),
    "equivariant-3d": ("equivariant", {"input_size": (6, 16, 16), "layers": 2}),
}


@pytest.mark.parametrize("family, options", CASES.values(), ids=CASES.keys())
def test_families_run_exactly_as_planned(tmp_path: Path, family: str, options: dict) -> None:
    module = load(write_model(tmp_path, family, **{**SMALL, **options}))
    assert shape_mismatches(module) == []


@pytest.mark.parametrize("family, options", CASES.values(), ids=CASES.keys())
def test_generated_files_import_only_torch_and_stdlib(
    tmp_path: Path, family: str, options: dict
) -> None:
    import sys

    source = write_model(tmp_path, family, **{**SMALL, **options}).read_text()
    assert imported_modules(source) - set(sys.stdlib_module_names) == {"torch"}


def test_bias_is_dropped_only_before_batch_norm(tmp_path: Path) -> None:
    for norm, expect_bias in (("batchnorm", False), ("groupnorm", True), ("none", True)):
        module = load(write_model(tmp_path, "encoder", input_size=(32, 32), norm=norm, **SMALL))
        model = model_class(module)()
        convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
        assert convs and all((c.bias is not None) == expect_bias for c in convs), norm


def test_every_layer_owns_its_activation(tmp_path: Path) -> None:
    module = load(write_model(tmp_path, "forecaster", input_size=(32, 32), layers=3, **SMALL))
    model = model_class(module)()
    activations = [m for m in model.modules() if isinstance(m, torch.nn.ReLU)]
    assert len(activations) == 5
    assert len({id(m) for m in activations}) == len(activations)


def test_wrong_input_shape_gets_a_message_with_both_shapes(tmp_path: Path) -> None:
    module = load(write_model(tmp_path, "encoder", input_size=(32, 32), **SMALL))
    model = model_class(module)()
    with pytest.raises(
        ValueError, match=r"expected input of shape \(B, 1, 32, 32\), got \[2, 1, 31, 32\]"
    ):
        model(torch.randn(2, 1, 31, 32))


@pytest.mark.parametrize("training", [False, True])
def test_equivariant_logits_are_invariant_to_every_quarter_turn(
    tmp_path: Path, training: bool
) -> None:
    module = load(
        write_model(tmp_path, "equivariant", input_size=(21, 21), layers=3, in_channels=2, **SMALL)
    )
    torch.manual_seed(1)
    model = model_class(module)().train(training)
    batch = torch.randn(3, *module.INPUT_SHAPE)
    reference = model(batch)
    for turns in (1, 2, 3):
        rotated = model(torch.rot90(batch, turns, dims=(-2, -1)))
        torch.testing.assert_close(rotated, reference, rtol=1e-4, atol=1e-5)


def test_plain_classifier_is_not_rotation_invariant(tmp_path: Path) -> None:
    """The control for the test above: invariance is the equivariant family's doing."""
    module = load(write_model(tmp_path, "classifier", input_size=(21, 21), layers=3, **SMALL))
    torch.manual_seed(1)
    model = model_class(module)().eval()
    batch = torch.randn(3, *module.INPUT_SHAPE)
    with torch.no_grad():
        difference = (model(torch.rot90(batch, 1, dims=(-2, -1))) - model(batch)).abs().max()
    assert difference > 1e-3


def test_equivariant_refuses_non_square_input() -> None:
    with pytest.raises(CnngenError, match=r"--input-size: 28x20 is not square"):
        make_spec("equivariant", input_size=(28, 20))


def test_plan_parameter_count_and_macs_match_torch(tmp_path: Path) -> None:
    from torch.utils.flop_counter import FlopCounterMode

    from cnngen.core.solver import solve

    for family, options in CASES.values():
        spec = make_spec(family, **{**SMALL, **options})
        plan = solve(spec)
        module = load(write_model(tmp_path, family, **{**SMALL, **options}))
        model = model_class(module)().eval()
        assert sum(p.numel() for p in model.parameters()) == plan.params, family
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            model(torch.randn(1, *module.INPUT_SHAPE))
        # Equivariant plans count the trunk once per quarter turn, as torch does.
        assert counter.get_total_flops() == 2 * plan.macs, (family, options)


@pytest.mark.parametrize("name", ["Residual", "torch", "nn", "INPUT_SHAPE", "RotationMean"])
def test_class_name_may_not_shadow_what_the_file_defines(name: str) -> None:
    with pytest.raises(CnngenError, match=r"^--name: .* already used inside the generated file"):
        make_spec("encoder", input_size=(32,), name=name, names=template_names)


def test_final_activation_keeps_the_receptive_field() -> None:
    """The activation adds no spatial context: the field stays the last conv's."""
    from cnngen.core.solver import solve

    plain = solve(make_spec("encoder", input_size=(64, 64)))
    finished = solve(make_spec("encoder", input_size=(64, 64), final_activation="sigmoid"))
    assert finished.stages[-1].ops[-1].module == "nn.Sigmoid"
    assert finished.receptive_field == plain.receptive_field == (19, 19)
    assert finished.notes == plain.notes
