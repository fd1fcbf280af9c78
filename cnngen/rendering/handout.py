"""A Jupyter notebook that teaches one generated model (``cnngen handout``).

The notebook holds the model file, one cell per shape-changing layer with
its output-size formula filled in (from :mod:`cnngen.rendering.explain`, so the text
and the plan can never disagree), a cell that checks every layer's shape on a
random batch, and exercises whose answers are folded away and checked by
hidden code cells.  Every code cell asserts what it prints, so running the
notebook top to bottom is itself a test of the handout.

The notebook is plain nbformat 4.5 JSON written here (nbformat is not needed
at generation time).  It is deterministic: cell ids are derived from the cell
position, there are no timestamps, keys are sorted, and code cells are
formatted by Black.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cnngen import __version__
from cnngen.core import arithmetic
from cnngen.core.format import op_summary, plain_shape, thousands
from cnngen.core.plan import Op, Plan, Shape
from cnngen.core.spec import ModelSpec
from cnngen.rendering.engine import format_python, render_model
from cnngen.rendering.escape import markdown_code_block
from cnngen.rendering.explain import explain_conv, explain_pool, explain_transposed

DIM_NAMES = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}
WINDOW_KINDS = ("conv", "conv_transpose", "maxpool", "avgpool")


@dataclass(frozen=True)
class Cell:
    """One notebook cell before serialization."""

    kind: str  # "markdown" or "code"
    source: str
    hidden: bool = False


def markdown(text: str) -> Cell:
    return Cell("markdown", text.strip("\n"))


def code(text: str, hidden: bool = False) -> Cell:
    """A code cell, Black-formatted so a template slip is caught before writing."""
    return Cell("code", format_python(text, "handout").rstrip("\n"), hidden)


def _per_dim(value: Any, dims: int) -> tuple[int, ...]:
    if isinstance(value, tuple):
        return value
    return (value,) * dims


def _window(op: Op) -> dict[str, tuple[int, ...]]:
    """Kernel, stride, padding, dilation and output padding of a windowed op, per dim."""
    dims = len(op.in_shape) - 1
    kernel = _per_dim(op.arg("kernel_size"), dims)
    default_stride = kernel if op.kind.endswith("pool") else 1
    return {
        "kernel": kernel,
        "stride": _per_dim(op.arg("stride", default_stride), dims),
        "padding": _per_dim(op.arg("padding", 0), dims),
        "dilation": _per_dim(op.arg("dilation", 1), dims),
        "output_padding": _per_dim(op.arg("output_padding", 0), dims),
    }


def _torch_class(op: Op) -> str:
    return op.module.removeprefix("nn.")


def _size_lines(op: Op) -> list[str]:
    """The output-size explanation of one op, one bullet per line."""
    dims = len(op.in_shape) - 1
    names = DIM_NAMES.get(dims, ())
    if op.kind in WINDOW_KINDS:
        w = _window(op)
        lines = []
        for i, size in enumerate(op.in_shape[1:]):
            if op.kind == "conv":
                text = explain_conv(
                    size, w["kernel"][i], w["stride"][i], w["padding"][i], w["dilation"][i]
                )
            elif op.kind == "conv_transpose":
                text = explain_transposed(
                    size,
                    w["kernel"][i],
                    w["stride"][i],
                    w["padding"][i],
                    w["output_padding"][i],
                    w["dilation"][i],
                )
            else:
                text = explain_pool(
                    size,
                    w["kernel"][i],
                    w["stride"][i],
                    w["padding"][i],
                    w["dilation"][i],
                    bool(op.arg("ceil_mode", False)),
                )
            lines.append(f"- {names[i]}: `{text}`")
        if op.kind in ("conv", "conv_transpose"):
            lines.append(
                f"- channels: {op.in_shape[0]} in, {op.out_shape[0]} out "
                "(the second argument of the layer)"
            )
        else:
            lines.append(
                f"- channels: pooling works on each channel alone, so {op.out_shape[0]} stay"
            )
        return lines
    if op.kind == "pad":
        torch_order = op.args[0][1]  # (last dim before, after, ...)
        lines = []
        for i, size in enumerate(op.in_shape[1:]):
            before = torch_order[2 * (dims - 1 - i)]
            after = torch_order[2 * (dims - 1 - i) + 1]
            lines.append(
                f"- {names[i]}: `in + before + after = {size} + {before} + {after} = {op.out_shape[i + 1]}`"
            )
        lines.append("- torch lists the padding of the last dimension first")
        return lines
    if op.kind == "flatten":
        factors = " * ".join(str(size) for size in op.in_shape)
        return [
            f"- features: `channels * {' * '.join(names) or 'size'} = {factors} = {op.out_shape[0]}`"
        ]
    if op.kind == "linear":
        (features_in,) = op.in_shape
        (features_out,) = op.out_shape
        return [
            f"- features: {features_in} in, {features_out} out; every output is a weighted sum of all inputs",
            f"- parameters: `in * out + out = {features_in} * {features_out} + {features_out} = {thousands(op.params)}`"
            if op.params == features_in * features_out + features_out
            else f"- parameters: {thousands(op.params)}",
        ]
    if op.kind == "unflatten":
        return [f"- reshapes {op.in_shape[0]} features into {plain_shape(op.out_shape)}"]
    return [f"- {plain_shape(op.in_shape)} becomes {plain_shape(op.out_shape)}"]


def shape_changing_ops(plan: Plan) -> Iterator[tuple[str, Op]]:
    """Every op whose output shape differs from its input shape, in forward order."""
    for stage in plan.stages:
        for name, op in stage.all_ops():
            if op.in_shape != op.out_shape:
                yield name, op


def _layer_cells(plan: Plan) -> list[Cell]:
    cells = [
        markdown(
            """
## 2. Layer by layer

Each layer below changes the shape of the tensor; normalisation, activation
and dropout layers keep it, so they are left out.  The formula is the one in
the PyTorch documentation with this layer's numbers filled in.  Shapes leave
out the batch dimension.  Run each code cell to see the layer agree.
"""
        )
    ]
    for number, (name, op) in enumerate(shape_changing_ops(plan), start=1):
        lines = "\n".join(_size_lines(op))
        cells.append(
            markdown(
                f"### Layer {number}: `{name}` ({op_summary(op)})\n\n"
                f"`{_torch_class(op)}`: {plain_shape(op.in_shape)} → {plain_shape(op.out_shape)}\n\n"
                f"{lines}"
            )
        )
        cells.append(
            code(
                f'layer = model.get_submodule("{name}")\n'
                f"with torch.no_grad():\n"
                f"    y = layer({_randn(op.in_shape)})\n"
                f'print("{name}:", tuple(y.shape[1:]))\n'
                f"assert tuple(y.shape[1:]) == {op.out_shape!r}\n"
            )
        )
    return cells


# ---------------------------------------------------------------- exercises
@dataclass(frozen=True)
class Exercise:
    question: str
    answer: str
    check: str


def _first(plan: Plan, kinds: tuple[str, ...], strided: bool = False) -> tuple[str, Op] | None:
    for stage in plan.stages:
        for name, op in stage.all_ops():
            if op.kind not in kinds:
                continue
            if strided and all(s == 1 for s in _window(op)["stride"]):
                continue
            return name, op
    return None


def _compact(values: tuple[int, ...]) -> int | tuple[int, ...]:
    return values[0] if len(set(values)) == 1 else values


def _conv_call(op: Op, **changes: tuple[int, ...]) -> str:
    """Source of an equivalent ``nn.ConvNd``/``ConvTransposeNd`` with some arguments changed.

    Arguments at torch's defaults are left out, as a person would write it.
    """
    w = _window(op)
    values = {
        "kernel_size": w["kernel"],
        "stride": w["stride"],
        "padding": w["padding"],
        "output_padding": w["output_padding"],
        "dilation": w["dilation"],
        **changes,
    }
    defaults = {"stride": 1, "padding": 0, "output_padding": 0, "dilation": 1}
    args = [str(op.in_shape[0]), str(op.out_shape[0])]
    for key, value in values.items():
        if key == "output_padding" and op.kind != "conv_transpose":
            continue
        if key in defaults and all(v == defaults[key] for v in value):
            continue
        args.append(f"{key}={_compact(value)!r}")
    groups = op.arg("groups", 1)
    if groups != 1:
        args.append(f"groups={groups}")
    return f"{op.module}({', '.join(args)})"


def _randn(shape: Shape) -> str:
    """``torch.randn(1, 3, 28, 28)`` for a batch of one sample of ``shape``."""
    return f"torch.randn({', '.join(str(size) for size in (1, *shape))})"


def _padding_exercise(plan: Plan) -> Exercise | None:
    """Bigger kernel, same output: which padding?"""
    found = _first(plan, ("conv",))
    if found is None:
        return None
    name, op = found
    w = _window(op)
    kernel = tuple(k + 2 for k in w["kernel"])
    sizes = op.in_shape[1:]
    padding = []
    for i, size in enumerate(sizes):
        target = op.out_shape[i + 1]
        options = [
            p
            for p in range(0, kernel[i] * w["dilation"][i] + 1)
            if arithmetic.conv_size(size, kernel[i], w["stride"][i], p, w["dilation"][i]) == target
        ]
        if not options:
            return None
        padding.append(options[0])
    lines = "\n".join(
        f"- {DIM_NAMES[len(sizes)][i]}: `{explain_conv(size, kernel[i], w['stride'][i], padding[i], w['dilation'][i])}`"
        for i, size in enumerate(sizes)
    )
    return Exercise(
        question=(
            f"Layer `{name}` uses kernel {plain_shape(w['kernel'])} and padding "
            f"{plain_shape(w['padding'])}, and turns {plain_shape(op.in_shape)} into "
            f"{plain_shape(op.out_shape)}.  Change its kernel to {plain_shape(kernel)}: which "
            f"(smallest) padding keeps the output at {plain_shape(op.out_shape[1:])}?"
        ),
        answer=f"Padding {plain_shape(tuple(padding))}:\n\n{lines}",
        check=(
            f"wider = {_conv_call(op, kernel_size=kernel, padding=tuple(padding))}\n"
            f"with torch.no_grad():\n"
            f"    y = wider({_randn(op.in_shape)})\n"
            f"assert tuple(y.shape[1:]) == {op.out_shape!r}, tuple(y.shape)\n"
            f'print("padding", {tuple(padding)!r}, "keeps", tuple(y.shape[1:]))\n'
        ),
    )


def _input_size_exercise(plan: Plan) -> Exercise | None:
    """Same layer, a larger input: which output size?"""
    found = _first(plan, ("conv", "maxpool", "avgpool"), strided=True) or _first(plan, ("conv",))
    if found is None:
        return None
    name, op = found
    w = _window(op)
    sizes = tuple(size * 2 + 1 for size in op.in_shape[1:])
    outs = []
    lines = []
    for i, size in enumerate(sizes):
        if op.kind == "conv":
            outs.append(
                arithmetic.conv_size(
                    size, w["kernel"][i], w["stride"][i], w["padding"][i], w["dilation"][i]
                )
            )
            text = explain_conv(
                size, w["kernel"][i], w["stride"][i], w["padding"][i], w["dilation"][i]
            )
        else:
            ceil_mode = bool(op.arg("ceil_mode", False))
            outs.append(
                arithmetic.pool_size(
                    size,
                    w["kernel"][i],
                    w["stride"][i],
                    w["padding"][i],
                    w["dilation"][i],
                    ceil_mode,
                )
            )
            text = explain_pool(
                size, w["kernel"][i], w["stride"][i], w["padding"][i], w["dilation"][i], ceil_mode
            )
        lines.append(f"- {DIM_NAMES[len(sizes)][i]}: `{text}`")
    in_shape = (op.in_shape[0], *sizes)
    out_shape = (op.out_shape[0], *outs)
    return Exercise(
        question=(
            f"Layer `{name}` ({op_summary(op)}) gets {plain_shape(op.in_shape)} here.  What "
            f"would it output for an input of {plain_shape(in_shape)}?"
        ),
        answer=f"{plain_shape(out_shape)}:\n\n" + "\n".join(lines),
        check=(
            f'layer = model.get_submodule("{name}")\n'
            f"with torch.no_grad():\n"
            f"    y = layer({_randn(in_shape)})\n"
            f"assert tuple(y.shape[1:]) == {out_shape!r}, tuple(y.shape)\n"
            f'print("{name} on {plain_shape(in_shape)}:", tuple(y.shape[1:]))\n'
        ),
    )


def _parameter_exercise(plan: Plan) -> Exercise | None:
    """How many weights does a convolution hold?"""
    found = _first(plan, ("conv", "conv_transpose"))
    if found is None:
        return None
    name, op = found
    w = _window(op)
    groups = op.arg("groups", 1)
    c_in, c_out = op.in_shape[0], op.out_shape[0]
    taps = math.prod(w["kernel"])
    bias = op.arg("bias", True)
    weights = c_out * (c_in // groups) * taps
    formula = f"{c_out} * {c_in // groups} * {taps} = {thousands(weights)} weights"
    if bias:
        formula += f", plus {c_out} biases = {thousands(weights + c_out)}"
    per_filter = f"in_channels{' / groups' if groups != 1 else ''} * kernel taps"
    return Exercise(
        question=(
            f"How many parameters does layer `{name}` ({_torch_class(op)}, {c_in} → {c_out} "
            f"channels, kernel {plain_shape(w['kernel'])}) have?"
        ),
        answer=(
            f"{thousands(op.params)}.  Each of the {c_out} output channels has one weight per "
            f"{per_filter}: `{formula}`."
        ),
        check=(
            f'count = sum(p.numel() for p in model.get_submodule("{name}").parameters())\n'
            f"assert count == {op.params}, count\n"
            f'print("{name}:", count, "parameters")\n'
        ),
    )


def _output_padding_exercise(plan: Plan) -> Exercise | None:
    """A decoder layer must land on an exact size: which output_padding?"""
    found = None
    for stage in plan.stages:
        for name, op in stage.all_ops():
            if op.kind == "conv_transpose" and any(s > 1 for s in _window(op)["stride"]):
                found = found or (name, op)
    if found is None:
        return None
    name, op = found
    w = _window(op)
    sizes = op.in_shape[1:]
    lines = "\n".join(
        f"- {DIM_NAMES[len(sizes)][i]}: `{explain_transposed(size, w['kernel'][i], w['stride'][i], w['padding'][i], w['output_padding'][i], w['dilation'][i])}`"
        for i, size in enumerate(sizes)
    )
    return Exercise(
        question=(
            f"Decoder layer `{name}` is a transposed convolution with kernel "
            f"{plain_shape(w['kernel'])}, stride {plain_shape(w['stride'])} and padding "
            f"{plain_shape(w['padding'])}.  It gets {plain_shape(op.in_shape[1:])} and must "
            f"give exactly {plain_shape(op.out_shape[1:])} to mirror the encoder.  Which "
            "`output_padding` does it need?"
        ),
        answer=(
            f"`output_padding={plain_shape(w['output_padding'])}`.  A strided convolution maps "
            "several input sizes to the same output size; output_padding picks which one the "
            f"transposed layer gives back:\n\n{lines}"
        ),
        check=(
            f"layer = {_conv_call(op)}\n"
            f"with torch.no_grad():\n"
            f"    y = layer({_randn(op.in_shape)})\n"
            f"assert tuple(y.shape[1:]) == {op.out_shape!r}, tuple(y.shape)\n"
            f'print("output_padding", {w["output_padding"]!r}, "gives", tuple(y.shape[1:]))\n'
        ),
    )


def _flatten_exercise(plan: Plan) -> Exercise | None:
    """Where does the first Linear layer's in_features come from?"""
    ops = [(name, op) for stage in plan.stages for name, op in stage.all_ops()]
    for index, (name, op) in enumerate(ops):
        if op.kind != "flatten" or len(op.in_shape) < 2 or math.prod(op.in_shape[1:]) == 1:
            continue
        linear = next(((n, o) for n, o in ops[index + 1 :] if o.kind == "linear"), None)
        if linear is None:
            return None
        linear_name, linear_op = linear
        factors = " * ".join(str(size) for size in op.in_shape)
        return Exercise(
            question=(
                f"Why does the first linear layer `{linear_name}` take "
                f"{linear_op.in_shape[0]} input features?"
            ),
            answer=(
                f"`{name}` flattens the {plain_shape(op.in_shape)} feature map into one vector: "
                f"`{factors} = {op.out_shape[0]}`.  Change the input size and this number "
                "changes too, which is why a flatten head ties a model to one input size."
            ),
            check=(
                f'features = model.get_submodule("{linear_name}").in_features\n'
                f"assert features == {math.prod(op.in_shape)}, features\n"
                f'print("in_features:", features)\n'
            ),
        )
    return None


def exercises(plan: Plan) -> list[Exercise]:
    makers = (
        _padding_exercise,
        _input_size_exercise,
        _parameter_exercise,
        _output_padding_exercise,
        _flatten_exercise,
    )
    return [exercise for maker in makers if (exercise := maker(plan)) is not None]


def _exercise_cells(plan: Plan) -> list[Cell]:
    found = exercises(plan)
    if not found:
        return []
    cells = [
        markdown(
            """
## 4. Exercises

Work each one out on paper first, then check with the empty code cell below
it.  The answer is folded away under **Answer**; the hidden cell after it
checks the answer with torch (show it with the ... on its left).
"""
        )
    ]
    for number, exercise in enumerate(found, start=1):
        cells.append(markdown(f"### Exercise {number}\n\n{exercise.question}"))
        cells.append(Cell("code", "# Try it here."))
        cells.append(
            markdown(
                f"<details><summary><b>Answer</b></summary>\n\n{exercise.answer}\n\n</details>"
            )
        )
        cells.append(code(exercise.check, hidden=True))
    return cells


# ---------------------------------------------------------------- notebook
def handout_cells(spec: ModelSpec, plan: Plan, command: str) -> list[Cell]:
    source = render_model(plan, spec.command())
    input_shape: Shape = plan.input_shape
    cells = [
        markdown(
            f"""
# {plan.class_name}: a {plan.dims}D {plan.family}

Input {plain_shape(input_shape)} → output {plain_shape(plan.output_shape)} (batch
dimension left out), {thousands(plan.params)} parameters, receptive field
{plain_shape(plan.receptive_field)}.

Generated by cnngen {__version__} with:

{markdown_code_block("cnngen " + command)}

Run the cells from top to bottom (*Run All*).  Every code cell checks what it
prints, so a cell that fails means the text is wrong, not you.
"""
        ),
        markdown(
            """
## 1. The model

This is the complete file that `cnngen model` writes; it needs only torch.
Running it defines the model class, `INPUT_SHAPE`, `OUTPUT_SHAPE` and
`LAYER_SHAPES` (the output shape of every layer), and runs the file's own
shape check.
"""
        ),
        Cell("code", source.rstrip("\n")),
        code(f"torch.manual_seed(0)\nmodel = {plan.class_name}().eval()\nprint(model)\n"),
        *_layer_cells(plan),
        markdown(
            """
## 3. A random batch through the whole model

Forward hooks record the output shape of every named layer while a random
batch of two samples runs through the model; each is compared with the plan.
"""
        ),
        code(
            "seen = {}\n"
            "hooks = [\n"
            "    module.register_forward_hook(\n"
            "        lambda module, inputs, output, name=name: seen.__setitem__(name, tuple(output.shape[1:]))\n"
            "    )\n"
            "    for name, module in model.named_modules()\n"
            "    if name in LAYER_SHAPES\n"
            "]\n"
            "batch = torch.randn(2, *INPUT_SHAPE)\n"
            "with torch.no_grad():\n"
            "    output = model(batch)\n"
            "for hook in hooks:\n"
            "    hook.remove()\n"
            "for name, expected in LAYER_SHAPES.items():\n"
            "    mark = 'ok' if seen[name] == expected else f'expected {expected}'\n"
            "    print(f'{name:<20} {str(seen[name]):<20} {mark}')\n"
            "print('input', tuple(batch.shape), '-> output', tuple(output.shape))\n"
            "assert all(seen[name] == shape for name, shape in LAYER_SHAPES.items())\n"
            "assert tuple(output.shape) == (2, *OUTPUT_SHAPE)\n"
        ),
        *_exercise_cells(plan),
    ]
    return cells


def _lines(text: str) -> list[str]:
    """Cell source as nbformat stores it: lines keeping their newline, the last without."""
    return text.splitlines(keepends=True)


def notebook(cells: list[Cell]) -> dict[str, Any]:
    """nbformat 4.5 JSON data with stable, position-derived cell ids."""
    data_cells = []
    for index, cell in enumerate(cells):
        entry: dict[str, Any] = {
            "cell_type": cell.kind,
            "id": f"cell-{index:03d}",
            "metadata": {},
            "source": _lines(cell.source),
        }
        if cell.kind == "code":
            entry["execution_count"] = None
            entry["outputs"] = []
            if cell.hidden:
                entry["metadata"] = {"jupyter": {"source_hidden": True}, "tags": ["answer"]}
        data_cells.append(entry)
    return {
        "cells": data_cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def render_handout(spec: ModelSpec, plan: Plan, command: str) -> str:
    """The notebook as JSON text, the way Jupyter writes it (indent 1, sorted keys)."""
    data = notebook(handout_cells(spec, plan, command))
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
