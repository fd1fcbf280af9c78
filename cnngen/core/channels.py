"""Channel growth rules: how many channels each encoder layer outputs.

cnngen's own rules share TorchCNNBuilder's names but not its arithmetic:
every value is rounded to an int and grows from ``--start-channels``.  The
``tcb-`` rules at the end are TorchCNNBuilder 0.1.5's, width for width, so
one of its models can be written option for option.  Every rule is clamped to
``[min_channels, max_channels]``; the solver notes in the plan where the
clamp bit, so nobody is surprised by a flat tail of 512s.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

RULE_HELP = {
    "exponential": "start x ratio^i (32, 64, 128, ...)",
    "linear": "start x (1 + (ratio-1) x i) (32, 64, 96, ...)",
    "power": "start x (i+1)^ratio (32, 128, 288, ...)",
    "proportion": "start x how much the feature map has shrunk per dimension so far",
    "constant": "start on every layer",
}


def raw_channels(rule: str, index: int, start: int, ratio: float, shrink: float) -> float:
    """The unclamped channel count of layer ``index`` (0-based).

    ``shrink`` is the geometric mean, over dimensions, of input size divided by
    this layer's output size; only the ``proportion`` rule uses it.
    """
    if rule == "exponential":
        # Past ~1000 doublings a float overflows; the clamp makes it moot.
        exponent = index * math.log(ratio) if ratio > 0 else 0.0
        return start * math.exp(min(exponent, 700.0))
    if rule == "linear":
        return start * (1 + (ratio - 1) * index)
    if rule == "power":
        return start * (index + 1) ** ratio
    if rule == "proportion":
        return start * shrink
    if rule == "constant":
        return float(start)
    raise ValueError(f"unknown channel rule {rule!r}")


def channel_schedule(
    rule: str,
    layers: int,
    start: int,
    ratio: float,
    min_channels: int,
    max_channels: int,
    shrinks: Sequence[float],
) -> tuple[list[int], list[int]]:
    """Channels per layer, and the indices where the clamp changed the rule's value."""
    channels: list[int] = []
    clamped: list[int] = []
    for index in range(layers):
        value = raw_channels(rule, index, start, ratio, shrinks[index])
        rounded = max(1, round(value))
        bounded = min(max(rounded, min_channels), max_channels)
        if bounded != rounded:
            clamped.append(index)
        channels.append(bounded)
    return channels, clamped


# ------------------------------------------------------- TorchCNNBuilder's rules
# TorchCNNBuilder 0.1.5 (``Builder._calc_out_channels`` and
# ``_calc_out_transpose_channels``) spelt out, so a model it builds can be
# written option for option.  Its widths are truncated with ``int()``, not
# rounded, its ``constant`` width is fixed at 1, and its ``proportion`` and
# ``linear`` rules start from the input channels rather than --start-channels;
# these are its rules, kept as they are (the cnngen rules above are ours).
TCB_RULE_HELP = {
    "tcb-exponential": "TorchCNNBuilder's exponential: int(start x ratio^i), i = 0, 1, ...",
    "tcb-linear": "TorchCNNBuilder's linear: in_channels + 1, in_channels + 2, ...",
    "tcb-proportion": (
        "TorchCNNBuilder's proportion: in_channels up to in_channels + mean(input size) / 2 "
        "in equal steps"
    ),
    "tcb-power": "TorchCNNBuilder's power: int((in_channels + i)^ratio), i = 1, 2, ...",
    "tcb-constant": "TorchCNNBuilder's constant: 1 on every layer",
}
# Past this a width is clamped anyway; computing it exactly could overflow a float.
_HUGE = float(2**40)


def _tcb_int(value: float) -> int:
    """``int(value)`` as TorchCNNBuilder truncates, with an overflow kept finite for the clamp."""
    return int(min(value, _HUGE))


def _power(base: float, exponent: float) -> float:
    try:
        return float(base**exponent)
    except OverflowError:
        return _HUGE


def tcb_encoder_channels(
    rule: str, layers: int, in_channels: int, start: int, ratio: float, input_size: Sequence[int]
) -> list[int]:
    """TorchCNNBuilder's encoder widths (its list without the leading ``in_channels``).

    An empty list where TorchCNNBuilder itself refuses (``proportion`` with a
    step of 0: the input is too small for that many layers).
    """
    if rule == "tcb-exponential":
        return [_tcb_int(start * _power(ratio, i)) for i in range(layers)]
    if rule == "tcb-linear":
        return [in_channels + i + 1 for i in range(layers)]
    if rule == "tcb-constant":
        return [1] * layers
    if rule == "tcb-power":
        return [_tcb_int(_power(in_channels + i, ratio)) for i in range(1, layers + 1)]
    if rule == "tcb-proportion":
        stop = int((sum(input_size) * 0.5) // len(input_size) + in_channels)
        step = (stop - in_channels) // layers
        if step == 0:
            return []
        return list(range(in_channels, stop + 1, step))[1 : layers + 1]
    raise ValueError(f"unknown TorchCNNBuilder rule {rule!r}")


def tcb_decoder_channels(
    rule: str, layers: int, bottleneck: int, out_channels: int, ratio: float
) -> list[int]:
    """TorchCNNBuilder's transposed widths: the output of each decoder layer, the last ``out_channels``.

    ``bottleneck`` is the decoder's input (the encoder's last width).  An
    empty list where TorchCNNBuilder itself fails (``proportion`` with a step
    of 0: bottleneck and output too close for that many layers).
    """
    if rule == "tcb-exponential":
        return [_tcb_int(bottleneck / _power(ratio, i)) for i in range(1, layers)] + [out_channels]
    if rule == "tcb-linear":
        return [bottleneck - i for i in range(1, layers)] + [out_channels]
    if rule == "tcb-constant":
        return [1] * (layers - 1) + [out_channels]
    if rule == "tcb-power":
        return [_tcb_int(_power(layers - i + 1, ratio)) for i in range(1, layers)] + [out_channels]
    if rule == "tcb-proportion":
        step = (bottleneck - out_channels) // layers
        if step == 0:
            return []
        widths = list(range(out_channels, bottleneck, step))[::-1][:layers]
        if len(widths) < layers:
            return []
        widths[-1] = out_channels
        return widths
    raise ValueError(f"unknown TorchCNNBuilder rule {rule!r}")
