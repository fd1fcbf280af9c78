"""Inverse layer arithmetic: which parameter values give a wanted output size.

The forward formulas in :mod:`cnngen.core.arithmetic` are checked against
torch; the inverse never rearranges them by hand to get its answer.  It tries
every value of the unknown parameter in a range that provably holds every
solution, and keeps the values whose *forward* size equals the wanted output.
So every reported value is right by construction, and none is missed inside
the range.

The range comes from the shape of each formula in its unknown:

* a monotone formula (padding, kernel, dilation, a transposed stride) leaves
  the wanted output for good at some value; the search stops there;
* where the formula becomes constant (a stride larger than the padded input,
  a dilation of a 1-wide kernel, the stride of a 1-long transposed input),
  the first value of the constant tail stands for every larger value, and the
  answer says "and every larger value" instead of pretending to be finite.

Chained layers (``layers > 1``) have no such proof; their search is bounded
by :data:`CHAIN_BOUND` and says so.

Pure Python, no torch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cnngen.core import arithmetic
from cnngen.errors import CnngenError

OPERATIONS = ("conv", "transposed", "pool")
UNKNOWNS = {
    "conv": ("padding", "kernel", "stride", "dilation"),
    "transposed": ("padding", "kernel", "stride", "dilation", "output_padding"),
    "pool": ("padding", "kernel", "stride", "dilation"),
}
# Lowest legal value of each parameter.
LOWEST = {"padding": 0, "kernel": 1, "stride": 1, "dilation": 1, "output_padding": 0}
# Search bound for a chain of layers: values 0..CHAIN_BOUND (times the larger size).
CHAIN_BOUND = 4
# The most values one dimension's search tries (a second or two): a wider range is
# refused at once rather than searched for minutes.
MAX_SEARCH = 2**20


@dataclass(frozen=True)
class Layer:
    """One dimension of one layer: every parameter as an int."""

    operation: str
    kernel: int = 1
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    output_padding: int = 0
    ceil_mode: bool = False

    def output(self, size: int) -> int:
        """Forward output size; raises CnngenError where torch would refuse."""
        if self.operation == "conv":
            return arithmetic.conv_size(size, self.kernel, self.stride, self.padding, self.dilation)
        if self.operation == "transposed":
            return arithmetic.transposed_size(
                size, self.kernel, self.stride, self.padding, self.output_padding, self.dilation
            )
        return arithmetic.pool_size(
            size, self.kernel, self.stride, self.padding, self.dilation, self.ceil_mode
        )

    def chain(self, size: int, layers: int) -> list[int]:
        """The sizes after each of ``layers`` applications of this layer."""
        sizes = []
        for _ in range(layers):
            size = self.output(size)
            sizes.append(size)
        return sizes


@dataclass(frozen=True)
class Solutions:
    """Every value of ``unknown`` that maps ``size`` to ``output`` in one dimension.

    ``values`` are searched from ``low`` up to ``bound`` exclusive.  With
    ``tail`` the formula is constant from ``bound`` upwards; ``every_from``
    is then set when that constant is the wanted output.  ``proven`` says whether the bound provably holds
    every solution (single layers) or is only a search limit (chains).
    """

    unknown: str
    size: int
    output: int
    values: tuple[int, ...]
    low: int
    bound: int
    every_from: int | None = None
    proven: bool = True
    tail: bool = False
    # What each value near the target gives, to explain a miss: value -> size or reason.
    near: dict[int, int | str] = field(default_factory=dict)

    @property
    def found(self) -> bool:
        return bool(self.values) or self.every_from is not None

    @property
    def smallest(self) -> int:
        if self.values:
            return self.values[0]
        if self.every_from is None:
            raise CnngenError(f"{self.unknown}: no value maps {self.size} to {self.output}")
        return self.every_from


def search_range(layer: Layer, unknown: str, size: int, output: int) -> tuple[int, int, bool]:
    """``(low, bound, constant_tail)`` holding every solution of a single layer.

    With ``constant_tail`` the forward size (and its validity) is the same for
    every value from ``bound`` upwards, so ``bound`` stands for all of them.
    """
    op = layer.operation
    n, k, s, p, d, q = (
        size,
        layer.kernel,
        layer.stride,
        layer.padding,
        layer.dilation,
        layer.output_padding,
    )
    span = d * (k - 1) + 1
    low = LOWEST[unknown]
    if unknown == "padding":
        if op == "conv":
            # out grows with padding; it passes ``output`` once n + 2p - span >= s * output.
            return low, max(1, -(-(s * output + span - n) // 2) + 1), False
        if op == "transposed":
            # out shrinks by 2 per padding; below 1 every larger padding is refused.
            return low, ((n - 1) * s + d * (k - 1) + q) // 2 + 2, False
        return low, k // 2 + 1, False  # torch: pooling padding <= kernel / 2
    if unknown == "kernel":
        if op == "transposed":
            # out grows by d per kernel step and is at least d*(k-1) + 1 - 2p.
            return low, (output + 2 * p) // d + 2, False
        # The dilated kernel must fit the padded input (ceil mode: one stride more).
        return low, (n + 2 * p + s) // d + 2, False
    if unknown == "stride":
        if op == "transposed":
            if n == 1:
                return low, max(low, q + 1, d), True  # (n-1)*stride vanishes
            return low, max(q + 2, (output + 2 * p) // (n - 1) + 2), False
        # Past the padded input (and, in ceil mode, past the window) every stride gives
        # one window or none.
        return low, max(2, n + 2 * p + 1, span + 1), True
    if unknown == "dilation":
        if k == 1:
            return low, max(low, q + 1), True  # a 1-wide kernel has no gaps to widen
        if op == "transposed":
            return low, max(q + 2, (output + 2 * p) // (k - 1) + 2), False
        return low, (n + 2 * p + s) // (k - 1) + 2, False
    if unknown == "output_padding":
        return low, max(s, d), False  # torch: output_padding < stride or < dilation
    raise CnngenError(f"solve: {unknown!r} is not a parameter of {op}", "solve")


def _outcome(layer: Layer, size: int, layers: int) -> int | str:
    try:
        return layer.chain(size, layers)[-1]
    except CnngenError as error:
        return str(error).split(": ", 1)[-1]


def solve_dimension(
    layer: Layer, unknown: str, size: int, output: int, layers: int = 1
) -> Solutions:
    """Every value of ``unknown`` for which ``layers`` copies of ``layer`` map ``size`` to ``output``.

    ``layer`` holds the known parameters; its value of ``unknown`` is ignored.
    """
    if unknown not in UNKNOWNS[layer.operation]:
        raise CnngenError(
            f"solve: {layer.operation} has no {unknown}; choose from "
            f"{', '.join(UNKNOWNS[layer.operation])}",
            "solve",
        )

    def with_value(value: int) -> Layer:
        return Layer(**{**layer.__dict__, unknown: value})

    if layers == 1:
        low, bound, tail = search_range(layer, unknown, size, output)
        proven = True
    else:
        low, bound, tail = LOWEST[unknown], CHAIN_BOUND * max(size, output) + 2, False
        proven = False
    if bound - low > MAX_SEARCH:
        raise CnngenError(
            f"output: solving {unknown} for {size} -> {output} would try {bound - low:,} "
            f"values, above cnngen's limit of {MAX_SEARCH:,}; ask for a smaller output or "
            f"give more of the layer's parameters",
            "output",
        )
    outcomes = {value: _outcome(with_value(value), size, layers) for value in range(low, bound)}
    values = tuple(value for value, out in outcomes.items() if out == output)
    every_from = None
    if tail:
        outcomes[bound] = _outcome(with_value(bound), size, layers)
        if outcomes[bound] == output:
            every_from = bound
            # Fold the run of solutions just below the constant tail into it.
            while values and values[-1] == every_from - 1:
                every_from, values = values[-1], values[:-1]
    near = _near(outcomes, output) if not values and every_from is None else {}
    return Solutions(unknown, size, output, values, low, bound, every_from, proven, tail, near)


def _near(outcomes: dict[int, int | str], output: int) -> dict[int, int | str]:
    """The values whose sizes lie closest below and above ``output`` (to explain a miss)."""
    sized = {value: out for value, out in outcomes.items() if isinstance(out, int)}
    below = [v for v, out in sized.items() if out < output]
    above = [v for v, out in sized.items() if out > output]
    picks: list[int] = []
    if below:
        closest = max(sized[v] for v in below)
        picks += [v for v in below if sized[v] == closest][:2]
    if above:
        closest = min(sized[v] for v in above)
        picks += [v for v in above if sized[v] == closest][:2]
    if not picks:
        picks = sorted(outcomes)[:2]
    return {value: outcomes[value] for value in sorted(picks)}


def solve(
    operation: str,
    unknown: str,
    sizes: Sequence[int],
    outputs: Sequence[int],
    params: dict[str, Sequence[int]],
    ceil_mode: bool = False,
    layers: int = 1,
) -> list[Solutions]:
    """One :class:`Solutions` per dimension; ``params`` hold the known parameters per dimension."""
    if operation not in OPERATIONS:
        raise CnngenError(f"operation: expected one of {', '.join(OPERATIONS)}", "operation")
    if len(outputs) != len(sizes):
        raise CnngenError(
            f"output: {len(outputs)} sizes for a {len(sizes)}-dimensional input; give one "
            f"output size per input dimension",
            "output",
        )
    from cnngen.core.checks import MAX_SIZE

    for name, values in (("input", sizes), ("output", outputs), *params.items()):
        for value in values:
            if value > MAX_SIZE:
                raise CnngenError(
                    f"{name}: {value:,} is above cnngen's limit of {MAX_SIZE:,} for any one "
                    f"size or layer parameter",
                    name,
                )
    answers = []
    for dim, (size, output) in enumerate(zip(sizes, outputs, strict=True)):
        known = {name: values[dim] for name, values in params.items() if name != unknown}
        layer = Layer(operation, ceil_mode=ceil_mode, **known)
        answers.append(solve_dimension(layer, unknown, size, output, layers))
    return answers


# ------------------------------------------------------------ the rearranged formula
def rearranged(layer: Layer, unknown: str, size: int, output: int) -> list[str]:
    """The forward formula solved for ``unknown``, written out and filled in.

    Floor division hides a remainder ``r`` (``0 <= r < stride``); the lines
    show the equation with it and the candidate values it allows.  The search,
    not this algebra, decides: the algebra only shows where the answer comes from.
    """
    n, out = size, output
    k, s, p, d, q = layer.kernel, layer.stride, layer.padding, layer.dilation, layer.output_padding
    op = layer.operation
    if op == "transposed":
        base = "out = (in-1)*stride - 2*padding + dilation*(kernel-1) + output_padding + 1"
        exact: dict[str, tuple[str, str, Callable[[], tuple[int, int]]]] = {
            "padding": (
                "2*padding = (in-1)*stride + dilation*(kernel-1) + output_padding + 1 - out",
                f"({n}-1)*{s} + {d}*({k}-1) + {q} + 1 - {out}",
                lambda: ((n - 1) * s + d * (k - 1) + q + 1 - out, 2),
            ),
            "kernel": (
                "kernel - 1 = (out - (in-1)*stride + 2*padding - output_padding - 1) / dilation",
                f"({out} - ({n}-1)*{s} + 2*{p} - {q} - 1) / {d}",
                lambda: (out - (n - 1) * s + 2 * p - q - 1, d),
            ),
            "stride": (
                "stride = (out + 2*padding - dilation*(kernel-1) - output_padding - 1) / (in-1)",
                f"({out} + 2*{p} - {d}*({k}-1) - {q} - 1) / ({n}-1)",
                lambda: (out + 2 * p - d * (k - 1) - q - 1, n - 1),
            ),
            "dilation": (
                "dilation = (out - (in-1)*stride + 2*padding - output_padding - 1) / (kernel-1)",
                f"({out} - ({n}-1)*{s} + 2*{p} - {q} - 1) / ({k}-1)",
                lambda: (out - (n - 1) * s + 2 * p - q - 1, k - 1),
            ),
            "output_padding": (
                "output_padding = out - (in-1)*stride + 2*padding - dilation*(kernel-1) - 1",
                f"{out} - ({n}-1)*{s} + 2*{p} - {d}*({k}-1) - 1",
                lambda: (out - (n - 1) * s + 2 * p - d * (k - 1) - 1, 1),
            ),
        }
        formula, filled, value = exact[unknown]
        numerator, denominator = value()
        return [
            base,
            f"  {formula}",
            f"  = {filled}",
            "  " + _quotient(unknown, numerator, denominator),
        ]
    rounding = "ceil" if op == "pool" and layer.ceil_mode else "floor"
    base = f"out = {rounding}((in + 2*padding - dilation*(kernel-1) - 1) / stride) + 1"
    # floor(x / s) = out - 1  <=>  x = (out-1)*s + r with 0 <= r < s (ceil: x = (out-1)*s - r).
    sign = "-" if rounding == "ceil" else "+"
    x = f"(out-1)*stride {sign} r"
    rests = range(s) if unknown != "stride" else range(1)
    if unknown == "padding":
        formula = f"2*padding = {x} - in + dilation*(kernel-1) + 1"

        def value(r: int) -> tuple[int, int]:
            return (out - 1) * s + (r if sign == "+" else -r) - n + d * (k - 1) + 1, 2

        filled = f"({out}-1)*{s} {sign} r - {n} + {d}*({k}-1) + 1"
    elif unknown == "kernel":
        formula = f"kernel - 1 = (in + 2*padding - 1 - ({x})) / dilation"

        def value(r: int) -> tuple[int, int]:
            return n + 2 * p - 1 - (out - 1) * s - (r if sign == "+" else -r), d

        filled = f"({n} + 2*{p} - 1 - ({out}-1)*{s} {'-' if sign == '+' else '+'} r) / {d}"
    elif unknown == "dilation":
        formula = f"dilation = (in + 2*padding - 1 - ({x})) / (kernel-1)"

        def value(r: int) -> tuple[int, int]:
            return n + 2 * p - 1 - (out - 1) * s - (r if sign == "+" else -r), k - 1

        filled = f"({n} + 2*{p} - 1 - ({out}-1)*{s} {'-' if sign == '+' else '+'} r) / ({k}-1)"
    else:
        width = n + 2 * p - d * (k - 1) - 1
        lines = [
            base,
            "  stride: the windows start at 0, stride, 2*stride, ... and must fit in "
            "in + 2*padding - dilation*(kernel-1) - 1",
            f"  = {n} + 2*{p} - {d}*({k}-1) - 1 = {width}",
        ]
        if out == 1:
            lines.append(f"  out = 1 needs stride > {width} (one window)")
        elif width >= 0:
            lines.append(
                f"  out = {out} needs (out-1)*stride <= {width} < out*stride, "
                f"i.e. {width / out:.4g} < stride <= {width / (out - 1):.4g}"
            )
        return lines
    lines = [base, f"  {formula}, 0 <= r < stride", f"  = {filled}"]
    shown = [f"r={r}: " + _quotient(unknown, *value(r)) for r in list(rests)[:6]]
    if len(rests) > 6:
        shown.append(f"... (r up to {s - 1})")
    lines.append("  " + "; ".join(shown))
    return lines


def _quotient(unknown: str, numerator: int, denominator: int) -> str:
    """``numerator / denominator`` as a value of ``unknown`` (kernel: plus one), or why not."""
    if denominator == 0:
        return f"{numerator} / 0: {unknown} does not change the output here"
    if numerator % denominator:
        return f"{numerator} / {denominator} is not a whole number"
    result = numerator // denominator + (1 if unknown == "kernel" else 0)
    return f"{unknown} = {result}"


# ------------------------------------------------------------- public helpers
def conv_paddings(
    size: int, output: int, kernel: int, stride: int = 1, dilation: int = 1
) -> list[int]:
    """Every symmetric padding that makes ``nn.ConvNd`` map ``size`` to ``output`` (maybe none).

    >>> conv_paddings(8, 22, 3)
    [8]
    >>> conv_paddings(10, 4, 3, stride=3)
    [1, 2]
    """
    layer = Layer("conv", kernel=kernel, stride=stride, dilation=dilation)
    return list(solve_dimension(layer, "padding", size, output).values)


def solve_padding(
    size: int | Sequence[int],
    output: int | Sequence[int],
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] = 1,
    dilation: int | Sequence[int] = 1,
) -> int | tuple[int, ...]:
    """The smallest symmetric padding per dimension that gives a convolution ``output``.

    Raises :class:`~cnngen.errors.CnngenError` naming the dimension where no
    padding works.  :func:`solve` lists every padding (and solves for the
    other parameters too).

    >>> solve_padding((8, 16), (22, 30), 3)
    (8, 8)
    >>> solve_padding(28, 28, 5)
    2
    """
    columns, sequence = arithmetic.helper_columns(
        size, output=output, kernel_size=kernel_size, stride=stride, dilation=dilation
    )
    answers = []
    for dim, (n, out, k, s, d) in enumerate(columns):
        paddings = _smallest_padding(n, out, k, s, d)
        if not paddings:
            span = d * (k - 1) + 1
            raise CnngenError(
                f"padding: no padding maps {n} to {out} with kernel {k}, stride {s}, dilation {d} "
                f"(dimension {dim + 1}); with padding 0 the output is "
                f"{(n - span) // s + 1 if n >= span else 'empty'}",
                "padding",
            )
        answers.append(paddings[0])
    return tuple(answers) if sequence else answers[0]


def _smallest_padding(size: int, output: int, kernel: int, stride: int, dilation: int) -> list[int]:
    """The smallest padding giving ``output`` (as a list, empty where none does), in O(1).

    The output never shrinks as padding grows, so the smallest candidate is the
    least padding whose output reaches ``output``; the forward formula then
    says whether it is exact.  Searching would take as many steps as the
    padding is large.
    """
    span = dilation * (kernel - 1) + 1
    # floor((size + 2p - span) / stride) + 1 >= output  <=>  2p >= stride*(output-1) + span - size
    padding = max(0, -(-(stride * (output - 1) + span - size) // 2))
    try:
        got = arithmetic.conv_size(size, kernel, stride, padding, dilation)
    except CnngenError:
        return []
    return [padding] if got == output else []
