"""/v1/chat/completions: one synchronous completion per call; no streaming, nothing stored."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from simulator import chat, script
from simulator.gate import admit, model_in, read_json, state_of

router = APIRouter(prefix="/v1/chat/completions")


@router.post("")
async def create_chat_completion(request: Request) -> JSONResponse:
    """Answer the conversation in `messages` with text, tool calls, or JSON."""
    body = await read_json(request)
    admit(request, model=model_in(body), tokens=_reserved_tokens(body))
    state = state_of(request)
    with state.lock:
        completion = chat.create_completion(body, state.clock())
        state.stats.chat_completions += 1
    return JSONResponse(completion)


def _reserved_tokens(body: dict[str, Any]) -> int:
    """What TPM charges up front: the estimated prompt plus the completion allowance."""
    reserve = chat.DEFAULT_MAX_COMPLETION_TOKENS
    for name in ("max_completion_tokens", "max_tokens"):
        cap = body.get(name)
        if isinstance(cap, int) and cap > 0:
            reserve = cap
            break
    estimate = script.estimate_request_tokens(None, body.get("messages"), body.get("tools"))
    return estimate + reserve
