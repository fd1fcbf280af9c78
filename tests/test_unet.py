"""The U-Net family: exact at odd and prime sizes in 1D, 2D and 3D, skips never cropped.

Each generated file is run for real: its output has the input's size, every
layer's shape equals the plan's, and nothing adapts or interpolates to a size
computed at run time.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
import torch

import cnngen
from cnngen.errors import CnngenError
from tests.generated import imported_modules, load, model_class, shape_mismatches, write_model

CASES = [
    ((97, 131), {"layers": 4, "start_channels": 4}),
    ((1001,), {"layers": 5, "start_channels": 4}),
    ((19, 33, 27), {"layers": 4, "start_channels": 2}),
]


@pytest.mark.parametrize("downsample", ["pool", "stride"])
@pytest.mark.parametrize("size", [(97, 131), (64, 64), (31, 9)])
def test_pixel_shuffle_and_strided_downsampling_are_exact(
    tmp_path: Path, size: tuple[int, ...], downsample: str
) -> None:
    """Sub-pixel upsampling lands on each skip (cropping an odd size's last row); a stride-2
    convolution halves exactly as the pool does."""
    options = {"layers": 3, "start_channels": 4, "upsample": "pixelshuffle"}
    path = write_model(tmp_path, "unet", input_size=size, downsample=downsample, **options)
    module = load(path)
    assert module.OUTPUT_SHAPE == (2, *size)
    assert shape_mismatches(module) == []
    model = model_class(module)()
    shuffles = [m for m in model.modules() if isinstance(m, torch.nn.PixelShuffle)]
    pools = [m for m in model.modules() if isinstance(m, torch.nn.MaxPool2d)]
    assert len(shuffles) == 3 and len(pools) == (3 if downsample == "pool" else 0)
    assert sum(p.numel() for p in model.parameters()) == module.PARAMETERS
    pool_plan = cnngen.plan("unet", input_size=size, **options)
    stride_plan = cnngen.plan("unet", input_size=size, downsample="stride", **options)
    level_shapes = [[s.out_shape for s in p.stages if s.role == "encoder"] for p in (pool_plan, stride_plan)]
    assert [s[1:] for s in level_shapes[0]] == [s[1:] for s in level_shapes[1]]


@pytest.mark.parametrize(
    ("size", "options"),
    [
        ((97, 131), {"layers": 3, "start_channels": 4}),
        ((1001,), {"layers": 3, "start_channels": 4, "downsample": "stride"}),
        ((9, 17, 19), {"layers": 2, "start_channels": 2, "sub_blocks": 3}),
    ],
)
def test_residual_units_add_each_level_input_back_exactly(
    tmp_path: Path, size: tuple[int, ...], options: dict[str, Any]
) -> None:
    """--residual-units: every level (encoder, bottleneck, decoder) is a residual unit whose
    shortcut is a 1x1 convolution where the channels change; sizes stay exact."""
    path = write_model(tmp_path, "unet", input_size=size, residual_units=True, **options)
    module = load(path)
    assert module.OUTPUT_SHAPE == (2, *size)
    assert shape_mismatches(module) == []
    model = model_class(module)()
    assert sum(p.numel() for p in model.parameters()) == module.PARAMETERS
    plan = cnngen.plan("unet", input_size=size, residual_units=True, **options)
    units = [stage for stage in plan.stages if stage.kind == "residual"]
    assert len(units) == 2 * options["layers"] + 1
    assert {stage.role for stage in units} == {"encoder", "bottleneck", "decoder"}
    # The unit adds its input back: zeroing the main path leaves the shortcut's output.
    unit = model.get_submodule(units[1].name)
    x = torch.randn(2, *units[1].in_shape)
    with torch.no_grad():
        for name, parameter in unit.named_parameters():
            if not name.startswith("downsample") and name.endswith("weight") and "bn" in name:
                parameter.zero_()
        unit.eval()
        shortcut = unit.downsample(x) if hasattr(unit, "downsample") else x
        assert torch.allclose(unit(x), torch.relu(shortcut), atol=1e-6)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"input_size": (64,), "upsample": "pixelshuffle"}, "pixelshuffle is 2D"),
        ({"input_size": (64, 3), "upsample": "pixelshuffle", "layers": 2}, "keeps one"),
        ({"input_size": (64, 64), "downsample": "none"}, "a U-Net halves at every level"),
    ],
)
def test_unet_upsampling_it_cannot_do_exactly_is_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(CnngenError, match=message):
        cnngen.plan("unet", **options)


@pytest.mark.parametrize("upsample", ["transposed", "nearest", "bilinear"])
@pytest.mark.parametrize(("size", "options"), CASES, ids=["97x131", "1001", "19x33x27"])
def test_odd_sizes_come_back_exactly(
    tmp_path: Path, size: tuple[int, ...], options: dict[str, Any], upsample: str
) -> None:
    path = write_model(tmp_path, "unet", input_size=size, upsample=upsample, **options)
    source = path.read_text()
    module = load(path)
    assert module.OUTPUT_SHAPE == (2, *size)
    assert shape_mismatches(module) == []
    assert "Adaptive" not in source and "interpolate" not in source
    assert "Crop" not in source and "ConstantPad" not in source  # the skip is used as it is
    assert imported_modules(source) <= {"torch", "collections"}
    # Every upsampling target is a constant literal, the size of its skip.
    sizes = [
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.keyword) and node.arg == "size"
    ]
    assert len(sizes) == (options["layers"] if upsample != "transposed" else 0)
    skips = [s for s in module.LAYER_SHAPES.values()]
    for keyword in sizes:
        value = ast.literal_eval(keyword.value)  # raises unless a literal
        target = value if isinstance(value, tuple) else (value,)
        assert any(shape[1:] == target for shape in skips), target


def test_decoder_levels_land_on_their_skips() -> None:
    plan = cnngen.plan("unet", input_size=(97, 131), layers=4)
    stages = {stage.name: stage for stage in plan.stages}
    for level in range(1, 5):
        cat = stages[f"cat{level}"]
        assert cat.inputs == (f"enc{level}", f"up{level}")
        assert stages[f"up{level}"].out_shape[1:] == stages[f"enc{level}"].out_shape[1:]
        assert cat.out_shape[0] == 2 * stages[f"enc{level}"].out_shape[0]
    up = [op for _, op in stages["up1"].all_ops()][0]
    # 49 -> 97 needs padding 1, output_padding 1; 66 -> 131 the same.
    assert up.arg("padding") == 1 and up.arg("output_padding") == 1
    assert [s.out_shape[1:] for s in plan.stages if s.name.startswith("enc")] == [
        (97, 131),
        (49, 66),
        (25, 33),
        (13, 17),
    ]


def test_output_padding_is_solved_per_dimension() -> None:
    plan = cnngen.plan("unet", input_size=(10, 11), layers=1, start_channels=4)
    up = next(
        op for stage in plan.stages for _, op in stage.all_ops() if op.kind == "conv_transpose"
    )
    assert up.arg("padding") == (0, 1) and up.arg("output_padding") == (0, 1)


def test_plan_counts_equal_torch() -> None:
    from torch.utils.flop_counter import FlopCounterMode

    plan = cnngen.plan("unet", input_size=(21, 17), layers=3, start_channels=4)
    model = cnngen.build(plan).eval()
    assert sum(p.numel() for p in model.parameters()) == plan.params
    with FlopCounterMode(display=False) as counter:
        model(torch.randn(1, *plan.input_shape))
    assert counter.get_total_flops() == 2 * plan.macs


def test_a_dimension_too_small_to_halve_keeps_its_size() -> None:
    plan = cnngen.plan("unet", input_size=(4, 64), layers=3, start_channels=4)
    assert plan.output_shape == (2, 4, 64)
    assert any("keeps dimension(s) 1" in note for note in plan.notes)
    module_kernels = [
        op.arg("kernel_size")
        for stage in plan.stages
        for _, op in stage.all_ops()
        if op.kind == "maxpool"
    ]
    assert module_kernels == [2, (1, 2), (1, 2)]


@pytest.mark.parametrize(
    ("options", "param"),
    [
        ({"layers": 9}, "--layers"),
        ({"kernel": (4,)}, "--kernel"),
        ({"block": "residual"}, "--block"),
        ({"classes": 3}, "--classes"),
        ({"padding": "valid"}, "--padding"),
        ({"upsample": "cubic"}, "--upsample"),
    ],
)
def test_options_a_unet_cannot_honour_are_refused(options: dict[str, Any], param: str) -> None:
    with pytest.raises(CnngenError) as caught:
        cnngen.plan("unet", input_size=(64, 64), **options)
    assert caught.value.param == param


def test_upsample_belongs_to_unets() -> None:
    with pytest.raises(CnngenError) as caught:
        cnngen.plan("forecaster", input_size=(64, 64), upsample="nearest")
    assert caught.value.param == "--upsample"


def test_cli_model_and_plan(tmp_path: Path, run_cli: Any) -> None:
    target = tmp_path / "unet.py"
    result = run_cli("model", "unet", "-i", "19x33x27", "--start-channels", "2", "-o", str(target))
    assert result.code == 0, result.err
    module = load(target)
    model = model_class(module)().eval()
    assert tuple(model(torch.randn(1, 1, 19, 33, 27)).shape) == (1, 2, 19, 33, 27)
    result = run_cli("plan", "unet", "-i", "97x131", "--json")
    assert result.code == 0, result.err
    assert '"output": [\n    2,\n    97,\n    131\n  ]' in result.out or re.search(
        r'"output": \[\s*2,\s*97,\s*131\s*\]', result.out
    )


def test_svg_draws_one_nested_skip_arc_per_level() -> None:
    from cnngen.rendering.svg import plan_svg

    svg = plan_svg(cnngen.plan("unet", input_size=(97, 131), layers=3))
    arcs = re.findall(
        r'<path class="skip" data-from="(\w+)" data-to="(\w+)" d="M [\d.]+ [\d.]+ L [\d.]+ ([\d.]+)',
        svg,
    )
    assert [(a, b) for a, b, _ in arcs] == [("enc1", "cat1"), ("enc2", "cat2"), ("enc3", "cat3")]
    peaks = [float(y) for _, _, y in arcs]
    assert peaks == sorted(peaks) and len(set(peaks)) == 3  # the outer skip arcs highest
    assert "skip: enc1 32x97x131" in svg
