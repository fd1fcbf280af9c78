"""How long cnngen takes to plan, and to plan + render + format, from tiny to 4K inputs.

Run from the repository root::

    python benchmarks/plan_speed.py            # prints the table, writes PLAN_SPEED.md
    python benchmarks/plan_speed.py --repeats 5 --no-write

Three timings per case, each the median of several runs:

* ``plan``: ``make_spec`` + ``solve`` (validation and the shape solver);
* ``plan + render``: the above plus Jinja rendering and Black formatting of the
  model file, in-process with Black already imported;
* ``cnngen model`` (fresh process): the console command end to end, writing the
  file to stdout; it includes interpreter start-up and imports, which is
  what a user waits for.

Nothing here imports torch: the numbers are the generation path alone.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from cnngen import __version__  # noqa: E402
from cnngen.core.solver import solve  # noqa: E402
from cnngen.core.spec import make_spec  # noqa: E402
from cnngen.rendering.engine import render_model  # noqa: E402

OUTPUT = Path(__file__).resolve().parent / "PLAN_SPEED.md"


@dataclass(frozen=True)
class Case:
    """One request to time, with the CLI words that make the same model."""

    label: str
    family: str
    options: dict[str, Any]


CASES = (
    Case("28x28, 2 layers", "forecaster", {"input_size": (28, 28), "layers": 2}),
    Case(
        "100x100, 5 layers",
        "forecaster",
        {"input_size": (100, 100), "in_channels": 60, "out_channels": 30, "layers": 5},
    ),
    Case("500x500, 50 layers", "forecaster", {"input_size": (500, 500), "layers": 50}),
    Case("3840x2160, 50 layers", "forecaster", {"input_size": (3840, 2160), "layers": 50}),
    Case("1D 100000, 20 layers", "forecaster", {"input_size": (100000,), "layers": 20}),
    Case("3D 64x64x64, 5 layers", "forecaster", {"input_size": (64, 64, 64), "layers": 5}),
    Case(
        "1D 1000 -> exactly 30, 6 layers",
        "encoder",
        {"input_size": (1000,), "layers": 6, "target_size": (30,)},
    ),
)


def timed(function: Callable[[], Any], repeats: int, budget: float) -> float:
    """Median wall time of ``function``: at least 3 runs, at most ``repeats`` or ``budget`` s."""
    function()  # warm caches (templates, Black's parser) before timing
    times: list[float] = []
    started = time.perf_counter()
    while len(times) < repeats and (len(times) < 3 or time.perf_counter() - started < budget):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def fresh_process(case: Case, runs: int) -> float:
    """Median wall time of ``python -m cnngen model ...`` writing to stdout."""
    spec = make_spec(case.family, **case.options)
    argv = [sys.executable, "-m", "cnngen", *spec.command().split()]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def milliseconds(seconds: float) -> str:
    value = seconds * 1000
    return f"{value:.2f} ms" if value < 10 else f"{value:.1f} ms"


def cpu_model() -> str:
    """The CPU's marketing name (Linux /proc/cpuinfo), else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> list[tuple[str, str]]:
    import black
    import jinja2

    return [
        ("CPU", f"{cpu_model()} ({os.cpu_count()} logical cores visible)"),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("cnngen", __version__),
        ("Black", black.__version__),
        ("Jinja2", jinja2.__version__),
        ("Load average when the run ended (1/5/15 min)", _load()),
    ]


def _load() -> str:
    """Other work on the machine inflates the numbers; this says how much there was."""
    try:
        return " / ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def measure(repeats: int, process_runs: int) -> list[list[str]]:
    rows = []
    for case in CASES:
        spec = make_spec(case.family, **case.options)
        plan = solve(spec)
        source = render_model(plan, spec.command())
        ops = sum(1 for stage in plan.stages for _ in stage.all_ops())
        plan_time = timed(
            lambda case=case: solve(make_spec(case.family, **case.options)), repeats, 2.0
        )
        render_time = timed(lambda case=case: _plan_and_render(case), max(3, repeats // 4), 5.0)
        process_time = fresh_process(case, process_runs)
        rows.append(
            [
                case.label,
                case.family,
                "x".join(map(str, plan.output_shape)),
                f"{ops:,}",
                f"{len(source.splitlines()):,}",
                milliseconds(plan_time),
                milliseconds(render_time),
                milliseconds(process_time),
            ]
        )
        print(" | ".join(rows[-1]), flush=True)
    return rows


def _plan_and_render(case: Case) -> str:
    spec = make_spec(case.family, **case.options)
    return render_model(solve(spec), spec.command())


def markdown(rows: list[list[str]], repeats: int, process_runs: int) -> str:
    headers = [
        "case",
        "family",
        "output",
        "ops",
        "file lines",
        "plan",
        "plan + render + Black",
        "`cnngen model` (fresh process)",
    ]
    lines = [
        "# Planning speed",
        "",
        "Generated by `python benchmarks/plan_speed.py`; rerun it to refresh this file.",
        "",
        "Medians of repeated runs: `plan` is `make_spec` + `solve` (up to "
        f"{repeats} runs); `plan + render + Black` adds Jinja rendering and Black "
        "formatting in-process (Black already imported); the last column runs "
        f"`python -m cnngen model ...` in a new process ({process_runs} runs), "
        "interpreter start-up and imports included.  torch is never imported.",
        "",
        "| " + " | ".join(headers) + " |",
        "| " + " | ".join("---" if i < 2 else "---:" for i in range(len(headers))) + " |",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += ["", "## Machine", ""]
    lines += [f"- {name}: {value}" for name, value in machine_info()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=41, help="most timed runs per case")
    parser.add_argument("--process-runs", type=int, default=5, help="fresh-process runs per case")
    parser.add_argument("--no-write", action="store_true", help=f"do not write {OUTPUT.name}")
    args = parser.parse_args(argv)
    rows = measure(args.repeats, args.process_runs)
    text = markdown(rows, args.repeats, args.process_runs)
    print()
    print(text)
    assert "torch" not in sys.modules, "the generation path imported torch"
    if not args.no_write:
        OUTPUT.write_text(text, encoding="utf-8")
        print(f"wrote {OUTPUT.relative_to(REPO)}")


if __name__ == "__main__":
    main()
