"""One way for every command to write what it generated.

Commands that produce files (``model``, ``handout``, ``dataset``, ``train``,
``project`` and ``plan --svg``) share four behaviours, so users learn them
once:

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

What a target may be (the same rules for ``--check`` and ``--dry-run``):

* a new name in an existing folder: created, and only if nobody else created
  it first (a hard link from the finished temporary file, which fails when
  the name exists, so two writers racing without ``--force`` cannot both win);
* an existing regular file: replaced only with ``--force``, keeping its mode;
* a symbolic link to a regular file: like that file; with ``--force`` the new
  text goes to the file the link points to and the link stays;
* anything else is refused before a byte is written: a folder (also ``sub/``
  with a trailing slash), a dangling or looping symbolic link, a device
  (``/dev/null`` too: use ``--check`` or ``--dry-run`` to write nothing), a
  FIFO or a socket.

Every write goes to a temporary file next to the target and is renamed into
place, so a reader never sees half a file.  SIGINT, SIGTERM and SIGHUP while
temporary files exist remove them before the signal takes effect.  Failures
of the system (a full disk, a file size limit, an I/O error) end with one line
naming the path and the reason, exit status 1; refusals (a read-only folder,
no permission) with exit status 2.

How a new command adopts them::

    from cnngen.cli.output import emit, emit_files, output_options

    @click.command("thing")
    @output_options(default="-")           # adds -o/--output, --force, --check, --dry-run
    def thing_command(output, force, check, dry_run, **options):
        text = render_thing(...)
        emit(text, output, force=force, check=check, dry_run=dry_run)

A command that writes several files collects them first and calls
:func:`emit_files` once: every target is checked before the first byte is
written, all are staged as temporary files, and only then renamed into place,
so a bad path or a full disk never leaves a half-generated set behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import stat
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from cnngen.cli.lang import say
from cnngen.errors import CnngenError, OutputFailed
from cnngen.rendering.escape import terminal_text

EXIT_STALE = 1
PREVIEW_LINES = 15
# Failures of the system rather than of the request: exit status 1, not 2.
IO_ERRNOS = frozenset(
    code
    for code in (
        errno.ENOSPC,
        errno.EFBIG,
        errno.EIO,
        getattr(errno, "EDQUOT", None),
        errno.ENOMEM,
        errno.EPIPE,
        errno.EBADF,
    )
    if code is not None
)
# Errors that mean "this file system cannot make hard links": fall back to O_EXCL.
NO_HARD_LINKS = frozenset(
    code
    for code in (errno.EPERM, errno.EXDEV, errno.EMLINK, getattr(errno, "ENOTSUP", None))
    if code is not None
)
FILE_KINDS = (
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)


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
                click.option(
                    "--force",
                    is_flag=True,
                    help="Overwrite an existing file (through a symbolic link: its target).",
                ),
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


# ------------------------------------------------------------- OS errors
def os_error_exit(error: OSError) -> int:
    """Exit status for an OS error: 1 when the system failed, 2 when it refused."""
    return 1 if error.errno in IO_ERRNOS else 2


def os_error_line(error: OSError, option: str | None = None, path: object = None) -> str:
    """One line for an OS error: the option, the path and the OS's own reason.

    ``path`` is the name the user gave (not a temporary file's name).
    """
    reason = error.strerror or str(error) or type(error).__name__
    where = path if path is not None else error.filename
    parts = [part for part in (option, None if where is None else os.fsdecode(where)) if part]
    head = ": ".join(str(part) for part in parts)
    if error.errno in IO_ERRNOS:
        tail = "; nothing was written" if option else ""
    elif error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        tail = "; choose a place you may write to" if option else ""
    else:
        tail = ""
    return f"{head}: {reason}{tail}" if head else f"{reason}{tail}"


def _failed(error: OSError, option: str, path: object) -> CnngenError:
    """An OS error while writing as the error the CLI reports (exit 1 or 2)."""
    kind = OutputFailed if os_error_exit(error) == 1 else CnngenError
    return kind(os_error_line(error, option, path), option)


# ------------------------------------------------------------- targets
@dataclass(frozen=True)
class Target:
    """Where one generated file goes.

    ``given`` is the path as the user gave it; ``path`` the file the bytes go
    to (a symbolic link resolved); ``exists`` whether a regular file is there.
    """

    given: str
    path: Path
    option: str
    exists: bool

    @property
    def name(self) -> str:
        """The path as the user gave it, printable (control characters escaped)."""
        return terminal_text(self.given)


def _kind(mode: int) -> str | None:
    for test, kind in FILE_KINDS:
        if test(mode):
            return kind
    return None if stat.S_ISREG(mode) or stat.S_ISDIR(mode) else "not a regular file"


def inspect_target(name: str | Path, option: str = "--output") -> Target:
    """What writing to ``name`` would mean, or the error it would raise.

    Raises :class:`CnngenError` for every target cnngen refuses (see the
    module doc), naming ``option``.
    """
    text = os.fspath(name)
    shown = terminal_text(text)
    t = say()
    if not text:
        raise CnngenError(t("cli.empty_name", option=option), option)
    if text.endswith(("/", os.sep)) or os.path.basename(text) in (".", ".."):
        folder = shown.rstrip("/")
        said = t("cli.names_folder_in", inside=f"{folder}/model.py") if folder else ""
        raise CnngenError(t("cli.names_folder", option=option, name=shown, inside=said), option)
    path = Path(text)
    try:
        link = os.lstat(path)
    except FileNotFoundError:
        link = None
    except NotADirectoryError:
        raise CnngenError(t("cli.part_is_file", option=option, name=shown), option) from None
    except OSError as error:
        raise CnngenError(os_error_line(error, option, shown), option) from None
    destination = path
    if link is not None and stat.S_ISLNK(link.st_mode):
        pointed = os.readlink(path)
        try:
            status = os.stat(path)
        except FileNotFoundError:
            raise CnngenError(
                f"{option}: {shown} is a symbolic link to {terminal_text(pointed)}, which does not exist; "
                f"remove the link or give another file name",
                option,
            ) from None
        except OSError as error:
            raise CnngenError(os_error_line(error, option, shown), option) from None
        destination = Path(os.path.realpath(path))
    else:
        status = link
    if status is not None:
        if stat.S_ISDIR(status.st_mode):
            inside = terminal_text(str(path / "model.py"))
            raise CnngenError(
                say()("cli.is_folder", option=option, name=shown, inside=inside), option
            )
        kind = _kind(status.st_mode)
        if kind is not None:
            hint = "use -o - to print" if option == "--output" else "give a regular file"
            raise CnngenError(
                f"{option}: {shown} is {kind}; cnngen writes only regular files ({hint}, "
                f"or --check / --dry-run to write nothing)",
                option,
            )
    parent = destination.parent
    try:
        parent_status = os.stat(parent)
    except FileNotFoundError:
        folder = terminal_text(str(path.parent))
        raise CnngenError(say()("cli.no_folder", option=option, folder=folder), option) from None
    except NotADirectoryError:
        folder = terminal_text(str(path.parent))
        raise CnngenError(say()("cli.not_folder", option=option, folder=folder), option) from None
    except OSError as error:
        raise CnngenError(
            os_error_line(error, option, terminal_text(str(path.parent))), option
        ) from None
    if not stat.S_ISDIR(parent_status.st_mode):
        folder = terminal_text(str(path.parent))
        raise CnngenError(say()("cli.not_folder", option=option, folder=folder), option)
    return Target(text, destination, option, status is not None)


def check_target(name: str | Path, force: bool, option: str = "--output") -> Target:
    """Raise the error a write to ``name`` would raise, before anything is written."""
    target = inspect_target(name, option)
    refuse_the_config(target)
    if target.exists and not force:
        raise CnngenError(say()("cli.exists", option=option, name=target.name), option)
    return target


def _same_file(a: Target, b: Target) -> bool:
    if os.path.realpath(a.path) == os.path.realpath(b.path):
        return True
    try:
        return os.path.samefile(a.path, b.path)
    except OSError:
        return False


def config_in_use() -> Path | None:
    """The ``--config`` file the running command read, if any."""
    from cnngen.cli.config import META_KEY

    ctx = click.get_current_context(silent=True)
    return None if ctx is None else ctx.meta.get(META_KEY)


def refuse_the_config(target: Target) -> None:
    """A generated file must never replace the config file it was made from."""
    config = config_in_use()
    if config is None:
        return
    same = os.path.realpath(target.path) == os.path.realpath(config)
    if not same:
        with contextlib.suppress(OSError):
            same = os.path.samefile(target.path, config)
    if same:
        raise CnngenError(
            f"{target.option}: {target.name} is the --config file itself; write to another "
            f"file (the config stays as it is)",
            target.option,
        )


def check_targets(
    files: Sequence[tuple[str | Path, str, str]], force: bool, *, checking: bool = False
) -> list[Target]:
    """Every target checked, and no two of them the same file by another spelling.

    None may be the ``--config`` file the command read, under any spelling.
    """
    targets = []
    for name, _, option in files:
        if checking:
            target = inspect_target(name, option)
            refuse_the_config(target)
        else:
            target = check_target(name, force, option)
        for earlier in targets:
            if _same_file(earlier, target):
                raise CnngenError(
                    f"{target.option}: {target.name} is the same file as {earlier.option} "
                    f"{earlier.name}; give each its own file",
                    target.option,
                )
        targets.append(target)
    return targets


# ------------------------------------------------------------- reading
@dataclass(frozen=True)
class OnDisk:
    """What a target holds now: nothing, text, or bytes that are not UTF-8 text."""

    exists: bool
    text: str | None
    size: int = 0


def _read(target: Target) -> OnDisk:
    if not target.exists:
        return OnDisk(False, None)
    try:
        data = target.path.read_bytes()
    except FileNotFoundError:
        return OnDisk(False, None)
    except OSError as error:
        raise CnngenError(os_error_line(error, target.option, target.name), target.option) from None
    try:
        return OnDisk(True, data.decode("utf-8"), len(data))
    except UnicodeDecodeError:
        return OnDisk(True, None, len(data))


def _preview(target: Target, text: str, force: bool) -> list[str]:
    """The dry-run report of one file: status line then lines or a diff."""
    old = _read(target)
    name = target.name
    t = say()
    size = t.count(len(text.encode("utf-8", "surrogateescape")), "byte")
    note = "" if force else t("cli.dry.force")
    if not old.exists:
        lines = text.splitlines()
        report = [t("cli.dry.create", name=name, size=size, lines=t.count(len(lines), "line"))]
        report += [f"    {line}" for line in lines[:PREVIEW_LINES]]
        if len(lines) > PREVIEW_LINES:
            more = len(lines) - PREVIEW_LINES
            report.append(t("cli.dry.more", count=t.number(more), noun=t.noun(more, "line")))
        return report
    if old.text is None:
        old_size = t.count(old.size or 0, "byte")
        return [t("cli.dry.binary", name=name, size=size, force=note, old=old_size)]
    if old.text == text:
        return [t("cli.dry.current", name=name, size=size)]
    import difflib  # only a dry run over a changed file shows a diff

    report = [t("cli.dry.overwrite", name=name, size=size, force=note)]
    report += difflib.unified_diff(
        old.text.splitlines(),
        text.splitlines(),
        t("cli.dry.on_disk", name=name),
        t("cli.dry.new", name=name),
        lineterm="",
    )
    return report


# ------------------------------------------------------------- signals
_CLEANUP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


# What to undo if a write is cut short: a path to remove, or a step that puts
# a replaced file back.
Undo = Path | Callable[[], object]


def _undo(item: Undo) -> None:
    if isinstance(item, Path):
        _remove(item)
    else:
        with contextlib.suppress(OSError):
            item()


@contextlib.contextmanager
def cleanup_on_signals() -> Iterator[list[Undo]]:
    """Undo steps added to the yielded list run, last first, if a signal ends the run.

    A path is removed; a callable (putting back a file ``--force`` replaced)
    is called.

    The handlers remove the paths, put the previous handlers back and raise
    the signal again, so the process ends (or raises KeyboardInterrupt) as
    it would have without cnngen, minus the debris.  Outside the main thread
    signals cannot be caught; the ``finally`` clauses of the callers still
    clean up on every exception.
    """
    pending: list[Path] = []
    if threading.current_thread() is not threading.main_thread():
        yield pending
        return
    previous: dict[int, Any] = {}

    def handler(signum: int, frame: Any) -> None:
        for item in reversed(pending):
            _undo(item)
        pending.clear()
        for number, old in previous.items():
            signal.signal(number, old)
        signal.raise_signal(signum)

    for number in _CLEANUP_SIGNALS:
        try:
            if signal.getsignal(number) is signal.SIG_IGN:
                continue  # e.g. SIGHUP under nohup: the user asked not to be stopped by it
            previous[number] = signal.signal(number, handler)
        except (OSError, ValueError):  # pragma: no cover - unusual embedding
            continue
    try:
        yield pending
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


# ------------------------------------------------------------- writing
def _new_file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _stage(target: Target, text: str, pending: list[Path]) -> Path:
    """Write ``text`` to a temporary file next to ``target``; return its path."""
    parent = target.path.parent
    try:
        handle, name = tempfile.mkstemp(prefix=f".{target.path.name}.", suffix=".tmp", dir=parent)
    except OSError as error:
        raise _failed(error, target.option, target.name) from None
    temporary = Path(name)
    pending.append(temporary)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n", errors="surrogateescape") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        mode = _new_file_mode()
        if target.exists:
            with contextlib.suppress(OSError):
                mode = stat.S_IMODE(os.stat(target.path).st_mode)
        os.chmod(temporary, mode)
    except OSError as error:
        raise _failed(error, target.option, target.name) from None
    return temporary


def _commit(target: Target, temporary: Path, force: bool) -> bool:
    """Move a staged file into place; True when it created a new file."""
    try:
        current = os.lstat(target.path)
    except FileNotFoundError:
        current = None
    except OSError as error:
        raise _failed(error, target.option, target.name) from None
    if current is not None and not stat.S_ISREG(current.st_mode):
        # Something replaced the target since it was checked: check it again.
        inspect_target(target.name, target.option)
        raise CnngenError(
            f"{target.option}: {target.name} changed while writing; nothing was written",
            target.option,
        )
    if current is not None and not force:
        raise CnngenError(
            say()("cli.exists", option=target.option, name=target.name), target.option
        )
    try:
        if force:
            os.replace(temporary, target.path)
            return current is None
        try:
            # A hard link fails when the name exists: no second writer can win.
            os.link(temporary, target.path)
        except FileExistsError:
            raise CnngenError(
                say()("cli.exists_now", option=target.option, name=target.name),
                target.option,
            ) from None
        except OSError as error:
            if error.errno not in NO_HARD_LINKS:
                raise
            # No hard links here: claim the name exclusively, then rename over the claim.
            try:
                claim = os.open(target.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            except FileExistsError:
                raise CnngenError(
                    say()("cli.exists_now", option=target.option, name=target.name),
                    target.option,
                ) from None
            os.close(claim)
            os.replace(temporary, target.path)
            return True
        os.unlink(temporary)
        return True
    except OSError as error:
        raise _failed(error, target.option, target.name) from None


def _back_up(target: Target, pending: list[Undo]) -> Path:
    """A second name for the file ``--force`` is about to replace, to put it back on failure.

    A hard link costs nothing and keeps the file as it was (mode, owner);
    where links are not supported the bytes are copied.
    """
    try:
        handle, name = tempfile.mkstemp(
            prefix=f".{target.path.name}.", suffix=".bak", dir=target.path.parent
        )
        os.close(handle)
        backup = Path(name)
        pending.append(backup)
        link = backup.with_suffix(".link")
        # Listed before it exists, so a signal between the link and the rename removes it.
        pending.append(link)
        try:
            os.link(target.path, link)
        except OSError:
            shutil.copy2(target.path, backup)
        else:
            os.replace(link, backup)
        pending.remove(link)
    except OSError as error:
        raise _failed(error, target.option, target.name) from None
    return backup


def write_all(targets: Sequence[tuple[Target, str]], force: bool) -> None:
    """Stage every file, then move them all into place; on any failure undo.

    Files this call created are removed again, and files ``--force`` replaced
    are put back, when a later one fails or a signal ends the run: a failed
    command leaves every target as it found it.
    """
    backups: list[Path] = []
    with cleanup_on_signals() as pending:
        try:
            staged = [(target, _stage(target, text, pending)) for target, text in targets]
            for target, temporary in staged:
                backup = _back_up(target, pending) if force and target.exists else None
                new = _commit(target, temporary, force)
                pending.remove(temporary)
                if new:
                    # A signal before the last rename removes what this call created.
                    pending.append(target.path)
                if backup is not None:
                    pending.remove(backup)
                    if not new:
                        pending.append(lambda b=backup, p=target.path: os.replace(b, p))
                        backups.append(backup)
                    else:
                        _remove(backup)
        except BaseException:
            for item in reversed(pending):
                _undo(item)
            raise
        finally:
            pending.clear()
    for backup in backups:
        _remove(backup)


def emit_files(
    files: Sequence[tuple[str | Path, str] | tuple[str | Path, str, str]],
    *,
    force: bool = False,
    check: bool = False,
    dry_run: bool = False,
    option: str = "--output",
) -> None:
    """Write, check or preview several generated files as one unit.

    Each entry is ``(path, text)`` or ``(path, text, option)``; the option
    names the flag an error about that path blames.  With ``check``, raises
    ``click.exceptions.Exit(1)`` when any file differs from (or is missing
    on) disk, after reporting each one on stderr.  In a normal run every
    target is validated first so an error leaves nothing written.
    """
    entries = [(os.fspath(e[0]), e[1], e[2] if len(e) > 2 else option) for e in files]
    if check or dry_run:
        targets = check_targets(entries, force=True, checking=True)
        stale = []
        for target, (_, text, _) in zip(targets, entries, strict=True):
            if dry_run:
                click.echo("\n".join(_preview(target, text, force)))
            if _read(target).text != text:
                stale.append(target)
        if check:
            t = say()
            for target in targets:
                state = "cli.check.stale" if target in stale else "cli.check.current"
                if target in stale and not target.exists:
                    state = "cli.check.missing"
                click.echo(t(state, name=target.name), err=True)
            if stale:
                click.echo(
                    t("cli.check.summary", stale=len(stale), total=len(targets)),
                    err=True,
                )
                raise click.exceptions.Exit(EXIT_STALE)
        return
    targets = check_targets(entries, force)
    write_all(
        [(target, text) for target, (_, text, _) in zip(targets, entries, strict=True)], force
    )
    notes = _root_meta().get("cnngen.describe", {})
    for target, (path, _, _) in zip(targets, entries, strict=True):
        note = notes.get(path)
        name = terminal_text(target.name)
        announce(
            say()("cli.wrote_what", name=name, what=note) if note else say()("cli.wrote", name=name)
        )


def _root_meta() -> dict[str, Any]:
    ctx = click.get_current_context(silent=True)
    return ctx.find_root().meta if ctx is not None else {}


def describe_output(path: str, description: str) -> None:
    """What the file at ``path`` holds, for the "wrote" line (``wrote m.py: 1D encoder ...``)."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.find_root().meta.setdefault("cnngen.describe", {})[os.fspath(path)] = description


def plan_description(plan: Any) -> str:
    """``1D encoder, (1, 100) -> (64, 12), 12,345 parameters``: what a model file holds."""
    t = say()
    return t(
        "cli.model_file",
        dims=plan.dims,
        family=plan.family if t.lang == "en" else t(f"model.family.{plan.family}"),
        shape_in=tuple(plan.input_shape),
        shape_out=tuple(plan.output_shape),
        params=t.number(plan.params),
    )


def is_quiet() -> bool:
    return bool(_root_meta().get("cnngen.quiet"))


def is_verbose() -> bool:
    return bool(_root_meta().get("cnngen.verbose"))


def announce(line: str) -> None:
    """A summary line on stderr (``wrote ...``), left out with ``cnngen -q``."""
    if not is_quiet():
        click.echo(style(line, fg="green"), err=True)


def style(text: str, **styles: Any) -> str:
    """Colour only for a terminal on stderr, and never with NO_COLOR set."""
    if os.environ.get("NO_COLOR") or not sys.stderr.isatty():
        return text
    return click.style(text, **styles)


def write_stdout(text: str) -> None:
    """Print generated text; a closed or full stdout is an error, not silence."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as error:
        reason = error.strerror or str(error)
        raise OutputFailed(
            f"--output: cannot write to standard output ({reason}); give -o FILE", "--output"
        ) from None


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
        write_stdout(text)
        return
    emit_files([(output, text, option)], force=force, check=check, dry_run=dry_run)


def write_atomic(
    path: str | Path, text: str, force: bool = False, option: str = "--output"
) -> None:
    """Write ``text`` to ``path`` via a temporary file and a rename.

    An existing file is kept unless ``force``; a half-written file is never
    left behind, even if the process is interrupted mid-write.
    """
    target = check_target(path, force, option)
    write_all([(target, text)], force)


def stage_folder(folder: str | Path, files: dict[str, str], option: str = "DIR") -> None:
    """Create ``folder`` holding ``files`` at once: staged in a hidden sibling, then renamed.

    ``folder`` must not exist.  Either the whole folder appears or nothing does.
    """
    folder = Path(folder)
    parent = folder.parent
    with cleanup_on_signals() as pending:
        try:
            try:
                staging = Path(
                    tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=parent)
                )
            except OSError as error:
                raise _failed(error, option, folder) from None
            pending.append(staging)
            try:
                for name, text in files.items():
                    with open(staging / name, "w", encoding="utf-8", newline="\n") as stream:
                        stream.write(text)
                mask = os.umask(0)
                os.umask(mask)
                os.chmod(staging, 0o777 & ~mask)
                if folder.exists() or folder.is_symlink():
                    raise CnngenError(
                        f"{option}: {folder} was created meanwhile; nothing was written", option
                    )
                os.rename(staging, folder)
            except OSError as error:
                raise _failed(error, option, folder) from None
        except BaseException:
            for item in reversed(pending):
                _undo(item)
            raise
        finally:
            pending.clear()
