"""The worker behind ``cnngen verify``: imports one model file and tests it for real.

:mod:`cnngen.verify.runner` starts this module in a separate process
inside the worker that :mod:`cnngen.verify.guard` forks, so that a file which
crashes, exhausts memory or loops forever cannot take cnngen down with it.
It and the modules it uses (the checks in ``checks_model``,
``checks_training`` and ``checks_deploy``, their shared ``common``, ``deploy.modelfile``
and :mod:`cnngen.deploy.export`) import torch; the parent never imports them.

The report travels as JSON over the :class:`Channel` the guard hands over (a
pipe the model file is never told about, every message stamped with the run's
nonce), resent after every check, so a parent that has to stop a hanging run
still has every result finished so far and the name of the stage that hung.
Progress lines go the same way; stdout and stderr belong to the model file
and are diagnostics only.  The report schema is documented in
``docs/verify.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import nn

from cnngen.deploy.modelfile import (
    declared_family,
    find_model_class,
    load_module,
    read_constants,
)
from cnngen.verify import checks_deploy, checks_model, checks_structure, checks_training
from cnngen.verify.common import (
    CheckFailed,
    Fatal,
    Skip,
    Warn,
    describe_error,
    median_time,
    peak_rss_bytes,
)

Check = Callable[["Verifier"], tuple[str, dict[str, Any]]]
CHECKS: dict[str, Check] = {
    "forward": checks_model.check_forward,
    "output_shape": checks_model.check_output_shape,
    "layer_shapes": checks_model.check_layer_shapes,
    "params": checks_model.check_params,
    "macs": checks_model.check_macs,
    "resize": checks_model.check_resize,
    "structure": checks_structure.check_structure,
    "gradients": checks_training.check_gradients,
    "training": checks_training.check_training,
    "equivariance": checks_training.check_equivariance,
    "export": checks_deploy.check_export,
    "onnx": checks_deploy.check_onnx,
    "artifacts": checks_deploy.check_artifacts,
    "torchscript": checks_deploy.check_torchscript,
    "fx": checks_deploy.check_fx,
    "autocast": checks_deploy.check_autocast,
    "compile": checks_deploy.check_compile,
}
CHECK_ORDER = tuple(CHECKS)
"""The checks in the order they run and appear in the report."""

__all__ = ["CHECK_ORDER", "CheckFailed", "Fatal", "Skip", "Verifier", "find_model_class", "main"]


# ------------------------------------------------------------------ report
class Channel:
    """The pipe to the parent: one line per message, ``NONCE JSON``, numbered in order.

    The descriptor and the nonce come from the guard, never from argv, a
    path or the environment, so the file under test cannot simply write a
    verdict of its own (see :mod:`cnngen.verify.guard`).
    """

    def __init__(self, fd: int, nonce: str) -> None:
        self._fd = fd
        self._nonce = nonce
        self._seq = 0

    def send(self, kind: str, **payload: Any) -> None:
        self._seq += 1
        text = json.dumps({"kind": kind, "seq": self._seq, **payload}, default=_json_default)
        data = f"{self._nonce} {text}\n".encode()
        while data:
            try:
                written = os.write(self._fd, data)
            except BrokenPipeError:
                return  # the parent is gone; the guard is about to end this process
            data = data[written:]


_channel: Channel | None = None


class Report:
    """The report under construction, sent to the parent after every change."""

    def __init__(self, channel: Channel, data: dict[str, Any]) -> None:
        self.channel = channel
        self.data = data

    def save(self) -> None:
        self.channel.send("report", report=self.data)

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
    """One progress line for the parent to show (over the channel; stdio belongs to the file)."""
    if _channel is not None:
        _channel.send("progress", line=message)


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
        self.mirrored = False
        self.x: torch.Tensor | None = None
        self.target: torch.Tensor | None = None
        self.target_shape: tuple[int, ...] = ()
        self.output: torch.Tensor | None = None
        self.seen: dict[str, tuple[int, ...]] = {}
        self.varied: dict[str, list[tuple[int, ...]]] = {}
        self.forward_error: str | None = None
        self.resizes: list[dict[str, Any]] = []
        self.exported: Any = None  # the CPU torch.export program, once the export check ran
        self.rss_before: int | None = None
        self.rss_after: int | None = None
        self.cuda_peak: int | None = None
        self.selected = set(filter(None, args.checks.split(",")))
        self.weights = None if args.weights is None else Path(args.weights)
        self.export_dir = None if args.export_dir is None else Path(args.export_dir)

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
        self.family = declared_family(self.module)
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
                f"{self.path}: {cls.__name__}() raised {describe_error(error, self.path)}",
            ) from None
        if not isinstance(model, nn.Module):
            raise Fatal("no_model", f"{self.path}: {cls.__name__}() did not return an nn.Module")
        if self.weights is not None:
            self.load_weights(model, cls.__name__)
        self.rss_before = peak_rss_bytes()
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        try:
            self.model = model.to(self.device)
        except Exception as error:  # noqa: BLE001
            raise Fatal(
                "construct_error", f"{self.path}: moving the model to {self.device} failed: {error}"
            ) from None
        # A rotation stack (pooled over rotations) or a p4 or D4 lifting convolution.
        kinds = {type(m).__name__ for m in model.modules()}
        lifts = {"RotationStack", "LiftingConv2d", "DihedralLiftingConv2d"}
        self.equivariant = bool(kinds & lifts)
        # D4 models are invariant to mirror images too.
        self.mirrored = "DihedralLiftingConv2d" in kinds
        model_info["equivariant"] = self.equivariant
        generator = torch.Generator().manual_seed(1)
        self.x = torch.randn(self.args.batch, *self.input_shape, generator=generator).to(
            self.device
        )
        self.make_target(self.output_shape)

    def load_weights(self, model: nn.Module, class_name: str) -> None:
        """``--weights``: a state_dict or a train.py checkpoint, loaded strictly.

        ``torch.load(weights_only=True)`` runs no code from the file.  Weights
        that do not fit the model (a missing or unexpected key, another shape)
        stop the run: no check of a model with the wrong weights means anything.
        """
        from cnngen.deploy.export import ExportError
        from cnngen.deploy.export import load_weights as read_weights

        assert self.weights is not None
        progress(f"loading weights {self.weights.name}")
        try:
            state = read_weights(self.weights)
        except ExportError as error:
            raise Fatal("weights", str(error)) from None
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as error:
            lines = [line.strip() for line in str(error).splitlines() if line.strip()]
            detail = " ".join(lines[:2])
            raise Fatal(
                "weights", f"--weights: {self.weights} does not fit {class_name}: {detail}"
            ) from None
        self.report.data["model"]["weights"] = str(self.weights)

    def make_target(self, shape: tuple[int, ...]) -> None:
        """A fixed random target: what the model's family is trained against.

        Class labels for classifiers; for a U-Net, a class mask of the output's
        spatial size (0 or 1 per pixel for a single output channel); else a
        tensor of ``shape``.  When the model's real output differs from
        OUTPUT_SHAPE, the target follows the real output so gradients and
        training can still be checked.
        """
        self.target_shape = tuple(shape)
        self.target = self._random_target(self.target_shape)

    def _random_target(self, shape: tuple[int, ...]) -> torch.Tensor:
        """A fixed random target for an output of ``shape``, of the family's loss kind."""
        generator = torch.Generator().manual_seed(2)
        batch = self.args.batch
        kind = self.loss_kind()
        if kind == "cross_entropy":
            target = torch.randint(0, shape[0], (batch,), generator=generator)
        elif kind == "pixel_cross_entropy":
            target = torch.randint(0, shape[0], (batch, *shape[1:]), generator=generator)
        elif kind == "pixel_binary_cross_entropy":
            target = torch.randint(0, 2, (batch, *shape), generator=generator).float()
        else:
            target = torch.randn(batch, *shape, generator=generator)
        return target.to(self.device)

    def classifies(self) -> bool:
        """Cross-entropy for classifiers (plain and equivariant), MSE for encoders and forecasters."""
        return len(self.target_shape) == 1 and self.family not in ("encoder", "forecaster")

    def loss_kind(self) -> str:
        """How the model is trained, as the generated ``train.py`` trains its family.

        A U-Net segments: its output is one logit per class and pixel, so the
        loss is cross-entropy per pixel against an integer mask, or binary
        cross-entropy on logits where it has a single output channel.  MSE
        against random values would check that it regresses, not that it
        learns a mask.
        """
        if self.classifies():
            return "cross_entropy"
        if self.family == "unet" and len(self.target_shape) >= 2:
            if self.target_shape[0] > 1:
                return "pixel_cross_entropy"
            return "pixel_binary_cross_entropy"
        return "mse"

    def loss(self, output: torch.Tensor | tuple[torch.Tensor, ...]) -> torch.Tensor:
        """The loss of an output; a training-mode tuple (output, *extras) adds each extra's,
        against a fixed random target of that extra's own shape."""
        assert self.target is not None
        if isinstance(output, tuple):
            main, *extras = output
            total = self._loss(main, self.target)
            for extra in extras:
                total = total + self._loss(extra, self._random_target(tuple(extra.shape[1:])))
            return total
        return self._loss(output, self.target)

    def _loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        kind = self.loss_kind()
        if kind in ("cross_entropy", "pixel_cross_entropy"):
            return nn.functional.cross_entropy(output, target)
        if kind == "pixel_binary_cross_entropy":
            return nn.functional.binary_cross_entropy_with_logits(output, target)
        return nn.functional.mse_loss(output, target)

    # -------------------------------------------------------------- checks
    def progress(self, message: str) -> None:
        """A progress line for the parent (checks call this; they know no channel)."""
        progress(message)

    def run(self) -> None:
        self.setup()
        selected = [name for name in CHECK_ORDER if name in self.selected]
        for index, name in enumerate(selected, start=1):
            self.report.stage(name)
            progress(f"[{index}/{len(selected)}] {name}")
            self.run_check(name, CHECKS[name])
        if self.args.measure:
            self.report.stage("measure")
            progress("measuring latency and memory")
            self.measure()

    def run_check(self, name: str, check: Check) -> None:
        started = time.perf_counter()
        try:
            message, details = check(self)
            status = "passed"
        except Skip as reason:
            status, message, details = "skipped", str(reason), reason.details
        except Warn as warning:
            status, message, details = "warning", str(warning), warning.details
        except CheckFailed as failure:
            status, message = "failed", str(failure)
            details = failure.details
        except Fatal:
            raise
        except (
            Exception,
            SystemExit,
        ) as error:  # noqa: BLE001 - the file's code may raise anything
            status, message, details = "failed", describe_error(error, self.path), {}
        finally:
            assert self.model is not None
            self.model.zero_grad(set_to_none=True)
        self.report.add_check(name, status, message, details, time.perf_counter() - started)

    def need_forward(self) -> None:
        if "forward" not in self.selected:
            raise Skip("needs the forward check, which was not selected (--checks/--skip)")
        if self.forward_error is not None:
            raise Skip("the forward pass failed")

    def reference(self) -> torch.Tensor:
        """The eval-mode output now (earlier train-mode passes moved norm statistics)."""
        assert self.model is not None
        self.model.eval()
        with torch.no_grad():
            return self.model(self.x)

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
            latency["error"] = describe_error(error, self.path)
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
                results[f"{label}_note"] = describe_error(error, self.path)
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
        "checks": [name for name in CHECK_ORDER if name in args.checks.split(",")],
        "weights": args.weights,
        "export_dir": args.export_dir,
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
    parser = argparse.ArgumentParser(prog="python -m cnngen.verify.guard")
    parser.add_argument("file")
    parser.add_argument("--device", choices=["auto", "cuda", "cpu"], default="auto")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--no-measure", dest="measure", action="store_false")
    parser.add_argument("--checks", default=",".join(CHECK_ORDER))
    parser.add_argument("--weights", default=None)
    parser.add_argument("--export-dir", default=None)
    return parser.parse_args(argv)


def main(argv: list[str] | None, channel: Channel) -> int:
    """Run every check, reporting over ``channel``; started by :mod:`cnngen.verify.guard`."""
    global _channel
    _channel = channel
    args = parse_args(argv)
    warnings.filterwarnings("ignore")
    report = Report(channel, new_report(args))
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
