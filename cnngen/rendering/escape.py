"""Escaping of user text for each kind of generated file, each in one place.

User text (paths, commands) is echoed into generated files; these functions
make it inert in the format it lands in.
"""

from __future__ import annotations

import json
import shlex
from typing import Any


def doc_text(text: str) -> str:
    """``text`` made safe inside a generated triple-quoted docstring.

    Commands echo user paths into docstrings; backslashes, quotes and
    unprintable characters are escaped so they can never end the string.
    """
    out = []
    for char in text:
        if char in '\\"':
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        else:
            out.append(repr(char)[1:-1])
    return "".join(out)


def command_line(words: list[str]) -> str:
    """Shell words quoted as a user would type them, made docstring-safe."""
    return doc_text(" ".join(shlex.quote(word) for word in words))


def toml_value(value: Any) -> str:
    """A TOML literal for the values cnngen options take; sizes as ``"100x100"``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        if len(value) == 1:
            return toml_value(value[0])
        return json.dumps("x".join(str(item) for item in value))
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    raise TypeError(f"no TOML literal for {value!r}")


def dump_config(items: list[tuple[str, Any]], comment: str) -> str:
    """TOML text with ``key = value`` lines (keys as long option names)."""
    lines = [f"# {line}" if line else "#" for line in comment.splitlines()]
    for key, value in items:
        lines.append(f"{key.replace('_', '-')} = {toml_value(value)}")
    return "\n".join(lines) + "\n"
