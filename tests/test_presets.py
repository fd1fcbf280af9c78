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
from generated import load, model_class, shape_mismatches, write_model

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
    "resnet152": 60_192_808,
    "googlenet": 6_624_904,
    "mobilenet_v2": 3_504_872,
    # Hu et al.'s SE-ResNet-50 (reduction 16): 28.09 M.
    "se_resnet50": 28_088_024,
    "convnext_tiny": 28_589_128,
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
    # The message lists what a preset does take, --norm and --dropout among them.
    assert "--norm" in lines[0] and "--dropout" in lines[0]
    result = run_cli("plan", "classifier", "--preset", "resnet18", "--se")
    assert result.code == 2 and "--se" in result.err
    for argv, option in (
        (("--preset", "vgg11", "--depthwise"), "--depthwise"),
        (("--preset", "resnet18", "--norm", "groupnorm", "--sub-blocks", "2"), "--sub-blocks"),
        (("--preset", "mobilenet_v2", "--dropout", "0.1", "--head", "flatten"), "--head"),
    ):
        result = run_cli("plan", "classifier", *argv)
        assert result.code == 2, argv
        (line,) = result.err.strip().splitlines()
        assert line.startswith(f"Error: {option}:"), line


@pytest.mark.parametrize(
    ("argv", "option", "says"),
    [
        # Dropout is no norm layer: the preset's dropout rate is --dropout.
        (("--preset", "resnet18", "--norm", "dropout", "--dropout", "0.2"), "--norm", "--dropout"),
        (("--preset", "lenet5", "--norm", "dropout"), "--norm", "--norm batchnorm"),
        # Instance norm cannot normalize resnet18's last 1x1 maps at 32x32.
        (("--preset", "resnet18", "-i", "32x32", "--norm", "instancenorm"), "--norm", "groupnorm"),
        (("--preset", "vgg11", "--dropout", "1"), "--dropout", "[0, 1)"),
    ],
)
def test_presets_refuse_norms_and_dropouts_that_cannot_apply(
    run_cli: Callable[..., object], argv: tuple[str, ...], option: str, says: str
) -> None:
    result = run_cli("plan", "classifier", *argv)
    assert result.code == 2
    assert result.out == ""
    (line,) = result.err.strip().splitlines()
    assert line.startswith(f"Error: {option}:"), line
    assert says in line


# ------------------------------------------------------------ --norm, --dropout
STATISTICS = ("running_mean", "running_var", "num_batches_tracked")


def state_keys(**options: object) -> list[str]:
    with torch.device("meta"):
        model = cnngen.build(cnngen.plan("classifier", **options))
    return list(model.state_dict())


def weight_keys(**options: object) -> list[str]:
    """The learned tensors' names: batch norm's running statistics left out."""
    return [key for key in state_keys(**options) if not key.endswith(STATISTICS)]


def vgg_keys(name: str, batch_norm: bool) -> list[str]:
    """torchvision's ``make_layers`` written out: conv, (BatchNorm2d,) ReLU; "M" a pool."""
    from cnngen.core.vocab import PRESET_TABLE

    keys, index = [], 0
    for item in PRESET_TABLE[name].config:
        if item == "M":
            index += 1
            continue
        keys += [f"features.{index}.weight", f"features.{index}.bias"]
        if batch_norm:
            keys += _bn(f"features.{index + 1}")
        index += 3 if batch_norm else 2
    for index in (0, 3, 6):
        keys += [f"classifier.{index}.weight", f"classifier.{index}.bias"]
    return keys


@pytest.mark.parametrize("name", ["vgg11", "vgg16"])
def test_vgg_with_batchnorm_is_torchvisions_vgg_bn(name: str) -> None:
    added = cnngen.plan("classifier", preset=name, norm="batchnorm", **IMAGENET)
    assert added.params == PUBLISHED[f"{name}_bn"]
    assert state_keys(preset=name, norm="batchnorm", **IMAGENET) == vgg_keys(name, True)
    assert state_keys(preset=f"{name}_bn", **IMAGENET) == vgg_keys(name, True)
    with torch.device("meta"):
        ours = cnngen.build(added)
        theirs = cnngen.build(imagenet_plan(f"{name}_bn"))
    shapes = {key: tuple(value.shape) for key, value in ours.state_dict().items()}
    assert shapes == {key: tuple(value.shape) for key, value in theirs.state_dict().items()}
    # ... and vgg_bn without a norm is the plain VGG, keys and count.
    removed = cnngen.plan("classifier", preset=f"{name}_bn", norm="none", **IMAGENET)
    assert removed.params == PUBLISHED[name]
    assert state_keys(preset=f"{name}_bn", norm="none", **IMAGENET) == vgg_keys(name, False)


def test_alexnet_with_a_norm_moves_its_pools_and_names_them() -> None:
    plan = cnngen.plan("classifier", preset="alexnet", norm="batchnorm", input_size=(61, 61))
    features = plan.stages[0].ops
    assert [op.path for op in features if op.kind == "maxpool"] == ["3", "7", "17"]
    assert [op.path for op in features if op.kind == "batchnorm"] == ["1", "5", "9", "12", "15"]
    # The first conv's stride is relaxed as without a norm; the pools keep their labels.
    assert "features.0 stride 4 -> 2: input 61x61 too small for stride 4" in plan.notes
    counted = cnngen.plan("classifier", preset="alexnet", norm="batchnorm", **IMAGENET).params
    assert counted == PUBLISHED["alexnet"] + 2 * (64 + 192 + 384 + 256 + 256)


# Every preset kind with batch norm, and those that get a norm added.
NORMED = ["resnet18", "se_resnet50", "mobilenet_v2", "googlenet", "vgg13_bn"]
ADDED = ["alexnet", "vgg11", "lenet5"]


def _options(preset: str) -> dict[str, object]:
    return {"preset": preset, **({} if preset == "lenet5" else IMAGENET)}


@pytest.mark.parametrize("preset", NORMED + ADDED)
def test_swapping_the_norm_never_renames_a_weight(preset: str) -> None:
    options = _options(preset)
    with_statistics = state_keys(**options, norm="batchnorm")
    batch = [key for key in with_statistics if not key.endswith(STATISTICS)]
    assert weight_keys(**options, norm="groupnorm") == batch
    # Instance norm (no affine weights) only drops the norms' keys.
    norms = {key.removesuffix(".running_mean") for key in with_statistics}
    instance = state_keys(**options, norm="instancenorm")
    assert instance == [key for key in batch if key.rsplit(".", 1)[0] not in norms]
    # Group norm has batch norm's 2 x channels parameters, under the same names.
    plans = [cnngen.plan("classifier", **options, norm=norm) for norm in ("batchnorm", "groupnorm")]
    assert plans[0].params == plans[1].params
    if preset in NORMED:
        assert state_keys(**options) == with_statistics
        assert plans[0].params == PUBLISHED.get(preset, plans[0].params)


def _is_conv(module: torch.nn.Module) -> bool:
    return isinstance(module, torch.nn.modules.conv._ConvNd)


def _is_batchnorm(module: torch.nn.Module) -> bool:
    return isinstance(module, torch.nn.modules.batchnorm._BatchNorm)


@pytest.mark.parametrize("preset", NORMED)
def test_norm_none_removes_the_norms_and_gives_their_convs_a_bias(preset: str) -> None:
    options = _options(preset)
    with torch.device("meta"):
        normed = cnngen.build(cnngen.plan("classifier", **options))
        bare = cnngen.build(cnngen.plan("classifier", **options, norm="none"))
    norm_layers = [m for m in normed.modules() if _is_batchnorm(m)]
    assert norm_layers
    assert not any(_is_batchnorm(m) for m in bare.modules())
    assert all(m.bias is not None for m in bare.modules() if _is_conv(m))
    # Each norm's weight and bias go; its conv gains one bias per channel.
    removed = sum(m.weight.numel() for m in norm_layers)
    count = sum(p.numel() for p in normed.parameters())
    if preset == "vgg13_bn":  # VGG's convs have their bias already
        assert sum(p.numel() for p in bare.parameters()) == count - 2 * removed
        return  # VGG is positional: vgg13_bn without a norm is vgg13 (checked above)
    assert sum(p.numel() for p in bare.parameters()) == count - removed
    # Every conv weight keeps its name.
    convs = {f"{name}.weight" for name, m in normed.named_modules() if _is_conv(m)}
    assert convs <= set(bare.state_dict())


@pytest.mark.parametrize(
    ("preset", "paths"),
    [
        ("alexnet", ["classifier.0", "classifier.3"]),
        ("vgg16", ["classifier.2", "classifier.5"]),
        ("vgg11_bn", ["classifier.2", "classifier.5"]),
        ("mobilenet_v2", ["classifier.0"]),
        ("googlenet", ["dropout"]),
    ],
)
def test_dropout_sets_the_presets_own_rate_in_place(preset: str, paths: list[str]) -> None:
    keys = state_keys(**_options(preset))
    for rate in (0.3, 0.0):
        with torch.device("meta"):
            model = cnngen.build(cnngen.plan("classifier", **_options(preset), dropout=rate))
        modules = dict(model.named_modules())
        dropouts = [name for name, m in modules.items() if isinstance(m, torch.nn.Dropout)]
        # p=0.0 keeps the layer, so the layers after it keep torchvision's indices.
        assert dropouts == paths
        assert all(modules[name].p == rate for name in paths)
        assert list(model.state_dict()) == keys
    plan = cnngen.plan("classifier", **_options(preset), dropout=0.0)
    assert "--dropout 0.0" in plan.command
    assert any(note.key == "note.preset_dropout_kept" for note in plan.notes)


@pytest.mark.parametrize(("preset", "path"), [("resnet18", "dropout"), ("lenet5", "head.drop2")])
def test_dropout_is_added_before_the_last_linear_of_presets_without_one(
    preset: str, path: str
) -> None:
    options = _options(preset)
    keys = state_keys(**options)
    model = cnngen.build(cnngen.plan("classifier", **options, dropout=0.4))
    assert list(model.state_dict()) == keys
    order = []
    handles = [
        module.register_forward_hook(lambda m, i, o, name=name: order.append(name))
        for name, module in model.named_modules()
        if name and not list(module.children())
    ]
    size = model_input_size(preset)
    model.eval()
    with torch.no_grad():
        model(torch.randn(1, *size))
    for handle in handles:
        handle.remove()
    dropout = dict(model.named_modules())[path]
    assert isinstance(dropout, torch.nn.Dropout) and dropout.p == 0.4
    # The dropout runs right before the last linear layer.
    assert order[-2:] == [path, "fc" if preset == "resnet18" else "head.fc3"]
    # --dropout 0 adds nothing.
    plain = cnngen.build(cnngen.plan("classifier", **options, dropout=0.0))
    assert not any(isinstance(m, torch.nn.Dropout) for m in plain.modules())


def model_input_size(preset: str) -> tuple[int, ...]:
    return (1, 28, 28) if preset == "lenet5" else (3, 224, 224)


def test_defaults_keep_the_preset_as_published() -> None:
    for preset in ("vgg11", "resnet18", "mobilenet_v2", "lenet5"):
        plan = cnngen.plan("classifier", **_options(preset))
        assert "--norm" not in plan.command and "--dropout" not in plan.command
        assert not any(note.key.startswith("note.preset_") for note in plan.notes)
    # Given explicitly, even as the preset's own value, an option stays in the command.
    plan = cnngen.plan("classifier", preset="resnet18", norm="batchnorm", dropout=0.0)
    assert "--norm batchnorm" in plan.command and "--dropout 0.0" in plan.command
    assert plan.params == cnngen.plan("classifier", preset="resnet18").params


OPTION_FILES = [
    ("resnet18", {"input_size": (61, 61), "norm": "groupnorm", "dropout": 0.3}),
    ("se_resnet18", {"input_size": (33, 17), "norm": "none", "dropout": 0.1}),
    ("mobilenet_v2", {"input_size": (97, 131), "norm": "instancenorm", "dropout": 0.0}),
    ("googlenet", {"input_size": (61, 61), "norm": "none"}),
    ("alexnet", {"input_size": (97, 131), "norm": "groupnorm"}),
    ("vgg11", {"input_size": (19, 33, 27), "norm": "batchnorm", "dropout": 0.2}),
    ("lenet5", {"norm": "instancenorm", "dropout": 0.5}),
    ("convnext_tiny", {"input_size": (33, 45), "norm": "groupnorm", "dropout": 0.2}),
]


@pytest.mark.parametrize(
    ("preset", "options"), OPTION_FILES, ids=[preset for preset, _ in OPTION_FILES]
)
def test_norm_and_dropout_files_run_exactly(tmp_path: Path, preset: str, options: dict) -> None:
    path = write_model(tmp_path, "classifier", preset=preset, classes=5, **options)
    source = path.read_text()
    assert "Adaptive" not in source and "interpolate" not in source
    for option, value in options.items():
        if option != "input_size":
            assert f"--{option} {value}" in source
    module = load(path)
    assert module.OUTPUT_SHAPE == (5,)
    assert shape_mismatches(module) == []


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
    ("preset", "size"),
    [
        ("resnet18", (1001,)),
        ("vgg11_bn", (19, 33, 27)),
        ("googlenet", (257,)),
        ("convnext_tiny", (301,)),
        ("convnext_tiny", (9, 21, 14)),
    ],
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
    from cnngen.rendering.messages import Messages, Note

    russian = Messages("ru")
    for preset, size, options in (
        ("alexnet", (61, 61), {"norm": "groupnorm"}),
        ("vgg11_bn", (16, 16), {"dropout": 0.0}),
        ("se_resnet18", (9,), {"norm": "none", "dropout": 0.2}),
        ("mobilenet_v2", (97, 131), {"norm": "instancenorm", "dropout": 0.1}),
        ("convnext_tiny", (61, 61), {"norm": "batchnorm", "dropout": 0.1}),
    ):
        plan = cnngen.plan("classifier", preset=preset, input_size=size, **options)
        assert plan.notes
        for note in plan.notes:
            assert isinstance(note, Note), note
            assert russian.note(note) != str(note)


@pytest.mark.parametrize(
    ("size", "channels", "classes"), [((224, 224), 3, 1000), ((97, 131), 3, 7), ((61, 61), 1, 5)]
)
def test_convnext_tiny_files_run_exactly_at_224_and_at_odd_sizes(
    tmp_path: Path, size: tuple[int, ...], channels: int, classes: int
) -> None:
    path = write_model(
        tmp_path,
        "classifier",
        preset="convnext_tiny",
        input_size=size,
        in_channels=channels,
        classes=classes,
    )
    module = load(path)
    assert shape_mismatches(module) == []
    model = model_class(module)()
    assert sum(p.numel() for p in model.parameters()) == module.PARAMETERS
    if size == (224, 224):
        assert module.PARAMETERS == PUBLISHED["convnext_tiny"]
        assert module.LAYER_SHAPES["features"] == (768, 7, 7)
    source = path.read_text()
    assert "Adaptive" not in source and "interpolate" not in source


def test_convnext_tiny_follows_torchvisions_layout() -> None:
    """Stem, downsampling and head named as torchvision's; blocks as cnngen's residual blocks."""
    with torch.device("meta"):
        model = cnngen.build(imagenet_plan("convnext_tiny"))
    keys = list(model.state_dict())
    assert keys[:4] == [
        "features.0.0.weight", "features.0.0.bias", "features.0.1.weight", "features.0.1.bias",
    ]  # fmt: skip
    # Stages of 3, 3, 9 and 3 blocks at features.1, .3, .5, .7; a norm and a 2x2
    # convolution with stride 2 at features.2, .4, .6.
    for stage, depth in zip((1, 3, 5, 7), (3, 3, 9, 3), strict=True):
        blocks = {key.split(".")[2] for key in keys if key.startswith(f"features.{stage}.")}
        assert blocks == {str(index) for index in range(depth)}
    for index, width in ((2, 192), (4, 384), (6, 768)):
        conv = dict(model.named_parameters())[f"features.{index}.1.weight"]
        assert tuple(conv.shape) == (width, width // 2, 2, 2)
    block = dict(model.named_modules())["features.1.0"]
    assert [name for name, _ in block.named_children()] == [
        "conv1", "norm1", "conv2", "act2", "conv3", "layer_scale", "downsample", "act",
    ]  # fmt: skip
    assert keys[-4:] == [
        "classifier.0.weight", "classifier.0.bias", "classifier.2.weight", "classifier.2.bias",
    ]  # fmt: skip
