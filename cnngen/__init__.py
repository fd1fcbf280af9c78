"""cnngen: generate CNN model files whose shapes are right the first time.

The Python API (see :mod:`cnngen.api`)::

    import cnngen
    p = cnngen.plan("classifier", input_size=(64, 64), in_channels=3, block="residual")
    print(p.summary())
    source = cnngen.render(p)   # the standalone model file
    model = cnngen.build(p)     # a torch.nn.Module (only this imports torch)

Importing cnngen never imports torch: planning and rendering are pure Python.
"""

from __future__ import annotations

__version__ = "0.1.0"

from cnngen.api import build, diagram, plan, render  # noqa: E402
from cnngen.core.arithmetic import (  # noqa: E402
    conv_output_size,
    pool_output_size,
    transposed_output_size,
)
from cnngen.core.inverse import solve_padding  # noqa: E402
from cnngen.core.plan import Plan  # noqa: E402
from cnngen.errors import CnngenError  # noqa: E402

__all__ = [
    "CnngenError",
    "Plan",
    "__version__",
    "build",
    "conv_output_size",
    "diagram",
    "plan",
    "pool_output_size",
    "render",
    "solve_padding",
    "transposed_output_size",
]
