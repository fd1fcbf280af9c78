"""One trial: a candidate's files in a folder of their own, trained by the generated script.

The files are what ``cnngen model`` and ``cnngen train`` write for the
candidate, plus a copy of the dataset file, so a trial's folder runs on its
own (``python train.py``).  Training calls the generated script's
``main(argv)`` in this process, with its ordinary command-line arguments:
the same code a user runs, without starting a Python and importing torch
again for every trial.  The script is a black box here; only its arguments
(``--epochs --seed --out --max-steps --resume``) and its summary (the dict
``main`` returns, also ``metrics.json``) are relied on.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from cnngen.errors import CnngenError

# The sibling modules a generated train.py imports by name; each trial has its own.
SIBLINGS = ("model", "dataset")
LOG = "train.log"
INTERRUPTED = 130  # the training script's exit status after Ctrl-C


class TrialFailed(Exception):
    """The training script stopped with an error; the line says why (the log has the rest)."""


@dataclass(frozen=True)
class Training:
    """How every trial is trained: the budget and the training script's defaults."""

    task: str
    epochs: int
    max_steps: int | None = None
    seed: int = 0
    batch_size: int = 32
    lr: float = 1e-3

    def arguments(self, out: Path, epochs: int | None = None) -> list[str]:
        """The training script's command-line arguments for one run into ``out``."""
        argv = ["--epochs", str(epochs or self.epochs), "--seed", str(self.seed), "--out", str(out)]
        if self.max_steps is not None:
            argv += ["--max-steps", str(self.max_steps)]
        return argv

    def train_words(self, model_class: str) -> list[str]:
        """The ``cnngen train`` arguments that write a trial's train.py."""
        return [
            "train",
            "--task",
            self.task,
            "--model-class",
            model_class,
            "--epochs",
            str(self.epochs),
            "--batch-size",
            str(self.batch_size),
            "--lr",
            repr(float(self.lr)),
            "--seed",
            str(self.seed),
            "--output",
            "train.py",
        ]

    def reproduce_line(self) -> str:
        """What to run in a trial's folder to train it as the search did."""
        extra = [] if self.max_steps is None else ["--max-steps", str(self.max_steps)]
        return shlex.join(["python", "train.py", *extra])


@functools.lru_cache(maxsize=8)
def render_script(
    training: Training,
    model_class: str,
    extra_weights: tuple[float, ...] = (),
    extra_steps: tuple[tuple[int, ...], ...] = (),
) -> str:
    """The training script every trial of a search shares (it depends on the class name, and
    on the weights of training-only heads where the model has them).

    Rendered once per worker and class name: formatting the long script
    takes seconds, far more than a small trial's training.
    """
    from cnngen.rendering.datafiles import render_train

    return render_train(
        task=training.task,
        model_class=model_class,
        epochs=training.epochs,
        batch_size=training.batch_size,
        lr=training.lr,
        seed=training.seed,
        command=shlex.join(training.train_words(model_class)),
        extra_weights=extra_weights,
        extra_steps=extra_steps,
    )


def render_files(plan: Any, training: Training, dataset_text: str) -> dict[str, str]:
    """A trial's files, rendered with the generator's own API: model, training script, dataset."""
    import cnngen
    from cnngen.rendering.datafiles import extra_options

    return {
        "model.py": cnngen.render(plan),
        "train.py": render_script(training, plan.class_name, **extra_options(plan.extras)),
        "dataset.py": dataset_text,
    }


def write_files(folder: Path, files: dict[str, str]) -> None:
    """Write the files into ``folder`` (created), each through a temporary file."""
    from cnngen.search.files import write_text

    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        write_text(folder / name, text)


@contextlib.contextmanager
def sibling_imports(folder: Path):
    """Let ``from model import ...`` in ``folder``'s train.py find that folder's files.

    Another trial's ``model`` and ``dataset`` modules are taken out of
    ``sys.modules`` first, and this trial's afterwards, so no trial sees
    another's model.
    """
    saved_path = list(sys.path)
    saved = {name: sys.modules.pop(name) for name in SIBLINGS if name in sys.modules}
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        sys.path[:] = saved_path
        for name in SIBLINGS:
            sys.modules.pop(name, None)
        sys.modules.update(saved)


def load_script(path: Path, name: str) -> ModuleType:
    """Import a generated script as a module (its ``__main__`` block does not run)."""
    spec = importlib.util.spec_from_file_location(name, str(path))
    if spec is None or spec.loader is None:  # pragma: no cover - a .py path always loads
        raise TrialFailed(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_script(folder: Path, argv: list[str], log_path: Path) -> dict[str, Any]:
    """Run ``folder/train.py``'s ``main(argv)`` here, its output appended to ``log_path``.

    The script ends what goes wrong with ``SystemExit`` and a line; that
    line becomes :class:`TrialFailed`, so one broken trial does not end the
    search.
    """
    with (
        sibling_imports(folder),
        open(log_path, "a", encoding="utf-8") as log,
        contextlib.redirect_stdout(log),
        contextlib.redirect_stderr(log),
    ):
        try:
            module = load_script(folder / "train.py", f"cnngen_search_train_{abs(hash(folder))}")
            summary = module.main(argv)
        except SystemExit as stop:
            if stop.code == INTERRUPTED:
                # The script saved interrupted.pt on Ctrl-C; the search stops too.
                raise KeyboardInterrupt from None
            if stop.code in (0, None):
                summary = None
            else:
                raise TrialFailed(_last_line(str(stop.code), log_path)) from None
        except KeyboardInterrupt:
            raise
        except Exception as error:  # noqa: BLE001 - the trial's own failure, reported as one line
            raise TrialFailed(f"{type(error).__name__}: {error}".splitlines()[0]) from None
    if not isinstance(summary, dict):
        summary = _read_metrics(Path(argv[argv.index("--out") + 1]) / "metrics.json")
    return summary


def _last_line(code: str, log_path: Path) -> str:
    if code.strip() and not code.strip().isdigit():
        return code.strip().splitlines()[-1]
    lines = [line for line in log_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return lines[-1] if lines else f"the training script exited with status {code}"


def _read_metrics(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise TrialFailed(f"the training script wrote no readable {path}: {error}") from None


@dataclass
class TrainResult:
    """What a trial's training measured."""

    summary: dict[str, Any]
    seconds: float
    steps: int

    @property
    def seconds_per_step(self) -> float:
        return self.seconds / max(self.steps, 1)


def train(folder: Path, training: Training, epochs: int | None = None, resume: bool = False):
    """Train the trial in ``folder`` (to ``epochs``, by default the budget); time it."""
    out = folder / "runs"
    argv = training.arguments(out, epochs)
    if resume:
        argv += ["--resume", str(out / "last.pt")]
    started = time.perf_counter()
    summary = run_script(folder, argv, folder / LOG)
    seconds = time.perf_counter() - started
    return TrainResult(summary, seconds, int(summary.get("steps", 0) or 0))


# ---------------------------------------------------------------- the dataset
@dataclass(frozen=True)
class DataShape:
    """What the dataset fixes for every candidate: the input and the output width."""

    input_size: tuple[int, ...]
    in_channels: int
    outputs: int  # classes, or output channels (frames) for forecasting

    def fixed_options(self, task: str) -> dict[str, Any]:
        options: dict[str, Any] = {
            "input_size": list(self.input_size),
            "in_channels": self.in_channels,
        }
        options["classes" if task == "classification" else "out_channels"] = self.outputs
        return options


def probe_dataset(path: Path, task: str, seed: int, classes: int | None = None) -> DataShape:
    """Import the dataset file, call ``make_datasets(seed)`` and read one sample's shapes.

    The class count is ``classes`` when given, else the training set's
    ``classes`` attribute, else one more than the largest label (the masks'
    largest value for segmentation, over the first samples).
    """
    option = "--dataset"
    try:
        with sibling_imports(path.parent), contextlib.redirect_stdout(sys.stderr):
            module = load_script(path, "cnngen_search_dataset")
            splits = module.make_datasets(seed)
            train_set = splits[0]
            x, y = train_set[0]
            shape = tuple(int(n) for n in x.shape)
            if task == "forecasting":
                outputs = int(y.shape[0])
            elif classes is not None:
                outputs = classes
            elif getattr(train_set, "classes", None) is not None:
                outputs = len(train_set.classes)
            else:
                count = len(train_set) if task == "classification" else min(len(train_set), 64)
                outputs = 1 + max(int(train_set[i][1].max()) for i in range(count))
    except Exception as error:  # noqa: BLE001 - whatever the user's dataset file raises
        raise CnngenError(
            f"{option}: {path} did not give make_datasets(seed) -> (train, val) samples "
            f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}); "
            f"write it with `cnngen dataset ...`",
            option,
        ) from None
    if len(shape) < 2:
        raise CnngenError(
            f"{option}: a sample of {path} has shape {shape}; the models take "
            f"[channels, *spatial] samples",
            option,
        )
    return DataShape(shape[1:], shape[0], max(outputs, 1))
