"""The equivariant family with the group D4 (``--group d4``): quarter turns and mirror images.

Element g = 4 * m + r of D4 acts on a map as r quarter turns after m flips of
the width.  A D4 feature map has eight orientations per channel (channel
c * 8 + g); transforming the input by h transforms every map by h and moves
orientation g to h * g.  Every layer is checked for all eight elements, exactly
in float64, and the multiplication table the generated file uses is checked
against the composition of the transforms themselves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from group_layers import assert_counts_and_shapes, layer_layouts, layer_outputs

import cnngen
from cnngen.errors import CnngenError


def _act(g: int, x: torch.Tensor) -> torch.Tensor:
    """Element g of D4 on the last two dimensions: g // 4 mirror images, then g % 4 turns."""
    if g >= 4:
        x = torch.flip(x, dims=(-1,))
    return torch.rot90(x, g % 4, dims=(-2, -1))


def _table() -> list[list[int]]:
    """table[a][b] = a * b, read off the transforms: acting by b, then by a."""
    probe = torch.randn(5, 5, generator=torch.Generator().manual_seed(1))
    images = [_act(g, probe) for g in range(8)]
    return [
        [
            next(g for g in range(8) if torch.equal(images[g], _act(a, _act(b, probe))))
            for b in range(8)
        ]
        for a in range(8)
    ]


TABLE = _table()
INVERSE = [row.index(0) for row in TABLE]


def _d4_plan(size: int, **options: Any) -> Any:
    return cnngen.plan(
        "equivariant", input_size=(size, size), group_conv=True, group="d4", **options
    )


def test_the_table_is_a_group_that_is_not_commutative() -> None:
    assert TABLE[0] == list(range(8))
    assert all(sorted(row) == list(range(8)) for row in TABLE)
    assert TABLE[1][4] != TABLE[4][1]  # a turn then a mirror is not a mirror then a turn
    assert [TABLE[g][g] for g in range(4, 8)] == [0, 0, 0, 0]  # mirror images are involutions


def test_group_conv_uses_the_table_of_d4() -> None:
    model = cnngen.build(_d4_plan(8, layers=2, start_channels=2))
    conv = model.layer2.conv1
    assert type(conv).__name__ == "DihedralGroupConv2d"
    assert conv.orders == [[TABLE[INVERSE[g]][s] for s in range(8)] for g in range(8)]


@pytest.mark.parametrize(
    ("size", "options"),
    [
        (12, {"layers": 2, "start_channels": 2}),
        (11, {"layers": 2, "start_channels": 2, "head": "gap", "norm": "groupnorm"}),
        (9, {"layers": 2, "start_channels": 2, "dropout": 0.2, "activation": "prelu"}),
    ],
)
def test_every_layer_is_equivariant_under_all_eight_elements(
    size: int, options: dict[str, Any]
) -> None:
    torch.manual_seed(0)
    plan = _d4_plan(size, **options)
    model = cnngen.build(plan).double().eval()
    batch = 2
    x = torch.randn(batch, plan.input_shape[0], size, size, dtype=torch.float64)
    plain = layer_outputs(model, x)
    layouts = layer_layouts(plan)
    for h in range(1, 8):
        moved = layer_outputs(model, _act(h, x))
        # Orientation k of the transformed input's maps is h on orientation h^-1 * k.
        source = [TABLE[INVERSE[h]][k] for k in range(8)]
        for name, out in plain.items():
            assert out.dim() <= 4, name
            if out.shape[0] == 8 * batch:  # copies turned back: they only permute
                expected = out.unflatten(0, (8, batch))[source].flatten(0, 1)
            elif layouts[name] == "group":
                expected = _act(h, out.unflatten(1, (-1, 8))[:, :, source]).flatten(1, 2)
            elif layouts[name] == "folded":
                expected = _act(h, out.unflatten(2, (8, -1))[:, :, source]).flatten(2, 3)
            elif out.dim() == 4:  # after group pooling: maps transform
                expected = _act(h, out)
            else:  # pooled features and logits: unchanged
                expected = out
            torch.testing.assert_close(
                moved[name], expected, rtol=1e-9, atol=1e-9, msg=f"{name}, element {h}"
            )


def test_plan_counts_equal_torch_and_the_formula() -> None:
    kernel, widths = 3, (3, 6, 12)
    plan = _d4_plan(16, layers=3, channels=widths, norm="none", bias=True)
    convs = [op for stage in plan.stages for _, op in stage.all_ops() if "conv" in op.kind]
    assert convs[0].params == widths[0] * (1 * kernel * kernel + 1)
    for (c, o), op in zip(zip(widths, widths[1:], strict=False), convs[1:], strict=True):
        assert op.params == o * (c * 8 * kernel * kernel + 1)
    assert_counts_and_shapes(plan, cnngen.build(plan).eval())
    assert plan.stages[0].ops[0].out_shape[0] == 8 * widths[0]


def test_c4_stays_the_default() -> None:
    default = cnngen.plan("equivariant", input_size=(12, 12), layers=2, group_conv=True)
    c4 = cnngen.plan("equivariant", input_size=(12, 12), layers=2, group_conv=True, group="c4")
    assert default.stages[0].ops[0].module == "LiftingConv2d"
    assert cnngen.render(default).replace(" --group c4", "") == cnngen.render(c4).replace(
        " --group c4", ""
    )


@pytest.mark.parametrize(
    ("family", "options"),
    [
        ("classifier", {"group": "d4"}),
        ("equivariant", {"group": "d4"}),
        ("equivariant", {"group": "d8", "group_conv": True}),
    ],
)
def test_group_is_refused_where_it_does_not_apply(family: str, options: dict[str, Any]) -> None:
    with pytest.raises(CnngenError) as caught:
        cnngen.plan(family, input_size=(16, 16), **options)
    assert caught.value.param == "--group"


def test_cli_refuses_group_without_group_conv_in_one_line(tmp_path: Path, run_cli: Any) -> None:
    target = tmp_path / "d4.py"
    result = run_cli("model", "equivariant", "-i", "16x16", "--group", "d4", "-o", str(target))
    assert result.code == 2 and "--group" in result.err
    assert len(result.err.strip().splitlines()) == 1 and not target.exists()


def test_cli_writes_a_d4_file_invariant_in_float32(tmp_path: Path, run_cli: Any) -> None:
    target = tmp_path / "d4.py"
    result = run_cli(
        "model", "equivariant", "-i", "14x14", "--layers", "2", "--group-conv",
        "--group", "d4", "-o", str(target),
    )  # fmt: skip
    assert result.code == 0, result.err
    source = target.read_text()
    assert "--group d4" in source and "import cnngen" not in source
    namespace: dict[str, Any] = {"__name__": "generated"}
    exec(compile(source, str(target), "exec"), namespace)
    model = namespace["D4Classifier"]().eval()
    assert sum(p.numel() for p in model.parameters()) == namespace["PARAMETERS"]
    x = torch.randn(2, 1, 14, 14)
    logits = model(x)
    for h in range(1, 8):
        torch.testing.assert_close(model(_act(h, x)), logits, rtol=1e-4, atol=1e-5)
