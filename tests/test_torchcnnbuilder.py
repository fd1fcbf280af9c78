"""cnngen reproduces TorchCNNBuilder 0.1.5's networks option for option.

The record in tests/data/torchcnnbuilder_0_1_5.json (written by
tests/data/record_torchcnnbuilder.py from TorchCNNBuilder itself) holds, per
channel rule, its channel lists, the shape of every tensor of its state_dict
and every layer its forward pass runs.  Every run checks the equivalent
cnngen file against that record, built and run in torch; where
torchcnnbuilder is installed (the ``test`` extra pins it) the file also takes
TorchCNNBuilder's own weights and gives its output exactly.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from generated import load, model_class, shape_mismatches, write_model

from cnngen.core.solver import solve
from cnngen.core.spec import make_spec
from cnngen.core.vocab import TCB_RULES

torch = pytest.importorskip("torch")

DATA = Path(__file__).parent / "data"
RECORD = json.loads((DATA / "torchcnnbuilder_0_1_5.json").read_text(encoding="utf-8"))
CASES = RECORD["cases"]
RESIZES = ("AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d")


def _recorder() -> Any:
    """tests/data/record_torchcnnbuilder.py as a module: it builds the TorchCNNBuilder side."""
    spec = importlib.util.spec_from_file_location("record_tcb", DATA / "record_torchcnnbuilder.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def cnngen_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Each case's cnngen file, written, imported and checked against its own plan."""
    folder = tmp_path_factory.mktemp("tcb")
    models = {}
    for case in CASES:
        module = load(write_model(folder, case["cnngen"]["family"], **case["cnngen"]["options"]))
        assert shape_mismatches(module) == [], case["name"]
        models[case["name"]] = module
    return models


def _leaf_calls(model: Any, shape: list[int]) -> list[list[Any]]:
    seen: list[list[Any]] = []
    handles = [
        module.register_forward_hook(
            lambda module, _inputs, output: seen.append(
                [type(module).__name__, list(output.shape[1:])]
            )
        )
        for module in model.modules()
        if not list(module.children())
    ]
    with torch.no_grad():
        model.eval()(torch.zeros(1, *shape))
    for handle in handles:
        handle.remove()
    return seen


def test_every_rule_is_recorded() -> None:
    assert RECORD["torchcnnbuilder"] == "0.1.5"
    assert {case["rule"] for case in CASES} == set(TCB_RULES)


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_cnngen_file_matches_the_record(case: dict[str, Any], cnngen_models: Any) -> None:
    """Same tensors in the same order, same layers with the same output shapes, no resize."""
    module = cnngen_models[case["name"]]
    recorded = case["recorded"]
    assert list(module.INPUT_SHAPE) == recorded["input_shape"]
    model = model_class(module)()
    shapes = [list(value.shape) for value in model.state_dict().values()]
    assert shapes == [shape for _, shape in recorded["state_dict"]]
    calls = recorded["calls"]
    # TorchCNNBuilder ends its decoder with an adaptive pool to the input size;
    # here it resizes nothing (cnngen's decoder lands there exactly), and
    # cnngen has no such layer.
    if calls[-1][0] in RESIZES:
        assert calls[-1][1] == calls[-2][1]
        calls = calls[:-1]
    assert _leaf_calls(model, recorded["input_shape"]) == calls
    widths = [m.out_channels for m in model.modules() if hasattr(m, "out_channels")]
    decoder = recorded["transpose_conv_channels"] or [None]
    encoder = recorded["conv_channels"] or [None]
    assert widths == encoder[1:] + decoder[1:]


@pytest.mark.parametrize(
    "case", RECORD["width_cases"], ids=[case["name"] for case in RECORD["width_cases"]]
)
def test_plan_widths_match_the_record(case: dict[str, Any]) -> None:
    """The interpolation from the bottleneck to out_channels, e.g. 60 -> 30 at 100x100."""
    plan = solve(make_spec("forecaster", **case["cnngen"]))
    widths = [
        op.out_shape[0]
        for stage in plan.stages
        for _, op in stage.all_ops()
        if op.kind in ("conv", "conv_transpose")
    ]
    assert widths == case["conv_channels"][1:] + case["transpose_conv_channels"][1:]
    assert case["transpose_conv_channels"] == [110, 94, 78, 62, 46, 30]


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_torchcnnbuilder_weights_give_its_output_exactly(
    case: dict[str, Any], cnngen_models: Any
) -> None:
    """TorchCNNBuilder's state_dict loads strictly into the cnngen file; outputs are equal."""
    pytest.importorskip("torchcnnbuilder")
    recorder = _recorder()
    torch.manual_seed(0)
    peer = recorder.build_tcb(case).eval()
    # The record is what this TorchCNNBuilder builds today.
    assert recorder.record(case, peer) == case["recorded"]
    ours = model_class(cnngen_models[case["name"]])().eval()
    theirs = peer.state_dict()
    keys = list(ours.state_dict())
    assert [value.shape for value in theirs.values()] == [
        value.shape for value in ours.state_dict().values()
    ]
    ours.load_state_dict(dict(zip(keys, theirs.values(), strict=True)), strict=True)
    batch = torch.randn(3, *case["recorded"]["input_shape"])
    with torch.no_grad():
        expected = peer(batch.clone())
        got = ours(batch.clone())
    assert got.shape == expected.shape
    assert torch.equal(got, expected), (got - expected).abs().max().item()
