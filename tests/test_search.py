"""``cnngen search``: exact candidates, trained by the generated script, in a resumable study.

The data is a slice of scikit-learn's bundled digits (8x8 images); every
trial trains a few steps, so the whole file runs in well under a minute.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")
pytest.importorskip("torch")

from cnngen.errors import CnngenError  # noqa: E402
from cnngen.search.report import Row, pareto_front  # noqa: E402
from cnngen.search.space import Limits, RandomChooser, Space, check_feasible, make_candidate  # noqa: E402
from cnngen.search.study import study_storage  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
FIXED = {"input_size": [8, 8], "in_channels": 1, "classes": 10}


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dataset file over 160 digits, its arrays at absolute paths."""
    import numpy as np

    from cnngen.rendering.datafiles import render_arrays

    load_digits = pytest.importorskip("sklearn.datasets").load_digits

    folder = tmp_path_factory.mktemp("digits")
    data = load_digits()
    np.save(folder / "x.npy", (data.images[:160] / 16.0).astype(np.float32))
    np.save(folder / "y.npy", data.target[:160].astype(np.int64))
    path = folder / "dataset.py"
    path.write_text(render_arrays(x_path=str(folder / "x.npy"), y_path=str(folder / "y.npy")))
    return path


@pytest.fixture(scope="module")
def searched(digits: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """One finished 3-trial search, shared by the tests that only read it: (OUT, stdout, stderr)."""
    from cnngen.cli import main

    out = tmp_path_factory.mktemp("searched") / "search"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        with pytest.raises(SystemExit) as exit_info:
            main(search_args(digits, out))
    assert exit_info.value.code == 0, stderr.getvalue()
    return out, stdout.getvalue(), stderr.getvalue()


def search_args(dataset: Path, out: Path, *extra: str) -> list[str]:
    """A tiny search: two widths, 1-2 layers, lenet5 (refused at 8x8), two steps a trial."""
    return [
        "search", "--dataset", str(dataset), "--task", "classification", "--out", str(out),
        "--trials", "3", "--budget-epochs", "1", "--budget-steps", "2", "--batch-size", "16",
        "--widths", "4,8", "--layers", "1-2", "--blocks", "plain,residual", "--kernels", "3",
        "--norms", "batchnorm", "--dropouts", "0", "--se", "off", "--depthwise", "off",
        *extra,
    ]  # fmt: skip


def load(out: Path, name: str = "cnngen-search") -> optuna.Study:
    storage = study_storage(str((out / "study.journal").resolve()))
    return optuna.load_study(study_name=name, storage=storage)


def finished(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))


# ------------------------------------------------------------ space and limits
def test_every_drawn_candidate_is_an_exact_plan_or_a_counted_refusal() -> None:
    space = Space(task="classification", fixed=FIXED, layers=(1, 6))
    chooser = RandomChooser(7)
    draws = [space.sample(chooser) for _ in range(40)]
    again = RandomChooser(7)
    assert draws == [space.sample(again) for _ in range(40)]  # the seed fixes the draws
    planned = refused = 0
    for options in draws:
        candidate = make_candidate(space, options)
        if candidate.plan is None:
            assert candidate.refused
            refused += 1
        else:
            assert candidate.plan.input_shape == (1, 8, 8)
            assert candidate.plan.output_shape == (10,)
            planned += 1
    # 6 layers do not fit an 8x8 input, and lenet5 wants at least its own input size.
    assert planned and refused


def test_impossible_limit_names_the_limit_and_the_value_that_works() -> None:
    space = Space(task="classification", fixed=FIXED, limits=Limits(max_params=10))
    with pytest.raises(CnngenError) as error:
        check_feasible(space, seed=0)
    assert error.value.param == "--max-params"
    message = str(error.value)
    assert "relax --max-params to" in message
    smallest = int(message.split("relax --max-params to ")[1].split()[0])
    fits = Space(task="classification", fixed=FIXED, limits=Limits(max_params=smallest))
    check_feasible(fits, seed=0)  # that value lets a candidate through


def test_pareto_front_keeps_only_the_undominated() -> None:
    def row(trial: int, value: float, params: int) -> Row:
        return Row(trial, value, params, params * 10, 0, 0.0, 0.0, 0.0, "", "", {})

    board = [row(0, 0.9, 1000), row(1, 0.8, 100), row(2, 0.7, 500), row(3, 0.9, 2000)]
    assert [r.trial for r in pareto_front(board, "params", maximize=True)] == [1, 0]
    assert [r.trial for r in pareto_front(board, "macs", maximize=False)] == [1, 2]


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("extra", "param"),
    [
        (("--max-params", "10"), "--max-params"),
        (("--widths", "8,x"), "--widths"),
        (("--layers", "3-1"), "--layers"),
        (("--blocks", "plain,dense"), "--blocks"),
        (("--max-macs", "lots"), "--max-macs"),
        (("--storage", "nosuchdb://nowhere/study"), "--storage"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    run_cli, digits: Path, tmp_path: Path, extra: tuple[str, ...], param: str
) -> None:
    out = tmp_path / "out"
    result = run_cli(*search_args(digits, out, *extra))
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {param}:"), result.err
    assert "Traceback" not in result.err
    assert not out.exists()


def test_missing_dataset_file(run_cli, tmp_path: Path) -> None:
    result = run_cli(*search_args(tmp_path / "nope.py", tmp_path / "out"))
    assert result.code == 2
    assert result.err.startswith("Error: --dataset:") and "cnngen dataset" in result.err
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------ a whole search
def test_search_ranks_trials_resumes_and_skips_what_is_done(
    run_cli, digits: Path, searched: tuple[Path, str, str], tmp_path: Path
) -> None:
    out = tmp_path / "search"
    shutil.copytree(searched[0], out)
    study = load(out)
    done = finished(study)
    assert len(done) == 3
    for trial in done:
        folder = out / "trials" / str(trial.number)
        assert {"model.py", "train.py", "dataset.py"} <= {p.name for p in folder.iterdir()}
        metrics = json.loads((folder / "runs" / "metrics.json").read_text())
        assert metrics["accuracy"] == trial.value
        assert metrics["steps"] == 2
        assert trial.user_attrs["command"].startswith("cnngen model classifier --input-size 8x8")
    # lenet5 is refused at 8x8: pruned, the reason kept, nothing trained.
    pruned = study.get_trials(states=(optuna.trial.TrialState.PRUNED,))
    for trial in pruned:
        assert trial.user_attrs["pruned"].startswith(("solver", "over", "repeats"))
        assert not (out / "trials" / str(trial.number)).exists()

    with open(out / "leaderboard.csv", newline="") as handle:
        board = list(csv.DictReader(handle))
    values = [float(row["value"]) for row in board]
    assert len(board) == 3 and values == sorted(values, reverse=True)
    assert board[0]["trial"] == str(max(done, key=lambda t: (t.value, -t.user_attrs["params"],
                                                             -t.number)).number)
    assert (out / "leaderboard.md").read_text().count("\n| ") == 5
    assert json.loads((out / "leaderboard.json").read_text())["finished"] == 3
    front = list(csv.DictReader(open(out / "pareto.csv", newline="")))
    assert {row["cost"] for row in front} == {"params", "macs"}
    assert "rank" in searched[1] and "accuracy" in searched[1]  # the table on stdout
    assert ("matplotlib is not installed" in searched[2]) != (out / "pareto.png").exists()
    best = out / "best"
    trial_folder = out / "trials" / board[0]["trial"]
    for name in ("model.py", "train.py", "dataset.py"):
        assert (best / name).read_text() == (trial_folder / name).read_text()
    assert "python train.py --max-steps 2" in (best / "README.md").read_text()

    # The same command again: nothing left to do, no trial trained again.
    logs = {p: p.read_text() for p in (out / "trials").glob("*/train.log")}
    again = run_cli(*search_args(digits, out))
    assert again.code == 0, again.err
    assert "resuming" in again.err
    assert len(load(out).trials) == len(study.trials)
    assert {p: p.read_text() for p in (out / "trials").glob("*/train.log")} == logs

    # A stopped search (a worker killed mid-trial leaves it running) continues to 4.
    stale = load(out).ask()
    more = run_cli(*search_args(digits, out, "--trials", "4"))
    assert more.code == 0, more.err
    study = load(out)
    assert len(finished(study)) == 4
    assert study.trials[stale.number].state == optuna.trial.TrialState.RUNNING
    assert {p: p.read_text() for p in (out / "trials").glob("*/train.log")
            if p in logs} == logs  # the first three were not trained again

    # Other search options on the same study are refused, not mixed in.
    other = run_cli(*search_args(digits, out, "--widths", "16"))
    assert other.code == 2 and other.err.startswith("Error: --study-name:")


@pytest.mark.slow
def test_best_folder_reproduces_its_trial_metric(searched: tuple[Path, str, str]) -> None:
    out = searched[0]
    board = list(csv.DictReader(open(out / "leaderboard.csv", newline="")))
    best = out / "best"
    line = (best / "README.md").read_text().split("    python ")[1].splitlines()[0]
    env = {**os.environ, "PYTHONPATH": ""}
    subprocess.run(
        [sys.executable, *line.split()], cwd=best, env=env, check=True, capture_output=True,
        timeout=120,
    )
    metrics = json.loads((best / "runs" / "metrics.json").read_text())
    assert metrics["accuracy"] == float(board[0]["value"])


@pytest.mark.slow
def test_two_workers_share_one_study_without_duplicates(digits: Path, tmp_path: Path) -> None:
    out = tmp_path / "shared"
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = [sys.executable, "-m", "cnngen", *search_args(digits, out, "--trials", "2")]
    workers = [
        subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
        for _ in range(2)
    ]
    outputs = [worker.communicate(timeout=180) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs
    study = load(out)
    numbers = [trial.number for trial in study.trials]
    assert len(numbers) == len(set(numbers))
    done = finished(study)
    # Finished and running trials are counted before a worker trains: never more than 2.
    assert len(done) == 2, [(t.number, t.state, t.user_attrs.get("pruned")) for t in study.trials]
    trained = done
    for trial in trained:  # each trained trial ran once, in its own folder
        log = (out / "trials" / str(trial.number) / "train.log").read_text()
        assert log.count("epoch 1/1 ") == 1
    started = {int(line.split()[1].rstrip(":")) for err in (o[1] for o in outputs)
               for line in err.splitlines() if line.endswith("...")}
    per_worker = [{int(line.split()[1].rstrip(":")) for line in o[1].splitlines()
                   if line.endswith("...")} for o in outputs]
    assert not per_worker[0] & per_worker[1]  # no trial trained by both
    assert started == {t.number for t in trained}


@pytest.mark.slow
def test_the_cli_starts_without_optuna_or_torch() -> None:
    code = (
        "import sys\nfrom cnngen.cli import app\n"
        "assert app.cli.get_command(None, 'search') is not None\n"
        "print(sorted(m for m in ('optuna', 'torch') if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True, timeout=60)
    assert done.stdout.strip() == "[]"
