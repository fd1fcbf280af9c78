"""User templates: ``--template-dir DIR`` and ``render(template_dir=...)``."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import black
import pytest

import cnngen
from cnngen.errors import CnngenError
from cnngen.rendering.engine import black_mode
from tests.generated import load, shape_mismatches

CUSTOM = Path(__file__).parent / "custom_templates"
COMMENT = "# Generated for the Example Lab; edit the template, not this file."


def test_model_uses_the_override_that_extends_the_shipped_template(
    run_cli, tmp_path: Path
) -> None:
    path = tmp_path / "m.py"
    result = run_cli(
        "model", "encoder", "-i", "64", "--template-dir", str(CUSTOM), "-o", str(path)
    )
    assert result.code == 0, result.err
    source = path.read_text()
    assert COMMENT in source.splitlines()
    # The rest is the shipped file: Black-clean, and it runs and checks itself.
    assert black.format_str(source, mode=black_mode()) == source
    plain = tmp_path / "plain.py"
    assert run_cli("model", "encoder", "-i", "64", "-o", str(plain)).code == 0
    # The regenerate line names the folder, so running it writes this file again.
    regenerate = f"--output {path} --template-dir {CUSTOM}"
    assert source.count(regenerate) == 1
    assert source.replace(COMMENT + "\n", "").replace(regenerate, f"--output {path}") == (
        plain.read_text().replace(str(plain), str(path))
    )
    run = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 0, run.stderr
    assert shape_mismatches(load(path)) == []


def regenerate_words(source: str) -> list[str]:
    """The words after ``cnngen`` on a generated file's regenerate line."""
    lines = source.splitlines()
    start = next(i for i, line in enumerate(lines) if "Regenerate with:" in line)
    line = next(line for line in lines[start + 1 :] if line.strip())
    words = shlex.split(line.strip())
    assert words[0] == "cnngen"
    return words[1:]


@pytest.mark.parametrize(
    "argv",
    [
        ("model", "encoder", "-i", "64"),
        ("model", "classifier", "-i", "32x32", "-n", "2", "--block", "residual"),
        ("handout", "encoder", "-i", "64"),
    ],
)
def test_the_regenerate_line_keeps_the_template_dir(
    run_cli, tmp_path: Path, argv: tuple[str, ...]
) -> None:
    # The option is eager and never reaches the command, so it has to be put back
    # on the line; without it, the line would regenerate from the shipped templates.
    suffix = ".ipynb" if argv[0] == "handout" else ".py"
    path = tmp_path / f"out{suffix}"
    result = run_cli(*argv, "--template-dir", str(CUSTOM), "-o", str(path))
    assert result.code == 0, result.err
    source = path.read_text()
    if suffix == ".ipynb":
        # The notebook's first cell says how it was made, in a code block.
        first = "".join(json.loads(source)["cells"][0]["source"])
        line = next(line for line in first.splitlines() if line.startswith("cnngen handout"))
        words = shlex.split(line)[1:]
    else:
        words = regenerate_words(source)
    assert words[-2:] == ["--template-dir", str(CUSTOM)]
    # Running the line again finds the file up to date: same templates, same file.
    result = run_cli(*words, "--check")
    assert result.code == 0, result.err


def test_without_the_option_the_line_does_not_mention_it(run_cli, tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    assert run_cli("model", "encoder", "-i", "64", "-o", str(path)).code == 0
    assert "--template-dir" not in path.read_text()


def test_api_render_takes_a_template_dir() -> None:
    plan = cnngen.plan("classifier", input_size=(32, 32), layers=2, block="residual")
    source = cnngen.render(plan, template_dir=CUSTOM)
    assert COMMENT in source.splitlines()
    assert COMMENT not in cnngen.render(plan)  # the override lasts only for that call


def test_an_override_of_a_helper_replaces_only_that_helper(tmp_path: Path) -> None:
    helpers = tmp_path / "helpers"
    helpers.mkdir()
    (helpers / "SqueezeExcite.py.jinja").write_text(
        '{% include "cnngen/helpers/SqueezeExcite.py.jinja" %}'
        "\n    # tuned by hand\n"
    )
    plan = cnngen.plan("classifier", input_size=(32, 32), layers=2, block="residual", se=True)
    source = cnngen.render(plan, template_dir=tmp_path)
    assert "    # tuned by hand" in source
    assert "class Residual(nn.Module):" in source


def test_a_missing_folder_is_a_one_line_usage_error(run_cli, tmp_path: Path) -> None:
    out = tmp_path / "m.py"
    result = run_cli(
        "model", "encoder", "-i", "64", "--template-dir", str(tmp_path / "nope"), "-o", str(out)
    )
    assert result.code == 2
    assert result.err.count("\n") == 1 and result.err.startswith("Error: --template-dir: ")
    assert not out.exists()
    with pytest.raises(CnngenError, match="template_dir"):
        cnngen.render(cnngen.plan("encoder", input_size=(64,)), template_dir=tmp_path / "nope")


def test_a_broken_user_template_names_itself(run_cli, tmp_path: Path) -> None:
    (tmp_path / "model.py.jinja").write_text("{% for x in %}\n")
    out = tmp_path / "m.py"
    result = run_cli(
        "model", "encoder", "-i", "64", "--template-dir", str(tmp_path), "-o", str(out)
    )
    assert result.code == 2, result.err
    assert "--template-dir" in result.err and "model.py.jinja" in result.err
    assert result.err.count("\n") == 1 and not out.exists()


@pytest.mark.parametrize(
    "argv",
    [
        ("model",),
        ("dataset", "windows"),
        ("dataset", "folder"),
        ("train",),
        ("project",),
        ("handout",),
    ],
)
def test_every_rendering_command_has_the_option(run_cli, argv: tuple[str, ...]) -> None:
    result = run_cli(*argv, "--help")
    assert result.code == 0
    assert "--template-dir DIR" in result.out


def test_models_inside_a_handout_or_a_project_name_the_folder_too(
    run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model a notebook or a project holds says how to regenerate it, templates included."""
    folder = str(CUSTOM.resolve())
    notebook = tmp_path / "h.ipynb"
    assert run_cli(
        "handout", "encoder", "-i", "64", "--template-dir", str(CUSTOM), "-o", str(notebook)
    ).code == 0
    cells = ["".join(cell["source"]) for cell in json.loads(notebook.read_text())["cells"]]
    model = next(cell for cell in cells if "Regenerate with:" in cell)
    assert COMMENT in model.splitlines()
    assert regenerate_words(model)[-2:] == ["--template-dir", folder]
    project = tmp_path / "p"
    result = run_cli(
        "project", str(project), "--family", "classifier", "-i", "16x16",
        "--template-dir", str(CUSTOM),
    )  # fmt: skip
    assert result.code == 0, result.err
    source = (project / "model.py").read_text()
    assert COMMENT in source.splitlines()
    words = regenerate_words(source)
    assert words[-2:] == ["--template-dir", folder]
    # Run from the project's folder, the line finds model.py up to date.
    monkeypatch.chdir(project)
    result = run_cli(*words, "--check")
    assert result.code == 0, result.err


def test_a_saved_config_keeps_the_template_dir(run_cli, tmp_path: Path) -> None:
    """Rebuilding from --save-config's file uses the same templates as the first run."""
    path, config = tmp_path / "m.py", tmp_path / "m.toml"
    argv = ["model", "encoder", "-i", "64", "--template-dir", str(CUSTOM), "-o", str(path)]
    assert run_cli(*argv, "--save-config", str(config)).code == 0
    assert f'template-dir = "{CUSTOM}"' in config.read_text().splitlines()
    again = tmp_path / "again.py"
    assert run_cli("model", "--config", str(config), "-o", str(again)).code == 0
    assert COMMENT in again.read_text().splitlines()


def test_an_override_of_one_predict_task_changes_that_task_alone(
    run_cli, tmp_path: Path
) -> None:
    folder = tmp_path / "templates"
    (folder / "predict").mkdir(parents=True)
    (folder / "predict" / "segmentation.py.jinja").write_text(
        '{% extends "cnngen/predict/segmentation.py.jinja" %}\n'
        "{% block task_constants %}\nPALETTE = (0, 255)  # the lab's mask colours\n"
        "{% endblock %}\n"
    )
    written = {}
    for task in ("segmentation", "forecasting"):
        out = tmp_path / f"{task}.py"
        result = run_cli("predict", "--task", task, "--template-dir", str(folder), "-o", str(out))
        assert result.code == 0, result.err
        written[task] = out.read_text()
    assert "PALETTE = (0, 255)  # the lab's mask colours" in written["segmentation"]
    assert "def write_png(" in written["segmentation"]
    assert "PALETTE" not in written["forecasting"]
