"""How fast cnngen plans and generates, against floors measured in the same run.

Run from the repository root::

    python benchmarks/plan_speed.py            # prints the tables, writes PLAN_SPEED.md
    python benchmarks/plan_speed.py --quick    # fewer sizes and depths; prints only
    python benchmarks/plan_speed.py --no-write

Four measurements:

* **Planning per op**: ``make_spec`` + ``solve`` for forecasters of 5 to 1000
  layers, 1D to 3D, from 32 to 3840x2160, in CPU microseconds per op, next to
  three reference recurrences written here, given the plan's layer choices
  and timed in turns with the plan.
  *Arithmetic* computes the output size, the parameters, the MACs and a
  textbook receptive field (jump, size, start) per dimension of the windowed
  ops alone, into one total.  *Records* does what any planner must at least
  do: it builds a record for every op of the plan (name, kind, shapes,
  parameters, MACs, field) as a tuple.  *Ops* builds the same records as
  cnngen's own ``Op`` objects, with the constructor.  The ratios are how far
  planning is from them.
* **Growth in layers**: the exponent of a least-squares fit of log(plan time)
  against log(layers) for each input size; 1.0 is linear.
* **Whole process**: ``cnngen model`` for the README forecaster, as a ratio to
  ``python -c pass``, ``python -c "import click"`` and ``cnngen --help``, all
  interleaved so that load on the machine hits each alike.
* **Black's share** of rendering a model file: the render with Black against
  the same render without it.

Nothing here imports torch: the numbers are the generation path alone.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from cnngen import __version__  # noqa: E402
from cnngen.core.plan import Op, Plan  # noqa: E402
from cnngen.core.solver import solve  # noqa: E402
from cnngen.core.spec import make_spec  # noqa: E402
from cnngen.errors import CnngenError  # noqa: E402
from cnngen.rendering.engine import render_model, unformatted  # noqa: E402

OUTPUT = Path(__file__).resolve().parent / "PLAN_SPEED.md"

SIZES: tuple[tuple[int, ...], ...] = (
    (32,),
    (100_000,),
    (32, 32),
    (500, 500),
    (3840, 2160),
    (32, 32, 32),
)
LAYERS = (5, 20, 100, 300, 1000)
QUICK_SIZES = ((32,), (32, 32), (3840, 2160))
QUICK_LAYERS = (5, 50, 200)
# Channels do not change how planning scales; capping them keeps deep 3D
# plans under cnngen's parameter limit.
OPTIONS: dict[str, Any] = {"max_channels": 64}
# The README's first command (`cnngen model forecaster ...`).
README_FORECASTER = (
    "model forecaster --input-size 100x100 --in-channels 60 --out-channels 30 --layers 5"
)
# The deepest requests the documented limits allow at 4K (cnngen.plan arguments).
DEEP_CASES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("classifier", {"block": "residual"}),
    ("classifier", {"downsample": "none"}),
    ("encoder", {"downsample": "none"}),
    ("forecaster", {"downsample": "none"}),
    ("forecaster", {}),
)
BLACK_CASES = (
    ("100x100, 5 layers (README)", {"input_size": (100, 100), "layers": 5}),
    ("500x500, 50 layers", {"input_size": (500, 500), "layers": 50}),
    ("3840x2160, 200 layers", {"input_size": (3840, 2160), "layers": 200}),
)


# ------------------------------------------------------------------ timing
def cpu_time(function: Callable[[], Any], budget: float, most: int = 25) -> float:
    """Median CPU seconds of ``function``: at least 3 runs, more while within ``budget``."""
    function()  # warm caches before timing
    times: list[float] = []
    started = time.process_time()
    while len(times) < 3 or (len(times) < most and time.process_time() - started < budget):
        start = time.process_time()
        function()
        times.append(time.process_time() - start)
    return statistics.median(times)


def interleaved_cpu_times(
    functions: Sequence[Callable[[], Any]], budget: float, rounds: int = 5, calls: int = 5
) -> list[float]:
    """Median CPU seconds of each function, measured in turns, so drifting load meets all alike.

    A turn runs one function once to warm it (its code and data back in the
    caches, as in a loop of its own), then times ``calls`` calls; the
    functions take turns for ``rounds`` rounds, more while within ``budget``.
    """
    times: list[list[float]] = [[] for _ in functions]
    started = time.process_time()
    done = 0
    while done < rounds or (done < 5 * rounds and time.process_time() - started < budget):
        for function, taken in zip(functions, times, strict=True):
            function()
            for _ in range(calls):
                start = time.process_time()
                function()
                taken.append(time.process_time() - start)
        done += 1
    return [statistics.median(taken) for taken in times]


# --------------------------------------------------- the reference recurrences
Row = tuple[str, int, int, tuple[tuple[int, ...], ...], bool, int]


def reference_inputs(plan: Plan) -> list[Row]:
    """Each op's kind, channels, window, bias and groups: what the recurrence starts from."""
    rows = []
    for stage in plan.stages:
        for _, op in stage.all_ops():
            bias, groups = bool(op.arg("bias", True)), int(op.arg("groups", 1))
            rows.append((op.kind, op.in_shape[0], op.out_shape[0], _window(op), bias, groups))
    return rows


def _window(op: Op) -> tuple[tuple[int, ...], ...]:
    dims = len(op.in_shape) - 1

    def per_dim(value: Any) -> tuple[int, ...]:
        return tuple(value) if isinstance(value, tuple) else (int(value),) * dims

    if op.kind not in ("conv", "conv_transpose", "maxpool", "avgpool") or dims < 1:
        return ()
    kernel = per_dim(op.arg("kernel_size"))
    stride = per_dim(op.arg("stride", kernel if op.kind.endswith("pool") else 1))
    return kernel, stride, per_dim(op.arg("padding", 0)), per_dim(op.arg("dilation", 1))


def reference(rows: Sequence[Row], sizes: Sequence[int]) -> int:
    """Sizes, parameters, MACs and an affine receptive field per op, O(1) per op and dim.

    The arithmetic alone: it keeps no record of the ops, skips the ops without
    a window (norms, activations) and leaves out a transposed convolution's
    output padding.  Returns the parameters plus MACs of the convolutions, so a
    test can check that it does the planner's arithmetic for them.
    """
    sizes = list(sizes)
    fields = [(1.0, 1.0, 0.0) for _ in sizes]  # size, jump, start of the centre
    total = 0
    for kind, cin, cout, window, bias, groups in rows:
        if not window:
            continue
        kernel, stride, padding, dilation = window
        for d, (k, s, p, di) in enumerate(zip(kernel, stride, padding, dilation, strict=True)):
            span = di * (k - 1) + 1
            size, jump, start = fields[d]
            if kind == "conv_transpose":
                sizes[d] = (sizes[d] - 1) * s - 2 * p + span
                fields[d] = (size + (math.ceil(span / s) - 1) * jump, jump / s, start)
            else:
                sizes[d] = (sizes[d] + 2 * p - span) // s + 1
                shift = ((span - 1) / 2 - p) * jump
                fields[d] = (size + (span - 1) * jump, jump * s, start + shift)
        if kind == "conv":
            taps = math.prod(kernel) * (cin // groups)
            total += cout * taps + (cout if bias else 0) + math.prod(sizes) * cout * taps
    return total


# What the record-building reference starts from, per op: the stage's name, the
# op's role and layer number (its attribute name is the role, then the number),
# its kind, output channels, window, bias and groups, and (for the reference
# that builds cnngen's ops) its module and constructor arguments.
RecordRow = tuple[
    str, str, int | None, str, int, tuple[tuple[int, ...], ...], bool, int, str, tuple
]
NORMS = frozenset({"batchnorm", "groupnorm", "layernorm"})


def record_inputs(plan: Plan) -> list[RecordRow]:
    """:func:`reference_inputs` with the names' parts and the output padding."""
    rows = []
    for stage in plan.stages:
        for name, op in stage.all_ops():
            path = name[len(stage.name) + 1 :]
            role = path.rstrip("0123456789")
            number = int(path[len(role) :]) if len(role) < len(path) else None
            window = _window(op)
            if op.kind == "conv_transpose":
                dims = len(op.in_shape) - 1
                extra = op.arg("output_padding", 0)
                window = (*window, extra if isinstance(extra, tuple) else (extra,) * dims)
            bias, groups = bool(op.arg("bias", True)), int(op.arg("groups", 1))
            rows.append(
                (stage.name, role, number, op.kind, op.out_shape[0], window, bias, groups,
                 op.module, op.args)
            )  # fmt: skip
    return rows


def reference_records(
    rows: Sequence[RecordRow], input_shape: Sequence[int], as_ops: bool = False
) -> list[Any]:
    """The reference recurrence that also builds each op's record, as a planner must.

    Per op: its name, kind, input and output shapes, parameters, MACs and an
    affine receptive field (whole pixels per dimension), as plain tuples, or
    with ``as_ops`` as cnngen's own :class:`~cnngen.core.plan.Op`, made by its
    constructor from those and the given module and arguments.  Ops without a
    window keep the shape and the field (a norm counts its weight and bias),
    so every op of the plan is built, not only the convolutions.
    """
    shape = tuple(input_shape)
    fields = [(1.0, 1.0) for _ in shape[1:]]  # size and jump of the centre's field
    field = (1,) * len(fields)
    records: list[Any] = []
    for stage, role, number, kind, cout, window, bias, groups, module, args in rows:
        name = f"{stage}.{role}{number}" if number is not None else f"{stage}.{role}"
        cin = shape[0]
        if not window:
            out = shape
            params = 2 * cin if kind in NORMS else 0
            macs = 0
        else:
            kernel, stride, padding, dilation = window[:4]
            sizes = []
            for d, (k, s, p, di) in enumerate(zip(kernel, stride, padding, dilation, strict=True)):
                span = di * (k - 1) + 1
                size, jump = fields[d]
                if kind == "conv_transpose":
                    sizes.append((shape[1 + d] - 1) * s - 2 * p + span + window[4][d])
                    fields[d] = (size + (math.ceil(span / s) - 1) * jump, jump / s)
                else:
                    sizes.append((shape[1 + d] + 2 * p - span) // s + 1)
                    fields[d] = (size + (span - 1) * jump, jump * s)
            field = tuple(math.ceil(size) for size, _ in fields)
            if kind == "conv":
                out = (cout, *sizes)
                taps = math.prod(kernel) * (cin // groups)
                params = cout * taps + (cout if bias else 0)
                macs = math.prod(sizes) * cout * taps
            elif kind == "conv_transpose":
                out = (cout, *sizes)
                taps = math.prod(kernel) * cin
                params = cout * taps + (cout if bias else 0)
                macs = math.prod(shape[1:]) * cout * taps
            else:  # pooling
                out = (cin, *sizes)
                params = macs = 0
        if as_ops:
            records.append(Op(name, kind, module, args, shape, out, params, macs, field))
        else:
            records.append((name, kind, shape, out, params, macs, field))
        shape = out
    return records


# ------------------------------------------------------------- measurements
def label(sizes: Sequence[int]) -> str:
    return f"{len(sizes)}D " + "x".join(map(str, sizes))


def per_op(
    sizes_list: Sequence[Sequence[int]], layers_list: Sequence[int], budget: float
) -> list[dict[str, Any]]:
    rows = []
    for sizes in sizes_list:
        for layers in layers_list:
            options = {"input_size": tuple(sizes), "layers": layers, **OPTIONS}
            row: dict[str, Any] = {"size": label(sizes), "layers": layers}
            try:
                plan = solve(make_spec("forecaster", **options))
            except CnngenError as error:
                row["refused"] = str(error).split(";")[0]
                rows.append(row)
                print(
                    f"{row['size']:>16} {layers:>5} layers: refused ({row['refused']})", flush=True
                )
                continue
            ops = sum(1 for stage in plan.stages for _ in stage.all_ops())
            inputs = reference_inputs(plan)
            named = record_inputs(plan)
            # Round-robin, so a change of load on a shared machine meets all four alike.
            seconds, floor, built, made = interleaved_cpu_times(
                [
                    lambda options=options: solve(make_spec("forecaster", **options)),
                    lambda i=inputs, s=sizes: reference(i, s),
                    lambda i=named, s=plan.input_shape: reference_records(i, s),
                    lambda i=named, s=plan.input_shape: reference_records(i, s, True),
                ],
                budget * 1.5,
            )
            row.update(ops=ops, plan=seconds, reference=floor, records=built, op_records=made)
            rows.append(row)
            print(
                f"{row['size']:>16} {layers:>5} layers {ops:>6} ops: "
                f"{seconds * 1e6 / ops:7.1f} us/op, reference {floor * 1e6 / ops:5.2f} us/op "
                f"({seconds / floor:5.1f}x), with records {built * 1e6 / ops:5.2f} us/op "
                f"({seconds / built:5.1f}x), with ops {made * 1e6 / ops:5.2f} us/op "
                f"({seconds / made:5.1f}x)",
                flush=True,
            )
    return rows


def growth(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Slope of log(plan time) against log(layers), per input size."""
    slopes = {}
    for size in dict.fromkeys(row["size"] for row in rows):
        points = [
            (math.log(r["layers"]), math.log(r["plan"]))
            for r in rows
            if r["size"] == size and "plan" in r
        ]
        if len(points) < 2:
            continue
        mean_x = statistics.fmean(x for x, _ in points)
        mean_y = statistics.fmean(y for _, y in points)
        num = sum((x - mean_x) * (y - mean_y) for x, y in points)
        den = sum((x - mean_x) ** 2 for x, _ in points)
        slopes[size] = num / den
    return slopes


def deep(budget: float, layers: int) -> list[dict[str, Any]]:
    """CPU time of the deepest plans at 3840x2160, and the receptive fields' part of it."""
    from cnngen.core.fields import annotate

    rows = []
    for family, extra in DEEP_CASES:
        options = {"input_size": (3840, 2160), "layers": layers, **extra}
        plan = solve(make_spec(family, **options))
        ops = sum(1 for stage in plan.stages for _ in stage.all_ops())
        seconds = cpu_time(lambda f=family, o=options: solve(make_spec(f, **o)), budget, 9)
        fields = cpu_time(lambda p=plan: annotate(p.stages, p.input_shape), budget / 2, 9)
        words = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in extra.items())
        rows.append(
            {"case": f"{family} {words}".strip(), "ops": ops, "plan": seconds, "fields": fields}
        )
        print(
            f"{rows[-1]['case']}: {ops} ops, {seconds:.3f} s CPU, fields {fields:.3f} s", flush=True
        )
    return rows


MODEL_COLD = "cnngen model (README forecaster), new text"
MODEL_WARM = "cnngen model (README forecaster), formatted before"
MODEL_COMPILED = "cnngen model (README forecaster), new text, templates compiled before"


def _forget_formatted(cache: Path) -> None:
    """Empty the format cache's entries, keeping its compiled templates (``jinja``)."""
    for entry in cache.glob("??"):
        shutil.rmtree(entry, ignore_errors=True)


def processes(runs: int) -> dict[str, float]:
    """Median wall seconds of each command in a fresh interpreter, runs interleaved."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    # An installed cnngen has its bytecode; without it every run compiles the sources again.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryDirectory() as folder:
        model = [
            sys.executable,
            "-m",
            "cnngen",
            *README_FORECASTER.split(),
            "-o",
            str(Path(folder) / "forecaster.py"),
            "--force",
        ]
        # A new text goes through Black; one formatted before is read from the cache.
        cold = {**env, "CNNGEN_NO_CACHE": "1"}
        warm = {**env, "CNNGEN_CACHE_DIR": str(Path(folder) / "cache")}
        warm.pop("CNNGEN_NO_CACHE", None)
        # A new text for Black, with the templates' bytecode kept from the run before.
        compiled_cache = Path(folder) / "compiled"
        compiled = {**warm, "CNNGEN_CACHE_DIR": str(compiled_cache)}
        commands = {
            "python -c pass": ([sys.executable, "-c", "pass"], env),
            'python -c "import click"': ([sys.executable, "-c", "import click"], env),
            "cnngen --help": ([sys.executable, "-m", "cnngen", "--help"], env),
            MODEL_COLD: (model, cold),
            MODEL_WARM: (model, warm),
            MODEL_COMPILED: (model, compiled),
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(runs + 1):
            for name, (argv, command_env) in commands.items():
                if name == MODEL_COMPILED:
                    _forget_formatted(compiled_cache)
                start = time.perf_counter()
                subprocess.run(argv, check=True, capture_output=True, env=command_env)
                times[name].append(time.perf_counter() - start)
    # The first round warms the file cache and is left out.
    return {name: statistics.median(values[1:]) for name, values in times.items()}


def black_share(budget: float) -> list[dict[str, Any]]:
    # Black's own cost: the format cache would answer every repeat.
    os.environ["CNNGEN_NO_CACHE"] = "1"
    rows = []
    for name, options in BLACK_CASES:
        spec = make_spec("forecaster", **options)
        plan = solve(spec)
        command = spec.command()
        lines = len(render_model(plan, command).splitlines())
        formatted = cpu_time(
            lambda plan=plan, command=command: render_model(plan, command), budget, 7
        )

        def bare(plan: Plan = plan, command: str = command) -> str:
            with unformatted():
                return render_model(plan, command)

        raw = cpu_time(bare, budget, 7)
        rows.append({"case": name, "lines": lines, "render": formatted, "unformatted": raw})
        print(
            f"{name}: {lines} lines, render {formatted * 1e3:.1f} ms, Black {1 - raw / formatted:.0%}",
            flush=True,
        )
    return rows


# ------------------------------------------------------------------ report
def ms(seconds: float) -> str:
    value = seconds * 1000
    return (
        f"{value:.2f} ms"
        if value < 10
        else f"{value:.1f} ms"
        if value < 1000
        else f"{seconds:.2f} s"
    )


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
    from importlib.metadata import version

    import black
    import jinja2

    try:
        load = " / ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        load = "unknown"
    return [
        ("CPU", f"{cpu_model()} ({os.cpu_count()} logical cores visible)"),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("cnngen", __version__),
        ("Black", black.__version__),
        ("Click", version("click")),
        ("Jinja2", jinja2.__version__),
        # Other work on the machine inflates wall times; CPU times and ratios suffer less.
        ("Load average when the run ended (1/5/15 min)", load),
    ]


def markdown(
    rows: Sequence[dict[str, Any]],
    slopes: dict[str, float],
    process: dict[str, float],
    black: Sequence[dict[str, Any]],
    deep_rows: Sequence[dict[str, Any]],
    quick: bool,
) -> str:
    lines = [
        "# Planning speed",
        "",
        f"Generated by `python benchmarks/plan_speed.py{' --quick' if quick else ''}`; "
        "rerun it to refresh this file. torch is never imported.",
        "",
        "## Planning per op",
        "",
        '`make_spec` + `solve` for `cnngen.plan("forecaster", input_size=..., layers=..., '
        "max_channels=64)`, median CPU time, divided by the plan's ops (every layer, "
        "norms and activations included); the plan and its references are timed in turns, "
        "each warmed by one call before its timed calls, so a change of load on the machine "
        "meets them alike. "
        "Three references, recurrences written in the "
        "benchmark, O(1) per op and dimension. *Arithmetic* computes the output sizes, "
        "parameters, MACs and an affine receptive field of the windowed ops (convolutions, "
        "poolings) only, into one running total, and builds nothing: a floor for the "
        "arithmetic alone. *Records* builds what a planner hands on, one record per op of "
        "the plan (name, kind, input and output shape, parameters, MACs, receptive field) "
        "as plain tuples: the floor any planner's output is held to. *Ops* builds the "
        "same records as the plan's own `Op` objects (frozen dataclasses), with their "
        "constructor: the floor of a planner that hands on these very objects. All three are "
        "given the plan's layer choices (kernels, strides, channels, and for *ops* each "
        "op's module and constructor arguments); none solves them, checks limits or "
        "writes constructor arguments.",
        "",
        "| input | layers | ops | plan | plan per op | arithmetic per op | ratio "
        "| records per op | ratio | ops per op | ratio |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        if "refused" in row:
            lines.append(
                f"| {row['size']} | {row['layers']} | refused: {row['refused']} | | | | | | | | |"
            )
            continue
        ops = row["ops"]
        lines.append(
            f"| {row['size']} | {row['layers']} | {ops:,} | {ms(row['plan'])} | "
            f"{row['plan'] * 1e6 / ops:.1f} us | {row['reference'] * 1e6 / ops:.2f} us | "
            f"{row['plan'] / row['reference']:.1f}x | {row['records'] * 1e6 / ops:.2f} us | "
            f"{row['plan'] / row['records']:.1f}x | {row['op_records'] * 1e6 / ops:.2f} us | "
            f"{row['plan'] / row['op_records']:.1f}x |"
        )
    lines += ["", _against_ops(rows)]
    lines += [
        "",
        "## Growth in layers",
        "",
        "Exponent of a least-squares fit of log(plan time) against log(layers) "
        "(1.0: linear, 2.0: quadratic).",
        "",
        "| input | exponent |",
        "| --- | ---: |",
    ]
    lines += [f"| {size} | {slope:.2f} |" for size, slope in slopes.items()]
    depth = max(QUICK_LAYERS if quick else LAYERS)
    lines += [
        "",
        f"## Deepest plans at 3840x2160 ({depth} layers)",
        "",
        "Median CPU time of `make_spec` + `solve`, and of the receptive-field pass "
        "(`cnngen.core.fields.annotate`) on the finished plan.",
        "",
        "| request | ops | plan | receptive fields |",
        "| --- | ---: | ---: | ---: |",
    ]
    lines += [
        f"| `{row['case']}` | {row['ops']:,} | {ms(row['plan'])} | {ms(row['fields'])} |"
        for row in deep_rows
    ]
    model = process[MODEL_COLD]
    lines += [
        "",
        "## Whole process",
        "",
        f"`cnngen {README_FORECASTER} -o forecaster.py --force` (the README's first "
        "command), interpreter start-up and imports included; median wall time of "
        "interleaved runs. A new text is formatted by Black (with `CNNGEN_NO_CACHE=1` "
        "the templates are compiled from their text too); a text formatted before "
        "is read from the format cache, and Black is not imported; the third `cnngen "
        "model` row formats a new text with the templates' bytecode kept from an "
        "earlier run.",
        "",
        "Variants measured (interleaved, 15 runs, 2 shared cores under load, so as CPU-"
        "time ratios): bytecode matters most: with none at all "
        "(`PYTHONDONTWRITEBYTECODE=1` and an empty `-X pycache_prefix`) every run "
        "compiles every source, 2.7x the time of a new text with it, so these runs drop "
        "`PYTHONDONTWRITEBYTECODE`. Importing `difflib` (dry-run diff, "
        "a config key's hint) and `json` (one error) only where used is kept: about 1 "
        "ms each, within the noise of one run (new text 0.93x, formatted before 1.04x "
        "of the build before it). Each family's solver is imported with it: a "
        "forecaster's `cnngen model` loads neither the presets nor the U-Net and "
        "group-convolution solvers, nor `fractions`. Templates that print Black's layout "
        "(`cnngen.rendering.layout` splits the long calls as Black would; "
        "`tests/test_black_layout.py` pins that the raw render of ten models is "
        "Black's output) are kept: Black then formats a text once instead of twice, "
        "in-process 45-50 ms instead of 111 ms for the README model and 63-77 ms "
        "instead of 154-200 ms for resnet18. Not done: Black's import (about a fifth "
        "of a new text; `black/__init__` loads `black.files`, `pathspec` and "
        "`packaging` with it, and its public API has no lighter entry). Ratios to "
        "`python -c \"import click\"` are in the table's last column.",
        "",
        "| command | wall time | `cnngen model` is |",
        "| --- | ---: | ---: |",
    ]
    for name, seconds in process.items():
        ratio = "" if seconds == model else f"{model / seconds:.2f}x this"
        lines.append(f"| `{name}` | {ms(seconds)} | {ratio} |")
    lines += [
        "",
        "## Black's share of a render",
        "",
        "In-process, templates and Black warm: `render_model` with Black against the "
        "same render without it (median CPU time).",
        "",
        "| model | file lines | render | without Black | Black's share |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for row in black:
        share = 1 - row["unformatted"] / row["render"]
        lines.append(
            f"| {row['case']} | {row['lines']:,} | {ms(row['render'])} | "
            f"{ms(row['unformatted'])} | {share:.0%} |"
        )
    lines += ["", "## Machine", ""]
    lines += [f"- {name}: {value}" for name, value in machine_info()]
    return "\n".join(lines) + "\n"


def _against_ops(rows: Sequence[dict[str, Any]]) -> str:
    """One line: how far planning is from the *ops* floor, for the shallowest plans and the rest."""
    planned = [row for row in rows if "refused" not in row]
    ratios = {(row["size"], row["layers"]): row["plan"] / row["op_records"] for row in planned}
    fewest = min(row["layers"] for row in planned)
    shallow = [ratio for (_, layers), ratio in ratios.items() if layers == fewest]
    deeper = [ratio for (_, layers), ratio in ratios.items() if layers > fewest]
    line = (
        f"Against *ops*, planning takes {min(ratios.values()):.1f}x to "
        f"{max(ratios.values()):.1f}x per op: {min(shallow):.1f}x to {max(shallow):.1f}x at "
        f"{fewest} layers, where the fixed work of a plan (checking the request, searching "
        f"the geometry, the notes) is shared by few ops"
    )
    if deeper:
        following = min(layers for _, layers in ratios if layers > fewest)
        line += f", and at most {max(deeper):.1f}x from {following} layers on"
    return line + "."


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes and depths; no file")
    parser.add_argument("--process-runs", type=int, default=7, help="fresh-process runs each")
    parser.add_argument("--no-write", action="store_true", help=f"do not write {OUTPUT.name}")
    args = parser.parse_args(argv)
    sizes, layers = (QUICK_SIZES, QUICK_LAYERS) if args.quick else (SIZES, LAYERS)
    budget = 0.3 if args.quick else 1.0
    rows = per_op(sizes, layers, budget)
    slopes = growth(rows)
    deep_rows = deep(budget, max(layers))
    process = processes(3 if args.quick else args.process_runs)
    black = black_share(budget)
    text = markdown(rows, slopes, process, black, deep_rows, args.quick)
    print()
    print(text)
    assert "torch" not in sys.modules, "the generation path imported torch"
    if not (args.no_write or args.quick):
        OUTPUT.write_text(text, encoding="utf-8")
        print(f"wrote {OUTPUT.relative_to(REPO)}")


if __name__ == "__main__":
    main()
