"""Conv arithmetic written out with the numbers filled in.

Used by ``cnngen calc`` (and handouts) so students can check a hand
calculation step by step.  Values come from :mod:`cnngen.core.arithmetic`, so the
explanation and the answer can never disagree.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from cnngen.core import arithmetic, inverse
from cnngen.rendering.messages import Messages

# The rearranged formulas of cnngen.core.inverse carry a few English phrases; under
# another language they are said in that language, the formulas left as they are.
_PHRASES = {
    "ru": (
        (
            "the windows start at 0, stride, 2*stride, ... and must fit in ",
            "окна начинаются в 0, stride, 2*stride, ... и должны поместиться в ",
        ),
        (" needs ", " требует "),
        (", i.e. ", ", то есть "),
        ("(one window)", "(одно окно)"),
        ("does not change the output here", "здесь не влияет на выход"),
        (" is not a whole number", " — не целое число"),
        ("(r up to ", "(r до "),
    )
}


def _say(line: str, lang: str) -> str:
    for english, spoken in _PHRASES.get(lang, ()):
        line = line.replace(english, spoken)
    return line


# Why torch refuses a layer, as :mod:`cnngen.core.arithmetic` words it: each
# pattern names its numbers, and the message ``calc.why.<key>`` says it again
# in the asked language.  A reason no pattern knows stays as it is.
_REFUSALS = {
    "span": re.compile(
        r"the dilated kernel spans (?P<span>\d+) but the padded input is only (?P<padded>\d+) "
        r"\(input (?P<size>\d+) \+ 2\*padding (?P<padding>\d+)\); use a smaller kernel "
        r"or dilation, or more padding"
    ),
    "output_padding": re.compile(
        r"must be smaller than stride \((?P<stride>\d+)\) or dilation \((?P<dilation>\d+)\), "
        r"got (?P<value>\d+)"
    ),
    "transposed_padding": re.compile(
        r"(?P<padding>\d+) leaves a transposed output of (?P<out>-?\d+) for input (?P<size>\d+); "
        r"at most (?P<most>-?\d+) padding keeps the output >= 1"
    ),
    "pool_padding": re.compile(
        r"pooling padding must be at most half the kernel \((?P<half>\d+) for kernel "
        r"(?P<kernel>\d+)\), got (?P<padding>\d+)"
    ),
    "window": re.compile(
        r"the pooling window spans (?P<span>\d+) but the padded input is only (?P<padded>\d+); "
        r"use a smaller kernel"
    ),
}


def say_refusal(reason: str, lang: str) -> str:
    """Why torch refuses a layer (``reason``, from the arithmetic), said in ``lang``."""
    if lang == "en":
        return reason
    t = Messages(lang)
    for key, pattern in _REFUSALS.items():
        found = pattern.fullmatch(reason)
        if found:
            return t(f"calc.why.{key}", **found.groupdict())
    return reason


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
    lang: str = "en",
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
        text += f" = {plain}" + Messages(lang)("calc.pool_minus")
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
    lang: str = "en",
) -> list[str]:
    """One line per spatial dimension with the formula filled in."""
    t = Messages(lang)
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
                size, kernel[dim], stride[dim], padding[dim], dilation[dim], ceil_mode, lang=lang
            )
        lines.append(t("calc.dim", dim=dim + 1) + text)
    return lines


def _forward(layer: inverse.Layer, size: int, lang: str = "en") -> str:
    """The forward formula for one layer, filled in (the check of an answer)."""
    if layer.operation == "conv":
        return explain_conv(size, layer.kernel, layer.stride, layer.padding, layer.dilation)
    if layer.operation == "transposed":
        return explain_transposed(
            size, layer.kernel, layer.stride, layer.padding, layer.output_padding, layer.dilation
        )
    return explain_pool(
        size, layer.kernel, layer.stride, layer.padding, layer.dilation, layer.ceil_mode, lang=lang
    )


def _values(answer: inverse.Solutions, t: Messages) -> str:
    parts = [str(value) for value in answer.values]
    if answer.every_from is not None:
        parts.append(t("calc.every_from", value=answer.every_from))
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
    lang: str = "en",
) -> list[str]:
    """Per dimension: the formula solved for ``unknown``, every solution checked, or why none.

    The solutions come from :func:`cnngen.core.inverse.solve`; the rearranged
    formula shows where they come from, and each one is plugged back into the
    forward formula so the student sees it land on the output.
    """
    t = Messages(lang)
    name = unknown.replace("_", " ")
    lines = []
    for dim, (size, output, answer) in enumerate(zip(sizes, outputs, answers, strict=True)):
        known = {key: values[dim] for key, values in params.items() if key != unknown}
        layer = inverse.Layer(operation, ceil_mode=ceil_mode, **known)
        searched = t("calc.searched", name=name, low=answer.low, high=answer.bound - 1)
        if answer.bound <= answer.low:
            searched = t("calc.same", name=name, low=answer.low)
        elif answer.proven:
            searched += (
                t("calc.tail", name=name, bound=answer.bound)
                if answer.tail
                else t("calc.no_larger", name=name, output=output)
            )
        else:
            searched += t("calc.unproven", bound=inverse.CHAIN_BOUND)
        lines.append(
            t("calc.dim", dim=dim + 1)
            + f"{size} -> {output}"
            + (t("calc.in_layers", layers_n=t.count(layers, "layer")) if layers > 1 else "")
        )
        if layers == 1:
            lines += [
                "  " + _say(line, lang) for line in inverse.rearranged(layer, unknown, size, output)
            ]
        if answer.found:
            lines.append(f"  {name}: {_values(answer, t)}  ({searched})")
            shown = list(answer.values[:3])
            if answer.every_from is not None and len(shown) < 3:
                shown.append(answer.every_from)
            for value in shown:
                solved = inverse.Layer(**{**layer.__dict__, unknown: value})
                if layers == 1:
                    filled = _forward(solved, size, lang).split(" = ", 1)[1]
                    lines.append("  " + t("calc.check", name=name, value=value, filled=filled))
                else:
                    chain = " -> ".join(map(str, [size, *solved.chain(size, layers)]))
                    lines.append("  " + t("calc.check", name=name, value=value, filled=chain))
        else:
            lines.append(
                "  " + t("calc.none", name=name, size=size, output=output, searched=searched)
            )
            for value, result in answer.near.items():
                key = "calc.gives" if isinstance(result, int) else "calc.refused"
                shown = result if isinstance(result, int) else say_refusal(result, lang)
                lines.append("    " + t(key, name=name, value=value, result=shown))
    return lines


def explain_chain(
    operation: str,
    size: Sequence[int],
    params: dict[str, Sequence[int]],
    layers: int,
    ceil_mode: bool = False,
    lang: str = "en",
) -> list[str]:
    """The size after each of ``layers`` copies of one layer, per dimension."""
    t = Messages(lang)
    lines = []
    for dim, start in enumerate(size):
        known = {key: values[dim] for key, values in params.items()}
        layer = inverse.Layer(operation, ceil_mode=ceil_mode, **known)
        sizes = [start, *layer.chain(start, layers)]
        lines.append(t("calc.dim", dim=dim + 1) + " -> ".join(map(str, sizes)))
    return lines
