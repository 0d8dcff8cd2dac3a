"""The simulator app: an OpenAI-compatible TEST DOUBLE, not the real provider.

Surfaces: Responses (`routes_responses`), Conversations (`routes_conversations`), Chat
Completions (`routes_chat`), the legacy Assistants API (`routes_assistants` for assistants,
threads and messages, `routes_runs` for runs and run steps), and the `/_sim` control endpoints
(`routes_control`). `create_app` wires the routers to one in-memory state. Every reply gets
`x-request-id` and `openai-processing-ms`; /v1 replies also need a Bearer key and carry
rate-limit headers.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from simulator import (
    routes_assistants,
    routes_batches,
    routes_chat,
    routes_control,
    routes_conversations,
    routes_responses,
    routes_runs,
)
from simulator.config import SimulatorConfig
from simulator.errors import ApiError
from simulator.gate import reply_headers, state_of
from simulator.items import new_id
from simulator.state import SimulatorState

Sleep = Callable[[float], Awaitable[None]]
CallNext = Callable[[Request], Awaitable[Response]]

NO_KEY_MESSAGE = (
    "You didn't provide an API key. You need to provide your API key in an Authorization "
    "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
)


def create_app(
    config: SimulatorConfig, clock: Callable[[], float] = time.time, *, sleep: Sleep = asyncio.sleep
) -> FastAPI:
    """Build a simulator with its own empty state; `clock` drives background progress."""
    app = FastAPI(
        title="OpenAI API simulator (test double)",
        description=(
            "A local fake of the OpenAI Responses, Conversations, Chat Completions and "
            "Assistants APIs for tests."
        ),
    )
    app.state.sim = SimulatorState(config=dataclasses.replace(config), clock=clock)
    app.state.sleep = sleep
    app.include_router(routes_responses.router)
    app.include_router(routes_conversations.router)
    app.include_router(routes_chat.router)
    app.include_router(routes_runs.router)
    app.include_router(routes_assistants.router)
    app.include_router(routes_batches.router)
    app.include_router(routes_control.router)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)

    @app.middleware("http")
    async def stamp(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        if request.url.path.startswith("/v1/"):
            response = await _serve_api(request, call_next, sleep)
        else:
            response = await call_next(request)
        response.headers.update(reply_headers(request))
        response.headers["x-request-id"] = new_id("req")
        response.headers["openai-processing-ms"] = str(
            round((time.perf_counter() - started) * 1000)
        )
        response.headers["openai-version"] = "2020-10-01"
        return response

    return app


async def _serve_api(request: Request, call_next: CallNext, sleep: Sleep) -> Response:
    state = state_of(request)
    api_key = _bearer_key(request)
    with state.lock:
        delay_ms = state.config.delay_ms
        state.stats.requests_total += 1
        if api_key is not None:
            label = _key_label(api_key)
            state.stats.requests_by_key[label] = state.stats.requests_by_key.get(label, 0) + 1
    if delay_ms:
        await sleep(delay_ms / 1000)
    if api_key is None:
        response: Response = await _api_error(request, ApiError(401, NO_KEY_MESSAGE))
    else:
        request.state.api_key = api_key
        response = await call_next(request)
    with state.lock:
        if response.status_code == 429:
            state.stats.http_429 += 1
        elif response.status_code >= 500:
            state.stats.http_5xx += 1
    return response


def _bearer_key(request: Request) -> str | None:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    key = key.strip()
    return key if scheme.lower() == "bearer" and key else None


def _key_label(api_key: str) -> str:
    # Stats are served unauthenticated; never echo a whole key in case a real one was sent.
    return api_key if len(api_key) <= 24 else f"{api_key[:8]}...{api_key[-4:]}"


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.envelope(), status_code=exc.status_code, headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    param = ".".join(str(part) for part in first.get("loc", ())[1:]) or None
    message = f"Invalid value for '{param}': {first.get('msg', 'invalid request')}."
    return await _api_error(request, ApiError(400, message, param=param, code="invalid_value"))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = str(exc.detail)
    if exc.status_code in (404, 405):
        message = f"Invalid URL ({request.method} {request.url.path})"
    return await _api_error(request, ApiError(exc.status_code, message))
