"""Export a model with a dynamic batch and prove the result against eager PyTorch.

One implementation serves ``cnngen export`` (files on disk) and the export
checks of ``cnngen verify`` (in memory), so both vouch for the same thing:
a ``torch.export`` program and an ONNX graph that take any batch size and
agree with the eager model at batch 1 and 7.  Generated training scripts
carry their own copy of this logic, as they depend on nothing but torch.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cnngen.deploy import MAX_BATCH, ONNX_OPSET, onnx_export
from cnngen.deploy.card import CONTRACT_EXTRAS, contract_extras, write_card
from cnngen.deploy.onnx_export import export_program, max_difference

BATCHES = (1, 7)
"""Batch sizes every exported artefact is run at: the degenerate one and an odd one."""
EXPORT_BATCH = 7
"""The example batch the graphs are traced with (1 would be specialised away)."""


RELATIVE_TOLERANCE = 1e-4
ABSOLUTE_TOLERANCE = 1e-6


def tolerance(reference: torch.Tensor) -> float:
    """``1e-4 * max |reference| + 1e-6``: float32 rounding through a reordered graph."""
    scale = float(reference.detach().abs().max()) if reference.numel() else 0.0
    return RELATIVE_TOLERANCE * scale + ABSOLUTE_TOLERANCE


def sample_inputs(
    input_shape: Sequence[int], device: torch.device | str = "cpu", seed: int = 0
) -> dict[int, torch.Tensor]:
    """One seeded random input per batch size of :data:`BATCHES`."""
    generator = torch.Generator().manual_seed(seed)
    return {
        batch: torch.randn(batch, *input_shape, generator=generator).to(device) for batch in BATCHES
    }


def export_files(
    model: nn.Module,
    input_shape: Sequence[int],
    out: Path,
    stem: str,
    command: str,
    max_batch: int = MAX_BATCH,
    output_name: str | None = None,
    metadata: dict[str, str] | None = None,
    torchscript: bool = False,
    targets: Sequence[str] = ("pt2", "onnx"),
    opset: int = ONNX_OPSET,
    latency: bool = True,
) -> dict[str, Any]:
    """Write one file set per target of :data:`cnngen.deploy.runtimes.TARGETS`, and ``STEM.json``.

    ``STEM.pt2`` is always written.  A target whose package is missing, or
    that refuses a model of this input shape, writes nothing: the record's
    ``skipped`` holds the one-line reason (``onnx_missing`` still names a
    missing ONNX package).  Every file written is run at batch 1 and 7
    against the eager model and, unless ``latency`` is false, timed at the
    batch sizes of :func:`~cnngen.deploy.runtimes.latency_batches`.

    Raises :class:`ValueError` naming the artefact and batch size when an
    output differs from the eager model beyond :func:`tolerance`.
    """
    from cnngen.deploy.runtimes import (
        LATENCY_BUDGET_S,
        LATENCY_RUNS,
        TARGETS,
        Job,
        latency_batches,
        latency_ms,
        quiet_native_output,
    )

    model = model.eval().cpu()
    chosen = [name for name in TARGETS if name == "pt2" or name in targets]
    if torchscript and "torchscript" not in chosen:
        chosen = [name for name in TARGETS if name in {*chosen, "torchscript"}]
    inputs = sample_inputs(input_shape)
    with torch.no_grad():
        expected = {batch: model(x) for batch, x in inputs.items()}
    limit = max(tolerance(y) for y in expected.values())
    if output_name is None:
        output_name = "logits" if expected[BATCHES[0]].dim() == 2 else "output"
    job = Job(
        model=model,
        program=export_program(model, inputs[EXPORT_BATCH], max_batch),
        example=inputs[EXPORT_BATCH],
        input_shape=list(input_shape),
        max_batch=max_batch,
        stem=stem,
        command=command,
        output_name=output_name,
        metadata=dict(metadata or {}),
        opset=opset,
    )
    files: dict[str, str | None] = {}
    skipped: dict[str, str] = {}
    parity: dict[str, dict[str, float] | None] = {}
    timings: dict[str, dict[str, Any]] = {}
    batches = latency_batches(max_batch)
    for name in chosen:
        target = TARGETS[name]
        reason = target.refusal(input_shape) or target.missing()
        key = "torch_export" if name == "pt2" else name
        if reason is not None:
            files[key] = None
            skipped[name] = reason
            parity[name] = None
            continue
        path = out / target.files(stem)[0]
        with quiet_native_output() if name != "pt2" else contextlib.nullcontext():
            try:
                target.write(job, path)
                outputs = target.outputs(path, inputs)
            except Exception as error:
                if name == "pt2":
                    raise
                raise TargetError(name, error) from error
            parity[name] = (
                None
                if outputs is None
                else {str(b): max_difference(y, expected[b]) for b, y in outputs.items()}
            )
            for batch, difference in (parity[name] or {}).items():
                if not difference <= limit:
                    raise ValueError(
                        f"{path.name}: output at batch {batch} differs from the model by "
                        f"{difference:.3g} (> {limit:.3g})"
                    )
            if latency and outputs is not None:
                timings[name] = latency_ms(target.open(path), input_shape, batches)
        files[key] = path.name
    missing = onnx_export.onnx_missing() if "onnx" in chosen else None
    output_shape = list(expected[BATCHES[0]].shape[1:])
    record = {
        "input_shape": ["batch", *input_shape],
        "output_shape": ["batch", *output_shape],
        "dynamic_batch": True,
        "batch_bounds": [1, max_batch],
        "checked_batches": list(BATCHES),
        "targets": chosen,
        "files": files,
        "skipped": skipped,
        "onnx_exporter": job.notes.get("onnx_exporter"),
        "onnx_missing": missing,
        "onnx_names": job.notes.get("onnx_names"),
        "opset_requested": opset if "onnx" in chosen else None,
        "opset": job.notes.get("opset"),
        "max_abs_diff": parity,
        "tolerance": limit,
        "latency_ms": timings or None,
        "latency": (
            {
                "batches": batches,
                "statistic": (
                    f"median of up to {LATENCY_RUNS} runs after one warm-up, "
                    f"fewer once they took {LATENCY_BUDGET_S} s"
                ),
                "threads": torch.get_num_threads(),
            }
            if timings
            else None
        ),
        "torch": str(torch.__version__),
        "cnngen_command": command,
    }
    (out / f"{stem}.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return record


class TargetError(Exception):
    """A runtime other than torch.export failed to write or run the model."""

    def __init__(self, target: str, error: BaseException) -> None:
        super().__init__(target, error)
        self.target, self.error = target, error


class ExportError(Exception):
    """The model file or its weights cannot be exported; the message is one line."""


def checkpoint_info(path: Path) -> dict[str, Any]:
    """What inference needs besides weights, from a checkpoint dict, if it carries it.

    ``classes`` (a list of names), and ``mean``/``std`` either at the top
    level, inside a ``normalization`` dict or inside the ``data`` dict a
    generated train.py writes (with the input ``layout`` and ``shape``);
    ``metrics``, the validation row of the best epoch of its ``history``;
    ``seed``, the data split's.  Each is None when absent (a bare state_dict
    carries none of them).
    """
    data = torch.load(path, map_location="cpu", weights_only=True)
    info: dict[str, Any] = dict.fromkeys(("classes", "mean", "std", *CONTRACT_EXTRAS))
    if not isinstance(data, dict) or "model" not in data:
        return info
    sources = [data]
    for key in ("normalization", "data"):
        if isinstance(data.get(key), dict):
            sources.append(data[key])
    contract = data.get("data") if isinstance(data.get("data"), dict) else {}
    info.update(contract_extras(data, contract))
    if isinstance(contract.get("classes"), (list, tuple)):
        data = {**data, "classes": contract["classes"]}
    for source in sources:
        for key in ("mean", "std"):
            value = source.get(key)
            if value is not None:
                info[key] = torch.as_tensor(value, dtype=torch.float64).flatten().tolist()
    classes = data.get("classes")
    if isinstance(classes, (list, tuple)) and all(isinstance(c, (str, int)) for c in classes):
        info["classes"] = [str(c) for c in classes]
    return info


def sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    """A state_dict, or the ``model`` entry of a generated train.py's checkpoint.

    Loaded with ``weights_only=True`` (no code runs from the file) onto the CPU,
    so a checkpoint written on a GPU host loads anywhere.
    """
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file is one message
        first = (str(error).strip().splitlines() or [""])[0]
        raise ExportError(f"--weights: {path} cannot be loaded as weights: {first}") from None
    if isinstance(data, dict) and "model" in data and isinstance(data["model"], dict):
        data = data["model"]
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise ExportError(
            f"--weights: {path} holds no state_dict (a dict of tensors, or a checkpoint "
            f"with a 'model' entry)"
        )
    return data


def export_model_file(
    path: Path,
    weights: Path | None,
    out: Path,
    command: str,
    max_batch: int = MAX_BATCH,
    torchscript: bool = False,
    on_stage: Callable[[Path], object] | None = None,
    targets: Sequence[str] = ("pt2", "onnx"),
    opset: int = ONNX_OPSET,
    latency: bool = True,
    int8: Path | None = None,
    calibration_samples: int = 256,
) -> dict[str, Any]:
    """Import a model file, load its weights and write its targets and ``STEM.json`` to ``out``.

    The model class and ``INPUT_SHAPE`` are found as ``cnngen verify`` finds
    them.  Files appear only when every check passed: they are written to a
    temporary folder first and moved into place at the end.  ``on_stage``
    hears of that folder as soon as it exists (the CLI removes it if a signal
    ends the run).  A model whose constructor raises, or that torch.export
    cannot trace, is an :class:`ExportError` with one line.  ``int8`` (a
    dataset file) adds ``STEM.int8.pte``/``.int8.pt2`` and the record's
    ``int8`` entry (:func:`cnngen.deploy.edge.int8_record`).
    """
    import os
    import tempfile

    from cnngen.deploy.modelfile import (
        Fatal,
        describe_error,
        find_model_class,
        load_module,
        read_constants,
    )

    resolved = path.resolve()
    try:
        module = load_module(resolved)
        input_shape, output_shape = read_constants(module, path)
        family = str(getattr(module, "FAMILY", ""))
        is_classifier = len(output_shape) == 1 and "forecast" not in family
        cls = find_model_class(module, path)
    except Fatal as fatal:
        raise ExportError(fatal.message) from None
    try:
        model = cls()
    except Exception as error:  # noqa: BLE001 - the model's own code failed, not cnngen
        raise ExportError(
            f"MODEL.py: {path}: building {cls.__name__}() raised {describe_error(error, resolved)}"
        ) from None
    if weights is not None:
        state = load_weights(weights)
        try:
            model.load_state_dict(state)
        except RuntimeError as error:
            first = (str(error).strip().splitlines() or [""])[0]
            lines = [line.strip() for line in str(error).splitlines()[1:] if line.strip()]
            detail = f"{first} {lines[0]}" if lines else first
            raise ExportError(
                f"--weights: {weights} does not fit {cls.__name__}: {detail}"
            ) from None
    info = (
        {"classes": None, "mean": None, "std": None}
        if weights is None
        else checkpoint_info(weights)
    )
    out.mkdir(parents=True, exist_ok=True)
    stem = path.stem
    with tempfile.TemporaryDirectory(dir=out, prefix=".cnngen-export-") as folder:
        if on_stage is not None:
            on_stage(Path(folder))
        try:
            record = export_files(
                model,
                input_shape,
                Path(folder),
                stem,
                command,
                max_batch,
                "logits" if is_classifier else "output",
                {
                    key: json.dumps(value)
                    for key, value in (
                        ("classes", info["classes"]),
                        ("layout", info.get("layout")),
                        ("normalization", {"mean": info["mean"], "std": info["std"]}),
                    )
                    if value is not None and value != {"mean": None, "std": None}
                },
                torchscript,
                targets,
                opset,
                latency,
            )
        except ValueError as error:
            raise ExportError(str(error)) from None
        except TargetError as failed:
            raise ExportError(
                f"MODEL.py: {path}: {cls.__name__} cannot be exported to {failed.target}: "
                f"{describe_error(failed.error, resolved)}"
            ) from None
        except Exception as error:  # noqa: BLE001 - tracing runs the model's own code
            raise ExportError(
                f"MODEL.py: {path}: {cls.__name__} cannot be exported: "
                f"{describe_error(error, resolved)}"
            ) from None
        if int8 is not None:
            from cnngen.deploy.edge import EdgeError, int8_record

            try:
                record["int8"] = int8_record(
                    model, input_shape, Path(folder), stem, int8, calibration_samples,
                    max_batch, info.get("seed") or 0,
                )  # fmt: skip
            except EdgeError as error:
                raise ExportError(str(error)) from None
        record["class_name"] = cls.__name__
        record["weights"] = None if weights is None else str(weights)
        record["weights_sha256"] = None if weights is None else sha256(weights)
        record["classes"] = info["classes"]
        record["normalization"] = (
            None if info["mean"] is None else {"mean": info["mean"], "std": info["std"]}
        )
        write_card(Path(folder), stem, record, info)  # MODEL_CARD.md, requirements.txt
        (Path(folder) / f"{stem}.json").write_text(
            json.dumps(record, indent=2) + "\n", encoding="utf-8"
        )
        for staged in sorted(Path(folder).iterdir()):
            target = out / staged.name
            if target.is_dir() and not target.is_symlink():
                raise ExportError(f"--out: {target} is a folder; remove it or choose another --out")
            # A rename inside one folder: it replaces a file and never nests into a folder.
            os.replace(staged, target)
    return record
