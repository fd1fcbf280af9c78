"""``--template-dir``: render with a folder of templates that replace the shipped ones."""

from __future__ import annotations

from typing import Any

import click

TEMPLATE_DIR_OPTION = "--template-dir"
# Where the callback keeps the folder as the user typed it, for the regenerate line.
_META_KEY = "cnngen.template_dir"


def _use_template_dir(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is None:
        return
    from cnngen.rendering.engine import user_templates

    ctx.meta[_META_KEY] = value
    # Active until the command's context closes: everything the command renders
    # (the model, the namespace probes, datasets, scripts, notebooks) sees it.
    ctx.with_resource(user_templates(value, TEMPLATE_DIR_OPTION))


def template_dir_given(ctx: click.Context | None = None) -> str | None:
    """The ``--template-dir`` folder as the user typed it, or None."""
    ctx = ctx or click.get_current_context(silent=True)
    return None if ctx is None else ctx.meta.get(_META_KEY)


def template_dir_words(ctx: click.Context | None = None) -> list[str]:
    """``["--template-dir", DIR]`` when the command renders with a folder of templates.

    The option is eager and not passed to the command, so the words that
    regenerate a file would otherwise lose it, and running them would write
    the file from the shipped templates instead.
    """
    value = template_dir_given(ctx)
    return [] if value is None else [TEMPLATE_DIR_OPTION, value]


# The commands that render Jinja templates (a group stands for all its subcommands).
RENDERING_COMMANDS = ("model", "dataset", "train", "predict", "project", "handout")


def install_template_dir_option(root: click.Group) -> None:
    """Give every command in RENDERING_COMMANDS (and every subcommand of a group) the option."""
    for name in RENDERING_COMMANDS:
        install_template_dir_option_on(root.commands[name])


def install_template_dir_option_on(command: click.Command) -> None:
    """Give ``command`` (or, for a group, every command under it) the option, once."""
    pending = [command]
    while pending:
        command = pending.pop()
        if isinstance(command, click.Group):
            pending.extend(command.commands.values())
        elif not any(param.name == "template_dir" for param in command.params):
            command.params.append(click.Option(_OPTION_DECLS, **_OPTION_ATTRS))


_OPTION_DECLS = [TEMPLATE_DIR_OPTION, "template_dir"]
_OPTION_ATTRS: dict[str, Any] = dict(
    metavar="DIR",
    default=None,
    expose_value=False,
    is_eager=True,
    callback=_use_template_dir,
    help=(
        "Folder of Jinja templates that replace the shipped ones of the same name; "
        'an override can {% extends "cnngen/<name>" %} the shipped one.'
    ),
)
