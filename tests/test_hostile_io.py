"""Hostile input for everything that touches the disk, stdout and generated documents.

The refusal table runs every command that writes against a folder full of
traps (a FIFO, a socket, dangling and looping symbolic links, a folder, a
binary file, a hard link) and asserts three things for each row: the exit
status, the single ``Error:`` line on stderr, and that not one byte, mode or
link under the folder changed (temporary files included).  Further tests
cover what needs a real process: a closed or full stdout, a file size limit,
signals between the temporary write and the rename, and racing writers.  The
escaping tests feed hostile names (newlines, code fences, control
characters, quotes, shell syntax) to each document format and read the
result back with that format's own parser.
"""

from __future__ import annotations

import errno
import json
import os
import re
import resource
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest

from cnngen.cli.config import tomllib
from cnngen.rendering.engine import format_python

REPO = Path(__file__).resolve().parent.parent
SMALL = ("encoder", "-i", "32", "-n", "2")
KEEP = "keep me\n"


# ------------------------------------------------------------------ the trap folder
def build_world(root: Path) -> socket.socket:
    """Lay out the traps; returns the bound socket, which must stay open."""
    (root / "m.py").write_text(KEEP)
    (root / "m.toml").write_text("# keep\n")
    (root / "bin.py").write_bytes(bytes(range(256)))
    (root / "d").mkdir()
    (root / "full").mkdir()
    (root / "full" / "x.txt").write_text(KEEP)
    (root / "cfg").mkdir()
    (root / "victim.txt").write_text(KEEP)
    os.mkfifo(root / "fifo")
    os.symlink("nowhere", root / "dangling")
    os.symlink("m.py", root / "link_file")
    os.symlink("d", root / "link_dir")
    os.symlink("loop", root / "loop")
    os.symlink("fifo", root / "link_fifo")
    os.symlink("..", root / "cfg" / "up")
    os.link(root / "m.py", root / "hard.py")
    # A character device of our own: a regressed build run as root must not be
    # able to replace the machine's /dev/null.  Without root, a link to it.
    if os.geteuid() == 0:
        os.mknod(root / "chardev", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    else:
        os.symlink("/dev/null", root / "chardev")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(root / "sock"))
    return server


def snapshot(root: Path) -> dict[str, tuple[object, ...]]:
    """Every entry under ``root``: kind, mode and content (or link target)."""
    seen: dict[str, tuple[object, ...]] = {}
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            path = Path(folder) / name
            info = os.lstat(path)
            key = str(path.relative_to(root))
            if stat.S_ISLNK(info.st_mode):
                seen[key] = ("link", os.readlink(path))
            elif stat.S_ISREG(info.st_mode):
                seen[key] = ("file", info.st_mode, path.read_bytes())
            else:
                seen[key] = ("other", stat.S_IFMT(info.st_mode), info.st_mode)
    return seen


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = tmp_path / "w"
    root.mkdir()
    server = build_world(root)
    monkeypatch.chdir(root)
    yield root
    server.close()


# ------------------------------------------------------------------ refusals
# (id, config text for cfg/a.toml or None, argv, exit status, pattern of the one stderr line)
REFUSALS: list[tuple[str, str | None, list[str], int, str]] = [
    # 1. targets that are not regular files
    ("dev-null", None, ["model", *SMALL, "-o", "/dev/null"], 2, r"--output: /dev/null is a character device"),
    ("chardev-force", None, ["model", *SMALL, "-o", "chardev", "--force"], 2, r"chardev is a character device; cnngen writes only regular files"),
    ("dev-null-dry-run", None, ["model", *SMALL, "-o", "/dev/null", "--dry-run"], 2, r"/dev/null is a character device"),
    ("chardev-handout", None, ["handout", *SMALL, "-o", "chardev", "--force"], 2, r"chardev is a character device"),
    ("fifo", None, ["model", *SMALL, "-o", "fifo"], 2, r"--output: fifo is a FIFO"),
    ("fifo-force", None, ["model", *SMALL, "-o", "fifo", "--force"], 2, r"--output: fifo is a FIFO"),
    ("fifo-check", None, ["model", *SMALL, "-o", "fifo", "--check"], 2, r"--output: fifo is a FIFO"),
    ("fifo-handout", None, ["handout", *SMALL, "-o", "fifo", "--force"], 2, r"fifo is a FIFO"),
    ("fifo-windows", None, ["dataset", "windows", "-o", "fifo", "--force"], 2, r"fifo is a FIFO"),
    ("fifo-arrays", None, ["dataset", "arrays", "-o", "fifo", "--force"], 2, r"fifo is a FIFO"),
    ("fifo-synthetic", None, ["dataset", "synthetic", "shapes", "-o", "fifo", "--force"], 2, r"fifo is a FIFO"),
    ("fifo-train", None, ["train", "--task", "forecasting", "--model-class", "M", "-o", "fifo", "--force"], 2, r"fifo is a FIFO"),
    ("fifo-svg", None, ["plan", *SMALL, "--svg", "fifo", "--force"], 2, r"--svg: fifo is a FIFO"),
    ("fifo-save-config", None, ["model", *SMALL, "-o", "new.py", "--save-config", "fifo", "--force"], 2, r"--save-config: fifo is a FIFO"),
    ("link-to-fifo", None, ["model", *SMALL, "-o", "link_fifo", "--force"], 2, r"link_fifo is a FIFO"),
    ("socket", None, ["model", *SMALL, "-o", "sock", "--force"], 2, r"--output: sock is a socket"),
    ("dangling", None, ["model", *SMALL, "-o", "dangling"], 2, r"dangling is a symbolic link to nowhere, which does not exist"),
    ("dangling-force", None, ["model", *SMALL, "-o", "dangling", "--force"], 2, r"dangling is a symbolic link to nowhere"),
    ("dangling-synthetic", None, ["dataset", "synthetic", "moving-square", "-o", "dangling", "--force"], 2, r"symbolic link to nowhere"),
    ("dangling-save-config", None, ["model", *SMALL, "-o", "new.py", "--save-config", "dangling"], 2, r"--save-config: dangling is a symbolic link"),
    ("dangling-dry-run", None, ["model", *SMALL, "-o", "dangling", "--dry-run"], 2, r"symbolic link to nowhere"),
    ("link-to-file", None, ["model", *SMALL, "-o", "link_file"], 2, r"--output: link_file exists; pass --force"),
    ("link-to-dir", None, ["model", *SMALL, "-o", "link_dir", "--force"], 2, r"link_dir is a folder"),
    ("link-loop", None, ["model", *SMALL, "-o", "loop", "--force"], 2, r"--output: loop: Too many levels of symbolic links"),
    # 11. folders and impossible paths
    ("trailing-slash", None, ["model", *SMALL, "-o", "sub/"], 2, r"--output: sub/ names a folder; give a file name, e.g. sub/model.py"),
    ("existing-dir", None, ["model", *SMALL, "-o", "d"], 2, r"--output: d is a folder; give a file name"),
    ("existing-dir-slash-force", None, ["model", *SMALL, "-o", "d/", "--force"], 2, r"d/ names a folder"),
    ("dir-check", None, ["model", *SMALL, "-o", "d", "--check"], 2, r"--output: d is a folder"),
    ("dir-dry-run", None, ["handout", *SMALL, "-o", "d", "--dry-run"], 2, r"--output: d is a folder"),
    ("dot", None, ["model", *SMALL, "-o", ".", "--force"], 2, r"--output: \. names a folder"),
    ("dotdot", None, ["train", "--task", "forecasting", "--model-class", "M", "-o", "d/.."], 2, r"d/\.\. names a folder"),
    ("empty-name", None, ["model", *SMALL, "-o", ""], 2, r"--output: empty file name"),
    ("file-as-folder", None, ["model", *SMALL, "-o", "m.py/x.py"], 2, r"m.py/x.py: a part of the path is a file"),
    ("missing-folder", None, ["model", *SMALL, "-o", "nope/x.py"], 2, r"folder nope does not exist"),
    ("svg-dir", None, ["plan", *SMALL, "--svg", "d"], 2, r"--svg: d is a folder"),
    ("existing-file", None, ["dataset", "windows", "-o", "m.py"], 2, r"--output: m.py exists; pass --force"),
    ("hard-link-exists", None, ["model", *SMALL, "-o", "hard.py"], 2, r"hard.py exists"),
    # 5. several files as one unit
    ("save-config-same-spelling", None, ["model", *SMALL, "-o", "new.py", "--save-config", "./new.py"], 2, r"--save-config: \./new.py is the same file as --output new.py"),
    ("save-config-same-force", None, ["model", *SMALL, "-o", "m.py", "--save-config", "./m.py", "--force"], 2, r"same file as --output m.py"),
    ("save-config-same-dotdot", None, ["handout", *SMALL, "-o", "n.ipynb", "--save-config", "d/../n.ipynb"], 2, r"same file"),
    ("save-config-hard-link", None, ["model", *SMALL, "-o", "m.py", "--save-config", "hard.py", "--force"], 2, r"--save-config: hard.py is the same file as --output m.py"),
    ("save-config-symlink", None, ["model", *SMALL, "-o", "m.py", "--save-config", "link_file", "--force"], 2, r"link_file is the same file"),
    ("save-config-exists", None, ["model", *SMALL, "-o", "new.py", "--save-config", "m.toml"], 2, r"--save-config: m.toml exists"),
    ("save-config-stdout", None, ["model", *SMALL, "--save-config", "-"], 2, r"--save-config: give a file of its own"),
    ("project-file", None, ["project", "m.py"], 2, r"DIR: m.py is a file"),
    ("project-dangling", None, ["project", "dangling"], 2, r"DIR: dangling is a symbolic link to nowhere"),
    ("project-not-empty", None, ["project", "full"], 2, r"DIR: full exists and is not empty"),
    ("project-no-parent", None, ["project", "nope/p"], 2, r"DIR: folder nope does not exist"),
    ("project-under-file", None, ["project", "m.py/p"], 2, r"a part of the path is a file"),
    ("project-size", None, ["project", "p", "-i", "3x3"], 2, r"--input-size: 1 to 3 sizes of at least 4, got 3x3"),
    ("project-size-classifier", None, ["project", "p", "--family", "classifier", "-i", "3"], 2, r"^Error: --input-size:"),
    # 6. config files
    ("config-float-size", "input-size = [64.5, 64]\n", ["plan", "encoder", "--config", "cfg/a.toml"], 2, r"--config: cfg/a.toml: input-size: expected a list of whole numbers like \[100, 100\], got \[64.5, 64\]"),
    ("config-bool-size", "input-size = [true, 64]\n", ["model", "encoder", "--config", "cfg/a.toml"], 2, r"input-size: expected a list of whole numbers.*got \[true, 64\]"),
    ("config-nested-size", "input-size = [[64], 64]\n", ["plan", "encoder", "--config", "cfg/a.toml"], 2, r"input-size takes a flat list"),
    ("config-empty-size", "input-size = []\n", ["plan", "encoder", "--config", "cfg/a.toml"], 2, r"input-size: expected a list of whole numbers"),
    ("config-nested-hidden", "hidden = [[120, 84]]\n", ["plan", "classifier", "-i", "32", "--config", "cfg/a.toml"], 2, r"hidden takes a flat list"),
    ("config-nested-additional", 'additional = [["a.npy"]]\n', ["dataset", "windows", "--config", "cfg/a.toml"], 2, r"additional takes a flat list"),
    ("config-table-in-list", "kernel = [{a = 1}]\n", ["plan", "encoder", "-i", "32", "--config", "cfg/a.toml"], 2, r"kernel takes a flat list"),
    ("config-force", 'family = "encoder"\ninput-size = 32\noutput = "cfg/x.py"\nforce = true\n', ["model", "--config", "cfg/a.toml"], 2, r"force = true is not allowed in a config file"),
    ("config-force-project", 'force = true\n', ["project", "cfg/p", "--config", "cfg/a.toml"], 2, r"force = true is not allowed"),
    ("config-output-escapes", 'family = "encoder"\ninput-size = 32\noutput = "../victim.txt"\n', ["model", "--config", "cfg/a.toml"], 2, r"output = '\.\./victim.txt' is outside the config file's folder cfg"),
    ("config-output-escapes-force", 'family = "encoder"\ninput-size = 32\noutput = "victim.txt"\n', ["model", "--config", "cfg/a.toml", "--force"], 2, r"output = 'victim.txt' is outside"),
    ("config-output-absolute", 'family = "encoder"\ninput-size = 32\noutput = "/tmp/cnngen-victim.py"\n', ["model", "--config", "cfg/a.toml"], 2, r"is outside the config file's folder"),
    ("config-output-via-link", 'family = "encoder"\ninput-size = 32\noutput = "cfg/up/victim2.py"\n', ["model", "--config", "cfg/a.toml"], 2, r"cfg/up/victim2.py' is outside"),
    ("config-svg-escapes", 'svg = "../x.svg"\n', ["plan", *SMALL, "--config", "cfg/a.toml"], 2, r"svg = '\.\./x.svg' is outside"),
    ("config-folder-escapes", 'folder = "p"\n', ["project", "--config", "cfg/a.toml"], 2, r"folder = 'p' is outside"),
    ("config-handout-escapes", 'family = "encoder"\ninput-size = 32\noutput = "h.ipynb"\n', ["handout", "--config", "cfg/a.toml"], 2, r"output = 'h.ipynb' is outside"),
    ("config-fifo", None, ["plan", *SMALL, "--config", "fifo"], 2, r"--config: fifo is not a regular file"),
    ("config-dangling", None, ["plan", *SMALL, "--config", "dangling"], 2, r"--config: dangling does not exist"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("config", "argv", "code", "pattern"),
    [pytest.param(*row[1:], id=row[0]) for row in REFUSALS],
)
def test_refused_with_one_line_and_nothing_changed(
    run_cli, world: Path, config: str | None, argv: list[str], code: int, pattern: str
) -> None:
    if config is not None:
        (world / "cfg" / "a.toml").write_text(config)
    before = snapshot(world)
    result = run_cli(*argv)
    assert result.code == code, result.err
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("Error: ") and re.search(pattern, lines[0]), lines[0]
    assert "internal error" not in lines[0]
    assert snapshot(world) == before
    assert not Path("/tmp/cnngen-victim.py").exists()


# ------------------------------------------------------------------ what is allowed
def test_force_writes_through_a_symlink_and_keeps_the_link(run_cli, world: Path) -> None:
    result = run_cli("model", *SMALL, "-o", "link_file", "--force")
    assert result.code == 0, result.err
    assert os.readlink("link_file") == "m.py"
    assert Path("m.py").read_text().startswith('"""Encoder')
    assert Path("hard.py").read_text() == KEEP  # the hard link kept the old inode


def test_force_keeps_the_mode_and_new_files_follow_the_umask(run_cli, world: Path) -> None:
    os.chmod("m.py", 0o640)
    assert run_cli("model", *SMALL, "-o", "m.py", "--force").code == 0
    assert stat.S_IMODE(os.stat("m.py").st_mode) == 0o640
    old = os.umask(0o077)
    try:
        assert run_cli("model", *SMALL, "-o", "new.py").code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat("new.py").st_mode) == 0o600


def test_dry_run_on_a_binary_file_says_it_would_overwrite(run_cli, world: Path) -> None:
    result = run_cli("model", *SMALL, "-o", "bin.py", "--dry-run")
    assert result.code == 0, result.err
    first = result.out.splitlines()[0]
    assert first.startswith("would overwrite bin.py") and "the real run needs --force" in first
    assert "256 bytes that are not UTF-8 text" in first
    checked = run_cli("model", *SMALL, "-o", "bin.py", "--check")
    assert checked.code == 1 and "bin.py: out of date" in checked.err


def test_save_config_and_output_are_checked_before_either_is_written(run_cli, world: Path) -> None:
    before = snapshot(world)
    result = run_cli("model", *SMALL, "-o", "m.py", "--save-config", "./m.py", "--force")
    assert result.code == 2
    assert snapshot(world) == before  # before the fix: m.py held the TOML


def test_config_may_write_inside_its_folder_and_the_command_line_may_go_anywhere(
    run_cli, world: Path
) -> None:
    (world / "cfg" / "a.toml").write_text(
        'family = "encoder"\ninput-size = 32\noutput = "../victim.txt"\n'
    )
    # A flag on the command line wins, so the config's output is never used.
    result = run_cli("model", "--config", "cfg/a.toml", "-o", "fine.py")
    assert result.code == 0, result.err
    (world / "cfg" / "b.toml").write_text(
        'family = "encoder"\ninput-size = 32\noutput = "cfg/x.py"\n'
    )
    assert run_cli("model", "--config", "cfg/b.toml").code == 0
    assert Path("cfg/x.py").exists()
    again = run_cli("model", "--config", "cfg/b.toml", "--force")
    assert again.code == 0, again.err


def test_project_into_an_empty_folder_and_a_new_folder_leave_no_staging(
    run_cli, world: Path
) -> None:
    assert run_cli("project", "d", "-i", "16x16", "-n", "2").code == 0
    assert run_cli("project", "fresh", "-i", "16x16", "-n", "2").code == 0
    for folder in ("d", "fresh"):
        assert sorted(os.listdir(folder)) == sorted(
            ["model.py", "dataset.py", "train.py", "predict.py", "README.md", "cnngen.toml"]
        )
    assert not [name for name in os.listdir(".") if name.endswith(".tmp")]


def test_project_with_a_bad_option_writes_nothing(run_cli, world: Path) -> None:
    before = snapshot(world)
    result = run_cli("project", "p", "--family", "classifier", "-i", "16x16", "--classes", "9")
    assert result.code == 2 and result.err.startswith("Error: --classes")
    assert snapshot(world) == before


# ------------------------------------------------------------------ OS errors, in process
@pytest.mark.parametrize(
    ("code_number", "exit_code", "reason"),
    [
        (errno.EACCES, 2, "Permission denied"),
        (errno.EROFS, 2, "Read-only file system"),
        (errno.ENOSPC, 1, "No space left on device"),
        (errno.EDQUOT, 1, "Disk quota exceeded"),
        (errno.EIO, 1, "Input/output error"),
    ],
)
@pytest.mark.parametrize("command", ["model", "project", "save-config"])
def test_os_errors_while_writing_are_one_line_naming_the_path(
    run_cli,
    world: Path,
    monkeypatch: pytest.MonkeyPatch,
    code_number: int,
    exit_code: int,
    reason: str,
    command: str,
) -> None:
    """Read-only folders, full disks and I/O errors, as the OS reports them (root ignores modes)."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(code_number, os.strerror(code_number), str(args[0]) if args else None)

    if command == "project":
        monkeypatch.setattr(tempfile, "mkdtemp", refuse)
        argv, name = ["project", "p", "-i", "16x16", "-n", "2"], "DIR: p"
    else:
        monkeypatch.setattr(os, "fsync", refuse)
        argv, name = ["model", *SMALL, "-o", "new.py"], "--output: new.py"
        if command == "save-config":
            argv += ["--save-config", "new.toml"]
    before = snapshot(world)
    result = run_cli(*argv)
    assert result.code == exit_code
    assert result.err.splitlines() == [result.err.strip()]
    assert result.err.startswith(f"Error: {name}: {reason}"), result.err
    assert snapshot(world) == before


def test_an_os_error_anywhere_is_not_reported_as_a_bug(
    run_cli, world: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cnngen.cli.model as model_module

    def unreadable(*_args: object, **_kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", "/some/input.npy")

    monkeypatch.setattr(model_module, "build_plan", unreadable)
    result = run_cli("model", *SMALL)
    assert result.code == 2
    assert result.err.strip() == "Error: /some/input.npy: Permission denied"


def test_the_second_of_two_files_failing_removes_the_first(
    run_cli, world: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_link = os.link
    calls = []

    def second_fails(source: str, target: str, *args: object, **kwargs: object) -> None:
        calls.append(target)
        if len(calls) == 2:
            raise OSError(errno.EIO, "Input/output error")
        real_link(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "link", second_fails)
    before = snapshot(world)
    result = run_cli("model", *SMALL, "-o", "new.py", "--save-config", "new.toml")
    assert result.code == 1 and "new.toml: Input/output error" in result.err
    assert snapshot(world) == before


@pytest.mark.parametrize("links", [True, False], ids=["hard-links", "no-hard-links"])
def test_a_forced_file_is_put_back_when_a_later_one_fails(
    run_cli, world: Path, monkeypatch: pytest.MonkeyPatch, links: bool
) -> None:
    (world / "new.py").write_text("# my edits\n")
    (world / "new.toml").write_text("# my config\n")
    real_replace, real_link = os.replace, os.link

    def last_rename_fails(source: object, target: object, *args: object, **kwargs: object) -> None:
        if str(source).endswith(".tmp") and str(target).endswith("new.toml"):
            raise OSError(errno.EIO, "Input/output error")
        real_replace(source, target, *args, **kwargs)

    def no_links(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "replace", last_rename_fails)
    monkeypatch.setattr(os, "link", real_link if links else no_links)
    before = snapshot(world)
    result = run_cli("model", *SMALL, "-o", "new.py", "--save-config", "new.toml", "--force")
    assert result.code == 1 and "new.toml: Input/output error" in result.err
    # new.py was replaced before new.toml failed: it has its old text again.
    assert snapshot(world) == before


def test_a_writer_that_lost_the_race_writes_nothing(
    run_cli, world: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process creates the file after the check and before the rename."""
    import cnngen.cli.output as output

    real_stage = output._stage

    def stage_then_lose(target, text, pending):  # type: ignore[no-untyped-def]
        staged = real_stage(target, text, pending)
        Path(target.path).write_text("the other writer\n")
        return staged

    monkeypatch.setattr(output, "_stage", stage_then_lose)
    result = run_cli("model", *SMALL, "-o", "new.py")
    assert result.code == 2 and "new.py exists" in result.err
    assert Path("new.py").read_text() == "the other writer\n"
    assert not [name for name in os.listdir(".") if name.endswith(".tmp")]


# ------------------------------------------------------------------ real processes
def cnngen(
    *argv: str, cwd: Path, stdout: object = subprocess.PIPE, preexec=None, timeout: int = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cnngen", *argv],
        cwd=cwd,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=preexec,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def close_stdout() -> None:
    os.close(1)


@pytest.mark.parametrize(
    "argv",
    [["model", *SMALL], ["plan", *SMALL], ["calc", "conv", "--input", "28", "--kernel", "5"],
     ["dataset", "windows"], ["plan", *SMALL, "--svg", "-"], []],
    ids=["model", "plan", "calc", "dataset", "svg", "bare"],
)  # fmt: skip
def test_closed_stdout_is_an_error(tmp_path: Path, argv: list[str]) -> None:
    result = cnngen(*argv, cwd=tmp_path, stdout=None, preexec=close_stdout)
    assert result.returncode == 1, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("Error: ") and "Bad file descriptor" in line, line


@pytest.mark.parametrize(
    "argv",
    [["model", *SMALL], ["plan", *SMALL], ["handout", *SMALL]],
    ids=["model", "plan", "handout"],
)
def test_full_stdout_is_an_error(tmp_path: Path, argv: list[str]) -> None:
    with open("/dev/full", "w") as full:
        result = cnngen(*argv, cwd=tmp_path, stdout=full)
    assert result.returncode == 1, result.stderr
    (line,) = result.stderr.splitlines()
    assert "No space left on device" in line and "standard output" in line, line


def limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))


@pytest.mark.parametrize(
    "argv",
    [["model", *SMALL, "-o", "big.py"], ["handout", *SMALL, "-o", "big.ipynb"],
     ["project", "big", "-i", "16x16", "-n", "2"]],
    ids=["model", "handout", "project"],
)  # fmt: skip
def test_file_size_limit_is_one_line_and_leaves_nothing(tmp_path: Path, argv: list[str]) -> None:
    result = cnngen(*argv, cwd=tmp_path, preexec=limit_file_size)
    assert result.returncode == 1, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("Error: ") and "File too large" in line and "big" in line, line
    assert list(tmp_path.iterdir()) == []


SIGNAL_BEFORE_RENAME = textwrap.dedent(
    """
    import os, signal, sys
    from cnngen.cli import main
    number = getattr(signal, sys.argv[1])
    signal.signal(number, signal.SIG_DFL)  # as in a terminal, even when run under nohup
    target = sys.argv[2]
    for name in ("link", "replace", "rename"):
        real = getattr(os, name)
        def interrupted(*args, _real=real, **kwargs):
            os.kill(os.getpid(), number)   # between the temporary write and the rename
            return _real(*args, **kwargs)
        setattr(os, name, interrupted)
    main(sys.argv[3:])
    """
)


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGINT", "SIGHUP"])
@pytest.mark.parametrize(
    "argv",
    [["model", *SMALL, "-o", "m.py"], ["model", *SMALL, "-o", "m.py", "--save-config", "m.toml"],
     ["project", "p", "-i", "16x16", "-n", "2"]],
    ids=["model", "save-config", "project"],
)  # fmt: skip
def test_a_signal_between_write_and_rename_leaves_nothing(
    tmp_path: Path, signame: str, argv: list[str]
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", SIGNAL_BEFORE_RENAME, signame, "m.py", *argv],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    if signame == "SIGINT":
        assert result.returncode == 130, result.stderr
        assert result.stderr.strip() == "Error: interrupted"
    else:
        assert result.returncode == -getattr(signal, signame), result.stderr
    assert sorted(os.listdir(tmp_path)) == []


def test_an_ignored_signal_stays_ignored_while_writing(tmp_path: Path) -> None:
    """Under nohup a hangup must not stop the write: the file is written whole."""
    script = SIGNAL_BEFORE_RENAME.replace(
        "signal.signal(number, signal.SIG_DFL)", "signal.signal(number, signal.SIG_IGN)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, "SIGHUP", "m.py", "model", *SMALL, "-o", "m.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(tmp_path)) == ["m.py"]
    assert "class " in (tmp_path / "m.py").read_text()


RACE = textwrap.dedent(
    """
    import sys, time
    from cnngen.cli import main
    start = float(sys.argv[1])
    while time.time() < start:
        pass
    main(sys.argv[2:])
    """
)


@pytest.mark.slow
def test_racing_writers_without_force_cannot_both_win(tmp_path: Path) -> None:
    import time

    start = time.time() + 3
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    writers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                RACE,
                str(start),
                "model",
                "encoder",
                "-i",
                str(20 + i),
                "-n",
                "1",
                "-o",
                "m.py",
            ],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )  # fmt: skip
        for i in range(6)
    ]
    results = [(w.wait(timeout=120), w.stderr.read()) for w in writers]
    for writer in writers:
        writer.stdout.close()
        writer.stderr.close()
    winners = [err for code, err in results if code == 0]
    assert len(winners) == 1, results
    assert all(code == 2 and "m.py exists" in err for code, err in results if code != 0)
    assert sorted(os.listdir(tmp_path)) == ["m.py"]


# ------------------------------------------------------------------ escaping, per format
HOSTILE_NAMES = [
    "a\n```\n# injected\n```\nb",
    "a\n## injected heading",
    "bell\x07and\x1b[31mred",
    "back`tick``s",
    "$(touch pwned)",
    'quote\'s "double"',
    'tri"""ple',
    "line\u2028separator",
    "tab\there\rreturn",
    "del\x7f",
    "amp&<tag>",
]


def bash_words(command: str) -> list[str]:
    """How bash splits a command line (printf %s\\0 prints each word)."""
    done = subprocess.run(
        ["bash", "-c", f"printf '%s\\0' {command}"], capture_output=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return [word.decode("utf-8", "surrogateescape") for word in done.stdout.split(b"\0")[:-1]]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash to read commands back")
@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_handout_command_block_holds_and_reads_back(run_cli, tmp_path, monkeypatch, name) -> None:
    monkeypatch.chdir(tmp_path)
    target = f"{name}.ipynb"
    result = run_cli("handout", *SMALL, "-o", target)
    assert result.code == 0, result.err
    assert all(char.isprintable() for char in result.err.replace("\n", ""))
    cell = "".join(json.loads(Path(target).read_text())["cells"][0]["source"])
    lines = cell.split("\n")
    opening = next(i for i, line in enumerate(lines) if line.startswith("```"))
    fence = lines[opening]
    assert lines[opening + 2] == fence  # one line of code, then the same fence closes it
    assert lines[opening + 3 :][1].startswith("Run the cells")
    assert bash_words(lines[opening + 1])[-1] == target


@pytest.mark.slow
@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_project_readme_heading_is_one_line(run_cli, tmp_path, monkeypatch, name) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_cli("project", name, "-i", "16x16", "-n", "2")
    assert result.code == 0, result.err
    readme = (Path(name) / "README.md").read_text().split("\n")
    plain = tmp_path / "plain"
    assert run_cli("project", str(plain), "-i", "16x16", "-n", "2").code == 0
    reference = (plain / "README.md").read_text().split("\n")
    assert len(readme) == len(reference)
    assert readme[0].startswith("# ") and readme[1] == ""
    assert not re.search(r"(?<!\\)[`*_<>\[\]#|]", readme[0][2:])  # all markup escaped
    config = tomllib.loads((Path(name) / "cnngen.toml").read_text())
    assert config["family"] == "forecaster"


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_svg_with_a_hostile_path_is_well_formed_xml(run_cli, tmp_path, monkeypatch, name) -> None:
    monkeypatch.chdir(tmp_path)
    target = f"{name}.svg"
    result = run_cli("plan", *SMALL, "--svg", target)
    assert result.code == 0, result.err
    root = ElementTree.fromstring(Path(target).read_bytes())
    desc = root.find("{http://www.w3.org/2000/svg}desc")
    assert desc is not None and desc.text is not None and "--svg" in desc.text


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_saved_config_round_trips_the_output_name(run_cli, tmp_path, monkeypatch, name) -> None:
    monkeypatch.chdir(tmp_path)
    target = f"{name}.py"
    result = run_cli("model", *SMALL, "-o", target, "--save-config", "m.toml")
    assert result.code == 0, result.err
    assert tomllib.loads(Path("m.toml").read_text())["output"] == target
    source = Path(target).read_text()
    assert format_python(source) == source
    compile(source, target, "exec")


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash to read commands back")
@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_model_header_command_reads_back_in_bash(run_cli, tmp_path, monkeypatch, name) -> None:
    monkeypatch.chdir(tmp_path)
    target = f"{name}.py"
    assert run_cli("model", *SMALL, "-o", target).code == 0
    namespace: dict[str, object] = {}
    exec(compile(Path(target).read_text(), target, "exec"), namespace)  # noqa: S102
    doc = str(namespace["__doc__"])
    (line,) = [line.strip() for line in doc.splitlines() if line.strip().startswith("cnngen model")]
    assert bash_words(line)[-1] == target


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_dataset_data_path_is_a_python_literal(run_cli, tmp_path, monkeypatch, name) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_cli("dataset", "windows", "--data", f"{name}.npy", "-o", "ds.py")
    assert result.code == 0, result.err
    source = Path("ds.py").read_text()
    assert format_python(source) == source
    tree = compile(source, "ds.py", "exec", flags=0x400)  # ast.PyCF_ONLY_AST
    values = [
        node.value.value
        for node in tree.body
        if type(node).__name__ == "Assign" and node.targets[0].id == "DATA_PATH"
    ]
    assert values == [f"{name}.npy"]
