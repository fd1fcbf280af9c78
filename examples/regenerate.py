"""Regenerate every example model file.

Run from the repository root:

    python examples/regenerate.py            # rewrite the examples
    python examples/regenerate.py --check    # exit 1 if any example is stale

Each example is one ``cnngen model`` command; the command is also written in
the header of the file it makes.  The golden test (tests/test_examples.py)
renders the same commands and fails when a committed file differs.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# (file, cnngen arguments) — the argument order is the order users would type.
EXAMPLES: list[tuple[str, str]] = [
    ("lenet5.py", "model classifier --preset lenet5 --name LeNet5"),
    (
        "forecaster_2d.py",
        "model forecaster --input-size 100x100 --in-channels 60 --out-channels 30 --layers 5",
    ),
    (
        "encoder_1d.py",
        "model encoder --input-size 1000 --layers 6 --name SignalEncoder",
    ),
    (
        "forecaster_3d.py",
        (
            "model forecaster --input-size 16x64x64 --start-channels 16 "
            "--final-activation sigmoid --out-depth 8 --name VolumeForecaster"
        ),
    ),
    (
        "resnet_se.py",
        (
            "model classifier --input-size 64x64 --in-channels 3 --block residual --se "
            "--name ResNetSE"
        ),
    ),
    (
        "c4_classifier.py",
        "model equivariant --input-size 28x28 --layers 3 --start-channels 16 --name C4Classifier",
    ),
]


def example_argv(name: str, arguments: str) -> list[str]:
    """The argv that writes example ``name`` (relative path, so headers are portable)."""
    return [*shlex.split(arguments), "-o", f"examples/{name}"]


def render_example(name: str, arguments: str) -> str:
    """The text ``cnngen`` writes for one example, without touching the disk."""
    from cnngen.cli.model import model_command
    from cnngen.cli.options import build_plan
    from cnngen.rendering.engine import render_model

    argv = example_argv(name, arguments)
    params = dict(model_command.make_context("model", argv[1:]).params)
    family, output = params.pop("family"), params.pop("output")
    spec, plan = build_plan(family, params)
    return render_model(plan, spec.command(output=output))


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name, arguments in EXAMPLES:
        path = ROOT / "examples" / name
        text = render_example(name, arguments)
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(name)
        if not check:
            path.write_text(text, encoding="utf-8")
            print(f"wrote examples/{name}")
    if check and stale:
        print("stale examples: " + ", ".join(stale), file=sys.stderr)
        return 1
    if not stale:
        print("examples are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
