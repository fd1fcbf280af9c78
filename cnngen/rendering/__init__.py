"""Rendering: the plan and validated options as text (Python files, notebooks, SVG, TOML).

Templates live in ``templates/`` beside this package and only print plan data.
"""
