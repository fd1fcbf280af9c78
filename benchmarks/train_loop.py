"""The generated training loop against a hand-tuned one, on the same model and data.

The generated side is ``train_epoch`` from a ``train.py`` written by cnngen:
a DataLoader, ``torch.autocast``, ``GradScaler`` and per-step loss
accumulation, as users run it.  The hand-tuned side keeps the whole data set
on the device, shuffles with one ``randperm`` per epoch, uses a fused AdamW
and touches nothing on the host inside the loop.  Both get bf16 autocast,
channels_last and ``torch.compile`` in the same combinations.  The target is
at least 90% of the hand-tuned throughput.

Runs on CUDA only (on a CPU the comparison would measure the DataLoader and
little else); without CUDA the section says "not run: no CUDA device".
:func:`measure` itself takes any device, so the smoke test runs it on the CPU.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import import_file, model_class, table

TITLE = "### Generated training loop against a hand-tuned loop (GPU)"
NOT_RUN = "not run: no CUDA device"
TARGET = 0.9
SIZE = (64, 64)


def write_project(
    folder: Path, samples: int, size: tuple[int, int] = SIZE, layers: int = 4
) -> None:
    """A classifier, a synthetic shapes dataset and train.py, as ``cnngen project`` lays out."""
    from cnngen.core.solver import solve
    from cnngen.core.spec import make_spec
    from cnngen.rendering.datafiles import Synthetic, render_synthetic, render_train
    from cnngen.rendering.engine import render_model

    spec = make_spec(
        "classifier", input_size=size, in_channels=3, layers=layers, block="residual", classes=6
    )
    (folder / "model.py").write_text(render_model(solve(spec), spec.command()))
    synthetic = Synthetic(kind="shapes", size=size, classes=6, channels=3, samples=samples)
    (folder / "dataset.py").write_text(render_synthetic(synthetic))
    script = render_train(task="classification", model_class="Classifier", features="amp,resume")
    (folder / "train.py").write_text(script)


def measure(
    folder: Path,
    device: str,
    *,
    bf16: bool,
    channels_last: bool,
    compiled: bool,
    batch: int,
    steps: int,
) -> dict[str, float]:
    """Samples per second of both loops over ``steps`` optimizer steps (after a warm-up)."""
    import torch

    sys.path.insert(0, str(folder))
    try:
        train = import_file(folder / "train.py", f"bench_train_{id(folder)}")
        dataset = import_file(folder / "dataset.py", "dataset")
        model_file = import_file(folder / "model.py", "model")
    finally:
        sys.path.remove(str(folder))
    target = torch.device(device)
    amp_dtype = torch.bfloat16 if bf16 else None
    memory_format = torch.channels_last if channels_last else torch.preserve_format
    train_set, _ = dataset.make_datasets(0)

    def build() -> tuple[Any, Any]:
        torch.manual_seed(0)
        model = model_class(model_file)().to(target)
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        network = torch.compile(model) if compiled else model
        return model, network

    def timed(run: Any) -> float:
        run(max(2, steps // 5))  # warm-up, compilation included
        if target.type == "cuda":
            torch.cuda.synchronize(target)
        started = time.perf_counter()
        done = run(steps)
        if target.type == "cuda":
            torch.cuda.synchronize(target)
        return done * batch / (time.perf_counter() - started)

    # The generated loop, called as main() calls it.
    model, network = build()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler(target.type, enabled=False)
    args = train.parse_args(["--batch-size", str(batch), "--workers", "0"])
    run = train.Run(target, amp_dtype=amp_dtype, memory_format=memory_format)
    loader = train.loader(train_set, args, run, torch.Generator().manual_seed(0))
    state = {"epoch": 0, "step": 0}

    def generated(count: int) -> int:
        extras = {"steps_left": count, "scaler": scaler}
        _, _, done = train.train_epoch(network, loader, optimizer, run, state, extras)
        return done

    results = {"generated": timed(generated)}

    # The hand-tuned loop: data resident on the device, nothing on the host per step.
    model, network = build()
    fused = {"fused": True} if target.type == "cuda" else {}
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, **fused)
    xs = torch.stack([train_set[i][0] for i in range(len(train_set))]).to(target)
    xs = xs.contiguous(memory_format=memory_format) if channels_last else xs
    ys = torch.as_tensor([int(train_set[i][1]) for i in range(len(train_set))]).to(target)

    def hand_tuned(count: int) -> int:
        network.train()
        done = 0
        while done < count:
            order = torch.randperm(len(xs), device=target)
            for start in range(0, len(order) - batch + 1, batch):
                if done == count:
                    break
                index = order[start : start + batch]
                with torch.autocast(target.type, dtype=amp_dtype, enabled=bf16):
                    loss = torch.nn.functional.cross_entropy(network(xs[index]).float(), ys[index])
                loss.backward()
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                done += 1
        return done

    results["hand_tuned"] = timed(hand_tuned)
    results["ratio"] = results["generated"] / results["hand_tuned"]
    return results


def section(quick: bool = False) -> tuple[str, dict[str, Any]]:
    """The comparison on CUDA over bf16 x channels_last x compile; "not run" elsewhere."""
    import tempfile

    import torch

    if not torch.cuda.is_available():
        return f"{TITLE}\n\n{NOT_RUN}", {"status": NOT_RUN}
    batch, steps, samples = (32, 10, 400) if quick else (128, 50, 4000)
    rows = []
    results: dict[str, Any] = {"device": torch.cuda.get_device_name(0)}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        write_project(folder, samples)
        for bf16, channels_last, compiled in (
            (False, False, False),
            (True, False, False),
            (True, True, False),
            (True, True, True),
        ):
            key = f"bf16={bf16} cl={channels_last} compile={compiled}"
            try:
                figures = measure(
                    folder,
                    "cuda",
                    bf16=bf16,
                    channels_last=channels_last,
                    compiled=compiled,
                    batch=batch,
                    steps=steps,
                )
            except Exception as error:  # noqa: BLE001 - compile may be unavailable
                rows.append([key, "-", "-", f"failed: {type(error).__name__}"])
                continue
            results[key] = figures
            rows.append(
                [
                    key,
                    f"{figures['generated']:.0f}",
                    f"{figures['hand_tuned']:.0f}",
                    f"{figures['ratio']:.0%}",
                ]
            )
    text = [
        TITLE,
        "",
        f"{results['device']}, torch {torch.__version__}; residual classifier on 3x64x64, "
        f"batch {batch}, {steps} timed steps after a warm-up; target {TARGET:.0%}.",
        "",
        table(["setting", "generated samples/s", "hand-tuned samples/s", "ratio"], rows, "lrrr"),
    ]
    return "\n".join(text), results
