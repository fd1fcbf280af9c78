"""Checks of what the file declares: the forward pass, shapes, counts and resize layers.

Every declaration is read from a module constant (``OUTPUT_SHAPE``,
``LAYER_SHAPES``, ``PARAMETERS``, ``MACS``), never from docstring prose.  A
hand-written file that lacks one gets that check skipped, with a hint how to
add it, and the measured figure in ``details``.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from cnngen.verify.common import CheckFailed, Skip, Verifier, Warn, describe_error
from cnngen.verify.runner import describe_mismatch

ADAPTIVE_POOLS = (
    nn.AdaptiveAvgPool1d,
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveAvgPool3d,
    nn.AdaptiveMaxPool1d,
    nn.AdaptiveMaxPool2d,
    nn.AdaptiveMaxPool3d,
)


def declared_int(v: Verifier, name: str) -> int | None:
    """An int module constant such as ``PARAMETERS``; None when absent or not an int."""
    value = getattr(v.module, name, None)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _shape_of(value: Any) -> tuple[Any, ...]:
    return tuple(value.shape[1:]) if isinstance(value, torch.Tensor) else ("not a tensor",)


def check_forward(v: Verifier) -> tuple[str, dict[str, Any]]:
    """Eval-mode forward with hooks recording every named module's output shape.

    The same pass notes resize layers: adaptive pools whose output differs
    from their input and is not a global pool, ``nn.Upsample`` and calls of
    ``torch.nn.functional.interpolate``.
    """
    assert v.model is not None and v.x is not None
    handles = []
    for name, module in v.model.named_modules():
        if not name:
            continue

        def hook(module: nn.Module, inputs: Any, output: Any, name: str = name) -> None:
            shape = _shape_of(output)
            if name not in v.seen:
                v.seen[name] = shape
            elif v.seen[name] != shape:
                v.varied.setdefault(name, [v.seen[name]]).append(shape)
            if isinstance(module, ADAPTIVE_POOLS) and inputs:
                before = _shape_of(inputs[0])[1:]
                after = shape[1:]
                if before != after and any(size != 1 for size in after):
                    v.resizes.append(
                        {
                            "name": name,
                            "kind": type(module).__name__,
                            "input": list(before),
                            "output": list(after),
                        }
                    )
            elif isinstance(module, nn.Upsample) and inputs:
                v.resizes.append(
                    {
                        "name": name,
                        "kind": "Upsample",
                        "input": list(_shape_of(inputs[0])[1:]),
                        "output": list(shape[1:]),
                    }
                )

        handles.append(module.register_forward_hook(hook))
    original = nn.functional.interpolate

    def interpolate(input: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        result = original(input, *args, **kwargs)
        v.resizes.append(
            {
                "name": "interpolate",
                "kind": "interpolate",
                "input": list(input.shape[2:]),
                "output": list(result.shape[2:]),
            }
        )
        return result

    nn.functional.interpolate = interpolate
    v.model.eval()
    try:
        with torch.no_grad():
            output = v.model(v.x)
            _training_outputs(v)
    except CheckFailed:
        raise
    except Exception as error:  # noqa: BLE001
        v.forward_error = describe_error(error, v.path)
        raise CheckFailed(f"forward pass failed: {v.forward_error}") from None
    finally:
        nn.functional.interpolate = original
        for handle in handles:
            handle.remove()
    if not isinstance(output, torch.Tensor):
        v.forward_error = f"returned {type(output).__name__}, not a tensor"
        raise CheckFailed(f"the model {v.forward_error}")
    v.output = output
    if tuple(output.shape[1:]) != v.output_shape and output.dim() >= 2:
        v.make_target(tuple(output.shape[1:]))
    finite = bool(torch.isfinite(output).all())
    details = {
        "input": [v.args.batch, *v.input_shape],
        "output": list(output.shape),
        "finite": finite,
    }
    if not finite:
        raise CheckFailed("the output contains inf or nan", details)
    return f"{tuple(v.x.shape)} -> {tuple(output.shape)}", details


def _training_outputs(v: Verifier) -> None:
    """With TRAINING_OUTPUT_SHAPES, a training-mode forward (on a copy, so no norm statistics
    change) must return (output, *extras) of those shapes; the hooks record the heads' layers."""
    declared = getattr(v.module, "TRAINING_OUTPUT_SHAPES", None)
    if declared is None:
        return
    assert v.model is not None
    outputs = copy.deepcopy(v.model).train()(v.x)
    expected = [list(v.output_shape), *(list(shape) for shape in declared)]
    actual = (
        [list(_shape_of(item)) for item in outputs] if isinstance(outputs, tuple) else None
    )
    if actual != expected:
        got = "a tensor" if actual is None else actual
        raise CheckFailed(
            f"in training the model returned {got}, TRAINING_OUTPUT_SHAPES says the output and "
            f"{len(declared)} extras {expected}",
            {"expected": expected, "actual": actual},
        )


def check_output_shape(v: Verifier) -> tuple[str, dict[str, Any]]:
    v.need_forward()
    assert v.output is not None
    expected = (v.args.batch, *v.output_shape)
    actual = tuple(v.output.shape)
    details = {"expected": list(expected), "actual": list(actual)}
    if actual != expected:
        raise CheckFailed(f"output shape {actual}, OUTPUT_SHAPE says {expected}", details)
    return f"{actual} as OUTPUT_SHAPE says", details


def check_layer_shapes(v: Verifier) -> tuple[str, dict[str, Any]]:
    """Compare hooked shapes with LAYER_SHAPES (also after a failed forward: what ran)."""
    assert v.module is not None and v.model is not None
    if "forward" not in v.selected:
        raise Skip("needs the forward check, which was not selected (--checks/--skip)")
    declared = getattr(v.module, "LAYER_SHAPES", None)
    if declared is None:
        measured = {
            name: list(shape)
            for name, shape in v.seen.items()
            if "." not in name and shape != ("not a tensor",)
        }
        raise Skip(
            "the file defines no LAYER_SHAPES; add LAYER_SHAPES = {'module.name': (C, H, W), ...} "
            "(output shapes without the batch) to check layer by layer; details list the "
            "measured shapes of the top-level modules",
            {"measured": measured},
        )
    if not isinstance(declared, dict):
        raise CheckFailed(
            f"LAYER_SHAPES must be a dict of module name -> shape, got {type(declared).__name__}"
        )
    modules = {name for name, _ in v.model.named_modules() if name}
    mismatches: list[dict[str, Any]] = []
    not_reached: list[str] = []
    for name, expected in declared.items():
        expected_shape = list(expected) if isinstance(expected, (tuple, list)) else expected
        if name not in modules:
            mismatches.append(
                {"name": name, "expected": expected_shape, "actual": None, "problem": "missing"}
            )
        elif name not in v.seen:
            if v.forward_error is None:
                mismatches.append(
                    {
                        "name": name,
                        "expected": expected_shape,
                        "actual": None,
                        "problem": "not_called",
                    }
                )
            else:
                not_reached.append(name)
        elif v.seen[name] != tuple(expected_shape):
            mismatches.append(
                {
                    "name": name,
                    "expected": expected_shape,
                    "actual": list(v.seen[name]),
                    "problem": "shape",
                }
            )
    for name, shapes in v.varied.items():
        mismatches.append(
            {
                "name": name,
                "expected": declared.get(name),
                "actual": [list(s) for s in shapes],
                "problem": "varies",
            }
        )
    unlisted = sorted(modules - set(declared))
    compared = len(declared) - len(not_reached)
    details = {
        "declared": len(declared),
        "compared": compared,
        "mismatches": mismatches,
        "not_reached": not_reached,
        "unlisted": unlisted,
    }
    if mismatches:
        raise CheckFailed(
            f"{len(mismatches)} of {len(declared)} layers differ from LAYER_SHAPES; first: "
            + describe_mismatch(mismatches[0]),
            details,
        )
    if not_reached:
        raise CheckFailed(
            f"the {compared} layers that ran match LAYER_SHAPES, but {len(not_reached)} "
            f"were not reached because the forward pass failed",
            details,
        )
    return f"all {len(declared)} layers match LAYER_SHAPES", details


def check_params(v: Verifier) -> tuple[str, dict[str, Any]]:
    assert v.model is not None
    actual = sum(p.numel() for p in v.model.parameters())
    declared = declared_int(v, "PARAMETERS")
    details = {"actual": actual, "declared": declared}
    metrics = v.report.data["metrics"]
    metrics["params"], metrics["params_declared"] = actual, declared
    if declared is None:
        raise Skip(
            f"{actual:,} parameters; the file defines no PARAMETERS constant to compare with "
            f"(add PARAMETERS = {actual} once that number is what you intend)",
            details,
        )
    if declared != actual:
        raise CheckFailed(
            f"the model has {actual:,} parameters, PARAMETERS says {declared:,}", details
        )
    return f"{actual:,} parameters, as PARAMETERS says", details


def check_macs(v: Verifier) -> tuple[str, dict[str, Any]]:
    """torch's FlopCounterMode on one forward; MACs = flops / 2 per sample."""
    v.need_forward()
    assert v.model is not None
    from torch.utils.flop_counter import FlopCounterMode

    v.model.eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        v.model(v.x)
    measured = counter.get_total_flops() / 2 / v.args.batch
    measured_value: int | float = int(measured) if measured == int(measured) else measured
    declared = declared_int(v, "MACS")
    agree = declared is not None and declared == measured
    v.report.data["metrics"].update(
        {"macs_measured": measured_value, "macs_declared": declared, "macs_agree": agree}
    )
    details = {"measured": measured_value, "declared": declared, "agree": agree}
    if declared is None:
        raise Skip(
            f"torch counts {measured_value:,} MACs per sample; the file defines no MACS "
            f"constant to compare with (add MACS = {measured_value})",
            details,
        )
    if not agree:
        raise CheckFailed(
            f"torch counts {measured_value:,} multiply-accumulates per sample, MACS says "
            f"{declared:,}",
            details,
        )
    return f"{declared:,} per sample, as MACS says", details


def check_resize(v: Verifier) -> tuple[str, dict[str, Any]]:
    """Layers that resize to a computed size hide shape errors instead of exposing them."""
    v.need_forward()
    if not v.resizes:
        return "no adaptive pooling or interpolation changes a size", {"layers": []}
    first = v.resizes[0]
    raise Warn(
        f"{len(v.resizes)} layer(s) resize to a computed size instead of exact arithmetic; "
        f"first: {first['name']} ({first['kind']}) "
        f"{'x'.join(map(str, first['input']))} -> {'x'.join(map(str, first['output']))}",
        {"layers": v.resizes},
    )
