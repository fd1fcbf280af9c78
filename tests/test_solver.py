"""The shape solver: properties of every plan, checked by arithmetic and by torch.

Random requests (1D to 3D, odd, prime and non-square sizes, random layer
counts, kernels, padding and downsampling modes) must either plan, with
every recorded shape reproducible from the op arguments, or fail with a
CnngenError that names the option at fault.  A sample of plans is built as
real torch modules and run.
"""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from torch import nn

from cnngen.core import arithmetic
from cnngen.core.plan import Op, Plan, Shape, Stage
from cnngen.core.solver import solve
from cnngen.core.spec import ModelSpec, make_spec
from cnngen.errors import CnngenError

torch.set_num_threads(1)

SHAPE_KEEPING = {
    "batchnorm",
    "instancenorm",
    "groupnorm",
    "dropout",
    "activation",
    "squeeze_excite",
    "rotation_stack",
    "rotation_mean",
}
RESIZING_WORDS = ("upsample", "interpolate", "adaptive", "resize")


# ------------------------------------------------------------- strategies
def size_param(draw: st.DrawFn, dims: int, low: int, high: int) -> tuple[int, ...]:
    """One value for every dimension, or one value per dimension."""
    if draw(st.booleans()):
        return (draw(st.integers(low, high)),)
    return tuple(draw(st.integers(low, high)) for _ in range(dims))


@st.composite
def requests(draw: st.DrawFn, families: tuple[str, ...] = ("encoder", "forecaster")) -> dict:
    """Keyword arguments for make_spec: a random, often infeasible, request."""
    family = draw(st.sampled_from(families))
    dims = draw(st.integers(1, 3))
    high = 40 if dims == 3 else 300
    input_size = tuple(draw(st.integers(1, high)) for _ in range(dims))
    options: dict[str, Any] = {
        "input_size": input_size,
        "layers": draw(st.integers(1, 8)),
        "kernel": size_param(draw, dims, 1, 5),
        "padding": draw(st.sampled_from(["auto", "same", "valid"])),
        "downsample": draw(st.sampled_from(["stride", "pool", "none"])),
        "sub_blocks": draw(st.integers(1, 3)),
        "dilation": size_param(draw, dims, 1, 2),
        "start_channels": 2,
        "min_channels": 1,
        "max_channels": 8,
        "in_channels": draw(st.integers(1, 3)),
    }
    if family == "forecaster":
        options["out_channels"] = draw(st.integers(1, 3))
    if draw(st.integers(0, 9)) == 0:
        options["stride"] = size_param(draw, dims, 1, 3)
    floor = draw(st.sampled_from(["default", "min", "target"]))
    if floor == "min":
        options["min_size"] = tuple(draw(st.integers(1, s)) for s in input_size)
    elif floor == "target":
        options["target_size"] = tuple(draw(st.integers(1, s)) for s in input_size)
    return {"family": family, **options}


def plan_or_error(request: dict) -> tuple[ModelSpec, Plan] | CnngenError:
    """The spec and plan for a request, or the CnngenError that refused it."""
    options = dict(request)
    family = options.pop("family")
    try:
        spec = make_spec(family, **options)
        return spec, solve(spec)
    except CnngenError as error:
        return error


# ----------------------------------------------------------- plan checks
def op_chains(stage: Stage) -> list[tuple[Shape, tuple[Op, ...], Shape]]:
    """(start shape, ops, end shape) for each chain of ops inside a stage."""
    if stage.kind == "sequential":
        return [(stage.in_shape, stage.ops, stage.out_shape)]
    main_out = stage.ops[-1].out_shape if stage.ops else stage.in_shape
    chains = [(stage.in_shape, stage.ops, main_out)]
    chains.append((stage.in_shape, stage.shortcut, main_out))
    chains.append((main_out, stage.post, stage.out_shape))
    return chains


def recomputed_shape(op: Op) -> Shape:
    """The output shape of ``op`` recomputed from its arguments with cnngen.arithmetic."""
    positional = [value for key, value in op.args if key is None]
    spatial = op.in_shape[1:]
    if op.kind == "conv":
        assert positional[0] == op.in_shape[0]
        out = arithmetic.conv_output_shape(
            spatial,
            op.arg("kernel_size"),
            op.arg("stride", 1),
            op.arg("padding", 0),
            op.arg("dilation", 1),
        )
        return (positional[1], *out)
    if op.kind == "conv_transpose":
        assert positional[0] == op.in_shape[0]
        out = arithmetic.transposed_output_shape(
            spatial,
            op.arg("kernel_size"),
            op.arg("stride", 1),
            op.arg("padding", 0),
            op.arg("output_padding", 0),
            op.arg("dilation", 1),
        )
        return (positional[1], *out)
    if op.kind in ("maxpool", "avgpool"):
        out = arithmetic.pool_output_shape(
            spatial,
            op.arg("kernel_size"),
            op.arg("stride"),
            op.arg("padding", 0),
            ceil_mode=op.arg("ceil_mode", False),
            kind=op.kind.removesuffix("pool"),
        )
        return (op.in_shape[0], *out)
    if op.kind == "pad":
        torch_order = positional[0]
        dims = len(spatial)
        grown = list(spatial)
        for i in range(dims):
            # torch lists the last dimension first: (last_before, last_after, ...)
            before, after = torch_order[2 * (dims - 1 - i)], torch_order[2 * (dims - 1 - i) + 1]
            grown[i] += before + after
        return (op.in_shape[0], *grown)
    if op.kind == "crop":
        start, size = positional
        assert all(s >= 0 and s + n <= i for s, n, i in zip(start, size, spatial, strict=True))
        return (op.in_shape[0], *size)
    if op.kind == "flatten":
        return (math.prod(op.in_shape),)
    if op.kind == "linear":
        assert positional[0] == op.in_shape[0]
        return (positional[1],)
    if op.kind == "unflatten":
        return tuple(positional[1])
    assert op.kind in SHAPE_KEEPING, op.kind
    return op.in_shape


def check_plan(spec: ModelSpec, plan: Plan) -> None:
    """Every invariant a plan must satisfy, whatever the family."""
    assert plan.input_shape == (spec.in_channels, *spec.input_size)
    shape = plan.input_shape
    for stage in plan.stages:
        assert stage.in_shape == shape, stage.name
        for start, ops, end in op_chains(stage):
            running = start
            for op in ops:
                assert op.in_shape == running, f"{stage.name}.{op.path}"
                assert recomputed_shape(op) == op.out_shape, f"{stage.name}.{op.path}"
                assert all(size >= 1 for size in op.out_shape)
                module = op.module.lower()
                assert not any(word in module for word in RESIZING_WORDS), op.module
                running = op.out_shape
            assert running == end, stage.name
        shape = stage.out_shape
    assert plan.output_shape == shape


def encoder_stages(plan: Plan) -> list[Stage]:
    return [stage for stage in plan.stages if stage.role in ("encoder", "trunk")]


def check_encoder_floor(spec: ModelSpec, plan: Plan) -> None:
    """Stage outputs stay at or above --min-size, or land exactly on --target-size."""
    stages = encoder_stages(plan)
    assert len(stages) == spec.layers
    if spec.target_size is not None:
        assert stages[-1].out_shape[1:] == spec.target_size
    else:
        for stage in stages:
            assert all(
                size >= floor
                for size, floor in zip(stage.out_shape[1:], spec.min_size, strict=True)
            ), (stage.name, stage.out_shape, spec.min_size)


def check_forecaster(spec: ModelSpec, plan: Plan) -> None:
    """The decoder mirrors the encoder exactly: no resize anywhere."""
    assert plan.output_shape == (spec.out_channels, *spec.input_size)
    encoder = encoder_stages(plan)
    decoder = [stage for stage in plan.stages if stage.role == "decoder"]
    assert len(decoder) == len(encoder)
    for step, stage in enumerate(decoder):
        mirror = encoder[len(encoder) - 1 - step]
        assert stage.in_shape[1:] == mirror.out_shape[1:], stage.name
        assert stage.out_shape[1:] == mirror.in_shape[1:], stage.name
        if step < len(decoder) - 1:
            assert stage.out_shape == mirror.in_shape, stage.name


def check_error(error: CnngenError) -> None:
    """An error names the option it is about, first thing in the message."""
    message = str(error)
    assert message.startswith("--"), message
    assert error.param is not None and error.param.startswith("--"), message
    assert message.startswith(f"{error.param}:"), message
    assert "\n" not in message


# -------------------------------------------------------------- properties
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=requests())
def test_every_plan_is_exact_or_the_error_names_the_option(request: dict) -> None:
    result = plan_or_error(request)
    event("refused" if isinstance(result, CnngenError) else "planned")
    if isinstance(result, CnngenError):
        check_error(result)
        match = re.search(r"at most (\d+) layers fit", str(result))
        if match and int(match.group(1)) >= 1:
            # The suggested layer count really plans.
            fewer = plan_or_error({**request, "layers": int(match.group(1))})
            assert not isinstance(fewer, CnngenError), (str(result), str(fewer))
            check_plan(*fewer)
        return
    spec, plan = result
    check_plan(spec, plan)
    check_encoder_floor(spec, plan)
    if spec.family == "forecaster":
        check_forecaster(spec, plan)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    dims=st.integers(1, 3),
    data=st.data(),
    layers=st.integers(1, 6),
    kernel=st.sampled_from([1, 3, 5]),
    sub_blocks=st.integers(1, 2),
)
def test_forecasters_with_default_options_always_plan(
    dims: int, data: st.DataObject, layers: int, kernel: int, sub_blocks: int
) -> None:
    """Odd kernels keep the size, so the solver only drops downsampling: nothing fails."""
    high = 40 if dims == 3 else 300
    size = tuple(data.draw(st.integers(1, high)) for _ in range(dims))
    spec = make_spec(
        "forecaster",
        input_size=size,
        layers=layers,
        kernel=kernel,
        sub_blocks=sub_blocks,
        start_channels=2,
        max_channels=8,
    )
    plan = solve(spec)
    check_plan(spec, plan)
    check_encoder_floor(spec, plan)
    check_forecaster(spec, plan)


@settings(max_examples=200, deadline=None)
@given(
    dims=st.integers(1, 2),
    data=st.data(),
    layers=st.integers(1, 6),
    kernel=st.sampled_from([1, 3, 5]),
)
def test_target_size_is_hit_exactly(
    dims: int, data: st.DataObject, layers: int, kernel: int
) -> None:
    size = tuple(data.draw(st.integers(1, 200)) for _ in range(dims))
    target = tuple(data.draw(st.integers(1, s)) for s in size)
    try:
        spec = make_spec(
            "encoder", input_size=size, layers=layers, kernel=kernel, target_size=target
        )
        plan = solve(spec)
    except CnngenError as error:
        check_error(error)
        assert error.param == "--target-size"
        return
    check_plan(spec, plan)
    assert encoder_stages(plan)[-1].out_shape[1:] == target


def test_a_reachable_target_is_found() -> None:
    """Halving 100 four times with size-keeping padding gives 7; the solver finds it."""
    spec = make_spec("encoder", input_size=(100,), layers=4, target_size=7)
    plan = solve(spec)
    assert plan.output_shape[1:] == (7,)
    check_plan(spec, plan)


# ---------------------------------------------------------------- torch
class SliceCrop(nn.Module):
    """An independent stand-in for the generated ``Crop``: a plain slice per dimension."""

    def __init__(self, start: tuple[int, ...], size: tuple[int, ...]) -> None:
        super().__init__()
        self.index = tuple(slice(s, s + n) for s, n in zip(start, size, strict=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[(slice(None), slice(None), *self.index)]


def torch_module(op: Op) -> nn.Module:
    """The torch module an op describes ("nn.Conv2d" -> torch.nn.Conv2d)."""
    if op.module == "Crop":
        return SliceCrop(*(value for _, value in op.args))
    assert op.module.startswith("nn."), f"{op.module} is not a torch module"
    cls = getattr(nn, op.module.removeprefix("nn."))
    args = [value for key, value in op.args if key is None]
    kwargs = {key: value for key, value in op.args if key is not None}
    return cls(*args, **kwargs)


def run_chain(ops: tuple[Op, ...], x: torch.Tensor) -> torch.Tensor:
    for op in ops:
        module = torch_module(op).eval()
        x = module(x)
        assert tuple(x.shape[1:]) == op.out_shape, (op.module, tuple(x.shape), op.out_shape)
    return x


def run_plan(plan: Plan) -> torch.Tensor:
    """Run a random input through modules built from the plan, checking every shape."""
    torch.manual_seed(0)
    x = torch.randn(1, *plan.input_shape)
    with torch.no_grad():
        for stage in plan.stages:
            if stage.kind == "sequential":
                x = run_chain(stage.ops, x)
            else:
                main = run_chain(stage.ops, x)
                shortcut = run_chain(stage.shortcut, x) if stage.shortcut else x
                x = run_chain(stage.post, main + shortcut)
            assert tuple(x.shape[1:]) == stage.out_shape, stage.name
    return x


@st.composite
def small_requests(draw: st.DrawFn) -> dict:
    """Requests small enough to run in torch, across the families without helper classes."""
    family = draw(st.sampled_from(["encoder", "forecaster", "classifier"]))
    dims = draw(st.integers(1, 3))
    high = {1: 200, 2: 48, 3: 14}[dims]
    options: dict[str, Any] = {
        "input_size": tuple(draw(st.integers(1, high)) for _ in range(dims)),
        "layers": draw(st.integers(1, 5)),
        "kernel": draw(st.integers(1, 5)),
        "padding": draw(st.sampled_from(["auto", "same", "valid"])),
        "dilation": draw(st.integers(1, 2)),
        "start_channels": 2,
        "max_channels": 4,
        "in_channels": draw(st.integers(1, 2)),
        "norm": draw(st.sampled_from(["batchnorm", "groupnorm", "none"])),
        "sub_blocks": draw(st.integers(1, 2)),
    }
    if family == "forecaster":
        options["out_channels"] = draw(st.integers(1, 2))
        if draw(st.booleans()):
            options["latent"] = draw(st.integers(1, 4))
    if family == "classifier":
        options["block"] = draw(st.sampled_from(["plain", "vgg", "residual", "bottleneck"]))
        options["depthwise"] = draw(st.booleans())
        options["classes"] = 3
        if options["block"] in ("residual", "bottleneck"):
            options["padding"] = draw(st.sampled_from(["auto", "same"]))
            options["kernel"] = draw(st.sampled_from([1, 3, 5]))
    else:
        options["downsample"] = draw(st.sampled_from(["stride", "pool", "none"]))
    return {"family": family, **options}


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=small_requests())
def test_plans_run_in_torch_with_the_planned_shapes(request: dict) -> None:
    result = plan_or_error(request)
    event("refused" if isinstance(result, CnngenError) else "planned")
    assume(not isinstance(result, CnngenError))
    spec, plan = result
    out = run_plan(plan)
    assert tuple(out.shape) == (1, *plan.output_shape)
    if spec.family == "forecaster":
        assert tuple(out.shape[2:]) == spec.input_size


@pytest.mark.parametrize(
    "request_",
    [
        {"family": "forecaster", "input_size": (97, 61), "layers": 5},
        {"family": "forecaster", "input_size": (13, 7, 11), "layers": 3, "latent": 8},
        {"family": "forecaster", "input_size": (1009,), "layers": 6, "kernel": 4},
        {
            "family": "forecaster",
            "input_size": (37, 29),
            "layers": 4,
            "padding": "same",
            "kernel": 4,
        },
        {"family": "classifier", "input_size": (33, 31), "layers": 3, "block": "residual"},
        {"family": "classifier", "input_size": (33, 31), "layers": 3, "block": "bottleneck"},
        {"family": "classifier", "input_size": (32, 32), "layers": 3, "depthwise": True},
        {"family": "classifier", "preset": "lenet5"},
    ],
)
def test_hand_picked_plans_run_in_torch(request_: dict) -> None:
    options = {"start_channels": 4, "max_channels": 8, **request_}
    if options.get("preset"):
        options = request_
    result = plan_or_error(options)
    assert not isinstance(result, CnngenError), str(result)
    spec, plan = result
    check_plan(spec, plan)
    out = run_plan(plan)
    assert tuple(out.shape[1:]) == plan.output_shape


# ---------------------------------------------------------- same padding
@settings(max_examples=200, deadline=None)
@given(
    dims=st.integers(1, 2),
    data=st.data(),
    layers=st.integers(1, 5),
    kernel=st.integers(1, 6),
    dilation=st.integers(1, 2),
)
def test_same_padding_follows_tensorflow(
    dims: int, data: st.DataObject, layers: int, kernel: int, dilation: int
) -> None:
    """Every convolution outputs ceil(input / stride); uneven padding is an explicit pad op."""
    size = tuple(data.draw(st.integers(1, 150)) for _ in range(dims))
    spec = make_spec(
        "encoder", input_size=size, layers=layers, kernel=kernel, padding="same", dilation=dilation
    )
    try:
        plan = solve(spec)
    except CnngenError as error:
        check_error(error)
        return
    check_plan(spec, plan)
    for stage in plan.stages:
        ops = list(stage.ops)
        for index, op in enumerate(ops):
            if op.kind != "conv":
                continue
            pad = ops[index - 1] if index and ops[index - 1].kind == "pad" else None
            source = (pad or op).in_shape[1:]
            kernel = arithmetic.expand(op.arg("kernel_size"), dims, "kernel")
            stride = arithmetic.expand(op.arg("stride", 1), dims, "stride")
            padding = arithmetic.expand(op.arg("padding", 0), dims, "padding")
            dilation = arithmetic.expand(op.arg("dilation", 1), dims, "dilation")
            torch_order = pad.args[0][1] if pad else (0,) * (2 * dims)
            for d in range(dims):
                assert op.out_shape[1 + d] == -(-source[d] // stride[d])
                # torch lists the last dimension first
                before = torch_order[2 * (dims - 1 - d)] + padding[d]
                after = torch_order[2 * (dims - 1 - d) + 1] + padding[d]
                expected = arithmetic.same_padding(source[d], kernel[d], stride[d], dilation[d])
                if kernel[d] == 1 and stride[d] == 1:
                    continue  # a pointwise convolution needs no padding at all
                assert (before, after) == expected
                if pad is not None and before != after:
                    assert padding[d] == 0


def test_same_padding_uses_a_pad_layer_only_when_uneven() -> None:
    def same(**options: Any) -> Plan:
        return solve(make_spec("encoder", input_size=(32,), layers=1, padding="same", **options))

    odd = same(kernel=3, downsample="none")
    assert [op.kind for op in odd.stages[0].ops if op.kind in ("pad", "conv")] == ["conv"]
    assert odd.stages[0].ops[0].arg("padding") == 1
    # stride 2 on an even size: TensorFlow pads 0 before and 1 after
    strided = same(kernel=3, downsample="stride")
    assert strided.stages[0].ops[0].args[0][1] == (0, 1)
    assert strided.output_shape[1:] == (16,)
    even = same(kernel=4, downsample="none")
    kinds = [op.kind for op in even.stages[0].ops if op.kind in ("pad", "conv")]
    assert kinds == ["pad", "conv"]
    pad = even.stages[0].ops[0]
    assert pad.args[0][1] == (1, 2)


# ---------------------------------------------------------------- errors
def test_too_many_layers_names_the_count_that_fits() -> None:
    with pytest.raises(CnngenError) as error:
        solve(make_spec("encoder", input_size=(100,), layers=30, stride=2))
    check_error(error.value)
    assert error.value.param == "--layers"
    most = int(re.search(r"at most (\d+) layers fit", str(error.value)).group(1))
    assert f"--layers {most} or fewer" in str(error.value)
    assert solve(make_spec("encoder", input_size=(100,), layers=most, stride=2)).output_shape
    with pytest.raises(CnngenError):
        solve(make_spec("encoder", input_size=(100,), layers=most + 1, stride=2))


@pytest.mark.parametrize(
    ("family", "options", "param"),
    [
        ("encoder", {"input_size": (100,), "min_size": 200}, "--min-size"),
        ("encoder", {"input_size": (100, 50), "target_size": (60, 60)}, "--target-size"),
        ("encoder", {"input_size": (0, 10)}, "--input-size"),
        ("encoder", {"input_size": (10,), "in_channels": 0}, "--in-channels"),
        ("forecaster", {"input_size": (10,), "out_channels": 0}, "--out-channels"),
        ("encoder", {"input_size": (10,), "start_channels": 0}, "--start-channels"),
        ("encoder", {"input_size": (10,), "layers": 0}, "--layers"),
        (
            "encoder",
            {"input_size": (10,), "min_channels": 64, "max_channels": 16},
            "--min-channels",
        ),
        ("encoder", {"input_size": (10,), "kernel": 0}, "--kernel"),
        (
            "encoder",
            {"input_size": (10,), "layers": 5, "padding": "valid", "kernel": 5},
            "--layers",
        ),
    ],
)
def test_impossible_requests_name_the_option(family: str, options: dict, param: str) -> None:
    with pytest.raises(CnngenError) as error:
        solve(make_spec(family, **options))
    check_error(error.value)
    assert error.value.param == param


def test_min_channels_above_max_suggests_a_value_that_works() -> None:
    with pytest.raises(CnngenError, match="use at most 16"):
        make_spec("encoder", input_size=(10,), min_channels=64, max_channels=16)
    spec = make_spec(
        "encoder", input_size=(10,), min_channels=16, max_channels=16, start_channels=16
    )
    plan = solve(spec)
    assert {op.out_shape[0] for stage in plan.stages for op in stage.ops if op.kind == "conv"} == {
        16
    }


# --------------------------------------------------------------- channels
def conv_channels(plan: Plan) -> list[int]:
    """Output channels of each encoder stage."""
    return [stage.out_shape[0] for stage in encoder_stages(plan)]


@pytest.mark.parametrize(
    ("rule", "ratio", "expected"),
    [
        ("exponential", 2.0, [4, 8, 16, 32, 64]),
        ("exponential", 1.5, [4, 6, 9, 14, 20]),
        ("linear", 2.0, [4, 8, 12, 16, 20]),
        ("power", 2.0, [4, 16, 36, 64, 100]),
        ("constant", 2.0, [4, 4, 4, 4, 4]),
    ],
)
def test_channel_rules(rule: str, ratio: float, expected: list[int]) -> None:
    spec = make_spec(
        "encoder", input_size=(64, 64), layers=5, channel_rule=rule, ratio=ratio, start_channels=4
    )
    plan = solve(spec)
    assert conv_channels(plan) == expected
    assert not any("clamped" in note for note in plan.notes)


def test_proportion_rule_follows_the_shrinking_feature_map() -> None:
    spec = make_spec(
        "encoder", input_size=(96, 24), layers=4, channel_rule="proportion", start_channels=3
    )
    plan = solve(spec)
    expected = []
    for stage in encoder_stages(plan):
        shrink = math.prod(i / o for i, o in zip(spec.input_size, stage.out_shape[1:], strict=True))
        expected.append(round(3 * shrink ** (1 / 2)))
    assert conv_channels(plan) == expected
    assert expected[-1] > expected[0]


def test_clamped_channels_are_noted() -> None:
    plan = solve(make_spec("encoder", input_size=(256,), layers=5, max_channels=64))
    assert conv_channels(plan) == [32, 64, 64, 64, 64]
    assert "channels clamped to 1..64 on layer(s) 3-5" in plan.notes
    plan = solve(
        make_spec(
            "encoder",
            input_size=(256,),
            layers=4,
            channel_rule="exponential",
            ratio=0.25,
            start_channels=32,
            min_channels=4,
        )
    )
    assert conv_channels(plan) == [32, 8, 4, 4]
    assert "channels clamped to 4..512 on layer(s) 3-4" in plan.notes


# ------------------------------------------------------------------ speed
def test_a_4k_forecaster_with_50_layers_plans_exactly() -> None:
    """How fast it plans is measured by benchmarks/plan_speed.py, not asserted here."""
    spec = make_spec("forecaster", input_size=(3840, 2160), in_channels=3, layers=50)
    plan = solve(spec)
    assert plan.output_shape == (3, 3840, 2160)


def test_a_square_input_reuses_only_what_its_planners_read() -> None:
    """plan_geometry reuses a dimension's layers for one that asks the same question.

    The question lists the per-dimension values by hand, so every ``spec.X[dim]``
    the planners read must be among them, or a square input could get the wrong layers.
    """
    import inspect
    import re

    from cnngen.core import geometry

    read = set(re.findall(r"spec\.(\w+)\[dim\]", inspect.getsource(geometry)))
    assert read, "the pattern no longer finds the planners' reads"
    assert read <= set(geometry.PER_DIMENSION_FIELDS)
    # Two dimensions that differ in one of these values are planned apart.
    spec = make_spec("encoder", input_size=(64, 64), layers=4, kernel=(3, 5))
    first, second = geometry.plan_geometry(spec).dims
    assert first[0].convs[0].kernel == 3 and second[0].convs[0].kernel == 5
    square = geometry.plan_geometry(make_spec("encoder", input_size=(64, 64), layers=4)).dims
    assert square[0] is square[1]


@settings(max_examples=300, deadline=None)
@given(
    size=st.integers(1, 5000),
    layers=st.integers(1, 14),
    kernel=st.integers(1, 7),
    dilation=st.integers(1, 3),
    floor=st.integers(1, 64),
    padding=st.sampled_from(["auto", "same", "valid", "0", "2", "5"]),
    downsample=st.sampled_from(["stride", "pool"]),
    sub_blocks=st.integers(1, 3),
)
def test_the_downsampling_search_skips_only_counts_that_cannot_fit(
    size: int,
    layers: int,
    kernel: int,
    dilation: int,
    floor: int,
    padding: str,
    downsample: str,
    sub_blocks: int,
) -> None:
    """The search starts below counts whose halvings end under --min-size: as if it tried all."""
    from cnngen.core import geometry

    try:
        spec = make_spec(
            "encoder", input_size=(size,), layers=layers, kernel=(kernel,), dilation=(dilation,),
            min_size=(floor,), padding=padding, downsample=downsample, sub_blocks=sub_blocks,
        )  # fmt: skip
    except CnngenError:
        return
    every_count: list[Any] | None = None
    for count in range(geometry._max_downsampling(spec, 0), -1, -1):
        intents = geometry._intents(spec, 0, geometry.spread(count, layers))
        realized = geometry._simulate(spec, 0, intents)
        if geometry._first_failure(spec, 0, realized, floor) is None:
            every_count = list(realized)  # type: ignore[arg-type]
            break
    try:
        searched = list(geometry._plan_dim_min(spec, 0, {}))
    except CnngenError:
        searched = None
    assert searched == every_count
