"""The Python API: plan, render and build models from a notebook or a script.

>>> import cnngen
>>> p = cnngen.plan("encoder", input_size=(64,), layers=3)
>>> p.output_shape
(128, 8)
>>> "class Encoder(nn.Module)" in cnngen.render(p)
True

``plan`` takes the CLI's long options as keyword arguments (``input_size``,
``in_channels``, ``block`` ...) and validates them the same way, raising
:class:`~cnngen.errors.CnngenError` naming the option.  Only :func:`build`
imports torch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import linecache
import types
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnngen.core import plan as core_plan
from cnngen.core.arithmetic import conv_output_size, pool_output_size, transposed_output_size
from cnngen.core.checks import describe
from cnngen.core.inverse import solve_padding
from cnngen.core.solver import solve
from cnngen.core.spec import check_option_names, spec_from_options
from cnngen.errors import CnngenError

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch

__all__ = [
    "Plan",
    "build",
    "conv_output_size",
    "diagram",
    "plan",
    "pool_output_size",
    "render",
    "solve_padding",
    "transposed_output_size",
]


class Plan(core_plan.Plan):
    """The plan :func:`plan` returns: the core's frozen plan plus its text table.

    The table is rendering's job (:mod:`cnngen.rendering.format`), so the
    core's plan does not carry it; this class adds :meth:`summary` for the API.
    """

    def summary(self, lang: str = "en") -> str:
        """The plan as a text table: every layer, its output shape, receptive field, parameters."""
        from cnngen.rendering.format import plan_table

        return plan_table(self, lang)


def _check_plan(value: Any) -> None:
    if not isinstance(value, core_plan.Plan):
        raise CnngenError(
            f"plan: expected a plan from cnngen.plan(...), got {describe(value)}", "plan"
        )


def _api_plan(solved: core_plan.Plan) -> Plan:
    fields = {field.name: getattr(solved, field.name) for field in dataclasses.fields(solved)}
    return Plan(**fields)


def plan(family: str, **options: Any) -> Plan:
    """The exact plan for ``family`` with the given options (the CLI's long names, as keywords).

    A ``name`` is checked against every name the generated file uses (derived
    from the templates, which imports jinja2 only when a name is given).
    """
    from cnngen.rendering.namespace import template_names

    check_option_names(options)
    spec = spec_from_options(family, options, template_names)
    return _api_plan(solve(spec))


def render(plan: Plan, template_dir: str | Path | None = None) -> str:
    """The source text of the standalone model file for ``plan`` (Black-formatted).

    ``template_dir`` is a folder of templates that replace the shipped ones of
    the same name (as ``--template-dir``); the shipped ones stay reachable as
    ``cnngen/<name>``, e.g. ``{% extends "cnngen/model.py.jinja" %}``.
    """
    from cnngen.rendering.engine import render_model, user_templates

    _check_plan(plan)
    with user_templates(template_dir, "template_dir"):
        return render_model(plan, plan.command)


def build(plan: Plan) -> torch.nn.Module:
    """A freshly initialized ``torch.nn.Module`` for ``plan``.

    The file :func:`render` returns is executed in a new module namespace, so
    the module built here is exactly the one the generated file defines.
    """
    _check_plan(plan)
    source = render(plan)
    digest = hashlib.sha256(source.encode()).hexdigest()[:12]
    filename = f"<cnngen {plan.class_name} {digest}>"
    # torch.jit.script reads the source back through inspect, which asks linecache.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    module = types.ModuleType(f"cnngen_generated_{plan.class_name}")
    module.__dict__["__file__"] = filename
    exec(compile(source, filename, "exec"), module.__dict__)  # noqa: S102
    return module.__dict__[plan.class_name]()


def diagram(plan: Plan) -> str:
    """The plan's SVG diagram, as text (what ``cnngen plan --svg`` writes)."""
    from cnngen.rendering.svg import plan_svg

    return plan_svg(plan)


def _plan_html(plan: Plan) -> str:
    from cnngen.rendering.notebook import plan_html

    return plan_html(plan)


# core stays free of rendering: the API gives a plan its pictures.
Plan.svg = diagram  # type: ignore[attr-defined]
Plan._repr_html_ = _plan_html  # type: ignore[attr-defined]
