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
from cnngen.cli.templates import template_dir_words
from cnngen.core.spec import FAMILIES
from cnngen.errors import CnngenError
from cnngen.rendering.escape import shell_words

# Handouts on a topic instead of a model (cnngen.rendering.topics; kept here as
# words so that parsing the command line imports no renderer).
TOPICS = ("conv", "train", "transfer", "c4")


@click.command("handout")
@click.argument("family", required=False, type=Words((*FAMILIES, *TOPICS)))
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
    """Write a Jupyter notebook that teaches a model layer by layer, or a topic.

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
    \b
    Four handouts teach a topic instead of a model and take no model options:
    `conv` (a convolution by hand, then stride, padding, dilation and unfold as
    a matrix product, each checked against torch), `train` (a small CNN
    trained on scikit-learn's bundled digits on a CPU, with curves, the
    confusion matrix and macro-F1) and `transfer` (that CNN trained on digits
    0-4, its convolutions frozen and a new head fine-tuned on ten images of
    5-9, against the same model trained from scratch) and `c4` (a plain and a
    rotation-invariant model of one size, trained on upright digits and
    tested on turned ones); the last three need scikit-learn.
    Examples:
      cnngen handout classifier --preset lenet5 -o lenet5.ipynb
      cnngen handout classifier --preset lenet5 --student --lang ru -o lenet5-ru.ipynb
      cnngen handout conv -o conv.ipynb
      cnngen handout transfer --lang ru -o transfer-ru.ipynb
    """
    from cnngen.rendering.handout import render_handout

    if family is None:
        raise CnngenError(
            f"FAMILY: missing; give a model family ({', '.join(FAMILIES)}) or a topic "
            f"({', '.join(TOPICS)}) after the command",
            "FAMILY",
        )
    if family in TOPICS:
        _topic(family, output, force, check, dry_run, save_config, student, lang, options)
        return
    family = require_family(family)
    if options.get("preset") not in (None, "lenet5"):
        # A preset is taught as its paper has it: RGB images and ImageNet's 1000 classes.
        for key, paper in (("in_channels", 3), ("classes", 1000)):
            if options.get(key) is None:
                options[key] = paper
    spec, plan = build_plan(family, options, lang)
    words = spec.command_words("handout", output) + template_dir_words()
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


def _topic(
    topic: str,
    output: str,
    force: bool,
    check: bool,
    dry_run: bool,
    save_config: str | None,
    student: bool,
    lang: str,
    options: dict[str, Any],
) -> None:
    """``cnngen handout conv|train|transfer|c4``: a topic's notebook; no model options."""
    from cnngen.cli.output import emit as emit_output
    from cnngen.rendering.topics import render_topic

    given = sorted(key for key, value in options.items() if value not in (None, False, ()))
    if given:
        flag = "--" + given[0].replace("_", "-")
        raise CnngenError(
            f"{flag}: `cnngen handout {topic}` takes no model options; leave it out, or write "
            f"a model's handout with `cnngen handout FAMILY {flag} ...`",
            flag,
        )
    if save_config is not None:
        raise CnngenError(
            f"--save-config: `cnngen handout {topic}` has no options to save; leave it out",
            "--save-config",
        )
    words = ["handout", topic]
    if output not in (None, "-"):
        words += ["--output", output]
    if student:
        words.append("--student")
    if lang != "en":
        words += ["--lang", lang]
    text = render_topic(topic, shell_words(words), lang, student)
    emit_output(text, output, force=force, check=check, dry_run=dry_run)
