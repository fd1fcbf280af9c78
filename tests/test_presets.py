"""Classic architectures: torchvision's parameter counts and names at 224, exact elsewhere.

torchvision does not import next to the CPU build of torch here, so the
published parameter counts are written down and the models cnngen builds are
counted with torch; the state_dict key lists are written out from
torchvision's module structure.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from generated import load, shape_mismatches, write_model

import cnngen
from cnngen.core.vocab import PRESETS
from cnngen.errors import CnngenError

torch.set_num_threads(1)

# torchvision's published parameter counts (3 channels, 1000 classes, 224x224).
PUBLISHED = {
    "alexnet": 61_100_840,
    "vgg11": 132_863_336,
    "vgg13": 133_047_848,
    "vgg16": 138_357_544,
    "vgg19": 143_667_240,
    "vgg11_bn": 132_868_840,
    "vgg13_bn": 133_053_736,
    "vgg16_bn": 138_365_992,
    "vgg19_bn": 143_678_248,
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "googlenet": 6_624_904,
    "mobilenet_v2": 3_504_872,
    # Hu et al.'s SE-ResNet-50 (reduction 16): 28.09 M.
    "se_resnet50": 28_088_024,
}
IMAGENET = {"input_size": (224, 224), "in_channels": 3, "classes": 1000}
NEW_PRESETS = [name for name in PRESETS if name != "lenet5"]


def imagenet_plan(preset: str) -> cnngen.Plan:
    return cnngen.plan("classifier", preset=preset, **IMAGENET)


@pytest.mark.parametrize("preset", sorted(PUBLISHED))
def test_parameter_count_equals_torchvision_at_224(preset: str) -> None:
    plan = imagenet_plan(preset)
    assert plan.params == PUBLISHED[preset]
    # The built model, counted by torch (on the meta device: no memory, no init time).
    with torch.device("meta"):
        model = cnngen.build(plan)
    assert sum(p.numel() for p in model.parameters()) == PUBLISHED[preset]


@pytest.mark.parametrize("preset", sorted(PUBLISHED))
def test_plan_json_reports_the_published_count(preset: str, run_cli: Callable[..., object]) -> None:
    result = run_cli(
        "plan", "classifier", "--preset", preset, "-i", "224x224", "--in-channels", "3",
        "--classes", "1000", "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert json.loads(result.out)["params"] == PUBLISHED[preset]


def _bn(prefix: str) -> list[str]:
    return [f"{prefix}.{k}" for k in ("weight", "bias", "running_mean", "running_var")] + [
        f"{prefix}.num_batches_tracked"
    ]


def resnet18_keys() -> list[str]:
    """torchvision.models.resnet18().state_dict() keys, from its structure."""
    keys = ["conv1.weight", *_bn("bn1")]
    for layer in range(1, 5):
        for block in range(2):
            prefix = f"layer{layer}.{block}"
            keys += [f"{prefix}.conv1.weight", *_bn(f"{prefix}.bn1")]
            keys += [f"{prefix}.conv2.weight", *_bn(f"{prefix}.bn2")]
            if layer > 1 and block == 0:
                keys += [f"{prefix}.downsample.0.weight", *_bn(f"{prefix}.downsample.1")]
    return [*keys, "fc.weight", "fc.bias"]


def vgg11_keys() -> list[str]:
    """torchvision.models.vgg11().state_dict() keys: convs at these feature indices."""
    keys = []
    for index in (0, 3, 6, 8, 11, 13, 16, 18):
        keys += [f"features.{index}.weight", f"features.{index}.bias"]
    for index in (0, 3, 6):
        keys += [f"classifier.{index}.weight", f"classifier.{index}.bias"]
    return keys


def test_resnet18_state_dict_keys_equal_torchvision() -> None:
    with torch.device("meta"):
        model = cnngen.build(imagenet_plan("resnet18"))
    keys = list(model.state_dict())
    assert len(keys) == 122
    assert keys == resnet18_keys()


def test_vgg11_state_dict_keys_equal_torchvision() -> None:
    with torch.device("meta"):
        model = cnngen.build(imagenet_plan("vgg11"))
    assert list(model.state_dict()) == vgg11_keys()
    shapes = {name: tuple(p.shape) for name, p in model.state_dict().items()}
    assert shapes["classifier.0.weight"] == (4096, 512 * 7 * 7)


def test_googlenet_and_mobilenet_follow_torchvision_names() -> None:
    with torch.device("meta"):
        google = cnngen.build(imagenet_plan("googlenet")).state_dict()
        mobile = cnngen.build(imagenet_plan("mobilenet_v2")).state_dict()
    for key in (
        "conv1.conv.weight",
        "conv1.bn.running_var",
        "conv3.conv.weight",
        "inception3a.branch1.conv.weight",
        "inception3a.branch2.1.conv.weight",
        "inception4e.branch3.0.bn.bias",
        "inception5b.branch4.1.conv.weight",
        "fc.weight",
    ):
        assert key in google
    assert not any("aux" in key for key in google)
    assert tuple(google["inception3a.branch3.1.conv.weight"].shape) == (32, 16, 3, 3)
    for key in (
        "features.0.0.weight",
        "features.0.1.running_mean",
        "features.1.conv.0.0.weight",
        "features.1.conv.1.weight",
        "features.1.conv.2.bias",
        "features.2.conv.0.0.weight",
        "features.2.conv.1.0.weight",
        "features.2.conv.2.weight",
        "features.17.conv.3.running_var",
        "features.18.0.weight",
        "classifier.1.weight",
    ):
        assert key in mobile
    assert tuple(mobile["features.2.conv.1.0.weight"].shape) == (96, 1, 3, 3)


@pytest.mark.parametrize("preset", ["resnet18", "mobilenet_v2"])
def test_small_presets_run_at_224(preset: str) -> None:
    plan = imagenet_plan(preset)
    model = cnngen.build(plan).eval()
    with torch.no_grad():
        output = model(torch.randn(1, 3, 224, 224))
    assert tuple(output.shape) == (1, 1000)


def test_no_adaptive_pooling_at_224() -> None:
    for preset in ("alexnet", "vgg11", "resnet18"):
        source = cnngen.render(imagenet_plan(preset))
        assert "Adaptive" not in source and "interpolate" not in source, preset


# The odd sizes: every preset generates, runs, and gives the planned shapes.
ODD = [
    (
        {"input_size": (61, 61), "in_channels": 1},
        ["alexnet", "vgg11", "vgg16_bn", "resnet34", "resnet50", "se_resnet18"]
        + ["mobilenet_v2", "googlenet"],
    ),
    (
        {"input_size": (97, 131), "in_channels": 3},
        ["alexnet", "vgg11_bn", "resnet18", "se_resnet50", "mobilenet_v2", "googlenet"],
    ),
]


@pytest.mark.parametrize(
    ("options", "preset"),
    [(options, preset) for options, presets in ODD for preset in presets],
    ids=[f"{preset}-{options['input_size']}" for options, presets in ODD for preset in presets],
)
def test_odd_sizes_generate_files_that_run_exactly(
    tmp_path: Path, options: dict, preset: str
) -> None:
    path = write_model(tmp_path, "classifier", preset=preset, classes=7, **options)
    source = path.read_text()
    assert "Adaptive" not in source
    assert "interpolate" not in source
    module = load(path)
    assert module.OUTPUT_SHAPE == (7,)
    assert shape_mismatches(module) == []


def test_alexnet_at_61_relaxes_the_first_stride_and_says_so() -> None:
    plan = cnngen.plan("classifier", preset="alexnet", input_size=(61, 61), in_channels=1)
    assert "features.0 stride 4 -> 2: input 61x61 too small for stride 4" in plan.notes
    conv = plan.stages[0].ops[0]
    assert conv.arg("stride") == 2
    assert any("classifier.1 takes 256x2x2" in note for note in plan.notes)


def test_relaxation_is_per_dimension() -> None:
    plan = cnngen.plan("classifier", preset="alexnet", input_size=(61, 224))
    assert plan.stages[0].ops[0].arg("stride") == (2, 4)
    assert "features.0 stride 4 -> 2x4: input 61x224 too small for stride 4" in plan.notes


def test_vgg_pads_a_pool_where_the_map_is_down_to_one() -> None:
    plan = cnngen.plan("classifier", preset="vgg11", input_size=(16, 16))
    pools = [op for op in plan.stages[0].ops if op.kind == "maxpool"]
    # 16 -> 8 -> 4 -> 2 -> 2 -> 1: the fourth pool pads, so conv5 keeps a 2x2 map.
    assert [op.arg("padding") for op in pools] == [None, None, None, 1, None]
    assert "features.15 padding 0 -> 1" in plan.notes[1]
    assert plan.output_shape == (10,)


def test_too_small_input_names_a_size_that_works() -> None:
    with pytest.raises(CnngenError) as error:
        cnngen.plan("classifier", preset="alexnet", input_size=(5, 61))
    message = str(error.value)
    assert message.startswith("--input-size:")
    assert "use at least 7" in message
    assert "\n" not in message
    cnngen.plan("classifier", preset="alexnet", input_size=(7, 61))


def test_presets_refuse_options_they_would_ignore(run_cli: Callable[..., object]) -> None:
    result = run_cli("model", "classifier", "--preset", "lenet5", "--layers", "7", "--block", "vgg")
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: --layers:")
    assert "--block" in lines[0]
    result = run_cli("plan", "classifier", "--preset", "resnet18", "--se")
    assert result.code == 2 and "--se" in result.err


def test_presets_take_classes_channels_name_and_activation() -> None:
    plan = cnngen.plan(
        "classifier",
        preset="resnet18",
        input_size=(32, 32),
        in_channels=1,
        classes=5,
        name="Small",
        activation="gelu",
    )
    assert plan.class_name == "Small"
    assert plan.output_shape == (5,)
    assert plan.input_shape == (1, 32, 32)
    modules = {op.module for stage in plan.stages for _, op in stage.all_ops()}
    assert "nn.GELU" in modules and "nn.ReLU" not in modules
    # MobileNetV2 keeps its own ReLU6 unless told otherwise, and the command says so.
    mobile = cnngen.plan("classifier", preset="mobilenet_v2", input_size=(32, 32))
    assert "nn.ReLU6" in {op.module for stage in mobile.stages for _, op in stage.all_ops()}
    relu = cnngen.plan("classifier", preset="mobilenet_v2", input_size=(32, 32), activation="relu")
    assert "--activation relu" in relu.command


def test_presets_default_to_224() -> None:
    assert cnngen.plan("classifier", preset="resnet18").input_shape == (1, 224, 224)


@pytest.mark.parametrize("preset", NEW_PRESETS)
def test_every_preset_plans_at_odd_sizes(preset: str) -> None:
    for size in ((97, 131), (61, 61), (33, 17), (7, 7)):
        plan = cnngen.plan("classifier", preset=preset, input_size=size, classes=3)
        assert plan.output_shape == (3,)
        assert all(s >= 1 for shape in plan.layer_shapes().values() for s in shape)


@pytest.mark.parametrize(
    ("preset", "size"), [("resnet18", (1001,)), ("vgg11_bn", (19, 33, 27)), ("googlenet", (257,))]
)
def test_presets_run_in_1d_and_3d(preset: str, size: tuple[int, ...]) -> None:
    plan = cnngen.plan("classifier", preset=preset, input_size=size, in_channels=2, classes=4)
    model = cnngen.build(plan)
    output = model(torch.randn(2, 2, *size))
    assert tuple(output.shape) == (2, 4)
    assert "Adaptive" not in cnngen.render(plan)


def test_project_takes_a_preset(run_cli: Callable[..., object], tmp_path: Path) -> None:
    folder = tmp_path / "project"
    result = run_cli(
        "project", str(folder), "--family", "classifier", "--preset", "resnet18",
        "-i", "32x32", "--classes", "4",
    )  # fmt: skip
    assert result.code == 0, result.err
    model = (folder / "model.py").read_text()
    assert "--preset resnet18" in model
    assert "OUTPUT_SHAPE = (4,)" in model


def test_preset_notes_carry_message_keys_so_they_translate() -> None:
    from cnngen.core.messages import Messages, Note

    russian = Messages("ru")
    for preset, size in (("alexnet", (61, 61)), ("vgg11_bn", (16, 16)), ("se_resnet18", (9,))):
        plan = cnngen.plan("classifier", preset=preset, input_size=size)
        assert plan.notes
        for note in plan.notes:
            assert isinstance(note, Note), note
            assert russian.note(note) != str(note)
