"""Click's usage errors as one line: the parameter, what was wrong, what would work.

Click raises typed exceptions (NoSuchOption, BadParameter, MissingParameter ...)
that carry the parameter and the context; this module turns each kind into one
``Error:`` line that names the option as the user spells it.
"""

from __future__ import annotations

import difflib
import re

import click

from cnngen.cli.lang import say


def _param_hint(param: click.Parameter | None, ctx: click.Context | None) -> str:
    """How the user spells a parameter: its long option, or an argument's NAME."""
    if param is None:
        return ""
    if isinstance(param, click.Argument):
        return (param.name or "argument").upper()
    longs = [opt for opt in param.opts if opt.startswith("--")]
    return longs[0] if longs else param.opts[0]


def _long_name(option: str, ctx: click.Context | None) -> str:
    """``-n`` -> ``--layers`` for the command in ``ctx``."""
    if ctx is None:
        return option
    for param in ctx.command.params:
        if option in getattr(param, "opts", ()):
            return _param_hint(param, ctx)
    return option


def _closest(word: str, choices: list[str]) -> str | None:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.5)
    return close[0] if close else None


def _command_for(argv: list[str], root: click.Group) -> tuple[click.Command, str]:
    """The command ``argv`` names and its path, for errors Click raises without a context."""
    command: click.Command = root
    path = ["cnngen"]
    for token in argv:
        if not isinstance(command, click.Group) or token.startswith("-"):
            break
        sub = command.commands.get(token)
        if sub is None:
            break
        command, path = sub, [*path, token]
    return command, " ".join(path)


def usage_error_line(
    error: click.exceptions.UsageError, root: click.Group, argv: list[str] | None = None
) -> str:
    """Click's own usage errors as one line: the parameter, what was wrong, what works."""
    ctx = error.ctx
    if ctx is None:
        command, path = _command_for(argv or [], root)
        ctx = click.Context(command, info_name=path)
    path = ctx.command_path or "cnngen"
    t = say()
    see = t("cli.see", path=path)
    if isinstance(error, getattr(click.exceptions, "NoArgsIsHelpError", ())) or (
        isinstance(ctx.command, click.Group) and error.message.startswith("Usage:")
    ):
        commands = ", ".join(sorted(getattr(ctx.command, "commands", {})))
        return t("cli.no_command", path=path, commands=commands, see=see)
    if isinstance(error, click.exceptions.NoSuchOption):
        options = sorted(
            opt
            for param in (ctx.command.params if ctx else [])
            for opt in getattr(param, "opts", ())
            if opt.startswith("--")
        )
        best = _closest(error.option_name, options)
        hint = t("cli.did_you_mean", best=best) if best else ""
        if error.option_name in ("-o", "--output") and "--svg" in options:
            hint = t("cli.plan_writes")
        return t("cli.no_option", option=error.option_name, path=path, hint=hint, see=see)
    if isinstance(error, click.exceptions.BadOptionUsage):
        name = _long_name(error.option_name, ctx)
        if "requires an argument" in error.message:
            return t("cli.needs_value", name=name, see=see)
        return f"{name}: {error.message.rstrip('.')}; {see}"
    if isinstance(error, click.exceptions.MissingParameter):
        name = _param_hint(error.param, ctx)
        choices = getattr(getattr(error.param, "type", None), "choices", None)
        if choices:
            return t("cli.missing_choice", name=name, choices=", ".join(map(str, choices)))
        return t("cli.missing", name=name, see=see)
    if isinstance(error, click.exceptions.BadParameter):
        name = _param_hint(error.param, ctx) or str(error.param_hint or "value")
        message = error.message.rstrip(".")
        choices = getattr(getattr(error.param, "type", None), "choices", None)
        if choices:
            given = re.match(r"'(.*?)' is not", message)
            best = _closest(given.group(1), [str(c) for c in choices]) if given else None
            hint = t("cli.did_you_mean_value", best=repr(best)) if best else ""
            value = repr(given.group(1) if given else "")
            listed = ", ".join(map(str, choices))
            return t("cli.unknown_value", name=name, value=value, hint=hint, choices=listed)
        number = re.fullmatch(r"(.*) is not a valid (integer|float)", message)
        if number:
            key = "cli.not_integer" if number.group(2) == "integer" else "cli.not_number"
            return t(key, name=name, value=number.group(1))
        return f"{name}: {message}"
    no_command = getattr(click.exceptions, "NoSuchCommand", None)
    if (
        no_command is not None
        and isinstance(error, no_command)
        or error.message.startswith("No such command")
    ):
        name = getattr(error, "command_name", None) or error.message.split("'")[1]
        commands = sorted(root.commands)
        best = _closest(name, commands)
        hint = t("cli.did_you_mean_command", best=best) if best else ""
        return t("cli.no_such_command", name=name, hint=hint, commands=", ".join(commands))
    extra = re.match(r"Got unexpected extra arguments? \((.*)\)", error.message)
    if extra and ctx is not None:
        usage = " ".join(ctx.command.collect_usage_pieces(ctx))
        return t("cli.extra", extra=extra.group(1), path=path, usage=usage)
    return f"{error.format_message()}; {see}"


def one_line(text: str) -> str:
    """Collapse a message onto one line so stderr carries exactly one error line."""
    return " ".join(text.split())
