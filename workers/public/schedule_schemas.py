"""What goes in and out of the front door for schedules (HTTP `/v1/schedules`, `runq
schedules`): a schedule is a run body (the fields of `POST /v1/runs`) plus when to fire it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from workers.public.schemas import RunCreate
from workers.schedule_ticks import (
    CRON_RULE,
    MissedPolicy,
    OverlapPolicy,
    cron_problem,
    timezone_problem,
)

CRON_HELP = f"When to fire: {CRON_RULE}."
TIMEZONE_HELP = "The IANA time zone the cron reads in (daylight saving included)."
MISSED_HELP = (
    "Ticks missed while the fleet was down: skip (fire none) or catch_up_once (one run for all)."
)
OVERLAP_HELP = (
    "A tick finding the previous run still going: skip it, enqueue the new run anyway, "
    "or cancel the previous run first."
)


def _checked_cron(value: str | None) -> str | None:
    problem = None if value is None else cron_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _checked_timezone(value: str | None) -> str | None:
    problem = None if value is None else timezone_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


class ScheduleCreate(RunCreate):
    """A run body fired on a cron schedule. Unknown fields are refused, not ignored."""

    cron: str = Field(min_length=1, max_length=128, description=CRON_HELP)
    timezone: str = Field("UTC", min_length=1, max_length=64, description=TIMEZONE_HELP)
    missed: MissedPolicy = Field(MissedPolicy.SKIP, description=MISSED_HELP)
    overlap: OverlapPolicy = Field(OverlapPolicy.SKIP, description=OVERLAP_HELP)
    enabled: bool = Field(True, description="False: created paused (resume it later).")

    _cron_is_valid = field_validator("cron")(_checked_cron)
    _timezone_is_valid = field_validator("timezone")(_checked_timezone)

    @model_validator(mode="after")
    def _no_run_at(self) -> ScheduleCreate:
        if self.run_at is not None:
            raise ValueError("a schedule's runs start at its ticks: leave run_at out")
        return self

    def run_body(self) -> dict[str, Any]:
        """The body of the run each tick creates (JSON-able)."""
        return self.model_dump(mode="json", include=set(RunCreate.model_fields) - {"run_at"})


class ScheduleUpdate(BaseModel):
    """What a schedule may change; a field left out stays as it is."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    cron: str | None = Field(None, min_length=1, max_length=128, description=CRON_HELP)
    timezone: str | None = Field(None, min_length=1, max_length=64, description=TIMEZONE_HELP)
    missed: MissedPolicy | None = Field(None, description=MISSED_HELP)
    overlap: OverlapPolicy | None = Field(None, description=OVERLAP_HELP)
    enabled: bool | None = Field(None, description="False pauses it; true resumes it.")

    _cron_is_valid = field_validator("cron")(_checked_cron)
    _timezone_is_valid = field_validator("timezone")(_checked_timezone)


class SchedulePublic(BaseModel):
    """A schedule as its owner sees it."""

    id: str
    agent: str
    run: dict[str, Any]
    """The body of the run each tick creates."""
    cron: str
    timezone: str
    missed: MissedPolicy
    overlap: OverlapPolicy
    enabled: bool
    next_fire_at: datetime | None
    last_fired_at: datetime | None
    last_run_id: str | None
    last_skip_reason: str | None
    created_at: datetime
    updated_at: datetime


class ScheduleList(BaseModel):
    """The caller's schedules, oldest first."""

    data: list[SchedulePublic]
