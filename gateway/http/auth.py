"""Who is calling: the Bearer API key dependency, and the request's database session."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, HTTPException, status
from sqlmodel import Session

from workers.db import key_store
from workers.wiring import new_session

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True, slots=True)
class Caller:
    """The API key behind a request: every run it creates is owned by `key_id`."""

    key_id: str
    name: str


def open_session() -> Iterator[Session]:
    """One session per request, closed when the answer is sent."""
    with new_session() as session:
        yield session


SessionDep = Annotated[Session, Depends(open_session)]


def require_caller(
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Caller:
    """401 without a Bearer key, or for an unknown or revoked one.

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
    return Caller(key_id=row.id, name=row.name)


CallerDep = Annotated[Caller, Depends(require_caller)]
