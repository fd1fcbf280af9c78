"""Channel growth rules: how many channels each encoder layer outputs.

The rules follow TorchCNNBuilder's names.  Every value is rounded to an int
and clamped to ``[min_channels, max_channels]``; the solver notes in the plan
where the clamp bit, so nobody is surprised by a flat tail of 512s.
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
