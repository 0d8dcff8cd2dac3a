"""`runq flower`: operating the fleet."""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.entry_errors import guarded


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.command()(guarded(flower))


def flower(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 5555,
    address: Annotated[str, typer.Option(help="Address to bind.")] = "0.0.0.0",
) -> None:
    """Start Flower with operators' basic auth on every page (RUNQ_OPERATOR_PASSWORD)."""
    from gateway.flower import operator_credential, run_flower
    from gateway.preflight import require_redis

    operator_credential()  # refuses to start without an operator password
    require_redis()  # Flower itself would retry an unreachable broker for ever
    run_flower(port, address)
