"""Record what TorchCNNBuilder 0.1.5 builds for each case in torchcnnbuilder_0_1_5.json.

Run with torchcnnbuilder 0.1.5 installed (``pip install torchcnnbuilder==0.1.5``):

    python tests/data/record_torchcnnbuilder.py

It writes, for every case, TorchCNNBuilder's own channel lists and feature-map
sizes, the shape of every tensor in the order its ``state_dict`` holds them,
and every layer its forward pass runs with that layer's output shape.  tests/test_torchcnnbuilder.py checks the
equivalent cnngen files against this record on every run, and against
TorchCNNBuilder itself (weights loaded, outputs equal) where it is installed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
FIXTURE = HERE / "torchcnnbuilder_0_1_5.json"

# Each case: TorchCNNBuilder's call, and the cnngen options that write the same network.
# Common to all: TorchCNNBuilder's default convolution (kernel 3, stride 1, no
# padding), no normalization, ReLU, no final activation.
SAME_LAYERS = {"padding": "valid", "stride": (1,), "norm": "none"}
CASES: list[dict[str, Any]] = [
    {
        "name": "exponential",
        "rule": "tcb-exponential",
        "tcb": {
            "kind": "builder",
            "input_size": [24, 24],
            "encoder": {"n_layers": 3, "in_channels": 2, "start": 12, "ratio": 1.3},
            "decoder": {"n_layers": 3, "out_channels": 3, "ratio": 1.3},
        },
        "cnngen": {
            "family": "forecaster",
            "options": {
                "input_size": [24, 24], "in_channels": 2, "out_channels": 3, "layers": 3,
                "channel_rule": "tcb-exponential", "start_channels": 12, "ratio": 1.3,
                "decoder_channels": "tcb-exponential", **SAME_LAYERS,
            },
        },
    },
    {
        "name": "linear",
        "rule": "tcb-linear",
        "tcb": {
            "kind": "builder",
            "input_size": [20, 20],
            "encoder": {"n_layers": 4, "in_channels": 1},
            "decoder": {"n_layers": 4, "out_channels": 2},
        },
        "cnngen": {
            "family": "forecaster",
            "options": {
                "input_size": [20, 20], "in_channels": 1, "out_channels": 2, "layers": 4,
                "channel_rule": "tcb-linear", "decoder_channels": "tcb-linear", **SAME_LAYERS,
            },
        },
    },
    {
        "name": "proportion (ForecasterBase 2D)",
        "rule": "tcb-proportion",
        "tcb": {
            "kind": "forecaster",
            "kwargs": {"input_size": [40, 40], "n_layers": 3, "in_time_points": 6,
                       "out_time_points": 4, "conv_dim": 2},
        },
        "cnngen": {
            "family": "forecaster",
            "options": {
                "input_size": [40, 40], "in_channels": 6, "out_channels": 4, "layers": 3,
                "channel_rule": "tcb-proportion", "decoder_channels": "tcb-proportion",
                **SAME_LAYERS,
            },
        },
    },
    {
        "name": "power (ForecasterBase 3D, its default)",
        "rule": "tcb-power",
        "tcb": {
            "kind": "forecaster",
            "kwargs": {"input_size": [12, 12], "n_layers": 2, "in_time_points": 6,
                       "out_time_points": 6, "conv_dim": 3},
        },
        "cnngen": {
            "family": "forecaster",
            "options": {
                "input_size": [6, 12, 12], "in_channels": 1, "out_channels": 1, "layers": 2,
                "min_size": [1], "channel_rule": "tcb-power", "decoder_channels": "tcb-power",
                **SAME_LAYERS,
            },
        },
    },
    {
        "name": "power, ratio 1.5, stride 2",
        "rule": "tcb-power",
        "tcb": {
            "kind": "builder",
            "input_size": [17, 17],
            "encoder": {"n_layers": 3, "in_channels": 3, "ratio": 1.5,
                        "params": {"kernel_size": 3, "stride": 2, "padding": 1}},
            "decoder": {"n_layers": 3, "out_channels": 2, "ratio": 1.5,
                        "params": {"kernel_size": 3, "stride": 2, "padding": 1}},
        },
        "cnngen": {
            "family": "forecaster",
            "options": {
                "input_size": [17, 17], "in_channels": 3, "out_channels": 2, "layers": 3,
                "stride": [2], "min_size": [3], "norm": "none", "ratio": 1.5,
                "channel_rule": "tcb-power", "decoder_channels": "tcb-power",
            },
        },
    },
    {
        "name": "constant",
        "rule": "tcb-constant",
        "tcb": {
            "kind": "builder",
            "input_size": [16, 16],
            "encoder": {"n_layers": 3, "in_channels": 1},
            "decoder": {"n_layers": 3, "out_channels": 3},
        },
        "cnngen": {
            "family": "forecaster",
            "options": {
                "input_size": [16, 16], "in_channels": 1, "out_channels": 3, "layers": 3,
                "channel_rule": "tcb-constant", "decoder_channels": "tcb-constant",
                **SAME_LAYERS,
            },
        },
    },
    {
        "name": "batch norm with its bias, eps and momentum",
        "rule": "tcb-exponential",
        "tcb": {
            "kind": "builder",
            "input_size": [18, 18],
            "encoder": {"n_layers": 2, "in_channels": 2, "start": 6, "normalization": "batchnorm",
                        "eps": 1e-3, "momentum": 0.2},
        },
        "cnngen": {
            "family": "encoder",
            "options": {
                "input_size": [18, 18], "in_channels": 2, "layers": 2,
                "channel_rule": "tcb-exponential", "start_channels": 6, **SAME_LAYERS,
                "norm": "batchnorm", "bias": True, "norm_eps": 1e-3, "norm_momentum": 0.2,
            },
        },
    },
    {
        "name": "transposed sequence alone",
        "rule": "tcb-exponential",
        "tcb": {
            "kind": "transpose",
            "input_size": [10, 10],
            "decoder": {"n_layers": 3, "in_channels": 8, "out_channels": 2, "out_size": [16, 16]},
        },
        "cnngen": {
            "family": "decoder",
            "options": {
                "input_size": [10, 10], "in_channels": 8, "out_channels": 2, "layers": 3,
                "out_size": [16, 16], "decoder_channels": "tcb-exponential",
                "decoder_kernel": [3], "decoder_stride": [1], "norm": "none",
            },
        },
    },
    {
        "name": "exponential encoder alone",
        "rule": "tcb-exponential",
        "tcb": {
            "kind": "builder",
            "input_size": [16, 16],
            "encoder": {"n_layers": 2, "in_channels": 3},
        },
        "cnngen": {
            "family": "encoder",
            "options": {
                "input_size": [16, 16], "in_channels": 3, "layers": 2,
                "channel_rule": "tcb-exponential", **SAME_LAYERS,
            },
        },
    },
]  # fmt: skip

# Widths only (no weights): the decoder interpolation named in the docs.
WIDTH_CASES: list[dict[str, Any]] = [
    {
        "name": "proportion 60 -> 30 at 100x100",
        "tcb": {"input_size": [100, 100], "n_layers": 5, "in_time_points": 60,
                "out_time_points": 30, "conv_dim": 2},
        "cnngen": {
            "input_size": [100, 100], "in_channels": 60, "out_channels": 30, "layers": 5,
            "channel_rule": "tcb-proportion", "decoder_channels": "tcb-proportion",
            **SAME_LAYERS,
        },
    },
]  # fmt: skip


def build_tcb(case: dict[str, Any]) -> Any:
    """TorchCNNBuilder's model for ``case``, with its channel lists and sizes as attributes."""
    import torch.nn as nn
    from torchcnnbuilder.builder import Builder
    from torchcnnbuilder.models import ForecasterBase

    tcb = case["tcb"]
    if tcb["kind"] == "forecaster":
        return ForecasterBase(**tcb["kwargs"])
    rule = case["rule"].removeprefix("tcb-")
    builder = Builder(input_size=tcb["input_size"])
    parts = []
    if "encoder" in tcb:
        parts.append(builder.build_convolve_sequence(channel_growth_rate=rule, **tcb["encoder"]))
    if "decoder" in tcb:
        parts.append(builder.build_transpose_convolve_sequence(channel_growth_rate=rule, **tcb["decoder"]))
    model = nn.Sequential(*parts)
    model.conv_channels = builder.conv_channels
    model.transpose_conv_channels = builder.transpose_conv_channels
    model.conv_layers = builder.conv_layers
    model.transpose_conv_layers = builder.transpose_conv_layers
    return model


def input_shape(case: dict[str, Any]) -> list[int]:
    """The shape of one sample, channels first, as TorchCNNBuilder's model takes it."""
    tcb = case["tcb"]
    if tcb["kind"] == "builder":
        return [tcb["encoder"]["in_channels"], *tcb["input_size"]]
    if tcb["kind"] == "transpose":
        return [tcb["decoder"]["in_channels"], *tcb["input_size"]]
    kwargs = tcb["kwargs"]
    if kwargs["conv_dim"] == 3:
        return [1, kwargs["in_time_points"], *kwargs["input_size"]]
    return [kwargs["in_time_points"], *kwargs["input_size"]]


def calls(model: Any, shape: list[int]) -> list[list[Any]]:
    """Every layer the forward pass runs, in order, with its output shape (batch dropped).

    Read from a forward pass rather than from ``modules()``: TorchCNNBuilder
    shares one activation module between all its layers.
    """
    import torch

    seen: list[list[Any]] = []
    handles = [
        module.register_forward_hook(
            lambda module, _inputs, output: seen.append(
                [type(module).__name__, list(output.shape[1:])]
            )
        )
        for module in model.modules()
        if not list(module.children())
    ]
    with torch.no_grad():
        model.eval()(torch.zeros(1, *shape))
    for handle in handles:
        handle.remove()
    return seen


def record(case: dict[str, Any], model: Any) -> dict[str, Any]:
    def plain(sizes: Any) -> Any:
        return None if sizes is None else [list(size) for size in sizes]

    return {
        "input_shape": input_shape(case),
        "conv_channels": model.conv_channels,
        "transpose_conv_channels": model.transpose_conv_channels,
        "conv_layers": plain(model.conv_layers),
        "transpose_conv_layers": plain(model.transpose_conv_layers),
        "state_dict": [[key, list(value.shape)] for key, value in model.state_dict().items()],
        "calls": calls(model, input_shape(case)),
    }


def main() -> None:
    import torchcnnbuilder
    from torchcnnbuilder.models import ForecasterBase

    data = {
        "torchcnnbuilder": torchcnnbuilder.__version__,
        "cases": [{**case, "recorded": record(case, build_tcb(case))} for case in CASES],
        "width_cases": [],
    }
    for case in WIDTH_CASES:
        model = ForecasterBase(**case["tcb"])
        data["width_cases"].append(
            {
                **case,
                "conv_channels": model.conv_channels,
                "transpose_conv_channels": model.transpose_conv_channels,
            }
        )
    FIXTURE.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {FIXTURE}")


if __name__ == "__main__":
    main()
