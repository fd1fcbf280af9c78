"""The documented depth limit, --layers 1000: every combination plans there or is refused in one line."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

import cnngen
from cnngen.core.spec import MAX_LAYERS
from cnngen.errors import CnngenError
from tests.generated import load, shape_mismatches, write_model

FAMILIES = {
    "encoder": (64,),
    "forecaster": (16, 16),
    "classifier": (16, 16),
    "equivariant": (16, 16),
    "unet": (16, 16),
}
OPTIONS = [
    {},
    {"downsample": "none"},
    {"block": "residual"},
    {"block": "bottleneck"},
    {"block": "convnext"},
    {"se": True},
    {"depthwise": True},
    {"block": "residual", "downsample": "none"},
]


@pytest.mark.slow
def test_every_family_and_option_plans_at_the_limit_or_is_refused_in_one_line() -> None:
    planned = 0
    for (family, size), options in itertools.product(FAMILIES.items(), OPTIONS):
        try:
            plan = cnngen.plan(
                family,
                input_size=size,
                layers=MAX_LAYERS,
                start_channels=4,
                max_channels=8,
                **options,
            )
        except CnngenError as error:
            # Refused up front, in one line that names the option.
            assert "\n" not in str(error) and error.param, (family, options, error)
            continue
        planned += 1
        assert len(plan.stages) >= MAX_LAYERS, (family, options)
    assert planned >= 15
    with pytest.raises(CnngenError, match="at most 1000"):
        cnngen.plan("encoder", input_size=(64,), layers=MAX_LAYERS + 1)


@pytest.mark.slow
def test_a_model_at_the_limit_renders_and_runs_with_every_shape_as_planned(tmp_path: Path) -> None:
    """The deepest nesting there is: 1000 residual stages, none of them downsampling."""
    path = write_model(
        tmp_path,
        "classifier",
        input_size=(16, 16),
        layers=MAX_LAYERS,
        start_channels=4,
        max_channels=4,
        block="residual",
        downsample="none",
    )
    assert shape_mismatches(load(path), batch_size=1) == []
