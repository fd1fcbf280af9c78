"""Checks that the model leaves PyTorch intact: export, ONNX, TorchScript, FX, autocast, compile.

Each route is its own check, and a route that fails is a failure: there is
no silent fallback (TorchScript is ``torch.jit.script``, never a trace).
``torch.export`` and ONNX are run with a dynamic batch at batch 1 and 7 (see
:mod:`cnngen.deploy.export`, which ``cnngen export`` shares).
"""

from __future__ import annotations

import copy
import importlib.util
import time
from typing import Any

import torch
from torch import nn

from cnngen.deploy.export import BATCHES, EXPORT_BATCH, sample_inputs
from cnngen.deploy.onnx_export import (
    export_onnx,
    export_program,
    onnx_exporter,
    onnx_opset,
    run_onnx,
)
from cnngen.verify.common import (
    CheckFailed,
    Skip,
    Verifier,
    describe_error,
    finite,
    max_difference,
    median_time,
    parity,
    synchronize,
    tolerance,
)

# Autocast parity: a float16 mantissa keeps about 3 decimal digits and a bfloat16
# one about 2; errors grow through the layers, so the limits are relative to the
# largest output magnitude and generous enough for deep stacks.
AUTOCAST_TOLERANCE = {"bf16": 5e-2, "fp16": 1e-2}
AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}".strip()


def _batched_parity(
    name: str, expected: dict[int, torch.Tensor], actual: dict[int, torch.Tensor]
) -> tuple[str, dict[str, Any]]:
    """Compare outputs at every batch size; fail on a wrong shape or a difference."""
    limit = max(tolerance(y) for y in expected.values())
    differences: dict[str, float | None] = {}
    for batch, reference in expected.items():
        result = actual[batch]
        if tuple(result.shape) != tuple(reference.shape):
            raise CheckFailed(
                f"{name} at batch {batch} gives shape {tuple(result.shape)}, the model "
                f"{tuple(reference.shape)}"
            )
        differences[str(batch)] = finite(max_difference(reference, result))
    details = {"batches": list(expected), "max_abs_diff": differences, "tolerance": limit}
    worst_batch, worst = max(
        differences.items(), key=lambda item: float("inf") if item[1] is None else item[1]
    )
    if worst is None or not worst <= limit:
        raise CheckFailed(
            f"{name} output at batch {worst_batch} differs from the model by {worst} "
            f"(> {limit:.3g})",
            details,
        )
    sizes = " and ".join(str(b) for b in expected)
    return f"matches at batch {sizes} (max abs diff {worst:.2g} <= {limit:.2g})", details


def _eager(model: nn.Module, inputs: dict[int, torch.Tensor]) -> dict[int, torch.Tensor]:
    model.eval()
    with torch.no_grad():
        return {batch: model(x) for batch, x in inputs.items()}


def check_export(v: Verifier) -> tuple[str, dict[str, Any]]:
    """``torch.export`` with a dynamic batch, run at batch 1 and 7."""
    v.need_forward()
    assert v.model is not None
    if not hasattr(torch, "export"):
        raise Skip("this torch has no torch.export")
    inputs = sample_inputs(v.input_shape, v.device)
    expected = _eager(v.model, inputs)
    try:
        program = export_program(v.model, inputs[EXPORT_BATCH])
    except Exception as error:  # noqa: BLE001
        raise CheckFailed(
            f"torch.export with a dynamic batch failed: {describe_error(error, v.path)}"
        ) from None
    if v.device.type == "cpu":
        v.exported = program  # the ONNX check starts from it instead of exporting again
    module = program.module()
    with torch.no_grad():
        actual = {batch: module(x) for batch, x in inputs.items()}
    message, details = _batched_parity("torch.export", expected, actual)
    details["dynamic_batch"] = True
    return f"dynamic batch; {message}", details


def check_onnx(v: Verifier) -> tuple[str, dict[str, Any]]:
    """ONNX with a dynamic batch (dynamo exporter with onnxscript), run by ONNX Runtime."""
    v.need_forward()
    assert v.model is not None
    for package in ("onnx", "onnxruntime"):
        if importlib.util.find_spec(package) is None:
            raise Skip(f"{package} is not installed (pip install {package})")
    model = copy.deepcopy(v.model).cpu().eval()
    inputs = sample_inputs(v.input_shape)
    expected = _eager(model, inputs)
    exporter = onnx_exporter()
    try:
        data = export_onnx(model, inputs[EXPORT_BATCH], exporter, v.exported)
        opset = onnx_opset(data)
    except Exception as error:  # noqa: BLE001
        hint = (
            "" if exporter == "dynamo" else " (onnxscript is not installed: pip install onnxscript)"
        )
        raise CheckFailed(
            f"torch.onnx.export ({exporter} exporter) failed: {describe_error(error, v.path)}{hint}",
            {"exporter": exporter},
        ) from None
    actual = run_onnx(data, inputs)
    assert actual is not None
    message, details = _batched_parity("ONNX Runtime", expected, actual)
    details.update({"exporter": exporter, "opset": opset, "bytes": len(data)})
    return f"{message} ({exporter} exporter, opset {opset})", details


def check_torchscript(v: Verifier) -> tuple[str, dict[str, Any]]:
    """``torch.jit.script``; a model it cannot compile fails (no fallback to tracing)."""
    v.need_forward()
    assert v.model is not None
    if not hasattr(torch, "jit"):
        raise Skip("this torch has no TorchScript (torch.jit)")
    reference = v.reference()
    try:
        scripted = torch.jit.script(v.model)
    except Exception as error:  # noqa: BLE001
        raise CheckFailed(
            f"torch.jit.script cannot compile the model: {_first_line(error)}",
            {"error": _first_line(error)},
        ) from None
    with torch.no_grad():
        result = scripted(v.x)
    message, details = parity("torch.jit.script", reference, result)
    return f"torch.jit.script: {message}", details


def check_fx(v: Verifier) -> tuple[str, dict[str, Any]]:
    """``torch.fx.symbolic_trace``: the graph quantisation and graph tools start from."""
    v.need_forward()
    assert v.model is not None
    reference = v.reference()
    try:
        graph = torch.fx.symbolic_trace(v.model)
    except Exception as error:  # noqa: BLE001
        raise CheckFailed(
            f"torch.fx.symbolic_trace cannot trace the model: {_first_line(error)}",
            {"error": _first_line(error)},
        ) from None
    with torch.no_grad():
        result = graph(v.x)
    message, details = parity("torch.fx", reference, result)
    details["nodes"] = len(graph.graph.nodes)
    return f"torch.fx.symbolic_trace, {details['nodes']} nodes: {message}", details


def check_autocast(v: Verifier) -> tuple[str, dict[str, Any]]:
    """Mixed precision forward against float32: bf16 (and fp16 on CUDA) within stated limits."""
    v.need_forward()
    assert v.model is not None and v.x is not None
    labels = ["bf16", "fp16"] if v.device.type == "cuda" else ["bf16"]
    if v.device.type == "cuda" and not torch.cuda.is_bf16_supported():
        labels.remove("bf16")
    reference = v.reference().float()
    scale = float(reference.abs().max())
    results: dict[str, Any] = {}
    for label in labels:
        try:
            with torch.no_grad(), torch.autocast(v.device.type, dtype=AUTOCAST_DTYPES[label]):
                output = v.model(v.x)
        except Exception as error:  # noqa: BLE001
            raise CheckFailed(
                f"{label} autocast on {v.device.type} failed: {describe_error(error, v.path)}"
            ) from None
        difference = max_difference(reference, output)
        limit = AUTOCAST_TOLERANCE[label] * scale + 1e-3
        results[label] = {
            "max_abs_diff": finite(difference),
            "tolerance": limit,
            "output_dtype": str(output.dtype).replace("torch.", ""),
        }
    details = {
        "device": v.device.type,
        "results": results,
        "relative_tolerance": AUTOCAST_TOLERANCE,
    }
    bad = [
        label
        for label, entry in results.items()
        if entry["max_abs_diff"] is None or not entry["max_abs_diff"] <= entry["tolerance"]
    ]
    if bad:
        entry = results[bad[0]]
        raise CheckFailed(
            f"{bad[0]} autocast output differs from float32 by {entry['max_abs_diff']} "
            f"(> {entry['tolerance']:.3g})",
            details,
        )
    summary = ", ".join(
        f"{label} max abs diff {entry['max_abs_diff']:.2g} <= {entry['tolerance']:.2g}"
        for label, entry in results.items()
    )
    return f"{v.device.type}: {summary}", details


def check_compile(v: Verifier) -> tuple[str, dict[str, Any]]:
    if not v.args.compile:
        raise Skip("pass --compile to check torch.compile")
    v.need_forward()
    assert v.model is not None
    if not hasattr(torch, "compile"):
        raise Skip("this torch has no torch.compile")
    reference = v.reference()
    compiled = torch.compile(v.model)
    started = time.perf_counter()
    with torch.no_grad():
        result = compiled(v.x)
    synchronize(v.device)
    compile_s = time.perf_counter() - started
    message, details = parity("torch.compile", reference, result)

    def run() -> None:
        with torch.no_grad():
            compiled(v.x)

    timing = median_time(run, v.device)
    details.update({"compile_s": compile_s, "forward_ms": timing["median_ms"]})
    v.report.data["metrics"]["latency"]["compiled_forward_ms"] = timing["median_ms"]
    return f"{message}; first call {compile_s:.1f} s", details


__all__ = [
    "BATCHES",
    "check_autocast",
    "check_compile",
    "check_export",
    "check_fx",
    "check_onnx",
    "check_torchscript",
]


def check_artifacts(v: Verifier) -> tuple[str, dict[str, Any]]:
    """With ``--weights``: the files ``cnngen export`` wrote from them must match the model.

    The folder is ``--export-dir``, else the model file's own folder; the
    files are ``STEM.pt2`` (torch.export) and ``STEM.onnx`` (ONNX Runtime),
    each run at batch 1 and 7 against the model with the weights loaded.
    When ``STEM.json`` records the weights' SHA-256 it must be theirs.
    """
    if v.weights is None:
        raise Skip("no --weights: exported files are checked against trained weights")
    assert v.model is not None
    folder = v.export_dir or v.path.parent
    stem = v.path.stem
    found = [folder / f"{stem}{suffix}" for suffix in (".pt2", ".onnx")]
    found = [path for path in found if path.is_file()]
    details: dict[str, Any] = {"folder": str(folder), "files": [p.name for p in found]}
    parity_of: dict[str, Any] = {}
    if not found:
        message = f"no {stem}.pt2 or {stem}.onnx in {folder}"
        if v.export_dir is not None:
            raise CheckFailed(f"{message}; run cnngen export with these weights", details)
        raise Skip(f"{message} (give --export-dir to check an export)", details)
    problems: list[str] = []
    record_path = folder / f"{stem}.json"
    if record_path.is_file():
        import hashlib
        import json

        try:
            recorded = json.loads(record_path.read_text(encoding="utf-8")).get("weights_sha256")
        except (ValueError, AttributeError):
            recorded = None
        actual_sha = hashlib.sha256(v.weights.read_bytes()).hexdigest()
        details["weights_sha256"] = actual_sha
        if isinstance(recorded, str) and recorded != actual_sha:
            problems.append(
                f"{record_path.name} records weights {recorded[:12]}..., "
                f"{v.weights.name} is {actual_sha[:12]}..."
            )
    model = copy.deepcopy(v.model).cpu().eval()
    inputs = sample_inputs(v.input_shape)
    expected = _eager(model, inputs)
    messages = []
    for path in found:
        try:
            if path.suffix == ".pt2":
                program = torch.export.load(str(path)).module()
                with torch.no_grad():
                    actual = {batch: program(x) for batch, x in inputs.items()}
            else:
                if importlib.util.find_spec("onnxruntime") is None:
                    parity_of[path.name] = "onnxruntime is not installed"
                    continue
                outputs = run_onnx(path.read_bytes(), inputs)
                assert outputs is not None
                actual = outputs
            message, parity_details = _batched_parity(path.name, expected, actual)
            parity_of[path.name] = parity_details
            messages.append(f"{path.name} {message}")
        except CheckFailed as failure:
            problems.append(str(failure))
        except Exception as error:  # noqa: BLE001 - a damaged or foreign file
            problems.append(f"{path.name} cannot be run: {_first_line(error)}")
    details["parity"] = parity_of
    if problems:
        raise CheckFailed("; ".join(problems), details)
    if not messages:
        raise Skip("; ".join(f"{name}: {note}" for name, note in parity_of.items()), details)
    return "; ".join(messages), details
