"""--config files, --save-config, and the shared output behaviour (-o, --force, --check, --dry-run)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cnngen import cli
from cnngen.cli.config import dump_config, install_config_option, toml_value, tomllib
from cnngen.core.spec import SPEC_DEFAULTS

FORECASTER = ["-i", "100x100", "--in-channels", "60", "--out-channels", "30", "-n", "5"]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------ --config
def test_config_file_gives_the_same_plan_as_the_flags(run_cli, tmp_path: Path) -> None:
    config = write(
        tmp_path / "f.toml",
        'family = "forecaster"\ninput-size = "100x100"\nin-channels = 60\n'
        "out-channels = 30\nlayers = 5\n",
    )
    from_flags = run_cli("plan", "forecaster", *FORECASTER)
    from_file = run_cli("plan", "--config", str(config))
    assert from_file.code == 0, from_file.err
    assert from_file.out == from_flags.out
    assert "Forecaster: 60x100x100 -> 30x100x100" in from_file.out


def test_a_flag_beats_the_file_and_the_file_beats_the_default(run_cli, tmp_path: Path) -> None:
    config = write(tmp_path / "f.toml", 'input-size = "64"\nlayers = 5\nstart-channels = 8\n')
    flag_wins = run_cli("plan", "encoder", "--config", str(config), "-n", "2", "--json")
    # The flag may come before or after --config: --config is eager either way.
    flag_first = run_cli("plan", "encoder", "-n", "2", "--config", str(config), "--json")
    import json

    layers = {
        len([x for x in json.loads(r.out)["layers"] if x["kind"] == "conv"])
        for r in (flag_wins, flag_first)
    }
    assert layers == {2}
    file_wins = json.loads(run_cli("plan", "encoder", "--config", str(config), "--json").out)
    convs = [x for x in file_wins["layers"] if x["kind"] == "conv"]
    assert len(convs) == 5 and convs[0]["out"][0] == 8


def test_positional_family_beats_the_file(run_cli, tmp_path: Path) -> None:
    config = write(tmp_path / "f.toml", 'family = "forecaster"\ninput-size = 64\n')
    result = run_cli("plan", "encoder", "--config", str(config))
    assert result.code == 0, result.err
    assert result.out.startswith("Encoder: 1x64 ->")


def test_sizes_as_lists_and_keys_with_underscores(run_cli, tmp_path: Path) -> None:
    config = write(tmp_path / "f.toml", 'family = "classifier"\ninput_size = [28, 28]\nse = true\n')
    result = run_cli("plan", "--config", str(config), "--json")
    assert result.code == 0, result.err
    assert '"input": [\n    1,\n    28,\n    28\n  ]' in result.out
    assert "SqueezeExcite" in result.out


def test_calc_takes_a_config_too(run_cli, tmp_path: Path) -> None:
    config = write(tmp_path / "c.toml", 'operation = "conv"\ninput = 28\nkernel = 5\npadding = 2\n')
    result = run_cli("calc", "--config", str(config))
    assert result.code == 0, result.err
    assert result.out.splitlines()[-1] == "output size: 28"


def test_every_command_gets_config_including_ones_added_later(tmp_path: Path) -> None:
    seen: dict[str, object] = {}

    @click.group()
    def group() -> None:
        """Toy group."""

    @group.command("late")
    @click.option("--count", type=int, default=1)
    @click.option("--loud", is_flag=True)
    def late(count: int, loud: bool) -> None:
        seen.update(count=count, loud=loud)

    install_config_option(group)
    install_config_option(group)  # idempotent
    assert [p.name for p in late.params].count("config") == 1
    config = write(tmp_path / "late.toml", "count = 7\nloud = true\n")
    result = CliRunner().invoke(group, ["late", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert seen == {"count": 7, "loud": True}
    CliRunner().invoke(group, ["late", "--config", str(config), "--count", "3"])
    assert seen["count"] == 3


def test_every_registered_command_has_config(run_cli) -> None:
    run_cli("--version")  # main() registers the optional commands

    def leaves(command: click.Command):
        if isinstance(command, click.Group):
            for sub in command.commands.values():
                yield from leaves(sub)
        else:
            yield command

    commands = list(leaves(cli.cli))
    assert {"plan", "model", "calc", "handout"} <= {c.name for c in commands}
    for command in commands:
        assert any(p.name == "config" and p.is_eager for p in command.params), command.name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("layer = 5\n", "unknown key 'layer' for 'cnngen plan'; did you mean 'layers'?"),
        ("layers = 'five'\n", "layers: 'five' is not a valid integer"),
        ("layers = 2.5\n", "layers must be a whole number, got 2.5"),
        ("se = 1\n", "se is a switch; write se = true or se = false"),
        ("kernel = true\n", "kernel takes a value like the flag --kernel, not True"),
        ("[layers]\nx = 1\n", "layers takes a value like the flag --layers, not a table"),
        ("activation = ['relu']\n", "activation takes one value, not a list"),
        ("layers = \n", "is not valid TOML"),
        ("layers = 3\nlayers = 4\n", "is not valid TOML"),
        ("config = 'x.toml'\n", "unknown key 'config'"),
    ],
)
def test_bad_config_files_give_one_line(run_cli, tmp_path: Path, text: str, expected: str) -> None:
    config = write(tmp_path / "bad.toml", text)
    result = run_cli("plan", "encoder", "-i", "64", "--config", str(config))
    assert result.code == 2
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: --config: "), result.err
    assert expected in lines[0]
    assert result.out == ""


def test_missing_config_file(run_cli, tmp_path: Path) -> None:
    result = run_cli("plan", "encoder", "-i", "64", "--config", str(tmp_path / "nope.toml"))
    assert result.code == 2
    assert (
        result.err.strip()
        == f"Error: --config: {tmp_path / 'nope.toml'} does not exist; give an existing TOML file"
    )


def test_family_missing_everywhere(run_cli) -> None:
    result = run_cli("model", "-i", "64")
    assert result.code == 2
    assert result.err.startswith("Error: FAMILY: missing; give one of encoder, forecaster")


# ------------------------------------------------------------- save-config
def test_save_config_reproduces_the_run(run_cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    first = run_cli(
        "model",
        "forecaster",
        *FORECASTER,
        "--latent",
        "16",
        "-o",
        "m.py",
        "--save-config",
        "m.toml",
    )
    assert first.code == 0, first.err
    saved = tomllib.loads(Path("m.toml").read_text())
    assert saved == {
        "family": "forecaster",
        "input-size": "100x100",
        "in-channels": 60,
        "out-channels": 30,
        "layers": 5,
        "latent": 16,
        "output": "m.py",
    }
    # The header records the exact options, however they were given.
    header = Path("m.py").read_text().split('"""')[1]
    expected = (
        "cnngen model forecaster --input-size 100x100 --in-channels 60 "
        "--out-channels 30 --layers 5 --latent 16 --output m.py"
    )
    assert expected in header
    current = run_cli("model", "--config", "m.toml", "--check")
    assert current.code == 0, current.err
    assert current.err.strip() == "m.py: up to date"
    # Regenerating from the config with --force gives the same bytes.
    before = Path("m.py").read_bytes()
    assert run_cli("model", "--config", "m.toml", "--force").code == 0
    assert Path("m.py").read_bytes() == before


def test_header_records_options_that_came_from_a_config(run_cli, tmp_path: Path) -> None:
    config = write(tmp_path / "c.toml", 'input-size = "32x32"\nblock = "residual"\nse = true\n')
    result = run_cli("model", "classifier", "--config", str(config))
    assert result.code == 0, result.err
    assert "cnngen model classifier --input-size 32x32 --block residual --se" in result.out


def test_save_config_refuses_to_overwrite_and_writes_nothing(run_cli, tmp_path: Path) -> None:
    existing = write(tmp_path / "m.toml", "# keep me\n")
    model = tmp_path / "m.py"
    result = run_cli(
        "model", "encoder", "-i", "64", "-o", str(model), "--save-config", str(existing)
    )
    assert result.code == 2
    assert result.err.startswith("Error: --save-config: ") and "--force" in result.err
    assert not model.exists()
    assert existing.read_text() == "# keep me\n"


def test_toml_values() -> None:
    assert toml_value((100, 100)) == '"100x100"'
    assert toml_value((7,)) == "7"
    assert toml_value(True) == "true"
    assert toml_value(0.25) == "0.25"
    assert toml_value('a "quoted" name') == '"a \\"quoted\\" name"'
    text = dump_config([("input_size", (3, 4)), ("name", "Net")], "line one\nline two")
    assert tomllib.loads(text) == {"input-size": "3x4", "name": "Net"}
    assert text.startswith("# line one\n# line two\n")


def test_every_spec_field_has_a_cli_option() -> None:
    """A field added to ModelSpec without a flag would be unreachable from the CLI and configs."""
    model_params = {p.name for p in cli.cli.commands["model"].params}
    assert set(SPEC_DEFAULTS) - {"given"} <= model_params


# ------------------------------------------------------ --check / --dry-run
def test_check_reports_stale_missing_and_current(run_cli, tmp_path: Path) -> None:
    target = tmp_path / "enc.py"
    args = ("model", "encoder", "-i", "64", "-o", str(target))
    missing = run_cli(*args, "--check")
    assert missing.code == 1
    assert f"{target}: missing" in missing.err
    assert not target.exists()
    assert run_cli(*args).code == 0
    assert run_cli(*args, "--check").code == 0
    stale = run_cli(*args, "-n", "2", "--check")
    assert stale.code == 1
    assert f"{target}: out of date" in stale.err
    assert "rerun without --check" in stale.err


def test_dry_run_shows_a_diff_and_writes_nothing(run_cli, tmp_path: Path) -> None:
    target = tmp_path / "enc.py"
    args = ("model", "encoder", "-i", "64", "-o", str(target))
    fresh = run_cli(*args, "--dry-run")
    assert fresh.code == 0
    assert fresh.out.startswith(f"would create {target} (")
    assert '    """Encoder: (B, 1, 64) -> ' in fresh.out
    assert not target.exists()
    run_cli(*args)
    before = target.read_text()
    changed = run_cli(*args, "-n", "2", "--dry-run")
    assert changed.code == 0
    assert (
        f"would overwrite {target}" in changed.out and "the real run needs --force" in changed.out
    )
    assert f"--- {target} (on disk)" in changed.out
    assert any(line.startswith("-") and "enc3" in line for line in changed.out.splitlines())
    assert target.read_text() == before
    same = run_cli(*args, "--dry-run")
    assert "is up to date" in same.out


def test_stdout_force_and_refusal(run_cli, tmp_path: Path) -> None:
    stdout = run_cli("model", "encoder", "-i", "64", "-o", "-")
    assert stdout.code == 0 and stdout.out.startswith('"""Encoder')
    target = write(tmp_path / "enc.py", "old\n")
    refused = run_cli("model", "encoder", "-i", "64", "-o", str(target))
    assert refused.code == 2
    assert refused.err.strip() == f"Error: --output: {target} exists; pass --force to overwrite it"
    assert target.read_text() == "old\n"
    forced = run_cli("model", "encoder", "-i", "64", "-o", str(target), "--force")
    assert forced.code == 0
    assert target.read_text().startswith('"""Encoder')


@pytest.mark.parametrize("flag", ["--check", "--dry-run"])
def test_check_and_dry_run_need_a_file(run_cli, flag: str) -> None:
    result = run_cli("model", "encoder", "-i", "64", flag)
    assert result.code == 2
    assert result.err.startswith(f"Error: {flag}: compares with a file on disk")


def test_the_readme_config_example_works(run_cli, tmp_path: Path, monkeypatch) -> None:
    readme = Path(__file__).resolve().parent.parent / "README.md"
    text = readme.read_text(encoding="utf-8")
    block = text.split("```toml\n", 1)[1].split("```", 1)[0]
    config = write(tmp_path / "forecaster.toml", block)
    monkeypatch.chdir(tmp_path)
    written = run_cli("model", "--config", str(config))
    assert written.code == 0, written.err
    assert (
        (tmp_path / "forecaster.py")
        .read_text()
        .startswith('"""Forecaster: (B, 60, 100, 100) -> (B, 30, 100, 100)')
    )
    assert run_cli("model", "--config", str(config), "--check").code == 0


def test_calc_spells_the_input_like_model(run_cli, tmp_path: Path) -> None:
    by_short = run_cli("calc", "conv", "-i", "28x28", "--kernel", "5")
    by_long = run_cli("calc", "conv", "--input-size", "28x28", "--kernel", "5")
    config = write(tmp_path / "c.toml", 'input-size = "28x28"\nkernel = 5\n')
    by_file = run_cli("calc", "conv", "--config", str(config))
    assert by_short.out == by_long.out == by_file.out
    assert by_short.out.splitlines()[-1] == "output size: 24x24"
