"""Writing :mod:`cnngen.rendering.reserved_names`: the names derived afresh, stamped.

``python examples/regenerate.py`` calls :func:`refresh`; so does ``python -m
cnngen.rendering.reserved`` (``--check`` only says whether the list is current).
Every renderer that registers probe files is imported here first.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

import cnngen.rendering.datafiles  # noqa: F401 - registers the data-file kinds' probes
from cnngen.rendering import namespace


def _wrapped(words: Iterable[str], indent: str = "        ") -> str:
    lines, line = [], indent
    for word in sorted(words):
        if len(line) + len(word) + 1 > 99:
            lines.append(line.rstrip())
            line = indent
        line += word + " "
    lines.append(line.rstrip())
    return "\n".join(lines)


def reserved_names_source() -> str:
    """The text of :mod:`cnngen.rendering.reserved_names`, derived afresh."""
    parts = [
        '"""Names the generated files use, per kind: derived by cnngen.rendering.namespace.\n\n'
        "Written by ``python examples/regenerate.py``; do not edit by hand.  A test\n"
        "fails while this is stale, and cnngen derives the names again meanwhile.\n"
        '"""\n\n',
        f'FINGERPRINT = "{namespace.fingerprint()}"\n',
    ]
    for table, derive in (
        ("NAMES", namespace.derived_names),
        ("MODULES", namespace.derived_modules),
    ):
        parts.append(f"\n{table} = {{\n")
        for kind in namespace.KINDS:
            parts.append(f'    "{kind}": """\n{_wrapped(derive(kind))}\n    """,\n')
        parts.append("}\n")
    return "".join(parts)


def refresh(check: bool = False) -> bool:
    """Rewrite the stored names when stale; with ``check`` only say whether they are current."""
    path = Path(__file__).resolve().parent / "reserved_names.py"
    text = reserved_names_source()
    current = path.read_text(encoding="utf-8") if path.exists() else None
    if current == text:
        return True
    if not check:
        path.write_text(text, encoding="utf-8")
    return False


if __name__ == "__main__":  # pragma: no cover - python -m cnngen.rendering.reserved [--check]
    fresh = refresh("--check" in sys.argv[1:])
    print("reserved names are current" if fresh else "reserved names were stale")
    sys.exit(0 if fresh or "--check" not in sys.argv[1:] else 1)
