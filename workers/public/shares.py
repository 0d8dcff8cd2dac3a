"""The front door of fair shares: an operator or admin key sets a key's weight and cap, and
a key reads its own share (HTTP `/v1/share`, `/v1/keys/{name}/share`, `runq keys share`)."""

from __future__ import annotations

from pydantic import BaseModel, Field
from sqlmodel import Session

from config.settings import get_settings
from workers.db import key_store, share_store
from workers.db.models import ApiKey
from workers.errors import ApiKeyNotFound, ShareRefused
from workers.runs.fair_share import share_problem


class ShareUpdate(BaseModel):
    """A change of a key's share: a field left out stays as it is; `max_concurrent_runs:
    null` removes the key's cap."""

    weight: int | None = Field(None, description="Slots in proportion to this (at least 1).")
    max_concurrent_runs: int | None = Field(
        None, description="Never more of this key's runs in flight (at least 1; null: no cap)."
    )


class SharePublic(BaseModel):
    """A key's share: its weight and cap, and its runs in flight and waiting now."""

    key: str
    weight: int
    max_concurrent_runs: int | None
    in_flight: int
    waiting: int
    in_flight_target: int = Field(description="The fleet's target of runs in flight (0: off).")


def set_share(
    session: Session,
    *,
    name: str,
    weight: int | None,
    cap: int | None,
    clear_cap: bool = False,
) -> SharePublic:
    """Change the share of the live key called `name`: ShareRefused for a weight or cap
    below 1, ApiKeyNotFound for no such key."""
    problem = share_problem(weight, cap)
    if problem is not None:
        raise ShareRefused(problem)
    key = _live_key(session, name)
    share_store.set_share(session, key=key, weight=weight, cap=cap, clear_cap=clear_cap)
    return _shown(session, key)


def update_share(session: Session, *, name: str, change: ShareUpdate) -> SharePublic:
    """`set_share` from an HTTP body (an explicit null cap removes it)."""
    clear_cap = "max_concurrent_runs" in change.model_fields_set
    return set_share(
        session,
        name=name,
        weight=change.weight,
        cap=change.max_concurrent_runs,
        clear_cap=clear_cap and change.max_concurrent_runs is None,
    )


def read_share(session: Session, *, name: str) -> SharePublic:
    """The share of the live key called `name` (ApiKeyNotFound if none)."""
    return _shown(session, _live_key(session, name))


def read_own_share(session: Session, *, key_id: str) -> SharePublic:
    """The share of the calling key, by id."""
    key = session.get(ApiKey, key_id)
    if key is None:
        raise ApiKeyNotFound(f"no API key has id {key_id!r}")
    return _shown(session, key)


def _live_key(session: Session, name: str) -> ApiKey:
    key = key_store.find_key_by_name(session, name=name)
    if key is None or key.revoked_at is not None:
        raise ApiKeyNotFound(f"no live API key called {name!r} (see `runq keys list`)")
    return key


def _shown(session: Session, key: ApiKey) -> SharePublic:
    in_flight, waiting = share_store.count_of_key(session, key_id=key.id)
    return SharePublic(
        key=key.name,
        weight=key.weight,
        max_concurrent_runs=key.max_concurrent_runs,
        in_flight=in_flight,
        waiting=waiting,
        in_flight_target=get_settings().runs.in_flight_target,
    )
