"""The Assistants-compatible API: a FastAPI app mounted at `/openai/v1` by `runq serve`, so
`OpenAI(base_url="http://runq:8000/openai/v1", api_key=<runq API key>)` drives runq with the
official SDK's `client.beta.assistants` and `client.beta.threads` (messages, runs, steps).

It is its own app, not routes on the runq API, for one reason: every answer here, errors
included, must have the OpenAI shape (`{"error": {"message", "type", "param", "code"}}`),
while runq's own API keeps its own error shape. Keys, scopes and the per-key rate are
runq's (`gateway.http.auth`), shared with the parent app.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException

from gateway.assistants_api import routes_assistants, routes_runs, routes_threads
from gateway.assistants_api.requests import InvalidBody
from workers.errors import RunqError, UnsupportedFeature

log = logging.getLogger("runq.http")

PREFIX = "/openai/v1"
SUPPORTED = "assistants, threads, messages, runs and run steps"
_ERROR_TYPE = {401: "invalid_request_error", 429: "rate_limit_exceeded", 500: "server_error"}
_HTTP_CODE = {401: "invalid_api_key", 429: "rate_limit_exceeded"}


def build_assistants_app(parent: FastAPI) -> FastAPI:
    """The app to mount at PREFIX, sharing `parent`'s per-key rate limit."""
    app = FastAPI(
        title="runq: Assistants-compatible API",
        version="1",
        description=f"OpenAI's Assistants API ({SUPPORTED}) on runq. Bearer: a runq API key.",
    )
    app.state.key_rate = parent.state.key_rate
    # Order matters: POST /threads/runs before POST /threads/{thread_id}.
    for module in (routes_runs, routes_assistants, routes_threads):
        app.include_router(module.router)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RunqError, _runq_error)
    app.add_exception_handler(InvalidBody, _invalid_body)
    app.add_exception_handler(DataError, _unstorable_value)
    return app


def openai_error(
    status_code: int,
    message: str,
    *,
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """An ErrorResponse, as the spec and the SDK's exceptions read it."""
    error = {
        "message": message,
        "type": _ERROR_TYPE.get(status_code, "invalid_request_error"),
        "param": param,
        "code": code if code is not None else _HTTP_CODE.get(status_code),
    }
    return JSONResponse({"error": error}, status_code=status_code, headers=headers)


async def _invalid_request(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return openai_error(400, "We could not parse the JSON body of your request.")
    first = errors[0] if errors else {}
    where = ".".join(str(part) for part in first.get("loc", ()) if part not in ("body", "query"))
    if first.get("type") == "extra_forbidden":
        return openai_error(
            400, f"Unrecognized request argument supplied: {where}", param=where or None
        )
    message = f"Invalid '{where}': {first.get('msg', 'invalid value')}."
    return openai_error(400, message, param=where or None, code="invalid_value")


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    message = str(exc.detail)
    if exc.status_code in (404, 405) and message in ("Not Found", "Method Not Allowed"):
        # A path this API does not serve: files, vector stores, or a typo.
        message = (
            f"Unknown request URL: {request.method} {request.url.path}. runq's "
            f"Assistants-compatible API serves {SUPPORTED}; files, vector stores and "
            "streaming are not supported."
        )
        return openai_error(404, message, code="unknown_url")
    return openai_error(exc.status_code, message, headers=dict(exc.headers or {}))


async def _runq_error(_: Request, exc: Exception) -> JSONResponse:
    # Each error class carries its own status (workers/errors.py); 500 is a runq bug.
    assert isinstance(exc, RunqError)
    if exc.http_status >= 500:
        log.error("unexpected runq error: %r", exc)
        return openai_error(500, "internal error")
    if isinstance(exc, UnsupportedFeature):
        return openai_error(400, str(exc), param=exc.param, code="unsupported_feature")
    return openai_error(exc.http_status, str(exc))


async def _invalid_body(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidBody)
    return openai_error(400, str(exc), param=exc.param, code="invalid_value")


async def _unstorable_value(_: Request, exc: Any) -> JSONResponse:
    log.info("refused a value the database cannot store: %s", str(exc).splitlines()[0])
    return openai_error(400, "a value in the request cannot be stored (a NUL character?)")
