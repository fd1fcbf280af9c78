"""The registries that tie one extension point to every place that needs it."""

from __future__ import annotations

from cnngen.core.vocab import HELPER_CLASSES
from cnngen.rendering.engine import templates_dir


def test_every_helper_class_has_exactly_one_template() -> None:
    folder = templates_dir() / "helpers"
    shipped = {path.name.removesuffix(".py.jinja") for path in folder.glob("*.py.jinja")}
    assert shipped == set(HELPER_CLASSES)
    for name in HELPER_CLASSES:
        text = (folder / f"{name}.py.jinja").read_text()
        assert f"class {name}(nn." in text  # nn.Module, or a torch module it extends


def test_every_preset_is_declared_with_a_builder_that_plans_it() -> None:
    from cnngen.core.presets import ARCHITECTURES
    from cnngen.core.vocab import PRESET_TABLE, PRESETS

    # lenet5 is the one architecture the solver builds itself.
    used = {decl.architecture for decl in PRESET_TABLE.values()} - {"lenet5"}
    assert used == set(ARCHITECTURES)
    assert PRESETS == tuple(PRESET_TABLE)


def test_the_preset_choices_and_help_come_from_the_declarations(run_cli) -> None:
    from cnngen.core.vocab import PRESET_TABLE

    result = run_cli("model", "classifier", "--preset", "no_such_net")
    assert result.code == 2
    help_text = run_cli("model", "--help").out
    for name in PRESET_TABLE:
        assert name in result.err
        assert name in " ".join(help_text.split())


def test_every_block_is_declared_with_a_layer_builder() -> None:
    from cnngen.core.blocks import LAYER_BUILDERS
    from cnngen.core.vocab import BLOCK_TABLE, BLOCKS

    assert set(BLOCK_TABLE) == set(LAYER_BUILDERS)
    assert BLOCKS == tuple(BLOCK_TABLE)
