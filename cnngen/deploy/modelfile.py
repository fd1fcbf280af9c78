"""Finding the model in a model file: import it, read its constants, pick the class.

Shared by ``cnngen verify``'s child process and ``cnngen export``; both need
torch, so this module imports it.  Every problem is a
:class:`Fatal` with one line for people.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

from torch import nn

MODULE_NAME = "cnngen_verified_model"


class Fatal(Exception):
    """A problem that stops verification early (the file cannot even be run)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def file_line(tb: Any, path: Path) -> int | None:
    """The deepest line of the traceback that lies in the model file."""
    line = None
    for frame in traceback.extract_tb(tb):
        if Path(frame.filename).resolve() == path:
            line = frame.lineno
    return line


def describe_error(error: BaseException, path: Path) -> str:
    """``Type: message (FILE line N)`` for an exception raised by the model's code."""
    text = str(error).strip().splitlines()
    first = text[0] if text else ""
    where = file_line(error.__traceback__, path)
    location = f" ({path.name} line {where})" if where else ""
    return f"{type(error).__name__}: {first}{location}"


def load_module(path: Path) -> ModuleType:
    """Import the file under a private module name, turning failures into Fatal."""
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(MODULE_NAME, path)
    if spec is None or spec.loader is None:
        raise Fatal("load_error", f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as error:
        raise Fatal(
            "syntax_error",
            f"{path}: syntax error on line {error.lineno}: {error.msg}",
        ) from None
    except ImportError as error:
        line = file_line(error.__traceback__, path)
        where = f" on line {line}" if line else ""
        raise Fatal("import_error", f"{path}: import failed{where}: {error}") from None
    except SystemExit as error:
        raise Fatal(
            "load_error", f"{path}: the file called exit({error.code}) while being imported"
        ) from None
    except Exception as error:  # noqa: BLE001 - any failure of foreign code is reported
        raise Fatal(
            "load_error", f"{path}: importing the file raised {describe_error(error, path)}"
        ) from None
    return module


def _shape_constant(module: ModuleType, name: str, path: Path) -> tuple[int, ...]:
    value = getattr(module, name)
    if not (
        isinstance(value, (tuple, list))
        and value
        and all(isinstance(size, int) and not isinstance(size, bool) and size > 0 for size in value)
    ):
        raise Fatal(
            "bad_constant",
            f"{path}: {name} must be a tuple of positive ints without the batch dimension, "
            f"got {value!r}",
        )
    return tuple(value)


def read_constants(module: ModuleType, path: Path) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """INPUT_SHAPE and OUTPUT_SHAPE; their absence means this is no cnngen file."""
    if not hasattr(module, "INPUT_SHAPE"):
        raise Fatal(
            "not_cnngen",
            f"{path}: defines no INPUT_SHAPE, so it is not a cnngen model file "
            f"(cnngen verify checks files written by `cnngen model`)",
        )
    if not hasattr(module, "OUTPUT_SHAPE"):
        raise Fatal(
            "missing_constant",
            f"{path}: defines INPUT_SHAPE but no OUTPUT_SHAPE; a cnngen model file defines both",
        )
    return _shape_constant(module, "INPUT_SHAPE", path), _shape_constant(
        module, "OUTPUT_SHAPE", path
    )


def _no_arg_constructor(cls: type) -> bool:
    try:
        signature = inspect.signature(cls.__init__)
    except (TypeError, ValueError):
        return False
    parameters = list(signature.parameters.values())[1:]
    return all(
        p.default is not inspect.Parameter.empty
        or p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        for p in parameters
    )


def find_model_class(module: ModuleType, path: Path) -> type[nn.Module]:
    """The model: a no-argument nn.Module subclass defined in the file, not a helper.

    Helpers are classes whose name another candidate's source mentions (such
    as ``RotationStack``, built inside the model); of the classes left, the
    last one defined is the model.  The docstring is never read.
    """
    defined = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, nn.Module)
        and value.__module__ == module.__name__
    ]
    candidates = [cls for cls in defined if _no_arg_constructor(cls)]
    if not candidates:
        names = ", ".join(cls.__name__ for cls in defined) or "none"
        raise Fatal(
            "no_model",
            f"{path}: no nn.Module subclass with a no-argument constructor is defined "
            f"(nn.Module subclasses found: {names})",
        )
    sources: dict[type, str] = {}
    for cls in candidates:
        try:
            sources[cls] = inspect.getsource(cls)
        except (OSError, TypeError):
            sources[cls] = ""
    used = {
        cls
        for cls in candidates
        for other in candidates
        if other is not cls and re.search(rf"\b{re.escape(cls.__name__)}\b", sources[other])
    }
    top = [cls for cls in candidates if cls not in used] or candidates
    return top[-1]


def declared_family(module: ModuleType) -> str | None:
    """The ``FAMILY`` constant (``classifier``, ``forecaster``, ...), None when absent."""
    family = getattr(module, "FAMILY", None)
    return family if isinstance(family, str) else None
