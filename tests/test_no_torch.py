"""The generation path never imports torch.

Importing torch costs seconds; cnngen promises that importing the package,
planning, rendering and every CLI command's start-up stay pure Python.  Each
check runs in a fresh interpreter, because this test process may well have
imported torch already.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# The one module that imports torch on purpose: it runs inside the child
# process that `cnngen verify` starts to execute a generated model.
RUNS_MODELS = {"cnngen.verify.child"}  # and what it imports, below


def run_python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def test_planning_rendering_and_the_cli_never_import_torch(tmp_path: Path) -> None:
    result = run_python(
        f"""
        import contextlib, io, json, pkgutil, importlib, sys

        import cnngen, cnngen.cli, cnngen.core.solver, cnngen.rendering.engine
        from cnngen.core.spec import make_spec
        from cnngen.core.solver import solve
        from cnngen.rendering.engine import render_model

        for info in pkgutil.iter_modules(cnngen.__path__, "cnngen."):
            if info.name not in {sorted(RUNS_MODELS)!r}:
                importlib.import_module(info.name)

        spec = make_spec("forecaster", input_size=(100, 100), in_channels=60, out_channels=30, layers=5)
        source = render_model(solve(spec), spec.command())
        assert "class Forecaster" in source

        def cli(*argv):
            out = io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
                try:
                    cnngen.cli.main(list(argv))
                except SystemExit as exit_:
                    assert exit_.code in (0, None), (argv, exit_.code)
            return out.getvalue()

        plan = json.loads(cli("plan", "forecaster", "-i", "100x100", "-n", "5", "--json"))
        assert plan["output"] == [1, 100, 100]
        cli("plan", "classifier", "--preset", "lenet5")
        cli("model", "classifier", "-i", "32x32", "--block", "residual", "-o", "model.py")
        cli("model", "equivariant", "-i", "16x16", "-n", "2")
        cli("calc", "pool", "--input", "7x7", "--kernel", "2", "--ceil-mode")
        cli("--help")
        cli("--version")
        for name in sorted(cnngen.cli.cli.commands):
            cli(name, "--help")

        loaded = sorted(name for name in sys.modules if name == "torch" or name.startswith("torch."))
        assert not loaded, loaded
        print("ok")
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")
    assert "class Forecaster" not in result.stdout
    assert (tmp_path / "model.py").is_file()


def test_the_check_can_fail(tmp_path: Path) -> None:
    """The same probe notices torch when something does import it."""
    pytest.importorskip("torch")
    result = run_python(
        """
        import sys
        import cnngen.verify.child
        assert "torch" not in sys.modules
        """,
        tmp_path,
    )
    assert result.returncode != 0
    assert "AssertionError" in result.stderr
