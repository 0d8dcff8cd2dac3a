"""Fair shares over HTTP: a key reads its own share (`read`); an admin key sets any key's
weight and cap on runs in flight (`admin`)."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.http.auth import AdminDep, ReaderDep, SessionDep
from gateway.http.routes_runs import ERRORS
from workers.public import shares
from workers.public.shares import SharePublic, ShareUpdate

router = APIRouter(tags=["shares"])


@router.get("/v1/share", response_model=SharePublic, responses=ERRORS)
def get_own_share(caller: ReaderDep, session: SessionDep) -> SharePublic:
    """The calling key's weight, cap, and runs in flight and waiting for their share."""
    return shares.read_own_share(session, key_id=caller.key_id)


@router.get("/v1/keys/{name}/share", response_model=SharePublic, responses=ERRORS)
def get_share(name: str, caller: AdminDep, session: SessionDep) -> SharePublic:
    """Any key's share (admin)."""
    return shares.read_share(session, name=name)


@router.patch("/v1/keys/{name}/share", response_model=SharePublic, responses=ERRORS)
def update_share(
    name: str, change: ShareUpdate, caller: AdminDep, session: SessionDep
) -> SharePublic:
    """Set a key's weight and cap (admin); a weight or cap below 1 is a 422 that says which,
    an unknown key a 404."""
    return shares.update_share(session, name=name, change=change)
