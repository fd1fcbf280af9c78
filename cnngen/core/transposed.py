"""Solve a transposed convolution's padding and output_padding for an exact size.

Decoders (the forecaster's and the U-Net's) undo an encoder's downsampling
and must land on the encoder's sizes exactly, odd and prime sizes included;
these two functions find the padding pair that does, with no crop or resize.
"""

from __future__ import annotations

from collections.abc import Iterator


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
    # The output size at padding 0 and output_padding 0; each unit of padding takes 2.
    base = (size_in - 1) * stride + dilation * (kernel - 1) + 1
    # torch allows an output_padding below the stride or below the dilation.
    most = max(stride, dilation)
    if 0 <= prefer <= limit and 0 <= size_out - base + 2 * prefer < most:
        # The encoder's own padding fits, as it does for almost every layer.
        return prefer, size_out - base + 2 * prefer
    for padding in _nearest_first(prefer, limit):
        output_padding = size_out - base + 2 * padding
        if 0 <= output_padding < most:
            return padding, output_padding
    return None


def _nearest_first(centre: int, limit: int) -> Iterator[int]:
    """0 .. ``limit`` by distance from ``centre``, the smaller one first on a tie."""
    for distance in range(limit + abs(centre) + 1):
        if 0 <= centre - distance <= limit:
            yield centre - distance
        if distance and 0 <= centre + distance <= limit:
            yield centre + distance


def free_decoder_dim(
    size_in: int,
    size_out: int,
    layers: int,
    kernel: int,
    dilation: int,
    strides: tuple[int, ...] = (2, 1),
) -> list[tuple[int, int, int]] | None:
    """(stride, padding, output_padding) for ``layers`` transposed convolutions, in to out exactly.

    A decoder with a depth of its own has no encoder layer to undo, so its
    sizes are searched: dynamic programming over the sizes reachable after each
    layer, each layer of a stride in ``strides`` (2 or 1 unless --decoder-stride
    pins one); every size stays at most ``size_out``, so the decoder grows
    steadily to its output.  Among the ways to
    land on ``size_out`` it keeps the one closest to size-keeping padding with
    the fewest output paddings; ties go to doubling early.  ``None`` when no
    way lands there.
    """
    same = dilation * (kernel - 1) // 2
    limit = dilation * (kernel - 1)
    choices = [
        (stride, padding, output_padding)
        for stride in strides
        for padding in sorted(range(limit + 1), key=lambda p: (abs(p - same), p))
        for output_padding in range(max(stride, dilation))
        if output_padding < stride or output_padding < dilation
    ]
    states: dict[int, tuple[int, tuple[tuple[int, int, int], ...]]] = {size_in: (0, ())}
    for _ in range(layers):
        following: dict[int, tuple[int, tuple[tuple[int, int, int], ...]]] = {}
        for size, (cost, path) in states.items():
            for choice in choices:
                stride, padding, output_padding = choice
                out = (size - 1) * stride - 2 * padding + limit + output_padding + 1
                if out < 1 or out > size_out:
                    continue
                total = cost + abs(padding - same) + output_padding
                best = following.get(out)
                if best is None or total < best[0]:
                    following[out] = (total, (*path, choice))
        states = following
        if not states:
            return None
    found = states.get(size_out)
    return None if found is None else list(found[1])
