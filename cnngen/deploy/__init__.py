"""Deployment artefacts for model files: ``torch.export`` programs and ONNX.

Only :mod:`cnngen.deploy.export` imports torch; the CLI imports it lazily,
when ``cnngen export`` runs, and ``cnngen verify``'s child process uses it for
its export checks.  Importing this package imports nothing heavy.
"""

from __future__ import annotations

import importlib.util

from cnngen.errors import CnngenError

INSTALL_TORCH = 'pip install "cnngen[torch]"'


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
