"""The cache of Black's output: the same bytes as Black, and Black skipped on a repeat."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import black
import jinja2
import pytest

import cnngen
from cnngen.rendering import format_cache
from cnngen.rendering.engine import BLACK_MODE_KEY, black_mode, format_python

RENDER = (
    "import sys, cnngen\n"
    "source = cnngen.render(cnngen.plan('encoder', input_size=(64,), layers=3))\n"
    "print('black' in sys.modules)\n"
)


def _render_in_a_fresh_process(env: dict[str, str]) -> bool:
    """Render a model in a new interpreter; True when it imported Black."""
    done = subprocess.run(
        [sys.executable, "-c", RENDER], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip() == "True"


def test_a_repeat_render_reads_the_cache_and_never_imports_black(tmp_path: Path) -> None:
    env = {**os.environ, "CNNGEN_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("CNNGEN_NO_CACHE", None)
    assert _render_in_a_fresh_process(env) is True
    assert _render_in_a_fresh_process(env) is False
    assert _render_in_a_fresh_process({**env, "CNNGEN_NO_CACHE": "1"}) is True


def test_the_cached_text_is_blacks_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNNGEN_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("CNNGEN_NO_CACHE", raising=False)
    source = "x = [1,\n 2]\ndef f( a ):\n  return a\n"
    expected = black.format_str(source, mode=black_mode())
    assert format_python(source) == expected
    assert format_cache.lookup(source, BLACK_MODE_KEY) == expected
    assert format_python(source) == expected
    # Another mode, or another text, is another entry.
    assert format_cache.lookup(source, BLACK_MODE_KEY + " other") is None
    assert format_cache.lookup(source + "\n", BLACK_MODE_KEY) is None


def test_an_unwritable_cache_only_means_black_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("CNNGEN_CACHE_DIR", str(blocker / "cache"))
    plan = cnngen.plan("encoder", input_size=(64,), layers=2)
    assert cnngen.render(plan) == cnngen.render(plan)
    assert blocker.read_text() == "not a folder"


def test_no_cache_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNNGEN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("CNNGEN_NO_CACHE", "1")
    format_python("y = 1\n")
    assert not (tmp_path / "cache").exists()


def _fresh_environment(folder: Path) -> jinja2.Environment:
    """A new environment over ``folder`` with the template cache, as a new process has."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        bytecode_cache=format_cache.template_cache("test"),
    )


def test_an_edited_template_is_compiled_again_not_served_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CNNGEN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("CNNGEN_NO_CACHE", raising=False)
    user = tmp_path / "user"
    user.mkdir()
    (user / "model.py.jinja").write_text("x = {{ 1 }}\n")
    assert _fresh_environment(user).get_template("model.py.jinja").render() == "x = 1"
    assert list((tmp_path / "cache" / "jinja").iterdir())
    assert _fresh_environment(user).get_template("model.py.jinja").render() == "x = 1"
    (user / "model.py.jinja").write_text("x = {{ 2 }}\n")
    assert _fresh_environment(user).get_template("model.py.jinja").render() == "x = 2"


def test_a_damaged_template_cache_only_means_compiling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CNNGEN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("CNNGEN_NO_CACHE", raising=False)
    (tmp_path / "t.jinja").write_text("y = {{ 3 }}\n")
    _fresh_environment(tmp_path).get_template("t.jinja")
    for entry in (tmp_path / "cache" / "jinja").iterdir():
        entry.write_bytes(b"garbage")
    assert _fresh_environment(tmp_path).get_template("t.jinja").render() == "y = 3"
    monkeypatch.setenv("CNNGEN_NO_CACHE", "1")
    assert format_cache.template_cache("test") is None
