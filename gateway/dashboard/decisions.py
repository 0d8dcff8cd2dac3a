"""The dashboard's writes: `POST /runs/{run_id}/tool_calls/{call_id}/approve | reject`, the
run page's forms for a tool call that waits for a person.

An operator decides as the operator (`decided_by` "", as on the command line). Each form
carries its token (`auth.check_form`); a decision is recorded in one transaction, then what
runs next is sent to the broker, and the browser is sent back to the run page (303), where
the call shows approved or rejected. A decision that is no longer possible (decided
meanwhile, the run ended) re-renders the run page with the reason.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl, quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from kombu.exceptions import OperationalError
from pydantic import ValidationError

from gateway.dashboard.auth import Operator, check_form, form_token
from gateway.dashboard.pages import render_run
from gateway.dashboard.snapshot import read_run
from tasks import next_step
from workers.errors import ActionConflict, RunNotFound, ToolCallNotFound
from workers.public import runtime
from workers.public.actions import decide_tool_call
from workers.public.schemas import ToolDecision

OPERATOR = ""  # `decided_by` of the operator's decisions (an API key id for HTTP callers)


async def _form(request: Request) -> dict[str, str]:
    """The POSTed form (application/x-www-form-urlencoded), parsed here: the two fields do
    not warrant python-multipart. The gateway's body limit has already bounded its size."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return dict(parse_qsl(body, keep_blank_values=True))


Form = Annotated[dict[str, str], Depends(_form)]


def add_decision_routes(router: APIRouter) -> None:
    """Add the approve and reject endpoints to the dashboard's router."""

    @router.post("/runs/{run_id}/tool_calls/{call_id}/approve")
    def approve(_: Operator, run_id: str, call_id: str, request: Request, form: Form) -> Response:
        return decide(request, run_id, call_id, form, approve=True)

    @router.post("/runs/{run_id}/tool_calls/{call_id}/reject")
    def reject(_: Operator, run_id: str, call_id: str, request: Request, form: Form) -> Response:
        return decide(request, run_id, call_id, form, approve=False)


def decide(
    request: Request, run_id: str, call_id: str, form: dict[str, str], *, approve: bool
) -> Response:
    """Record the decision, send what runs next, and go back to the run page."""
    check_form(request, run_id, call_id, form.get("token", ""))
    reason = form.get("reason", "").strip() or None
    if not approve and reason is None:
        return run_page(run_id, "a rejection needs a reason: the model is told it", 422)
    try:
        ToolDecision(reason=reason)  # the HTTP API's limits on a reason, here too
    except ValidationError as exc:
        return run_page(run_id, f"nothing changed: {exc.errors()[0]['msg']}", 422)
    try:
        decided = decide_tool_call(run_id, call_id, approve=approve, by=OPERATOR, reason=reason)
    except (RunNotFound, ToolCallNotFound) as exc:
        raise HTTPException(404, str(exc)) from None
    except ActionConflict as exc:
        return run_page(run_id, f"nothing changed: {exc}", 409)
    try:
        next_step.send(decided)
    except (OperationalError, OSError) as exc:
        # Committed already: the run is overdue in requires_tools, and the sweep sends it.
        verdict = "approved" if approve else "rejected"
        note = f"{verdict}, but the broker did not take the next step ({exc}); the recovery "
        return run_page(run_id, note + "sweep sends it once the broker answers", 503)
    return RedirectResponse(f"../../../{quote(run_id, safe='')}", status_code=303)


def run_page(run_id: str, notice: str | None = None, status_code: int = 200) -> HTMLResponse:
    """The run page, with forms for the calls that wait for approval (404 for no run)."""
    with runtime.new_session() as session:
        try:
            run, calls = read_run(session, run_id)
        except RunNotFound:
            raise HTTPException(404, f"no run {run_id}") from None
    tokens = {
        c.call_id: form_token(run.id, c.call_id) for c in calls if c.status == "awaiting_approval"
    }
    return HTMLResponse(render_run(run, calls, tokens, notice), status_code=status_code)
