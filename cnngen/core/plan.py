"""The plan: plain frozen data describing every layer of a generated model.

The plan is the contract between the solver and everything after it.  The
solver builds it; templates only loop over it and print it; ``verify`` reads
the shapes back out of the generated file and compares; ``plan --json`` only
serializes it.  Nothing here knows about text, Jinja or torch.

Shapes never include the batch dimension: ``(channels, *spatial)``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

Shape = tuple[int, ...]

# Stage kinds that combine earlier outputs without a module of their own.
MERGES = ("concat", "add")

# A constructor argument: (keyword, value); keyword None means positional.
Arg = tuple[str | None, Any]


@dataclass(frozen=True)
class Op:
    """One module inside a stage, e.g. a convolution or an activation.

    ``module`` is the expression that constructs it (``"nn.Conv2d"`` for torch
    modules, a bare name such as ``"SqueezeExcite"`` for helper classes that the
    generated file defines).  ``path`` is the op's attribute name in its stage
    (``conv1``, ``bn1``, ``act1``, ``drop1``, ``pad2``, ``se``, ``fc1`` ...),
    named by role and by the number of its weighted layer, so inserting a
    dropout, a pad or changing an activation never renames a weight.
    ``batch`` is how many copies of each sample the op sees (4 inside a
    rotation stack, else 1).
    """

    path: str
    kind: str
    module: str
    args: tuple[Arg, ...]
    in_shape: Shape
    out_shape: Shape
    params: int = 0
    macs: int = 0
    receptive_field: Shape | None = None
    batch: int = 1

    @property
    def in_batch(self) -> int:
        """Copies of each sample the op receives: the rotation ops change the count."""
        if self.kind in ("rotation_stack", "orientation_stack"):
            return 1
        if self.kind in ("rotation_mean", "rotation_max"):
            return self.args[0][1] if self.args else 4
        return self.batch

    def with_field(self, receptive_field: Shape) -> Op:
        """This op with its receptive field: ``dataclasses.replace`` at a fifth of the cost.

        Every op of a plan is annotated once, so a deep plan makes thousands.
        A copy of the field values, one changed, is the whole of what the
        frozen dataclass's ``__init__`` would store field by field.
        """
        return copy_with(self, receptive_field=receptive_field)

    def arg(self, key: str, default: Any = None) -> Any:
        """The value of keyword argument ``key`` (or ``default``)."""
        for name, value in self.args:
            if name == key:
                return value
        return default


def new_op(
    path: str,
    kind: str,
    module: str,
    args: tuple[Arg, ...],
    in_shape: Shape,
    out_shape: Shape,
    params: int,
    macs: int,
    batch: int,
) -> Op:
    """``Op(...)`` without a receptive field yet, as the builder makes every op of a plan.

    The values go into the instance's ``__dict__`` at once, which is what the
    frozen dataclass's ``__init__`` does one field at a time, at about a
    quarter of its cost (see :func:`copy_with`).
    """
    op = object.__new__(Op)
    object.__setattr__(
        op,
        "__dict__",
        {
            "path": path,
            "kind": kind,
            "module": module,
            "args": args,
            "in_shape": in_shape,
            "out_shape": out_shape,
            "params": params,
            "macs": macs,
            "receptive_field": None,
            "batch": batch,
        },
    )
    return op


def new_stage(
    name: str, kind: str, role: str, ops: tuple[Op, ...], in_shape: Shape, out_shape: Shape
) -> Stage:
    """``Stage(...)`` of ops alone (no shortcut, post, inputs or children), as a builder ends one.

    Filled at once like :func:`new_op`: the builders end a stage per layer.
    """
    stage = object.__new__(Stage)
    object.__setattr__(
        stage,
        "__dict__",
        {
            "name": name,
            "kind": kind,
            "role": role,
            "ops": ops,
            "in_shape": in_shape,
            "out_shape": out_shape,
            "shortcut": (),
            "post": (),
            "inputs": (),
            "children": (),
        },
    )
    return stage


def fill_fields(ops: Sequence[Op], fields: Sequence[Shape]) -> bool:
    """Give each op its receptive field in place; False where one already holds another field.

    The builder's ops (:func:`new_op`) are made without a field, and the field
    pass finishes them before the plan exists.  Copying every op to add one
    value was a tenth of planning, so an op without a field gets it written
    in.  An op that holds a field is never changed: where that field is not
    the one asked for (an op met at a second place, or one from an earlier
    plan), the caller copies the ops instead (:meth:`Op.with_field`).
    """
    for op, receptive_field in zip(ops, fields, strict=True):
        values = op.__dict__
        held = values["receptive_field"]
        if held is None:
            values["receptive_field"] = receptive_field
        elif held != receptive_field:
            return False
    return True


def copy_with(instance: Any, **changes: Any) -> Any:
    """A copy of a frozen dataclass ``instance`` with some fields changed.

    ``dataclasses.replace`` at a twentieth of its cost, for the plan's classes
    and :class:`~cnngen.core.spec.ModelSpec`, which have no ``__post_init__``
    and no slots: their instances are their field values, held in ``__dict__``.
    """
    values = instance.__dict__.copy()
    values.update(changes)
    copy = object.__new__(type(instance))
    object.__setattr__(copy, "__dict__", values)
    return copy


@dataclass(frozen=True)
class Stage:
    """A named node of the model's forward graph.

    ``kind`` is ``"sequential"`` (``ops`` in order, an ``nn.Sequential`` with
    named layers), ``"residual"`` (``ops`` is the main path, whose layers are
    attributes of the block itself as in torchvision; ``shortcut`` the
    projection, named ``downsample``, empty for identity; ``post`` the
    activation applied after the sum, named ``act``), or a merge without
    parameters: ``"concat"`` (along channels) or ``"add"``.

    Stages nest where a classic architecture nests modules: ``children``
    holds sub-stages, named by their attribute (``"0"``, ``"1"`` ... for a
    positional ``nn.Sequential``).  A ``"sequential"`` stage with children is
    an ``nn.Sequential`` of them (torchvision's ``layer1`` of blocks), a
    ``"residual"`` stage with children has them as its main path (MobileNetV2's
    ``conv``), and ``"inception"`` runs its children (``branch1`` ...) in
    parallel and concatenates them along channels.  A ``"module"`` stage is
    one op (``ops`` holds it, with an empty ``path``), so the model attribute
    is the layer itself (``conv1``, ``fc``).

    ``inputs`` names the earlier stages this one reads (empty: the previous
    stage, or the model input for the first).  Merges read two or more.
    """

    name: str
    kind: str
    role: str
    ops: tuple[Op, ...]
    in_shape: Shape
    out_shape: Shape
    shortcut: tuple[Op, ...] = ()
    post: tuple[Op, ...] = ()
    inputs: tuple[str, ...] = ()
    children: tuple[Stage, ...] = ()

    @property
    def batch(self) -> int:
        """Copies of each sample in this stage's output (4 inside a rotation stack)."""
        last = (*self.ops, *self.post)
        if not last and self.children:
            return self.children[-1].batch
        return last[-1].batch if last else 1

    @property
    def is_merge(self) -> bool:
        return self.kind in MERGES

    def with_ops(
        self, ops: tuple[Op, ...], shortcut: tuple[Op, ...], post: tuple[Op, ...]
    ) -> Stage:
        """This stage with other ops: ``dataclasses.replace`` at a fraction of the cost.

        The receptive-field pass rebuilds every stage of a plan once.
        """
        return copy_with(self, ops=ops, shortcut=shortcut, post=post)

    def all_ops(self) -> Iterator[tuple[str, Op]]:
        """Every op with its full module name, in execution order."""
        for child in self.children:
            for name, op in child.all_ops():
                yield f"{self.name}.{name}", op
        for op in self.ops:
            yield (f"{self.name}.{op.path}" if op.path else self.name), op
        for op in self.shortcut:
            yield f"{self.name}.downsample.{op.path}", op
        for op in self.post:
            yield f"{self.name}.{op.path}", op

    def every_op(self) -> tuple[Op, ...]:
        """Every op in the order of :meth:`all_ops`, without building its name (for totals).

        A tuple rather than a generator: the solver's totals and checks ask
        for it several times per stage, and joining tuples is the cheaper walk.
        """
        own = self.ops + self.shortcut + self.post
        if not self.children:
            return own
        return (*(op for child in self.children for op in child.every_op()), *own)

    @property
    def params(self) -> int:
        return sum(op.params for op in self.every_op())

    @property
    def macs(self) -> int:
        return sum(op.macs for op in self.every_op())


@dataclass(frozen=True)
class Extra:
    """An extra output the model returns in training only: an auxiliary head.

    ``stage`` is the head, a model attribute of its own that reads the output
    of the stage named ``source``.  In ``model.train()`` the forward returns
    the main output followed by the extras in plan order; in ``model.eval()``
    the main output alone.  ``weight`` is the head's share of the training
    loss.  ``step`` is, for a dense head below the output's resolution, the
    step per dimension at which the target is sampled to the head's exact
    size (every ``step``-th position from the first); empty where the head
    takes the main output's target as it is (class labels).
    """

    stage: Stage
    source: str
    weight: float
    step: Shape = ()


@dataclass(frozen=True)
class Plan:
    """A whole model: stages in forward order plus the totals.

    ``helpers`` names the helper classes the generated file must define
    (``"Residual"``, ``"SqueezeExcite"``, ...), in a fixed order.
    """

    family: str
    class_name: str
    dims: int
    input_shape: Shape
    output_shape: Shape
    stages: tuple[Stage, ...]
    # Field of the central output position, exact (see cnngen.core.fields).
    receptive_field: Shape
    helpers: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())
    # The `cnngen` arguments that regenerate this plan (written into file headers).
    command: str = ""
    # Heads that run in training only (GoogLeNet's auxiliary classifiers, deep supervision).
    extras: tuple[Extra, ...] = ()

    @property
    def params(self) -> int:
        """Every parameter of the model, the training-only heads' included."""
        return sum(stage.params for stage in self.stages) + sum(
            extra.stage.params for extra in self.extras
        )

    @property
    def macs(self) -> int:
        """Multiply-accumulates of the inference pass (the training-only heads do not run)."""
        return sum(stage.macs for stage in self.stages)

    @property
    def field_covers_input(self) -> bool:
        """Whether the central output sees the whole input (through a head, a latent ...)."""
        return all(
            f >= size for f, size in zip(self.receptive_field, self.input_shape[1:], strict=True)
        )

    def layer_shapes(self) -> dict[str, Shape]:
        """Output shape of every stage module and of every op that changes the shape.

        Ops that keep their input's shape (norms, activations, dropout) are
        left out: their shape is the row above.  Merges have no module.
        """
        shapes: dict[str, Shape] = {}
        for stage in self.stages:
            if stage.is_merge:
                continue
            _stage_shapes(stage, stage.name, shapes)
        for extra in self.extras:
            _stage_shapes(extra.stage, extra.stage.name, shapes)
        return shapes

    def residual_layers(self) -> tuple[str, ...]:
        """The main-path layer names of the residual blocks, in order, over all blocks.

        The generated ``Residual`` class calls these in turn; a block that
        lacks one (a pad only some blocks need) gets an ``nn.Identity`` there.
        """
        names: list[str] = []
        for stage in self.nested_stages():
            if stage.kind != "residual":
                continue
            previous = -1
            for path in [child.name for child in stage.children] + [op.path for op in stage.ops]:
                if path in names:
                    previous = names.index(path)
                else:
                    previous += 1
                    names.insert(previous, path)
        return tuple(names)

    def branch_names(self) -> tuple[str, ...]:
        """The branch names of the Inception blocks, in order (``branch1`` ...)."""
        names: list[str] = []
        for stage in self.nested_stages():
            if stage.kind == "inception":
                names += [child.name for child in stage.children if child.name not in names]
        return tuple(names)

    def nested_stages(self) -> Iterator[Stage]:
        """Every stage, children included, depth first."""
        pending = list(reversed([*self.stages, *(extra.stage for extra in self.extras)]))
        while pending:
            stage = pending.pop()
            yield stage
            pending.extend(reversed(stage.children))

    def consumed_later(self) -> frozenset[str]:
        """Stages whose output a later stage reads by name (skips), so forward keeps them."""
        return frozenset(name for stage in self.stages for name in stage.inputs)

    @property
    def extra_shapes(self) -> tuple[Shape, ...]:
        """The training-only outputs' shapes, in the order forward returns them."""
        return tuple(extra.stage.out_shape for extra in self.extras)

    @property
    def extra_names(self) -> str:
        """The training-only heads, in the order forward returns them: ``aux2, aux1``."""
        return ", ".join(extra.stage.name for extra in self.extras)

    def extras_after(self, name: str) -> tuple[Extra, ...]:
        """The training-only heads that read the output of stage ``name``."""
        return tuple(extra for extra in self.extras if extra.source == name)

    def __repr__(self) -> str:
        shape_in = "x".join(map(str, self.input_shape))
        shape_out = "x".join(map(str, self.output_shape))
        return (
            f"<Plan {self.family} {self.class_name}: {self.dims}D, {shape_in} -> {shape_out}, "
            f"{self.params:,} parameters>"
        )

    def to_json(self) -> dict[str, Any]:
        """The plan as JSON-ready data (the ``cnngen plan --json`` schema)."""
        layers = []
        for stage in self.stages:
            for name, op in stage.all_ops():
                layers.append(
                    {
                        "name": name,
                        "stage": stage.name,
                        "kind": op.kind,
                        "module": op.module,
                        "args": {
                            (key if key is not None else f"arg{index}"): _jsonable(value)
                            for index, (key, value) in enumerate(op.args)
                        },
                        "in": list(op.in_shape),
                        "out": list(op.out_shape),
                        "params": op.params,
                        "macs": op.macs,
                        "receptive_field": (
                            list(op.receptive_field) if op.receptive_field else None
                        ),
                    }
                )
        data = {
            "family": self.family,
            "class_name": self.class_name,
            "input": list(self.input_shape),
            "output": list(self.output_shape),
            "layers": layers,
            "params": self.params,
            "macs": self.macs,
            "receptive_field": list(self.receptive_field),
            "receptive_field_covers_input": self.field_covers_input,
            "notes": list(self.notes),
        }
        if self.extras:
            # Heads that run in training only, in the order forward returns them.
            data["training_outputs"] = [
                {
                    "name": extra.stage.name,
                    "source": extra.source,
                    "weight": extra.weight,
                    "target_step": list(extra.step),
                    "output": list(extra.stage.out_shape),
                    "params": extra.stage.params,
                    "layers": [name for name, _ in extra.stage.all_ops()],
                }
                for extra in self.extras
            ]
        return data


def _stage_shapes(stage: Stage, name: str, shapes: dict[str, Shape]) -> None:
    """Add the shapes of ``stage`` (named ``name``) and of its children to ``shapes``."""
    for child in stage.children:
        _stage_shapes(child, f"{name}.{child.name}", shapes)
    for op in (*stage.ops, *stage.post):
        if op.out_shape != op.in_shape and op.path:
            shapes[f"{name}.{op.path}"] = op.out_shape
    for op in stage.shortcut:
        if op.out_shape != op.in_shape:
            shapes[f"{name}.downsample.{op.path}"] = op.out_shape
    shapes[name] = stage.out_shape


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(item) for item in value]
    return value
