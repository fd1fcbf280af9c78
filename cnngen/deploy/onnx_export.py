"""ONNX files of a model: export with a dynamic batch, stable names, metadata, opset, run.

Shared by ``cnngen export`` (the ``onnx`` target of
:mod:`cnngen.deploy.runtimes`) and ``cnngen verify``'s ONNX check.
"""

from __future__ import annotations

import importlib.util
import io
import logging
import warnings
from typing import Any

import torch
from torch import nn

from cnngen.deploy import MAX_BATCH, ONNX_OPSET


def _batch_dim(max_batch: int = MAX_BATCH) -> Any:
    return torch.export.Dim("batch", min=1, max=max_batch)


def opset_range(exporter: str) -> tuple[int, int]:
    """The opsets ``exporter`` writes: 18 up to torch's newest for dynamo, up to 20 for the older one."""
    from torch.onnx import _constants

    if exporter == "dynamo":
        return ONNX_OPSET, int(getattr(_constants, "ONNX_MAX_OPSET", 23))
    return 7, int(getattr(_constants, "ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET", 20))


def onnx_missing() -> str | None:
    """The first ONNX export package not installed (``onnx`` or ``onnxscript``), or None."""
    for name in ("onnx", "onnxscript"):
        if importlib.util.find_spec(name) is None:
            return name
    return None


def onnx_exporter() -> str:
    """``dynamo`` where onnxscript is installed, else ``torchscript`` (the older exporter)."""
    return "dynamo" if importlib.util.find_spec("onnxscript") is not None else "torchscript"


def export_onnx(
    model: nn.Module,
    example: torch.Tensor,
    exporter: str | None = None,
    program: Any = None,
    opset: int = ONNX_OPSET,
) -> bytes:
    """The model as an ONNX file (bytes) with a dynamic batch dimension, asking for ``opset``.

    The dynamo exporter starts from ``program`` (a CPU ``torch.export``
    program of the model, as :func:`export_program` makes) when given, which
    saves exporting the model a second time.
    """
    exporter = exporter or onnx_exporter()
    buffer = io.BytesIO()
    # The exporters log about optional packages (torchvision) and deprecations.
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _export_onnx(model, example, exporter, buffer, program, opset)
    return buffer.getvalue()


def _export_onnx(
    model: nn.Module,
    example: torch.Tensor,
    exporter: str,
    buffer: io.BytesIO,
    program: Any,
    opset: int,
) -> None:
    if exporter == "dynamo":
        if program is not None:
            onnx_program = torch.onnx.export(
                program, (example,), dynamo=True, opset_version=opset, verbose=False
            )
        else:
            onnx_program = torch.onnx.export(
                model,
                (example,),
                dynamo=True,
                dynamic_shapes=({0: _batch_dim()},),
                opset_version=opset,
                verbose=False,
            )
        onnx_program.save(buffer)
    else:
        torch.onnx.export(
            model,
            (example,),
            buffer,
            dynamo=False,
            opset_version=opset,
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
        )


def name_onnx(data: bytes, output_name: str, metadata: dict[str, str]) -> bytes:
    """Rename the graph's input to ``input`` and output to ``output_name``, batch dim ``batch``.

    The exporters name them after the traced argument and last module
    (``x``, ``linear``) and the batch after a symbol (``s77``); serving code
    wants stable names.  ``metadata`` lands in the file's ``metadata_props``.
    """
    import onnx

    model = onnx.load_from_string(data)
    graph = model.graph
    renames = {graph.input[0].name: "input", graph.output[0].name: output_name}
    for value in (graph.input[0], graph.output[0]):
        value.name = renames[value.name]
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_param = "batch"
    for node in graph.node:
        for index, name in enumerate(node.input):
            if name in renames:
                node.input[index] = renames[name]
        for index, name in enumerate(node.output):
            if name in renames:
                node.output[index] = renames[name]
    for value in graph.value_info:
        if value.name in renames:
            value.name = renames[value.name]
    del model.metadata_props[:]
    for key, text in sorted(metadata.items()):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, text
    onnx.checker.check_model(model)
    return model.SerializeToString()


def onnx_opset(data: bytes) -> int | None:
    """The default-domain opset of an ONNX file (None without the onnx package)."""
    if importlib.util.find_spec("onnx") is None:
        return None
    import onnx

    model = onnx.load_from_string(data)
    onnx.checker.check_model(model)
    versions = [entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")]
    return max(versions) if versions else None


def run_onnx(data: bytes, inputs: dict[int, torch.Tensor]) -> dict[int, torch.Tensor] | None:
    """ONNX Runtime (CPU) outputs per batch size; None when onnxruntime is not installed."""
    if importlib.util.find_spec("onnxruntime") is None:
        return None
    import onnxruntime

    # Its threads spin-wait after a run by default, stealing CPU from later timings.
    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return {
        batch: torch.from_numpy(session.run(None, {name: x.detach().cpu().numpy()})[0])
        for batch, x in inputs.items()
    }
