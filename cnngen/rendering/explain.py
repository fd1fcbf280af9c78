"""Conv arithmetic written out with the numbers filled in.

Used by ``cnngen calc`` (and handouts) so students can check a hand
calculation step by step.  Values come from :mod:`cnngen.core.arithmetic`, so the
explanation and the answer can never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence

from cnngen.core import arithmetic, inverse


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


def _forward(layer: inverse.Layer, size: int) -> str:
    """The forward formula for one layer, filled in (the check of an answer)."""
    if layer.operation == "conv":
        return explain_conv(size, layer.kernel, layer.stride, layer.padding, layer.dilation)
    if layer.operation == "transposed":
        return explain_transposed(
            size, layer.kernel, layer.stride, layer.padding, layer.output_padding, layer.dilation
        )
    return explain_pool(
        size, layer.kernel, layer.stride, layer.padding, layer.dilation, layer.ceil_mode
    )


def _values(answer: inverse.Solutions) -> str:
    parts = [str(value) for value in answer.values]
    if answer.every_from is not None:
        parts.append(f"every value from {answer.every_from} up")
    return ", ".join(parts)


def explain_inverse(
    operation: str,
    unknown: str,
    sizes: Sequence[int],
    outputs: Sequence[int],
    params: dict[str, Sequence[int]],
    answers: Sequence[inverse.Solutions],
    ceil_mode: bool = False,
    layers: int = 1,
) -> list[str]:
    """Per dimension: the formula solved for ``unknown``, every solution checked, or why none.

    The solutions come from :func:`cnngen.core.inverse.solve`; the rearranged
    formula shows where they come from, and each one is plugged back into the
    forward formula so the student sees it land on the output.
    """
    name = unknown.replace("_", " ")
    lines = []
    for dim, (size, output, answer) in enumerate(zip(sizes, outputs, answers, strict=True)):
        known = {key: values[dim] for key, values in params.items() if key != unknown}
        layer = inverse.Layer(operation, ceil_mode=ceil_mode, **known)
        searched = f"searched {name} {answer.low}..{answer.bound - 1}"
        if answer.bound <= answer.low:
            searched = f"every {name} from {answer.low} up gives the same size"
        elif answer.proven:
            searched += (
                f"; every larger {name} gives the same size as {answer.bound}"
                if answer.tail
                else f"; no larger {name} can give {output}"
            )
        else:
            searched += f" ({inverse.CHAIN_BOUND} times the larger size; larger values not tried)"
        lines.append(
            f"dim {dim + 1}: {size} -> {output}" + (f" in {layers} layers" if layers > 1 else "")
        )
        if layers == 1:
            lines += ["  " + line for line in inverse.rearranged(layer, unknown, size, output)]
        if answer.found:
            lines.append(f"  {name}: {_values(answer)}  ({searched})")
            shown = list(answer.values[:3])
            if answer.every_from is not None and len(shown) < 3:
                shown.append(answer.every_from)
            for value in shown:
                solved = inverse.Layer(**{**layer.__dict__, unknown: value})
                if layers == 1:
                    filled = _forward(solved, size).split(" = ", 1)[1]
                    lines.append(f"  check {name} {value}: {filled}")
                else:
                    chain = " -> ".join(map(str, [size, *solved.chain(size, layers)]))
                    lines.append(f"  check {name} {value}: {chain}")
        else:
            lines.append(f"  no {name} maps {size} to {output} ({searched}); nearest:")
            for value, result in answer.near.items():
                if isinstance(result, int):
                    lines.append(f"    {name} {value} gives {result}")
                else:
                    lines.append(f"    {name} {value} is refused: {result}")
    return lines


def explain_chain(
    operation: str,
    size: Sequence[int],
    params: dict[str, Sequence[int]],
    layers: int,
    ceil_mode: bool = False,
) -> list[str]:
    """The size after each of ``layers`` copies of one layer, per dimension."""
    lines = []
    for dim, start in enumerate(size):
        known = {key: values[dim] for key, values in params.items()}
        layer = inverse.Layer(operation, ceil_mode=ceil_mode, **known)
        sizes = [start, *layer.chain(start, layers)]
        lines.append(f"dim {dim + 1}: " + " -> ".join(map(str, sizes)))
    return lines
