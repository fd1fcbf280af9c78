"""``cnngen plan``: print the exact plan of a model, as a table, JSON or SVG."""

from __future__ import annotations

import json
from typing import Any

import click

from cnngen.cli.options import Words, build_plan, lang_option, model_options, require_family
from cnngen.cli.output import emit as emit_output
from cnngen.cli.output import write_stdout
from cnngen.core.notes import Note
from cnngen.core.spec import FAMILIES
from cnngen.rendering.escape import shell_words
from cnngen.rendering.format import plan_table
from cnngen.rendering.messages import Messages


@click.command("plan")
@click.argument("family", required=False, type=Words(FAMILIES))
@model_options
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.option(
    "--svg",
    "svg",
    default=None,
    metavar="FILE",
    help="Also draw the architecture as an SVG diagram (- prints only the SVG).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing --svg file.")
@lang_option
def plan_command(
    family: str | None, as_json: bool, svg: str | None, force: bool, lang: str, **options: Any
) -> None:
    """Show the exact plan for a model: every layer, shape and receptive field.

    \b
    FAMILY is encoder, forecaster, classifier, equivariant or unet (or family = ...
    in a --config file).  A warning goes to stderr when the final receptive
    field does not cover the input.  --lang ru prints the table, the warning and
    the --svg diagram in Russian.
    Examples:
      cnngen plan encoder -i 1000 -n 6 --json
      cnngen plan forecaster -i 64x64 -n 4 --svg forecaster.svg
    """
    spec, plan = build_plan(require_family(family), options, lang)
    if svg is not None:
        from cnngen.rendering.svg import plan_svg

        words = shell_words([*spec.command_words("plan"), "--svg", svg])
        drawing = plan_svg(plan, words, lang)
        if svg == "-":
            write_stdout(drawing)
            return
        emit_output(drawing, svg, force=force, option="--svg")
    if as_json:
        click.echo(json.dumps(plan.to_json(), indent=2))
        return
    click.echo(plan_table(plan, lang))
    t = Messages(lang)
    for note in plan.notes:
        if isinstance(note, Note) and note.key == "note.short_field":
            click.echo(t("plan.warning", note=t.note(note)), err=True)
