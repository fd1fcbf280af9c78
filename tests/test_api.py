"""The Python API and the package layout: entry points, doctests, layering and import cycles."""

from __future__ import annotations

import ast
import doctest
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import cnngen
from cnngen.core import arithmetic, inverse
from cnngen.errors import CnngenError

PACKAGE = Path(cnngen.__file__).parent


def test_plan_render_build_from_the_issue() -> None:
    plan = cnngen.plan("classifier", input_size=(64, 64), in_channels=3, block="residual", se=True)
    model = cnngen.build(plan)
    source = cnngen.render(plan)
    assert source.startswith('"""') and f"class {plan.class_name}(nn.Module)" in source
    output = model(torch.randn(2, 3, 64, 64))
    assert tuple(output.shape) == (2, *plan.output_shape)
    assert sum(p.numel() for p in model.parameters()) == plan.params


def test_build_is_the_rendered_file(tmp_path: Path) -> None:
    """build() executes exactly the text render() returns: same parameter names and values."""
    plan = cnngen.plan("forecaster", input_size=(33, 40), in_channels=4, out_channels=2, layers=3)
    path = tmp_path / "model.py"
    path.write_text(cnngen.render(plan))
    namespace: dict[str, object] = {"__name__": "generated"}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    torch.manual_seed(0)
    from_file = namespace[plan.class_name]()  # type: ignore[operator]
    torch.manual_seed(0)
    built = cnngen.build(plan)
    assert from_file.state_dict().keys() == built.state_dict().keys()
    for key, value in from_file.state_dict().items():
        assert torch.equal(value, built.state_dict()[key]), key


def test_plan_validates_like_the_cli() -> None:
    with pytest.raises(CnngenError) as error:
        cnngen.plan("encoder", input_size=(100,), layers=30, stride=(2,))
    assert error.value.param == "--layers"
    with pytest.raises(CnngenError) as error:
        cnngen.plan("forcaster", input_size=(64, 64))
    assert "forecaster" in str(error.value)


@pytest.mark.parametrize(
    ("text", "size"),
    [("16x16", (16, 16)), ("100", (100,)), ("8, 32,32", (8, 32, 32)), (64, (64,))],
)
def test_sizes_are_spelt_as_on_the_command_line(text: object, size: tuple) -> None:
    assert cnngen.plan("classifier", input_size=text).input_shape[1:] == size
    assert cnngen.plan("classifier", input_size=size, kernel="5").stages[0].ops[0].arg(
        "kernel_size"
    ) in (5, (5,) * len(size))


@pytest.mark.parametrize("bad", ["16y16", "", 16.5, [16, True], "1x6xx"])
def test_a_size_that_is_not_one_is_refused_by_name(bad: object) -> None:
    with pytest.raises(CnngenError) as error:
        cnngen.plan("classifier", input_size=bad)
    assert error.value.param == "--input-size"
    assert "100x100" in str(error.value)


def test_summary_and_json() -> None:
    plan = cnngen.plan("encoder", input_size=(1000,), layers=4)
    summary = plan.summary()
    assert summary.splitlines()[0] == "Encoder: 1x1000 -> " + "x".join(map(str, plan.output_shape))
    data = plan.to_json()
    assert data["output"] == list(plan.output_shape) and data["params"] == plan.params


def test_arithmetic_helpers_match_torch() -> None:
    x = torch.zeros(1, 1, 97, 131)
    conv = torch.nn.Conv2d(1, 1, 3, stride=2, padding=1)
    assert cnngen.conv_output_size((97, 131), 3, stride=2, padding=1) == tuple(conv(x).shape[2:])
    up = torch.nn.ConvTranspose2d(1, 1, 3, stride=2, padding=1, output_padding=(0, 1))
    y = torch.zeros(1, 1, 49, 66)
    assert cnngen.transposed_output_size(
        (49, 66), 3, stride=2, padding=1, output_padding=(0, 1)
    ) == tuple(up(y).shape[2:])
    pool = torch.nn.MaxPool2d(2, ceil_mode=True)
    assert cnngen.pool_output_size((97, 131), 2, ceil_mode=True) == tuple(pool(x).shape[2:])


@pytest.mark.parametrize(
    ("size", "output", "kernel", "stride"),
    [((8, 16), (22, 30), 3, 1), ((28,), (28,), 5, 1), ((97, 64), (49, 32), 3, 2)],
)
def test_solve_padding_round_trips_through_torch(size, output, kernel, stride) -> None:
    padding = cnngen.solve_padding(size, output, kernel, stride=stride)
    conv = (
        torch.nn.Conv2d(1, 1, kernel, stride=stride, padding=padding)
        if len(size) == 2
        else (torch.nn.Conv1d(1, 1, kernel, stride=stride, padding=padding))
    )
    assert tuple(conv(torch.zeros(1, 1, *size)).shape[2:]) == output


def test_solve_padding_says_when_no_padding_works() -> None:
    with pytest.raises(CnngenError, match="no padding maps 8 to 3"):
        cnngen.solve_padding(8, 3, 3)


@pytest.mark.parametrize("module", [cnngen.api, arithmetic, inverse])
def test_doctests(module: object) -> None:
    result = doctest.testmod(module)  # type: ignore[arg-type]
    assert result.attempted > 0 and result.failed == 0


def test_importing_cnngen_and_planning_do_not_import_torch_click_or_jinja() -> None:
    code = (
        "import sys, cnngen\n"
        "cnngen.plan('forecaster', input_size=(64, 64), layers=3)\n"
        "bad = {'torch', 'click', 'jinja2'} & set(sys.modules)\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# ------------------------------------------------------------------ layering
def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every cnngen module ``path`` imports, at the top or inside functions."""
    found: set[str] = set()
    known = {_module_name(p) for p in PACKAGE.rglob("*.py")}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name in known}


def _graph() -> dict[str, set[str]]:
    return {_module_name(path): _imports(path) for path in PACKAGE.rglob("*.py")}


def _reach(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    stack = [start]
    while stack:
        for nxt in graph.get(stack.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def test_no_module_imports_another_that_imports_it_back() -> None:
    graph = _graph()
    cycles = [module for module in graph if module in _reach(graph, module)]
    assert not cycles, f"modules on an import cycle: {sorted(cycles)}"


def _package(module: str) -> str:
    """The layer a module belongs to: its subpackage, or itself for a top-level module."""
    parts = module.split(".")
    if len(parts) > 1 and (PACKAGE / parts[1]).is_dir():
        return ".".join(parts[:2])
    return module  # the root facade ``cnngen``, or ``cnngen.api``, ``cnngen.errors`` ...


def _package_graph() -> dict[str, set[str]]:
    packages: dict[str, set[str]] = {}
    for module, imports in _graph().items():
        edges = packages.setdefault(_package(module), set())
        edges.update(_package(name) for name in imports if _package(name) != _package(module))
    return packages


def test_no_package_imports_another_that_imports_it_back() -> None:
    """Layers, the root facade included: core, rendering, deploy, verify, cli, api, root."""
    graph = _package_graph()
    assert {"cnngen", "cnngen.core", "cnngen.rendering", "cnngen.verify"} <= set(graph)
    assert {"cnngen.deploy", "cnngen.cli", "cnngen.api"} <= set(graph)
    cycles = {
        package: sorted(graph[package]) for package in graph if package in _reach(graph, package)
    }
    assert not cycles, f"packages on an import cycle (and what they import): {cycles}"


def test_the_package_graph_sees_function_level_imports(tmp_path: Path) -> None:
    """The walker counts an import inside a function, so a lazy import cannot hide a cycle."""
    module = tmp_path / "lazy.py"
    module.write_text("def f():\n    from cnngen.rendering.format import plan_table\n")
    assert "cnngen.rendering.format" in _imports(module)


def test_deploy_and_verify_do_not_import_each_other_both_ways() -> None:
    graph = _package_graph()
    assert "cnngen.verify" not in graph["cnngen.deploy"]


def test_rendering_reads_the_version_without_the_api() -> None:
    graph = _package_graph()
    assert (
        "cnngen" not in graph["cnngen.rendering"] and "cnngen.api" not in graph["cnngen.rendering"]
    )
    import tomllib

    project = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())
    version_file = PACKAGE.parent / project["tool"]["hatch"]["version"]["path"]
    assert f'__version__ = "{cnngen.__version__}"' in version_file.read_text()


def _loaded_after(statement: str) -> list[str]:
    code = (
        f"import sys\n{statement}\n"
        "print('\\n'.join(sorted(m for m in sys.modules if m.startswith('cnngen'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return result.stdout.split()


def test_importing_the_plan_loads_few_cnngen_modules() -> None:
    loaded = _loaded_after("import cnngen.core.plan")
    assert len(loaded) <= 8, loaded
    assert "cnngen.api" not in loaded


def test_the_root_package_loads_its_api_on_first_use() -> None:
    assert _loaded_after("import cnngen") == ["cnngen", "cnngen._version"]
    loaded = _loaded_after("import cnngen\ncnngen.conv_output_size(28, 5)")
    assert "cnngen.api" in loaded and "cnngen.rendering.engine" not in loaded
    assert set(cnngen.__all__) <= set(dir(cnngen))
    assert cnngen._API_NAMES == set(cnngen.api.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nonesuch'"):
        cnngen.nonesuch  # noqa: B018


def test_layers_point_one_way() -> None:
    """core imports no other layer; rendering and verify never import the CLI."""
    for module, imports in _graph().items():
        if module.startswith("cnngen.core"):
            outside = {i for i in imports if not i.startswith(("cnngen.core", "cnngen.errors"))}
            assert not outside, (module, outside)
        if module.startswith(("cnngen.rendering", "cnngen.verify")):
            assert not {i for i in imports if i.startswith("cnngen.cli")}, module


def test_core_is_pure_python() -> None:
    for path in (PACKAGE / "core").rglob("*.py"):
        tree = ast.parse(path.read_text())
        names = {
            alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        } | {
            node.module.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
        }
        assert not names & {"torch", "click", "jinja2", "black", "numpy"}, path


def test_every_command_is_registered_on_import() -> None:
    from cnngen.cli import cli

    assert set(cli.commands) == {
        "calc", "dataset", "export", "handout", "model", "plan", "predict", "project", "search",
        "train", "verify",
    }  # fmt: skip


# ------------------------------------------------------------------ strict arguments
def _deep(depth: int) -> object:
    value: object = 64
    for _ in range(depth):
        value = [value]
    return value


def test_a_misspelt_keyword_is_named_with_the_closest_option() -> None:
    with pytest.raises(CnngenError) as error:
        cnngen.plan("encoder", input_size=64, in_chanels=3)
    assert error.value.param == "in_chanels"
    assert "did you mean 'in_channels'" in str(error.value)


@pytest.mark.parametrize(
    ("options", "param"),
    [
        ({"se": "no"}, "--se"),
        ({"depthwise": "false"}, "--depthwise"),
        ({"se": 2}, "--se"),
        ({"se": 1}, "--se"),
        ({"stride": True}, "--stride"),
        ({"layers": True}, "--layers"),
        ({"layers": 2.0}, "--layers"),
        ({"classes": 10.0}, "--classes"),
        ({"dropout": True}, "--dropout"),
        ({"padding": 3}, "--padding"),
        ({"activation": 3}, "--activation"),
        ({"norm": True}, "--norm"),
        ({"block": ["residual"]}, "--block"),
        ({"name": 123}, "--name"),
        ({"input_size": _deep(50_000)}, "--input-size"),
        ({"hidden": _deep(50_000)}, "--hidden"),
        ({"layers": 10**5000}, "--layers"),
        ({"input_size": "1" * 5000}, "--input-size"),
        ({"ratio": float("nan")}, "--ratio"),
    ],
)
def test_plan_refuses_a_value_of_the_wrong_type_by_name(options: dict, param: str) -> None:
    family = "classifier" if {"se", "depthwise", "block", "classes"} & set(options) else "encoder"
    options = {"input_size": 64, **options}
    with pytest.raises(CnngenError) as error:
        cnngen.plan(family, **options)
    assert error.value.param == param
    assert len(str(error.value)) < 300 and "\n" not in str(error.value)


def test_a_flag_takes_a_bool_and_means_it() -> None:
    plain = cnngen.plan("classifier", input_size=32, se=False)
    assert "SqueezeExcite" not in plain.helpers
    assert "SqueezeExcite" in cnngen.plan("classifier", input_size=32, se=True).helpers


@pytest.mark.parametrize("bad", [None, "encoder ", 3, ("encoder",)])
def test_plan_refuses_a_family_that_is_not_one(bad: object) -> None:
    with pytest.raises(CnngenError) as error:
        cnngen.plan(bad)  # type: ignore[arg-type]
    assert error.value.param == "family"


@pytest.mark.parametrize("bad", [None, {"family": "encoder"}, "encoder", 3])
def test_render_and_build_take_a_plan_only(bad: object) -> None:
    for function in (cnngen.render, cnngen.build):
        with pytest.raises(CnngenError) as error:
            function(bad)  # type: ignore[arg-type]
        assert error.value.param == "plan"


def test_the_api_plan_pickles_and_keeps_its_summary() -> None:
    import pickle

    plan = cnngen.plan("encoder", input_size=64, layers=2)
    again = pickle.loads(pickle.dumps(plan))
    assert again == plan and again.summary() == plan.summary()
    assert isinstance(plan, cnngen.Plan)


NAN, INF = float("nan"), float("inf")
HELPER_CASES = [
    (cnngen.conv_output_size, (28, 3), {"stride": 0}, "stride"),
    (cnngen.conv_output_size, (28, 3), {"stride": -2}, "stride"),
    (cnngen.conv_output_size, (None, 3), {}, "size"),
    (cnngen.conv_output_size, ("28", 3), {}, "size"),
    (cnngen.conv_output_size, (28, NAN), {}, "kernel_size"),
    (cnngen.conv_output_size, (28, INF), {}, "kernel_size"),
    (cnngen.conv_output_size, (28, 3.0), {}, "kernel_size"),
    (cnngen.conv_output_size, (True, 3), {}, "size"),
    (cnngen.conv_output_size, (28, True), {}, "kernel_size"),
    (cnngen.conv_output_size, (28, 3), {"padding": -1}, "padding"),
    (cnngen.conv_output_size, (28, 3), {"dilation": 0}, "dilation"),
    (cnngen.conv_output_size, ((28, 28), (3, 3, 3)), {}, "kernel_size"),
    (cnngen.conv_output_size, ((28, 28, 28, 28), 3), {}, "size"),
    (cnngen.conv_output_size, ((), 3), {}, "size"),
    (cnngen.conv_output_size, (_deep(50_000), 3), {}, "size"),
    (cnngen.conv_output_size, (2**24 + 1, 3), {}, "size"),
    (cnngen.transposed_output_size, (28, 3), {"output_padding": -1}, "output_padding"),
    (cnngen.transposed_output_size, ((7, 7), 3), {"output_padding": (1, 1, 1)}, "output_padding"),
    (cnngen.transposed_output_size, (7, 3), {"stride": None}, "stride"),
    (cnngen.pool_output_size, (7, 2), {"ceil_mode": "yes"}, "ceil_mode"),
    (cnngen.pool_output_size, (7, 2), {"ceil_mode": 1}, "ceil_mode"),
    (cnngen.pool_output_size, (7, 2), {"stride": 0}, "stride"),
    (cnngen.pool_output_size, (7, NAN), {}, "kernel_size"),
    (cnngen.solve_padding, (10**15, 3 * 10**15, 3), {}, "size"),
    (cnngen.solve_padding, ((8, 16), (22,), 3), {}, "output"),
    (cnngen.solve_padding, ((8, 16), 22, 3), {}, "output"),
    (cnngen.solve_padding, (8, 22, 3), {"stride": 0}, "stride"),
    (cnngen.solve_padding, (8, None, 3), {}, "output"),
    (cnngen.solve_padding, (_deep(50_000), 3, 3), {}, "size"),
]


@pytest.mark.parametrize(("function", "args", "kwargs", "param"), HELPER_CASES)
def test_size_helpers_check_every_argument(function, args, kwargs, param) -> None:
    with pytest.raises(CnngenError) as error:
        function(*args, **kwargs)
    assert error.value.param == param
    assert len(str(error.value)) < 300


def test_every_public_helper_is_covered_by_the_argument_checks() -> None:
    helpers = {name for name in cnngen.__all__ if name.endswith(("_size", "_padding"))}
    assert helpers == {case[0].__name__ for case in HELPER_CASES}


def test_solving_a_large_padding_is_instant_and_matches_torch() -> None:
    import time

    start = time.perf_counter()
    padding = cnngen.solve_padding(1, 2**24 - 1, 3)
    wide = cnngen.solve_padding(9, 2**20, 3, stride=2**4)
    assert time.perf_counter() - start < 0.5
    assert cnngen.conv_output_size(1, 3, padding=padding) == 2**24 - 1
    assert cnngen.conv_output_size(9, 3, stride=2**4, padding=wide) == 2**20
    conv = torch.nn.Conv1d(1, 1, 3, stride=16, padding=wide)
    assert conv(torch.zeros(1, 1, 9)).shape[-1] == 2**20


@pytest.mark.parametrize("size", [(8, 16), (28,), (97, 64, 5)])
def test_the_smallest_padding_is_what_the_full_search_finds(size: tuple) -> None:
    for kernel in (1, 2, 3, 5):
        for stride in (1, 2, 3):
            for output in range(1, 40, 3):
                outputs = (output,) * len(size)
                expected = []
                for n, out in zip(size, outputs, strict=True):
                    found = inverse.conv_paddings(n, out, kernel, stride)
                    expected.append(found[0] if found else None)
                if None in expected:
                    with pytest.raises(CnngenError):
                        cnngen.solve_padding(size, outputs, kernel, stride=stride)
                else:
                    assert cnngen.solve_padding(size, outputs, kernel, stride=stride) == tuple(
                        expected
                    )
