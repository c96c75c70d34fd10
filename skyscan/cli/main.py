"""Entry point of the ``skyscan`` command: the command tree and the one place that decides exit codes.

A :class:`~skyscan.errors.SkyscanError` (bad input, a refused plan, a failed link) becomes one line
on stderr and exit status 2; Ctrl-C exits 130; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from enum import IntEnum

import typer

from skyscan.cli import cameras, demo, geotag, link, logs, mapping, plan, sitl
from skyscan.cli.display import console
from skyscan.errors import SkyscanError

__all__ = ["ExitStatus", "app", "main"]


class ExitStatus(IntEnum):
    """Every exit code the CLI uses."""

    OK = 0
    FAILED = 1  # the command ran but its check failed (e.g. coverage below --require)
    INPUT_ERROR = 2  # bad input or usage, refused plan (also typer's usage errors)
    INTERRUPTED = 130


app = typer.Typer(
    name="skyscan",
    help="Plan, fly, simulate and map drone inspection surveys.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(plan.app, name="plan")
app.add_typer(logs.app, name="log")
app.command("cameras")(cameras.list_cameras)
app.command("demo")(demo.run_demo)
app.command("upload")(link.upload)
app.command("download")(link.download)
app.command("fly")(link.fly)
app.command("sitl")(sitl.run)
app.command("geotag")(geotag.run_geotag)
app.command("map")(mapping.run_map)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI on ``argv`` (default: the process arguments); return the exit status."""
    err = console(stderr=True)
    try:
        # Standalone mode: typer prints its own usage errors and exits 2 through SystemExit.
        app(args=argv, prog_name="skyscan")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else ExitStatus.FAILED)
    except KeyboardInterrupt:
        err.print("interrupted")
        return ExitStatus.INTERRUPTED
    except SkyscanError as exc:
        err.print(f"[bold red]error:[/] {exc}", markup=True)
        return ExitStatus.INPUT_ERROR
    return ExitStatus.OK
