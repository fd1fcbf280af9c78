"""ExecuTorch: lower an exported program to an XNNPACK ``.pte`` and run it."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import torch

EXECUTORCH_EXTRA = 'pip install "cnngen[executorch]"'


def executorch_missing() -> str | None:
    """None when ExecuTorch imports, else one line naming the extra that adds it."""
    if importlib.util.find_spec("executorch") is None:
        return f"executorch is not installed, {EXECUTORCH_EXTRA} adds it"
    return None


def executorch_refusal(input_shape: Sequence[int]) -> str | None:
    """One line why ExecuTorch cannot run a model of this input, else None."""
    if len(input_shape) == 4:
        return (
            "ExecuTorch has no 3-D convolution (input of 4 dims C,D,H,W); "
            "use the .pt2, .onnx or OpenVINO files"
        )
    return None


def write_pte(program: torch.export.ExportedProgram, path: Path) -> None:
    """Lower ``program`` with the XNNPACK partitioner and save it as a ``.pte``."""
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import (
        XnnpackPartitioner,
    )
    from executorch.exir import to_edge_transform_and_lower

    lowered = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
    path.write_bytes(lowered.to_executorch().buffer)


def run_pte(path: Path, inputs: dict[int, torch.Tensor]) -> dict[int, torch.Tensor]:
    """The ``.pte``'s outputs per key of ``inputs``, with the program loaded once."""
    from executorch.runtime import Runtime

    method = Runtime.get().load_program(str(path)).load_method("forward")
    return {key: method.execute([x.contiguous()])[0].detach().clone() for key, x in inputs.items()}
