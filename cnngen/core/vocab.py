"""The words cnngen knows, kept once as data: families, blocks, activations, norms, presets.

The spec validates against these, the CLI offers them for completion and
help, and the builders map them to torch modules.
"""

from __future__ import annotations

from typing import Any

# Activation name -> (torch module, constructor arguments beyond the defaults).
ACTIVATIONS: dict[str, tuple[str, tuple[tuple[str | None, Any], ...]]] = {
    "relu": ("nn.ReLU", ()),
    "relu6": ("nn.ReLU6", ()),
    "leaky_relu": ("nn.LeakyReLU", (("negative_slope", 0.01),)),
    "elu": ("nn.ELU", ()),
    "gelu": ("nn.GELU", ()),
    "silu": ("nn.SiLU", ()),
    "tanh": ("nn.Tanh", ()),
    "sigmoid": ("nn.Sigmoid", ()),
}

NORMS = ("batchnorm", "instancenorm", "groupnorm", "dropout", "none")
# Norms that subtract a per-channel mean, making the convolution's bias before them useless.
NORMS_THAT_CANCEL_BIAS = ("batchnorm", "instancenorm")

FAMILIES = ("encoder", "forecaster", "classifier", "equivariant", "unet")
CHANNEL_RULES = ("exponential", "linear", "proportion", "power", "constant")
BLOCKS = ("plain", "vgg", "residual", "bottleneck")
DOWNSAMPLE = ("stride", "pool", "none")
PADDING_MODES = ("auto", "same", "valid")
POOLS = ("max", "avg")
HEADS = ("auto", "gap", "flatten")
# --head auto flattens a last feature map of at most this many positions (8x8
# in 2D), keeping where each feature fired, and averages larger ones.
FLATTEN_MAX_POSITIONS = 64
# Classic architectures (``--preset``); lenet5 as in the course notebook, the
# others with torchvision's layers and module names.
PRESETS = (
    "lenet5",
    "alexnet",
    "vgg11",
    "vgg13",
    "vgg16",
    "vgg19",
    "vgg11_bn",
    "vgg13_bn",
    "vgg16_bn",
    "vgg19_bn",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "se_resnet18",
    "se_resnet50",
    "mobilenet_v2",
    "googlenet",
)

# The options each preset uses besides --preset; any other option is refused.
PRESET_OPTIONS = {
    preset: ("input_size", "in_channels", "classes", "name", "norm", "activation", "dropout")
    + (("pool", "hidden") if preset == "lenet5" else ())
    for preset in PRESETS
}

# The activation each preset is defined with (--activation replaces it).
PRESET_ACTIVATIONS = {
    preset: "tanh" if preset == "lenet5" else "relu6" if preset == "mobilenet_v2" else "relu"
    for preset in PRESETS
}
# The presets written without a norm; --norm adds one after each convolution
# as torchvision's VGG-BN does (``vgg11 --norm batchnorm`` is ``vgg11_bn``).
# Every other preset has batch norm, which --norm replaces (``none`` removes it).
PRESETS_WITHOUT_NORM = ("lenet5", "alexnet", "vgg11", "vgg13", "vgg16", "vgg19")
PRESET_NORMS = {
    preset: "none" if preset in PRESETS_WITHOUT_NORM else "batchnorm" for preset in PRESETS
}
# The norms a preset takes: "dropout" in the place of a norm layer is refused,
# since --dropout already sets the rate of the preset's own dropout.
PRESET_NORM_CHOICES = tuple(norm for norm in NORMS if norm != "dropout")
# The dropout rate each preset is defined with (--dropout replaces it); a
# preset without dropout gets a dropout layer before its last linear layer
# when --dropout is above 0.
PRESET_DROPOUTS = {preset: 0.0 for preset in PRESETS} | {
    "alexnet": 0.5,
    **{name: 0.5 for name in PRESETS if name.startswith("vgg")},
    "mobilenet_v2": 0.2,
    "googlenet": 0.2,
}
FINAL_ACTIVATIONS = ("none", *ACTIVATIONS)
# U-Net decoders: a learned transposed convolution, or an interpolation to the
# skip's exact size ("bilinear" is linear in 1D and trilinear in 3D) and a 1x1 conv.
UPSAMPLE = ("transposed", "nearest", "bilinear")
# How the equivariant family pools over the four rotations.
ROTATION_POOLS = ("max", "mean")

# Helper classes a generated model file may define, in the order it defines
# them, each with a model request (family, options) whose file defines it.
# The request keeps the helper honest: the reserved-name probes render it
# (cnngen.rendering.namespace), so a class name can never shadow the helper,
# and the tests build the helper from it in torch.  A helper cannot be listed
# without one.
_RESIDUAL_SE = {"input_size": (32, 32), "layers": 2, "block": "residual", "se": True}
_ROTATIONS = {"input_size": (16, 16), "layers": 2}
_GROUP_CONV = {**_ROTATIONS, "group_conv": True}
HELPER_EXAMPLES: dict[str, tuple[str, dict[str, Any]]] = {
    "Residual": ("classifier", _RESIDUAL_SE),
    "Inception": ("classifier", {"preset": "googlenet", "input_size": (64, 64)}),
    "SqueezeExcite": ("classifier", _RESIDUAL_SE),
    # Kernel 2 with "same" padding on 15x15: the decoder overshoots to 16x16 and crops.
    "Crop": (
        "forecaster",
        {"input_size": (15, 15), "layers": 2, "kernel": (2,), "padding": "same"},
    ),
    "RotationStack": ("equivariant", _ROTATIONS),
    "RotationMean": ("equivariant", {**_ROTATIONS, "rotation_pool": "mean"}),
    "RotationMax": ("equivariant", {**_ROTATIONS, "rotation_pool": "max"}),
    "LiftingConv2d": ("equivariant", _GROUP_CONV),
    "GroupConv2d": ("equivariant", _GROUP_CONV),
    "GroupPool": ("equivariant", {**_GROUP_CONV, "head": "gap"}),
    "OrientationStack": ("equivariant", _GROUP_CONV),
}
HELPER_CLASSES = tuple(HELPER_EXAMPLES)

# The model options (spec field names) every family uses.
COMMON_OPTIONS = frozenset(
    {
        "input_size", "in_channels", "layers", "min_size", "target_size", "kernel",
        "stride", "padding", "dilation", "downsample", "pool", "channel_rule",
        "start_channels", "ratio", "min_channels", "max_channels", "norm", "activation",
        "final_activation", "dropout", "sub_blocks", "se", "depthwise", "name",
    }
)  # fmt: skip

# Family -> every model option it has a use for.  An option the user gives
# that the family has no use for is refused rather than silently ignored.
FAMILY_OPTIONS: dict[str, frozenset[str]] = {
    "encoder": COMMON_OPTIONS,
    "forecaster": COMMON_OPTIONS | {"out_channels", "latent", "out_depth"},
    "classifier": COMMON_OPTIONS | {"classes", "block", "head", "hidden", "preset"},
    "equivariant": COMMON_OPTIONS | {"classes", "head", "hidden", "rotation_pool", "group_conv"},
    # A U-Net halves with pooling and keeps sizes through its convolutions.
    "unet": COMMON_OPTIONS - {"stride", "target_size", "downsample", "se", "depthwise"}
    | {"out_channels", "upsample"},
}


def family_accepts(family: str, option: str) -> bool:
    return option in FAMILY_OPTIONS[family]


def families_accepting(option: str) -> tuple[str, ...]:
    return tuple(family for family in FAMILIES if option in FAMILY_OPTIONS[family])


DEFAULT_CLASS_NAMES = {
    "encoder": "Encoder",
    "forecaster": "Forecaster",
    "classifier": "Classifier",
    "equivariant": "C4Classifier",
    "unet": "UNet",
}
