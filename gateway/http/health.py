"""`/healthz` (the process answers) and `/readyz` (its database and Redis answer).

`/readyz` is a public probe: anyone gets "ready" (200) or "not ready" (503), nothing more,
since which dependency failed and how names hosts. A caller with a valid API key also gets
`checks`: "ok", or the failure's first line with the service's URL (credentials removed).
A check never raises: a missing setting is "not ready", never a 500.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse
from sqlalchemy import text

from config.settings import get_settings
from gateway.entry_errors import redact_url
from workers.public.records import key_store
from workers.public.runtime import get_redis, new_session

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> JSONResponse:
    """200 "ready" when the database and Redis answer, else 503 "not ready"; with a valid
    API key, `checks` says which failed and why."""
    checks = {"database": _database_error(), "redis": _redis_error()}
    ready = all(error is None for error in checks.values())
    body: dict[str, Any] = {"status": "ready" if ready else "not ready"}
    if _holds_a_valid_key(authorization):
        body["checks"] = {name: error or "ok" for name, error in checks.items()}
    return JSONResponse(body, status_code=200 if ready else 503)


def _holds_a_valid_key(authorization: str | None) -> bool:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return False
    try:
        with new_session() as session:
            return key_store.find_active_key(session, key=token.strip()) is not None
    except Exception:  # the database is down: no key can be checked, the probe stays public
        return False


def _database_error() -> str | None:
    url = get_settings().database.url
    try:
        with new_session() as session:
            session.exec(text("SELECT 1"))  # type: ignore[call-overload]
    except Exception as exc:  # any failure is "not ready", never a 500
        return _described(exc, "database", url)
    return None


def _redis_error() -> str | None:
    url = get_settings().redis.url
    if not url:
        return "redis: REDIS_URL is not set"
    try:
        get_redis().ping()
    except Exception as exc:  # any failure is "not ready", never a 500
        return _described(exc, "redis", url)
    return None


def _described(exc: BaseException, service: str, url: str) -> str:
    """`service at URL: Kind: first line`, with the URL's password nowhere in it."""
    first_line = (str(exc).splitlines() or [""])[0]
    password = _password(url)
    if password:
        first_line = first_line.replace(password, "[redacted]")
    return f"{service} at {redact_url(url)}: {type(exc).__name__}: {first_line}"[:300]


def _password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None
