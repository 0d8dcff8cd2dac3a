"""The HTTP API: `create_app()` wires routes, auth, the body limit, error answers and the
per-process run watch. Bad input is always a 4xx that says what to fix, never a 500."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis
import redis.asyncio as aioredis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException

from config.settings import Settings, get_settings
from gateway.assistants_api.app import PREFIX as ASSISTANTS_PREFIX
from gateway.assistants_api.app import build_assistants_app
from gateway.dashboard.metrics_router import build_metrics_router
from gateway.dashboard.router import build_dashboard_router
from gateway.http import (
    events,
    health,
    routes_actions,
    routes_runs,
    routes_schedules,
    routes_shares,
    routes_spend,
    routes_threads,
    webhooks,
)
from gateway.http.body_limit import BodyLimit
from gateway.http.event_log import EventLog
from gateway.http.key_rate import KeyRateLimit
from gateway.http.key_watch import KeyWatch
from gateway.http.run_watch import RunWatch
from workers.errors import RunqError
from workers.public.budgets import RedisRateLimiter
from workers.public.catalog import load_agent_modules
from workers.public.records import key_store
from workers.public.runtime import new_session, run_events_channel

log = logging.getLogger("runq.http")


def create_app() -> FastAPI:
    """The API on this process's settings (store, broker, agents)."""
    settings = get_settings()
    load_agent_modules(settings.runs.agent_modules)
    app = FastAPI(
        title="runq",
        version="1",
        description="Submit, follow and cancel agent runs. Every /v1 call needs "
        "`Authorization: Bearer <key>` (`runq keys create NAME`).",
        lifespan=_lifespan,
    )
    client = aioredis.Redis.from_url(settings.redis.url) if settings.redis.url else None
    app.state.watch = RunWatch(client, run_events_channel(settings.redis.prefix))
    app.state.event_log = EventLog(client, settings.redis.prefix)
    app.state.reader = events.RunReader()
    app.state.broker_url = settings.redis.url
    app.state.key_rate = KeyRateLimit(_rate_limiter(settings), settings.api.requests_per_min)
    app.state.key_watch = KeyWatch(_live_keys, settings.api.key_check_s)
    routers = (
        routes_runs,
        routes_actions,
        events,
        routes_schedules,
        routes_shares,
        routes_threads,
        routes_spend,
        webhooks,
        health,
    )
    for router in (module.router for module in routers):
        app.include_router(router)
    # Code written for OpenAI's Assistants API, with its own error shape (issue 18).
    app.mount(ASSISTANTS_PREFIX, build_assistants_app(app))
    # Operators (issue 11): /metrics and the dashboard at /, behind operators' basic auth.
    app.include_router(build_metrics_router())
    app.include_router(build_dashboard_router())
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RunqError, _runq_error)
    app.add_exception_handler(DataError, _unstorable_value)
    app.add_middleware(BodyLimit, max_bytes=settings.api.max_body_bytes)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.watch.start()
    app.state.key_watch.start()
    yield
    await app.state.key_watch.stop()
    await app.state.watch.stop()


def _rate_limiter(settings: Settings) -> RedisRateLimiter | None:
    if not settings.redis.url:
        return None
    # Short timeouts and no retries: an unreachable Redis lets requests through at once
    # (KeyRateLimit fails open) instead of holding every request for seconds.
    client = redis.Redis.from_url(
        settings.redis.url,
        socket_timeout=0.5,
        socket_connect_timeout=0.5,
        retry=Retry(NoBackoff(), 0),
    )
    return RedisRateLimiter(client, settings.redis.prefix)


def _live_keys(key_ids: set[str]) -> set[str]:
    with new_session() as session:
        return key_store.live_key_ids(session, key_ids=key_ids)


async def _invalid_request(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return _error(400, "the body is not valid JSON", _details(errors))
    summary = "; ".join(f"{_where(e)}: {e.get('msg', 'invalid')}" for e in errors[:10])
    return _error(422, f"invalid request: {summary}", _details(errors))


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    response = _error(exc.status_code, str(exc.detail))
    response.headers.update(exc.headers or {})
    return response


async def _runq_error(_: Request, exc: Exception) -> JSONResponse:
    # Each error class carries its own status (workers/errors.py); 500 is a runq bug.
    assert isinstance(exc, RunqError)
    if exc.http_status >= 500:
        log.error("unexpected runq error: %r", exc)
        return _error(500, "internal error")
    return _error(exc.http_status, str(exc))


async def _unstorable_value(_: Request, exc: Exception) -> JSONResponse:
    # A path or query value the database refuses (PostgreSQL text cannot hold NUL).
    log.info("refused a value the database cannot store: %s", str(exc).splitlines()[0])
    return _error(400, "a value in the request cannot be stored or looked up (a NUL character?)")


def _where(error: Any) -> str:
    return ".".join(str(part) for part in error.get("loc", ()) if part != "body") or "body"


def _details(errors: list[Any]) -> list[dict[str, str]]:
    return [{"field": _where(e), "message": str(e.get("msg", ""))} for e in errors[:50]]


def _error(status_code: int, message: str, detail: Any = None) -> JSONResponse:
    return JSONResponse({"error": message, "detail": detail}, status_code=status_code)
