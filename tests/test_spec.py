"""Spec validation: every bad value is refused by name, and specs round-trip.

The table below tries a bad value for each option; the error must be a
CnngenError whose ``param`` and first words name that option.  Then random
valid specs are turned into CLI words with ``spec.command()`` and parsed back
through the real Click command: the result must be the same spec.
"""

from __future__ import annotations

import shlex
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cnngen.core import spec as spec_module
from cnngen.core.plan import copy_with
from cnngen.core.spec import ModelSpec, make_spec, option_name, spec_from_options
from cnngen.errors import CnngenError

BAD = [
    # (family, options, option named in the error, a phrase of the message)
    ("encodr", {"input_size": (10,)}, "family", "did you mean 'encoder'"),
    ("encoder", {}, "--input-size", "required"),
    ("encoder", {"input_size": ()}, "--input-size", "1 to 3"),
    ("encoder", {"input_size": (4, 4, 4, 4)}, "--input-size", "1 to 3"),
    ("encoder", {"input_size": (10, 0)}, "--input-size", ">= 1"),
    ("encoder", {"input_size": (-3,)}, "--input-size", ">= 1"),
    ("encoder", {"input_size": (10,), "layers": 0}, "--layers", ">= 1"),
    ("encoder", {"input_size": (10,), "layers": 1001}, "--layers", "at most 1000"),
    ("encoder", {"input_size": (10,), "in_channels": 0}, "--in-channels", ">= 1"),
    ("forecaster", {"input_size": (10,), "out_channels": 0}, "--out-channels", ">= 1"),
    ("encoder", {"input_size": (10,), "out_channels": 3}, "--out-channels", "only forecasters"),
    ("classifier", {"input_size": (10,), "classes": 0}, "--classes", ">= 2"),
    ("encoder", {"input_size": (10,), "start_channels": 0}, "--start-channels", ">= 1"),
    ("encoder", {"input_size": (10,), "min_channels": 0}, "--min-channels", ">= 1"),
    ("encoder", {"input_size": (10,), "max_channels": 0}, "--max-channels", ">= 1"),
    (
        "encoder",
        {"input_size": (10,), "min_channels": 64, "max_channels": 32},
        "--min-channels",
        "use at most 32",
    ),
    ("encoder", {"input_size": (10,), "start_channels": 1024}, "--start-channels", "outside"),
    ("forecaster", {"input_size": (10,), "latent": 0}, "--latent", ">= 1"),
    ("encoder", {"input_size": (10,), "latent": 8}, "--latent", "only forecasters"),
    ("encoder", {"input_size": (10,), "sub_blocks": 0}, "--sub-blocks", ">= 1"),
    ("encoder", {"input_size": (10,), "channel_rule": "expo"}, "--channel-rule", "exponential"),
    ("encoder", {"input_size": (10,), "norm": "batch"}, "--norm", "batchnorm"),
    ("encoder", {"input_size": (10,), "activation": "relux"}, "--activation", "'relu'"),
    ("encoder", {"input_size": (10,), "final_activation": "soft"}, "--final-activation", "none"),
    ("classifier", {"input_size": (10,), "block": "resnet"}, "--block", "residual"),
    ("encoder", {"input_size": (10,), "padding": "full"}, "--padding", "same"),
    ("encoder", {"input_size": (10,), "pool": "median"}, "--pool", "max"),
    ("classifier", {"input_size": (10,), "head": "mlp"}, "--head", "gap"),
    ("encoder", {"input_size": (10,), "downsample": "strided"}, "--downsample", "'stride'"),
    ("classifier", {"preset": "alexnet2"}, "--preset", "alexnet"),
    ("classifier", {"preset": "lenet5", "layers": 7, "block": "vgg"}, "--layers", "--block"),
    ("classifier", {"preset": "resnet18", "kernel": 5}, "--kernel", "would ignore"),
    ("classifier", {"preset": "resnet18", "norm": "dropout"}, "--norm", "--dropout"),
    ("classifier", {"preset": "vgg11", "norm": "layer"}, "--norm", "batchnorm"),
    ("encoder", {"preset": "lenet5"}, "--preset", "classifier"),
    ("classifier", {"preset": "lenet5", "input_size": (28,)}, "--input-size", "2D"),
    ("encoder", {"input_size": (10,), "dropout": 1.0}, "--dropout", "[0, 1)"),
    ("encoder", {"input_size": (10,), "dropout": -0.1}, "--dropout", "[0, 1)"),
    ("encoder", {"input_size": (10,), "norm": "dropout"}, "--dropout", "above 0"),
    ("encoder", {"input_size": (10,), "ratio": 0.0}, "--ratio", "> 0"),
    ("classifier", {"input_size": (10,), "hidden": (64, 0)}, "--hidden", ">= 1"),
    ("encoder", {"input_size": (10, 10), "kernel": (3, 3, 3)}, "--kernel", "1 or 2 values"),
    ("encoder", {"input_size": (10,), "kernel": 0}, "--kernel", ">= 1"),
    ("encoder", {"input_size": (10,), "stride": 0}, "--stride", ">= 1"),
    ("encoder", {"input_size": (10,), "dilation": 0}, "--dilation", ">= 1"),
    ("encoder", {"input_size": (10,), "min_size": 0}, "--min-size", ">= 1"),
    ("encoder", {"input_size": (10, 20), "min_size": (5, 30)}, "--min-size", "larger"),
    ("encoder", {"input_size": (10,), "target_size": 11}, "--target-size", "larger"),
    (
        "encoder",
        {"input_size": (10,), "target_size": 3, "min_size": 3},
        "--target-size",
        "not both",
    ),
    ("encoder", {"input_size": (10,), "block": "residual"}, "--block", "classifier"),
    (
        "classifier",
        {"input_size": (10,), "block": "residual", "downsample": "pool"},
        "--downsample",
        "stride",
    ),
    (
        "classifier",
        {"input_size": (10,), "block": "bottleneck", "padding": "valid"},
        "--padding",
        "auto or same",
    ),
    ("equivariant", {"input_size": (10,)}, "--input-size", "2D"),
    ("equivariant", {"input_size": (10, 12)}, "--input-size", "12x12"),
    ("equivariant", {"input_size": (10, 10), "block": "vgg"}, "--block", "only classifiers"),
]


@pytest.mark.parametrize(
    ("family", "options", "param", "phrase"),
    BAD,
    ids=[f"{case[2]}-{i}" for i, case in enumerate(BAD)],
)
def test_bad_values_are_refused_by_name(
    family: str, options: dict[str, Any], param: str, phrase: str
) -> None:
    with pytest.raises(CnngenError) as error:
        make_spec(family, **options)
    message = str(error.value)
    assert error.value.param == param
    assert message.startswith(f"{param}:"), message
    assert phrase in message, message
    assert "\n" not in message


def test_every_default_passes_the_checks_that_only_given_options_get() -> None:
    """make_spec checks ranges and words of the options given; a default must pass them too."""
    every = set(spec_module.SPEC_DEFAULTS)
    tables = spec_module._COUNT_LIMITS + spec_module._CHOICE_LISTS
    assert {name for name, _ in tables} <= every
    # With every option counted as given, a default outside its range or words would raise.
    spec_module._check_numbers_and_choices(spec_module._DEFAULT_SPEC, None, every)
    for name, choices in spec_module._CHOICE_LISTS:
        assert getattr(spec_module._DEFAULT_SPEC, name) in choices, name


@pytest.mark.parametrize("name", [name for name, _ in spec_module._COUNT_LIMITS])
def test_each_count_is_checked_by_its_own_name(name: str) -> None:
    spec = copy_with(spec_module._DEFAULT_SPEC, **{name: 0})
    with pytest.raises(CnngenError) as error:
        spec_module._check_numbers_and_choices(spec, None, {name})
    assert error.value.param == option_name(name)


@pytest.mark.parametrize("name", [name for name, _ in spec_module._CHOICE_LISTS])
def test_each_word_is_checked_by_its_own_name(name: str) -> None:
    spec = copy_with(spec_module._DEFAULT_SPEC, **{name: "nonsense"})
    with pytest.raises(CnngenError) as error:
        spec_module._check_numbers_and_choices(spec, None, {name})
    assert error.value.param == option_name(name)


@pytest.mark.parametrize(
    "name",
    ["class", "1abc", "a-b", "os.system('x')", "Modèle", "Модель", "", "my model", "None", "x\ny"],
)
def test_name_must_be_a_plain_identifier(name: str) -> None:
    with pytest.raises(CnngenError) as error:
        make_spec("encoder", input_size=(10,), name=name)
    assert error.value.param == "--name"
    assert str(error.value).startswith("--name:")


@pytest.mark.parametrize("name", ["Net", "my_model", "_Private", "UNet3D"])
def test_plain_identifiers_are_accepted_as_names(name: str) -> None:
    assert make_spec("encoder", input_size=(10,), name=name).class_name == name


def test_unknown_options_are_a_bug_not_silently_ignored() -> None:
    with pytest.raises(CnngenError, match="unknown option"):
        make_spec("encoder", input_size=(10,), kernal=3)


def test_defaults_depend_on_the_family_and_the_input() -> None:
    spec = make_spec("forecaster", input_size=(100, 3), in_channels=7)
    assert spec.out_channels == 7
    assert spec.min_size == (5, 3)
    assert spec.kernel == (3, 3)
    assert spec.downsample == "stride"
    assert spec.sub_blocks == 1
    classifier = make_spec("classifier", input_size=(32, 32), block="vgg")
    assert classifier.downsample == "pool"
    assert classifier.sub_blocks == 2
    residual = make_spec("classifier", input_size=(32, 32), block="residual")
    assert residual.downsample == "stride"
    lenet = make_spec("classifier", preset="lenet5")
    assert (lenet.input_size, lenet.activation, lenet.pool) == ((28, 28), "tanh", "avg")
    # A preset's own norm and dropout rate unless given.
    assert (lenet.norm, lenet.dropout) == ("none", 0.0)
    vgg = make_spec("classifier", preset="vgg16_bn")
    assert (vgg.norm, vgg.dropout) == ("batchnorm", 0.5)
    mobile = make_spec("classifier", preset="mobilenet_v2", norm="groupnorm", dropout=0.0)
    assert (mobile.norm, mobile.dropout) == ("groupnorm", 0.0)
    target = make_spec("encoder", input_size=(40, 30), target_size=(10, 7))
    assert target.min_size is None and target.target_size == (10, 7)


def test_per_dimension_values_are_expanded() -> None:
    spec = make_spec("encoder", input_size=(16, 32, 8), kernel=5, dilation=(1, 2, 1), stride=2)
    assert spec.kernel == (5, 5, 5)
    assert spec.dilation == (1, 2, 1)
    assert spec.stride == (2, 2, 2)


# ----------------------------------------------------------------- round trip
def parse_command(words: list[str]) -> ModelSpec:
    """Parse ``model FAMILY --option value ...`` through the real Click command."""
    from cnngen import cli

    assert words[0] == "model"
    context = cli.cli.commands["model"].make_context("model", words[1:])
    return spec_from_options(context.params["family"], context.params)


@st.composite
def valid_requests(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    family = draw(st.sampled_from(["encoder", "forecaster", "classifier", "equivariant"]))
    dims = draw(st.integers(2, 3) if family == "equivariant" else st.integers(1, 3))
    if family == "equivariant":
        side = draw(st.integers(8, 64))
        input_size = (*(draw(st.integers(4, 16)) for _ in range(dims - 2)), side, side)
    else:
        input_size = tuple(draw(st.integers(1, 300)) for _ in range(dims))
    options: dict[str, Any] = {"input_size": input_size}
    maybe = {
        "in_channels": st.integers(1, 64),
        "layers": st.integers(1, 10),
        "kernel": st.sampled_from([1, 3, 5, (3,) * dims]),
        "dilation": st.sampled_from([1, 2]),
        "padding": st.sampled_from(["auto", "same", "valid"]),
        "pool": st.sampled_from(["max", "avg"]),
        "channel_rule": st.sampled_from(
            ["exponential", "linear", "proportion", "power", "constant"]
        ),
        "start_channels": st.integers(1, 64),
        "ratio": st.sampled_from([1.5, 2.0, 2.5, 3.0]),
        "max_channels": st.integers(64, 1024),
        "norm": st.sampled_from(["batchnorm", "instancenorm", "groupnorm", "none"]),
        "activation": st.sampled_from(["relu", "gelu", "silu", "leaky_relu"]),
        "final_activation": st.sampled_from(["none", "sigmoid", "tanh"]),
        "dropout": st.sampled_from([0.0, 0.1, 0.25]),
        "sub_blocks": st.integers(1, 3),
        "name": st.sampled_from(["Net", "MyModel", "model_2"]),
        "min_size": st.just(tuple(min(3, s) for s in input_size)),
        "stride": st.sampled_from([1, 2]),
    }
    if family == "forecaster":
        maybe["out_channels"] = st.integers(1, 64)
        maybe["latent"] = st.integers(1, 128)
    if family in ("classifier", "equivariant"):
        maybe["classes"] = st.integers(2, 100)
        maybe["hidden"] = st.sampled_from([(64,), (120, 84)])
        maybe["head"] = st.sampled_from(["gap", "flatten"])
        maybe["se"] = st.booleans()
        maybe["depthwise"] = st.booleans()
    if family == "classifier":
        maybe["block"] = st.sampled_from(["plain", "vgg"])
        maybe["downsample"] = st.sampled_from(["stride", "pool", "none"])
    for key, strategy in maybe.items():
        if draw(st.booleans()):
            options[key] = draw(strategy)
    return family, options


@settings(max_examples=300, deadline=None)
@given(request=valid_requests())
def test_command_round_trips_through_the_cli(request: tuple[str, dict[str, Any]]) -> None:
    family, options = request
    try:
        spec = make_spec(family, **options)
    except CnngenError:
        assume(False)
        raise
    words = shlex.split(spec.command())
    assert parse_command(words) == spec
    # The words are what a person would type: options only where they differ from the default.
    assert words[:2] == ["model", family]
    assert "--input-size" in words


def test_command_reads_like_a_hand_written_one() -> None:
    spec = make_spec(
        "forecaster", input_size=(100, 100), in_channels=60, out_channels=30, layers=5, se=False
    )
    assert spec.command() == (
        "model forecaster --input-size 100x100 --in-channels 60 --out-channels 30 --layers 5"
    )
    assert parse_command(shlex.split(spec.command())) == spec


@pytest.mark.parametrize(
    "options",
    [
        {"preset": "resnet18", "norm": "groupnorm", "dropout": 0.3},
        {"preset": "vgg11", "norm": "batchnorm"},
        {"preset": "vgg16_bn", "dropout": 0.0},
        {"preset": "mobilenet_v2", "norm": "none", "activation": "relu", "dropout": 0.2},
        {"preset": "lenet5", "norm": "instancenorm", "dropout": 0.5, "hidden": (64,)},
    ],
)
def test_preset_norm_and_dropout_round_trip(options: dict[str, Any]) -> None:
    """Given even as the preset's own value, --norm and --dropout stay in the command."""
    spec = make_spec("classifier", **options)
    words = shlex.split(spec.command())
    for name in ("norm", "dropout"):
        if name in options:
            assert f"--{name}" in words
    assert parse_command(words) == spec
