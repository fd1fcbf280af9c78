"""cnngen handout: notebook structure, determinism, and a real run of every cell."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cnngen.core.solver import solve
from cnngen.core.spec import make_spec
from cnngen.rendering.handout import exercises, render_handout, shape_changing_ops

nbformat = pytest.importorskip("nbformat")


def handout(family: str, **options) -> tuple[object, dict, str]:
    spec = make_spec(family, **options)
    plan = solve(spec)
    text = render_handout(spec, plan, "handout " + spec.command().removeprefix("model "))
    return plan, json.loads(text), text


def sources(notebook: dict, kind: str | None = None) -> list[str]:
    return [
        "".join(cell["source"])
        for cell in notebook["cells"]
        if kind is None or cell["cell_type"] == kind
    ]


def test_valid_nbformat_with_stable_ids_and_no_outputs() -> None:
    _, data, text = handout("classifier", preset="lenet5")
    notebook = nbformat.reads(text, as_version=4)
    nbformat.validate(notebook)
    assert [cell["id"] for cell in data["cells"]] == [
        f"cell-{index:03d}" for index in range(len(data["cells"]))
    ]
    assert data["metadata"]["kernelspec"]["name"] == "python3"
    for cell in data["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
    # Written the way Jupyter writes notebooks, so saving it unchanged gives no diff.
    assert text == nbformat.writes(notebook) + "\n"


def test_deterministic() -> None:
    assert (
        handout("forecaster", input_size=(17, 23), layers=3)[2]
        == handout("forecaster", input_size=(17, 23), layers=3)[2]
    )


def test_one_explained_cell_per_shape_changing_layer() -> None:
    plan, data, _ = handout("classifier", preset="lenet5")
    layers = [s for s in sources(data, "markdown") if s.startswith("### Layer ")]
    names = [name for name, _ in shape_changing_ops(plan)]
    assert len(layers) == len(names) == 8  # conv, pool, conv, pool, flatten, 3 linear
    for text, name in zip(layers, names, strict=True):
        assert f"`{name}`" in text.splitlines()[0]
    conv = layers[0]
    # The first convolution, formula filled in: 28 + 2*2 - 1*(5-1) - 1 = 27.
    assert "floor((28 + 2*2 - 1*(5-1) - 1) / 1) + 1 = floor(27 / 1) + 1 = 28" in conv
    assert "`Conv2d`: 1x28x28 → 6x28x28" in conv
    pool = layers[1]
    assert "floor((28 + 2*0 - 1*(2-1) - 1) / 2) + 1 = floor(26 / 2) + 1 = 14" in pool
    flatten = layers[4]
    assert "channels * height * width = 16 * 5 * 5 = 400" in flatten


def test_model_code_random_batch_and_hidden_answers_are_present() -> None:
    plan, data, _ = handout("forecaster", input_size=(17, 23), layers=3, latent=16)
    code = sources(data, "code")
    assert code[0].startswith('"""Forecaster: (B, 1, 17, 23) -> (B, 1, 17, 23)')
    assert "class Forecaster(nn.Module):" in code[0]
    assert any("batch = torch.randn(2, *INPUT_SHAPE)" in cell for cell in code)
    hidden = [c for c in data["cells"] if c["metadata"].get("jupyter", {}).get("source_hidden")]
    found = exercises(plan)
    assert len(found) >= 4 and len(hidden) == len(found)
    answers = [s for s in sources(data, "markdown") if s.startswith("<details>")]
    assert len(answers) == len(found)
    transposed = next(e for e in found if "output_padding" in e.question)
    # dec1 maps 5x6 back to 9x12: width needs output_padding 1, height 0.
    assert "`output_padding=0x1`" in transposed.answer
    assert "(6-1)*2 - 2*1 + 1*(3-1) + 1 + 1 = 12" in transposed.answer


def test_padding_exercise_answer() -> None:
    plan, _, _ = handout("classifier", preset="lenet5")
    exercise = exercises(plan)[0]
    assert "Change its kernel to 7x7" in exercise.question
    assert exercise.answer.startswith("Padding 3x3:")
    assert "padding=3" in exercise.check


def test_cli_writes_checks_and_refuses(run_cli, tmp_path: Path) -> None:
    target = tmp_path / "lenet.ipynb"
    args = ("handout", "classifier", "--preset", "lenet5", "-o", str(target))
    result = run_cli(*args)
    assert result.code == 0, result.err
    data = json.loads(target.read_text())
    assert f"cnngen handout classifier --preset lenet5 --output {target}" in "".join(
        data["cells"][0]["source"]
    )
    assert run_cli(*args, "--check").code == 0
    again = run_cli(*args)
    assert again.code == 2 and again.err.startswith("Error: --output: ")


def run_notebook(text: str, tmp_path: Path) -> object:
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.reads(text, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=180,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    return notebook


@pytest.mark.slow
@pytest.mark.parametrize(
    ("family", "options"),
    [
        ("forecaster", {"input_size": (17, 23), "layers": 3, "latent": 16}),
        (
            "classifier",
            {"input_size": (20, 20), "block": "residual", "layers": 3, "head": "flatten"},
        ),
    ],
    ids=["forecaster-latent", "residual-flatten"],
)
def test_every_cell_runs(family: str, options: dict, tmp_path: Path) -> None:
    _, _, text = handout(family, **options)
    notebook = run_notebook(text, tmp_path)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code_cells)
    errors = [o for cell in code_cells for o in cell.outputs if o.output_type == "error"]
    assert errors == []
    printed = "".join(
        o.get("text", "") for cell in code_cells for o in cell.outputs if o.output_type == "stream"
    )
    assert "-> output (2, " in printed  # the random batch went through
    assert "expected" not in printed  # no layer disagreed with the plan
