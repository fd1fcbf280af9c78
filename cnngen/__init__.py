"""cnngen: generate CNN model files whose shapes are right the first time.

The Python API (see :mod:`cnngen.api`)::

    import cnngen
    p = cnngen.plan("classifier", input_size=(64, 64), in_channels=3, block="residual")
    print(p.summary())
    source = cnngen.render(p)   # the standalone model file
    model = cnngen.build(p)     # a torch.nn.Module (only this imports torch)

Importing cnngen never imports torch: planning and rendering are pure Python.
The API is imported on first use (``cnngen.plan`` ...), so ``import
cnngen.core.plan`` or the CLI load only what they need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnngen._version import __version__

if TYPE_CHECKING:  # pragma: no cover - typing only
    from cnngen.api import (
        Plan,
        build,
        conv_output_size,
        diagram,
        plan,
        pool_output_size,
        render,
        solve_padding,
        transposed_output_size,
    )
    from cnngen.errors import CnngenError

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

# Read from cnngen.api on first access (PEP 562); a test keeps these equal
# to cnngen.api.__all__.
_API_NAMES = frozenset(__all__) - {"CnngenError", "__version__"}


def __getattr__(name: str) -> Any:
    if name == "api":
        import cnngen.api

        return cnngen.api
    if name == "CnngenError":
        import cnngen.errors as module
    elif name in _API_NAMES:
        import cnngen.api as module
    else:
        raise AttributeError(f"module 'cnngen' has no attribute {name!r}")
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
