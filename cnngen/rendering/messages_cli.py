"""What the CLI itself says, per language (:mod:`cnngen.rendering.messages` merges them in).

The "wrote" lines, the verdicts of --check and --dry-run, the frame of every
error line and Click's own usage errors.  ``--lang ru`` anywhere on the
command line selects the Russian ones (:mod:`cnngen.cli.lang`).  Option names,
file names and values stay as the user types them.
"""

from __future__ import annotations

CLI_EN: dict[str, str] = {
    # ------------------------------------------------------------ frame of every error
    "cli.error": "Error: {message}",
    "cli.aborted": "Aborted.",
    "cli.interrupted": "interrupted",
    "cli.internal": (
        "internal error ({detail}). This is a cnngen bug; please report it with the command: "
        "{command}"
    ),
    "cli.stdout": "standard output",
    # ------------------------------------------------------------ files written and checked
    "cli.wrote": "wrote {name}",
    "cli.wrote_what": "wrote {name}: {what}",
    "cli.model_file": "{dims}D {family}, {shape_in} -> {shape_out}, {params} parameters",
    "cli.check.current": "{name}: up to date",
    "cli.check.stale": "{name}: out of date",
    "cli.check.missing": "{name}: missing",
    "cli.check.summary": (
        "{stale} of {total} file(s) would change; rerun without --check (and with --force) "
        "to regenerate"
    ),
    "cli.dry.create": "would create {name} ({size}, {lines}); first lines:",
    "cli.dry.more": "    ... {count} more {noun}",
    "cli.dry.current": "{name} is up to date ({size}); nothing would change",
    "cli.dry.overwrite": "would overwrite {name} ({size}{force}); diff:",
    "cli.dry.binary": (
        "would overwrite {name} ({size}{force}); it now holds {old} that are not UTF-8 text, "
        "so no diff"
    ),
    "cli.dry.force": "; the real run needs --force",
    "cli.dry.on_disk": "{name} (on disk)",
    "cli.dry.new": "{name} (new)",
    "cli.exists": "{option}: {name} exists; pass --force to overwrite it",
    "cli.exists_now": "{option}: {name} exists (created meanwhile); pass --force to overwrite it",
    "cli.is_folder": "{option}: {name} is a folder; give a file name, e.g. {inside}",
    "cli.empty_name": "{option}: empty file name; give a file name, e.g. model.py",
    "cli.names_folder": "{option}: {name} names a folder; give a file name{inside}",
    "cli.names_folder_in": ", e.g. {inside}",
    "cli.part_is_file": "{option}: {name}: a part of the path is a file, not a folder",
    "cli.no_folder": "{option}: folder {folder} does not exist; create it first",
    "cli.not_folder": "{option}: {folder} is not a folder; create it first",
    # ------------------------------------------------------------ Click's usage errors
    "cli.see": "see '{path} --help'",
    "cli.no_command": "COMMAND: missing; '{path}' needs one of: {commands}; {see}",
    "cli.no_option": "{option}: no such option for '{path}'; {hint}{see}",
    "cli.did_you_mean": "did you mean {best}? ",
    "cli.plan_writes": (
        "plan prints to stdout; write files with --svg FILE or --json, or write the model with "
        "'cnngen model ... -o FILE'; "
    ),
    "cli.needs_value": "{name}: needs a value after it, e.g. {name} VALUE; {see}",
    "cli.missing_choice": "{name}: missing; give one of {choices}",
    "cli.missing": "{name}: missing; it is required, {see}",
    "cli.unknown_value": "{name}: unknown value {value}{hint}; choose one of: {choices}",
    "cli.did_you_mean_value": " (did you mean {best}?)",
    "cli.not_integer": "{name}: {value} is not a valid integer; give a whole number, e.g. {name} 4",
    "cli.not_number": "{name}: {value} is not a valid float; give a number, e.g. {name} 0.5",
    "cli.no_such_command": "{name}: no such command; {hint}commands: {commands}",
    "cli.did_you_mean_command": "did you mean '{best}'? ",
    "cli.extra": (
        "{extra}: unexpected extra argument; usage: {path} {usage} (options start with --; "
        "quote values containing spaces)"
    ),
    # ------------------------------------------------------------ sizes and lists
    "cli.size": "expected sizes like 100, 100x100 or 16x64x64, got {value}",
    "cli.size_list": "expected a list of whole numbers like [100, 100], got {value}",
    "cli.widths": "expected channel widths like 32,64,96, got {value}",
    "cli.family_missing": (
        'FAMILY: missing; give one of {families} after the command (or family = "encoder" in '
        "a --config file)"
    ),
    "cli.choice": "{param}: unknown value {value}{hint}; choose one of: {choices}",
    "cli.choice_hint": " (did you mean {best}?)",
}

CLI_RU: dict[str, str] = {
    "cli.error": "Ошибка: {message}",
    "cli.aborted": "Прервано.",
    "cli.interrupted": "прервано",
    "cli.internal": (
        "внутренняя ошибка ({detail}). Это ошибка cnngen; сообщите о ней, приложив команду: "
        "{command}"
    ),
    "cli.stdout": "стандартный вывод",
    "cli.wrote": "записан файл {name}",
    "cli.wrote_what": "записан файл {name}: {what}",
    "cli.model_file": "{family}, {dims}D, {shape_in} -> {shape_out}, параметров: {params}",
    "cli.check.current": "{name}: актуален",
    "cli.check.stale": "{name}: устарел",
    "cli.check.missing": "{name}: отсутствует",
    "cli.check.summary": (
        "изменятся файлов: {stale} из {total}; чтобы пересоздать их, запустите команду без "
        "--check (и с --force)"
    ),
    "cli.dry.create": "будет создан файл {name} ({size}, {lines}); первые строки:",
    "cli.dry.more": "    ... и ещё {count} {noun}",
    "cli.dry.current": "{name} актуален ({size}); ничего не изменится",
    "cli.dry.overwrite": "будет перезаписан файл {name} ({size}{force}); различия:",
    "cli.dry.binary": (
        "будет перезаписан файл {name} ({size}{force}); сейчас в нём {old} не в UTF-8, поэтому "
        "различия не показаны"
    ),
    "cli.dry.force": "; настоящему запуску нужен --force",
    "cli.dry.on_disk": "{name} (на диске)",
    "cli.dry.new": "{name} (новый)",
    "cli.exists": "{option}: {name} уже существует; чтобы перезаписать его, добавьте --force",
    "cli.exists_now": (
        "{option}: {name} уже существует (появился, пока шла запись); чтобы перезаписать его, "
        "добавьте --force"
    ),
    "cli.is_folder": "{option}: {name} — это папка; укажите имя файла, например {inside}",
    "cli.empty_name": "{option}: пустое имя файла; укажите имя, например model.py",
    "cli.names_folder": "{option}: {name} — имя папки; укажите имя файла{inside}",
    "cli.names_folder_in": ", например {inside}",
    "cli.part_is_file": "{option}: {name}: часть пути — файл, а не папка",
    "cli.no_folder": "{option}: папки {folder} нет; сначала создайте её",
    "cli.not_folder": "{option}: {folder} — не папка; сначала создайте папку",
    "cli.see": "см. '{path} --help'",
    "cli.no_command": "COMMAND: не задана команда; '{path}' ждёт одну из: {commands}; {see}",
    "cli.no_option": "{option}: у '{path}' нет такого параметра; {hint}{see}",
    "cli.did_you_mean": "может быть, {best}? ",
    "cli.plan_writes": (
        "plan печатает в стандартный вывод; файлы пишут --svg FILE и --json, а файл модели — "
        "'cnngen model ... -o FILE'; "
    ),
    "cli.needs_value": "{name}: после него нужно значение, например {name} VALUE; {see}",
    "cli.missing_choice": "{name}: не задан; укажите одно из: {choices}",
    "cli.missing": "{name}: не задан, а он обязателен; {see}",
    "cli.unknown_value": "{name}: неизвестное значение {value}{hint}; возможные значения: {choices}",
    "cli.did_you_mean_value": " (может быть, {best}?)",
    "cli.not_integer": "{name}: {value} — не целое число; укажите целое, например {name} 4",
    "cli.not_number": "{name}: {value} — не число; укажите число, например {name} 0.5",
    "cli.no_such_command": "{name}: нет такой команды; {hint}команды: {commands}",
    "cli.did_you_mean_command": "может быть, '{best}'? ",
    "cli.extra": (
        "{extra}: лишний аргумент; вызов: {path} {usage} (параметры начинаются с --; значения "
        "с пробелами берите в кавычки)"
    ),
    "cli.size": "ожидаются размеры вида 100, 100x100 или 16x64x64, а задано {value}",
    "cli.size_list": "ожидается список целых чисел вида [100, 100], а задано {value}",
    "cli.widths": "ожидаются ширины каналов вида 32,64,96, а задано {value}",
    "cli.family_missing": (
        "FAMILY: не задано семейство; укажите после команды одно из: {families} (или "
        'family = "encoder" в файле --config)'
    ),
    "cli.choice": "{param}: неизвестное значение {value}{hint}; возможные значения: {choices}",
    "cli.choice_hint": " (может быть, {best}?)",
}
