"""The search space: choices over cnngen's planning options, and the limits a candidate must meet.

A candidate is a dict of :func:`cnngen.plan` keyword arguments.  It counts
only once the solver has turned it into an exact plan; what the solver refuses
is a reason, counted and never trained.  Parameters, MACs and activation memory
come from the plan, so the limits are checked before anything is built.

Sampling goes through a :class:`Chooser`, so the same space is drawn by
Optuna's samplers in a study and by a seeded :class:`random.Random` when the
command checks, before the study starts, that any candidate fits the limits.
Nothing here imports torch or optuna.
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from cnngen.errors import CnngenError

# What each task trains: the family, the option that sets the output width.
TASK_FAMILIES = {"classification": "classifier", "forecasting": "forecaster", "segmentation": "unet"}
# The metric each task is ranked by (a key of the training script's summary), and its direction.
TASK_METRICS = {
    "classification": ("accuracy", "maximize"),
    "forecasting": ("val_loss", "minimize"),
    "segmentation": ("dice", "maximize"),
}
# Draws tried before the study starts, to tell an impossible space from a hard one.
FEASIBILITY_DRAWS = 400
BYTES_PER_VALUE = 4  # float32 activations


class Chooser(Protocol):
    """Where a candidate's choices come from: an Optuna trial or a seeded random draw."""

    def choose(self, name: str, choices: Sequence[Any]) -> Any: ...

    def integer(self, name: str, low: int, high: int) -> int: ...


class RandomChooser:
    """Uniform choices from a seeded generator: the same seed draws the same candidates."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def choose(self, name: str, choices: Sequence[Any]) -> Any:
        return choices[self.rng.randrange(len(choices))]

    def integer(self, name: str, low: int, high: int) -> int:
        return self.rng.randint(low, high)


@dataclass(frozen=True)
class Limits:
    """Upper bounds a plan must meet; ``None`` is no bound."""

    max_params: int | None = None
    max_macs: int | None = None
    max_memory: int | None = None

    def broken(self, measures: dict[str, int]) -> list[str]:
        """The options (``--max-params`` ...) whose bound ``measures`` exceeds."""
        return [
            option
            for option, key, bound in self.items()
            if bound is not None and measures[key] > bound
        ]

    def items(self) -> list[tuple[str, str, int | None]]:
        return [
            ("--max-params", "params", self.max_params),
            ("--max-macs", "macs", self.max_macs),
            ("--max-memory", "memory", self.max_memory),
        ]


@dataclass(frozen=True)
class Space:
    """The choices of a search; every field is what the command's option of that name lists.

    ``fixed`` holds what the dataset decides (input size, channels, classes),
    the same for every candidate.
    """

    task: str
    fixed: dict[str, Any]
    layers: tuple[int, int] = (1, 4)
    widths: tuple[int, ...] = (8, 16, 32)
    channel_rules: tuple[str, ...] = ("exponential", "constant")
    blocks: tuple[str, ...] = ("plain", "vgg", "residual", "bottleneck")
    kernels: tuple[int, ...] = (3, 5)
    heads: tuple[str, ...] = ("auto", "gap")
    norms: tuple[str, ...] = ("batchnorm", "none")
    dropouts: tuple[float, ...] = (0.0, 0.2)
    se: tuple[bool, ...] = (False, True)
    depthwise: tuple[bool, ...] = (False, True)
    presets: tuple[str, ...] = ("lenet5",)
    limits: Limits = field(default_factory=Limits)

    @property
    def family(self) -> str:
        return TASK_FAMILIES[self.task]

    def describe(self) -> dict[str, Any]:
        """The space as plain data: stored with a study, so a resumed study is the same search."""
        data = {
            "task": self.task,
            "fixed": self.fixed,
            "layers": list(self.layers),
            "widths": list(self.widths),
            "channel_rules": list(self.channel_rules),
            "kernels": list(self.kernels),
            "norms": list(self.norms),
            "dropouts": list(self.dropouts),
            "limits": [bound for _, _, bound in self.limits.items()],
        }
        if self.family == "classifier":
            data.update(
                blocks=list(self.blocks), heads=list(self.heads), presets=list(self.presets)
            )
        if self.family != "unet":
            data.update(se=list(self.se), depthwise=list(self.depthwise))
        return json.loads(json.dumps(data))

    def sample(self, chooser: Chooser) -> dict[str, Any]:
        """One candidate's :func:`cnngen.plan` options, drawn through ``chooser``.

        A preset is its own candidate, taking only what the dataset fixes; the
        other choices belong to the custom architectures.
        """
        if self.family == "classifier" and self.presets:
            arch = chooser.choose("arch", ("custom", *self.presets))
            if arch != "custom":
                return {**self.fixed, "preset": arch}
        options: dict[str, Any] = dict(self.fixed)
        options["layers"] = chooser.integer("layers", *self.layers)
        options["start_channels"] = chooser.choose("start_channels", self.widths)
        options["channel_rule"] = chooser.choose("channel_rule", self.channel_rules)
        options["kernel"] = chooser.choose("kernel", self.kernels)
        options["norm"] = chooser.choose("norm", self.norms)
        options["dropout"] = chooser.choose("dropout", self.dropouts)
        if self.family == "classifier":
            options["block"] = chooser.choose("block", self.blocks)
            options["head"] = chooser.choose("head", self.heads)
        if self.family != "unet":
            options["se"] = chooser.choose("se", self.se)
            options["depthwise"] = chooser.choose("depthwise", self.depthwise)
        return options


def candidate_key(options: dict[str, Any]) -> str:
    """A candidate's options as one canonical string: equal strings, equal candidates."""
    return json.dumps(options, sort_keys=True, default=list)


def activation_memory(plan: Any) -> int:
    """Bytes per sample of float32 outputs of every layer that changes the shape.

    An estimate of what training keeps for the backward pass, read from the
    plan, so it is known before anything is built.
    """
    return BYTES_PER_VALUE * sum(math.prod(shape) for shape in plan.layer_shapes().values())


def measure(plan: Any) -> dict[str, int]:
    """Parameters, MACs and activation memory per sample of a plan."""
    return {"params": plan.params, "macs": plan.macs, "memory": activation_memory(plan)}


@dataclass
class Candidate:
    """A drawn candidate: its options, and either its plan and measures or why it is out."""

    options: dict[str, Any]
    plan: Any = None
    measures: dict[str, int] | None = None
    refused: str | None = None  # the solver's reason, one line
    over: list[str] = field(default_factory=list)  # the limits it breaks

    @property
    def fits(self) -> bool:
        return self.plan is not None and not self.over


def make_candidate(space: Space, options: dict[str, Any]) -> Candidate:
    """Plan ``options`` with the solver and check the plan against the space's limits."""
    import cnngen

    candidate = Candidate(options)
    try:
        candidate.plan = cnngen.plan(space.family, **options)
    except CnngenError as error:
        candidate.refused = str(error).splitlines()[0]
        return candidate
    candidate.measures = measure(candidate.plan)
    candidate.over = space.limits.broken(candidate.measures)
    return candidate


def refusal_reason(candidate: Candidate) -> str:
    """The short reason a candidate is not trained, for the counts of pruned candidates."""
    if candidate.refused is not None:
        # The option the solver names is the reason's kind: "--layers: ..." -> "solver --layers".
        head = candidate.refused.split(":", 1)[0]
        return f"solver {head}" if head.startswith("--") else "solver"
    return "over " + ", ".join(candidate.over)


def check_feasible(space: Space, seed: int, draws: int = FEASIBILITY_DRAWS) -> Counter[str]:
    """Draw candidates at random; raise when none fits, naming the limit to relax.

    Returns the reasons of the candidates that did not fit, counted.  The
    message names the bound that stands in the way with the smallest value
    among the candidates that meet every other bound, so raising it to that
    value lets at least one candidate through.
    """
    chooser = RandomChooser(seed)
    seen: set[str] = set()
    reasons: Counter[str] = Counter()
    planned: list[Candidate] = []
    first_refusal = None
    for _ in range(draws):
        options = space.sample(chooser)
        key = candidate_key(options)
        if key in seen:
            continue
        seen.add(key)
        candidate = make_candidate(space, options)
        if candidate.fits:
            return reasons
        reasons[refusal_reason(candidate)] += 1
        if candidate.plan is not None:
            planned.append(candidate)
        elif first_refusal is None:
            first_refusal = candidate.refused
    if not planned:
        raise CnngenError(
            f"--layers: the solver refused every candidate of the search space for this "
            f"dataset (e.g. {first_refusal}); allow fewer layers, smaller --kernels or a "
            f"larger input",
            "--layers",
        )
    for option, key, bound in space.limits.items():
        if bound is None:
            continue
        others = [c for c in planned if c.over == [option]]
        if others or all(option in c.over for c in planned):
            pool = others or planned
            smallest = min(c.measures[key] for c in pool)  # type: ignore[index]
            word = {"params": "parameters", "macs": "MACs", "memory": "bytes per sample"}[key]
            return_hint = "" if others else " (other limits block too)"
            raise CnngenError(
                f"{option}: no candidate of the search space has at most {bound:,} {word}; "
                f"the smallest found has {smallest:,}, so relax {option} to {smallest} or "
                f"more{return_hint}, or search smaller --widths and --layers",
                option,
            )
    names = " and ".join(option for option, _, bound in space.limits.items() if bound is not None)
    raise CnngenError(
        f"{names}: no candidate meets these limits together; relax one of them", names.split()[0]
    )
