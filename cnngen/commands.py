"""Registry of commands that live in their own modules.

Each module defines a Click command; importing it must not import torch.
"""

from __future__ import annotations

import click


def register(group: click.Group) -> None:
    """Attach the optional commands to ``group``."""
    from cnngen.verify import verify_command

    group.add_command(verify_command)
    from cnngen.datasets import register as register_datasets

    register_datasets(group)
