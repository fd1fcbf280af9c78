"""Under ``--lang ru`` no English sentence is left in what cnngen writes.

Every kind of output is rendered in Russian: model files (each family, block,
helper class and preset), handouts (both editions) and the topic handouts,
plan tables with their warning and diagram, and ``calc``.  Its prose
(comments, docstrings, markdown, printed lines) must hold no English
function word.  Code, identifiers, torch names and formulas may stay: inline
code, code blocks and formulas are left out before looking, and the words
looked for are ones no identifier or formula of these files is made of.
"""

from __future__ import annotations

import ast
import io
import json
import re
import tokenize
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cnngen.core.solver import solve
from cnngen.core.spec import make_spec
from cnngen.core.vocab import HELPER_CLASSES
from cnngen.rendering.engine import render_model
from cnngen.rendering.handout import render_handout
from cnngen.rendering.topics import render_topic

# English words that carry a sentence and are no identifier, torch name or formula here.
ENGLISH = re.compile(
    r"(?<![\w-])(the|and|of|is|are|with|for|from|each|every|that|this|its|not|which|when|where"
    r"|into|by|an|only|does|gives|keeps|needs|must|than|then|per|both|all|one)(?![\w-])",
    re.IGNORECASE,
)
CYRILLIC = re.compile("[а-яё]", re.IGNORECASE)

# Group convolutions at 13x13; D4 maps hold 8 orientations, so fewer channels.
GROUP_CONV = {"input_size": (13, 13), "layers": 2, "start_channels": 4, "group_conv": True}
D4 = {**GROUP_CONV, "start_channels": 2, "group": "d4"}
CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "encoder-1d": ("encoder", {"input_size": (40,), "layers": 2}),
    "classifier-convnext": (
        "classifier",
        {"input_size": (32, 32), "layers": 2, "block": "convnext"},
    ),
    "encoder-3d": ("encoder", {"input_size": (6, 10, 12), "layers": 2, "start_channels": 4}),
    "forecaster-latent": ("forecaster", {"input_size": (17, 23), "layers": 3, "latent": 16}),
    "forecaster-depth": ("forecaster", {"input_size": (6, 16, 16), "layers": 2, "out_depth": 3}),
    "forecaster-crop": (
        "forecaster",
        {
            "input_size": (9,),
            "padding": "same",
            "kernel": 2,
            "stride": 1,
            "layers": 1,
            "min_size": 1,
        },
    ),
    "forecaster-short-field": ("forecaster", {"input_size": (64, 64), "layers": 2}),
    "same-padding": ("classifier", {"input_size": (21, 20), "padding": "same", "layers": 2}),
    "vgg": ("classifier", {"input_size": (20, 20), "block": "vgg", "layers": 2}),
    "residual": ("classifier", {"input_size": (20, 20), "block": "residual", "layers": 3}),
    "bottleneck-se": (
        "classifier",
        {"input_size": (24, 24), "block": "bottleneck", "se": True, "layers": 2},
    ),
    "depthwise": ("classifier", {"input_size": (24, 24), "depthwise": True, "layers": 2}),
    "equivariant-mean": (
        "equivariant",
        {
            "input_size": (13, 13),
            "layers": 2,
            "start_channels": 4,
            "rotation_pool": "mean",
        },
    ),
    "equivariant": (
        "equivariant",
        {"input_size": (13, 13), "layers": 2, "start_channels": 4},
    ),
    "group-conv": ("equivariant", GROUP_CONV),
    "group-conv-gap": ("equivariant", {**GROUP_CONV, "head": "gap"}),
    "group-conv-d4": ("equivariant", D4),
    "group-conv-harmonic": ("equivariant", {**GROUP_CONV, "basis": "harmonic"}),
    "group-conv-d4-gap": ("equivariant", {**D4, "head": "gap"}),
    "unet": ("unet", {"input_size": (19, 23), "layers": 2, "start_channels": 4}),
    "unet-bilinear": (
        "unet",
        {"input_size": (19, 23), "layers": 2, "start_channels": 4, "upsample": "bilinear"},
    ),
    **{
        preset: ("classifier", {"preset": preset, "input_size": (32, 32)})
        for preset in (
            "lenet5",
            "alexnet",
            "vgg11_bn",
            "googlenet",
            "resnet18",
            "resnet50",
            "se_resnet18",
            "mobilenet_v2",
        )
    },
    "alexnet-adapted": (
        "classifier",
        {"preset": "alexnet", "input_size": (61, 61), "norm": "groupnorm", "dropout": 0.0},
    ),
}


def english_lines(text: str) -> list[str]:
    """The lines of ``text`` that still say something in English."""
    found = []
    for line in text.splitlines():
        # Jupyter's menu item keeps the name the student clicks, as torch names do.
        prose = re.sub(r"`[^`]*`|\$[^$]*\$|<[^>]*>|\*Run All\*", " ", line)
        if ENGLISH.search(prose):
            found.append(line.strip())
    return found


def python_prose(source: str, strings: bool = False) -> Iterator[str]:
    """Comments and docstrings of ``source`` (with ``strings``: what it prints and raises)."""
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            yield token.string
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                yield value.value
        said = isinstance(node, ast.Raise) or (
            isinstance(node, ast.Call) and getattr(node.func, "id", "") == "print"
        )
        if strings and said:
            for argument in ast.walk(node):
                if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                    yield argument.value


def notebook_prose(text: str) -> Iterator[str]:
    """Markdown without its code, and the prose of every code cell, the model's included."""
    cells = json.loads(text)["cells"]
    for cell in cells:
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            yield re.sub(r"```.*?```", "", source, flags=re.DOTALL)
        else:
            yield from python_prose(source, strings=True)


def assert_russian(where: str, pieces: Iterator[str] | list[str]) -> None:
    english = [line for piece in pieces for line in english_lines(piece)]
    assert english == [], (where, english[:5])


def test_the_detector_finds_english_and_passes_russian_with_code() -> None:
    assert english_lines("Keep each logit's maximum over the four rotations.")
    assert english_lines("# multiply-accumulates per sample")
    assert not english_lines(
        "Поворот на четверть оборота (как torch.rot90) через flip + transpose."
    )
    assert not english_lines("Слой `nn.Conv2d(3, 8, kernel_size=3)` и формула $out = in - k + 1$")


def test_every_helper_class_is_covered() -> None:
    used = {
        name
        for family, options in CASES.values()
        for name in solve(make_spec(family, **options)).helpers
    }
    assert used == set(HELPER_CLASSES)


@pytest.mark.parametrize("name", list(CASES))
def test_model_file_has_no_english(name: str) -> None:
    family, options = CASES[name]
    spec = make_spec(family, **options)
    source = render_model(solve(spec), spec.command(), "ru")
    assert CYRILLIC.search(source)
    # What the file raises and prints when it runs is said in Russian too.
    assert_russian(name, list(python_prose(source, strings=True)))
    assert "ожидался вход размера" in source and "параметров: {parameters}" in source


@pytest.mark.parametrize(
    "name",
    [
        "residual", "bottleneck-se", "group-conv", "group-conv-d4", "group-conv-harmonic", "unet",
        "googlenet", "mobilenet_v2",
    ],  # fmt: skip
)
@pytest.mark.parametrize("student", [False, True], ids=["teacher", "student"])
def test_handout_has_no_english(name: str, student: bool) -> None:
    family, options = CASES[name]
    spec = make_spec(family, **options)
    command = "handout " + spec.command().removeprefix("model ")
    text = render_handout(spec, solve(spec), command, "ru", student)
    assert_russian(name, list(notebook_prose(text)))


@pytest.mark.parametrize("topic", ["conv", "train", "transfer", "c4"])
def test_topic_handout_has_no_english(topic: str) -> None:
    assert_russian(topic, list(notebook_prose(render_topic(topic, f"handout {topic}", "ru"))))


def svg_text(svg: str) -> list[str]:
    """The words an SVG diagram shows: its text nodes, titles and description."""
    return [text for text in re.findall(r">([^<>]+)<", svg) if text.strip()]


@pytest.mark.parametrize(
    "name", ["forecaster-short-field", "residual", "forecaster-latent", "unet", "resnet18"]
)
def test_plan_table_warning_and_diagram_have_no_english(
    name: str, run_cli: Callable[..., Any]
) -> None:
    family, options = CASES[name]
    words = make_spec(family, **options).command_words("plan")
    table = run_cli(*words, "--lang", "ru")
    assert table.code == 0, table.err
    assert_russian(name, [table.out, table.err])
    if name == "forecaster-short-field":
        assert table.err.startswith("Предупреждение: рецептивное поле ")
    diagram = run_cli(*words, "--lang", "ru", "--svg", "-")
    assert diagram.code == 0, diagram.err
    shown = svg_text(diagram.out)
    assert any(CYRILLIC.search(text) for text in shown)
    assert_russian(name, shown)
    english = run_cli(*words, "--svg", "-")
    assert "parameters, receptive field" in english.out


CALCS = [
    ("conv", "--input", "9x17", "--kernel", "3", "--output", "9x17"),
    ("conv", "--input", "28", "--kernel", "3", "--padding", "1", "--layers", "4"),
    ("conv", "--input", "9", "--kernel", "3", "--stride", "2", "--output", "9"),
    ("conv", "--input", "5", "--output", "9", "--solve", "kernel"),
    ("conv", "--input", "5", "--kernel", "3", "--output", "2", "--solve", "dilation"),
    ("conv", "--input", "2", "--kernel", "5", "--output", "3", "--solve", "dilation"),
    (
        "conv",
        "--input",
        "5",
        "--kernel",
        "3",
        "--output",
        "5",
        "--solve",
        "stride",
        "--layers",
        "3",
    ),
    ("pool", "--input", "5", "--kernel", "3", "--output", "1", "--solve", "stride"),
    ("pool", "--input", "7", "--kernel", "3", "--stride", "2", "--padding", "1", "--ceil-mode"),
    (
        "transposed",
        "--input",
        "5",
        "--kernel",
        "3",
        "--stride",
        "2",
        "--output",
        "10",
        "--solve",
        "output-padding",
    ),
    ("transposed", "--input", "4", "--kernel", "3", "--output", "1", "--solve", "padding"),
]
REFUSED = [
    # What calc itself checks before any arithmetic.
    ("conv", "--input", "5"),
    ("conv", "--input", "5", "--kernel", "0"),
    ("conv", "--input", "5", "--kernel", "3", "--padding", "-1"),
    ("conv", "--input", "5x5", "--kernel", "3x3x3"),
    ("conv", "--input", "5", "--kernel", "3", "--solve", "padding"),
    ("conv", "--input", "5", "--kernel", "3", "--output", "5", "--padding", "1"),
    ("conv", "--input", "5", "--kernel", "3", "--output", "5", "--solve", "output-padding"),
    ("conv", "--input", "5", "--kernel", "3", "--ceil-mode"),
    ("pool", "--input", "5", "--kernel", "3", "--output-padding", "1"),
    ("pool", "--input", "5", "--output", "2", "--solve", "kernel"),
    ("conv", "--input", "0", "--kernel", "1"),
    ("conv", "--input", "5", "--kernel", "1", "--output", "0"),
    # What the arithmetic refuses.
    ("conv", "--input", "3", "--kernel", "5"),
    ("pool", "--input", "5", "--kernel", "3", "--padding", "2"),
    ("pool", "--input", "2", "--kernel", "5"),
    ("transposed", "--input", "2", "--kernel", "1", "--padding", "3"),
    ("transposed", "--input", "2", "--kernel", "3", "--stride", "2", "--output-padding", "3"),
]


@pytest.mark.parametrize("words", CALCS + REFUSED, ids=" ".join)
def test_calc_has_no_english(words: tuple[str, ...], run_cli: Callable[..., Any]) -> None:
    result = run_cli("calc", *words, "--lang", "ru")
    said = result.out + result.err
    assert CYRILLIC.search(said), said
    assert_russian(" ".join(words), [said])
    if words in REFUSED:
        assert result.code == 2 and result.err.startswith("Ошибка: --")
        english = run_cli("calc", *words)
        assert english.err != result.err and not CYRILLIC.search(english.err)


LARGE = {
    "parameters": ("-i", "32x32", "--block", "vgg", "--layers", "3", "--start-channels", "8192"),
    "activations": ("-i", "4096x4096", "--layers", "3", "--start-channels", "512"),
}


@pytest.mark.parametrize("kind", list(LARGE))
@pytest.mark.parametrize("command", ["plan", "model"])
def test_large_plan_warning_is_russian(kind: str, command: str, run_cli: Callable[..., Any]) -> None:
    words = ("classifier", *LARGE[kind], "--max-channels", "16384")
    output = ("-o", "-") if command == "model" else ()
    russian = run_cli(command, *words, *output, "--lang", "ru")
    assert russian.code == 0, russian.err
    (warning,) = [line for line in russian.err.splitlines() if line.startswith("Предупреждение")]
    assert "ГиБ" in warning
    assert_russian(command, [warning])
    english = run_cli(command, *words, *output)
    assert "Warning: " in english.err and "GiB" in english.err


# ------------------------------------------------------------ what the CLI itself says
# Refusals and Click's usage errors with `--lang ru` anywhere on the line, the
# ones before any option is read included (an unknown option, a bad size).
CLI_REFUSED = [
    ("model", "classifier", "--lang", "ru", "--bogus"),
    ("model", "classifier", "-i", "2x", "--lang", "ru"),
    ("model", "--lang", "ru"),
    ("modle", "--lang", "ru"),
    ("plan", "classifier", "-i", "28", "--lang", "ru", "extra"),
    ("plan", "classifier", "-i", "28", "--lang", "ru", "--layers"),
    ("plan", "classifier", "--lang", "ru", "--layers", "x"),
    ("plan", "classifier", "--lang", "ru", "-n", "2"),
    ("plan", "classifier", "-i", "28", "--lang", "ru", "-o", "x.py"),
    ("plan", "classifier", "-i", "28", "--lang", "ru", "--norm", "batchnrom"),
    ("plan", "classifier", "-i", "28", "--lang", "ru", "--kernel", "0"),
    ("plan", "classifier", "-i", "28", "--lang", "ru", "--kernel", "3x3"),
    ("plan", "classifier", "-i", "28", "--lang", "ru", "--classes", "1"),
    ("plan", "classifier", "-i", "28", "--lang", "ru", "--dropout", "2"),
    ("plan", "classifier", "-i", "28", "--lang", "ru", "--layers", "0"),
    ("plan", "classifier", "-i", "28", "--lang=ru", "--latent", "3"),
    ("plan", "classifier", "-i", "28", "--lang", "ru", "--preset", "lenet5", "--layers", "3"),
    ("plan", "classifier", "-i", "28", "--lang", "ru", "--min-size", "2", "--target-size", "3"),
    ("plan", "unet", "-i", "28x28", "--lang", "ru", "--block", "residual"),
    ("handout", "classifier", "-i", "1x2x3x4", "--lang", "ru"),
    ("calc", "conv", "--input", "28x", "--kernel", "3", "--lang", "ru"),
    ("plan", "classifier", "-i", "28", "--padding", "9", "--lang", "ru"),
    ("plan", "classifier", "-i", "28", "--activation", "relu:2", "--lang", "ru"),
    ("plan", "classifier", "-i", "28", "--activation", "leaky_relu:x", "--lang", "ru"),
    ("plan", "classifier", "-i", "28", "--name", "class", "--lang", "ru"),
    ("plan", "classifier", "-i", "28", "--groups", "3", "--lang", "ru"),
    ("plan", "classifier", "-i", "28", "--target-size", "30", "--lang", "ru"),
    (
        "plan",
        "classifier",
        "-i",
        "28",
        "--start-channels",
        "8",
        "--min-channels",
        "16",
        "--lang",
        "ru",
    ),
    ("plan", "classifier", "-i", "6", "-n", "2", "--target-size", "5", "--lang", "ru"),
    ("plan", "classifier", "-i", "8x8", "--preset", "lenet5", "--lang", "ru"),
    ("plan", "unet", "-i", "28x28", "-n", "9", "--lang", "ru"),
    ("plan", "forecaster", "-i", "28", "--block", "residual", "--lang", "ru"),
    ("model", "classifier", "-i", "28", "-o", "/nonexistent-folder/x.py", "--lang", "ru"),
    ("model", "classifier", "-i", "28", "-o", "/", "--lang", "ru"),
]


@pytest.mark.parametrize("words", CLI_REFUSED, ids=" ".join)
def test_refusals_and_usage_errors_are_russian(
    words: tuple[str, ...], run_cli: Callable[..., Any]
) -> None:
    result = run_cli(*words)
    assert result.code == 2 and result.out == ""
    (line,) = result.err.splitlines()
    assert line.startswith("Ошибка: ") and CYRILLIC.search(line.removeprefix("Ошибка: "))
    # What the user typed (quoted) stays as typed; the rest is Russian.
    assert_russian(" ".join(words), [re.sub(r"'[^']*'", "", line)])
    english = run_cli(*[w for w in words if w not in ("--lang", "ru", "--lang=ru")])
    assert english.err.startswith("Error: ") and not CYRILLIC.search(english.err)


def test_written_checked_and_previewed_files_are_russian(
    run_cli: Callable[..., Any], tmp_path: Any
) -> None:
    target = str(tmp_path / "lenet.py")
    words = ("model", "classifier", "--preset", "lenet5", "-o", target, "--lang", "ru")
    wrote = run_cli(*words)
    assert wrote.code == 0
    assert wrote.err.startswith("записан файл ") and "классификатор, 2D" in wrote.err
    assert "параметров: 61\u00a0706" in wrote.err
    again = run_cli(*words)
    assert again.code == 2 and "уже существует" in again.err and "--force" in again.err
    assert run_cli(*words, "--check").err.strip().endswith(": актуален")
    stale = run_cli(*words[:-2], "--classes", "5", "--lang", "ru", "--check")
    assert stale.code == 1 and ": устарел" in stale.err and "изменятся файлов: 1 из 1" in stale.err
    preview = run_cli(*words, "--force", "--dry-run")
    assert "актуален" in preview.out and "байт" in preview.out
    fresh = run_cli(*words[:4], "-o", str(tmp_path / "new.py"), "--lang", "ru", "--dry-run")
    assert fresh.out.startswith("будет создан файл ") and "строк" in fresh.out
    for said in (wrote.err, again.err, stale.err, preview.out.splitlines()[0], fresh.out):
        assert_russian("files", [re.sub(r"\S*/\S*", "", said)])
    english = run_cli(*words[:-2], "--force")
    assert english.err.startswith("wrote ") and "61,706 parameters" in english.err


def test_every_russian_refusal_is_raised_and_every_key_is_said() -> None:
    """The keys the code raises and the keys the Russian catalogue says are the same."""
    from pathlib import Path

    from cnngen.rendering.messages_refusals import REFUSALS

    code = [p for p in Path("cnngen").rglob("*.py") if p.name != "messages_refusals.py"]
    raised = set(re.findall(r'"(refusal\.\w+)"', "\n".join(p.read_text() for p in code)))
    assert raised == set(REFUSALS["ru"]) - {"refusal.hint", "refusal.tail"}
