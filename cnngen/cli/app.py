"""The ``cnngen`` command group and its entry point.

Every command lives in a module of its own under :mod:`cnngen.cli` and is
registered here by import, so ``from cnngen.cli import cli`` sees all of them.
Every :class:`~cnngen.errors.CnngenError` and Click usage error becomes one
``Error: ...`` line on stderr with exit status 2; nothing is written when an
error occurs.  torch is never imported here.
"""

from __future__ import annotations

import errno
import io
import os
import signal
import sys
import threading

import click

from cnngen._version import __version__
from cnngen.cli.calc import calc_command
from cnngen.cli.config import install_config_option
from cnngen.cli.dataset import dataset_group
from cnngen.cli.export import export_command
from cnngen.cli.handout import handout_command
from cnngen.cli.help import sectioned
from cnngen.cli.model import model_command
from cnngen.cli.output import os_error_exit, os_error_line
from cnngen.cli.plan import plan_command
from cnngen.cli.project import project_command
from cnngen.cli.search import search_command
from cnngen.cli.templates import install_template_dir_option
from cnngen.cli.train import train_command
from cnngen.cli.usage import one_line, usage_error_line
from cnngen.cli.verify import verify_command
from cnngen.errors import CnngenError, TemplateBug

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


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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


for _command in (
    plan_command,
    model_command,
    handout_command,
    calc_command,
    verify_command,
    export_command,
    dataset_group,
    train_command,
    project_command,
    search_command,
):
    cli.add_command(_command)
install_config_option(cli)
install_template_dir_option(cli)
for _command in (plan_command, model_command, project_command, handout_command):
    sectioned(_command)


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
        click.echo(f"Error: {one_line(str(error))}", err=True)
        sys.exit(code)
    except click.exceptions.UsageError as error:
        click.echo(f"Error: {one_line(usage_error_line(error, cli, arguments))}", err=True)
        sys.exit(EXIT_USAGE)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(EXIT_FAILED)
    except click.exceptions.Exit as error:
        sys.exit(error.exit_code)
    except BrokenPipeError:
        _silence_stdout()
        sys.exit(EXIT_FAILED)
    except (Interrupted, KeyboardInterrupt):
        click.echo("Error: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except OSError as error:
        # Ordinary system errors (unreadable or unwritable paths, a full disk)
        # are the user's to fix, not cnngen bugs: one line, the path, the reason.
        if error.filename is None and os_error_exit(error) == EXIT_FAILED:
            # Every file cnngen writes or reads names itself in its errors; a
            # nameless I/O failure is stdout's (closed, a full disk, /dev/full).
            _silence_stdout()
            error = OSError(error.errno, error.strerror, "standard output")
        click.echo(f"Error: {one_line(os_error_line(error))}", err=True)
        sys.exit(os_error_exit(error))
    except Exception as error:  # noqa: BLE001 - last resort, reported as a bug
        command = " ".join(["cnngen", *arguments])
        kind = "" if isinstance(error, TemplateBug) else f"{type(error).__name__}: "
        click.echo(
            f"Error: internal error ({one_line(f'{kind}{error}')}). This is a cnngen bug; "
            f"please report it with the command: {command}",
            err=True,
        )
        sys.exit(EXIT_FAILED)
    sys.exit(result if isinstance(result, int) else EXIT_OK)
