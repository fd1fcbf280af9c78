"""Solve a transposed convolution's padding and output_padding for an exact size.

Decoders (the forecaster's and the U-Net's) undo an encoder's downsampling
and must land on the encoder's sizes exactly, odd and prime sizes included;
these two functions find the padding pair that does, with no crop or resize.
"""

from __future__ import annotations


def solve_transposed(
    size_in: int, size_out: int, kernel: int, stride: int, dilation: int, prefer: int
) -> tuple[int, int]:
    """(padding, output_padding) so a transposed conv maps size_in to size_out exactly.

    Prefers the encoder's padding and the smallest output_padding.  A solution
    always exists when the forward layer mapped size_out to size_in with
    symmetric padding (an explicit uneven pad is undone by a crop instead).
    """
    solved = _find_transposed(size_in, size_out, kernel, stride, dilation, prefer)
    if solved is None:
        raise AssertionError(
            f"no transposed convolution maps {size_in} to {size_out} "
            f"(kernel {kernel}, stride {stride}); this is a cnngen bug"
        )
    return solved


def _find_transposed(
    size_in: int, size_out: int, kernel: int, stride: int, dilation: int, prefer: int
) -> tuple[int, int] | None:
    limit = dilation * (kernel - 1) + stride
    candidates = sorted(range(0, limit + 1), key=lambda p: (abs(p - prefer), p))
    for padding in candidates:
        for output_padding in range(max(stride, dilation)):
            if output_padding >= stride and output_padding >= dilation:
                continue
            value = (
                (size_in - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1
            )
            if value == size_out:
                return padding, output_padding
    return None
