"""One way for every command to write what it generated.

Commands that produce files (``model``, ``handout``, and any command added
later such as ``dataset``, ``train`` or ``project``) share four behaviours,
so users learn them once:

``-o FILE`` / ``-o -``
    Write atomically to ``FILE``, or print to stdout.
``--force``
    Overwrite an existing file; without it an existing file is an error and
    nothing at all is written.
``--check``
    Write nothing; exit 1 when regenerating would change a file on disk (or
    create a missing one) and 0 when every file is current.  Meant for the CI
    of projects that commit generated files.
``--dry-run``
    Write nothing; print each path, its size and either its first lines (new
    file) or a unified diff against the file on disk.

How a new command adopts them::

    from cnngen.cli.output import emit, emit_files, output_options

    @click.command("thing")
    @output_options(default="-")           # adds -o/--output, --force, --check, --dry-run
    def thing_command(output, force, check, dry_run, **options):
        text = render_thing(...)
        emit(text, output, force=force, check=check, dry_run=dry_run)

A command that writes several files collects them first and calls
:func:`emit_files` once: every target is checked before the first byte is
written, so a bad path never leaves a half-generated project behind.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from cnngen.errors import CnngenError

EXIT_STALE = 1
PREVIEW_LINES = 15


def output_options(
    default: str = "-", help_output: str = "File to write, or - for stdout."
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator adding ``-o/--output``, ``--force``, ``--check`` and ``--dry-run``."""

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        for decorator in reversed(
            [
                click.option(
                    "-o", "--output", default=default, show_default=True, help=help_output
                ),
                click.option("--force", is_flag=True, help="Overwrite an existing file."),
                click.option(
                    "--check",
                    is_flag=True,
                    help="Write nothing; exit 1 if regenerating would change the file, 0 if current.",
                ),
                click.option(
                    "--dry-run",
                    is_flag=True,
                    help="Write nothing; show the path, size and a diff against the file on disk.",
                ),
            ]
        ):
            function = decorator(function)
        return function

    return decorate


def check_target(path: Path, force: bool, option: str = "--output") -> None:
    """Raise the error a write to ``path`` would raise, before anything is written."""
    if path.is_dir():
        raise CnngenError(f"{option}: {path} is a directory; give a file name", option)
    if path.exists() and not force:
        raise CnngenError(f"{option}: {path} exists; pass --force to overwrite it", option)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise CnngenError(f"{option}: folder {parent} does not exist; create it first", option)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError, UnicodeDecodeError):
        return None


def _preview(path: Path, text: str, force: bool) -> list[str]:
    """The dry-run report of one file: status line then lines or a diff."""
    old = _read(path)
    size = f"{len(text.encode('utf-8')):,} bytes"
    if old is None:
        lines = text.splitlines()
        report = [f"would create {path} ({size}, {len(lines)} lines); first lines:"]
        report += [f"    {line}" for line in lines[:PREVIEW_LINES]]
        if len(lines) > PREVIEW_LINES:
            report.append(f"    ... {len(lines) - PREVIEW_LINES} more lines")
        return report
    if old == text:
        return [f"{path} is up to date ({size}); nothing would change"]
    note = "" if force else "; the real run needs --force"
    report = [f"would overwrite {path} ({size}{note}); diff:"]
    report += difflib.unified_diff(
        old.splitlines(), text.splitlines(), f"{path} (on disk)", f"{path} (new)", lineterm=""
    )
    return report


def emit_files(
    files: Sequence[tuple[str | Path, str]],
    *,
    force: bool = False,
    check: bool = False,
    dry_run: bool = False,
    option: str = "--output",
) -> None:
    """Write, check or preview several generated files as one unit.

    With ``check``, raises ``click.exceptions.Exit(1)`` when any file differs
    from (or is missing on) disk, after reporting each one on stderr.  In a
    normal run every target is validated first (exists without ``--force``,
    missing folder, a directory) so an error leaves nothing written.
    """

    targets = [(Path(path), text) for path, text in files]
    if check or dry_run:
        stale = []
        for path, text in targets:
            if dry_run:
                click.echo("\n".join(_preview(path, text, force)))
            if _read(path) != text:
                stale.append(path)
        if check:
            for path, _ in targets:
                state = "out of date" if path in stale else "up to date"
                if path in stale and not path.exists():
                    state = "missing"
                click.echo(f"{path}: {state}", err=True)
            if stale:
                click.echo(
                    f"{len(stale)} of {len(targets)} file(s) would change; "
                    "rerun without --check (and with --force) to regenerate",
                    err=True,
                )
                raise click.exceptions.Exit(EXIT_STALE)
        return
    for path, _ in targets:
        check_target(path, force, option)
    for path, text in targets:
        write_atomic(path, text, force=force)
        click.echo(f"wrote {path}", err=True)


def emit(
    text: str,
    output: str,
    force: bool = False,
    check: bool = False,
    dry_run: bool = False,
    option: str = "--output",
) -> None:
    """Write one generated text to ``output`` (``-`` is stdout); see the module doc."""
    if output == "-":
        for flag, used in (("--check", check), ("--dry-run", dry_run)):
            if used:
                raise CnngenError(
                    f"{flag}: compares with a file on disk; give one with -o FILE", flag
                )
        click.echo(text, nl=False)
        return
    emit_files([(output, text)], force=force, check=check, dry_run=dry_run, option=option)


def write_atomic(path: Path, text: str, force: bool = False) -> None:
    """Write ``text`` to ``path`` via a temporary file and rename.

    An existing file is kept unless ``force``; a half-written file is never
    left behind, even if the process dies mid-write.
    """
    path = Path(path)
    if path.exists() and not force:
        raise CnngenError(f"--output: {path} exists; pass --force to overwrite it", "--output")
    if path.is_dir():
        raise CnngenError(f"--output: {path} is a directory; give a file name", "--output")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise CnngenError(f"--output: folder {parent} does not exist; create it first", "--output")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o777)
        else:
            os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
