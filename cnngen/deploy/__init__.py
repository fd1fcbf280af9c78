"""Deployment artefacts for model files: ``torch.export`` programs, ONNX and other runtimes.

:mod:`cnngen.deploy.export`, :mod:`~cnngen.deploy.onnx_export` and
:mod:`~cnngen.deploy.edge` import torch; the CLI imports them lazily, when
``cnngen export`` runs, and ``cnngen verify``'s child process uses them for
its export checks.  This package and :mod:`~cnngen.deploy.runtimes` (the
registry of ``--target`` runtimes) import nothing heavy.
"""

from __future__ import annotations

import importlib.util

from cnngen.errors import CnngenError

INSTALL_TORCH = 'pip install "cnngen[torch]"'
MAX_BATCH = 64
"""Default upper bound of the exported batch dimension (``cnngen export --max-batch``).

Runtimes that plan memory ahead (ExecuTorch) size buffers for this bound, so
it is kept small; raise it when serving larger batches.
"""
ONNX_OPSET = 18
"""Default opset asked of the ONNX exporters (``--opset``); the record holds the file's real one."""


def require_torch(command: str) -> None:
    """Stop with one line saying how to install torch when it is missing.

    Generating files never needs torch, so it is an optional extra; the
    commands that run models (``verify``, ``export``) call this first.
    """
    if importlib.util.find_spec("torch") is None:
        raise CnngenError(
            f"{command}: needs PyTorch, which is not installed; install it with "
            f"{INSTALL_TORCH} (or pip install torch)",
            command,
        )
