"""`/healthz` (the process answers) and `/readyz` (its database and Redis answer)."""

from __future__ import annotations

from typing import Any

import redis
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from workers.wiring import get_redis, new_session

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz() -> JSONResponse:
    """200 when the database and Redis answer; 503 naming what does not."""
    checks: dict[str, Any] = {"database": _database_error(), "redis": _redis_error()}
    ready = all(error is None for error in checks.values())
    body = {
        "status": "ready" if ready else "not ready",
        "checks": {name: error or "ok" for name, error in checks.items()},
    }
    return JSONResponse(body, status_code=200 if ready else 503)


def _database_error() -> str | None:
    try:
        with new_session() as session:
            session.exec(text("SELECT 1"))  # type: ignore[call-overload]
    except SQLAlchemyError as exc:
        return f"{type(exc).__name__}: {exc}"[:300]
    return None


def _redis_error() -> str | None:
    try:
        get_redis().ping()
    except (redis.RedisError, OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"[:300]
    return None
