"""Group convolutions with a harmonic basis (``--basis harmonic``).

Each k x k kernel is a sum of fixed waves around the rings of its grid, so a
layer learns 6, 11 or 18 weights per kernel at k = 3, 5, 7 instead of 9, 25,
49.  The waves must be independent and span the same kernels in every
orientation; the files must stay exactly equivariant, count their parameters
and MACs as torch does, and be refused in one line where the basis means
nothing.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import cnngen
from cnngen.core.equivariant import harmonic_weights


def _act(g: int, x: torch.Tensor) -> torch.Tensor:
    """Element g of D4 (or C4 for g < 4): g // 4 flips of the width, then g % 4 turns."""
    if g >= 4:
        x = torch.flip(x, dims=(-1,))
    return torch.rot90(x, g % 4, dims=(-2, -1))


def _plan(size: int, group: str = "c4", basis: str = "harmonic", **options: Any) -> Any:
    return cnngen.plan(
        "equivariant", input_size=(size, size), group_conv=True, group=group, basis=basis,
        **options,
    )  # fmt: skip


def _waves(kernel: int) -> torch.Tensor:
    """The waves a generated file builds for ``kernel``, in float64."""
    torch.set_default_dtype(torch.float64)
    try:
        model = cnngen.build(_plan(12, layers=1, kernel=(kernel,)))
    finally:
        torch.set_default_dtype(torch.float32)
    return model.get_submodule("layer1.conv1.basis").waves


def test_weights_per_kernel_are_the_band_limited_counts() -> None:
    # Ring r: frequencies 0 .. max(2, r), a cosine and a sine above 0.
    assert [harmonic_weights(k) for k in (1, 3, 5, 7, 9)] == [1, 6, 11, 18, 27]
    # Against a weight per tap: 1.5x, 2.27x and 2.72x fewer at kernels 3, 5, 7.
    assert [round(k * k / harmonic_weights(k), 2) for k in (3, 5, 7)] == [1.5, 2.27, 2.72]


@pytest.mark.parametrize("kernel", [3, 5, 7])
def test_waves_are_independent_unit_and_closed_under_turns_and_mirrors(kernel: int) -> None:
    waves = _waves(kernel)
    count = harmonic_weights(kernel)
    assert waves.shape == (count, kernel, kernel) and waves.dtype == torch.float64
    flat = waves.flatten(1)
    assert int(torch.linalg.matrix_rank(flat)) == count
    torch.testing.assert_close(flat.norm(dim=1), torch.ones(count, dtype=torch.float64))
    # The span is the same in every orientation: each moved wave is a sum of waves.
    for g in range(1, 8):
        moved = _act(g, waves).flatten(1)
        coefficients = torch.linalg.lstsq(flat.T, moved.T).solution
        torch.testing.assert_close(flat.T @ coefficients, moved.T, rtol=0, atol=1e-12)
    # Each ring's waves live on that ring alone; the centre is the constant wave.
    assert waves[0].count_nonzero() == 1 and waves[0, kernel // 2, kernel // 2] == 1


@pytest.mark.parametrize("group", ["c4", "d4"])
@pytest.mark.parametrize("kernel", [3, 5])
def test_parameters_and_macs_equal_torch_at_any_batch(group: str, kernel: int) -> None:
    widths = (3, 5)
    order = 8 if group == "d4" else 4
    plan = _plan(12, group, layers=2, kernel=(kernel,), channels=widths, norm="none", bias=True)
    model = cnngen.build(plan).eval()
    assert sum(p.numel() for p in model.parameters()) == plan.params
    convs = [op for stage in plan.stages for _, op in stage.all_ops() if "conv" in op.kind]
    waves = harmonic_weights(kernel)
    assert [op.params for op in convs] == [3 * (waves + 1), 5 * (3 * order * waves + 1)]
    full = _plan(12, group, "full", layers=2, kernel=(kernel,), channels=widths, norm="none")
    assert plan.macs == full.macs  # the convolutions still run every tap
    # Summing the kernels is once per forward, so per-sample MACs hold at any batch.
    for batch in (1, 3):
        with FlopCounterMode(display=False) as counter:
            model(torch.randn(batch, *plan.input_shape))
        assert counter.get_total_flops() == 2 * plan.macs * batch


def test_a_lifting_map_turns_and_its_orientations_shift_exactly() -> None:
    torch.manual_seed(0)
    model = cnngen.build(_plan(13, layers=1, kernel=(5,))).double().eval()
    lifting = model.get_submodule("layer1.conv1")
    x = torch.randn(2, 1, 13, 13, dtype=torch.float64)
    out = lifting(x).unflatten(1, (-1, 4))
    turned = lifting(torch.rot90(x, 1, (-2, -1))).unflatten(1, (-1, 4))
    expected = torch.rot90(out, 1, (-2, -1)).roll(1, dims=2)
    torch.testing.assert_close(turned, expected, rtol=0, atol=1e-12)


def test_the_summed_kernels_start_at_the_scale_of_a_full_kernel() -> None:
    # The weights' init is Kaiming over (inputs, orientations, waves), and each wave
    # has length 1, so a summed kernel's expected energy equals a full kernel's.
    torch.manual_seed(0)
    widths = (64, 64)
    harmonic = cnngen.build(_plan(12, layers=2, kernel=(5,), channels=widths, norm="none"))
    full = cnngen.build(_plan(12, "c4", "full", layers=2, kernel=(5,), channels=widths))
    layer = harmonic.get_submodule("layer2.conv1")
    summed = layer.basis(layer.weight)
    full_weight = full.get_submodule("layer2.conv1").weight
    assert summed.shape == full_weight.shape
    ratio = float(summed.detach().pow(2).mean() / full_weight.detach().pow(2).mean())
    assert 0.9 < ratio < 1.1, ratio


def _random_spec(rng: random.Random) -> dict[str, Any]:
    kernel = rng.choice([1, 3, 5, 7])
    return {
        "input_size": (rng.randint(max(kernel, 5), 17),) * 2,
        "layers": rng.randint(1, 3),
        "kernel": (kernel,),
        "group": rng.choice(["c4", "d4"]),
        "start_channels": rng.randint(2, 6),
        "norm": rng.choice(["batchnorm", "none", "groupnorm", "instancenorm"]),
        "activation": rng.choice(["relu", "gelu", "leaky_relu:0.1", "prelu"]),
        "head": rng.choice(["auto", "gap", "flatten"]),
        "bias": rng.choice([None, True, False]),
    }


@pytest.mark.parametrize("seed", range(12))
def test_random_specs_run_exactly_and_invariantly_in_torch(seed: int) -> None:
    rng = random.Random(1000 + seed)
    spec = _random_spec(rng)
    if spec["norm"] == "groupnorm":
        spec["start_channels"] = 4  # group norm's 2 groups need an even width
    size = spec.pop("input_size")[0]
    plan = _plan(size, spec.pop("group"), **spec)
    torch.manual_seed(seed)
    model = cnngen.build(plan).double().eval()
    assert sum(p.numel() for p in model.parameters()) == plan.params
    seen: dict[str, tuple[int, ...]] = {}
    handles = [
        module.register_forward_hook(
            lambda _m, _i, out, name=name: seen.__setitem__(name, tuple(out.shape[1:]))
        )
        for name, module in model.named_modules()
        if name in plan.layer_shapes()
    ]
    x = torch.randn(2, *plan.input_shape, dtype=torch.float64)
    logits = model(x)
    for handle in handles:
        handle.remove()
    assert seen == plan.layer_shapes()
    order = plan.stages[0].ops[0].out_shape[0] // plan.stages[0].ops[0].args[1][1]
    for g in range(1, order):
        torch.testing.assert_close(model(_act(g, x)), logits, rtol=1e-9, atol=1e-9)


def test_cli_refuses_the_basis_without_group_convolutions(tmp_path: Path, run_cli: Any) -> None:
    target = tmp_path / "h.py"
    for extra in (["--basis", "harmonic"], ["--group-conv", "--basis", "fourier"]):
        result = run_cli("model", "equivariant", "-i", "16x16", *extra, "-o", str(target))
        assert result.code == 2 and "--basis" in result.err, result.err
        assert len(result.err.strip().splitlines()) == 1 and not target.exists()
    result = run_cli("model", "classifier", "-i", "16x16", "--basis", "harmonic")
    assert result.code == 2 and "--basis" in result.err


def test_cli_file_says_its_basis_and_runs_standalone(tmp_path: Path, run_cli: Any) -> None:
    target = tmp_path / "h.py"
    result = run_cli(
        "model", "equivariant", "-i", "14x14", "--layers", "2", "--group-conv",
        "--group", "d4", "--basis", "harmonic", "-o", str(target),
    )  # fmt: skip
    assert result.code == 0, result.err
    source = target.read_text()
    assert "--basis harmonic" in source and "6 weights per kernel instead of 9" in source
    assert "class HarmonicBasis" in source and "import cnngen" not in source
    namespace: dict[str, Any] = {"__name__": "generated"}
    exec(compile(source, str(target), "exec"), namespace)
    model = namespace["D4Classifier"]().eval()
    assert sum(p.numel() for p in model.parameters()) == namespace["PARAMETERS"]
    # The waves are rebuilt at init, not saved: the state_dict holds weights alone.
    assert not any("waves" in key for key in model.state_dict())
    x = torch.randn(2, 1, 14, 14)
    for h in range(1, 8):
        torch.testing.assert_close(model(_act(h, x)), model(x), rtol=1e-4, atol=1e-5)
