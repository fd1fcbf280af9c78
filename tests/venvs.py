"""Virtual environments holding only some packages, as a user's fresh install would.

The packages are linked from the running environment rather than installed,
so a venv costs a second and no download.  A test then shows that a generated
script, or cnngen itself, works with exactly what its docs promise.
"""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import sysconfig
from pathlib import Path


def closure(*roots: str) -> set[str]:
    """The distributions ``pip install ROOTS`` brings, by name: the roots and what they require."""
    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if name in seen:
            continue
        seen.add(name)
        for text in importlib.metadata.distribution(name).requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return seen


def linked_venv(folder: Path, *roots: str) -> Path:
    """A venv in ``folder`` whose site-packages link the closure of ``roots``; its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    )  # fmt: skip
    ours = Path(sysconfig.get_paths()["purelib"])
    for name in closure(*roots):
        distribution = importlib.metadata.distribution(name)
        for top in {Path(str(file)).parts[0] for file in distribution.files or []}:
            source = Path(distribution.locate_file(top))
            target = site / top
            if top in ("..", "__pycache__") or top.endswith(".pth") or target.exists():
                continue
            if source.exists():
                target.symlink_to(source if source.is_absolute() else ours / top)
    return python
