"""``cnngen search``: sample exact architectures, train each with the generated script, compare.

This module only parses and checks options; the work is in
:mod:`cnngen.search`, imported when the command runs, so ``cnngen --help``
and every other command start without optuna or torch.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import click

from cnngen.core.spec import check_choice
from cnngen.core.vocab import BLOCKS, CHANNEL_RULES, HEADS, NORMS, PRESETS
from cnngen.errors import CnngenError

TASKS = ("classification", "forecasting", "segmentation")
SUFFIXES = {"k": 10**3, "m": 10**6, "g": 10**9}
MAX_TRIALS = 10**6
MAX_LAYERS = 64
MAX_WIDTH = 4096


def parse_words(option: str, text: str, choices: tuple[str, ...]) -> tuple[str, ...]:
    """A comma-separated list of distinct words, each one of ``choices``."""
    words = tuple(word.strip() for word in text.split(",") if word.strip())
    if not words:
        raise CnngenError(f"{option}: give at least one of: {', '.join(choices)}", option)
    for word in words:
        check_choice(option, word, choices)
    return tuple(dict.fromkeys(words))


def parse_numbers(option: str, text: str, low: float, high: float, kind: type) -> tuple[Any, ...]:
    """A comma-separated list of numbers of ``kind`` in ``low .. high``."""
    values = []
    for word in (word.strip() for word in text.split(",")):
        try:
            value = kind(word)
        except ValueError:
            value = None
        if value is None or not math.isfinite(value) or not low <= value <= high:
            example = "8,16,32" if kind is int else "0,0.2"
            raise CnngenError(
                f"{option}: {word!r} is not a {'whole ' if kind is int else ''}number from "
                f"{low} to {high}; give a list like {example}",
                option,
            )
        values.append(value)
    return tuple(dict.fromkeys(values))


def parse_range(option: str, text: str, high: int) -> tuple[int, int]:
    """``3`` or ``1-4``: the layer counts to search."""
    parts = text.split("-")
    try:
        low, top = (int(parts[0]), int(parts[-1])) if len(parts) <= 2 else (0, -1)
    except ValueError:
        low, top = 0, -1
    if not 1 <= low <= top <= high:
        raise CnngenError(
            f"{option}: expected a count or a range like 1-4 (from 1 to {high}), got {text!r}",
            option,
        )
    return low, top


def parse_amount(option: str, text: str | None) -> int | None:
    """``5000``, ``50k``, ``2M`` or ``1G`` as a positive whole number (None: no limit)."""
    if text is None:
        return None
    word = text.strip().lower().replace("_", "").replace(",", "")
    scale = SUFFIXES.get(word[-1:], 1)
    if scale != 1:
        word = word[:-1]
    try:
        value = float(word) * scale
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value < 1 or value != int(value):
        raise CnngenError(
            f"{option}: expected a positive whole number such as 50000, 50k or 2M, got {text!r}",
            option,
        )
    return int(value)


def check_count(option: str, value: int, low: int = 1, high: int = MAX_TRIALS) -> None:
    if not low <= value <= high:
        raise CnngenError(f"{option}: must be from {low} to {high}, got {value}", option)


@click.command("search")
@click.option("--dataset", required=True, help="The dataset file (make_datasets(seed)), "
              "e.g. one written by `cnngen dataset`.")
@click.option("--task", required=True, type=click.Choice(TASKS), help="What is trained: "
              "classification (ranked by accuracy), forecasting (validation loss) or "
              "segmentation (Dice).")
@click.option("--trials", type=int, default=10, show_default=True,
              help="Finished trials the study should hold; refused candidates do not count.")
@click.option("--budget-epochs", type=int, default=2, show_default=True,
              help="Epochs each trial trains.")
@click.option("--budget-steps", type=int, default=None,
              help="Also stop each trial after this many optimizer steps (--max-steps).")
@click.option("--out", default="search", show_default=True,
              help="Folder for the study, trials/<n>/, the leaderboard and best/.")
@click.option("--storage", default=None,
              help="Optuna storage shared by workers: a journal file (local workers) or a "
              "database URL, e.g. postgresql://user@host/db for many machines.  "
              "[default: OUT/study.journal]")
@click.option("--study-name", default="cnngen-search", show_default=True,
              help="The study in the storage; the same name resumes or joins it.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the sampler and of every trial's training.")
@click.option("--sampler", type=click.Choice(("tpe", "random")), default="tpe",
              show_default=True, help="Optuna sampler.")
@click.option("--pruner", type=click.Choice(("none", "median", "hyperband")), default="none",
              show_default=True, help="Stop poor trials early, judged epoch by epoch.")
@click.option("--layers", "layers_text", default="1-4", show_default=True,
              help="Layer counts: N or LOW-HIGH.")
@click.option("--widths", default="8,16,32", show_default=True,
              help="First-layer channel counts (--start-channels).")
@click.option("--channel-rules", default="exponential,constant", show_default=True,
              help=f"How channels grow: some of {', '.join(CHANNEL_RULES)}.")
@click.option("--blocks", default=",".join(BLOCKS), show_default=True,
              help="Classifier blocks to try.")
@click.option("--kernels", default="3,5", show_default=True, help="Kernel sizes to try.")
@click.option("--heads", default="auto,gap", show_default=True,
              help=f"Classifier heads: some of {', '.join(HEADS)}.")
@click.option("--norms", default="batchnorm,none", show_default=True,
              help="Norms to try: some of batchnorm, instancenorm, groupnorm, none.")
@click.option("--dropouts", default="0,0.2", show_default=True, help="Dropout rates to try.")
@click.option("--se", "se_choice", type=click.Choice(("both", "on", "off")), default="both",
              show_default=True, help="Squeeze-and-excitation in the candidates.")
@click.option("--depthwise", "depthwise_choice", type=click.Choice(("both", "on", "off")),
              default="both", show_default=True, help="Depthwise separable convolutions.")
@click.option("--presets", default="lenet5", show_default=True,
              help="Classifier presets that are candidates too, or 'none'.")
@click.option("--max-params", default=None, help="Skip candidates with more parameters (50k, 2M).")
@click.option("--max-macs", default=None, help="Skip candidates with more MACs per sample.")
@click.option("--max-memory", default=None,
              help="Skip candidates whose layer outputs take more bytes per sample (float32).")
@click.option("--classes", type=int, default=None,
              help="Classes (segmentation: output channels).  [default: from the dataset]")
@click.option("--batch-size", type=int, default=32, show_default=True, help="Batch size.")
@click.option("--lr", type=float, default=1e-3, show_default=True, help="Learning rate.")
def search_command(**options: Any) -> None:
    """Train many exact architectures on a dataset and compare them (needs optuna and torch).

    \b
    Each trial draws a candidate from the space (layers, widths, channel rule,
    block, kernel, head, norm, dropout, SE, depthwise, presets); the solver
    plans it exactly, or it is pruned with the reason counted.  Its model.py
    and train.py go to OUT/trials/<n>/ and the generated train.py trains it
    for the budget with --seed.  OUT gets leaderboard.csv/.md/.json, the
    Pareto front (pareto.png with matplotlib, pareto.csv) and best/, where
    `python train.py` trains the best candidate again to the same metric.
    Rerunning the same command resumes the study; workers that share
    --storage share its trials.
    Examples:
      cnngen search --dataset dataset.py --task classification --trials 12 --budget-epochs 2
      cnngen search --dataset dataset.py --task classification --max-params 20k --out small
      cnngen search --dataset dataset.py --task classification \\
          --storage postgresql://user@db/cnngen --study-name digits   # on every machine
    """
    config = make_config(options)
    from cnngen.cli.output import announce
    from cnngen.search.command import run

    run(config, announce)


def make_config(options: dict[str, Any]) -> Any:
    """Check every option, probe the dataset, and build the search's configuration.

    Everything that can be refused is refused here, before the output folder
    is created.
    """
    task = options["task"]
    for name in ("trials", "budget_epochs"):
        check_count("--" + name.replace("_", "-"), options[name])
    if options["budget_steps"] is not None:
        check_count("--budget-steps", options["budget_steps"])
    if options["classes"] is not None:
        check_count("--classes", options["classes"], 1, 10**5)
    check_count("--batch-size", options["batch_size"], 1, 2**20)
    check_count("--seed", options["seed"], 0, 2**32 - 1)
    if not (math.isfinite(options["lr"]) and 0 < options["lr"] <= 1e3):
        raise CnngenError(f"--lr: must be above 0 and at most 1000, got {options['lr']}", "--lr")
    if not options["study_name"].strip():
        raise CnngenError("--study-name: must not be empty; e.g. --study-name digits",
                          "--study-name")
    presets_text = options["presets"].strip()
    presets = () if presets_text in ("", "none") else parse_words("--presets", presets_text,
                                                                  PRESETS)
    both = {"both": (False, True), "on": (True,), "off": (False,)}
    space_choices = {
        "layers": parse_range("--layers", options["layers_text"], MAX_LAYERS),
        "widths": parse_numbers("--widths", options["widths"], 1, MAX_WIDTH, int),
        "channel_rules": parse_words("--channel-rules", options["channel_rules"], CHANNEL_RULES),
        "blocks": parse_words("--blocks", options["blocks"], BLOCKS),
        "kernels": parse_numbers("--kernels", options["kernels"], 1, 99, int),
        "heads": parse_words("--heads", options["heads"], HEADS),
        "norms": parse_words("--norms", options["norms"],
                             tuple(norm for norm in NORMS if norm != "dropout")),
        "dropouts": parse_numbers("--dropouts", options["dropouts"], 0.0, 0.99, float),
        "se": both[options["se_choice"]],
        "depthwise": both[options["depthwise_choice"]],
        "presets": presets,
    }
    limits = {
        name: parse_amount("--" + name.replace("_", "-"), options[name])
        for name in ("max_params", "max_macs", "max_memory")
    }
    dataset = Path(options["dataset"])
    if not dataset.is_file() or dataset.suffix != ".py":
        what = "is not a .py file" if dataset.exists() else "does not exist"
        raise CnngenError(
            f"--dataset: {dataset} {what}; write one with `cnngen dataset ...` "
            f"(it defines make_datasets(seed))",
            "--dataset",
        )
    out = Path(options["out"])
    if out.exists() and not out.is_dir():
        raise CnngenError(f"--out: {out} is a file; give a folder name", "--out")
    from cnngen.search.command import Request

    return Request(task=task, dataset=dataset, out=out, options=options,
                   space_choices=space_choices, limits=limits)
