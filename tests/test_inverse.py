"""The inverse calculator: every reported value builds the wanted torch layer, none is missed."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from torch import nn

import cnngen
from cnngen.core.inverse import UNKNOWNS, Layer, solve, solve_dimension
from cnngen.errors import CnngenError
from tests.conftest import CliResult

Run = Callable[..., CliResult]

# Seed 003, question 5: a 4x3x8x16 batch, Conv2d(3, 10, kernel), which padding gives each output?
QUIZ = [
    ((3, 3), (8, 16), (1, 1)),
    ((5, 5), (8, 16), (2, 2)),
    ((7, 7), (8, 16), (3, 3)),
    ((9, 9), (8, 16), (4, 4)),
    ((3, 5), (8, 16), (1, 2)),
    ((3, 3), (22, 30), (8, 8)),
    ((4, 4), (7, 15), (1, 1)),
    ((2, 2), (9, 17), (1, 1)),
]


@pytest.mark.parametrize(("kernel", "output", "padding"), QUIZ)
def test_the_seed_padding_quiz(
    run_cli: Run, kernel: tuple[int, int], output: tuple[int, int], padding: tuple[int, int]
) -> None:
    result = run_cli(
        "calc", "conv", "-i", "8x16", "--kernel", "x".join(map(str, kernel)),
        "--output", "x".join(map(str, output)),
    )  # fmt: skip
    assert result.code == 0, result.err
    answer = result.out.strip().splitlines()[-1]
    assert answer == f"padding: {padding[0]}x{padding[1]}"
    found = tuple(int(v) for v in answer.split(": ")[1].split("x"))
    layer = nn.Conv2d(3, 10, kernel_size=kernel, padding=found)
    assert tuple(layer(torch.ones(4, 3, 8, 16)).shape) == (4, 10, *output)


def test_the_quiz_answer_shows_the_rearranged_formula(run_cli: Run) -> None:
    result = run_cli("calc", "conv", "-i", "8x16", "--kernel", "3", "--output", "22x30")
    assert "2*padding = (out-1)*stride + r - in + dilation*(kernel-1) + 1" in result.out
    assert "= (22-1)*1 + r - 8 + 1*(3-1) + 1" in result.out
    assert "check padding 8: floor((8 + 2*8 - 1*(3-1) - 1) / 1) + 1" in result.out


def test_every_solution_is_listed_and_misses_are_explained(run_cli: Run) -> None:
    result = run_cli("calc", "conv", "-i", "10", "--kernel", "3", "--stride", "3", "--output", "4")
    assert result.code == 0
    assert "padding: 1, 2  (searched padding 0..3" in result.out
    assert result.out.strip().endswith("padding: 1 (the smallest per dimension)")
    miss = run_cli("calc", "conv", "-i", "8", "--kernel", "3", "--output", "7")
    assert miss.code == 1 and miss.err == ""
    assert "1 / 2 is not a whole number" in miss.out
    assert "padding 0 gives 6" in miss.out and "padding 1 gives 8" in miss.out


def test_a_constant_tail_is_reported_as_every_larger_value(run_cli: Run) -> None:
    result = run_cli(
        "calc", "conv", "-i", "32", "--kernel", "3", "--output", "1", "--solve", "stride"
    )
    assert "stride: every value from 30 up" in result.out
    for stride in (30, 31, 200):
        assert nn.Conv1d(1, 1, 3, stride=stride)(torch.ones(1, 1, 32)).shape[-1] == 1
    assert nn.Conv1d(1, 1, 3, stride=29)(torch.ones(1, 1, 32)).shape[-1] == 2


def test_chained_layers_show_each_size(run_cli: Run) -> None:
    result = run_cli("calc", "conv", "-i", "28", "--kernel", "3", "--stride", "2",
                     "--padding", "1", "--layers", "3")  # fmt: skip
    assert "dim 1: 28 -> 14 -> 7 -> 4" in result.out
    assert result.out.strip().endswith("output size after 3 layers: 4")
    solved = run_cli("calc", "conv", "-i", "28", "--kernel", "5", "--output", "28",
                     "--layers", "3")  # fmt: skip
    assert solved.code == 0 and "check padding 2: 28 -> 28 -> 28 -> 28" in solved.out
    assert "larger values not tried" in solved.out


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["--kernel", "3", "--padding", "1", "--output", "8"], "--padding"),
        (["--kernel", "3", "--solve", "kernel"], "--solve"),
        (["--kernel", "3", "--output", "8", "--solve", "output-padding"], "--solve"),
        (["--output", "8"], "--kernel"),
        (["--kernel", "3", "--output", "8x8"], "--output"),
        (["--kernel", "3", "--output", "0"], "--output"),
        (["--kernel", "3", "--layers", "0"], "--layers"),
    ],
)
def test_inverse_errors_name_the_option(run_cli: Run, argv: list[str], option: str) -> None:
    result = run_cli("calc", "conv", "-i", "8", *argv)
    assert result.code == 2 and result.err.startswith(f"Error: {option}")
    assert len(result.err.strip().splitlines()) == 1


def test_solve_padding_stays_the_public_helper() -> None:
    assert cnngen.solve_padding((8, 16), (22, 30), 3) == (8, 8)
    with pytest.raises(CnngenError, match="no padding maps 8 to 7"):
        cnngen.solve_padding(8, 7, 3)


# ------------------------------------------------------------------ properties
def torch_size(layer: Layer, size: int) -> int | None:
    """What torch itself makes of ``layer`` on a 1D input of ``size``; None where it refuses."""
    x = torch.zeros(1, 1, size)
    try:
        if layer.operation == "conv":
            module: nn.Module = nn.Conv1d(
                1, 1, layer.kernel, layer.stride, layer.padding, layer.dilation, bias=False
            )
        elif layer.operation == "transposed":
            module = nn.ConvTranspose1d(
                1, 1, layer.kernel, layer.stride, layer.padding, layer.output_padding,
                dilation=layer.dilation, bias=False,
            )  # fmt: skip
        else:
            module = nn.MaxPool1d(
                layer.kernel, layer.stride, layer.padding, layer.dilation,
                ceil_mode=layer.ceil_mode,
            )  # fmt: skip
        with torch.no_grad():
            return int(module(x).shape[-1])
    except (RuntimeError, ValueError):
        return None


@st.composite
def problems(draw: st.DrawFn) -> tuple[Layer, str, int, int]:
    operation = draw(st.sampled_from(sorted(UNKNOWNS)))
    unknown = draw(st.sampled_from(UNKNOWNS[operation]))
    kernel = draw(st.integers(1, 5))
    layer = Layer(
        operation,
        kernel=kernel,
        stride=draw(st.integers(1, 4)),
        padding=draw(st.integers(0, kernel // 2 if operation == "pool" else 4)),
        dilation=draw(st.integers(1, 3)),
        output_padding=draw(st.integers(0, 2)) if operation == "transposed" else 0,
        ceil_mode=operation == "pool" and draw(st.booleans()),
    )
    size = draw(st.integers(1, 24))
    # Half the time an output that some value reaches, else any size.
    reachable = torch_size(layer, size)
    if reachable is not None and draw(st.booleans()):
        output = reachable
    else:
        output = draw(st.integers(1, 40))
    return layer, unknown, size, output


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
# Ceil mode: a window wider than the input still fits once the stride exceeds it.
@example((Layer("pool", kernel=2, stride=1, dilation=2, ceil_mode=True), "stride", 1, 1))
def test_solutions_are_exactly_what_torch_accepts(problem: tuple[Layer, str, int, int]) -> None:
    layer, unknown, size, output = problem
    answer = solve_dimension(layer, unknown, size, output)

    def torch_with(value: int) -> int | None:
        return torch_size(Layer(**{**layer.__dict__, unknown: value}), size)

    # Every reported value gives the output in torch; no other value in the range does.
    for value in range(answer.low, answer.bound):
        works = torch_with(value) == output
        reported = value in answer.values or (
            answer.every_from is not None and value >= answer.every_from
        )
        assert works == reported, (value, torch_with(value), answer)
    # Beyond the range: nothing (a proven bound), or the same size throughout (a constant tail).
    for value in range(answer.bound, answer.bound + 25):
        if answer.tail:
            assert torch_with(value) == torch_with(answer.bound), value
        else:
            assert torch_with(value) != output, (value, answer)
    assert (answer.every_from is not None) == (answer.tail and torch_with(answer.bound) == output)


@settings(max_examples=60, deadline=None)
@given(
    size=st.tuples(st.integers(1, 20), st.integers(1, 20)),
    output=st.tuples(st.integers(1, 30), st.integers(1, 30)),
    kernel=st.integers(1, 5),
    stride=st.integers(1, 3),
)
def test_two_dimensional_padding_answers_build_the_torch_layer(
    size: tuple[int, int], output: tuple[int, int], kernel: int, stride: int
) -> None:
    answers = solve(
        "conv", "padding", size, output,
        {"kernel": (kernel,) * 2, "stride": (stride,) * 2, "dilation": (1, 1)},
    )  # fmt: skip
    if not all(answer.found for answer in answers):
        return
    for first in answers[0].values:
        for second in answers[1].values:
            layer = nn.Conv2d(1, 1, kernel, stride=stride, padding=(first, second))
            assert tuple(layer(torch.zeros(1, 1, *size)).shape[2:]) == output


def test_every_quiz_explanation_is_consistent() -> None:
    for kernel, output, padding in QUIZ:
        answers = solve("conv", "padding", (8, 16), output, {"kernel": kernel, "stride": (1, 1),
                                                            "dilation": (1, 1)})  # fmt: skip
        assert tuple(answer.values for answer in answers) == tuple((p,) for p in padding)
        assert re.fullmatch(r"\d+", str(answers[0].smallest))


@pytest.mark.parametrize(
    ("argv", "param"),
    [
        (("-i", "1000000000000000", "--kernel", "3", "--output", "3000000000000000"), "--input"),
        (("-i", "8", "--kernel", "3", "--output", "20000000"), "--output"),
        (("-i", "1", "--kernel", "3", "--output", "16000000"), "--output"),
        (("-i", "8", "--kernel", "99999999", "--output", "8"), "--kernel"),
    ],
)
def test_calc_refuses_a_search_too_wide_at_once(run_cli: Run, argv: tuple, param: str) -> None:
    import time

    start = time.perf_counter()
    result = run_cli("calc", "conv", *argv)
    assert time.perf_counter() - start < 2
    assert result.code == 2 and result.err.startswith(f"Error: {param}:")
    assert len(result.err.strip().splitlines()) == 1
