"""Shared test fixtures.

Kept small and generic: a way to run the real CLI entry point in-process and
read back its exit status and both output streams.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class CliResult:
    """What one ``cnngen`` invocation did: exit status, stdout and stderr."""

    code: int
    out: str
    err: str


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Call ``cnngen.cli.main(argv)`` as the console script would and capture the result.

    ``main`` always ends with ``sys.exit``, so the exit status is read from
    the ``SystemExit`` it raises; output printed before the call is discarded.
    """
    from cnngen.cli import main

    def run(*argv: str) -> CliResult:
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            main(list(argv))
        captured = capsys.readouterr()
        code = exit_info.value.code
        return CliResult(code if isinstance(code, int) else 1, captured.out, captured.err)

    return run


@pytest.fixture(autouse=True, scope="session")
def _format_cache_inside_the_run(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Black's output cache lives under this run's temporary folder, never in ~/.cache.

    Every worker of a parallel run (and every CLI subprocess, which inherits
    the environment) shares it, so a text formatted once is not formatted again.
    """
    import os

    folder = tmp_path_factory.getbasetemp().parent / "format-cache"
    os.environ.setdefault("CNNGEN_CACHE_DIR", str(folder))
