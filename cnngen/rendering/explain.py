"""Conv arithmetic written out with the numbers filled in.

Used by ``cnngen calc`` (and handouts) so students can check a hand
calculation step by step.  Values come from :mod:`cnngen.core.arithmetic`, so the
explanation and the answer can never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence

from cnngen.core import arithmetic


def explain_conv(size: int, kernel: int, stride: int, padding: int, dilation: int) -> str:
    out = arithmetic.conv_size(size, kernel, stride, padding, dilation)
    numerator = size + 2 * padding - dilation * (kernel - 1) - 1
    return (
        f"floor((in + 2*padding - dilation*(kernel-1) - 1) / stride) + 1"
        f" = floor(({size} + 2*{padding} - {dilation}*({kernel}-1) - 1) / {stride}) + 1"
        f" = floor({numerator} / {stride}) + 1 = {out}"
    )


def explain_transposed(
    size: int, kernel: int, stride: int, padding: int, output_padding: int, dilation: int
) -> str:
    out = arithmetic.transposed_size(size, kernel, stride, padding, output_padding, dilation)
    return (
        "(in-1)*stride - 2*padding + dilation*(kernel-1) + output_padding + 1"
        f" = ({size}-1)*{stride} - 2*{padding} + {dilation}*({kernel}-1) + {output_padding} + 1"
        f" = {out}"
    )


def explain_pool(
    size: int,
    kernel: int,
    stride: int,
    padding: int,
    dilation: int,
    ceil_mode: bool,
    average: bool = False,
) -> str:
    """The pooling formula filled in; ``average`` drops the dilation term AvgPool lacks."""
    out = arithmetic.pool_size(size, kernel, stride, padding, dilation, ceil_mode)
    numerator = size + 2 * padding - dilation * (kernel - 1) - 1
    rounding = "ceil" if ceil_mode else "floor"
    if average:
        text = (
            f"{rounding}((in + 2*padding - kernel) / stride) + 1"
            f" = {rounding}(({size} + 2*{padding} - {kernel}) / {stride}) + 1"
            f" = {rounding}({numerator} / {stride}) + 1"
        )
    else:
        text = (
            f"{rounding}((in + 2*padding - dilation*(kernel-1) - 1) / stride) + 1"
            f" = {rounding}(({size} + 2*{padding} - {dilation}*({kernel}-1) - 1) / {stride}) + 1"
            f" = {rounding}({numerator} / {stride}) + 1"
        )
    plain = (-(-numerator // stride) if ceil_mode else numerator // stride) + 1
    if plain != out:
        text += f" = {plain}, minus 1 because the last window would start in the padding"
    return f"{text} = {out}"


def explain(
    operation: str,
    sizes: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
    output_padding: Sequence[int],
    ceil_mode: bool,
) -> list[str]:
    """One line per spatial dimension with the formula filled in."""
    lines = []
    for dim, size in enumerate(sizes):
        if operation == "conv":
            text = explain_conv(size, kernel[dim], stride[dim], padding[dim], dilation[dim])
        elif operation == "transposed":
            text = explain_transposed(
                size, kernel[dim], stride[dim], padding[dim], output_padding[dim], dilation[dim]
            )
        else:
            text = explain_pool(
                size, kernel[dim], stride[dim], padding[dim], dilation[dim], ceil_mode
            )
        lines.append(f"dim {dim + 1}: {text}")
    return lines
