"""SQL for batch-lane turns: keyword-only functions that take a session.

Every status change is a compare-and-set on the turn's status, so two collectors (two beats
by mistake) or a late answer never move a turn backwards."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import update
from sqlmodel import Session, col, select

from workers.db.models import BatchTurn, utcnow


class TurnStatus:
    """Where a batch turn is (plain strings, as stored)."""

    WAITING = "waiting"
    SUBMITTED = "submitted"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


def add_turn(session: Session, *, run_id: str, agent: str, body: str) -> BatchTurn:
    """Park one turn until the next batch is sent."""
    turn = BatchTurn(run_id=run_id, agent=agent, body=body)
    session.add(turn)
    session.commit()
    session.refresh(turn)
    return turn


def get_turn(session: Session, *, turn_id: str) -> BatchTurn | None:
    """The turn, or None if no turn has that id."""
    return session.get(BatchTurn, turn_id)


def waiting_turns(session: Session, *, limit: int) -> list[BatchTurn]:
    """Turns not yet in a batch, oldest first."""
    query = (
        select(BatchTurn)
        .where(BatchTurn.status == TurnStatus.WAITING)
        .order_by(col(BatchTurn.created_at))
        .limit(limit)
    )
    return list(session.exec(query).all())


def open_batches(session: Session) -> list[str]:
    """Ids of the batches that have turns waiting for their answer."""
    query = select(BatchTurn.batch_id).where(BatchTurn.status == TurnStatus.SUBMITTED).distinct()
    return [batch_id for batch_id in session.exec(query).all() if batch_id is not None]


def turns_of_batch(session: Session, *, batch_id: str) -> list[BatchTurn]:
    """The turns still waiting for batch `batch_id`'s answer."""
    query = select(BatchTurn).where(
        BatchTurn.batch_id == batch_id, BatchTurn.status == TurnStatus.SUBMITTED
    )
    return list(session.exec(query).all())


def mark_submitted(session: Session, *, turn_ids: Sequence[str], batch_id: str) -> None:
    """These waiting turns are lines of batch `batch_id` now."""
    _move(session, turn_ids, TurnStatus.WAITING, status=TurnStatus.SUBMITTED, batch_id=batch_id)


def answer(session: Session, *, turn_id: str, response_json: str) -> bool:
    """The batch answered this turn with a Response; False if it no longer waited."""
    return (
        _move(
            session,
            [turn_id],
            TurnStatus.SUBMITTED,
            status=TurnStatus.DONE,
            response_json=response_json,
        )
        == 1
    )


def fail(session: Session, *, turn_ids: Sequence[str], error: str) -> int:
    """These submitted turns got no answer, for good; how many were still waiting."""
    return _move(session, turn_ids, TurnStatus.SUBMITTED, status=TurnStatus.FAILED, error=error)


def fail_waiting(session: Session, *, turn_ids: Sequence[str], error: str) -> int:
    """These turns can never be sent (their agent is gone); how many were still waiting."""
    return _move(session, turn_ids, TurnStatus.WAITING, status=TurnStatus.FAILED, error=error)


def send_again(session: Session, *, turn_ids: Sequence[str], error: str) -> int:
    """Their batch failed or expired: they wait for the next batch (one attempt counted)."""
    return _move(
        session,
        turn_ids,
        TurnStatus.SUBMITTED,
        status=TurnStatus.WAITING,
        batch_id=None,
        error=error,
        attempts=BatchTurn.attempts + 1,
    )


def cancel(session: Session, *, turn_id: str) -> None:
    """The run ended: its turn is not sent (or its answer is not wanted)."""
    for status in (TurnStatus.WAITING, TurnStatus.SUBMITTED):
        _move(session, [turn_id], status, status=TurnStatus.CANCELLED)


def _move(session: Session, turn_ids: Sequence[str], from_status: str, **values: object) -> int:
    if not turn_ids:
        return 0
    result = session.execute(
        update(BatchTurn)
        .where(col(BatchTurn.id).in_(list(turn_ids)), col(BatchTurn.status) == from_status)
        .values(updated_at=utcnow(), **values)
    )
    session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]
