"""Export a model with a dynamic batch and prove the result against eager PyTorch.

One implementation serves ``cnngen export`` (files on disk) and the export
checks of ``cnngen verify`` (in memory), so both vouch for the same thing:
a ``torch.export`` program and an ONNX graph that take any batch size and
agree with the eager model at batch 1 and 7.  Generated training scripts
carry their own copy of this logic, as they depend on nothing but torch.
"""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

BATCHES = (1, 7)
"""Batch sizes every exported artefact is run at: the degenerate one and an odd one."""
EXPORT_BATCH = 7
"""The example batch the graphs are traced with (1 would be specialised away)."""
MAX_BATCH = 64
"""Default upper bound of the exported batch dimension (``cnngen export --max-batch``).

Runtimes that plan memory ahead (ExecuTorch) size buffers for this bound, so
it is kept small; raise it when serving larger batches.
"""
ONNX_OPSET = 18
"""Opset asked of the older (torchscript) exporter; the record holds the file's real opset."""
INSTALL_ONNX = 'pip install "cnngen[onnx]"'


def onnx_missing() -> str | None:
    """The first ONNX export package not installed (``onnx`` or ``onnxscript``), or None."""
    for name in ("onnx", "onnxscript"):
        if importlib.util.find_spec(name) is None:
            return name
    return None


RELATIVE_TOLERANCE = 1e-4
ABSOLUTE_TOLERANCE = 1e-6


def tolerance(reference: torch.Tensor) -> float:
    """``1e-4 * max |reference| + 1e-6``: float32 rounding through a reordered graph."""
    scale = float(reference.detach().abs().max()) if reference.numel() else 0.0
    return RELATIVE_TOLERANCE * scale + ABSOLUTE_TOLERANCE


def max_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.detach().float().cpu() - b.detach().float().cpu()).abs().max())


def sample_inputs(
    input_shape: Sequence[int], device: torch.device | str = "cpu", seed: int = 0
) -> dict[int, torch.Tensor]:
    """One seeded random input per batch size of :data:`BATCHES`."""
    generator = torch.Generator().manual_seed(seed)
    return {
        batch: torch.randn(batch, *input_shape, generator=generator).to(device) for batch in BATCHES
    }


def _batch_dim(max_batch: int = MAX_BATCH) -> Any:
    return torch.export.Dim("batch", min=1, max=max_batch)


def export_program(model: nn.Module, example: torch.Tensor, max_batch: int = MAX_BATCH) -> Any:
    """``torch.export.export`` with the first dimension dynamic, 1 to ``max_batch``.

    A model torch.export cannot trace makes torch log its graph and guards at
    length before it raises; the error itself says what failed, so the logs
    are held back while tracing.
    """
    import contextlib

    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            return torch.export.export(model, (example,), dynamic_shapes=({0: _batch_dim(max_batch)},))
    finally:
        logging.disable(previous)


def onnx_exporter() -> str:
    """``dynamo`` where onnxscript is installed, else ``torchscript`` (the older exporter)."""
    return "dynamo" if importlib.util.find_spec("onnxscript") is not None else "torchscript"


def export_onnx(
    model: nn.Module, example: torch.Tensor, exporter: str | None = None, program: Any = None
) -> bytes:
    """The model as an ONNX file (bytes) with a dynamic batch dimension.

    The dynamo exporter starts from ``program`` (a CPU ``torch.export``
    program of the model, as :func:`export_program` makes) when given, which
    saves exporting the model a second time.
    """
    exporter = exporter or onnx_exporter()
    buffer = io.BytesIO()
    # The exporters log about optional packages (torchvision) and deprecations.
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _export_onnx(model, example, exporter, buffer, program)
    return buffer.getvalue()


def _export_onnx(
    model: nn.Module, example: torch.Tensor, exporter: str, buffer: io.BytesIO, program: Any
) -> None:
    if exporter == "dynamo":
        if program is not None:
            onnx_program = torch.onnx.export(program, (example,), dynamo=True, verbose=False)
        else:
            onnx_program = torch.onnx.export(
                model, (example,), dynamo=True, dynamic_shapes=({0: _batch_dim()},), verbose=False
            )
        onnx_program.save(buffer)
    else:
        torch.onnx.export(
            model,
            (example,),
            buffer,
            dynamo=False,
            opset_version=ONNX_OPSET,
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
        )


def name_onnx(data: bytes, output_name: str, metadata: dict[str, str]) -> bytes:
    """Rename the graph's input to ``input`` and output to ``output_name``, batch dim ``batch``.

    The exporters name them after the traced argument and last module
    (``x``, ``linear``) and the batch after a symbol (``s77``); serving code
    wants stable names.  ``metadata`` lands in the file's ``metadata_props``.
    """
    import onnx

    model = onnx.load_from_string(data)
    graph = model.graph
    renames = {graph.input[0].name: "input", graph.output[0].name: output_name}
    for value in (graph.input[0], graph.output[0]):
        value.name = renames[value.name]
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_param = "batch"
    for node in graph.node:
        for index, name in enumerate(node.input):
            if name in renames:
                node.input[index] = renames[name]
        for index, name in enumerate(node.output):
            if name in renames:
                node.output[index] = renames[name]
    for value in graph.value_info:
        if value.name in renames:
            value.name = renames[value.name]
    del model.metadata_props[:]
    for key, text in sorted(metadata.items()):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, text
    onnx.checker.check_model(model)
    return model.SerializeToString()


def onnx_opset(data: bytes) -> int | None:
    """The default-domain opset of an ONNX file (None without the onnx package)."""
    if importlib.util.find_spec("onnx") is None:
        return None
    import onnx

    model = onnx.load_from_string(data)
    onnx.checker.check_model(model)
    versions = [entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")]
    return max(versions) if versions else None


def run_onnx(data: bytes, inputs: dict[int, torch.Tensor]) -> dict[int, torch.Tensor] | None:
    """ONNX Runtime (CPU) outputs per batch size; None when onnxruntime is not installed."""
    if importlib.util.find_spec("onnxruntime") is None:
        return None
    import onnxruntime

    # Its threads spin-wait after a run by default, stealing CPU from later timings.
    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return {
        batch: torch.from_numpy(session.run(None, {name: x.detach().cpu().numpy()})[0])
        for batch, x in inputs.items()
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
) -> dict[str, Any]:
    """Write ``STEM.pt2``, ``STEM.onnx`` and ``STEM.json`` to ``out``; return the record.

    Without the ONNX packages (:func:`onnx_missing`) no ``.onnx`` is written
    and the record's ``onnx_missing`` names the missing package.

    Raises :class:`ValueError` naming the artefact and batch size when an
    output differs from the eager model beyond :func:`tolerance`.
    """
    model = model.eval().cpu()
    inputs = sample_inputs(input_shape)
    with torch.no_grad():
        expected = {batch: model(x) for batch, x in inputs.items()}
    limit = max(tolerance(y) for y in expected.values())
    program = export_program(model, inputs[EXPORT_BATCH], max_batch)
    pt2 = out / f"{stem}.pt2"
    torch.export.save(program, pt2)
    reloaded = torch.export.load(pt2).module()
    with torch.no_grad():
        parity: dict[str, dict[str, float] | None] = {
            "pt2": {str(b): max_difference(reloaded(x), expected[b]) for b, x in inputs.items()}
        }
    missing = onnx_missing()
    exporter = None if missing else onnx_exporter()
    data = None if missing else export_onnx(model, inputs[EXPORT_BATCH], exporter, program)
    if output_name is None:
        output_name = "logits" if expected[BATCHES[0]].dim() == 2 else "output"
    if data is not None:
        from cnngen import __version__

        props = {"cnngen_version": str(__version__), "cnngen_command": command}
        data = name_onnx(data, output_name, {**props, **(metadata or {})})
    if data is not None:
        (out / f"{stem}.onnx").write_bytes(data)
    outputs = None if data is None else run_onnx(data, inputs)
    parity["onnx"] = (
        None
        if outputs is None
        else {str(b): max_difference(y, expected[b]) for b, y in outputs.items()}
    )
    for kind, differences in parity.items():
        for batch, difference in (differences or {}).items():
            if not difference <= limit:
                raise ValueError(
                    f"{stem}.{kind}: output at batch {batch} differs from the model by "
                    f"{difference:.3g} (> {limit:.3g})"
                )
    output_shape = list(expected[BATCHES[0]].shape[1:])
    files: dict[str, str | None] = {
        "torch_export": pt2.name,
        "onnx": None if data is None else f"{stem}.onnx",
    }
    if torchscript:
        scripted = torch.jit.script(model)
        script_path = out / f"{stem}.torchscript.pt"
        scripted.save(str(script_path))
        loaded = torch.jit.load(str(script_path))
        with torch.no_grad():
            parity["torchscript"] = {
                str(b): max_difference(loaded(x), expected[b]) for b, x in inputs.items()
            }
        for batch, difference in parity["torchscript"].items():
            if not difference <= limit:
                raise ValueError(
                    f"{stem}.torchscript.pt: output at batch {batch} differs from the model by "
                    f"{difference:.3g} (> {limit:.3g})"
                )
        files["torchscript"] = script_path.name
    record = {
        "input_shape": ["batch", *input_shape],
        "output_shape": ["batch", *output_shape],
        "dynamic_batch": True,
        "batch_bounds": [1, max_batch],
        "checked_batches": list(BATCHES),
        "files": files,
        "onnx_exporter": exporter,
        "onnx_missing": missing,
        "onnx_names": None if data is None else {"input": "input", "output": output_name},
        "opset": None if data is None else onnx_opset(data),
        "max_abs_diff": parity,
        "tolerance": limit,
        "torch": str(torch.__version__),
        "cnngen_command": command,
    }
    (out / f"{stem}.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return record


class ExportError(Exception):
    """The model file or its weights cannot be exported; the message is one line."""


def checkpoint_info(path: Path) -> dict[str, Any]:
    """What inference needs besides weights, from a checkpoint dict, if it carries it.

    ``classes`` (a list of names), and ``mean``/``std`` either at the top
    level or inside a ``normalization`` dict; each is None when absent (a
    bare state_dict carries none of them).
    """
    data = torch.load(path, map_location="cpu", weights_only=True)
    info: dict[str, Any] = {"classes": None, "mean": None, "std": None}
    if not isinstance(data, dict) or "model" not in data:
        return info
    sources = [data]
    if isinstance(data.get("normalization"), dict):
        sources.append(data["normalization"])
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
    int8: Path | None = None,
    calibration_samples: int = 256,
) -> dict[str, Any]:
    """Import a model file, load its weights and write ``STEM.pt2/.onnx/.json`` to ``out``.

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
                        ("normalization", {"mean": info["mean"], "std": info["std"]}),
                    )
                    if value is not None and value != {"mean": None, "std": None}
                },
                torchscript,
            )
        except ValueError as error:
            raise ExportError(str(error)) from None
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
                    max_batch, weights,
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
        (Path(folder) / f"{stem}.json").write_text(
            json.dumps(record, indent=2) + "\n", encoding="utf-8"
        )
        for suffix in (".pt2", ".onnx", ".torchscript.pt", ".int8.pte", ".int8.pt2", ".json"):
            if not (Path(folder) / f"{stem}{suffix}").exists():
                continue
            target = out / f"{stem}{suffix}"
            if target.is_dir() and not target.is_symlink():
                raise ExportError(f"--out: {target} is a folder; remove it or choose another --out")
            # A rename inside one folder: it replaces a file and never nests into a folder.
            os.replace(Path(folder) / f"{stem}{suffix}", target)
    return record
