"""The words cnngen knows, kept once as data: families, blocks, activations, norms, presets.

The spec validates against these, the CLI offers them for completion and
help, and the builders map them to torch modules.
"""

from __future__ import annotations

from typing import Any

# Activation name -> (torch module, constructor arguments beyond the defaults).
ACTIVATIONS: dict[str, tuple[str, tuple[tuple[str | None, Any], ...]]] = {
    "relu": ("nn.ReLU", ()),
    "leaky_relu": ("nn.LeakyReLU", (("negative_slope", 0.01),)),
    "elu": ("nn.ELU", ()),
    "gelu": ("nn.GELU", ()),
    "silu": ("nn.SiLU", ()),
    "tanh": ("nn.Tanh", ()),
    "sigmoid": ("nn.Sigmoid", ()),
}

NORMS = ("batchnorm", "instancenorm", "groupnorm", "dropout", "none")

FAMILIES = ("encoder", "forecaster", "classifier", "equivariant")
CHANNEL_RULES = ("exponential", "linear", "proportion", "power", "constant")
BLOCKS = ("plain", "vgg", "residual", "bottleneck")
DOWNSAMPLE = ("stride", "pool", "none")
PADDING_MODES = ("auto", "same", "valid")
POOLS = ("max", "avg")
HEADS = ("gap", "flatten")
PRESETS = ("lenet5",)
FINAL_ACTIVATIONS = ("none", *ACTIVATIONS)

# Helper classes a generated model file may define, in the order it defines them.
HELPER_CLASSES = ("Residual", "SqueezeExcite", "Crop", "RotationStack", "RotationMean")

# Names a generated model file defines or imports itself; a class may not reuse them.
RESERVED_NAMES = frozenset(
    {
        "torch",
        "nn",
        "OrderedDict",
        "check_input",
        "INPUT_SHAPE",
        "OUTPUT_SHAPE",
        "LAYER_SHAPES",
        "FAMILY",
        "PARAMETERS",
        "MACS",
        *HELPER_CLASSES,
    }
)

DEFAULT_CLASS_NAMES = {
    "encoder": "Encoder",
    "forecaster": "Forecaster",
    "classifier": "Classifier",
    "equivariant": "C4Classifier",
}
