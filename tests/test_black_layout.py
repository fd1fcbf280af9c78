"""Model renders that already are Black's output, so Black formats them once, not twice.

Black runs a second pass whenever its first pass changes the text; a render in
its layout is formatted in about half the time.  These tests catch a template
edit that loses the layout (Black still formats everything, so the files
written would not change: only the time would).
"""

from __future__ import annotations

import difflib

import black
import pytest

import cnngen
from cnngen.rendering import engine
from cnngen.rendering.layout import black_layout, split_call

MODELS = {
    "readme forecaster": (
        "forecaster",
        dict(input_size=(100, 100), in_channels=60, out_channels=30, layers=5),
    ),
    "1D encoder": ("encoder", dict(input_size=(1000,), layers=6)),
    "3D forecaster": ("forecaster", dict(input_size=(16, 64, 64), start_channels=16)),
    "residual classifier": (
        "classifier",
        dict(input_size=(64, 64), in_channels=3, block="residual", se=True),
    ),
    "convnext classifier": ("classifier", dict(input_size=(64, 64), block="convnext")),
    "resnet18": ("classifier", dict(input_size=(97, 131), in_channels=3, preset="resnet18")),
    "unet": ("unet", dict(input_size=(97, 131), in_channels=3, out_channels=2)),
    "c4 classifier": ("equivariant", dict(input_size=(28, 28), layers=3)),
    "p4 classifier": ("equivariant", dict(input_size=(16, 16), layers=2, group_conv=True)),
    "d4 harmonic classifier": (
        "equivariant",
        dict(input_size=(16, 16), layers=2, group_conv=True, group="d4", basis="harmonic"),
    ),
}


def _raw(plan: object, lang: str = "en") -> str:
    """The text render_model hands to Black."""
    with engine.unformatted():
        source = engine.render_model(plan, "model", lang)
    return black_layout(source)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_raw_render_is_blacks_output(name: str) -> None:
    family, options = MODELS[name]
    raw = _raw(cnngen.plan(family, **options))
    formatted = black.format_str(raw, mode=engine.black_mode())
    changed = list(difflib.unified_diff(raw.splitlines(), formatted.splitlines(), lineterm=""))
    assert raw == formatted, "\n".join(changed[:40])


def test_russian_comments_keep_the_layout() -> None:
    plan = cnngen.plan("unet", input_size=(64, 64), name="SegmentationNetworkWithALongName")
    raw = _raw(plan, "ru")
    assert raw == black.format_str(raw, mode=engine.black_mode())


LONG_ITEM = (
    "                conv1=nn.ConvTranspose2d(64, 32, kernel_size=3, stride=2, padding=1, "
    "output_padding=1, bias=False),"
)


def test_a_long_item_is_split_one_argument_a_line() -> None:
    lines = split_call(LONG_ITEM)
    assert lines is not None
    assert lines[0] == "                conv1=nn.ConvTranspose2d("
    assert lines[1:3] == ["                    64,", "                    32,"]
    assert lines[-2:] == ["                    bias=False,", "                ),"]


@pytest.mark.parametrize(
    "line",
    [
        # A statement whose arguments do not fit: Black may prefer other brackets.
        "        x = some.function(" + ", ".join(f"argument_{i}" for i in range(12)) + ")",
        # A comment, a call of a call, a bare tuple: left to Black.
        "        weight = torch.stack(turns, dim=1).flatten(0, 1).flatten(1, 2)  # " + "x" * 30,
        "        value = factory(" + "a, " * 30 + "b)(c)",
        "        value = (" + "a, " * 30 + "b)",
    ],
)
def test_lines_black_may_split_otherwise_are_left_alone(line: str) -> None:
    assert len(line) > 88
    assert split_call(line) is None


@pytest.mark.parametrize(
    "source",
    [
        "class A:\n    def f(self):\n        x = nn.functional.layer_norm("
        "x, self.normalized_shape, self.weight, self.bias, self.eps)\n",
        'print(f"{tuple(batch.shape)} -> {tuple(output.shape)}, {parameters:,} parameters '
        'and some more words")\n',
        "x = nn.Sequential(\n    " + LONG_ITEM.strip() + "\n)\n",
        '"""A title.\n\nA docstring line that is long, long, long, long, long, long, long, '
        'long, long (a, b).\n'
        '"""\n',
    ],
)
def test_the_split_is_blacks(source: str) -> None:
    mode = engine.black_mode()
    assert black_layout(source) == black.format_str(source, mode=mode)
