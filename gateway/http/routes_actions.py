"""`/v1/runs/{id}/…`: move a waiting run on — approve or reject a tool call that waits for
a person, or submit the outputs of the calls the caller runs itself.

A run in `requires_action` holds no worker: these requests record the decision or outputs
and, when nothing of the turn waits any more, send the turn's tools (or its submit).
Refusals: 404 for a run the key cannot see or a call the run does not have, 409 for a call
that no longer waits (decided before, or the run ended), 422 for outputs that do not answer
exactly the waiting calls.
"""

from __future__ import annotations

from fastapi import APIRouter

from gateway.http.auth import SessionDep, SubmitterDep
from gateway.http.routes_runs import ERRORS
from tasks.next_step import send
from workers.public.actions import decide_tool_call, submit_tool_outputs
from workers.public.records import run_pages
from workers.public.schemas import RunPublic, ToolDecision, ToolOutputs
from workers.public.views import runs_public

router = APIRouter(prefix="/v1/runs", tags=["runs"])


@router.post("/{run_id}/tool_calls/{call_id}/approve", response_model=RunPublic, responses=ERRORS)
def approve(
    run_id: str,
    call_id: str,
    caller: SubmitterDep,
    session: SessionDep,
    body: ToolDecision | None = None,
) -> RunPublic:
    """Approve a tool call that waits for a person: it runs (exactly once)."""
    return _decide(run_id, call_id, caller.key_id, session, True, body)


@router.post("/{run_id}/tool_calls/{call_id}/reject", response_model=RunPublic, responses=ERRORS)
def reject(
    run_id: str,
    call_id: str,
    caller: SubmitterDep,
    session: SessionDep,
    body: ToolDecision | None = None,
) -> RunPublic:
    """Reject a tool call that waits for a person: it never runs, and the model is told so
    (with the reason) as the call's output."""
    return _decide(run_id, call_id, caller.key_id, session, False, body)


@router.post("/{run_id}/submit_tool_outputs", response_model=RunPublic, responses=ERRORS)
def submit_outputs(
    run_id: str, body: ToolOutputs, caller: SubmitterDep, session: SessionDep
) -> RunPublic:
    """The outputs of every tool call the run waits for the caller to run, in one request."""
    run_pages.get_owned_run(session, owner_key_id=caller.key_id, run_id=run_id)
    outputs = [(item.tool_call_id, item.output) for item in body.tool_outputs]
    send(submit_tool_outputs(run_id, outputs, by=caller.key_id))
    return _fresh(session, run_id, caller.key_id)


def _decide(
    run_id: str,
    call_id: str,
    key_id: str,
    session: SessionDep,
    approve: bool,
    body: ToolDecision | None,
) -> RunPublic:
    # Another tenant's run is "not found", not "forbidden": a 403 would confirm it exists.
    run_pages.get_owned_run(session, owner_key_id=key_id, run_id=run_id)
    reason = None if body is None else body.reason
    send(decide_tool_call(run_id, call_id, approve=approve, by=key_id, reason=reason))
    return _fresh(session, run_id, key_id)


def _fresh(session: SessionDep, run_id: str, key_id: str) -> RunPublic:
    session.expire_all()
    return runs_public(
        session, [run_pages.get_owned_run(session, owner_key_id=key_id, run_id=run_id)]
    )[0]
