"""Class names may not shadow anything the generated files use, and that set comes from the templates.

The files are generated for real and parsed; every name they bind at module
level or read as a global must then be refused as a class name, and a file
generated with a refused name (the check bypassed) must really break.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

import cnngen
from cnngen.core.solver import solve
from cnngen.core.spec import make_spec
from cnngen.core.vocab import HELPER_CLASSES, HELPER_EXAMPLES
from cnngen.errors import CnngenError
from cnngen.rendering.datafiles import TASKS, render_finetune, render_train
from cnngen.rendering.engine import render_model
from cnngen.rendering.namespace import model_probes, template_names
from tests.generated import load, model_class


def _globals(source: str) -> set[str]:
    """Names a module binds at its top level, plus the globals its functions read."""
    tree = ast.parse(source)
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
    return names


MODEL_REQUESTS = [
    ("forecaster", {"input_size": (32, 32), "layers": 2, "latent": 8}),
    ("classifier", {"input_size": (32, 32), "layers": 2, "block": "residual", "se": True}),
    ("equivariant", {"input_size": (16, 16), "layers": 2}),
]


@pytest.mark.parametrize(("family", "options"), MODEL_REQUESTS, ids=[r[0] for r in MODEL_REQUESTS])
def test_every_name_a_model_file_uses_is_refused(family: str, options: dict) -> None:
    plan = cnngen.plan(family, **options)
    used = _globals(cnngen.render(plan)) - {plan.class_name}
    assert {"torch", "nn", "INPUT_SHAPE", "OUTPUT_SHAPE", "super", "print"} & used
    for name in sorted(used):
        with pytest.raises(CnngenError) as error:
            cnngen.plan(family, **options, name=name)
        assert error.value.param == "--name", name


@pytest.mark.parametrize("task", TASKS)
def test_every_name_train_py_uses_is_refused_as_model_class(task: str) -> None:
    used = _globals(render_train(task=task, model_class="Net")) - {"Net"}
    assert {"main", "DataLoader", "make_datasets", "LR", "Path"} <= used
    for name in sorted(used):
        with pytest.raises(CnngenError) as error:
            render_train(task=task, model_class=name)
        assert error.value.param == "--model-class", name


def test_every_name_finetune_py_uses_is_refused_as_model_class() -> None:
    used = _globals(render_finetune(model_class="Net")) - {"Net"}
    assert {"Progress", "RepeatChannels", "find_head", "WEIGHTS", "main"} <= used
    for name in sorted(used):
        with pytest.raises(CnngenError) as error:
            render_finetune(model_class=name)
        assert error.value.param == "--model-class", name


def test_the_reserved_names_follow_the_templates_not_a_list() -> None:
    names = template_names(("model",))
    assert {"SqueezeExcite", "RotationStack", "Residual", "LAYER_SHAPES"} <= names
    assert not set(dir(builtins)) <= names  # builtins are refused separately, not listed
    assert "MyNet" not in names and "CnngenProbeName" not in names
    assert {"make_datasets", "DataLoader"} <= template_names(("train",))


@pytest.mark.parametrize("helper", HELPER_CLASSES)
def test_every_helper_class_is_reserved_through_its_example(tmp_path: Path, helper: str) -> None:
    """The example of each helper defines it and runs it; the probes render the example."""
    import torch

    torch.set_num_threads(1)
    family, options = HELPER_EXAMPLES[helper]
    assert (family, options) in model_probes()
    plan = cnngen.plan(family, **options)
    assert helper in plan.helpers
    path = tmp_path / "model.py"
    path.write_text(cnngen.render(plan))
    module = load(path)
    model = model_class(module)().eval()
    assert any(type(layer) is getattr(module, helper) for layer in model.modules()), helper
    with torch.no_grad():
        output = model(torch.randn(2, *module.INPUT_SHAPE))
    assert tuple(output.shape) == (2, *module.OUTPUT_SHAPE)
    assert helper in template_names(("model",))
    with pytest.raises(CnngenError) as error:
        cnngen.plan("encoder", input_size=(32,), layers=2, name=helper)
    assert error.value.param == "--name" and "already used" in str(error.value)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["print", "tuple", "sum", "super", "__name__"])
def test_a_model_named_like_a_builtin_really_breaks(tmp_path: Path, name: str) -> None:
    """Why the rule exists: with the check bypassed, the file fails or skips its self-check."""
    spec = dataclasses.replace(make_spec("encoder", input_size=(32,), layers=2), name=name)
    path = tmp_path / "model.py"
    path.write_text(render_model(solve(spec), "model encoder"))
    result = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, timeout=300
    )
    ran_its_check = result.returncode == 0 and "parameters" in result.stdout
    assert not ran_its_check, (name, result.stdout, result.stderr[-300:])


# ------------------------------------------------------------------ stored reserved names
COUNT_RENDERS = """
import sys
import cnngen.rendering.engine as engine
from cnngen.cli import main

calls = []
real = engine.render_template
def counted(name, **context):
    calls.append(name)
    return real(name, **context)
engine.render_template = counted
try:
    main(sys.argv[1:])
except SystemExit as done:
    print(len(calls), done.code, file=sys.stderr)
"""


@pytest.mark.parametrize(
    "argv",
    [
        ["model", "encoder", "-i", "32", "-n", "2", "--name", "MyEncoder", "-o", "-"],
        ["model", "classifier", "-i", "32", "--name", "MyNet", "-o", "-"],
        ["train", "--task", "classification", "--model-class", "MyNet", "-o", "-"],
    ],
    ids=["encoder", "classifier", "train"],
)
def test_a_name_costs_one_render(tmp_path, argv) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", COUNT_RENDERS, *argv],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(repo)},
    )  # fmt: skip
    renders, code = done.stderr.split()[-2:]
    assert code == "0", done.stderr
    assert renders == "1", done.stderr


def test_the_stored_reserved_names_are_current() -> None:
    """They must be what the probes derive now: run python examples/regenerate.py if not."""
    import cnngen.rendering.datafiles  # noqa: F401 - registers the data-file kinds
    from cnngen.rendering import namespace, reserved_names

    assert reserved_names.FINGERPRINT == namespace.fingerprint(), (
        "templates changed: run python examples/regenerate.py"
    )
    for kind in namespace.KINDS:
        assert frozenset(reserved_names.NAMES[kind].split()) == namespace.derived_names(kind)
        assert frozenset(reserved_names.MODULES[kind].split()) == namespace.derived_modules(kind)


def test_stale_stored_names_are_derived_again(monkeypatch) -> None:
    from cnngen.rendering import namespace, reserved_names

    monkeypatch.setattr(reserved_names, "FINGERPRINT", "stale")
    monkeypatch.setattr(reserved_names, "NAMES", {"model": "nothing"})
    namespace._names_of.cache_clear()
    try:
        assert "nn" in namespace.template_names(("model",))
        assert "nothing" not in namespace.template_names(("model",))
    finally:
        namespace._names_of.cache_clear()


def test_the_fingerprint_follows_the_templates(tmp_path, monkeypatch) -> None:
    import shutil

    from cnngen.rendering import engine, namespace

    copy = tmp_path / "templates"
    shutil.copytree(engine.templates_dir(), copy)
    monkeypatch.setattr(engine, "templates_dir", lambda: copy)
    namespace.fingerprint.cache_clear()
    try:
        before = namespace.fingerprint()
        namespace.fingerprint.cache_clear()
        model = copy / "model.py.jinja"
        model.write_text(model.read_text() + "\n{# changed #}\n")
        assert namespace.fingerprint() != before
    finally:
        namespace.fingerprint.cache_clear()


def test_a_tenth_layer_is_numbered_ten() -> None:
    """A stage of more than nine weighted layers numbers on: fc10 and act10, not fc1_2."""
    import cnngen

    plan = cnngen.plan("forecaster", input_size="32x32", layers=2, latent=8, latent_layers=6)
    (latent,) = [stage for stage in plan.stages if stage.name == "latent"]
    paths = [op.path for op in latent.ops]
    linears = [path for path in paths if path.startswith("fc")]
    assert linears == [f"fc{number}" for number in range(1, 13)]
    assert "act10" in paths and not any("_" in path for path in paths)
