"""``cnngen --help`` lists the commands without importing them.

The group's ``commands`` is a table of module names and help lines
(``cnngen.cli.app.COMMANDS``); a command's module loads when the command is
looked up.  These tests keep the table honest (same names, same help lines as
the commands themselves) and check that listing imports no command module, no
solver and no renderer.
"""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest

from cnngen.cli import app


def _loaded_table() -> dict[str, click.Command]:
    commands = app.LazyCommands(dict(app.COMMANDS))
    return {name: commands[name] for name in commands}


def test_every_command_in_the_table_loads_under_its_name() -> None:
    for name, command in _loaded_table().items():
        assert command.name == name


@pytest.mark.parametrize("limit", [20, 45, 60, 200])
def test_listed_help_line_is_the_commands_own(limit: int) -> None:
    unloaded = app.LazyCommands(dict(app.COMMANDS))
    for name, command in _loaded_table().items():
        assert unloaded.short_help(name, limit) == command.get_short_help_str(limit), name
    assert not unloaded.loaded, "short_help loaded a command"


def test_loaded_commands_get_config_template_dir_and_sections() -> None:
    commands = _loaded_table()
    for name, command in commands.items():
        subs = command.commands.values() if isinstance(command, click.Group) else [command]
        for sub in subs:
            names = [param.name for param in sub.params]
            assert "config" in names, name
            assert ("template_dir" in names) == (name in app.RENDERING_COMMANDS), name
            assert names.count("template_dir") <= 1 and names.count("config") == 1
    for name in app.SECTIONED:
        assert type(commands[name]).__name__ == "SectionedCommand"


def test_mapping_behaves_like_a_dict() -> None:
    commands = app.LazyCommands(dict(app.COMMANDS))
    assert sorted(commands) == sorted(app.COMMANDS) and len(commands) == len(app.COMMANDS)
    assert "model" in commands and "nonsense" not in commands
    assert commands.get("nonsense") is None and not commands.loaded
    extra = click.Command("extra")
    commands["extra"] = extra
    assert commands["extra"] is extra and "extra" in list(commands)
    del commands["extra"]
    assert "extra" not in commands
    with pytest.raises(KeyError):
        del commands["extra"]


@pytest.mark.slow
def test_group_help_imports_no_command_and_no_solver() -> None:
    script = (
        "import json, sys\n"
        "from cnngen.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "sys.stderr.write(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    modules = set(json.loads(done.stderr))
    assert "Commands:" in done.stdout and "plan" in done.stdout
    commands = {module for module, _, _ in app.COMMANDS.values()}
    assert not modules & commands
    assert not {m for m in modules if m.startswith(("cnngen.core", "cnngen.api"))}
    assert not modules & {"jinja2", "black", "torch", "numpy"}
