"""``cnngen handout``: write a teaching notebook for a model."""

from __future__ import annotations

from typing import Any

import click

from cnngen.cli.options import (
    Words,
    build_plan,
    emit_with_config,
    model_options,
    require_family,
    save_config_option,
    save_config_text,
)
from cnngen.cli.output import output_options
from cnngen.core.spec import FAMILIES
from cnngen.rendering.escape import shell_words


@click.command("handout")
@click.argument("family", required=False, type=Words(FAMILIES))
@model_options
@output_options(default="-", help_output="Notebook to write (.ipynb), or - for stdout.")
@save_config_option
def handout_command(
    family: str | None,
    output: str,
    force: bool,
    check: bool,
    dry_run: bool,
    save_config: str | None,
    **options: Any,
) -> None:
    """Write a Jupyter notebook that teaches the model layer by layer.

    \b
    The notebook holds the model code, one cell per shape-changing layer with
    its output-size formula filled in, a cell that runs a random batch, and
    exercises with hidden answers.  Takes the same options as `model`.
    Example:
      cnngen handout classifier --preset lenet5 -o lenet5.ipynb
    """
    from cnngen.rendering.handout import render_handout

    spec, plan = build_plan(require_family(family), options)
    command = shell_words(spec.command_words("handout", output))
    emit_with_config(
        render_handout(spec, plan, command),
        output,
        save_config,
        save_config_text(spec, output, "handout"),
        force,
        check,
        dry_run,
    )
