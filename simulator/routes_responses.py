"""/v1/responses: create (sync or background), retrieve, cancel, delete, input items, tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from simulator import respond, script
from simulator.errors import bad_request
from simulator.gate import admit, model_in, read_json, state_of
from simulator.items import page
from simulator.render import render_deleted, render_response
from simulator.webhooks import schedule_webhook

router = APIRouter(prefix="/v1/responses")


@router.post("")
async def create_response(request: Request) -> JSONResponse:
    """Create a response; a background one starts `queued`, a synchronous one is terminal."""
    body = await read_json(request)
    admit(request, model=model_in(body), tokens=_reserved_tokens(body))
    state = state_of(request)
    took_ms = 0
    if state.config.sync_latency and not body.get("background"):
        with state.lock:
            took_ms = state.draw_latency_ms()
        # Outside the lock: other requests go on while this one "thinks".
        await request.app.state.sleep(took_ms / 1000)
    with state.lock:
        now_s = state.clock()
        respond.settle_due(state, now_s)
        record = respond.create_response(state, body, now_s, took_ms=took_ms)
        respond.settle_due(state, now_s)
        schedule_webhook(state, record)
        # OpenAI acknowledges every background create as queued, however short the latency.
        status = "queued" if record.background else respond.current_status(record, now_s)
        return JSONResponse(render_response(record, status))


@router.post("/input_tokens")
async def count_input_tokens(request: Request) -> JSONResponse:
    """Count the input tokens a create with this body would bill."""
    body = await read_json(request)
    admit(request, model=model_in(body), tokens=0)
    state = state_of(request)
    with state.lock:
        tokens = respond.count_input_tokens(state, body, state.clock())
        state.stats.input_tokens_counted += 1
    return JSONResponse({"object": "response.input_tokens", "input_tokens": tokens})


@router.get("/{response_id}")
async def retrieve_response(
    request: Request, response_id: str, stream: bool = False
) -> JSONResponse:
    """The current snapshot of a response (this is what pollers call)."""
    _admit_for(request, response_id)
    if stream:
        raise bad_request("The simulator does not stream; omit 'stream'.", param="stream")
    state = state_of(request)
    with state.lock:
        now_s = state.clock()
        respond.settle_due(state, now_s)
        record = respond.find_response(state, response_id)
        state.stats.responses_retrieved += 1
        return JSONResponse(render_response(record, respond.current_status(record, now_s)))


@router.post("/{response_id}/cancel")
async def cancel_response(request: Request, response_id: str) -> JSONResponse:
    """Cancel a running background response; finished ones come back unchanged."""
    _admit_for(request, response_id)
    state = state_of(request)
    with state.lock:
        now_s = state.clock()
        respond.settle_due(state, now_s)
        record = respond.cancel_response(state, response_id, now_s)
        return JSONResponse(render_response(record, respond.current_status(record, now_s)))


@router.delete("/{response_id}")
async def delete_response(request: Request, response_id: str) -> JSONResponse:
    """Forget a stored response; later GETs are 404."""
    _admit_for(request, response_id)
    state = state_of(request)
    with state.lock:
        respond.find_response(state, response_id)
        del state.responses[response_id]
        state.stats.responses_deleted += 1
    return JSONResponse(render_deleted(response_id, "response"))


@router.get("/{response_id}/input_items")
async def list_input_items(
    request: Request,
    response_id: str,
    limit: int = 20,
    order: str = "desc",
    after: str | None = None,
) -> JSONResponse:
    """The request's own input items, with their ids."""
    _admit_for(request, response_id)
    state = state_of(request)
    with state.lock:
        record = respond.find_response(state, response_id)
        state.stats.input_items_listed += 1
        return JSONResponse(page(record.input_items, limit=limit, order=order, after=after))


def _admit_for(request: Request, response_id: str) -> None:
    """Admit a request about a stored response; it counts against that response's model."""
    state = state_of(request)
    with state.lock:
        record = state.responses.get(response_id)
    admit(request, model=record.model if record else "unknown", tokens=0)


def _reserved_tokens(body: dict[str, Any]) -> int:
    """What TPM charges up front: the request's estimated input plus its output allowance."""
    cap = body.get("max_output_tokens")
    reserve = cap if isinstance(cap, int) and cap > 0 else respond.DEFAULT_MAX_OUTPUT_TOKENS
    estimate = script.estimate_request_tokens(
        body.get("instructions"), body.get("input"), body.get("tools")
    )
    return estimate + reserve
