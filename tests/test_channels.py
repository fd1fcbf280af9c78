"""Channel widths given by hand (--channels, --decoder-channels) and TorchCNNBuilder's rules.

Each file is written, imported and run in torch, every layer's shape checked
against the plan; bad lists are one line on stderr with exit status 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from generated import load, model_class, shape_mismatches, write_model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cnngen
from cnngen.core.channels import tcb_decoder_channels, tcb_encoder_channels
from cnngen.core.solver import solve
from cnngen.core.spec import make_spec
from cnngen.core.transposed import free_decoder_dim
from cnngen.errors import CnngenError

torch = pytest.importorskip("torch")


def _widths(module: object) -> list[int]:
    """Output channels of every convolution of the file's model (p4 ones included), in order."""
    model = model_class(module)()
    return [m.out_channels for m in model.modules() if hasattr(m, "out_channels")]


def _plan_widths(family: str, **options: object) -> list[int]:
    plan = solve(make_spec(family, **options))
    return [
        op.out_shape[0]
        for stage in plan.stages
        for _, op in stage.all_ops()
        if op.kind in ("conv", "conv_transpose")
    ]


def test_tcb_rules_as_its_source_writes_them() -> None:
    # Its 3D forecaster default: (in + i)^2 from one channel, and back.
    assert tcb_encoder_channels("tcb-power", 3, 1, 32, 2.0, (60, 100, 100)) == [4, 9, 16]
    assert tcb_decoder_channels("tcb-power", 3, 16, 1, 2.0) == [9, 4, 1]
    # int() truncates: 32 x 1.3^2 = 54.08 -> 54, 32 x 1.3^3 = 70.3 -> 70.
    assert tcb_encoder_channels("tcb-exponential", 4, 3, 32, 1.3, (64,)) == [32, 41, 54, 70]
    assert tcb_decoder_channels("tcb-exponential", 3, 70, 2, 1.3) == [53, 41, 2]
    assert tcb_encoder_channels("tcb-linear", 3, 5, 32, 2.0, (64,)) == [6, 7, 8]
    assert tcb_encoder_channels("tcb-constant", 3, 5, 32, 2.0, (64,)) == [1, 1, 1]
    assert tcb_encoder_channels("tcb-proportion", 5, 60, 32, 2.0, (100, 100)) == [
        70, 80, 90, 100, 110
    ]  # fmt: skip
    assert tcb_decoder_channels("tcb-proportion", 5, 110, 30, 2.0) == [94, 78, 62, 46, 30]
    # Where TorchCNNBuilder itself fails (a step of 0), there is no schedule.
    assert tcb_encoder_channels("tcb-proportion", 30, 1, 32, 2.0, (20,)) == []
    assert tcb_decoder_channels("tcb-proportion", 5, 32, 30, 2.0) == []


FAMILY_CASES = [
    ("encoder", {"input_size": (24, 24), "layers": 3, "channels": (5, 7, 11)}, [5, 7, 11]),
    (
        "classifier",
        {"input_size": (32, 32), "layers": 2, "block": "residual", "channels": (6, 10)},
        None,
    ),
    ("classifier", {"input_size": (20,), "layers": 3, "channels": "4,6,9"}, None),
    ("equivariant", {"input_size": (16, 16), "layers": 2, "channels": (3, 5)}, [3, 5]),
    (
        "equivariant",
        {"input_size": (12, 12), "layers": 2, "group_conv": True, "channels": (3, 5)},
        [3, 5],
    ),
    (
        "forecaster",
        {
            "input_size": (9, 15, 14), "in_channels": 2, "out_channels": 3, "layers": 2,
            "channels": (4, 6), "decoder_channels": (5, 3), "sub_blocks": 2,
        },
        [4, 4, 6, 6, 6, 5, 5, 3],
    ),
    (
        "forecaster",
        {
            "input_size": (23, 31), "in_channels": 2, "layers": 3, "downsample": "pool",
            "channel_rule": "tcb-power", "decoder_channels": "tcb-exponential",
        },
        # A layer that pooled undoes its pool first, keeping its input width.
        [9, 16, 25, 25, 12, 6, 6, 2],
    ),
    ("unet", {"input_size": (33, 47), "layers": 2, "channels": (4, 6, 9)}, None),
]  # fmt: skip


def test_explicit_channels_in_every_family(tmp_path: Path) -> None:
    """One file per family: it runs, every shape is the plan's, the widths are the list's."""
    for family, options, expected in FAMILY_CASES:
        module = load(write_model(tmp_path, family, **options))
        assert shape_mismatches(module) == [], (family, options)
        widths = _widths(module)
        if expected is not None:
            assert widths == expected, (family, options, widths)
        else:
            listed = options["channels"]
            listed = tuple(int(w) for w in listed.split(",")) if isinstance(listed, str) else listed
            for width in listed:
                assert width in widths, (family, width, widths)
    unet = load(write_model(tmp_path, "unet", input_size=(33, 47), layers=2, channels=(4, 6, 9)))
    # Two convolutions per level, down and up: 4, 6, 9 at the bottom, then 6 and 4 again.
    assert _widths(unet) == [4, 4, 6, 6, 9, 9, 6, 6, 6, 4, 4, 4, 2]


def test_the_regenerate_line_config_and_api_agree(run_cli, tmp_path: Path) -> None:
    flags = (
        "forecaster", "-i", "24x24", "--in-channels", "4", "--out-channels", "2", "-n", "3",
        "--channels", "8,12,16", "--decoder-channels", "10,6,2",
    )  # fmt: skip
    target = tmp_path / "m.py"
    result = run_cli("model", *flags, "-o", str(target), "--save-config", str(tmp_path / "m.toml"))
    assert result.code == 0, result.err
    text = target.read_text(encoding="utf-8")
    assert "--channels 8,12,16 --decoder-channels 10,6,2" in text
    assert "decoder widths as given: 10, 6, 2" in text
    by_flags = json.loads(run_cli("plan", *flags, "--json").out)
    saved = (tmp_path / "m.toml").read_text(encoding="utf-8")
    assert 'channels = "8,12,16"' in saved and 'decoder-channels = "10,6,2"' in saved
    (tmp_path / "p.toml").write_text(saved.split("\noutput = ")[0] + "\n", encoding="utf-8")
    by_file = json.loads(run_cli("plan", "--config", str(tmp_path / "p.toml"), "--json").out)
    config = tmp_path / "list.toml"
    config.write_text(
        'family = "forecaster"\ninput-size = [24, 24]\nin-channels = 4\nout-channels = 2\n'
        "layers = 3\nchannels = [8, 12, 16]\ndecoder-channels = [10, 6, 2]\n",
        encoding="utf-8",
    )
    by_lists = json.loads(run_cli("plan", "--config", str(config), "--json").out)
    api = cnngen.plan(
        "forecaster", input_size=(24, 24), in_channels=4, out_channels=2, layers=3,
        channels=[8, 12, 16], decoder_channels="10,6,2",
    )  # fmt: skip
    assert by_flags["layers"] == by_file["layers"] == by_lists["layers"]
    assert [layer["out"] for layer in by_flags["layers"]] == [
        list(op.out_shape) for stage in api.stages for _, op in stage.all_ops()
    ]
    rule = run_cli(
        "model", "forecaster", "-i", "3x20x20", "-n", "2", "--min-size", "1",
        "--channel-rule", "tcb-power", "--decoder-channels", "tcb-power",
    )  # fmt: skip
    assert rule.code == 0, rule.err
    assert "--channel-rule tcb-power --decoder-channels tcb-power" in rule.out
    assert "channels 4, 9: TorchCNNBuilder's tcb-power rule" in rule.out


BAD = [
    (("encoder", "-i", "32", "-n", "3", "--channels", "8,16"), "--channels: 2 widths"),
    (("encoder", "-i", "32", "-n", "2", "--channels", "8,0"), "--channels: must be >= 1"),
    (("encoder", "-i", "32", "-n", "2", "--channels", "8,x"), "--channels: expected channel"),
    (
        ("encoder", "-i", "32", "-n", "2", "--channels", "8,16", "--channel-rule", "linear"),
        "--channel-rule: --channels gives every width itself",
    ),
    (("unet", "-i", "32", "-n", "2", "--channels", "8,16"), "(3 levels); give exactly 3"),
    (("encoder", "-i", "32", "--decoder-channels", "4,1"), "--decoder-channels: only forecast"),
    (("forecaster", "-i", "32", "-n", "2", "--decoder-channels", "4,2"), "last width is the"),
    (("forecaster", "-i", "32", "-n", "2", "--decoder-channels", "4"), "1 widths for --layers 2"),
    (("forecaster", "-i", "32", "-n", "2", "--decoder-channels", "tcb-powr"), "did you mean"),
    (
        ("forecaster", "-i", "2", "-n", "2", "--in-channels", "3", "--channel-rule",
         "tcb-proportion"),
        "--channel-rule: tcb-proportion grows from 3",
    ),
    (
        ("forecaster", "-i", "64", "-n", "2", "--channels", "8,31", "--out-channels", "30",
         "--decoder-channels", "tcb-proportion"),
        "--decoder-channels: tcb-proportion cannot step from 31 to 30",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "message"), BAD, ids=[m for _, m in BAD])
def test_bad_lists_are_one_line_and_exit_2(run_cli, tmp_path: Path, argv, message) -> None:
    target = tmp_path / "m.py"
    result = run_cli("model", *argv, "-o", str(target))
    assert result.code == 2
    assert message in result.err
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert "Traceback" not in result.err and not target.exists()


def test_the_api_refuses_alike() -> None:
    with pytest.raises(CnngenError, match="--channels: 1 widths for --layers 2"):
        cnngen.plan("encoder", input_size=(32,), layers=2, channels=[8])
    with pytest.raises(CnngenError, match="--channels: empty"):
        cnngen.plan("encoder", input_size=(32,), layers=2, channels=[])
    with pytest.raises(CnngenError, match="--decoder-channels: expected a rule"):
        cnngen.plan("forecaster", input_size=(32,), layers=2, decoder_channels=[1.5, 2])
    with pytest.raises(CnngenError, match="--ratio: --channels gives every width"):
        cnngen.plan("encoder", input_size=(32,), layers=2, channels=[8, 9], ratio=1.5)
    # A ratio is for the decoder's TorchCNNBuilder rule then, and taken.
    plan = cnngen.plan(
        "forecaster", input_size=(32,), layers=2, channels=[8, 9], ratio=3.0,
        decoder_channels="tcb-exponential",
    )  # fmt: skip
    assert [op.out_shape[0] for stage in plan.stages for _, op in stage.all_ops()
            if op.kind == "conv_transpose"] == [3, 1]  # fmt: skip


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    size=st.lists(st.integers(6, 40), min_size=1, max_size=2),
    layers=st.integers(1, 3),
    rule=st.sampled_from(["tcb-exponential", "tcb-power", "tcb-linear", "tcb-constant"]),
    decoder=st.sampled_from(["mirror", "tcb-exponential", "tcb-power", "list"]),
    in_channels=st.integers(1, 2),
    out_channels=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_random_specs_are_exact_in_torch(
    size, layers, rule, decoder, in_channels, out_channels, seed
) -> None:
    """Held-out random forecasters: every planned width and size is what torch computes."""
    import random

    chooser = random.Random(seed)
    options = {
        "input_size": tuple(size), "layers": layers, "in_channels": in_channels,
        "out_channels": out_channels, "channel_rule": rule, "ratio": chooser.choice([1.5, 2.0]),
        "max_channels": 64,
    }  # fmt: skip
    if decoder == "list":
        options["decoder_channels"] = (*(chooser.randint(1, 9) for _ in range(layers - 1)), out_channels)
    else:
        options["decoder_channels"] = decoder
    try:
        plan = cnngen.plan("forecaster", **options)
    except CnngenError as error:
        assert error.param in ("--layers", "--decoder-channels"), error
        return
    model = cnngen.build(plan).eval()
    batch = torch.randn(2, *plan.input_shape)
    with torch.no_grad():
        assert tuple(model(batch).shape) == (2, *plan.output_shape)
    planned = [
        op.out_shape[0]
        for stage in plan.stages
        for _, op in stage.all_ops()
        if op.kind in ("conv", "conv_transpose")
    ]
    convs = [m for m in model.modules() if isinstance(m, torch.nn.modules.conv._ConvNd)]
    assert [m.out_channels for m in convs] == planned
    if isinstance(options["decoder_channels"], tuple):
        assert planned[-layers:] == list(options["decoder_channels"])


FREE_DECODERS = [
    {"input_size": (100, 100), "in_channels": 6, "out_channels": 3, "layers": 5,
     "decoder_layers": 4, "decoder_channels": "tcb-proportion", "max_channels": 64},
    {"input_size": (97, 31), "layers": 3, "decoder_layers": 6,
     "decoder_channels": (8, 8, 8, 8, 8, 1), "start_channels": 8},
    {"input_size": (1001,), "layers": 4, "decoder_layers": 5, "decoder_channels": (4, 4, 4, 4, 1),
     "start_channels": 4, "min_size": (60,), "kernel": (5,)},
    {"input_size": (6, 17, 18), "layers": 2, "decoder_layers": 3, "out_depth": 4,
     "decoder_channels": "tcb-power", "channel_rule": "tcb-power", "min_size": (1,)},
    {"input_size": (33, 33), "layers": 3, "decoder_layers": 5, "latent": 16,
     "decoder_channels": (6, 5, 4, 3, 1), "channels": (4, 8, 8), "norm": "instancenorm",
     "dilation": (2,)},
    # --out-size: another output size, with the encoder's depth or one of its own.
    {"input_size": (64, 64), "layers": 3, "out_size": (60, 50), "norm": "none"},
    {"input_size": (40,), "layers": 2, "out_size": (77,), "decoder_layers": 3,
     "decoder_channels": "tcb-exponential", "start_channels": 8},
    {"input_size": (5, 16, 16), "layers": 2, "out_size": (7, 15, 16), "min_size": (1,),
     "channel_rule": "tcb-power", "decoder_channels": "tcb-power"},
    # --decoder-kernel / --decoder-stride: the decoder's own taps, the rest solved.
    {"input_size": (64, 64), "layers": 3, "decoder_kernel": (4,), "decoder_stride": (2,)},
    {"input_size": (97, 31), "layers": 3, "decoder_kernel": (5, 3), "out_size": (100, 40)},
    {"input_size": (6, 17, 18), "layers": 2, "decoder_kernel": (2,), "min_size": (1,)},
    {"input_size": (300,), "layers": 2, "decoder_layers": 2, "decoder_stride": (3,),
     "decoder_channels": (4, 1), "min_size": (30,), "out_size": (675,)},
]  # fmt: skip


def test_a_decoder_of_its_own_depth_is_exact_in_torch(tmp_path: Path) -> None:
    """--decoder-layers: every transposed convolution solved, the output the input's size."""
    for options in FREE_DECODERS:
        module = load(write_model(tmp_path, "forecaster", **options))
        assert shape_mismatches(module) == [], options
        model = model_class(module)()
        transposed = [
            m for m in model.modules() if isinstance(m, torch.nn.modules.conv._ConvTransposeNd)
        ]
        depth_head = "out_depth" in options and options["out_depth"] != options["input_size"][0]
        # A time head to fewer steps is a convolution over time, to more a transposed one.
        grows = depth_head and options["out_depth"] > options["input_size"][0]
        depth = options.get("decoder_layers", options["layers"])
        assert len(transposed) == depth + grows
        spatial = tuple(module.OUTPUT_SHAPE[1:])
        expected = options.get("out_size", options["input_size"])
        if depth_head:
            expected = (options["out_depth"], *expected[1:])
        assert spatial == expected, options
        for m in transposed[: len(transposed) - grows]:
            if "decoder_kernel" in options:
                assert m.kernel_size == _per_dim(options["decoder_kernel"], len(spatial))
            if "decoder_stride" in options:
                assert m.stride == _per_dim(options["decoder_stride"], len(spatial))
        assert "Upsample" not in module.__dict__ and "interpolate" not in Path(
            module.__file__
        ).read_text(encoding="utf-8")


def _per_dim(value: tuple[int, ...], dims: int) -> tuple[int, ...]:
    return value * dims if len(value) == 1 else value


@settings(max_examples=300, deadline=None)
@given(
    size_in=st.integers(1, 40),
    size_out=st.integers(1, 200),
    layers=st.integers(1, 5),
    kernel=st.integers(1, 6),
    dilation=st.integers(1, 3),
    stride=st.integers(1, 4),
)
def test_a_pinned_decoder_stride_lands_exactly_as_torch_computes(
    size_in: int, size_out: int, layers: int, kernel: int, dilation: int, stride: int
) -> None:
    """free_decoder_dim with one stride: every layer has it, and torch lands on size_out."""
    solved = free_decoder_dim(size_in, size_out, layers, kernel, dilation, (stride,))
    if solved is None:
        return
    x = torch.zeros(1, 1, size_in)
    for step, padding, output_padding in solved:
        assert step == stride
        layer = torch.nn.ConvTranspose1d(
            1, 1, kernel, step, padding, output_padding, dilation=dilation, bias=False
        )
        x = layer(x)
    assert x.shape[-1] == size_out


DECODERS = [
    {"input_size": (4, 4), "in_channels": 64, "layers": 3, "out_channels": 3},
    {"input_size": (7, 7), "in_channels": 32, "layers": 2, "out_size": (28, 28)},
    {"input_size": (5,), "in_channels": 16, "layers": 3, "out_size": (37,),
     "decoder_kernel": (4,)},
    {"input_size": (2, 3, 3), "in_channels": 8, "layers": 2, "out_channels": 2,
     "decoder_channels": "tcb-linear"},
    {"input_size": (4, 4), "in_channels": 64, "layers": 3, "out_channels": 3,
     "decoder_channels": (32, 16, 3), "decoder_kernel": (4,), "decoder_stride": (2,),
     "norm": "batchnorm", "final_activation": "tanh"},
]  # fmt: skip


def test_the_decoder_family_grows_a_latent_map_exactly_in_torch(tmp_path: Path) -> None:
    """cnngen model decoder: transposed convolutions only, landing on --out-size (default x2 a layer)."""
    for options in DECODERS:
        module = load(write_model(tmp_path, "decoder", **options))
        assert shape_mismatches(module) == [], options
        model = model_class(module)()
        layers = [m for m in model.modules() if isinstance(m, torch.nn.modules.conv._ConvNd)]
        assert all(isinstance(m, torch.nn.modules.conv._ConvTransposeNd) for m in layers)
        assert len(layers) == options["layers"]
        size = options.get("out_size") or tuple(s << options["layers"] for s in options["input_size"])
        out = model(torch.zeros(2, options["in_channels"], *options["input_size"]))
        assert tuple(out.shape) == (2, options.get("out_channels", 1), *size), options
    plan = cnngen.plan("decoder", input_size="4x4", in_channels=64, layers=3, out_channels=3)
    assert [op.out_shape[0] for s in plan.stages for _, op in s.all_ops() if op.kind == "conv_transpose"] == [32, 16, 3]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ("-i", "64", "-n", "3", "--decoder-stride", "3"),
            "--decoder-stride: 3 transposed convolutions (kernel 3, stride 3) cannot grow 8",
        ),
        (("-i", "64x64", "--decoder-kernel", "3x3x3"), "--decoder-kernel: expected 1 or 2"),
        (("-i", "64", "--decoder-stride", "0"), "--decoder-stride"),
        (("-i", "64", "-n", "3", "--decoder-layers", "2"), "--decoder-layers: 2 decoder layers"),
        (
            ("-i", "64", "-n", "3", "--decoder-layers", "2", "--decoder-channels", "4,2,1"),
            "--decoder-channels: 3 widths for --decoder-layers 2",
        ),
        (
            ("-i", "100", "-n", "5", "--decoder-layers", "3", "--decoder-channels", "4,2,1"),
            "cannot grow 7 to exactly 100",
        ),
        (("-i", "64", "--decoder-layers", "0", "--decoder-channels", "1"), "--decoder-layers"),
        (("-i", "64x64", "-n", "3", "--out-size", "100x90"), "--out-size: 3 transposed"),
        (("-i", "64x64", "--out-size", "9x9x9"), "--out-size: expected 1 or 2 values"),
        (("-i", "8x64x64", "--out-size", "4x64x64", "--out-depth", "4"), "--out-size: give"),
    ],
)
def test_bad_decoder_depths_are_one_line(run_cli, argv, message) -> None:
    result = run_cli("plan", "forecaster", *argv)
    assert result.code == 2 and message in result.err, result.err
    assert len(result.err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("-i", "4", "--decoder-channels", "mirror"), "--decoder-channels: a decoder has no encoder"),
        (("-i", "4", "-n", "2", "--out-size", "50"), "--out-size: 2 transposed convolutions"),
        (("-i", "4", "--stride", "2"), "--stride: only"),
        (("-i", "4", "--decoder-channels", "8,4"), "--decoder-channels: 2 widths for --layers 4"),
    ],
)
def test_bad_decoders_are_one_line(run_cli, argv, message) -> None:
    result = run_cli("plan", "decoder", *argv)
    assert result.code == 2 and message in result.err, result.err
    assert len(result.err.strip().splitlines()) == 1
