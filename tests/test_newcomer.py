"""What a newcomer meets first: plans that show themselves, summary lines, plain messages."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

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


def _help_default(help_text: str, option: str) -> str:
    """The ``[default: ...]`` text of ``option`` in a Click help page."""
    flat = " ".join(help_text.split())
    start = flat.index(f"{option} ", flat.index("Input and output:"))
    return flat[
        flat.index("[default: ", start) + 10 : flat.index("]", flat.index("[default: ", start))
    ]


def test_project_help_states_the_defaults_projects_use(tmp_path: Path) -> None:
    help_text = _cnngen("project", "--help", cwd=tmp_path).stdout
    classes = _help_default(help_text, "--classes")
    out_channels = _help_default(help_text, "--out-channels")
    size = _help_default(help_text, "--input-size").split()[0]
    for family in ("classifier", "unet", "forecaster"):
        done = _cnngen("project", family, "--family", family, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        config = (tmp_path / family / "cnngen.toml").read_text()
        model = (tmp_path / family / "model.py").read_text()
        assert f'input-size = "{size}"' in config
        if family == "classifier":
            assert int(classes) == 4 and f"classes = {classes}" in config
        elif family == "unet":
            assert "out-channels = 3" in config and "3 for U-Nets" in out_channels
        else:
            assert "out-channels = 2" in config and "2 for forecasters" in out_channels
        assert "Forecaster" in model or family != "forecaster"


def test_project_size_and_dry_run(tmp_path: Path) -> None:
    dry = _cnngen("project", "p", "--family", "unet", "--size", "tiny", "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "would write p/model.py" in dry.stdout and "would write p/train.py" in dry.stdout
    assert not (tmp_path / "p").exists()
    done = _cnngen("project", "p", "--family", "unet", "--size", "tiny", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    config = (tmp_path / "p" / "cnngen.toml").read_text()
    assert 'input-size = "16x16"' in config and "samples = 200" in config
    paper = _cnngen(
        "project", "q", "--family", "classifier", "--size", "paper", "--dry-run", cwd=tmp_path
    )
    assert paper.returncode == 0 and "would write q/dataset.py" in paper.stdout
    bad = _cnngen("project", "r", "--size", "huge", cwd=tmp_path)
    assert bad.returncode == 2 and "--size" in bad.stderr and not (tmp_path / "r").exists()


def test_train_model_class_is_checked_against_the_model_beside_it(tmp_path: Path) -> None:
    assert (
        _cnngen("model", "classifier", "-i", "28x28", "-o", "model.py", cwd=tmp_path).returncode
        == 0
    )
    wrong = _cnngen(
        "train",
        "--task",
        "classification",
        "--model-class",
        "Classifer",
        "-o",
        "train.py",
        cwd=tmp_path,
    )
    assert wrong.returncode == 2 and not (tmp_path / "train.py").exists()
    assert wrong.stderr.strip().splitlines() == [
        "Error: --model-class: model.py defines no class 'Classifer' (classes found: Classifier)"
    ]
    right = _cnngen(
        "train",
        "--task",
        "classification",
        "--model-class",
        "Classifier",
        "-o",
        "train.py",
        cwd=tmp_path,
    )
    assert right.returncode == 0 and (tmp_path / "train.py").exists()


def _complete(words: str, tmp_path: Path) -> list[str]:
    import os

    env = {
        **os.environ,
        "COMP_WORDS": f"cnngen {words}",
        "COMP_CWORD": str(len(words.split())),
        "_CNNGEN_COMPLETE": "bash_complete",
    }
    done = subprocess.run(
        [sys.executable, "-m", "cnngen"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    return [line.split(",", 1)[1] for line in done.stdout.splitlines() if "," in line]


def test_shell_completion_knows_kinds_families_and_tasks(tmp_path: Path) -> None:
    assert _complete("dataset synthetic s", tmp_path) == ["shapes", "segmentation"]
    assert _complete("project x --family u", tmp_path) == ["unet"]
    assert _complete("train --task f", tmp_path) == ["forecasting", "finetune"]


def test_help_lists_options_in_sections(tmp_path: Path) -> None:
    for command in ("model", "plan", "project", "handout"):
        text = _cnngen(command, "--help", cwd=tmp_path).stdout
        headings = [
            line for line in text.splitlines() if line and line[0] != " " and line.endswith(":")
        ]
        expected = ["Input and output:", "Architecture:", "Output files:"]
        if command == "project":
            expected.insert(2, "Training:")
        assert headings[-len(expected) :] == expected, (command, headings)
        architecture = text[text.index("Architecture:") : text.index(expected[2])]
        assert "--kernel" in architecture and "--input-size" not in architecture
        words = " ".join(architecture.split())  # Click wraps lines at the terminal width
        assert "[default: 3]" in words  # defaults are shown
        assert "One of: max, avg." in words  # and choices
        assert "--help" in text[text.index("Output files:") :]
        assert "[FAMILY]" not in text[text.index("Input and output:") :]


def test_diagrams_draw_residual_arcs_and_stay_screen_wide() -> None:
    resnet = ET.fromstring(cnngen.plan("classifier", input_size=(64, 64), preset="resnet18").svg())
    ns = "{http://www.w3.org/2000/svg}"
    arcs = [p for p in resnet.iter(f"{ns}path") if p.get("class") == "skip"]
    assert len(arcs) == 4  # layer1 .. layer4, two residual blocks each
    labels = [t.text for t in resnet.iter(f"{ns}text") if t.get("class") == "skip-label"]
    assert labels == ["skip: 2 residual blocks"] * 4
    plain = ET.fromstring(cnngen.plan("classifier", input_size=(64, 64)).svg())
    assert not [p for p in plain.iter(f"{ns}path") if p.get("class") == "skip"]
    deep = ET.fromstring(cnngen.plan("unet", input_size=(16, 64, 64)).svg())
    assert float(deep.get("width")) <= 1400
    view = [float(v) for v in deep.get("viewBox").split()]
    assert view[2] > 1400  # the layout keeps its room; only the drawn size is scaled
    ratio = float(deep.get("width")) / float(deep.get("height"))
    assert abs(ratio - view[2] / view[3]) < 0.01


@pytest.mark.slow
def test_export_prints_a_line_per_step_with_elapsed_time(tmp_path: Path) -> None:
    assert (
        _cnngen("model", "classifier", "-i", "16x16", "-o", "model.py", cwd=tmp_path).returncode
        == 0
    )
    done = _cnngen("export", "model.py", "--out", "d", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert re.search(r"^importing torch: done in \d+\.\d s$", done.stderr, re.M)
    assert re.search(r"^exporting model.py .*: done in \d+\.\d s$", done.stderr, re.M)
    assert (tmp_path / "d" / "model.onnx").exists()
