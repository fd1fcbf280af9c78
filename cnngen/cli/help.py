"""``--help`` in sections (input, architecture, training, output), so long option lists scan.

Click has no option groups; :class:`SectionedCommand` writes one definition list
per section ("Input and output" covers the network's shapes, "Output files"
what is written).  A parameter's section is its ``help_section`` attribute, else
:data:`SECTIONS` by name, else "Architecture" (most model options).
"""

from __future__ import annotations

import click

INPUT = "Input and output"
ARCHITECTURE = "Architecture"
TRAINING = "Training"
OUTPUT = "Output files"
ORDER = (INPUT, ARCHITECTURE, TRAINING, OUTPUT)

SECTIONS = {
    INPUT: (
        "family", "project_size", "input_size", "in_channels", "out_channels", "classes",
        "preset", "config",
    ),
    TRAINING: (
        "frames", "samples", "noise", "rotate", "epochs", "batch_size", "lr", "seed",
    ),
    OUTPUT: (
        "name", "output", "as_json", "svg", "force", "check",
        "dry_run", "student", "lang", "save_config", "help",
    ),
}  # fmt: skip
_SECTION_OF = {name: section for section, names in SECTIONS.items() for name in names}


def section_of(param: click.Parameter) -> str:
    if "--help" in getattr(param, "opts", ()):
        return OUTPUT
    return getattr(param, "help_section", None) or _SECTION_OF.get(param.name or "", ARCHITECTURE)


class SectionedCommand(click.Command):
    """A command whose options are listed under Input, Architecture, Training and Output."""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows: dict[str, list[tuple[str, str]]] = {section: [] for section in ORDER}
        for param in self.get_params(ctx):
            record = None if isinstance(param, click.Argument) else param.get_help_record(ctx)
            if record is not None:
                rows[section_of(param)].append(record)
        for section in ORDER:
            if rows[section]:
                with formatter.section(section):
                    formatter.write_dl(rows[section])


def sectioned(command: click.Command) -> click.Command:
    """Give ``command`` sectioned help (it keeps everything else)."""
    if type(command) is click.Command:
        command.__class__ = SectionedCommand
    return command
