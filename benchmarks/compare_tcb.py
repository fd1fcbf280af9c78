"""cnngen against TorchCNNBuilder, same machine, same run.

Sections (each returns markdown and a dict of headline numbers):

* ``build_time``  plan+render+Black of a forecaster file (and importing and
  instantiating it) against ``ForecasterBase(...)`` construction, each in a
  fresh subprocess whose resident memory is watched.
* ``correctness`` per-layer sizes of a stride-2 forecaster in both tools and
  whether a resize layer is present.
* ``speed``       forward+backward throughput of the generated forecaster
  against ``ForecasterBase`` with the same layers and channels, on the CPU and,
  where present, on a CUDA device (fp32/bf16, channels_last, torch.compile).

TorchCNNBuilder is optional: without it the sections say "not run".
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import (
    CHILD_PEAK_RSS,
    available_memory,
    count_params,
    fmt_bytes,
    fmt_int,
    fmt_seconds,
    generate,
    import_file,
    median,
    model_class,
    run_guarded,
    table,
    tcb_available,
    time_calls,
)

NOT_INSTALLED = "not run: torchcnnbuilder is not installed (`pip install -e .[bench]`)"


# --------------------------------------------------------------- matching
def tcb_default_channels(size: tuple[int, ...], in_channels: int, layers: int) -> list[int]:
    """Encoder channels of ``ForecasterBase`` (its "proportion" growth rule, conv_dim 2)."""
    stop = int((sum(size) * 0.5) // len(size) + in_channels)
    step = (stop - in_channels) // layers
    return list(range(in_channels, stop + 1, step))[: layers + 1][1:]


def matched_options(
    size: tuple[int, ...], in_channels: int, out_channels: int, layers: int
) -> dict[str, Any]:
    """cnngen options that rebuild ForecasterBase's default architecture.

    ForecasterBase defaults: kernel 3, stride 1, padding 0, no normalization,
    ReLU, no final activation, channels growing by a constant step.  cnngen's
    ``linear`` rule with ``start`` = first width and ``ratio`` = 1 + step/start
    gives the same widths; ``--padding valid --downsample none --norm none``
    gives the same convolutions.  The decoder mirrors the encoder widths.
    """
    channels = tcb_default_channels(size, in_channels, layers)
    start = channels[0]
    step = channels[1] - channels[0] if len(channels) > 1 else 0
    return dict(
        input_size=size,
        in_channels=in_channels,
        out_channels=out_channels,
        layers=layers,
        padding="valid",
        downsample="none",
        norm="none",
        activation="relu",
        channel_rule="linear",
        start_channels=start,
        ratio=1 + step / start,
        max_channels=max(512, channels[-1]),
    )


def tcb_forecaster(
    size: tuple[int, ...], in_channels: int, out_channels: int, layers: int, **kwargs: Any
) -> Any:
    from torchcnnbuilder.models import ForecasterBase

    return ForecasterBase(
        input_size=list(size),
        n_layers=layers,
        in_time_points=in_channels,
        out_time_points=out_channels,
        **kwargs,
    )


# --------------------------------------------------------------- build time
def child_cnngen_generate(options: dict[str, Any], repeats: int) -> dict[str, Any]:
    """In a fresh process without torch: time plan, and plan+render+Black.

    The format cache is off, so every repeat runs Black on a new text, as the
    first ``cnngen model`` of a network does (a text formatted before skips Black).
    """
    import os
    import sys

    os.environ["CNNGEN_NO_CACHE"] = "1"

    from cnngen.core.solver import solve
    from cnngen.core.spec import make_spec
    from cnngen.rendering.engine import render_model

    def plan_only() -> Any:
        return solve(make_spec("forecaster", **options))

    def full() -> str:
        spec = make_spec("forecaster", **options)
        return render_model(solve(spec), spec.command())

    from cnngen.errors import CnngenError

    start = time.perf_counter()
    try:
        source = full()
    except CnngenError as error:  # a network that could not run anywhere: say so
        return {"refused": str(error).split(";")[0]}
    first = time.perf_counter() - start
    plan_times = time_calls(plan_only, repeats, warmup=1)
    full_times = time_calls(full, repeats, warmup=0)
    return {
        "first": first,
        "plan": median(plan_times),
        "generate": median(full_times),
        "lines": source.count("\n"),
        "torch_imported": "torch" in sys.modules,
    }


def child_cnngen_instantiate(options: dict[str, Any], repeats: int) -> dict[str, Any]:
    """In a fresh process: write the file, import it and construct the model."""
    import torch

    from cnngen.errors import CnngenError

    torch.set_num_threads(max(1, torch.get_num_threads()))
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        try:
            path, plan, _ = generate("forecaster", Path(folder), "forecaster_build.py", **options)
        except CnngenError as error:
            return {"refused": str(error).split(";")[0]}
        write = time.perf_counter() - start
        start = time.perf_counter()
        module = import_file(path)
        cls = model_class(module)
        imported = time.perf_counter() - start
        times = []
        params = 0
        for _ in range(repeats):
            start = time.perf_counter()
            model = cls()
            times.append(time.perf_counter() - start)
            params = count_params(model)
            del model
    return {
        "write": write,
        "import": imported,
        "instantiate": median(times),
        "params": params,
        "plan_params": plan.params,
    }


def child_tcb_construct(
    size: tuple[int, ...], in_channels: int, out_channels: int, layers: int, repeats: int
) -> dict[str, Any]:
    import torch  # noqa: F401

    times = []
    params = 0
    for _ in range(repeats):
        start = time.perf_counter()
        model = tcb_forecaster(size, in_channels, out_channels, layers)
        times.append(time.perf_counter() - start)
        params = count_params(model)
        del model
    return {"construct": median(times), "params": params}


def _child(call: str, timeout: float, rss_limit: int) -> dict[str, Any]:
    code = (
        CHILD_PEAK_RSS
        + "import benchmarks.compare_tcb as m\n"
        + f"r = m.{call}\n"
        + "r['peak_rss'] = _peak_rss()\n"
        + "print('RESULT ' + repr(r))\n"
    )
    return run_guarded(code, timeout=timeout, rss_limit=rss_limit)


BUILD_CASES = (((100, 100), 5), ((500, 500), 50), ((3840, 2160), 50))


def build_time(quick: bool = False) -> tuple[str, dict[str, Any]]:
    cases = BUILD_CASES[:2] if quick else BUILD_CASES
    in_ch, out_ch = 60, 30
    avail = available_memory() or 24 * 2**30
    rss_limit = int(min(20 * 2**30, max(2 * 2**30, avail - 3 * 2**30)))
    rows = []
    refusals: list[str] = []
    headline: dict[str, Any] = {}
    have_tcb = tcb_available()
    for size, layers in cases:
        big = math.prod(size) > 10**6
        gen_repeats = 3 if quick else (5 if big else 20)
        inst_repeats = 1 if big or quick else 3
        label = f"{'x'.join(map(str, size))}, {layers} layers"
        options = matched_options(size, in_ch, out_ch, layers)
        gen = _child(f"child_cnngen_generate({options!r}, {gen_repeats})", 300, rss_limit)
        inst = _child(f"child_cnngen_instantiate({options!r}, {inst_repeats})", 300, rss_limit)
        if have_tcb:
            tcb = _child(
                f"child_tcb_construct({size!r}, {in_ch}, {out_ch}, {layers}, {inst_repeats})",
                300,
                rss_limit,
            )
        else:
            tcb = {"status": "not installed", "peak_rss": None}

        def cell(result: dict[str, Any], key: str) -> str:
            if result.get("status") != "ok":
                return result.get("status", "?")
            if "refused" in result:
                return "refused"
            return fmt_seconds(result[key])

        if "refused" in gen:
            refusals.append(f"{label}: cnngen refuses the network ({gen['refused']})")

        rows.append(
            [
                label,
                cell(gen, "plan"),
                cell(gen, "generate"),
                fmt_bytes(gen.get("peak_rss")),
                cell(inst, "import")
                if inst.get("status") != "ok" or "refused" in inst
                else fmt_seconds(inst["import"] + inst["instantiate"]),
                fmt_bytes(inst.get("peak_rss")),
                cell(tcb, "construct"),
                fmt_bytes(tcb.get("peak_rss")) if tcb.get("peak_rss") else "n/a",
                fmt_int(inst.get("params")),
                fmt_int(tcb.get("params")),
            ]
        )
        headline[label] = {"cnngen": gen, "cnngen_instantiate": inst, "tcb": tcb}
    headers = [
        "case (60 in, 30 out)",
        "cnngen plan",
        "cnngen plan+render+Black",
        "peak RSS",
        "cnngen import+construct",
        "peak RSS",
        "ForecasterBase(...)",
        "peak RSS",
        "params (cnngen)",
        "params (TCB)",
    ]
    text = [
        "### Build time",
        "",
        "Each cell is measured in a fresh subprocess (its resident memory is polled "
        f"and the child is killed above {fmt_bytes(rss_limit)}). cnngen is configured to "
        "build ForecasterBase's default architecture (kernel 3, stride 1, no padding, "
        "no normalization, ReLU, the same channel widths), so both sides describe the "
        "same network. 'plan+render+Black' is the `cnngen model` work (no torch import; "
        "the peak RSS beside it is that process's). 'import+construct' imports the "
        "generated file and runs its constructor, which allocates and initializes the "
        "weights just like `ForecasterBase(...)`. Medians of "
        f"{'3' if quick else '20 (5 for 4K)'} generation runs and "
        f"{'1' if quick else '3 (1 for 4K)'} constructions.",
        "",
        table(headers, rows),
    ]
    if refusals:
        text += [
            "",
            "Refused: "
            + "; ".join(refusals)
            + ". ForecasterBase builds such a network's weights, but no single device "
            "holds one layer's input and output for its forward pass.",
        ]
    if not have_tcb:
        text += ["", NOT_INSTALLED]
    return "\n".join(text), headline


# --------------------------------------------------------------- correctness
def _hook_sizes(model: Any, names: list[str], x: Any) -> dict[str, tuple[int, ...]]:
    import torch

    sizes: dict[str, tuple[int, ...]] = {}
    modules = dict(model.named_modules())
    handles = []
    for name in names:
        handles.append(
            modules[name].register_forward_hook(
                lambda _m, _i, out, name=name: sizes.__setitem__(name, tuple(out.shape[2:]))
            )
        )
    with torch.no_grad():
        model.eval()
        model.to("meta")(x.to("meta"))
    for handle in handles:
        handle.remove()
    return sizes


CORRECTNESS_SIZES = ((100, 100), (97, 97), (128, 96), (3840, 2160))


def correctness(quick: bool = False) -> tuple[str, dict[str, Any]]:
    """Stride-2 encoders: exact sizes from cnngen, resize in TorchCNNBuilder."""
    import torch
    from torch import nn

    if not tcb_available():
        return "### Decoder sizes (stride-2 encoders)\n\n" + NOT_INSTALLED, {}
    layers = 4
    in_ch, out_ch = 2, 1
    conv = {"kernel_size": 3, "stride": 2, "padding": 0}
    tconv = {"kernel_size": 3, "stride": 2, "padding": 0, "output_padding": 0}
    summary_rows = []
    detail = ""
    headline: dict[str, Any] = {}
    sizes_to_run = CORRECTNESS_SIZES[:2] if quick else CORRECTNESS_SIZES
    with tempfile.TemporaryDirectory() as folder:
        for size in sizes_to_run:
            tcb = tcb_forecaster(
                size,
                in_ch,
                out_ch,
                layers,
                convolve_params=dict(conv),
                transpose_convolve_params=dict(tconv),
            )
            options = dict(
                input_size=size, in_channels=in_ch, out_channels=out_ch, layers=layers, stride=(2,)
            )
            path, plan, command = generate(
                "forecaster", Path(folder), f"stride2_{'x'.join(map(str, size))}.py", **options
            )
            cls = model_class(import_file(path))
            ours = cls()
            x = torch.zeros(1, in_ch, *size)
            big = math.prod(size) > 10**6
            tcb_names = [f"encoder.conv {i + 1}" for i in range(layers)] + [
                f"decoder.deconv {i + 1}" for i in range(layers)
            ]
            tcb_sizes = _hook_sizes(tcb, tcb_names + ["decoder.resize", "decoder"], x)
            our_names = [f"enc{i + 1}" for i in range(layers)] + [
                f"dec{i + 1}" for i in range(layers)
            ]
            our_sizes = _hook_sizes(ours, our_names, x)
            resize_tcb = any(
                isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)) for m in tcb.modules()
            )
            resize_ours = (
                any(
                    isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.Upsample))
                    for m in ours.modules()
                )
                or "interpolate" in path.read_text()
            )
            before_resize = tcb_sizes[f"decoder.deconv {layers}"]
            label = "x".join(map(str, size))
            summary_rows.append(
                [
                    label,
                    "x".join(map(str, tcb_sizes[f"encoder.conv {layers}"])),
                    "x".join(map(str, before_resize)),
                    "yes (AdaptiveAvgPool2d)" if resize_tcb else "no",
                    "x".join(map(str, our_sizes[f"enc{layers}"])),
                    "x".join(map(str, our_sizes[f"dec{layers}"])),
                    "yes" if resize_ours else "no",
                    "yes" if our_sizes[f"dec{layers}"] == tuple(size) else "NO",
                ]
            )
            headline[label] = {
                "tcb_before_resize": before_resize,
                "cnngen_out": our_sizes[f"dec{layers}"],
            }
            if size == (100, 100):
                rows = []
                for i in range(layers):
                    rows.append(
                        [
                            f"encoder layer {i + 1}",
                            "x".join(map(str, tcb_sizes[f"encoder.conv {i + 1}"])),
                            "x".join(map(str, our_sizes[f"enc{i + 1}"])),
                        ]
                    )
                for i in range(layers):
                    rows.append(
                        [
                            f"decoder layer {i + 1}",
                            "x".join(map(str, tcb_sizes[f"decoder.deconv {i + 1}"])),
                            "x".join(map(str, our_sizes[f"dec{i + 1}"])),
                        ]
                    )
                rows.append(["resize", "x".join(map(str, tcb_sizes["decoder.resize"])), "(none)"])
                detail = "\n".join(
                    [
                        "",
                        f"Per layer, {label} input, {layers} layers (spatial sizes after each layer):",
                        "",
                        table(["layer", "TorchCNNBuilder", "cnngen"], rows, "lrr"),
                        "",
                        f"cnngen command: `cnngen {command}`",
                    ]
                )
            del tcb, ours
            if big:
                import gc

                gc.collect()
    text = [
        "### Decoder sizes (stride-2 encoders)",
        "",
        f"ForecasterBase with `convolve_params={conv}` and "
        f"`transpose_convolve_params={tconv}`, {layers} layers, against the cnngen "
        f"forecaster with `--stride 2` (padding and output_padding solved). Sizes are "
        "read with forward hooks while running both models (on PyTorch's `meta` device, "
        "which propagates shapes without arithmetic), not from either tool's bookkeeping.",
        "",
        table(
            [
                "input",
                "TCB bottleneck",
                "TCB decoder output",
                "TCB resize layer",
                "cnngen bottleneck",
                "cnngen decoder output",
                "cnngen resize layer",
                "cnngen exact",
            ],
            summary_rows,
            "lrrlrrll",
        ),
        detail,
    ]
    return "\n".join(text), headline


# --------------------------------------------------------------- speed
def _train_step_fn(model: Any, x: Any, dtype_ctx: Any = None) -> Any:
    import contextlib

    ctx = dtype_ctx or contextlib.nullcontext

    def step() -> None:
        with ctx():
            out = model(x)
            loss = out.float().square().mean()
        loss.backward()
        for p in model.parameters():
            p.grad = None

    return step


def _throughput_cpu(
    models: dict[str, Any], x: Any, repeats: int, rounds: int
) -> dict[str, list[float]]:
    """Samples per second of forward+backward, models interleaved round by round."""
    steps = {name: _train_step_fn(model, x) for name, model in models.items()}
    for step in steps.values():
        step()  # warm up
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(rounds):
        for name, step in steps.items():
            times[name] += time_calls(step, repeats, warmup=0)
    batch = x.shape[0]
    return {name: [batch / t for t in values] for name, values in times.items()}


SPEED_CASES = (
    ("100x100, 60 in -> 30 out, 5 layers", (100, 100), 60, 30, 5),
    ("100x100, 60 in -> 60 out, 5 layers", (100, 100), 60, 60, 5),
)


def _speed_models(
    folder: Path, size: tuple[int, ...], in_ch: int, out_ch: int, layers: int
) -> tuple[Any, Any, str]:
    path, _plan, command = generate(
        "forecaster",
        folder,
        f"speed_{in_ch}_{out_ch}.py",
        **matched_options(size, in_ch, out_ch, layers),
    )
    ours = model_class(import_file(path))()
    theirs = tcb_forecaster(size, in_ch, out_ch, layers)
    return ours, theirs, command


def speed(quick: bool = False) -> tuple[str, dict[str, Any]]:
    import torch

    if not tcb_available():
        return "### Training-step throughput\n\n" + NOT_INSTALLED, {}
    torch.manual_seed(0)
    batch = 2 if quick else 4
    repeats = 1 if quick else 3
    rounds = 1 if quick else 5
    cases = SPEED_CASES[:1] if quick else SPEED_CASES
    rows = []
    headline: dict[str, Any] = {}
    commands = []
    arch_rows = []
    with tempfile.TemporaryDirectory() as folder:
        for label, size, in_ch, out_ch, layers in cases:
            ours, theirs, command = _speed_models(Path(folder), size, in_ch, out_ch, layers)
            commands.append(f"`cnngen {command}`")
            x = torch.randn(batch, in_ch, *size)
            result = _throughput_cpu({"cnngen": ours, "tcb": theirs}, x, repeats, rounds)
            ours_sps, tcb_sps = median(result["cnngen"]), median(result["tcb"])
            rows.append(
                [
                    label,
                    fmt_int(count_params(ours)),
                    fmt_int(count_params(theirs)),
                    f"{ours_sps:.2f}",
                    f"{tcb_sps:.2f}",
                    f"{ours_sps / tcb_sps:.2f}x",
                ]
            )
            arch_rows.append(
                [
                    label,
                    " ".join(
                        str(m.out_channels)
                        for m in ours.modules()
                        if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))
                    ),
                    " ".join(
                        str(m.out_channels)
                        for m in theirs.modules()
                        if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))
                    ),
                ]
            )
            headline[label] = {
                "cnngen_sps": ours_sps,
                "tcb_sps": tcb_sps,
                "cnngen_params": count_params(ours),
                "tcb_params": count_params(theirs),
            }
            del ours, theirs
    text = [
        "### Training-step throughput (CPU)",
        "",
        f"Forward, MSE-style loss and backward on random input, batch {batch}, "
        f"`torch.set_num_threads({torch.get_num_threads()})`. The two models run "
        f"interleaved ({rounds} rounds of {repeats} steps each, after one warm-up step) "
        "and the table gives the median samples per second. ForecasterBase is built "
        "with its defaults; cnngen with the options that reproduce them:",
        "",
        *[f"- {c}" for c in commands],
        "",
        table(
            [
                "case",
                "params (cnngen)",
                "params (TCB)",
                "cnngen samples/s",
                "TCB samples/s",
                "cnngen / TCB",
            ],
            rows,
        ),
        "",
        "Output channels of every convolution, in order (the encoders agree; "
        "ForecasterBase's decoder uses its own width schedule, which equals the "
        "mirrored encoder only when the output has as many channels as the input):",
        "",
        table(["case", "cnngen", "TorchCNNBuilder"], arch_rows, "lll"),
        "",
        "The 60 -> 60 row is the like-for-like comparison: the same layers, widths and "
        "parameter count, so the ratio measures the generated code against "
        "ForecasterBase's modules (in-place ReLU, a final AdaptiveAvgPool2d that is a "
        "no-op resize here). In the 60 -> 30 row cnngen's mirrored decoder is wider "
        "than ForecasterBase's (more parameters and multiply-accumulates), so it does "
        "more work per step; that row compares the two tools' default widths, not code speed.",
    ]
    gpu_text, gpu = gpu_speed(quick)
    text += ["", gpu_text]
    headline["gpu"] = gpu
    return "\n".join(text), headline


def gpu_speed(quick: bool = False) -> tuple[str, dict[str, Any]]:
    """Throughput on a CUDA device: fp32/bf16 autocast x channels_last x torch.compile."""
    import torch

    title = "### Training-step throughput (GPU)"
    if not torch.cuda.is_available():
        return f"{title}\n\nnot run: no CUDA device", {"status": "not run: no CUDA device"}
    if not tcb_available():
        return f"{title}\n\n{NOT_INSTALLED}", {}
    device = torch.device("cuda")
    label, size, in_ch, out_ch, layers = SPEED_CASES[1]
    batch = 8 if quick else 32
    steps = 5 if quick else 20
    rows = []
    results: dict[str, Any] = {"device": torch.cuda.get_device_name(0), "cuda": torch.version.cuda}
    torch.backends.cudnn.benchmark = True
    with tempfile.TemporaryDirectory() as folder:
        for dtype in ("fp32", "bf16"):
            for channels_last in (False, True):
                for compiled in (False, True):
                    row = [dtype, "yes" if channels_last else "no", "yes" if compiled else "no"]
                    for name in ("cnngen", "tcb"):
                        torch.manual_seed(0)
                        ours, theirs, _ = _speed_models(Path(folder), size, in_ch, out_ch, layers)
                        model = (ours if name == "cnngen" else theirs).to(device)
                        del ours, theirs
                        x = torch.randn(batch, in_ch, *size, device=device)
                        if channels_last:
                            model = model.to(memory_format=torch.channels_last)
                            x = x.contiguous(memory_format=torch.channels_last)
                        runner = torch.compile(model) if compiled else model
                        ctx = (
                            (lambda: torch.autocast("cuda", dtype=torch.bfloat16))
                            if dtype == "bf16"
                            else None
                        )
                        step = _train_step_fn(runner, x, ctx)
                        try:
                            for _ in range(3):
                                step()
                            torch.cuda.synchronize()
                            start = time.perf_counter()
                            for _ in range(steps):
                                step()
                            torch.cuda.synchronize()
                            sps = batch * steps / (time.perf_counter() - start)
                            row.append(f"{sps:.0f}")
                            results[f"{name} {dtype} cl={channels_last} compile={compiled}"] = sps
                        except Exception as error:  # torch.compile may be unavailable
                            row.append(f"failed: {type(error).__name__}")
                        del model, runner, x
                        torch.cuda.empty_cache()
                    rows.append(row)
    text = [
        title,
        "",
        f"{results['device']}, CUDA {results['cuda']}, torch {torch.__version__}; "
        f"{label}, batch {batch}, {steps} timed steps after 3 warm-up steps.",
        "",
        table(
            ["dtype", "channels_last", "torch.compile", "cnngen samples/s", "TCB samples/s"],
            rows,
            "lllrr",
        ),
    ]
    return "\n".join(text), results


# --------------------------------------------------------------- dataset
def dataset(quick: bool = False) -> tuple[str, dict[str, Any]]:
    """Window dataset memory and build time, via benchmarks/dataset_memory.py."""
    title = "### Window dataset: `cnngen dataset windows` vs `multi_output_tensor`"
    try:
        from benchmarks import dataset_memory
        from cnngen.rendering.datafiles import render_windows
    except ImportError as error:
        return f"{title}\n\nnot run: {error}", {}
    frames = 200 if quick else 1000
    pre, post = dataset_memory.PRE_HISTORY, dataset_memory.FORECAST
    methods = ["cnngen"] + (["torchcnnbuilder"] if tcb_available() else [])
    rows = []
    headline: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "windows_dataset.py").write_text(
            render_windows(pre_history=pre, forecast=post)
        )
        for method in methods:
            result = dataset_memory.measure(method, frames, Path(folder))
            name = "cnngen WindowDataset" if method == "cnngen" else "TCB multi_output_tensor"
            if result["status"] != "ok":
                rows.append([name, frames, result["status"], "", "", "", ""])
                continue
            extra = result["peak_rss"] - result["start_rss"]
            rows.append(
                [
                    name,
                    frames,
                    fmt_bytes(result["data"]),
                    fmt_bytes(extra),
                    fmt_seconds(result["build"]),
                    f"{result['windows']:,}",
                    f"{frames - pre - post + 1:,}",
                ]
            )
            headline[method] = {
                "peak_above_start": extra,
                "build": result["build"],
                "windows": result["windows"],
            }
    semantics = _window_semantics() if tcb_available() else ""
    text = [
        title,
        "",
        f"{frames} random frames of {dataset_memory.FRAME[0]}x{dataset_memory.FRAME[1]} float32, "
        f"windows of {pre} input and {post} target frames, measured by "
        "`benchmarks/dataset_memory.py`'s child process (one fresh process per row; "
        "'peak above start' includes the frames themselves). `DATASET_MEMORY.md` has the "
        "same measurement over several series lengths.",
        "",
        table(
            [
                "dataset",
                "frames",
                "data",
                "peak above start",
                "build",
                "windows",
                "windows possible",
            ],
            rows,
        ),
        semantics,
    ]
    return "\n".join(text), headline


def _window_semantics() -> str:
    """What each tool does to a small series with a threshold and x_binarize=False."""
    import numpy as np
    from torchcnnbuilder.preprocess import multi_output_tensor

    from cnngen.rendering.datafiles import render_windows

    rng = np.random.default_rng(0)
    data = rng.random((20, 4, 4), dtype=np.float32)
    pre, post = 4, 2
    tcb = multi_output_tensor(
        data.copy(), forecast_len=post, pre_history_len=pre, threshold=0.5, x_binarize=False
    )
    tcb_x = tcb.tensors[0]
    tcb_binary = int(((tcb_x == 0) | (tcb_x == 1)).all(dim=(1, 2, 3)).sum())
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "small_windows.py"
        path.write_text(render_windows(pre_history=pre, forecast=post))
        module = import_file(path)
        ours = module.WindowDataset(data.copy(), pre_history=pre, forecast=post, threshold=0.5)
        our_binary = sum(
            int(bool(((ours[i][0] == 0) | (ours[i][0] == 1)).all())) for i in range(len(ours))
        )
        our_count = len(ours)
    return "\n".join(
        [
            "",
            f"Semantics on 20 random frames (windows of {pre} + {post}, `threshold=0.5`, inputs "
            "not to be binarized):",
            "",
            table(
                ["", "windows", "windows whose inputs came back binarized"],
                [
                    ["cnngen WindowDataset", our_count, our_binary],
                    ["TCB multi_output_tensor", len(tcb_x), tcb_binary],
                ],
            ),
            "",
            f"{20 - pre - post + 1} windows fit in 20 frames. multi_output_tensor thresholds "
            "each target window in place, and targets are views of the same frames that later "
            "windows read as inputs, so inputs get binarized although `x_binarize=False`.",
        ]
    )
