"""The one-pass receptive fields equal the walk's, op for op, and stay linear in depth.

``cnngen.core.fields.walk_annotate`` walks every op's central position back to
the input (the definition, checked against gradients in tests/test_fields.py);
``cnngen.core.field_maps`` carries the same walk forward.  Wherever the forward
pass answers, every op's field and the output's must be the walk's.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cnngen
from cnngen.core import field_maps, fields
from cnngen.core.fields import annotate, walk_annotate
from cnngen.core.plan import Plan
from cnngen.core.vocab import PRESETS
from cnngen.errors import CnngenError

PRESET_NAMES = sorted(PRESETS)


def walked_fields(plan: Plan) -> tuple[list[tuple[Any, ...]], Any]:
    stages, output = walk_annotate(plan.stages, plan.input_shape)
    per_stage = [
        tuple(op.receptive_field for branch in ("ops", "shortcut", "post")
              for op in getattr(stage, branch))
        for stage in stages
    ]  # fmt: skip
    return per_stage, output


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    family = draw(
        st.sampled_from(["encoder", "forecaster", "classifier", "unet", "decoder", "equivariant"])
    )
    dims = 2 if family == "equivariant" else draw(st.integers(1, 3))
    size = tuple(draw(st.integers(3, 60)) for _ in range(dims))
    if family == "equivariant":
        size = (size[0], size[0])
    options: dict[str, Any] = {
        "input_size": size,
        "layers": draw(st.integers(1, 7)),
        "max_channels": 8,
    }
    if family in ("encoder", "forecaster", "classifier", "equivariant"):
        options["start_channels"] = 2
        options["downsample"] = draw(st.sampled_from(["stride", "pool", "none"]))
        options["kernel"] = (draw(st.sampled_from([1, 2, 3, 4, 5, 7])),)
        options["padding"] = draw(st.sampled_from(["same", "valid", "auto"]))
        options["dilation"] = (draw(st.sampled_from([1, 1, 2])),)
        options["se"] = draw(st.booleans())
        options["depthwise"] = draw(st.booleans())
    if family == "classifier":
        options["block"] = draw(st.sampled_from(["plain", "residual", "bottleneck", "convnext"]))
        options["head"] = draw(st.sampled_from(["flatten", "gap"]))
    if family in ("forecaster", "decoder") and draw(st.booleans()):
        options["decoder_kernel"] = (draw(st.sampled_from([2, 3, 4, 5])),)
        if draw(st.booleans()):
            options["decoder_stride"] = (draw(st.sampled_from([1, 2, 3])),)
    if family == "forecaster" and draw(st.booleans()):
        options["latent"] = draw(st.sampled_from([8, (2,) * dims]))
    if family == "unet":
        options["start_channels"] = 2
        options["upsample"] = draw(st.sampled_from(["transposed", "pixelshuffle", "nearest"]))
        options["residual_units"] = draw(st.booleans())
    if family == "decoder":
        options["in_channels"] = 4
        options.pop("max_channels")
    return family, options


def forward_without_the_window_shortcut(plan: Plan, lead_back: Any) -> Any:
    """annotate_forward with every window stepped by step() and extent(), not _window_step."""
    shortcut = field_maps._WINDOW_KINDS
    field_maps._WINDOW_KINDS = frozenset()  # type: ignore[misc]
    try:
        return field_maps.annotate_forward(plan.stages, plan.input_shape, lead_back)
    finally:
        field_maps._WINDOW_KINDS = shortcut  # type: ignore[misc]


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(requests())
def test_forward_fields_equal_the_walk_on_random_plans(request: tuple[str, dict[str, Any]]) -> None:
    family, options = request
    try:
        plan = cnngen.plan(family, **options)
    except CnngenError:
        return  # a combination the solver refuses: nothing to compare
    lead_back = fields._lead_back(plan.stages, plan.input_shape)
    forward = field_maps.annotate_forward(plan.stages, plan.input_shape, lead_back)
    # The one-term window step is a shortcut: the general step gives every field the same.
    assert forward == forward_without_the_window_shortcut(plan, lead_back), (family, options)
    if forward is None:
        return  # declined: annotate walks, which is the definition
    assert forward == walked_fields(plan), (family, options)


DEEP = [
    ("forecaster", {"input_size": "512x384", "downsample": "none"}),
    ("classifier", {"input_size": "512x384", "block": "residual"}),
    ("classifier", {"input_size": "300", "block": "bottleneck", "se": True}),
    ("encoder", {"input_size": "24x24x24", "downsample": "none"}),
    ("unet", {"input_size": "256x256", "layers": 6, "residual_units": True}),
]


@pytest.mark.parametrize(("family", "options"), DEEP)
def test_deep_plans_take_the_forward_pass_and_match_the_walk(
    family: str, options: dict[str, Any]
) -> None:
    options = {"layers": 60, "start_channels": 4, "max_channels": 16, **options}
    plan = cnngen.plan(family, **options)
    forward = field_maps.annotate_forward(plan.stages, plan.input_shape)
    assert forward is not None, "the forward pass declined a plain deep plan"
    assert forward == walked_fields(plan)


@pytest.mark.parametrize("options", [{}, {"downsample": "none"}, {"se": True}])
def test_equivariant_plans_walk_only_their_rotation_stack(options: dict[str, Any]) -> None:
    """The rotation stack swaps dimensions: the maps start after it and walk it at the end."""
    plan = cnngen.plan("equivariant", input_size=(29, 29), layers=4, **options)
    lead_back = fields._lead_back(plan.stages, plan.input_shape)
    assert lead_back is not None
    forward = field_maps.annotate_forward(plan.stages, plan.input_shape, lead_back)
    assert forward == walked_fields(plan)


def test_a_window_over_padding_only_is_declined_not_guessed() -> None:
    """A transposed convolution with gaps leaves some outputs reading nothing."""
    plan = cnngen.plan("encoder", input_size=(40,), layers=2, start_channels=2, max_channels=4)
    conv = plan.stages[0].ops[0]
    gappy = conv.__class__(
        path="conv1", kind="conv_transpose", module="nn.ConvTranspose1d",
        args=(("kernel_size", 2), ("stride", 3)), in_shape=(1, 10), out_shape=(1, 29),
    )  # fmt: skip
    stage = plan.stages[0].__class__(
        name="up", kind="sequential", role="decoder", ops=(gappy,),
        in_shape=(1, 10), out_shape=(1, 29),
    )  # fmt: skip
    assert field_maps.annotate_forward([stage], (1, 10)) is None
    stages, _ = annotate([stage], (1, 10))
    # Output 14 (the centre of 29) of a kernel-2 stride-3 transposed convolution
    # receives no input at all: every third output is a gap.
    assert stages[0].ops[0].receptive_field == (0,)


def test_a_thousand_layers_plan_with_linear_fields() -> None:
    """At the documented depth the fields come from the forward pass, exact to the pixel."""
    plan = cnngen.plan("forecaster", input_size="3840x2160", layers=1000, downsample="none",
                       start_channels=8, max_channels=8)  # fmt: skip
    assert field_maps.annotate_forward(plan.stages, plan.input_shape) is not None
    # Each undownsampled 3x3 layer widens the field by 2, until the input clips it.
    assert plan.stages[999].ops[0].receptive_field == (2001, 2001)
    assert plan.stages[1000].ops[0].receptive_field == (2003, 2003)
    assert plan.stages[1500].ops[0].receptive_field == (3003, 2160)
    assert plan.receptive_field == (3840, 2160)


@pytest.mark.parametrize("size", [None, (33, 47)])
@pytest.mark.parametrize("preset", PRESET_NAMES)
def test_preset_fields_in_one_pass_equal_the_nested_walk(preset: str, size: Any) -> None:
    options = {} if size is None else {"input_size": size}
    try:
        plan = cnngen.plan("classifier", preset=preset, **options)
    except CnngenError:
        return  # a size this architecture cannot take
    forward = field_maps.annotate_nested_forward(plan.stages, plan.input_shape)
    assert forward is not None
    assert forward == fields.walk_annotate_nested(plan.stages, plan.input_shape)


def test_with_field_is_replace() -> None:
    """Op.with_field copies every field of Op and changes the field alone."""
    import dataclasses

    from cnngen.core.plan import Op

    values = {field.name: f"<{field.name}>" for field in dataclasses.fields(Op)}
    op = Op(**values)
    assert op.with_field((7,)) == dataclasses.replace(op, receptive_field=(7,))


def test_with_ops_is_replace() -> None:
    """Stage.with_ops copies every field of Stage and changes the three branches alone."""
    import dataclasses

    from cnngen.core.plan import Stage

    values = {field.name: f"<{field.name}>" for field in dataclasses.fields(Stage)}
    stage = Stage(**values)
    changed = dataclasses.replace(stage, ops=(1,), shortcut=(2,), post=(3,))
    assert stage.with_ops((1,), (2,), (3,)) == changed  # type: ignore[arg-type]


def test_new_op_is_the_constructor() -> None:
    """new_op lists every field of Op but the field: a new one must be added there too."""
    import dataclasses

    from cnngen.core.plan import Op, new_op

    values = {field.name: f"<{field.name}>" for field in dataclasses.fields(Op)}
    values["receptive_field"] = None
    made = new_op(**{name: value for name, value in values.items() if name != "receptive_field"})
    op = Op(**values)
    assert made == op and hash(made) == hash(op) and repr(made) == repr(op)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.path = "other"  # type: ignore[misc]


def test_new_stage_is_the_constructor() -> None:
    """new_stage fills every field of Stage: a new one must be added there too."""
    import dataclasses

    from cnngen.core.plan import Stage, new_stage

    given = {"name": "enc1", "kind": "sequential", "role": "encoder", "ops": (),
             "in_shape": (1, 8), "out_shape": (4, 4)}  # fmt: skip
    made = new_stage(**given)  # type: ignore[arg-type]
    stage = Stage(**given)  # type: ignore[arg-type]
    assert made == stage and hash(made) == hash(stage) and repr(made) == repr(stage)
    assert made.__dict__ == stage.__dict__
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.name = "other"  # type: ignore[misc]


def test_fields_are_written_only_into_ops_without_one() -> None:
    """The pass fills fresh ops in place; an op that holds another field is left as it is."""
    from cnngen.core.plan import fill_fields, new_op

    def fresh(path: str) -> Any:
        return new_op(path, "conv", "nn.Conv2d", (), (1, 8, 8), (1, 8, 8), 0, 0, 1)

    first, second = fresh("conv1"), fresh("conv2")
    assert fill_fields((first, second), ((3, 3), (5, 5)))
    assert (first.receptive_field, second.receptive_field) == ((3, 3), (5, 5))
    # Holding the very field asked for is as good as writing it.
    assert fill_fields((first,), ((3, 3),))
    # Annotated before with another field (another plan holds it): the caller copies.
    assert not fill_fields((first,), ((7, 7),))
    assert first.receptive_field == (3, 3)
    # One object at two places that need two fields: the second place is copied.
    shared = fresh("conv3")
    assert not fill_fields((shared, shared), ((3, 3), (5, 5)))
    assert shared.receptive_field == (3, 3)


def test_an_op_at_two_places_gets_each_place_its_own_field() -> None:
    from cnngen.core.builder import StageBuilder
    from cnngen.core.plan import Stage

    builder = StageBuilder((1, 16))
    conv = builder.conv(1, (3,), (1,), (1,))
    twice = Stage("twice", "sequential", "encoder", (conv, conv), (1, 16), (1, 16))
    (annotated,), field = annotate([twice], (1, 16))
    assert [op.receptive_field for op in annotated.ops] == [(3,), (5,)]
    assert field == (5,)


def test_annotating_a_plan_again_leaves_the_first_plan_as_it_was() -> None:
    plan = cnngen.plan("classifier", input_size="32x32", layers=3, block="residual")
    before = [op.receptive_field for stage in plan.stages for op in stage.every_op()]
    clipped, _ = annotate(plan.stages, (3, 8, 8))
    after = [op.receptive_field for stage in plan.stages for op in stage.every_op()]
    assert after == before
    assert [op.receptive_field for stage in clipped for op in stage.every_op()] != before
