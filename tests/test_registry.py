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
        assert f"class {name}(nn.Module):" in text


def test_every_preset_name_has_a_builder_and_every_builder_a_name() -> None:
    from cnngen.core.presets import BUILDERS
    from cnngen.core.vocab import PRESETS

    # lenet5 is the one preset the solver builds itself.
    assert set(PRESETS) - {"lenet5"} == set(BUILDERS)
