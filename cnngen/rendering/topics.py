"""Handouts on a topic rather than a model: ``cnngen handout conv``, ``train`` and ``transfer``.

``conv`` builds a convolution by hand (loops over windows), adds stride,
padding and dilation one at a time, and ends with the same layer as one matrix
product over ``F.unfold``'s columns; every step is checked against
``torch.nn.functional.conv2d``.  ``train`` trains a small generated classifier
on scikit-learn's bundled 8x8 digits (no download), plots or prints its
curves, shows the confusion matrix and asserts accuracy and macro-F1.
``transfer`` trains the same kind of model on digits 0-4, freezes its
convolutions, gives it a new head for digits 5-9 and trains only the head on
two images per digit, against the same model trained from scratch on them.
``c4`` trains a plain and a rotation-invariant (C4) model of the same size on
upright digits and tests both on upright and turned ones: the article's table.

Both are built from the same cells, editions and checker as the model
handouts (:mod:`cnngen.rendering.handout`), and are as deterministic.
"""

from __future__ import annotations

import json
import shlex

from cnngen._version import __version__
from cnngen.core.solver import solve
from cnngen.core.spec import make_spec
from cnngen.rendering.cells import ANSWER_TAGS, CHECK_TAGS, Cell, code, markdown
from cnngen.rendering.engine import render_model, template_dir_words
from cnngen.rendering.escape import markdown_code_block
from cnngen.rendering.handout import (
    Exercise,
    exercise_cells,
    notebook,
    numbered,
    student_source,
)
from cnngen.rendering.lessons import discussion
from cnngen.rendering.messages import Messages

TOPICS = ("conv", "train", "transfer", "c4")

# The model the training handout trains: small enough for a CPU in seconds.
TRAIN_MODEL = {"input_size": (8, 8), "classes": 10, "layers": 2, "start_channels": 16}
# The transfer handout's model: the same, for five digits at a time (0-4, then 5-9).
TRANSFER_MODEL = {**TRAIN_MODEL, "classes": 5}
# Images per new digit that the head is fine-tuned on, and how many draws are compared.
FEW_PER_DIGIT = 2
DRAWS = 3
# The C4 experiment's two models: the same size, one invariant to quarter turns.
C4_MODELS = (
    ("classifier", {"input_size": (8, 8), "layers": 2, "start_channels": 16}),
    ("equivariant", {"input_size": (8, 8), "layers": 2, "start_channels": 16}),
)


def _intro(t: Messages, topic: str, command: str, student: bool) -> Cell:
    text = t(
        f"topic.{topic}.intro",
        command_block=markdown_code_block("cnngen " + command),
        version=__version__,
    )
    return markdown(text + ("\n\n" + t("intro.student") if student else ""))


def _finish(cells: list[Cell], student: bool, lang: str) -> str:
    if student:
        hidden = set(ANSWER_TAGS) | set(CHECK_TAGS)
        cells = [cell for cell in cells if not hidden & set(cell.tags)]
    data = notebook(numbered(cells), lang)
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------- conv
def _conv_exercises(t: Messages) -> list[Exercise]:
    return [
        Exercise(
            question=t("topic.conv.ex1.q"),
            answer=t("topic.conv.ex1.a"),
            check=(
                "y = F.conv2d(torch.randn(1, 1, 28, 28), torch.randn(1, 1, 5, 5), "
                "stride=2, padding=1)\n"
                "assert tuple(y.shape[2:]) == (13, 13), y.shape\n"
                "print(tuple(y.shape[2:]))\n"
            ),
            expected=(13, 13),
            hint=t("hint.padding", example=(7, 7)),
        ),
        Exercise(
            question=t("topic.conv.ex2.q"),
            answer=t("topic.conv.ex2.a"),
            check=(
                "columns = F.unfold(torch.randn(1, 16, 10, 10), kernel_size=3)\n"
                "assert columns.shape[1] == 144, columns.shape\n"
                "print(columns.shape[1])\n"
            ),
            expected=144,
            hint=t("hint.count"),
        ),
        Exercise(
            question=t("topic.conv.ex3.q"),
            answer=t("topic.conv.ex3.a"),
            check=(
                "columns = F.unfold(torch.randn(1, 3, 32, 32), kernel_size=3, padding=1)\n"
                "assert columns.shape[2] == 1024, columns.shape\n"
                "print(columns.shape[2])\n"
            ),
            expected=1024,
            hint=t("hint.count"),
        ),
        Exercise(
            question=t("topic.conv.ex4.q"),
            answer=t("topic.conv.ex4.a"),
            check=(
                "x = torch.zeros(1, 1, 15, 15, requires_grad=True)\n"
                "F.conv2d(x, torch.ones(1, 1, 3, 3), dilation=3)[0, 0, 4, 4].backward()\n"
                "rows = x.grad[0, 0].any(dim=1).nonzero()\n"
                "assert int(rows.max() - rows.min() + 1) == 7\n"
                "print(int(rows.max() - rows.min() + 1))\n"
            ),
            expected=3,
            hint=t("hint.count"),
        ),
    ]


def conv_cells(t: Messages, command: str, student: bool) -> list[Cell]:
    compare = (
        "print({label!r}, tuple(ours.shape), {gap!r}, (ours - theirs).abs().max().item())\n"
        "assert ours.shape == {shape} and torch.allclose(ours, theirs, atol=1e-5)\n"
    )

    def check(call: str, torch_call: str, shape: tuple[int, ...], label: str) -> Cell:
        return code(
            f"ours = {call}\n"
            f"theirs = {torch_call}[0]\n"
            + compare.format(label=t(label), gap=t("label.gap"), shape=shape)
        )

    cells = [
        _intro(t, "conv", command, student),
        code("import torch\nimport torch.nn.functional as F\n\ntorch.manual_seed(0)\n"),
        markdown(f"## {t('topic.conv.hand.title')}\n\n{t('topic.conv.hand.text')}"),
        code(
            "def pad_by_hand(x, padding):\n"
            f'    """{t("topic.conv.pad_doc")}"""\n'
            "    channels, height, width = x.shape\n"
            "    padded = torch.zeros(channels, height + 2 * padding, width + 2 * padding)\n"
            "    padded[:, padding : padding + height, padding : padding + width] = x\n"
            "    return padded\n\n\n"
            "def conv2d_by_hand(x, weight, bias, stride=1, padding=0, dilation=1):\n"
            f'    """{t("topic.conv.conv_doc")}"""\n'
            "    x = pad_by_hand(x, padding)\n"
            "    c_out, c_in, k, _ = weight.shape\n"
            f"    span = dilation * (k - 1) + 1  # {t('topic.conv.span')}\n"
            "    h_out = (x.shape[1] - span) // stride + 1\n"
            "    w_out = (x.shape[2] - span) // stride + 1\n"
            "    out = torch.zeros(c_out, h_out, w_out)\n"
            "    for o in range(c_out):\n"
            "        for i in range(h_out):\n"
            "            for j in range(w_out):\n"
            "                top, left = i * stride, j * stride\n"
            "                window = x[:, top : top + span : dilation, left : left + span : dilation]\n"
            "                out[o, i, j] = (window * weight[o]).sum() + bias[o]\n"
            "    return out\n\n\n"
            "x = torch.randn(3, 7, 9)  # C_in, H, W\n"
            "weight = torch.randn(2, 3, 3, 3)  # C_out, C_in, k, k\n"
            "bias = torch.randn(2)\n"
        ),
        check(
            "conv2d_by_hand(x, weight, bias)",
            "F.conv2d(x[None], weight, bias)",
            (2, 5, 7),
            "label.plain",
        ),
        markdown(f"## {t('topic.conv.stride.title')}\n\n{t('topic.conv.stride.text')}"),
        check(
            "conv2d_by_hand(x, weight, bias, stride=2)",
            "F.conv2d(x[None], weight, bias, stride=2)",
            (2, 3, 4),
            "label.stride",
        ),
        markdown(f"## {t('topic.conv.padding.title')}\n\n{t('topic.conv.padding.text')}"),
        check(
            "conv2d_by_hand(x, weight, bias, padding=1)",
            "F.conv2d(x[None], weight, bias, padding=1)",
            (2, 7, 9),
            "label.padded",
        ),
        markdown(f"## {t('topic.conv.dilation.title')}\n\n{t('topic.conv.dilation.text')}"),
        check(
            "conv2d_by_hand(x, weight, bias, dilation=2)",
            "F.conv2d(x[None], weight, bias, dilation=2)",
            (2, 3, 5),
            "label.dilated",
        ),
        check(
            "conv2d_by_hand(x, weight, bias, stride=2, padding=1, dilation=2)",
            "F.conv2d(x[None], weight, bias, stride=2, padding=1, dilation=2)",
            (2, 3, 4),
            "label.together",
        ),
        markdown(f"## {t('topic.conv.unfold.title')}\n\n{t('topic.conv.unfold.text')}"),
        code(
            "columns = F.unfold(x[None], kernel_size=3, stride=2, padding=1)[0]\n"
            f"matrix = weight.reshape(2, -1)  # {t('topic.conv.matrix')}\n"
            "ours = (matrix @ columns + bias[:, None]).reshape(2, 4, 5)\n"
            "theirs = F.conv2d(x[None], weight, bias, stride=2, padding=1)[0]\n"
            f"print({t('label.columns')!r}, tuple(columns.shape), {t('label.gap')!r}, "
            "(ours - theirs).abs().max().item())\n"
            "assert columns.shape == (27, 20) and torch.allclose(ours, theirs, atol=1e-5)\n"
            f"# {t('topic.conv.first_column')}\n"
            "assert torch.equal(columns[:, 0], pad_by_hand(x, 1)[:, 0:3, 0:3].reshape(-1))\n"
        ),
        *discussion(t, t("topic.conv.q"), t("topic.conv.a")),
    ]
    return cells + exercise_cells(t, "conv", _conv_exercises(t), student)


# ---------------------------------------------------------------- train
def train_cells(t: Messages, command: str, student: bool, lang: str) -> list[Cell]:
    spec = make_spec("classifier", **TRAIN_MODEL)
    plan = solve(spec)
    regenerate = shlex.join(spec.command_words() + template_dir_words())
    regenerate += f" --lang {lang}" if lang != "en" else ""
    source = render_model(plan, regenerate, lang)
    return [
        _intro(t, "train", command, student),
        markdown(f"## {t('topic.train.data.title')}\n\n{t('topic.train.data.text')}"),
        code(
            "import time\n\n"
            "import torch\n"
            "from torch import nn\n\n"
            "try:\n"
            "    from sklearn.datasets import load_digits\n"
            "    from sklearn.metrics import f1_score\n"
            "    from sklearn.model_selection import train_test_split\n"
            "except ImportError as error:\n"
            f"    raise ImportError({t('topic.train.no_sklearn')!r}) from error\n\n"
            "digits = load_digits()\n"
            "images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0\n"
            "labels = torch.tensor(digits.target)\n"
            "train_index, test_index = train_test_split(\n"
            "    list(range(len(labels))), test_size=0.25, random_state=0, stratify=digits.target\n"
            ")\n"
            "x_train, y_train = images[train_index], labels[train_index]\n"
            "x_test, y_test = images[test_index], labels[test_index]\n"
            f"print({t('label.train')!r}, tuple(x_train.shape), {t('label.test')!r}, "
            "tuple(x_test.shape))\n"
            "assert images.shape[1:] == (1, 8, 8) and len(x_train) + len(x_test) == 1797\n"
        ),
        markdown(
            f"## {t('topic.train.model.title')}\n\n"
            + t("topic.train.model.text", params=t.number(plan.params))
        ),
        Cell("code", source.rstrip("\n")),
        markdown(f"## {t('topic.train.loop.title')}\n\n{t('topic.train.loop.text')}"),
        code(
            "torch.manual_seed(0)\n"
            f"model = {plan.class_name}()\n"
            "optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)\n"
            "loss_fn = nn.CrossEntropyLoss()\n"
            "history = []\n"
            "start = time.perf_counter()\n"
            "for epoch in range(1, 16):\n"
            "    model.train()\n"
            "    order = torch.randperm(len(x_train))\n"
            "    total = 0.0\n"
            "    for begin in range(0, len(order), 64):\n"
            "        batch = order[begin : begin + 64]\n"
            "        optimizer.zero_grad()\n"
            "        loss = loss_fn(model(x_train[batch]), y_train[batch])\n"
            "        loss.backward()\n"
            "        optimizer.step()\n"
            "        total += loss.item() * len(batch)\n"
            "    model.eval()\n"
            "    with torch.no_grad():\n"
            "        logits = model(x_test)\n"
            "    test_loss = loss_fn(logits, y_test).item()\n"
            "    accuracy = (logits.argmax(dim=1) == y_test).float().mean().item()\n"
            "    history.append((epoch, total / len(x_train), test_loss, accuracy))\n"
            f'    print(f"{t("label.epoch")} {{epoch:2d}}  {t("label.train_loss")} '
            f"{{total / len(x_train):.3f}}  {t('label.test_loss')} {{test_loss:.3f}}  "
            f'{t("label.accuracy")} {{accuracy:.3f}}")\n'
            f"print({t('label.seconds')!r}, round(time.perf_counter() - start, 1))\n"
            "assert history[-1][1] < history[0][1]\n"
        ),
        markdown(f"## {t('topic.train.curves.title')}\n\n{t('topic.train.curves.text')}"),
        code(
            "try:\n"
            "    import matplotlib.pyplot as plt\n"
            "except ImportError:\n"
            "    plt = None\n"
            f"    print({t('topic.train.no_matplotlib')!r})\n"
            "if plt is not None:\n"
            "    epochs = [row[0] for row in history]\n"
            "    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))\n"
            f"    left.plot(epochs, [row[1] for row in history], label={t('label.train')!r})\n"
            f"    left.plot(epochs, [row[2] for row in history], label={t('label.test')!r})\n"
            f"    left.set_xlabel({t('label.epoch')!r})\n"
            f"    left.set_ylabel({t('label.loss')!r})\n"
            "    left.legend()\n"
            "    right.plot(epochs, [row[3] for row in history])\n"
            f"    right.set_xlabel({t('label.epoch')!r})\n"
            f"    right.set_ylabel({t('label.accuracy')!r})\n"
            "    plt.show()\n"
        ),
        markdown(f"## {t('topic.train.confusion.title')}\n\n{t('topic.train.confusion.text')}"),
        code(
            "with torch.no_grad():\n"
            "    predicted = model(x_test).argmax(dim=1)\n"
            "confusion = torch.zeros(10, 10, dtype=torch.long)\n"
            "for true, guess in zip(y_test.tolist(), predicted.tolist()):\n"
            "    confusion[true, guess] += 1\n"
            f"label = {t('label.confusion')!r}\n"
            "print(label + ''.join(f'{c:>4}' for c in range(10)))\n"
            "for c in range(10):\n"
            "    print(f'{c:>{len(label)}}' + ''.join(f'{n:>4}' for n in confusion[c].tolist()))\n"
            "hits = confusion.diag().float()\n"
            "precision = hits / confusion.sum(dim=0).clamp(min=1)\n"
            "recall = hits / confusion.sum(dim=1).clamp(min=1)\n"
            "f1 = 2 * precision * recall / (precision + recall).clamp(min=1e-12)\n"
            "accuracy = hits.sum().item() / len(y_test)\n"
            "macro_f1 = f1.mean().item()\n"
            f'print(f"{t("label.accuracy")} {{accuracy:.3f}}  macro-F1 {{macro_f1:.3f}}")\n'
            "assert abs(macro_f1 - f1_score(y_test, predicted, average='macro')) < 1e-6\n"
            "assert accuracy >= 0.7 and macro_f1 >= 0.7\n"
        ),
        *discussion(t, t("topic.train.q"), t("topic.train.a")),
    ]


# ---------------------------------------------------------------- transfer
def _transfer_exercises(
    t: Messages, frozen: int, features: int, head: int, layer: str, last: int, last_name: str
) -> list[Exercise]:
    seven = features * 7 + 7
    return [
        Exercise(
            question=t("topic.transfer.ex1.q"),
            answer=t("topic.transfer.ex1.a", answer=t.number(frozen)),
            check=(
                "frozen = sum(p.numel() for p in tuned.parameters() if not p.requires_grad)\n"
                f"assert frozen == {frozen}, frozen\n"
                "print(frozen)\n"
            ),
            expected=frozen,
            hint=t("hint.count"),
        ),
        Exercise(
            question=t("topic.transfer.ex2.q"),
            answer=t("topic.transfer.ex2.a", features=features, answer=t.number(seven)),
            check=(
                f"seven = nn.Linear(tuned.{layer}.in_features, 7)\n"
                "count = sum(p.numel() for p in seven.parameters())\n"
                f"assert count == {seven}, count\n"
                "print(count)\n"
            ),
            expected=seven,
            hint=t("hint.count"),
        ),
        Exercise(
            question=t("topic.transfer.ex3.q"),
            answer=t(
                "topic.transfer.ex3.a",
                head=t.number(head),
                last=t.number(last),
                name=last_name,
                answer=t.number(head + last),
            ),
            check=(
                "unfrozen = copy.deepcopy(tuned)\n"
                f"unfrozen.{last_name}.requires_grad_(True)\n"
                "count = sum(p.numel() for p in unfrozen.parameters() if p.requires_grad)\n"
                f"assert count == {head + last}, count\n"
                "print(count)\n"
            ),
            expected=head + last,
            hint=t("hint.count"),
        ),
    ]


def transfer_cells(t: Messages, command: str, student: bool, lang: str) -> list[Cell]:
    spec = make_spec("classifier", **TRANSFER_MODEL)
    plan = solve(spec)
    regenerate = shlex.join(spec.command_words() + template_dir_words())
    regenerate += f" --lang {lang}" if lang != "en" else ""
    # The docstring's plan table holds the exercises' parameter counts.
    source = student_source(render_model(plan, regenerate, lang), t)
    trunk = [stage for stage in plan.stages if stage.name != "head"]
    (head,) = [stage for stage in plan.stages if stage.name == "head"]
    layer = [name for name, op in head.all_ops() if op.kind == "linear"][-1]
    features = 1
    for size in trunk[-1].out_shape:
        features *= size
    classes = TRANSFER_MODEL["classes"]
    trunk_list = ", ".join(f"model.{stage.name}" for stage in trunk)
    name = plan.class_name
    return [
        _intro(t, "transfer", command, student),
        markdown(f"## {t('topic.transfer.data.title')}\n\n{t('topic.transfer.data.text')}"),
        code(
            "import copy\n"
            "import time\n\n"
            "import torch\n"
            "from torch import nn\n\n"
            "try:\n"
            "    from sklearn.datasets import load_digits\n"
            "    from sklearn.model_selection import train_test_split\n"
            "except ImportError as error:\n"
            f"    raise ImportError({t('topic.train.no_sklearn')!r}) from error\n\n"
            "digits = load_digits()\n"
            "images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0\n"
            "labels = torch.tensor(digits.target)\n"
            f"old = labels < {classes}\n"
            "x_old, y_old = images[old], labels[old]\n"
            f"x_new, y_new = images[~old], labels[~old] - {classes}  "
            f"# {t('topic.transfer.relabel')}\n"
            "train_index, test_index = train_test_split(\n"
            "    list(range(len(y_old))), test_size=0.25, random_state=0, stratify=y_old.numpy()\n"
            ")\n"
            f"print({t('label.old_digits')!r}, tuple(x_old.shape), "
            f"{t('label.new_digits')!r}, tuple(x_new.shape))\n"
            "assert len(x_old) + len(x_new) == 1797\n"
        ),
        markdown(f"## {t('topic.transfer.model.title')}\n\n{t('topic.transfer.model.text')}"),
        Cell("code", source.rstrip("\n")),
        markdown(
            f"## {t('topic.transfer.pretrain.title')}\n\n{t('topic.transfer.pretrain.text')}"
        ),
        code(
            "def fit(model, parameters, x, y, epochs, frozen=None):\n"
            f'    """{t("topic.transfer.fit_doc")}"""\n'
            "    optimizer = torch.optim.Adam(parameters, lr=3e-3)\n"
            "    loss_fn = nn.CrossEntropyLoss()\n"
            "    for _ in range(epochs):\n"
            "        model.train()\n"
            "        if frozen is not None:\n"
            f"            frozen.eval()  # {t('topic.transfer.eval')}\n"
            "        order = torch.randperm(len(x))\n"
            "        for begin in range(0, len(order), 64):\n"
            "            batch = order[begin : begin + 64]\n"
            "            optimizer.zero_grad()\n"
            "            loss_fn(model(x[batch]), y[batch]).backward()\n"
            "            optimizer.step()\n"
            "    return model\n\n\n"
            "def accuracy(model, x, y):\n"
            f'    """{t("topic.transfer.accuracy_doc")}"""\n'
            "    model.eval()\n"
            "    with torch.no_grad():\n"
            "        return (model(x).argmax(dim=1) == y).float().mean().item()\n\n\n"
            "torch.manual_seed(0)\n"
            "start = time.perf_counter()\n"
            f"pretrained = {name}()\n"
            "fit(pretrained, pretrained.parameters(), x_old[train_index], y_old[train_index], 4)\n"
            "old_accuracy = accuracy(pretrained, x_old[test_index], y_old[test_index])\n"
            f"print({t('label.old_accuracy')!r}, round(old_accuracy, 3), "
            f"{t('label.seconds')!r}, round(time.perf_counter() - start, 1))\n"
            "assert old_accuracy >= 0.9\n"
        ),
        markdown(f"## {t('topic.transfer.freeze.title')}\n\n{t('topic.transfer.freeze.text')}"),
        code(
            "def few(per_digit, seed):\n"
            f'    """{t("topic.transfer.few_doc")}"""\n'
            "    generator = torch.Generator().manual_seed(seed)\n"
            "    chosen = []\n"
            f"    for digit in range({classes}):\n"
            "        where = (y_new == digit).nonzero().flatten()\n"
            "        chosen += where[torch.randperm(len(where), generator=generator)[:per_digit]].tolist()\n"
            "    rest = torch.ones(len(y_new), dtype=torch.bool)\n"
            "    rest[chosen] = False\n"
            "    return x_new[chosen], y_new[chosen], x_new[rest], y_new[rest]\n\n\n"
            "def fine_tune(x, y):\n"
            f'    """{t("topic.transfer.fine_tune_doc")}"""\n'
            "    model = copy.deepcopy(pretrained)\n"
            f"    features = nn.Sequential({trunk_list})  # {t('topic.transfer.features')}\n"
            "    features.requires_grad_(False)\n"
            f"    model.{layer} = nn.Linear(model.{layer}.in_features, {classes})\n"
            "    torch.manual_seed(1)\n"
            "    return fit(model, model.head.parameters(), x, y, 60, frozen=features)\n\n\n"
            f"x_few, y_few, x_rest, y_rest = few({FEW_PER_DIGIT}, seed=0)\n"
            "before = {\n"
            "    key: value.clone()\n"
            "    for key, value in pretrained.state_dict().items()\n"
            "    if not key.startswith(\"head.\")\n"
            "}\n"
            "tuned = fine_tune(x_few, y_few)\n"
            "after = tuned.state_dict()\n"
            "changed = [key for key, value in before.items() if not torch.equal(value, after[key])]\n"
            "trainable = sum(p.numel() for p in tuned.parameters() if p.requires_grad)\n"
            f"print({t('label.few')!r}, tuple(x_few.shape), {t('label.changed')!r}, changed)\n"
            f"print({t('label.head_weight')!r}, tuple(tuned.{layer}.weight.shape))\n"
            "assert changed == [], changed\n"
            f"assert tuple(tuned.{layer}.weight.shape) == ({classes}, {features})\n"
            "assert trainable == sum(p.numel() for p in tuned.head.parameters())\n"
        ),
        markdown(
            f"## {t('topic.transfer.compare.title')}\n\n"
            + t("topic.transfer.compare.text", draws=DRAWS)
        ),
        code(
            "rows = []\n"
            f"for seed in range({DRAWS}):\n"
            f"    x_few, y_few, x_rest, y_rest = few({FEW_PER_DIGIT}, seed)\n"
            "    fine_tuned = accuracy(fine_tune(x_few, y_few), x_rest, y_rest)\n"
            "    torch.manual_seed(1)\n"
            f"    scratch = {name}()\n"
            "    fit(scratch, scratch.parameters(), x_few, y_few, 60)\n"
            "    rows.append((fine_tuned, accuracy(scratch, x_rest, y_rest)))\n"
            f'    print(f"{t("label.draw")} {{seed}}  {t("label.fine_tuned")} {{rows[-1][0]:.3f}}  '
            f'{t("label.scratch")} {{rows[-1][1]:.3f}}")\n'
            "mean_tuned = sum(row[0] for row in rows) / len(rows)\n"
            "mean_scratch = sum(row[1] for row in rows) / len(rows)\n"
            f'print(f"{t("label.mean")}  {t("label.fine_tuned")} {{mean_tuned:.3f}}  '
            f'{t("label.scratch")} {{mean_scratch:.3f}}")\n'
            "assert mean_tuned > mean_scratch\n"
        ),
        *discussion(t, t("topic.transfer.q"), t("topic.transfer.a")),
    ] + exercise_cells(
        t,
        "transfer",
        _transfer_exercises(
            t,
            sum(stage.params for stage in trunk),
            features,
            head.params,
            layer,
            trunk[-1].params,
            trunk[-1].name,
        ),
        student,
    )


# ---------------------------------------------------------------- c4
def c4_cells(t: Messages, command: str, student: bool, lang: str) -> list[Cell]:
    names = []
    sources = []
    for family, options in C4_MODELS:
        spec = make_spec(family, **options)
        plan = solve(spec)
        regenerate = shlex.join(spec.command_words() + template_dir_words())
        regenerate += f" --lang {lang}" if lang != "en" else ""
        names.append(plan.class_name)
        sources.append(Cell("code", render_model(plan, regenerate, lang).rstrip("\n")))
    plain, c4 = names
    return [
        _intro(t, "c4", command, student),
        markdown(f"## {t('topic.c4.data.title')}\n\n{t('topic.c4.data.text')}"),
        code(
            "import time\n\n"
            "import torch\n"
            "from torch import nn\n\n"
            "try:\n"
            "    from sklearn.datasets import load_digits\n"
            "    from sklearn.model_selection import train_test_split\n"
            "except ImportError as error:\n"
            f"    raise ImportError({t('topic.train.no_sklearn')!r}) from error\n\n"
            "digits = load_digits()\n"
            "images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0\n"
            "labels = torch.tensor(digits.target)\n"
            "train_index, test_index = train_test_split(\n"
            "    list(range(len(labels))), test_size=0.25, random_state=0, stratify=digits.target\n"
            ")\n"
            "x_train, y_train = images[train_index], labels[train_index]\n"
            "x_test, y_test = images[test_index], labels[test_index]\n"
            f"# {t('topic.c4.turns')}\n"
            "turns = torch.randint(0, 4, (len(x_test),), generator=torch.Generator().manual_seed(0))\n"
            "x_turned = torch.stack(\n"
            "    [torch.rot90(x, int(k), dims=(-2, -1)) for x, k in zip(x_test, turns)]\n"
            ")\n"
            f"print({t('label.train')!r}, tuple(x_train.shape), {t('label.test')!r}, "
            f"tuple(x_test.shape), {t('label.turns')!r}, torch.bincount(turns).tolist())\n"
            "assert torch.equal(torch.rot90(x_turned[0], -int(turns[0]), dims=(-2, -1)), x_test[0])\n"
        ),
        markdown(f"## {t('topic.c4.models.title')}\n\n{t('topic.c4.models.text')}"),
        *sources,
        markdown(f"## {t('topic.c4.train.title')}\n\n{t('topic.c4.train.text')}"),
        code(
            "def train(model, epochs=8):\n"
            f'    """{t("topic.c4.train_doc")}"""\n'
            "    torch.manual_seed(0)\n"
            "    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)\n"
            "    loss_fn = nn.CrossEntropyLoss()\n"
            "    for _ in range(epochs):\n"
            "        model.train()\n"
            "        order = torch.randperm(len(x_train))\n"
            "        for begin in range(0, len(order), 64):\n"
            "            batch = order[begin : begin + 64]\n"
            "            optimizer.zero_grad()\n"
            "            loss_fn(model(x_train[batch]), y_train[batch]).backward()\n"
            "            optimizer.step()\n"
            "    return model.eval()\n\n\n"
            "def accuracy(model, x):\n"
            f'    """{t("topic.c4.accuracy_doc")}"""\n'
            "    with torch.no_grad():\n"
            "        return (model(x).argmax(dim=1) == y_test).float().mean().item()\n\n\n"
            "start = time.perf_counter()\n"
            "torch.manual_seed(0)\n"
            f"models = {{{t('label.plain_model')!r}: train({plain}()), "
            f"{t('label.c4_model')!r}: train({c4}())}}\n"
            f"print({t('label.seconds')!r}, round(time.perf_counter() - start, 1))\n"
        ),
        markdown(f"## {t('topic.c4.table.title')}\n\n{t('topic.c4.table.text')}"),
        code(
            "results = {}\n"
            f"print(f\"| {{{t('label.model')!r}:<12}} | {{{t('label.parameters')!r}:>10}} | "
            f"{{{t('label.upright')!r}:>10}} | {{{t('label.turned')!r}:>10}} |\")\n"
            "for name, model in models.items():\n"
            "    count = sum(p.numel() for p in model.parameters())\n"
            "    results[name] = (accuracy(model, x_test), accuracy(model, x_turned))\n"
            f"    shown = [f\"{{share:>10.1%}}\".replace('.', {t('number.point')!r}) "
            "for share in results[name]]\n"
            '    print(f"| {name:<12} | {count:>10} | {shown[0]} | {shown[1]} |")\n'
            f"plain, c4 = results[{t('label.plain_model')!r}], results[{t('label.c4_model')!r}]\n"
            f"# {t('topic.c4.asserts')}\n"
            "assert plain[0] >= 0.9 and c4[0] >= 0.9\n"
            "assert plain[1] < plain[0] - 0.3\n"
            "assert abs(c4[1] - c4[0]) < 0.01\n"
        ),
        *discussion(t, t("topic.c4.q"), t("topic.c4.a")),
    ]


def render_topic(topic: str, command: str, lang: str = "en", student: bool = False) -> str:
    """The notebook of ``cnngen handout conv``, ``train``, ``transfer`` or ``c4``, as JSON text."""
    t = Messages(lang)
    if topic == "conv":
        cells = conv_cells(t, command, student)
    elif topic == "train":
        cells = train_cells(t, command, student, lang)
    elif topic == "transfer":
        cells = transfer_cells(t, command, student, lang)
    elif topic == "c4":
        cells = c4_cells(t, command, student, lang)
    else:
        raise ValueError(f"unknown topic {topic!r}; use one of {', '.join(TOPICS)}")
    return _finish(cells, student, lang)
