"""Files a search writes: each through a temporary file beside it, so none is half written."""

from __future__ import annotations

import os
from pathlib import Path

from cnngen.errors import CnngenError


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary sibling and a rename; errors name --out."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except OSError as error:
        raise CnngenError(
            f"--out: cannot write {path}: {error.strerror or error}", "--out"
        ) from None
    finally:
        temporary.unlink(missing_ok=True)
