"""Plan notes in other languages (:mod:`cnngen.rendering.messages` merges them in).

The solver writes each note in English with its key and fields
(:class:`cnngen.core.notes.Note`); these are the same keys and fields said
in Russian.
"""

from __future__ import annotations

NOTES_RU: dict[str, str] = {
    "note.clamped": "число каналов ограничено диапазоном {low}..{high} в слоях {layers}",
    "note.decoder_channels": "ширины декодера заданы явно: {widths}",
    "note.decoder_rule": (
        "ширины декодера {widths}: правило {rule} из TorchCNNBuilder, от узкого места "
        "до числа выходных каналов"
    ),
    "note.free_decoder": (
        "у {layers} транспонированных свёрток декодера шаги, дополнения и output_padding "
        "подобраны так, чтобы выход был точно {size}, без изменения размера"
    ),
    "note.tcb_channels": "каналы {widths}: правило {rule} из TorchCNNBuilder",
    "note.time_head": "временная голова переводит входные шаги по времени (их {depth}) в {out_depth}",
    "note.invariant": "логиты не меняются при повороте входа на любое кратное 90 градусов",
    "note.group_conv": (
        "групповые свёртки p4: каждая карта признаков поворачивается вместе со входом, "
        "а её ориентации циклически сдвигаются; логиты не меняются при поворотах на 90 градусов; "
        "у карты p4 по 4 канала на канал (канал c * 4 + r — ориентация r канала c), всё в 2D"
    ),
    "note.group_conv_d4": (
        "групповые свёртки D4: каждая карта признаков поворачивается и отражается вместе "
        "со входом, а её ориентации переставляются по умножению в группе; логиты не меняются "
        "при поворотах на 90 градусов и отражениях; у карты D4 по 8 каналов на канал "
        "(канал c * 8 + g — ориентация g канала c: g % 4 четвертей оборота после g // 4 "
        "отражений), всё в 2D"
    ),
    "note.harmonic_basis": (
        "гармонический базис: каждое ядро {kernel}x{kernel} складывается из волн, бегущих по "
        "кольцам сетки, и весов на ядро в нём {weights}, а не {taps}; ядра складываются раз за "
        "прямой проход при любом размере батча, и в MACS это сложение не входит"
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
    "note.googlenet_aux": (
        "GoogLeNet (Szegedy и др., 2015), как в torchvision, со вспомогательными головами "
        "aux1 (после inception4a) и aux2 (после inception4d), работающими только при "
        "обучении: усредняющий пулинг с ядром {kernel} и шагом {stride} ровно до 4x4, "
        "свёртка 1x1 до 128 каналов, fc1 и fc2; train.py добавляет {weight} потерь каждой "
        "головы"
    ),
    "note.unet_deep_supervision": (
        "глубокий надзор: {heads} дают логиты нижних уровней декодера только при обучении; "
        "train.py добавляет их потери с весами {weights} к маске, взятой через каждые "
        "{steps} позиций (точный размер каждого уровня, без ресайза)"
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
    "note.big_params": (
        "параметров: {params} ({gib} ГиБ во float32), больше {limit}; проверьте, та ли это "
        "модель, которую вы задумали"
    ),
    "note.big_activations": (
        "при обучении хранится около {gib} ГиБ активаций на пример (float32) — больше, чем "
        "вмещает любой отдельный ускоритель; для инференса памяти хватит, а для обучения "
        "нужен чекпоинтинг активаций или меньший --input-size"
    ),
    "note.short_field": "рецептивное поле {field} не покрывает вход {size}",
    "note.head_field": (
        "сами по себе свёртки видят {field} из входа {size}; следующие за ними слои всё "
        "равно дают каждому выходу весь вход"
    ),
}
