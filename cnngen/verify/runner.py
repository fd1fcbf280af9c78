"""``cnngen verify FILE``: prove a model file does what its constants say.

The file is run in a separate process under a time limit, so a file that
crashes, hangs or exhausts memory costs a failed verdict, never cnngen
itself.  This module starts :mod:`cnngen.verify.guard`, which contains the
run (nothing the file starts outlives it) and forks the worker
(:mod:`cnngen.verify.child`).  The worker sends its report over a pipe,
stamped with a nonce this module chose, after every check (the model file
owns stdout and stderr); when the time limit strikes, the results finished so
far are kept and the stage that hung is named.  This module never imports
torch.

Exit status: 0 when no check failed (skipped checks and warnings are fine), 1 when any
check failed or the file could not be run (syntax error, import error, not a
cnngen file, timeout), 2 for bad usage (missing file, not a ``.py`` file, bad
option values).  The JSON schema is documented in ``docs/verify.md``.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from cnngen.core.checks import check_count, check_number
from cnngen.errors import CnngenError

DEFAULT_TIMEOUT = 120.0
DEVICES = ("auto", "cuda", "cpu")
# Limits on the options (docs/verify.md): a batch of random inputs, Adam
# steps, and a time limit of at most a week.
MAX_BATCH = 65536
MAX_STEPS = 100_000
MAX_TIMEOUT = 7 * 24 * 3600.0
MIN_MEMORY = 256  # MiB: torch alone needs about this much to import
MAX_MEMORY = 2**30  # MiB: a pebibyte, in effect no cap

CHECK_NAMES = (
    "forward",
    "output_shape",
    "layer_shapes",
    "params",
    "macs",
    "resize",
    "structure",
    "gradients",
    "training",
    "equivariance",
    "export",
    "onnx",
    "artifacts",
    "torchscript",
    "fx",
    "autocast",
    "compile",
)
"""Every check in the order it runs (the worker's CHECKS table has the same keys)."""
SELECTABLE = (*CHECK_NAMES, "measure")
"""What ``--checks`` and ``--skip`` accept: every check, and ``measure`` (latency and memory)."""


def select_checks(
    checks: str | list[str] | tuple[str, ...] | None,
    skip: str | list[str] | tuple[str, ...] | None = None,
) -> list[str]:
    """The names to run, in run order: ``checks`` (all when None) less ``skip``.

    Each may be a comma-separated string (as typed after ``--checks``) or a
    sequence of names.  An unknown name is a usage error naming it and the
    valid ones; so is a selection that leaves nothing to run.
    """

    def names(value: str | list[str] | tuple[str, ...] | None, param: str) -> set[str] | None:
        if value is None:
            return None
        items = value.split(",") if isinstance(value, str) else list(value)
        chosen = set()
        for item in items:
            name = str(item).strip()
            if not name:
                continue
            if name not in SELECTABLE:
                raise CnngenError(
                    f"{param}: {name!r} is not a check; valid: {', '.join(SELECTABLE)}", param
                )
            chosen.add(name)
        return chosen

    wanted = names(checks, "--checks")
    dropped = names(skip, "--skip") or set()
    if wanted is not None and not wanted:
        raise CnngenError(f"--checks: name at least one of {', '.join(SELECTABLE)}", "--checks")
    selected = [
        name for name in SELECTABLE if (wanted is None or name in wanted) and name not in dropped
    ]
    if not selected:
        raise CnngenError(
            f"--skip: nothing is left to run; keep at least one of {', '.join(SELECTABLE)}",
            "--skip",
        )
    return selected


def _check_usage(path: Path, device: str, batch: int, steps: int, timeout: float) -> None:
    """Problems found before anything runs are usage errors (exit 2)."""
    if not path.exists():
        raise CnngenError(f"FILE: {path} does not exist; give the path of a model file", "FILE")
    if path.is_dir():
        raise CnngenError(f"FILE: {path} is a directory; give the path of a model .py file", "FILE")
    if path.suffix != ".py":
        raise CnngenError(
            f"FILE: {path} is not a .py file; cnngen verify checks Python model files "
            f"written by `cnngen model`",
            "FILE",
        )
    if device not in DEVICES:
        raise CnngenError(f"--device: {device!r} is not one of auto, cuda, cpu", "--device")
    check_count("--batch", batch, 1, MAX_BATCH)
    check_count("--steps", steps, 0, MAX_STEPS)
    check_number("--timeout", timeout, 0.0, MAX_TIMEOUT, low_open=True, example="120")


def _check_weights(
    weights: str | os.PathLike[str] | None, export_dir: str | os.PathLike[str] | None
) -> Path | None:
    """``--weights`` must name a file; ``--export-dir`` a folder, and only with weights."""
    if export_dir is not None:
        folder = Path(export_dir)
        if not folder.is_dir():
            raise CnngenError(
                f"--export-dir: {folder} is not a folder; give the folder `cnngen export` wrote",
                "--export-dir",
            )
        if weights is None:
            raise CnngenError(
                "--export-dir: give --weights too; exported files hold trained weights, "
                "and a freshly built model cannot match them",
                "--export-dir",
            )
    if weights is None:
        return None
    path = Path(weights)
    if not path.is_file():
        raise CnngenError(
            f"--weights: {path} is not a file; give a state_dict or a train.py checkpoint (.pt)",
            "--weights",
        )
    return path


def _child_environment() -> dict[str, str]:
    """The child must import this very cnngen, installed or not."""
    environment = dict(os.environ)
    package_root = str(Path(__file__).resolve().parent.parent)
    existing = environment.get("PYTHONPATH")
    environment["PYTHONPATH"] = package_root + (os.pathsep + existing if existing else "")
    environment.setdefault("PYTHONUNBUFFERED", "1")
    return environment


# The child's output is read in chunks of this size, never a whole line at once.
CHUNK = 64 * 1024
# A stderr line kept for a crash message is cut to this many bytes.
MAX_TAIL_LINE = 4096
# The longest message the report channel may carry (a report of thousands of layers
# is well below); a longer one marks the run as tampered with.
MAX_MESSAGE = 64 * 2**20


def read_lines(read: Callable[[int], bytes], limit: int) -> Iterator[tuple[bytes, bool]]:
    """``(line, cut)`` for each line of the stream ``read(size)`` returns, in chunks.

    No more than ``limit`` bytes of one line are ever held: a longer line comes
    back as its first ``limit`` bytes with ``cut`` true, and the rest of it is
    skipped as it arrives.  So a child printing a 300 MB line costs the parent
    ``limit`` bytes, not 300 MB.
    """
    buffer = bytearray()
    skipping = False
    while chunk := read(CHUNK):
        scan = len(buffer)  # only the new chunk can hold a newline
        buffer += chunk
        start = 0
        while (end := buffer.find(b"\n", scan)) >= 0:
            if not skipping:
                cut = end - start > limit
                yield bytes(buffer[start : min(end, start + limit)]), cut
            skipping = False
            start = scan = end + 1
        if start:
            del buffer[:start]
        if len(buffer) > limit:
            if not skipping:
                yield bytes(buffer[:limit]), True
            skipping = True
            buffer.clear()
    if buffer and not skipping:
        yield bytes(buffer), False


def _drain(stream: IO[bytes], tail: deque[str]) -> None:
    """Keep the last lines of the child's stderr for crash messages (diagnostics only)."""
    read = getattr(stream, "read1", stream.read)
    for line, cut in read_lines(read, MAX_TAIL_LINE):
        text = line.decode("utf-8", errors="replace").rstrip("\r")
        if text.strip():
            tail.append(text + (" ... (line cut)" if cut else ""))


class Inbox:
    """Messages from the worker, accepted only with this run's nonce and in sequence.

    Anything else on the channel (a line without the nonce, bad JSON, a
    number out of order) marks the run as tampered with: its report cannot
    be trusted, so the verdict is failed.
    """

    def __init__(self, nonce: str, progress: Callable[[str], None] | None) -> None:
        self.nonce = nonce
        self.progress = progress
        self.report: dict[str, Any] | None = None
        self.worker: int | None = None
        self.seq = 0
        self.tampered: str | None = None

    def take(self, line: bytes) -> None:
        if self.tampered is not None:
            return
        prefix = self.nonce.encode() + b" "
        if not line.startswith(prefix):
            self.tampered = "a message without this run's key"
            return
        try:
            message = json.loads(line[len(prefix) :])
        except (ValueError, UnicodeDecodeError):
            self.tampered = "a message that is not JSON"
            return
        if not isinstance(message, dict):
            self.tampered = "a message that is not an object"
            return
        kind = message.get("kind")
        if kind == "worker" and self.worker is None and isinstance(message.get("pid"), int):
            self.worker = message["pid"]
            return
        if message.get("seq") != self.seq + 1:
            self.tampered = "messages out of order"
            return
        self.seq += 1
        if kind == "progress" and isinstance(message.get("line"), str):
            if self.progress is not None:
                self.progress(message["line"])
        elif kind == "report" and _well_formed(message.get("report")):
            self.report = message["report"]
        else:
            self.tampered = f"a malformed {kind!r} message"

    def pump(self, fd: int) -> None:
        """Read the channel until every writer has closed it."""
        with os.fdopen(fd, "rb", buffering=0) as stream:
            for line, cut in read_lines(stream.read, MAX_MESSAGE):
                if cut:
                    if self.tampered is None:
                        self.tampered = f"a message longer than {MAX_MESSAGE:,} bytes"
                    continue
                self.take(line)


# Every status a check may end with, in the order the summary line counts them.
CHECK_STATUSES = ("passed", "failed", "warning", "skipped")


def _well_formed(report: Any) -> bool:
    """The shape the parent relies on: the skeleton's keys, checks with known statuses."""
    if not isinstance(report, dict):
        return False
    if not all(key in report for key in ("stage", "error", "checks", "metrics", "options")):
        return False
    checks = report["checks"]
    if not isinstance(checks, list):
        return False
    names = set()
    for check in checks:
        if not (
            isinstance(check, dict)
            and isinstance(check.get("name"), str)
            and check.get("status") in CHECK_STATUSES
            and isinstance(check.get("message"), str)
            and check["name"] not in names
        ):
            return False
        names.add(check["name"])
    return True


def _kill_group(pid: int | None) -> None:
    if pid is None or os.name != "posix":
        return
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _stop(process: subprocess.Popen[bytes], worker: int | None) -> None:
    """End the run: the guard kills everything the file started and removes its folder.

    Closing the life pipe asks the guard to do that; should it not be gone
    within a few seconds, its group and the worker's are killed outright.
    """
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        _kill_group(process.pid)
        _kill_group(worker)
        if os.name != "posix":
            process.kill()
        process.wait()


SCHEMA_VERSION = 1

ENVIRONMENT_KEYS = (
    "python",
    "torch",
    "numpy",
    "onnx",
    "onnxruntime",
    "device",
    "device_name",
    "cpu_count",
    "torch_threads",
    "load_average",
)


def report_skeleton(
    path: Path, options: dict[str, Any], environment: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The report before any check ran: every key of the schema, values unknown.

    The child process starts from this and fills it in; the parent uses it
    as is when the child died before it could write a report.  One source
    for both keeps the schema in docs/verify.md true for either path.
    """
    environment = environment or {}
    return {
        "schema": SCHEMA_VERSION,
        "file": str(Path(path).resolve()),
        "verdict": "failed",
        "error": None,
        "stage": "start",
        "options": dict(options),
        "environment": {key: environment.get(key) for key in ENVIRONMENT_KEYS},
        "model": {
            "class_name": None,
            "family": None,
            "input_shape": None,
            "output_shape": None,
            "equivariant": False,
            "weights": None,
        },
        "checks": [],
        "metrics": {
            "params": None,
            "params_declared": None,
            "macs_measured": None,
            "macs_declared": None,
            "macs_agree": None,
            "memory": None,
            "latency": {},
            "mixed_precision": None,
        },
    }


def verify_file(
    path: str | os.PathLike[str],
    device: str = "auto",
    batch: int = 2,
    steps: int = 5,
    compile: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    progress: Callable[[str], None] | None = None,
    measure: bool = True,
    max_memory: int | None = None,
    checks: str | list[str] | tuple[str, ...] | None = None,
    skip: str | list[str] | tuple[str, ...] | None = None,
    weights: str | os.PathLike[str] | None = None,
    export_dir: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Verify one model file in a child process and return the report (see docs/verify.md).

    Raises :class:`~cnngen.errors.CnngenError` for usage errors (missing file,
    not a ``.py`` file, bad option values, ``device="cuda"`` without CUDA).
    Every problem with the file itself is a ``"failed"`` verdict in the
    returned report, with ``report["error"]`` set when it stopped the run.
    ``progress`` receives one short line per step as the run goes;
    ``measure=False`` leaves out latency, throughput and memory (for fast
    tests; every check still runs).  ``max_memory`` caps the verifying
    process's heap in MiB.  ``checks`` and ``skip`` select checks by name
    (:data:`SELECTABLE`; a comma-separated string or a list), as
    ``--checks``/``--skip`` do.  ``weights`` is a state_dict or a train.py
    checkpoint to load (strictly) before the checks run; ``export_dir`` a
    folder holding ``STEM.pt2``/``STEM.onnx`` exported from those weights,
    whose outputs must match (by default the model file's own folder, when
    it holds them).

    The file's code runs with the caller's rights; :mod:`cnngen.verify.guard`
    describes how the run is contained and what that does not cover.
    """
    path = Path(path)
    _check_usage(path, device, batch, steps, timeout)
    if max_memory is not None:
        check_count("--max-memory", max_memory, MIN_MEMORY, MAX_MEMORY)
    selected = select_checks(checks, skip)
    measure = measure and "measure" in selected
    weights_path = _check_weights(weights, export_dir)
    export_path = None if export_dir is None else Path(export_dir)
    options = {
        "device": device,
        "batch": batch,
        "steps": steps,
        "compile": compile,
        "measure": measure,
        "checks": [name for name in selected if name != "measure"],
        "weights": None if weights_path is None else str(weights_path.resolve()),
        "export_dir": None if export_path is None else str(export_path.resolve()),
    }
    nonce = secrets.token_hex(16)
    life_read, life_write = os.pipe()
    report_read, report_write = os.pipe()
    os.write(life_write, f"{nonce}\n".encode())
    command = [
        sys.executable,
        "-m",
        "cnngen.verify.guard",
        "--life",
        str(life_read),
        "--report",
        str(report_write),
        # A backstop behind the wall-clock limit, should the guard itself be lost.
        "--cpu-seconds",
        str(int(min(timeout, MAX_TIMEOUT) * (os.cpu_count() or 1)) + 60),
    ]
    if max_memory is not None:
        command += ["--max-memory", str(max_memory * 2**20)]
    command += [str(path.resolve()), "--", "--device", device]
    command += ["--batch", str(batch), "--steps", str(steps)]
    if compile:
        command.append("--compile")
    if not measure:
        command.append("--no-measure")
    command += ["--checks", ",".join(options["checks"])]
    if options["weights"] is not None:
        command += ["--weights", options["weights"]]
    if options["export_dir"] is not None:
        command += ["--export-dir", options["export_dir"]]
    tail: deque[str] = deque(maxlen=20)
    inbox = Inbox(nonce, progress)
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=_child_environment(),
            pass_fds=(life_read, report_write),
            start_new_session=True,
        )
    except BaseException:
        os.close(life_write)
        os.close(report_read)
        raise
    finally:
        os.close(life_read)
        os.close(report_write)
    assert process.stderr is not None
    readers = [
        threading.Thread(target=_drain, args=(process.stderr, tail), daemon=True),
        threading.Thread(target=inbox.pump, args=(report_read,), daemon=True),
    ]
    for reader in readers:
        reader.start()
    timed_out = False
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        # Every way out (done, timeout, Ctrl-C, an error here) ends the guard's run.
        os.close(life_write)
        _stop(process, inbox.worker)
    for reader in readers:
        reader.join(timeout=5)
    elapsed = time.monotonic() - started
    report = inbox.report or report_skeleton(path, options)
    report["checks"] = report.get("checks") or []

    report["options"]["timeout"] = timeout
    report["elapsed_s"] = round(elapsed, 3)
    if timed_out:
        stage = report.get("stage", "start")
        report["error"] = {
            "kind": "timeout",
            "message": (
                f"{path}: no result within the {timeout:g} s time limit (stopped during "
                f"'{stage}'); the file may loop forever, or raise --timeout if the model is just slow"
            ),
        }
    elif inbox.tampered is not None:
        report["error"] = {
            "kind": "tampered",
            "message": (
                f"{path}: the report channel carried {inbox.tampered}; something in the "
                f"verified process wrote to it, so its results cannot be trusted"
            ),
        }
    elif report.get("stage") == "done" and process.returncode != 0:
        report["error"] = {
            "kind": "crash",
            "message": (
                f"{path}: the verifying process ended with exit status "
                f"{process.returncode} after reporting; a clean run exits with 0"
            ),
        }
    elif report.get("stage") != "done" and report.get("error") is None:
        last = tail[-1] if tail else "no error output"
        report["error"] = {
            "kind": "crash",
            "message": (
                f"{path}: the verifying process ended with exit status {process.returncode} "
                f"during '{report.get('stage', 'start')}' before reporting: {last}"
            ),
        }
    error = report.get("error")
    if error and error.get("kind") == "usage":
        raise CnngenError(error["message"], error["message"].split(":", 1)[0])
    failed = error is not None or any(c.get("status") == "failed" for c in report["checks"])
    report["verdict"] = "failed" if failed else "passed"
    report["stage"] = "done" if not timed_out else report.get("stage")
    return report


# ------------------------------------------------------------------ text report
def _shape(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list) and value and isinstance(value[0], list):
        return ", ".join(_shape(item) for item in value)
    if isinstance(value, (list, tuple)):
        return "x".join(str(size) for size in value)
    return str(value)


def describe_mismatch(entry: dict[str, Any]) -> str:
    """One layer problem as a sentence: ``stage1.0: expected 4x10x10, got 4x11x11``."""
    problem = entry.get("problem")
    name = entry["name"]
    expected = _shape(entry.get("expected"))
    if problem == "missing":
        return f"{name}: in LAYER_SHAPES (expected {expected}) but no such module in the model"
    if problem == "not_called":
        return f"{name}: expected {expected}, but the module never ran in the forward pass"
    if problem == "varies":
        return f"{name}: expected {expected}, got different shapes on different calls: {_shape(entry.get('actual'))}"
    return f"{name}: expected {expected}, got {_shape(entry.get('actual'))}"


def _milliseconds(value: Any) -> str:
    return "-" if value is None else f"{value:.3f} ms"


def _rate(value: Any) -> str:
    return "" if value is None else f", {value:,.0f} samples/s"


def _mebibytes(value: Any) -> str:
    return "-" if value is None else f"{value / 2**20:.1f} MiB"


def format_report(report: dict[str, Any]) -> str:
    """The report as a readable table for the terminal."""
    model = report.get("model") or {}
    environment = report.get("environment") or {}
    options = report.get("options") or {}
    lines = [f"cnngen verify {report.get('file')}"]
    if model.get("class_name"):
        lines.append(
            f"model: {model['class_name']} (B, {_shape(model.get('input_shape')).replace('x', ', ')})"
            f" -> (B, {_shape(model.get('output_shape')).replace('x', ', ')})"
            + (f", {model['family']}" if model.get("family") else "")
        )
    if environment.get("device"):
        where = str(environment.get("device_name"))
        if environment["device"] == "cpu" and environment.get("torch_threads"):
            where += f", {environment['torch_threads']} threads"
        lines.append(
            f"device: {environment['device']} ({where}), batch {options.get('batch')}, "
            f"torch {environment.get('torch')}"
        )
    load, cpus = environment.get("load_average"), environment.get("cpu_count")
    if environment.get("device") == "cpu" and load is not None and cpus and load > cpus:
        lines.append(
            f"note: the machine is busy (load {load:g} on {cpus} CPUs); CPU timings may be noisy"
        )
    checks = report.get("checks") or []
    if checks:
        width = max(len(check["name"]) for check in checks)
        lines.append("")
        lines.append(f"{'check'.ljust(width)}  status   detail")
        lines.append(f"{'-' * width}  -------  ------")
        for check in checks:
            lines.append(
                f"{check['name'].ljust(width)}  {check['status'].ljust(7)}  {check['message']}"
            )
            if check["name"] == "layer_shapes" and check["status"] == "failed":
                for entry in check.get("details", {}).get("mismatches", [])[:20]:
                    lines.append(f"{' ' * width}           {describe_mismatch(entry)}")
            if check["name"] == "structure" and check["status"] in ("failed", "warning"):
                for entry in check.get("details", {}).get("mismatches", [])[:20]:
                    lines.append(f"{' ' * width}           {entry.get('message')}")
    metrics = report.get("metrics") or {}
    rows = _metric_rows(metrics)
    if rows:
        width = max(len(label) for label, _ in rows)
        lines.append("")
        lines.extend(f"{label.ljust(width)}  {value}" for label, value in rows)
    lines.append("")
    error = report.get("error")
    if error:
        lines.append(f"error: {error['message']}")
    counts = {status: sum(1 for c in checks if c["status"] == status) for status in CHECK_STATUSES}
    summary = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
    verdict = str(report.get("verdict", "failed")).upper()
    lines.append(
        f"verdict: {verdict}"
        + (f" ({summary})" if summary else "")
        + f" in {report.get('elapsed_s', 0):.1f} s"
    )
    return "\n".join(lines)


def _metric_rows(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    if metrics.get("params") is not None:
        declared = metrics.get("params_declared")
        rows.append(
            (
                "parameters",
                f"{metrics['params']:,}"
                + (f" (file says {declared:,})" if declared is not None else ""),
            )
        )
    if metrics.get("macs_measured") is not None:
        declared = metrics.get("macs_declared")
        agree = "agree" if metrics.get("macs_agree") else "DIFFER"
        rows.append(
            (
                "MACs per sample",
                f"{metrics['macs_measured']:,} by torch"
                + (f", {declared:,} in the file ({agree})" if declared is not None else ""),
            )
        )
    memory = metrics.get("memory") or {}
    if memory.get("bytes") is not None:
        label = (
            "peak CUDA memory"
            if memory.get("kind") == "cuda_max_memory_allocated"
            else "CPU peak RSS growth"
        )
        rows.append((label, _mebibytes(memory["bytes"])))
    latency = metrics.get("latency") or {}
    if "forward_ms" in latency:
        rows.append(
            (
                "forward (fp32)",
                f"{_milliseconds(latency['forward_ms'])} median of {latency.get('runs')}"
                f"{_rate(latency.get('forward_samples_per_s'))}",
            )
        )
    if "forward_backward_ms" in latency:
        rows.append(
            (
                "forward+backward",
                f"{_milliseconds(latency['forward_backward_ms'])}{_rate(latency.get('forward_backward_samples_per_s'))}",
            )
        )
    if "compiled_forward_ms" in latency:
        rows.append(("forward (compiled)", _milliseconds(latency["compiled_forward_ms"])))
    if "error" in latency:
        rows.append(("timing", f"failed: {latency['error']}"))
    mixed = metrics.get("mixed_precision") or {}
    if mixed.get("status") == "measured":
        for label in ("bf16", "fp16"):
            value = mixed.get(f"{label}_forward_ms")
            text = _milliseconds(value) + _rate(mixed.get(f"{label}_samples_per_s"))
            if value is None:
                text = mixed.get(f"{label}_note", "not measured")
            rows.append((f"forward ({label} autocast)", text))
    elif mixed.get("reason"):
        rows.append(("mixed precision", f"skipped: {mixed['reason']}"))
    return rows


# ------------------------------------------------------------------ command
