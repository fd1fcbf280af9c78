"""The pure core: specs, arithmetic, channel rules, the plan and the solver.

Nothing under ``cnngen.core`` imports click, jinja2 or torch, so planning is
fast and importable anywhere.
"""
