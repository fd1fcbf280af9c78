"""plan --svg: structure (xml.etree) and a real rendering in headless Chromium."""

from __future__ import annotations

import dataclasses
import json
import shutil
import struct
import subprocess
import zlib
from pathlib import Path
from xml.etree import ElementTree

import pytest

from cnngen.core.solver import solve
from cnngen.core.spec import make_spec
from cnngen.rendering.svg import block_size, plan_svg

NS = {"svg": "http://www.w3.org/2000/svg"}


def draw(family: str, **options) -> tuple[object, ElementTree.Element, str]:
    plan = solve(make_spec(family, **options))
    text = plan_svg(plan)
    return plan, ElementTree.fromstring(text.encode("utf-8")), text


def stage_groups(root: ElementTree.Element) -> list[ElementTree.Element]:
    return root.findall(".//svg:g[@class='stage']", NS)


def texts(group: ElementTree.Element, cls: str) -> list[str]:
    return [t.text or "" for t in group.findall(f"svg:text[@class='{cls}']", NS)]


# --------------------------------------------------------------- structure
@pytest.mark.parametrize(
    ("family", "options"),
    [
        ("encoder", {"input_size": (1000,), "layers": 6}),
        (
            "forecaster",
            {"input_size": (100, 100), "in_channels": 60, "out_channels": 30, "layers": 5},
        ),
        ("forecaster", {"input_size": (17, 23), "layers": 3, "latent": 16}),
        ("classifier", {"input_size": (32, 32), "block": "residual", "se": True}),
        ("classifier", {"preset": "lenet5"}),
        ("equivariant", {"input_size": (28, 28), "layers": 3}),
        ("classifier", {"input_size": (16, 16, 16), "block": "bottleneck", "layers": 2}),
    ],
)
def test_one_labelled_block_per_stage(family: str, options: dict) -> None:
    plan, root, _ = draw(family, **options)
    groups = stage_groups(root)
    assert [g.get("data-name") for g in groups] == [s.name for s in plan.stages]
    for group, stage in zip(groups, plan.stages, strict=True):
        shape = "x".join(map(str, stage.out_shape))
        assert group.get("data-shape") == shape
        assert texts(group, "name") == [stage.name]
        assert texts(group, "shape") == [shape]
        assert len(group.findall("svg:rect[@class='block']", NS)) == 1
        assert stage.name in group.find("svg:title", NS).text
    (inputs,) = root.findall(".//svg:g[@class='input']", NS)
    assert texts(inputs, "shape") == ["x".join(map(str, plan.input_shape))]
    residual = [s.name for s in plan.stages if s.kind == "residual"]
    skips = [p.get("data-stage") for p in root.findall(".//svg:path[@class='skip']", NS)]
    assert skips == residual
    assert len(root.findall(".//svg:line[@class='flow']", NS)) == len(plan.stages)


def test_residual_skips_name_their_shortcut() -> None:
    _, root, _ = draw("classifier", input_size=(32, 32), block="residual", layers=3)
    labels = [t.text for t in root.findall(".//svg:text[@class='skip-label']", NS)]
    assert labels[0] == "skip: identity" or labels[0].startswith("skip: Conv2d 1")
    assert any(
        label.startswith("skip: Conv2d 1/2") for label in labels
    )  # projection on downsampling
    assert len(root.findall(".//svg:circle[@class='sum']", NS)) == 3


def rect_height(group: ElementTree.Element) -> float:
    return float(group.find("svg:rect", NS).get("height"))


def test_forecaster_encoder_and_decoder_are_mirrored() -> None:
    plan, root, _ = draw("forecaster", input_size=(64, 64), layers=4, in_channels=3)
    heights = {g.get("data-name"): rect_height(g) for g in stage_groups(root)}
    (inputs,) = root.findall(".//svg:g[@class='input']", NS)
    heights["input"] = rect_height(inputs)
    # enc_k's input and dec_(n-k+1)'s output have the same spatial size, so the same height.
    assert heights["dec4"] == heights["input"]
    assert heights["dec3"] == heights["enc1"]
    assert heights["dec1"] == heights["enc3"]
    brackets = {p.get("data-role") for p in root.findall(".//svg:path[@class='bracket']", NS)}
    assert brackets == {"encoder", "decoder"}
    assert len(root.findall(".//svg:line[@class='mirror']", NS)) == 1


def test_block_sizes_grow_with_log_size() -> None:
    small_w, small_h = block_size((8, 7, 7))
    big_w, big_h = block_size((64, 100, 100))
    assert big_w > small_w and big_h > small_h
    assert block_size((8, 10, 40))[1] == block_size((8, 20, 20))[1]  # geometric mean
    assert block_size((10,))[0] < block_size((10, 5, 5))[0] + 1


def test_text_is_escaped() -> None:
    plan = solve(make_spec("classifier", preset="lenet5"))
    plan = dataclasses.replace(plan, class_name='A<&>"B')
    text = plan_svg(plan)
    root = ElementTree.fromstring(text.encode("utf-8"))
    assert root.find("svg:title", NS).text.startswith('A<&>"B: ')
    assert "A&lt;&amp;&gt;" in text


def test_deterministic() -> None:
    assert draw("classifier", preset="lenet5")[2] == draw("classifier", preset="lenet5")[2]


# --------------------------------------------------------------------- CLI
def test_plan_svg_writes_a_file_and_still_prints_the_plan(run_cli, tmp_path: Path) -> None:
    target = tmp_path / "lenet.svg"
    result = run_cli("plan", "classifier", "--preset", "lenet5", "--svg", str(target))
    assert result.code == 0, result.err
    assert result.out.startswith("Classifier: 1x28x28 -> 10")
    assert f"wrote {target}" in result.err
    root = ElementTree.parse(target).getroot()
    desc = root.find("svg:desc", NS).text
    assert desc.endswith(f"cnngen plan classifier --preset lenet5 --svg {target}")
    again = run_cli("plan", "classifier", "--preset", "lenet5", "--svg", str(target))
    assert again.code == 2 and "--svg:" in again.err and "--force" in again.err
    assert (
        run_cli("plan", "classifier", "--preset", "lenet5", "--svg", str(target), "--force").code
        == 0
    )


def test_plan_svg_to_stdout(run_cli) -> None:
    result = run_cli("plan", "encoder", "-i", "100", "--svg", "-")
    assert result.code == 0
    assert result.out.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<svg ')
    ElementTree.fromstring(result.out.encode("utf-8"))


def test_plan_warns_when_the_receptive_field_is_short(run_cli) -> None:
    short = run_cli("plan", "encoder", "-i", "100", "-n", "2")
    assert short.code == 0
    assert short.err.strip() == "Warning: receptive field 7 does not cover the 100 input"
    assert "receptive field: 7 (does not cover the 100 input)" in short.out
    covered = run_cli("plan", "encoder", "-i", "28", "-n", "4", "--kernel", "7")
    assert covered.code == 0 and covered.err == ""
    # The formula would say 37, but padding is not input: the field stops at the border.
    assert "receptive field: 28 (the whole input)" in covered.out
    svg = run_cli("plan", "encoder", "-i", "28", "-n", "4", "--kernel", "7", "--svg", "-")
    assert "receptive field 28 (the whole input)" in svg.out
    data = json.loads(run_cli("plan", "encoder", "-i", "100", "-n", "2", "--json").out)
    assert data["receptive_field"] == [7] and data["receptive_field_covers_input"] is False


# --------------------------------------------------------------- Chromium
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


@pytest.fixture(scope="session")
def chromium() -> str:
    """A headless Chromium-family browser, or a skip saying how to get one.

    The tests never install anything; ``.ci/browser`` (run by ``.ci/run``)
    installs Chromium where apt-get is available.
    """
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(
        f"no headless browser found (looked for {', '.join(BROWSERS)} on PATH); "
        "install chromium, e.g. with 'bash .ci/browser', to render the SVG for real"
    )


def decode_png(data: bytes) -> tuple[int, int, int, list[bytearray]]:
    """(width, height, bytes per pixel, rows) of an 8-bit RGB/RGBA non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, idat = 8, b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        position += 12 + length
    assert depth == 8 and interlace == 0 and colour in (2, 6)
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytearray] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, row = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = row[i - bpp] if i >= bpp else 0
            up = previous[i]
            if kind == 1:
                row[i] = (row[i] + left) & 0xFF
            elif kind == 2:
                row[i] = (row[i] + up) & 0xFF
            elif kind == 3:
                row[i] = (row[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                corner = previous[i - bpp] if i >= bpp else 0
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                best = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                row[i] = (row[i] + best) & 0xFF
        rows.append(row)
        previous = row
    return width, height, bpp, rows


def screenshot(chromium: str, svg: Path, tmp_path: Path, size: str = "900,420") -> Path:
    png = tmp_path / "shot.png"
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={png}",
        f"--window-size={size}",
        svg.resolve().as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert png.exists(), done.stderr[-2000:]
    return png


def colour_counts(png: Path) -> tuple[int, int, set[tuple[int, int, int]]]:
    """(pixels, non-white pixels, distinct colours rounded to 32 levels)."""
    width, height, bpp, rows = decode_png(png.read_bytes())
    inked, colours = 0, set()
    for row in rows:
        for x in range(0, width * bpp, bpp):
            r, g, b = row[x], row[x + 1], row[x + 2]
            if r < 235 or g < 235 or b < 235:
                inked += 1
                colours.add((r // 32, g // 32, b // 32))
    return width * height, inked, colours


def test_chromium_draws_the_diagram(chromium: str, tmp_path: Path, run_cli) -> None:
    svg = tmp_path / "forecaster.svg"
    result = run_cli("plan", "forecaster", "-i", "64x64", "-n", "3", "--svg", str(svg))
    assert result.code == 0, result.err
    pixels, inked, colours = colour_counts(screenshot(chromium, svg, tmp_path))
    # Blocks, arrows and labels cover a real share of the picture, in several colours
    # (encoder blue, decoder orange, input grey, text).
    assert 0.03 < inked / pixels < 0.6, (inked, pixels)
    assert len(colours) >= 4

    blank = tmp_path / "blank.svg"
    blank.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>\n')
    pixels, inked, _ = colour_counts(screenshot(chromium, blank, tmp_path / "b"))
    assert inked == 0  # the counter itself sees an empty page as empty
