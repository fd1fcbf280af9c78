"""Rendering: the plan and validated options as text (Python files, notebooks, SVG, TOML).

Templates live in the top-level ``templates/`` folder and only print plan data.
"""
