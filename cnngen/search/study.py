"""The Optuna study behind ``cnngen search``: sample, plan, train, record, resume.

Optuna keeps the state: every trial, its choices, its value and what it
measured live in the study's storage (by default the journal file ``OUT/study.journal``).
Re-running the same command opens the same study and trains only as many new
trials as it lacks; workers on other machines that point ``--storage`` at one
database share it, and each new trial gets a number no other worker has, so
no trial is run twice and a trial's folder is ``OUT/trials/<number>``.

The loop is Optuna's ask-and-tell: ask for a trial, let its sampler choose a
candidate, plan it, and tell the study the validation metric, or that the
candidate was pruned (refused by the solver, over a limit, or stopped early by
the pruner) with the reason kept on the trial.
"""

from __future__ import annotations

import datetime
import functools
import json
import os
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnngen.errors import CnngenError
from cnngen.search.space import (
    TASK_METRICS,
    Space,
    candidate_key,
    make_candidate,
    refusal_reason,
)
from cnngen.search.trial import Training, TrainResult, TrialFailed, render_files, train, write_files

SAMPLERS = ("tpe", "random")
PRUNERS = ("none", "median", "hyperband")
# Draws per wanted trial before a worker gives up on a space that keeps refusing.
ATTEMPTS_PER_TRIAL = 25


@dataclass(frozen=True)
class SearchConfig:
    """Everything one worker needs; the same for every worker of a study."""

    dataset: Path
    out: Path
    space: Space
    training: Training
    trials: int = 10
    storage: str | None = None
    study_name: str = "cnngen-search"
    sampler: str = "tpe"
    pruner: str = "none"

    @property
    def metric(self) -> str:
        return TASK_METRICS[self.space.task][0]

    @property
    def direction(self) -> str:
        return TASK_METRICS[self.space.task][1]

    @property
    def storage_url(self) -> str:
        """``--storage``, or the default journal file in the output folder."""
        return self.storage or str((self.out / "study.journal").resolve())

    def study_key(self) -> dict[str, Any]:
        """What must match for a worker or a rerun to join an existing study."""
        return {
            "space": self.space.describe(),
            "training": {
                "task": self.training.task,
                "epochs": self.training.epochs,
                "max_steps": self.training.max_steps,
                "seed": self.training.seed,
                "batch_size": self.training.batch_size,
                "lr": self.training.lr,
            },
        }


class OptunaChooser:
    """The space's choices asked of an Optuna trial, so its sampler picks them."""

    def __init__(self, trial: Any) -> None:
        self.trial = trial

    def choose(self, name: str, choices: Any) -> Any:
        return self.trial.suggest_categorical(name, list(choices))

    def integer(self, name: str, low: int, high: int) -> int:
        return self.trial.suggest_int(name, low, high)


def _connect_sqlite(path: str) -> Any:
    """A connection to the SQLite file ``path`` in write-ahead-log mode, ``synchronous=NORMAL``.

    Optuna commits every suggestion and every attribute of a trial on its own.
    SQLite's default journal syncs the disk at each commit, tens of
    milliseconds apiece and seconds per trial.  In WAL mode a commit appends to
    the log and the disk is synced at checkpoints: a crash of a worker loses no
    committed trial, and readers no longer wait for the writer, so local
    workers share the file smoothly.  A locked database is waited for (60 s)
    rather than failing while another worker writes.
    """
    import sqlite3

    connection = sqlite3.connect(path, timeout=60)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    return connection


@functools.lru_cache(maxsize=4)
def study_storage(url: str) -> Any:
    """The study's storage, opened once per URL (opening checks the schema, which is slow).

    A path without a scheme is an Optuna journal file: an append-only log that
    local workers share through a lock file.  Creating one costs milliseconds
    where a new SQLite database takes about a second to build its schema, and
    each trial appends a few lines instead of committing a dozen transactions.
    A URL (``sqlite:///...``, ``postgresql://...``) is a database, for workers
    on many machines.
    """
    import optuna

    if "://" not in url:
        from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

        lock = JournalFileOpenLock(f"{url}.lock")  # an O_EXCL lock file: local workers
        return optuna.storages.JournalStorage(JournalFileBackend(url, lock_obj=lock))
    import sqlalchemy.exc
    from sqlalchemy.engine import make_url

    kwargs = None
    if url.startswith("sqlite:"):
        path = make_url(url).database
        in_memory = path in (None, "", ":memory:")
        kwargs = {"connect_args": {"timeout": 60}} if in_memory else {
            "creator": functools.partial(_connect_sqlite, path)
        }
    for attempt in range(1, 6):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.OperationalError):
            # Workers that start together race to create a new database's tables:
            # the loser finds them made a moment later.
            if attempt == 5:
                raise
            time.sleep(0.2 * attempt)


def open_study(config: SearchConfig, seed_offset: Callable[[int], int] | None = None) -> Any:
    """Create the study or open it; refuse one that was started for another search.

    The sampler's seed is the search's seed for a new study; a worker joining
    a study with trials in it adds their count, so it does not draw the same
    candidates in the same order as the workers before it.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = study_storage(config.storage_url)
    probe = optuna.create_study(
        study_name=config.study_name,
        storage=storage,
        direction=config.direction,
        load_if_exists=True,
    )
    existing = len(probe.get_trials(deepcopy=False))
    seed = config.training.seed + existing
    sampler = (
        optuna.samplers.RandomSampler(seed=seed)
        if config.sampler == "random"
        else optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(5, config.trials))
    )
    pruner = {
        "none": optuna.pruners.NopPruner(),
        "median": optuna.pruners.MedianPruner(n_startup_trials=2),
        "hyperband": optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=config.training.epochs
        ),
    }[config.pruner]
    study = optuna.load_study(
        study_name=config.study_name, storage=storage, sampler=sampler, pruner=pruner
    )
    key = json.dumps(config.study_key(), sort_keys=True)
    stored = study.user_attrs.get("search")
    if stored is None:
        study.set_user_attr("search", key)
        study.set_user_attr("metric", config.metric)
        study.set_user_attr("dataset", str(config.dataset))
    elif stored != key:
        raise CnngenError(
            f"--study-name: the study {config.study_name!r} in {config.storage_url} was "
            f"started with other search options ({_difference(stored, key)}); rerun it with "
            f"those, or give a new --study-name or --out",
            "--study-name",
        )
    return study


def _difference(stored: str, wanted: str) -> str:
    old, new = json.loads(stored), json.loads(wanted)
    changed = []
    for part in ("space", "training"):
        for name in sorted(set(old[part]) | set(new[part])):
            if old[part].get(name) != new[part].get(name):
                changed.append(f"{name} was {old[part].get(name)}")
    return ", ".join(changed[:3]) or "different options"


def completed(study: Any) -> list[Any]:
    """The study's finished trials (those with a value), from every worker."""
    from optuna.trial import TrialState

    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


# Who runs a trial: this machine and process, recorded on each trial.
WORKER = f"{socket.gethostname()}:{os.getpid()}"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0 checks that the process exists and sends nothing
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # it exists (another user's) or cannot be told: assume it runs
    return True


def _still_running(other: Any, since: datetime.datetime) -> bool:
    """Whether another worker's running trial will finish (and so holds a place).

    A trial of this machine runs while its process lives.  Any other (from
    another machine, or one that has not written its worker yet) runs if it
    started after this worker did; an older one is taken as left behind by a
    killed worker.
    """
    host, _, pid = str(other.user_attrs.get("worker", "")).rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        return _process_alive(int(pid))
    return other.datetime_start is not None and other.datetime_start >= since


class LeftToOthers(Exception):
    """The study's finished trials and the running ones asked before this one fill --trials."""


def run_search(config: SearchConfig, echo: Callable[[str], None], study: Any = None) -> Any:
    """Run trials until the study holds ``config.trials`` finished ones; return the study.

    With several workers on one study, a worker trains a candidate only while
    the finished trials and the running ones asked before it (by any worker)
    leave room under ``config.trials``; otherwise it stops and leaves them to
    finish, so workers together do not train more than ``--trials``.  A
    trial that was already running when this worker started is not counted:
    it is the one a killed worker left behind, which never finishes.  On this
    machine that is known for sure: each trial records its worker's host and
    process id, and a trial whose process is gone is not waited for.
    """
    import optuna

    study = study if study is not None else open_study(config)
    started = datetime.datetime.now()  # Optuna stamps trials with naive local times too
    dataset_text = config.dataset.read_text(encoding="utf-8")
    done = len(completed(study))
    if done:
        echo(f"resuming study {config.study_name!r}: {done} of {config.trials} trials done")
    attempts = 0
    while len(completed(study)) < config.trials:
        if attempts >= ATTEMPTS_PER_TRIAL * config.trials:
            echo(f"stopped after {attempts} candidates: most were pruned (see the counts below)")
            break
        attempts += 1
        trial = study.ask()
        try:
            value = run_trial(trial, study, config, dataset_text, echo, started)
        except LeftToOthers as left:
            trial.set_user_attr("pruned", "left to other workers' running trials")
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            echo(f"trial {trial.number}: not trained: {left}")
            break
        except optuna.TrialPruned as pruned:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            if trial.user_attrs.get("trained"):
                echo(f"trial {trial.number}: pruned early ({pruned})")
            continue
        except TrialFailed as failed:
            trial.set_user_attr("failed", str(failed))
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            echo(f"trial {trial.number}: failed: {failed}")
            continue
        except BaseException:
            # Ctrl-C or a bug: the trial is marked failed so the study does not wait on it.
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            raise
        study.tell(trial, value)
    return study


def run_trial(
    trial: Any,
    study: Any,
    config: SearchConfig,
    dataset_text: str,
    echo: Callable[[str], None],
    started: datetime.datetime | None = None,
) -> float:
    """Choose, plan, write and train one candidate; the trial's value is its metric.

    ``started`` is when this worker began: running trials asked before this one
    since then hold a place under ``--trials`` (see :func:`run_search`).
    """
    import optuna
    from optuna.trial import TrialState

    trial.set_user_attr("worker", WORKER)  # first, so other workers can tell it is alive
    options = config.space.sample(OptunaChooser(trial))
    trial.set_user_attr("options", options)
    candidate = make_candidate(config.space, options)
    if not candidate.fits:
        reason = refusal_reason(candidate)
        trial.set_user_attr("pruned", reason)
        trial.set_user_attr("detail", candidate.refused or reason)
        raise optuna.TrialPruned(reason)
    plan = candidate.plan
    measures = candidate.measures or {}
    for name, value in measures.items():
        trial.set_user_attr(name, value)
    trial.set_user_attr("command", "cnngen " + plan.command)
    key = candidate_key(options)
    others = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING))
    done = [other for other in others if other.state == TrialState.COMPLETE]
    for other in done:
        if other.user_attrs.get("options") is not None and candidate_key(
            other.user_attrs["options"]
        ) == key:
            # The same candidate with the same seed trains to the same metric: not a new
            # experiment, so it is pruned and does not count towards --trials.
            trial.set_user_attr("same_as", other.number)
            trial.set_user_attr("pruned", "repeats of a finished candidate")
            raise optuna.TrialPruned(f"same candidate as trial {other.number}")
    since = started or datetime.datetime.max
    ahead = [
        other.number
        for other in others
        if other.state == TrialState.RUNNING
        and other.number < trial.number
        and _still_running(other, since)
    ]
    if len(done) + len(ahead) >= config.trials:
        raise LeftToOthers(
            f"{len(done)} finished and trial(s) {', '.join(map(str, ahead))} running "
            f"elsewhere make the {config.trials} of --trials"
        )
    folder = config.out / "trials" / str(trial.number)
    started = time.perf_counter()
    write_files(folder, render_files(plan, config.training, dataset_text))
    trial.set_user_attr("render_seconds", round(time.perf_counter() - started, 3))
    trial.set_user_attr("folder", str(folder))
    trial.set_user_attr("trained", True)
    echo(f"trial {trial.number}: {short_name(options)} ({measures['params']:,} parameters) ...")
    result = _train_with_pruning(trial, folder, config)
    if config.metric not in result.summary:
        raise TrialFailed(
            f"the training script's summary has no {config.metric!r} (keys: "
            f"{', '.join(sorted(result.summary))})"
        )
    value = float(result.summary[config.metric])
    trial.set_user_attr("seconds", round(result.seconds, 3))
    trial.set_user_attr("seconds_per_step", round(result.seconds_per_step, 5))
    trial.set_user_attr("steps", result.steps)
    echo(
        f"trial {trial.number}: {config.metric} {value:.4f} in {result.seconds:.1f} s "
        f"({len(done) + 1}/{config.trials})"
    )
    return value


def _train_with_pruning(trial: Any, folder: Path, config: SearchConfig) -> TrainResult:
    """Train to the budget; with a pruner, one epoch at a time, reporting each to Optuna.

    Epoch by epoch means ``--resume`` from the last checkpoint, which the
    training script continues exactly as an unbroken run.  A budget of steps
    (``--budget-steps``) is trained in one go.
    """
    import optuna

    training = config.training
    if config.pruner == "none" or training.max_steps is not None or training.epochs == 1:
        return train(folder, training)
    seconds = 0.0
    result: TrainResult | None = None
    for epoch in range(1, training.epochs + 1):
        result = train(folder, training, epochs=epoch, resume=epoch > 1)
        seconds += result.seconds
        trial.report(float(result.summary[config.metric]), epoch)
        if epoch < training.epochs and trial.should_prune():
            raise optuna.TrialPruned(f"epoch {epoch}")
    assert result is not None
    return TrainResult(result.summary, seconds, result.steps)


def short_name(options: dict[str, Any]) -> str:
    """A candidate in a few words, for progress lines and the leaderboard."""
    if "preset" in options:
        return f"preset {options['preset']}"
    words = [f"{options['layers']} layers", f"width {options['start_channels']}"]
    words.append(options["channel_rule"])
    if "block" in options:
        words.append(options["block"])
    words.append(f"k{options['kernel']}")
    for flag in ("se", "depthwise"):
        if options.get(flag):
            words.append(flag)
    if "head" in options:
        words.append(f"head {options['head']}")
    if options["norm"] != "batchnorm":
        words.append(f"norm {options['norm']}")
    if options["dropout"]:
        words.append(f"dropout {options['dropout']}")
    return ", ".join(words)


def pruned_counts(study: Any) -> Counter[str]:
    """Why candidates were not trained (or not to the end), counted over the study."""
    from optuna.trial import TrialState

    counts: Counter[str] = Counter()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.PRUNED,)):
        counts[trial.user_attrs.get("pruned", "pruned early by the pruner")] += 1
    return counts


def echo_stderr(line: str) -> None:
    """Progress goes to stderr, so stdout keeps only the leaderboard."""
    print(line, file=sys.stderr, flush=True)
