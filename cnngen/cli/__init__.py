"""The command line: a thin Click layer from options to a spec and back out.

``cli`` is the Click group with every command attached; ``main`` is the
console-script entry point that maps errors to one line and an exit status.
"""

from cnngen.cli.app import cli, main

__all__ = ["cli", "main"]
