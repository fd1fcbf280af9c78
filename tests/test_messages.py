"""The message catalogue: every language has every message, with the same fields."""

from __future__ import annotations

import ast
import pickle
import re
from collections.abc import Callable
from typing import Any

import pytest

from cnngen.core.solver import solve
from cnngen.core.spec import make_spec
from cnngen.rendering.engine import format_python, render_model
from cnngen.rendering.format import plan_table
from cnngen.rendering.messages import CATALOGUES, LANGUAGES, Messages, Note, fields_of


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != "en"])
def test_same_keys_and_fields_as_english(lang: str) -> None:
    english, other = CATALOGUES["en"], CATALOGUES[lang]
    assert set(other) == set(english)
    for key, text in english.items():
        assert fields_of(other[key]) == fields_of(text), key


def test_russian_messages_are_russian() -> None:
    """Every message with words outside code and fields has Russian words."""
    for key, text in CATALOGUES["ru"].items():
        words = re.sub(r"`[^`]*`|\{[^}]*\}", "", text)
        if key == "se.title" or sum(ch.isalpha() for ch in words) < 2:
            continue  # the block's own name, or only formulas and fields
        assert re.search("[а-яё]", words, re.IGNORECASE), key


def test_plan_table_in_russian() -> None:
    plan = solve(make_spec("classifier", preset="lenet5"))
    table = plan_table(plan, "ru")
    assert "параметров: 61\u00a0706" in table
    assert "рецептивное поле: 28x28 (весь вход)" in table
    assert plan_table(plan).splitlines()[1].split() == ["layer", "kind", "output", "rf", "params"]


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown language"):
        Messages("de")


class _Unsaid(ast.NodeTransformer):
    """Blanks the f-strings a model file raises and prints: their words are the language's."""

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.Constant:
        return ast.Constant("")


def _code_only(source: str) -> str:
    """The module's AST without docstrings or messages: what runs, not what it says."""
    tree = _Unsaid().visit(ast.parse(source))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            body[0] = ast.Pass()
    return ast.dump(tree)


@pytest.mark.parametrize(
    ("family", "options"),
    [
        ("classifier", {"preset": "lenet5"}),
        ("forecaster", {"input_size": (17, 23), "layers": 3}),
        ("classifier", {"input_size": (32, 32), "block": "residual", "se": True, "layers": 2}),
    ],
)
def test_russian_model_file_differs_only_in_what_it_says(family: str, options: dict) -> None:
    plan = solve(make_spec(family, **options))
    english = render_model(plan, "model x")
    russian = render_model(plan, "model x", "ru")
    assert "Параметров:" in russian and "Рецептивное поле:" in russian
    assert _code_only(russian) == _code_only(english)
    assert format_python(russian, "model") == russian  # Black-clean as generated


def test_plan_notes_translate_and_stay_plain_text() -> None:
    plan = solve(make_spec("forecaster", input_size=(64, 64), layers=3))
    (note,) = [n for n in plan.notes if "does not cover" in n]
    assert note == "receptive field 23x23 does not cover the 64x64 input"
    assert Messages("ru").note(note) == "рецептивное поле 23x23 не покрывает вход 64x64"
    assert Messages("ru").note("a note without a key") == "a note without a key"
    assert pickle.loads(pickle.dumps(note)).key == "note.short_field"


RUSSIAN_PLANS: list[tuple[str, dict[str, Any]]] = [
    ("unet", {"input_size": (1001,), "layers": 2}),
    (
        "unet",
        {"input_size": (97, 131, 5), "layers": 4, "max_channels": 40, "upsample": "bilinear"},
    ),
    ("classifier", {"preset": "alexnet", "input_size": (61, 61), "norm": "groupnorm"}),
    ("classifier", {"preset": "vgg11_bn", "input_size": (16, 16), "dropout": 0.0}),
    (
        "classifier",
        {"preset": "se_resnet18", "input_size": (33, 17), "norm": "none", "dropout": 0.2},
    ),
    ("classifier", {"preset": "googlenet", "input_size": (97, 131), "dropout": 0.3}),
]


def test_russian_plan_output_has_no_english_note(run_cli: Callable[..., Any]) -> None:
    """U-Net notes and a preset's adaptation and option notes all come from the catalogue."""
    keys = set()
    for family, options in RUSSIAN_PLANS:
        spec = make_spec(family, **options)
        words = spec.command_words("plan")
        english = run_cli(*words)
        russian = run_cli(*words, "--lang", "ru")
        assert english.code == russian.code == 0, russian.err
        en = [line[6:] for line in english.out.splitlines() if line.startswith("note: ")]
        prefix = "примечание: "
        ru = [line[len(prefix) :] for line in russian.out.splitlines() if line.startswith(prefix)]
        assert len(ru) == len(en) >= 2, words
        for note in ru:
            assert note not in en, note
            assert re.search("[а-яё]", note, re.IGNORECASE), note
            # Counts are grouped the Russian way: "1,024" would read as a decimal.
            assert not re.search(r"\d,\d", note), note
        for note in solve(spec).notes:
            assert isinstance(note, Note) and Messages("ru").has(note.key), note
            keys.add(note.key)
    unet = {"note.unet_level_kept", "note.unet_clamped", "note.unet_skips", "note.short_field"}
    presets = {"note.stride_relaxed", "note.pool_padded", "note.head_features_224"}
    options = {"note.preset_norm_added", "note.preset_norm_removed", "note.preset_dropout"}
    options |= {"note.preset_dropout_kept", "note.preset_dropout_added"}
    assert unet | presets | options <= keys
