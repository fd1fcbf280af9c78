"""Long calls split the way Black splits them, before Black runs.

Black formats a text twice when its first pass changes it (the second pass
settles optional trailing commas), and once when the text already is its
output: a render in Black's layout costs about half of Black's running time.
The templates print Black's indentation, quotes and trailing commas; which
calls fit in 88 columns depends on names and sizes, so the long ones are
split here.

Only two splits are made, both Black's right-hand split of a line that ends
in a call:

- the arguments on one line of their own, when they fit there or are one
  argument: Black ignores newlines in brackets, so this never changes its
  output;
- the arguments one per line with a trailing comma, when they do not fit,
  and only for an item of an enclosing bracket (``name=nn.Conv2d(...),``),
  where Black has no optional parentheses to prefer.

Anything else (comments, strings over three quotes, other brackets) is left
to Black.  Black still formats every text, so this changes its time, never
what is written.
"""

from __future__ import annotations

import re

LINE_LENGTH = 88  # black_mode() in cnngen.rendering.engine
INDENT = "    "
_CLOSING = {")": "(", "]": "[", "}": "{"}
# An item that Black splits at its own call: ``conv1=nn.Conv2d(`` or ``nn.Conv2d(``.
_ITEM_HEAD = re.compile(r"(\w+=)?[\w.]+\($")


def _structure(text: str) -> tuple[list[tuple[int, str]], bool]:
    """The brackets and commas of ``text`` outside strings, with their positions,
    and whether every string it opens is closed."""
    found: list[tuple[int, str]] = []
    quote = ""
    index = 0
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "([{,)]}":
            found.append((index, char))
        index += 1
    return found, not quote


def _brackets(text: str) -> list[tuple[int, int, int]] | None:
    """``(open, close, depth)`` of each bracket pair outside strings; None if unbalanced."""
    marks, closed = _structure(text)
    pairs: list[tuple[int, int, int]] = []
    stack: list[int] = []
    for index, char in marks:
        if char in "([{":
            stack.append(index)
        elif char in _CLOSING:
            if not stack or text[stack[-1]] != _CLOSING[char]:
                return None
            pairs.append((stack.pop(), index, len(stack)))
    return None if stack or not closed else pairs


def _top_level_commas(body: str) -> list[str]:
    """``body`` cut at its commas outside brackets and strings."""
    parts: list[str] = []
    begin, depth = 0, 0
    for index, char in _structure(body)[0]:
        if char in "([{":
            depth += 1
        elif char in _CLOSING:
            depth -= 1
        elif depth == 0:
            parts.append(body[begin:index].strip())
            begin = index + 1
    parts.append(body[begin:].strip())
    return parts


def split_call(line: str) -> list[str] | None:
    """Black's split of one over-long line ending in a call, or None to leave it to Black."""
    stripped = line.lstrip(" ")
    indent = line[: len(line) - len(stripped)]
    item = stripped.endswith("),")
    if not (item or stripped.endswith(")")) or "#" in stripped:
        return None
    pairs = _brackets(stripped)
    if not pairs:
        return None
    close = len(stripped) - (2 if item else 1)
    last = [pair for pair in pairs if pair[1] == close]
    if not last or last[0][2] != 0:
        return None
    start = last[0][0]
    if start == 0 or not (stripped[start - 1].isalnum() or stripped[start - 1] == "_"):
        return None  # a bare tuple, a subscript or a call of a call: Black may choose otherwise
    if any(begin < start and end > start for begin, end, _ in pairs):
        return None
    head, body, tail = stripped[: start + 1], stripped[start + 1 : close], stripped[close:]
    if not body.strip() or body.rstrip().endswith(",") or len(indent + head) > LINE_LENGTH:
        return None
    inner = indent + INDENT
    parts = _top_level_commas(body)
    if len(parts) == 1 or len(inner + body) <= LINE_LENGTH:
        return [indent + head, inner + body.strip(), indent + tail]
    if not item or not _ITEM_HEAD.match(head):
        return None
    if any(not part or part.startswith("*") for part in parts):
        return None
    return [indent + head, *(inner + part + "," for part in parts), indent + tail]


def black_layout(source: str) -> str:
    """``source`` with its over-long calls split as Black splits them (see the module doc)."""
    lines = source.split("\n")
    if all(len(line) <= LINE_LENGTH for line in lines):
        return source
    out: list[str] = []
    in_string = False
    for line in lines:
        quotes = line.count('"""') + line.count("'''")
        if in_string or quotes or len(line) <= LINE_LENGTH:
            out.append(line)
        else:
            out.extend(split_call(line) or [line])
        if quotes % 2:
            in_string = not in_string
    return "\n".join(out)
