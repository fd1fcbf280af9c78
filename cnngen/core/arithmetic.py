"""Exact output sizes of convolution, transposed convolution and pooling.

Pure Python, no torch: the formulas are those of the PyTorch documentation and
the property tests compare every function with the real torch layer.  Every
parameter is an int or a per-dimension tuple, for 1 to 3 spatial dimensions.
Where torch would refuse a configuration, these functions refuse it too, with
a :class:`~cnngen.errors.CnngenError` that says why.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from cnngen.errors import CnngenError

if TYPE_CHECKING:  # fractions is imported where a field is computed, not by planning
    from fractions import Fraction

IntOrSeq = int | Sequence[int]


def expand(value: IntOrSeq, dims: int, name: str) -> tuple[int, ...]:
    """Return ``value`` as a tuple of ``dims`` ints (an int is repeated)."""
    if isinstance(value, bool):
        raise CnngenError(f"{name}: expected an integer, got {value!r}", name)
    if isinstance(value, int):
        return (value,) * dims
    values = tuple(value)
    if len(values) == 1:
        return values * dims
    if len(values) != dims:
        raise CnngenError(
            f"{name}: expected 1 or {dims} values (one per spatial dimension), got {len(values)}",
            name,
        )
    for item in values:
        if isinstance(item, bool) or not isinstance(item, int):
            raise CnngenError(f"{name}: expected integers, got {item!r}", name)
    return values


def _at_least(values: tuple[int, ...], low: int, name: str) -> None:
    for value in values:
        if value < low:
            raise CnngenError(f"{name}: must be >= {low}, got {value}", name)


def conv_size(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length of one dimension of ``nn.ConvNd``.

    ``floor((size + 2*padding - dilation*(kernel-1) - 1) / stride) + 1``
    """
    span = dilation * (kernel - 1) + 1
    padded = size + 2 * padding
    if padded < span:
        raise CnngenError(
            f"kernel: the dilated kernel spans {span} but the padded input is only "
            f"{padded} (input {size} + 2*padding {padding}); use a smaller kernel "
            f"or dilation, or more padding",
            "kernel",
        )
    return (padded - span) // stride + 1


def transposed_size(
    size: int,
    kernel: int,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
) -> int:
    """Output length of one dimension of ``nn.ConvTransposeNd``.

    ``(size-1)*stride - 2*padding + dilation*(kernel-1) + output_padding + 1``
    """
    if output_padding >= stride and output_padding >= dilation:
        raise CnngenError(
            f"output_padding: must be smaller than stride ({stride}) or dilation "
            f"({dilation}), got {output_padding}",
            "output_padding",
        )
    out = (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1
    if out < 1:
        raise CnngenError(
            f"padding: {padding} leaves a transposed output of {out} for input {size}; "
            f"at most {(padding * 2 + out - 1) // 2} padding keeps the output >= 1",
            "padding",
        )
    return out


def pool_size(
    size: int,
    kernel: int,
    stride: int | None = None,
    padding: int = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
) -> int:
    """Output length of one dimension of ``nn.MaxPoolNd`` / ``nn.AvgPoolNd``.

    ``stride`` defaults to ``kernel`` as in torch.  With ``ceil_mode`` the last
    window is kept only if it starts inside the input or its left padding, which
    is the rule torch applies.
    """
    if stride is None:
        stride = kernel
    if padding * 2 > kernel:
        raise CnngenError(
            f"padding: pooling padding must be at most half the kernel "
            f"({kernel // 2} for kernel {kernel}), got {padding}",
            "padding",
        )
    span = dilation * (kernel - 1) + 1
    numerator = size + 2 * padding - span
    if ceil_mode:
        # torch rounds up before checking, so in ceil mode one window may
        # overhang the padded input by up to stride - 1 positions.
        out = -(-numerator // stride) + 1
        if (out - 1) * stride >= size + padding:
            out -= 1
    else:
        out = numerator // stride + 1
    if out < 1:
        raise CnngenError(
            f"kernel: the pooling window spans {span} but the padded input is only "
            f"{size + 2 * padding}; use a smaller kernel",
            "kernel",
        )
    return out


def _per_dim(
    function_name: str,
    sizes: Sequence[int],
    params: tuple[tuple[str, IntOrSeq, int], ...],
) -> list[tuple[int, ...]]:
    """Each of ``params`` (name, value, lowest legal value) as one int per dimension of ``sizes``.

    Every value is expanded (and its form checked) before any is checked
    against its lowest value, so a refusal names the same argument whatever
    else is wrong.
    """
    dims = len(sizes)
    if not 1 <= dims <= 3:
        raise CnngenError(
            f"input: {function_name} takes 1 to 3 spatial dimensions, got {dims}",
            "input",
        )
    _at_least(tuple(sizes), 1, "input")
    columns = [expand(value, dims, name) for name, value, _ in params]
    for (name, _, low), column in zip(params, columns, strict=True):
        _at_least(column, low, name)
    return columns


def conv_output_shape(
    sizes: Sequence[int],
    kernel: IntOrSeq,
    stride: IntOrSeq = 1,
    padding: IntOrSeq = 0,
    dilation: IntOrSeq = 1,
) -> tuple[int, ...]:
    """Spatial output shape of ``nn.ConvNd`` for input spatial ``sizes``."""
    kernels, strides, paddings, dilations = _per_dim(
        "convolution",
        sizes,
        (("kernel", kernel, 1), ("stride", stride, 1), ("padding", padding, 0),
         ("dilation", dilation, 1)),
    )  # fmt: skip
    return tuple(map(conv_size, sizes, kernels, strides, paddings, dilations))


def transposed_output_shape(
    sizes: Sequence[int],
    kernel: IntOrSeq,
    stride: IntOrSeq = 1,
    padding: IntOrSeq = 0,
    output_padding: IntOrSeq = 0,
    dilation: IntOrSeq = 1,
) -> tuple[int, ...]:
    """Spatial output shape of ``nn.ConvTransposeNd`` for input spatial ``sizes``."""
    columns = _per_dim(
        "transposed convolution",
        sizes,
        (("kernel", kernel, 1), ("stride", stride, 1), ("padding", padding, 0),
         ("output_padding", output_padding, 0), ("dilation", dilation, 1)),
    )  # fmt: skip
    return tuple(map(transposed_size, sizes, *columns))


def planned_conv_shape(
    sizes: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
) -> tuple[int, ...]:
    """:func:`conv_output_shape` for the planner's own values: one int per dimension each.

    The planner builds every layer from values it has already checked, so
    expanding and re-checking each argument's form, once per layer, cost
    more than the formula.  A kernel the padded input cannot hold is still
    refused, by :func:`conv_size`.
    """
    if not len(sizes) == len(kernel) == len(stride) == len(padding) == len(dilation):
        raise ValueError("one value per spatial dimension expected")
    return tuple(map(conv_size, sizes, kernel, stride, padding, dilation))


def planned_transposed_shape(
    sizes: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    output_padding: Sequence[int],
    dilation: Sequence[int],
) -> tuple[int, ...]:
    """:func:`transposed_output_shape` for the planner's own values (see planned_conv_shape)."""
    if not len(sizes) == len(kernel) == len(stride) == len(padding) == len(dilation):
        raise ValueError("one value per spatial dimension expected")
    if len(output_padding) != len(sizes):
        raise ValueError("one output padding per spatial dimension expected")
    return tuple(map(transposed_size, sizes, kernel, stride, padding, output_padding, dilation))


def pool_output_shape(
    sizes: Sequence[int],
    kernel: IntOrSeq,
    stride: IntOrSeq | None = None,
    padding: IntOrSeq = 0,
    dilation: IntOrSeq = 1,
    ceil_mode: bool = False,
    kind: str = "max",
) -> tuple[int, ...]:
    """Spatial output shape of ``nn.MaxPoolNd`` (``kind="max"``) or ``nn.AvgPoolNd``.

    torch's average pooling has no dilation; asking for one is refused.
    """
    if kind not in ("max", "avg"):
        raise CnngenError(f"kind: expected 'max' or 'avg', got {kind!r}", "kind")
    kernels, strides, paddings, dilations = _per_dim(
        "pooling",
        sizes,
        (("kernel", kernel, 1), ("stride", kernel if stride is None else stride, 1),
         ("padding", padding, 0), ("dilation", dilation, 1)),
    )  # fmt: skip
    if kind == "avg" and any(d != 1 for d in dilations):
        raise CnngenError(
            "dilation: average pooling has no dilation in torch; use 1 or max pooling",
            "dilation",
        )
    if kind == "avg" and len(sizes) == 3:
        # torch's 3D average pooling alone also wants the unpadded input to hold the kernel.
        for size, window in zip(sizes, kernels, strict=True):
            if size < window:
                raise CnngenError(
                    f"kernel: 3D average pooling needs the input ({size}) to be at least "
                    f"the kernel ({window}) before padding; use a kernel of at most {size}",
                    "kernel",
                )
    return tuple(
        pool_size(size, window, step, pad, spacing, ceil_mode)
        for size, window, step, pad, spacing in zip(
            sizes, kernels, strides, paddings, dilations, strict=True
        )
    )


def same_padding(size: int, kernel: int, stride: int = 1, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's ``padding="same"``: (before, after) so that out = ceil(size/stride).

    The total is split with the smaller half first, as TensorFlow does; an odd
    total therefore needs an explicit pad layer in PyTorch.
    """
    out = -(-size // stride)
    total = max((out - 1) * stride + dilation * (kernel - 1) + 1 - size, 0)
    return total // 2, total - total // 2


def _exact(value: int | Fraction) -> int | Fraction:
    """``value`` as an int when it is whole, so the common case stays integer arithmetic.

    An int is its own numerator over 1, so ints pass through unchanged.
    """
    return value.numerator if value.denominator == 1 else value


class Field(NamedTuple):
    """Receptive field and jump (effective stride) of one dimension, in input pixels.

    Both are exact.  ``jump`` becomes a Fraction once a transposed convolution
    divides it unevenly; whole values are kept as ints, because planning
    carries a field through every op and Fraction arithmetic is many times
    slower than int arithmetic (the values compare equal either way).  A
    named tuple rather than a frozen dataclass for the same reason: planning
    makes one per op and dimension, and a tuple is several times cheaper to make.
    """

    size: int | Fraction
    jump: int | Fraction

    def through_conv(self, kernel: int, stride: int, dilation: int = 1) -> Field:
        """The field after a convolution or pooling window."""
        span = dilation * (kernel - 1) + 1
        return Field(_exact(self.size + (span - 1) * self.jump), _exact(self.jump * stride))

    def through_transposed(self, kernel: int, stride: int, dilation: int = 1) -> Field:
        """The field after a transposed convolution.

        Each output position sees at most ceil(span / stride) input positions,
        so this is an upper bound (some positions see fewer); the jump shrinks
        by the stride.  Plans compute the exact field of their central output
        position instead (:mod:`cnngen.core.fields`).
        """
        span = dilation * (kernel - 1) + 1
        taps = math.ceil(span / stride)
        if isinstance(self.jump, int) and self.jump % stride == 0:
            jump: int | Fraction = self.jump // stride
        else:
            from fractions import Fraction

            jump = _exact(Fraction(self.jump) / stride)
        return Field(_exact(self.size + (taps - 1) * self.jump), jump)


def receptive_field(
    layers: Sequence[tuple[str, IntOrSeq, IntOrSeq, IntOrSeq]], dims: int
) -> tuple[tuple[int, ...], tuple[Fraction, ...]]:
    """Receptive field and jump after a stack of layers.

    ``layers`` holds ``(kind, kernel, stride, dilation)`` with kind ``"conv"``,
    ``"pool"`` or ``"transposed"``.  Returns the per-dimension receptive field
    (rounded up to whole pixels) and the per-dimension jump.  With transposed
    layers the field is an upper bound: output positions of a transposed
    convolution see ``floor`` or ``ceil`` of ``span / stride`` inputs.
    """
    from fractions import Fraction

    fields = [Field(1, 1) for _ in range(dims)]
    for kind, kernel, stride, dilation in layers:
        k = expand(kernel, dims, "kernel")
        s = expand(stride, dims, "stride")
        d = expand(dilation, dims, "dilation")
        if kind in ("conv", "pool"):
            fields = [f.through_conv(k[i], s[i], d[i]) for i, f in enumerate(fields)]
        elif kind == "transposed":
            fields = [f.through_transposed(k[i], s[i], d[i]) for i, f in enumerate(fields)]
        else:
            raise CnngenError(f"kind: unknown layer kind {kind!r}", "kind")
    return (
        tuple(math.ceil(f.size) for f in fields),
        tuple(Fraction(f.jump) for f in fields),
    )


# ------------------------------------------------------------- public helpers
# Lowest legal value of each helper argument (torch refuses anything lower).
HELPER_LOWEST = {
    "size": 1,
    "kernel_size": 1,
    "stride": 1,
    "padding": 0,
    "output_padding": 0,
    "dilation": 1,
    "output": 1,
}


def helper_columns(size: Any, **values: Any) -> tuple[list[tuple[int, ...]], bool]:
    """Checked per-dimension columns ``(size, *values)`` for the public helpers.

    Each argument is an int or one int per dimension (1 to 3), within the
    CLI's limits; the answer is an int when ``size`` is one.  Everything else
    is a :class:`CnngenError` naming the argument.
    """
    from cnngen.core.checks import check_ints

    sizes = check_ints("size", size, low=HELPER_LOWEST["size"])
    dims = len(sizes)
    sequence = isinstance(size, (tuple, list))
    rows = [sizes]
    for name, value in values.items():
        if name == "output" and sequence != isinstance(value, (tuple, list)):
            raise CnngenError(
                f"output: give it as size is given (an int, or one int per dimension), got "
                f"{type(value).__name__} for a {type(size).__name__} size",
                "output",
            )
        items = check_ints(name, value, low=HELPER_LOWEST[name], dims=dims, exact=name == "output")
        rows.append(items * dims if len(items) == 1 else items)
    return list(zip(*rows, strict=True)), sequence


def _like(sequence: bool, values: list[int]) -> int | tuple[int, ...]:
    """Answer in the caller's form: an int for an int size, a tuple for a tuple."""
    return tuple(values) if sequence else values[0]


def conv_output_size(
    size: IntOrSeq,
    kernel_size: IntOrSeq,
    stride: IntOrSeq = 1,
    padding: IntOrSeq = 0,
    dilation: IntOrSeq = 1,
) -> int | tuple[int, ...]:
    """Output size of ``nn.ConvNd`` for ``size`` (an int, or one int per dimension).

    >>> conv_output_size(28, 5, padding=2)
    28
    >>> conv_output_size((97, 131), 3, stride=2, padding=1)
    (49, 66)
    """
    columns, sequence = helper_columns(
        size, kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation
    )
    return _like(sequence, [conv_size(*column) for column in columns])


def transposed_output_size(
    size: IntOrSeq,
    kernel_size: IntOrSeq,
    stride: IntOrSeq = 1,
    padding: IntOrSeq = 0,
    output_padding: IntOrSeq = 0,
    dilation: IntOrSeq = 1,
) -> int | tuple[int, ...]:
    """Output size of ``nn.ConvTransposeNd``.

    >>> transposed_output_size(49, 3, stride=2, padding=1)
    97
    >>> transposed_output_size(49, 3, stride=2, padding=1, output_padding=1)
    98
    """
    columns, sequence = helper_columns(
        size,
        kernel_size=kernel_size,
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        dilation=dilation,
    )
    return _like(sequence, [transposed_size(*column) for column in columns])


def pool_output_size(
    size: IntOrSeq,
    kernel_size: IntOrSeq,
    stride: IntOrSeq | None = None,
    padding: IntOrSeq = 0,
    dilation: IntOrSeq = 1,
    ceil_mode: bool = False,
) -> int | tuple[int, ...]:
    """Output size of ``nn.MaxPoolNd``/``nn.AvgPoolNd``; ``stride`` defaults to the kernel.

    >>> pool_output_size(7, 2)
    3
    >>> pool_output_size(7, 2, ceil_mode=True)
    4
    """
    from cnngen.core.checks import check_flag

    check_flag("ceil_mode", ceil_mode)
    stride = kernel_size if stride is None else stride
    columns, sequence = helper_columns(
        size, kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation
    )
    return _like(sequence, [pool_size(*column, ceil_mode=ceil_mode) for column in columns])
