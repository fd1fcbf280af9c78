"""cnngen: generate CNN model files whose shapes are right the first time.

Importing cnngen never imports torch: planning and rendering are pure Python.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
