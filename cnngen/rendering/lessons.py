"""Architecture lessons of a handout: one section per idea the model uses.

Each lesson explains a block type or family with this model's own numbers
(a residual block's shortcut, an SE gate's reduction width, the parameters
a depthwise-separable convolution saves, a transposed layer's output_padding,
rotation invariance, the history behind a preset), runs a code cell that
demonstrates it on the real layers and asserts what it prints, and ends
with a question whose answer is folded away and tagged like every answer.
"""

from __future__ import annotations

import math

from cnngen.core.notes import Note
from cnngen.core.plan import Op, Plan, Stage
from cnngen.core.spec import ModelSpec
from cnngen.core.vocab import PRESET_TABLE
from cnngen.rendering.cells import ANSWER_TAGS, Cell, code, conv_call, markdown, window
from cnngen.rendering.format import field_text, plain_shape
from cnngen.rendering.messages import Messages

HISTORY = ("lenet5", "alexnet", "vgg", "inception", "resnet", "senet")


def discussion(t: Messages, question: str, answer: str) -> list[Cell]:
    """A question to think about, with its answer folded away and tagged."""
    return [
        markdown(f"**{t('lesson.question')}** {question}"),
        markdown(
            f"<details><summary><b>{t('ex.answer')}</b></summary>\n\n{answer}\n\n</details>",
            tags=ANSWER_TAGS,
        ),
    ]


def era(preset: str) -> str:
    """The step of the history a preset belongs to (``vgg16_bn`` -> ``vgg``), as declared."""
    return PRESET_TABLE[preset].era or preset


def _history(t: Messages, spec: ModelSpec) -> list[Cell]:
    if spec.preset is None:
        return []
    step = era(spec.preset)
    lines = []
    for name in HISTORY:
        text = t(f"history.{name}")
        lines.append(f"- **{text}**" if name == step else f"- {text}")
    key = f"history.now.{step}"
    now = t(key, preset=spec.preset) if t.has(key) else t("history.now.other", preset=spec.preset)
    steps = "\n".join(lines)
    return [
        markdown(f"## {t('history.title')}\n\n{t('history.intro')}\n\n{steps}\n\n{now}"),
        *discussion(t, t("history.q"), t("history.a")),
    ]


def nested(stages: tuple[Stage, ...], prefix: str = "") -> list[tuple[str, Stage]]:
    """Every stage and sub-stage with its full module name (``layer1.0``), in order."""
    found = []
    for stage in stages:
        name = f"{prefix}{stage.name}"
        found.append((name, stage))
        found += nested(stage.children, f"{name}.")
    return found


def _stride(stage: Stage) -> int:
    strides = [window(op)["stride"] for op in stage.ops if op.kind == "conv"]
    return max((max(s) for s in strides), default=1)


def _residual(t: Messages, plan: Plan) -> list[Cell]:
    blocks = [
        (name, stage)
        for name, stage in nested(plan.stages)
        if stage.kind == "residual" and not stage.children and stage.ops
    ]
    if not blocks:
        return []
    rows = []
    for name, stage in blocks:
        if stage.shortcut:
            why = []
            if stage.in_shape[0] != stage.out_shape[0]:
                why.append(
                    t("residual.why_channels", c_in=stage.in_shape[0], c_out=stage.out_shape[0])
                )
            if _stride(stage) > 1:
                why.append(t("residual.why_stride", stride=_stride(stage)))
            kind = t("residual.projection", why=", ".join(why))
        else:
            kind = t("residual.identity")
        rows.append(
            f"| `{name}` | {plain_shape(stage.in_shape)} | {plain_shape(stage.out_shape)} | {kind} |"
        )
    table = "\n".join(
        [
            f"| {t('residual.col_block')} | {t('residual.col_in')} | {t('residual.col_out')} | "
            f"{t('residual.col_shortcut')} |",
            "|---|---|---|---|",
            *rows,
        ]
    )
    block_name, block = next(((n, s) for n, s in blocks if s.shortcut), blocks[0])
    names = [op.path for op in block.ops]
    shape = ", ".join(str(size) for size in block.in_shape)
    with_down = [n for n, s in blocks if s.shortcut]
    cells = [
        markdown(f"## {t('residual.title')}\n\n{t('residual.text')}\n\n{table}"),
        code(
            f'block = model.get_submodule("{block_name}")\n'
            f"x = torch.randn(2, {shape})\n"
            "with torch.no_grad():\n"
            "    main = x\n"
            f"    for name in {names!r}:\n"
            "        main = getattr(block, name)(main)\n"
            "    shortcut = block.downsample(x)\n"
            "    y = block(x)\n"
            f"print({t('label.main')!r}, tuple(main.shape[1:]), {t('label.shortcut')!r}, tuple(shortcut.shape[1:]))\n"
            "assert torch.allclose(y, block.act(main + shortcut), atol=1e-6)\n"
        ),
    ]
    identity = next(((n, s) for n, s in blocks if not s.shortcut), None)
    last = None
    if identity is not None:
        weighted = [op for op in identity[1].ops if op.params and op.kind != "squeeze_excite"]
        last = weighted[-1] if weighted else None
    if identity is not None and last is not None:
        name, stage = identity
        cells += [
            markdown(t("residual.identity_text", block=name, layer=last.path)),
            code(
                "import copy\n\n"
                f'block = copy.deepcopy(model.get_submodule("{name}")).eval()\n'
                "with torch.no_grad():\n"
                f"    for parameter in block.{last.path}.parameters():\n"
                "        parameter.zero_()\n"
                f"x = torch.rand(2, {', '.join(str(s) for s in stage.in_shape)}, requires_grad=True)\n"
                "y = block(x)\n"
                "y.sum().backward()\n"
                f"print({t('label.identity')!r}, torch.equal(y, x), "
                f"{t('label.gradient')!r}, x.grad.unique().tolist())\n"
                "assert torch.equal(y, x) and torch.equal(x.grad, torch.ones_like(x))\n"
            ),
        ]
    return [
        *cells,
        *discussion(
            t,
            t("residual.q"),
            t("residual.a", blocks=", ".join(f"`{name}`" for name in with_down) or "—"),
        ),
    ]


def _bottleneck(t: Messages, plan: Plan) -> list[Cell]:
    """ResNet's bottleneck: 1x1 down, 3x3 at the narrow width, 1x1 back up."""
    found = []
    for name, stage in nested(plan.stages):
        convs = [op for op in stage.ops if op.kind == "conv"]
        if stage.kind != "residual" or len(convs) != 3:
            continue
        reduce, middle, expand = convs
        ones = math.prod(window(reduce)["kernel"]) == 1 == math.prod(window(expand)["kernel"])
        if ones and middle.in_shape[0] < stage.in_shape[0]:
            found.append((bool(stage.shortcut), name, stage, reduce, middle, expand))
    if not found:
        return []
    _, name, stage, reduce, middle, expand = min(found, key=lambda item: item[0])
    c_in, c_out, narrow = stage.in_shape[0], stage.out_shape[0], middle.in_shape[0]
    taps = math.prod(window(middle)["kernel"])
    weights = c_in * narrow + taps * narrow * middle.out_shape[0] + expand.in_shape[0] * c_out
    basic = taps * c_in * c_out + taps * c_out * c_out
    return [
        markdown(
            f"## {t('bottleneck.title')}\n\n"
            + t(
                "bottleneck.text",
                block=name,
                c_in=c_in,
                c_out=c_out,
                narrow=narrow,
                k=plain_shape(window(middle)["kernel"]),
                formula=(
                    f"{c_in} * {narrow} + {taps} * {narrow} * {middle.out_shape[0]}"
                    f" + {expand.in_shape[0]} * {c_out}"
                ),
                weights=t.number(weights),
                basic_formula=f"{taps} * {c_in} * {c_out} + {taps} * {c_out} * {c_out}",
                basic=t.number(basic),
                ratio=t.decimal(basic / weights),
            )
        ),
        code(
            f'block = model.get_submodule("{name}")\n'
            f"convs = [block.{reduce.path}, block.{middle.path}, block.{expand.path}]\n"
            "count = sum(layer.weight.numel() for layer in convs)\n"
            f"print([layer.out_channels for layer in convs], count, {t('label.basic')!r}, {basic})\n"
            f"assert [layer.out_channels for layer in convs] == "
            f"[{narrow}, {middle.out_shape[0]}, {c_out}]\n"
            f"assert count == {weights}\n"
        ),
        *discussion(t, t("bottleneck.q"), t("bottleneck.a")),
    ]


def _inception(t: Messages, plan: Plan) -> list[Cell]:
    """GoogLeNet's Inception module: parallel branches concatenated along channels."""
    for name, stage in nested(plan.stages):
        if stage.kind != "inception":
            continue
        widths = [child.out_shape[0] for child in stage.children]
        third = stage.children[2]
        reduce_op, wide_op = [op for _, op in third.all_ops() if op.kind == "conv"][:2]
        c_in, r, o = stage.in_shape[0], reduce_op.out_shape[0], wide_op.out_shape[0]
        taps = math.prod(window(wide_op)["kernel"])
        reduced = c_in * r + taps * r * o
        direct = taps * c_in * o
        shape = ", ".join(str(size) for size in stage.in_shape)
        branches = [f"module.{child.name}(x)" for child in stage.children]
        return [
            markdown(
                f"## {t('inception.title')}\n\n"
                + t(
                    "inception.text",
                    name=name,
                    widths=" + ".join(map(str, widths)),
                    total=stage.out_shape[0],
                    size=plain_shape(stage.out_shape[1:]),
                    c_in=c_in,
                    r=r,
                    o=o,
                    k=plain_shape(window(wide_op)["kernel"]),
                    reduced=t.number(reduced),
                    direct=t.number(direct),
                )
            ),
            code(
                f'module = model.get_submodule("{name}")\n'
                f"x = torch.randn(1, {shape})\n"
                "with torch.no_grad():\n"
                f"    parts = [{', '.join(branches)}]\n"
                "    y = module(x)\n"
                'print([part.shape[1] for part in parts], "->", tuple(y.shape[1:]))\n'
                f"assert [part.shape[1] for part in parts] == {widths!r}\n"
                "assert torch.equal(torch.cat(parts, dim=1), y)\n"
                f"branch = module.{third.name}\n"
                "count = sum(p.numel() for p in branch.parameters() if p.dim() > 1)\n"
                f"assert count == {reduced}, count  # {t('inception.with_reduction')}\n"
                f"direct = nn.Conv2d({c_in}, {o}, kernel_size={wide_op.arg('kernel_size')!r}, bias=False)\n"
                f"assert direct.weight.numel() == {direct}  # {t('inception.without')}\n"
            ),
            *discussion(t, t("inception.q"), t("inception.a")),
        ]
    return []


def _vgg(t: Messages, spec: ModelSpec, plan: Plan) -> list[Cell]:
    """VGG's stacked 3x3 convolutions: the field of a 5x5 with fewer weights."""
    if not (spec.preset and era(spec.preset) == "vgg") and spec.block != "vgg":
        return []
    convs = [
        op
        for _, op in (pair for stage in plan.stages for pair in stage.all_ops())
        if op.kind == "conv" and window(op)["kernel"] == (3, 3)
    ]
    same = next((op for op in convs if op.in_shape[0] == op.out_shape[0]), None)
    if same is None or len(plan.input_shape) != 3:
        return []
    c = same.in_shape[0]
    return [
        markdown(
            f"## {t('vgg.title')}\n\n"
            + t(
                "vgg.text",
                c=c,
                c_n=t.count(c, "channel"),
                two=t.number(2 * 9 * c * c),
                five=t.number(25 * c * c),
                three=t.number(3 * 9 * c * c),
                seven=t.number(49 * c * c),
            )
        ),
        code(
            f"two = nn.Sequential(nn.Conv2d({c}, {c}, 3, padding=1), nn.Conv2d({c}, {c}, 3, padding=1))\n"
            f"one = nn.Conv2d({c}, {c}, 5, padding=2)\n"
            "weights = lambda layers: sum(p.numel() for p in layers.parameters() if p.dim() > 1)\n"
            f"x = torch.zeros(1, {c}, 11, 11, requires_grad=True)\n"
            "two(x)[0, :, 5, 5].sum().backward()\n"
            "field = int((x.grad[0] != 0).any(dim=0).any(dim=0).sum())\n"
            f"print({t('label.field')!r}, field, {t('label.weights')!r}, weights(two), weights(one))\n"
            f"assert field == 5 and weights(two) == {2 * 9 * c * c} and weights(one) == {25 * c * c}\n"
        ),
        *discussion(t, t("vgg.q"), t("vgg.a")),
    ]


def _alexnet(t: Messages, spec: ModelSpec, plan: Plan) -> list[Cell]:
    """AlexNet's first layer, torchvision's 64 filters against the paper's 96."""
    if spec.preset != "alexnet":
        return []
    first = next(
        ((n, op) for stage in plan.stages for n, op in stage.all_ops() if op.kind == "conv"), None
    )
    if first is None:
        return []
    name, op = first
    c_in = op.in_shape[0]
    ours = op.params
    paper = 96 * c_in * 121 + 96
    return [
        markdown(
            f"## {t('alexnet.title')}\n\n"
            + t(
                "alexnet.text",
                name=name,
                c_in=c_in,
                filters_n=t.count(op.out_shape[0], "filter"),
                ours=t.number(ours),
                paper=t.number(paper),
            )
        ),
        code(
            f'first = model.get_submodule("{name}")\n'
            "count = sum(p.numel() for p in first.parameters())\n"
            f"paper = nn.Conv2d({c_in}, 96, kernel_size=11, stride=4)\n"
            "with torch.no_grad():\n"
            f"    side = paper(torch.zeros(1, {c_in}, 227, 227)).shape[-1]\n"
            "print(first, count, sum(p.numel() for p in paper.parameters()), side)\n"
            f"assert first.out_channels == {op.out_shape[0]} and count == {ours}\n"
            f"assert sum(p.numel() for p in paper.parameters()) == {paper} and side == 55\n"
        ),
        *discussion(t, t("alexnet.q"), t("alexnet.a")),
    ]


def _inverted_residual(t: Messages, plan: Plan) -> list[Cell]:
    """MobileNetV2's inverted residual: narrow -> wide -> narrow, with a linear end."""
    for name, stage in nested(plan.stages):
        if stage.kind != "residual" or not stage.children or stage.shortcut:
            continue
        (main,) = stage.children
        convs = [op for _, op in main.all_ops() if op.kind == "conv"]
        if len(convs) != 3:
            continue
        expand, depthwise, project = convs
        narrow, wide = stage.in_shape[0], expand.out_shape[0]
        shape = ", ".join(str(size) for size in stage.in_shape)
        return [
            markdown(
                f"## {t('inverted.title')}\n\n"
                + t(
                    "inverted.text",
                    block=name,
                    narrow=narrow,
                    narrow_n=t.count(narrow, "channel"),
                    wide=wide,
                    wide_n=t.count(wide, "channel"),
                    factor_n=t.count(wide // narrow, "time"),
                    groups=depthwise.arg("groups", 1),
                )
            ),
            code(
                f'block = model.get_submodule("{name}")\n'
                f"x = torch.randn(1, {shape})\n"
                "with torch.no_grad():\n"
                f"    wide = block.{main.name}[0](x)\n"
                f"    y = block(x)\n"
                f"    main = block.{main.name}(x)\n"
                "print(tuple(x.shape[1:]), '->', tuple(wide.shape[1:]), '->', tuple(main.shape[1:]))\n"
                f"assert wide.shape[1] == {wide} and main.shape[1] == {narrow}\n"
                "assert torch.allclose(y, x + main, atol=1e-6)  # "
                f"{t('inverted.linear')}\n"
            ),
            *discussion(t, t("inverted.q"), t("inverted.a")),
        ]
    return []


def _unet(t: Messages, plan: Plan) -> list[Cell]:
    """U-Net's skips: the decoder concatenates the encoder's map of the same size."""
    if plan.family != "unet":
        return []
    stages = {stage.name: stage for stage in plan.stages}
    merge = next((stage for stage in plan.stages if stage.kind == "concat"), None)
    if merge is None or len(merge.inputs) != 2:
        return []
    skip, up = merge.inputs
    after = plan.stages[plan.stages.index(merge) + 1]
    conv = next(op for op in after.ops if op.kind == "conv")
    return [
        markdown(
            f"## {t('unet.title')}\n\n"
            + t(
                "unet.text",
                skip=skip,
                up=up,
                merge=merge.name,
                dec=after.name,
                c_skip=stages[skip].out_shape[0],
                c_up=stages[up].out_shape[0],
                size=plain_shape(merge.out_shape[1:]),
            )
        ),
        code(
            "seen = {}\n"
            f"names = {[skip, up]!r}\n"
            "hooks = [\n"
            "    model.get_submodule(name).register_forward_hook(\n"
            "        lambda module, inputs, output, name=name: seen.__setitem__(name, output)\n"
            "    )\n"
            "    for name in names\n"
            "]\n"
            "with torch.no_grad():\n"
            "    model(torch.randn(1, *INPUT_SHAPE))\n"
            "for hook in hooks:\n"
            "    hook.remove()\n"
            f'skip, up = seen["{skip}"], seen["{up}"]\n'
            f'conv = model.get_submodule("{after.name}.{conv.path}")\n'
            "print(tuple(skip.shape[1:]), '+', tuple(up.shape[1:]), '->', conv.in_channels)\n"
            "assert skip.shape[2:] == up.shape[2:]\n"
            "assert conv.in_channels == skip.shape[1] + up.shape[1]\n"
        ),
        *discussion(t, t("unet.q"), t("unet.a")),
    ]


def _group_probe(name: str, op: Op) -> list[str]:
    """Lines that run the group convolution ``name`` on a random input ``z`` (out: ``out``)."""
    return [
        f'group = model.get_submodule("{name}")\n',
        f"z = torch.randn(1, {', '.join(str(size) for size in op.in_shape)})\n",
        "with torch.no_grad():\n",
        "    out = group(z)\n",
    ]


def _d4(
    t: Messages, name: str, op: Op, group: tuple[str, Op] | None, basis: Note | None
) -> list[Cell]:
    """The D4 lesson: maps turn and mirror with the input, orientations are reordered."""
    shape = ", ".join(str(size) for size in op.in_shape)
    lines = [
        f'lift = model.get_submodule("{name}")\n',
        f"x = torch.randn(1, {shape})\n",
        "turn = lambda t: torch.rot90(t, 1, dims=(-2, -1))\n",
        "mirror = lambda t: t.flip(-1)\n",
        "after_turn = [g // 4 * 4 + (g - 1) % 4 for g in range(8)]\n",
        "after_mirror = [(1 - g // 4) * 4 + -g % 4 for g in range(8)]\n",
        "moved = lambda t, order: t.unflatten(1, (-1, 8))[:, :, order].flatten(1, 2)\n",
        "with torch.no_grad():\n",
        "    y = lift(x)\n",
        "    assert torch.allclose(lift(turn(x)), moved(turn(y), after_turn), atol=1e-5)\n",
        "    assert torch.allclose(lift(mirror(x)), moved(mirror(y), after_mirror), atol=1e-5)\n",
        f"print(tuple(y.shape[1:]), {t('label.orientations')!r}, 8)\n",
    ]
    if group is not None:
        lines += [
            *_group_probe(*group),
            "    for act, order in ((turn, after_turn), (mirror, after_mirror)):\n",
            "        moved_out = group(moved(act(z), order))\n",
            "        assert torch.allclose(moved_out, moved(act(out), order), atol=1e-5)\n",
        ]
    return _group_lesson(t, ".d4", name, op, lines, basis)


def _p4(t: Messages, plan: Plan) -> list[Cell]:
    """Lifting and group convolutions: maps turn with the input, orientations shift."""
    ops = [(n, op) for stage in plan.stages for n, op in stage.all_ops()]
    lifting = next(((n, op) for n, op in ops if op.kind == "lifting_conv"), None)
    if lifting is None:
        return []
    group = next(((n, op) for n, op in ops if op.kind == "group_conv"), None)
    name, op = lifting
    shape = ", ".join(str(size) for size in op.in_shape)
    basis = next((note for note in plan.notes if note.key == "note.harmonic_basis"), None)
    if op.module == "DihedralLiftingConv2d":
        return _d4(t, name, op, group, basis)
    lines = [
        f'lift = model.get_submodule("{name}")\n',
        f"x = torch.randn(1, {shape})\n",
        "turn = lambda t: torch.rot90(t, 1, dims=(-2, -1))\n",
        "shift = lambda t: t.unflatten(1, (-1, 4)).roll(1, dims=2).flatten(1, 2)\n",
        "with torch.no_grad():\n",
        "    y = lift(x)\n",
        "    turned = lift(turn(x))\n",
        f"print(tuple(y.shape[1:]), {t('label.orientations')!r}, 4)\n",
        "assert torch.allclose(turned, shift(turn(y)), atol=1e-5)\n",
    ]
    if group is not None:
        lines += [
            *_group_probe(*group),
            "    out_turned = group(shift(turn(z)))\n",
            "assert torch.allclose(out_turned, shift(turn(out)), atol=1e-5)\n",
        ]
    return _group_lesson(t, "", name, op, lines, basis)


def _group_lesson(
    t: Messages, group: str, name: str, op: Op, lines: list[str], basis: Note | None
) -> list[Cell]:
    """The cells of a group convolution lesson; ``group`` picks its texts ("" for C4, ".d4").

    With a harmonic ``basis`` (its plan note) the weights' answer changes, and a
    second lesson checks the waves the kernels are summed from.
    """
    cells = [
        markdown(
            f"## {t('p4.title' + group)}\n\n"
            + t(
                "p4.text" + group,
                name=name,
                shape_in=plain_shape(op.in_shape),
                shape_out=plain_shape(op.out_shape),
            )
        ),
        code("".join(lines)),
    ]
    if basis is None:
        return [*cells, *discussion(t, t("p4.q"), t("p4.a" + group))]
    waves = [
        "waves = lift.basis.waves.double()\n",
        "flat = waves.flatten(1)\n",
        "turned = turn(waves).flatten(1)\n",
        "mix = torch.linalg.lstsq(flat.T, turned.T).solution\n",
        "print(tuple(lift.weight.shape), tuple(waves.shape))\n",
        "assert torch.linalg.matrix_rank(flat) == len(waves) == lift.weight.shape[-1]\n",
        "assert torch.allclose(flat.T @ mix, turned.T, atol=1e-6)\n",
    ]
    return [
        *cells,
        *discussion(t, t("p4.q"), t("p4.a" + group + ".harmonic", **basis.fields)),
        markdown(f"## {t('harmonic.title')}\n\n" + t("harmonic.text", **basis.fields)),
        code("".join(waves)),
        *discussion(t, t("harmonic.q"), t("harmonic.a")),
    ]


def _first_op(plan: Plan, kind: str) -> tuple[Stage, str, Op] | None:
    for stage in plan.stages:
        for name, op in stage.all_ops():
            if op.kind == kind:
                return stage, name, op
    return None


def _se(t: Messages, plan: Plan) -> list[Cell]:
    found = _first_op(plan, "squeeze_excite")
    if found is None:
        return []
    _, name, op = found
    channels, reduced = op.args[0][1], op.args[1][1]
    dims = len(op.in_shape) - 1
    shape = ", ".join(str(size) for size in op.in_shape)
    index = ", ".join([":", ":", *(["None"] * dims)])
    return [
        markdown(
            f"## {t('se.title')}\n\n"
            + t(
                "se.text",
                name=name,
                channels=channels,
                channels_n=t.count(channels, "channel"),
                numbers_n=t.count(channels, "number"),
                reduced=reduced,
                params=t.number(op.params),
                shape=plain_shape(op.in_shape),
            )
        ),
        code(
            f'se = model.get_submodule("{name}")\n'
            f"x = torch.rand(2, {shape})\n"
            "with torch.no_grad():\n"
            f"    squeezed = x.flatten(2).mean(dim=2)  # {t('se.squeeze')}: (2, {channels})\n"
            f"    scale = torch.sigmoid(se.expand(torch.relu(se.reduce(squeezed))))  # {t('se.excite')}\n"
            f"    manual = x * scale[{index}]  # {t('se.scale')}\n"
            "    y = se(x)\n"
            f"print({t('label.scale')!r}, [round(v, 3) for v in scale[0, :4].tolist()])\n"
            "assert torch.allclose(y, manual)\n"
            f"assert sum(p.numel() for p in se.parameters()) == {op.params}\n"
        ),
        *discussion(t, t("se.q", channels=channels), t("se.a")),
    ]


def _depthwise(t: Messages, plan: Plan) -> list[Cell]:
    found = None
    for stage in plan.stages:
        ops = list(stage.all_ops())
        for index, (name, op) in enumerate(ops):
            if op.kind == "conv" and op.arg("groups", 1) > 1:
                pointwise = next(((n, o) for n, o in ops[index + 1 :] if o.kind == "conv"), None)
                if pointwise is not None:
                    found = (name, op, *pointwise)
                    break
        if found:
            break
    if found is None:
        return []
    name, op, point_name, point = found
    w = window(op)
    taps = math.prod(w["kernel"])
    c_in, c_out = op.in_shape[0], point.out_shape[0]
    positions = math.prod(op.out_shape[1:])
    normal_params = taps * c_in * c_out
    separable_params = taps * c_in + c_in * c_out
    normal_macs = taps * c_in * positions * c_out
    separable_macs = taps * c_in * positions + positions * c_in * c_out
    kernel = w["kernel"][0] if len(set(w["kernel"])) == 1 else w["kernel"]
    stride = w["stride"][0] if len(set(w["stride"])) == 1 else w["stride"]
    padding = w["padding"][0] if len(set(w["padding"])) == 1 else w["padding"]
    cls = op.module
    return [
        markdown(
            f"## {t('depthwise.title')}\n\n"
            + t(
                "depthwise.text",
                name=name,
                point=point_name,
                k=plain_shape(w["kernel"]),
                taps=taps,
                c_in=c_in,
                c_out=c_out,
                c_in_n=t.count(c_in, "channel"),
                c_out_n=t.count(c_out, "channel"),
                positions=t.number(positions),
                positions_n=t.count(positions, "position"),
                out=plain_shape(op.out_shape[1:]),
                normal_params=t.number(normal_params),
                separable_params=t.number(separable_params),
                normal_macs=t.number(normal_macs),
                separable_macs=t.number(separable_macs),
                ratio=t.decimal(normal_macs / separable_macs),
            )
        ),
        code(
            f"normal = {cls}({c_in}, {c_out}, kernel_size={kernel!r}, stride={stride!r}, "
            f"padding={padding!r}, bias=False)\n"
            f"depthwise = {cls}({c_in}, {c_in}, kernel_size={kernel!r}, stride={stride!r}, "
            f"padding={padding!r}, groups={c_in}, bias=False)\n"
            f"pointwise = {cls}({c_in}, {c_out}, kernel_size=1, bias=False)\n"
            "count = lambda layer: sum(p.numel() for p in layer.parameters())\n"
            f"print({t('label.normal')!r}, count(normal), {t('label.pair')!r}, "
            "count(depthwise) + count(pointwise))\n"
            f"assert count(normal) == {normal_params}\n"
            f"assert count(depthwise) + count(pointwise) == {separable_params}\n"
            f"x = torch.randn(1, {', '.join(str(s) for s in op.in_shape)})\n"
            "with torch.no_grad():\n"
            "    assert normal(x).shape == pointwise(depthwise(x)).shape\n"
        ),
        *discussion(t, t("depthwise.q"), t("depthwise.a", c_in=c_in)),
    ]


def _transposed(t: Messages, plan: Plan) -> list[Cell]:
    found = None
    for stage in plan.stages:
        for name, op in stage.all_ops():
            if op.kind == "conv_transpose" and any(s > 1 for s in window(op)["stride"]):
                found = found or (name, op)
    if found is None:
        return []
    name, op = found
    w = window(op)
    limit = max(max(w["stride"]), max(w["dilation"]))
    return [
        markdown(
            f"## {t('transposed.title')}\n\n"
            + t(
                "transposed.text",
                name=name,
                shape_in=plain_shape(op.in_shape[1:]),
                shape_out=plain_shape(op.out_shape[1:]),
                output_padding=plain_shape(w["output_padding"]),
            )
        ),
        code(
            f"x = torch.randn({', '.join(str(s) for s in (1, *op.in_shape))})\n"
            f"for extra in range({limit}):\n"
            f"    layer = {conv_call(op, output_padding='extra')}\n"
            "    with torch.no_grad():\n"
            '        print("output_padding", extra, "->", tuple(layer(x).shape[2:]))\n'
            f'with torch.no_grad():\n    y = model.get_submodule("{name}")(x)\n'
            f"assert tuple(y.shape[1:]) == {op.out_shape!r}\n"
        ),
        *discussion(t, t("transposed.q"), t("transposed.a")),
    ]


def _equivariant(t: Messages, plan: Plan) -> list[Cell]:
    if plan.family != "equivariant":
        return []
    shape = ", ".join(str(s) for s in plan.input_shape)
    return [
        markdown(f"## {t('equivariant.title')}\n\n{t('equivariant.text')}"),
        code(
            "torch.manual_seed(1)\n"
            f"x = torch.randn(1, {shape})\n"
            "with torch.no_grad():\n"
            "    logits = model(x)\n"
            "    for turns in (1, 2, 3):\n"
            "        turned = model(torch.rot90(x, turns, dims=(-2, -1)))\n"
            "        gap = (turned - logits).abs().max().item()\n"
            f'        print(turns * 90, "{t("equivariant.degrees")}", gap)\n'
            "        assert torch.allclose(turned, logits, atol=1e-5)\n"
            f"print({t('label.logits')!r}, [round(v, 4) for v in logits[0].tolist()])\n"
        ),
        markdown(t("equivariant.six_nine")),
        *discussion(t, t("equivariant.q"), t("equivariant.a")),
    ]


def handout_field_text(t: Messages, plan: Plan) -> str:
    """The field the handout states and measures: the whole input, or the part seen."""
    return field_text(plan, t.lang)


def _receptive_field(t: Messages, plan: Plan) -> list[Cell]:
    """What the field is, this model's value, and a cell that measures it with gradients."""
    size = plain_shape(plan.input_shape[1:])
    expected = plan.receptive_field
    text = t("field.text", field=handout_field_text(t, plan))
    trunk = [
        op.receptive_field
        for stage in plan.stages
        for _, op in stage.all_ops()
        if len(op.out_shape) > 1 and op.kind != "unflatten" and op.receptive_field
    ]
    whole = expected == tuple(plan.input_shape[1:])
    if whole and trunk and trunk[-1] != expected:
        text += "\n\n" + t("field.head", trunk=plain_shape(trunk[-1]), size=size)
    return [
        markdown(f"## {t('field.title')}\n\n{text}"),
        code(
            "import copy\n\n"
            "probe = copy.deepcopy(model).double().eval()\n"
            "for parent in list(probe.modules()):\n"
            "    for name, child in list(parent.named_children()):\n"
            "        if isinstance(child, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)):\n"
            '            average = getattr(nn, type(child).__name__.replace("Max", "Avg"))\n'
            "            setattr(parent, name, average(child.kernel_size, child.stride, "
            "child.padding, ceil_mode=child.ceil_mode))\n"
            "        elif isinstance(child, (nn.InstanceNorm1d, nn.InstanceNorm2d, "
            "nn.InstanceNorm3d, nn.GroupNorm)):\n"
            "            setattr(parent, name, nn.Identity())\n"
            '        elif type(child).__module__ == "torch.nn.modules.activation":\n'
            f"            # {t('field.identity')}\n"
            "            setattr(parent, name, nn.Identity())\n"
            "with torch.no_grad():\n"
            "    for parameter in probe.parameters():\n"
            "        parameter.copy_((0.5 + torch.rand_like(parameter)) / max(parameter[0].numel(), 1))\n"
            "x = torch.ones(1, *INPUT_SHAPE, dtype=torch.float64, requires_grad=True)\n"
            "y = probe(x)\n"
            f"if y.dim() > 2:  # {t('field.center')}\n"
            "    y = y[(0, slice(None), *((n - 1) // 2 for n in y.shape[2:]))]\n"
            "y.sum().backward()\n"
            "reached = x.grad[0].abs().sum(dim=0) != 0\n"
            "field = []\n"
            "for dim in range(reached.dim()):\n"
            "    line = reached.movedim(dim, 0).reshape(reached.shape[dim], -1).any(dim=1)\n"
            "    where = line.nonzero()\n"
            "    field.append(int(where.max() - where.min() + 1))\n"
            f'print("{t("field.measured")}", tuple(field))\n'
            f"assert tuple(field) == {expected!r}\n"
        ),
        *discussion(t, t("field.q"), t("field.a")),
    ]


def lesson_cells(t: Messages, spec: ModelSpec, plan: Plan) -> list[Cell]:
    """Every lesson this model's architecture calls for, in a fixed order."""
    return [
        *_history(t, spec),
        *_alexnet(t, spec, plan),
        *_vgg(t, spec, plan),
        *_inception(t, plan),
        *_residual(t, plan),
        *_bottleneck(t, plan),
        *_se(t, plan),
        *_inverted_residual(t, plan),
        *_depthwise(t, plan),
        *_transposed(t, plan),
        *_unet(t, plan),
        *_equivariant(t, plan),
        *_p4(t, plan),
        *_receptive_field(t, plan),
    ]
