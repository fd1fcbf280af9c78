"""cnngen.core.arithmetic against the real torch layers.

Every property builds the torch layer with the same parameters, runs a tiny
tensor through it and compares: where torch accepts, the sizes must be
equal; where torch refuses, cnngen must refuse too (with a CnngenError).

Rules found by running torch 2.x, which these tests pin down:

* Convolutions accept any padding (even far more than the kernel); they
  refuse only an output below 1.
* Transposed convolutions refuse ``output_padding`` that is not smaller than
  the stride *or* the dilation.  An output of 0 is an error in 1D but an
  empty tensor in 2D/3D; cnngen refuses it in every dimension, so an empty
  torch output counts as a refusal here.
* Pooling refuses padding above ``kernel // 2`` of the *raw* kernel (dilation
  does not enlarge the allowance, for max and average pooling alike).
* In ceil mode the last window may overhang the padded input by up to
  ``stride - 1``; torch keeps it unless it would start past the input and
  the left padding.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from torch import nn

from cnngen.core import arithmetic
from cnngen.core.arithmetic import Field, receptive_field
from cnngen.errors import CnngenError

torch.set_num_threads(1)

SETTINGS = settings(max_examples=1200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

REFUSED = "refused"


def torch_spatial(module: nn.Module, sizes: tuple[int, ...]) -> tuple[int, ...] | str:
    """The spatial output shape torch gives for a 1x1 input of ``sizes``, or REFUSED."""
    x = torch.zeros((1, 1, *sizes))
    try:
        with torch.no_grad():
            out = module(x)
    except (RuntimeError, ValueError):
        return REFUSED
    if out.numel() == 0:
        return REFUSED
    return tuple(out.shape[2:])


def ours(function, *args, **kwargs) -> tuple[int, ...] | str:
    try:
        return function(*args, **kwargs)
    except CnngenError:
        return REFUSED


@st.composite
def sizes(draw: st.DrawFn) -> tuple[int, ...]:
    dims = draw(st.integers(1, 3))
    high = 14 if dims < 3 else 7
    return tuple(draw(st.integers(1, high)) for _ in range(dims))


def param(low: int, high: int, dims: int) -> st.SearchStrategy:
    """An int, or a tuple with one value per dimension (as torch accepts both)."""
    single = st.integers(low, high)
    return st.one_of(single, st.tuples(*[single] * dims))


def as_tuple(value: int | tuple[int, ...], dims: int) -> tuple[int, ...]:
    return value if isinstance(value, tuple) else (value,) * dims


# ----------------------------------------------------------- convolution
@SETTINGS
@given(data=st.data(), size=sizes())
def test_conv_matches_torch(data: st.DataObject, size: tuple[int, ...]) -> None:
    dims = len(size)
    kernel = data.draw(param(1, 5, dims))
    stride = data.draw(param(1, 3, dims))
    padding = data.draw(param(0, 5, dims))
    dilation = data.draw(param(1, 3, dims))
    module = getattr(nn, f"Conv{dims}d")(1, 1, kernel, stride, padding, dilation, bias=False)
    expected = torch_spatial(module, size)
    got = ours(arithmetic.conv_output_shape, size, kernel, stride, padding, dilation)
    assert got == expected


@settings(max_examples=300, deadline=None)
@given(
    size=st.integers(1, 40),
    kernel=st.integers(1, 7),
    stride=st.integers(1, 4),
    padding=st.integers(0, 4),
    dilation=st.integers(1, 3),
)
def test_conv_size_is_the_documented_formula(
    size: int, kernel: int, stride: int, padding: int, dilation: int
) -> None:
    """The scalar function, checked against the formula in exact rational arithmetic."""
    numerator = size + 2 * padding - dilation * (kernel - 1) - 1
    if numerator < 0:
        with pytest.raises(CnngenError):
            arithmetic.conv_size(size, kernel, stride, padding, dilation)
        return
    expected = math.floor(Fraction(numerator, stride)) + 1
    assert arithmetic.conv_size(size, kernel, stride, padding, dilation) == expected


# ------------------------------------------------- transposed convolution
@SETTINGS
@given(data=st.data(), size=sizes())
def test_transposed_matches_torch(data: st.DataObject, size: tuple[int, ...]) -> None:
    dims = len(size)
    kernel = data.draw(param(1, 5, dims))
    stride = data.draw(param(1, 3, dims))
    padding = data.draw(param(0, 5, dims))
    output_padding = data.draw(param(0, 3, dims))
    dilation = data.draw(param(1, 3, dims))
    module = getattr(nn, f"ConvTranspose{dims}d")(
        1, 1, kernel, stride, padding, output_padding, bias=False, dilation=dilation
    )
    expected = torch_spatial(module, size)
    got = ours(
        arithmetic.transposed_output_shape, size, kernel, stride, padding, output_padding, dilation
    )
    assert got == expected


def test_transposed_output_padding_rule_names_the_option() -> None:
    """Allowed when smaller than stride or dilation; refused when neither."""
    assert arithmetic.transposed_size(3, 3, stride=1, output_padding=1, dilation=2) == 8
    with pytest.raises(CnngenError, match="output_padding") as error:
        arithmetic.transposed_size(3, 3, stride=2, output_padding=2, dilation=2)
    assert error.value.param == "output_padding"


def test_transposed_refusal_suggests_a_padding_that_works() -> None:
    with pytest.raises(CnngenError, match=r"at most (\d+) padding") as error:
        arithmetic.transposed_size(1, 4, padding=3)
    most = int(error.value.args[0].split("at most ")[1].split()[0])
    assert arithmetic.transposed_size(1, 4, padding=most) >= 1
    with pytest.raises(CnngenError):
        arithmetic.transposed_size(1, 4, padding=most + 1)


# ---------------------------------------------------------------- pooling
@SETTINGS
@given(data=st.data(), size=sizes())
def test_max_pool_matches_torch(data: st.DataObject, size: tuple[int, ...]) -> None:
    dims = len(size)
    kernel = data.draw(param(1, 5, dims))
    stride = data.draw(st.one_of(st.none(), param(1, 4, dims)))
    padding = data.draw(param(0, 3, dims))
    dilation = data.draw(param(1, 3, dims))
    ceil_mode = data.draw(st.booleans())
    module = getattr(nn, f"MaxPool{dims}d")(kernel, stride, padding, dilation, ceil_mode=ceil_mode)
    expected = torch_spatial(module, size)
    got = ours(
        arithmetic.pool_output_shape, size, kernel, stride, padding, dilation, ceil_mode, "max"
    )
    assert got == expected


@SETTINGS
@given(data=st.data(), size=sizes())
def test_avg_pool_matches_torch(data: st.DataObject, size: tuple[int, ...]) -> None:
    dims = len(size)
    kernel = data.draw(param(1, 5, dims))
    stride = data.draw(st.one_of(st.none(), param(1, 4, dims)))
    padding = data.draw(param(0, 3, dims))
    ceil_mode = data.draw(st.booleans())
    count_include_pad = data.draw(st.booleans())
    module = getattr(nn, f"AvgPool{dims}d")(
        kernel, stride, padding, ceil_mode=ceil_mode, count_include_pad=count_include_pad
    )
    expected = torch_spatial(module, size)
    got = ours(arithmetic.pool_output_shape, size, kernel, stride, padding, 1, ceil_mode, "avg")
    assert got == expected


@pytest.mark.parametrize(
    ("module", "size", "call"),
    [
        # ceil mode: one 2-wide window over a 1-long input is kept by torch
        (
            nn.MaxPool1d(2, 2, ceil_mode=True),
            (1,),
            lambda: arithmetic.pool_output_shape((1,), 2, 2, ceil_mode=True),
        ),
        (
            nn.AvgPool2d(3, 3, ceil_mode=True),
            (2, 2),
            lambda: arithmetic.pool_output_shape((2, 2), 3, 3, ceil_mode=True, kind="avg"),
        ),
        # a 2D transposed output of 0 is an empty tensor in torch, refused here
        (
            nn.ConvTranspose2d(1, 1, 4, padding=2),
            (1, 1),
            lambda: arithmetic.transposed_output_shape((1, 1), 4, padding=2),
        ),
        (
            nn.ConvTranspose1d(1, 1, 4, padding=2),
            (1,),
            lambda: arithmetic.transposed_output_shape((1,), 4, padding=2),
        ),
        # convolution padding far beyond the kernel is fine
        (
            nn.Conv1d(1, 1, 1, padding=10),
            (3,),
            lambda: arithmetic.conv_output_shape((3,), 1, padding=10),
        ),
    ],
)
def test_edge_cases_found_by_the_properties(module: nn.Module, size, call) -> None:
    assert ours(call) == torch_spatial(module, size)


def test_pool_padding_limit_ignores_dilation() -> None:
    """torch allows padding up to kernel // 2 of the raw kernel, even when dilated."""
    nn.MaxPool1d(2, 1, padding=1, dilation=2)(torch.zeros(1, 1, 9))
    assert arithmetic.pool_size(9, 2, 1, padding=1, dilation=2) == 9
    with pytest.raises(RuntimeError):
        nn.MaxPool1d(3, 1, padding=2, dilation=2)(torch.zeros(1, 1, 9))
    with pytest.raises(CnngenError, match="half the kernel") as error:
        arithmetic.pool_size(9, 3, 1, padding=2, dilation=2)
    assert error.value.param == "padding"


def test_avg_pool_has_no_dilation() -> None:
    with pytest.raises(CnngenError, match="dilation") as error:
        arithmetic.pool_output_shape((8,), 2, dilation=2, kind="avg")
    assert error.value.param == "dilation"
    with pytest.raises(TypeError):
        nn.AvgPool1d(2, dilation=2)  # type: ignore[call-arg]


def test_pool_stride_defaults_to_kernel_like_torch() -> None:
    assert arithmetic.pool_output_shape((10, 9), 3) == tuple(
        nn.MaxPool2d(3)(torch.zeros(1, 1, 10, 9)).shape[2:]
    )


# ------------------------------------------------------- argument handling
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ((3, 3, 3), "expected 1 or 2 values"),
        (True, "expected an integer"),
        ((3, 2.5), "expected integers"),
    ],
)
def test_expand_refuses_malformed_parameters(value: object, message: str) -> None:
    with pytest.raises(CnngenError, match=message):
        arithmetic.expand(value, 2, "kernel")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("function", "kwargs", "name"),
    [
        (arithmetic.conv_output_shape, {"kernel": 0}, "kernel"),
        (arithmetic.conv_output_shape, {"kernel": 3, "stride": 0}, "stride"),
        (arithmetic.conv_output_shape, {"kernel": 3, "padding": -1}, "padding"),
        (arithmetic.conv_output_shape, {"kernel": 3, "dilation": 0}, "dilation"),
        (arithmetic.transposed_output_shape, {"kernel": 3, "output_padding": -1}, "output_padding"),
        (arithmetic.pool_output_shape, {"kernel": 2, "kind": "median"}, "kind"),
    ],
)
def test_out_of_range_parameters_are_refused_by_name(function, kwargs, name: str) -> None:
    with pytest.raises(CnngenError) as error:
        function((8, 8), **kwargs)
    assert error.value.param == name


@pytest.mark.parametrize("sizes_", [(), (4, 4, 4, 4), (0, 4)])
def test_input_dimensions_and_sizes_are_checked(sizes_: tuple[int, ...]) -> None:
    with pytest.raises(CnngenError) as error:
        arithmetic.conv_output_shape(sizes_, 1)
    assert error.value.param == "input"


# ----------------------------------------------------------- same padding
@settings(max_examples=400, deadline=None)
@given(
    size=st.integers(1, 40),
    kernel=st.integers(1, 7),
    stride=st.integers(1, 4),
    dilation=st.integers(1, 3),
)
def test_same_padding_is_tensorflow_same(
    size: int, kernel: int, stride: int, dilation: int
) -> None:
    """(before, after) padding gives ceil(size / stride), the smaller half first."""
    before, after = arithmetic.same_padding(size, kernel, stride, dilation)
    assert 0 <= before <= after <= before + 1
    x = nn.functional.pad(torch.zeros(1, 1, size), (before, after))
    out = nn.Conv1d(1, 1, kernel, stride, dilation=dilation)(x)
    assert out.shape[2] == -(-size // stride)
    if before + after > 0:
        # The least padding that does it: one less and the output is short.
        shorter = size + before + after - 1
        span = dilation * (kernel - 1) + 1
        assert shorter < span or (shorter - span) // stride + 1 < -(-size // stride)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@settings(max_examples=150, deadline=None)
@given(size=st.integers(1, 30), kernel=st.integers(1, 6), dilation=st.integers(1, 3))
def test_same_padding_at_stride_1_equals_torch_same(size: int, kernel: int, dilation: int) -> None:
    """At stride 1 torch has padding="same"; the explicit pads give identical values."""
    torch.manual_seed(0)
    conv = nn.Conv1d(1, 1, kernel, dilation=dilation, padding="same", bias=False)
    x = torch.randn(1, 1, size)
    before, after = arithmetic.same_padding(size, kernel, 1, dilation)
    ours_ = nn.functional.conv1d(
        nn.functional.pad(x, (before, after)), conv.weight, dilation=dilation
    )
    with torch.no_grad():
        assert torch.equal(ours_, conv(x))


# --------------------------------------------------------- receptive field
def test_receptive_field_of_known_networks() -> None:
    lenet = [("conv", 5, 1, 1), ("pool", 2, 2, 1), ("conv", 5, 1, 1), ("pool", 2, 2, 1)]
    assert receptive_field(lenet, 2) == ((16, 16), (Fraction(4), Fraction(4)))

    vgg16: list[tuple[str, int, int, int]] = []
    for convs in (2, 2, 3, 3, 3):
        vgg16 += [("conv", 3, 1, 1)] * convs + [("pool", 2, 2, 1)]
    assert receptive_field(vgg16, 2) == ((212, 212), (Fraction(32), Fraction(32)))
    assert receptive_field(vgg16[:-1], 2)[0] == (196, 196)

    alexnet = [
        ("conv", 11, 4, 1), ("pool", 3, 2, 1), ("conv", 5, 1, 1), ("pool", 3, 2, 1),
        ("conv", 3, 1, 1), ("conv", 3, 1, 1), ("conv", 3, 1, 1), ("pool", 3, 2, 1),
    ]  # fmt: skip
    assert receptive_field(alexnet, 2)[0] == (195, 195)

    assert receptive_field([("conv", 3, 1, 1)] * 3, 1)[0] == (7,)
    assert receptive_field([("conv", 3, 1, 2)], 1)[0] == (5,)
    assert receptive_field([("conv", (3, 5), (1, 2), 1)] * 2, 2) == (
        (5, 13),
        (Fraction(1), Fraction(4)),
    )
    transposed = receptive_field([("conv", 3, 2, 1), ("transposed", 4, 2, 1)], 1)
    assert transposed == ((5,), (Fraction(1),))


def test_receptive_field_refuses_unknown_kinds() -> None:
    with pytest.raises(CnngenError):
        receptive_field([("upsample", 2, 2, 1)], 1)


Layer = tuple[str, int, int, int]


@st.composite
def stacks(draw: st.DrawFn) -> list[Layer]:
    count = draw(st.integers(1, 4))
    layers: list[Layer] = []
    for _ in range(count):
        if draw(st.booleans()):
            layers.append(
                ("conv", draw(st.integers(1, 5)), draw(st.integers(1, 3)), draw(st.integers(1, 3)))
            )
        else:
            layers.append(("pool", draw(st.integers(1, 3)), draw(st.integers(1, 3)), 1))
    return layers


def _torch_stack(layers: list[Layer], dims: int) -> nn.Sequential:
    """All-ones convolutions and average pools: every input in the window gets gradient."""
    modules: list[nn.Module] = []
    for kind, kernel, stride, dilation in layers:
        if kind == "conv":
            conv = getattr(nn, f"Conv{dims}d")(1, 1, kernel, stride, dilation=dilation, bias=False)
            nn.init.ones_(conv.weight)
            modules.append(conv)
        else:
            modules.append(getattr(nn, f"AvgPool{dims}d")(kernel, stride))
    return nn.Sequential(*modules).double()


def _footprint(gradient: torch.Tensor, axis: int) -> tuple[int, int]:
    """First and last input index with nonzero gradient along ``axis``."""
    other = [d for d in range(gradient.dim()) if d != axis]
    hit = gradient.abs().sum(dim=other) if other else gradient.abs()
    nonzero = torch.nonzero(hit).flatten()
    return int(nonzero[0]), int(nonzero[-1])


@settings(max_examples=250, deadline=None)
@given(layers=stacks(), dims=st.integers(1, 2), data=st.data())
def test_receptive_field_equals_autograd(
    layers: list[Layer], dims: int, data: st.DataObject
) -> None:
    """The gradient of one output pixel touches exactly the computed field.

    Unpadded layers keep every window inside the input, so output ``i`` sees
    input ``i*jump`` to ``i*jump + field - 1`` along each dimension.
    """
    fields, jumps = receptive_field(layers, dims)
    extra = [data.draw(st.integers(0, 6)) for _ in range(dims)]
    size = tuple(f + e for f, e in zip(fields, extra, strict=True))
    assume(math.prod(size) <= 40_000)
    model = _torch_stack(layers, dims)
    x = torch.ones((1, 1, *size), dtype=torch.float64, requires_grad=True)
    out = model(x)
    index = tuple(data.draw(st.integers(0, out.shape[2 + d] - 1)) for d in range(dims))
    out[(0, 0, *index)].backward()
    gradient = x.grad[0, 0]
    for d in range(dims):
        first, last = _footprint(gradient, d)
        assert last - first + 1 == fields[d]
        assert first == index[d] * jumps[d]


@settings(max_examples=150, deadline=None)
@given(
    layers=stacks(),
    kernel=st.integers(1, 5),
    stride=st.integers(1, 3),
    dilation=st.integers(1, 3),
)
def test_receptive_field_through_transposed_bounds_every_output(
    layers: list[Layer], kernel: int, stride: int, dilation: int
) -> None:
    """After a transposed convolution the field bounds every output pixel's footprint.

    Without dilation the widest output pixel reaches the bound exactly; with
    dilation some taps never line up with an input position, so it may not.
    """
    stack = [*layers, ("transposed", kernel, stride, dilation)]
    (field,), _ = receptive_field(stack, 1)
    (before,), (jump,) = receptive_field(layers, 1)
    span = dilation * (kernel - 1) + 1
    model = _torch_stack(layers, 1)
    up = nn.ConvTranspose1d(1, 1, kernel, stride, dilation=dilation, bias=False).double()
    nn.init.ones_(up.weight)
    length = before + int(jump) * (2 * span + 2)
    x = torch.ones((1, 1, length), dtype=torch.float64, requires_grad=True)
    out = up(model(x))
    widest = 0
    for i in range(out.shape[2]):
        (gradient,) = torch.autograd.grad(out[0, 0, i], x, retain_graph=True)
        if not gradient.any():
            continue  # no tap of the transposed kernel lands on this output
        first, last = _footprint(gradient[0, 0], 0)
        widest = max(widest, last - first + 1)
    assert widest <= field
    if dilation == 1:
        assert widest == field


def test_field_jump_is_exact_through_transposed() -> None:
    field = Field(Fraction(1), Fraction(1)).through_conv(3, 2).through_transposed(3, 2)
    assert field.jump == 1
    assert field == Field(Fraction(5), Fraction(1))
