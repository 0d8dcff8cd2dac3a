"""The edge of every /v1 request: find the state, read the body, and admit or refuse it.

Admission order mirrors what a client would see from OpenAI: an account with no quota is
refused before any limiter runs; a rate-limited request never reaches a model, so it cannot be
hit by an injected 500 either. A model named `sim-status-NNN` is answered with status NNN,
so one agent can meet an unexpected provider status while every other agent is served.
"""

from __future__ import annotations

import json
import re
from typing import Any, cast

from fastapi import Request

from simulator.errors import ApiError
from simulator.faults import Rejection, retry_after_headers
from simulator.state import SimulatorState

QUOTA_MESSAGE = (
    "You exceeded your current quota, please check your plan and billing details. For more "
    "information on this error, read the docs: "
    "https://platform.openai.com/docs/guides/error-codes/api-errors."
)
SERVER_ERROR_MESSAGE = (
    "The server had an error while processing your request. Sorry about that! "
    "(injected by the simulator's fault_5xx_rate)"
)


_SCRIPTED_STATUS = re.compile(r"sim-status-([1-5]\d\d)")


def state_of(request: Request) -> SimulatorState:
    """The simulator state of the app serving `request`."""
    return cast(SimulatorState, request.app.state.sim)


def reply_headers(request: Request) -> dict[str, str]:
    """Headers the middleware adds to whatever reply this request gets, errors included."""
    headers = getattr(request.state, "reply_headers", None)
    if headers is None:
        headers = {}
        request.state.reply_headers = headers
    return cast(dict[str, str], headers)


async def read_json(request: Request) -> dict[str, Any]:
    """The JSON object body (an empty body reads as {}); 400 for anything else."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ApiError(
            400,
            "We could not parse the JSON body of your request. The OpenAI API expects a JSON "
            "payload, but what was sent was not valid JSON.",
        )
    return body


def model_in(body: dict[str, Any]) -> str:
    """The model a request body names, for choosing its rate-limit bucket ("unknown" if none).

    Admission runs before validation, so a malformed body still gets a bucket."""
    model = body.get("model")
    return model if isinstance(model, str) and model else "unknown"


def admit(request: Request, *, model: str, tokens: int) -> None:
    """Charge one request and `tokens` tokens to (API key, model), or raise the refusal."""
    scripted = _SCRIPTED_STATUS.fullmatch(model)
    if scripted is not None:
        status = int(scripted.group(1))
        raise ApiError(status, f"status {status}, scripted by the model name {model!r}")
    state = state_of(request)
    api_key = str(request.state.api_key)
    with state.lock:
        config = state.config
        if config.quota_exhausted:
            raise ApiError(
                429,
                QUOTA_MESSAGE,
                error_type="insufficient_quota",
                code="insufficient_quota",
                # Waiting never restores quota, so tell the SDK not to retry.
                headers={"x-should-retry": "false"},
            )
        verdict = state.limiter.check(
            api_key=api_key,
            model=model,
            tokens=tokens,
            rpm=config.rpm,
            tpm=config.tpm,
            now_s=state.clock(),
        )
        reply_headers(request).update(verdict.headers)
        if verdict.rejection is not None:
            counts = state.stats.rate_limited_by_model
            counts[model] = counts.get(model, 0) + 1
            raise _rate_limited(verdict.rejection)
        state.stats.tokens_charged += tokens
        if state.faults.should_fail(config.fault_5xx_rate):
            raise ApiError(500, SERVER_ERROR_MESSAGE, error_type="server_error")


def _rate_limited(rejection: Rejection) -> ApiError:
    if rejection.retry_after_s is None:
        # "Request too large": the same request fails however long the client waits.
        headers = {"x-should-retry": "false"}
    else:
        headers = retry_after_headers(rejection.retry_after_s)
    return ApiError(
        429,
        rejection.message,
        error_type=rejection.kind,
        code="rate_limit_exceeded",
        headers=headers,
    )
