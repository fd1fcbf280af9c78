"""The ``cnngen`` command group and its entry point.

Every command lives in a module of its own under :mod:`cnngen.cli` and is
listed here in :data:`COMMANDS`; its module is imported only when the command
is looked up, so ``cnngen --help`` loads no command, no solver and no renderer.
Every :class:`~cnngen.errors.CnngenError` and Click usage error becomes one
``Error: ...`` line on stderr with exit status 2; nothing is written when an
error occurs.  torch is never imported here.
"""

from __future__ import annotations

import errno
import importlib
import io
import os
import signal
import sys
import threading
from collections.abc import Iterator, MutableMapping

import click

from cnngen._version import __version__
from cnngen.cli.config import install_config_option
from cnngen.cli.help import sectioned
from cnngen.cli.lang import say, speaking
from cnngen.cli.output import os_error_exit, os_error_line
from cnngen.cli.templates import RENDERING_COMMANDS, install_template_dir_option_on
from cnngen.cli.usage import one_line, usage_error_line
from cnngen.errors import CnngenError, TemplateBug
from cnngen.rendering.messages_refusals import say_refusal

# name -> (module, attribute, first line of its help).  The line is what
# ``cnngen --help`` lists, so listing the commands imports none of them;
# tests/test_cli_lazy.py checks each line against the command's own help.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "plan": (
        "cnngen.cli.plan",
        "plan_command",
        "Show the exact plan for a model: every layer, shape and receptive field.",
    ),
    "model": (
        "cnngen.cli.model",
        "model_command",
        "Write a standalone PyTorch model file (imports only torch).",
    ),
    "handout": (
        "cnngen.cli.handout",
        "handout_command",
        "Write a Jupyter notebook that teaches a model layer by layer, or a topic.",
    ),
    "calc": (
        "cnngen.cli.calc",
        "calc_command",
        "Output size of a layer with the formula filled in, or (--output) the missing parameter.",
    ),
    "verify": (
        "cnngen.cli.verify",
        "verify_command",
        "Run a model file for real and check it against its own constants.",
    ),
    "export": (
        "cnngen.cli.export",
        "export_command",
        "Export a model file to torch.export, ONNX and more runtimes, checked against PyTorch.",
    ),
    "dataset": (
        "cnngen.cli.dataset",
        "dataset_group",
        "Write a standalone dataset file (imports only numpy and torch).",
    ),
    "train": (
        "cnngen.cli.train",
        "train_command",
        "Write a training script for a generated model and dataset.",
    ),
    "predict": (
        "cnngen.cli.predict",
        "predict_command",
        "Write predict.py: predictions from an exported model, without cnngen.",
    ),
    "project": (
        "cnngen.cli.project",
        "project_command",
        "Write a starter project: model, synthetic dataset, train.py, README, config.",
    ),
    "search": (
        "cnngen.cli.search",
        "search_command",
        "Train many exact architectures on a dataset and compare them (needs optuna and torch).",
    ),
}
# Commands whose --help is split into sections (cnngen.cli.help).
SECTIONED = ("plan", "model", "project", "handout")


def _prepared(name: str, command: click.Command) -> click.Command:
    """A command as the group serves it: --config, --template-dir, sectioned help."""
    install_config_option(command)
    if name in RENDERING_COMMANDS:
        install_template_dir_option_on(command)
    if name in SECTIONED:
        sectioned(command)
    return command


class LazyCommands(MutableMapping[str, click.Command]):
    """A group's ``commands`` that imports a command's module on first lookup.

    Names, membership and length come from :data:`COMMANDS` without importing
    anything; looking a command up (``[]``, ``get``, ``values``) loads it.
    """

    def __init__(self, table: dict[str, tuple[str, str, str]]) -> None:
        self.table = table
        self.loaded: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        command = self.loaded.get(name)
        if command is None:
            if name not in self.table:
                raise KeyError(name)
            module, attribute, _ = self.table[name]
            command = _prepared(name, getattr(importlib.import_module(module), attribute))
            self.loaded[name] = command
        return command

    def __setitem__(self, name: str, command: click.Command) -> None:
        self.loaded[name] = command

    def __delitem__(self, name: str) -> None:
        if name not in self:
            raise KeyError(name)
        self.loaded.pop(name, None)
        self.table.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter({**dict.fromkeys(self.table), **dict.fromkeys(self.loaded)})

    def __len__(self) -> int:
        return len(set(self.table) | set(self.loaded))

    def __contains__(self, name: object) -> bool:
        return name in self.table or name in self.loaded

    def short_help(self, name: str, limit: int) -> str:
        """What the group's help lists for ``name``, without loading it if it is not loaded."""
        if name in self.loaded or name not in self.table:
            return self[name].get_short_help_str(limit)
        # A stand-in with the same help shortens it exactly as the command would.
        return click.Command(name, help=self.table[name][2]).get_short_help_str(limit)


class LazyGroup(click.Group):
    """A Click group whose commands load on demand (see :class:`LazyCommands`)."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # click.Group's own version looks every command up; this one reads the table.
        commands = self.commands
        if not isinstance(commands, LazyCommands):
            super().format_commands(ctx, formatter)
            return
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [(name, commands.short_help(name, limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class ClosedStdout(io.TextIOBase):
    """Stands in for a stdout that was closed before cnngen started (``cnngen ... >&-``).

    Python sets ``sys.stdout`` to None then, and Click would print into the
    void and exit 0; writing here fails like writing to a closed descriptor.
    """

    encoding = "utf-8"
    errors = "strict"

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, "Bad file descriptor (closed before cnngen started)")


class Interrupted(BaseException):
    """Ctrl-C: raised by cnngen's own SIGINT handler so Click does not turn it into 'Aborted.'."""


def _interrupt(signum: int, frame: object) -> None:
    raise Interrupted()


def _silence_stdout() -> None:
    """Point a failed stdout at /dev/null so the interpreter's final flush stays quiet."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, AttributeError, ValueError):
        pass


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "-V", "--version", prog_name="cnngen")
@click.option("-q", "--quiet", is_flag=True, help="Leave out the 'wrote ...' summary lines.")
@click.option("-v", "--verbose", is_flag=True, help="Also print the plan table of what is made.")
@click.pass_context
def cli(ctx: click.Context, quiet: bool, verbose: bool) -> None:
    """Generate PyTorch CNN model files whose shapes are right the first time.

    \b
    Examples:
      cnngen plan forecaster -i 100x100 --in-channels 60 --out-channels 30 -n 5
      cnngen model classifier --preset lenet5 -o lenet5.py
      cnngen calc conv --input 28 --kernel 5 --padding 2
      cnngen plan forecaster -i 64x64 -n 4 --svg forecaster.svg
      cnngen handout classifier --preset lenet5 -o lenet5.ipynb
      cnngen model --config model.toml --check

    Every command takes --config FILE (TOML, keys are the long option names;
    flags override it).  Shell completion: eval "$(_CNNGEN_COMPLETE=bash_source cnngen)".
    """
    ctx.meta["cnngen.quiet"] = quiet
    ctx.meta["cnngen.verbose"] = verbose and not quiet


# Each command gets --config, --template-dir and its help sections when it loads.
cli.commands = LazyCommands(dict(COMMANDS))  # type: ignore[assignment]


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, mapping errors to one line and an exit status."""
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, _interrupt) if in_main_thread else None
    try:
        _main(argv)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _main(argv: list[str] | None) -> None:
    arguments = list(sys.argv[1:] if argv is None else argv)
    # `--lang ru` anywhere on the line: every line cnngen itself prints is Russian,
    # Click's usage errors included, which come before any option is read.
    with speaking(arguments):
        _run(arguments)


def _error(message: str) -> None:
    """One ``Error: ...`` line on stderr, in the language the command line asks for."""
    click.echo(say()("cli.error", message=one_line(message)), err=True)


def _run(arguments: list[str]) -> None:
    completing = any(
        name.endswith("_COMPLETE") and name.startswith("_CNNGEN") for name in os.environ
    )
    if sys.stdout is None:
        sys.stdout = ClosedStdout()
    try:
        if not arguments and not completing:
            # Bare `cnngen` asks what there is: the help, not an error.
            with click.Context(cli, info_name="cnngen") as ctx:
                click.echo(ctx.get_help())
            result = EXIT_OK
        else:
            result = cli.main(args=arguments, prog_name="cnngen", standalone_mode=False)
        sys.stdout.flush()
    except CnngenError as error:
        code = getattr(error, "exit_code", EXIT_USAGE)
        if code == EXIT_FAILED:
            _silence_stdout()
        _error(say_refusal(error, say().lang))
        sys.exit(code)
    except click.exceptions.UsageError as error:
        _error(usage_error_line(error, cli, arguments))
        sys.exit(EXIT_USAGE)
    except click.exceptions.Abort:
        click.echo(say()("cli.aborted"), err=True)
        sys.exit(EXIT_FAILED)
    except click.exceptions.Exit as error:
        sys.exit(error.exit_code)
    except BrokenPipeError:
        _silence_stdout()
        sys.exit(EXIT_FAILED)
    except (Interrupted, KeyboardInterrupt):
        _error(say()("cli.interrupted"))
        sys.exit(EXIT_INTERRUPTED)
    except OSError as error:
        # Ordinary system errors (unreadable or unwritable paths, a full disk)
        # are the user's to fix, not cnngen bugs: one line, the path, the reason.
        if error.filename is None and os_error_exit(error) == EXIT_FAILED:
            # Every file cnngen writes or reads names itself in its errors; a
            # nameless I/O failure is stdout's (closed, a full disk, /dev/full).
            _silence_stdout()
            error = OSError(error.errno, error.strerror, say()("cli.stdout"))
        _error(os_error_line(error))
        sys.exit(os_error_exit(error))
    except Exception as error:  # noqa: BLE001 - last resort, reported as a bug
        command = " ".join(["cnngen", *arguments])
        kind = "" if isinstance(error, TemplateBug) else f"{type(error).__name__}: "
        _error(say()("cli.internal", detail=one_line(f"{kind}{error}"), command=command))
        sys.exit(EXIT_FAILED)
    sys.exit(result if isinstance(result, int) else EXIT_OK)
