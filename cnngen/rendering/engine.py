"""Jinja2 rendering, Black formatting and atomic writes.

One Jinja environment serves every output kind.  Templates only loop over
plain data and print it; the filters here turn values into Python source
text (``pyrepr``, ``call``) so that no template does arithmetic or string
surgery.  Black runs in-process with one pinned mode, so output is
byte-for-byte deterministic for a given cnngen and Black version.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from cnngen._version import __version__
from cnngen.core.plan import Op, Plan, Shape, Stage
from cnngen.errors import CnngenError, TemplateBug
from cnngen.rendering.escape import (
    doc_text,
    markdown_code_span,
    markdown_text,
    toml_comment,
)
from cnngen.rendering.format import field_text, op_summary, plain_shape, thousands
from cnngen.rendering.layout import black_layout
from cnngen.rendering.messages import Messages


def templates_dir() -> Path:
    """The shipped templates folder.

    In a checkout (and an editable install) the templates live in the top-level
    ``templates/`` folder beside the package, where users and contributors find
    them; the wheel carries the same files as ``cnngen/templates/``.
    """
    package = Path(__file__).resolve().parent.parent
    installed = package / "templates"
    return installed if installed.is_dir() else package.parent / "templates"


# ------------------------------------------------------------------ filters
def pyrepr(value: Any) -> str:
    """A Python literal for ints, floats, bools, strings, None and tuples of them."""
    if isinstance(value, tuple):
        if len(value) == 1:
            return f"({pyrepr(value[0])},)"
        return "(" + ", ".join(pyrepr(item) for item in value) + ")"
    if isinstance(value, (bool, int, float, str)) or value is None:
        return repr(value)
    raise TypeError(f"no Python literal for {value!r}")


def literal(value: Any) -> str:
    """``pyrepr`` for code: strings in double quotes, as Black writes them.

    Prose that quotes a value (a docstring saying 'auto') keeps ``pyrepr``.
    """
    if isinstance(value, tuple) and len(value) != 1:
        return "(" + ", ".join(literal(item) for item in value) + ")"
    if isinstance(value, tuple):
        return f"({literal(value[0])},)"
    if isinstance(value, str) and "'" not in value and '"' not in value:
        return f'"{repr(value)[1:-1]}"'
    return pyrepr(value)


def call(op: Op) -> str:
    """The constructor call of an op, e.g. ``nn.Conv2d(3, 32, kernel_size=3)``."""
    args = [
        literal(value) if key is None else f"{key}={literal(value)}" for key, value in op.args
    ]
    return f"{op.module}({', '.join(args)})"


def batch_shape(shape: Shape, batch: int = 1) -> str:
    """``(64, 50, 50)`` as ``(B, 64, 50, 50)``; ``(4B, ...)`` where each sample is stacked 4 times."""
    first = "B" if batch == 1 else f"{batch}B"
    return "(" + ", ".join([first, *(str(size) for size in shape)]) + ")"


def pylist(values: Shape) -> str:
    """A Python list literal, e.g. ``[3, 64, 64]`` (what ``list(x.shape[1:])`` equals)."""
    return "[" + ", ".join(str(value) for value in values) + "]"


def numbered(items: tuple[Op, ...] | tuple[Stage, ...]) -> bool:
    """Whether ops (or child stages) are named 0, 1, 2 ... (a positional ``nn.Sequential``)."""
    names = [item.path if isinstance(item, Op) else item.name for item in items]
    return names == [str(index) for index in range(len(items))]


def uses_ordered_dict(plan: Plan) -> bool:
    """Whether any ``nn.Sequential`` in the file has named layers."""
    return any(
        (stage.kind == "sequential" and not numbered(stage.children or stage.ops))
        or (stage.shortcut and not numbered(stage.shortcut))
        for stage in plan.nested_stages()
    )


def index_all(dims: int) -> str:
    """The index that gives a (B, C) tensor ``dims`` trailing unit dimensions: ``:, :, None``."""
    return ", ".join([":", ":", *(["None"] * dims)])


@dataclass(frozen=True)
class Step:
    """One line of the generated ``forward``: ``target = expression``."""

    target: str
    expression: str
    stage: Stage
    training_only: bool = False


def forward_steps(plan: Plan) -> list[Step]:
    """The forward pass as assignments; outputs a later stage reads by name keep that name.

    A chain is ``x = self.stage(x)`` throughout; a skip connection stores the
    stage's output under the stage's name until a merge reads it.
    """
    kept = plan.consumed_later()
    current = "x"
    steps = []
    for index, stage in enumerate(plan.stages):
        inputs = list(stage.inputs) or [current]
        if stage.kind == "concat":
            expression = f"torch.cat([{', '.join(inputs)}], dim=1)"
        elif stage.kind == "add":
            expression = " + ".join(inputs)
        else:
            expression = f"self.{stage.name}({inputs[0]})"
        last = index == len(plan.stages) - 1
        target = stage.name if stage.name in kept and not last else "x"
        steps.append(Step(target, expression, stage))
        current = target
        # A training-only head reads this output; in eval it is skipped (its name holds
        # the input, so the returned types are the same tensors and TorchScript compiles).
        for extra in plan.extras_after(stage.name):
            head = extra.stage
            expression = f"self.{head.name}({current}) if self.training else {current}"
            steps.append(Step(head.name, expression, head, training_only=True))
    return steps


def forward_annotation(plan: Plan) -> str:
    """The return annotation of forward: a tensor, or in training the tuple with the extras."""
    if not plan.extras:
        return "torch.Tensor"
    return f"torch.Tensor | tuple[{', '.join(['torch.Tensor'] * (len(plan.extras) + 1))}]"


def changes_shape(op: Op) -> bool:
    return op.in_shape != op.out_shape or op.in_batch != op.batch


def stage_summary(stage: Stage) -> str:
    labels = [op_summary(op) for _, op in stage.all_ops()]
    text = ", ".join(labels)
    if stage.kind == "residual":
        text = "Residual: " + text
    return text


def plan_table(plan: Plan, lang: str = "en") -> list[str]:
    """The plan as aligned text rows: stage, output shape, parameters, ops."""
    t = Messages(lang)
    rows = [tuple(t(f"model.col.{key}") for key in ("stage", "output", "params", "layers"))]
    for stage in (*plan.stages, *(extra.stage for extra in plan.extras)):
        rows.append(
            (
                stage.name,
                plain_shape(stage.out_shape),
                t.number(stage.params),
                stage_summary(stage),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = []
    for row in rows:
        cells = [row[i].ljust(widths[i]) for i in range(3)]
        lines.append("  ".join([*cells, row[3]]).rstrip())
    return lines


def capitalize(text: str) -> str:
    """The first letter in upper case and the rest as written.

    Jinja's own ``capitalize`` lowers the rest, which turns "сеть U-Net" into
    "Сеть u-net"; every family name of the catalogue is written in lower case
    but for such proper names.
    """
    return text[:1].upper() + text[1:]


FILTERS: dict[str, Callable[..., Any]] = {
    "capitalize": capitalize,
    "pyrepr": pyrepr,
    "literal": literal,
    "call": call,
    "bshape": batch_shape,
    "pylist": pylist,
    "numbered": numbered,
    "uses_ordered_dict": uses_ordered_dict,
    "index_all": index_all,
    "forward_steps": forward_steps,
    "forward_annotation": forward_annotation,
    "shape": plain_shape,
    "field": field_text,
    "thousands": thousands,
    "changes_shape": changes_shape,
    "stage_summary": stage_summary,
    # Escaping, one filter per format (see cnngen.rendering.escape).
    "markdown": markdown_text,
    "code_span": markdown_code_span,
    "toml_comment": toml_comment,
    "docstring": doc_text,
}


# The prefix under which the shipped templates stay reachable when a user's
# template folder replaces some of them: ``{% extends "cnngen/model.py.jinja" %}``.
SHIPPED_PREFIX = "cnngen"

# The user's template folder (``--template-dir``, ``render(template_dir=...)``)
# while a render runs inside :func:`user_templates`; None renders the shipped set.
_TEMPLATE_DIR: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "cnngen_template_dir", default=None
)


@cache
def environment(template_dir: str | None = None) -> jinja2.Environment:
    """The Jinja environment; with ``template_dir`` its templates come first.

    A template in ``template_dir`` replaces the shipped one of the same name
    everywhere (includes and imports of shipped templates find it too), and
    every shipped template stays reachable as ``cnngen/<name>`` so that an
    override can extend or include the one it replaces.
    """
    shipped = jinja2.FileSystemLoader(str(templates_dir()))
    loader: jinja2.BaseLoader = shipped
    if template_dir is not None:
        loader = jinja2.ChoiceLoader(
            [
                jinja2.FileSystemLoader(template_dir),
                jinja2.PrefixLoader({SHIPPED_PREFIX: shipped}),
                shipped,
            ]
        )
    from cnngen.rendering import format_cache

    settings = dict(
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    options = f"cnngen {__version__} jinja {jinja2.__version__} {sorted(settings.items())}"
    env = jinja2.Environment(
        loader=loader, bytecode_cache=format_cache.template_cache(options), **settings
    )
    env.filters.update(FILTERS)
    return env


def check_template_dir(path: str | Path, param: str = "--template-dir") -> str:
    """``path`` as an absolute folder name, or a CnngenError naming ``param``."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise CnngenError(
            f"{param}: {path} {what}; give a folder of .jinja templates "
            f"(a template there replaces the shipped one of the same name)",
            param,
        )
    return str(folder.resolve())


@contextlib.contextmanager
def user_templates(path: str | Path | None, param: str = "--template-dir") -> Iterator[None]:
    """Within this block templates in ``path`` replace the shipped ones (None: no change)."""
    token = _TEMPLATE_DIR.set(None if path is None else check_template_dir(path, param))
    try:
        yield
    finally:
        _TEMPLATE_DIR.reset(token)


def template_dir_words() -> list[str]:
    """``["--template-dir", DIR]`` while a render uses a user's folder, else nothing.

    A file rendered inside another (the model a handout or a project holds)
    says how to regenerate it; with a user's templates that line has to name
    them, or running it would write the file from the shipped ones.
    """
    folder = _TEMPLATE_DIR.get()
    return [] if folder is None else ["--template-dir", folder]


# What black_mode() sets, as the format cache's key: keep the two in step.
BLACK_MODE_KEY = "py310 line_length=88 string_normalization magic_trailing_comma"


def black_mode() -> Any:
    import black

    return black.Mode(
        target_versions={black.TargetVersion.PY310},
        line_length=88,
        string_normalization=True,
        magic_trailing_comma=True,
    )


def format_python(source: str, template: str = "<string>") -> str:
    """Black-format rendered Python; a parse failure is a template bug, never written.

    Text formatted before is read from :mod:`cnngen.rendering.format_cache`,
    so ``--check`` and regenerating a file skip importing and running Black.
    """
    from cnngen.rendering import format_cache

    cached = format_cache.lookup(source, BLACK_MODE_KEY)
    if cached is not None:
        return cached
    import black

    try:
        formatted = black.format_str(source, mode=black_mode())
        format_cache.store(source, BLACK_MODE_KEY, formatted)
        return formatted
    except black.InvalidInput as error:
        folder = _TEMPLATE_DIR.get()
        if folder is not None:
            raise CnngenError(
                f"--template-dir: template {template} (with the templates in {folder}) "
                f"rendered Python that Black cannot parse ({error})",
                "--template-dir",
            ) from None
        raise TemplateBug(
            f"template {template} rendered Python that Black cannot parse ({error}); "
            f"this is a cnngen bug, please report it with the command you ran"
        ) from None


def render_template(name: str, **context: Any) -> str:
    """Render one template with the common context (version) added."""
    folder = _TEMPLATE_DIR.get()
    if folder is None:
        return environment().get_template(name).render(version=__version__, **context)
    try:
        template = environment(folder).get_template(name)
        return template.render(version=__version__, **context)
    except jinja2.TemplateError as error:
        # A user's template is the user's to fix: one line, naming the template.
        where = getattr(error, "filename", None) or name
        if getattr(error, "lineno", None):
            where = f"{where}:{error.lineno}"
        raise CnngenError(
            f"--template-dir: template {where} failed: {error.message or error}; "
            f"fix it or remove it to use the shipped {name}",
            "--template-dir",
        ) from None


# Off only while the namespace probes render (cnngen.rendering.namespace):
# they parse the source and never show it, so Black's time is saved.
_FORMAT = contextvars.ContextVar("cnngen_format", default=True)


@contextlib.contextmanager
def unformatted() -> Iterator[None]:
    """Within this block render_python returns the template's text without Black."""
    token = _FORMAT.set(False)
    try:
        yield
    finally:
        _FORMAT.reset(token)


def render_python(name: str, **context: Any) -> str:
    """Render a Python template and format it with Black."""
    source = render_template(name, **context)
    return format_python(black_layout(source), name) if _FORMAT.get() else source


def render_model(plan: Plan, command: str, lang: str = "en") -> str:
    """The complete, formatted source of a model file; ``lang`` is the comments' language."""
    return render_python(
        "model.py.jinja",
        plan=plan,
        t=Messages(lang),
        command=doc_text(command),
        table=plan_table(plan, lang),
        layer_shapes=plan.layer_shapes(),
    )


# ------------------------------------------------------------------ writing
