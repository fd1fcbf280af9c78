"""The message catalogue: every sentence of plan tables and handouts, per language.

Templates and renderers never branch on the language; they ask for a message
by key and fill in its fields.  A new language is one more dict with the same
keys and the same ``{fields}`` (``tests/test_messages.py`` checks both).
Technical names (``Conv2d``, ``output_padding``, ``groups``) stay as torch
spells them in every language, since that is what students type.
"""

from __future__ import annotations

import string
from typing import Any

from cnngen.core.messages_handout import HANDOUT_EN, HANDOUT_RU

LANGUAGES = ("en", "ru")

EN: dict[str, str] = {
    # ------------------------------------------------------------ plan table
    "table.layer": "layer",
    "table.kind": "kind",
    "table.output": "output",
    "table.rf": "rf",
    "table.params": "params",
    "table.parameters": "parameters: {count}",
    "table.macs": "multiply-accumulates per sample: {count}",
    "table.field": "receptive field: {field}",
    "table.note": "note: {note}",
    "field.whole": "{field} (the whole input)",
    "field.partial": "{field} (does not cover the {size} input)",
}

RU: dict[str, str] = {
    "table.layer": "слой",
    "table.kind": "тип",
    "table.output": "выход",
    "table.rf": "РП",
    "table.params": "параметры",
    "table.parameters": "параметров: {count}",
    "table.macs": "умножений-сложений на пример: {count}",
    "table.field": "рецептивное поле: {field}",
    "table.note": "примечание: {note}",
    "field.whole": "{field} (весь вход)",
    "field.partial": "{field} (не покрывает вход {size})",
}

EN.update(HANDOUT_EN)
RU.update(HANDOUT_RU)

CATALOGUES: dict[str, dict[str, str]] = {"en": EN, "ru": RU}


def message(lang: str, key: str, **fields: Any) -> str:
    """The message ``key`` in ``lang`` with its fields filled in."""
    return CATALOGUES[lang][key].format(**fields)


def fields_of(text: str) -> set[str]:
    """The ``{field}`` names a message uses."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


class Messages:
    """Messages of one language, called like a function: ``t("key", field=value)``."""

    def __init__(self, lang: str = "en") -> None:
        if lang not in CATALOGUES:
            raise ValueError(f"unknown language {lang!r}; use one of {', '.join(LANGUAGES)}")
        self.lang = lang

    def __call__(self, key: str, **fields: Any) -> str:
        return message(self.lang, key, **fields)

    def raw(self, key: str) -> str:
        """The message with its ``{fields}`` left in (for text that formats itself later)."""
        return CATALOGUES[self.lang][key]

    def has(self, key: str) -> bool:
        return key in CATALOGUES[self.lang]
