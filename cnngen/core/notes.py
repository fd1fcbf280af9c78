"""Plan notes: what the solver tells about a plan, as data that renderers translate.

A note is English text (a ``str``, so ``Plan.notes`` stays plain text for
every reader) that also carries its message key and fields, so a renderer
writing another language can translate it (:meth:`cnngen.rendering.messages.Messages.note`).
The notes' sentences live here, next to the solver that writes them; the
rest of the catalogue (tables, model files, handouts) is on the rendering side.
"""

from __future__ import annotations

from typing import Any

NOTES_EN: dict[str, str] = {
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
    "note.convnext": (
        "{model} (Liu et al., 2022) as in torchvision, with its 1x1 linear layers as "
        "1x1 convolutions (the same weights)"
    ),
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
}

NOTES_RU: dict[str, str] = {
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
    "note.convnext": (
        "{model} (Liu и др., 2022), как в torchvision, но её линейные слои по каналам "
        "записаны свёртками 1x1 (с теми же весами)"
    ),
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
}

# How each language groups the thousands of a :class:`Count` (a no-break space in Russian).
GROUPS = {"en": ",", "ru": "\u00a0"}


class Count(int):
    """A number in a note, written with thousands grouped as the note's language does.

    English writes ``9,216`` and Russian ``9 216`` (a no-break space): a
    comma would read as a decimal sign there.
    """


def spelled(fields: dict[str, Any], group: str) -> dict[str, Any]:
    """The note's fields with every :class:`Count` grouped with ``group``."""
    return {
        name: f"{value:,}".replace(",", group) if isinstance(value, Count) else value
        for name, value in fields.items()
    }


class Note(str):
    """A plan note: English text as a ``str``, plus the key and fields to translate it."""

    key: str
    fields: dict[str, Any]

    def __new__(cls, key: str, **fields: Any) -> Note:
        note = super().__new__(cls, NOTES_EN[key].format(**spelled(fields, GROUPS["en"])))
        note.key = key
        note.fields = fields
        return note

    def __reduce__(self) -> tuple[Any, ...]:
        return (_make_note, (self.key, self.fields))


def _make_note(key: str, fields: dict[str, Any]) -> Note:
    return Note(key, **fields)
