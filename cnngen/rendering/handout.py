"""A Jupyter notebook that teaches one generated model (``cnngen handout``).

The notebook holds the model file, the ideas of its architecture (residual
blocks, squeeze-and-excitation, depthwise-separable and transposed
convolutions, rotation invariance, the history of its preset; see
:mod:`cnngen.rendering.lessons`), one cell per layer with its output-size
formula filled in (from :mod:`cnngen.rendering.explain`, so the text and the
plan can never disagree), a cell that checks every layer's shape on a random
batch, and exercises.  Every code cell asserts what it prints, so running the
notebook top to bottom is itself a test of the handout.

Two editions come from the same cells:

- the teacher edition (default) keeps everything; answers (and the model's
  plan table, whose parameter counts answer exercises) are tagged
  ``answer``/``solution`` and their torch checks ``hidden-check``, so
  ``jupyter nbconvert --TagRemovePreprocessor.enabled=True
  --TagRemovePreprocessor.remove_cell_tags=...`` or nbgrader-style tools can
  strip them;
- the student edition (``--student``) leaves those cells out; each "Try it
  here" cell calls ``check(number, answer)``, which compares a salted
  PBKDF2 hash of the student's answer with the stored one and prints right
  or wrong without showing it.  The model cell never has the plan table.

Text comes from the message catalogue (:mod:`cnngen.rendering.messages`), so
``--lang ru`` changes every sentence and no code.  The notebook is plain
nbformat 4.5 JSON written here (nbformat is not needed at generation time).
It is deterministic: cell ids are derived from the cell position, there are
no timestamps, keys are sorted, and code cells are formatted by Black.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from cnngen._version import __version__
from cnngen.core import arithmetic, inverse
from cnngen.core.plan import Op, Plan, Shape
from cnngen.core.spec import ModelSpec
from cnngen.rendering.cells import (
    ANSWER_TAGS,
    CHECK_TAGS,
    Cell,
    _compact,
    code,
    conv_call,
    markdown,
    window,
)
from cnngen.rendering.engine import render_model, template_dir_words
from cnngen.rendering.escape import markdown_code_block
from cnngen.rendering.explain import explain_conv, explain_pool, explain_transposed
from cnngen.rendering.format import op_summary, plain_shape, plan_table
from cnngen.rendering.lessons import handout_field_text, lesson_cells
from cnngen.rendering.messages import Messages

WINDOW_KINDS = ("conv", "conv_transpose", "maxpool", "avgpool")
# Ops the walk-through shows although they keep the shape: they hold weights or
# change what a position sees.
SHOWN_KINDS = frozenset(
    {
        "conv",
        "conv_transpose",
        "linear",
        "squeeze_excite",
        "rotation_stack",
        "orientation_stack",
        "rotation_mean",
        "rotation_max",
    }
)


def dim_names(t: Messages, dims: int, spatial: int | None = None) -> tuple[str, ...]:
    """Names of the dimensions after the channels: ("height", "width") for 2D.

    A p4 map of a 2D model has one more: its orientation axis, which is not a
    spatial depth (``spatial`` is the model's number of spatial dimensions).
    """
    if spatial is not None and dims > spatial:
        return (t("dim.orientation"),) * (dims - spatial) + dim_names(t, spatial)
    keys = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}
    return tuple(t(f"dim.{key}") for key in keys.get(dims, ()))


def torch_class(op: Op) -> str:
    return op.module.removeprefix("nn.")


def _explain(op: Op, size: int, i: int, w: dict[str, tuple[int, ...]]) -> str:
    """One dimension's output-size formula for a windowed op, numbers filled in."""
    if op.kind == "conv":
        return explain_conv(size, w["kernel"][i], w["stride"][i], w["padding"][i], w["dilation"][i])
    if op.kind == "conv_transpose":
        return explain_transposed(
            size,
            w["kernel"][i],
            w["stride"][i],
            w["padding"][i],
            w["output_padding"][i],
            w["dilation"][i],
        )
    return explain_pool(
        size,
        w["kernel"][i],
        w["stride"][i],
        w["padding"][i],
        w["dilation"][i],
        bool(op.arg("ceil_mode", False)),
        average=op.kind == "avgpool",
    )


def conv_parameter_text(t: Messages, op: Op) -> str:
    """How a convolution's parameters add up, saying why there is or is no bias."""
    w = window(op)
    groups = op.arg("groups", 1)
    c_in, c_out = op.in_shape[0], op.out_shape[0]
    taps = math.prod(w["kernel"])
    if op.kind == "conv_transpose":
        weights = c_in * (c_out // groups) * taps
        formula = f"{c_in} * {c_out // groups} * {taps} = {t.number(weights)}"
    else:
        weights = c_out * (c_in // groups) * taps
        formula = f"{c_out} * {c_in // groups} * {taps} = {t.number(weights)}"
    if op.arg("bias", True):
        return t(
            "params.with_bias",
            formula=formula,
            biases_n=t.count(c_out, "bias"),
            total=t.number(weights + c_out),
        )
    return t("params.no_bias", formula=formula, total=t.number(weights))


def _size_lines(
    t: Messages, op: Op, hidden: frozenset[int] = frozenset(), spatial: int | None = None
) -> list[str]:
    """The output-size explanation of one op, one bullet per line.

    A parameter count in ``hidden`` is an exercise: a layer whose count shows
    that number (a decoder mirrors its encoder) says so instead.
    """
    dims = len(op.in_shape) - 1
    names = dim_names(t, dims, spatial)
    if op.kind in WINDOW_KINDS:
        w = window(op)
        lines = [
            f"- {names[i]}: `{_explain(op, size, i, w)}`" for i, size in enumerate(op.in_shape[1:])
        ]
        if op.kind in ("conv", "conv_transpose"):
            lines.append(t("layer.channels", c_in=op.in_shape[0], c_out=op.out_shape[0]))
            groups = op.arg("groups", 1)
            if groups != 1:
                lines.append(
                    t(
                        "layer.groups",
                        groups=groups,
                        groups_n=t.count(groups, "group"),
                        per_n=t.count(op.in_shape[0] // groups, "channel"),
                    )
                )
            text = conv_parameter_text(t, op)
            if any(re.search(rf"\b{t.number(count)}\b", text) for count in hidden):
                lines.append(t("layer.params_exercise"))
            else:
                lines.append("- " + text)
        else:
            lines.append(t("layer.pool_channels", channels=op.out_shape[0]))
            if op.arg("ceil_mode", False):
                lines.append(t("layer.ceil_mode"))
            if op.kind == "avgpool":
                lines.append(t("layer.avgpool_no_dilation"))
        return lines
    if op.kind == "pad":
        torch_order = op.args[0][1]  # (last dim before, after, ...)
        lines = []
        for i, size in enumerate(op.in_shape[1:]):
            before = torch_order[2 * (dims - 1 - i)]
            after = torch_order[2 * (dims - 1 - i) + 1]
            lines.append(
                f"- {names[i]}: `in + before + after = {size} + {before} + {after} = "
                f"{op.out_shape[i + 1]}`"
            )
        lines.append(t("layer.pad_order"))
        return lines
    if op.kind == "crop":
        return [t("layer.crop", before=plain_shape(op.args[0][1]))]
    if op.kind == "flatten":
        factors = " * ".join(str(size) for size in op.in_shape)
        labels = " * ".join(names) or "size"
        return [t("layer.flatten", labels=labels, factors=factors, features=op.out_shape[0])]
    if op.kind == "linear":
        (features_in,) = op.in_shape
        (features_out,) = op.out_shape
        lines = [t("layer.linear", f_in=features_in, f_out=features_out)]
        if op.arg("bias", True):
            lines.append(
                t(
                    "layer.linear_params",
                    f_in=features_in,
                    f_out=features_out,
                    total=t.number(op.params),
                )
            )
        return lines
    if op.kind == "squeeze_excite":
        channels, reduced = op.args[0][1], op.args[1][1]
        return [
            t(
                "layer.se",
                channels=channels,
                reduced=reduced,
                channels_n=t.count(channels, "channel"),
            ),
            t(
                "layer.se_params",
                channels=channels,
                reduced=reduced,
                total=t.number(op.params),
            ),
        ]
    if op.kind in ("rotation_stack", "orientation_stack", "rotation_mean", "rotation_max"):
        return [t(f"layer.{op.kind}")]
    if op.kind == "unflatten":
        return [
            t(
                "layer.unflatten",
                features_n=t.count(op.in_shape[0], "feature"),
                shape=plain_shape(op.out_shape),
            )
        ]
    return [f"- {plain_shape(op.in_shape)} → {plain_shape(op.out_shape)}"]


def shape_changing_ops(plan: Plan) -> Iterator[tuple[str, Op]]:
    """Every op whose output shape differs from its input shape, in forward order."""
    for stage in plan.stages:
        for name, op in stage.all_ops():
            if op.in_shape != op.out_shape:
                yield name, op


def walked_ops(plan: Plan) -> Iterator[tuple[str, Op]]:
    """The ops the walk-through explains: shape changes, weighted layers, SE, rotations.

    Only normalisation, activation and dropout are left out; they keep the
    shape and hold at most two numbers per channel.
    """
    for stage in plan.stages:
        for name, op in stage.all_ops():
            if op.in_shape != op.out_shape or op.kind in SHOWN_KINDS:
                yield name, op


def _batch_note(t: Messages, op: Op) -> str:
    return t("layer.batch4") if op.batch == 4 else ""


def _layer_cells(t: Messages, plan: Plan, hidden: frozenset[int]) -> list[Cell]:
    """One explained cell and one checking cell per walked op.

    A parameter count that is an exercise (``hidden``) is not given away here.
    """
    cells = [markdown(t("layers.intro"))]
    for number, (name, op) in enumerate(walked_ops(plan), start=1):
        lines = "\n".join(_size_lines(t, op, hidden, plan.dims))
        cells.append(
            markdown(
                f"### {t('layers.layer', number=number)}: `{name}` ({op_summary(op)})\n\n"
                f"`{torch_class(op)}`: {plain_shape(op.in_shape)} → "
                f"{plain_shape(op.out_shape)}{_batch_note(t, op)}\n\n{lines}"
            )
        )
        shape = f"({op.in_batch}, {', '.join(str(s) for s in op.in_shape)})"
        cells.append(
            code(
                f'layer = model.get_submodule("{name}")\n'
                f"with torch.no_grad():\n"
                f"    y = layer(torch.randn{shape})\n"
                f'print("{name}:", tuple(y.shape[1:]))\n'
                f"assert tuple(y.shape[1:]) == {op.out_shape!r}\n"
            )
        )
    return cells


# ---------------------------------------------------------------- exercises
@dataclass(frozen=True)
class Exercise:
    """One exercise: the question, its worked answer, a torch check and the value itself.

    ``expected`` is what a student assigns to ``answer`` in the "Try it here"
    cell (an int or a tuple of ints); ``hint`` says in which form, and
    ``starter`` is code to start from.
    """

    question: str
    answer: str
    check: str
    expected: int | tuple[int, ...]
    hint: str
    starter: str = ""
    layer: str = ""
    counts_parameters: bool = False


def _first(plan: Plan, kinds: tuple[str, ...], strided: bool = False) -> tuple[str, Op] | None:
    for stage in plan.stages:
        for name, op in stage.all_ops():
            if op.kind not in kinds:
                continue
            if strided and all(s == 1 for s in window(op)["stride"]):
                continue
            return name, op
    return None


def _randn(shape: Shape) -> str:
    """``torch.randn(1, 3, 28, 28)`` for a batch of one sample of ``shape``."""
    return f"torch.randn({', '.join(str(size) for size in (1, *shape))})"


def _padding_exercise(t: Messages, plan: Plan) -> Exercise | None:
    """Bigger kernel, same output: which padding?"""
    found = _first(plan, ("conv",))
    if found is None:
        return None
    name, op = found
    w = window(op)
    kernel = tuple(k + 2 for k in w["kernel"])
    sizes = op.in_shape[1:]
    names = dim_names(t, len(sizes), plan.dims)
    padding = []
    for i, size in enumerate(sizes):
        options = inverse.conv_paddings(
            size, op.out_shape[i + 1], kernel[i], w["stride"][i], w["dilation"][i]
        )
        if not options:
            return None
        padding.append(options[0])
    lines = "\n".join(
        f"- {names[i]}: `{explain_conv(size, kernel[i], w['stride'][i], padding[i], w['dilation'][i])}`"
        for i, size in enumerate(sizes)
    )
    return Exercise(
        question=t(
            "ex.padding.q",
            name=name,
            kernel=plain_shape(w["kernel"]),
            padding=plain_shape(w["padding"]),
            shape_in=plain_shape(op.in_shape),
            shape_out=plain_shape(op.out_shape),
            wider=plain_shape(kernel),
            size=plain_shape(op.out_shape[1:]),
        ),
        answer=t("ex.padding.a", padding=plain_shape(tuple(padding)), lines=lines),
        check=(
            f"wider = {conv_call(op, kernel_size=kernel, padding=tuple(padding))}\n"
            f"with torch.no_grad():\n"
            f"    y = wider({_randn(op.in_shape)})\n"
            f"assert tuple(y.shape[1:]) == {op.out_shape!r}, tuple(y.shape)\n"
            f'print({t("label.padding")!r}, {tuple(padding)!r}, "->", tuple(y.shape[1:]))\n'
        ),
        expected=tuple(padding),
        hint=t("hint.padding", example=_example(tuple(padding))),
        starter=(
            f"# {t('starter.try_layer')}\n"
            f"# layer = {conv_call(op, kernel_size=kernel, padding='...')}\n"
            f"# print(layer({_randn(op.in_shape)}).shape)\n"
        ),
    )


def _input_size_exercise(t: Messages, plan: Plan) -> Exercise | None:
    """Same layer, a larger input: which output size?"""
    found = _first(plan, ("conv", "maxpool", "avgpool"), strided=True) or _first(plan, ("conv",))
    if found is None:
        return None
    name, op = found
    w = window(op)
    # A larger input whose output is none of the sizes the question shows: a pool that
    # halves 57 gives 28, which is the 28 of the current input, restating the answer.
    for extra in range(1, 40, 2):
        # Only the spatial sizes grow; a p4 map's orientation axis stays at 4.
        fixed = len(op.in_shape) - 1 - plan.dims
        sizes = tuple(
            size if axis < fixed else size * 2 + extra for axis, size in enumerate(op.in_shape[1:])
        )
        outs = _resize(op, sizes)
        shown = (op.in_shape[1:], op.out_shape[1:], sizes)
        grown = set(outs[fixed:]) if outs is not None else set()
        if outs is not None and outs not in shown and not grown & set(sizes[fixed:]):
            break
    if outs is None:
        return None
    names = dim_names(t, len(sizes), plan.dims)
    lines = [f"- {names[i]}: `{_explain(op, size, i, w)}`" for i, size in enumerate(sizes)]
    in_shape = (op.in_shape[0], *sizes)
    out_shape = (op.out_shape[0], *outs)
    return Exercise(
        question=t(
            "ex.input.q",
            name=name,
            summary=op_summary(op),
            shape=plain_shape(op.in_shape),
            bigger=plain_shape(in_shape),
        ),
        answer=t("ex.input.a", shape=plain_shape(out_shape), lines="\n".join(lines)),
        check=(
            f'layer = model.get_submodule("{name}")\n'
            f"with torch.no_grad():\n"
            f"    y = layer({_randn(in_shape)})\n"
            f"assert tuple(y.shape[1:]) == {out_shape!r}, tuple(y.shape)\n"
            f'print("{name}:", tuple(y.shape[1:]))\n'
        ),
        expected=out_shape,
        hint=t("hint.shape", example=(op.out_shape[0], *_example(outs, 7))),
        starter=(
            f"# {t('starter.formula')}\n"
            f'# layer = model.get_submodule("{name}")\n'
            f"# print(layer({_randn(in_shape)}).shape)\n"
        ),
    )


def _parameter_exercise(t: Messages, plan: Plan) -> Exercise | None:
    """How many weights does a convolution hold (and why no bias)?"""
    found = _first(plan, ("conv", "conv_transpose"))
    if found is None:
        return None
    name, op = found
    w = window(op)
    groups = op.arg("groups", 1)
    details = [t("ex.params.kernel", kernel=plain_shape(w["kernel"]))]
    if groups != 1:
        details.append(f"groups={groups}")
    details.append(t("ex.params.bias") if op.arg("bias", True) else t("ex.params.nobias"))
    return Exercise(
        question=t(
            "ex.params.q",
            name=name,
            cls=torch_class(op),
            c_in=op.in_shape[0],
            c_out=op.out_shape[0],
            details=", ".join(details),
        ),
        answer=t(
            "ex.params.a",
            total=t.number(op.params),
            formula=conv_parameter_text(t, op),
        ),
        check=(
            f'count = sum(p.numel() for p in model.get_submodule("{name}").parameters())\n'
            f"assert count == {op.params}, count\n"
            f'print("{name}:", count)\n'
        ),
        expected=op.params,
        layer=name,
        counts_parameters=True,
        hint=t("hint.count"),
        starter=f"# {t('starter.params')}\n# layer = {conv_call(op)}\n",
    )


def _output_padding_exercise(t: Messages, plan: Plan) -> Exercise | None:
    """A decoder layer must land on another exact size: which output_padding?"""
    found = None
    for stage in plan.stages:
        for name, op in stage.all_ops():
            if op.kind == "conv_transpose" and any(s > 1 for s in window(op)["stride"]):
                found = found or (name, op)
    if found is None:
        return None
    name, op = found
    w = window(op)
    sizes = op.in_shape[1:]
    names = dim_names(t, len(sizes), plan.dims)
    # The other choice per dimension: the size the encoder would have had with one more pixel.
    other = tuple(
        (p + 1) % max(s, d) if max(s, d) > 1 else p
        for p, s, d in zip(w["output_padding"], w["stride"], w["dilation"], strict=True)
    )
    target = tuple(
        arithmetic.transposed_size(
            size, w["kernel"][i], w["stride"][i], w["padding"][i], other[i], w["dilation"][i]
        )
        for i, size in enumerate(sizes)
    )
    lines = "\n".join(
        f"- {names[i]}: `{explain_transposed(size, w['kernel'][i], w['stride'][i], w['padding'][i], other[i], w['dilation'][i])}`"
        for i, size in enumerate(sizes)
    )
    return Exercise(
        question=t(
            "ex.outpad.q",
            name=name,
            kernel=plain_shape(w["kernel"]),
            stride=plain_shape(w["stride"]),
            padding=plain_shape(w["padding"]),
            size_in=plain_shape(sizes),
            size_out=plain_shape(op.out_shape[1:]),
            current=plain_shape(w["output_padding"]),
            target=plain_shape(target),
        ),
        answer=t("ex.outpad.a", value=plain_shape(other), lines=lines),
        check=(
            f"layer = {conv_call(op, output_padding=other)}\n"
            f"with torch.no_grad():\n"
            f"    y = layer({_randn(op.in_shape)})\n"
            f"assert tuple(y.shape[2:]) == {target!r}, tuple(y.shape)\n"
            f'print("output_padding", {other!r}, "->", tuple(y.shape[2:]))\n'
        ),
        expected=other,
        hint=t("hint.padding", example=_example(other, 0)),
        starter=(
            f"# {t('starter.try_layer')}\n"
            f"# layer = {conv_call(op, output_padding='...')}\n"
            f"# print(layer({_randn(op.in_shape)}).shape)\n"
        ),
    )


def _resize(op: Op, sizes: tuple[int, ...]) -> tuple[int, ...] | None:
    """The spatial sizes after ``op`` for other input sizes (None: it cannot run)."""
    if op.kind in ("conv", "maxpool", "avgpool"):
        w = window(op)
        out = []
        for i, size in enumerate(sizes):
            if size + 2 * w["padding"][i] < w["dilation"][i] * (w["kernel"][i] - 1) + 1:
                return None
            if op.kind == "conv":
                out.append(
                    arithmetic.conv_size(
                        size, w["kernel"][i], w["stride"][i], w["padding"][i], w["dilation"][i]
                    )
                )
            else:
                out.append(
                    arithmetic.pool_size(
                        size,
                        w["kernel"][i],
                        w["stride"][i],
                        w["padding"][i],
                        w["dilation"][i],
                        bool(op.arg("ceil_mode", False)),
                    )
                )
        return tuple(out)
    if op.in_shape == op.out_shape:
        return sizes
    return None


def _flatten_exercise(t: Messages, plan: Plan) -> Exercise | None:
    """Where does the first Linear layer's in_features come from, for another input?"""
    ops = [(name, op) for stage in plan.stages for name, op in stage.all_ops()]
    if any(stage.kind != "sequential" for stage in plan.stages):
        return None
    for index, (name, op) in enumerate(ops):
        if op.kind != "flatten" or len(op.in_shape) < 2 or math.prod(op.in_shape[1:]) == 1:
            continue
        linear = next(((n, o) for n, o in ops[index + 1 :] if o.kind == "linear"), None)
        if linear is None:
            return None
        linear_name, _ = linear
        stage, path = name.split(".", 1)
        bigger: tuple[int, ...] | None = tuple(size + 8 for size in plan.input_shape[1:])
        sizes = bigger
        for _, earlier in ops[:index]:
            sizes = _resize(earlier, sizes) if sizes is not None else None
        if sizes is None or bigger is None:
            return None
        features = op.in_shape[0] * math.prod(sizes)
        factors = " * ".join(str(size) for size in (op.in_shape[0], *sizes))
        return Exercise(
            question=t(
                "ex.flatten.q",
                linear=linear_name,
                features_n=t.count(math.prod(op.in_shape), "feature"),
                bigger=plain_shape(bigger),
            ),
            answer=t(
                "ex.flatten.a",
                name=name,
                shape=plain_shape((op.in_shape[0], *sizes)),
                factors=factors,
                features=features,
            ),
            check=(
                f"x = torch.randn(1, {plan.input_shape[0]}, {', '.join(map(str, bigger))})\n"
                "with torch.no_grad():\n"
                "    for stage_name, stage in model.named_children():\n"
                f'        if stage_name == "{stage}":\n'
                "            for layer_name, layer in stage.named_children():\n"
                f'                if layer_name == "{path}":\n'
                "                    break\n"
                "                x = layer(x)\n"
                "            break\n"
                "        x = stage(x)\n"
                f"assert x[0].numel() == {features}, x.shape\n"
                'print("in_features:", x[0].numel())\n'
            ),
            expected=features,
            hint=t("hint.count"),
            starter=f"# {t('starter.formula')}\n",
        )
    return None


def _shortcut_exercise(t: Messages, plan: Plan) -> Exercise | None:
    """How many weights does a residual block's projection shortcut hold (the last one)?"""
    for stage in reversed(plan.stages):
        for name, op in stage.all_ops():
            if ".downsample." in name and op.kind == "conv":
                return Exercise(
                    question=t(
                        "ex.shortcut.q",
                        block=stage.name,
                        name=name,
                        c_in=op.in_shape[0],
                        c_out=op.out_shape[0],
                        details=t("ex.params.bias")
                        if op.arg("bias", True)
                        else t("ex.params.nobias"),
                    ),
                    answer=t(
                        "ex.shortcut.a",
                        total=t.number(op.params),
                        formula=conv_parameter_text(t, op),
                    ),
                    check=(
                        f'count = sum(p.numel() for p in model.get_submodule("{name}").parameters())\n'
                        f"assert count == {op.params}, count\n"
                        f'print("{name}:", count)\n'
                    ),
                    expected=op.params,
                    hint=t("hint.count"),
                    layer=name,
                    counts_parameters=True,
                )
    return None


def _se_exercise(t: Messages, plan: Plan) -> Exercise | None:
    """An SE gate with twice the reduction width: how many parameters?"""
    for stage in plan.stages:
        for name, op in stage.all_ops():
            if op.kind != "squeeze_excite":
                continue
            channels, reduced = op.args[0][1], op.args[1][1]
            wider = 2 * reduced
            total = 2 * channels * wider + wider + channels
            return Exercise(
                question=t(
                    "ex.se.q",
                    name=name,
                    channels_n=t.count(channels, "channel"),
                    reduced=reduced,
                    wider=wider,
                ),
                answer=t(
                    "ex.se.a",
                    channels=channels,
                    wider=wider,
                    total=t.number(total),
                ),
                check=(
                    f"se = SqueezeExcite({channels}, {wider})\n"
                    f"count = sum(p.numel() for p in se.parameters())\n"
                    f"assert count == {total}, count\n"
                    f'print("SqueezeExcite({channels}, {wider}):", count)\n'
                ),
                expected=total,
                hint=t("hint.count"),
                starter=f"# se = SqueezeExcite({channels}, ...)\n",
            )
    return None


def _depthwise_exercise(t: Messages, plan: Plan) -> Exercise | None:
    """A depthwise-separable pair with a bigger kernel: how many parameters?"""
    for stage in plan.stages:
        for name, op in stage.all_ops():
            groups = op.arg("groups", 1)
            if op.kind != "conv" or groups == 1 or groups != op.in_shape[0]:
                continue
            w = window(op)
            kernel = tuple(k + 2 for k in w["kernel"])
            channels = op.in_shape[0]
            ops = list(stage.all_ops())
            point = next(
                (o for n, o in ops[[n for n, _ in ops].index(name) + 1 :] if o.kind == "conv"),
                None,
            )
            if point is None:
                return None
            c_out = point.out_shape[0]
            taps = math.prod(kernel)
            total = taps * channels + channels * c_out
            k = plain_shape(kernel)
            return Exercise(
                question=t(
                    "ex.depthwise.q",
                    name=name,
                    kernel=k,
                    c_in_n=t.count(channels, "channel"),
                    c_out_n=t.count(c_out, "channel"),
                ),
                answer=t(
                    "ex.depthwise.a",
                    taps=taps,
                    c_in=channels,
                    c_out=c_out,
                    total=t.number(total),
                    normal=t.number(taps * channels * c_out),
                ),
                check=(
                    f"depthwise = {op.module}({channels}, {channels}, kernel_size={_compact(kernel)!r}, "
                    f"groups={channels}, bias=False)\n"
                    f"pointwise = {op.module}({channels}, {c_out}, kernel_size=1, bias=False)\n"
                    "count = sum(p.numel() for layer in (depthwise, pointwise) for p in layer.parameters())\n"
                    f"assert count == {total}, count\n"
                    f"print({t('label.pair')!r}, count)\n"
                ),
                expected=total,
                hint=t("hint.count"),
            )
    return None


def _example(answer: tuple[int, ...], start: int = 1) -> tuple[int, ...]:
    """An example of the answer's form that is not the answer (nor any of its numbers)."""
    value = start
    while value in answer:
        value += 1
    return tuple(value for _ in answer)


def _lenet_quiz(t: Messages, plan: Plan) -> list[Exercise]:
    """The course's own LeNet-5 questions, with this model's numbers."""
    ops = dict((name, op) for stage in plan.stages for name, op in stage.all_ops())
    found = []
    fc1, conv1 = ops.get("head.fc1"), ops.get("layer1.conv1")
    flatten = ops.get("head.flatten")
    if fc1 is not None and flatten is not None:
        features = fc1.in_shape[0]
        found.append(
            Exercise(
                question=t(
                    "quiz.neuron.q",
                    features_n=t.count(features, "number"),
                    shape=plain_shape(flatten.in_shape),
                    neurons=fc1.out_shape[0],
                ),
                answer=t(
                    "quiz.neuron.a",
                    weights_n=t.count(features, "weight"),
                    total=features + 1,
                    shape=plain_shape(flatten.in_shape),
                ),
                check=(
                    "fc1 = model.get_submodule('head.fc1')\n"
                    "count = fc1.weight[0].numel() + fc1.bias[:1].numel()\n"
                    f"assert count == {features + 1}, count\n"
                    f"print({t('label.neuron')!r}, count)\n"
                ),
                expected=features + 1,
                hint=t("hint.count"),
            )
        )
    if conv1 is not None:
        numbers = math.prod(conv1.out_shape)
        factors = " * ".join(str(size) for size in conv1.out_shape)
        found.append(
            Exercise(
                question=t("quiz.numbers.q", shape=plain_shape(conv1.in_shape)),
                answer=t("quiz.numbers.a", factors=factors, total=t.number(numbers)),
                check=(
                    "with torch.no_grad():\n"
                    f"    y = model.get_submodule('layer1.conv1')({_randn(conv1.in_shape)})\n"
                    f"assert y[0].numel() == {numbers}, y.shape\n"
                    f"print({t('label.numbers')!r}, y[0].numel())\n"
                ),
                expected=numbers,
                hint=t("hint.count"),
            )
        )
    found.append(
        Exercise(
            question=t("quiz.blocks.q"),
            answer=t("quiz.blocks.a"),
            check=(
                "x = torch.randn(1, 1, 32, 32)\n"
                "blocks = 0\n"
                "while min(x.shape[2:]) >= 2:\n"
                "    x = nn.MaxPool2d(2)(nn.Conv2d(1, 1, 3, padding=1)(x))\n"
                "    blocks += 1\n"
                "assert blocks == 5 and tuple(x.shape[2:]) == (1, 1), x.shape\n"
                f"print({t('label.blocks')!r}, blocks)\n"
            ),
            expected=5,
            hint=t("hint.count"),
        )
    )
    names = ("layer1.conv1", "layer1.pool", "layer2.conv1", "layer2.pool")
    height, *rest = plan.input_shape[1:]
    if all(name in ops for name in names) and all(size == height for size in rest):
        chain = []
        sizes: tuple[int, ...] | None = (height,)
        for name in names:
            op = ops[name]
            if name == "layer1.conv1":
                op = replace(op, args=tuple((k, 0 if k == "padding" else v) for k, v in op.args))
                op = replace(op, in_shape=(op.in_shape[0], height), out_shape=op.out_shape[:2])
            else:
                op = replace(op, in_shape=op.in_shape[:2], out_shape=op.out_shape[:2])
            sizes = _resize(op, sizes) if sizes is not None else None
            if sizes is None:
                break
            chain.append(sizes[0])
        if sizes is not None:
            expected = tuple(chain)
            layers = "\n".join(
                f"    nn.{torch_class(ops[name])}("
                + (
                    "1, 6, kernel_size=5"
                    if name == "layer1.conv1"
                    else (
                        "6, 16, kernel_size=5"
                        if name == "layer2.conv1"
                        else f"kernel_size={ops[name].arg('kernel_size')!r}"
                    )
                )
                + "),"
                for name in names
            )
            found.append(
                Exercise(
                    question=t("quiz.sizes.q", size=plain_shape(plan.input_shape[1:])),
                    answer=t(
                        "quiz.sizes.a",
                        sizes=" → ".join(str(size) for size in (height, *expected)),
                        features_n=t.count(
                            16 * expected[-1] ** len(plan.input_shape[1:]), "feature"
                        ),
                    ),
                    check=(
                        f"x = {_randn(plan.input_shape)}\n"
                        "sizes = []\n"
                        "with torch.no_grad():\n"
                        f"    for layer in [\n{layers}\n    ]:\n"
                        "        x = layer(x)\n"
                        "        sizes.append(x.shape[2])\n"
                        f"assert tuple(sizes) == {expected!r}, sizes\n"
                        f"print({t('label.unpadded')!r}, sizes)\n"
                    ),
                    expected=expected,
                    hint=t("hint.sizes", example=_example(expected, 3)),
                )
            )
    dims = len(plan.input_shape) - 1
    if dims == 2:
        size = plain_shape(plan.input_shape[1:])
        found.append(
            Exercise(
                question=t("quiz.padding.q", size=size),
                answer=t("quiz.padding.a", size=size),
                check=(
                    "layer = nn.Conv2d(1, 1, kernel_size=3, padding=1)\n"
                    f"y = layer({_randn((1, *plan.input_shape[1:]))})\n"
                    f"assert tuple(y.shape[2:]) == {plan.input_shape[1:]!r}, y.shape\n"
                    f'print({t("label.padding")!r}, 1, "->", tuple(y.shape[2:]))\n'
                ),
                expected=(1, 1),
                hint=t("hint.padding", example=(4, 4)),
            )
        )
    return found


def exercises(plan: Plan, lang: str = "en", preset: str | None = None) -> list[Exercise]:
    """The exercises of a handout; a LeNet-5 handout adds the course's own questions."""
    t = Messages(lang)
    makers = (
        _padding_exercise,
        _input_size_exercise,
        _parameter_exercise,
        _output_padding_exercise,
        _flatten_exercise,
        _shortcut_exercise,
        _se_exercise,
        _depthwise_exercise,
    )
    found = [exercise for maker in makers if (exercise := maker(t, plan)) is not None]
    if preset == "lenet5":
        found += _lenet_quiz(t, plan)
    return found


# PBKDF2 rounds per answer: one check costs the student about a tenth of a second, so
# trying every small number is slow, though never impossible (the checker says so).
ITERATIONS = 200_000


def normalise(answer: Any, size: int) -> str:
    """The canonical text of an answer: whole numbers joined by commas, one per dimension.

    The notebook's ``check`` runs the same rule, so ``2``, ``(2, 2)`` and
    ``[2, 2]`` are one answer for a 2D question.
    """
    values = list(answer) if isinstance(answer, (tuple, list)) else [answer] * size
    return ",".join(str(int(value)) for value in values)


def answer_salt(seed: str, number: int) -> str:
    """A salt per notebook (``seed``: its model's command) and exercise.

    Equal answers in two exercises or two notebooks get different hashes.
    """
    return hashlib.sha256(f"cnngen:{seed}:{number}".encode()).hexdigest()[:32]


@functools.lru_cache(maxsize=1024)
def _digest(text: str, salt: str) -> str:
    return hashlib.pbkdf2_hmac("sha256", text.encode(), bytes.fromhex(salt), ITERATIONS).hex()


def answer_hash(salt: str, answer: Any, size: int) -> str:
    """The stored form of an answer: a salted PBKDF2-SHA256 of its canonical text."""
    return _digest(normalise(answer, size), salt)


def _size(expected: int | tuple[int, ...]) -> int:
    return len(expected) if isinstance(expected, tuple) else 1


def _check_doc(t: Messages) -> str:
    return t("check.doc", iterations_n=t.count(ITERATIONS, "round")).replace("\n", "\n    ")


def _checker_cell(t: Messages, seed: str, found: list[Exercise]) -> Cell:
    salts = {number: answer_salt(seed, number) for number in range(1, len(found) + 1)}
    hashes = {
        number: answer_hash(salts[number], exercise.expected, _size(exercise.expected))
        for number, exercise in enumerate(found, start=1)
    }
    sizes = {number: _size(exercise.expected) for number, exercise in enumerate(found, start=1)}
    return code(
        "import hashlib\n"
        "import numbers\n\n"
        f"ANSWER_SALTS = {salts!r}\n"
        f"ANSWER_HASHES = {hashes!r}\n"
        f"ANSWER_SIZES = {sizes!r}\n"
        f"ITERATIONS = {ITERATIONS}\n\n\n"
        "def whole(value):\n"
        "    if isinstance(value, bool):\n"
        "        return False\n"
        "    if isinstance(value, numbers.Integral):\n"
        "        return True\n"
        "    return isinstance(value, float) and value.is_integer()\n\n\n"
        "def check(number, answer):\n"
        f'    """{_check_doc(t)}\n    """\n'
        "    if answer is None or answer is ...:\n"
        f"        print({t.raw('check.empty')!r}.format(number=number))\n"
        "        return None\n"
        "    size = ANSWER_SIZES[number]\n"
        "    values = list(answer) if isinstance(answer, (tuple, list)) else [answer] * size\n"
        "    if len(values) != size or not all(whole(value) for value in values):\n"
        f"        print({t.raw('check.form')!r}.format(number=number, size=size))\n"
        "        return False\n"
        '    text = ",".join(str(int(value)) for value in values)\n'
        "    salt = bytes.fromhex(ANSWER_SALTS[number])\n"
        '    digest = hashlib.pbkdf2_hmac("sha256", text.encode(), salt, ITERATIONS).hex()\n'
        "    right = digest == ANSWER_HASHES[number]\n"
        f"    print(({t.raw('check.right')!r} if right else {t.raw('check.wrong')!r}).format(number=number))\n"
        "    return right\n",
        tags=("checker",),
    )


def exercise_cells(t: Messages, seed: str, found: list[Exercise], student: bool) -> list[Cell]:
    """The exercises section: the checker, and per exercise its try cell and answer."""
    if not found:
        return []
    # What the teacher edition adds is a cell of its own, tagged as an answer, so
    # that stripping the tagged cells leaves the student edition's words.
    folded = [] if student else [markdown(t("ex.folded"), tags=ANSWER_TAGS[:1])]
    cells = [markdown(t("ex.intro")), *folded, _checker_cell(t, seed, found)]
    for number, exercise in enumerate(found, start=1):
        cells.append(markdown(f"### {t('ex.title', number=number)}\n\n{exercise.question}"))
        cells.append(
            code(
                f"# {t('starter.try')}\n{exercise.starter}"
                f"answer = None  # {exercise.hint}\n"
                f"check({number}, answer)\n",
                tags=("exercise",),
            )
        )
        cells.append(
            markdown(
                f"<details><summary><b>{t('ex.answer')}</b></summary>\n\n{exercise.answer}\n\n"
                "</details>",
                tags=ANSWER_TAGS,
            )
        )
        cells.append(code(exercise.check, hidden=True, tags=CHECK_TAGS))
    return cells


# ---------------------------------------------------------------- notebook
def student_source(source: str, t: Messages) -> str:
    """The model file without the plan table in its docstring (it holds answers).

    The table runs from its heading line to the totals; the totals stay.
    """
    lines = source.splitlines(keepends=True)
    heading = t("model.plan")
    totals = t("model.parameters", count="")
    start = next((i for i, line in enumerate(lines) if line.startswith(heading)), None)
    if start is None:
        return source
    end = start + 1
    while end < len(lines) and not lines[end].startswith(totals):
        end += 1
    return "".join(lines[:start] + lines[end:])


def handout_cells(
    spec: ModelSpec, plan: Plan, command: str, lang: str = "en", student: bool = False
) -> list[Cell]:
    t = Messages(lang)
    found = exercises(plan, lang, spec.preset)
    regenerate = shlex.join(spec.command_words() + template_dir_words())
    regenerate += f" --lang {lang}" if lang != "en" else ""
    # The plan table of the docstring holds answers (parameter counts), so the model
    # cell never has it; the teacher edition shows it in a cell tagged as an answer.
    source = student_source(render_model(plan, regenerate, lang), t)
    family = t(f"family.{plan.family}")
    cells = [
        markdown(
            t(
                "intro.title",
                name=plan.class_name,
                dims=plan.dims,
                family=family,
                shape_in=plain_shape(plan.input_shape),
                shape_out=plain_shape(plan.output_shape),
                params=t.number(plan.params),
                field=handout_field_text(t, plan),
                command_block=markdown_code_block("cnngen " + command),
                version=__version__,
            )
            + ("\n\n" + t("intro.student") if student else "")
        ),
        markdown(t("model.intro")),
        Cell("code", source.rstrip("\n")),
        markdown(
            t("model.table") + "\n\n" + markdown_code_block(plan_table(plan, lang)),
            tags=ANSWER_TAGS,
        ),
        code(f"torch.manual_seed(0)\nmodel = {plan.class_name}().eval()\nprint(model)\n"),
        markdown(t("notation")),
        *lesson_cells(t, spec, plan),
        *_layer_cells(
            t,
            plan,
            frozenset(
                e.expected for e in found if isinstance(e.expected, int) and e.counts_parameters
            ),
        ),
        markdown(t("batch.intro")),
        *([markdown(t("batch.extras", names=plan.extra_names))] if plan.extras else []),
        code(
            ("import copy\n\n" if plan.extras else "")
            + "seen = {}\n"
            "hooks = [\n"
            "    module.register_forward_hook(\n"
            "        lambda module, inputs, output, name=name: seen.__setitem__(name, tuple(output.shape[1:]))\n"
            "    )\n"
            "    for name, module in model.named_modules()\n"
            "    if name in LAYER_SHAPES\n"
            "]\n"
            "batch = torch.randn(2, *INPUT_SHAPE)\n"
            "with torch.no_grad():\n"
            + (
                "    output, *extras = copy.deepcopy(model).train()(batch)\n"
                if plan.extras
                else "    output = model(batch)\n"
            )
            + "for hook in hooks:\n"
            "    hook.remove()\n"
            "for name, expected in LAYER_SHAPES.items():\n"
            f"    mark = {t('label.ok')!r} if seen[name] == expected else f'{t('label.expected')} {{expected}}'\n"
            "    print(f'{name:<20} {str(seen[name]):<20} {mark}')\n"
            f"print({t('label.input')!r}, tuple(batch.shape), {t('label.output')!r}, tuple(output.shape))\n"
            "assert all(seen[name] == shape for name, shape in LAYER_SHAPES.items())\n"
            "assert tuple(output.shape) == (2, *OUTPUT_SHAPE)\n"
            + (
                "assert tuple(tuple(e.shape[1:]) for e in extras) == TRAINING_OUTPUT_SHAPES\n"
                if plan.extras
                else ""
            )
        ),
        *exercise_cells(t, plan.command, found, student),
    ]
    if student:
        hidden = set(ANSWER_TAGS) | set(CHECK_TAGS)
        cells = [cell for cell in cells if not hidden & set(cell.tags)]
    return numbered(cells)


def numbered(cells: list[Cell]) -> list[Cell]:
    """Number the ``## `` section headings in order (lessons come and go by architecture)."""
    result = []
    number = 0
    for cell in cells:
        if cell.kind == "markdown" and cell.source.startswith("## "):
            number += 1
            cell = Cell(cell.kind, f"## {number}. {cell.source[3:]}", cell.hidden, cell.tags)
        result.append(cell)
    return result


def _lines(text: str) -> list[str]:
    """Cell source as nbformat stores it: lines keeping their newline, the last without."""
    return text.splitlines(keepends=True)


def notebook(cells: list[Cell], lang: str = "en") -> dict[str, Any]:
    """nbformat 4.5 JSON data with stable, position-derived cell ids."""
    data_cells = []
    for index, cell in enumerate(cells):
        metadata: dict[str, Any] = {}
        if cell.hidden:
            metadata["jupyter"] = {"source_hidden": True}
        if cell.tags:
            metadata["tags"] = list(cell.tags)
        entry: dict[str, Any] = {
            "cell_type": cell.kind,
            "id": f"cell-{index:03d}",
            "metadata": metadata,
            "source": _lines(cell.source),
        }
        if cell.kind == "code":
            entry["execution_count"] = None
            entry["outputs"] = []
        data_cells.append(entry)
    metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    if lang != "en":
        metadata["language"] = lang
    return {"cells": data_cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}


def render_handout(
    spec: ModelSpec, plan: Plan, command: str, lang: str = "en", student: bool = False
) -> str:
    """The notebook as JSON text, the way Jupyter writes it (indent 1, sorted keys)."""
    data = notebook(handout_cells(spec, plan, command, lang, student), lang)
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
