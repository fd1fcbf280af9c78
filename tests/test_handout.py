"""cnngen handout: notebook structure, determinism, and a real run of every cell."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import pytest

from cnngen.core.solver import solve
from cnngen.core.spec import BLOCKS, FAMILIES, PRESETS, make_spec
from cnngen.rendering.handout import (
    ANSWER_TAGS,
    CHECK_TAGS,
    exercises,
    render_handout,
    walked_ops,
)
from cnngen.rendering.messages import Messages

nbformat = pytest.importorskip("nbformat")

MATRIX_GROUP_CONV = {"input_size": (13, 13), "layers": 2, "start_channels": 4, "group_conv": True}


def handout(
    family: str, lang: str = "en", student: bool = False, **options
) -> tuple[object, dict, str]:
    spec = make_spec(family, **options)
    plan = solve(spec)
    command = "handout " + spec.command().removeprefix("model ")
    text = render_handout(spec, plan, command, lang, student)
    return plan, json.loads(text), text


def found_exercises(family: str, **options) -> list:
    spec = make_spec(family, **options)
    return exercises(solve(spec), "en", spec.preset)


def sources(notebook: dict, kind: str | None = None) -> list[str]:
    return [
        "".join(cell["source"])
        for cell in notebook["cells"]
        if kind is None or cell["cell_type"] == kind
    ]


def test_valid_nbformat_with_stable_ids_and_no_outputs() -> None:
    _, data, text = handout("classifier", preset="lenet5")
    notebook = nbformat.reads(text, as_version=4)
    nbformat.validate(notebook)
    assert [cell["id"] for cell in data["cells"]] == [
        f"cell-{index:03d}" for index in range(len(data["cells"]))
    ]
    assert data["metadata"]["kernelspec"]["name"] == "python3"
    for cell in data["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
    # Written the way Jupyter writes notebooks, so saving it unchanged gives no diff.
    assert text == nbformat.writes(notebook) + "\n"


def test_deterministic() -> None:
    assert (
        handout("forecaster", input_size=(17, 23), layers=3)[2]
        == handout("forecaster", input_size=(17, 23), layers=3)[2]
    )


def test_one_explained_cell_per_shape_changing_layer() -> None:
    plan, data, _ = handout("classifier", preset="lenet5")
    layers = [s for s in sources(data, "markdown") if s.startswith("### Layer ")]
    names = [name for name, _ in walked_ops(plan)]
    assert len(layers) == len(names) == 8  # conv, pool, conv, pool, flatten, 3 linear
    for text, name in zip(layers, names, strict=True):
        assert f"`{name}`" in text.splitlines()[0]
    conv = layers[0]
    # The first convolution, formula filled in: 28 + 2*2 - 1*(5-1) - 1 = 27.
    assert "floor((28 + 2*2 - 1*(5-1) - 1) / 1) + 1 = floor(27 / 1) + 1 = 28" in conv
    assert "`Conv2d`: 1x28x28 → 6x28x28" in conv
    pool = layers[1]
    # AvgPool2d has no dilation, so its formula has no dilation term.
    assert "floor((28 + 2*0 - 2) / 2) + 1 = floor(26 / 2) + 1 = 14" in pool
    assert "dilation" not in pool.split("\n- ")[1]
    flatten = layers[4]
    assert "channels * height * width = 16 * 5 * 5 = 400" in flatten


def test_model_code_random_batch_and_hidden_answers_are_present() -> None:
    plan, data, _ = handout("forecaster", input_size=(17, 23), layers=3, latent=16)
    code = sources(data, "code")
    assert code[0].startswith('"""Forecaster: (B, 1, 17, 23) -> (B, 1, 17, 23)')
    assert "class Forecaster(nn.Module):" in code[0]
    assert any("batch = torch.randn(2, *INPUT_SHAPE)" in cell for cell in code)
    hidden = [c for c in data["cells"] if c["metadata"].get("jupyter", {}).get("source_hidden")]
    found = exercises(plan)
    assert len(found) >= 4 and len(hidden) == len(found)
    answers = [s for s in sources(data, "markdown") if s.startswith("<details>")]
    assert len(answers) >= len(found)
    transposed = next(e for e in found if "output_padding" in e.question)
    # dec1 maps 5x6 back to 9x12 with output_padding 0x1; for 10x11 it needs 1x0.
    assert "`output_padding=0x1`" in transposed.question and "10x11" in transposed.question
    assert "`output_padding=1x0`" in transposed.answer
    assert "(6-1)*2 - 2*1 + 1*(3-1) + 0 + 1 = 11" in transposed.answer
    assert transposed.expected == (1, 0)
    parameters = next(e for e in found if e.counts_parameters)
    assert "`bias=False` because BatchNorm follows" in parameters.question
    assert parameters.expected == 288


def test_padding_exercise_answer() -> None:
    plan, _, _ = handout("classifier", preset="lenet5")
    exercise = exercises(plan)[0]
    assert "Change its kernel to 7x7" in exercise.question
    assert exercise.answer.startswith("Padding 3x3:")
    assert "padding=3" in exercise.check


def test_cli_writes_checks_and_refuses(run_cli, tmp_path: Path) -> None:
    target = tmp_path / "lenet.ipynb"
    args = ("handout", "classifier", "--preset", "lenet5", "-o", str(target))
    result = run_cli(*args)
    assert result.code == 0, result.err
    data = json.loads(target.read_text())
    assert f"cnngen handout classifier --preset lenet5 --output {target}" in "".join(
        data["cells"][0]["source"]
    )
    assert run_cli(*args, "--check").code == 0
    again = run_cli(*args)
    assert again.code == 2 and again.err.startswith("Error: --output: ")


def run_notebook(text: str, tmp_path: Path) -> object:
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.reads(text, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=180,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    return notebook


@pytest.mark.slow
@pytest.mark.parametrize(
    ("family", "options"),
    [
        ("equivariant", MATRIX_GROUP_CONV),
        ("equivariant", {**MATRIX_GROUP_CONV, "start_channels": 2, "group": "d4"}),
        (
            "classifier",
            {"preset": "resnet18", "input_size": (224, 224), "in_channels": 3, "classes": 1000},
        ),
    ],
    ids=["group-conv", "group-conv-d4", "resnet18-paper-input"],
)
def test_every_cell_runs(family: str, options: dict, tmp_path: Path) -> None:
    _, _, text = handout(family, **options)
    notebook = run_notebook(text, tmp_path)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code_cells)
    errors = [o for cell in code_cells for o in cell.outputs if o.output_type == "error"]
    assert errors == []
    printed = "".join(
        o.get("text", "") for cell in code_cells for o in cell.outputs if o.output_type == "stream"
    )
    assert "-> output (2, " in printed  # the random batch went through
    assert "expected" not in printed  # no layer disagreed with the plan


# ------------------------------------------------------------ editions
def tagged(data: dict, tags: tuple[str, ...]) -> list[dict]:
    return [c for c in data["cells"] if set(tags) & set(c["metadata"].get("tags", []))]


def test_teacher_edition_tags_what_the_student_edition_leaves_out() -> None:
    _, teacher, _ = handout("classifier", preset="lenet5")
    _, student, _ = handout("classifier", preset="lenet5", student=True)
    found = found_exercises("classifier", preset="lenet5")
    assert len(tagged(teacher, CHECK_TAGS)) == len(found)
    assert len(tagged(teacher, ANSWER_TAGS)) > len(found)  # exercises and lesson questions
    assert tagged(student, ANSWER_TAGS + CHECK_TAGS) == []
    # Removing the tagged cells (what nbconvert's TagRemovePreprocessor does) leaves
    # the student's cells, in order; only the intro differs (its command line).  The
    # folded answers are mentioned in a tagged cell of their own.
    kept = [c for c in teacher["cells"] if not tagged({"cells": [c]}, ANSWER_TAGS + CHECK_TAGS)]
    assert len(kept) == len(student["cells"])
    differ = [
        index
        for index, (a, b) in enumerate(zip(kept, student["cells"], strict=True))
        if a["source"] != b["source"]
    ]
    # The model cell is the same in both: neither has the plan table in its docstring.
    assert differ == [0]
    # Every "Try it here" cell has starter code and calls the checker.
    tries = tagged(student, ("exercise",))
    assert len(tries) == len(found)
    for number, cell in enumerate(tries, start=1):
        text = "".join(cell["source"])
        assert "answer = None" in text and f"check({number}, answer)" in text


@pytest.mark.parametrize(
    ("family", "options"),
    [
        ("classifier", {"preset": "lenet5"}),
        ("forecaster", {"input_size": (17, 23), "layers": 3, "latent": 16}),
        ("classifier", {"input_size": (32, 32), "block": "residual", "se": True, "layers": 2}),
    ],
)
def assert_no_answer(text: str, found: list) -> None:
    """No worked answer, hidden check or specific answer number is in the notebook text."""
    data = json.loads(text)
    # The checker's salts and hashes are hex digits, where any number may turn up.
    readable = "\n".join(
        "".join(c["source"])
        for c in data["cells"]
        if "checker" not in c["metadata"].get("tags", [])
    )
    for exercise in found:
        assert exercise.answer not in readable
        for line in exercise.check.splitlines():
            if line.startswith("assert"):
                assert line not in readable
        values = exercise.expected if isinstance(exercise.expected, tuple) else (exercise.expected,)
        if exercise.counts_parameters or max(values) >= 100:
            # Big numbers are specific enough to search for: a count or a feature size.
            for spelling in (
                f"{max(values):,}",
                f"{max(values)}",
                f"{max(values):,}".replace(",", " "),
            ):
                assert not re.search(rf"(?<![\d,.]){re.escape(spelling)}(?![\d,])", readable), (
                    exercise.question
                )
    assert "<details>" not in readable
    assert "Plan (shapes without the batch dimension B):" not in readable


STUDENT_CASES = [
    ("classifier", {"preset": "lenet5"}),
    ("forecaster", {"input_size": (17, 23), "layers": 3, "latent": 16}),
    ("classifier", {"input_size": (32, 32), "block": "residual", "se": True, "layers": 2}),
    ("classifier", {"preset": "resnet18", "input_size": (64, 64)}),
]


@pytest.mark.parametrize(("family", "options"), STUDENT_CASES)
def test_student_edition_holds_no_answer(family: str, options: dict) -> None:
    _, _, text = handout(family, student=True, **options)
    assert_no_answer(text, found_exercises(family, **options))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("family", "options", "lang"),
    [(*STUDENT_CASES[0], "en"), (*STUDENT_CASES[1], "en"), (*STUDENT_CASES[0], "ru")],
)
def test_readme_strip_command_leaves_no_answer(
    family: str, options: dict, lang: str, tmp_path: Path
) -> None:
    """The README's nbconvert command turns the teacher edition into a student edition."""
    import shlex
    import subprocess
    import sys

    pytest.importorskip("nbconvert")
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    command = re.search(r"`(jupyter nbconvert [^`]*)`", readme).group(1)
    words = shlex.split(command)
    assert words[-1] == "lenet5.ipynb" and "student.ipynb" in words
    _, teacher, text = handout(family, lang=lang, **options)
    (tmp_path / "lenet5.ipynb").write_text(text, encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "nbconvert", *words[2:]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    stripped = (tmp_path / "student.ipynb").read_text(encoding="utf-8")
    assert len(json.loads(stripped)["cells"]) < len(teacher["cells"])
    spec = make_spec(family, **options)
    assert_no_answer(stripped, exercises(solve(spec), lang, spec.preset))
    assert "План (размеры без размерности батча B):" not in stripped
    # Cell for cell the --student edition, but for the title cell's command line.
    _, student, _ = handout(family, lang=lang, student=True, **options)
    cells = [c["source"] for c in json.loads(stripped)["cells"]]
    assert cells[1:] == [c["source"] for c in student["cells"]][1:]


def checker(text: str) -> dict:
    """The notebook's `check` function, defined in a fresh namespace."""
    data = json.loads(text)
    (cell,) = [c for c in data["cells"] if "checker" in c["metadata"].get("tags", [])]
    namespace: dict = {}
    exec("".join(cell["source"]), namespace)
    return namespace


def test_check_takes_whole_numbers_only_and_hashes_slowly() -> None:
    _, _, text = handout("classifier", student=True, preset="lenet5")
    found = found_exercises("classifier", preset="lenet5")
    namespace = checker(text)
    check = namespace["check"]
    flatten = next(n for n, e in enumerate(found, 1) if e.expected == 784)
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        assert check(flatten, 784) is True
        assert check(flatten, 784.0) is True
        assert check(flatten, 784.9) is False
        assert check(flatten, 785) is False
        assert check(flatten, "784") is False
        assert check(flatten, None) is None
        padding = next(n for n, e in enumerate(found, 1) if e.expected == (3, 3))
        assert check(padding, 3) is True and check(padding, (3, 3)) is True
        assert check(padding, (3, 3, 3)) is False
    assert "whole numbers" in printed.getvalue()
    assert namespace["ITERATIONS"] >= 200_000
    salts = namespace["ANSWER_SALTS"]
    assert len(set(salts.values())) == len(salts)
    assert "determined student can still" in check.__doc__


def test_no_exercise_restates_its_answer() -> None:
    cases = [*STUDENT_CASES, *[MATRIX[name] for name in ("unet-odd", "depthwise", "vgg")]]
    for family, options in cases:
        for exercise in found_exercises(family, **options):
            values = (
                exercise.expected if isinstance(exercise.expected, tuple) else (exercise.expected,)
            )
            spelled = "x".join(str(v) for v in values)
            assert not re.search(rf"(?<![\dx]){spelled}(?![\dx])", exercise.question), (
                exercise.question
            )


def test_lenet_handout_has_the_course_questions() -> None:
    found = found_exercises("classifier", preset="lenet5")
    expected = [e.expected for e in found]
    # One neuron of fc1 (400 weights and a bias), the numbers after conv1, the blocks
    # that fit a 32x32 input, the sizes without padding, and the padding of a 3x3 kernel.
    for value in (401, 4704, 5, (24, 12, 8, 4), (1, 1)):
        assert value in expected
    _, data, _ = handout("classifier", lang="ru", preset="lenet5")
    text = "\n".join(sources(data, "markdown"))
    assert "14x14" in text and "10x10, что и" not in text


@pytest.mark.slow
def test_student_edition_runs_and_checks_answers(tmp_path: Path) -> None:
    _, data, text = handout("classifier", preset="lenet5", student=True)
    found = found_exercises("classifier", preset="lenet5")
    notebook = nbformat.reads(text, as_version=4)
    tries = [cell for cell in notebook.cells if "exercise" in cell.metadata.get("tags", [])]
    tries[0].source = tries[0].source.replace("answer = None", f"answer = {found[0].expected!r}")
    tries[1].source = tries[1].source.replace("answer = None", "answer = (1, 2, 3)")
    tries[2].source = tries[2].source.replace("answer = None", f"answer = {found[2].expected}")
    executed = run_notebook(nbformat.writes(notebook), tmp_path)
    printed = [
        "".join(o.get("text", "") for o in cell.outputs)
        for cell in executed.cells
        if "exercise" in cell.metadata.get("tags", [])
    ]
    assert "right" in printed[0] and "not yet" in printed[1] and "right" in printed[2]
    assert "answer" in printed[3]  # left empty: asks for an answer, does not fail


CYRILLIC = re.compile("[а-яё]", re.IGNORECASE)
# English function words standing alone (a hyphenated term such as squeeze-and-excitation
# is a name, not a sentence).
ENGLISH = re.compile(r"(?<![-\w])(the|is|are|of|and|with|which|this|that|it)(?![-\w])")


def prose(markdown: str) -> str:
    """Markdown without code spans, code blocks and identifiers, where English is allowed."""
    markdown = re.sub(r"```.*?```", "", markdown, flags=re.DOTALL)
    return re.sub(r"`[^`]*`", "", markdown)


@pytest.mark.slow
def test_russian_lenet_handout_is_in_russian_and_runs(tmp_path: Path) -> None:
    _, data, text = handout("classifier", lang="ru", preset="lenet5")
    cells = sources(data, "markdown")
    russian = [cell for cell in cells if CYRILLIC.search(prose(cell))]
    assert len(russian) >= 0.9 * len(cells)
    english = [cell for cell in cells if ENGLISH.search(prose(cell))]
    assert english == []
    assert data["metadata"]["language"] == "ru"
    notebook = run_notebook(text, tmp_path)
    errors = [
        o
        for c in notebook.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error"
    ]
    assert errors == []


def test_lessons_follow_the_architecture() -> None:
    def headings(family: str, **options) -> str:
        return "\n".join(
            s.splitlines()[0] for s in sources(handout(family, **options)[1], "markdown")
        )

    residual = headings("classifier", input_size=(32, 32), block="residual", se=True, layers=2)
    assert "Residual blocks" in residual and "Squeeze-and-excitation" in residual
    assert "Transposed" not in residual and "Rotation" not in residual
    assert "Transposed convolutions" in headings("forecaster", input_size=(16, 16), layers=2)
    assert "Depthwise-separable" in headings("classifier", input_size=(32, 32), depthwise=True)
    assert "Rotation invariance" in headings("equivariant", input_size=(28, 28), layers=2)
    lenet = headings("classifier", preset="lenet5")
    assert "Where this architecture comes from" in lenet and "Receptive field" in lenet
    assert "Receptive field" in headings("encoder", input_size=(40,), layers=2)


def test_walk_through_keeps_se_and_second_convolutions() -> None:
    plan, data, _ = handout("classifier", input_size=(32, 32), block="residual", se=True, layers=2)
    layers = "\n".join(s for s in sources(data, "markdown") if s.startswith("### Layer "))
    for stage in plan.stages:
        for name, op in stage.all_ops():
            if op.kind in ("conv", "squeeze_excite", "linear"):
                assert f"`{name}`" in layers, name


def test_depthwise_exercise_and_lesson_show_groups() -> None:
    plan, data, _ = handout("classifier", input_size=(32, 32), depthwise=True, layers=2)
    text = "\n".join(sources(data))
    assert "groups=" in text
    depthwise = next(s for s in sources(data, "markdown") if "Depthwise-separable" in s)
    # The slides' comparison: 3x3 kernel, parameters and MACs of both.
    assert "depthwise + pointwise" in depthwise and "times fewer operations" in depthwise


def test_cli_student_and_lang(run_cli, tmp_path: Path) -> None:
    target = tmp_path / "lenet-ru.ipynb"
    result = run_cli(
        "handout",
        "classifier",
        "--preset",
        "lenet5",
        "--student",
        "--lang",
        "ru",
        "-o",
        str(target),
    )
    assert result.code == 0, result.err
    data = json.loads(target.read_text(encoding="utf-8"))
    first = "".join(data["cells"][0]["source"])
    assert "--student --lang ru" in first and "Вход" in first
    assert tagged(data, ANSWER_TAGS + CHECK_TAGS) == []
    bad = run_cli("handout", "classifier", "--preset", "lenet5", "--lang", "de")
    assert bad.code == 2 and bad.err.startswith("Error: ")


# ------------------------------------------------------------ every handout runs
def execute(text: str) -> str:
    """Run a notebook's code cells in order in one fresh namespace, as a kernel would.

    Faster than a kernel per notebook, so the whole matrix below can run; the
    tests above run real kernels through nbclient.  Returns what was printed.
    """
    data = json.loads(text)
    namespace: dict = {"__name__": "__main__"}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for index, cell in enumerate(data["cells"]):
            if cell["cell_type"] == "code":
                exec(compile("".join(cell["source"]), f"<cell {index}>", "exec"), namespace)
    return printed.getvalue()


MATRIX = {
    "encoder-1d": ("encoder", {"input_size": (40,), "layers": 2}),
    "encoder-3d": ("encoder", {"input_size": (6, 10, 12), "layers": 2, "start_channels": 4}),
    "forecaster-latent": ("forecaster", {"input_size": (17, 23), "layers": 3, "latent": 16}),
    "decoder": ("decoder", {"input_size": (4, 5), "in_channels": 8, "layers": 2}),
    "plain": ("classifier", {"input_size": (20, 20), "layers": 2}),
    "vgg": ("classifier", {"input_size": (20, 20), "block": "vgg", "layers": 2}),
    "residual-flatten": (
        "classifier",
        {"input_size": (20, 20), "block": "residual", "layers": 3, "head": "flatten"},
    ),
    "bottleneck-se": (
        "classifier",
        {"input_size": (24, 24), "block": "bottleneck", "se": True, "layers": 2},
    ),
    "depthwise": ("classifier", {"input_size": (24, 24), "depthwise": True, "layers": 2}),
    "convnext": ("classifier", {"input_size": (32, 32), "block": "convnext", "layers": 2}),
    "equivariant": ("equivariant", {"input_size": (13, 13), "layers": 2, "start_channels": 4}),
    "group-conv": (
        "equivariant",
        {"input_size": (13, 13), "layers": 2, "start_channels": 4, "group_conv": True},
    ),
    "group-conv-d4-harmonic": (
        "equivariant",
        {"input_size": (13, 13), "layers": 2, "start_channels": 2, "group_conv": True,
         "group": "d4", "basis": "harmonic", "kernel": (5,)},
    ),
    "unet-odd": ("unet", {"input_size": (19, 23), "layers": 2, "start_channels": 4}),
    "unet-residual": (
        "unet",
        {"input_size": (19, 23), "layers": 2, "start_channels": 4, "residual_units": True,
         "upsample": "pixelshuffle", "downsample": "stride"},
    ),
    **{
        preset: ("classifier", {"preset": preset, "input_size": (32, 32)})
        for preset in (
            "lenet5",
            "alexnet",
            "vgg11",
            "googlenet",
            "resnet18",
            "resnet50",
            "se_resnet18",
            "mobilenet_v2",
            "convnext_tiny",
        )
    },
}
# The other presets are deeper or wider versions of those above (the same
# builders, one more stage or a BatchNorm): each runs once, the four editions
# taken in turn.
OTHER_PRESETS = [
    preset
    for preset in PRESETS
    if ("classifier", {"preset": preset, "input_size": (32, 32)}) not in MATRIX.values()
]
EDITIONS = [("en", False), ("ru", True), ("ru", False), ("en", True)]


@pytest.mark.slow
@pytest.mark.parametrize("student", [False, True], ids=["teacher", "student"])
@pytest.mark.parametrize("lang", ["en", "ru"])
@pytest.mark.parametrize("name", list(MATRIX))
def test_every_handout_runs(name: str, lang: str, student: bool) -> None:
    family, options = MATRIX[name]
    _, _, text = handout(family, lang=lang, student=student, **options)
    printed = execute(text)
    t = Messages(lang)
    assert f"{t('label.output')} (2, " in printed  # the random batch went through
    assert t("label.expected") not in printed  # no layer disagreed with the plan


@pytest.mark.slow
@pytest.mark.parametrize("preset", OTHER_PRESETS)
def test_every_other_preset_handout_runs(preset: str) -> None:
    lang, student = EDITIONS[OTHER_PRESETS.index(preset) % len(EDITIONS)]
    _, _, text = handout(
        "classifier", lang=lang, student=student, preset=preset, input_size=(32, 32)
    )
    printed = execute(text)
    t = Messages(lang)
    assert f"{t('label.output')} (2, " in printed
    assert t("label.expected") not in printed


def test_every_family_block_and_preset_has_a_handout_that_runs() -> None:
    """The two tests above cover each family, each block and each preset."""
    cases = list(MATRIX.values())
    assert {family for family, _ in cases} == set(FAMILIES)
    blocks = {options.get("block", "plain") for family, options in cases if family == "classifier"}
    assert blocks == set(BLOCKS)
    presets = {options["preset"] for _, options in cases if "preset" in options}
    assert presets | set(OTHER_PRESETS) == set(PRESETS) and len(OTHER_PRESETS) == 11


# ------------------------------------------------------------ Russian
def test_russian_plural_rule() -> None:
    t = Messages("ru")
    assert [t.count(n, "channel") for n in (1, 2, 5, 11, 12, 14, 21, 22, 25, 64, 111, 1024)] == [
        "1 канал",
        "2 канала",
        "5 каналов",
        "11 каналов",
        "12 каналов",
        "14 каналов",
        "21 канал",
        "22 канала",
        "25 каналов",
        "64 канала",
        "111 каналов",
        "1\u00a0024 канала",
    ]
    assert Messages("en").count(1, "channel") == "1 channel"
    assert Messages("en").count(3, "group") == "3 groups"


COUNTED = {
    "channel": ("канал", "канала", "каналов"),
    "group": ("группа", "группы", "групп"),
    "number": ("число", "числа", "чисел"),
    "position": ("позиция", "позиции", "позиций"),
    "feature": ("признак", "признака", "признаков"),
    "weight": ("вес", "веса", "весов"),
}


@pytest.mark.parametrize(
    "name", ["lenet5", "depthwise", "bottleneck-se", "mobilenet_v2", "googlenet", "vgg"]
)
def test_russian_numbers_agree_with_their_nouns(name: str) -> None:
    from cnngen.rendering.messages import plural

    family, options = MATRIX[name]
    _, data, text = handout(family, lang="ru", **options)
    prose = "\n".join(sources(data, "markdown"))
    checked = 0
    for noun, forms in COUNTED.items():
        pattern = rf"(?<![\w.,])(\d[\d\u00a0]*) ({'|'.join(forms)})(?![а-яё])"
        for number, word in re.findall(pattern, prose):
            assert word == plural("ru", int(number.replace("\u00a0", "")), noun), (number, word)
            checked += 1
    assert checked > 0
    assert "(а)" not in prose and "(и)" not in prose
    for awkward in ("ошибка в тексте, а не у вас", "Одни свёртки", "одни свёртки", "10x10, что"):
        assert awkward not in text


def test_russian_code_comments_docstrings_and_labels_are_russian() -> None:
    english = Messages("en")
    for name in ("lenet5", "residual-flatten", "bottleneck-se", "depthwise", "equivariant"):
        family, options = MATRIX[name]
        _, data, _ = handout(family, lang="ru", **options)
        code = "\n".join(sources(data, "code")[1:])  # the model file has its own test
        for line in code.splitlines():
            comment = line.strip()
            if comment.startswith("#") and re.search("[a-z]{4,}", comment.removeprefix("#")):
                if "=" in comment or "(" in comment:
                    continue  # starter code to uncomment
                assert CYRILLIC.search(comment), comment
        for key in ("label.main", "label.scale", "label.output", "label.expected", "check.right"):
            assert f"{english.raw(key)!r}" not in code and f'"{english.raw(key)}' not in code
    namespace = checker(handout("classifier", lang="ru", preset="lenet5")[2])
    assert CYRILLIC.search(namespace["check"].__doc__)


def test_calc_speaks_russian(run_cli) -> None:
    result = run_cli(
        "calc",
        "conv",
        "--input",
        "28",
        "--kernel",
        "3",
        "--padding",
        "1",
        "--layers",
        "21",
        "--lang",
        "ru",
    )
    assert result.code == 0, result.err
    assert "измерение 1: floor(" in result.out
    assert "тот же слой 21 раз:" in result.out and "после 21 слоя: 28" in result.out
    solved = run_cli(
        "calc",
        "pool",
        "--input",
        "32",
        "--kernel",
        "2",
        "--output",
        "16",
        "--solve",
        "stride",
        "--lang",
        "ru",
    )
    assert solved.code == 0, solved.err
    assert "окна начинаются в 0" in solved.out and "проверка stride 2" in solved.out
    assert not re.search(r"\b(searched|check|needs|windows|gives)\b", solved.out)
    english = run_cli("calc", "conv", "--input", "28", "--kernel", "3", "--layers", "3")
    assert "the same layer 3 times:" in english.out and "after 3 layers: 22" in english.out


def headings(family: str, lang: str = "en", **options) -> list[str]:
    _, data, _ = handout(family, lang=lang, **options)
    return [
        s.splitlines()[0].split(". ", 1)[1]
        for s in sources(data, "markdown")
        if s.startswith("## ")
    ]


@pytest.mark.parametrize(
    ("preset", "lesson"),
    [
        ("alexnet", "AlexNet's first layer"),
        ("vgg16", "Stacked 3x3 convolutions"),
        ("googlenet", "Inception modules"),
        ("resnet18", "Residual blocks"),
        ("resnet50", "Bottleneck blocks"),
        ("se_resnet18", "Squeeze-and-excitation"),
        ("mobilenet_v2", "Inverted residual blocks"),
    ],
)
def test_every_preset_has_a_lesson_on_its_architecture(preset: str, lesson: str) -> None:
    assert lesson in headings("classifier", preset=preset, input_size=(64, 64))


def test_architecture_lessons_say_what_the_papers_differ_in() -> None:
    def lesson(title: str, family: str, lang: str = "en", **options) -> str:
        _, data, _ = handout(family, lang=lang, **options)
        return next(s for s in sources(data, "markdown") if title in s.splitlines()[0])

    alexnet = lesson("AlexNet's first layer", "classifier", preset="alexnet")
    assert "has 64 filters" in alexnet and "The paper has 96" in alexnet
    inception = lesson("Inception modules", "classifier", preset="googlenet", input_size=(64, 64))
    assert "5x5" in inception and "uses a 3x3 there" in inception
    assert "Residual blocks" in headings("classifier", preset="resnet18", input_size=(64, 64))
    unet = lesson("Skip connections", "unet", **MATRIX["unet-odd"][1])
    assert "*concatenates*" in unet
    p4 = lesson("Поднимающие", "equivariant", lang="ru", **MATRIX["group-conv"][1])
    # Orientations are channels (c * 4 + r), never called a depth.
    assert "ориентацию `r` канала `c`" in p4 and "глубин" not in p4
    _, data, _ = handout("equivariant", lang="ru", **MATRIX["group-conv"][1])
    assert "глубина" not in "\n".join(sources(data))


# ------------------------------------------------------------ topics
def topic(name: str, lang: str = "en", student: bool = False) -> str:
    from cnngen.rendering.topics import render_topic

    return render_topic(name, f"handout {name}", lang, student)


@pytest.mark.slow
@pytest.mark.parametrize("student", [False, True], ids=["teacher", "student"])
@pytest.mark.parametrize("lang", ["en", "ru"])
def test_conv_handout_checks_every_step_against_torch(lang: str, student: bool) -> None:
    text = topic("conv", lang, student)
    printed = execute(text)
    t = Messages(lang)
    for label, shape in (
        ("label.plain", "(2, 5, 7)"),
        ("label.stride", "(2, 3, 4)"),
        ("label.padded", "(2, 7, 9)"),
        ("label.dilated", "(2, 3, 5)"),
        ("label.columns", "(27, 20)"),
    ):
        assert f"{t(label)} {shape}" in printed
    assert ("<details>" in text) is not student
    if lang == "ru":
        data = json.loads(text)
        assert all(CYRILLIC.search(prose(s)) for s in sources(data, "markdown") if prose(s).strip())


def test_conv_handout_exercises_check_answers() -> None:
    namespace = checker(topic("conv", student=True))
    with contextlib.redirect_stdout(io.StringIO()):
        assert namespace["check"](1, (13, 13)) is True
        assert namespace["check"](2, 144) is True
        assert namespace["check"](3, 1024) is True
        assert namespace["check"](4, 3) is True and namespace["check"](4, 2) is False


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "ru"])
def test_train_handout_learns_the_digits_on_a_cpu(lang: str) -> None:
    pytest.importorskip("sklearn")
    import time

    # Processor time, not wall time: a busy machine must not fail a run that did its work.
    start = time.process_time()
    printed = execute(topic("train", lang))
    assert time.process_time() - start < 120
    t = Messages(lang)
    accuracy, macro_f1 = re.search(
        rf"{t('label.accuracy')} ([\d.]+)  macro-F1 ([\d.]+)", printed
    ).groups()
    assert float(accuracy) >= 0.7 and float(macro_f1) >= 0.7
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        assert t("topic.train.no_matplotlib") in printed  # the curves are printed instead


@pytest.mark.slow
def test_conv_handout_runs_in_a_kernel(tmp_path: Path) -> None:
    notebook = run_notebook(topic("conv", "ru"), tmp_path)
    errors = [
        o
        for c in notebook.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error"
    ]
    assert errors == []


@pytest.mark.slow
@pytest.mark.parametrize("student", [False, True], ids=["teacher", "student"])
@pytest.mark.parametrize("lang", ["en", "ru"])
def test_transfer_handout_fine_tunes_a_frozen_model(lang: str, student: bool) -> None:
    """The frozen features stay put, the new head has its shape, and fine-tuning wins.

    Every edition runs in one namespace: a real kernel adds minutes here and is
    covered by the other handouts' kernel runs.
    """
    pytest.importorskip("sklearn")
    text = topic("transfer", lang, student)
    printed = execute(text)
    t = Messages(lang)
    assert f"{t('label.changed')} []" in printed  # batch norm's buffers included
    assert f"{t('label.head_weight')} (5, 2048)" in printed
    old = float(re.search(rf"{t('label.old_accuracy')} ([\d.]+)", printed).group(1))
    tuned, scratch = re.search(
        rf"{t('label.mean')}  {t('label.fine_tuned')} ([\d.]+)  {t('label.scratch')} ([\d.]+)",
        printed,
    ).groups()
    assert old >= 0.9 and float(tuned) > float(scratch) > 0.2  # better than chance, both
    assert ("<details>" in text) is not student
    data = json.loads(text)
    if student:
        assert tagged(data, ANSWER_TAGS + CHECK_TAGS) == []
        # The plan table would give away the parameter counts the exercises ask for.
        assert "10,245" not in text and "10\u00a0245" not in text and "4848" not in text
    else:
        lines = printed.splitlines()
        assert {"4848", "14343", "14917"} <= set(lines)  # the hidden checks' own values
    if lang == "ru":
        assert all(CYRILLIC.search(prose(s)) for s in sources(data, "markdown") if prose(s).strip())


def test_transfer_handout_exercises_check_answers() -> None:
    namespace = checker(topic("transfer", student=True))
    with contextlib.redirect_stdout(io.StringIO()):
        assert namespace["check"](1, 4848) is True
        assert namespace["check"](2, 14343) is True
        assert namespace["check"](3, 14917) is True and namespace["check"](3, 10245) is False


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "ru"])
def test_c4_handout_reproduces_the_shape_of_the_articles_table(lang: str) -> None:
    """Plain and C4 models of one size: both learn upright digits, only C4 keeps turned ones.

    One edition runs per language (English teacher, Russian student); the other
    edition of each is checked to hold the very same code.
    """
    pytest.importorskip("sklearn")
    student = lang == "ru"
    text = topic("c4", lang, student)
    other = json.loads(topic("c4", lang, not student))
    assert sources(json.loads(text), "code") == sources(other, "code")
    printed = execute(text)
    t = Messages(lang)
    rows = {}
    for name in (t("label.plain_model"), t("label.c4_model")):
        row = re.search(rf"\| {re.escape(name)} +\| +(\d+) \| +([\d.,]+)% \| +([\d.,]+)% \|", printed)
        count, upright, turned = row.groups()
        rows[name] = (int(count), float(upright.replace(",", ".")), float(turned.replace(",", ".")))
    (plain, c4) = rows.values()
    assert plain[0] == c4[0]  # the same parameters
    assert plain[1] >= 90 and c4[1] >= 90 and plain[2] < plain[1] - 30 and c4[2] == c4[1]
    assert ("<details>" in text) is not student
    if lang == "ru":
        assert "," in printed.split(t("label.c4_model"))[-1]  # Russian decimal sign


def test_cli_topics(run_cli, tmp_path: Path) -> None:
    target = tmp_path / "conv.ipynb"
    result = run_cli("handout", "conv", "--lang", "ru", "-o", str(target))
    assert result.code == 0, result.err
    data = json.loads(target.read_text(encoding="utf-8"))
    assert f"cnngen handout conv --output {target} --lang ru" in "".join(data["cells"][0]["source"])
    refused = run_cli("handout", "train", "--layers", "3")
    assert refused.code == 2 and refused.err.startswith("Error: --layers: ")
    missing = run_cli("handout")
    assert missing.code == 2 and "conv, train, transfer, c4" in missing.err
    transfer = tmp_path / "transfer.ipynb"
    result = run_cli("handout", "transfer", "--student", "-o", str(transfer))
    assert result.code == 0, result.err
    data = json.loads(transfer.read_text(encoding="utf-8"))
    assert "cnngen handout transfer --output" in "".join(data["cells"][0]["source"])


def test_cli_preset_handout_defaults_to_the_papers_input(run_cli, tmp_path: Path) -> None:
    target = tmp_path / "resnet.ipynb"
    assert run_cli("handout", "classifier", "--preset", "resnet18", "-o", str(target)).code == 0
    first = "".join(json.loads(target.read_text())["cells"][0]["source"])
    assert "Input 3x224x224 → output 1000" in first and "--in-channels 3 --classes 1000" in first
    lenet = tmp_path / "lenet.ipynb"
    assert run_cli("handout", "classifier", "--preset", "lenet5", "-o", str(lenet)).code == 0
    assert "Input 1x28x28 → output 10" in "".join(
        json.loads(lenet.read_text())["cells"][0]["source"]
    )
    small = tmp_path / "small.ipynb"
    args = ("handout", "classifier", "--preset", "vgg11", "-i", "32x32", "--classes", "5")
    assert run_cli(*args, "-o", str(small)).code == 0
    assert "Input 3x32x32 → output 5" in "".join(
        json.loads(small.read_text())["cells"][0]["source"]
    )
