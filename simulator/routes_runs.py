"""/v1/threads/.../runs (legacy Assistants API): create, poll, cancel, submit tool outputs, steps.

Every read first brings the run up to the clock (`runs.refresh_run`). Run retrieves carry
`openai-poll-after-ms`, which the SDK's `runs.poll` helper sleeps for between polls.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from simulator import lifecycle, runs, script
from simulator.assistant_fields import new_messages, new_thread, required_string, run_settings
from simulator.assistant_state import LIMIT_BUCKET, RunRecord
from simulator.errors import bad_request, not_found
from simulator.gate import admit, read_json, reply_headers, state_of
from simulator.items import page
from simulator.render import render_run
from simulator.state import SimulatorState

router = APIRouter(prefix="/v1/threads")

STREAM_MESSAGE = "Streaming is not simulated: the simulator runs assistants only with stream=false."


@router.post("/runs")
async def create_thread_and_run(request: Request) -> JSONResponse:
    """Create a thread from `thread.messages` and start a run on it, in one call."""
    body = await read_json(request)
    thread_body = body.get("thread") or {}
    if not isinstance(thread_body, Mapping):
        raise bad_request("Invalid type for 'thread': expected an object.", param="thread")
    _admit_create(request, body, thread_body.get("messages"))
    state = state_of(request)
    with state.lock:
        assistant = state.assistants.find_assistant(required_string(body, "assistant_id"))
        settings = run_settings(body, assistant)
        thread = new_thread(thread_body, state.clock())
        state.assistants.threads[thread.id] = thread
        run = runs.start_run(state, thread, assistant["id"], settings)
        return JSONResponse(render_run(run))


@router.post("/{thread_id}/runs")
async def create_run(request: Request, thread_id: str) -> JSONResponse:
    """Start a run of an assistant on a thread (400 while another run holds the thread)."""
    body = await read_json(request)
    _admit_create(request, body, body.get("additional_messages"))
    state = state_of(request)
    with state.lock:
        thread = state.assistants.find_thread(thread_id)
        assistant = state.assistants.find_assistant(required_string(body, "assistant_id"))
        settings = run_settings(body, assistant)
        extra = new_messages(
            body.get("additional_messages"), thread_id, state.clock(), param="additional_messages"
        )
        run = runs.start_run(state, thread, assistant["id"], settings, extra)
        return JSONResponse(render_run(run))


@router.get("/{thread_id}/runs")
async def list_runs(
    request: Request, thread_id: str, limit: int = 20, order: str = "desc", after: str | None = None
) -> JSONResponse:
    """One page of the thread's runs, newest first unless order=asc."""
    admit(request, model=LIMIT_BUCKET, tokens=0)
    state = state_of(request)
    with state.lock:
        thread = state.assistants.find_thread(thread_id)
        shown = []
        for run_id in thread.run_ids:
            run = state.assistants.runs[run_id]
            runs.refresh_run(state, run)
            shown.append(render_run(run))
    return JSONResponse(page(shown, limit=limit, order=order, after=after))


@router.get("/{thread_id}/runs/{run_id}")
async def retrieve_run(request: Request, thread_id: str, run_id: str) -> JSONResponse:
    """The run as the clock has moved it (this is what pollers call)."""
    state = state_of(request)
    _admit_for(request, state, run_id)
    with state.lock:
        run = state.assistants.find_run(thread_id, run_id)
        runs.refresh_run(state, run)
        state.stats.assistant_runs_retrieved += 1
        wait_ms = lifecycle.IDLE_POLL_MS
        if lifecycle.is_run_active(run.status):
            wait_ms = lifecycle.poll_after_ms(run.phase.timeline, state.clock())
        reply_headers(request)["openai-poll-after-ms"] = str(wait_ms)
        return JSONResponse(render_run(run))


@router.post("/{thread_id}/runs/{run_id}/cancel")
async def cancel_run(request: Request, thread_id: str, run_id: str) -> JSONResponse:
    """Cancel an active run: `cancelling` now, `cancelled` on the next read."""
    state = state_of(request)
    _admit_for(request, state, run_id)
    with state.lock:
        run = state.assistants.find_run(thread_id, run_id)
        runs.cancel_run(state, run)
        return JSONResponse(render_run(run))


@router.post("/{thread_id}/runs/{run_id}/submit_tool_outputs")
async def submit_tool_outputs(request: Request, thread_id: str, run_id: str) -> JSONResponse:
    """Answer every pending tool call of a `requires_action` run in one request."""
    body = await read_json(request)
    if body.get("stream"):
        raise bad_request(STREAM_MESSAGE, param="stream")
    state = state_of(request)
    tokens = script.estimate_request_tokens(None, body.get("tool_outputs"), None)
    _admit_for(request, state, run_id, tokens=tokens + runs.DEFAULT_MAX_COMPLETION_TOKENS)
    with state.lock:
        run = state.assistants.find_run(thread_id, run_id)
        runs.submit_tool_outputs(state, run, body.get("tool_outputs"))
        return JSONResponse(render_run(run))


@router.get("/{thread_id}/runs/{run_id}/steps")
async def list_run_steps(
    request: Request,
    thread_id: str,
    run_id: str,
    limit: int = 20,
    order: str = "desc",
    after: str | None = None,
) -> JSONResponse:
    """One page of the run's steps (tool-call rounds and the final message)."""
    state = state_of(request)
    _admit_for(request, state, run_id)
    with state.lock:
        run = state.assistants.find_run(thread_id, run_id)
        runs.refresh_run(state, run)
        return JSONResponse(page(run.steps, limit=limit, order=order, after=after))


@router.get("/{thread_id}/runs/{run_id}/steps/{step_id}")
async def retrieve_run_step(
    request: Request, thread_id: str, run_id: str, step_id: str
) -> JSONResponse:
    """One step of the run."""
    state = state_of(request)
    _admit_for(request, state, run_id)
    with state.lock:
        run = state.assistants.find_run(thread_id, run_id)
        runs.refresh_run(state, run)
        for step in run.steps:
            if step["id"] == step_id:
                return JSONResponse(step)
    raise not_found(f"No run step found with id '{step_id}'.")


def _admit_create(request: Request, body: dict[str, Any], messages: object) -> None:
    """Charge a run create: its model's bucket, the new messages plus an output allowance."""
    if body.get("stream"):
        raise bad_request(STREAM_MESSAGE, param="stream")
    state = state_of(request)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        with state.lock:
            assistant = state.assistants.assistants.get(str(body.get("assistant_id")))
        model = assistant["model"] if assistant else "unknown"
    cap = body.get("max_completion_tokens")
    reserve = cap if isinstance(cap, int) and cap > 0 else runs.DEFAULT_MAX_COMPLETION_TOKENS
    estimate = script.estimate_request_tokens(body.get("instructions"), messages, body.get("tools"))
    admit(request, model=model, tokens=estimate + reserve)


def _admit_for(request: Request, state: SimulatorState, run_id: str, tokens: int = 0) -> None:
    """Admit a request about a run; it counts against that run's model."""
    with state.lock:
        run: RunRecord | None = state.assistants.runs.get(run_id)
        model = run.settings.model if run else "unknown"
    admit(request, model=model, tokens=tokens)
