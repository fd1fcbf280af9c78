"""ExecuTorch programs (``.pte``, lowered to XNNPACK) and PT2E int8 quantization.

Imported by ``cnngen export`` only, after torch.  ExecuTorch and torchao are an
optional extra (``cnngen[executorch]``); every import of them happens inside
the functions, so :func:`executorch_missing` can say so in one line.

Which families reach ExecuTorch was found by lowering and running one small
model of each: every 1-D and 2-D family does (C4 and p4 included, at the
default batch bound), and no 3-D one does: its CPU kernels stop at 4-D
tensors (no 5-D convolution, no ``max_pool3d_with_indices``).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import logging
import math
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

EXECUTORCH_EXTRA = 'pip install "cnngen[executorch]"'
CALIBRATION_SAMPLES = 256
"""Default number of training samples the int8 observers see (``--calibration-samples``)."""


class EdgeError(Exception):
    """An ExecuTorch step failed; the message is one line."""


def executorch_missing() -> str | None:
    """None when ExecuTorch and torchao import, else one line naming the extra."""
    for name in ("executorch", "torchao"):
        if importlib.util.find_spec(name) is None:
            return f"{name} is not installed, {EXECUTORCH_EXTRA} adds it"
    try:
        with quiet():
            importlib.import_module("executorch.exir")
            importlib.import_module("executorch.runtime")
            importlib.import_module("torchao.quantization.pt2e.quantize_pt2e")
    except Exception as error:  # noqa: BLE001 - a broken install is one line too
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        return f"executorch cannot be imported ({first[:160]}); {EXECUTORCH_EXTRA} reinstalls it"
    return None


def executorch_refusal(input_shape: Sequence[int]) -> str | None:
    """One line saying why a model of this input shape cannot run in ExecuTorch, else None.

    ExecuTorch's CPU kernels (XNNPACK and the portable ones it falls back
    to) take 3-D and 4-D tensors: a 3-D model's 5-D convolutions and pools
    load but fail, or are missing, at run time.
    """
    if len(input_shape) == 4:
        shape = "x".join(str(size) for size in input_shape)
        return (
            f"ExecuTorch cannot run 3-D models (input C,D,H,W = {shape}): its CPU kernels have "
            f"no 5-D convolution or 3-D pooling; the .pt2 and .onnx serve them"
        )
    return None


@contextlib.contextmanager
def quiet() -> Iterator[io.StringIO]:
    """Hold back what torchao, ExecuTorch and its C++ runtime print while importing or running.

    The runtime logs through file descriptor 2 (``[method.cpp:...]`` lines),
    which Python's ``sys.stderr`` does not see; those lines land in the
    yielded buffer so an error can quote the one that matters.
    """
    captured = io.StringIO()
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    sys.stderr.flush()
    saved = None
    with tempfile.TemporaryFile(mode="w+b") as sink:
        with contextlib.suppress(OSError, ValueError):
            saved = os.dup(2)
            os.dup2(sink.fileno(), 2)
        try:
            with contextlib.redirect_stderr(captured):
                yield captured
        finally:
            sys.stderr.flush()
            if saved is not None:
                os.dup2(saved, 2)
                os.close(saved)
            logging.disable(previous)
            sink.seek(0)
            captured.write(sink.read().decode("utf-8", "replace"))


def _runtime_reason(log: str) -> str:
    """The runtime log line that says what failed (a missing operator, a failed check)."""
    lines = [line.split("] ", 1)[-1].strip() for line in log.splitlines()]
    for marker in ("Missing operator", "Check failed", "failed"):
        for line in lines:
            if marker in line:
                return line[:200]
    return ""


def write_pte(program: torch.export.ExportedProgram, path: Path) -> None:
    """Lower ``program`` to XNNPACK (the rest to portable kernels) and write the ``.pte``."""
    with quiet():
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import (
            XnnpackPartitioner,
        )
        from executorch.exir import to_edge_transform_and_lower

        lowered = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
        _plan_for_the_bound(lowered.exported_program())
        buffer = lowered.to_executorch().buffer
    Path(path).write_bytes(buffer)


def _plan_for_the_bound(program: torch.export.ExportedProgram) -> None:
    """Make memory planning size the buffers for the program's own batch bound.

    Lowering traces the graph again from the example batch (7), and the
    tracer's symbol ranges come back narrowed to about twice that (2..15),
    so the planned input holds 15 samples and a batch of 16 fails to load
    with error 0x10.  The exported ``range_constraints`` still hold the
    real bound (``--max-batch``); the symbols are given it back.
    """
    for node in program.graph.nodes:
        value = node.meta.get("val") if node.op == "placeholder" else None
        if not isinstance(value, torch.Tensor):
            continue
        for size in value.shape:
            if not isinstance(size, torch.SymInt):
                continue
            ranges = size.node.shape_env.var_to_range
            for symbol, bound in program.range_constraints.items():
                if symbol in ranges and bound.upper > ranges[symbol].upper:
                    ranges[symbol] = bound
            return


def load_pte(path: Path) -> Callable[[torch.Tensor], torch.Tensor]:
    """The ``forward`` method of a ``.pte``, loaded with the ExecuTorch runtime, as a function."""
    with quiet() as log:
        from executorch.runtime import Runtime

        try:
            method = Runtime.get().load_program(Path(path)).load_method("forward")
        except Exception as error:  # noqa: BLE001 - the runtime's own message is terse
            method, failure = None, error
    if method is None:
        reason = _runtime_reason(log.getvalue()) or str(failure).splitlines()[0]
        raise EdgeError(f"{Path(path).name}: ExecuTorch cannot load it: {reason}")

    def forward(x: torch.Tensor) -> torch.Tensor:
        with quiet() as log:
            try:
                return method.execute([x.detach().cpu().contiguous()])[0]
            except Exception as error:  # noqa: BLE001
                failure = error
        reason = _runtime_reason(log.getvalue()) or str(failure).splitlines()[0]
        raise EdgeError(f"{Path(path).name}: ExecuTorch failed at batch {len(x)}: {reason}")

    return forward


def run_pte(path: Path, inputs: dict[int, torch.Tensor]) -> dict[int, torch.Tensor]:
    """Run a ``.pte`` with the ExecuTorch runtime on each input; outputs by the same keys."""
    forward = load_pte(path)
    return {key: forward(x) for key, x in inputs.items()}


def quantize_int8(
    model: torch.nn.Module,
    example: torch.Tensor,
    calibration: Sequence[torch.Tensor],
    max_batch: int,
) -> torch.export.ExportedProgram:
    """PT2E int8: XNNPACK's symmetric per-channel quantizer, observers fed ``calibration``.

    The model is captured for quantization (torchao's ``prepare_pt2e`` and
    ``convert_pt2e``), calibrated batch by batch, and the converted graph is
    exported again with the batch dimension dynamic up to ``max_batch``.
    """
    from cnngen.deploy.onnx_export import export_program

    with quiet():
        from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
            XNNPACKQuantizer,
            get_symmetric_quantization_config,
        )
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

        quantizer = XNNPACKQuantizer().set_global(
            get_symmetric_quantization_config(is_per_channel=True)
        )
        captured = export_program(model.eval(), example, max_batch).module()
        prepared = prepare_pt2e(captured, quantizer)
        with torch.no_grad():
            for batch in calibration:
                prepared(batch)
        converted = convert_pt2e(prepared)
        return export_program(converted, example, max_batch)


def load_splits(dataset: Path, seed: int) -> tuple[Any, Any, str]:
    """``make_datasets(seed)`` of a generated dataset file, imported as train.py imports it.

    Returns (training split, evaluation split, its name): the test split when
    the file has one, else the validation split.  Raises :class:`EdgeError`
    with one line when the file cannot be imported or gives no splits.
    """
    folder = str(Path(dataset).resolve().parent)
    name = f"cnngen_dataset_{abs(hash(str(Path(dataset).resolve())))}"
    spec = importlib.util.spec_from_file_location(name, Path(dataset).resolve())
    if spec is None or spec.loader is None:
        raise EdgeError(f"--dataset: {dataset} cannot be imported as a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, folder)  # the file may read data beside it, as train.py's folder does
    previous = os.getcwd()
    try:
        os.chdir(folder)
        spec.loader.exec_module(module)
        make = getattr(module, "make_datasets", None)
        if make is None:
            raise EdgeError(
                f"--dataset: {dataset} has no make_datasets(); give a cnngen dataset file"
            )
        splits = make(seed)
    except EdgeError:
        raise
    except Exception as error:  # noqa: BLE001 - the dataset file's own code failed
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise EdgeError(f"--dataset: {dataset}: {type(error).__name__}: {first[:200]}") from None
    finally:
        os.chdir(previous)
        with contextlib.suppress(ValueError):
            sys.path.remove(folder)
    if not isinstance(splits, (tuple, list)) or len(splits) not in (2, 3):
        raise EdgeError(f"--dataset: {dataset}: make_datasets() must return (train, val[, test])")
    if len(splits) == 3 and splits[2] is not None:
        return splits[0], splits[2], "test"
    return splits[0], splits[1], "validation"


def batches(
    split: Any, limit: int | None, size: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(inputs, targets) of the first ``limit`` samples of ``split`` (None: all), ``size`` each."""
    count = len(split) if limit is None else min(limit, len(split))
    for start in range(0, count, size):
        items = [split[index] for index in range(start, min(start + size, count))]
        yield (
            torch.stack([torch.as_tensor(x, dtype=torch.float32) for x, _ in items]),
            torch.stack([torch.as_tensor(y) for _, y in items]),
        )


def compare(
    reference: Callable[[torch.Tensor], torch.Tensor],
    quantized: Callable[[torch.Tensor], torch.Tensor],
    split: Any,
    size: int,
) -> dict[str, Any]:
    """Both models over a whole split: accuracy (integer targets) or MSE, and their difference.

    Integer targets are classes (or mask pixels): the argmax over dimension 1
    is compared with them.  Float targets of the output's shape give a mean
    squared error.  The max and mean absolute differences of the outputs are
    always recorded.
    """
    correct = {"fp32": 0, "int8": 0}
    squared = {"fp32": 0.0, "int8": 0.0}
    counted = 0
    largest, total, elements = 0.0, 0.0, 0
    kind = None
    with torch.no_grad():
        for x, y in batches(split, None, size):
            outputs = {"fp32": reference(x).float(), "int8": quantized(x).float()}
            gap = (outputs["fp32"] - outputs["int8"]).abs()
            largest = max(largest, float(gap.max()))
            total += float(gap.sum())
            elements += gap.numel()
            if not y.is_floating_point() and outputs["fp32"].dim() == y.dim() + 1:
                kind = "accuracy"
                for key, out in outputs.items():
                    correct[key] += int((out.argmax(1) == y).sum())
                counted += y.numel()
            elif y.is_floating_point() and tuple(y.shape) == tuple(outputs["fp32"].shape):
                kind = "mse"
                for key, out in outputs.items():
                    squared[key] += float(((out - y) ** 2).sum())
                counted += y.numel()
    result: dict[str, Any] = {
        "max_abs_diff": largest,
        "mean_abs_diff": total / elements if elements else 0.0,
    }
    if kind == "accuracy" and counted:
        result["accuracy"] = {key: value / counted for key, value in correct.items()}
    elif kind == "mse" and counted:
        result["mse"] = {key: value / counted for key, value in squared.items()}
    return result


def export_int8(
    model: torch.nn.Module,
    input_shape: Sequence[int],
    folder: Path,
    stem: str,
    dataset: Path,
    samples: int,
    max_batch: int,
    seed: int = 0,
) -> dict[str, Any]:
    """Write ``STEM.int8.pte`` and ``STEM.int8.pt2`` into ``folder``; return the ``int8`` record.

    Calibrates on the first ``samples`` training samples of ``dataset``, then
    evaluates the float model (eager) and the int8 ``.pte`` (ExecuTorch
    runtime) on the test split (the validation split when there is none).
    """
    import time

    start = time.perf_counter()
    train, evaluation, split_name = load_splits(dataset, seed)
    model = model.eval().cpu()
    size = min(max_batch, 64)
    calibration = [x for x, _ in batches(train, samples, size)]
    if not calibration:
        raise EdgeError(f"--dataset: {dataset}: its training split is empty")
    shape = tuple(calibration[0].shape[1:])
    if shape != tuple(input_shape):
        raise EdgeError(
            f"--dataset: {dataset} gives samples of shape {shape}; the model takes "
            f"{tuple(input_shape)}"
        )
    example = torch.randn(
        min(7, max_batch), *input_shape, generator=torch.Generator().manual_seed(0)
    )
    program = quantize_int8(model, example, calibration, max_batch)
    pt2 = folder / f"{stem}.int8.pt2"
    torch.export.save(program, pt2)
    pte = folder / f"{stem}.int8.pte"
    write_pte(program, pte)
    quantized = load_pte(pte)
    fp32_pte = folder / f".{stem}.fp32.pte"
    write_pte(_float_program(model, example, max_batch), fp32_pte)
    fp32_size = fp32_pte.stat().st_size
    fp32_pte.unlink()
    metrics = compare(model, quantized, evaluation, size)
    int8_size = pte.stat().st_size
    record: dict[str, Any] = {
        "files": {"pte": pte.name, "pt2": pt2.name},
        # The .pt2 holds quantized_decomposed ops, registered by this import.
        "pt2_needs": "import torchao.quantization.pt2e.quantize_pt2e before torch.export.load",
        "scheme": "PT2E, XNNPACK symmetric per-channel weights, per-tensor activations",
        "dataset": str(dataset),
        "seed": seed,
        "calibration_samples": sum(len(x) for x in calibration),
        "evaluated_on": split_name,
        "evaluated_samples": len(evaluation),
        **metrics,
        "size_bytes": {"fp32_pte": fp32_size, "int8_pte": int8_size},
        "size_ratio": fp32_size / int8_size if int8_size else math.inf,
        "seconds": round(time.perf_counter() - start, 1),
    }
    return record


def _float_program(model: torch.nn.Module, example: torch.Tensor, max_batch: int) -> Any:
    from cnngen.deploy.onnx_export import export_program

    return export_program(model, example, max_batch)


def int8_record(
    model: torch.nn.Module,
    input_shape: Sequence[int],
    folder: Path,
    stem: str,
    dataset: Path,
    samples: int,
    max_batch: int,
    seed: int,
) -> dict[str, Any]:
    """The ``int8`` entry of ``MODEL.json``: :func:`export_int8`'s record, or why it was skipped.

    ``seed`` is the ``--seed`` the checkpoint's train.py ran with (the dataset
    file splits by it, so the test and training samples are the run's own).

    A missing extra or a model ExecuTorch cannot run is ``{"skipped": line}``
    (the other files are still written); a failure of the dataset or the
    quantization raises :class:`EdgeError`.
    """
    reason = executorch_missing() or executorch_refusal(input_shape)
    if reason is not None:
        return {"skipped": reason}
    try:
        return export_int8(model, input_shape, folder, stem, dataset, samples, max_batch, seed)
    except EdgeError:
        raise
    except Exception as error:  # noqa: BLE001 - quantizing runs the model's own code
        first = (str(error).strip().splitlines() or [""])[0]
        raise EdgeError(
            f"--int8: quantizing failed: {type(error).__name__}: {first[:200]}"
        ) from None
