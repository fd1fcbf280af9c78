"""The benchmark entry points import and a tiny configuration runs."""

from __future__ import annotations

import dataclasses
import struct
import zlib

import pytest

from benchmarks import common, compare_tcb, reproduce, run


def test_png_writer_round_trips(tmp_path):
    path = tmp_path / "strip.png"
    pixels = [[0, 128, 255], [255, 128, 0]]
    common.write_png(path, pixels)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (3, 2)
    start = data.index(b"IDAT") + 4
    length = struct.unpack(">I", data[start - 8 : start - 4])[0]
    raw = zlib.decompress(data[start : start + length])
    assert raw == b"\x00\x00\x80\xff\x00\xff\x80\x00"


def test_table_is_markdown():
    text = common.table(["a", "b"], [["x", 1], ["yy", 22]])
    assert text.splitlines()[1] == "| -- | -: |"


def test_moving_square_windows_include_the_last():
    video = reproduce.moving_square(12, size=16, side=4, radius=4)
    x, y = reproduce.windows(video, 3, 2)
    assert len(x) == 12 - 3 - 2 + 1
    assert (y[-1][-1] == video[-1]).all()


@pytest.mark.skipif(not common.tcb_available(), reason="torchcnnbuilder not installed")
def test_matched_forecaster_has_forecasterbase_parameters(tmp_path):
    path, plan, _ = common.generate(
        "forecaster", tmp_path, "m.py", **compare_tcb.matched_options((40, 40), 8, 8, 3)
    )
    ours = common.model_class(common.import_file(path))()
    theirs = compare_tcb.tcb_forecaster((40, 40), 8, 8, 3)
    assert common.count_params(ours) == common.count_params(theirs) == plan.params


@pytest.mark.skipif(not common.tcb_available(), reason="torchcnnbuilder not installed")
def test_quick_correctness_section_writes_markdown(tmp_path):
    output = tmp_path / "results.md"
    assert run.main(["--quick", "--only", "correctness", "--output", str(output)]) == 0
    text = output.read_text()
    assert "| 100x100" in text and "95x95" in text


def test_training_loop_comparison_runs_on_the_cpu(tmp_path):
    """measure() on the CPU, tiny; the report section itself needs CUDA."""
    import torch

    from benchmarks import train_loop

    train_loop.write_project(tmp_path, samples=48, size=(16, 16), layers=2)
    figures = train_loop.measure(
        tmp_path, "cpu", bf16=False, channels_last=False, compiled=False, batch=8, steps=2
    )
    assert figures["generated"] > 0 and figures["hand_tuned"] > 0
    assert figures["ratio"] == figures["generated"] / figures["hand_tuned"]
    text, result = train_loop.section(quick=True)
    if not torch.cuda.is_available():
        assert text.endswith("not run: no CUDA device") and result == {
            "status": "not run: no CUDA device"
        }


def test_plan_speed_measures_and_reports_a_tiny_grid():
    """Per-op times against the reference, the growth fit and the report, without subprocesses."""
    from benchmarks import plan_speed

    rows = plan_speed.per_op([(32,), (16, 16)], [2, 4], budget=0.0)
    assert all(row["ops"] > 0 and row["plan"] > 0 and row["reference"] > 0 for row in rows)
    slopes = plan_speed.growth(rows)
    assert set(slopes) == {"1D 32", "2D 16x16"}
    process = {
        "python -c pass": 0.02,
        'python -c "import click"': 0.04,
        "cnngen --help": 0.08,
        plan_speed.MODEL_COLD: 0.2,
        plan_speed.MODEL_WARM: 0.1,
    }
    black = [{"case": "tiny", "lines": 10, "render": 0.01, "unformatted": 0.001}]
    deep = [{"case": "encoder", "ops": 9, "plan": 0.01, "fields": 0.001}]
    text = plan_speed.markdown(rows, slopes, process, black, deep, quick=True)
    assert "| 1D 32 | 2 |" in text and "| `cnngen --help` | 80.0 ms | 2.50x this |" in text
    assert f"| `{plan_speed.MODEL_WARM}` | 100.0 ms | 2.00x this |" in text
    assert "| tiny | 10 | 10.0 ms | 1.00 ms | 90% |" in text
    ratios = [row["plan"] / row["op_records"] for row in rows]
    assert f"planning takes {min(ratios):.1f}x to {max(ratios):.1f}x per op" in text
    assert "at 2 layers" in text and "from 4 layers on" in text


def test_plan_speed_reference_counts_what_the_plan_counts():
    """The reference recurrence is a floor only if it does the planner's arithmetic."""
    from benchmarks import plan_speed
    from cnngen.core.solver import solve
    from cnngen.core.spec import make_spec

    plan = solve(make_spec("encoder", input_size=(40, 40), layers=3))
    inputs = plan_speed.reference_inputs(plan)
    convs = [op for stage in plan.stages for _, op in stage.all_ops() if op.kind == "conv"]
    expected = sum(op.params + op.macs for op in convs)
    assert plan_speed.reference(inputs, (40, 40)) == expected


def test_starter_speed_report_states_the_slowest_family_against_the_target():
    from benchmarks import starter_speed

    header = "UNet: 121,051 parameters; device cpu; 800 training, 200 validation samples"
    rows = [
        {"family": "unet", "wall": 90.0, "cpu": 130.0, "epoch": 80.0, "load": 3.0,
         "header": header},
        {"family": "forecaster", "wall": 9.0, "cpu": 8.0, "epoch": 5.0, "load": 1.0,
         "header": header},
    ]  # fmt: skip
    text = starter_speed.report(rows, "small")
    assert "| unet " in text and "| 121,051 " in text and "65-130 s" in text
    assert "130.0 s of CPU time" in text and "over the 120 s target" in text
    assert "--size small" in text


def test_plan_speed_record_reference_builds_the_plans_ops():
    """The record-building floor makes every op of the plan: its name, shapes, weights, MACs."""
    from benchmarks import plan_speed
    from cnngen.core.solver import solve
    from cnngen.core.spec import make_spec

    plan = solve(make_spec("forecaster", input_size=(33, 20), layers=3, max_channels=64))
    records = plan_speed.reference_records(plan_speed.record_inputs(plan), plan.input_shape)
    ops = [(name, op) for stage in plan.stages for name, op in stage.all_ops()]
    assert [record[:6] for record in records] == [
        (name, op.kind, op.in_shape, op.out_shape, op.params, op.macs) for name, op in ops
    ]
    assert all(len(record[6]) == 2 for record in records)
    # As cnngen's own ops: the plan's ops, but for the field (the reference's is affine).
    made = plan_speed.reference_records(plan_speed.record_inputs(plan), plan.input_shape, True)
    assert [dataclasses.replace(op, path=name) for name, op in ops] == [
        dataclasses.replace(op, receptive_field=plan_op.receptive_field)
        for op, (_, plan_op) in zip(made, ops, strict=True)
    ]
