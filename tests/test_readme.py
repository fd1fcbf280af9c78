"""The README's bash blocks run as written, in order, in a scratch folder.

A block right after ``<!-- slow -->`` (a long training run) or ``<!-- not run: why -->``
(it needs files or a home folder the test does not have) is skipped, and so are the
set-up lines for developers (virtual environment, pip install, the test suite).
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
DEVELOPER_LINES = ("pip install", "python3 -m venv", "python -m pip", "python -m pytest")


def runnable_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, script) of every bash block the test runs."""
    blocks = []
    for match in re.finditer(r"(<!--[^>]*-->\s*)?```bash\n(.*?)```", text, re.S):
        marker = match.group(1) or ""
        if "slow" in marker or "not run" in marker:
            continue
        lines = [
            line
            for line in match.group(2).replace("\\\n", " ").splitlines()
            if not line.lstrip().startswith(DEVELOPER_LINES)
        ]
        if any(line.strip() and not line.lstrip().startswith("#") for line in lines):
            blocks.append((text[: match.start(2)].count("\n") + 1, "\n".join(lines)))
    return blocks


def config_files(text: str) -> list[tuple[str, str]]:
    """The TOML blocks that open with ``# NAME.toml``: the README's commands read them."""
    return re.findall(r"```toml\n# (\S+\.toml)\n(.*?)```", text, re.S)


def test_the_test_sees_the_blocks() -> None:
    lines = [line for line, _ in runnable_blocks(README.read_text())]
    assert len(lines) >= 4
    assert "forecaster.toml" in dict(config_files(README.read_text()))
    assert all("pip install" not in script for _, script in runnable_blocks(README.read_text()))


@pytest.mark.slow
def test_readme_commands_run_as_written(tmp_path: Path) -> None:
    shims = tmp_path / "bin"
    shims.mkdir()
    shim = shims / "cnngen"
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m cnngen "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    work = tmp_path / "work"
    work.mkdir()
    env = {
        **os.environ,
        "PATH": f"{shims}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "OMP_NUM_THREADS": "1",
    }
    text = README.read_text()
    for name, content in config_files(text):
        (work / name).write_text(content)
    for line, script in runnable_blocks(text):
        done = subprocess.run(
            ["bash", "-e", "-c", script],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, f"README.md:{line}:\n{script}\n{done.stderr[-2000:]}"
