"""The worker behind ``cnngen verify``: imports one model file and tests it for real.

:mod:`cnngen.verify.runner` starts this module in a separate process
(``python -m cnngen.verify.child --report OUT.json FILE ...``) so that a file
which crashes, exhausts memory or loops forever cannot take cnngen down with
it.  This is the only cnngen module that imports torch at module level; the
parent never imports it.

The report is written to the ``--report`` path as JSON (not stdout, which the
model file may print to) and rewritten atomically after every check, so a
parent that has to stop a hanging run still gets every result finished so far
and the name of the stage that hung.  Progress lines go to stderr prefixed
with :data:`PROGRESS_PREFIX`; everything else on stderr is diagnostics.
The report schema is documented in ``docs/verify.md``.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import inspect
import io
import json
import math
import os
import platform
import re
import statistics
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import nn

from cnngen.verify.runner import describe_mismatch

PROGRESS_PREFIX = "cnngen-verify: "

# Outputs that should be equal up to float rounding (rotated inputs, exported
# programs, ONNX Runtime) may differ by at most RELATIVE_TOLERANCE times the
# largest output magnitude, plus ABSOLUTE_TOLERANCE for all-zero outputs.
RELATIVE_TOLERANCE = 1e-4
ABSOLUTE_TOLERANCE = 1e-6
LEARNING_RATE = 1e-3
MODULE_NAME = "cnngen_verified_model"

CHECK_ORDER = (
    "forward",
    "output_shape",
    "layer_shapes",
    "params",
    "macs",
    "gradients",
    "training",
    "equivariance",
    "export",
    "onnx",
    "torchscript",
    "compile",
)


class Fatal(Exception):
    """A problem that stops verification early (the file cannot even be run)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class Skip(Exception):
    """Raised inside a check to record it as skipped with a reason."""


class CheckFailed(Exception):
    """Raised inside a check to record it as failed with a message and its evidence."""

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details = details or {}


# ------------------------------------------------------------------ report
class Report:
    """The report under construction, rewritten to disk after every change."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data

    def save(self) -> None:
        """Write atomically so the parent never reads half a file."""
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, suffix=".part")
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(self.data, stream, indent=2, default=_json_default)
        os.replace(temporary, self.path)

    def stage(self, name: str) -> None:
        self.data["stage"] = name
        self.save()

    def add_check(
        self, name: str, status: str, message: str, details: dict[str, Any], seconds: float
    ) -> None:
        self.data["checks"].append(
            {
                "name": name,
                "status": status,
                "message": message,
                "seconds": round(seconds, 4),
                "details": details,
            }
        )
        self.save()


def _json_default(value: Any) -> Any:
    if isinstance(value, (tuple, set)):
        return list(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return str(value)


def progress(message: str) -> None:
    """One progress line for the parent to show (stderr; stdout belongs to the model file)."""
    print(f"{PROGRESS_PREFIX}{message}", file=sys.stderr, flush=True)


def _finite(value: float) -> float | None:
    """JSON has no inf/nan: report them as None."""
    return value if math.isfinite(value) else None


# ------------------------------------------------------------------ loading
def _file_line(tb: Any, path: Path) -> int | None:
    """The deepest line of the traceback that lies in the model file."""
    line = None
    for frame in traceback.extract_tb(tb):
        if Path(frame.filename).resolve() == path:
            line = frame.lineno
    return line


def _describe(error: BaseException, path: Path) -> str:
    """``Type: message (FILE line N)`` for an exception raised by the model's code."""
    text = str(error).strip().splitlines()
    first = text[0] if text else ""
    where = _file_line(error.__traceback__, path)
    location = f" ({path.name} line {where})" if where else ""
    return f"{type(error).__name__}: {first}{location}"


def load_module(path: Path) -> ModuleType:
    """Import the file under a private module name, turning failures into Fatal."""
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(MODULE_NAME, path)
    if spec is None or spec.loader is None:
        raise Fatal("load_error", f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as error:
        raise Fatal(
            "syntax_error",
            f"{path}: syntax error on line {error.lineno}: {error.msg}",
        ) from None
    except ImportError as error:
        line = _file_line(error.__traceback__, path)
        where = f" on line {line}" if line else ""
        raise Fatal("import_error", f"{path}: import failed{where}: {error}") from None
    except SystemExit as error:
        raise Fatal(
            "load_error", f"{path}: the file called exit({error.code}) while being imported"
        ) from None
    except Exception as error:  # noqa: BLE001 - any failure of foreign code is reported
        raise Fatal(
            "load_error", f"{path}: importing the file raised {_describe(error, path)}"
        ) from None
    return module


def _shape_constant(module: ModuleType, name: str, path: Path) -> tuple[int, ...]:
    value = getattr(module, name)
    if not (
        isinstance(value, (tuple, list))
        and value
        and all(isinstance(size, int) and not isinstance(size, bool) and size > 0 for size in value)
    ):
        raise Fatal(
            "bad_constant",
            f"{path}: {name} must be a tuple of positive ints without the batch dimension, "
            f"got {value!r}",
        )
    return tuple(value)


def read_constants(module: ModuleType, path: Path) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """INPUT_SHAPE and OUTPUT_SHAPE; their absence means this is no cnngen file."""
    if not hasattr(module, "INPUT_SHAPE"):
        raise Fatal(
            "not_cnngen",
            f"{path}: defines no INPUT_SHAPE, so it is not a cnngen model file "
            f"(cnngen verify checks files written by `cnngen model`)",
        )
    if not hasattr(module, "OUTPUT_SHAPE"):
        raise Fatal(
            "missing_constant",
            f"{path}: defines INPUT_SHAPE but no OUTPUT_SHAPE; a cnngen model file defines both",
        )
    return _shape_constant(module, "INPUT_SHAPE", path), _shape_constant(
        module, "OUTPUT_SHAPE", path
    )


def _no_arg_constructor(cls: type) -> bool:
    try:
        signature = inspect.signature(cls.__init__)
    except (TypeError, ValueError):
        return False
    parameters = list(signature.parameters.values())[1:]
    return all(
        p.default is not inspect.Parameter.empty
        or p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        for p in parameters
    )


def find_model_class(module: ModuleType, path: Path) -> type[nn.Module]:
    """The model: a no-argument nn.Module subclass defined in the file, not a helper.

    The class named on the docstring's first line (``Name: (B, ...) -> ...``)
    wins; otherwise helpers (classes whose name another candidate's source
    mentions, such as ``RotationStack``) are dropped and the last one defined
    is taken.
    """
    defined = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, nn.Module)
        and value.__module__ == module.__name__
    ]
    candidates = [cls for cls in defined if _no_arg_constructor(cls)]
    if not candidates:
        names = ", ".join(cls.__name__ for cls in defined) or "none"
        raise Fatal(
            "no_model",
            f"{path}: no nn.Module subclass with a no-argument constructor is defined "
            f"(nn.Module subclasses found: {names})",
        )
    headline = re.match(r"\s*([A-Za-z_]\w*):", module.__doc__ or "")
    if headline:
        for cls in candidates:
            if cls.__name__ == headline.group(1):
                return cls
    sources: dict[type, str] = {}
    for cls in candidates:
        try:
            sources[cls] = inspect.getsource(cls)
        except (OSError, TypeError):
            sources[cls] = ""
    used = {
        cls
        for cls in candidates
        for other in candidates
        if other is not cls and re.search(rf"\b{re.escape(cls.__name__)}\b", sources[other])
    }
    top = [cls for cls in candidates if cls not in used] or candidates
    return top[-1]


def declared_number(doc: str | None, label: str) -> int | None:
    """A count such as ``Parameters: 1,234`` from the file's docstring."""
    match = re.search(rf"^\s*{re.escape(label)}:\s*([\d,]+)\s*$", doc or "", re.MULTILINE)
    return int(match.group(1).replace(",", "")) if match else None


def declared_family(doc: str | None) -> str | None:
    """The family from the docstring headline ``..., a 2D classifier.``"""
    first = (doc or "").strip().splitlines()[0] if (doc or "").strip() else ""
    match = re.search(r"a \dD (\w+)\.\s*$", first)
    return match.group(1) if match else None


# ------------------------------------------------------------------ helpers
def tolerance(reference: torch.Tensor) -> float:
    scale = float(reference.detach().abs().max()) if reference.numel() else 0.0
    return RELATIVE_TOLERANCE * scale + ABSOLUTE_TOLERANCE


def max_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.detach().float().cpu() - b.detach().float().cpu()).abs().max())


def parity(name: str, reference: torch.Tensor, other: torch.Tensor) -> tuple[str, dict[str, Any]]:
    """Compare two outputs; raise CheckFailed when they differ beyond the tolerance."""
    if tuple(other.shape) != tuple(reference.shape):
        raise CheckFailed(
            f"{name} output has shape {tuple(other.shape)}, the model gives {tuple(reference.shape)}"
        )
    difference = max_difference(reference, other)
    limit = tolerance(reference)
    details = {"max_abs_diff": _finite(difference), "tolerance": limit}
    if not difference <= limit:
        raise CheckFailed(
            f"{name} output differs from the model by {difference:.3g} (> {limit:.3g})"
        )
    return f"output matches (max abs diff {difference:.2g} <= {limit:.2g})", details


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_time(
    function: Callable[[], Any],
    device: torch.device,
    warmup: int = 3,
    min_runs: int = 5,
    max_runs: int = 50,
    budget_s: float = 1.0,
) -> dict[str, Any]:
    """Median wall time of ``function`` after warm-up; runs until ``budget_s`` or ``max_runs``."""
    for _ in range(warmup):
        function()
    synchronize(device)
    times: list[float] = []
    started = time.perf_counter()
    while len(times) < max_runs and (
        len(times) < min_runs or time.perf_counter() - started < budget_s
    ):
        synchronize(device)
        begin = time.perf_counter()
        function()
        synchronize(device)
        times.append(time.perf_counter() - begin)
    return {"median_ms": statistics.median(times) * 1e3, "runs": len(times)}


def peak_rss_bytes() -> int | None:
    """The process's peak resident set size so far (None where unsupported)."""
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


# ------------------------------------------------------------------ the run
class Verifier:
    """Runs every check against one model file, recording results in a Report."""

    def __init__(self, args: argparse.Namespace, report: Report) -> None:
        self.args = args
        self.report = report
        self.path = Path(args.file).resolve()
        self.module: ModuleType | None = None
        self.model: nn.Module | None = None
        self.device = torch.device("cpu")
        self.input_shape: tuple[int, ...] = ()
        self.output_shape: tuple[int, ...] = ()
        self.family: str | None = None
        self.equivariant = False
        self.x: torch.Tensor | None = None
        self.target: torch.Tensor | None = None
        self.target_shape: tuple[int, ...] = ()
        self.output: torch.Tensor | None = None
        self.seen: dict[str, tuple[int, ...]] = {}
        self.varied: dict[str, list[tuple[int, ...]]] = {}
        self.forward_error: str | None = None
        self.rss_before: int | None = None
        self.rss_after: int | None = None
        self.cuda_peak: int | None = None

    # -------------------------------------------------------------- setup
    def pick_device(self) -> torch.device:
        wanted = self.args.device
        if wanted == "cuda" and not torch.cuda.is_available():
            raise Fatal(
                "usage", "--device: CUDA is not available on this machine; use --device cpu or auto"
            )
        if wanted == "auto":
            wanted = "cuda" if torch.cuda.is_available() else "cpu"
        return torch.device(wanted)

    def setup(self) -> None:
        self.device = self.pick_device()
        if self.device.type == "cuda":
            # TF32 would make float32 parity checks fail for reasons unrelated to the file.
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
        environment = self.report.data["environment"]
        environment["device"] = str(self.device)
        environment["device_name"] = (
            torch.cuda.get_device_name(self.device)
            if self.device.type == "cuda"
            else (platform.processor() or platform.machine() or "cpu")
        )
        self.report.stage("load")
        progress(f"loading {self.path.name}")
        self.module = load_module(self.path)
        self.input_shape, self.output_shape = read_constants(self.module, self.path)
        cls = find_model_class(self.module, self.path)
        self.family = declared_family(self.module.__doc__)
        model_info = self.report.data["model"]
        model_info.update(
            {
                "class_name": cls.__name__,
                "family": self.family,
                "input_shape": list(self.input_shape),
                "output_shape": list(self.output_shape),
            }
        )
        torch.manual_seed(0)
        try:
            model = cls()
        except (Exception, SystemExit) as error:  # noqa: BLE001
            raise Fatal(
                "construct_error",
                f"{self.path}: {cls.__name__}() raised {_describe(error, self.path)}",
            ) from None
        if not isinstance(model, nn.Module):
            raise Fatal("no_model", f"{self.path}: {cls.__name__}() did not return an nn.Module")
        self.rss_before = peak_rss_bytes()
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        try:
            self.model = model.to(self.device)
        except Exception as error:  # noqa: BLE001
            raise Fatal(
                "construct_error", f"{self.path}: moving the model to {self.device} failed: {error}"
            ) from None
        self.equivariant = any(type(m).__name__ == "RotationStack" for m in model.modules())
        model_info["equivariant"] = self.equivariant
        generator = torch.Generator().manual_seed(1)
        self.x = torch.randn(self.args.batch, *self.input_shape, generator=generator).to(
            self.device
        )
        self.make_target(self.output_shape)

    def make_target(self, shape: tuple[int, ...]) -> None:
        """A fixed random target: class labels for classifiers, else a tensor of ``shape``.

        When the model's real output differs from OUTPUT_SHAPE, the target
        follows the real output so gradients and training can still be checked.
        """
        self.target_shape = tuple(shape)
        generator = torch.Generator().manual_seed(2)
        batch = self.args.batch
        if self.classifies():
            target = torch.randint(0, shape[0], (batch,), generator=generator)
        else:
            target = torch.randn(batch, *shape, generator=generator)
        self.target = target.to(self.device)

    def classifies(self) -> bool:
        """Cross-entropy for classifiers (plain and equivariant), MSE for everything else."""
        return len(self.target_shape) == 1 and self.family not in ("encoder", "forecaster")

    def loss(self, output: torch.Tensor) -> torch.Tensor:
        assert self.target is not None
        if self.classifies():
            return nn.functional.cross_entropy(output, self.target)
        return nn.functional.mse_loss(output, self.target)

    # -------------------------------------------------------------- checks
    def run(self) -> None:
        self.setup()
        checks: dict[str, Callable[[], tuple[str, dict[str, Any]]]] = {
            "forward": self.check_forward,
            "output_shape": self.check_output_shape,
            "layer_shapes": self.check_layer_shapes,
            "params": self.check_params,
            "macs": self.check_macs,
            "gradients": self.check_gradients,
            "training": self.check_training,
            "equivariance": self.check_equivariance,
            "export": self.check_export,
            "onnx": self.check_onnx,
            "torchscript": self.check_torchscript,
            "compile": self.check_compile,
        }
        for index, name in enumerate(CHECK_ORDER, start=1):
            self.report.stage(name)
            progress(f"[{index}/{len(CHECK_ORDER)}] {name}")
            self.run_check(name, checks[name])
        if self.args.measure:
            self.report.stage("measure")
            progress("measuring latency and memory")
            self.measure()

    def run_check(self, name: str, check: Callable[[], tuple[str, dict[str, Any]]]) -> None:
        started = time.perf_counter()
        try:
            message, details = check()
            status = "passed"
        except Skip as reason:
            status, message, details = "skipped", str(reason), {}
        except CheckFailed as failure:
            status, message = "failed", str(failure)
            details = failure.details
        except Fatal:
            raise
        except (Exception, SystemExit) as error:  # noqa: BLE001 - the file's code may raise anything
            status, message, details = "failed", _describe(error, self.path), {}
        finally:
            assert self.model is not None
            self.model.zero_grad(set_to_none=True)
        self.report.add_check(name, status, message, details, time.perf_counter() - started)

    def need_forward(self) -> None:
        if self.forward_error is not None:
            raise Skip("the forward pass failed")

    def check_forward(self) -> tuple[str, dict[str, Any]]:
        """Eval-mode forward with a hook on every named module recording its output shape."""
        assert self.model is not None and self.x is not None
        handles = []
        for name, module in self.model.named_modules():
            if not name:
                continue

            def hook(_module: nn.Module, _inputs: Any, output: Any, name: str = name) -> None:
                shape = (
                    tuple(output.shape[1:])
                    if isinstance(output, torch.Tensor)
                    else ("not a tensor",)
                )
                if name not in self.seen:
                    self.seen[name] = shape
                elif self.seen[name] != shape:
                    self.varied.setdefault(name, [self.seen[name]]).append(shape)

            handles.append(module.register_forward_hook(hook))
        self.model.eval()
        try:
            with torch.no_grad():
                output = self.model(self.x)
        except Exception as error:  # noqa: BLE001
            self.forward_error = _describe(error, self.path)
            raise CheckFailed(f"forward pass failed: {self.forward_error}") from None
        finally:
            for handle in handles:
                handle.remove()
        if not isinstance(output, torch.Tensor):
            self.forward_error = f"returned {type(output).__name__}, not a tensor"
            raise CheckFailed(f"the model {self.forward_error}")
        self.output = output
        if tuple(output.shape[1:]) != self.output_shape and output.dim() >= 2:
            self.make_target(tuple(output.shape[1:]))
        finite = bool(torch.isfinite(output).all())
        details = {
            "input": [self.args.batch, *self.input_shape],
            "output": list(output.shape),
            "finite": finite,
        }
        if not finite:
            raise CheckFailed("the output contains inf or nan", details)
        return f"{tuple(self.x.shape)} -> {tuple(output.shape)}", details

    def check_output_shape(self) -> tuple[str, dict[str, Any]]:
        self.need_forward()
        assert self.output is not None
        expected = (self.args.batch, *self.output_shape)
        actual = tuple(self.output.shape)
        details = {"expected": list(expected), "actual": list(actual)}
        if actual != expected:
            raise CheckFailed(f"output shape {actual}, OUTPUT_SHAPE says {expected}", details)
        return f"{actual} as OUTPUT_SHAPE says", details

    def check_layer_shapes(self) -> tuple[str, dict[str, Any]]:
        """Compare hooked shapes with LAYER_SHAPES (also after a failed forward: what ran)."""
        assert self.module is not None and self.model is not None
        declared = getattr(self.module, "LAYER_SHAPES", None)
        if not isinstance(declared, dict):
            raise CheckFailed("the file defines no LAYER_SHAPES dict to compare with")
        modules = {name for name, _ in self.model.named_modules() if name}
        mismatches: list[dict[str, Any]] = []
        not_reached: list[str] = []
        for name, expected in declared.items():
            expected_shape = list(expected) if isinstance(expected, (tuple, list)) else expected
            if name not in modules:
                mismatches.append(
                    {"name": name, "expected": expected_shape, "actual": None, "problem": "missing"}
                )
            elif name not in self.seen:
                if self.forward_error is None:
                    mismatches.append(
                        {
                            "name": name,
                            "expected": expected_shape,
                            "actual": None,
                            "problem": "not_called",
                        }
                    )
                else:
                    not_reached.append(name)
            elif self.seen[name] != tuple(expected_shape):
                mismatches.append(
                    {
                        "name": name,
                        "expected": expected_shape,
                        "actual": list(self.seen[name]),
                        "problem": "shape",
                    }
                )
        for name, shapes in self.varied.items():
            mismatches.append(
                {
                    "name": name,
                    "expected": declared.get(name),
                    "actual": [list(s) for s in shapes],
                    "problem": "varies",
                }
            )
        unlisted = sorted(modules - set(declared))
        compared = len(declared) - len(not_reached)
        details = {
            "declared": len(declared),
            "compared": compared,
            "mismatches": mismatches,
            "not_reached": not_reached,
            "unlisted": unlisted,
        }
        if mismatches:
            first = mismatches[0]
            raise CheckFailed(
                f"{len(mismatches)} of {len(declared)} layers differ from LAYER_SHAPES; first: "
                + describe_mismatch(first),
                details,
            )
        if not_reached:
            raise CheckFailed(
                f"the {compared} layers that ran match LAYER_SHAPES, but {len(not_reached)} "
                f"were not reached because the forward pass failed",
                details,
            )
        return f"all {len(declared)} layers match LAYER_SHAPES", details

    def check_params(self) -> tuple[str, dict[str, Any]]:
        assert self.model is not None and self.module is not None
        actual = sum(p.numel() for p in self.model.parameters())
        declared = declared_number(self.module.__doc__, "Parameters")
        details = {"actual": actual, "declared": declared}
        self.report.data["metrics"]["params"] = actual
        self.report.data["metrics"]["params_declared"] = declared
        if declared is None:
            return f"{actual:,} parameters (the docstring declares none to compare)", details
        if declared != actual:
            raise CheckFailed(
                f"the model has {actual:,} parameters, the docstring says {declared:,}", details
            )
        return f"{actual:,} parameters, as the docstring says", details

    def check_macs(self) -> tuple[str, dict[str, Any]]:
        """torch's FlopCounterMode on one forward; MACs = flops / 2 per sample."""
        self.need_forward()
        assert self.model is not None and self.module is not None
        from torch.utils.flop_counter import FlopCounterMode

        self.model.eval()
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            self.model(self.x)
        flops = counter.get_total_flops()
        measured = flops / 2 / self.args.batch
        measured_value: int | float = int(measured) if measured == int(measured) else measured
        declared = declared_number(self.module.__doc__, "Multiply-accumulates per sample")
        agree = declared is not None and declared == measured
        metrics = self.report.data["metrics"]
        metrics.update(
            {"macs_measured": measured_value, "macs_declared": declared, "macs_agree": agree}
        )
        details = {"measured": measured_value, "declared": declared, "agree": agree}
        if declared is None:
            raise Skip(
                f"torch counts {measured_value:,} MACs per sample; the docstring declares none"
            )
        if not agree:
            raise CheckFailed(
                f"torch counts {measured_value:,} multiply-accumulates per sample, "
                f"the docstring says {declared:,}",
                details,
            )
        return f"{declared:,} per sample, as the docstring says", details

    def check_gradients(self) -> tuple[str, dict[str, Any]]:
        self.need_forward()
        assert self.model is not None and self.x is not None
        self.model.train()
        torch.manual_seed(2)
        loss = self.loss(self.model(self.x))
        loss.backward()
        self.rss_after = peak_rss_bytes()
        self.cuda_peak = (
            torch.cuda.max_memory_allocated(self.device) if self.device.type == "cuda" else None
        )
        missing: list[str] = []
        non_finite: list[str] = []
        checked = 0
        for name, parameter in self.model.named_parameters():
            if not parameter.requires_grad:
                continue
            checked += 1
            if parameter.grad is None:
                missing.append(name)
            elif not bool(torch.isfinite(parameter.grad).all()):
                non_finite.append(name)
        details = {
            "loss": _finite(float(loss)),
            "parameters_checked": checked,
            "no_gradient": missing,
            "non_finite": non_finite,
        }
        problems = []
        if not math.isfinite(float(loss)):
            problems.append(f"the loss is {float(loss)}")
        if missing:
            problems.append(f"{len(missing)} parameters got no gradient (first: {missing[0]})")
        if non_finite:
            problems.append(
                f"{len(non_finite)} parameters got a non-finite gradient (first: {non_finite[0]})"
            )
        if problems:
            raise CheckFailed("; ".join(problems), details)
        return f"all {checked} parameter tensors got finite gradients", details

    def check_training(self) -> tuple[str, dict[str, Any]]:
        """A few Adam steps on one fixed batch must lower the loss.

        Training runs on a copy so later checks see the freshly built model.
        The seed is reset before every forward so dropout draws the same mask
        and the losses are comparable.
        """
        self.need_forward()
        steps = self.args.steps
        if steps < 1:
            raise Skip("--steps 0")
        assert self.model is not None
        model = copy.deepcopy(self.model).train()
        optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
        losses: list[float] = []
        for step in range(steps + 1):
            torch.manual_seed(3)
            loss = self.loss(model(self.x))
            losses.append(float(loss))
            if step == steps:
                break
            progress(f"training step {step + 1}/{steps}: loss {float(loss):.5g}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        kind = "cross_entropy" if self.classifies() else "mse"
        details = {
            "loss": kind,
            "optimizer": "Adam",
            "learning_rate": LEARNING_RATE,
            "steps": steps,
            "losses": [_finite(value) for value in losses],
        }
        first, last = losses[0], losses[-1]
        if not (math.isfinite(last) and last < first):
            raise CheckFailed(
                f"{kind} loss did not fall in {steps} steps: {first:.5g} -> {last:.5g}", details
            )
        return f"{kind} loss {first:.4g} -> {last:.4g} in {steps} Adam steps", details

    def check_equivariance(self) -> tuple[str, dict[str, Any]]:
        if not self.equivariant:
            raise Skip("not an equivariant model (no RotationStack)")
        self.need_forward()
        assert self.model is not None and self.x is not None
        if len(self.input_shape) < 3 or self.input_shape[-1] != self.input_shape[-2]:
            raise Skip(f"input {self.input_shape} has no square last two dimensions to rotate")
        self.model.eval()
        with torch.no_grad():
            reference = self.model(self.x)
            differences = []
            for turns in (1, 2, 3):
                rotated = self.model(torch.rot90(self.x, turns, dims=(-2, -1)))
                differences.append(max_difference(reference, rotated))
        limit = tolerance(reference)
        details = {
            "max_abs_diff": [_finite(d) for d in differences],
            "tolerance": limit,
            "relative_tolerance": RELATIVE_TOLERANCE,
            "output_scale": float(reference.abs().max()),
        }
        worst = max(differences)
        if not worst <= limit:
            turn = differences.index(worst) + 1
            raise CheckFailed(
                f"rotating the input by {turn} quarter turn(s) changes the output by {worst:.3g} "
                f"(tolerance {limit:.3g})",
                details,
            )
        return (
            f"unchanged under 1, 2, 3 quarter turns (max abs diff {worst:.2g} <= {limit:.2g})",
            details,
        )

    def reference(self) -> torch.Tensor:
        """The eval-mode output now (earlier train-mode passes moved norm statistics)."""
        assert self.model is not None
        self.model.eval()
        with torch.no_grad():
            return self.model(self.x)

    def check_export(self) -> tuple[str, dict[str, Any]]:
        self.need_forward()
        assert self.model is not None
        if not hasattr(torch, "export"):
            raise Skip("this torch has no torch.export")
        reference = self.reference()
        exported = torch.export.export(self.model, (self.x,))
        with torch.no_grad():
            result = exported.module()(self.x)
        return parity("torch.export", reference, result)

    def check_onnx(self) -> tuple[str, dict[str, Any]]:
        self.need_forward()
        assert self.model is not None and self.x is not None
        for package in ("onnx", "onnxruntime"):
            if importlib.util.find_spec(package) is None:
                raise Skip(f"{package} is not installed (pip install {package})")
        import onnx
        import onnxruntime

        reference = self.reference()
        model = self.model
        buffer = io.BytesIO()
        exporter = "torchscript"
        try:
            torch.onnx.export(
                model,
                (self.x,),
                buffer,
                dynamo=False,
                input_names=["input"],
                output_names=["output"],
            )
        except Exception as legacy_error:  # noqa: BLE001
            legacy = _describe(legacy_error, self.path)
            if importlib.util.find_spec("onnxscript") is None:
                raise CheckFailed(
                    f"torch.onnx.export (dynamo=False) failed: {legacy}; the dynamo exporter was not "
                    f"tried because onnxscript is not installed"
                ) from None
            exporter = "dynamo"
            program = torch.onnx.export(model, (self.x,), dynamo=True)
            buffer = io.BytesIO()
            program.save(buffer)
        data = buffer.getvalue()
        onnx.checker.check_model(onnx.load_from_string(data))
        # ONNX Runtime's threads spin-wait after a run by default, which would
        # steal the CPU from the latency measurements that follow.
        options = onnxruntime.SessionOptions()
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        session = onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        feed = {session.get_inputs()[0].name: self.x.detach().cpu().numpy()}
        result = torch.from_numpy(session.run(None, feed)[0])
        del session
        message, details = parity("ONNX Runtime", reference, result)
        details.update({"exporter": exporter, "bytes": len(data)})
        return f"{message} (exporter: {exporter})", details

    def check_torchscript(self) -> tuple[str, dict[str, Any]]:
        """torch.jit.script where it works, else torch.jit.trace (TorchScript is deprecated)."""
        self.need_forward()
        assert self.model is not None
        if not (hasattr(torch, "jit") and hasattr(torch.jit, "trace")):
            raise Skip("this torch has no TorchScript (torch.jit)")
        reference = self.reference()
        details: dict[str, Any] = {}
        try:
            compiled = torch.jit.script(self.model)
            method = "script"
        except Exception as error:  # noqa: BLE001
            first = (str(error).strip().splitlines() or [""])[0]
            details["script_error"] = f"{type(error).__name__}: {first}".strip()
            with torch.no_grad():
                # Our own parity check below replaces check_trace, which is slow.
                compiled = torch.jit.trace(self.model, (self.x,), check_trace=False)
            method = "trace"
        with torch.no_grad():
            result = compiled(self.x)
        message, parity_details = parity(f"torch.jit.{method}", reference, result)
        details.update(parity_details)
        details["method"] = method
        note = "" if method == "script" else " (torch.jit.script cannot compile it; traced instead)"
        return f"torch.jit.{method}: {message}{note}", details

    def check_compile(self) -> tuple[str, dict[str, Any]]:
        if not self.args.compile:
            raise Skip("pass --compile to check torch.compile")
        self.need_forward()
        assert self.model is not None
        if not hasattr(torch, "compile"):
            raise Skip("this torch has no torch.compile")
        reference = self.reference()
        compiled = torch.compile(self.model)
        started = time.perf_counter()
        with torch.no_grad():
            result = compiled(self.x)
        synchronize(self.device)
        compile_s = time.perf_counter() - started
        message, details = parity("torch.compile", reference, result)

        def run() -> None:
            with torch.no_grad():
                compiled(self.x)

        timing = median_time(run, self.device)
        details.update({"compile_s": compile_s, "forward_ms": timing["median_ms"]})
        self.report.data["metrics"]["latency"]["compiled_forward_ms"] = timing["median_ms"]
        return f"{message}; first call {compile_s:.1f} s", details

    # -------------------------------------------------------------- measuring
    def measure(self) -> None:
        """Memory, latency and throughput; numbers only, never a failure."""
        metrics = self.report.data["metrics"]
        metrics["memory"] = self.memory()
        if self.forward_error is not None or self.model is None:
            self.report.save()
            return
        model, x = self.model, self.x
        batch = self.args.batch

        def forward() -> None:
            with torch.no_grad():
                model(x)

        def forward_backward() -> None:
            model.zero_grad(set_to_none=True)
            self.loss(model(x)).backward()

        latency = metrics["latency"]
        try:
            model.eval()
            timing = median_time(forward, self.device)
            latency.update({"forward_ms": timing["median_ms"], "runs": timing["runs"]})
            latency["forward_samples_per_s"] = batch / (timing["median_ms"] / 1e3)
            model.train()
            timing = median_time(forward_backward, self.device)
            latency["forward_backward_ms"] = timing["median_ms"]
            latency["forward_backward_samples_per_s"] = batch / (timing["median_ms"] / 1e3)
        except Exception as error:  # noqa: BLE001
            latency["error"] = _describe(error, self.path)
        finally:
            model.zero_grad(set_to_none=True)
        metrics["mixed_precision"] = self.mixed_precision(forward)
        self.report.save()

    def memory(self) -> dict[str, Any]:
        if self.device.type == "cuda":
            return {
                "kind": "cuda_max_memory_allocated",
                "bytes": self.cuda_peak,
                "note": "peak CUDA memory allocated by torch over the model, one forward and one backward pass",
            }
        after, before = self.rss_after, self.rss_before
        growth = after - before if after is not None and before is not None else None
        return {
            "kind": "cpu_peak_rss_growth",
            "bytes": growth,
            "note": "growth of the process's peak resident memory over the first forward and "
            "forward+backward passes; an estimate that includes allocator caching",
        }

    def mixed_precision(self, forward: Callable[[], None]) -> dict[str, Any]:
        """bf16 and fp16 autocast forward latency beside fp32 (CUDA only)."""
        if self.device.type != "cuda":
            return {"status": "skipped", "reason": "mixed precision is timed on CUDA only"}
        assert self.model is not None
        self.model.eval()
        results: dict[str, Any] = {"status": "measured"}
        for label, dtype in (("bf16", torch.bfloat16), ("fp16", torch.float16)):
            if dtype is torch.bfloat16 and not torch.cuda.is_bf16_supported():
                results[f"{label}_forward_ms"] = None
                results[f"{label}_note"] = "bf16 is not supported on this GPU"
                continue

            def run(dtype: torch.dtype = dtype) -> None:
                with torch.autocast(device_type="cuda", dtype=dtype):
                    forward()

            try:
                timing = median_time(run, self.device)
                results[f"{label}_forward_ms"] = timing["median_ms"]
                results[f"{label}_samples_per_s"] = self.args.batch / (timing["median_ms"] / 1e3)
            except Exception as error:  # noqa: BLE001
                results[f"{label}_forward_ms"] = None
                results[f"{label}_note"] = _describe(error, self.path)
        return results


def new_report(args: argparse.Namespace) -> dict[str, Any]:
    """The shared report skeleton with this process's environment filled in."""
    import numpy

    from cnngen.verify.runner import report_skeleton

    options = {
        "device": args.device,
        "batch": args.batch,
        "steps": args.steps,
        "compile": args.compile,
        "measure": args.measure,
    }
    environment = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "onnx": _version_of("onnx"),
        "onnxruntime": _version_of("onnxruntime"),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average": _load_average(),
    }
    return report_skeleton(Path(args.file), options, environment)


def _load_average() -> float | None:
    """The 1-minute load average: CPU timings on a busy machine are not to be trusted."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def _version_of(package: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def finish(report: Report) -> None:
    """The verdict: passed when nothing failed and no fatal error stopped the run."""
    data = report.data
    failed = data["error"] is not None or any(c["status"] == "failed" for c in data["checks"])
    data["verdict"] = "failed" if failed else "passed"
    data["stage"] = "done"
    report.save()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m cnngen.verify.child")
    parser.add_argument("file")
    parser.add_argument("--report", required=True)
    parser.add_argument("--device", choices=["auto", "cuda", "cpu"], default="auto")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--no-measure", dest="measure", action="store_false")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    warnings.filterwarnings("ignore")
    report = Report(Path(args.report), new_report(args))
    report.save()
    try:
        Verifier(args, report).run()
    except Fatal as fatal:
        report.data["error"] = {"kind": fatal.kind, "message": fatal.message}
    except Exception as error:  # noqa: BLE001 - a bug here must still produce a report
        report.data["error"] = {
            "kind": "internal_error",
            "message": f"cnngen verify stopped unexpectedly: {type(error).__name__}: {error}",
        }
        traceback.print_exc()
    finish(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
