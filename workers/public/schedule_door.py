"""The schedules' door for jobs: beat's `runq.housekeeping.fire_schedules` creates the run of
every tick that has come, as a producer would, and sends its start.

Exactly once per tick, with no lock: the tick is claimed by a compare-and-set on the
schedule's `next_fire_at` (`schedule_store.claim_tick`) in the same transaction that inserts
its run, and the run's idempotency key is the (schedule, tick) pair. Two beats, a beat
restarted mid-tick or a redelivered beat message reach the same tick: one commits the claim
and the run together, the others find the tick claimed (or the run recorded) and do nothing.
What a tick does (missed ticks, a previous run still going) is `schedule_ticks.plan_tick`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError
from sqlmodel import Session

from workers.agent_modules import load_agent_modules
from workers.db import key_store, schedule_store, store
from workers.db.models import Run, Schedule
from workers.db.statuses import RunStatus, is_terminal
from workers.errors import (
    CallbackRefused,
    IdempotencyConflict,
    IllegalTransition,
    RunNotFound,
    ThreadBusy,
    UnknownAgent,
)
from workers.public.enqueue import enqueue_job
from workers.public.schemas import JobCreate
from workers.runs.context import StepContext
from workers.runs.outcomes import cancel_run
from workers.schedule_ticks import (
    DueSchedule,
    Fire,
    MissedPolicy,
    OverlapPolicy,
    Skip,
    plan_tick,
    tick_key,
)

log = logging.getLogger("runq.schedules")

# A tick whose job cannot become a run (its agent is gone, its thread refuses) is recorded
# as skipped with the reason, and the schedule moves on: one bad tick never blocks the next.
_REFUSED = (ValidationError, UnknownAgent, ThreadBusy, CallbackRefused, IdempotencyConflict)


@dataclass(frozen=True, slots=True)
class FiringPolicy:
    """The beat job's knobs, as plain values."""

    missed_after_s: float = 60.0
    batch: int = 100
    default_deadline_s: float = 900.0
    agent_modules: tuple[str, ...] = ()


def fire_due_schedules(ctx: StepContext, policy: FiringPolicy) -> int:
    """Fire every tick that has come (at most `policy.batch`); returns the runs created.

    A schedule behind by several ticks that are not missed fires them one after another."""
    load_agent_modules(list(policy.agent_modules))  # this worker may not have run a step yet
    created, budget = 0, policy.batch
    while budget > 0:
        now = ctx.now()
        with ctx.sessions() as session:
            due = schedule_store.due_schedules(session, now=now, limit=budget)
        if not due:
            break
        budget -= len(due)
        created += sum(fire_tick(ctx, schedule, now, policy) for schedule in due)
    return created


def fire_tick(ctx: StepContext, schedule: Schedule, now: datetime, policy: FiringPolicy) -> bool:
    """Do what the schedule's due tick asks; True if this caller created its run."""
    with ctx.sessions() as session:
        due = _due_view(session, schedule)
        if due is None:
            return False
        plan = plan_tick(due, now, policy.missed_after_s)
        if isinstance(plan, Skip) or not _owner_is_live(session, schedule):
            reason = plan.reason if isinstance(plan, Skip) else "its API key was revoked"
            return _skip(session, schedule, due.tick, plan.next_fire_at, reason)
    if plan.cancel_run_id is not None:
        # Before the claim: a beat that then loses the tick to another has cancelled what
        # the winner cancels too (the same run), so nothing is cancelled twice in effect.
        cancel_run(
            ctx,
            plan.cancel_run_id,
            reason=f"cancelled: schedule {schedule.id} fired its next tick (overlap: cancel)",
        )
    return _fire(ctx, schedule, plan, policy)


def _due_view(session: Session, schedule: Schedule) -> DueSchedule | None:
    if schedule.next_fire_at is None:
        return None
    previous_active = False
    if schedule.last_run_id is not None:
        try:
            status, _ = store.status_and_agent(session, run_id=schedule.last_run_id)
            previous_active = not is_terminal(RunStatus(status))
        except RunNotFound:
            previous_active = False
    return DueSchedule(
        cron=schedule.cron,
        timezone=schedule.timezone,
        missed=MissedPolicy(schedule.missed),
        overlap=OverlapPolicy(schedule.overlap),
        tick=schedule.next_fire_at,
        previous_run_id=schedule.last_run_id,
        previous_run_active=previous_active,
    )


def _owner_is_live(session: Session, schedule: Schedule) -> bool:
    if not schedule.owner_key_id:
        return True  # the operator's own schedules belong to no key
    owner = {schedule.owner_key_id}
    return key_store.live_key_ids(session, key_ids=owner) == owner


def _fire(ctx: StepContext, schedule: Schedule, plan: Fire, policy: FiringPolicy) -> bool:
    body = json.loads(schedule.job_json)
    with ctx.sessions() as session:

        def claim(session: Session, run: Run) -> bool:
            return schedule_store.claim_tick(
                session,
                schedule_id=schedule.id,
                tick=plan.tick,
                next_fire_at=plan.next_fire_at,
                run_id=run.id,
            )

        try:
            job = JobCreate.model_validate(
                {**body, "idempotency_key": tick_key(schedule.id, plan.tick)}
            )
            run, created = enqueue_job(
                session,
                job,
                default_deadline_s=policy.default_deadline_s,
                owner_key_id=schedule.owner_key_id,
                guard=claim,
            )
        except IllegalTransition:
            log.info("schedule %s: tick %s was fired by another beat", schedule.id, plan.tick)
            return False
        except _REFUSED as exc:
            session.rollback()
            reason = f"run refused: {str(exc).splitlines()[0]}"
            return _skip(session, schedule, plan.tick, plan.next_fire_at, reason)
        if not created:
            # The tick's run exists already (the schedule was set back to a fired tick):
            # move on without a second run.
            schedule_store.claim_tick(
                session,
                schedule_id=schedule.id,
                tick=plan.tick,
                next_fire_at=plan.next_fire_at,
                run_id=run.id,
            )
            session.commit()
            return False
    log.info(
        "schedule %s fired tick %s as run %s%s",
        schedule.id,
        plan.tick,
        run.id,
        f" ({plan.note})" if plan.note else "",
    )
    return True


def _skip(
    session: Session, schedule: Schedule, tick: datetime, next_fire_at: datetime, reason: str
) -> bool:
    claimed = schedule_store.claim_tick(
        session,
        schedule_id=schedule.id,
        tick=tick,
        next_fire_at=next_fire_at,
        skip_reason=reason,
    )
    session.commit()
    if claimed:
        log.info("schedule %s: tick %s fired no run: %s", schedule.id, tick, reason)
    return False
