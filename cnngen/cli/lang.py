"""The language of what the CLI itself says: "wrote" lines, --check verdicts, errors.

``--lang`` is an option of the commands that write text (plan, model,
handout, calc), but the CLI speaks before and around them: Click refuses an
unknown option before any option is read, and an error is printed after the
command is gone.  So the language is read twice: from the command line as
typed, before anything is parsed (:func:`requested`), and from the parsed
option once the command has it, which also sees ``lang = "ru"`` in a --config
file (:func:`choose`).  :func:`current` answers with the later of the two.
torch is never imported here.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Sequence
from typing import Any

import click

# The language of the running ``main``: a one-entry dict so that the option's
# callback can update it for the error handlers of ``main``, which run after
# the command's context is gone.
_CHOSEN: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "cnngen_lang", default=None
)
META_KEY = "cnngen.lang"


def requested(arguments: Sequence[str]) -> str:
    """The language ``--lang ru`` or ``--lang=ru`` asks for, anywhere before ``--``; else en."""
    lang = "en"
    words = list(arguments)
    for index, word in enumerate(words):
        if word == "--":
            break
        if word == "--lang" and index + 1 < len(words):
            lang = words[index + 1]
        elif word.startswith("--lang="):
            lang = word.partition("=")[2]
    if lang == "en":
        return lang
    # The catalogue loads only when another language is asked for (`cnngen --help` stays light).
    from cnngen.rendering.messages import LANGUAGES

    return lang if lang in LANGUAGES else "en"


@contextlib.contextmanager
def speaking(arguments: Sequence[str]) -> Iterator[None]:
    """Within ``main``: the language of ``arguments`` until a command's --lang says otherwise."""
    token = _CHOSEN.set({"lang": requested(arguments)})
    try:
        yield
    finally:
        _CHOSEN.reset(token)


def choose(lang: str) -> None:
    """The command's parsed --lang (from the flag or a --config file) wins from here on."""
    chosen = _CHOSEN.get()
    if chosen is not None:
        chosen["lang"] = lang
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.find_root().meta[META_KEY] = lang


def current() -> str:
    """The language the CLI speaks now."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None and META_KEY in ctx.find_root().meta:
        return ctx.find_root().meta[META_KEY]
    chosen = _CHOSEN.get()
    return chosen["lang"] if chosen is not None else "en"


def say() -> Any:
    """The :class:`~cnngen.rendering.messages.Messages` of :func:`current`'s language."""
    from cnngen.rendering.messages import Messages

    return Messages(current())
