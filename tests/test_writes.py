"""What a run writes, and how: the regenerate line, the config file never overwritten,
deep configs, clean-up on signals, export's targets and the verify parent's bounded reads."""

from __future__ import annotations

import ast
import os
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnngen.cli.config import bracket_depth, tomllib
from cnngen.rendering.escape import shell_word
from cnngen.verify.runner import read_lines

REPO = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(REPO)}
OPTIONS = ["-i", "32", "-n", "4", "--start-channels", "32"]
NAMES = [
    "plain.py",
    "with space.py",
    'quote\'s "double".py',
    "$(touch pwned).py",
    "`tick`.py",
    "ünï cødé.py",
    "new\nline.py",
    "tab\tand\x1b[31mred.py",
    "-dash.py",
    "back\\slash %s.py",
    "line\u2028sep.py",
]


def regenerate_line(path: Path) -> str:
    """The command the file's docstring says regenerates it."""
    doc = ast.get_docstring(ast.parse(path.read_text()), clean=False) or ""
    (line,) = [line.strip() for line in doc.splitlines() if line.strip().startswith("cnngen ")]
    return line


def sh_words(line: str) -> list[str]:
    """How a POSIX shell (``sh``) splits ``line``: a stub ``cnngen`` prints its argv."""
    stub = 'cnngen() { for word in "$@"; do printf "%s\\0" "$word"; done; }; '
    done = subprocess.run(["sh", "-c", stub + line], capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return [word.decode("utf-8", "surrogateescape") for word in done.stdout.split(b"\0")[:-1]]


# ------------------------------------------------------------------ the regenerate line
def test_options_equal_to_their_defaults_are_recorded(run_cli, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_cli("model", "encoder", *OPTIONS, "-o", "m.py", "--save-config", "m.toml")
    assert result.code == 0, result.err
    words = shlex.split(regenerate_line(Path("m.py")))
    assert words == [
        "cnngen", "model", "encoder", "--input-size", "32", "--layers", "4",
        "--start-channels", "32", "--output", "m.py",
    ]  # fmt: skip
    saved = tomllib.loads(Path("m.toml").read_text())
    assert saved["layers"] == 4 and saved["start-channels"] == 32
    # The saved config and the header reproduce the very same file.
    again = run_cli("model", "--config", "m.toml", "--check")
    assert again.code == 0, again.err


def test_plan_svg_records_defaults_too(run_cli, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert run_cli("plan", "unet", "-i", "32x32", "-n", "4", "--svg", "u.svg").code == 0
    assert "--layers 4 --svg u.svg" in Path("u.svg").read_text()


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX sh")
@pytest.mark.parametrize("name", NAMES)
def test_the_regenerate_line_round_trips_through_sh(run_cli, tmp_path, monkeypatch, name) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_cli("model", "encoder", *OPTIONS, "-o", name)
    assert result.code == 0, result.err
    line = regenerate_line(Path(name))
    assert "\n" not in line
    assert sh_words(line) == [
        "model", "encoder", "--input-size", "32", "--layers", "4", "--start-channels", "32",
        "--output", name,
    ]  # fmt: skip
    assert not Path("pwned").exists()
    if all(char.isprintable() for char in name):
        assert shlex.split(line)[-1] == name
        if "\\" not in name and '""' not in name:
            # Pasted from the file as shown, not only as Python reads it.
            assert line in Path(name).read_text()


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX sh")
def test_running_the_regenerate_line_in_sh_regenerates_the_file(tmp_path: Path) -> None:
    name = 'it\'s a "model" $(touch pwned)\n.py'
    cli = f"{shlex.quote(sys.executable)} -m cnngen"
    made = subprocess.run(
        [sys.executable, "-m", "cnngen", "model", "encoder", *OPTIONS, "-o", name],
        cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    line = regenerate_line(tmp_path / name)
    check = subprocess.run(
        ["sh", "-c", f'cnngen() {{ {cli} "$@"; }}; {line} --check'],
        cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert check.returncode == 0, check.stderr
    assert sorted(os.listdir(tmp_path)) == [name]


@pytest.mark.parametrize("word", [*NAMES, "trailing newline\n", "bad\udcffbyte\x01"])
def test_every_shell_word_reads_back_in_bash(word: str) -> None:
    if shutil.which("bash") is None:
        pytest.skip("needs bash")
    done = subprocess.run(
        ["bash", "-c", f"printf '%s\\0' {shell_word(word)}"], capture_output=True, timeout=30
    )
    assert done.stdout.split(b"\0")[:-1] == [word.encode("utf-8", "surrogateescape")]


# ------------------------------------------------------------------ the config file itself
@pytest.mark.parametrize(
    "argv",
    [
        ["model", "--config", "c.toml", "--force"],  # output = "c.toml" inside the file
        ["model", "--config", "c.toml", "-o", "./c.toml", "--force"],
        ["model", "--config", "c.toml", "-o", "sub/../c.toml", "--force"],
        ["model", "--config", "c.toml", "-o", "hard.toml", "--force"],
        ["model", "--config", "c.toml", "-o", "link.toml", "--force"],
        ["model", "--config", "c.toml", "-o", "m.py", "--save-config", "c.toml", "--force"],
        ["model", "--config", "c.toml", "-o", "-", "--save-config", "c.toml", "--force"],
        ["handout", "--config", "c.toml", "-o", "c.toml", "--force"],
        ["plan", "--config", "c.toml", "--svg", "c.toml", "--force"],
        ["model", "--config", "c.toml", "-o", "c.toml", "--dry-run"],
    ],
)
def test_an_output_that_is_the_config_is_refused(run_cli, tmp_path, monkeypatch, argv) -> None:
    monkeypatch.chdir(tmp_path)
    text = 'family = "encoder"\ninput-size = 32\nlayers = 2\n'
    if argv[0] != "plan":
        text += 'output = "c.toml"\n'
    Path("c.toml").write_text(text)
    Path("sub").mkdir()
    os.link("c.toml", "hard.toml")
    os.symlink("c.toml", "link.toml")
    before = sorted(os.listdir("."))
    result = run_cli(*argv)
    assert result.code == 2, result.err
    (line,) = result.err.strip().splitlines()
    assert "is the --config file itself" in line
    assert Path("c.toml").read_text() == text
    assert sorted(os.listdir(".")) == before and os.listdir("sub") == []


@pytest.mark.parametrize(
    "value",
    ["[" * 20_000 + "]" * 20_000, "{a=" * 20_000 + "1" + "}" * 20_000, "[" * 20_000],
)
def test_a_deeply_nested_config_is_a_usage_error(run_cli, tmp_path, value) -> None:
    config = tmp_path / "deep.toml"
    config.write_text(f'family = "encoder"\ninput-size = {value}\n')
    result = run_cli("model", "--config", str(config))
    assert result.code == 2
    (line,) = result.err.strip().splitlines()
    assert line.startswith("Error: --config:") and "internal error" not in line


def test_bracket_depth_skips_strings_and_comments() -> None:
    assert bracket_depth("a = [[1], [2]]\nb = {c = [3]}") == 2
    assert bracket_depth("a = \"[[[[\"  # [[[[\nb = '{{{'") == 0
    assert bracket_depth("a = \"\"\"[[[\n[[\"\"\"\nb = '''{{'''\n[t]") == 1
    assert bracket_depth('a = "\\"[[" ') == 0


# ------------------------------------------------------------------ signals
SIGNAL_IN_BACKUP = textwrap.dedent(
    """
    import os, signal, sys
    from cnngen.cli import main
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    real = os.link
    def link(source, destination, *args, **kwargs):
        real(source, destination, *args, **kwargs)
        if str(destination).endswith(".link"):
            os.kill(os.getpid(), signal.SIGTERM)   # between the backup's link and its rename
    os.link = link
    main(sys.argv[1:])
    """
)


def test_a_signal_while_backing_up_leaves_no_hidden_link(tmp_path: Path) -> None:
    first = subprocess.run(
        [sys.executable, "-m", "cnngen", "project", "p", "-i", "16x16", "-n", "2"],
        cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    before = {path.name: path.read_bytes() for path in (tmp_path / "p").iterdir()}
    result = subprocess.run(
        [sys.executable, "-c", SIGNAL_IN_BACKUP, "project", "p", "-i", "16x16", "-n", "3",
         "--force"],
        cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == -15, result.stderr
    after = {path.name: path.read_bytes() for path in (tmp_path / "p").iterdir()}
    assert after == before
    assert sorted(os.listdir(tmp_path)) == ["p"]


# ------------------------------------------------------------------ the verify parent
def test_read_lines_keeps_at_most_the_limit_of_a_line() -> None:
    import io

    lines = list(
        read_lines(io.BytesIO(b"a\nbb\n\n" + b"x" * 50 + b"\nshort\n" + b"y" * 30).read, 10)
    )
    assert lines == [
        (b"a", False), (b"bb", False), (b"", False), (b"x" * 10, True), (b"short", False),
        (b"y" * 10, True),
    ]  # fmt: skip


def test_a_300_mb_line_costs_the_parent_a_bounded_tail() -> None:
    import tracemalloc

    chunk = b"z" * 2**20
    parts = iter([b"first\n", *([chunk] * 300), b"\nlast\n"])
    tracemalloc.start()
    try:
        lines = [(len(line), cut) for line, cut in read_lines(lambda n: next(parts, b""), 4096)]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert lines == [(5, False), (4096, True), (4, False)]
    assert peak < 8 * 2**20


@pytest.mark.slow
def test_verify_survives_a_file_that_floods_stderr(tmp_path: Path) -> None:
    """The child writes one 300 MB line and fails; the parent keeps a short tail only."""
    path = tmp_path / "noisy.py"
    path.write_text(
        "import sys\nsys.stderr.write('x' * (300 * 2**20))\nsys.stderr.write('\\nlast words\\n')\n"
        "raise SystemExit(3)\n"
    )
    # VmHWM is this process's own peak: ru_maxrss would carry over, across exec, the
    # peak of the (large) test process the child was forked from.
    code = (
        "import sys\n"
        "from cnngen.verify.runner import verify_file\n"
        "report = verify_file(sys.argv[1], timeout=120)\n"
        "status = open('/proc/self/status').read().split('VmHWM:')[1]\n"
        "print(int(status.split()[0]) // 1024)\n"
        "print(report['error']['message'])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], env=ENV, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    peak_mib, message = done.stdout.splitlines()[:2]
    assert int(peak_mib) < 200, peak_mib  # the line alone is 300 MiB
    assert "exit(3)" in message and len(message) < 1000


# ------------------------------------------------------------------ export
def cnngen_run(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cnngen", *argv],
        cwd=cwd, env=ENV, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    made = cnngen_run("model", "encoder", "-i", "16", "-n", "2", "-o", "m.py", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    return tmp_path / "m.py"


def test_export_refuses_a_folder_in_the_way_even_with_force(model_file: Path) -> None:
    folder = model_file.parent / "out" / "m.onnx"
    folder.mkdir(parents=True)
    (folder / "keep.txt").write_text("mine")
    result = cnngen_run("export", "m.py", "--out", "out", "--force", cwd=model_file.parent)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "out/m.onnx is a folder" in line
    assert sorted(os.listdir(model_file.parent / "out")) == ["m.onnx"]
    assert os.listdir(folder) == ["keep.txt"]


def test_export_of_a_model_whose_constructor_raises_is_one_line(model_file: Path) -> None:
    source = model_file.read_text().replace(
        "super().__init__()", "super().__init__()\n        raise RuntimeError('no weights here')", 1
    )
    model_file.write_text(source)
    result = cnngen_run("export", "m.py", "--out", "out", cwd=model_file.parent)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert "RuntimeError: no weights here (m.py line" in line and "cnngen bug" not in line
    assert not (model_file.parent / "out").exists()


UNTRACEABLE = """
import torch
from torch import nn

INPUT_SHAPE = (1, 16)
OUTPUT_SHAPE = (1, 16)


class Model(nn.Module):
    def forward(self, x):
        if x.sum() > 0:  # data-dependent control flow: torch.export cannot trace it
            return x * 2
        return x
"""


@pytest.mark.slow
def test_export_of_a_model_torch_export_cannot_trace_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "u.py").write_text(UNTRACEABLE)
    result = cnngen_run("export", "u.py", "--out", "out", cwd=tmp_path)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("Error: MODEL.py: u.py: Model cannot be exported:")
    assert "cnngen bug" not in line and "(u.py line 11)" in line
    assert os.listdir(tmp_path / "out") == []


SIGNAL_IN_EXPORT = textwrap.dedent(
    """
    import os, signal, sys
    import cnngen.deploy.export as export
    from cnngen.cli import main
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    def killed(model, input_shape, out, stem, *rest):
        (out / f"{stem}.pt2").write_bytes(b"half")
        os.kill(os.getpid(), signal.SIGTERM)
    export.export_files = killed
    main(sys.argv[1:])
    """
)


@pytest.mark.slow
def test_a_signal_during_export_leaves_no_staging_folder(model_file: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", SIGNAL_IN_EXPORT, "export", "m.py", "--out", "out"],
        cwd=model_file.parent, env=ENV, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == -15, result.stderr
    assert os.listdir(model_file.parent / "out") == []


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from('"\\ab \'é'), max_size=12))
def test_doc_text_never_ends_a_docstring(text: str) -> None:
    """Printable text, placed between docstring quotes by doc_text, reads back as itself."""
    from cnngen.rendering.escape import doc_text

    for before, after in (("", ""), ('x"', '"y'), ("a", "")):
        source = f'"""{before}{doc_text(text)}{after}"""'
        assert ast.literal_eval(source) == before + text + after
