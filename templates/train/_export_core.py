# The functions below are cnngen export's own (its templates/train/_export_core.py). {#
"""The export core: ``cnngen export`` imports this file and train.py includes it.

A generated train.py's ``--export`` and ``cnngen export`` write their
``torch.export`` and ONNX files with these same functions, so a fix made here
reaches both.  Everything up to the closing mark below is Python for the
import and a Jinja comment for the include: train.py imports these modules
itself, and its copy starts at the first function.  No Jinja syntax may follow.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import warnings

import torch
from torch import nn

# #}


def export_program(
    model: nn.Module, example: torch.Tensor, max_batch: int
) -> torch.export.ExportedProgram:
    """``torch.export`` with the batch dimension dynamic, from 1 to ``max_batch``.

    A model that cannot be traced makes torch log its graph at length before
    it raises; the exception says what failed, so the logs are held back.
    """
    batch = torch.export.Dim("batch", min=1, max=max_batch)
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            return torch.export.export(model, (example,), dynamic_shapes=({0: batch},))
    finally:
        logging.disable(previous)


def onnx_bytes(
    model: nn.Module,
    example: torch.Tensor,
    program: torch.export.ExportedProgram,
    opset: int,
    exporter: str,
) -> bytes:
    """The model as an ONNX file, batch dimension dynamic, asking for ``opset``.

    ``exporter`` is ``dynamo`` (from ``program``, needs onnxscript) or
    ``torchscript`` (the older exporter, from ``model``).
    """
    buffer = io.BytesIO()
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)  # notes on optional packages
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if exporter == "dynamo":
            onnx_program = torch.onnx.export(
                program, (example,), dynamo=True, opset_version=opset, verbose=False
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
    return buffer.getvalue()


def name_onnx(data: bytes, output_name: str, metadata: dict[str, str]) -> bytes:
    """Name the graph's input ``input``, its output ``output_name`` and the batch ``batch``.

    The exporters name them after the traced argument and the last module
    (``x``, ``linear``) and the batch after a symbol (``s77``); serving code
    wants stable names.  ``metadata`` goes into the file's ``metadata_props``.
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
        for names in (node.input, node.output):
            for index, name in enumerate(names):
                names[index] = renames.get(name, name)
    for value in graph.value_info:
        value.name = renames.get(value.name, value.name)
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
    versions = [entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")]
    return max(versions) if versions else None


def run_onnx(data: bytes, inputs: dict[int, torch.Tensor]) -> dict[int, torch.Tensor] | None:
    """ONNX Runtime's outputs per batch size, on the CPU; None without onnxruntime."""
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


def max_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.detach().float().cpu() - b.detach().float().cpu()).abs().max())
