"""Refusals of bad input in other languages than English.

A :class:`~cnngen.errors.CnngenError` is written in English where it is
raised; one that carries a ``key`` and its ``fields`` can be said in another
language through :func:`say_refusal`.  A refusal whose key a language lacks
stays in English.  Two fields are spelled here rather than where the error
is raised: ``best`` (the nearest valid value, or empty) becomes ``{hint}``
and ``example`` (a value that would work, or empty) becomes ``{tail}``.
"""

from __future__ import annotations

from typing import Any

REFUSALS: dict[str, dict[str, str]] = {
    "ru": {
        "refusal.hint": " (может быть, {best}?)",
        "refusal.tail": "; например, {param} {example}",
        "refusal.word": "{param}: ожидается слово, одно из: {choices}; а задано {value}",
        "refusal.choice": (
            "{param}: неизвестное значение {value}{hint}; возможные значения: {choices}"
        ),
        "refusal.per_dim": (
            "{param}: для входа размерности {dims}D нужно 1 или {dims} значения, а задано "
            "{value}; например, {param} {sample}"
        ),
        "refusal.per_dim_1": (
            "{param}: для входа размерности 1D нужно одно значение, а задано {value}; например, "
            "{param} {sample}"
        ),
        "refusal.every_at_least": (
            "{param}: каждое значение должно быть не меньше {low}, а задано {value}"
        ),
        "refusal.family_option": (
            "{option}: этот параметр действует только в семействах: {users}; на {family} он не "
            "влияет; уберите его или используйте, например, '{command}'"
        ),
        "refusal.no_family_option": (
            "{option}: этот параметр не принимает ни одно семейство; уберите его"
        ),
        "refusal.int": "{param}: ожидается целое число (int), а задано {value}",
        "refusal.float": "{param}: ожидается число, а задано {value}",
        "refusal.string": "{param}: ожидается строка, а задано {value}",
        "refusal.preset_ignores": (
            "{option}: пресет {preset} сам задаёт свои слои и не учёл бы {names}; уберите "
            "лишнее (пресет принимает {allowed})"
        ),
        "refusal.input_required": (
            "--input-size: размер входа обязателен, например --input-size 100x100"
        ),
        "refusal.input_dims": (
            "--input-size: нужно от 1 до 3 пространственных измерений, а задано {count} "
            "({value}); например, 1000, 64x64 или 16x64x64"
        ),
        "refusal.input_positive": (
            "--input-size: каждый размер должен быть не меньше 1, а задано {value}"
        ),
        "refusal.one_class": (
            "--classes: при одном классе решать нечего (перекрёстная энтропия по одному логиту "
            "всегда равна 0); для задачи «да или нет» возьмите --classes 2"
        ),
        "refusal.min_above_max": (
            "--min-channels: {low} больше, чем --max-channels {high}; возьмите не больше {high}"
        ),
        "refusal.start_outside": (
            "--start-channels: {start} лежит вне диапазона от --min-channels {low} до "
            "--max-channels {high}; возьмите значение из этого диапазона"
        ),
        "refusal.min_or_target": (
            "--target-size: задайте либо --min-size, либо --target-size, но не оба"
        ),
        "refusal.above_input": (
            "{param}: {value} больше входа {input}; возьмите не больше {input}"
        ),
        "refusal.block_family": (
            "--block: блоки {block} бывают только у семейства classifier; используйте "
            "'cnngen model classifier --block {block}'"
        ),
        "refusal.size": (
            "{param}: ожидаются размеры вида 100, 100x100 или 16x64x64, а задано {value}"
        ),
        "refusal.no_parameter": (
            "{param}: у {name} нет параметра, а задано {value}; укажите просто {name} или одно "
            "из: {forms}"
        ),
        "refusal.activation_number": (
            "{param}: ожидается {name}:{word} с конечным числом, а задано {value}; например, "
            "{name}:0.2"
        ),
        "refusal.padding_grows": (
            "--padding: паддинг {amount} при --kernel {kernel} сделал бы карту признаков больше "
            "входа; возьмите --padding {limit} или меньше (или --padding auto)"
        ),
        "refusal.keyword": (
            "{param}: {value} — ключевое слово Python, оно не может быть именем класса или "
            "переменной; выберите другое имя (например, {other})"
        ),
        "refusal.groups": (
            "--groups: свёртку (каналов на входе: {c_in}, на выходе: {c_out}) нельзя разбить "
            "на группы (их {groups}): на это число должны делиться оба; возьмите --groups {fits} "
            "или --start-channels, кратное {groups}"
        ),
        "refusal.lenet_small": (
            "--input-size: {value} — слишком мало для LeNet-5 (двум свёрткам 5x5 и двум "
            "пулингам 2x2 нужно не меньше 12x12); возьмите -i 12x12 или больше (LeNet-5 "
            "рассчитана на 32x32)"
        ),
        "refusal.aux_logits_preset": (
            "--aux-logits: вспомогательные классификаторы есть только у GoogLeNet; возьмите "
            "--preset googlenet --aux-logits или уберите --aux-logits"
        ),
        "refusal.aux_logits_size": (
            "--aux-logits: при --input-size {input} вспомогательные головы читают карту {map} "
            "(после inception4a), меньше 4x4, до которой они усредняют; возьмите --input-size "
            "{least} или больше либо уберите --aux-logits"
        ),
        "refusal.deep_supervision": (
            "--deep-supervision: у U-Net с --layers {layers} уровней декодера ниже полного "
            "разрешения: {below}, а задано {value}; возьмите {fit}"
        ),
        "refusal.unet_levels": (
            "--layers: уровней U-Net — {layers}, и вход {input} уменьшается ниже --min-size "
            "{min} (уровень {level} уже {size}); уровней помещается не больше {fit}, так что "
            "возьмите --layers {use} или меньший --min-size"
        ),
        "refusal.target_reach": (
            "--target-size: из {size} нельзя получить ровно {target} за слои (их {layers}) по "
            "измерению {dim}; ближайшие достижимые размеры: {near} (или измените --layers "
            "или --kernel)"
        ),
        "refusal.range": "{param}: значение должно лежать в {range}, а задано {value}{tail}",
        "refusal.at_least": "{param}: значение должно быть не меньше {bound}, а задано {value}{tail}",
        "refusal.above": "{param}: значение должно быть больше {bound}, а задано {value}{tail}",
        "refusal.at_most": "{param}: значение должно быть не больше {bound}, а задано {value}{tail}",
        "refusal.below": "{param}: значение должно быть меньше {bound}, а задано {value}{tail}",
    },
}


def say_refusal(error: Any, lang: str) -> str:
    """``error``'s message in ``lang``, or as raised when ``lang`` has no words for it."""
    catalogue = REFUSALS.get(lang, {})
    key = getattr(error, "key", None)
    if key not in catalogue:
        return str(error)
    fields = dict(getattr(error, "fields", {}))
    best = fields.pop("best", "")
    fields["hint"] = catalogue["refusal.hint"].format(best=best) if best else ""
    example = fields.pop("example", "")
    fields["tail"] = (
        catalogue["refusal.tail"].format(param=fields.get("param", ""), example=example)
        if example
        else ""
    )
    return catalogue[key].format(**fields)
