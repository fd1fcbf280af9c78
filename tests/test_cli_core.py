"""The core CLI: help, version, plan (table and JSON), calc, and how errors look.

Commands run in-process through ``cnngen.cli.main`` (the console script's
entry point), so exit statuses and both streams are exactly what a user
sees; one test also runs ``python -m cnngen`` in a subprocess.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from cnngen._version import __version__
from cnngen.core.solver import solve
from cnngen.core.spec import make_spec

torch.set_num_threads(1)

Run = Callable[..., Any]


def test_help_lists_the_commands(run_cli: Run) -> None:
    result = run_cli("--help")
    assert result.code == 0
    assert result.out.startswith("Usage: cnngen")
    for command in ("plan", "model", "calc"):
        assert re.search(rf"^\s+{command}\s", result.out, re.MULTILINE), command
    assert run_cli("-h").out == result.out


def test_version(run_cli: Run) -> None:
    result = run_cli("--version")
    assert result.code == 0
    assert __version__ in result.out
    assert run_cli("-V").out == result.out


def test_python_dash_m_is_the_same_program(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cnngen", "plan", "encoder", "-i", "100", "-n", "3", "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["output"] == [128, 13]


# ------------------------------------------------------------------ plan
def test_plan_table_lists_every_layer_and_the_totals(run_cli: Run) -> None:
    result = run_cli("plan", "forecaster", "-i", "100x100", "--in-channels", "6", "-n", "3")
    assert result.code == 0, result.err
    plan = solve(make_spec("forecaster", input_size=(100, 100), in_channels=6, layers=3))
    lines = result.out.splitlines()
    assert lines[0] == "Forecaster: 6x100x100 -> 6x100x100"
    for stage in plan.stages:
        for name, op in stage.all_ops():
            row = next(line for line in lines if line.split()[:1] == [name])
            assert "x".join(map(str, op.out_shape)) in row.split()
    assert f"parameters: {plan.params:,}" in lines
    assert f"multiply-accumulates per sample: {plan.macs:,}" in lines


def _torch_module(layer: dict) -> nn.Module:
    """A torch module from one JSON layer: its module name and arguments alone."""
    cls = getattr(nn, layer["module"].removeprefix("nn."))
    args = layer["args"]
    positional = [args[key] for key in sorted(args) if re.fullmatch(r"arg\d+", key)]
    keywords = {key: value for key, value in args.items() if not re.fullmatch(r"arg\d+", key)}
    positional = [tuple(value) if isinstance(value, list) else value for value in positional]
    keywords = {k: tuple(v) if isinstance(v, list) else v for k, v in keywords.items()}
    return cls(*positional, **keywords)


@pytest.mark.parametrize(
    "argv",
    [
        ["forecaster", "-i", "100x100", "--in-channels", "60", "--out-channels", "30", "-n", "5"],
        ["encoder", "-i", "97", "-n", "4", "--padding", "same", "--kernel", "4"],
        ["classifier", "--preset", "lenet5"],
        ["classifier", "-i", "9x9x9", "-n", "2", "--start-channels", "4"],
    ],
)
def test_plan_json_schema_and_numbers(run_cli: Run, argv: list[str]) -> None:
    """The JSON alone is enough to build every layer in torch, with the stated sizes."""
    result = run_cli("plan", *argv, "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert {"input", "output", "layers", "params", "macs"} <= set(data)
    assert all(isinstance(size, int) for size in data["input"] + data["output"])
    previous = data["input"]
    x = torch.randn(2, *data["input"])
    total = 0
    for layer in data["layers"]:
        assert {"name", "kind", "in", "out", "params", "macs", "module", "args"} <= set(layer)
        assert isinstance(layer["name"], str) and isinstance(layer["kind"], str)
        if ".shortcut." not in layer["name"] and ".main." not in layer["name"]:
            assert layer["in"] == previous, layer["name"]
            module = _torch_module(layer).eval()
            with torch.no_grad():
                x = module(x)
            assert list(x.shape[1:]) == layer["out"], layer["name"]
            assert sum(p.numel() for p in module.parameters()) == layer["params"]
            previous = layer["out"]
        total += layer["params"]
    assert previous == data["output"]
    assert total == data["params"]
    assert data["macs"] == sum(layer["macs"] for layer in data["layers"])


# ------------------------------------------------------------------ calc
def _calc_args(operation: str, sizes: tuple[int, ...], params: dict[str, int]) -> list[str]:
    args = ["calc", operation, "--input", "x".join(map(str, sizes))]
    for key, value in params.items():
        if isinstance(value, bool):
            if value:
                args.append(f"--{key.replace('_', '-')}")
            continue
        args += [f"--{key.replace('_', '-')}", str(value)]
    return args


def _torch_size(operation: str, sizes: tuple[int, ...], p: dict) -> tuple[int, ...] | None:
    dims = len(sizes)
    if operation == "conv":
        module = getattr(nn, f"Conv{dims}d")(
            1, 1, p["kernel"], p["stride"], p["padding"], p["dilation"]
        )
    elif operation == "transposed":
        module = getattr(nn, f"ConvTranspose{dims}d")(
            1,
            1,
            p["kernel"],
            p["stride"],
            p["padding"],
            p["output_padding"],
            dilation=p["dilation"],
        )
    else:
        module = getattr(nn, f"MaxPool{dims}d")(
            p["kernel"], p["stride"], p["padding"], p["dilation"], ceil_mode=p["ceil_mode"]
        )
    try:
        with torch.no_grad():
            out = module(torch.zeros(1, 1, *sizes))
    except RuntimeError:
        return None
    return tuple(out.shape[2:]) if out.numel() else None


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    operation=st.sampled_from(["conv", "transposed", "pool"]),
    sizes=st.lists(st.integers(1, 30), min_size=1, max_size=2).map(tuple),
    kernel=st.integers(1, 5),
    stride=st.integers(1, 3),
    padding=st.integers(0, 3),
    dilation=st.integers(1, 2),
    output_padding=st.integers(0, 2),
    ceil_mode=st.booleans(),
)
def test_calc_agrees_with_torch(
    run_cli: Run,
    operation: str,
    sizes: tuple[int, ...],
    kernel: int,
    stride: int,
    padding: int,
    dilation: int,
    output_padding: int,
    ceil_mode: bool,
) -> None:
    params = {"kernel": kernel, "stride": stride, "padding": padding, "dilation": dilation}
    if operation == "transposed":
        params["output_padding"] = output_padding
    if operation == "pool":
        params["ceil_mode"] = ceil_mode
    result = run_cli(*_calc_args(operation, sizes, params))
    expected = _torch_size(operation, sizes, {"output_padding": 0, "ceil_mode": False, **params})
    if expected is None:
        assert result.code == 2
        assert result.err.startswith("Error: --")
        assert len(result.err.strip().splitlines()) == 1
        return
    assert result.code == 0, result.err
    lines = result.out.strip().splitlines()
    assert lines[-1] == "output size: " + "x".join(map(str, expected))
    assert len(lines) == len(sizes) + 1
    for dim, line in enumerate(lines[:-1]):
        assert line.startswith(f"dim {dim + 1}: ")
        assert int(line.rsplit("= ", 1)[1]) == expected[dim]


@pytest.mark.parametrize(
    ("argv", "formula"),
    [
        (
            ["calc", "conv", "--input", "28x28", "--kernel", "5", "--padding", "2"],
            "floor((28 + 2*2 - 1*(5-1) - 1) / 1) + 1 = floor(27 / 1) + 1 = 28",
        ),
        (
            ["calc", "transposed", "--input", "7", "--kernel", "3", "--stride", "2",
             "--padding", "1", "--output-padding", "1"],
            "(7-1)*2 - 2*1 + 1*(3-1) + 1 + 1 = 14",
        ),
        (
            ["calc", "pool", "--input", "7", "--kernel", "2", "--ceil-mode"],
            "ceil((7 + 2*0 - 1*(2-1) - 1) / 2) + 1 = ceil(5 / 2) + 1 = 4",
        ),
    ],
)  # fmt: skip
def test_calc_fills_in_the_formula(run_cli: Run, argv: list[str], formula: str) -> None:
    result = run_cli(*argv)
    assert result.code == 0
    assert formula in result.out


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["plan", "encoder", "-i", "100", "-n", "30", "--stride", "2"], "--layers"),
        (["plan", "encoder", "-i", "0"], "--input-size"),
        (["plan", "encoder", "-i", "abc"], "--input-size"),
        (["plan", "encoder"], "--input-size"),
        (["plan", "encoder", "-i", "10", "--padding", "full"], "--padding"),
        (["plan", "encoder", "-i", "100", "--layers", "x"], "--layers"),
        (["plan", "encoder", "-i", "10", "--no-such-option"], "--no-such-option"),
        (["plan", "encoder", "-i", "10x10", "--min-channels", "64", "--max-channels", "8"],
         "--min-channels"),
        (["plan", "encoder", "-i", "10", "--min-size", "20"], "--min-size"),
        (["plan", "forecaster", "-i", "10", "--out-channels", "0"], "--out-channels"),
        (["model", "encoder", "-i", "10", "--name", "class"], "--name"),
        (["model", "encoder", "-i", "10", "--name", "1abc"], "--name"),
        (["calc", "conv", "--input", "3", "--kernel", "5"], "--kernel"),
        (["calc", "pool", "--input", "8", "--kernel", "2", "--padding", "3"], "--padding"),
        (["calc", "transposed", "--input", "3", "--kernel", "3", "--output-padding", "2"],
         "--output-padding"),
        (["calc", "conv", "--input", "8", "--kernel", "3", "--ceil-mode"], "--ceil-mode"),
        (["calc", "conv", "--input", "8x8", "--kernel", "3x3x3"], "--kernel"),
        (["calc", "conv", "--input", "8"], "--kernel"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_naming_the_option(
    run_cli: Run, argv: list[str], option: str
) -> None:
    result = run_cli(*argv)
    assert result.code == 2
    assert result.out == ""
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("Error: ")
    assert option in lines[0]
    assert "Traceback" not in result.err


def test_errors_write_nothing(run_cli: Run, tmp_path: Path) -> None:
    target = tmp_path / "model.py"
    result = run_cli(
        "model", "encoder", "-i", "100", "-n", "30", "--stride", "2", "-o", str(target)
    )
    assert result.code == 2
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_an_existing_file_needs_force(run_cli: Run, tmp_path: Path) -> None:
    target = tmp_path / "model.py"
    target.write_text("keep me\n")
    result = run_cli("model", "encoder", "-i", "32", "-o", str(target))
    assert result.code == 2
    assert result.err.startswith("Error: --output") or "--force" in result.err
    assert target.read_text() == "keep me\n"
    assert run_cli("model", "encoder", "-i", "32", "-o", str(target), "--force").code == 0
    assert "class Encoder" in target.read_text()


def test_subprocess_error_has_no_traceback(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cnngen",
            "plan",
            "encoder",
            "-i",
            "100",
            "-n",
            "30",
            "--stride",
            "2",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("Error: --layers: ")
    assert "at most 4 layers fit" in done.stderr
