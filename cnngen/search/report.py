"""What a search leaves behind: the leaderboard, the Pareto front, the best trial's folder.

Everything is read back from the study, so it covers the trials of every
worker, and the best trial's files are rendered again from its stored
options (the generator is deterministic), so ``OUT/best`` can be written on
any machine that shares the study, not only on the one that trained it.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnngen.search.study import SearchConfig, completed, pruned_counts, short_name
from cnngen.search.trial import render_files, write_files

COLUMNS = (
    "rank",
    "trial",
    "metric",
    "value",
    "params",
    "macs",
    "memory",
    "seconds",
    "seconds_per_step",
    "candidate",
    "command",
)


@dataclass(frozen=True)
class Row:
    """One finished trial on the leaderboard."""

    trial: int
    value: float
    params: int
    macs: int
    memory: int
    seconds: float
    seconds_per_step: float
    render_seconds: float
    candidate: str
    command: str
    options: dict[str, Any]


def rows(study: Any, config: SearchConfig) -> list[Row]:
    """The finished trials, best first (ties: fewer parameters, then the earlier trial)."""
    found = []
    for trial in completed(study):
        attrs = trial.user_attrs
        if "options" not in attrs or "params" not in attrs:
            continue
        found.append(
            Row(
                trial=trial.number,
                value=float(trial.value),
                params=int(attrs["params"]),
                macs=int(attrs["macs"]),
                memory=int(attrs["memory"]),
                seconds=float(attrs.get("seconds", 0.0)),
                seconds_per_step=float(attrs.get("seconds_per_step", 0.0)),
                render_seconds=float(attrs.get("render_seconds", 0.0)),
                candidate=short_name(attrs["options"]),
                command=attrs.get("command", ""),
                options=attrs["options"],
            )
        )
    sign = -1.0 if config.direction == "maximize" else 1.0
    return sorted(found, key=lambda row: (sign * row.value, row.params, row.trial))


def pareto_front(board: list[Row], cost: str, maximize: bool) -> list[Row]:
    """The rows no other row beats on both the metric and ``cost`` (params or macs).

    A row is dominated when another is at least as good on both and better on
    one; what remains, cheapest first, is the front.
    """

    def better_or_equal(a: Row, b: Row) -> bool:
        metric = a.value >= b.value if maximize else a.value <= b.value
        return metric and getattr(a, cost) <= getattr(b, cost)

    front = [
        row
        for row in board
        if not any(
            better_or_equal(other, row)
            and (other.value != row.value or getattr(other, cost) != getattr(row, cost))
            for other in board
        )
    ]
    return sorted(front, key=lambda row: (getattr(row, cost), row.trial))


def _table_rows(board: list[Row], metric: str) -> list[list[str]]:
    return [
        [
            str(rank),
            str(row.trial),
            metric,
            f"{row.value:.4f}",
            f"{row.params:,}",
            f"{row.macs:,}",
            f"{row.memory:,}",
            f"{row.seconds:.1f}",
            f"{row.seconds_per_step * 1000:.1f} ms",
            row.candidate,
        ]
        for rank, row in enumerate(board, 1)
    ]


def terminal_table(board: list[Row], metric: str, limit: int = 10) -> str:
    """The leaderboard's first rows as aligned text."""
    header = ["rank", "trial", "metric", "value", "params", "MACs", "memory B", "s", "per step"]
    header.append("candidate")
    body = _table_rows(board[:limit], metric)
    widths = [max(len(cells[i]) for cells in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(cells)).rstrip()
             for cells in [header, *body]]
    return "\n".join(lines)


def markdown_table(board: list[Row], metric: str) -> str:
    header = ["rank", "trial", "metric", "value", "params", "MACs", "memory (B)", "seconds",
              "per step", "candidate"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for cells in _table_rows(board, metric):
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


def _csv_text(board: list[Row], metric: str) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for rank, row in enumerate(board, 1):
        writer.writerow(
            [rank, row.trial, metric, repr(row.value), row.params, row.macs, row.memory,
             row.seconds, row.seconds_per_step, row.candidate, row.command]
        )
    return buffer.getvalue()


def write_reports(study: Any, config: SearchConfig) -> dict[str, Any]:
    """Write the leaderboard (CSV, Markdown, JSON), the Pareto front and ``best/``.

    Returns what was written and found, for the command's summary lines.
    """
    from cnngen.search.files import write_text

    out = config.out
    board = rows(study, config)
    metric = config.metric
    maximize = config.direction == "maximize"
    counts = pruned_counts(study)
    written: list[Path] = []

    def put(name: str, text: str) -> None:
        write_text(out / name, text)
        written.append(out / name)

    put("leaderboard.csv", _csv_text(board, metric))
    put("leaderboard.md", f"# Leaderboard ({metric}, {config.direction})\n\n"
        + markdown_table(board, metric) + "\n")
    summary = {
        "study": config.study_name,
        "metric": metric,
        "direction": config.direction,
        "finished": len(board),
        "pruned": dict(counts),
        "trials": [
            {"rank": rank, **{k: v for k, v in row.__dict__.items()}}
            for rank, row in enumerate(board, 1)
        ],
    }
    put("leaderboard.json", json.dumps(summary, indent=2) + "\n")
    fronts = {cost: pareto_front(board, cost, maximize) for cost in ("params", "macs")}
    put("pareto.csv", _pareto_csv(fronts, metric))
    plotted = plot_pareto(board, fronts, metric, out / "pareto.png")
    if plotted:
        written.append(out / "pareto.png")
    best = board[0] if board else None
    if best is not None:
        write_best(best, config)
        written.append(out / "best")
    return {"board": board, "counts": counts, "written": written, "plotted": plotted,
            "best": best}


def _pareto_csv(fronts: dict[str, list[Row]], metric: str) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["cost", "trial", metric, "params", "macs", "candidate"])
    for cost, front in fronts.items():
        for row in front:
            writer.writerow([cost, row.trial, repr(row.value), row.params, row.macs,
                             row.candidate])
    return buffer.getvalue()


def plot_pareto(board: list[Row], fronts: dict[str, list[Row]], metric: str, path: Path) -> bool:
    """``pareto.png``: the metric against parameters and against MACs, the front marked.

    Returns False (and draws nothing) when matplotlib is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    if not board:
        return False
    figure, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for axis, (cost, label) in zip(axes, (("params", "parameters"), ("macs", "MACs")),
                                   strict=True):
        axis.scatter([getattr(r, cost) for r in board], [r.value for r in board],
                     color="0.6", label="trials")
        front = fronts[cost]
        axis.plot([getattr(r, cost) for r in front], [r.value for r in front], "o-",
                  color="tab:red", label="Pareto front")
        for row in front:
            axis.annotate(str(row.trial), (getattr(row, cost), row.value),
                          textcoords="offset points", xytext=(4, 4), fontsize=8)
        axis.set_xscale("log")
        axis.set_xlabel(label)
        axis.set_ylabel(metric)
        axis.legend()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return True


def write_best(best: Row, config: SearchConfig) -> None:
    """``OUT/best``: the best trial's model.py, train.py, dataset.py and a README.

    Rendered from the trial's stored options, the same text its folder holds,
    so ``python train.py`` there trains it again with the same seed and budget.
    """
    import cnngen

    plan = cnngen.plan(config.space.family, **best.options)
    files = render_files(plan, config.training, config.dataset.read_text(encoding="utf-8"))
    folder = config.out / "best"
    reproduce = config.training.reproduce_line()
    files["README.md"] = (
        f"# Best trial of the search: trial {best.trial}\n\n"
        f"{config.metric} {best.value:.4f} on the validation split after the search's budget "
        f"({config.training.epochs} epoch(s)"
        + ("" if config.training.max_steps is None
           else f", at most {config.training.max_steps} steps")
        + f", seed {config.training.seed}); {best.params:,} parameters, {best.macs:,} MACs.\n\n"
        f"Train it again (the same seed gives the same {config.metric}):\n\n"
        f"    {reproduce}\n\n"
        f"Regenerate the model file:\n\n    {best.command}\n\n"
        "The dataset file is a copy of the search's; paths it reads are relative to the "
        "folder you run it from.\n"
    )
    write_files(folder, files)
