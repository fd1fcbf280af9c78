"""Helpers for tests that generate a model file, import it and run it for real."""

from __future__ import annotations

import ast
import csv
import importlib.util
import itertools
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from cnngen.core import vocab
from cnngen.core.solver import solve
from cnngen.core.spec import make_spec
from cnngen.rendering.engine import render_model

_counter = itertools.count()


def write_model(directory: Path, family: str, **options: Any) -> Path:
    """Render a model for ``family``/``options`` into ``directory`` and return its path."""
    spec = make_spec(family, **options)
    path = directory / f"model_{next(_counter)}.py"
    path.write_text(render_model(solve(spec), spec.command()), encoding="utf-8")
    return path


def load(path: Path) -> ModuleType:
    """Import a generated file under a unique module name."""
    name = f"generated_{path.stem}_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


HELPER_CLASSES = set(vocab.HELPER_CLASSES)


def model_class(module: ModuleType) -> type:
    """The one model class a generated file defines (helper blocks excluded)."""
    import torch

    classes = [
        value
        for name, value in vars(module).items()
        if isinstance(value, type)
        and issubclass(value, torch.nn.Module)
        and value.__module__ == module.__name__
        and name not in HELPER_CLASSES
    ]
    assert len(classes) == 1, classes
    return classes[0]


def run_with_hooks(model: Any, batch: Any) -> tuple[Any, dict[str, tuple[int, ...]]]:
    """Forward ``batch`` and record each named module's output shape (batch dim dropped)."""
    seen: dict[str, tuple[int, ...]] = {}
    handles = []
    for name, module in model.named_modules():
        if not name:
            continue

        def hook(_module: Any, _inputs: Any, output: Any, name: str = name) -> None:
            seen[name] = tuple(output.shape[1:])

        handles.append(module.register_forward_hook(hook))
    try:
        output = model(batch)
    finally:
        for handle in handles:
            handle.remove()
    return output, seen


def shape_mismatches(module: ModuleType, batch_size: int = 2) -> list[str]:
    """Run the file's model and list every layer whose shape differs from LAYER_SHAPES.

    A new model is in training mode, so training-only heads run and are compared too.
    """
    import torch

    torch.manual_seed(0)
    model = model_class(module)()
    batch = torch.randn(batch_size, *module.INPUT_SHAPE)
    output, seen = run_with_hooks(model, batch)
    if isinstance(output, tuple):  # a new model trains: (output, *training-only extras)
        output, *extras = output
        shapes = tuple(tuple(extra.shape[1:]) for extra in extras)
        if shapes != module.TRAINING_OUTPUT_SHAPES:
            return [f"extras: planned {module.TRAINING_OUTPUT_SHAPES}, got {shapes}"]
    problems = [
        f"{name}: planned {expected}, got {seen.get(name, 'no output')}"
        for name, expected in module.LAYER_SHAPES.items()
        if seen.get(name) != tuple(expected)
    ]
    if tuple(output.shape) != (batch_size, *module.OUTPUT_SHAPE):
        problems.append(f"output: planned {module.OUTPUT_SHAPE}, got {tuple(output.shape)}")
    return problems


def imported_modules(source: str) -> set[str]:
    """Top-level package names a source file imports."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


# What a user's shell gives a generated project: one thread, no cnngen on the path.
PROJECT_ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ""}


def train_project(folder: Path, timeout: int = 400) -> list[dict[str, str]]:
    """Run a generated project's ``train.py`` as a user would; its history, one row per epoch."""
    trained = subprocess.run(
        [sys.executable, "train.py"],
        cwd=folder,
        env=PROJECT_ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert trained.returncode == 0, trained.stderr
    with open(folder / "runs" / "history.csv") as handle:
        return list(csv.DictReader(handle))
