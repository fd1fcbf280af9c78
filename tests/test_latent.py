"""The latent bottleneck: --latent WIDTH or SHAPE, --latent-layers, --latent-activation.

Each file is written, imported and run in torch; every layer's shape is
checked against the plan and the parameters against torch's count.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from generated import load, model_class, shape_mismatches, write_model
from hypothesis import given, settings
from hypothesis import strategies as st

from cnngen.core.solver import latent_widths

torch = pytest.importorskip("torch")

LATENTS = [
    {"input_size": (16, 16), "layers": 2, "latent": (16,)},
    {"input_size": (16, 16), "layers": 2, "latent": (8, 4, 4), "latent_layers": 2,
     "latent_activation": "none"},
    {"input_size": (40,), "layers": 3, "latent": (12,), "latent_layers": 3,
     "latent_activation": "leaky_relu:0.2"},
    {"input_size": (4, 12, 12), "layers": 2, "latent": (2, 3), "min_size": (1,),
     "latent_activation": "prelu"},
    {"input_size": (33, 17), "layers": 3, "latent": (6,), "decoder_layers": 4,
     "decoder_channels": (16, 8, 4, 1), "latent_layers": 2},
]  # fmt: skip


@pytest.mark.parametrize("options", LATENTS, ids=lambda o: "x".join(map(str, o["latent"])))
def test_latent_bottlenecks_run_exactly_in_torch(tmp_path: Path, options: dict) -> None:
    module = load(write_model(tmp_path, "forecaster", **options))
    assert shape_mismatches(module) == [], options
    model = model_class(module)()
    assert sum(p.numel() for p in model.parameters()) == module.PARAMETERS
    linears = [m for m in model.latent.modules() if isinstance(m, torch.nn.Linear)]
    layers = options.get("latent_layers", 1)
    assert len(linears) == 2 * layers
    latent = math.prod(options["latent"])
    assert linears[layers - 1].out_features == latent  # the narrowest point is the latent
    activations = [m for m in model.latent.modules() if not isinstance(m, torch.nn.Linear)]
    kinds = {type(m).__name__ for m in activations} - {"Flatten", "Unflatten", "Sequential"}
    expected = {"none": set(), "leaky_relu:0.2": {"LeakyReLU"}, "prelu": {"PReLU"}}
    assert kinds == expected.get(options.get("latent_activation", "relu"), {"ReLU"})
    if len(options["latent"]) > 1:
        seen: list[tuple[int, ...]] = []
        for m in model.latent.modules():
            if isinstance(m, torch.nn.Unflatten):
                m.register_forward_hook(lambda _m, _i, out: seen.append(tuple(out.shape[1:])))
        model(torch.zeros(2, *module.INPUT_SHAPE))
        assert seen[0] == tuple(options["latent"])


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 10**6), st.integers(1, 10**6), st.integers(1, 8))
def test_latent_widths_are_log_spaced_and_end_on_the_target(
    size_in: int, size_out: int, layers: int
) -> None:
    widths = latent_widths(size_in, size_out, layers)
    assert len(widths) == layers and widths[-1] == size_out and min(widths) >= 1
    for step, width in enumerate(widths[:-1], start=1):
        exact = size_in * (size_out / size_in) ** (step / layers)
        assert abs(width - exact) <= 0.5 + 1e-9 * exact


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--latent-layers", "2"), "--latent-layers: it shapes the latent bottleneck"),
        (("--latent-activation", "tanh"), "--latent-activation: it shapes"),
        (("--latent", "0"), "--latent: must be >= 1"),
        (("--latent", "2000x2000"), "--latent: 2000x2000 holds 4,000,000 values"),
        (("--latent", "8", "--latent-layers", "65"), "--latent-layers"),
        (("--latent", "8", "--latent-activation", "nope"), "--latent-activation"),
    ],
)
def test_bad_latents_are_one_line(run_cli, argv, message) -> None:
    result = run_cli("plan", "forecaster", "-i", "16x16", "-n", "2", *argv)
    assert result.code == 2 and message in result.err, result.err
    assert len(result.err.strip().splitlines()) == 1
