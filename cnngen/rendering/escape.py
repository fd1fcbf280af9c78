"""Escaping of user text for each kind of generated file, each in one place.

User text (paths, folder names, commands) is echoed into generated files;
these functions make it inert in the format it lands in:

============  ==========================================================
format        function
============  ==========================================================
shell         :func:`shell_word`, :func:`shell_words` (one line always)
Python        :func:`doc_text` (inside a docstring); literals use ``repr``
              through the ``pyrepr`` template filter
Markdown      :func:`markdown_text`, :func:`markdown_code_span`,
              :func:`markdown_code_block`
TOML          :func:`toml_value`, :func:`toml_string`, :func:`toml_comment`,
              :func:`dump_config` (the one TOML writer)
SVG / XML     :func:`xml_text`
terminal      :func:`terminal_text` (paths echoed on stderr)
============  ==========================================================

Control characters never reach a document as themselves: each format gets a
visible escape (``\\n``, ``$'\\n'``, ``\\u000a``) so a newline in a path can
neither start a new Markdown block, nor end a TOML string, nor make an SVG
that XML parsers reject.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from cnngen.errors import CnngenError

# XML 1.0 allows tab, newline, carriage return and everything from space up,
# except surrogates and U+FFFE/U+FFFF.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Inline Markdown (CommonMark and GitHub's tables): emphasis, code, links,
# HTML, entities, a heading's closing hashes, table pipes, strikethrough.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#!|~&])")
_TOML_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def _visible(char: str) -> str:
    """A non-printable character as the escape Python would show: ``\\n``, ``\\x07``."""
    if "\udc80" <= char <= "\udcff":
        # A byte that was not UTF-8 in a file name (surrogateescape): show the byte.
        return f"\\x{ord(char) - 0xDC00:02x}"
    return repr(char)[1:-1]


def visible_text(text: str) -> str:
    """``text`` with every non-printable character spelled as an escape; one line."""
    return "".join(char if char.isprintable() else _visible(char) for char in text)


def terminal_text(text: str) -> str:
    """A path as printed on the terminal: control characters escaped, never executed."""
    return visible_text(text)


# ------------------------------------------------------------------- Python
def doc_text(text: str) -> str:
    """``text`` made safe inside a generated triple-quoted docstring.

    Commands echo user paths into docstrings; backslashes and unprintable
    characters are escaped, and so is a quote next to another quote or at
    either end (where it could join the closing triple quote), so the text can
    never end the string.  A lone quote stays as it is, so a regenerate line
    such as ``--output 'my "best" model.py'`` reads the same in the file as
    in the shell it is pasted into.
    """
    out = []
    last = len(text) - 1
    for index, char in enumerate(text):
        if char == "\\" or (
            char == '"'
            and (index in (0, last) or text[index - 1] == '"' or text[index + 1] == '"')
        ):
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        else:
            out.append(_visible(char).replace("\\", "\\\\"))
    return "".join(out)


# ------------------------------------------------------------------- shell
def shell_word(word: str) -> str:
    """One shell word, quoted so that a POSIX shell (sh, dash, bash, zsh) reads back ``word``.

    Printable words use ``shlex.quote``.  A word holding a newline or another
    control character becomes ``"$(printf %b 'a\\0012b')"`` (each such character
    as the octal escapes of its bytes), which every POSIX shell reads back and
    which stays on one line.  Command substitution drops trailing newlines, so
    a word ending in one uses ANSI-C quoting (``$'a\\n'``: bash, zsh, ksh and
    POSIX.1-2024 shells) instead.
    """
    if all(char.isprintable() for char in word):
        return shlex.quote(word)
    if word.endswith("\n"):
        return _ansi_c_word(word)
    out = []
    for char in word:
        if char == "'":
            out.append("'\\''")
        elif char == "\\":
            out.append("\\\\")
        elif char.isprintable():
            out.append(char)
        elif "\udc80" <= char <= "\udcff":
            out.append(f"\\0{ord(char) - 0xDC00:03o}")
        else:
            out.extend(f"\\0{byte:03o}" for byte in char.encode("utf-8"))
    return "\"$(printf %b '" + "".join(out) + "')\""


def _ansi_c_word(word: str) -> str:
    out = []
    for char in word:
        if char in "\\'":
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        elif "\udc80" <= char <= "\udcff":
            out.append(f"\\x{ord(char) - 0xDC00:02x}")
        elif ord(char) < 0x100:
            out.append({"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(char, f"\\x{ord(char):02x}"))
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return "$'" + "".join(out) + "'"


def shell_words(words: list[str]) -> str:
    """Shell words quoted as a user would type them; one line."""
    return " ".join(shell_word(word) for word in words)


def command_line(words: list[str]) -> str:
    """Shell words quoted as a user would type them, made docstring-safe."""
    return doc_text(shell_words(words))


# ------------------------------------------------------------------- Markdown
def markdown_text(text: str) -> str:
    """``text`` as literal Markdown inline text: one line, no markup, no HTML."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", visible_text(text))


def markdown_code_span(text: str) -> str:
    """``text`` as an inline code span: one line, fenced by more backticks than it holds."""
    text = visible_text(text)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def markdown_code_block(text: str, info: str = "") -> str:
    """``text`` as a fenced code block that no line of ``text`` can close early."""
    lines = [visible_text(line) for line in text.split("\n")]
    longest = max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return "\n".join([fence + info, *lines, fence])


# ------------------------------------------------------------------- TOML
def toml_string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped.

    A file name that is not valid UTF-8 cannot be written in TOML at all;
    that is a :class:`CnngenError`, not a corrupt file.
    """
    out = ['"']
    for char in text:
        code = ord(char)
        if char in _TOML_ESCAPES:
            out.append(_TOML_ESCAPES[char])
        elif 0xD800 <= code <= 0xDFFF:
            raise CnngenError(
                f"--save-config: {visible_text(text)!r} is not valid UTF-8 and cannot be "
                f"written to a TOML file; rename it",
                "--save-config",
            )
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def toml_value(value: Any) -> str:
    """A TOML literal for the values cnngen options take; sizes as ``"100x100"``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        if len(value) == 1:
            return toml_value(value[0])
        return toml_string("x".join(str(item) for item in value))
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return "nan" if value != value else ("inf" if value > 0 else "-inf")
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    raise TypeError(f"no TOML literal for {value!r}")


def toml_comment(text: str) -> str:
    """Text for after a ``#``: TOML comments may hold no control characters but tab."""
    return visible_text(text)


def dump_config(items: list[tuple[str, Any]], comment: str) -> str:
    """TOML text with ``key = value`` lines (keys as long option names)."""
    lines = [f"# {toml_comment(line)}" if line else "#" for line in comment.splitlines()]
    for key, value in items:
        lines.append(f"{key.replace('_', '-')} = {toml_value(value)}")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------- SVG / XML
def xml_text(text: str, quote: bool = False) -> str:
    """``text`` for XML 1.0 character data (or, with ``quote``, a quoted attribute).

    ``&``, ``<`` and ``>`` become entities; characters XML 1.0 forbids
    (most control characters, lone surrogates) become visible escapes, since
    no entity can stand for them.
    """
    text = _XML_FORBIDDEN.sub(lambda match: _visible(match.group()), text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if quote:
        text = text.replace('"', "&quot;")
    return text
