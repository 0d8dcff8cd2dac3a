"""`/v1/schedules`: create, list, read, change and delete the caller's schedules.

Tenants apart as for runs: a key sees and changes only its own schedules (another key's is a
404), creating and changing one needs the `submit` scope, reading it `read`.
"""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from gateway.http.auth import ReaderDep, SessionDep, SubmitterDep
from gateway.http.routes_runs import ERRORS
from workers.public import schedules
from workers.public.schedule_schemas import (
    ScheduleCreate,
    ScheduleList,
    SchedulePublic,
    ScheduleUpdate,
)

router = APIRouter(prefix="/v1/schedules", tags=["schedules"])


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=SchedulePublic, responses=ERRORS
)
def create_schedule(
    body: ScheduleCreate, caller: SubmitterDep, session: SessionDep
) -> SchedulePublic:
    """Fire the run body on a cron schedule (201); an unknown agent, a bad cron string,
    time zone or policy is a 422 that says which."""
    return schedules.create_schedule(session, body, owner_key_id=caller.key_id)


@router.get("", response_model=ScheduleList, responses=ERRORS)
def list_schedules(caller: ReaderDep, session: SessionDep) -> ScheduleList:
    """The caller's schedules, oldest first."""
    return ScheduleList(data=schedules.list_schedules(session, owner_key_id=caller.key_id))


@router.get("/{schedule_id}", response_model=SchedulePublic, responses=ERRORS)
def get_schedule(schedule_id: str, caller: ReaderDep, session: SessionDep) -> SchedulePublic:
    """One schedule: its run body, cron, policies, next tick and what the last one did."""
    return schedules.show_schedule(session, owner_key_id=caller.key_id, schedule_id=schedule_id)


@router.patch("/{schedule_id}", response_model=SchedulePublic, responses=ERRORS)
def update_schedule(
    schedule_id: str, change: ScheduleUpdate, caller: SubmitterDep, session: SessionDep
) -> SchedulePublic:
    """Pause (`enabled: false`), resume, or change the cron, time zone or policies; a new
    cron or a resume fires from the next tick on (ticks passed while paused are not fired)."""
    return schedules.update_schedule(
        session, change, owner_key_id=caller.key_id, schedule_id=schedule_id
    )


@router.delete(
    "/{schedule_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
    responses=ERRORS,
)  # fmt: skip
def delete_schedule(schedule_id: str, caller: SubmitterDep, session: SessionDep) -> Response:
    """Delete the schedule (204); the runs it fired stay."""
    schedules.delete_schedule(session, owner_key_id=caller.key_id, schedule_id=schedule_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
