"""``cnngen model``: write a standalone PyTorch model file."""

from __future__ import annotations

from typing import Any

import click

from cnngen.cli.options import (
    Words,
    build_plan,
    emit_with_config,
    lang_option,
    model_options,
    require_family,
    save_config_option,
    save_config_text,
)
from cnngen.cli.output import describe_output, is_verbose, output_options, plan_description
from cnngen.cli.templates import template_dir_words
from cnngen.core.spec import FAMILIES
from cnngen.rendering.escape import shell_words
from cnngen.rendering.format import plan_table


@click.command("model")
@click.argument("family", required=False, type=Words(FAMILIES))
@model_options
@output_options(default="-")
@lang_option
@save_config_option
def model_command(
    family: str | None,
    output: str,
    force: bool,
    check: bool,
    dry_run: bool,
    save_config: str | None,
    lang: str,
    **options: Any,
) -> None:
    """Write a standalone PyTorch model file (imports only torch).

    \b
    FAMILY is encoder, forecaster, classifier, equivariant or unet (or family = ...
    in a --config file).  --check exits 1 when the file on disk is stale.
    --lang ru writes the docstrings, comments and messages in Russian (the code is
    the same).
    Examples:
      cnngen model forecaster -i 100x100 --in-channels 60 --out-channels 30 -n 5 -o model.py
      cnngen model --config model.toml --check
    """
    from cnngen.rendering.engine import render_model

    spec, plan = build_plan(require_family(family), options, lang)
    words = spec.command_words("model", output) + template_dir_words()
    if lang != "en":
        words += ["--lang", lang]
    command = shell_words(words)
    if output != "-":
        describe_output(output, plan_description(plan))
    if is_verbose():
        click.echo(plan_table(plan, lang), err=True)
    emit_with_config(
        render_model(plan, command, lang),
        output,
        save_config,
        save_config_text(spec, output, "model"),
        force,
        check,
        dry_run,
    )
