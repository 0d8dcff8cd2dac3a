"""SQL for schedules: keyword-only functions that take a session.

Each tick is claimed by one compare-and-set on `next_fire_at` (`claim_tick`), written in the
transaction that records the tick's run: two beats, a restarted beat or a redelivered beat
message that reach the same tick find it claimed, and record nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Table, update
from sqlmodel import Session, col, select

from workers.db.models import Schedule, utcnow
from workers.errors import ScheduleNotFound

_SCHEDULES: Table = Schedule.__table__  # type: ignore[attr-defined]
_C = _SCHEDULES.c


def add_schedule(session: Session, schedule: Schedule) -> Schedule:
    """Insert a new schedule."""
    session.add(schedule)
    session.commit()
    session.refresh(schedule)
    return schedule


def owned_schedules(session: Session, *, owner_key_id: str) -> list[Schedule]:
    """The owner's schedules, oldest first."""
    query = (
        select(Schedule)
        .where(Schedule.owner_key_id == owner_key_id)
        .order_by(col(Schedule.created_at), col(Schedule.id))
        .execution_options(populate_existing=True)
    )
    return list(session.exec(query).all())


def get_owned_schedule(session: Session, *, owner_key_id: str, schedule_id: str) -> Schedule:
    """The owner's schedule, or ScheduleNotFound (another owner's is not found either)."""
    schedule = session.get(Schedule, schedule_id, populate_existing=True)
    if schedule is None or schedule.owner_key_id != owner_key_id:
        raise ScheduleNotFound(f"no schedule with id {schedule_id!r}")
    return schedule


def change_schedule(session: Session, schedule: Schedule, values: Mapping[str, Any]) -> Schedule:
    """Write `values` on the schedule (a new `next_fire_at` among them voids a claim on the old
    tick that is still in flight: its compare-and-set then finds another time)."""
    for name, value in values.items():
        setattr(schedule, name, value)
    schedule.updated_at = utcnow()
    session.add(schedule)
    session.commit()
    session.refresh(schedule)
    return schedule


def delete_schedule(session: Session, schedule: Schedule) -> None:
    """Remove the schedule; the runs it fired stay."""
    session.delete(schedule)
    session.commit()


def due_schedules(session: Session, *, now: datetime, limit: int) -> list[Schedule]:
    """Enabled schedules whose tick has come, the longest due first (one range scan of the
    `next_fire_at` index, which holds only enabled schedules)."""
    query = (
        select(Schedule)
        .where(col(Schedule.next_fire_at) <= now)
        .order_by(col(Schedule.next_fire_at))
        .limit(limit)
        .execution_options(populate_existing=True)
    )
    return list(session.exec(query).all())


def claim_tick(
    session: Session,
    *,
    schedule_id: str,
    tick: datetime,
    next_fire_at: datetime,
    run_id: str | None = None,
    skip_reason: str | None = None,
) -> bool:
    """Move the schedule from `tick` to `next_fire_at`, only if it still owes `tick`
    (compare-and-set); records the tick's run, or why it fired none. False if another
    beat claimed the tick, or the schedule was paused, changed or deleted. The caller
    commits (with the tick's run, when there is one)."""
    values: dict[str, Any] = {"next_fire_at": next_fire_at, "updated_at": utcnow()}
    if run_id is not None:
        values |= {"last_run_id": run_id, "last_fired_at": tick, "last_skip_reason": None}
    else:
        values["last_skip_reason"] = skip_reason
    result = session.connection().execute(
        update(_SCHEDULES)
        .where(_C.id == schedule_id, _C.next_fire_at == tick, _C.enabled)
        .values(**values)
    )
    return bool(result.rowcount == 1)
