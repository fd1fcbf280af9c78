"""The forward receptive-field pass gives the fields the walk back to the input gave.

``tests/fields_reference.py`` keeps the walk (exact, gradient-checked in
``tests/test_fields.py``, but quadratic in depth).  Here both run on random
networks built op by op, with every kind of layer the walk knows (and one it
does not), residual sums whose branches differ, merges and skip reads, and on
real plans of every family; they must agree on every op.  The last tests plan
at the documented depth limit, where the walk used to take seconds.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cnngen
from cnngen.core.fields import annotate
from cnngen.core.plan import Op, Shape, Stage
from cnngen.core.solver import solve
from cnngen.core.spec import make_spec
from cnngen.errors import CnngenError
from tests import fields_reference

KINDS = (
    "conv",
    "conv",
    "conv_transpose",
    "maxpool",
    "avgpool",
    "pad",
    "crop",
    "activation",
    "squeeze_excite",
    "rotation_stack",
    "upsample",
    "vector",
)


def _op(kind: str, args: list[tuple[str | None, Any]], shape: Shape, out: Shape) -> Op:
    return Op(path=kind, kind=kind, module=kind, args=tuple(args), in_shape=shape, out_shape=out)


def _window_args(draw: Any, dims: int, pool: bool) -> list[tuple[str | None, Any]]:
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(dims))
    args: list[tuple[str | None, Any]] = [
        ("kernel_size", kernel),
        ("stride", tuple(draw(st.integers(1, 3)) for _ in range(dims))),
        ("padding", tuple(draw(st.integers(0, 2)) for _ in range(dims))),
    ]
    if not pool:
        args.append(("dilation", tuple(draw(st.integers(1, 3)) for _ in range(dims))))
    return args


def _random_op(draw: Any, shape: Shape) -> list[Op]:
    """One op (a few for the vector detour) that fits ``shape``, or none."""
    kind = draw(st.sampled_from(KINDS))
    channels, sizes = shape[0], shape[1:]
    dims = len(sizes)
    if kind in ("conv", "conv_transpose", "maxpool", "avgpool"):
        args = _window_args(draw, dims, pool=kind.endswith("pool"))
        values = {key: value for key, value in args}
        out = []
        for d, size in enumerate(sizes):
            kernel, stride = values["kernel_size"][d], values["stride"][d]
            padding, dilation = values["padding"][d], values.get("dilation", (1,) * dims)[d]
            if kind == "conv_transpose":
                out.append((size - 1) * stride - 2 * padding + dilation * (kernel - 1) + 1)
            else:
                out.append((size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1)
        if min(out) < 1 or max(out) > 40:
            return []
        return [_op(kind, args, shape, (channels, *out))]
    if kind == "pad":
        before = [draw(st.integers(0, 3)) for _ in range(dims)]
        after = [draw(st.integers(0, 3)) for _ in range(dims)]
        order: list[int] = []
        for d in reversed(range(dims)):
            order += [before[d], after[d]]
        out = tuple(size + before[d] + after[d] for d, size in enumerate(sizes))
        return [_op(kind, [(None, tuple(order)), (None, 0.0)], shape, (channels, *out))]
    if kind == "crop":
        before = [draw(st.integers(0, max(size - 1, 0))) for size in sizes]
        after = [draw(st.integers(0, size - 1 - b)) for size, b in zip(sizes, before, strict=True)]
        out = tuple(size - b - a for size, b, a in zip(sizes, before, after, strict=True))
        return [_op(kind, [(None, tuple(before)), (None, out)], shape, (channels, *out))]
    if kind == "rotation_stack" and (dims != 2 or sizes[0] != sizes[1]):
        return []
    if kind == "upsample":
        return [_op(kind, [], shape, (channels, *(2 * size for size in sizes)))]
    if kind == "vector":
        flat = (channels * len(sizes),)
        return [
            _op("flatten", [], shape, flat),
            _op("linear", [], flat, (3,)),
            _op("unflatten", [], (3,), (3, *sizes)),
        ]
    return [_op(kind, [], shape, shape)]


def _chain(draw: Any, shape: Shape, length: int) -> list[Op]:
    ops: list[Op] = []
    for _ in range(length):
        ops += _random_op(draw, ops[-1].out_shape if ops else shape)
    return ops


def _match(ops: list[Op], shape: Shape, target: Shape) -> list[Op]:
    """Pad or crop the end of ``ops`` so that it ends in ``target``'s spatial size."""
    end = ops[-1].out_shape if ops else shape
    before = [max(e - t, 0) for e, t in zip(end[1:], target[1:], strict=True)]
    if any(before):
        out = (end[0], *(e - b for e, b in zip(end[1:], before, strict=True)))
        ops = [*ops, _op("crop", [(None, tuple(before)), (None, out[1:])], end, out)]
        end = out
    grow = [t - e for e, t in zip(end[1:], target[1:], strict=True)]
    if any(grow):
        order: list[int] = []
        for d in reversed(range(len(grow))):
            order += [0, grow[d]]
        out = (end[0], *target[1:])
        ops = [*ops, _op("pad", [(None, tuple(order)), (None, 0.0)], end, out)]
    return ops


@st.composite
def networks(draw: Any) -> tuple[list[Stage], Shape]:
    dims = draw(st.integers(1, 2))
    input_shape: Shape = (2, *(draw(st.integers(1, 20)) for _ in range(dims)))
    stages: list[Stage] = []
    for position in range(draw(st.integers(1, 5))):
        name = f"s{position}"
        shape = stages[-1].out_shape if stages else input_shape
        kind = draw(st.sampled_from(("sequential", "residual", "concat", "skip")))
        if kind == "concat" and stages:
            same = [s.name for s in stages if s.out_shape[1:] == shape[1:]]
            inputs = (draw(st.sampled_from(same)), stages[-1].name)
            stages.append(Stage(name, "concat", "merge", (), shape, shape, inputs=inputs))
            continue
        inputs: tuple[str, ...] = ()
        if kind == "skip" and stages:
            source = draw(st.sampled_from(stages))
            inputs, shape = (source.name,), source.out_shape
        ops = _chain(draw, shape, draw(st.integers(0 if kind == "residual" else 1, 4)))
        shortcut: list[Op] = []
        if kind == "residual":
            end = ops[-1].out_shape if ops else shape
            if draw(st.booleans()) or end[1:] != shape[1:]:
                shortcut = _match(_chain(draw, shape, draw(st.integers(0, 3))), shape, end)
        if not ops and kind != "residual":
            continue
        end = ops[-1].out_shape if ops else shape
        post = _chain(draw, end, draw(st.integers(0, 2)))
        out = post[-1].out_shape if post else end
        stage_kind = "residual" if kind == "residual" else "sequential"
        stages.append(
            Stage(
                name,
                stage_kind,
                "body",
                tuple(ops),
                shape,
                out,
                tuple(shortcut),
                tuple(post),
                inputs,
            )
        )
    if not stages:
        op = _op("activation", [], input_shape, input_shape)
        stages.append(Stage("s0", "sequential", "body", (op,), input_shape, input_shape))
    return stages, input_shape


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks())
def test_forward_pass_equals_walk_on_random_networks(network: tuple[list[Stage], Shape]) -> None:
    stages, input_shape = network
    assert annotate(stages, input_shape) == fields_reference.annotate(stages, input_shape)


FAMILY_OPTIONS = {
    "forecaster": {"latent": st.sampled_from([None, 8])},
    "encoder": {},
    "classifier": {
        "block": st.sampled_from(["plain", "residual", "bottleneck", "vgg"]),
        "se": st.booleans(),
        "head": st.sampled_from(["auto", "gap", "flatten"]),
    },
    "equivariant": {},
    "unet": {"upsample": st.sampled_from(["transposed", "nearest", "bilinear"])},
}


@st.composite
def requests(draw: Any) -> tuple[str, dict[str, Any]]:
    family = draw(st.sampled_from(sorted(FAMILY_OPTIONS)))
    dims = 2 if family == "equivariant" else draw(st.integers(1, 3))
    side = draw(st.integers(8, 48))
    sizes = (side, side) if family == "equivariant" else (side,) * dims
    options: dict[str, Any] = {"input_size": sizes, "layers": draw(st.integers(1, 5))}
    if family != "unet":
        options["downsample"] = draw(st.sampled_from(["stride", "pool", "none"]))
        options["padding"] = draw(st.sampled_from(["auto", "same", "valid"]))
        options["kernel"] = (draw(st.integers(2, 5)),)
        options["dilation"] = (draw(st.integers(1, 2)),)
    for key, strategy in FAMILY_OPTIONS[family].items():
        options[key] = draw(strategy)
    return family, options


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_forward_pass_equals_walk_on_plans(request: tuple[str, dict[str, Any]]) -> None:
    family, options = request
    try:
        plan = solve(make_spec(family, **options))
    except CnngenError:
        return  # a request the spec refuses has no fields to compare
    stages, field = fields_reference.annotate(plan.stages, plan.input_shape)
    assert (tuple(stages), field) == (plan.stages, plan.receptive_field)


@pytest.mark.parametrize("preset", ["resnet18", "mobilenet_v2", "googlenet", "se_resnet50"])
def test_forward_pass_equals_walk_on_presets(preset: str) -> None:
    """Presets report their textbook field, but their nested stages annotate alike."""
    plan = solve(make_spec("classifier", preset=preset, input_size=(64, 64)))
    expected = fields_reference.annotate(plan.stages, plan.input_shape)
    assert annotate(plan.stages, plan.input_shape) == expected


DEEP = [
    ("classifier", {"block": "residual"}),
    ("classifier", {"downsample": "none"}),
    ("encoder", {"downsample": "none"}),
    ("forecaster", {"downsample": "none"}),
    ("forecaster", {}),
]


@pytest.mark.parametrize(("family", "options"), DEEP)
def test_plans_at_the_layer_limit_at_4k(family: str, options: dict[str, Any]) -> None:
    """1000 layers at 3840x2160 plan in one pass: no recursion, no quadratic walk."""
    started = time.process_time()
    plan = cnngen.plan(family, input_size="3840x2160", layers=1000, **options)
    spent = time.process_time() - started
    ops = [op for stage in plan.stages for _, op in stage.all_ops()]
    assert len(ops) > 1000
    fields = [op.receptive_field for op in ops if len(op.out_shape) > 1]
    assert all(
        field and all(1 <= f <= s for f, s in zip(field, (3840, 2160), strict=True))
        for field in fields
    )
    # Stride-1 layers widen the field by the same step each time: it grows, never shrinks.
    assert fields[-1] >= fields[0]
    # A generous bound (the machine may be shared): the walk took 2-7 s here.
    assert spent < 3.0, f"{spent:.2f} s"


def test_deep_field_matches_the_closed_form() -> None:
    """400 stride-1 3x3 convolutions see 1 + 2 * 400 positions per side, clipped to the input."""
    plan = cnngen.plan("encoder", input_size="3840x2160", layers=400, downsample="none")
    convs = [op for stage in plan.stages for _, op in stage.all_ops() if op.kind == "conv"]
    assert len(convs) == 400
    for count, op in enumerate(convs, start=1):
        assert op.receptive_field == (min(1 + 2 * count, 3840), min(1 + 2 * count, 2160))
