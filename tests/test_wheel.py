"""The built wheel works on its own: installed into a fresh venv, run outside the checkout.

This catches packaging mistakes the in-tree tests cannot see, above all
templates that are not shipped inside the package (they live in
the top-level ``templates/`` folder, carried as ``cnngen/templates/``).  The wheel is installed with ``--no-deps``
into a fresh venv; torch, jinja2, black and click come from wherever the
interpreter running the tests finds them (a user venv, the user site, the
system), through a ``.pth`` file listing its site-packages folders, so no
network is needed.  The checkout itself is never on that path.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import site
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow

OFFLINE = re.compile(
    r"No matching distribution|Could not find a version|Network is unreachable|"
    r"Temporary failure in name resolution|ConnectionError",
    re.IGNORECASE,
)


def run(argv: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run(argv, capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)


def dependency_folders() -> list[str]:
    """The site-packages folders of the interpreter running the tests, checkout excluded.

    Listed as plain lines in a ``.pth`` file they join the venv's ``sys.path``
    after its own site-packages, so the wheel's cnngen wins, and their own
    ``.pth`` files (such as an editable install of this checkout) are not run.
    """
    candidates = [
        *site.getsitepackages(),
        sysconfig.get_path("purelib"),
        sysconfig.get_path("platlib"),
    ]
    if site.ENABLE_USER_SITE:
        candidates.append(site.getusersitepackages())
    candidates += [
        entry for entry in sys.path if entry.endswith(("site-packages", "dist-packages"))
    ]
    folders: list[str] = []
    for folder in candidates:
        path = Path(folder)
        if path.is_dir() and path.resolve() != ROOT and str(path) not in folders:
            folders.append(str(path))
    return folders


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(wheel, venv python, venv cnngen script), built once for this module."""
    base = tmp_path_factory.mktemp("wheel")
    dist = base / "dist"
    build = [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist)]
    built = run([*build, str(ROOT)], cwd=base)
    have_backend = importlib.util.find_spec("hatchling") is not None
    if built.returncode != 0 and have_backend:
        # Offline, an isolated build cannot fetch hatchling; the installed one will do.
        built = run([*build, "--no-isolation", str(ROOT)], cwd=base)
    if built.returncode != 0 and not have_backend and OFFLINE.search(built.stdout + built.stderr):
        pytest.skip("building the wheel needs hatchling: not installed and no package index")
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = dist.glob("cnngen-*.whl")

    env_dir = base / "venv"
    venv.EnvBuilder(system_site_packages=False, with_pip=False).create(env_dir)
    python = env_dir / ("Scripts" if os.name == "nt" else "bin") / "python"
    purelib = run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], base
    )
    assert purelib.returncode == 0, purelib.stderr
    (Path(purelib.stdout.strip()) / "_dependencies.pth").write_text(
        "".join(f"{folder}\n" for folder in dependency_folders()), encoding="utf-8"
    )
    installed = run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", "--quiet", str(wheel)],
        cwd=base,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stdout + installed.stderr
    script = python.parent / ("cnngen.exe" if os.name == "nt" else "cnngen")
    assert script.exists()
    return wheel, python, script


def test_wheel_carries_the_package_and_its_templates(installed: tuple[Path, Path, Path]) -> None:
    wheel, _, _ = installed
    names = zipfile.ZipFile(wheel).namelist()
    assert "cnngen/__init__.py" in names
    assert "cnngen/templates/model.py.jinja" in names
    prefix = "cnngen/templates/"
    shipped = {name.removeprefix(prefix) for name in names if name.startswith(prefix)}
    templates = ROOT / "templates"
    expected = {p.relative_to(templates).as_posix() for p in templates.rglob("*") if p.is_file()}
    assert shipped == expected
    assert not any(name.startswith(("tests/", "templates/")) for name in names)


def test_installed_cli_plans_and_renders_outside_the_checkout(
    installed: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    _, python, script = installed
    where = run([str(python), "-c", "import cnngen; print(cnngen.__file__)"], cwd=tmp_path)
    assert where.returncode == 0, where.stderr
    location = Path(where.stdout.strip()).resolve()
    assert ROOT not in location.parents, f"imported the checkout, not the wheel: {location}"

    plan = run([str(script), "plan", "forecaster", "-i", "100x100", "-n", "5", "--json"], tmp_path)
    assert plan.returncode == 0, plan.stderr
    data = json.loads(plan.stdout)
    assert data["input"] == [1, 100, 100]
    assert data["output"] == [1, 100, 100]
    assert len([layer for layer in data["layers"] if layer["kind"] == "conv"]) == 5

    model = run(
        [str(script), "model", "forecaster", "-i", "100x100", "-n", "5", "-o", "forecaster.py"],
        tmp_path,
    )
    assert model.returncode == 0, model.stderr
    source = (tmp_path / "forecaster.py").read_text()
    assert "class Forecaster(nn.Module):" in source
    assert "cnngen" not in [
        line.split()[1] for line in source.splitlines() if line.startswith(("import ", "from "))
    ]

    checked = run([str(python), "forecaster.py"], tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "(2, 1, 100, 100)" in checked.stdout

    bad = run([str(script), "plan", "encoder", "-i", "100", "-n", "30", "--stride", "2"], tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.startswith("Error: --layers")


def test_torch_is_an_extra_not_a_requirement(installed: tuple[Path, Path, Path]) -> None:
    """Generating files needs no torch; verify and export ask for cnngen[torch]."""
    wheel, _, _ = installed
    archive = zipfile.ZipFile(wheel)
    (metadata,) = [name for name in archive.namelist() if name.endswith(".dist-info/METADATA")]
    requires = [
        line.removeprefix("Requires-Dist: ")
        for line in archive.read(metadata).decode().splitlines()
        if line.startswith("Requires-Dist: ")
    ]
    torch_lines = [line for line in requires if re.match(r"torch\b", line)]
    assert torch_lines and all("extra ==" in line for line in torch_lines), torch_lines
    assert any(
        line.startswith("torch>=2.5") and "'torch'" in line.replace('"', "'")
        for line in torch_lines
    )
    assert any(line.startswith("onnxscript") for line in requires)
