"""The SQL of recovery: the sweep's query, and the tool calls' leases.

The run's own bookkeeping (when its next step is due, leases, re-sends) is written by
`workers.runs.ledger`, with every other write of a run's state.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from workers.db.models import Run, ToolCall
from workers.db.statuses import TERMINAL_STATUSES, ToolCallStatus
from workers.db.store import StoredCall

_TERMINAL = [s.value for s in TERMINAL_STATUSES]


def find_overdue_runs(
    session: Session, *, due_before: datetime, limit: int, parked_due_before: datetime | None = None
) -> list[Run]:
    """Runs whose next step was due before `due_before` (parked ones: `parked_due_before`),
    most overdue first.

    One range scan of the `next_due_at` index, which holds only runs in flight (terminal
    runs have NULL), so the cost follows the overdue runs, not the runs in the table."""
    parked_before = parked_due_before or due_before
    query = (
        select(Run)
        .where(col(Run.next_due_at) < max(due_before, parked_before))
        .where(or_(col(Run.next_due_at) < due_before, col(Run.parked)))
        .order_by(col(Run.next_due_at))
        .limit(limit)
        .execution_options(populate_existing=True)
    )
    return list(session.exec(query).all())


def unfinished_calls(session: Session, *, run_id: str, turn: int) -> list[tuple[str, str]]:
    """(call id, tool name) of the turn's calls that have no output yet, in order."""
    query = (
        select(ToolCall.call_id, ToolCall.name)
        .where(ToolCall.run_id == run_id, ToolCall.turn == turn)
        .where(col(ToolCall.status).in_([ToolCallStatus.PENDING, ToolCallStatus.RUNNING]))
        .order_by(col(ToolCall.id))
    )
    return [(call_id, name) for call_id, name in session.exec(query).all()]


def call_names(session: Session, *, run_id: str, call_ids: tuple[str, ...]) -> list[str]:
    """The tool names of these calls of a run."""
    query = select(ToolCall.name).where(
        ToolCall.run_id == run_id, col(ToolCall.call_id).in_(call_ids)
    )
    return list(session.exec(query).all())


def renew_tool_call(
    session: Session, *, call: ToolCall | StoredCall, lease: datetime, now: datetime
) -> bool:
    """Extend this caller's lease on a running call before another attempt inside it: its
    start time moves to `now`, if it is still `lease` (compare-and-set). False if another
    worker took the call over meanwhile, and then this caller must not run it again."""
    result = session.execute(
        update(ToolCall)
        .where(col(ToolCall.id) == call.id, col(ToolCall.status) == ToolCallStatus.RUNNING)
        .where(col(ToolCall.started_at) == lease)
        .values(started_at=now)
    )
    session.commit()
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def reclaim_tool_call(session: Session, *, call: ToolCall | StoredCall, now: datetime) -> bool:
    """Take over a `running` call whose worker was lost, counting the attempt. True if this
    caller now owns it: the start time it saw must still be there (compare-and-set)."""
    result = session.execute(
        update(ToolCall)
        .where(col(ToolCall.id) == call.id, col(ToolCall.status) == ToolCallStatus.RUNNING)
        .where(col(ToolCall.started_at) == call.started_at)
        .values(started_at=now, attempts=col(ToolCall.attempts) + 1)
    )
    session.commit()
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]
