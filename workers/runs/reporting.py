"""How a committed terminal transition is reported: one call into metrics and logs."""

from __future__ import annotations

from datetime import datetime

from workers.db.models import Run
from workers.db.statuses import RunStatus
from workers.observability.events import RunEnd, run_ended
from workers.providers.interface import Usage


def report_end(
    run: Run,
    status: RunStatus,
    now: datetime,
    total: Usage,
    cost: float,
    *,
    from_status: RunStatus,
) -> None:
    """One metrics/log call for a committed terminal transition."""
    end = RunEnd(
        run_id=run.id,
        agent=run.agent,
        model=run.model,
        status=status.value,
        turn=run.turn,
        created_at=run.created_at,
        finished_at=now,
        input_tokens=total.input_tokens,
        output_tokens=total.output_tokens,
        cached_tokens=total.cached_tokens,
        cost_usd=cost,
    )
    run_ended(end, from_status=from_status.value)
