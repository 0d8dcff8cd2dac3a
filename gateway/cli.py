"""`runq`: the command line. Thin: parse flags, hand off, report in one line and an exit code.

Commands live in `gateway/commands/`, one module per group, each with `register(app)`. Every
command is wrapped in `entry_errors.guarded`, so a mistake prints one line (`runq --debug …`
shows the traceback) and exits with a code from `config/exit_codes.py`.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer

from gateway.commands import actions, catalog, fleet, history, operate, runs, schedules
from gateway.entry_errors import set_debug
from gateway.http import commands as front_door

app = typer.Typer(
    help="runq runs LLM agent runs on a Celery fleet, with a shared Redis rate limiter, "
    "response cache and a SQL record of every run and tool call. Exit codes: "
    "0 ok/completed, 1 internal error, 2 bad usage, 3 run failed, 4 cancelled, 5 expired, "
    "6 timed out, 7 not found, 8 unreachable service, 9 configuration error, 10 already ended.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_show_locals=False,
)


def _print_version(requested: bool) -> None:
    if requested:
        try:
            print(f"runq {version('runq')}")
        except PackageNotFoundError:  # run from a checkout that was never installed
            print("runq (not installed)")
        raise typer.Exit()


@app.callback()
def main(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the full traceback of an error.")
    ] = False,
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """runq: agent runs on a Celery fleet."""
    set_debug(debug)


# Each group adds its commands here. Other groups register the same way, from their own
# module: `runq serve` and `runq keys …` (the HTTP front door), `runq flower` (operations);
# wrap each command in `gateway.entry_errors.guarded` for one-line errors.
for group in (runs, actions, schedules, history, catalog, fleet, front_door, operate):
    group.register(app)


if __name__ == "__main__":
    app()
