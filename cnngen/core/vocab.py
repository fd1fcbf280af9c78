"""The words cnngen knows, kept once as data: families, blocks, activations, norms, presets.

The spec validates against these, the CLI offers them for completion and
help, and the builders map them to torch modules.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    "mish": ("nn.Mish", ()),
    "hardswish": ("nn.Hardswish", ()),
    # Learned slopes, one per channel (num_parameters is the channel count).
    "prelu": ("nn.PReLU", ()),
}
# Activations that take a number after a colon (``leaky_relu:0.2``): the
# constructor keyword it sets and how help spells it.
ACTIVATION_PARAMETERS: dict[str, tuple[str, str]] = {
    "leaky_relu": ("negative_slope", "SLOPE"),
    "elu": ("alpha", "ALPHA"),
    "prelu": ("init", "INIT"),
}
# Activations with weights: one per channel, shared by a p4 channel's orientations.
ACTIVATIONS_WITH_WEIGHTS = ("prelu",)


def activation_forms() -> str:
    """How --activation may be spelt: every name, and NAME:NUMBER where it takes one."""
    forms = [
        f"{name}[:{ACTIVATION_PARAMETERS[name][1]}]" if name in ACTIVATION_PARAMETERS else name
        for name in ACTIVATIONS
    ]
    return ", ".join(forms)


def split_activation(text: str) -> tuple[str, str | None]:
    """``"leaky_relu:0.2"`` -> ``("leaky_relu", "0.2")``; ``"relu"`` -> ``("relu", None)``."""
    name, colon, value = text.partition(":")
    return name, value if colon else None

# "layernorm": LayerNorm over the channels at each position, as ConvNeXt has it.
NORMS = ("batchnorm", "instancenorm", "groupnorm", "layernorm", "dropout", "none")
# Norms that subtract a per-channel mean, making the convolution's bias before them useless.
NORMS_THAT_CANCEL_BIAS = ("batchnorm", "instancenorm")

FAMILIES = ("encoder", "forecaster", "decoder", "classifier", "equivariant", "unet")
# cnngen's own rules, then TorchCNNBuilder 0.1.5's with its exact widths
# (cnngen.core.channels: int() truncation, its constant of 1, its 3D "power").
TCB_RULES = ("tcb-exponential", "tcb-linear", "tcb-proportion", "tcb-power", "tcb-constant")
CHANNEL_RULES = ("exponential", "linear", "proportion", "power", "constant", *TCB_RULES)
# --decoder-channels: the encoder's widths in reverse (cnngen's mirror), a
# TorchCNNBuilder rule from the bottleneck to --out-channels, or a list.
DECODER_CHANNEL_RULES = ("mirror", *TCB_RULES)


@dataclass(frozen=True)
class BlockDecl:
    """One ``--block`` kind, declared once; cnngen.core.blocks.LAYER_BUILDERS builds it.

    ``shortcut``: the block adds its input back, so it belongs to the classifier
    family, downsamples with strided convolutions (a pool would leave the
    shortcut behind) and needs size-keeping padding.  ``sub_blocks``: the
    convolutions per layer when --sub-blocks is not given.  ``one_conv``: a
    layer holds exactly one planned convolution, so --sub-blocks above 1 is
    refused rather than ignored.
    """

    shortcut: bool = False
    sub_blocks: int = 1
    one_conv: bool = False


BLOCK_TABLE: dict[str, BlockDecl] = {
    "plain": BlockDecl(),
    "vgg": BlockDecl(sub_blocks=2),
    "residual": BlockDecl(shortcut=True),
    "bottleneck": BlockDecl(shortcut=True),
    "convnext": BlockDecl(shortcut=True, one_conv=True),
}
BLOCKS = tuple(BLOCK_TABLE)
DOWNSAMPLE = ("stride", "pool", "none")
PADDING_MODES = ("auto", "same", "valid")
POOLS = ("max", "avg")
# --padding-mode: how convolutions (and explicit pad layers) fill the border.
BORDER_MODES = ("zeros", "reflect", "replicate", "circular")
# The norms each norm option applies to.
NORM_EPS_NORMS = ("batchnorm", "instancenorm", "groupnorm", "layernorm")
NORM_MOMENTUM_NORMS = ("batchnorm",)
NORM_AFFINE_NORMS = ("batchnorm", "groupnorm")
HEADS = ("auto", "gap", "flatten")
# --head auto flattens a last feature map of at most this many positions (8x8
# in 2D), keeping where each feature fired, and averages larger ones.
FLATTEN_MAX_POSITIONS = 64


@dataclass(frozen=True)
class PresetDecl:
    """One classic architecture (``--preset NAME``), declared once.

    Everything else about the preset is derived from this record: the
    ``--preset`` choices and help, the options it takes, the defaults it is
    written with, the builder that plans it and the history its handout tells.
    Keeping it in one place means a new preset cannot be half-registered.
    """

    # The builder in cnngen.core.presets.ARCHITECTURES that plans it ("lenet5":
    # the solver builds it itself).
    architecture: str
    # What that builder reads, per preset: block counts, layer widths.
    config: tuple[Any, ...] = ()
    activation: str = "relu"
    # "none": the preset as published has no norm, and --norm adds one.
    norm: str = "batchnorm"
    dropout: float = 0.0
    # The step of the CNN history its handout marks (cnngen.rendering.lessons).
    era: str = ""
    # Options it takes beyond PRESET_COMMON_OPTIONS.
    options: tuple[str, ...] = ()


def _vgg(layers: tuple[Any, ...], bn: bool) -> PresetDecl:
    return PresetDecl("vgg", layers, norm="batchnorm" if bn else "none", dropout=0.5, era="vgg")


def _resnet(kind: str, counts: tuple[int, ...], se: bool = False) -> PresetDecl:
    return PresetDecl("resnet", (kind, counts, se), era="senet" if se else "resnet")


_VGG11 = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")
_VGG13 = (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")
_VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
_VGG19 = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M")
_VGG19 += (512, 512, 512, 512, "M", 512, 512, 512, 512, "M")

# Classic architectures (``--preset``), in the order help lists them; lenet5
# as in the course notebook, the others with torchvision's layers and module names.
PRESET_TABLE: dict[str, PresetDecl] = {
    "lenet5": PresetDecl(
        "lenet5", activation="tanh", norm="none", era="lenet5", options=("pool", "hidden")
    ),
    "alexnet": PresetDecl("alexnet", norm="none", dropout=0.5, era="alexnet"),
    "vgg11": _vgg(_VGG11, bn=False),
    "vgg13": _vgg(_VGG13, bn=False),
    "vgg16": _vgg(_VGG16, bn=False),
    "vgg19": _vgg(_VGG19, bn=False),
    "vgg11_bn": _vgg(_VGG11, bn=True),
    "vgg13_bn": _vgg(_VGG13, bn=True),
    "vgg16_bn": _vgg(_VGG16, bn=True),
    "vgg19_bn": _vgg(_VGG19, bn=True),
    "resnet18": _resnet("basic", (2, 2, 2, 2)),
    "resnet34": _resnet("basic", (3, 4, 6, 3)),
    "resnet50": _resnet("bottleneck", (3, 4, 6, 3)),
    "resnet101": _resnet("bottleneck", (3, 4, 23, 3)),
    "resnet152": _resnet("bottleneck", (3, 8, 36, 3)),
    "se_resnet18": _resnet("basic", (2, 2, 2, 2), se=True),
    "se_resnet50": _resnet("bottleneck", (3, 4, 6, 3), se=True),
    "mobilenet_v2": PresetDecl("mobilenet_v2", activation="relu6", dropout=0.2, era="mobilenet"),
    "googlenet": PresetDecl(
        "googlenet", dropout=0.2, era="inception", options=("aux_logits",)
    ),
    # Blocks per stage and stage widths.
    "convnext_tiny": PresetDecl(
        "convnext", ((3, 3, 9, 3), (96, 192, 384, 768)), "gelu", "layernorm", era="convnext"
    ),
}
PRESETS = tuple(PRESET_TABLE)

# The options every preset takes besides --preset; any other option is refused.
PRESET_COMMON_OPTIONS = (
    "input_size", "in_channels", "classes", "name", "norm", "activation", "dropout"
)  # fmt: skip
PRESET_OPTIONS = {
    name: PRESET_COMMON_OPTIONS + decl.options for name, decl in PRESET_TABLE.items()
}
# The activation each preset is defined with (--activation replaces it).
PRESET_ACTIVATIONS = {name: decl.activation for name, decl in PRESET_TABLE.items()}
# The presets written without a norm; --norm adds one after each convolution
# as torchvision's VGG-BN does (``vgg11 --norm batchnorm`` is ``vgg11_bn``).
# Every other preset has its own norm, which --norm replaces (``none`` removes it).
PRESET_NORMS = {name: decl.norm for name, decl in PRESET_TABLE.items()}
PRESETS_WITHOUT_NORM = tuple(name for name, norm in PRESET_NORMS.items() if norm == "none")
# The norms a preset takes: "dropout" in the place of a norm layer is refused,
# since --dropout already sets the rate of the preset's own dropout.
PRESET_NORM_CHOICES = tuple(norm for norm in NORMS if norm != "dropout")
# The dropout rate each preset is defined with (--dropout replaces it); a
# preset without dropout gets a dropout layer before its last linear layer
# when --dropout is above 0.
PRESET_DROPOUTS = {name: decl.dropout for name, decl in PRESET_TABLE.items()}
FINAL_ACTIVATIONS = ("none", *ACTIVATIONS)
# U-Net decoders: a learned transposed convolution, or an interpolation to the
# skip's exact size ("bilinear" is linear in 1D and trilinear in 3D) and a 1x1 conv.
UPSAMPLE = ("transposed", "nearest", "bilinear", "pixelshuffle")
# How the equivariant family pools over the four rotations.
ROTATION_POOLS = ("max", "mean")
# Symmetry groups of the square for group convolutions: quarter turns, and those with flips.
GROUPS = ("c4", "d4")
# Kernels of group convolutions: every tap a weight, or a few waves around each ring.
BASES = ("full", "harmonic")

# Helper classes a generated model file may define, in the order it defines
# them, each with a model request (family, options) whose file defines it.
# The request keeps the helper honest: the reserved-name probes render it
# (cnngen.rendering.namespace), so a class name can never shadow the helper,
# and the tests build the helper from it in torch.  A helper cannot be listed
# without one.
_RESIDUAL_SE = {"input_size": (32, 32), "layers": 2, "block": "residual", "se": True}
_ROTATIONS = {"input_size": (16, 16), "layers": 2}
_CONVNEXT = {"input_size": (16, 16), "layers": 2, "block": "convnext"}
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
    "HarmonicBasis": ("equivariant", {**_GROUP_CONV, "basis": "harmonic"}),
    "LiftingConv2d": ("equivariant", _GROUP_CONV),
    "GroupConv2d": ("equivariant", _GROUP_CONV),
    "GroupPool": ("equivariant", {**_GROUP_CONV, "head": "gap"}),
    "FoldOrientations": ("equivariant", _GROUP_CONV),
    "UnfoldOrientations": ("equivariant", _GROUP_CONV),
    "OrientationStack": ("equivariant", _GROUP_CONV),
    "DihedralLiftingConv2d": ("equivariant", {**_GROUP_CONV, "group": "d4"}),
    "DihedralGroupConv2d": ("equivariant", {**_GROUP_CONV, "group": "d4"}),
    "ChannelNorm": ("classifier", _CONVNEXT),
    "LayerScale": ("classifier", _CONVNEXT),
}
HELPER_CLASSES = tuple(HELPER_EXAMPLES)

# The model options (spec field names) every family uses.
COMMON_OPTIONS = frozenset(
    {
        "input_size", "in_channels", "layers", "min_size", "target_size", "kernel",
        "stride", "padding", "dilation", "downsample", "pool", "channel_rule", "channels",
        "start_channels", "ratio", "min_channels", "max_channels", "norm", "activation",
        "final_activation", "dropout", "sub_blocks", "se", "depthwise", "name",
        "norm_eps", "norm_momentum", "no_affine", "padding_mode", "bias", "groups",
    }
)  # fmt: skip

# A decoder is transposed convolutions only, from a latent map (-i, --in-channels) to --out-size.
DECODER_OPTIONS = frozenset(
    {
        "input_size", "in_channels", "layers", "kernel", "dilation", "norm", "activation",
        "final_activation", "dropout", "name", "norm_eps", "norm_momentum", "no_affine", "bias",
        "ratio", "out_channels", "out_size", "decoder_channels", "decoder_kernel", "decoder_stride",
    }
)  # fmt: skip

# Family -> every model option it has a use for.  An option the user gives
# that the family has no use for is refused rather than silently ignored.
FAMILY_OPTIONS: dict[str, frozenset[str]] = {
    "encoder": COMMON_OPTIONS,
    "forecaster": COMMON_OPTIONS | {"out_channels", "latent", "latent_layers", "latent_activation", "out_depth", "decoder_channels", "decoder_layers",
                                   "out_size", "decoder_kernel", "decoder_stride"},
    "decoder": DECODER_OPTIONS,
    "classifier": COMMON_OPTIONS | {"classes", "block", "head", "hidden", "preset", "aux_logits"},
    "equivariant": COMMON_OPTIONS | {"classes", "head", "hidden", "rotation_pool", "group_conv", "group",
                                     "basis"},
    # A U-Net halves with pooling and keeps sizes through its convolutions.
    "unet": COMMON_OPTIONS - {"stride", "target_size", "se", "depthwise"}
    | {"out_channels", "upsample", "residual_units", "deep_supervision"},
}


def family_accepts(family: str, option: str) -> bool:
    return option in FAMILY_OPTIONS[family]


def families_accepting(option: str) -> tuple[str, ...]:
    return tuple(family for family in FAMILIES if option in FAMILY_OPTIONS[family])


DEFAULT_CLASS_NAMES = {
    "encoder": "Encoder",
    "forecaster": "Forecaster",
    "decoder": "Decoder",
    "classifier": "Classifier",
    "equivariant": "C4Classifier",
    "unet": "UNet",
}
