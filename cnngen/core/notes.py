"""Plan notes: what the solver tells about a plan, as data that renderers translate.

A note is English text (a ``str``, so ``Plan.notes`` stays plain text for
every reader) that also carries its message key and fields, so a renderer
writing another language can translate it (:meth:`cnngen.rendering.messages.Messages.note`).
The English sentences live here, next to the solver that writes them, as
every note's plain text; their translations are on the rendering side, with
the rest of the catalogue (:mod:`cnngen.rendering.messages_notes`).
"""

from __future__ import annotations

from typing import Any

NOTES_EN: dict[str, str] = {
    "note.clamped": "channels clamped to {low}..{high} on layer(s) {layers}",
    "note.decoder_channels": "decoder widths as given: {widths}",
    "note.decoder_rule": (
        "decoder widths {widths}: TorchCNNBuilder's {rule} rule from the bottleneck to "
        "the output channels"
    ),
    "note.free_decoder": (
        "the decoder's {layers} transposed convolutions have strides, paddings and output "
        "paddings solved to land on {size} exactly, with no resize"
    ),
    "note.tcb_channels": "channels {widths}: TorchCNNBuilder's {rule} rule",
    "note.time_head": "the time head maps {depth} input time steps to {out_depth}",
    "note.invariant": "logits are invariant to rotating the input by any multiple of 90 degrees",
    "note.group_conv": (
        "p4 group convolutions: every feature map turns with the input and its "
        "orientations shift cyclically; logits are invariant to quarter turns; a p4 map "
        "has 4 channels per channel (channel c * 4 + r is orientation r of c), all 2D"
    ),
    "note.group_conv_d4": (
        "D4 group convolutions: every feature map turns and mirrors with the input and its "
        "orientations permute as the group multiplies; logits are invariant to quarter turns "
        "and mirror images; a D4 map has 8 channels per channel (channel c * 8 + g is "
        "orientation g of c: g % 4 quarter turns after g // 4 mirror images), all 2D"
    ),
    "note.harmonic_basis": (
        "harmonic basis: each {kernel}x{kernel} kernel is a sum of waves around the rings of "
        "its grid, with {weights} weights per kernel instead of {taps}; the kernels are summed "
        "once per forward pass, whatever the batch, and MACS leaves that out"
    ),
    "note.lenet5": "LeNet-5 (LeCun et al., 1998) with padding 2 on the first convolution",
    "note.alexnet": "AlexNet (Krizhevsky et al., 2012) as in torchvision",
    "note.vgg": "{model} (Simonyan and Zisserman, 2014) as in torchvision",
    "note.resnet": "{model} (He et al., 2016) as in torchvision",
    "note.se_resnet": "{model} (Hu et al., 2018, on He et al., 2016) as in torchvision",
    "note.mobilenet_v2": "MobileNetV2 (Sandler et al., 2018) as in torchvision",
    "note.convnext": (
        "{model} (Liu et al., 2022) as in torchvision, with its 1x1 linear layers as "
        "1x1 convolutions (the same weights)"
    ),
    "note.googlenet": (
        "GoogLeNet (Szegedy et al., 2015) as in torchvision, without the auxiliary heads"
    ),
    "note.googlenet_aux": (
        "GoogLeNet (Szegedy et al., 2015) as in torchvision, with its auxiliary heads "
        "aux1 (after inception4a) and aux2 (after inception4d), run in training only: "
        "an average pool of kernel {kernel}, stride {stride} to exactly 4x4, a 1x1 "
        "convolution to 128, fc1 and fc2; train.py adds {weight} of each head's loss"
    ),
    "note.unet_deep_supervision": (
        "deep supervision: {heads} map lower decoder levels to logits in training only; "
        "train.py adds their losses with weights {weights}, against the mask sampled every "
        "{steps} positions (each level's exact size, nothing resized)"
    ),
    "note.stride_relaxed": "{layer} stride {old} -> {new}: input {size} too small for stride {old}",
    "note.pool_padded": (
        "{layer} padding {old} -> {new}: input {size} leaves too little there for its "
        "unpadded window {kernel}"
    ),
    "note.head_features": (
        "{layer} takes {shape} = {count} features; the trunk gives them exactly for "
        "{size}, so nothing is resized"
    ),
    "note.head_features_224": (
        "{layer} takes {shape} = {count} features ({usual} at 224x224); the trunk gives "
        "them exactly for {size}, so nothing is resized"
    ),
    "note.avgpool": (
        "avgpool averages the final {shape} map with a fixed kernel, instead of an adaptive pool"
    ),
    "note.avgpool_224": (
        "avgpool averages the final {shape} map (7x7 at 224x224) with a fixed kernel, "
        "instead of an adaptive pool"
    ),
    "note.preset_norm_added": (
        "{norm} after every convolution, as torchvision's VGG-BN adds batch norm"
    ),
    "note.preset_norm_replaced": (
        "{norm} in place of every batch norm, under the same names, so no weight is renamed"
    ),
    "note.preset_norm_removed": (
        "no norm layers (--norm none); each convolution that preceded a batch norm has a bias"
    ),
    "note.preset_dropout": "dropout {old} -> {new} at {layers}",
    "note.preset_dropout_kept": (
        "dropout {old} -> 0.0 at {layers}: the layers stay, so the layers after them keep "
        "their names"
    ),
    "note.preset_dropout_added": "dropout {new} before {layer}, the last linear layer",
    "note.unet_level_kept": (
        "level {level} keeps dimension(s) {dims} at {sizes} (halving would go below --min-size)"
    ),
    "note.unet_clamped": "channels clamped to {low}..{high} on level(s) {levels}",
    "note.unet_skips": (
        "every decoder level lands on its skip's size ({upsample} upsampling); no skip is "
        "cropped or padded"
    ),
    "note.short_field": "receptive field {field} does not cover the {size} input",
    "note.big_params": (
        "{params} parameters ({gib} GiB as float32) is above {limit}; check that this is "
        "the model you meant"
    ),
    "note.big_activations": (
        "training keeps about {gib} GiB of activations per sample (float32), more than any "
        "single accelerator holds; inference fits, training needs activation checkpointing "
        "or a smaller --input-size"
    ),
    "note.head_field": (
        "the convolutions alone see {field} of the {size} input; every output still sees "
        "all of it through the layers after them"
    ),
}

# How each language groups the thousands of a :class:`Count` (a no-break space in Russian).
GROUPS = {"en": ",", "ru": "\u00a0"}


class Count(int):
    """A number in a note, written with thousands grouped as the note's language does.

    English writes ``9,216`` and Russian ``9 216`` (a no-break space): a
    comma would read as a decimal sign there.
    """


class Tenths(float):
    """A decimal in a note, written to one place with the note's language's decimal sign.

    English writes ``1.5`` and Russian ``1,5``.
    """


def _spell(value: Any, group: str, point: str) -> Any:
    if isinstance(value, Count):
        return f"{value:,}".replace(",", group)
    if isinstance(value, Tenths):
        return f"{value:.1f}".replace(".", point)
    return value


def spelled(fields: dict[str, Any], group: str, point: str = ".") -> dict[str, Any]:
    """The note's fields, every :class:`Count` grouped with ``group`` and every
    :class:`Tenths` written with the decimal sign ``point``."""
    return {name: _spell(value, group, point) for name, value in fields.items()}


class Note(str):
    """A plan note: English text as a ``str``, plus the key and fields to translate it."""

    key: str
    fields: dict[str, Any]

    def __new__(cls, key: str, **fields: Any) -> Note:
        note = super().__new__(cls, NOTES_EN[key].format(**spelled(fields, GROUPS["en"])))
        note.key = key
        note.fields = fields
        return note

    def __reduce__(self) -> tuple[Any, ...]:
        return (_make_note, (self.key, self.fields))


def _make_note(key: str, fields: dict[str, Any]) -> Note:
    return Note(key, **fields)
