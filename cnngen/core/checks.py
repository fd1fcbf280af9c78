"""Validation helpers shared by every spec: each raises a CnngenError naming the option.

Numbers from the command line, a config file or Python callers all pass
through :func:`check_number`, so a non-finite float (``inf``, ``nan``,
``1e400``) or an integer outside what its consumer accepts (numpy seeds,
torch sizes) is refused in one place with one kind of message, before it can
reach generated code.
"""

from __future__ import annotations

import builtins
import keyword
import math
import re
import reprlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from cnngen.core.notes import Count, Note, Tenths
from cnngen.errors import CnngenError

# The largest count cnngen writes into a generated file (epochs, samples,
# frames, channels ...): torch and numpy take it as a C int everywhere.
INT32_MAX = 2**31 - 1
# numpy.random.seed and torch.manual_seed both accept 0 .. 2**32 - 1.
SEED_MAX = 2**32 - 1


# Any one spatial size, kernel, stride, dilation or padding (16,777,216): the
# CLI's limit, which the Python helpers apply too.
MAX_SIZE = 2**24


def _number_text(value: float, bound: bool = False) -> str:
    if isinstance(value, float):
        return f"{value:g}" if bound else repr(value)
    if abs(value) >= 10**24:
        # str() of a huge int is slow (and refused above 4300 digits): say its size instead.
        digits = int(math.log10(2) * abs(value).bit_length()) + 1
        return f"{'-' if value < 0 else ''}an integer of about {digits:,} digits"
    text = str(value)
    return text if len(text) <= 24 else f"{text[:8]}...({len(text)} digits)"


_BRIEF = reprlib.Repr()
_BRIEF.maxlevel = 2
_BRIEF.maxstring = 40
_BRIEF.maxother = 40
_BRIEF.maxlist = _BRIEF.maxtuple = _BRIEF.maxdict = _BRIEF.maxset = 4


def describe(value: Any) -> str:
    """``value`` for an error message: short, and safe for any depth or size.

    A 50,000-deep list or a 10,000-digit integer would make ``repr`` recurse
    without limit or refuse; this never does.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return _number_text(value)
    try:
        return _BRIEF.repr(value)
    except Exception:  # noqa: BLE001 - a hostile __repr__ must not replace the real error
        return f"a {type(value).__name__}"


def nesting_depth(value: Any, limit: int = 8) -> int:
    """How deeply lists, tuples and dicts nest in ``value``, counted without recursion.

    Stops counting at ``limit``, so a 50,000-deep list costs ``limit`` steps.
    """
    depth, level = 0, [value]
    while depth < limit:
        containers = [item for item in level if isinstance(item, (list, tuple, dict))]
        if not containers:
            return depth
        depth += 1
        level = [
            child
            for container in containers
            for child in (container.values() if isinstance(container, dict) else container)
        ]
    return depth


SIZE_HELP = "sizes like 100, 100x100 or 16x64x64"


def parse_size(param: str, value: Any) -> tuple[int, ...]:
    """A size as a tuple of ints, from ``100``, ``"100x100"``, ``"100,100"`` or ``[100, 100]``.

    The CLI, config files and the Python API all come through here, so
    ``input_size="16x16"`` means what ``--input-size 16x16`` means.
    """
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"-?\d{1,30}([x,]\s*-?\d{1,30})*", text):
            return tuple(int(part) for part in re.split(r"[x,]\s*", text))
    elif isinstance(value, int) and not isinstance(value, bool):
        return (value,)
    elif isinstance(value, (tuple, list)):
        if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return tuple(value)
    raise CnngenError(
        f"{param}: expected {SIZE_HELP}, got {describe(value)}",
        param,
        key="refusal.size",
        fields={"param": param, "value": describe(value)},
    )


def check_ints(
    param: str,
    value: Any,
    *,
    low: int,
    high: int = MAX_SIZE,
    dims: int | None = None,
    exact: bool = False,
) -> tuple[int, ...]:
    """An int, or a tuple/list of 1 to 3 ints (1 or ``dims`` when given), in range.

    ``exact`` asks for exactly ``dims`` values in a tuple (an output size per
    input dimension).

    The Python size helpers check every argument here, so ``None``, a string,
    a float (``nan``, ``inf``, ``2.0``), a bool, a nested list or a length
    that does not match the input's dimensions is a :class:`CnngenError`
    naming ``param``, never a ``TypeError`` from deep inside.
    """
    if dims is None:
        ranks = "one per spatial dimension"
    else:
        ranks = "one" if dims == 1 else (f"{dims}" if exact else f"1 or {dims}")
    if isinstance(value, int) and not isinstance(value, bool):
        values: tuple[Any, ...] = (value,)
    elif isinstance(value, (tuple, list)):
        values = tuple(value)
        count = len(values)
        if dims is None and not 1 <= count <= 3:
            raise CnngenError(
                f"{param}: expected 1 to 3 integers (one per spatial dimension), got {count}",
                param,
            )
        if dims is not None and count not in ((dims,) if exact else (1, dims)):
            raise CnngenError(
                f"{param}: expected {ranks} integers for a {dims}-dimensional size, got "
                f"{count} ({describe(value)})",
                param,
            )
    else:
        raise CnngenError(
            f"{param}: expected an integer or a tuple of integers ({ranks}), got {describe(value)}",
            param,
        )
    for item in values:
        if isinstance(item, bool) or not isinstance(item, int):
            raise CnngenError(f"{param}: expected integers, got {describe(item)}", param)
        if not low <= item <= high:
            raise CnngenError(
                f"{param}: every value must be in {low}..{high:,}, got {_number_text(item)}",
                param,
            )
    return values


def check_flag(param: str, value: Any) -> bool:
    """A flag from Python is ``True`` or ``False``; the CLI's words are the CLI's."""
    if not isinstance(value, bool):
        raise CnngenError(f"{param}: expected True or False, got {describe(value)}", param)
    return value


def check_number(
    param: str,
    value: float,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
    example: str | None = None,
) -> None:
    """``value`` is finite and lies in ``[low, high]`` (open ends where asked).

    Booleans are not numbers here: a TOML ``true`` for ``--layers`` is an error.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CnngenError(f"{param}: expected a number, got {value!r}", param)
    if isinstance(value, float) and not math.isfinite(value):
        raise CnngenError(
            f"{param}: must be a finite number, got {value!r}"
            + (f"; e.g. {param} {example}" if example else ""),
            param,
        )
    below = low is not None and (value <= low if low_open else value < low)
    above = high is not None and (value >= high if high_open else value > high)
    if below or above:
        fields = {
            "param": param,
            "value": _number_text(value),
            "example": example or "",
        }
        if isinstance(value, float) and low is not None and high is not None and high <= 1:
            # A probability or a fraction: both ends matter, say them together.
            left, right = "(" if low_open else "[", ")" if high_open else "]"
            where = f"in {left}{_number_text(low, True)}, {_number_text(high, True)}{right}"
            key = "refusal.range"
            fields["range"] = f"{left}{_number_text(low, True)}, {_number_text(high, True)}{right}"
        elif below:
            where = f"{'>' if low_open else '>='} {_number_text(low, True)}"  # type: ignore[arg-type]
            key = "refusal.above" if low_open else "refusal.at_least"
            fields["bound"] = _number_text(low, True)  # type: ignore[arg-type]
        else:
            where = f"{'below' if high_open else 'at most'} {_number_text(high, True)}"  # type: ignore[arg-type]
            key = "refusal.below" if high_open else "refusal.at_most"
            fields["bound"] = _number_text(high, True)  # type: ignore[arg-type]
        raise CnngenError(
            f"{param}: must be {where}, got {_number_text(value)}"
            + (f"; e.g. {param} {example}" if example else ""),
            param,
            key=key,
            fields=fields,
        )


def check_count(param: str, value: int, low: int = 1, high: int = INT32_MAX) -> None:
    """A whole number the generated code hands to torch or numpy as a size or count."""
    if type(value) is int and low <= value <= high:
        return  # what nearly every request holds, before the checks that word a refusal
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, float):
        raise CnngenError(f"{param}: expected a whole number, got {value!r}", param)
    check_number(param, value, low, high)


def check_seed(param: str, value: int) -> None:
    """Seeds go to numpy, which takes 0 .. 2**32 - 1 and nothing else."""
    check_count(param, value, 0, SEED_MAX)


def check_identifier(param: str, value: str) -> None:
    """Names reach generated code, so only plain Python identifiers pass."""
    if keyword.iskeyword(value):
        raise CnngenError(
            f"{param}: {value!r} is a Python keyword, so it cannot name a class or "
            f"variable; pick another name (e.g. {value.capitalize() + 'Model'!r})",
            param,
            key="refusal.keyword",
            fields={"param": param, "value": repr(value), "other": repr(value.capitalize() + "Model")},
        )
    if not value.isidentifier() or not value.isascii():
        raise CnngenError(
            f"{param}: {value!r} is not a Python identifier; use letters, digits and "
            f"underscores, not starting with a digit (e.g. 'MyModel')",
            param,
        )


# Names every Python module sees: builtins, keywords, module dunders.  A
# generated class named after one of them shadows it (``print``, ``super``)
# or the module's own attributes (``__name__``, ``__doc__``).
PYTHON_NAMES = frozenset(dir(builtins)) | frozenset(keyword.kwlist)

# kind of generated file -> the names its template binds or uses.  The
# rendering layer derives these from the templates themselves and passes the
# function in; core never imports rendering.
NameSource = Callable[[Iterable[str]], frozenset[str]]


def check_class_name(
    param: str, value: str, kinds: Iterable[str], names: NameSource | None = None
) -> None:
    """A class name for generated files of ``kinds`` that shadows nothing they use.

    ``names`` returns the names the templates of those kinds use (see
    :func:`cnngen.rendering.namespace.template_names`); builtins, keywords
    and dunders are refused always.
    """
    check_identifier(param, value)
    kinds = tuple(kinds)
    if value.startswith("__") and value.endswith("__"):
        raise CnngenError(
            f"{param}: {value!r} is a Python special name; pick a class name such as "
            f"'{value.strip('_').capitalize() or 'My'}Model'",
            param,
        )
    reason = None
    if value in PYTHON_NAMES:
        reason = "is a Python builtin or keyword"
    elif names is not None and value in names(kinds):
        reason = "is already used inside the generated file"
    if reason is not None:
        raise CnngenError(
            f"{param}: {value!r} {reason}, so the class would shadow it; pick another "
            f"name, e.g. 'My{value[:1].upper()}{value[1:]}'",
            param,
        )


def check_module(param: str, value: str) -> None:
    """A module name reaches an import line: dotted identifiers only."""
    for part in value.split("."):
        check_identifier(param, part)


def check_positive(param: str, value: int) -> None:
    check_count(param, value, 1)


def check_fraction(value: float) -> None:
    check_number("--val-fraction", value, 0.0, 1.0, low_open=True, high_open=True, example="0.2")


def check_path(param: str, value: str | None, suffixes: tuple[str, ...]) -> None:
    """Paths are written as repr'd strings; only the suffix is checked."""
    if value is None:
        return
    if not value or Path(value).suffix not in suffixes:
        raise CnngenError(
            f"{param}: {value!r} is not a {' or '.join(suffixes)} file; "
            f"save the array with numpy.save or numpy.savez",
            param,
        )


# A plan above these cannot run anywhere cnngen's users train: 10**10 float32
# parameters are 40 GB before gradients and optimizer state, and a single
# layer whose input and output for one sample exceed 64 GiB fills the largest
# accelerator on its own, even for inference.
MAX_PARAMS = 10**10
MAX_ACTIVATION_BYTES = 64 * 2**30
# TorchCNNBuilder warns above this many parameters; so does cnngen (on stderr).
WARN_PARAMS = 500_000_000


def activation_bytes(plan: Any) -> tuple[int, int]:
    """float32 bytes for one sample: the largest layer input plus output, and all outputs.

    The first is what any forward pass needs at once; the second, every op's
    output, is what training keeps for the backward pass.
    """
    _, largest, total = _op_totals(plan)
    return largest, total


def _op_totals(plan: Any) -> tuple[int, int, int]:
    """Parameters and :func:`activation_bytes` in one pass over the ops: every plan is checked."""
    params, largest, total = 0, 0, 0
    prod = math.prod
    for stage in plan.stages:
        for op in stage.every_op():
            params += op.params
            out = prod(op.out_shape)
            size = prod(op.in_shape) + out
            if size > largest:
                largest = size
            total += out
    params += sum(extra.stage.params for extra in plan.extras)
    return params, 4 * largest, 4 * total


def check_plan_limits(plan: Any) -> None:
    """Refuse a plan that could never run: too many parameters or one layer too large."""
    params, largest, _ = _op_totals(plan)
    if params > MAX_PARAMS:
        # Name the option behind the largest stage: a latent bottleneck, a head, or the convolutions.
        biggest = max(plan.stages, key=lambda stage: stage.params)
        option = {"latent": "--latent", "head": "--hidden"}.get(biggest.name, "--max-channels")
        raise CnngenError(
            f"{option}: the plan has {params:,} parameters ({biggest.params:,} in "
            f"{biggest.name}), above cnngen's limit of {MAX_PARAMS:,} (40 GB of float32 "
            f"weights); use a smaller {option}, fewer layers or a smaller --input-size",
            option,
        )
    if largest > MAX_ACTIVATION_BYTES:
        raise CnngenError(
            f"--input-size: one layer's input and output for a single sample take "
            f"{largest / 2**30:,.0f} GiB (float32), above cnngen's limit of "
            f"{MAX_ACTIVATION_BYTES // 2**30} GiB; use a smaller --input-size or fewer "
            f"channels (--max-channels)",
            "--input-size",
        )


def size_warnings(plan: Any) -> list[str]:
    """Warnings for a plan that will run but is unusually large.

    Each is a :class:`~cnngen.core.notes.Note`: English text that a renderer
    can say in another language (``plan --lang ru``).
    """
    warnings: list[str] = []
    if plan.params > WARN_PARAMS:
        warnings.append(
            Note(
                "note.big_params",
                params=Count(plan.params),
                gib=Tenths(4 * plan.params / 2**30),
                limit=Count(WARN_PARAMS),
            )
        )
    _, total = activation_bytes(plan)
    if total > MAX_ACTIVATION_BYTES:
        warnings.append(Note("note.big_activations", gib=Count(round(total / 2**30))))
    return warnings
