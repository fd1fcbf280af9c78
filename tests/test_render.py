"""Rendering: deterministic bytes, Black in-process, atomic writes, no silent overwrite."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cnngen.cli.output import write_atomic
from cnngen.core.solver import solve
from cnngen.core.spec import make_spec
from cnngen.errors import CnngenError, OutputFailed, TemplateBug
from cnngen.rendering.engine import (
    format_python,
    pyrepr,
    render_model,
    templates_dir,
)

COMMAND = [
    sys.executable,
    "-m",
    "cnngen",
    "model",
    "classifier",
    "--input-size",
    "33x29",
    "--block",
    "residual",
    "--se",
    "--in-channels",
    "3",
]


def test_same_inputs_give_identical_bytes_in_process() -> None:
    spec = make_spec("forecaster", input_size=(37, 23), layers=3, latent=8)
    first = render_model(solve(spec), spec.command())
    second = render_model(
        solve(make_spec("forecaster", input_size=(37, 23), layers=3, latent=8)),
        spec.command(),
    )
    assert first == second


def test_output_is_identical_across_hash_seeds() -> None:
    outputs = set()
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(COMMAND, capture_output=True, text=True, env=env, check=True)
        outputs.add(result.stdout)
    assert len(outputs) == 1
    assert "class Classifier(nn.Module):" in outputs.pop()


def test_unparseable_render_is_a_template_bug_not_a_file() -> None:
    with pytest.raises(TemplateBug, match="cnngen bug"):
        format_python("def broken(:\n    pass\n", "model.py.jinja")


def test_template_bug_reaches_the_user_as_exit_1_and_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cnngen import cli
    from cnngen.rendering import engine as render

    monkeypatch.setattr(render, "render_template", lambda name, **context: "def (:\n")
    target = tmp_path / "model.py"
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["model", "encoder", "-i", "32", "-o", str(target)])
    assert exit_info.value.code == 1
    assert not target.exists()
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and "bug" in err and "Traceback" not in err


def test_black_output_is_a_fixed_point() -> None:
    spec = make_spec("classifier", input_size=(28, 28), block="vgg", depthwise=True)
    source = render_model(solve(spec), spec.command())
    assert format_python(source) == source


def test_write_atomic_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    target = tmp_path / "model.py"
    target.write_text("original")
    with pytest.raises(CnngenError, match="--force"):
        write_atomic(target, "new")
    assert target.read_text() == "original"
    write_atomic(target, "new", force=True)
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["model.py"]


def test_write_atomic_leaves_nothing_behind_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_rename(*_args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_rename)
    monkeypatch.setattr(os, "link", failing_rename)
    with pytest.raises(OutputFailed, match="model.py: No space left on device"):
        write_atomic(tmp_path / "model.py", "text")
    with pytest.raises(OutputFailed, match="model.py: No space left on device"):
        write_atomic(tmp_path / "model.py", "text", force=True)
    assert list(tmp_path.iterdir()) == []


def test_write_atomic_refuses_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(CnngenError, match="does not exist"):
        write_atomic(tmp_path / "missing" / "model.py", "text")


def test_pyrepr_writes_python_literals() -> None:
    assert pyrepr((1,)) == "(1,)"
    assert pyrepr((3, 3)) == "(3, 3)"
    assert pyrepr(0.0) == "0.0"
    assert pyrepr(False) == "False"
    assert pyrepr("a'b") == repr("a'b")
    with pytest.raises(TypeError):
        pyrepr(object())


def test_templates_are_found() -> None:
    assert (templates_dir() / "model.py.jinja").is_file()
    assert (templates_dir() / "macros.jinja").is_file()


def test_stdout_output_writes_no_file(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cnngen", "model", "encoder", "-i", "64", "-o", "-"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    assert result.stdout.startswith('"""Encoder: (B, 1, 64)')
    assert list(tmp_path.iterdir()) == []
