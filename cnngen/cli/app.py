"""The ``cnngen`` command group and its entry point.

Every command lives in a module of its own under :mod:`cnngen.cli` and is
registered here by import, so ``from cnngen.cli import cli`` sees all of them.
Every :class:`~cnngen.errors.CnngenError` and Click usage error becomes one
``Error: ...`` line on stderr with exit status 2; nothing is written when an
error occurs.  torch is never imported here.
"""

from __future__ import annotations

import os
import sys

import click

from cnngen import __version__
from cnngen.cli.calc import calc_command
from cnngen.cli.config import install_config_option
from cnngen.cli.dataset import dataset_group
from cnngen.cli.export import export_command
from cnngen.cli.handout import handout_command
from cnngen.cli.model import model_command
from cnngen.cli.plan import plan_command
from cnngen.cli.project import project_command
from cnngen.cli.train import train_command
from cnngen.cli.usage import one_line, usage_error_line
from cnngen.cli.verify import verify_command
from cnngen.errors import CnngenError, TemplateBug

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="cnngen")
def cli() -> None:
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
):
    cli.add_command(_command)
install_config_option(cli)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, mapping errors to one line and an exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    completing = any(
        name.endswith("_COMPLETE") and name.startswith("_CNNGEN") for name in os.environ
    )
    if not arguments and not completing:
        # Bare `cnngen` asks what there is: the help, not an error.
        with click.Context(cli, info_name="cnngen") as ctx:
            click.echo(ctx.get_help())
        sys.exit(EXIT_OK)
    try:
        result = cli.main(args=arguments, prog_name="cnngen", standalone_mode=False)
    except CnngenError as error:
        click.echo(f"Error: {one_line(str(error))}", err=True)
        sys.exit(EXIT_USAGE)
    except click.exceptions.UsageError as error:
        click.echo(f"Error: {one_line(usage_error_line(error, cli, arguments))}", err=True)
        sys.exit(EXIT_USAGE)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(EXIT_FAILED)
    except click.exceptions.Exit as error:
        sys.exit(error.exit_code)
    except BrokenPipeError:
        sys.exit(EXIT_FAILED)
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
