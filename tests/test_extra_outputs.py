"""Training-only heads: GoogLeNet's auxiliary classifiers and U-Net deep supervision.

torchvision does not import next to the CPU build of torch here, so its
GoogLeNet state_dict is written out from its module structure (BasicConv2d,
Inception, InceptionAux), with its published parameter count.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from generated import PROJECT_ENV, load, model_class, shape_mismatches, train_project, write_model

import cnngen
from cnngen.core.presets import aux_pool

torch.set_num_threads(1)

# torchvision's googlenet(aux_logits=True): 13,004,888 parameters (6,624,904 without).
PUBLISHED_WITH_AUX = 13_004_888
# torchvision's Inception widths: in, 1x1, 3x3 reduce, 3x3, "5x5" reduce, "5x5", pool proj.
TORCHVISION_INCEPTION = {
    "inception3a": (192, 64, 96, 128, 16, 32, 32),
    "inception3b": (256, 128, 128, 192, 32, 96, 64),
    "inception4a": (480, 192, 96, 208, 16, 48, 64),
    "inception4b": (512, 160, 112, 224, 24, 64, 64),
    "inception4c": (512, 128, 128, 256, 24, 64, 64),
    "inception4d": (512, 112, 144, 288, 32, 64, 64),
    "inception4e": (528, 256, 160, 320, 32, 128, 128),
    "inception5a": (832, 256, 160, 320, 32, 128, 128),
    "inception5b": (832, 384, 192, 384, 48, 128, 128),
}


def _basic(prefix: str, cin: int, cout: int, kernel: int) -> dict[str, tuple[int, ...]]:
    """torchvision's BasicConv2d: a bias-free conv and a batch norm."""
    shapes = {f"{prefix}.conv.weight": (cout, cin, kernel, kernel)}
    for name in ("weight", "bias", "running_mean", "running_var"):
        shapes[f"{prefix}.bn.{name}"] = (cout,)
    shapes[f"{prefix}.bn.num_batches_tracked"] = ()
    return shapes


def torchvision_googlenet_shapes() -> dict[str, tuple[int, ...]]:
    """torchvision.models.googlenet(aux_logits=True, init_weights=True).state_dict() shapes."""
    shapes = {
        **_basic("conv1", 3, 64, 7),
        **_basic("conv2", 64, 64, 1),
        **_basic("conv3", 64, 192, 3),
    }
    for name, (cin, b1, r3, c3, r5, c5, proj) in TORCHVISION_INCEPTION.items():
        shapes.update(_basic(f"{name}.branch1", cin, b1, 1))
        shapes.update(_basic(f"{name}.branch2.0", cin, r3, 1))
        shapes.update(_basic(f"{name}.branch2.1", r3, c3, 3))
        shapes.update(_basic(f"{name}.branch3.0", cin, r5, 1))
        shapes.update(_basic(f"{name}.branch3.1", r5, c5, 3))
        shapes.update(_basic(f"{name}.branch4.1", cin, proj, 1))
    for head, cin in (("aux1", 512), ("aux2", 528)):
        shapes.update(_basic(f"{head}.conv", cin, 128, 1))
        shapes[f"{head}.fc1.weight"], shapes[f"{head}.fc1.bias"] = (1024, 2048), (1024,)
        shapes[f"{head}.fc2.weight"], shapes[f"{head}.fc2.bias"] = (1000, 1024), (1000,)
    shapes["fc.weight"], shapes["fc.bias"] = (1000, 1024), (1000,)
    return shapes


def test_googlenet_aux_logits_loads_torchvisions_state_dict_strictly() -> None:
    plan = cnngen.plan(
        "classifier", preset="googlenet", aux_logits=True, in_channels=3, classes=1000
    )
    assert plan.params == PUBLISHED_WITH_AUX
    assert [(extra.stage.name, extra.source, extra.weight) for extra in plan.extras] == [
        ("aux2", "inception4d", 0.3),
        ("aux1", "inception4a", 0.3),
    ]
    # At 224 the heads read 14x14 maps: the paper's 5x5 pool with stride 3, to 4x4.
    assert aux_pool(14) == (5, 3)
    model = cnngen.build(plan)
    assert sum(p.numel() for p in model.parameters()) == PUBLISHED_WITH_AUX
    expected = torchvision_googlenet_shapes()
    own = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    assert own == expected
    generator = torch.Generator().manual_seed(0)
    state = {
        key: (
            torch.tensor(3)
            if key.endswith("num_batches_tracked")
            else torch.rand(shape, generator=generator) + 0.5
        )
        for key, shape in expected.items()
    }
    model.load_state_dict(state, strict=True)
    # The default plan has none of the 20 auxiliary keys, and no extras.
    plain = cnngen.plan("classifier", preset="googlenet", in_channels=3, classes=1000)
    assert plain.extras == () and plain.params == 6_624_904
    assert len([key for key in expected if key.startswith("aux")]) == 20


@pytest.mark.parametrize(
    ("size", "window"), [((227, 227), (5, 3)), ((300, 300), (6, 4)), ((97, 131), ((3, 2), (1, 2)))]
)
def test_aux_heads_pool_exactly_to_4x4_and_run_in_training_only(
    tmp_path: Path, size: tuple[int, ...], window: tuple
) -> None:
    path = write_model(tmp_path, "classifier", preset="googlenet", aux_logits=True,
                       input_size=size, classes=5)  # fmt: skip
    module = load(path)
    assert module.TRAINING_OUTPUT_SHAPES == ((5,), (5,))
    plan = cnngen.plan("classifier", preset="googlenet", aux_logits=True, input_size=size)
    pool = plan.extras[0].stage.children[0].ops[0]
    assert (pool.arg("kernel_size"), pool.arg("stride")) == window
    model = model_class(module)()
    seen: dict[str, tuple[int, ...]] = {}
    for name in ("aux1.pool", "aux2.pool", "aux1", "aux2"):
        model.get_submodule(name).register_forward_hook(
            lambda _m, _i, out, name=name: seen.__setitem__(name, tuple(out.shape[1:]))
        )
    with torch.no_grad():
        model.train()
        logits, aux2, aux1 = model(torch.randn(2, *module.INPUT_SHAPE))
        assert seen["aux1.pool"] == (512, 4, 4) and seen["aux2.pool"] == (528, 4, 4)
        assert logits.shape == aux2.shape == aux1.shape == (2, 5)
        seen.clear()
        model.eval()
        output = model(torch.randn(2, *module.INPUT_SHAPE))
    assert isinstance(output, torch.Tensor) and output.shape == (2, 5)
    assert "aux1" not in seen  # the heads do not run in eval
    assert shape_mismatches(module) == []


@pytest.mark.parametrize(
    ("size", "layers", "count"), [((37, 29), 3, 2), ((101,), 3, 1), ((9, 13, 11), 2, 1)]
)
def test_deep_supervision_heads_have_each_levels_exact_size(
    tmp_path: Path, size: tuple[int, ...], layers: int, count: int
) -> None:
    options = {"input_size": size, "layers": layers, "start_channels": 4}
    plan = cnngen.plan("unet", deep_supervision=count, **options)
    assert [extra.stage.name for extra in plan.extras] == [f"head{n + 2}" for n in range(count)]
    assert [extra.weight for extra in plan.extras] == [0.5**n for n in range(1, count + 1)]
    path = write_model(tmp_path, "unet", deep_supervision=count, **options)
    module = load(path)
    model = model_class(module)()
    assert sum(p.numel() for p in model.parameters()) == module.PARAMETERS == plan.params
    mask = torch.randint(0, 2, (2, *size))
    with torch.no_grad():
        output, *extras = model.train()(torch.randn(2, 1, *size))
        assert tuple(output.shape[1:]) == module.OUTPUT_SHAPE
        for extra, declared, planned in zip(
            extras, module.TRAINING_OUTPUT_SHAPES, plan.extras, strict=True
        ):
            assert tuple(extra.shape[1:]) == declared
            # The mask sampled every step-th position has the head's size exactly.
            sampled = mask[(..., *(slice(None, None, step) for step in planned.step))]
            assert sampled.shape[1:] == extra.shape[2:]
        assert isinstance(model.eval()(torch.randn(2, 1, *size)), torch.Tensor)
    assert shape_mismatches(module) == []


HAND_LOSS = """
import torch
import train
from model import {name}
torch.manual_seed(0)
model = {name}().train()
x = torch.randn(4, *train.INPUT_SHAPE)
y = {target}
outputs = model(x)
ce = torch.nn.functional.cross_entropy
main = ce(outputs[0], y)
hand = main + {extras}
print(float(train.training_loss(outputs, y)), float(hand), float(main))
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("argv", "name", "target", "extras"),
    [
        (
            ("--family", "classifier", "--preset", "googlenet", "--aux-logits", "-i", "64x64",
             "--classes", "3"),
            "Classifier",
            "torch.randint(0, 3, (4,))",
            "0.3 * ce(outputs[1], y) + 0.3 * ce(outputs[2], y)",
        ),
        (
            ("--family", "unet", "-i", "23x18", "--layers", "3", "--start-channels", "4",
             "--deep-supervision", "2"),
            "UNet",
            "torch.randint(0, 3, (4, 23, 18))",
            "0.5 * ce(outputs[1], y[:, ::2, ::2]) + 0.25 * ce(outputs[2], y[:, ::4, ::4])",
        ),
    ],
    ids=["googlenet-aux", "unet-deep-supervision"],
)  # fmt: skip
def test_project_trains_on_the_weighted_extra_losses(
    run_cli: Callable[..., object], tmp_path: Path, argv: tuple, name: str, target: str,
    extras: str,
) -> None:  # fmt: skip
    folder = tmp_path / "project"
    result = run_cli("project", str(folder), *argv, "--samples", "24", "--epochs", "1")
    assert result.code == 0, result.err
    rows = train_project(folder, timeout=300)
    assert len(rows) == 1 and float(rows[0]["train_loss"]) > 0
    code = HAND_LOSS.format(name=name, target=target, extras=extras)
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=folder, env=PROJECT_ENV, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    scripted, hand, main = map(float, run.stdout.split())
    assert scripted == pytest.approx(hand, rel=1e-6)
    assert scripted > main * 1.1  # the extra terms are in the loss


@pytest.mark.parametrize(
    ("argv", "param"),
    [
        (("model", "classifier", "-i", "64x64", "--aux-logits"), "--aux-logits"),
        (("model", "classifier", "--preset", "resnet18", "--aux-logits"), "--aux-logits"),
        (("model", "classifier", "--preset", "googlenet", "-i", "40x40", "--aux-logits"),
         "--aux-logits"),
        (("model", "unet", "-i", "32x32", "--layers", "2", "--deep-supervision", "2"),
         "--deep-supervision"),
        (("model", "unet", "-i", "32x32", "--layers", "1", "--deep-supervision", "1"),
         "--deep-supervision"),
        (("model", "unet", "-i", "32x32", "--deep-supervision", "-1"), "--deep-supervision"),
        (("model", "encoder", "-i", "32x32", "--deep-supervision", "1"), "--deep-supervision"),
        (("train", "--task", "forecasting", "--model-class", "F", "--extra-weights", "0.3"),
         "--extra-weights"),
        (("train", "--task", "classification", "--model-class", "C", "--extra-weights", "0,1"),
         "--extra-weights"),
        (("train", "--task", "classification", "--model-class", "C", "--extra-weights", "0.3",
          "--extra-steps", "2x2"), "--extra-steps"),
        (("train", "--task", "segmentation", "--model-class", "U", "--extra-weights", "0.5",
          "--extra-steps", "2x2,4x4"), "--extra-steps"),
    ],
)  # fmt: skip
def test_bad_extra_head_options_are_refused_in_one_line(
    run_cli: Callable[..., object], tmp_path: Path, argv: tuple, param: str
) -> None:
    out = tmp_path / "model.py"
    result = run_cli(*argv, "--output", str(out))
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {param}"), result.err
    assert "Traceback" not in result.err and not out.exists()


def test_train_command_needs_one_weight_per_extra_of_the_model_beside_it(
    run_cli: Callable[..., object], tmp_path: Path
) -> None:
    write_model(tmp_path, "unet", input_size=(16, 16), layers=3, deep_supervision=2)
    model = next(tmp_path.glob("model_*.py"))
    argv = ("train", "--task", "segmentation", "--model-module", model.stem, "--model-class",
            "UNet", "--output", str(tmp_path / "train.py"))  # fmt: skip
    result = run_cli(*argv)
    assert result.code == 2 and "returns 2 extra outputs" in result.err, result.err
    result = run_cli(*argv, "--extra-weights", "0.5,0.25", "--extra-steps", "2x2,4x4")
    assert result.code == 0, result.err
    assert "EXTRA_STEPS = ((2, 2), (4, 4))" in (tmp_path / "train.py").read_text()
    finetune = ("train", "--task", "finetune", "--model-module", model.stem, "--model-class",
                "UNet", "--output", str(tmp_path / "finetune.py"))  # fmt: skip
    result = run_cli(*finetune)
    assert result.code == 2 and "which finetune.py does not train" in result.err, result.err


@pytest.mark.slow
@pytest.mark.parametrize(
    ("family", "options", "lang"),
    [
        ("unet", {"input_size": (19, 23), "layers": 3, "start_channels": 4,
                  "deep_supervision": 2}, "ru"),
        ("classifier", {"preset": "googlenet", "input_size": (64, 64), "aux_logits": True}, "en"),
    ],
    ids=["unet-deep-supervision", "googlenet-aux"],
)  # fmt: skip
def test_handout_checks_the_training_only_heads(family: str, options: dict, lang: str) -> None:
    from test_handout import execute, handout

    from cnngen.rendering.messages import Messages

    _, _, text = handout(family, lang=lang, student=False, **options)
    printed = execute(text)  # its batch cell asserts the extras' shapes
    t = Messages(lang)
    assert f"{t('label.output')} (2, " in printed and t("label.expected") not in printed
    names = "head2, head3" if family == "unet" else "aux2, aux1"
    assert t("batch.extras", names=names)[:40] in text


def test_plan_svg_and_json_show_the_training_only_heads(
    run_cli: Callable[..., object], tmp_path: Path
) -> None:
    argv = ("plan", "unet", "-i", "37x29", "--layers", "3", "--deep-supervision", "2")
    result = run_cli(*argv)
    assert result.code == 0 and "head3.conv1" in result.out and "weights 0.5, 0.25" in result.out
    data = json.loads(run_cli(*argv, "--json").out)
    assert [(o["name"], o["target_step"], o["output"]) for o in data["training_outputs"]] == [
        ("head2", [2, 2], [2, 19, 15]),
        ("head3", [4, 4], [2, 10, 8]),
    ]
    svg = tmp_path / "plan.svg"
    assert run_cli(*argv, "--svg", str(svg)).code == 0
    assert "in training only: head2 (reads dec2) -&gt; 2x19x15" in svg.read_text()
    source = cnngen.render(cnngen.plan("classifier", preset="googlenet", aux_logits=True))
    assert "aux1 = self.aux1(x) if self.training else x" in source
    assert "return x, aux2, aux1" in source


def test_random_held_out_specs_with_extra_heads_are_exact_in_torch(tmp_path: Path) -> None:
    """Odd sizes in 1D-3D, every U-Net variant, GoogLeNet at random sizes: every layer of the
    training forward (the heads' included) has the planned shape, each deep-supervision map
    the size of its sampled mask, and each aux pool gives exactly 4 positions."""
    import random

    rng = random.Random(2024)
    specs = []
    for _ in range(6):
        dims = rng.choice((1, 2, 2, 3))
        size = tuple(rng.randint(9, 40) if dims < 3 else rng.randint(7, 13) for _ in range(dims))
        layers = rng.randint(2, 3)
        options = {
            "input_size": size, "layers": layers, "start_channels": 2,
            "deep_supervision": rng.randint(1, layers - 1),
            "residual_units": rng.random() < 0.5,
            "downsample": rng.choice(("pool", "stride")),
            "upsample": rng.choice(("transposed", "nearest")),
            "out_channels": rng.choice((1, 3)), "min_size": (1,) * dims,
        }  # fmt: skip
        specs.append(("unet", options))
    for dims in (1, 2, 2):
        size = tuple(rng.randint(63, 120) for _ in range(dims))
        specs.append(
            ("classifier", {"preset": "googlenet", "aux_logits": True, "input_size": size,
                            "classes": 3})  # fmt: skip
        )
    for family, options in specs:
        plan = cnngen.plan(family, **options)
        module = load(write_model(tmp_path, family, **options))
        assert shape_mismatches(module) == [], options
        assert module.TRAINING_OUTPUT_SHAPES == plan.extra_shapes
        for extra in plan.extras:
            if family == "unet":
                mask = torch.zeros(options["input_size"])
                sampled = mask[tuple(slice(None, None, step) for step in extra.step)]
                assert tuple(sampled.shape) == extra.stage.out_shape[1:], options
            else:
                assert extra.stage.children[0].out_shape[1:] == (4,) * len(options["input_size"])
