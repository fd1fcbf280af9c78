"""The names each generated file uses, derived from the templates themselves.

A class name the user picks (``--name``, ``--model-class``) is written into
files that also use ``torch``, ``nn``, ``main``, ``np``, ``DataLoader``,
``LR`` ... .  Rather than keep a list of those by hand, each template is
rendered with a probe class name and the result is parsed: every name it
binds, reads, imports or takes as an argument is reserved, so the list stays
true as templates change.

Rendering every probe takes a few dozen renders, so the result is stored in
:mod:`cnngen.rendering.reserved_names`, stamped with a fingerprint of what
it was derived from (the templates, this module's probes, the vocabulary and
the data-file renderers).  When the stamp matches, a ``--name`` costs no
probe render at all; when it does not (a template changed and the list was
not refreshed) the names are derived again, so the check is never wrong,
only slower.  ``python examples/regenerate.py`` (or ``python -m
cnngen.rendering.reserved``) refreshes the list; a test fails while it is
stale.

:func:`template_names` is what the spec check (:mod:`cnngen.core.checks`)
receives, so core never imports rendering.
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path

from cnngen.core.vocab import HELPER_EXAMPLES

PROBE = "CnngenProbeName"
PROBE_MODULES = ("cnngen_probe_model", "cnngen_probe_dataset")

# Model requests for the model template's code paths besides its helper
# classes: each family, a latent bottleneck, a time head, pad layers,
# bottleneck blocks with depthwise convolutions, a flatten head with hidden
# layers, both U-Net decoders, the preset layouts and training-only heads.  Each helper class is
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
    # Training-only heads: the extra outputs' constant, forward and returns.
    ("classifier", {"preset": "googlenet", "input_size": (64, 64), "aux_logits": True}),
    ("unet", {"input_size": (16, 16), "layers": 2, "deep_supervision": 1}),
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


# Sources the reserved names are derived from, besides the templates.
FINGERPRINTED = ("rendering/namespace.py", "rendering/datafiles.py", "core/vocab.py")
KINDS = ("model", "train", "finetune", "dataset_windows", "dataset_arrays", "dataset_synthetic")


@cache
def fingerprint() -> str:
    """A hash of everything the reserved names are derived from (sub-millisecond to compute)."""
    from cnngen.rendering.engine import templates_dir

    digest = hashlib.sha256()
    folder = Path(templates_dir())
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    package = Path(__file__).resolve().parent.parent
    for name in FINGERPRINTED:
        digest.update(name.encode() + b"\0" + (package / name).read_bytes() + b"\0")
    return digest.hexdigest()


def _stored(table: str, kind: str) -> frozenset[str] | None:
    """The stored names (or modules) of ``kind``, if they were derived from these sources."""
    from cnngen.rendering import reserved_names

    if reserved_names.FINGERPRINT != fingerprint():
        return None
    stored = getattr(reserved_names, table).get(kind)
    return None if stored is None else frozenset(stored.split())


def _sources_of(kind: str) -> list[str]:
    if kind not in SOURCES:
        raise KeyError(f"no probe files registered for {kind!r} (import its renderer first)")
    return SOURCES[kind]()


@cache
def _names_of(kind: str) -> frozenset[str]:
    stored = _stored("NAMES", kind)
    return stored if stored is not None else derived_names(kind)


def derived_names(kind: str) -> frozenset[str]:
    """The names of ``kind``, derived by rendering its probes (what the stored list holds)."""
    from cnngen.rendering.engine import unformatted

    _computing.add(kind)
    try:
        with unformatted():
            sources = _sources_of(kind)
        return frozenset().union(*(bound_and_used(source) for source in sources))
    finally:
        _computing.discard(kind)


@cache
def _modules_of(kind: str) -> frozenset[str]:
    stored = _stored("MODULES", kind)
    return stored if stored is not None else derived_modules(kind)


def derived_modules(kind: str) -> frozenset[str]:
    """The top-level modules the probes of ``kind`` import (what the stored list holds)."""
    from cnngen.rendering.engine import unformatted

    _computing.add(kind)
    try:
        with unformatted():
            sources = _sources_of(kind)
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
