"""ONNX files of a model: export with a dynamic batch, stable names, metadata, opset, run.

Shared by ``cnngen export`` (the ``onnx`` target of
:mod:`cnngen.deploy.runtimes`) and ``cnngen verify``'s ONNX check.  The
functions that write and run the files come from ``templates/train/_export_core.py``,
which a generated train.py's ``--export`` includes too: one source for both.
"""

from __future__ import annotations

import importlib.util
from types import ModuleType
from typing import Any

import torch
from torch import nn

from cnngen.deploy import MAX_BATCH, ONNX_OPSET


def _export_core() -> ModuleType:
    """``templates/train/_export_core.py`` (the shipped one), run as a module.

    Compiled from its text rather than imported, so no bytecode cache lands
    in the templates folder.
    """
    from cnngen.rendering.engine import templates_dir

    path = templates_dir() / "train" / "_export_core.py"
    module = ModuleType("cnngen_export_core")
    module.__file__ = str(path)
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), module.__dict__)
    return module


_CORE = _export_core()
onnx_bytes = _CORE.onnx_bytes
name_onnx = _CORE.name_onnx
onnx_opset = _CORE.onnx_opset
run_onnx = _CORE.run_onnx
max_difference = _CORE.max_difference


def export_program(model: nn.Module, example: torch.Tensor, max_batch: int = MAX_BATCH) -> Any:
    """``torch.export`` of ``model`` with the batch dimension dynamic, 1 to ``max_batch``."""
    return _CORE.export_program(model, example, max_batch)


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
    program of the model, as :func:`export_program` makes); without one it is
    made here.
    """
    exporter = exporter or onnx_exporter()
    if program is None and exporter == "dynamo":
        program = export_program(model, example, MAX_BATCH)
    return onnx_bytes(model, example, program, opset, exporter)
