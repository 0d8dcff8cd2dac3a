"""Cancelling a run from outside the engine (HTTP, the CLI)."""

from __future__ import annotations

from workers.runs import outcomes
from workers.wiring import get_step_context


def cancel_run(run_id: str, reason: str = "cancelled by request") -> bool:
    """Cancel a run at once and at the provider (best effort); False if it had already ended."""
    return outcomes.cancel_run(get_step_context(), run_id, reason=reason)
