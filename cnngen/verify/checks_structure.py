"""The structure check: the file's modules and their order against its own plan.

Shapes, parameter counts and MACs do not see every edit: ``padding_mode='reflect'``,
dilation 2 with padding 2, GELU for ReLU, a batch norm moved after its
activation or an average pool for a max pool keep all three.  So the plan is
rebuilt from the regenerate command every generated file records in its
docstring (``cnngen model ...``), rendered exactly as ``cnngen model`` would
write it, and the model it defines is compared with the file's, module by
module:

- the same attribute paths (``features.3``), the same module types;
- the same hyperparameters: every plain attribute of the module (kernel,
  stride, padding, padding mode, dilation, groups, output padding, pool
  kind and ceil mode, norm eps, activation settings, ...), whether it has a
  bias, and the names and shapes of its parameters and buffers;
- the same order of the leaf modules as ``forward`` runs them (forward
  pre-hooks on one batch-1 pass of each model, left out above a billion
  MACs per sample), and the order of the children of every ``nn.Sequential``;
- the same code in every function and method other than ``__init__``
  (docstrings and comments aside): what ``forward`` does between modules.

No big table is written into the file; the regenerate line is the whole
reference.  A file without one (hand-written) skips the check.
"""

from __future__ import annotations

import ast
import hashlib
import linecache
import re
import shlex
import types
from typing import Any

import torch
from torch import nn

from cnngen.verify.common import CheckFailed, Skip, Verifier, Warn

# The line that regenerates a model file starts with these words (any language).
COMMAND_START = ("cnngen", "model")
VERSION_PATTERN = re.compile(r"\bcnngen (\d+\.\d+[\w.+-]*?)\.?(?=\s|$)")
# Plain values a module keeps as attributes: its hyperparameters.
PLAIN = (bool, int, float, str, type(None))
# Attributes every module has that say nothing about what it computes.
IGNORED = {"training"}


def regenerate_command(doc: str | None) -> list[str] | None:
    """The words after ``cnngen`` of the docstring's regenerate line, or None."""
    for line in (doc or "").splitlines():
        text = line.strip()
        if not text.startswith("cnngen model "):
            continue
        try:
            words = shlex.split(text)
        except ValueError:
            return None
        if tuple(words[:2]) == COMMAND_START:
            return words[1:]
    return None


def file_version(doc: str | None) -> str | None:
    """The cnngen version the docstring says wrote the file."""
    match = VERSION_PATTERN.search(doc or "")
    return match.group(1) if match else None


def regenerate(words: list[str]) -> str:
    """The source ``cnngen WORDS --output -`` writes, from a fresh cnngen process.

    A process of its own rather than the CLI in this one: verify sits below
    the CLI and never imports it, and the command runs exactly as a user's would.
    """
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "cnngen", *words, "--output", "-"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise ValueError(lines[-1] if lines else f"exit status {done.returncode}")
    return done.stdout


def load_source(source: str, class_name: str) -> tuple[types.ModuleType, type[nn.Module]]:
    """Execute the regenerated source as a module; return it and its class ``class_name``."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:12]
    filename = f"<cnngen plan {class_name} {digest}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    module = types.ModuleType(f"cnngen_plan_{digest}")
    module.__dict__["__file__"] = filename
    exec(compile(source, filename, "exec"), module.__dict__)  # noqa: S102 - cnngen's own output
    cls = module.__dict__.get(class_name)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise ValueError(f"the regenerated file defines no class {class_name}")
    return module, cls


# ------------------------------------------------------------------ describing modules
def _plain(value: Any) -> bool:
    if isinstance(value, PLAIN):
        return True
    return isinstance(value, (tuple, list)) and all(_plain(item) for item in value)


def kind(module: nn.Module) -> str:
    """The type of a module as a reader names it: ``Conv2d`` for torch's, the class otherwise."""
    cls = type(module)
    return cls.__name__


def type_key(module: nn.Module) -> str:
    """What must match: torch's classes by their full name, the file's own by name."""
    cls = type(module)
    if cls.__module__.startswith("torch."):
        return f"{cls.__module__}.{cls.__qualname__}"
    return cls.__qualname__


def hyperparameters(module: nn.Module) -> dict[str, Any]:
    """Every plain attribute, the bias, and the shapes of parameters and buffers."""
    values: dict[str, Any] = {}
    for key, value in vars(module).items():
        if key.startswith("_") or key in IGNORED or not _plain(value):
            continue
        values[key] = list(value) if isinstance(value, tuple) else value
    if "bias" in module._parameters or hasattr(module, "bias"):
        values["bias"] = getattr(module, "bias", None) is not None
    for name, tensor in module.named_parameters(recurse=False):
        values[f"{name}.shape"] = list(tensor.shape)
    for name, tensor in module.named_buffers(recurse=False):
        if tensor is not None:
            values[f"{name}.shape"] = list(tensor.shape)
    return values


def describe(module: nn.Module, keys: list[str] | None = None) -> str:
    """``Conv2d(dilation=2, padding=[2, 2])``: the type and the named settings."""
    if not keys:
        return kind(module)
    settings = hyperparameters(module)
    shown = ", ".join(f"{key}={settings[key]!r}" for key in keys if key in settings)
    missing = [key for key in keys if key not in settings]
    shown += "".join(f", no {key}" for key in missing)
    return f"{kind(module)}({shown.lstrip(', ')})"


def compare_modules(plan: nn.Module, model: nn.Module) -> list[dict[str, Any]]:
    """Differences in the module tree: missing, extra, other types, other settings."""
    planned = {name: module for name, module in plan.named_modules() if name}
    actual = {name: module for name, module in model.named_modules() if name}
    found: list[dict[str, Any]] = []
    for name, module in planned.items():
        if name not in actual:
            found.append(
                {
                    "name": name,
                    "problem": "missing",
                    "plan": kind(module),
                    "file": None,
                    "message": f"{name}: the plan has {kind(module)}, the file has no such module",
                }
            )
            continue
        other = actual[name]
        if type_key(module) != type_key(other):
            found.append(
                {
                    "name": name,
                    "problem": "type",
                    "plan": kind(module),
                    "file": kind(other),
                    "message": f"{name}: the plan has {_repr(module)}, the file has {_repr(other)}",
                }
            )
            continue
        expected, got = hyperparameters(module), hyperparameters(other)
        keys = sorted(key for key in set(expected) | set(got) if expected.get(key) != got.get(key))
        if keys:
            found.append(
                {
                    "name": name,
                    "problem": "hyperparameters",
                    "plan": {key: expected.get(key) for key in keys},
                    "file": {key: got.get(key) for key in keys},
                    "message": (
                        f"{name}: the plan has {describe(module, keys)}, "
                        f"the file has {describe(other, keys)}"
                    ),
                }
            )
    for name, module in actual.items():
        if name not in planned:
            found.append(
                {
                    "name": name,
                    "problem": "extra",
                    "plan": None,
                    "file": kind(module),
                    "message": f"{name}: the file has {_repr(module)}, the plan has no such module",
                }
            )
    return found


def _repr(module: nn.Module) -> str:
    """A module's own one-line repr (``GELU(approximate='none')``), its type for containers."""
    if len(module._modules):
        return kind(module)
    text = repr(module)
    return text if "\n" not in text and len(text) <= 120 else kind(module)


# ------------------------------------------------------------------ the order forward runs
def call_order(model: nn.Module, x: torch.Tensor) -> list[str]:
    """The attribute paths of the leaf modules, in the order one forward pass calls them."""
    order: list[str] = []
    handles = []
    for name, module in model.named_modules():
        if name and not len(module._modules):

            def hook(module: nn.Module, inputs: Any, name: str = name) -> None:
                order.append(name)

            handles.append(module.register_forward_pre_hook(hook))
    try:
        model.eval()
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return order


def compare_order(planned: list[str], actual: list[str]) -> dict[str, Any] | None:
    """The first place the file's forward runs another module than the plan's."""
    if planned == actual:
        return None
    index = next(
        (i for i, (a, b) in enumerate(zip(planned, actual, strict=False)) if a != b),
        min(len(planned), len(actual)),
    )
    window = slice(max(index - 1, 0), index + 3)
    plan_here = planned[index] if index < len(planned) else "nothing (the plan's forward ends)"
    file_here = actual[index] if index < len(actual) else "nothing (its forward ends)"
    name = actual[index] if index < len(actual) else planned[index]
    return {
        "name": name,
        "problem": "order",
        "plan": planned[window],
        "file": actual[window],
        "message": (
            f"{name}: forward runs the modules in another order; at call {index + 1} the plan "
            f"runs {plan_here}, the file runs {file_here} "
            f"(plan: {', '.join(planned[window])}; file: {', '.join(actual[window])})"
        ),
    }


# ------------------------------------------------------------------ code between modules
def _definitions(tree: ast.Module) -> dict[str, tuple[str, int]]:
    """``Class.method`` / ``function`` -> (AST dump without docstrings, line), __init__ aside."""
    found: dict[str, tuple[str, int]] = {}

    def strip(node: ast.AST) -> ast.AST:
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]  # type: ignore[attr-defined]
        return node

    def visit(nodes: list[ast.stmt], prefix: str) -> None:
        for node in nodes:
            if isinstance(node, ast.ClassDef):
                visit(node.body, f"{prefix}{node.name}.")
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if node.name == "__init__":
                    continue  # what __init__ builds is compared module by module
                found[prefix + node.name] = (ast.dump(strip(node)), node.lineno)

    visit(tree.body, "")
    return found


def compare_code(planned_source: str, file_source: str, file_name: str) -> list[dict[str, Any]]:
    """Functions and methods whose code differs from the regenerated file's."""
    try:
        planned = _definitions(ast.parse(planned_source))
        actual = _definitions(ast.parse(file_source))
    except SyntaxError:
        return []
    found = []
    for name, (dump, _) in planned.items():
        if name not in actual:
            found.append(
                {
                    "name": name,
                    "problem": "code_missing",
                    "plan": "defined",
                    "file": None,
                    "message": f"{name}: the plan defines it, the file does not",
                }
            )
        elif actual[name][0] != dump:
            found.append(
                {
                    "name": name,
                    "problem": "code",
                    "plan": "as regenerated",
                    "file": f"line {actual[name][1]}",
                    "message": (
                        f"{name}: its code ({file_name} line {actual[name][1]}) differs from "
                        f"what the regenerate command writes"
                    ),
                }
            )
    return found


# ------------------------------------------------------------------ the check
# Above this many multiply-accumulates per sample the forward passes that record
# the call order are left out (two CPU passes would take seconds); the static
# order and the code comparison still cover it.  ``meta`` tensors are no way
# out: their first batch norm imports torch's compiler, several seconds.
RUN_ORDER_MAX_MACS = 1_000_000_000


def orders(plan: nn.Module, model: nn.Module, input_shape: Any) -> tuple[list[str], list[str]]:
    """The call order of the plan's model and of the file's, one batch-1 pass each."""
    device = next(iter(model.parameters()), torch.zeros(0)).device
    planned = call_order(plan, torch.zeros(1, *input_shape))
    return planned, call_order(model, torch.zeros(1, *input_shape, device=device))


def sequential_order(plan: nn.Module, model: nn.Module) -> dict[str, Any] | None:
    """The first ``nn.Sequential`` whose children run in another order than the plan's.

    A Sequential runs its children in the order they were registered, so the
    order of the names is the order of the calls; other modules call theirs
    from ``forward``, whose code is compared separately.
    """
    actual = dict(model.named_modules())
    for name, module in plan.named_modules():
        other = actual.get(name)
        if not isinstance(module, nn.Sequential) or not isinstance(other, nn.Sequential):
            continue
        planned, found = list(module._modules), list(other._modules)
        if set(planned) != set(found) or planned == found:
            continue
        index = next(i for i, (a, b) in enumerate(zip(planned, found, strict=False)) if a != b)
        prefix = f"{name}." if name else ""
        return {
            "name": prefix + found[index],
            "problem": "order",
            "plan": [prefix + child for child in planned],
            "file": [prefix + child for child in found],
            "message": (
                f"{prefix}{found[index]}: forward runs the modules in another order; at "
                f"position {index + 1} of {name or 'the model'} the plan runs "
                f"{prefix}{planned[index]}, the file runs {prefix}{found[index]} "
                f"(plan: {', '.join(planned)}; file: {', '.join(found)})"
            ),
        }
    return None


def reference_model(cls: type[nn.Module]) -> nn.Module:
    """The plan's model on the CPU, built as the file's model is.

    Building on ``meta`` would skip initializing the weights, but the first
    meta build and its move to real storage load parts of torch that take
    longer than initializing all but the largest models.
    """
    torch.manual_seed(0)
    return cls()


def check_structure(v: Verifier) -> tuple[str, dict[str, Any]]:
    """Module types, hyperparameters, forward order and code against the rebuilt plan."""
    assert v.module is not None and v.model is not None and v.x is not None
    doc = v.module.__doc__
    words = regenerate_command(doc)
    if words is None:
        raise Skip(
            "the docstring records no `cnngen model ...` regenerate command, so there is no "
            "plan to compare the modules with (a hand-written file)"
        )
    if "--template-dir" in words:
        raise Skip("the file was written from user templates (--template-dir); no shipped plan")
    command = "cnngen " + shlex.join(words)
    details: dict[str, Any] = {"command": command, "mismatches": []}
    from cnngen import __version__

    version = file_version(doc)
    details["file_version"], details["cnngen_version"] = version, str(__version__)
    try:
        v.progress("rebuilding the plan from the regenerate command")
        source = regenerate(words)
        plan_module, cls = load_source(source, type(v.model).__name__)
        plan = reference_model(cls)
    except Exception as error:  # noqa: BLE001 - the command may no longer be valid
        raise Warn(f"`{command}` cannot be rebuilt: {error}", details) from None
    mismatches = compare_modules(plan, v.model)
    static = sequential_order(plan, v.model)
    if static is not None:
        mismatches.append(static)
    macs = getattr(plan_module, "MACS", None)
    if isinstance(macs, int) and macs > RUN_ORDER_MAX_MACS:
        details["order"] = (
            f"not run: {macs:,} MACs per sample; compared by the order of each "
            f"Sequential and the code of forward"
        )
    else:
        try:
            planned, actual = orders(plan, v.model, v.input_shape)
        except Exception as error:  # noqa: BLE001 - the forward check reports the failure
            details["order"] = f"not compared: {type(error).__name__}: {error}"
        else:
            details["calls"] = len(actual)
            problem = compare_order(planned, actual)
            if problem is not None and static is None:
                mismatches.append(problem)
    file_source = v.path.read_text(encoding="utf-8", errors="replace")
    mismatches += compare_code(source, file_source, v.path.name)
    details["mismatches"] = mismatches
    details["modules"] = sum(1 for name, _ in plan.named_modules() if name)
    if mismatches:
        message = (
            f"{len(mismatches)} difference(s) from the plan of `{command}`; first: "
            + mismatches[0]["message"]
        )
        if version is not None and version != str(__version__):
            raise Warn(
                f"{message} (the file was written by cnngen {version}, this is {__version__}; "
                f"the templates may have changed)",
                details,
            )
        raise CheckFailed(message, details)
    return (
        f"{details['modules']} modules, their settings and forward order match the plan",
        details,
    )
