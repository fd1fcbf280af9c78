"""The runtimes ``cnngen export --target`` writes for, one entry each: files, write, run.

Every target starts from the same :class:`Job` (the eager model and its
``torch.export`` program) and writes its files into the staging folder; the
caller then runs each file at the checked batch sizes against the eager model
and times it.  Adding a runtime is one :class:`Target` in :data:`TARGETS`.

Importing this module imports no torch (the CLI checks targets and file names
before torch is loaded); the functions import what they use.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

INSTALL_ONNX = 'pip install "cnngen[onnx]"'
INSTALL_OPENVINO = 'pip install "cnngen[openvino]"'

LATENCY_BATCHES = (1, 8, 64)
"""Batch sizes timed for the record; the last is capped at ``--max-batch``."""
LATENCY_RUNS = 5
"""Timed runs per batch size at most (after one warm-up run); the record holds their median."""
LATENCY_BUDGET_S = 0.5
"""Seconds of timed runs per runtime and batch size after which no further run starts."""


@dataclass
class Job:
    """What every target is written from, and what the writers report back."""

    model: Any
    program: Any
    example: Any
    input_shape: Sequence[int]
    max_batch: int
    stem: str
    command: str
    output_name: str
    metadata: dict[str, str]
    opset: int
    notes: dict[str, Any] = field(default_factory=dict)


Runner = Callable[[Any], Any]
"""One input batch in, the output tensor out."""


@dataclass(frozen=True)
class Target:
    """One runtime: the files it writes and how to write, open and run them.

    ``missing`` gives one line naming the extra to install, or None;
    ``refusal`` one line why a model of this input shape cannot run there.
    ``open`` returns a runner for a written file, or None when the file can
    be written but not run here (ONNX without onnxruntime).  ``run`` runs a
    dict of inputs (parity); by default it goes through ``open``.
    """

    name: str
    suffixes: tuple[str, ...]
    write: Callable[[Job, Path], None]
    open: Callable[[Path], Runner | None]
    missing: Callable[[], str | None] = lambda: None
    refusal: Callable[[Sequence[int]], str | None] = lambda shape: None
    run: Callable[[Path, dict[int, Any]], dict[int, Any] | None] | None = None

    def files(self, stem: str) -> list[str]:
        return [f"{stem}{suffix}" for suffix in self.suffixes]

    def outputs(self, path: Path, inputs: dict[int, Any]) -> dict[int, Any] | None:
        if self.run is not None:
            return self.run(path, inputs)
        runner = self.open(path)
        if runner is None:
            return None
        import torch

        with torch.no_grad():
            return {batch: runner(x) for batch, x in inputs.items()}


# --- torch.export -------------------------------------------------------------


def _write_pt2(job: Job, path: Path) -> None:
    import torch

    torch.export.save(job.program, path)


def _open_pt2(path: Path) -> Runner:
    import torch

    return torch.export.load(path).module()


# --- ONNX ---------------------------------------------------------------------


def _onnx_missing() -> str | None:
    from cnngen.deploy.onnx_export import onnx_missing

    missing = onnx_missing()
    return None if missing is None else f"{missing} is not installed, {INSTALL_ONNX} adds it"


def _write_onnx(job: Job, path: Path) -> None:
    from cnngen import __version__
    from cnngen.deploy.onnx_export import export_onnx, name_onnx, onnx_exporter, onnx_opset

    exporter = onnx_exporter()
    data = export_onnx(job.model, job.example, exporter, job.program, job.opset)
    props = {"cnngen_version": str(__version__), "cnngen_command": job.command}
    data = name_onnx(data, job.output_name, {**props, **job.metadata})
    path.write_bytes(data)
    job.notes.update(
        onnx_exporter=exporter,
        onnx_names={"input": "input", "output": job.output_name},
        opset=onnx_opset(data),
    )


def _open_onnx(path: Path) -> Runner | None:
    if importlib.util.find_spec("onnxruntime") is None:
        return None
    import onnxruntime
    import torch

    # Its threads spin-wait after a run by default, stealing CPU from later timings.
    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda x: torch.from_numpy(session.run(None, {name: x.detach().cpu().numpy()})[0])


# --- TorchScript --------------------------------------------------------------


def _write_torchscript(job: Job, path: Path) -> None:
    import torch

    torch.jit.script(job.model).save(str(path))


def _open_torchscript(path: Path) -> Runner:
    import torch

    return torch.jit.load(str(path))


# --- ExecuTorch (cnngen.deploy.edge) ------------------------------------------


def _executorch_missing() -> str | None:
    from cnngen.deploy.edge import executorch_missing

    return executorch_missing()


def _executorch_refusal(input_shape: Sequence[int]) -> str | None:
    from cnngen.deploy.edge import executorch_refusal

    return executorch_refusal(input_shape)


def _write_pte(job: Job, path: Path) -> None:
    from cnngen.deploy.edge import write_pte

    write_pte(job.program, path)


def _run_pte(path: Path, inputs: dict[int, Any]) -> dict[int, Any]:
    from cnngen.deploy.edge import run_pte

    return run_pte(path, inputs)


def _open_pte(path: Path) -> Runner:
    """The loaded method, for timing only (parity goes through :func:`edge.run_pte`)."""
    from executorch.runtime import Runtime

    method = Runtime.get().load_program(str(path)).load_method("forward")
    return lambda x: method.execute([x.contiguous()])[0]


# --- OpenVINO -----------------------------------------------------------------


def _openvino_missing() -> str | None:
    if importlib.util.find_spec("openvino") is None:
        return f"openvino is not installed, {INSTALL_OPENVINO} adds it"
    return None


def _write_openvino(job: Job, path: Path) -> None:
    """IR (``.xml`` + ``.bin``) converted from the ExportedProgram, float32 weights."""
    import openvino

    converted = openvino.convert_model(job.program)
    batch = openvino.Dimension(1, job.max_batch)
    converted.reshape({0: openvino.PartialShape([batch, *job.input_shape])})
    openvino.save_model(converted, str(path), compress_to_fp16=False)


def _open_openvino(path: Path) -> Runner:
    import openvino
    import torch

    # float32 inference: some CPUs would otherwise run in bf16.
    compiled = openvino.Core().compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    return lambda x: torch.from_numpy(compiled(x.detach().cpu().numpy())[0].copy())


TARGETS: dict[str, Target] = {
    target.name: target
    for target in (
        Target("pt2", (".pt2",), _write_pt2, _open_pt2),
        Target("onnx", (".onnx",), _write_onnx, _open_onnx, missing=_onnx_missing),
        Target("torchscript", (".torchscript.pt",), _write_torchscript, _open_torchscript),
        Target(
            "executorch",
            (".pte",),
            _write_pte,
            _open_pte,
            missing=_executorch_missing,
            refusal=_executorch_refusal,
            run=_run_pte,
        ),
        Target(
            "openvino",
            (".xml", ".bin"),
            _write_openvino,
            _open_openvino,
            _openvino_missing,
        ),
    )
}
"""Every runtime, in the order files are reported; ``pt2`` is always written first."""
DEFAULT_TARGETS = ("pt2", "onnx")


@contextlib.contextmanager
def quiet_native_output() -> Iterator[None]:
    """Hold back what native libraries print on the process's stderr (ExecuTorch, torchao).

    Their loaders and kernels write to file descriptor 2 directly, below
    Python's ``sys.stderr``; a failure still reaches the caller as an exception.
    """
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no descriptor 2 to redirect
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def parse_targets(text: str) -> list[str]:
    """``pt2,onnx`` or ``all`` as a list in registry order, pt2 first; ValueError names the bad one."""
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    if "all" in names:
        return list(TARGETS)
    for name in names:
        if name not in TARGETS:
            raise ValueError(name)
    chosen = {"pt2", *names}
    return [name for name in TARGETS if name in chosen]


def latency_batches(max_batch: int) -> list[int]:
    return sorted({min(batch, max_batch) for batch in LATENCY_BATCHES})


def latency_ms(runner: Runner, input_shape: Sequence[int], batches: Sequence[int]) -> dict:
    """Median milliseconds per batch size of up to :data:`LATENCY_RUNS` runs, after a warm-up.

    The timed runs of one batch size stop once they took :data:`LATENCY_BUDGET_S`
    (at least one runs), so a large model costs a few seconds, not minutes.
    A batch the runtime fails at is recorded as the first line of its error.
    """
    import torch

    generator = torch.Generator().manual_seed(1)
    table: dict[str, float | str] = {}
    for batch in batches:
        x = torch.randn(batch, *input_shape, generator=generator)
        times: list[float] = []
        try:
            with torch.no_grad():
                runner(x)
                while len(times) < LATENCY_RUNS and sum(times) < LATENCY_BUDGET_S:
                    start = time.perf_counter()
                    runner(x)
                    times.append(time.perf_counter() - start)
        except Exception as error:  # noqa: BLE001 - recorded, the file was checked at 1 and 7
            table[str(batch)] = "fails: " + ((str(error).strip().splitlines() or [""])[0])[:200]
            continue
        table[str(batch)] = round(1000 * statistics.median(times), 3)
    return table
