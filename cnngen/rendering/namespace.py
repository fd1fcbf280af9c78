"""The names each generated file uses, derived from the templates themselves.

A class name the user picks (``--name``, ``--model-class``) is written into
files that also use ``torch``, ``nn``, ``main``, ``np``, ``DataLoader``,
``LR`` ... .  Rather than keep a list of those by hand, each template is
rendered with a probe class name and the result is parsed: every name it
binds, reads, imports or takes as an argument is reserved, so the list stays
true as templates change.  The result is cached per process; it is computed
only when a name is given.

:func:`template_names` is what the spec check (:mod:`cnngen.core.checks`)
receives, so core never imports rendering.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable
from functools import cache

from cnngen.core.vocab import HELPER_EXAMPLES

PROBE = "CnngenProbeName"
PROBE_MODULES = ("cnngen_probe_model", "cnngen_probe_dataset")

# Model requests for the model template's code paths besides its helper
# classes: each family, a latent bottleneck, a time head, pad layers,
# bottleneck blocks with depthwise convolutions, a flatten head with hidden
# layers, both U-Net decoders and the preset layouts.  Each helper class is
# probed with its example request (cnngen.core.vocab.HELPER_EXAMPLES, see
# model_probes), so a new helper needs no entry here.
CODE_PATH_PROBES: tuple[tuple[str, dict[str, object]], ...] = (
    ("encoder", {"input_size": (64,), "layers": 2}),
    ("forecaster", {"input_size": (16, 16), "layers": 2, "latent": 8}),
    ("forecaster", {"input_size": (6, 16, 16), "layers": 2, "out_depth": 3}),
    ("forecaster", {"input_size": (15, 15), "layers": 2, "kernel": (2,), "padding": "same"}),
    (
        "classifier",
        {"input_size": (32, 32), "layers": 2, "block": "bottleneck", "depthwise": True},
    ),
    ("classifier", {"input_size": (32, 32), "layers": 2, "head": "flatten", "hidden": (8,)}),
    ("classifier", {"preset": "lenet5"}),
    ("equivariant", {"input_size": (16, 16), "layers": 2}),
    ("unet", {"input_size": (16, 16), "layers": 2}),
    ("unet", {"input_size": (16, 16), "layers": 2, "upsample": "bilinear"}),
    ("classifier", {"preset": "resnet18", "input_size": (32, 32)}),
)


def model_probes() -> list[tuple[str, dict[str, object]]]:
    """Every helper class's example request, then the code-path probes; each request once."""
    probes: list[tuple[str, dict[str, object]]] = []
    for probe in (*HELPER_EXAMPLES.values(), *CODE_PATH_PROBES):
        if probe not in probes:
            probes.append(probe)
    return probes


_computing: set[str] = set()


def bound_and_used(source: str) -> frozenset[str]:
    """Every identifier a module binds or reads: names, arguments, defs, imports, globals."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            names.update(node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    names.discard(PROBE)
    return frozenset(names - set(PROBE_MODULES))


def _model_sources() -> list[str]:
    from cnngen.core.solver import solve
    from cnngen.core.spec import spec_from_options
    from cnngen.rendering.engine import render_model

    sources = []
    for family, options in model_probes():
        spec = spec_from_options(family, {**options, "name": PROBE})
        sources.append(render_model(solve(spec), "model"))
    return sources


# kind -> a function rendering that kind's probe files.  The dataset and
# training renderers register theirs (cnngen.rendering.datafiles), so this
# module imports none of them.
SOURCES: dict[str, Callable[[], list[str]]] = {"model": _model_sources}


def register_sources(kind: str, sources: Callable[[], list[str]]) -> None:
    """Declare how to render the probe files of one kind of generated file."""
    SOURCES[kind] = sources


@cache
def _names_of(kind: str) -> frozenset[str]:
    from cnngen.rendering.engine import unformatted

    _computing.add(kind)
    try:
        with unformatted():
            sources = SOURCES[kind]()
        return frozenset().union(*(bound_and_used(source) for source in sources))
    finally:
        _computing.discard(kind)


@cache
def _modules_of(kind: str) -> frozenset[str]:
    from cnngen.rendering.engine import unformatted

    _computing.add(kind)
    try:
        with unformatted():
            sources = SOURCES[kind]()
    finally:
        _computing.discard(kind)
    modules: set[str] = set()
    for source in sources:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules.add(node.module.split(".")[0])
    return frozenset(modules - set(PROBE_MODULES))


def imported_modules(kinds: Iterable[str]) -> frozenset[str]:
    """The top-level modules the generated files of ``kinds`` import (torch, numpy ...)."""
    modules: frozenset[str] = frozenset()
    for kind in kinds:
        if kind not in _computing:
            modules |= _modules_of(kind)
    return modules


def template_names(kinds: Iterable[str]) -> frozenset[str]:
    """The names the generated files of ``kinds`` use (see :data:`SOURCES` for the kinds).

    While a kind's own probe is being rendered its names are not known yet;
    the probe's name is then accepted.
    """
    names: frozenset[str] = frozenset()
    for kind in kinds:
        if kind not in _computing:
            names |= _names_of(kind)
    return names
