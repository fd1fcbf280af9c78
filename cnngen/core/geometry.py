"""Per-dimension geometry: which layers downsample, and each convolution's kernel, stride and padding.

For every spatial dimension the planner simulates the layers and picks stride
2 (or a pool) for the downsampling layers, spread evenly, with same-style
padding, so every size is an exact integer; ``--target-size`` searches the
fewest reductions that land on the target.  The channel schedule per layer
lives here too, since it follows the geometry's shrink factors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from cnngen.core import arithmetic
from cnngen.core.channels import channel_schedule, tcb_encoder_channels
from cnngen.core.notes import Note
from cnngen.core.plan import Shape
from cnngen.core.spec import ModelSpec, format_value
from cnngen.core.vocab import TCB_RULES
from cnngen.errors import CnngenError

DOWNSAMPLE_FACTOR = 2


# --------------------------------------------------------------- geometry
class DimConv(NamedTuple):
    """One convolution along one dimension: explicit pad, then conv.

    Named tuples here and in :class:`DimLayer`: the search makes one per layer
    it tries, and a tuple is several times cheaper to make than a frozen dataclass.
    """

    kernel: int
    stride: int
    padding: int
    dilation: int
    pre: tuple[int, int]
    size_in: int
    size_out: int


class DimLayer(NamedTuple):
    """One encoder layer along one dimension: its convolutions, then a pool."""

    convs: tuple[DimConv, ...]
    pool: int
    size_in: int
    size_out: int


class LayerIntent(NamedTuple):
    """What the solver wants from one layer in one dimension.

    A named tuple: the geometry search keys a cache by (size, intent) for
    every layer of every trial, and a tuple hashes in C.
    """

    stride: int
    pool: int
    reduction: int = 0


def spread(count: int, layers: int) -> set[int]:
    """``count`` layer indices spread evenly over ``layers`` layers."""
    if count <= 0:
        return set()
    return {math.floor((j + 0.5) * layers / count) for j in range(count)}


def _padding(
    mode: str, size: int, kernel: int, stride: int, dilation: int
) -> tuple[int, tuple[int, int]]:
    """(symmetric conv padding, explicit (before, after) pad) for a padding mode."""
    if mode == "auto":
        return dilation * (kernel - 1) // 2, (0, 0)
    if mode == "valid":
        return 0, (0, 0)
    if mode.isdigit():  # --padding N: the same N on both sides of every convolution
        return int(mode), (0, 0)
    if mode == "same":
        before, after = arithmetic.same_padding(size, kernel, stride, dilation)
        if before == after:
            return before, (0, 0)
        return 0, (before, after)
    raise ValueError(f"unknown padding mode {mode!r}")


def _run_layer(
    size: int, intent: LayerIntent, kernel: int, dilation: int, padding_mode: str, sub_blocks: int
) -> DimLayer | None:
    """One layer along one dimension from ``size``, or None when its window no longer fits."""
    layer_in = size
    convs = []
    for block in range(sub_blocks):
        stride = intent.stride if block == 0 else 1
        padding, pre = _padding(padding_mode, size, kernel, stride, dilation)
        if block == 0 and intent.reduction:
            padding -= intent.reduction
        padded = size + pre[0] + pre[1]
        if padded + 2 * padding < dilation * (kernel - 1) + 1:
            return None
        out = arithmetic.conv_size(padded, kernel, stride, padding, dilation)
        convs.append(DimConv(kernel, stride, padding, dilation, pre, size, out))
        size = out
    if intent.pool > 1:
        if size < intent.pool:
            return None
        size = arithmetic.pool_size(size, intent.pool, intent.pool, 0, ceil_mode=True)
    return DimLayer(tuple(convs), intent.pool, layer_in, size)


# Layers worked out: (input size, intent, kernel, dilation) -> the layer, None if it cannot run.
Known = dict[tuple[int, LayerIntent, int, int], DimLayer | None]
_UNKNOWN = object()  # not worked out yet (None is a layer that cannot run)


def simulate_dim(
    size: int,
    intents: Sequence[LayerIntent],
    kernel: int,
    dilation: int,
    padding_mode: str,
    sub_blocks: int,
    known: Known | None = None,
) -> list[DimLayer] | int:
    """Run the layers along one dimension.

    Returns the realized layers, or the index of the first layer that cannot
    run (its window no longer fits the feature map).  A layer depends only on
    its input size, intent, kernel and dilation, and deep plans repeat the
    same few (size is kept between downsamplings), so each is worked out
    once; the layers are frozen, so repeats share one object.  ``known``
    holds those already worked out; a search passes one to all its trials
    (and every dimension) for one padding mode and sub-block count.
    """
    realized: list[DimLayer] = []
    if known is None:
        known = {}
    for index, intent in enumerate(intents):
        key = (size, intent, kernel, dilation)
        layer = known.get(key, _UNKNOWN)
        if layer is _UNKNOWN:
            layer = _run_layer(size, intent, kernel, dilation, padding_mode, sub_blocks)
            known[key] = layer
        if layer is None:
            return index
        realized.append(layer)
        size = layer.size_out
    return realized


@dataclass(frozen=True)
class Geometry:
    """Per-dimension plans of every encoder layer, from the spec."""

    dims: tuple[tuple[DimLayer, ...], ...]

    @property
    def layers(self) -> int:
        return len(self.dims[0])

    def sizes_after(self, index: int) -> Shape:
        return tuple(dim[index].size_out for dim in self.dims)


# The intents of layers that downsample by the default factor, or not at all:
# shared, since a deep plan asks for a thousand of each.
_STRIDED = LayerIntent(DOWNSAMPLE_FACTOR, 1)
_POOLED = LayerIntent(1, DOWNSAMPLE_FACTOR)
_KEEP = LayerIntent(1, 1)
_REDUCING = {"stride": _STRIDED, "pool": _POOLED}


def _intents(spec: ModelSpec, dim: int, downsampling: set[int]) -> list[LayerIntent]:
    if spec.stride is not None:
        return [LayerIntent(spec.stride[dim], 1)] * spec.layers
    reducing = _REDUCING.get(spec.downsample, _KEEP)  # type: ignore[arg-type]
    return [reducing if index in downsampling else _KEEP for index in range(spec.layers)]


def _simulate(
    spec: ModelSpec, dim: int, intents: Sequence[LayerIntent], known: Known | None = None
) -> list[DimLayer] | int:
    return simulate_dim(
        spec.input_size[dim],
        intents,
        spec.kernel[dim],
        spec.dilation[dim],
        spec.padding,
        spec.sub_blocks or 1,
        known,
    )


def _max_downsampling(spec: ModelSpec, dim: int) -> int:
    """Upper bound on useful downsampling layers for one dimension."""
    if spec.stride is not None or spec.downsample == "none":
        return 0
    return min(spec.layers, max(spec.input_size[dim], 1).bit_length())


def _first_failure(
    spec: ModelSpec, dim: int, realized: list[DimLayer] | int, floor: int
) -> int | None:
    if isinstance(realized, int):
        return realized
    for index, layer in enumerate(realized):
        if layer.size_out < floor:
            return index
    return None


def _too_many_layers(spec: ModelSpec, fits: int) -> CnngenError:
    how = []
    if spec.stride is not None:
        how.append(f"stride {format_value(spec.stride)}")
    if spec.padding != "auto":
        how.append(
            f"padding {spec.padding}" if spec.padding.isdigit() else f"{spec.padding} padding"
        )
    how.append(f"kernel {format_value(spec.kernel)}")
    if spec.sub_blocks and spec.sub_blocks > 1:
        how.append(f"{spec.sub_blocks} convolutions per layer")
    floor = spec.min_size or spec.target_size
    if fits >= 1:
        fix = f"use --layers {fits} or fewer"
    else:
        remedies = ["a smaller --min-size"]
        if any(k > 1 for k in spec.kernel):
            remedies.insert(0, "a smaller --kernel")
        if spec.padding != "auto":
            remedies.insert(0, "--padding auto")
        if spec.stride is not None and any(s > 1 for s in spec.stride):
            remedies.insert(0, "--stride 1")
        fix = (
            "use " + ", ".join(remedies[:-1]) + (" or " if len(remedies) > 1 else "") + remedies[-1]
        )
    return CnngenError(
        f"--layers: {spec.layers} layers shrink a {format_value(spec.input_size)} input "
        f"below {'--min-size' if spec.min_size else '--target-size'} {format_value(floor)} "
        f"(with {', '.join(how)}); at most {fits} layers fit, so {fix}",
        "--layers",
    )


def _plan_dim_min(spec: ModelSpec, dim: int, known: Known) -> list[DimLayer]:
    floor = spec.min_size[dim]
    top = _max_downsampling(spec, dim)
    if not spec.padding.isdigit():
        # Then a downsampling layer at most halves a size, rounding up, and no other
        # layer grows one: a count whose halvings end below the floor cannot fit.
        size = spec.input_size[dim]
        while top > 0 and (size + (1 << top) - 1) >> top < floor:
            top -= 1
    for count in range(top, -1, -1):
        realized = _simulate(spec, dim, _intents(spec, dim, spread(count, spec.layers)), known)
        if _first_failure(spec, dim, realized, floor) is None:
            assert not isinstance(realized, int)
            return realized
    raise _too_many_layers(spec, min(_layers_that_fit(spec, d) for d in range(spec.dims)))


def _layers_that_fit(spec: ModelSpec, dim: int) -> int:
    """How many layers stay at or above --min-size along ``dim`` without downsampling.

    When a layer cannot run at all, the layers before it are still checked
    against the floor: they may already have gone below it.
    """
    intents = _intents(spec, dim, set())
    realized = _simulate(spec, dim, intents)
    if isinstance(realized, int):
        realized = _simulate(spec, dim, intents[:realized])
        assert not isinstance(realized, int)
    floor = spec.min_size[dim]
    return next(
        (index for index, layer in enumerate(realized) if layer.size_out < floor), len(realized)
    )


def _fewest_reductions(
    spec: ModelSpec, dim: int, intents: Sequence[LayerIntent], target: int, known: Known
) -> list[LayerIntent] | None:
    """Exact search: per-layer padding reductions that land on ``target``.

    Dynamic programming over the reachable sizes after each layer (sizes never
    grow, so anything below the target is dropped).  Among the ways to reach a
    size it keeps the one with the fewest reductions, placed as late as
    possible, which is what a person would do: keep early layers "same".
    """
    kernel, dilation = spec.kernel[dim], spec.dilation[dim]
    full = dilation * (kernel - 1) // 2
    states: dict[int, tuple[int, ...]] = {spec.input_size[dim]: ()}
    for intent in intents:
        following: dict[int, tuple[int, ...]] = {}
        for size, reductions in states.items():
            for reduction in range(full + 1):
                trial = LayerIntent(intent.stride, intent.pool, reduction)
                realized = simulate_dim(
                    size, [trial], kernel, dilation, spec.padding, spec.sub_blocks or 1, known
                )
                if isinstance(realized, int) or realized[0].size_out < target:
                    continue
                out = realized[0].size_out
                candidate = (*reductions, reduction)
                best = following.get(out)
                if best is None or (sum(candidate), candidate) < (sum(best), best):
                    following[out] = candidate
        states = following
    if target not in states:
        return None
    return [
        LayerIntent(intent.stride, intent.pool, reduction)
        for intent, reduction in zip(intents, states[target], strict=True)
    ]


def _placements(count: int, layers: int) -> list[set[int]]:
    """Where the downsampling layers may go: evenly spread first, then front-loaded."""
    options = [spread(count, layers), set(range(count)), set(range(layers - count, layers))]
    unique: list[set[int]] = []
    for option in options:
        if option not in unique:
            unique.append(option)
    return unique


def _plan_dim_target(spec: ModelSpec, dim: int, known: Known) -> list[DimLayer]:
    target = spec.target_size[dim]
    reachable: set[int] = set()
    for count in range(_max_downsampling(spec, dim), -1, -1):
        for placement in _placements(count, spec.layers):
            intents = _intents(spec, dim, placement)
            realized = _simulate(spec, dim, intents, known)
            if isinstance(realized, int):
                continue
            reachable.add(realized[-1].size_out)
            if realized[-1].size_out < target:
                continue
            if spec.padding == "auto":
                reduced = _fewest_reductions(spec, dim, intents, target, known)
                if reduced is not None:
                    intents = reduced
                    realized = _simulate(spec, dim, intents, known)
            if not isinstance(realized, int) and realized[-1].size_out == target:
                return realized
    near = sorted(reachable, key=lambda size: (abs(size - target), size))[:4]
    raise CnngenError(
        f"--target-size: {spec.input_size[dim]} cannot reach exactly {target} in "
        f"{spec.layers} layers along dimension {dim + 1}; sizes these layers reach "
        f"near it: {', '.join(str(size) for size in sorted(near))} (or change --layers "
        f"or --kernel)",
        "--target-size",
        key="refusal.target_reach",
        fields={
            "size": spec.input_size[dim],
            "target": target,
            "layers": spec.layers,
            "dim": dim + 1,
            "near": ", ".join(str(size) for size in sorted(near)),
        },
    )


def plan_geometry(spec: ModelSpec) -> Geometry:
    """Per-dimension layer plans for the encoder trunk of ``spec``."""
    planner = _plan_dim_target if spec.target_size is not None else _plan_dim_min
    known: Known = {}
    # A dimension that asks what an earlier one asked (a square input) gets its layers.
    planned: dict[tuple[object, ...], tuple[DimLayer, ...]] = {}
    dims = []
    for dim in range(spec.dims):
        key = _dim_question(spec, dim)
        if key not in planned:
            planned[key] = tuple(planner(spec, dim, known))
        dims.append(planned[key])
    geometry = Geometry(tuple(dims))
    if spec.padding.isdigit():
        _check_exact_padding(spec, geometry)
    return geometry


# The spec's per-dimension values that the planners read as ``spec.<name>[dim]``;
# tests/test_solver.py checks this module reads no other.
PER_DIMENSION_FIELDS = ("input_size", "kernel", "dilation", "stride", "min_size", "target_size")


def _dim_question(spec: ModelSpec, dim: int) -> tuple[object, ...]:
    """Everything of ``spec`` that the planners read for dimension ``dim``."""
    per_dim = (getattr(spec, name) for name in PER_DIMENSION_FIELDS)
    return tuple(None if values is None else values[dim] for values in per_dim)


def _check_exact_padding(spec: ModelSpec, geometry: Geometry) -> None:
    """``--padding N`` must not leave input positions that no window reaches.

    A strided convolution drops the last ``(size + 2N - span) % stride``
    positions of the padded map; when that is more than the N padded ones,
    real input is never seen and the decoder could not give it back.
    """
    for dim, layers in enumerate(geometry.dims):
        for index, layer in enumerate(layers):
            for conv in layer.convs:
                span = conv.dilation * (conv.kernel - 1) + 1
                dropped = (conv.size_in + 2 * conv.padding - span) % conv.stride
                if dropped > conv.padding:
                    raise CnngenError(
                        f"--padding: with --padding {spec.padding}, layer {index + 1} "
                        f"(stride {conv.stride}) never reaches the last {dropped - conv.padding} "
                        f"of its {conv.size_in} positions along dimension {dim + 1}, so sizes "
                        f"are not exact; use --padding auto, or an --input-size one larger "
                        f"or smaller",
                        "--padding",
                    )


# ------------------------------------------------------------- channels
def _shrinks(spec: ModelSpec, geometry: Geometry) -> list[float]:
    result = []
    for index in range(geometry.layers):
        sizes = geometry.sizes_after(index)
        ratios = [spec.input_size[d] / sizes[d] for d in range(spec.dims)]
        result.append(math.prod(ratios) ** (1 / spec.dims))
    return result


def channel_widths(
    spec: ModelSpec, count: int, shrinks: Sequence[float]
) -> tuple[list[int], list[int]]:
    """The widths of ``count`` layers (or U-Net levels), and where the clamp bit.

    ``--channels`` gives them as they are; a TorchCNNBuilder rule gives its
    exact widths, clamped like every rule; the other rules follow
    :func:`channel_schedule`.
    """
    if spec.channels:
        return list(spec.channels), []
    if spec.channel_rule in TCB_RULES:
        raw = tcb_encoder_channels(
            spec.channel_rule,
            count,
            spec.in_channels,
            spec.start_channels,
            spec.ratio,
            spec.input_size,
        )
        if not raw:
            raise CnngenError(
                f"--channel-rule: tcb-proportion grows from {spec.in_channels} to "
                f"{spec.in_channels} + mean({format_value(spec.input_size)}) / 2 in {count} equal "
                f"whole steps, and that range is too small for {count} steps (TorchCNNBuilder "
                f"refuses it too); use fewer --layers or another --channel-rule",
                "--channel-rule",
            )
        channels, clamped = [], []
        for index, value in enumerate(raw):
            bounded = min(max(value, spec.min_channels, 1), spec.max_channels)
            if bounded != value:
                clamped.append(index)
            channels.append(bounded)
        return channels, clamped
    return channel_schedule(
        spec.channel_rule,
        count,
        spec.start_channels,
        spec.ratio,
        spec.min_channels,
        spec.max_channels,
        shrinks,
    )


def rule_notes(spec: ModelSpec, channels: Sequence[int]) -> list[str]:
    """A note naming TorchCNNBuilder's rule where its widths are used, so a reader can check them."""
    if spec.channels or spec.channel_rule not in TCB_RULES:
        return []
    return [Note("note.tcb_channels", rule=spec.channel_rule, widths=", ".join(map(str, channels)))]


def encoder_channels(spec: ModelSpec, geometry: Geometry) -> tuple[list[int], list[str]]:
    # Only the proportion rule reads how far the map has shrunk.
    shrinks = _shrinks(spec, geometry) if spec.channel_rule == "proportion" else [1.0] * spec.layers
    channels, clamped = channel_widths(spec, spec.layers, shrinks)
    notes = rule_notes(spec, channels)
    if clamped:
        layers = _ranges([i + 1 for i in clamped])
        notes.append(
            Note("note.clamped", low=spec.min_channels, high=spec.max_channels, layers=layers)
        )
    return channels, notes


def _ranges(numbers: Sequence[int]) -> str:
    """``[1, 2, 3, 5]`` as ``"1-3, 5"``."""
    parts: list[str] = []
    start = previous = numbers[0]
    for number in [*numbers[1:], None]:
        if number is not None and number == previous + 1:
            previous = number
            continue
        parts.append(str(start) if start == previous else f"{start}-{previous}")
        if number is not None:
            start = previous = number
    return ", ".join(parts)
