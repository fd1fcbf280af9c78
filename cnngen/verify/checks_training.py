"""Checks that the model learns: gradients, a few training steps, rotation invariance."""

from __future__ import annotations

import copy
import math
from typing import Any

import torch

from cnngen.verify.common import (
    RELATIVE_TOLERANCE,
    CheckFailed,
    Skip,
    Verifier,
    finite,
    max_difference,
    peak_rss_bytes,
    tolerance,
)

LEARNING_RATE = 1e-3


def check_gradients(v: Verifier) -> tuple[str, dict[str, Any]]:
    v.need_forward()
    assert v.model is not None and v.x is not None
    v.model.train()
    torch.manual_seed(2)
    loss = v.loss(v.model(v.x))
    loss.backward()
    v.rss_after = peak_rss_bytes()
    v.cuda_peak = torch.cuda.max_memory_allocated(v.device) if v.device.type == "cuda" else None
    missing: list[str] = []
    non_finite: list[str] = []
    checked = 0
    for name, parameter in v.model.named_parameters():
        if not parameter.requires_grad:
            continue
        checked += 1
        if parameter.grad is None:
            missing.append(name)
        elif not bool(torch.isfinite(parameter.grad).all()):
            non_finite.append(name)
    details = {
        "loss": finite(float(loss)),
        "parameters_checked": checked,
        "no_gradient": missing,
        "non_finite": non_finite,
    }
    problems = []
    if not math.isfinite(float(loss)):
        problems.append(f"the loss is {float(loss)}")
    if missing:
        problems.append(f"{len(missing)} parameters got no gradient (first: {missing[0]})")
    if non_finite:
        problems.append(
            f"{len(non_finite)} parameters got a non-finite gradient (first: {non_finite[0]})"
        )
    if problems:
        raise CheckFailed("; ".join(problems), details)
    return f"all {checked} parameter tensors got finite gradients", details


def check_training(v: Verifier) -> tuple[str, dict[str, Any]]:
    """A few Adam steps on one fixed batch must lower the loss.

    Training runs on a copy so later checks see the freshly built model.
    The seed is reset before every forward so dropout draws the same mask
    and the losses are comparable.
    """
    v.need_forward()
    steps = v.args.steps
    if steps < 1:
        raise Skip("--steps 0")
    assert v.model is not None
    model = copy.deepcopy(v.model).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    losses: list[float] = []
    for step in range(steps + 1):
        torch.manual_seed(3)
        loss = v.loss(model(v.x))
        losses.append(float(loss))
        if step == steps:
            break
        v.progress(f"training step {step + 1}/{steps}: loss {float(loss):.5g}")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    kind = v.loss_kind()
    details = {
        "loss": kind,
        "optimizer": "Adam",
        "learning_rate": LEARNING_RATE,
        "steps": steps,
        "losses": [finite(value) for value in losses],
    }
    first, last = losses[0], losses[-1]
    if not (math.isfinite(last) and last < first):
        raise CheckFailed(
            f"{kind} loss did not fall in {steps} steps: {first:.5g} -> {last:.5g}", details
        )
    return f"{kind} loss {first:.4g} -> {last:.4g} in {steps} Adam steps", details


def check_equivariance(v: Verifier) -> tuple[str, dict[str, Any]]:
    if not v.equivariant:
        raise Skip("not an equivariant model (no RotationStack or LiftingConv2d)")
    v.need_forward()
    assert v.model is not None and v.x is not None
    if len(v.input_shape) < 3 or v.input_shape[-1] != v.input_shape[-2]:
        raise Skip(f"input {v.input_shape} has no square last two dimensions to rotate")
    v.model.eval()
    with torch.no_grad():
        reference = v.model(v.x)
        differences = []
        # Quarter turns 1, 2, 3, then (for D4) the mirror image turned 0, 1, 2, 3 times.
        elements = [(False, 1), (False, 2), (False, 3)]
        if v.mirrored:
            elements += [(True, turns) for turns in range(4)]
        for mirror, turns in elements:
            x = v.x.flip(-1) if mirror else v.x
            rotated = v.model(torch.rot90(x, turns, dims=(-2, -1)))
            differences.append(max_difference(reference, rotated))
    limit = tolerance(reference)
    details = {
        "max_abs_diff": [finite(d) for d in differences],
        "tolerance": limit,
        "relative_tolerance": RELATIVE_TOLERANCE,
        "output_scale": float(reference.abs().max()),
    }
    worst = max(differences)
    if not worst <= limit:
        mirror, turn = elements[differences.index(worst)]
        what = "mirroring the input and turning it" if mirror else "rotating the input"
        raise CheckFailed(
            f"{what} by {turn} quarter turn(s) changes the output by {worst:.3g} "
            f"(tolerance {limit:.3g})",
            details,
        )
    under = "1, 2, 3 quarter turns"
    if v.mirrored:
        under += " and the mirror image turned 0, 1, 2, 3 times"
    return (f"unchanged under {under} (max abs diff {worst:.2g} <= {limit:.2g})", details)
