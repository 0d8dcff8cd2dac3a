"""Who is calling: the Bearer API key, its scopes and its request rate, and the request's
database session."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status
from sqlmodel import Session

from gateway.http.key_rate import KeyRateLimit
from workers.public.records import key_store
from workers.public.runtime import new_session

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True, slots=True)
class Caller:
    """The API key behind a request: every run it creates is owned by `key_id`."""

    key_id: str
    name: str
    scopes: frozenset[str] = frozenset(key_store.DEFAULT_SCOPES)


def open_session() -> Iterator[Session]:
    """One session per request, closed when the answer is sent."""
    with new_session() as session:
        yield session


SessionDep = Annotated[Session, Depends(open_session)]


def require_caller(
    request: Request,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Caller:
    """401 without a Bearer key, or for an unknown or revoked one; 429 over the key's rate.

    The key is checked on a session of its own, closed at once: a long-poll must not hold
    a pooled connection while it sleeps."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing API key: send 'Authorization: Bearer <key>' (create one with "
            "`runq keys create NAME`)",
            headers=_CHALLENGE,
        )
    with new_session() as session:
        row = key_store.find_active_key(session, key=token.strip())
    if row is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "unknown or revoked API key", headers=_CHALLENGE
        )
    _charge_one_request(request.app.state.key_rate, row.id)
    return Caller(key_id=row.id, name=row.name, scopes=key_store.parse_scopes(row.scopes))


def _charge_one_request(rate: KeyRateLimit, key_id: str) -> None:
    wait_ms = rate.wait_ms(key_id, now_ms=time.time_ns() // 1_000_000)
    if wait_ms > 0:
        retry_after_s = max(1, math.ceil(wait_ms / 1000))
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"rate limit: this API key may make {rate.requests_per_min} requests a minute "
            f"(RUNQ_API_REQUESTS_PER_MIN); retry in {retry_after_s} s",
            headers={"Retry-After": str(retry_after_s)},
        )


CallerDep = Annotated[Caller, Depends(require_caller)]


def _requiring(scope: str) -> Callable[[Caller], Caller]:
    def require_scope(caller: CallerDep) -> Caller:
        if not key_store.has_scope(caller.scopes, scope):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this API key lacks the '{scope}' scope (it has: "
                f"{', '.join(sorted(caller.scopes))}); use a key created with "
                f"`runq keys create NAME --scope {scope}`",
            )
        return caller

    return require_scope


SubmitterDep = Annotated[Caller, Depends(_requiring("submit"))]
"""A caller that may start and cancel runs."""
ReaderDep = Annotated[Caller, Depends(_requiring("read"))]
"""A caller that may read runs, threads and events."""
AdminDep = Annotated[Caller, Depends(_requiring("admin"))]
"""A caller that may do everything, other keys' fair shares included."""
