"""The ``cnngen search`` run: check, probe the dataset, search, report.

The order keeps the command's promise about bad input: optuna and torch are
looked for, the dataset is probed and the space is checked for a candidate
that fits the limits before the output folder is created, so a refused
search writes nothing.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from cnngen.errors import CnngenError
from cnngen.search.space import Limits, Space, check_feasible
from cnngen.search.trial import Training, probe_dataset


@dataclass(frozen=True)
class Request:
    """The checked options of one ``cnngen search`` call."""

    task: str
    dataset: Path
    out: Path
    options: dict[str, Any]
    space_choices: dict[str, Any]
    limits: dict[str, int | None]


def _require(module: str, why: str, extra: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise CnngenError(
            f"search: needs {module} ({why}); install it with pip install 'cnngen[{extra}]'",
            "search",
        )


def prepare(request: Request) -> Any:
    """The search's configuration: the dataset's shapes fixed, the space checked."""
    from cnngen.search.study import SearchConfig

    _require("optuna", "it samples and stores the trials", "search")
    _require("torch", "the trials train with it", "torch")
    options = request.options
    shape = probe_dataset(request.dataset, request.task, options["seed"], options["classes"])
    space = Space(
        task=request.task,
        fixed=shape.fixed_options(request.task),
        limits=Limits(**request.limits),
        **request.space_choices,
    )
    check_feasible(space, options["seed"])
    training = Training(
        task=request.task,
        epochs=options["budget_epochs"],
        max_steps=options["budget_steps"],
        seed=options["seed"],
        batch_size=options["batch_size"],
        lr=options["lr"],
    )
    return SearchConfig(
        dataset=request.dataset.resolve(),
        out=request.out,
        space=space,
        training=training,
        trials=options["trials"],
        storage=options["storage"],
        study_name=options["study_name"],
        sampler=options["sampler"],
        pruner=options["pruner"],
    )


def open_storage_error(config: Any, error: Exception) -> CnngenError:
    first = str(error).splitlines()[0] if str(error) else type(error).__name__
    return CnngenError(
        f"--storage: cannot open {config.storage_url} ({first}); give a journal file such as "
        f"study.journal, or a database URL such as sqlite:///study.db or "
        f"postgresql://user@host/db",
        "--storage",
    )


def run(request: Request, announce: Callable[[str], None]) -> None:
    """Run the search and print its leaderboard; write the reports into OUT.

    ``announce`` prints a summary line (the CLI's, which ``cnngen -q`` silences).
    """
    from cnngen.search.report import terminal_table, write_reports
    from cnngen.search.study import echo_stderr, open_study, run_search

    config = prepare(request)
    if config.storage is None:
        config.out.mkdir(parents=True, exist_ok=True)  # the default study.journal lives there
    try:
        study = open_study(config)
    except CnngenError:
        raise
    except Exception as error:  # noqa: BLE001 - sqlalchemy and optuna errors of a bad URL
        raise open_storage_error(config, error) from None
    config.out.mkdir(parents=True, exist_ok=True)
    study = run_search(config, echo_stderr, study)
    result = write_reports(study, config)
    board = result["board"]
    if board:
        click.echo(terminal_table(board, config.metric))
    counts = result["counts"]
    if counts:
        text = ", ".join(f"{count} {reason}" for reason, count in counts.most_common())
        announce(f"pruned without training to the end: {text}")
    for path in result["written"]:
        announce(f"wrote {path}")
    if not result["plotted"]:
        announce(
            f"matplotlib is not installed: the Pareto front is in {config.out / 'pareto.csv'} "
            f"(pip install matplotlib for pareto.png)"
        )
    best = result["best"]
    if best is not None:
        announce(
            f"best: trial {best.trial}, {config.metric} {best.value:.4f}; "
            f"cd {config.out / 'best'} && {config.training.reproduce_line()}"
        )
