"""The message catalogue: every sentence of plan tables and handouts, per language.

Templates and renderers never branch on the language; they ask for a message
by key and fill in its fields.  A new language is one more dict with the same
keys and the same ``{fields}`` (``tests/test_messages.py`` checks both).
Technical names (``Conv2d``, ``output_padding``, ``groups``) stay as torch
spells them in every language, since that is what students type.
"""

from __future__ import annotations

import string
from typing import Any

from cnngen.core.messages_handout import HANDOUT_EN, HANDOUT_RU

LANGUAGES = ("en", "ru")

EN: dict[str, str] = {
    # ------------------------------------------------------------ plan table
    "number.group": ",",
    "number.point": ".",
    "table.layer": "layer",
    "table.kind": "kind",
    "table.output": "output",
    "table.rf": "rf",
    "table.params": "params",
    "table.parameters": "parameters: {count}",
    "table.macs": "multiply-accumulates per sample: {count}",
    "table.field": "receptive field: {field}",
    "table.note": "note: {note}",
    "field.whole": "{field} (the whole input)",
    "field.partial": "{field} (does not cover the {size} input)",
    # ------------------------------------------------------------ plan notes
    "note.clamped": "channels clamped to {low}..{high} on layer(s) {layers}",
    "note.time_head": "the time head maps {depth} input time steps to {out_depth}",
    "note.invariant": "logits are invariant to rotating the input by any multiple of 90 degrees",
    "note.group_conv": (
        "p4 group convolutions: every feature map turns with the input and its "
        "orientations shift cyclically; logits are invariant to quarter turns"
    ),
    "note.lenet5": "LeNet-5 (LeCun et al., 1998) with padding 2 on the first convolution",
    "note.alexnet": "AlexNet (Krizhevsky et al., 2012) as in torchvision",
    "note.vgg": "{model} (Simonyan and Zisserman, 2014) as in torchvision",
    "note.resnet": "{model} (He et al., 2016) as in torchvision",
    "note.se_resnet": "{model} (Hu et al., 2018, on He et al., 2016) as in torchvision",
    "note.mobilenet_v2": "MobileNetV2 (Sandler et al., 2018) as in torchvision",
    "note.googlenet": (
        "GoogLeNet (Szegedy et al., 2015) as in torchvision, without the auxiliary heads"
    ),
    "note.stride_relaxed": "{layer} stride {old} -> {new}: input {size} too small for stride {old}",
    "note.pool_padded": (
        "{layer} padding {old} -> {new}: input {size} leaves too little there for its "
        "unpadded window {kernel}"
    ),
    "note.head_features": (
        "{layer} takes {shape} = {count} features; the trunk gives them exactly for "
        "{size}, so nothing is resized"
    ),
    "note.head_features_224": (
        "{layer} takes {shape} = {count} features ({usual} at 224x224); the trunk gives "
        "them exactly for {size}, so nothing is resized"
    ),
    "note.avgpool": (
        "avgpool averages the final {shape} map with a fixed kernel, instead of an adaptive pool"
    ),
    "note.avgpool_224": (
        "avgpool averages the final {shape} map (7x7 at 224x224) with a fixed kernel, "
        "instead of an adaptive pool"
    ),
    "note.preset_norm_added": (
        "{norm} after every convolution, as torchvision's VGG-BN adds batch norm"
    ),
    "note.preset_norm_replaced": (
        "{norm} in place of every batch norm, under the same names, so no weight is renamed"
    ),
    "note.preset_norm_removed": (
        "no norm layers (--norm none); each convolution that preceded a batch norm has a bias"
    ),
    "note.preset_dropout": "dropout {old} -> {new} at {layers}",
    "note.preset_dropout_kept": (
        "dropout {old} -> 0.0 at {layers}: the layers stay, so the layers after them keep "
        "their names"
    ),
    "note.preset_dropout_added": "dropout {new} before {layer}, the last linear layer",
    "note.unet_level_kept": (
        "level {level} keeps dimension(s) {dims} at {sizes} (halving would go below --min-size)"
    ),
    "note.unet_clamped": "channels clamped to {low}..{high} on level(s) {levels}",
    "note.unet_skips": (
        "every decoder level lands on its skip's size ({upsample} upsampling); no skip is "
        "cropped or padded"
    ),
    "note.short_field": "receptive field {field} does not cover the {size} input",
    "note.head_field": (
        "the convolutions alone see {field} of the {size} input; every output still sees "
        "all of it through the layers after them"
    ),
    # ------------------------------------------------------------ model files
    "model.kind": "a {dims}D {family}",
    "model.col.stage": "stage",
    "model.col.output": "output",
    "model.col.params": "params",
    "model.col.layers": "layers",
    "model.family.encoder": "encoder",
    "model.family.forecaster": "forecaster",
    "model.family.classifier": "classifier",
    "model.family.equivariant": "equivariant",
    "model.family.unet": "unet",
    "model.generated": "Generated by cnngen {version}. Regenerate with:",
    "model.plan": "Plan (shapes without the batch dimension B):",
    "model.parameters": "Parameters: {count}",
    "model.macs": "Multiply-accumulates per sample: {count}",
    "model.field": "Receptive field: {field}",
    "model.note": "Note: {note}.",
    "model.layer_shapes": (
        "# Output shape of each stage and of each layer that changes the shape, batch\n"
        "# dimension left out. `cnngen verify` hooks each one and compares."
    ),
    "model.class_doc": (
        "{family} for inputs of shape {shape}.\n\n"
        "    Every size is exact: the shapes in the comments are checked by running\n"
        "    this file (`python FILE`) and by `cnngen verify FILE`."
    ),
    "calc.dim": "dim {dim}: ",
    "calc.output": "output size: {size}",
    "calc.chain": "the same layer {times_n}:",
    "calc.after": "output size after {layers_n}: {size}",
    "calc.in_layers": " in {layers_n}",
    "calc.pool_minus": ", minus 1 because the last window would start in the padding",
    "calc.every_from": "every value from {value} up",
    "calc.searched": "searched {name} {low}..{high}",
    "calc.same": "every {name} from {low} up gives the same size",
    "calc.tail": "; every larger {name} gives the same size as {bound}",
    "calc.no_larger": "; no larger {name} can give {output}",
    "calc.unproven": " ({bound} times the larger size; larger values not tried)",
    "calc.check": "check {name} {value}: {filled}",
    "calc.none": "no {name} maps {size} to {output} ({searched}); nearest:",
    "calc.gives": "{name} {value} gives {result}",
    "calc.refused": "{name} {value} is refused: {result}",
    "calc.smallest": " (the smallest per dimension)",
    "calc.no_solution": "no {name} gives {target}: none works in dimension {missing}",
}

RU: dict[str, str] = {
    "number.group": "\u00a0",
    "number.point": ",",
    "table.layer": "слой",
    "table.kind": "тип",
    "table.output": "выход",
    "table.rf": "РП",
    "table.params": "параметры",
    "table.parameters": "параметров: {count}",
    "table.macs": "умножений-сложений на пример: {count}",
    "table.field": "рецептивное поле: {field}",
    "table.note": "примечание: {note}",
    "field.whole": "{field} (весь вход)",
    "field.partial": "{field} (не покрывает вход {size})",
    "note.clamped": "число каналов ограничено диапазоном {low}..{high} в слоях {layers}",
    "note.time_head": "временная голова переводит входные шаги по времени (их {depth}) в {out_depth}",
    "note.invariant": "логиты не меняются при повороте входа на любое кратное 90 градусов",
    "note.group_conv": (
        "групповые свёртки p4: каждая карта признаков поворачивается вместе со входом, "
        "а её ориентации циклически сдвигаются; логиты не меняются при поворотах на 90 градусов"
    ),
    "note.lenet5": "LeNet-5 (LeCun и др., 1998) с паддингом 2 в первой свёртке",
    "note.alexnet": "AlexNet (Krizhevsky и др., 2012), как в torchvision",
    "note.vgg": "{model} (Simonyan и Zisserman, 2014), как в torchvision",
    "note.resnet": "{model} (He и др., 2016), как в torchvision",
    "note.se_resnet": "{model} (Hu и др., 2018, на основе He и др., 2016), как в torchvision",
    "note.mobilenet_v2": "MobileNetV2 (Sandler и др., 2018), как в torchvision",
    "note.googlenet": (
        "GoogLeNet (Szegedy и др., 2015), как в torchvision, без вспомогательных голов"
    ),
    "note.stride_relaxed": ("{layer}: шаг {old} -> {new}, вход {size} слишком мал для шага {old}"),
    "note.pool_padded": (
        "{layer}: паддинг {old} -> {new}, при входе {size} там не помещается окно {kernel} "
        "без паддинга"
    ),
    "note.head_features": (
        "на вход {layer} подаётся {shape} = {count} (число признаков); ствол сети даёт "
        "их точно для {size}, ничего не масштабируется"
    ),
    "note.head_features_224": (
        "на вход {layer} подаётся {shape} = {count} (число признаков; при 224x224 их "
        "{usual}); ствол сети даёт их точно для {size}, ничего не масштабируется"
    ),
    "note.avgpool": (
        "avgpool усредняет итоговую карту {shape} ядром фиксированного размера, "
        "без адаптивного пулинга"
    ),
    "note.avgpool_224": (
        "avgpool усредняет итоговую карту {shape} (7x7 при 224x224) ядром фиксированного "
        "размера, без адаптивного пулинга"
    ),
    "note.preset_norm_added": (
        "{norm} после каждой свёртки, как batch norm в VGG-BN из torchvision"
    ),
    "note.preset_norm_replaced": (
        "{norm} вместо каждой batch norm, под теми же именами, так что ни один вес не переименован"
    ),
    "note.preset_norm_removed": (
        "без слоёв нормализации (--norm none); у каждой свёртки, за которой шла batch norm, "
        "есть смещение (bias)"
    ),
    "note.preset_dropout": "dropout {old} -> {new} в {layers}",
    "note.preset_dropout_kept": (
        "dropout {old} -> 0.0 в {layers}: слои остаются, и следующие за ними слои сохраняют "
        "свои имена"
    ),
    "note.preset_dropout_added": "dropout {new} перед {layer}, последним линейным слоем",
    "note.unet_level_kept": (
        "уровень {level} не уменьшает карту по размерностям {dims}, они остаются {sizes} "
        "(деление пополам дало бы меньше --min-size)"
    ),
    "note.unet_clamped": "число каналов ограничено диапазоном {low}..{high} на уровнях {levels}",
    "note.unet_skips": (
        "каждый уровень декодера попадает точно в размер своей skip-связи (повышение "
        "разрешения: {upsample}); ни одна skip-связь не обрезается и не дополняется"
    ),
    "note.short_field": "рецептивное поле {field} не покрывает вход {size}",
    "note.head_field": (
        "сами по себе свёртки видят {field} из входа {size}; следующие за ними слои всё "
        "равно дают каждому выходу весь вход"
    ),
    "model.kind": "{family}, {dims}D",
    "model.col.stage": "стадия",
    "model.col.output": "выход",
    "model.col.params": "параметры",
    "model.col.layers": "слои",
    "model.family.encoder": "энкодер",
    "model.family.forecaster": "прогнозирующая сеть",
    "model.family.classifier": "классификатор",
    "model.family.equivariant": "эквивариантный классификатор",
    "model.family.unet": "сеть U-Net",
    "model.generated": "Создано cnngen {version}. Пересоздать:",
    "model.plan": "План (размеры без размерности батча B):",
    "model.parameters": "Параметров: {count}",
    "model.macs": "Умножений-сложений на пример: {count}",
    "model.field": "Рецептивное поле: {field}",
    "model.note": "Примечание: {note}.",
    "model.layer_shapes": (
        "# Размер выхода каждой стадии и каждого слоя, меняющего размер, без\n"
        "# размерности батча. `cnngen verify` ставит хук на каждый и сравнивает."
    ),
    "model.class_doc": (
        "{family} для входов размера {shape}.\n\n"
        "    Все размеры точные: размеры в комментариях проверяются запуском\n"
        "    этого файла (`python FILE`) и командой `cnngen verify FILE`."
    ),
    "calc.dim": "измерение {dim}: ",
    "calc.output": "размер выхода: {size}",
    "calc.chain": "тот же слой {times_n}:",
    "calc.after": "размер выхода после {layers_n}: {size}",
    "calc.in_layers": " за {layers_n}",
    "calc.pool_minus": ", минус 1: последнее окно начиналось бы в паддинге",
    "calc.every_from": "любое значение от {value} и больше",
    "calc.searched": "перебраны значения {name} {low}..{high}",
    "calc.same": "любое значение {name} от {low} и больше даёт тот же размер",
    "calc.tail": "; любое большее значение {name} даёт тот же размер, что и {bound}",
    "calc.no_larger": "; большее значение {name} не может дать {output}",
    "calc.unproven": (
        " (предел: больший из размеров, умноженный на {bound}; большие значения не проверялись)"
    ),
    "calc.check": "проверка {name} {value}: {filled}",
    "calc.none": "ни одно значение {name} не переводит {size} в {output} ({searched}); ближайшие:",
    "calc.gives": "{name} {value} даёт {result}",
    "calc.refused": "{name} {value} не подходит: {result}",
    "calc.smallest": " (наименьшее по каждому измерению)",
    "calc.no_solution": "ни одно значение {name} не даёт {target}: в измерении {missing} решений нет",
}

EN.update(HANDOUT_EN)
RU.update(HANDOUT_RU)

CATALOGUES: dict[str, dict[str, str]] = {"en": EN, "ru": RU}

# Forms of the nouns that follow a number.  English has one and many; Russian has
# three: 1, 21, 101 канал; 2-4, 22-24 канала; 0, 5-20, 25-30 каналов (11-14 too).
# Each form is the one a count takes as subject or object ("видит 21 канал").
NOUNS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "channel": ("channel", "channels"),
        "group": ("group", "groups"),
        "number": ("number", "numbers"),
        "position": ("position", "positions"),
        "feature": ("feature", "features"),
        "weight": ("weight", "weights"),
        "input": ("input", "inputs"),
        "neuron": ("neuron", "neurons"),
        "round": ("round", "rounds"),
        "parameter": ("parameter", "parameters"),
        "block": ("block", "blocks"),
        "class": ("class", "classes"),
        "sample": ("sample", "samples"),
        "epoch": ("epoch", "epochs"),
        "degree": ("degree", "degrees"),
        "bias": ("bias", "biases"),
        "time": ("time", "times"),
        "filter": ("filter", "filters"),
        "layer": ("layer", "layers"),
        "layer.gen": ("layer", "layers"),
    },
    "ru": {
        "channel": ("канал", "канала", "каналов"),
        "group": ("группа", "группы", "групп"),
        "number": ("число", "числа", "чисел"),
        "position": ("позиция", "позиции", "позиций"),
        "feature": ("признак", "признака", "признаков"),
        "weight": ("вес", "веса", "весов"),
        "input": ("вход", "входа", "входов"),
        "neuron": ("нейрон", "нейрона", "нейронов"),
        "round": ("раунд", "раунда", "раундов"),
        "parameter": ("параметр", "параметра", "параметров"),
        "block": ("блок", "блока", "блоков"),
        "class": ("класс", "класса", "классов"),
        "sample": ("пример", "примера", "примеров"),
        "epoch": ("эпоха", "эпохи", "эпох"),
        "degree": ("градус", "градуса", "градусов"),
        "bias": ("смещение", "смещения", "смещений"),
        "time": ("раз", "раза", "раз"),
        "filter": ("фильтр", "фильтра", "фильтров"),
        "layer": ("слой", "слоя", "слоёв"),
        # After a preposition that takes the genitive ("после 21 слоя, 3 слоёв").
        "layer.gen": ("слоя", "слоёв", "слоёв"),
    },
}


def plural(lang: str, count: int, noun: str) -> str:
    """The form of ``noun`` that follows ``count``: the one plural rule of every message.

    >>> [plural("ru", n, "channel") for n in (1, 2, 5, 11, 14, 21, 22, 111)]
    ['канал', 'канала', 'каналов', 'каналов', 'каналов', 'канал', 'канала', 'каналов']
    """
    forms = NOUNS[lang][noun]
    if lang == "ru":
        tens, units = count % 100, count % 10
        if 11 <= tens <= 14:
            return forms[2]
        if units == 1:
            return forms[0]
        if 2 <= units <= 4:
            return forms[1]
        return forms[2]
    return forms[0] if count == 1 else forms[1]


def message(lang: str, key: str, **fields: Any) -> str:
    """The message ``key`` in ``lang`` with its fields filled in."""
    return CATALOGUES[lang][key].format(**fields)


def fields_of(text: str) -> set[str]:
    """The ``{field}`` names a message uses."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


class Count(int):
    """A number in a note, written with thousands grouped as the note's language does.

    English writes ``9,216`` and Russian ``9 216`` (a no-break space): a
    comma would read as a decimal sign there.
    """


def _spelled(fields: dict[str, Any], lang: str) -> dict[str, Any]:
    """The note's fields with every :class:`Count` grouped for ``lang``."""
    group = CATALOGUES[lang]["number.group"]
    return {
        name: f"{value:,}".replace(",", group) if isinstance(value, Count) else value
        for name, value in fields.items()
    }


class Note(str):
    """A plan note: English text as a ``str``, plus the key and fields to translate it.

    Being a ``str`` keeps ``Plan.notes`` plain text for every reader; renderers
    that write another language call :meth:`Messages.note`.
    """

    key: str
    fields: dict[str, Any]

    def __new__(cls, key: str, **fields: Any) -> Note:
        note = super().__new__(cls, message("en", key, **_spelled(fields, "en")))
        note.key = key
        note.fields = fields
        return note

    def __reduce__(self) -> tuple[Any, ...]:
        return (_make_note, (self.key, self.fields))


def _make_note(key: str, fields: dict[str, Any]) -> Note:
    return Note(key, **fields)


class Messages:
    """Messages of one language, called like a function: ``t("key", field=value)``."""

    def __init__(self, lang: str = "en") -> None:
        if lang not in CATALOGUES:
            raise ValueError(f"unknown language {lang!r}; use one of {', '.join(LANGUAGES)}")
        self.lang = lang

    def __call__(self, key: str, **fields: Any) -> str:
        return message(self.lang, key, **fields)

    def raw(self, key: str) -> str:
        """The message with its ``{fields}`` left in (for text that formats itself later)."""
        return CATALOGUES[self.lang][key]

    def has(self, key: str) -> bool:
        return key in CATALOGUES[self.lang]

    def number(self, value: int) -> str:
        """A whole number with thousands grouped as this language writes them.

        Russian groups with a no-break space: ``18,432`` would read as a decimal.
        """
        return f"{value:,}".replace(",", self("number.group"))

    def count(self, value: int, noun: str) -> str:
        """A number and its noun, agreeing: ``1 канал``, ``2 канала``, ``64 канала``, ``5 каналов``."""
        return f"{self.number(value)} {plural(self.lang, value, noun)}"

    def decimal(self, value: float, digits: int = 1) -> str:
        """A decimal fraction with this language's decimal sign (``7.9``, ``7,9``)."""
        return f"{value:.{digits}f}".replace(".", self("number.point"))

    def note(self, note: str) -> str:
        """A plan note in this language (notes without a key stay as written)."""
        if isinstance(note, Note) and note.key in CATALOGUES[self.lang]:
            return self(note.key, **_spelled(note.fields, self.lang))
        return str(note)
