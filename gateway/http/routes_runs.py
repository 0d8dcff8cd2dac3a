"""`/v1/runs`: create, read, list and cancel the caller's runs."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Response, status

from config.settings import get_settings
from gateway.http.auth import ReaderDep, SessionDep, SubmitterDep
from workers.public.cancel import cancel_run
from workers.public.enqueue import enqueue_job
from workers.public.records import RunStatus, run_pages
from workers.public.schemas import ApiError, JobCreate, RunCreate, RunList, RunPublic
from workers.public.thread_names import scoped_thread_key, thread_name_problem
from workers.public.views import runs_public

router = APIRouter(prefix="/v1/runs", tags=["runs"])

ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ApiError} for code in (400, 401, 403, 404, 409, 413, 422, 429)
}


@router.post("", status_code=status.HTTP_201_CREATED, response_model=RunPublic, responses=ERRORS)
def create_run(
    body: RunCreate,
    caller: SubmitterDep,
    session: SessionDep,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(min_length=1, max_length=256, description="Same key and body: same run (200)."),
    ] = None,
) -> RunPublic:
    """Record a run and start it (201); an idempotent replay answers 200, a reused key with
    another body 409."""
    job = JobCreate.model_validate({**body.model_dump(), "idempotency_key": idempotency_key})
    run, created = enqueue_job(
        session, job, default_deadline_s=get_settings().runs.deadline_s, owner_key_id=caller.key_id
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return runs_public(session, [run])[0]


@router.get("/{run_id}", response_model=RunPublic, responses=ERRORS)
def get_run(run_id: str, caller: ReaderDep, session: SessionDep) -> RunPublic:
    """One run: status, output, error, usage, tool calls, thread, metadata, timestamps."""
    run = run_pages.get_owned_run(session, owner_key_id=caller.key_id, run_id=run_id)
    return runs_public(session, [run])[0]


@router.get("", response_model=RunList, responses=ERRORS)
def list_runs(
    caller: ReaderDep,
    session: SessionDep,
    status_: Annotated[RunStatus | None, Query(alias="status")] = None,
    agent: Annotated[str | None, Query(max_length=128)] = None,
    thread_key: Annotated[str | None, Query(max_length=512)] = None,
    idempotency_key: Annotated[str | None, Query(max_length=256)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> RunList:
    """The caller's runs, newest first; `next_cursor` fetches the next page."""
    thread_id = None
    if thread_key is not None:
        require_thread_name(thread_key)
        thread = run_pages.find_thread(
            session, external_key=scoped_thread_key(caller.key_id, thread_key)
        )
        if thread is None:
            return RunList(data=[], next_cursor=None)
        thread_id = thread.id
    page = run_pages.RunFilter(
        owner_key_id=caller.key_id,
        status=None if status_ is None else status_.value,
        agent=agent,
        thread_id=thread_id,
        idempotency_key=idempotency_key,
        after=None if cursor is None else _decode_cursor(cursor),
        limit=limit,
    )
    runs = run_pages.list_owned_runs(session, page=page)
    more = len(runs) == limit
    return RunList(
        data=runs_public(session, runs),
        next_cursor=_encode_cursor(runs[-1].created_at, runs[-1].id) if more else None,
    )


@router.post(
    "/{run_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RunPublic,
    responses=ERRORS,
)
def cancel(run_id: str, caller: SubmitterDep, session: SessionDep) -> RunPublic:
    """Cancel a run (202); a run that already ended answers 409."""
    run = run_pages.get_owned_run(session, owner_key_id=caller.key_id, run_id=run_id)
    if not cancel_run(run.id):
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"run {run_id} already ended; nothing to cancel"
        )
    run = run_pages.get_owned_run(session, owner_key_id=caller.key_id, run_id=run_id)
    return runs_public(session, [run])[0]


def require_thread_name(thread_key: str) -> None:
    """422 stating the thread-name rule, as for a bad name in a body."""
    problem = thread_name_problem(thread_key)
    if problem is not None:
        raise HTTPException(422, problem)


def _encode_cursor(created_at: datetime, run_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{run_id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        created_at, run_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        after = datetime.fromisoformat(created_at)
        if after.tzinfo is None:
            raise ValueError("naive cursor time")
        return after, run_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, "invalid cursor: pass back a next_cursor as it came"
        ) from None
