"""Consoles for the CLI: rich output that stays readable when piped into a file or a CI log."""

from __future__ import annotations

import sys

from rich.console import Console


def console(stderr: bool = False) -> Console:
    """A rich console; off a terminal it is 160 columns wide so tables never truncate ids."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 160
    return Console(file=stream, highlight=False, width=width, soft_wrap=stderr)
