"""What a newcomer meets first: plans that show themselves, summary lines, plain messages."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import cnngen


def _cnngen(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cnngen", *args], cwd=cwd, capture_output=True, text=True
    )


def test_plan_repr_is_one_line_with_family_shapes_and_params() -> None:
    plan = cnngen.plan("encoder", input_size=(100,), layers=3)
    text = repr(plan)
    assert "\n" not in text
    assert "encoder" in text and "1x100 ->" in text and f"{plan.params:,}" in text


def test_plan_shows_table_and_diagram_in_a_notebook() -> None:
    plan = cnngen.plan("classifier", input_size=(32, 32), block="residual")
    html = plan._repr_html_()
    assert "<table>" in html and "<svg" in html and "<?xml" not in html
    assert "receptive field" in html and "MACs" in html
    first = next(name for stage in plan.stages for name, _ in stage.all_ops())
    assert f"<td>{first}</td>" in html
    svg = plan.svg()
    assert svg == cnngen.diagram(plan)
    assert ET.fromstring(svg).tag.endswith("svg")


def test_wrote_line_says_what_was_made_and_quiet_drops_it(tmp_path: Path) -> None:
    done = _cnngen("model", "encoder", "-i", "100", "-o", "m.py", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    plan = cnngen.plan("encoder", input_size=(100,))
    expected = (
        f"wrote m.py: 1D encoder, (1, 100) -> {tuple(plan.output_shape)}, "
        f"{plan.params:,} parameters"
    )
    assert expected in done.stderr
    quiet = _cnngen("-q", "model", "encoder", "-i", "100", "-o", "q.py", cwd=tmp_path)
    assert quiet.returncode == 0 and "wrote" not in quiet.stderr
    assert (tmp_path / "q.py").exists()
    loud = _cnngen("-v", "model", "encoder", "-i", "100", "-o", "v.py", cwd=tmp_path)
    assert loud.stderr.startswith("Encoder: 1x100 ->") and "params" in loud.stderr


def test_messages_a_newcomer_meets(tmp_path: Path) -> None:
    keyword = _cnngen("model", "encoder", "-i", "100", "--name", "class", cwd=tmp_path)
    assert keyword.returncode == 2
    assert "'class' is a Python keyword" in keyword.stderr
    plan_o = _cnngen("plan", "encoder", "-i", "100", "-o", "x.py", cwd=tmp_path)
    assert plan_o.returncode == 2 and "--pool" not in plan_o.stderr
    assert "--svg" in plan_o.stderr and "cnngen model" in plan_o.stderr
    lenet = _cnngen("model", "classifier", "--preset", "lenet5", "-i", "8x8", cwd=tmp_path)
    assert lenet.returncode == 2
    assert lenet.stderr.count("Error:") == 1 and "padded input" not in lenet.stderr
    assert "12x12" in lenet.stderr
    assert not list(tmp_path.iterdir())
