"""Runs that wait for time, as arithmetic: cron ticks, missed ticks, overlapping runs, and the
window a `run_at` must fall in. Pure: `now` is always a parameter; the beat job
(`workers/public/schedule_door.py`) loads, calls `plan_tick`, and writes what it says.

A schedule holds the next tick it owes (`next_fire_at`). When that time has come:

- a tick fired within `missed_after_s` of its time is on time, however late the beat was;
- older ticks were missed (the fleet was down): `skip` fires none of them, `catch_up_once`
  fires one run for all of them; either way the schedule moves on to its first tick that is
  not missed (which may be due at once);
- a tick that finds the schedule's previous run still going: `skip` fires nothing and says
  why, `enqueue` fires anyway, `cancel` cancels the previous run, then fires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

CRON_RULE = (
    "five fields (minute hour day-of-month month day-of-week), or six with seconds first, "
    "e.g. '0 9 * * 1-5' or '*/10 * * * * *'"
)


class MissedPolicy(StrEnum):
    """What a schedule does with ticks that passed while nothing could fire them."""

    SKIP = "skip"
    CATCH_UP_ONCE = "catch_up_once"


class OverlapPolicy(StrEnum):
    """What a tick does when the schedule's previous run has not ended."""

    SKIP = "skip"
    ENQUEUE = "enqueue"
    CANCEL = "cancel"


def cron_problem(expression: str) -> str | None:
    """Why `expression` is not a cron expression runq accepts, or None."""
    try:
        CronSim(expression, datetime(2000, 1, 1, tzinfo=UTC))
    except CronSimError as exc:
        return f"{exc} in {expression!r}: write {CRON_RULE}"
    return None


def timezone_problem(name: str) -> str | None:
    """Why `name` is not an IANA time zone (e.g. 'Europe/Oslo'), or None."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {name!r}: use an IANA name such as 'UTC' or 'Europe/Oslo'"
    return None


def next_tick(cron: str, timezone: str, after: datetime) -> datetime:
    """The first tick of `cron` strictly after `after`, read in `timezone` (so '0 9 * * *'
    is 09:00 there, daylight saving included), returned in UTC."""
    local = after.astimezone(ZoneInfo(timezone))
    return next(CronSim(cron, local)).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class DueSchedule:
    """What the beat job knows of one schedule whose tick has come."""

    cron: str
    timezone: str
    missed: MissedPolicy
    overlap: OverlapPolicy
    tick: datetime
    """The tick the schedule owes (its `next_fire_at`)."""
    previous_run_id: str | None = None
    previous_run_active: bool = False
    """The run of an earlier tick has not ended."""


@dataclass(frozen=True, slots=True)
class Fire:
    """Create the tick's run (keyed by the tick), then owe `next_fire_at`."""

    tick: datetime
    next_fire_at: datetime
    cancel_run_id: str | None = None
    """Cancel this run (the previous one, still going) before creating the new one."""
    note: str = ""


@dataclass(frozen=True, slots=True)
class Skip:
    """Fire nothing for `tick`, say why, and owe `next_fire_at`."""

    tick: datetime
    next_fire_at: datetime
    reason: str


TickPlan = Fire | Skip


def plan_tick(due: DueSchedule, now: datetime, missed_after_s: float) -> TickPlan:
    """What to do with the tick `due` owes at `now`."""
    missed_before = now - timedelta(seconds=missed_after_s)
    if due.tick < missed_before:
        # The first tick that is not missed: the schedule moves on to it (due now, or later).
        resume_at = next_tick(due.cron, due.timezone, missed_before)
        if due.missed is MissedPolicy.SKIP:
            return Skip(due.tick, resume_at, f"missed ticks from {due.tick:%F %T}Z skipped")
        return _overlap(due, resume_at, f"one run for the ticks missed since {due.tick:%F %T}Z")
    return _overlap(due, next_tick(due.cron, due.timezone, due.tick), "")


def _overlap(due: DueSchedule, next_fire_at: datetime, note: str) -> TickPlan:
    if not due.previous_run_active or due.overlap is OverlapPolicy.ENQUEUE:
        return Fire(due.tick, next_fire_at, note=note)
    if due.overlap is OverlapPolicy.SKIP:
        reason = f"previous run {due.previous_run_id} still going (overlap: skip)"
        return Skip(due.tick, next_fire_at, reason)
    return Fire(due.tick, next_fire_at, cancel_run_id=due.previous_run_id, note=note)


def tick_key(schedule_id: str, tick: datetime) -> str:
    """The idempotency key of the run a schedule fires for `tick`: one run per tick, whoever
    fires it and however often."""
    return f"{schedule_id}@{tick.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


def run_at_problem(
    run_at: datetime, now: datetime, *, slack_s: float, max_ahead_days: float
) -> str | None:
    """Why a run may not start at `run_at` (aware), seen at `now`, or None."""
    if run_at < now - timedelta(seconds=slack_s):
        return (
            f"run_at {run_at.astimezone(UTC):%F %T}Z is in the past (now {now:%F %T}Z); "
            "leave it out to start now"
        )
    if run_at > now + timedelta(days=max_ahead_days):
        return (
            f"run_at {run_at.astimezone(UTC):%F %T}Z is more than {max_ahead_days:g} days "
            "ahead (RUNQ_MAX_RUN_AT_DAYS)"
        )
    return None
