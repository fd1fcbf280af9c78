"""Errors that teach: every bad input is one line naming the option, with exit status 2.

Each row is a command line that must fail, the parameter the message must
name, and a fragment showing the message says what would work.  Rows marked
``writes`` also get ``-o FILE`` (new and existing, with ``--force``) and must
leave the disk untouched.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

# (arguments, named parameter, a fragment of the advice, writes a file)
CASES: list[tuple[str, str, str, bool]] = [
    # ---- plan / model: the solver and the spec
    ("model encoder -i 100 -n 30 --stride 2", "--layers", "at most 4 layers fit", True),
    ("model equivariant -i 28x32", "--input-size", "e.g. 32x32", True),
    ("model equivariant -i 100", "--input-size", "a 1D signal has no quarter turns", True),
    ("model encoder -i 100 --activation rleu", "--activation", "did you mean 'relu'?", True),
    ("model encoder -i 100 --norm batch", "--norm", "did you mean 'batchnorm'?", True),
    ("model encoder -i 100 --padding full", "--padding", "choose one of: auto, same, valid", True),
    ("model forcaster -i 5", "FAMILY", "did you mean 'forecaster'?", True),
    ("plan encoder -i 0", "--input-size", "must be >= 1", False),
    ("plan encoder -i 4x4x4x4", "--input-size", "e.g. 1000, 64x64 or 16x64x64", False),
    ("plan encoder -i 10x", "--input-size", "expected sizes like 100, 100x100", False),
    ("plan encoder -i 100 --dropout 2", "--dropout", "must be in [0, 1)", False),
    (
        "plan encoder -i 100 --min-channels 64 --max-channels 32",
        "--min-channels",
        "use at most 32",
        False,
    ),
    (
        "plan encoder -i 100 --start-channels 1000",
        "--start-channels",
        "use a value in that range",
        False,
    ),
    ("plan encoder -i 100 --kernel 3x3", "--kernel", "e.g. --kernel 3", False),
    ("plan encoder -i 100 --min-size 200", "--min-size", "use at most 100", False),
    ("plan encoder -i 100 --min-size 5 --target-size 10", "--target-size", "not both", False),
    (
        "plan encoder -i 100 --out-channels 5",
        "--out-channels",
        "only forecasters, decoders and unets take it",
        False,
    ),
    ("plan encoder -i 100 --latent 4", "--latent", "cnngen model forecaster", False),
    (
        "plan encoder -i 100 --block residual",
        "--block",
        "cnngen model classifier --block residual",
        False,
    ),
    (
        "plan classifier -i 32x32 --block residual --padding valid",
        "--padding",
        "use --padding auto or same",
        False,
    ),
    ("plan classifier -i 100 --preset lenet6", "--preset", "did you mean 'lenet5'?", False),
    ("plan encoder --preset lenet5", "--preset", "cnngen model classifier --preset lenet5", False),
    ("model classifier -i 32x32 --name 1bad", "--name", "e.g. 'MyModel'", True),
    ("plan encoder -i 5 --kernel 7 --padding valid", "--layers", "--padding auto", False),
    ("plan encoder -i 100 --layers 0", "--layers", "must be >= 1, got 0", False),
    ("model forecaster -i 100 --out-depth 3", "--out-depth", "needs a 3D input", True),
    # ---- Click's own errors, made one line
    ("plan encoder -i 100 --layer 3", "--layer", "did you mean --layers?", False),
    ("model encoder -i 100 -n x", "--layers", "give a whole number", True),
    ("plan encoder -i 100 --ratio abc", "--ratio", "give a number", False),
    ("plan encoder -i 100 -n", "--layers", "needs a value after it", False),
    ("plan", "FAMILY", "give one of encoder, forecaster, decoder, classifier, equivariant", False),
    ("plna encoder", "plna", "did you mean 'plan'?", False),
    ("model encoder -i 100 extra", "extra", "usage: cnngen model [OPTIONS] [FAMILY]", True),
    # ---- output handling
    ("model encoder -i 100 -o /nonexistent-folder/x.py", "--output", "create it first", False),
    ("model encoder -i 100 --check", "--check", "give one with -o FILE", False),
    ("model encoder -i 100 --dry-run", "--dry-run", "give one with -o FILE", False),
    ("plan encoder -i 100 --svg /nonexistent-folder/x.svg", "--svg", "create it first", False),
    ("model encoder -i 100 --config /nonexistent.toml", "--config", "does not exist", True),
    # ---- calc
    ("calc conv2 --input 3 --kernel 3", "OPERATION", "did you mean 'conv'?", False),
    ("calc conv --input 3", "--kernel", "see 'cnngen calc --help'", False),
    ("calc conv --input 3 --kernel 5", "--kernel", "use a smaller kernel", False),
    ("calc conv --input 28 --kernel 3 --stride 0", "--stride", "must be >= 1, got 0", False),
    (
        "calc conv --input 28 --kernel 3 --output-padding 1",
        "--output-padding",
        "only transposed",
        False,
    ),
    ("calc pool --input 28 --kernel 2 --padding 2", "--padding", "at most half the kernel", False),
    (
        "calc transposed --input 28 --kernel 3 --stride 2 --output-padding 2",
        "--output-padding",
        "smaller than stride",
        False,
    ),
    ("calc conv --input 28x28 --kernel 3x3x3", "--kernel", "1 or 2 values", False),
    ("calc conv --input 28 --kernel 3 --ceil-mode", "--ceil-mode", "only pooling", False),
    # ---- handout
    ("handout encoder -i 100 -n 30 --stride 2", "--layers", "at most 4 layers fit", True),
    ("handout equivariant -i 28x30", "--input-size", "e.g. 30x30", True),
    ("handout", "FAMILY", "give a model family", False),
    # ---- verify, dataset, train, project
    ("verify", "FILE", "see 'cnngen verify --help'", False),
    ("verify /nonexistent-model.py", "FILE", "does not exist", False),
    ("verify model.py --device tpu", "--device", "did you mean 'cpu'?", False),
    ("train", "--task", "see 'cnngen train --help'", False),
    ("train --task forecast --model-class X", "--task", "did you mean 'forecasting'?", True),
    ("train --task classification --model-class 1x", "--model-class", "e.g. 'MyModel'", True),
    ("dataset", "COMMAND", "arrays, folder, idx, synthetic, windows", False),
    ("dataset windows --pre-history 0", "--pre-history", "must be >= 1", True),
    ("dataset windows --val-fraction 2", "--val-fraction", "e.g. --val-fraction 0.2", True),
    ("dataset synthetic circles", "KIND", "moving-square, noisy-square, shapes", True),
    ("dataset synthetic shapes --classes 9", "--classes", "use --classes 6 or fewer", True),
    ("project", "FOLDER", "see 'cnngen project --help'", False),
    (
        "project demo --family encoder",
        "--family",
        "choose forecaster, classifier, equivariant or unet",
        False,
    ),
    ("project demo --epochs 0", "--epochs", "must be >= 1", False),
]


def check_one_line(result, named: str, advice: str) -> str:
    assert result.code == 2, (result.code, result.err)
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    (line,) = lines
    assert line.startswith("Error: "), line
    assert "Traceback" not in result.err
    assert named in line, line
    assert advice in line, line
    return line


@pytest.mark.parametrize(
    ("arguments", "named", "advice", "writes"), CASES, ids=[c[0] for c in CASES]
)
def test_bad_input_is_one_teaching_line(
    run_cli, tmp_path: Path, monkeypatch, arguments: str, named: str, advice: str, writes: bool
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("model.py").write_text("# an existing model\n")
    result = run_cli(*shlex.split(arguments))
    check_one_line(result, named, advice)
    assert result.out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.py"]  # nothing written


def test_enough_kinds_of_bad_input() -> None:
    commands = {arguments.split()[0] for arguments, *_ in CASES}
    assert len(CASES) >= 30
    assert {"plan", "model", "calc", "handout"} <= commands


WRITING = [case for case in CASES if case[3]]


@pytest.mark.parametrize(
    ("arguments", "named", "advice", "writes"), WRITING, ids=[c[0] for c in WRITING]
)
def test_nothing_is_created_or_changed(
    run_cli, tmp_path: Path, arguments: str, named: str, advice: str, writes: bool
) -> None:
    new = tmp_path / "new.py"
    check_one_line(run_cli(*shlex.split(arguments), "-o", str(new)), named, advice)
    assert not new.exists()
    existing = tmp_path / "existing.py"
    existing.write_text("keep\n")
    check_one_line(run_cli(*shlex.split(arguments), "-o", str(existing), "--force"), named, advice)
    assert existing.read_text() == "keep\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing.py"]


def test_existing_file_without_force(run_cli, tmp_path: Path) -> None:
    existing = tmp_path / "m.py"
    existing.write_text("keep\n")
    line = check_one_line(
        run_cli("model", "encoder", "-i", "64", "-o", str(existing)), "--output", "pass --force"
    )
    assert line == f"Error: --output: {existing} exists; pass --force to overwrite it"
    assert existing.read_text() == "keep\n"


def test_internal_errors_ask_for_a_bug_report(run_cli, monkeypatch) -> None:
    import cnngen.core.solver

    def broken(spec):
        raise RuntimeError("solver exploded\nwith two lines")

    monkeypatch.setattr(cnngen.core.solver, "solve", broken)
    result = run_cli("plan", "encoder", "-i", "10")
    assert result.code == 1
    assert result.err.splitlines() == [
        "Error: internal error (RuntimeError: solver exploded with two lines). This is a cnngen "
        "bug; please report it with the command: cnngen plan encoder -i 10"
    ]


def test_template_bugs_are_reported_as_bugs_and_write_nothing(
    run_cli, monkeypatch, tmp_path
) -> None:
    from cnngen.rendering import engine as render

    monkeypatch.setattr(render, "render_template", lambda name, **context: "def broken(:\n")
    target = tmp_path / "m.py"
    result = run_cli("model", "encoder", "-i", "10", "-o", str(target))
    assert result.code == 1
    assert result.err.startswith("Error: internal error (template model.py.jinja rendered Python")
    assert "please report it with the command: cnngen model encoder -i 10 -o" in result.err
    assert not target.exists()


def test_bare_cnngen_shows_help(run_cli) -> None:
    result = run_cli()
    assert result.code == 0
    assert result.out.startswith("Usage: cnngen [OPTIONS] COMMAND [ARGS]...")
    assert "Commands:" in result.out and "handout" in result.out


def test_every_help_has_an_example(run_cli) -> None:
    from cnngen import cli

    run_cli("--version")

    def leaves(command, path):
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                yield from leaves(sub, [*path, name])
        else:
            yield path

    paths = list(leaves(cli.cli, []))
    assert len(paths) >= 4
    for path in paths:
        result = run_cli(*path, "--help")
        assert result.code == 0
        assert "Example" in result.out, path
        assert "--config FILE" in result.out, path


@pytest.mark.parametrize(
    ("words", "cword", "expected"),
    [
        ("cnngen pl", "1", "plain,plan"),
        ("cnngen model for", "2", "plain,forecaster"),
        ("cnngen plan encoder --activation leak", "4", "plain,leaky_relu"),
        ("cnngen plan encoder --lay", "3", "plain,--layers"),
    ],
)
def test_shell_completion(run_cli, monkeypatch, words: str, cword: str, expected: str) -> None:
    """What `eval "$(_CNNGEN_COMPLETE=bash_source cnngen)"` asks the CLI for on <TAB>."""
    monkeypatch.setenv("_CNNGEN_COMPLETE", "bash_complete")
    monkeypatch.setenv("COMP_WORDS", words)
    monkeypatch.setenv("COMP_CWORD", cword)
    result = run_cli()
    assert result.code == 0
    assert result.out.splitlines() == [expected]
