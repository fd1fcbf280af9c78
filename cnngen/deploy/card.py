"""What ``cnngen export`` writes beside the exported programs: a model card and requirements.

``MODEL_CARD.md`` says what the model takes and gives (data, classes,
normalisation, layout, batch bounds), how well it did (the metrics the
checkpoint carries) and how it was made; ``requirements.txt`` pins the
runtimes of the files that were written, at the versions the export was
checked with, plus numpy for the generated ``predict.py``.  The record
(``MODEL.json``) gains the checkpoint's data contract under ``data``, which
``predict.py`` reads.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any

CARD = "MODEL_CARD.md"
REQUIREMENTS = "requirements.txt"

RUNTIMES = {
    "torch_export": "torch",
    "torchscript": "torch",
    "onnx": "onnxruntime",
    "executorch": "executorch",
    "openvino": "openvino",
}
"""The package that runs each kind of file of the record's ``files``."""


CONTRACT_EXTRAS = ("task", "layout", "input_shape", "metrics", "seed")
"""Keys of :func:`checkpoint_info` beyond classes and normalisation."""


def contract_extras(checkpoint: dict[str, Any], contract: dict[str, Any]) -> dict[str, Any]:
    """The input layout and shape, the best epoch's validation metrics and the split seed."""
    extras: dict[str, Any] = {}
    for key in ("task", "layout"):
        if isinstance(contract.get(key), str):
            extras[key] = contract[key]
    if isinstance(contract.get("shape"), (list, tuple)):
        extras["input_shape"] = [int(size) for size in contract["shape"]]
    history, best = checkpoint.get("history"), checkpoint.get("best_epoch")
    if isinstance(history, list) and isinstance(best, int):
        rows = [row for row in history if isinstance(row, dict) and row.get("epoch") == best]
        if rows:
            skipped = ("epoch", "lr", "samples_per_s", "seconds")
            extras["metrics"] = {
                key: float(value)
                for key, value in rows[0].items()
                if key not in skipped and isinstance(value, (int, float))
            }
            extras["metrics"]["epoch"] = best
    args = checkpoint.get("args")
    if isinstance(args, dict) and isinstance(args.get("seed"), int):
        extras["seed"] = args["seed"]
    return extras


def installed(package: str) -> str | None:
    """The installed version of ``package`` without a local tag (``2.13.0+cpu`` -> 2.13.0)."""
    try:
        return importlib.metadata.version(package).split("+")[0]
    except importlib.metadata.PackageNotFoundError:
        return None


def requirements(files: dict[str, str | None]) -> str:
    """``requirements.txt``: numpy and the runtime of each written file, pinned."""
    needed: dict[str, list[str]] = {"numpy": ["predict.py"]}
    for kind, name in files.items():
        if name and kind in RUNTIMES:
            needed.setdefault(RUNTIMES[kind], []).append(name)
    lines = ["# Runtimes of the exported files; predict.py needs numpy and one of them"]
    for package, users in sorted(needed.items()):
        version = installed(package)
        pin = f"{package}=={version}" if version else package
        lines.append(f"{pin}  # {', '.join(users)}")
    return "\n".join(lines) + "\n"


def data_contract(info: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint's data contract as train.py writes it (``data``), for the record."""
    contract: dict[str, Any] = {}
    for key, name in (
        ("task", "task"),
        ("layout", "layout"),
        ("input_shape", "shape"),
        ("seed", "seed"),
    ):
        if info.get(key) is not None:
            contract[name] = info[key]
    for key in ("mean", "std", "classes"):
        if info.get(key) is not None:
            contract[key] = info[key]
    return contract


def write_card(folder: Path, stem: str, record: dict[str, Any], info: dict[str, Any]) -> list[str]:
    """Complete ``record`` with the data contract and metrics; write the card and requirements.

    Returns the names written into ``folder`` (the export's staging folder, so
    they appear only when the whole export succeeded).
    """
    from cnngen.rendering.engine import render_template

    record["data"] = data_contract(info)
    record["metrics"] = info.get("metrics")
    (folder / REQUIREMENTS).write_text(requirements(record["files"]), encoding="utf-8")
    card = render_template(
        "model_card.md.jinja",
        stem=stem,
        record=record,
        data=record["data"],
        metrics=record["metrics"] or {},
        requirements=REQUIREMENTS,
    )
    (folder / CARD).write_text(card, encoding="utf-8")
    return [CARD, REQUIREMENTS]
