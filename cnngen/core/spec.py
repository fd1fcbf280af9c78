"""What the user asked for: one frozen dataclass, validated in one place.

Every front end (flags, a TOML config file, Python callers) goes through
:func:`make_spec`, which normalizes values (per-dimension tuples, defaults that
depend on the family) and raises :class:`~cnngen.errors.CnngenError` naming the
option at fault, its limit and a choice that would work.  Downstream stages
can then trust every field.
"""

from __future__ import annotations

import difflib
import math
import re
import shlex
from collections.abc import Collection
from dataclasses import dataclass, fields
from typing import Any

from cnngen.core.checks import (
    INT32_MAX,
    MAX_SIZE,
    NameSource,
    check_class_name,
    check_count,
    check_flag,
    check_number,
    describe,
    nesting_depth,
    parse_size,
)
from cnngen.core.plan import copy_with
from cnngen.core.vocab import (
    ACTIVATION_PARAMETERS,
    ACTIVATIONS,
    BASES,
    BLOCK_TABLE,
    BLOCKS,
    BORDER_MODES,
    CHANNEL_RULES,
    DECODER_CHANNEL_RULES,
    DEFAULT_CLASS_NAMES,
    DOWNSAMPLE,
    FAMILIES,
    FINAL_ACTIVATIONS,
    GROUPS,
    HEADS,
    NORM_AFFINE_NORMS,
    NORM_EPS_NORMS,
    NORM_MOMENTUM_NORMS,
    NORMS,
    NORMS_THAT_CANCEL_BIAS,
    PADDING_MODES,
    POOLS,
    PRESET_ACTIVATIONS,
    PRESET_DROPOUTS,
    PRESET_NORM_CHOICES,
    PRESET_NORMS,
    PRESET_OPTIONS,
    PRESETS,
    ROTATION_POOLS,
    TCB_RULES,
    UPSAMPLE,
    activation_forms,
    families_accepting,
    family_accepts,
    split_activation,
)
from cnngen.errors import CnngenError


@dataclass(frozen=True)
class ModelSpec:
    """A validated model request.  Field names are the CLI's long options."""

    family: str
    input_size: tuple[int, ...]
    in_channels: int = 1
    out_channels: int | None = None
    layers: int = 4
    min_size: tuple[int, ...] | None = None
    target_size: tuple[int, ...] | None = None
    kernel: tuple[int, ...] = (3,)
    stride: tuple[int, ...] | None = None
    padding: str = "auto"
    dilation: tuple[int, ...] = (1,)
    downsample: str | None = None
    pool: str = "max"
    channel_rule: str = "exponential"
    start_channels: int = 32
    ratio: float = 2.0
    min_channels: int = 1
    max_channels: int = 512
    channels: tuple[int, ...] = ()
    norm: str = "batchnorm"
    activation: str = "relu"
    final_activation: str = "none"
    dropout: float = 0.0
    norm_eps: float | None = None
    norm_momentum: float | None = None
    no_affine: bool = False
    padding_mode: str = "zeros"
    bias: bool | None = None
    groups: int = 1
    sub_blocks: int | None = None
    latent: tuple[int, ...] | None = None
    latent_layers: int = 1
    latent_activation: str | None = None
    out_depth: int | None = None
    decoder_channels: str | tuple[int, ...] | None = None
    decoder_layers: int | None = None
    out_size: tuple[int, ...] | None = None
    decoder_kernel: tuple[int, ...] | None = None
    decoder_stride: tuple[int, ...] | None = None
    classes: int = 10
    block: str = "plain"
    se: bool = False
    depthwise: bool = False
    head: str = "auto"
    hidden: tuple[int, ...] = ()
    preset: str | None = None
    aux_logits: bool = False
    upsample: str = "transposed"
    residual_units: bool = False
    deep_supervision: int = 0
    rotation_pool: str = "max"
    group_conv: bool = False
    group: str = "c4"
    basis: str = "full"
    name: str | None = None
    given: tuple[tuple[str, Any], ...] = ()

    @property
    def dims(self) -> int:
        return len(self.input_size)

    @property
    def class_name(self) -> str:
        if self.name is None and self.group == "d4":
            return "D4Classifier"
        return self.name or DEFAULT_CLASS_NAMES[self.family]

    def command_words(self, verb: str = "model", output: str | None = None) -> list[str]:
        """The ``cnngen`` arguments that reproduce this spec, as the user gave them.

        ``verb`` is the command (model, plan, handout); ``output`` adds
        ``--output`` unless it is stdout (``-``), so a file's header names where
        it went.  Options are spelt long, as in every generated header.
        """
        words = [verb, self.family, *option_words(self.given)]
        if output is not None and output != "-":
            words += ["--output", output]
        return words

    def command(self, verb: str = "model", output: str | None = None) -> str:
        """:meth:`command_words` as one shell-quoted line, ready to paste."""
        return shlex.join(self.command_words(verb, output))


SPEC_DEFAULTS = {f.name: f.default for f in fields(ModelSpec) if f.name not in ("family", "given")}
# Every option at its default, for make_spec to copy (it sets the family and the input size).
_DEFAULT_SPEC = ModelSpec(family="encoder", input_size=(1,))
OPTION_ORDER = tuple(SPEC_DEFAULTS)
OPTION_INDEX = {name: index for index, name in enumerate(OPTION_ORDER)}
# Switches with an off word of their own (--bias/--no-bias): False asks for something.
OFF_SWITCHES = ("bias",)
SIZE_OPTIONS = (
    "input_size", "min_size", "target_size", "kernel", "stride", "dilation", "hidden", "channels",
    "out_size", "decoder_kernel", "decoder_stride", "latent",
)  # fmt: skip
# Lists of widths, written with commas (``--channels 32,64,96``) rather than as a size.
LIST_OPTIONS = ("channels", "decoder_channels")


def conv_bias(spec: ModelSpec) -> bool:
    """Whether the planned convolutions have a bias: --bias/--no-bias, else unless a
    batch or instance norm follows (its mean subtraction cancels a bias)."""
    if spec.bias is not None:
        return spec.bias
    return spec.norm not in NORMS_THAT_CANCEL_BIAS


def option_name(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def format_value(value: Any) -> str:
    """A value as the CLI spells it: sizes as ``100x100``."""
    if isinstance(value, tuple):
        return "x".join(map(format_value, value))
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**24:
        return describe(value)  # str() of a huge int is slow, or refused
    return str(value)


def option_words(given: tuple[tuple[str, Any], ...]) -> list[str]:
    """CLI words for the given options (flags for booleans), in a fixed order."""
    words: list[str] = []
    for name, value in given:
        if isinstance(value, bool):
            if value:
                words.append(option_name(name))
            elif name in OFF_SWITCHES:
                words.append(option_name(f"no_{name}"))
            continue
        if name in LIST_OPTIONS and isinstance(value, tuple):
            words += [option_name(name), ",".join(format_value(v) for v in value)]
            continue
        words += [option_name(name), format_value(value)]
    return words


def closest(value: str, choices: tuple[str, ...]) -> str:
    """The choice nearest ``value`` as its repr, or '' when none is near."""
    close = difflib.get_close_matches(value, choices, n=1, cutoff=0.6)
    return repr(close[0]) if close else ""


def suggest(value: str, choices: tuple[str, ...]) -> str:
    """' (did you mean X?)' for a near miss, else ''."""
    best = closest(value, choices)
    return f" (did you mean {best}?)" if best else ""


def check_choice(param: str, value: str, choices: tuple[str, ...]) -> None:
    if not isinstance(value, str):
        raise CnngenError(
            f"{param}: expected a word, one of: {', '.join(choices)}; got {describe(value)}",
            param,
            key="refusal.word",
            fields={
                "param": param,
                "choices": ", ".join(choices),
                "value": describe(value),
            },
        )
    if value not in choices:
        raise CnngenError(
            f"{param}: unknown value {value!r}{suggest(value, choices)}; "
            f"choose one of: {', '.join(choices)}",
            param,
            key="refusal.choice",
            fields={
                "param": param,
                "value": repr(value),
                "best": closest(value, choices),
                "choices": ", ".join(choices),
            },
        )


def _per_dim(
    param: str, value: tuple[int, ...] | None, dims: int, low: int
) -> tuple[int, ...] | None:
    if value is None:
        return None
    value = given = tuple(value)
    if len(value) == 1:
        value = value * dims
    if len(value) != dims:
        raise CnngenError(
            f"{param}: expected {'1 value' if dims == 1 else f'1 or {dims} values'} for a "
            f"{dims}D input, got {format_value(value)}; e.g. {param} "
            f"{format_value(value[:1] * min(dims, 2))}",
            param,
            key="refusal.per_dim" if dims > 1 else "refusal.per_dim_1",
            fields={
                "param": param,
                "dims": dims,
                "value": format_value(value),
                "sample": format_value(value[:1] * min(dims, 2)),
            },
        )
    for item in value:
        if item < low:
            # Echo the value as it was given: "0", not the broadcast "0x0".
            raise CnngenError(
                f"{param}: every value must be >= {low}, got {format_value(given)}",
                param,
                key="refusal.every_at_least",
                fields={"param": param, "low": low, "value": format_value(given)},
            )
        check_count(param, item, low, MAX_SIZE)
    return value


def _positive(param: str, value: int | None, low: int = 1, high: int = INT32_MAX) -> None:
    if value is not None:
        check_count(param, value, low, high)


# Upper bounds that keep a request plannable in well under a second and its
# file runnable; README ("Limits") documents them.
MAX_LAYERS = 1000
MAX_SUB_BLOCKS = 100
MAX_CONVOLUTIONS = 1000  # --layers x --sub-blocks
MAX_CHANNELS = 2**20  # channels, classes, hidden and latent widths (1,048,576)
MAX_LATENT_LAYERS = 64  # linear layers each way through a latent bottleneck
MAX_RATIO = 1000.0


def article(word: str) -> str:
    # "unet" is said "you-net": a consonant sound despite the vowel.
    vowel = word[:1] in "aeiou" and not word.startswith("un")
    return f"{'an' if vowel else 'a'} {word}"


def _check_accepted(family: str, given: dict[str, Any]) -> None:
    """Refuse every option the user gave that the family has no use for (presets: below)."""
    refused = [name for name in given if not family_accepts(family, name)]
    if not refused:
        return
    # The first in option order is named, whatever order the options came in.
    name = min(refused, key=OPTION_INDEX.__getitem__)
    option = option_name(name)
    users = families_accepting(name)
    names = [f"{user}s" for user in users] or ["no family"]
    plural = " and ".join([", ".join(names[:-1]), names[-1]] if names[:-1] else names)
    value = given[name]
    example = " ".join(option_words(((name, value),))) or option
    raise CnngenError(
        f"{option}: only {plural} take it, so it has no effect on {article(family)}; drop "
        f"it, or use e.g. 'cnngen model {users[0] if users else family} {example} ...'",
        option,
        key="refusal.family_option" if users else "refusal.no_family_option",
        fields={
            "option": option,
            "users": ", ".join(users),
            "family": family,
            "command": f"cnngen model {users[0] if users else family} {example} ...",
        },
    )


def make_spec(family: str, *, names: NameSource | None = None, **options: Any) -> ModelSpec:
    """Validate and normalize a model request.  Unknown options are a bug.

    ``names`` tells which names the generated files use (the rendering layer
    derives them from its templates); a ``--name`` among them is refused.
    """
    check_choice("family", family, FAMILIES)
    options = {key: value for key, value in options.items() if value is not None}
    check_option_names(options)
    padding = options.get("padding")
    if isinstance(padding, int) and not isinstance(padding, bool) and padding >= 0:
        options["padding"] = str(padding)  # --padding 1 from Python or a config file
    check_option_types(options)
    for name in SIZE_OPTIONS:
        if name in options:
            options[name] = parse_size(option_name(name), options[name])
    if "decoder_channels" in options:
        options["decoder_channels"] = _decoder_channels_value(options["decoder_channels"])
    given = _given(options)
    # Flags given as off (``--se`` absent, ``se = false``) ask for nothing.
    _check_accepted(family, {k: v for k, v in options.items() if v is not False})
    preset = options.get("preset")
    if preset is not None:
        _apply_preset(family, preset, options)
    input_size = _input_size(options)
    options["input_size"] = input_size
    # Every name is checked above, so a copy of the defaults stands in for ModelSpec(...).
    spec = copy_with(_DEFAULT_SPEC, family=family, **options)
    _check_numbers_and_choices(spec, names, options)
    kernel, dilation, stride, min_size, target_size = _sizes_per_dim(spec)
    downsample, sub_blocks = _blocks(spec)
    out_channels = spec.out_channels
    if family == "forecaster" and out_channels is None:
        out_channels = spec.in_channels
    if family == "decoder":
        out_channels = 1 if out_channels is None else out_channels
        _check_decoder(spec)
    if family == "unet":
        out_channels = 2 if out_channels is None else out_channels
        sub_blocks = spec.sub_blocks or 2
        _check_unet(spec)
    if family == "equivariant":
        _check_equivariant(spec)
    if spec.aux_logits and spec.preset != "googlenet":
        raise CnngenError(
            "--aux-logits: only GoogLeNet has auxiliary classifiers; use --preset googlenet "
            "--aux-logits, or drop --aux-logits",
            "--aux-logits",
            key="refusal.aux_logits_preset",
        )
    _check_dimensions(spec)
    _check_channel_lists(spec, options, out_channels)
    out_size = _per_dim("--out-size", spec.out_size, spec.dims, 1)
    if family == "decoder" and out_size is None:
        # Each transposed convolution doubles the size unless told otherwise.
        doubled = tuple(size << spec.layers for size in spec.input_size)
        out_size = _per_dim("--out-size", doubled, spec.dims, 1)
    decoder_kernel = _per_dim("--decoder-kernel", spec.decoder_kernel, spec.dims, 1)
    decoder_stride = _per_dim("--decoder-stride", spec.decoder_stride, spec.dims, 1)
    if out_size is not None and spec.out_depth is not None:
        raise CnngenError(
            "--out-size: give the output's depth in it (e.g. --out-size "
            f"{format_value((spec.out_depth, *spec.input_size[1:]))}) rather than "
            "--out-depth as well; drop one of the two",
            "--out-size",
        )
    return copy_with(
        spec,
        out_size=out_size,
        decoder_kernel=decoder_kernel,
        decoder_stride=decoder_stride,
        kernel=kernel,
        dilation=dilation,
        stride=stride,
        min_size=min_size if target_size is None else None,
        target_size=target_size,
        downsample=downsample,
        sub_blocks=sub_blocks,
        out_channels=out_channels,
        given=given,
    )


def _decoder_channels_value(value: Any) -> str | tuple[int, ...]:
    """``--decoder-channels``: a rule's name as a word, or a list of widths as a tuple."""
    if isinstance(value, str) and not re.fullmatch(r"[\s\d,x-]*", value):
        return value
    try:
        return parse_size("--decoder-channels", value)
    except CnngenError:
        raise CnngenError(
            f"--decoder-channels: expected a rule ({', '.join(DECODER_CHANNEL_RULES)}) or a "
            f"list of widths such as 64,32,1; got {describe(value)}",
            "--decoder-channels",
        ) from None


def _width_list(
    param: str, widths: tuple[int, ...], count: int, what: str, unit: str = "layer"
) -> None:
    """A list of channel widths: ``count`` of them, each a channel count cnngen plans."""
    if len(widths) != count:
        raise CnngenError(
            f"{param}: {len(widths)} widths for {what}; give exactly {count}, one per {unit} "
            f"(e.g. {param} {','.join(str(32 * (i + 1)) for i in range(min(count, 4)))}"
            f"{',...' if count > 4 else ''})",
            param,
        )
    for width in widths:
        _positive(param, width, 1, MAX_CHANNELS)


def _check_channel_lists(spec: ModelSpec, options: dict[str, Any], out_channels: Any) -> None:
    """``--channels`` and ``--decoder-channels``: the right number of widths, and no rival rule.

    An explicit list gives every width itself, so a channel rule, its start,
    its clamps and its ratio would be ignored; they are refused instead.
    """
    decoder = spec.decoder_channels
    if "channels" in options and not spec.channels:
        raise CnngenError(
            "--channels: empty; give one width per layer, e.g. --channels 32,64,96", "--channels"
        )
    if isinstance(decoder, str):
        check_choice("--decoder-channels", decoder, DECODER_CHANNEL_RULES)
    if spec.channels:
        unet = spec.family == "unet"
        count = spec.layers + 1 if unet else spec.layers
        what = (
            f"a U-Net with --layers {spec.layers} ({count} levels)"
            if unet
            else f"--layers {spec.layers}"
        )
        _width_list("--channels", spec.channels, count, what, "level" if unet else "layer")
        needs_ratio = isinstance(decoder, str) and decoder in TCB_RULES
        for name in ("channel_rule", "start_channels", "ratio", "min_channels", "max_channels"):
            if name in options and not (name == "ratio" and needs_ratio):
                raise CnngenError(
                    f"{option_name(name)}: --channels gives every width itself, so "
                    f"{option_name(name)} would be ignored; drop one of the two",
                    option_name(name),
                )
    depth = spec.decoder_layers or spec.layers
    if depth != spec.layers and decoder in (None, "mirror"):
        raise CnngenError(
            f"--decoder-layers: {depth} decoder layers cannot mirror {spec.layers} encoder "
            f"layers' widths; give --decoder-channels, a rule such as tcb-proportion or "
            f"{depth} widths ending in --out-channels",
            "--decoder-layers",
        )
    if isinstance(decoder, tuple):
        what = f"--decoder-layers {depth}" if spec.decoder_layers else f"--layers {depth}"
        _width_list("--decoder-channels", decoder, depth, what)
        if decoder[-1] != out_channels:
            fixed = ",".join(str(w) for w in (*decoder[:-1], out_channels))
            raise CnngenError(
                f"--decoder-channels: the last width is the output's, --out-channels "
                f"{out_channels}, got {decoder[-1]}; e.g. --decoder-channels {fixed}",
                "--decoder-channels",
            )


def check_option_names(options: dict[str, Any]) -> None:
    """Every keyword is an option; a misspelt one is named, with the closest real name."""
    for key in options:
        if key not in SPEC_DEFAULTS:
            text = key if isinstance(key, str) else describe(key)
            close = (
                difflib.get_close_matches(key, list(SPEC_DEFAULTS), n=1, cutoff=0.6)
                if isinstance(key, str)
                else []
            )
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise CnngenError(
                f"{text}: unknown option; {hint}options are the CLI's long names with "
                f"underscores, e.g. input_size, in_channels, layers",
                text,
            )


# What each option takes, from the field's annotation (strings under postponed annotations).
OPTION_KINDS = {
    f.name: (
        "flag"
        if f.type in ("bool", "bool | None")
        else "int"
        if f.type in ("int", "int | None")
        else "float"
        if f.type in ("float", "float | None")
        else "size"
        if f.name in SIZE_OPTIONS
        else "word"
        if f.type in ("str", "str | None")
        else "any"
    )
    for f in fields(ModelSpec)
    if f.name not in ("family", "given")
}


def check_option_types(options: dict[str, Any]) -> None:
    """Each value has its option's type, before anything reads it.

    A flag is ``True`` or ``False`` (the CLI's words are the CLI's), a count
    an ``int`` (not ``True``, not ``2.0``), a rate a real number, a word a
    ``str``; a size is checked by :func:`parse_size`, after its nesting is
    measured without recursion.
    """
    for name, value in options.items():
        kind = OPTION_KINDS.get(name, "any")
        if kind == "int" and type(value) is int:
            continue  # the common case, before the option is named for an error
        param = option_name(name)
        if kind == "flag":
            check_flag(param, value)
        elif kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
            raise CnngenError(
                f"{param}: expected a whole number (an int), got {describe(value)}",
                param,
                key="refusal.int",
                fields={"param": param, "value": describe(value)},
            )
        elif kind == "float" and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise CnngenError(
                f"{param}: expected a number, got {describe(value)}",
                param,
                key="refusal.float",
                fields={"param": param, "value": describe(value)},
            )
        elif kind == "word" and not isinstance(value, str):
            raise CnngenError(
                f"{param}: expected a string, got {describe(value)}",
                param,
                key="refusal.string",
                fields={"param": param, "value": describe(value)},
            )
        elif kind in ("size", "any") and nesting_depth(value, 3) > 1:
            raise CnngenError(
                f"{param}: expected {'a size' if kind == 'size' else 'a value'} like 100x100 "
                f"or (100, 100), got lists nested {nesting_depth(value, 3)}+ deep",
                param,
            )


def _given(options: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """The options the user gave, in option order: the regenerate command repeats them all.

    A value equal to today's default is kept too (``-n 4``, ``--start-channels
    32``): the file then says exactly what shaped it, and regenerating it
    gives the same file even if a default changes.  A flag given as off asks
    for nothing and has no word on the command line, so it is left out.
    """
    return tuple(
        (name, options[name])
        for name in sorted(options, key=OPTION_INDEX.__getitem__)
        if options[name] is not False or name in OFF_SWITCHES
    )


def _apply_preset(family: str, preset: str, options: dict[str, Any]) -> None:
    """Refuse what ``preset`` would ignore; fill in its own input size, activation, norm, dropout."""
    check_choice("--preset", preset, PRESETS)
    if family != "classifier":
        raise CnngenError(
            f"--preset: {preset!r} is a classifier preset; use "
            f"'cnngen model classifier --preset {preset}'",
            "--preset",
        )
    allowed = PRESET_OPTIONS[preset]
    ignored = [
        name for name in OPTION_ORDER if name in options and name not in (*allowed, "preset")
    ]
    if ignored:
        names = ", ".join(option_name(name) for name in ignored)
        raise CnngenError(
            f"{option_name(ignored[0])}: the {preset} preset fixes its own layers and "
            f"would ignore {names}; drop {'it' if len(ignored) == 1 else 'them'} (a "
            f"preset takes {', '.join(option_name(name) for name in allowed)})",
            option_name(ignored[0]),
            key="refusal.preset_ignores",
            fields={
                "option": option_name(ignored[0]),
                "preset": preset,
                "names": names,
                "allowed": ", ".join(option_name(name) for name in allowed),
            },
        )
    norm = options.get("norm")
    if norm == "dropout":
        raise CnngenError(
            f"--norm: dropout is no norm layer for the {preset} preset; set its dropout "
            f"rate with --dropout (e.g. --dropout 0.3) and use --norm "
            f"{', '.join(PRESET_NORM_CHOICES[:-1])} or {PRESET_NORM_CHOICES[-1]}",
            "--norm",
        )
    if norm is not None:
        check_choice("--norm", norm, PRESET_NORM_CHOICES)
    options.setdefault("input_size", (28, 28) if preset == "lenet5" else (224, 224))
    options.setdefault("activation", PRESET_ACTIVATIONS[preset])
    options.setdefault("norm", PRESET_NORMS[preset])
    options.setdefault("dropout", PRESET_DROPOUTS[preset])
    if preset == "lenet5":
        options.setdefault("pool", "avg")


def _input_size(options: dict[str, Any]) -> tuple[int, ...]:
    """``--input-size``: required, 1 to 3 dimensions, every size within the limits."""
    if "input_size" not in options:
        raise CnngenError(
            "--input-size: required, e.g. --input-size 100x100",
            "--input-size",
            key="refusal.input_required",
        )
    input_size = tuple(options["input_size"])
    if not 1 <= len(input_size) <= 3:
        raise CnngenError(
            f"--input-size: 1 to 3 spatial dimensions, got {len(input_size)} "
            f"({format_value(input_size)}); e.g. 1000, 64x64 or 16x64x64",
            "--input-size",
            key="refusal.input_dims",
            fields={"count": len(input_size), "value": format_value(input_size)},
        )
    for size in input_size:
        if size < 1:
            raise CnngenError(
                f"--input-size: every size must be >= 1, got {format_value(input_size)}",
                "--input-size",
                key="refusal.input_positive",
                fields={"value": format_value(input_size)},
            )
        check_count("--input-size", size, 1, MAX_SIZE)
    return input_size


# Counts and their upper bounds, and words and their vocabularies, in the order
# they are checked.  Only given options are checked: every default is within
# them (tests/test_spec.py checks the defaults as if all were given).
_COUNT_LIMITS = (
    ("layers", MAX_LAYERS),
    ("in_channels", MAX_CHANNELS),
    ("out_channels", MAX_CHANNELS),
    ("start_channels", MAX_CHANNELS),
    ("min_channels", MAX_CHANNELS),
    ("max_channels", MAX_CHANNELS),
    ("latent_layers", MAX_LATENT_LAYERS),
    ("out_depth", MAX_SIZE),
    ("sub_blocks", MAX_SUB_BLOCKS),
    ("groups", MAX_CHANNELS),
    ("decoder_layers", MAX_LAYERS),
)
_CHOICE_LISTS = (
    ("channel_rule", CHANNEL_RULES),
    ("norm", NORMS),
    ("block", BLOCKS),
    ("pool", POOLS),
    ("head", HEADS),
    ("upsample", UPSAMPLE),
    ("rotation_pool", ROTATION_POOLS),
    ("group", GROUPS),
    ("basis", BASES),
    ("padding_mode", BORDER_MODES),
)


def _check_numbers_and_choices(
    spec: ModelSpec, names: NameSource | None, given: Collection[str]
) -> None:
    """Counts in range, names from the vocabulary, probabilities and ratios finite.

    ``given`` names the options the request set (by hand or by a preset); the
    others hold their defaults, so their own ranges and vocabularies are not
    checked again.  Checks between options run whatever was given.
    """
    for name, high in _COUNT_LIMITS:
        if name in given:
            _positive(option_name(name), getattr(spec, name), 1, high)
    if spec.groups > 1 and spec.depthwise:
        raise CnngenError(
            "--groups: --depthwise already gives every channel its own group; drop one of them",
            "--groups",
        )
    if spec.classes == 1:
        raise CnngenError(
            "--classes: one class leaves nothing to decide (cross-entropy over one logit is "
            "always 0); for a yes/no task use --classes 2",
            "--classes",
            key="refusal.one_class",
        )
    _positive("--classes", spec.classes, 2, MAX_CHANNELS)
    convolutions = spec.layers * (spec.sub_blocks or 1)
    if convolutions > MAX_CONVOLUTIONS:
        raise CnngenError(
            f"--sub-blocks: {spec.layers} layers x {spec.sub_blocks} convolutions is "
            f"{convolutions:,}; cnngen plans at most {MAX_CONVOLUTIONS:,} convolutions, so use "
            f"--sub-blocks {max(1, MAX_CONVOLUTIONS // spec.layers)} or fewer",
            "--sub-blocks",
        )
    for name, choices in _CHOICE_LISTS:
        if name in given:
            check_choice(option_name(name), getattr(spec, name), choices)
    _check_padding(spec)
    if "activation" in given:
        check_activation("--activation", spec.activation)
    if "final_activation" in given:
        check_activation("--final-activation", spec.final_activation, FINAL_ACTIVATIONS)
    if spec.latent_activation is not None:
        check_activation("--latent-activation", spec.latent_activation, FINAL_ACTIVATIONS)
    _check_latent(spec)
    _check_norm_options(spec)
    if spec.downsample is not None:
        check_choice("--downsample", spec.downsample, DOWNSAMPLE)
    if spec.name is not None:
        check_class_name("--name", spec.name, ("model",), names)
    if "dropout" in given:
        check_number("--dropout", spec.dropout, 0.0, 1.0, high_open=True, example="0.2")
    if spec.norm == "dropout" and spec.dropout == 0.0:
        raise CnngenError(
            "--dropout: --norm dropout needs a probability above 0, e.g. --dropout 0.2",
            "--dropout",
        )
    if "ratio" in given:
        check_number("--ratio", spec.ratio, 0.0, MAX_RATIO, low_open=True, example="2")
    if spec.min_channels > spec.max_channels:
        raise CnngenError(
            f"--min-channels: {spec.min_channels} is above --max-channels "
            f"{spec.max_channels}; use at most {spec.max_channels}",
            "--min-channels",
            key="refusal.min_above_max",
            fields={"low": spec.min_channels, "high": spec.max_channels},
        )
    if not spec.min_channels <= spec.start_channels <= spec.max_channels:
        raise CnngenError(
            f"--start-channels: {spec.start_channels} lies outside --min-channels "
            f"{spec.min_channels} .. --max-channels {spec.max_channels}; "
            f"use a value in that range",
            "--start-channels",
            key="refusal.start_outside",
            fields={
                "start": spec.start_channels,
                "low": spec.min_channels,
                "high": spec.max_channels,
            },
        )
    for item in spec.hidden:
        _positive("--hidden", item, 1, MAX_CHANNELS)


def check_activation(
    param: str, value: str, names: tuple[str, ...] = tuple(ACTIVATIONS)
) -> tuple[str, float | None]:
    """``NAME`` or ``NAME:NUMBER`` (``leaky_relu:0.2``, ``elu:1.0``, ``prelu:0.25``), checked.

    Only the activations with a parameter (``ACTIVATION_PARAMETERS``) take a
    number; it must be finite.  Returns the name and the number (or None).
    """
    if not isinstance(value, str):
        raise CnngenError(f"{param}: expected a word such as relu or leaky_relu:0.2", param)
    name, number = split_activation(value)
    if name not in names:
        check_choice(param, name, names)
    if number is None:
        return name, None
    forms = activation_forms()
    if name not in ACTIVATION_PARAMETERS:
        raise CnngenError(
            f"{param}: {name} takes no parameter, got {value!r}; use {name} alone, or one "
            f"of: {forms}",
            param,
            key="refusal.no_parameter",
            fields={"param": param, "name": name, "value": repr(value), "forms": forms},
        )
    keyword, word = ACTIVATION_PARAMETERS[name]
    try:
        parsed = float(number)
    except ValueError:
        parsed = float("nan")
    if parsed != parsed or parsed in (float("inf"), float("-inf")):
        raise CnngenError(
            f"{param}: expected {name}:{word} with a finite number as its {keyword}, "
            f"got {value!r}; e.g. {name}:0.2",
            param,
            key="refusal.activation_number",
            fields={"param": param, "name": name, "word": word, "value": repr(value)},
        )
    return name, parsed


def _check_padding(spec: ModelSpec) -> None:
    """``--padding``: auto, same, valid, or N positions that never grow a feature map.

    N above ``dilation * (kernel - 1) // 2`` would make a stride-1 layer larger
    than its input, and the solver plans layers that shrink or keep sizes.
    """
    value = spec.padding
    if value.isdigit() and value.isascii():
        amount = int(value)
        limit = min(
            d * (k - 1) // 2
            for k, d in zip(_dims(spec.kernel, spec), _dims(spec.dilation, spec), strict=True)
        )
        if amount > limit:
            raise CnngenError(
                f"--padding: {amount} positions would grow the feature map past its input "
                f"with --kernel {format_value(spec.kernel)}; use --padding {limit} or less "
                f"(or --padding auto)",
                "--padding",
                key="refusal.padding_grows",
                fields={"amount": amount, "kernel": format_value(spec.kernel), "limit": limit},
            )
        return
    if value not in PADDING_MODES:
        raise CnngenError(
            f"--padding: unknown value {value!r}{suggest(value, PADDING_MODES)}; choose one "
            f"of: {', '.join(PADDING_MODES)}, or a whole number of positions such as 1",
            "--padding",
        )


def _dims(values: tuple[int, ...], spec: ModelSpec) -> tuple[int, ...]:
    return values * spec.dims if len(values) == 1 else values


def _check_norm_options(spec: ModelSpec) -> None:
    """--norm-eps, --norm-momentum and --no-affine: in range, and for a norm that has them."""
    for param, used, norms in (
        ("--norm-eps", spec.norm_eps is not None, NORM_EPS_NORMS),
        ("--norm-momentum", spec.norm_momentum is not None, NORM_MOMENTUM_NORMS),
        ("--no-affine", spec.no_affine, NORM_AFFINE_NORMS),
    ):
        if used and spec.norm not in norms:
            raise CnngenError(
                f"{param}: --norm {spec.norm} has no such setting; use it with --norm "
                f"{' or '.join(norms)}, or drop {param}",
                param,
            )
    if spec.norm_eps is not None:
        check_number("--norm-eps", spec.norm_eps, 0.0, 1.0, low_open=True, example="1e-5")
    if spec.norm_momentum is not None:
        check_number("--norm-momentum", spec.norm_momentum, 0.0, 1.0, example="0.1")


def _check_latent(spec: ModelSpec) -> None:
    """``--latent`` is a width (``16``) or a tensor shape (``8x4x4``) of at most MAX_CHANNELS values."""
    if spec.latent is None:
        for param, value, default in (
            ("--latent-layers", spec.latent_layers, 1),
            ("--latent-activation", spec.latent_activation, None),
        ):
            if value != default:
                raise CnngenError(
                    f"{param}: it shapes the latent bottleneck, and there is none; add "
                    f"--latent WIDTH (e.g. --latent 16) or drop {param}",
                    param,
                )
        return
    for width in spec.latent:
        _positive("--latent", width, 1, MAX_CHANNELS)
    if math.prod(spec.latent) > MAX_CHANNELS:
        raise CnngenError(
            f"--latent: {format_value(spec.latent)} holds {math.prod(spec.latent):,} values, "
            f"above the {MAX_CHANNELS:,} cnngen plans for a latent; use a smaller shape",
            "--latent",
        )


def _check_decoder(spec: ModelSpec) -> None:
    """A decoder has no encoder whose widths it could mirror."""
    if spec.decoder_channels == "mirror":
        raise CnngenError(
            "--decoder-channels: a decoder has no encoder to mirror; give a tcb- rule or one "
            "width per layer ending in --out-channels, or leave it out (the latent's channels "
            "halve each layer)",
            "--decoder-channels",
        )


def _sizes_per_dim(spec: ModelSpec) -> tuple[Any, ...]:
    """Kernel, dilation, stride, min and target size with one value per spatial dimension."""
    dims, input_size, family = spec.dims, spec.input_size, spec.family
    kernel = _per_dim("--kernel", spec.kernel, dims, 1)
    dilation = _per_dim("--dilation", spec.dilation, dims, 1)
    stride = _per_dim("--stride", spec.stride, dims, 1)
    min_size = _per_dim("--min-size", spec.min_size, dims, 1)
    target_size = _per_dim("--target-size", spec.target_size, dims, 1)
    if min_size is not None and target_size is not None:
        raise CnngenError(
            "--target-size: give either --min-size or --target-size, not both",
            "--target-size",
            key="refusal.min_or_target",
        )
    for param, sizes in (("--min-size", min_size), ("--target-size", target_size)):
        if sizes is None:
            continue
        for size, limit in zip(sizes, input_size, strict=True):
            if size > limit:
                raise CnngenError(
                    f"{param}: {format_value(sizes)} is larger than the input "
                    f"{format_value(input_size)}; use at most {format_value(input_size)}",
                    param,
                    key="refusal.above_input",
                    fields={
                        "param": param,
                        "value": format_value(sizes),
                        "input": format_value(input_size),
                    },
                )
    if min_size is None and target_size is None:
        # A U-Net level halves a dimension while it stays at least 2; the other
        # families stop at 5.
        floor = 2 if family == "unet" else 5
        min_size = tuple(min(floor, size) for size in input_size)
    return kernel, dilation, stride, min_size, target_size


def _blocks(spec: ModelSpec) -> tuple[str, int]:
    """How layers downsample and how many convolutions each holds, checked against the block."""
    block = BLOCK_TABLE[spec.block]
    downsample = spec.downsample
    if spec.family == "unet":
        if downsample == "none":
            raise CnngenError(
                "--downsample: a U-Net halves at every level; use pool (a 2-wide max pool, "
                "the default) or stride (a stride-2 convolution)",
                "--downsample",
            )
        downsample = downsample or "pool"
    if downsample is None:
        downsample = (
            "pool"
            if spec.family in ("classifier", "equivariant") and not block.shortcut
            else "stride"
        )
    if block.shortcut:
        if spec.family != "classifier":
            raise CnngenError(
                f"--block: {spec.block!r} blocks belong to the classifier family; "
                f"use 'cnngen model classifier --block {spec.block}'",
                "--block",
                key="refusal.block_family",
                fields={"block": spec.block},
            )
        if downsample == "pool":
            raise CnngenError(
                f"--downsample: {spec.block} blocks downsample with strided "
                f"convolutions; use --downsample stride or none",
                "--downsample",
            )
        if spec.padding == "valid":
            raise CnngenError(
                f"--padding: {spec.block} blocks add a shortcut, which needs size-keeping "
                f"padding; use --padding auto or same",
                "--padding",
            )
    if block.one_conv and spec.sub_blocks not in (None, 1):
        raise CnngenError(
            f"--sub-blocks: a {spec.block} layer is one downsampling convolution and one "
            f"{spec.block} block; drop --sub-blocks or use --layers for more blocks",
            "--sub-blocks",
        )
    sub_blocks = spec.sub_blocks or block.sub_blocks
    return downsample, sub_blocks


def _check_dimensions(spec: ModelSpec) -> None:
    """Options that need a particular number (or shape) of spatial dimensions."""
    dims, input_size, preset = spec.dims, spec.input_size, spec.preset
    if spec.out_depth is not None and spec.family == "forecaster" and dims != 3:
        raise CnngenError(
            f"--out-depth: needs a 3D input with time as depth (e.g. -i 60x100x100), "
            f"got {dims}D; for 1D/2D forecasters use --out-channels for the forecast length",
            "--out-depth",
        )
    if spec.family == "equivariant":
        if dims == 1:
            raise CnngenError(
                "--input-size: rotations by 90 degrees need a 2D (or 3D) input; "
                "a 1D signal has no quarter turns",
                "--input-size",
            )
        height, width = input_size[-2:]
        if height != width:
            raise CnngenError(
                f"--input-size: {format_value(input_size)} is not square; a quarter "
                f"turn swaps height and width, so C4 invariance needs equal sizes, "
                f"e.g. {format_value(input_size[:-2] + (max(height, width),) * 2)}",
                "--input-size",
            )
    if preset == "lenet5" and dims != 2:
        raise CnngenError(
            f"--input-size: LeNet-5 is a 2D network; give two sizes, e.g. 28x28 "
            f"(got {format_value(input_size)})",
            "--input-size",
        )


def _check_unet(spec: ModelSpec) -> None:
    """U-Net levels keep their size through every convolution, so the skip fits exactly."""
    for param, value, default in (
        ("--block", spec.block, "plain"),
        ("--head", spec.head, "auto"),
        ("--classes", spec.classes, 10),
        ("--hidden", spec.hidden, ()),
        ("--stride", spec.stride, None),
        ("--target-size", spec.target_size, None),
        ("--latent", spec.latent, None),
        ("--out-depth", spec.out_depth, None),
    ):
        if value != default:
            raise CnngenError(
                f"{param}: a U-Net does not take it (each level halves with a 2x2 max "
                f"pool and keeps its size through the convolutions); drop {param}",
                param,
            )
    if spec.se or spec.depthwise:
        param = "--se" if spec.se else "--depthwise"
        raise CnngenError(f"{param}: a U-Net does not take it; drop {param}", param)
    if spec.padding != "auto":
        raise CnngenError(
            "--padding: U-Net convolutions keep the size so each skip fits its decoder "
            "level; use --padding auto",
            "--padding",
        )
    below = spec.layers - 1  # decoder levels below full resolution: dec2 .. dec{layers}
    if spec.deep_supervision and not 0 <= spec.deep_supervision <= below:
        counts = ("1", "1") if below == 1 else (f"1 to {below}", f"от 1 до {below}")
        fit = f"--deep-supervision {counts[0]}" if below else "--layers 2 or more"
        fit_ru = f"--deep-supervision {counts[1]}" if below else "--layers 2 или больше"
        raise CnngenError(
            f"--deep-supervision: a U-Net with --layers {spec.layers} has {below} decoder "
            f"level{'' if below == 1 else 's'} below full resolution, got "
            f"{spec.deep_supervision}; use {fit}",
            "--deep-supervision",
            key="refusal.deep_supervision",
            fields={"layers": spec.layers, "below": below, "value": spec.deep_supervision,
                    "fit": fit_ru},
        )  # fmt: skip
    if any(k % 2 == 0 for k in spec.kernel):
        raise CnngenError(
            f"--kernel: a U-Net needs odd kernels to keep the size with symmetric "
            f"padding, got {format_value(spec.kernel)}; use --kernel 3",
            "--kernel",
        )


def _check_equivariant(spec: ModelSpec) -> None:
    """p4 group convolutions are exact only on a rotation-symmetric grid."""
    if not spec.group_conv:
        if spec.group != "c4":
            raise CnngenError(
                f"--group: {spec.group} needs true group convolutions; add --group-conv",
                "--group",
            )
        if spec.basis != "full":
            raise CnngenError(
                f"--basis: {spec.basis} kernels are for true group convolutions; "
                "add --group-conv",
                "--basis",
            )
        return
    if len(spec.input_size) != 2:
        raise CnngenError(
            f"--group-conv: p4 group convolutions are 2D, got a "
            f"{len(spec.input_size)}D input; use a square 2D --input-size such as 16x16",
            "--group-conv",
        )
    if spec.rotation_pool != "max":
        raise CnngenError(
            "--rotation-pool: group convolutions pool over orientations with a maximum; "
            "drop --rotation-pool",
            "--rotation-pool",
        )
    if any(k % 2 == 0 for k in spec.kernel) or spec.padding != "auto":
        raise CnngenError(
            "--kernel: group convolutions need odd kernels with size-keeping padding so a "
            "quarter turn maps the sampling grid onto itself; use --kernel 3 and "
            "--padding auto",
            "--kernel",
        )
    if spec.stride is not None or any(d != 1 for d in spec.dilation):
        raise CnngenError(
            "--stride: group convolutions downsample with pooling; drop --stride and --dilation",
            "--stride",
        )
    for param, used in (
        ("--depthwise", spec.depthwise),
        ("--se", spec.se),
        ("--padding-mode", spec.padding_mode != "zeros"),
        ("--groups", spec.groups != 1),
        ("--sub-blocks", (spec.sub_blocks or 1) != 1),
    ):
        if used:
            raise CnngenError(f"{param}: group convolutions do not take it; drop {param}", param)


def spec_from_options(
    family: str, options: dict[str, Any], names: NameSource | None = None
) -> ModelSpec:
    """A validated spec from a mapping of option values; ``None`` and unknown keys are skipped.

    The CLI and the Python API both come through here, so both validate alike;
    both pass ``names``, the names the generated files use.
    """
    given = {k: v for k, v in options.items() if k in SPEC_DEFAULTS and v is not None}
    return make_spec(family, names=names, **given)
