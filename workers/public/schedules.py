"""Schedules from the front door: create, list, show, change and delete the caller's own.

Every function takes the owner (the API key's id, "" for the operator's CLI): a key sees and
changes only its own schedules, and another key's is not found (404), as for runs.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlmodel import Session

from workers.agents import get_agent
from workers.db import schedule_store
from workers.db.models import Schedule, utcnow
from workers.public.schedule_schemas import ScheduleCreate, SchedulePublic, ScheduleUpdate
from workers.schedule_ticks import MissedPolicy, OverlapPolicy, next_tick


def create_schedule(
    session: Session, body: ScheduleCreate, *, owner_key_id: str, now: datetime | None = None
) -> SchedulePublic:
    """Record a schedule of a declared agent (UnknownAgent lists them); it owes its first
    tick after `now`, or nothing while created paused."""
    agent = get_agent(body.agent)
    first = next_tick(body.cron, body.timezone, now or utcnow()) if body.enabled else None
    row = Schedule(
        owner_key_id=owner_key_id,
        agent=agent.name,
        job_json=json.dumps(body.run_body(), sort_keys=True),
        cron=body.cron,
        timezone=body.timezone,
        missed=body.missed.value,
        overlap=body.overlap.value,
        enabled=body.enabled,
        next_fire_at=first,
    )
    return schedule_public(schedule_store.add_schedule(session, row))


def list_schedules(session: Session, *, owner_key_id: str) -> list[SchedulePublic]:
    """The owner's schedules, oldest first."""
    rows = schedule_store.owned_schedules(session, owner_key_id=owner_key_id)
    return [schedule_public(row) for row in rows]


def show_schedule(session: Session, *, owner_key_id: str, schedule_id: str) -> SchedulePublic:
    """One of the owner's schedules, or ScheduleNotFound."""
    return schedule_public(
        schedule_store.get_owned_schedule(
            session, owner_key_id=owner_key_id, schedule_id=schedule_id
        )
    )


def update_schedule(
    session: Session,
    change: ScheduleUpdate,
    *,
    owner_key_id: str,
    schedule_id: str,
    now: datetime | None = None,
) -> SchedulePublic:
    """Apply `change`. A new cron or time zone, or a resume, owes the next tick after `now`
    (ticks that passed while paused are not fired); a pause owes none."""
    row = schedule_store.get_owned_schedule(
        session, owner_key_id=owner_key_id, schedule_id=schedule_id
    )
    values: dict[str, Any] = change.model_dump(exclude_none=True, mode="json")
    retimed = {"cron", "timezone"} & set(values) or (
        change.enabled is not None and change.enabled != row.enabled
    )
    if retimed:
        enabled = row.enabled if change.enabled is None else change.enabled
        cron, timezone = values.get("cron", row.cron), values.get("timezone", row.timezone)
        values["next_fire_at"] = next_tick(cron, timezone, now or utcnow()) if enabled else None
    return schedule_public(schedule_store.change_schedule(session, row, values))


def delete_schedule(session: Session, *, owner_key_id: str, schedule_id: str) -> None:
    """Remove one of the owner's schedules (its runs stay), or ScheduleNotFound."""
    row = schedule_store.get_owned_schedule(
        session, owner_key_id=owner_key_id, schedule_id=schedule_id
    )
    schedule_store.delete_schedule(session, row)


def schedule_public(row: Schedule) -> SchedulePublic:
    """A stored schedule as its owner sees it."""
    return SchedulePublic(
        id=row.id,
        agent=row.agent,
        run=json.loads(row.job_json),
        cron=row.cron,
        timezone=row.timezone,
        missed=MissedPolicy(row.missed),
        overlap=OverlapPolicy(row.overlap),
        enabled=row.enabled,
        next_fire_at=row.next_fire_at,
        last_fired_at=row.last_fired_at,
        last_run_id=row.last_run_id,
        last_skip_reason=row.last_skip_reason,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
