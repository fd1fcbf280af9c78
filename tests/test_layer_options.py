"""Layer options: activations with parameters, norm settings, padding mode and bias.

Random valid specs are planned, rendered, imported and run in torch: every
layer's output shape must be the plan's, ``PARAMETERS`` must be torch's count,
and the modules must really carry the options asked for.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import torch

import cnngen
from cnngen.errors import CnngenError

ACTIVATIONS = ("leaky_relu:0.2", "prelu", "prelu:0.1", "elu:1.5", "gelu", "silu", "mish", "hardswish")
NORMS = ("batchnorm", "instancenorm", "groupnorm", "layernorm", "none")
MODES = ("zeros", "reflect", "replicate", "circular")


FAMILIES = ("encoder", "forecaster", "classifier", "unet", "equivariant")


def _random_spec(rng: random.Random, family: str) -> tuple[str, dict[str, Any]]:
    dims = 2 if family == "equivariant" else rng.choice((1, 2, 2, 3))
    size = rng.choice((12, 15, 16, 19)) if dims < 3 else rng.choice((8, 9))
    options: dict[str, Any] = {
        "input_size": (size,) * dims,
        "layers": rng.choice((1, 2)),
        "start_channels": rng.choice((4, 6, 8)),
        "activation": rng.choice(ACTIVATIONS),
        "norm": rng.choice(NORMS),
    }
    if family == "classifier":
        options["block"] = rng.choice(("plain", "vgg", "residual"))
    norm = options["norm"]
    if norm != "none" and rng.random() < 0.7:
        options["norm_eps"] = rng.choice((1e-3, 1e-6))
    if norm == "batchnorm" and rng.random() < 0.7:
        options["norm_momentum"] = rng.choice((0.01, 0.3))
    if norm in ("batchnorm", "groupnorm") and rng.random() < 0.5:
        options["no_affine"] = True
    if rng.random() < 0.5:
        options["bias"] = rng.choice((True, False))
    if family != "equivariant" and rng.random() < 0.4:
        options["groups"] = 2
    if family in ("encoder", "forecaster", "classifier") and rng.random() < 0.6:
        options["padding"] = rng.choice((0, 1, "1"))
        options["kernel"] = (rng.choice((3, 5)),)
    if family != "equivariant":
        # Reflection needs the padding below the map's size: keep maps above 2.
        options["padding_mode"] = rng.choice(MODES)
        options["min_size"] = (3,) * dims
    else:
        options["group_conv"] = rng.random() < 0.5
    return family, options


def _shapes(model: torch.nn.Module, x: torch.Tensor) -> dict[str, tuple[int, ...]]:
    seen: dict[str, tuple[int, ...]] = {}
    handles = [
        module.register_forward_hook(
            lambda _m, _i, out, name=name: seen.__setitem__(name, tuple(out.shape[1:]))
        )
        for name, module in model.named_modules()
        if name
    ]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return seen


def _check_modules(plan: Any, model: torch.nn.Module, options: dict[str, Any]) -> int:
    """Every planned op's module carries its options; returns how many ops were checked."""
    checked = 0
    bias = options.get("bias")
    for stage in plan.stages:
        for name, op in stage.all_ops():
            module = model.get_submodule(name)
            if op.kind == "activation" and isinstance(module, torch.nn.PReLU):
                assert module.num_parameters == op.in_shape[0], name
                init = options["activation"].partition(":")[2]
                assert module.weight[0].item() == pytest.approx(float(init or 0.25))
            elif op.kind == "activation" and isinstance(module, torch.nn.LeakyReLU):
                assert module.negative_slope == 0.2
            elif op.kind == "activation" and isinstance(module, torch.nn.ELU):
                assert module.alpha == 1.5
            elif op.kind in ("batchnorm", "groupnorm", "instancenorm"):
                assert module.eps == options.get("norm_eps", 1e-5), name
                if op.kind == "batchnorm":
                    assert module.momentum == options.get("norm_momentum", 0.1), name
                if op.kind != "instancenorm":
                    assert module.affine is not options.get("no_affine", False), name
            elif op.kind == "conv" and isinstance(module, torch.nn.Conv1d | torch.nn.Conv2d):
                assert module.groups in (1, options.get("groups", 1), module.in_channels), name
                if any(p != 0 for p in module.padding):
                    assert module.padding_mode == options.get("padding_mode", "zeros"), name
                planned = op.arg("groups") is None and "downsample" not in name
                # Output layers (the U-Net's 1x1 head) keep their bias.
                if bias is not None and planned and stage.role != "head":
                    assert (module.bias is not None) is bias, name
            elif op.kind == "conv" and isinstance(module, torch.nn.Conv3d):
                if any(p != 0 for p in module.padding):
                    assert module.padding_mode == options.get("padding_mode", "zeros"), name
            else:
                continue
            checked += 1
    return checked


def test_random_layer_options_are_exact_in_torch() -> None:
    rng = random.Random(24)
    ran = 0
    checked = 0
    families: dict[str, int] = {}
    refused = 0
    grouped = 0
    for attempt in range(60):
        if ran == 12:
            break
        family, options = _random_spec(rng, FAMILIES[attempt % len(FAMILIES)])
        try:
            plan = cnngen.plan(family, **options)
        except CnngenError as error:
            # Only the refusals the options document: an honest one-line reason.
            assert error.param in ("--padding-mode", "--padding", "--kernel", "--layers"), error
            refused += 1
            continue
        torch.manual_seed(ran)
        model = cnngen.build(plan).eval()
        x = torch.randn(2, *plan.input_shape)
        shapes = _shapes(model, x)
        for name, shape in plan.layer_shapes().items():
            assert shapes[name] == shape, (family, options, name)
        assert sum(p.numel() for p in model.parameters()) == plan.params, (family, options)
        assert tuple(model(x).shape[1:]) == plan.output_shape
        checked += _check_modules(plan, model, options)
        grouped += any(
            isinstance(m, torch.nn.Conv1d | torch.nn.Conv2d | torch.nn.Conv3d) and m.groups == 2
            for m in model.modules()
        )
        ran += 1
        families[family] = families.get(family, 0) + 1
    assert ran == 12 and len(families) == len(FAMILIES), families
    assert refused < 20 and grouped >= 2
    assert checked >= 40


def test_p4_prelu_shares_its_slopes_across_orientations() -> None:
    plan = cnngen.plan(
        "equivariant",
        input_size=(12, 12),
        layers=2,
        start_channels=3,
        group_conv=True,
        norm="none",
        activation="prelu",
    )
    model = cnngen.build(plan).double().eval()
    prelu = model.get_submodule("layer1.act1")
    assert isinstance(prelu, torch.nn.PReLU) and prelu.num_parameters == 3
    with torch.no_grad():
        for layer in (model.layer1.act1, model.layer2.act1):
            layer.weight.copy_(torch.randn_like(layer.weight))
    x = torch.randn(2, 1, 12, 12, dtype=torch.float64)
    turned = model(torch.rot90(x, 1, dims=(-2, -1)))
    torch.testing.assert_close(turned, model(x), rtol=1e-9, atol=1e-9)


def test_defaults_write_no_new_argument() -> None:
    source = cnngen.render(cnngen.plan("classifier", input_size=(16, 16), layers=2))
    for word in ("padding_mode", "eps=", "momentum=", "affine=", "PReLU"):
        assert word not in source


@pytest.mark.parametrize(
    ("words", "param"),
    [
        (["--activation", "leaky_relu:abc"], "--activation"),
        (["--activation", "relu:0.2"], "--activation"),
        (["--activation", "elu:inf"], "--activation"),
        (["--final-activation", "gelu:1"], "--final-activation"),
        (["--norm-eps", "0"], "--norm-eps"),
        (["--norm-momentum", "1.5"], "--norm-momentum"),
        (["--norm", "instancenorm", "--norm-momentum", "0.2"], "--norm-momentum"),
        (["--norm", "none", "--no-affine"], "--no-affine"),
        (["--padding-mode", "mirror"], "--padding-mode"),
        (["--padding-mode", "reflect", "-n", "5", "--min-size", "1"], "--padding-mode"),
        (["--padding", "2"], "--padding"),
        (["--groups", "3"], "--groups"),
        (["--groups", "2", "--depthwise"], "--groups"),
        (["--padding", "one"], "--padding"),
        (["--padding", "0", "-n", "2"], "--padding"),
    ],
)
def test_bad_layer_options_are_one_line_and_write_nothing(
    tmp_path: Path, run_cli: Any, words: list[str], param: str
) -> None:
    target = tmp_path / "model.py"
    result = run_cli("model", "encoder", "-i", "16x16", *words, "-o", str(target))
    assert result.code == 2, result.err
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1 and param in lines[0], result.err
    assert not target.exists()


def test_options_reach_the_file_command_and_config(tmp_path: Path, run_cli: Any) -> None:
    words = [
        "--activation", "leaky_relu:0.2", "--norm-eps", "0.001", "--norm-momentum", "0.05",
        "--no-affine", "--padding-mode", "replicate", "--no-bias",
    ]  # fmt: skip
    target, config = tmp_path / "m.py", tmp_path / "m.toml"
    result = run_cli(
        "model", "encoder", "-i", "16x16", "-n", "2", *words, "-o", str(target),
        "--save-config", str(config),
    )  # fmt: skip
    assert result.code == 0, result.err
    source = target.read_text()
    assert " ".join(words) in source  # the regenerate line
    assert "LeakyReLU(negative_slope=0.2)" in source
    assert "padding_mode=\"replicate\"" in source
    assert "eps=0.001, momentum=0.05, affine=False" in source
    again = tmp_path / "again.py"
    result = run_cli("model", "--config", str(config), "-o", str(again))
    assert result.code == 0, result.err
    assert again.read_text().split("\n", 6)[6] == source.split("\n", 6)[6]
