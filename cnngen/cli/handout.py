"""``cnngen handout``: write a teaching notebook for a model."""

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
from cnngen.cli.output import output_options
from cnngen.core.spec import FAMILIES
from cnngen.rendering.escape import shell_words


@click.command("handout")
@click.argument("family", required=False, type=Words(FAMILIES))
@model_options
@output_options(default="-", help_output="Notebook to write (.ipynb), or - for stdout.")
@click.option(
    "--student",
    is_flag=True,
    help="Student edition: no answers or hidden checks; `check` cells say right or wrong.",
)
@lang_option
@save_config_option
def handout_command(
    family: str | None,
    output: str,
    force: bool,
    check: bool,
    dry_run: bool,
    save_config: str | None,
    student: bool,
    lang: str,
    **options: Any,
) -> None:
    """Write a Jupyter notebook that teaches the model layer by layer.

    \b
    The notebook holds the model code, one cell per shape-changing layer with
    its output-size formula filled in, a cell that runs a random batch, and
    exercises, with lessons on the blocks the model uses (residual, SE,
    depthwise, transposed, rotation invariance, the preset's history).  Takes
    the same options as `model`; a preset other than lenet5 gets its paper's
    3 input channels and 1000 classes unless --in-channels/--classes say otherwise.

    \b
    The default teacher edition keeps the answers, tagged `answer`/`solution`
    and `hidden-check`, so `jupyter nbconvert --TagRemovePreprocessor.enabled=True
    --TagRemovePreprocessor.remove_cell_tags=...` can strip them; --student
    leaves them out.  --lang ru writes it in Russian.
    Examples:
      cnngen handout classifier --preset lenet5 -o lenet5.ipynb
      cnngen handout classifier --preset lenet5 --student --lang ru -o lenet5-ru.ipynb
    """
    from cnngen.rendering.handout import render_handout

    family = require_family(family)
    if options.get("preset") not in (None, "lenet5"):
        # A preset is taught as its paper has it: RGB images and ImageNet's 1000 classes.
        for key, paper in (("in_channels", 3), ("classes", 1000)):
            if options.get(key) is None:
                options[key] = paper
    spec, plan = build_plan(family, options)
    words = spec.command_words("handout", output)
    if student:
        words.append("--student")
    if lang != "en":
        words += ["--lang", lang]
    command = shell_words(words)
    emit_with_config(
        render_handout(spec, plan, command, lang, student),
        output,
        save_config,
        save_config_text(spec, output, "handout"),
        force,
        check,
        dry_run,
    )
