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
