"""``--config FILE``: TOML files holding the same options as the flags.

Keys are the long option names of the command (``input-size = "100x100"``,
``layers = 5``, ``se = true``); positional arguments go by their name
(``family = "forecaster"``).  Underscores may stand for dashes.  File paths
inside the file are taken as given, that is relative to the current folder,
just as they would be on the command line.

A config file is often someone else's, so it may not do two things on its
own: turn on ``force`` (overwrite existing files), or name a place to write
(``output``, ``svg``, a project's ``folder``) outside the config file's own
folder, symbolic links resolved.  Both are errors naming the key; the same
flags given on the command line are fine and win over the file anyway.

The mechanism is generic: :func:`install_config_option` walks a Click command
tree and gives every command an eager ``--config`` option whose callback
loads the file into ``ctx.default_map``.  Click consults the default map only
for parameters that were not given on the command line, so a flag always
beats the file, and the file beats the built-in default.  Commands added
later get the option without doing anything.

:func:`dump_config` writes the reverse: the TOML that reproduces a run
(``cnngen model ... --save-config FILE``).
"""

from __future__ import annotations

import os
import re
import stat
import sys
from pathlib import Path
from typing import Any

import click

from cnngen.errors import CnngenError
from cnngen.rendering.escape import dump_config, terminal_text, toml_value  # noqa: F401

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

CONFIG_OPTION = "--config"
# Parameters that make no sense inside a config file.
NOT_IN_FILE = frozenset({"config", "save_config", "help"})
# Parameters naming where a command writes: from a config file they must stay
# inside the config's own folder (the command line may name any place).
WRITE_PATHS = frozenset({"output", "svg", "folder"})
# Switches a config file may not turn on: only the user, on the command line, may.
COMMAND_LINE_ONLY = frozenset({"force"})
META_KEY = "cnngen.config"


# Deepest nesting of arrays and inline tables a config may hold (flat values need 1).
MAX_NESTING = 32


def bracket_depth(text: str) -> int:
    """The deepest nesting of ``[`` and ``{`` in TOML ``text``, outside strings and comments.

    A loop over the characters, so a file nested 20,000 deep is measured
    without recursing (tomllib itself recurses per level).  Table headers
    (``[a]``, ``[[a]]``) count as one or two levels, harmlessly.
    """
    depth = deepest = 0
    for token in _TOKENS.finditer(text):
        char = token.group()[0]
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth = max(0, depth - 1)
    return deepest


# Comments and strings (skipped whole) and brackets, in the order they appear.
_TOKENS = re.compile(
    r'#[^\n]*|"""[\s\S]*?"""|' r"'''[\s\S]*?'''|" r'"(?:\\.|[^"\\\n])*"|' r"'[^'\n]*'|[\[\]{}]"
)


def read_toml(path: Path) -> dict[str, Any]:
    """Parse ``path``; every failure becomes one ``--config`` error line."""
    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
            # A FIFO or a device would block or never end: only regular files.
            raise CnngenError(
                f"--config: {terminal_text(str(path))} is not a regular file; give a TOML file",
                CONFIG_OPTION,
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise CnngenError(
            f"--config: {path} does not exist; give an existing TOML file", CONFIG_OPTION
        ) from None
    except IsADirectoryError:
        raise CnngenError(
            f"--config: {path} is a directory; give a TOML file", CONFIG_OPTION
        ) from None
    except OSError as error:
        raise CnngenError(
            f"--config: cannot read {path} ({error.strerror})", CONFIG_OPTION
        ) from None
    try:
        text = data.decode("utf-8")
        depth = bracket_depth(text)
        if depth > MAX_NESTING:
            raise CnngenError(
                f"--config: {terminal_text(str(path))} nests lists or tables {depth:,} deep; "
                f"a config holds flat values (at most {MAX_NESTING} levels), e.g. "
                f"input-size = [100, 100]",
                CONFIG_OPTION,
            )
        return tomllib.loads(text)
    except RecursionError:
        # The pre-scan counts brackets outside strings; whatever it missed still ends here.
        raise CnngenError(
            f"--config: {terminal_text(str(path))} nests values too deeply to read; a config "
            f"holds flat values, e.g. input-size = [100, 100]",
            CONFIG_OPTION,
        ) from None
    except UnicodeDecodeError:
        raise CnngenError(
            f"--config: {path} is not UTF-8 text; save it as UTF-8", CONFIG_OPTION
        ) from None
    except tomllib.TOMLDecodeError as error:
        message = str(error).replace("\n", " ")
        raise CnngenError(
            f"--config: {path} is not valid TOML ({message}); write key = value lines, "
            f'e.g. layers = 5 or input-size = "100x100"',
            CONFIG_OPTION,
        ) from None


def config_keys(command: click.Command) -> dict[str, click.Parameter]:
    """File key -> parameter: long option names without dashes, argument names."""
    keys: dict[str, click.Parameter] = {}
    for param in command.params:
        if param.name is None or param.name in NOT_IN_FILE:
            continue
        if isinstance(param, click.Argument):
            keys[param.name.replace("_", "-")] = param
            continue
        for opt in param.opts:
            if opt.startswith("--"):
                keys[opt[2:]] = param
    return keys


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _check_value(
    ctx: click.Context, path: Path, key: str, param: click.Parameter, value: Any
) -> None:
    """Reject a value the matching flag could not take, naming the key."""
    where = f"--config: {path}: {key}"
    is_flag = isinstance(param, click.Option) and param.is_flag and not param.count
    if is_flag:
        if not isinstance(value, bool):
            raise CnngenError(
                f"{where} is a switch; write {key} = true or {key} = false", CONFIG_OPTION
            )
        return
    if isinstance(value, bool) or isinstance(value, dict):
        raise CnngenError(
            f"{where} takes a value like the flag --{key}, not {_describe(value)}", CONFIG_OPTION
        )
    if isinstance(value, list) and any(isinstance(item, (list, dict)) for item in value):
        raise CnngenError(
            f"{where} takes a flat list, not {_describe(value)} of lists or tables", CONFIG_OPTION
        )
    if isinstance(value, list) and not getattr(param.type, "accepts_list", False):
        if param.nargs == 1 and not getattr(param, "multiple", False):
            raise CnngenError(f"{where} takes one value, not a list", CONFIG_OPTION)
    if isinstance(value, float) and isinstance(param.type, click.types.IntParamType):
        raise CnngenError(f"{where} must be a whole number, got {value!r}", CONFIG_OPTION)
    if not isinstance(value, (str, int, float, list)):
        raise CnngenError(
            f"{where}: unsupported value {value!r}; use a string or a number", CONFIG_OPTION
        )
    try:
        param.type_cast_value(ctx, value)
    except click.BadParameter as error:
        raise CnngenError(f"{where}: {error.message.rstrip('.')}", CONFIG_OPTION) from None


def load_into_context(ctx: click.Context, path: Path) -> None:
    """Validate the file against ``ctx.command`` and merge it into the default map."""
    data = read_toml(path)
    keys = config_keys(ctx.command)
    defaults: dict[str, Any] = {}
    for raw_key, value in data.items():
        key = raw_key.replace("_", "-")
        param = keys.get(key)
        if param is None:
            import difflib  # only for this error's hint

            close = difflib.get_close_matches(key, list(keys), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise CnngenError(
                f"--config: {path}: unknown key {raw_key!r} for 'cnngen {ctx.command_path.split(' ', 1)[-1]}'; "
                f"{hint}keys are the long option names, e.g. {', '.join(sorted(keys)[:4])}",
                CONFIG_OPTION,
            )
        if param.name in defaults:
            raise CnngenError(f"--config: {path}: {raw_key!r} is given twice", CONFIG_OPTION)
        _check_value(ctx, path, key, param, value)
        defaults[param.name] = value
    merged = dict(ctx.default_map or {})
    merged.update(defaults)
    ctx.default_map = merged
    ctx.meta[META_KEY] = path


def _inside(path: str, folder: str) -> bool:
    """Whether ``path`` (as cnngen would open it) lies in ``folder``, links resolved."""
    return os.path.commonpath([os.path.realpath(path), os.path.realpath(folder)]) == (
        os.path.realpath(folder)
    )


def check_from_config(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """Refuse what a config file may not do on its own; flags on the command line may.

    A config file is easy to receive from someone else.  So it may not turn on
    ``force`` (overwrite files the user never named), and a path it gives to
    write to must lie inside the config file's own folder.
    """
    if ctx.resilient_parsing or param.name is None:
        return
    if ctx.get_parameter_source(param.name) is not click.core.ParameterSource.DEFAULT_MAP:
        return
    path = ctx.meta.get(META_KEY)
    if path is None:
        return
    key = param.name.replace("_", "-")
    if param.name in COMMAND_LINE_ONLY and value:
        raise CnngenError(
            f"--config: {path}: {key} = true is not allowed in a config file (a config must "
            f"not overwrite files on its own); pass --{key} on the command line instead",
            CONFIG_OPTION,
        )
    if param.name in WRITE_PATHS and isinstance(value, str) and value != "-":
        folder = path.parent if str(path.parent) else Path(".")
        if not _inside(value, str(folder)):
            raise CnngenError(
                f"--config: {path}: {key} = {value!r} is outside the config file's folder "
                f"{folder}; a config may only write inside its own folder, so give that "
                f"path on the command line instead",
                CONFIG_OPTION,
            )


def _guarded(param: click.Parameter) -> None:
    """Wrap ``param``'s callback with :func:`check_from_config`, once."""
    if getattr(param, "_cnngen_guarded", False):
        return
    previous = param.callback

    def callback(ctx: click.Context, parameter: click.Parameter, value: Any) -> Any:
        check_from_config(ctx, parameter, value)
        return previous(ctx, parameter, value) if previous is not None else value

    param.callback = callback
    param._cnngen_guarded = True  # type: ignore[attr-defined]


def _config_callback(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is None or ctx.resilient_parsing:
        return
    load_into_context(ctx, Path(value))


def config_option() -> click.Option:
    """An eager ``--config FILE`` option: processed before every other parameter."""
    return click.Option(
        [CONFIG_OPTION],
        metavar="FILE",
        default=None,
        is_eager=True,
        expose_value=False,
        callback=_config_callback,
        help="TOML file with the same options as the flags (keys are long option names); "
        "flags given on the command line win.",
    )


def install_config_option(command: click.Command) -> None:
    """Give ``command`` and, for a group, every command under it a ``--config`` option.

    Idempotent, so it can run again after more commands were registered.
    """
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            install_config_option(sub)
        return
    for param in command.params:
        if param.name in WRITE_PATHS | COMMAND_LINE_ONLY:
            _guarded(param)
    if any(param.name == "config" for param in command.params):
        return
    command.params.append(config_option())


# ------------------------------------------------------------------- writing
